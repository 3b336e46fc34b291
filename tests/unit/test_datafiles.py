"""Market data files (sim/datafiles.py, sim/datareaders.py): CSV and Parquet to ticks.

What is protected: a file replays as exactly the tick tuples the generated paths
produce for the same quotes; the time window skips and counts; bars replay in the
order that makes a gapped stop fill at the open; every data mistake is reported
with its row and column (and the streaming pass refuses it too); memory does not
grow with the number of rows.
"""
from __future__ import annotations

import os
import subprocess
import textwrap
from decimal import Decimal
from pathlib import Path

import pyarrow as pa  # the 'data' extra; the 'test' extra installs it
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import PYTHON, px, secs
from triotrade.kernel.errors import InputError
from triotrade.kernel.instruments import Instrument
from triotrade.kernel.units import UnitError, to_units
from triotrade.sim import datareaders
from triotrade.sim.datafiles import DataFormat, MarketFile, ReplayStats, market_file, validate
from triotrade.sim.datareaders import iso_ns, price_units
from triotrade.sim.market import PathSpec, PathTick, generate

START_ISO = "2025-11-03T14:30:00Z"
START = 1_762_180_200_000_000_000  # the same instant in Unix ns
TICK = px("0.01")
ACME = Instrument("ACME", Decimal("0.01"))
DEPTH = 1_000_000


def _csv(tmp_path: Path, body: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def _ticks(path: Path, duration_s: float = 300, **kw: object) -> tuple[list[tuple[int, ...]],
                                                                    ReplayStats]:
    stats = ReplayStats()
    mf = market_file(path, ACME, START, secs(duration_s), **kw)  # type: ignore[arg-type]
    return list(mf.ticks(3, stats)), stats


def _problems(path: Path, duration_s: float = 300, **kw: object) -> list[tuple[str, str]]:
    return validate(path, ACME, START, secs(duration_s), **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------ cells


def test_iso_and_integer_timestamps() -> None:
    assert START == iso_ns(START_ISO) == iso_ns("2025-11-03T20:00:00+05:30")
    assert iso_ns("2025-11-03T14:30:00.000000001Z") == START + 1
    assert iso_ns("2025-11-03 09:30:00.25-05:00") == START + 250_000_000
    assert iso_ns("2025-11-03T14:30Z") == START
    assert datareaders.timestamp_ns(str(START)) == START
    with pytest.raises(UnitError, match="has no UTC offset"):
        iso_ns("2025-11-03T14:30:00")
    with pytest.raises(UnitError, match="finer than a nanosecond"):
        iso_ns("2025-11-03T14:30:00.1234567891Z")
    with pytest.raises(UnitError, match="'2025-02-30T14:30:00Z' as an ISO 8601 time: day"):
        iso_ns("2025-02-30T14:30:00Z")
    with pytest.raises(UnitError, match="second must be in 0..59"):
        iso_ns("2025-11-03T14:30:60Z")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.decimals(allow_nan=False, allow_infinity=False).map(str),
                 st.from_regex(r"[0-9]{0,4}(\.[0-9]{0,10})?", fullmatch=True),
                 st.text(alphabet="0123456789.+-eE_ ", max_size=8)))
def test_fast_price_parse_agrees_with_to_units(text: str) -> None:
    try:
        expected: int | None = to_units(text)
    except UnitError:
        expected = None
    try:
        got: int | None = price_units(text)
    except UnitError:
        got = None
    assert got == expected, text


# ------------------------------------------------------------------ ticks: same as paths


def test_last_only_rows_are_quoted_like_generated_paths(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"""
        ts,last
        {START_ISO},100.00
        2025-11-03T14:30:01.5Z,100.05
        {START + 2_000_000_000},99.9
    """)
    spread = px("0.03")  # three ticks: the bid goes to the grid price below
    got, _ = _ticks(path, spread=spread)
    spec = PathSpec(TICK, spread=spread, ticks=tuple(
        PathTick(t, px(p), None, None, None, None)
        for t, p in ((0, "100.00"), (secs(1.5), "100.05"), (secs(2), "99.90"))))
    assert got == list(generate(3, spec, secs(300), seed=1))
    assert got[0] == (0, 3, px("99.98"), px("100.01"), px("100.00"), DEPTH, DEPTH)


