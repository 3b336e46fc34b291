"""Files that once got a traceback or never finished: each is refused, located, quickly.

The malformed scenarios of the hostile-input report live in tests/malformed/ (each
with its ``# expect:`` path, run by test_loader.py through the loader and the CLI);
what cannot be a file in the repository (a FIFO, a device, a directory) and what the
live config reader shares with the scenario loader is tested here, plus the promise
that matters most: a value ``check`` accepts never crashes ``run``.
"""
from __future__ import annotations

import os
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TESTS
from triotrade.kernel.config import MAX_MA_WINDOW, MIN_INTERVAL
from triotrade.kernel.strict_yaml import YamlFileError, YamlLimits, load_bytes, read_bounded, FileRefused
from triotrade.sim import runner, scenario
from triotrade.sim.scenario import ScenarioError
from triotrade.sim.scenario_limits import VALUE_BOUNDS, Limits
from triotrade.venues.live import LiveConfigError, load_live_config

BASE = """\
version: 1
name: hostile
duration: 5m
instruments:
  - {symbol: ACME, tick_size: "0.01", lot_size: 1, currency: USD}
market: {ACME: {ticks: [{t: 0s, last: "100.00"}]}}
"""

LIVE = """\
instruments:
  - {symbol: ACME, tick_size: "0.01", lot_size: 1, currency: USD}
config:
  tickers: [ACME]
  risk:
    daily_loss_limit: "500"
"""


def _refusal(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as info:
        scenario.load(path)
    return info.value.problems


def _invoke(args: list[str]) -> Any:
    from click.testing import CliRunner

    from triotrade.cli import main

    return CliRunner().invoke(main, args, catch_exceptions=True)


# ------------------------------------------------------------------ special files


def test_dev_zero_is_refused_without_reading_it() -> None:
    problems = _refusal(Path("/dev/zero"))
    assert problems == [("", "not a regular file (a character device)")]


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    result: list[Any] = []
    # a writer that never comes: an open() without O_NONBLOCK would block forever
    worker = threading.Thread(target=lambda: result.append(_refusal(fifo)), daemon=True)
    worker.start()
    worker.join(60)  # a bound on a hang, not a timing assertion
    assert result == [[("", "not a regular file (a FIFO)")]]


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert _refusal(tmp_path) == [("", "not a regular file (a directory)")]


def test_a_file_larger_than_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * 3_000_000 + b"\n" + BASE.encode())
    (path, msg), = _refusal(big)
    assert path == "" and msg == f"file is {big.stat().st_size} bytes (at most {2 * 1024 * 1024})"
    with pytest.raises(FileRefused, match="at most 10"):
        read_bounded(big, 10)


def test_cli_check_refuses_special_files_with_exit_2(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    res = _invoke(["check", "/dev/zero", str(fifo)])
    assert res.exit_code == 2, res.output
    assert res.stderr.splitlines() == ["/dev/zero: not a regular file (a character device)",
                                       f"{fifo}: not a regular file (a FIFO)"]
    for path in ("/dev/zero", str(fifo)):
        res = _invoke(["run", path, "--journal", str(tmp_path / "j.jsonl")])
        assert res.exit_code == 2 and "not a regular file" in res.stderr, res.output
    assert not (tmp_path / "j.jsonl").exists()


# ------------------------------------------------------------------ the YAML reader


@pytest.mark.parametrize("text", [
    "a: !!int \"abc\"\n", "a: !!python/object/apply:os.system [ls]\n", "a: !custom 1\n",
    "a: !!binary aGk=\n", "a: !!set {x}\n", "a: ! 5\n",
])
def test_every_explicit_tag_is_refused(text: str) -> None:
    with pytest.raises(YamlFileError) as info:
        load_bytes(text.encode())
    (where, msg), = info.value.problems
    assert where == "a" and "explicit tag" in msg


@pytest.mark.parametrize("text, value", [
    ("a: 1:40\n", "1:40"),  # YAML 1.1 sexagesimal 100
    ("a: 2025-02-30T14:30:00Z\n", "2025-02-30T14:30:00Z"),  # YAML 1.1 timestamp
    ("a: 2025-11-03\n", "2025-11-03"),
    ("a: yes\n", "yes"), ("a: off\n", "off"),
    ("a: 1_000\n", "1_000"), ("a: 0b101\n", "0b101"),
    ("a: <<\n", "<<"),
    ("a: 0o10\n", 8), ("a: 0x1F\n", 31), ("a: -7\n", -7), ("a: 1.5\n", 1.5),
    ("a: true\n", True), ("a: null\n", None), ("a: ~\n", None),
])
def test_yaml_1_2_core_schema(text: str, value: Any) -> None:
    assert load_bytes(text.encode()) == {"a": value}


def test_a_leading_zero_is_refused_not_guessed() -> None:
    # 010 is octal 8 in YAML 1.1 and ten in YAML 1.2: a file meaning either is refused
    with pytest.raises(YamlFileError, match="leading zero"):
        load_bytes(b"depth: 010\n")
    assert load_bytes(b"a: 0\nb: -0\nc: 0.5\nd: 00.5\n") == {"a": 0, "b": 0, "c": 0.5, "d": 0.5}


def test_merge_keys_are_plain_keys() -> None:
    assert load_bytes(b"b: &b {x: 1}\nc: {<<: *b}\n") == {"b": {"x": 1}, "c": {"<<": {"x": 1}}}


def test_billion_laughs_is_refused_quickly_without_repeating_the_value() -> None:
    f = TESTS / "malformed" / "billion_laughs.yaml"
    assert f.stat().st_size < 600
    res = _invoke(["check", str(f)])
    assert res.exit_code == 2
    assert len(res.stderr) < 200 and "lol" not in res.stderr, res.stderr


def test_alias_expansion_is_bounded_and_linear() -> None:
    # each level doubles: 40 levels would be 2**40 nodes, refused after ~1M were counted
    lines = ["l0: &l0 [x, x]"] + [f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, 40)]
    with pytest.raises(YamlFileError, match="expands to more than 1000 values"):
        load_bytes("\n".join(lines).encode(), YamlLimits(max_nodes=1000))
    # within the limit, aliases are fine (shared, not copied)
    assert load_bytes(b"a: &a [1, 2]\nb: *a\n") == {"a": [1, 2], "b": [1, 2]}


