"""``triotrade.journal.read``: every price, quantity and amount reads back exactly.

Compared value by value with the journal's own strings, on a real simulated journal
(whose average prices have eight decimals) and on a hand-written one with fees and
bars; no float dtype may appear in a decimal column, or anywhere.
"""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from conftest import SCENARIOS
from hand_journal import write_journal
from triotrade import journal
from triotrade.sim import runner, scenario


@pytest.fixture(scope="module")
def sim_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("j") / "partial.jsonl"
    scn = scenario.load(SCENARIOS / "incidents" / "partial_fill_exit.yaml")
    runner.run(scn, scn.seed, path)
    return path


def _raw(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


@pytest.mark.parametrize("which", ["sim", "hand"])
def test_decimals_equal_the_journal_strings(which: str, sim_journal: Path,
                                            tmp_path: Path) -> None:
    path = sim_journal if which == "sim" else write_journal(tmp_path / "h.jsonl", "10000")
    df = journal.read(path)
    raw = _raw(path)
    assert df.height == len(raw)
    checked = 0
    for name in df.columns:
        if not journal.is_decimal_field(name):
            continue
        dtype = df.schema[name]
        values = df[name].to_list()
        strings = [e.get(name) for e in raw]
        if not any(isinstance(s, str) for s in strings):
            continue
        assert isinstance(dtype, pl.Decimal), (name, dtype)
        # the scale is the most fraction digits any value of the column has
        places = max(-Decimal(s).as_tuple().exponent for s in strings if isinstance(s, str))
        assert dtype.scale == places, name
        for got, want in zip(values, strings):
            if isinstance(want, str):
                assert isinstance(got, Decimal) and got == Decimal(want), (name, got, want)
                checked += 1
            else:
                assert got is None
    assert checked > (40 if which == "sim" else 30)
    assert not [n for n, t in df.schema.items() if t in (pl.Float32, pl.Float64)]


def test_fee_and_bar_columns_are_decimals(tmp_path: Path) -> None:
    df = journal.read(write_journal(tmp_path / "h.jsonl", None), types=["fill", "bar"])
    assert set(df["type"].unique()) == {"fill", "bar"}
    for col in ("fee", "price", "qty", "open", "high", "low", "close"):
        assert isinstance(df.schema[col], pl.Decimal), col
    fills = df.filter(pl.col("type") == "fill")
    assert fills["fee"].to_list() == [Decimal("1.00"), Decimal("0.40"), Decimal("1.60"),
                                      Decimal("1.00"), None, Decimal("0.50")]
    assert fills["fee"].sum() == Decimal("4.50")  # decimal arithmetic in polars, exact


def test_time_columns(sim_journal: Path, tmp_path: Path) -> None:
    df = journal.read(sim_journal, types="fill")
    assert df.schema["ts"] == pl.Datetime("ns", "UTC") and df.schema["ts_ns"] == pl.Int64
    assert df.columns[:3] == ["ts", "ts_ns", "type"]
    # no scenario start: the epoch plus virtual time
    first = df.row(0, named=True)
    assert df.select(pl.col("ts").dt.epoch("ns")).to_series()[0] == first["ts_ns"]

    started = tmp_path / "started.jsonl"
    lines = sim_journal.read_text().splitlines(keepends=True)
    head = json.loads(lines[0])
    head["start"] = "2025-11-03T14:30:00Z"
    started.write_text(json.dumps(head, sort_keys=True) + "\n" + "".join(lines[1:]))
    row = journal.read(started, types="fill").row(0, named=True)
    assert row["ts"].isoformat().startswith("2025-11-03T14:30:00.5")
    assert journal.read_header(started)["start"] == "2025-11-03T14:30:00Z"


def test_run_finished_maps_do_not_collide_with_the_scalar_column(sim_journal: Path) -> None:
    df = journal.read(sim_journal)
    fin = df.filter(pl.col("type") == "run_finished").row(0, named=True)
    assert fin["realized_pnl"] is None
    assert fin["realized_pnl_by_symbol"] == {"PART": _raw(sim_journal)[-1]["realized_pnl"]["PART"]}


def test_bad_journals_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type":"header","format":1}\n{"ts_ns":1,"type":"fill"}\nnot json\n'
                   '{"ts_ns":2,"type":"fill"}\n')
    with pytest.raises(journal.JournalReadError, match=r"bad.jsonl: line 3: not JSON"):
        journal.read(bad)
    torn = tmp_path / "torn.jsonl"  # a live journal cut mid-line: the tail is skipped
    torn.write_text('{"type":"header","format":1}\n{"ts_ns":1,"type":"x"}\n{"ts_n')
    assert journal.read(torn).height == 1
    nohead = tmp_path / "nohead.jsonl"
    nohead.write_text('{"ts_ns":1,"type":"fill"}\n')
    with pytest.raises(journal.JournalReadError, match="not the journal header"):
        journal.read_header(nohead)
