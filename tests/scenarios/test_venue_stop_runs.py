"""``exits.venue_stop`` in the simulator: the resting stop works while the kernel is dead,
and what the fuzzer found when it was new passes now."""
from __future__ import annotations

from pathlib import Path

import pytest

from triotrade.sim import runner, scenario

ROOT = Path(__file__).resolve().parents[2]
FINDS = sorted((ROOT / "tests" / "fixtures" / "venue_stop_finds").glob("*.yaml"))
INCIDENT = ROOT / "scenarios" / "incidents" / "crash_gap_venue_stop.yaml"


@pytest.mark.parametrize("path", FINDS, ids=lambda p: p.stem)
def test_the_venue_stop_fuzz_finds_pass(path: Path) -> None:
    res = runner.run(scenario.load(path))
    assert res.ok, res.violations


def test_the_stop_fills_at_the_gapped_price_while_the_kernel_is_dead() -> None:
    res = runner.run(scenario.load(INCIDENT))
    assert res.ok, (res.violations, [c for c in res.checks if not c.ok])
    types = [e["type"] for e in res.events]
    crash, restart = types.index("fault_injected", 1), types.index("restarted")
    # nothing between the crash and the restart: the venue's stop acted alone
    assert restart == crash + 1
    after = res.events[restart + 1:]
    [fill] = [e for e in after if e["type"] == "fill"]
    assert (fill["order_id"], fill["price"]) == ("O2", "93.99")  # the gap, not the trigger
    assert not [e for e in after if e["type"] == "order_submitted"]  # nothing sent again
