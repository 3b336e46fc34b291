"""Protections: every one on by default, and none can be switched off once given."""
from __future__ import annotations

import attrs
import pytest

from triotrade.kernel.protections import Protections
from triotrade.sim.weakenings import FUZZ_TARGETS, WEAKENINGS


def test_default_is_every_protection_on() -> None:
    p = Protections()
    for field in attrs.fields(Protections):
        value = getattr(p, field.name)
        assert value is True or (field.name == "emergency_max_attempts" and value is None), \
            field.name


def test_protections_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Protections().single_exit_lock = False  # type: ignore[misc]


def test_every_weakening_removes_something() -> None:
    for name, w in WEAKENINGS.items():
        assert w.protections != Protections() or w.config, name
    assert FUZZ_TARGETS and all(w.catches for w in FUZZ_TARGETS.values())