def test_quote_rows_are_the_same_ticks_as_explicit_quotes(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"""
        ts,bid,ask,last,bid_size,ask_size
        {START_ISO},99.98,100.02,,300,200
        2025-11-03T14:30:01Z,99.97,100.00,99.99,,
        2025-11-03T14:30:02Z,,,100.10,5,
    """)
    got, _ = _ticks(path, spread=px("0.02"))
    spec = PathSpec(TICK, spread=px("0.02"), ticks=(
        PathTick(0, None, px("99.98"), px("100.02"), 300, 200),
        PathTick(secs(1), px("99.99"), px("99.97"), px("100.00"), None, None),
        PathTick(secs(2), px("100.10"), None, None, 5, None),
    ))
    assert got == list(generate(3, spec, secs(300), seed=1))
    # bid and ask without last: last is the mid on the grid (100.00 here)
    assert got[0][4] == px("100.00")


def test_quoted_csv_cells_read_as_the_csv_module_reads_them(tmp_path: Path) -> None:
    plain = _csv(tmp_path, f"ts,last\n{START_ISO},100.00\n{START + 1},100.01\n", "plain.csv")
    quoted = _csv(tmp_path, f'ts,last\n{START_ISO},100.00\n"{START + 1}","100.01"\n',
                  "quoted.csv")
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(plain.read_bytes().replace(b"\n", b"\r\n"))
    assert _ticks(quoted)[0] == _ticks(plain)[0] == _ticks(crlf)[0]
    assert len(_ticks(plain)[0]) == 2
    blank = _csv(tmp_path, f"ts,last\n{START},1\n\n", "blank.csv")
    assert _problems(blank) == [("row 2", "row: 0 cells, the header has 2 columns")]


def test_window_skips_and_counts_rows(tmp_path: Path) -> None:
    path = _csv(tmp_path, """
        ts,last
        2025-11-03T14:29:59Z,100.00
        2025-11-03T14:29:59.999999999Z,100.00
        2025-11-03T14:30:00Z,100.01
        2025-11-03T14:34:59.999999999Z,100.02
        2025-11-03T14:35:00Z,100.03
        2025-11-03T14:35:01Z,100.04
        2025-11-03T14:35:02Z,not even checked
    """)
    got, stats = _ticks(path, duration_s=300)
    assert [(t, last) for t, _, _, _, last, _, _ in got] == [(0, px("100.01")),
                                                            (secs(300) - 1, px("100.02"))]
    assert stats == ReplayStats(rows=7, replayed=2, before_start=2, after_end=3, ticks=2)


def test_column_names_are_case_insensitive_and_in_any_order(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"""
        Last,TS
        100.00,{START}
    """)
    assert _ticks(path)[0][0][4] == px("100.00")


# ------------------------------------------------------------------ bars


def test_bars_replay_nearer_extreme_first(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"""
        ts,open,high,low,close,volume
        {START_ISO},100.00,100.20,99.50,100.10,1200
        2025-11-03T14:31:00Z,100.10,100.60,100.00,100.50,900
        2025-11-03T14:32:00Z,100.50,100.50,100.30,100.40,
        2025-11-03T14:33:00Z,100.40,100.50,100.30,100.45,
    """)
    got, stats = _ticks(path, format="bars")
    q = secs(15)  # a quarter of the inferred 1-minute interval
    assert [(t, last) for t, _, _, _, last, _, _ in got] == [
        # high (0.20 away) nearer the open than the low (0.50): open, high, low, close
        (0, px("100.00")), (q, px("100.20")), (2 * q, px("99.50")), (3 * q, px("100.10")),
        # low (0.10 away) nearer than the high (0.50): open, low, high, close
        (secs(60), px("100.10")), (secs(60) + q, px("100.00")),
        (secs(60) + 2 * q, px("100.60")), (secs(60) + 3 * q, px("100.50")),
        # open == high: the high is nearest and first, and, equal to the open, skipped
        (secs(120), px("100.50")), (secs(120) + 2 * q, px("100.30")),
        (secs(120) + 3 * q, px("100.40")),
        # both extremes 0.10 away: a tie goes low first
        (secs(180), px("100.40")), (secs(180) + q, px("100.30")),
        (secs(180) + 2 * q, px("100.50")), (secs(180) + 3 * q, px("100.45")),
    ]
    assert stats == ReplayStats(rows=4, replayed=4, before_start=0, after_end=0, ticks=15)


def test_a_bar_gapping_through_a_stop_shows_the_open_first(tmp_path: Path) -> None:
    """Long with a stop at 98: the second bar opens at 92. Its first tick is the open,
    so a stop fills there (the bar's high, 99, comes later and cannot rescue it)."""
    path = _csv(tmp_path, f"""
        ts,open,high,low,close
        {START},100,100.5,99.5,100
        {START + secs(60)},92,99,91,95
    """)
    got, _ = _ticks(path, format="bars", bar_interval_ns=secs(60))
    second = [last for t, _, _, _, last, _, _ in got if t >= secs(60)]
    assert second[0] == px("92")
    assert second == [px("92"), px("91"), px("99"), px("95")]


