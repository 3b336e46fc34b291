"""What the session and entry rules remember is read back from the journal on a
restart (kernel/rulebook.py ``RuleMemory``, folded by ``restore.read_day``): a restart
does not reset a cooldown, an armed clip, a priority window or the day's P&L base."""
from __future__ import annotations

from triotrade.kernel.restore import read_day

S = 10**9

JOURNAL = [
    {"type": "header", "format": 1},
    {"type": "session_day", "ts_ns": 0, "day": "2026-03-02", "realized_pnl": "-120.50"},
    {"type": "signal", "ts_ns": 1 * S, "symbol": "AAA", "side": "BUY", "accepted": True,
     "reason": "entry", "source": "news"},
    {"type": "position_changed", "ts_ns": 2 * S, "symbol": "AAA", "qty": "100",
     "avg_price": "50", "realized_pnl": "0"},
    {"type": "exit_triggered", "ts_ns": 3 * S, "symbol": "AAA", "reason": "stop_loss"},
    {"type": "position_changed", "ts_ns": 4 * S, "symbol": "AAA", "qty": "0",
     "avg_price": "0", "realized_pnl": "-100"},
    {"type": "position_changed", "ts_ns": 5 * S, "symbol": "BBB", "qty": "10",
     "avg_price": "20", "realized_pnl": "0"},
    {"type": "clip_armed", "ts_ns": 6 * S, "symbol": "BBB", "pnl": "30"},
    {"type": "signal", "ts_ns": 7 * S, "symbol": "BBB", "side": "SELL", "accepted": False,
     "reason": "opposite position open", "source": "scenario"},
]


def test_the_rules_memory_survives_a_restart() -> None:
    mem = read_day(JOURNAL, "j.jsonl").rules
    assert mem.day == "2026-03-02" and mem.day_pnl_base == -12050 * 10**6
    assert mem.stopped_flat == {"AAA": 4 * S}  # the cooldown runs from here
    assert mem.stop_exiting == {}
    assert mem.clip_armed == {"BBB": True}
    assert mem.last_accepted == {"AAA": ("news", "BUY", 1 * S)}  # refused signals do not count


def test_a_trade_that_ends_forgets_its_clip_and_a_non_stop_exit_starts_no_cooldown() -> None:
    mem = read_day(JOURNAL + [
        {"type": "exit_triggered", "ts_ns": 8 * S, "symbol": "BBB", "reason": "take_profit"},
        {"type": "position_changed", "ts_ns": 9 * S, "symbol": "BBB", "qty": "0",
         "avg_price": "0", "realized_pnl": "5"}], "j.jsonl").rules
    assert mem.clip_armed == {} and "BBB" not in mem.stopped_flat
