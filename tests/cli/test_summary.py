"""The run summary tells what happened: P&L per ticker and in total, kill switches,
refused signals, an open position; PASS/FAIL coloured only on a terminal; a progress
bar that appears only on a terminal and leaves the run's journal untouched."""
from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from conftest import REPO, last_digest, run_cli
from triotrade.cli.progress import RunProgress
from triotrade.cli.summary import pnl_rows, print_result
from triotrade.sim import runner, scenario

STALE = REPO / "scenarios" / "incidents" / "stale_feed_resume.yaml"
RECORDED = json.loads((REPO / "tests" / "scenarios" / "recorded_digests.json").read_text())


def test_the_summary_shows_the_stale_feed_kill_switch_and_the_refused_signal(
        tmp_path: Path) -> None:
    proc = run_cli(["run", str(STALE), "--journal", str(tmp_path / "j.jsonl")], cwd=tmp_path)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "kill switches fired: 1  (49s stale_data (stop_new_trades)), reset: 1" in out
    assert "signals refused: 1  (kill switch: stale_data 1)" in out
    assert "WARNING: the run ended with an open position: QUIET 100 (marked at 39.95, " \
           "unrealized -1.00)" in out
    assert "portfolio" in out and "unrealized" in out and "fees" in out
    assert "\x1b[" not in out  # piped: no colour codes
    assert "simulating" not in out and "ticks/s" not in out  # and no progress bar
    assert last_digest(out) == RECORDED["scenarios/incidents/stale_feed_resume.yaml"]


def test_pass_and_fail_are_coloured_on_a_terminal() -> None:
    result = runner.run(scenario.load(STALE))
    buf = io.StringIO()
    print_result(result, False, Console(file=buf, force_terminal=True, color_system="standard",
                                        width=140, markup=False))
    text = buf.getvalue()
    assert "\x1b[1;32mPASS\x1b[0m" in text and "\x1b[1;32mOK\x1b[0m" in text


def test_the_portfolio_row_adds_up_the_tickers() -> None:
    row = {"trades": "2", "position": "0", "max_position": "100", "max_exposure": "100",
           "exits": {}}
    summary = {
        "AAA": {**row, "realized_pnl": "-12.50", "fees": "2.50", "unrealized_pnl": "0.00",
                "net_pnl": "-12.50"},
        "BBB": {**row, "trades": "1", "realized_pnl": "30.25", "fees": "1.00",
                "unrealized_pnl": "-4.125", "net_pnl": "26.125"},
    }
    _, total = pnl_rows(summary)
    assert total[:6] == ["portfolio", "3", "17.75", "3.50", "-4.125", "13.625"]


def test_progress_reports_over_virtual_time_and_leaves_the_digest_alone() -> None:
    seen: list[tuple[int, int]] = []
    result = runner.run(scenario.load(STALE), progress=lambda now, ticks: seen.append((now, ticks)))
    assert result.digest == RECORDED["scenarios/incidents/stale_feed_resume.yaml"]
    assert len(seen) == 200 and seen == sorted(seen)
    assert seen[-1][0] == result.scenario.duration and 0 < seen[-1][1] <= result.ticks


def test_the_progress_bar_shows_on_a_terminal_only() -> None:
    for terminal in (True, False):
        buf = io.StringIO()
        bar = RunProgress(Console(file=buf, force_terminal=terminal, width=100), 240 * 10**9, delay_s=0)
        try:  # inside the harness, which refuses threads: the bar must not start one
            runner.run(scenario.load(STALE), progress=bar)
        finally:
            bar.close()
        assert bar.shown is terminal
        assert ("ticks/s" in buf.getvalue()) is terminal
