"""The operator's ``flatten`` act in a scenario: the same synchronous kernel act a live
operator uses, journaled as ``flatten_requested``, closing the position by one exit."""
from __future__ import annotations

from typing import Any

import pytest

from triotrade.sim import runner
from triotrade.sim.scenario import ScenarioError, from_dict


def _scn(operator: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": 1, "name": "flatten", "seed": 1, "duration": "60s",
        "instruments": [{"symbol": "ACME", "tick_size": "0.01"}],
        "config": {"sizing": {"unit_position_size": 100, "max_position_size": 100}},
        "market": {"ACME": {"spread": "0.02", "ticks": [{"t": "0s", "last": "100.00"}]}},
        "signals": [{"t": "1s", "symbol": "ACME", "side": "BUY"}],
        "operator": operator,
    }


def test_flatten_closes_the_position_and_is_journaled() -> None:
    res = runner.run(from_dict(_scn([{"t": "10s", "action": "flatten", "symbol": "ACME"},
                                     {"t": "20s", "action": "flatten", "symbol": "ACME"}])))
    assert res.ok, res.violations
    asked = [e for e in res.events if e["type"] == "flatten_requested"]
    assert [(e["position"], e["by"]) for e in asked] == [("100", "operator"), ("0", "operator")]
    [trigger] = [e for e in res.events if e["type"] == "exit_triggered"]
    assert trigger["reason"] == "operator" and trigger["ts_ns"] == asked[0]["ts_ns"]
    assert res.final_positions == {"ACME": 0}


@pytest.mark.parametrize("act, where", [
    ({"t": "10s", "action": "flatten"}, "operator[0].symbol"),
    ({"t": "10s", "action": "flatten", "symbol": "NOPE"}, "operator[0].symbol"),
    ({"t": "10s", "action": "reset_kill_switch", "symbol": "ACME"}, "operator[0].symbol"),
])
def test_a_bad_flatten_act_is_a_located_error(act: dict[str, Any], where: str) -> None:
    with pytest.raises(ScenarioError) as err:
        from_dict(_scn([act]), "f.yaml")
    assert any(where in line for line in err.value.lines()), err.value.lines()