def test_nesting_is_bounded_without_recursion_error() -> None:
    deep = "a: " + "[" * 100_000 + "]" * 100_000 + "\n"
    # libyaml stops at its own 1000 levels before our composer sees level 65
    with pytest.raises(YamlFileError, match="nested deeper than 64 levels|maximum nesting depth"):
        load_bytes(deep.encode())
    with pytest.raises(YamlFileError, match="nested deeper than 64 levels"):
        load_bytes(("a: " + "[" * 500 + "]" * 500 + "\n").encode())


def test_duplicate_keys_are_refused_at_any_depth_with_their_path() -> None:
    with pytest.raises(YamlFileError) as info:
        load_bytes(b"a:\n  - {b: 1, c: {d: 1, d: 2}}\n")
    assert info.value.problems == [("a[0].c.d", "duplicate key (lines 2 and 2)")]


def test_numbers_longer_than_40_characters_are_refused_before_conversion() -> None:
    with pytest.raises(YamlFileError) as info:
        load_bytes(b"seed: " + b"9" * 100_000 + b"\n")
    (where, msg), = info.value.problems
    assert where == "seed" and msg.startswith("a number with 100000 characters")


# ------------------------------------------------------------------ live configs


def _live(tmp_path: Path, text: str) -> list[str]:
    f = tmp_path / "live.yaml"
    f.write_text(text)
    with pytest.raises(LiveConfigError) as info:
        load_live_config(f)
    return info.value.lines()


def test_live_config_is_read_by_the_strict_reader(tmp_path: Path) -> None:
    f = tmp_path / "ok.yaml"
    f.write_text(LIVE)
    assert load_live_config(f).config.risk.daily_loss_limit == 500 * 10**8
    dup = LIVE + '    daily_loss_limit: "900"\n'
    assert _live(tmp_path, dup) == [f"{tmp_path / 'live.yaml'}: config.risk.daily_loss_limit: "
                                    f"duplicate key (lines 6 and 7)"]
    tag = LIVE.replace('tick_size: "0.01"', 'tick_size: !!int "abc"')
    (line,) = _live(tmp_path, tag)
    assert line.startswith(f"{tmp_path / 'live.yaml'}: instruments[0].tick_size: explicit tag")
    assert _live(tmp_path, LIVE + "    max_order_rate: 1:40\n") == [
        f"{tmp_path / 'live.yaml'}: config.risk.max_order_rate: expected an integer, got '1:40'"]
    stale = LIVE + "  monitor: {stale_after: 0s}\n"
    assert _live(tmp_path, stale) == [
        f"{tmp_path / 'live.yaml'}: config.monitor.stale_after: 0s is below the minimum 1ms"]


def test_live_config_special_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LiveConfigError) as info:
        load_live_config("/dev/zero")
    assert info.value.lines() == ["/dev/zero: not a regular file (a character device)"]


# ------------------------------------------------------------------ resource bounds