def test_bars_need_an_interval_and_regular_spacing(tmp_path: Path) -> None:
    one = _csv(tmp_path, f"ts,open,high,low,close\n{START},1,1,1,1\n", "one.csv")
    with pytest.raises(InputError, match="cannot infer the bar interval from a single bar"):
        _ticks(one, format="bars")
    assert ("rows", "bars: cannot infer the bar interval from a single bar "
                    "(give bar_interval)") in _problems(one, format="bars")
    assert _ticks(one, format="bars", bar_interval_ns=secs(60))[0][0][4] == px("1")
    tight = _csv(tmp_path, f"""
        ts,open,high,low,close
        {START},1,1,1,1
        {START + secs(60)},1,1,1,1
        {START + secs(90)},1,1,1,1
    """, "tight.csv")
    assert _problems(tight, format="bars", bar_interval_ns=secs(60)) == [
        ("row 3", "ts: 30000000000 ns after the previous bar, less than the bar interval "
                  "(60000000000 ns)")]
    with pytest.raises(InputError, match="row 3: ts: 30000000000 ns after the previous bar"):
        _ticks(tight, format="bars", bar_interval_ns=secs(60))


def test_bar_problems(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"""
        ts,open,high,low,close,volume
        {START},100,99,98,98.5,10
        {START + secs(60)},100,101,100.5,100,-3
        {START + secs(120)},100,101,,100,
        {START + secs(120)},100,101,99,100,
    """)
    assert _problems(path, format="bars") == [
        ("row 1", "high: 99 is below open 100"),
        ("row 2", "volume: expected a non-negative integer, got '-3'"),
        ("row 2", "low: 100.5 is above close 100"),
        ("row 3", "low: missing"),
        ("row 4", "ts: out of order: 2025-11-03T14:32:00Z is not after the previous bar's "
                  "2025-11-03T14:32:00Z"),
    ]


# ------------------------------------------------------------------ validation


def test_every_row_problem_is_reported_with_row_and_column(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"""
        ts,bid,ask,last,bid_size,ask_size
        {START_ISO},99.98,100.02,,300,200
        2025-11-03T14:30:02Z,100.03,100.02,,,
        2025-11-03T14:30:01Z,-1,100.001,abc,x,2.5
        2025-11-03T14:30:03Z,99.98,,100,,
        2025-11-03T14:30:03,,,100,,
        yesterday,,,0,,
        2025-11-03T14:30:04Z,,,,,
        2025-11-03T14:30:05Z,1,2
    """)
    assert _problems(path) == [
        ("row 2", "bid: 100.03 is above ask 100.02"),
        ("row 3", "bid: must be positive, got '-1'"),
        ("row 3", "ask: 100.001 is not a multiple of the tick size 0.01"),
        ("row 3", "last: cannot parse 'abc' as a decimal number"),
        ("row 3", "bid_size: expected a non-negative integer, got 'x'"),
        ("row 3", "ask_size: expected a non-negative integer, got '2.5'"),
        ("row 3", "ts: out of order: 2025-11-03T14:30:01Z is before the previous row's "
                  "2025-11-03T14:30:02Z"),
        ("row 4", "ask: missing (bid is given; quotes need both)"),
        ("row 5", "ts: '2025-11-03T14:30:03' has no UTC offset (add Z or +00:00)"),
        ("row 6", "ts: cannot parse 'yesterday' as an ISO 8601 time or integer Unix "
                  "nanoseconds"),
        ("row 6", "last: must be positive, got '0'"),
        ("row 7", "last: missing (give last, or bid and ask)"),
        ("row 8", "row: 3 cells, the header has 6 columns"),
    ]


def test_a_clean_file_has_no_problems_and_counts_its_rows(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"ts,last\n{START - 1},1\n{START},1.01\n{START + secs(400)},1.02\n")
    stats = ReplayStats()
    mf = market_file(path, ACME, START, secs(300))
    assert mf.validate(stats=stats) == []
    assert stats == ReplayStats(rows=3, replayed=1, before_start=1, after_end=1, ticks=0)


