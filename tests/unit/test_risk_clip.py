"""The clip (kernel/risk/clip.py): armed by the activation, exits at the stop level."""
from __future__ import annotations

from fractions import Fraction

from triotrade.kernel.risk.clip import ClipStep, clip_step


def test_nothing_before_activation_whatever_the_pnl() -> None:
    assert clip_step(False, 199, 200, 50) is ClipStep.NOTHING
    assert clip_step(False, -10_000, 200, 50) is ClipStep.NOTHING  # a loss: the stop's job


def test_arms_at_activation_then_exits_at_the_stop() -> None:
    assert clip_step(False, 200, 200, 50) is ClipStep.ARM
    assert clip_step(True, 300, 200, 50) is ClipStep.NOTHING
    assert clip_step(True, 51, 200, 50) is ClipStep.NOTHING
    assert clip_step(True, 50, 200, 50) is ClipStep.EXIT
    assert clip_step(True, Fraction(-1, 3), 200, 50) is ClipStep.EXIT