def test_limits_are_raised_by_the_cli_options(tmp_path: Path) -> None:
    f = TESTS / "malformed" / "too_many_ticks.yaml"
    res = _invoke(["check", str(f)])
    assert res.exit_code == 2 and "--max-ticks" in res.stderr and "17280001 ticks" in res.stderr
    res = _invoke(["check", "--max-ticks", "20000000", str(f)])
    assert res.exit_code == 0, res.stderr
    g = TESTS / "malformed" / "duration_beyond_horizon.yaml"
    res = _invoke(["check", "--max-duration", "1001d", "--max-ticks", "100000000", str(g)])
    assert res.exit_code == 0, res.stderr
    res = _invoke(["check", "--max-duration", "soon", str(g)])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_monitor_wakeups_count_against_the_tick_limit(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(BASE.replace("5m", "30d") + "config: {monitor: {check_interval: 1ms}}\n")
    (path, msg), = _refusal(f)
    assert path == "config.monitor.check_interval"
    assert "2592000000 times" in msg and "--max-ticks" in msg


def test_intervals_at_the_minimum_are_accepted() -> None:
    assert MIN_INTERVAL == 1_000_000
    scenario.loads(BASE + "config: {monitor: {check_interval: 1ms, stale_after: 1ms}}\n")


# every range VALUE_BOUNDS lists, at its ends and inside, runs to the end
_WALK = """\
version: 1
name: bounds
duration: {duration}
seed: {seed}
instruments:
  - {{symbol: ACME, tick_size: "0.01", lot_size: 1, currency: USD}}
market:
  ACME:
    walk: {{every: {every}, vol_bps: "{vol}", drift_bps: "{drift}", start: "100.00"}}
    gaps: [{{t: 2s, pct: "{pct}"}}, {{t: 3s, pct: "{pct2}"}}]
signals:
  - {{t: 1s, symbol: ACME, side: BUY}}
config:
  tickers: [ACME]
  monitor: {{check_interval: {every}, stale_after: {every}}}
  strategies: {{ACME: {{kind: ma_cross, fast: {fast}, slow: {slow}}}}}
"""


def _within(key: str) -> st.SearchStrategy[Decimal]:
    b = VALUE_BOUNDS[key]
    assert b.low is not None and b.high is not None
    ends = st.sampled_from([b.low, b.high])
    inside = st.decimals(min_value=b.low, max_value=b.high, places=2)
    return st.one_of(ends, inside)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(vol=_within("walk.vol_bps"), drift=_within("walk.drift_bps"),
       pct=_within("gaps.pct"), pct2=_within("gaps.pct"),
       slow=st.sampled_from([2, 3, 50, MAX_MA_WINDOW]),
       horizon=st.sampled_from([("5s", "1ms"), ("20s", "7ms"), ("1h", "1s"), ("30d", "1h")]),
       seed=st.sampled_from([0, 1, 2**63, -(10**38)]))
def test_every_accepted_value_range_runs(vol: Decimal, drift: Decimal, pct: Decimal,
                                         pct2: Decimal, slow: int, horizon: tuple[str, str],
                                         seed: int) -> None:
    """From the shortest walk step and monitor interval to the longest horizon (with a
    step that keeps the test quick), every bound at its ends and inside."""
    duration, every = horizon
    text = _WALK.format(duration=duration, seed=seed, every=every,
                        vol=vol, drift=drift, pct=pct, pct2=pct2, fast=slow - 1, slow=slow)
    scn = scenario.loads(text, limits=Limits())
    result = runner.run(scn, scn.seed, None)
    assert result.exit_code in (0, 1)
    assert result.ticks > 0


@pytest.mark.parametrize("f", sorted((TESTS / "fixtures" / "extremes").glob("*.yaml")),
                         ids=lambda f: f.stem)
def test_the_largest_accepted_values_run(f: Path, tmp_path: Path) -> None:
    """Sizes, prices, cash, seeds and rates at the edges of what the loader accepts."""
    res = _invoke(["check", str(f)])
    assert res.exit_code == 0, res.stderr
    res = _invoke(["run", "-q", str(f), "--journal", str(tmp_path / "j.jsonl")])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    assert res.exit_code in (0, 1), res.output
    assert res.stdout.splitlines()[-1].startswith("digest: sha256:")


@pytest.mark.parametrize("loader", ["_PyStrictLoader", "_CStrictLoader"])
def test_both_parsers_make_the_same_checks(loader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """libyaml parses when PyYAML has it; the pure-Python parser is the fallback: the
    composer (every check) is the same over either."""
    from triotrade.kernel import strict_yaml

    monkeypatch.setattr(strict_yaml, "_StrictLoader", getattr(strict_yaml, loader))
    cases = {
        b"a: !!int '1'\n": ("a", "explicit tag"),
        b"a: {b: 1, b: 2}\n": ("a.b", "duplicate key (lines 1 and 1)"),
        b"a: " + b"[" * 70 + b"]" * 70 + b"\n": ("a", "nested deeper than 64 levels"),
        b"a: &x [*x]\n": ("a[0]", "a recursive structure"),
        b"a: " + b"1" * 41 + b"\n": ("a", "a number with 41 characters"),
        b"a: 010\n": ("a", "leading zero"),
        b"? [x]\n: 1\n": ("line 1, column 3", "must be a plain value"),
        b"a: b\x00\n": ("YAML", "characters are not allowed (character 5)"),
    }
    for raw, (where, text) in cases.items():
        with pytest.raises(YamlFileError) as info:
            load_bytes(raw)
        (got_where, msg), = info.value.problems
        assert got_where == where and text in msg, (raw[:20], info.value.problems)
    assert load_bytes(b"a: [1:40, 0x10, .5, yes, null]\n") == {"a": ["1:40", 16, 0.5, "yes", None]}
