"""The one kill-switch object (kernel/risk/killswitch.py): reasons, escalation, resets."""
from __future__ import annotations

import pytest

from triotrade.kernel.risk.killswitch import KillAction, KillSwitch

STOP, CANCEL, CLOSE = KillAction.STOP_NEW_TRADES, KillAction.CANCEL_ALL, KillAction.CLOSE_ALL


def test_every_reason_is_kept_in_firing_order_not_only_the_first() -> None:
    ks = KillSwitch()
    assert ks.fire("stale_data", STOP)
    assert ks.fire("daily_loss_limit", CLOSE)
    assert not ks.fire("stale_data", STOP)  # already in force: nothing to do
    assert ks.reasons == ["stale_data", "daily_loss_limit"]
    assert ks.halt_reason == "stale_data"


def test_the_action_in_force_is_the_strongest() -> None:
    ks = KillSwitch()
    assert ks.action is None and not ks.close_all
    ks.fire("error_count", CANCEL)
    ks.fire("stale_data", STOP)
    assert ks.action is CANCEL and not ks.close_all
    ks.fire("operator", CLOSE)
    assert ks.action is CLOSE and ks.close_all


def test_lifting_a_data_condition_leaves_the_others_in_force() -> None:
    ks = KillSwitch()
    ks.fire("stale_data", STOP)
    ks.fire("daily_loss_limit", CLOSE)
    assert ks.lift("stale_data")
    assert ks.reasons == ["daily_loss_limit"] and ks.action is CLOSE
    assert not ks.lift("stale_data")  # not in force any more


def test_a_loss_or_safety_reason_cannot_lift_itself() -> None:
    ks = KillSwitch()
    ks.fire("daily_loss_limit", CLOSE)
    with pytest.raises(ValueError, match="only by a person"):
        ks.lift("daily_loss_limit")
    assert ks.reasons == ["daily_loss_limit"]


def test_the_manual_reset_clears_every_reason() -> None:
    ks = KillSwitch()
    ks.fire("operator", CLOSE)
    ks.fire("stale_data", STOP)
    ks.reset()
    assert ks.active == {} and ks.halt_reason is None and ks.action is None
    assert ks.fire("operator", CLOSE)  # and it can fire again


def test_the_error_count_fires_at_or_past_the_limit_once_per_burst() -> None:
    ks = KillSwitch()
    ks.errors = 2
    assert not ks.errors_reached(3)
    ks.errors = 11  # counted past the limit without a check in between: still fires
    assert ks.errors_reached(3)
    ks.fire("error_count", CANCEL)
    ks.errors += 1
    assert not ks.errors_reached(3)  # already in force


def test_a_reset_restarts_the_error_count_so_it_can_fire_again() -> None:
    ks = KillSwitch()
    ks.errors = 3
    ks.fire("error_count", CANCEL)
    ks.reset()
    assert ks.errors == 0 and not ks.errors_reached(3)
    ks.errors = 3
    assert ks.errors_reached(3)


def test_the_stale_switch_lifts_when_every_feed_it_judged_stale_is_back() -> None:
    ks = KillSwitch()
    assert not ks.stale_lifts(set())  # not in force: nothing to lift
    ks.stale_feeds = ("A", "B")
    ks.fire("stale_data", STOP)
    assert not ks.stale_lifts({"B"})  # B is still silent
    assert ks.stale_lifts(set())
