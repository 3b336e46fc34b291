"""``triotrade run --report`` and ``triotrade report --json`` against the run's own journal.

The trade count and net P&L of the report must match what the journal says by other
means: the number of times ``position_changed`` went from flat to open, and the sum of
``run_finished.realized_pnl`` (no fees in these journals: net equals realized).
"""
from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

from conftest import PYTHON, SCENARIOS, cli_env, run_cli


def _journal_truth(journal: Path) -> tuple[int, Decimal]:
    events = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    opened, flat = 0, {}
    for e in events:
        if e["type"] == "position_changed":
            was = flat.get(e["symbol"], True)
            now = Decimal(e["qty"]) == 0
            if was and not now:
                opened += 1
            flat[e["symbol"]] = now
    (fin,) = [e for e in events if e["type"] == "run_finished"]
    return opened, sum((Decimal(v) for v in fin["realized_pnl"].values()), Decimal(0))


def test_run_report_and_report_json_agree_with_the_journal(tmp_path: Path) -> None:
    journal, html = tmp_path / "gap.jsonl", tmp_path / "r.html"
    run = run_cli(["run", str(SCENARIOS / "incidents" / "gap_through_stop.yaml"),
                   "--journal", str(journal), "--report", str(html)], cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1].startswith("digest: sha256:")  # still the last line
    assert f"report: {html}" in run.stderr
    page = html.read_text()
    assert "<script src=" not in page and "Plotly.newPlot" in page  # plotly.js is inlined
    assert page.count('class="plotly-graph-div"') == 2  # equity + the one symbol

    rep = run_cli(["report", str(journal), "--json"], cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    out = json.loads(rep.stdout)
    trades, realized = _journal_truth(journal)
    assert trades == 1 and realized == Decimal("-852.00")
    assert out["total"]["trades"] == trades
    assert Decimal(out["total"]["net_pnl"]) == realized
    assert out["total"]["fees"] == "0"
    (t,) = out["trades"]
    assert (t["entry_price"], t["exit_price"], t["exit_reason"]) == ("100.01", "91.49",
                                                                     "stop_loss")


def test_report_json_shows_the_stale_kill_switch_and_refusal(tmp_path: Path) -> None:
    journal = tmp_path / "stale.jsonl"
    run = run_cli(["run", str(SCENARIOS / "incidents" / "stale_feed_resume.yaml"),
                   "--journal", str(journal), "-q"], cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run_cli(["report", str(journal), "--json"], cwd=tmp_path).stdout)
    assert out["kill_switches"] == {"fired": 1, "reset": 1}
    assert out["refused_by_reason"] == {"signal: kill switch: stale_data": 1}
    assert out["total"]["open_trades"] == 1  # the run ends holding QUIET


def test_bad_journal_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type":"fill","ts_ns":1}\n')
    proc = run_cli(["report", str(bad), "--json"], cwd=tmp_path)
    assert proc.returncode == 2
    assert "bad.jsonl: line 1: the first line is a 'fill' event" in proc.stderr


def test_without_the_report_extra_the_message_names_it(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    journal.write_text('{"type":"header","format":1}\n')
    # plotly made unimportable, as in an install without the extra
    code = ("import sys; sys.modules['plotly'] = None; sys.argv = ['triotrade', 'report', "
            f"{str(journal)!r}]; from triotrade.cli import main; main()")
    proc = subprocess.run([PYTHON, "-c", code], cwd=tmp_path, env=cli_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'triotrade[report]'" in proc.stderr
    assert not (tmp_path / "j.html").exists()


def test_the_report_and_the_run_summary_agree_on_an_open_position(tmp_path: Path) -> None:
    journal, html = tmp_path / "stale.jsonl", tmp_path / "r.html"
    run = run_cli(["run", str(SCENARIOS / "incidents" / "stale_feed_resume.yaml"),
                   "--journal", str(journal), "--report", str(html)], cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    # the summary marks the long where an exit would fill: the bid
    assert "marked at 39.95, unrealized -1.00" in run.stdout
    assert "signals refused: 1  (kill switch: stale_data 1)" in run.stdout
    out = json.loads(run_cli(["report", str(journal), "--json"], cwd=tmp_path).stdout)
    (t,) = out["trades"]
    assert Decimal(t["net_pnl"]) == Decimal("-1.00")
    assert Decimal(out["total"]["open_pnl"]) == Decimal("-1.00")
    assert out["signals_refused"] == 1
    page = html.read_text()
    assert '<div class="k">signals refused</div><div class="v">1</div>' in page
    assert '<div class="k">closed trades</div><div class="v">0</div>' in page
    assert "<h2>Trades (1)</h2>" in page
    # the equity chart plots P&L, so a few dollars show on a 1M account
    assert "P&L net of fees, marked to market (equity minus the starting cash 1000000.00)" in page
    assert "Sharpe and Sortino are not shown (-): the run spans 240 s" in page
