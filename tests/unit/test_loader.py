"""The format-v1 loader (sim/scenario.py) and its CLI face.

Every file in tests/malformed/ starts with ``# expect: KEY.PATH``: the loader, ``triotrade
run FILE`` and ``triotrade check FILE`` must each refuse it naming exactly that path as
``FILE: KEY.PATH: problem`` (exit 2, no traceback, nothing run, no journal written).
"""
from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import TESTS, assert_no_traceback, parallel, px, run_cli, secs
from triotrade.kernel.config import Distance, TradingConfig, structure
from triotrade.kernel.units import NS_PER_S
from triotrade.sim import scenario
from triotrade.sim.scenario import ScenarioError

MALFORMED = sorted((TESTS / "malformed").glob("*.yaml"))
CONTRACT_EXAMPLE = TESTS / "fixtures" / "contract_example.yaml"
_EXPECT = re.compile(r"^# expect: (\S.*?)\s*$")


def expected_path(f: Path) -> str:
    first = f.read_text(encoding="utf-8").splitlines()[0]
    m = _EXPECT.match(first)
    assert m, f"{f.name}: first line must be '# expect: key.path'"
    return m.group(1)


def test_there_are_enough_malformed_files() -> None:
    assert len(MALFORMED) >= 20
    # every file says what it expects, and each is a distinct case
    assert len({f.read_text() for f in MALFORMED}) == len(MALFORMED)
    for f in MALFORMED:
        expected_path(f)


@pytest.mark.parametrize("f", MALFORMED, ids=lambda f: f.stem)
def test_loader_refuses_with_key_path(f: Path) -> None:
    path = expected_path(f)
    with pytest.raises(ScenarioError) as info:
        scenario.load(f)
    err = info.value
    assert path in [p for p, _ in err.problems], err.problems
    assert any(line.startswith(f"{f}: {path}: ") and len(line) > len(f"{f}: {path}: ")
               for line in err.lines()), err.lines()


# ------------------------------------------------------------------ the CLI


def _invoke(args: list[str]) -> Any:
    from click.testing import CliRunner

    from triotrade.cli import main

    return CliRunner().invoke(main, args, catch_exceptions=True)