@pytest.mark.parametrize(("header", "problems"), [
    ("time,last", [("columns", "time: unknown column (a ticks file has: ts, last, bid, ask, "
                               "bid_size, ask_size)"),
                   ("columns", "ts: missing column (the file has: time, last)")]),
    ("ts,bid", [("columns", "ask: missing column (bid is there; quotes need both)")]),
    ("ts,bid_size", [("columns", "last: missing column (give last, or bid and ask; the file "
                                 "has: ts, bid_size)")]),
    ("ts,last,last", [("columns", "last: appears twice")]),
])
def test_header_problems(tmp_path: Path, header: str,
                         problems: list[tuple[str, str]]) -> None:
    path = _csv(tmp_path, f"{header}\n")
    assert _problems(path) == problems
    with pytest.raises(InputError) as info:
        _ticks(path)
    assert info.value.problems == problems


def test_bars_header(tmp_path: Path) -> None:
    path = _csv(tmp_path, "ts,open,close,last\n")
    assert _problems(path, format="bars") == [
        ("columns", "last: unknown column (a bars file has: ts, open, high, low, close, volume)"),
        ("columns", "high: missing column (the file has: ts, open, close, last)"),
        ("columns", "low: missing column (the file has: ts, open, close, last)"),
    ]


def test_empty_missing_and_out_of_window_files(tmp_path: Path) -> None:
    assert _problems(tmp_path / "absent.csv")[0][0] == "file"
    assert _problems(_csv(tmp_path, "", "empty.csv")) == [
        ("file", "the file is empty (expected a header line of column names)")]
    assert _problems(_csv(tmp_path, "ts,last\n", "header.csv")) == [
        ("rows", "the file has no data rows")]
    # Unix seconds where nanoseconds were meant: every row is long before the start
    early = _csv(tmp_path, "ts,last\n1762180200,1\n1762180201,1\n", "seconds.csv")
    assert _problems(early) == [
        ("rows", "no row falls inside the run (2025-11-03T14:30:00Z to 2025-11-03T14:35:00Z): "
                 "2 before it, 0 after (integer ts are Unix nanoseconds)")]


def test_validation_stops_listing_after_the_limit(tmp_path: Path) -> None:
    rows = "".join(f"{START + i},0.001\n" for i in range(30))
    path = _csv(tmp_path, "ts,last\n" + rows)
    got = _problems(path, limit=5)
    assert got[:5] == [(f"row {i}", "last: 0.001 is not a multiple of the tick size 0.01")
                       for i in range(1, 6)]
    assert got[5:] == [("rows", "25 more problem(s) not listed")]
    assert len(_problems(path, limit=None)) == 30


def test_streaming_refuses_a_bad_row_with_its_location(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"ts,last\n{START},100\n{START + 1},100.001\n{START + 2},100\n")
    mf = market_file(path, ACME, START, secs(300), source="scn.yaml",
                     where="market.ACME.file: data.csv")
    ticks = mf.ticks(0)
    assert next(ticks)[4] == px("100")  # rows before the bad one do replay
    with pytest.raises(InputError) as info:
        next(ticks)
    assert info.value.lines() == [
        "scn.yaml: market.ACME.file: data.csv: row 2: last: 100.001 is not a multiple of "
        "the tick size 0.01"]
    backwards = _csv(tmp_path, f"ts,last\n{START + 5},100\n{START},100\n", "back.csv")
    with pytest.raises(InputError, match="row 2: ts: out of order"):
        _ticks(backwards)


def test_price_cache_does_not_leak_checks(tmp_path: Path) -> None:
    """A price seen on a good row is remembered; the same text on a later row is
    still a good price, and a bad one is never remembered as good."""
    path = _csv(tmp_path, f"ts,bid,ask\n{START},100.00,100.02\n{START + 1},100.02,100.00\n")
    with pytest.raises(InputError, match="row 2: bid: 100.02 is above ask 100.00"):
        _ticks(path)


def test_quote_cache_still_reads_every_timestamp(tmp_path: Path) -> None:
    """Rows repeating a quote take it from the cache; their ts is still parsed and
    checked, whatever its form."""
    path = _csv(tmp_path, f"""
        ts,bid,ask
        {START},100.00,100.02
        2025-11-03T14:30:01Z,100.00,100.02
        {START + secs(2)},100.00,100.02
        2025-11-03T14:30:03,100.00,100.02
    """)
    mf = market_file(path, ACME, START, secs(300))
    ticks = mf.ticks(0)
    assert [next(ticks)[0] for _ in range(3)] == [0, secs(1), secs(2)]
    with pytest.raises(InputError, match="row 4: ts: '2025-11-03T14:30:03' has no UTC offset"):
        next(ticks)
    back = _csv(tmp_path, f"ts,bid,ask\n{START + 5},1.00,1.02\n{START},1.00,1.02\n", "b.csv")
    with pytest.raises(InputError, match="row 2: ts: out of order"):
        _ticks(back)


