"""The journal event catalogue (kernel/events.py) and everything that reads it."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import TESTS
from triotrade.kernel.events import CATALOGUE, event_problems, markdown_table
from triotrade.kernel.journal import Journal, JournalError
from triotrade.sim import runner, scenario
from triotrade.sim.invariants import InvariantChecker

SCENARIOS = sorted((TESTS.parent / "scenarios").rglob("*.yaml"))


def test_every_event_of_every_scenario_is_in_the_catalogue() -> None:
    assert SCENARIOS
    seen: set[str] = set()
    for f in SCENARIOS:
        result = runner.run(scenario.load(f))
        for ev in result.events:
            assert event_problems(ev) == [], (f, ev)
            seen.add(ev["type"])
        assert not any(v["invariant"] == "journal_catalogue" for v in result.violations), f
    # the scenarios exercise most of the vocabulary: a catalogue entry nobody emits
    # would show up here as the set shrinking
    assert len(seen) >= 25, sorted(set(CATALOGUE) - seen)


def test_problems_name_the_type_and_field() -> None:
    good = {"ts_ns": 1, "type": "risk_rejected", "symbol": "ACME", "reason": "cap"}
    assert event_problems(good) == []
    assert event_problems({**good, "symbl": "ACME"}) == ["risk_rejected: unknown field 'symbl'"]
    assert event_problems({"ts_ns": 1, "type": "risk_rejected", "symbol": "ACME"}) == [
        "risk_rejected: missing field 'reason'"]
    assert event_problems({**good, "reason": 5}) == [
        "risk_rejected.reason: expected text, got 5"]
    assert event_problems({"ts_ns": 1, "type": "order_filled"}) == [
        "unknown event type 'order_filled'"]


def test_a_checking_journal_refuses_an_event_the_catalogue_lacks() -> None:
    journal = Journal(check=True)
    journal.header(scenario="t", seed=0, versions={})
    journal.emit(1, "feed_stale", symbol="ACME")
    with pytest.raises(JournalError, match="unknown field 'why'"):
        journal.emit(2, "feed_stale", symbol="ACME", why="quiet")
    with pytest.raises(JournalError, match="unknown event type"):
        journal.emit(3, "feed_gone", symbol="ACME")
    # unchecked (the default), the writer stays out of the way
    Journal().emit(1, "feed_gone", symbol="ACME")


def test_the_invariant_checker_reports_catalogue_drift() -> None:
    journal = Journal()
    checker = InvariantChecker(journal, lambda _: (100, 100))
    journal.add_listener(checker)
    journal.emit(5, "feed_stale", symbol="ACME", since="5s")
    assert [v["invariant"] for v in checker.violations] == ["journal_catalogue"]
    assert "unknown field 'since'" in checker.violations[0]["detail"]


def test_matchers_are_checked_against_the_catalogue(tmp_path: Path) -> None:
    base = (TESTS / "malformed" / "unknown_matcher_field.yaml").read_text().split("expect:\n")[0]
    ok = base + "expect:\n  no_events: [{type: risk_rejected, symbol: ACME, after: 1s}]\n"
    scenario.loads(ok, "ok.yaml")
    bad = base + "expect:\n  events: [{type: fill, symbol: ACME, size: 5}]\n"
    with pytest.raises(scenario.ScenarioError) as info:
        scenario.loads(bad, "bad.yaml")
    [line] = info.value.lines()
    assert line.startswith("bad.yaml: expect.events[0].size: not a field of fill events (fields: ")


def test_markdown_table_has_a_row_per_field() -> None:
    table = markdown_table()
    lines = table.splitlines()
    assert lines[0] == "| event | field | kind | meaning |"
    for spec in CATALOGUE.values():
        assert f"| `{spec.name}` | | | {spec.meaning} |" in lines
    rows = sum(len(s.fields) + (1 if s.timed else 0) for s in CATALOGUE.values())
    assert len(lines) == 2 + len(CATALOGUE) + rows
    assert "| | `price` | decimal text, optional | limit or stop price (not for market orders) |" in lines


@pytest.mark.parametrize("matcher, where, message", [
    ("no_events: [{type: order_submitted, role: ENTRYY}]", "expect.no_events[0].role",
     "'ENTRYY' is not a role (one of: ENTRY, TAKE_PROFIT, STOP_LOSS, EXIT, EMERGENCY_EXIT, "
     "DANGLING_SHARES)"),
    ("counts: [{type: order_submitted, role: ENTRI, min: 1}]", "expect.counts[0].role",
     "'ENTRI' is not a role (one of: "),
    ("events: [{type: fill, side: SEL}]", "expect.events[0].side",
     "'SEL' is not a side (one of: BUY, SELL)"),
    ("events: [{type: signal, side: EXT}]", "expect.events[0].side",
     "'EXT' is not a side (one of: BUY, SELL, EXIT)"),
    ("events: [{type: kill_switch, action: close}]", "expect.events[0].action",
     "'close' is not an action (one of: stop_new_trades, cancel_all, close_all)"),
    ("events: [{type: fill, after: 10s, before: 5s}]", "expect.events[0].before",
     "empty time window: after 10s is not earlier than before 5s (nothing can match)"),
    ("counts: [{type: fill, after: 5s, before: 5s, max: 0}]", "expect.counts[0].before",
     "empty time window: "),
])
def test_a_matcher_that_can_never_match_is_refused(matcher: str, where: str,
                                                   message: str) -> None:
    base = (TESTS / "malformed" / "unknown_matcher_field.yaml").read_text().split("expect:\n")[0]
    with pytest.raises(scenario.ScenarioError) as info:
        scenario.loads(base + "expect:\n  " + matcher + "\n", "bad.yaml")
    [line] = info.value.lines()
    assert line.startswith(f"bad.yaml: {where}: {message}")


def test_matchers_with_values_in_the_closed_sets_are_accepted() -> None:
    base = (TESTS / "malformed" / "unknown_matcher_field.yaml").read_text().split("expect:\n")[0]
    scenario.loads(base + "expect:\n  events: [{type: fill, role: ENTRY, side: BUY},"
                   " {type: signal, side: EXIT}, {type: kill_switch, action: cancel_all},"
                   " {type: fill, after: 1s, before: 2s}]\n", "ok.yaml")