@pytest.mark.parametrize("cmd", ["run", "run --journal", "check"])
@pytest.mark.parametrize("f", MALFORMED, ids=lambda f: f.stem)
def test_cli_refuses_with_exit_2_and_key_path(f: Path, cmd: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file through the CLI's own entry point (in-process: fast; the real
    subprocess is exercised by the tests below on all files at once and on a sample)."""
    monkeypatch.chdir(tmp_path)
    journal = tmp_path / "j" / "journal.jsonl"
    args = {"run": ["run", str(f)], "run --journal": ["run", str(f), "--journal", str(journal)],
            "check": ["check", str(f)]}[cmd]
    res = _invoke(args)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    assert res.exit_code == 2, (res.stdout, res.stderr)
    path = expected_path(f)
    lines = res.stderr.splitlines()
    assert any(line.startswith(f"{f}: {path}: ") for line in lines), res.stderr
    assert lines and all(line.startswith(f"{f}: ") for line in lines), res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert "digest:" not in res.stdout
    # nothing ran: no journal, not even the default runs/ directory
    assert list(tmp_path.iterdir()) == []


SAMPLE = [f for f in MALFORMED if f.stem in (
    "bad_yaml_syntax", "duplicate_key", "unknown_nested_config_key", "out_of_order_ticks",
    "undeclared_symbol_signal", "float_qty")]


def test_cli_subprocess_run_refuses_sample(tmp_path: Path) -> None:
    """``triotrade run FILE`` in real processes: exit 2, FILE: key.path, no journal."""
    assert len(SAMPLE) == 6
    jobs = []
    for f in SAMPLE:
        cwd = tmp_path / f.stem
        cwd.mkdir()
        jobs.append(lambda f=f, cwd=cwd: (f, cwd, run_cli(["run", str(f)], cwd=cwd)))
    for f, cwd, proc in parallel(jobs):
        assert proc.returncode == 2, (f, proc.stdout, proc.stderr)
        assert f"{f}: {expected_path(f)}: " in proc.stderr
        assert all(line.startswith(f"{f}: ") for line in proc.stderr.splitlines())
        assert_no_traceback(proc)
        assert "digest:" not in proc.stdout
        assert list(cwd.iterdir()) == []  # no runs/ journal


def test_cli_subprocess_check_all_malformed(workdir: Path) -> None:
    """``triotrade check`` on every malformed file in one real process."""
    proc = run_cli(["check", *map(str, MALFORMED)], cwd=workdir)
    assert proc.returncode == 2
    assert_no_traceback(proc)
    n = len(MALFORMED)
    assert proc.stdout == f"checked {n} files: 0 ok, {n} invalid\n"
    for f in MALFORMED:
        assert f"{f}: {expected_path(f)}: " in proc.stderr, f
    reported = {line.split(": ")[0] for line in proc.stderr.splitlines()}
    assert reported == {str(f) for f in MALFORMED}


def test_check_many_files_reports_each_and_exits_2(workdir: Path) -> None:
    good = Path(scenario.__file__).parent / "data" / "default.yaml"
    files = [good, *MALFORMED[:5]]
    proc = run_cli(["check", *map(str, files)], cwd=workdir)
    assert proc.returncode == 2
    assert f"{good}: ok" in proc.stdout.splitlines()
    for f in MALFORMED[:5]:
        assert f"{f}: {expected_path(f)}: " in proc.stderr
    assert_no_traceback(proc)


def test_check_valid_files_exit_0(workdir: Path) -> None:
    good = Path(scenario.__file__).parent / "data" / "default.yaml"
    proc = run_cli(["check", str(good), str(CONTRACT_EXAMPLE)], cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"{good}: ok", f"{CONTRACT_EXAMPLE}: ok",
                                        "checked 2 files: 2 ok, 0 invalid"]


def test_missing_file_is_input_error_not_traceback(workdir: Path) -> None:
    missing = workdir / "nope.yaml"
    for args in (["run", str(missing)], ["check", str(missing)]):
        proc = run_cli(args, cwd=workdir)
        assert proc.returncode == 2, proc
        assert str(missing) in proc.stderr
        assert_no_traceback(proc)


# ------------------------------------------------------------------ in-process edge cases


BASE = """
version: 1
name: t
duration: 5m
instruments: [{symbol: ACME, tick_size: "0.01"}]
"""


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as info:
        scenario.loads(BASE + text, "t.yaml")
    return info.value.problems


def paths(text: str) -> list[str]:
    return [p for p, _ in problems(text)]


def test_all_problems_reported_at_once() -> None:
    got = paths("""
colour: red
market:
  ACME:
    depth: -1
    ticks: [{t: 0s, last: "100.00"}, {t: 0s, last: "100.001"}]
signals: [{t: 1s, symbol: FOO, side: HOLD}]
""")
    assert "colour" in got
    got = paths("""
market:
  ACME:
    depth: -1
    ticks: [{t: 0s, last: "100.00"}, {t: 0s, last: "100.001"}]
signals: [{t: 1s, symbol: FOO, side: HOLD}]
""")
    assert set(got) == {"market.ACME.depth", "market.ACME.ticks[1].t",
                        "market.ACME.ticks[1].last", "signals[0].symbol", "signals[0].side"}


def test_duplicate_key_is_reported_by_key_path() -> None:
    assert problems("""
market:
  ACME:
    ticks:
      - {t: 0s, last: "1.00", last: "2.00"}
""") == [("market.ACME.ticks[0].last", "duplicate key (lines 10 and 10)")]


def test_duplicate_top_level_key() -> None:
    assert paths("name: again\n") == ["name"]


def test_for_must_be_spelled_for() -> None:
    assert "market.ACME.halts[0].for_" in paths("""
market: {ACME: {ticks: [{t: 0s, last: "1.00"}], halts: [{t: 1s, for_: 5s}]}}
""")
    missing = problems("""
market: {ACME: {ticks: [{t: 0s, last: "1.00"}], halts: [{t: 1s}]}}
""")
    assert missing == [("market.ACME.halts[0].for", "required key 'for' is missing")]
    # a key that merely starts with for_ keeps its name
    assert paths("""
