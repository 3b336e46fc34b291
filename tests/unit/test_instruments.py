"""One instrument class (kernel/instruments.py), read the same way from every file."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from triotrade.kernel.instruments import Instrument, instrument_problems
from triotrade.sim import scenario
from triotrade.venues.live import LiveConfigError, load_live_config

SCENARIO = """
version: 1
name: t
duration: 5m
market: {ACME: {ticks: [{t: 0s, last: "100.00"}]}}
"""


def test_derived_fields_follow_the_tick_size() -> None:
    inst = Instrument("ACME", Decimal("0.05"), 75, "INR", "NFO")
    assert (inst.tick_units, inst.price_places) == (5_000_000, 2)
    finer = attrs.evolve(inst, tick_size=Decimal("0.0001"))
    assert (finer.tick_units, finer.price_places) == (10_000, 4)
    assert inst.ceil_tick(5_000_001) == 10_000_000 and inst.floor_tick(9_999_999) == 5_000_000
    assert inst.round_lots(160) == 150


@pytest.mark.parametrize(("instruments", "problem"), [
    ("[]", ("instruments", "at least one instrument is required")),
    ('[{symbol: ACME, tick_size: "0"}]', ("instruments[0].tick_size", "must be positive")),
    ('[{symbol: ACME, tick_size: "0.01", lot_size: 0}]',
     ("instruments[0].lot_size", "must be positive")),
    ('[{symbol: ACME, tick_size: "0.01"}, {symbol: ACME, tick_size: "0.01"}]',
     ("instruments[1].symbol", "'ACME' is declared twice")),
    ('[{symbol: ACME}]', ("instruments[0].tick_size", "required key 'tick_size' is missing")),
])
def test_scenario_and_live_config_refuse_the_same_instruments(
        tmp_path: Path, instruments: str, problem: tuple[str, str]) -> None:
    with pytest.raises(scenario.ScenarioError) as scn:
        scenario.loads(SCENARIO + f"instruments: {instruments}\n", "s.yaml")
    live = tmp_path / "live.yaml"
    live.write_text(f"instruments: {instruments}\n")
    with pytest.raises(LiveConfigError) as cfg:
        load_live_config(live)
    assert problem in scn.value.problems
    assert problem in cfg.value.problems
    assert f"{live}: {problem[0]}: {problem[1]}" in cfg.value.lines()


def test_both_files_produce_the_kernel_instrument(tmp_path: Path) -> None:
    spec = '[{symbol: ACME, tick_size: "0.05", lot_size: 75, currency: INR, exchange: NFO}]'
    live = tmp_path / "live.yaml"
    live.write_text(f"instruments: {spec}\n")
    from_live = load_live_config(live).instruments
    from_scn = scenario.loads(SCENARIO + f"instruments: {spec}\n"
                              ).instruments
    want = [Instrument("ACME", Decimal("0.05"), 75, "INR", "NFO")]
    assert from_live == from_scn == want
    assert from_live[0].tick_units == 5_000_000


def test_instrument_problems_is_the_one_check() -> None:
    assert instrument_problems([Instrument("A", Decimal("0.01"))]) == []
    assert instrument_problems([Instrument("", Decimal("0.000000001"))], "x") == [
        ("x[0].symbol", "must not be empty"),
        ("x[0].tick_size", "Decimal('1E-9') has more than 8 decimal places"),
    ]
