"""Stop-loss cooldown and trade threshold (kernel/risk/cooldown.py)."""
from __future__ import annotations

from triotrade.kernel.risk.cooldown import cooldown_refusal, threshold_refusal
from triotrade.kernel.units import NS_PER_S

S = NS_PER_S


def test_cooldown_counts_from_going_flat() -> None:
    assert cooldown_refusal(100 * S, None, 60 * S) is None  # never stopped out
    assert cooldown_refusal(100 * S, 50 * S, None) is None  # off
    assert cooldown_refusal(109 * S, 50 * S, 60 * S) == \
        "stop_loss_cooldown: 1s left after a stop-loss exit"
    assert cooldown_refusal(110 * S, 50 * S, 60 * S) is None  # exactly over


def test_threshold_refuses_late_adds_only() -> None:
    opened = 10 * S
    assert threshold_refusal(39 * S, 100, True, opened, 30 * S) is None  # within
    why = threshold_refusal(40 * S, 100, True, opened, 30 * S)
    assert why is not None and why.startswith("trade_threshold: the open trade is 30s old")
    assert threshold_refusal(40 * S, -100, False, opened, 30 * S) is not None  # short add
    assert threshold_refusal(40 * S, 0, True, None, 30 * S) is None  # flat: a new trade
    assert threshold_refusal(40 * S, -100, True, opened, 30 * S) is None  # not an add
    assert threshold_refusal(40 * S, 100, True, opened, None) is None  # off