market: {ACME: {ticks: [{t: 0s, last: "1.00"}], halts: [{t: 1s, for: 1s, for_x: 1}]}}
""") == ["market.ACME.halts[0].for_x"]


def test_wrong_type_messages_say_what_was_wrong() -> None:
    assert problems("config: 5\n") == [("config", "expected a mapping, got an integer")]
    assert problems("market: {ACME: {ticks: [5]}}\n") == [
        ("market.ACME.ticks[0]", "expected a mapping, got an integer")]
    assert problems("signals: BUY\n") == [("signals", "expected a list, got str")]


@pytest.mark.parametrize("text,path", [
    ("signals: [{t: 1s, symbol: ACME, side: BUY, published: 1.5s}]", "signals[0].published"),
    ("market: {ACME: {walk: {every: 0ms, vol_bps: 5, start: \"1\"}}}", "market.ACME.walk.every"),
    ("market: {ACME: {walk: {every: 1s, vol_bps: -5, start: \"1\"}}}", "market.ACME.walk.vol_bps"),
    ("market: {ACME: {ticks: [{t: 0s}]}}", "market.ACME.ticks[0]"),
    ("market: {ACME: {ticks: [{t: 0s, last: \"0\"}]}}", "market.ACME.ticks[0].last"),
    ("market: {ACME: {ticks: [{t: 6m, last: \"1\"}]}}", "market.ACME.ticks[0].t"),
    ("market: {ACME: {}}", "market.ACME"),
    ("market: {ACME: {ticks: [{t: 0s, last: \"1\"}], gaps: [{t: 1s, pct: -100}]}}",
     "market.ACME.gaps[0].pct"),
    ("config: {tickers: [FOO]}", "config.tickers[0]"),
    ("config: {sizing: {unit_position_size: 500, max_position_size: 300}}",
     "config.sizing.unit_position_size"),
    ("config: {sizing: {max_position_size: 0}}", "config.sizing.max_position_size"),
    ("config: {monitor: {check_interval: 0s}}", "config.monitor.check_interval"),
    ("config: {exits: {take_profit: \"-1\"}}", "config.exits.take_profit"),
    ("config: {exits: {hold_threshold: 10}}", "config.exits.hold_threshold"),
    ("config: {risk: {daily_loss_limit: \"-5\"}}", "config.risk.daily_loss_limit"),
    ("config: {risk: {max_order_rate: 2.5}}", "config.risk.max_order_rate"),
    ("config: {sizing: {tier_list: [{price_min: 10, price_max: 5, unit_position_size: 1, "
     "max_position_size: 1}]}}", "config.sizing.tier_list[0]"),
    ("config: {sizing: {tier_list: [{price_min: 1, price_max: 5, unit_position_size: 1}]}}",
     "config.sizing.tier_list[0].max_position_size"),
    ("account: {cash: \"0\"}", "account.cash"),
    ("seed: \"42\"", "seed"),
    ("name: [a]", "name"),
    ("start: \"2025-11-03T14:30:00\"", "start"),
    ("faults: [{kind: latency, order: fast}]", "faults[0].order"),
    ("faults: [{kind: partial_fill, max_qty: 0}]", "faults[0].max_qty"),
    ("faults: [{kind: disconnect, t: 1s, for: 0s}]", "faults[0].for"),
    ("faults: [{t: 1s}]", "faults[0].kind"),
    ("expect: {max_position: {ACME: -1}}", "expect.max_position.ACME"),
    ("expect: {final_position: {ACME: 1.0}}", "expect.final_position.ACME"),
    ("expect: {events: [{symbol: ACME}]}", "expect.events[0].type"),
    ("expect: {events: [{type: fill, after: soon}]}", "expect.events[0].after"),
    ("expect: {counts: [{type: fill, min: -1}]}", "expect.counts[0].min"),
    ("expect: {no_events: [{type: fill, qty: [1]}]}", "expect.no_events[0].qty"),
    ("instruments: [{symbol: ACME, tick_size: \"0\"}]", "instruments[0].tick_size"),
    ("instruments: []", "instruments"),
    ("instruments: [{symbol: ACME}]", "instruments[0].tick_size"),
])
def test_more_refusals(text: str, path: str) -> None:
    if text.startswith(("instruments", "name", "seed")):
        key = text.split(":")[0]
        base = "\n".join(line for line in BASE.splitlines() if not line.startswith(key + ":"))
        with pytest.raises(ScenarioError) as info:
            scenario.loads(base + "\n" + text + "\n", "t.yaml")
        got = [p for p, _ in info.value.problems]
    else:
        got = paths(text + "\n")
    assert path in got, got


@pytest.mark.parametrize("text", [
    "",                 # empty file
    "- a\n- b\n",       # a list, not a mapping
    "just words\n",
])
def test_not_a_mapping(text: str) -> None:
    with pytest.raises(ScenarioError) as info:
        scenario.loads(text, "t.yaml")
    assert info.value.lines() == ["t.yaml: a scenario file must be a YAML mapping"]


def test_not_utf8() -> None:
    with pytest.raises(ScenarioError) as info:
        scenario.loads(b"version: 1\nname: \xff\xfe\n", "t.yaml")
    assert info.value.lines() == ["t.yaml: file is not UTF-8 text"]


# ------------------------------------------------------------------ valid input


def test_default_scenario_loads() -> None:
    scn = scenario.load(Path(scenario.__file__).parent / "data" / "default.yaml")
    assert scn.version == 1 and scn.duration == 300 * NS_PER_S
    assert scn.market["ACME"].walk is not None
    assert len(scn.sha256) == 64


def test_yaml_numbers_are_read_exactly() -> None:
    scn = scenario.loads(BASE + """
