"""The clip: a profit, once reached, is not given all back.

``exits.clip_activation`` arms the clip when the open trade's P&L (realized on this
trade plus open, marked where an exit would fill) reaches it; once armed, the trade
exits (reason ``clip``) when that P&L falls back to ``exits.clip_stop_loss``. Before
activation the clip does nothing, whatever the P&L does: the ordinary stop-loss rules
guard the trade until it has been in profit. The decision is evaluated with the exit
rules (every monitor check and every gap), so a peak between two checks is not seen.

Pure: plain values in, a decision out.
"""
from __future__ import annotations

import enum
from fractions import Fraction


class ClipStep(enum.Enum):
    """What the clip does on one check."""

    NOTHING = "nothing"
    ARM = "arm"  # activation reached now: journaled once per trade
    EXIT = "exit"


def clip_step(armed: bool, pnl: int | Fraction, activation: int, stop: int) -> ClipStep:
    """The clip's move for a trade whose P&L is ``pnl`` (``armed``: reached before)."""
    if not armed:
        return ClipStep.ARM if pnl >= activation else ClipStep.NOTHING
    return ClipStep.EXIT if pnl <= stop else ClipStep.NOTHING
