"""Crash faults in the simulator (``sim/crash.py``): die, keep the exchange running,
restart from the journal so far plus the venue reconciliation, deterministically."""
from __future__ import annotations

from pathlib import Path

import pytest

from triotrade.sim import runner, scenario
from triotrade.sim.scenario import ScenarioError, from_dict
from triotrade.sim.weakenings import WEAKENINGS

ROOT = Path(__file__).resolve().parents[2]
GAP = ROOT / "scenarios" / "incidents" / "crash_gap_while_down.yaml"


def test_a_crash_run_is_deterministic() -> None:
    scn = scenario.load(GAP)
    assert runner.run(scn).digest == runner.run(scn).digest


def test_the_dead_kernel_writes_nothing_and_the_restart_comes_from_the_journal() -> None:
    res = runner.run(scenario.load(GAP))
    types = [e["type"] for e in res.events]
    crash = types.index("fault_injected")
    restarted = types.index("restarted")
    # nothing between the crash and the restart: the dead process is silent
    assert restarted == crash + 1
    ev = res.events[restarted]
    assert ev["positions"] == {"ACME": "100"} and ev["last_order_id"] == "O1"
    assert types[restarted + 1] == "reconciled" and res.events[restarted + 1]["when"] == "start"
    # the exit after the restart is a new id, never one the first life used
    exits = [e for e in res.events if e["type"] == "order_submitted" and e["role"] != "ENTRY"]
    assert [e["order_id"] for e in exits] == ["O2"]


@pytest.mark.parametrize("name", ["forget_on_restart", "no_restart_reconciliation"])
def test_the_restart_weakenings_are_named_by_their_invariant(name: str) -> None:
    assert WEAKENINGS[name].catches in ("state_survives_restart",
                                        "no_entry_before_reconciliation")


def _crash(t: str, after: str) -> dict:
    return {"version": 1, "name": "c", "duration": "60s",
            "instruments": [{"symbol": "ACME", "tick_size": "0.01"}],
            "market": {"ACME": {"ticks": [{"t": "0s", "last": "100.00"}]}},
            "faults": [{"kind": "crash", "t": t, "restart_after": after}]}


@pytest.mark.parametrize("t, after, where", [
    ("50s", "20s", "faults[0].restart_after"),  # restart past the horizon
    ("10s", "0s", "faults[0].restart_after"),
])
def test_a_bad_crash_fault_is_a_located_error(t: str, after: str, where: str) -> None:
    with pytest.raises(ScenarioError) as err:
        from_dict(_crash(t, after), "c.yaml")
    assert any(where in line for line in err.value.lines()), err.value.lines()


def test_a_crash_fault_needs_its_restart() -> None:
    data = _crash("10s", "5s")
    del data["faults"][0]["restart_after"]
    with pytest.raises(ScenarioError) as err:
        from_dict(data, "c.yaml")
    assert any("restart_after" in line for line in err.value.lines())


FINDS = sorted((ROOT / "tests" / "fixtures" / "crash_finds").glob("*.yaml"))


@pytest.mark.parametrize("path", FINDS, ids=lambda p: p.stem)
def test_the_first_crash_fuzz_campaigns_finds_pass(path: Path) -> None:
    """What the fuzzer found when crash faults were new (a restart that waited past
    the horizon, two crashes at once, fills while dead on an order adopted back, the
    restored cost's rounding, a discovered ticker held across a restart, a restart
    after an outage that began before the crash): each passes now."""
    res = runner.run(scenario.load(path))
    assert res.ok, res.violations
