"""`check` and `run` over several files and directories, journals that are never lost,
and messages that quote what the user wrote."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import SCENARIOS, TESTS, last_digest
from triotrade.cli import main

GOOD = """\
version: 1
name: {name}
seed: 3
duration: 30s
instruments: [{{symbol: ACME, tick_size: "0.01"}}]
market: {{ACME: {{spread: "0.02", ticks: [{{t: 0s, last: "100.00"}}]}}}}
signals: [{{t: 1s, symbol: ACME, side: BUY}}]
expect:
  {expect}
"""


def scenario(tmp: Path, name: str, expect: str = "max_position: {ACME: 1000}",
             extra: str = "") -> Path:
    f = tmp / f"{name}.yaml"
    f.write_text(GOOD.format(name=name, expect=expect) + extra)
    return f


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    return lambda *args: CliRunner().invoke(main, [str(a) for a in args])


# ------------------------------------------------------------------ check


def test_check_a_directory_recursively(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    one = scenario(tmp_path / "a", "one")
    two = scenario(tmp_path / "a" / "b", "two")
    (tmp_path / "a" / "notes.txt").write_text("not a scenario")
    res = cli("check", tmp_path / "a")
    assert res.exit_code == 0, res.output
    # in sorted path order: a/b/two.yaml before a/one.yaml
    assert res.stdout.splitlines() == [f"{two}: ok", f"{one}: ok",
                                       "checked 2 files: 2 ok, 0 invalid"]


def test_check_the_shipped_scenarios_directory(cli: Any) -> None:
    res = cli("check", SCENARIOS)
    assert res.exit_code == 0, res.output
    n = len([f for f in SCENARIOS.rglob("*.yaml")])
    assert res.stdout.splitlines()[-1] == f"checked {n} files: {n} ok, 0 invalid"


def test_check_a_directory_with_an_invalid_file_exits_2(cli: Any, tmp_path: Path) -> None:
    scenario(tmp_path, "fine")
    bad = scenario(tmp_path, "typo", expect="counts: [{type: order_submitted, sid: BUY, max: 1}]")
    res = cli("check", tmp_path)
    assert res.exit_code == 2, res.output
    assert f"{bad}: expect.counts[0].sid: not a field of order_submitted events" in res.stderr
    assert "checked 2 files: 1 ok, 1 invalid" in res.stdout


def test_check_an_empty_directory_is_an_error(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    res = cli("check", tmp_path / "empty")
    assert res.exit_code == 2
    assert "no scenario files" in res.stderr


def test_unknown_event_type_in_counts_is_refused_by_check(cli: Any, tmp_path: Path) -> None:
    bad = scenario(tmp_path, "typo", expect="counts: [{type: exit_trigered, max: 1}]")
    res = cli("check", bad)
    assert res.exit_code == 2
    assert f"{bad}: expect.counts[0].type: unknown event type 'exit_trigered'" in res.stderr


# ------------------------------------------------------------------ messages


def test_a_percentage_is_quoted_as_written(cli: Any, tmp_path: Path) -> None:
    bad = scenario(tmp_path, "pct", extra='config: {exits: {stop_loss: "3%%"}}\n')
    res = cli("check", bad)
    assert res.exit_code == 2
    assert f"{bad}: config.exits.stop_loss: cannot parse '3%%'" in res.stderr


def test_an_unknown_strategy_kind_lists_the_valid_ones(cli: Any, tmp_path: Path) -> None:
    bad = scenario(tmp_path, "kind", extra="config: {strategies: {ACME: {kind: ma_crossover}}}\n")
    res = cli("check", bad)
    assert res.exit_code == 2
    assert (f"{bad}: config.strategies.ACME.kind: unknown strategy 'ma_crossover' "
            "(built-in: ema_cross, ma_cross, zscore_reversion; or") in res.stderr


def test_an_instrument_without_a_market_entry_warns_on_stderr(cli: Any, tmp_path: Path) -> None:
    text = GOOD.format(name="nomarket", expect="max_position: {ACME: 1000}").replace(
        'instruments: [{symbol: ACME, tick_size: "0.01"}]',
        'instruments: [{symbol: ACME, tick_size: "0.01"}, {symbol: ZZZ, tick_size: "0.01"}]')
    f = tmp_path / "nomarket.yaml"
    f.write_text(text)
    res = cli("check", f)
    assert res.exit_code == 0, res.output
    assert res.stdout == f"{f}: ok\n"
    assert f"{f}: market.ZZZ: warning: instrument 'ZZZ' has no market: entry" in res.stderr
    res = cli("run", "-q", f)
    assert res.exit_code == 0, res.output
    assert "market.ZZZ: warning" in res.stderr and "warning" not in res.stdout


def test_failure_lines_print_durations(cli: Any, tmp_path: Path) -> None:
    f = scenario(tmp_path, "dur", expect="no_events: [{type: order_submitted, role: ENTRY}]")
    res = cli("run", "-q", f)
    assert res.exit_code == 1, res.output
    fail = next(line for line in res.stdout.splitlines() if "FAIL" in line)
    assert "first at 1s" in fail, fail
    assert "ts_ns" not in res.stdout


# ------------------------------------------------------------------ run, several files


def test_run_several_files_one_summary_each_and_a_total(cli: Any, tmp_path: Path) -> None:
    ok = scenario(tmp_path, "passes")
    bad = scenario(tmp_path, "fails", expect="final_position: {ACME: 0}")
    res = cli("run", ok, bad)
    assert res.exit_code == 1, res.output  # the worst of 0 and 1
    lines = res.stdout.splitlines()
    assert lines[-1] == f"total: 2 runs, 1 OK, 1 FAILED ({bad})"
    assert sum(line.startswith("digest: sha256:") for line in lines) == 2
    assert sum(line.startswith("scenario: ") for line in lines) == 2
    assert (tmp_path / "runs" / "passes-seed3.jsonl").exists()
    assert (tmp_path / "runs" / "fails-seed3.jsonl").exists()
    # each summary's digest is the digest of that file run alone
    alone = cli("run", ok)
    assert f"digest: {last_digest(alone.stdout)}" in lines


def test_run_several_files_one_invalid_runs_nothing(cli: Any, tmp_path: Path) -> None:
    ok = scenario(tmp_path, "passes")
    res = cli("run", ok, TESTS / "malformed" / "unknown_matcher_field.yaml")
    assert res.exit_code == 2
    assert "expect.no_events[0].symbl" in res.stderr
    assert "digest:" not in res.stdout and not (tmp_path / "runs").exists()


def test_run_several_files_refuses_one_journal_for_all(cli: Any, tmp_path: Path) -> None:
    ok = scenario(tmp_path, "passes")
    res = cli("run", ok, ok, "--journal", tmp_path / "j.jsonl")
    assert res.exit_code == 2 and "--journal names one file" in res.output


def test_two_files_with_the_same_name_get_two_journals(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    a = scenario(tmp_path, "same")
    b = scenario(tmp_path / "x", "same", expect="final_position: {ACME: 0}")
    res = cli("run", "-q", a, b)
    assert res.exit_code == 1
    assert "journal: runs/same-seed3.jsonl" in res.stdout
    assert "journal: runs/same-seed3-2.jsonl" in res.stdout


# ------------------------------------------------------------------ journals are never lost


def test_an_existing_journal_is_never_overwritten(cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "mine.jsonl"
    target.write_text("precious\n")
    res = cli("run", "-q", "--journal", target)
    assert res.exit_code == 2, res.output
    assert f"{target}: a journal is already there" in res.stderr
    assert "--overwrite" in res.stderr
    assert target.read_text() == "precious\n"
    res = cli("run", "-q", "--journal", target, "--overwrite")
    assert res.exit_code == 0, res.output
    assert json.loads(target.read_text().splitlines()[0])["type"] == "header"


def test_the_quickstart_runs_twice_in_a_row(cli: Any, tmp_path: Path) -> None:
    """The default journal is the deterministic output of (file, seed): a re-run
    writes the same bytes again, so it is replaced."""
    first, second = cli("run", "-q"), cli("run", "-q")
    assert (first.exit_code, second.exit_code) == (0, 0), second.output
    assert last_digest(first.stdout) == last_digest(second.stdout)