market:
  ACME:
    spread: 0.02
    ticks: [{t: 0s, last: 100.10}, {t: 1s, bid: 99.99, ask: "100.01", bid_size: 5, ask_size: 0}]
    gaps: [{t: 2s, pct: -7.5}]
    walk: {every: 250ms, vol_bps: 0.1, drift_bps: -0.05}
account: {cash: 1000000.5}
""")
    m = scn.market["ACME"]
    assert m.spread == px("0.02")
    assert m.ticks[0].last == px("100.10") and m.ticks[1].bid == px("99.99")
    assert m.ticks[1].ask_size == 0
    assert m.gaps[0].pct == Decimal("-7.5")
    assert m.walk is not None
    assert (m.walk.every, m.walk.vol_bps, m.walk.drift_bps) == (
        secs(0.25), Decimal("0.1"), Decimal("-0.05"))
    assert scn.account.cash == px("1000000.5")


def test_unquoted_iso_start_is_accepted() -> None:
    scn = scenario.loads(BASE + "start: 2025-11-03T14:30:00Z\n")
    assert scn.start_unix_ns == 1762180200 * NS_PER_S


def test_contract_example_parses_every_key() -> None:
    scn = scenario.load(CONTRACT_EXAMPLE)
    assert (scn.version, scn.name, scn.seed, scn.duration) == (1, "gap-through-stop", 42,
                                                              300 * NS_PER_S)
    assert scn.description.startswith("Long 100 at 100.00")
    assert scn.start_unix_ns == 1762180200 * NS_PER_S
    acme, nifty = scn.instruments
    assert (acme.symbol, acme.tick_size, acme.lot_size, acme.currency, acme.exchange) == (
        "ACME", Decimal("0.01"), 1, "USD", "SMART")
    assert (nifty.symbol, nifty.tick_size, nifty.lot_size, nifty.currency, nifty.exchange) == (
        "NIFTY25N2024000CE", Decimal("0.05"), 75, "INR", "NFO")
    assert scn.account.cash == px("1000000")
    assert scn.config == TradingConfig()  # the documented block is exactly the defaults
    m = scn.market["ACME"]
    assert (m.spread, m.depth) == (0, 1_000_000)
    assert [(t.t, t.last, t.bid, t.ask, t.bid_size, t.ask_size) for t in m.ticks] == [
        (0, px("100.00"), None, None, None, None),
        (secs(2), None, px("99.98"), px("100.02"), 300, 200)]
    assert m.walk is not None
    assert (m.walk.every, m.walk.vol_bps, m.walk.drift_bps) == (secs(0.1), 5, 0)
    assert [(g.t, g.pct) for g in m.gaps] == [(secs(120), Decimal(-8))]
    assert [(h.t, h.for_) for h in m.halts] == [(secs(200), secs(30))]
    assert [(s.t, s.symbol, s.side, s.published) for s in scn.signals] == [
        (secs(1), "ACME", "BUY", None), (secs(1), "ACME", "BUY", 0),
        (secs(90), "ACME", "EXIT", None)]
    f = {x.kind: x for x in scn.faults}
    assert list(f) == ["latency", "reject", "no_fill", "partial_fill", "disconnect",
                       "duplicate_reports"]
    assert (f["latency"].order, f["latency"].report, f["latency"].data) == (
        secs(0.05), secs(0.02), 0)
    assert (f["reject"].t, f["reject"].for_, f["reject"].role) == (0, secs(30), "EXIT")
    assert (f["no_fill"].t, f["no_fill"].for_) == (secs(100), secs(25))
    assert f["partial_fill"].max_qty == 10
    assert (f["disconnect"].t, f["disconnect"].for_) == (secs(50), secs(5))
    assert f["duplicate_reports"].p == Decimal("0.1")
    e = scn.expect
    assert e.final_position == {"ACME": 0} and e.max_position == {"ACME": 300}
    assert (e.realized_pnl["ACME"].min, e.realized_pnl["ACME"].max) == (px("-900"), px("-700"))
    assert e.events[1] == {"type": "order_submitted", "role": "EMERGENCY_EXIT",
                           "symbol": "ACME", "after": "120s", "before": "121s"}
    assert e.no_events == [{"type": "order_submitted", "role": "ENTRY", "after": "130s"}]
    assert [c.get("min", c.get("max")) for c in e.counts] == [3, 2]


def test_documented_config_defaults_are_the_defaults() -> None:
    """SCENARIO_FORMAT.md: every config key is optional and has the default shown."""
    assert structure({}, TradingConfig) == TradingConfig()
    c = TradingConfig()
    assert (c.tickers, c.sizing.unit_position_size, c.sizing.max_position_size,
            c.sizing.tier_list) == ([], 100, 300, [])
    assert (c.entries.staggered_order_delay, c.entries.entry_order_ttl,
            c.entries.signal_freshness) == (8 * NS_PER_S, 5 * NS_PER_S, 10 * NS_PER_S)
    assert c.exits.stop_loss == Distance(pct=Decimal(2))
    assert (c.exits.take_profit, c.exits.trailing_stop, c.exits.hold_threshold) == (
        None, None, None)
    assert c.exits.exit_order_ttl == 10 * NS_PER_S
    assert (c.monitor.check_interval, c.monitor.gap_threshold_pct, c.monitor.stale_after) == (
        NS_PER_S, Decimal(2), 60 * NS_PER_S)
    assert c.emergency.retry_interval == 10 * NS_PER_S
    assert (c.risk.max_loss_per_trade, c.risk.max_loss_cumulative, c.risk.daily_loss_limit,
            c.risk.max_order_rate) == (None, None, None, 10)


def test_config_distances_and_money() -> None:
    scn = scenario.loads(BASE + """
config:
  tickers: [ACME]
  sizing: {tier_list: [{price_min: "1", price_max: "50.5", unit_position_size: 10, max_position_size: 30}]}
  exits: {stop_loss: "1.50", take_profit: "3.5%", trailing_stop: 0.25, hold_threshold: 90s}
  risk: {max_loss_per_trade: "500", max_loss_cumulative: 1000, daily_loss_limit: "2500.75"}
""")
    c = scn.config
    assert c.tickers == ["ACME"]
    assert c.sizing.tier_list[0].price_max == Decimal("50.5")
    assert c.exits.stop_loss == Distance(units=px("1.50"))
    assert c.exits.take_profit == Distance(pct=Decimal("3.5"))
    assert c.exits.trailing_stop == Distance(units=px("0.25"))
    assert c.exits.hold_threshold == 90 * NS_PER_S
    assert (c.risk.max_loss_per_trade, c.risk.max_loss_cumulative, c.risk.daily_loss_limit) == (
        px("500"), px("1000"), px("2500.75"))
