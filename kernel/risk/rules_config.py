"""Cross-field checks of the session, cooldown, clip and signal-priority keys.

Called by ``config.validate_config``; kept beside the rules they configure so a rule
and what it accepts are read together.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .priority import SOURCES
from .session import session_problems

if TYPE_CHECKING:
    from ..config import TradingConfig


def rule_problems(cfg: "TradingConfig", path: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if cfg.session is not None:
        out += session_problems(cfg.session, f"{path}.session")
    for key in ("stop_loss_cooldown", "trade_threshold"):
        value = getattr(cfg.entries, key)
        if value is not None and value <= 0:
            out.append((f"{path}.entries.{key}", "must be positive (null: off)"))
    act, stop = cfg.exits.clip_activation, cfg.exits.clip_stop_loss
    if (act is None) != (stop is None):
        given, missing = ("clip_activation", "clip_stop_loss") if stop is None else \
            ("clip_stop_loss", "clip_activation")
        out.append((f"{path}.exits.{missing}", f"required with {given} (give both or neither)"))
    elif act is not None and stop is not None:
        if act <= 0:
            out.append((f"{path}.exits.clip_activation", "must be positive"))
        if stop >= act:
            out.append((f"{path}.exits.clip_stop_loss", "must be below clip_activation"))
    prio = cfg.signal_priority
    if prio is not None:
        for i, src in enumerate(prio):
            if src not in SOURCES:
                out.append((f"{path}.signal_priority[{i}]",
                            f"must be one of {', '.join(SOURCES)}, got {src!r}"))
            elif src in prio[:i]:
                out.append((f"{path}.signal_priority[{i}]", f"{src!r} is listed twice"))
        if cfg.signal_conflict_window is None:
            out.append((f"{path}.signal_conflict_window", "required with signal_priority"))
    if cfg.signal_conflict_window is not None:
        if prio is None:
            out.append((f"{path}.signal_priority", "required with signal_conflict_window"))
        if cfg.signal_conflict_window <= 0:
            out.append((f"{path}.signal_conflict_window", "must be positive"))
    return out
