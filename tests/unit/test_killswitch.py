"""Kill-switch actions (kernel/killswitch.py): a closed, ordered set."""
from __future__ import annotations

import json

from triotrade.kernel.journal import Journal
from triotrade.kernel.killswitch import KillAction

STOP, CANCEL, CLOSE = KillAction.STOP_NEW_TRADES, KillAction.CANCEL_ALL, KillAction.CLOSE_ALL


def test_each_action_includes_the_ones_below_it() -> None:
    assert list(KillAction) == [STOP, CANCEL, CLOSE]
    assert CLOSE.includes(CANCEL) and CLOSE.includes(STOP) and CANCEL.includes(STOP)
    assert not STOP.includes(CANCEL) and not CANCEL.includes(CLOSE)
    assert all(a.includes(a) for a in KillAction)


def test_values_are_the_journal_and_scenario_words() -> None:
    assert [a.value for a in KillAction] == ["stop_new_trades", "cancel_all", "close_all"]
    assert KillAction("cancel_all") is CANCEL
    # the journal writes the word, whether it is given the enum or its value
    a, b = Journal(), Journal()
    a.emit(1, "kill_switch", reason="operator", action=CLOSE)
    b.emit(1, "kill_switch", reason="operator", action="close_all")
    assert a.digest == b.digest
    assert json.loads(json.dumps(a.events[0]))["action"] == "close_all"
