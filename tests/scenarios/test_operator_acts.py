"""A scenario's ``operator:`` section: the flatten act, and what the loader refuses.

The live control socket's ``flatten`` is the same kernel act as a scenario's
``{t, action: flatten, symbol}``, so the simulator can test what a person at the desk
would do: an exit at market with reason ``operator``, behind the single-exit lock.
"""
from __future__ import annotations

from typing import Any

import pytest

from triotrade.sim import runner, scenario
from triotrade.sim.scenario import ScenarioError

S = 1_000_000_000


def _scn(operator: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1, "name": "operator-flatten", "duration": "1m",
        "instruments": [{"symbol": "ACME", "tick_size": "0.01"},
                        {"symbol": "BETA", "tick_size": "0.01"}],
        "config": {"monitor": {"stale_after": "5m"},
                   "sizing": {"unit_position_size": 100, "max_position_size": 100}},
        "market": {"ACME": {"ticks": [{"t": "0s", "last": "10.00"}]},
                   "BETA": {"ticks": [{"t": "0s", "last": "20.00"}]}},
        "signals": [{"t": "1s", "symbol": "ACME", "side": "BUY"},
                    {"t": "1s", "symbol": "BETA", "side": "BUY"}],
        "operator": operator,
    }
    data.update(extra)
    return data


def test_flatten_exits_one_symbol_at_market_and_leaves_the_other() -> None:
    r = runner.run(scenario.from_dict(_scn([{"t": "10s", "action": "flatten",
                                             "symbol": "ACME"}])))
    assert r.ok, [c for c in r.checks if not c.ok] + list(r.violations)
    [trigger] = [e for e in r.events if e["type"] == "exit_triggered"]
    assert (trigger["symbol"], trigger["reason"], trigger["via"]) == ("ACME", "operator",
                                                                      "operator")
    assert trigger["ts_ns"] == 10 * S and "by" not in trigger  # a scenario act: no "by"
    exits = [e for e in r.events if e["type"] == "fill" and e["role"] == "EXIT"]
    assert [(e["symbol"], e["qty"]) for e in exits] == [("ACME", "100")]
    [final] = [e for e in r.events if e["type"] == "run_finished"]
    assert final["positions"] == {"ACME": "0", "BETA": "100"}


def test_flatten_while_an_exit_works_is_ignored_once() -> None:
    r = runner.run(scenario.from_dict(_scn([
        {"t": "10s", "action": "flatten", "symbol": "ACME"},
        {"t": "10s", "action": "flatten", "symbol": "ACME"}])))
    assert len([e for e in r.events if e["type"] == "exit_triggered"]) == 1
    assert [e["reason"] for e in r.events if e["type"] == "exit_ignored"] == ["operator"]
    assert len([e for e in r.events if e["type"] == "order_submitted"
                and e["role"] == "EXIT"]) == 1


@pytest.mark.parametrize("act, where, words", [
    ({"t": "10s", "action": "flatten"}, "operator[0].symbol", "flatten needs the symbol"),
    ({"t": "10s", "action": "flatten", "symbol": "NOPE"}, "operator[0].symbol",
     "not declared under instruments"),
    ({"t": "10s", "action": "kill_switch", "symbol": "ACME"}, "operator[0].symbol",
     "only flatten takes a symbol"),
    ({"t": "10s", "action": "flaten", "symbol": "ACME"}, "operator[0].action",
     "kill_switch, reset_kill_switch or flatten"),
])
def test_the_loader_refuses_a_bad_flatten(act: dict[str, Any], where: str, words: str) -> None:
    with pytest.raises(ScenarioError) as err:
        scenario.from_dict(_scn([act]), "s.yaml")
    text = str(err.value)
    assert f"s.yaml: {where}:" in text and words in text, text
