"""Kill-switch actions: kept importable here; the kill switch itself is kernel/risk/killswitch.py.

The enum moved into the risk core beside the one kill-switch object that uses it; this
name stays so that code and tests written against it keep working unchanged.
"""
from __future__ import annotations

from .risk.killswitch import KillAction

__all__ = ["KillAction"]
