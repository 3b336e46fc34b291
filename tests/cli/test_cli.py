"""`triotrade run` / `check` as SCENARIO_FORMAT.md specifies: summary, the digest as the
last line, exit 0 / 1 / 2, `--journal`."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import assert_no_traceback, last_digest, parallel, run_cli

FAILING = """\
version: 1
name: expect-fails
seed: 5
duration: 60s
instruments: [{symbol: ACME, tick_size: "0.01"}]
market: {ACME: {spread: "0.02", ticks: [{t: 0s, last: "100.00"}]}}
signals: [{t: 1s, symbol: ACME, side: BUY}]
expect:
  final_position: {ACME: 0}          # fails: nothing exits the long
  events: [{type: gap_detected, symbol: ACME}]   # fails: no gap
  counts: [{type: order_submitted, role: ENTRY, max: 1}]   # holds
"""


def _sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("cli")
    failing = base / "failing.yaml"
    failing.write_text(FAILING)
    jobs = {
        "default": (base / "default", ["run"]),
        "failing": (base / "failing", ["run", str(failing)]),
        "journal": (base / "journal", ["run", "--journal", str(base / "out" / "j.jsonl")]),
    }
    for cwd, _ in jobs.values():
        cwd.mkdir()
    procs = parallel([lambda c=cwd, a=args: run_cli(a, cwd=c) for cwd, args in jobs.values()])
    return {name: (cwd, proc) for (name, (cwd, _)), proc in zip(jobs.items(), procs)} | {
        "base": base, "failing_file": failing}


def test_run_without_file_runs_default_and_exits_0(runs: dict[str, Any]) -> None:
    cwd, proc = runs["default"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    digest = last_digest(proc.stdout)
    assert "default-gap-through-stop" in proc.stdout
    assert "result: OK" in proc.stdout
    assert "FAIL" not in proc.stdout
    # without --journal the journal goes to runs/<scenario>-seed<N>.jsonl, and it is
    # exactly the bytes the digest was computed over
    journal = cwd / "runs" / "default-gap-through-stop-seed42.jsonl"
    assert journal.exists(), sorted(p.name for p in cwd.rglob("*"))
    assert _sha(journal) == digest


def test_failing_expectation_exits_1_and_names_it(runs: dict[str, Any]) -> None:
    _, proc = runs["failing"]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    last_digest(proc.stdout)  # the digest is still the last line
    fails = [line.strip() for line in proc.stdout.splitlines() if line.strip().startswith("FAIL")]
    assert any("final_position ACME == 0" in f and "was 100" in f for f in fails), fails
    assert any("gap_detected" in f for f in fails), fails
    assert len(fails) == 2, fails  # the holding count is not reported as a failure
    assert "result: FAILED: 2 expectation(s), 0 invariant violation(s)" in proc.stdout


def test_journal_option_writes_the_digested_file(runs: dict[str, Any]) -> None:
    cwd, proc = runs["journal"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    journal = runs["base"] / "out" / "j.jsonl"
    assert _sha(journal) == last_digest(proc.stdout)
    lines = journal.read_bytes().splitlines()
    header = json.loads(lines[0])
    assert (header["type"], header["format"], header["seed"], header["scenario"]) == (
        "header", 1, 42, "default-gap-through-stop")
    assert json.loads(lines[-1])["type"] == "run_finished"
    assert not (cwd / "runs").exists()  # --journal replaces the default location
    # same run, same digest as the run without --journal
    assert last_digest(proc.stdout) == last_digest(runs["default"][1].stdout)


def test_quiet_prints_only_failures_and_digest(runs: dict[str, Any], tmp_path: Path) -> None:
    proc = run_cli(["run", "-q", str(runs["failing_file"])], cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[-1].startswith("digest: sha256:")
    assert not any(line.strip().startswith("PASS") for line in lines)
    assert sum(line.strip().startswith("FAIL") for line in lines) == 2
    assert last_digest(proc.stdout) == last_digest(runs["failing"][1].stdout)


def _invoke(args: list[str]) -> Any:
    from click.testing import CliRunner

    from triotrade.cli import main

    return CliRunner().invoke(main, args)


@pytest.mark.parametrize("args,needle", [
    (["--help"], "triotrade"),
    (["run", "--help"], "digest: sha256:<hex>"),
    (["check", "--help"], "Validate scenario FILES"),
])
def test_help(args: list[str], needle: str) -> None:
    res = _invoke(args)
    assert res.exit_code == 0, res.output
    assert needle in res.output
    assert "Usage:" in res.output


def test_run_help_shows_the_log_levels_as_the_readme_writes_them() -> None:
    res = _invoke(["run", "--help"])
    assert "--log-level [DEBUG|INFO|WARNING|ERROR]" in res.output
    assert "DEBUG|INFO|WARNING|ERROR" in (Path(__file__).parents[2] / "README.md").read_text()
    for level in ("DEBUG", "error"):  # either case is accepted
        assert "Invalid value for '--log-level'" not in _invoke(
            ["run", "--log-level", level, "--venue", "nope"]).output


def test_ctl_help_shows_a_journal_name_of_the_current_form() -> None:
    import re

    res = _invoke(["ctl", "--help"])
    [name] = re.findall(r"runs/live-\S+\.jsonl", res.output)
    # as triotrade/cli/journals.py names them: live-<venue>-<UTC time, µs>Z-<pid>
    assert re.fullmatch(r"runs/live-ibkr-\d{8}T\d{6}\.\d{6}Z-\d+\.jsonl", name), name


def test_help_in_a_real_process(tmp_path: Path) -> None:
    proc = run_cli(["--help"], cwd=tmp_path)
    assert proc.returncode == 0
    for cmd in ("run", "check"):
        assert cmd in proc.stdout
    assert_no_traceback(proc)


def test_usage_errors_exit_2_without_traceback(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["run", "--seed", "many"], ["check"], ["frobnicate"],
                 ["run", "--config", "x.yaml"]):
        res = _invoke(args)
        assert res.exit_code == 2, (args, res.output)
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exc_info
    assert not (tmp_path / "runs").exists()