# ------------------------------------------------------------------ Parquet

def test_parquet_gives_the_same_ticks_as_csv(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datareaders, "BATCH_ROWS", 3)  # several batches from a small file
    n = 10
    times = [START + i * 250_000_000 for i in range(n)]
    bids = [f"{100 + i * 0.01:.2f}" for i in range(n)]
    asks = [f"{100.02 + i * 0.01:.2f}" for i in range(n)]
    csv_path = _csv(tmp_path, "ts,bid,ask,bid_size\n" + "".join(
        f"{t},{b},{a},{i}\n" for i, (t, b, a) in enumerate(zip(times, bids, asks))))
    table = pa.table({
        "ts": pa.array(times, pa.timestamp("ns", tz="UTC")),
        "bid": pa.array([float(b) for b in bids]),  # floats, read through their repr
        "ask": pa.array(asks),  # text
        "bid_size": pa.array(range(n), pa.int64()),
    })
    pq_path = tmp_path / "data.parquet"
    pq.write_table(table, pq_path, row_group_size=4)
    from_csv, s1 = _ticks(csv_path)
    from_pq, s2 = _ticks(pq_path)
    assert from_pq == from_csv and len(from_pq) == n
    assert s1 == s2
    assert _problems(pq_path) == []


def test_parquet_integer_ns_and_naive_timestamps(tmp_path: Path) -> None:
    ok = tmp_path / "ns.parquet"
    pq.write_table(pa.table({"ts": pa.array([START], pa.int64()),
                             "last": pa.array([Decimal("100.05")], pa.decimal128(10, 2))}), ok)
    assert _ticks(ok)[0][0][4] == px("100.05")
    naive = tmp_path / "naive.parquet"
    pq.write_table(pa.table({"ts": pa.array([START], pa.timestamp("us")),
                             "last": pa.array([100.0])}), naive)
    expected = [("columns", "ts: a timestamp column without time zone; store it with one "
                            "(UTC) or as integer Unix nanoseconds")]
    assert _problems(naive) == expected
    odd = tmp_path / "odd.parquet"
    pq.write_table(pa.table({"ts": pa.array([START], pa.int64()), "last": pa.array([True]),
                             "bid_size": pa.array([[1]])}), odd)
    (k1, first), (k2, second) = _problems(odd)
    assert (k1, first) == ("columns", "last: a bool column; expected numbers or text")
    assert k2 == "columns" and second.startswith("bid_size: a list<")
    assert second.endswith("int64> column; expected numbers or text")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    assert _problems(bad)[0][0] == "file"


def test_market_file_is_a_plain_value() -> None:
    mf = market_file("x.csv", ACME, START, 1, format="bars")
    assert mf == MarketFile(Path("x.csv"), TICK, START, 1, DataFormat.BARS)
    with pytest.raises(ValueError):
        market_file("x.csv", ACME, START, 1, format="candles")


# ------------------------------------------------------------------ memory

_RSS_PROBE = """
import resource, sys
from triotrade.sim.datafiles import market_file
path, n = sys.argv[1], int(sys.argv[2])
mf = market_file(path, 1_000_000, {start}, 10**18)
count = 0
for i, tick in enumerate(mf.ticks(0)):
    count += 1
    if count == n:
        break
print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_memory_is_flat_in_the_number_of_rows(tmp_path: Path) -> None:
    """Peak RSS replaying 1 M rows stays within a few MiB of replaying 100 k rows of the
    same file (a list of 1 M tick tuples alone would be over 100 MiB)."""
    path = tmp_path / "big.csv"
    with open(path, "w") as f:
        f.write("ts,bid,ask,bid_size,ask_size\n")
        p = 10_000
        for i in range(1_000_000):
            p += (i * 7919) % 3 - 1
            if p < 100:
                p = 100
            f.write(f"{START + i * 100_000_000},{p // 100}.{p % 100:02d},"
                    f"{(p + 2) // 100}.{(p + 2) % 100:02d},{i % 500},{i % 300}\n")
    probe = _RSS_PROBE.format(start=START)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    peaks = {}
    for n in (100_000, 1_000_000):
        out = subprocess.run([PYTHON, "-c", probe, str(path), str(n)], capture_output=True,
                             text=True, env=env, check=True).stdout.split()
        assert int(out[0]) == n
        peaks[n] = int(out[1])  # KiB on Linux
    assert peaks[1_000_000] - peaks[100_000] < 16 * 1024, peaks
