"""The HTML report opened in a real headless Chromium: it loads clean and its charts draw.

The report must open offline with nothing but the file, so the page is loaded from
disk with every request that would leave the machine recorded (there must be none),
every console error and uncaught exception collected (there must be none), and the
DOM checked for what Plotly draws: one ``.main-svg`` root per chart and the traces the
report put in each figure. A screenshot of the whole page is kept as an artifact (its
path is printed; run pytest with ``-s`` to see it).

Chromium comes from the system packages (Debian/Ubuntu: ``apt-get update && apt-get
install -y chromium``); without a chromium binary these tests skip, saying so.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO, SCENARIOS, run_cli
from hand_journal import write_journal
from headless import dump_dom, find_chromium, load

BROWSER = find_chromium()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    BROWSER is None, reason="no chromium binary on PATH (Debian: apt-get install -y chromium)")]

# per chart: its div id, how many SVG roots Plotly drew in it, and its live trace count
PROBE = """JSON.stringify({
  plots: Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
    id: gd.id, svgs: gd.querySelectorAll('.main-svg').length,
    traces: (gd.data || []).length,
    drawn: gd.querySelectorAll('.scatterlayer .trace, .boxlayer .trace').length,
    names: (gd.data || []).map(t => t.name)})),
  mainSvg: document.querySelectorAll('.main-svg').length,
  title: document.title,
  tables: document.querySelectorAll('table').length})"""


def _report(tmp_path: Path, journal: Path) -> Path:
    out = tmp_path / "report.html"
    proc = run_cli(["report", str(journal), "-o", str(out)], cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return out


async def _open(html: Path, shot: Path) -> dict:
    assert BROWSER is not None
    run = await load(BROWSER, html.as_uri(), PROBE)
    shot.write_bytes(run.screenshot)
    print(f"\nscreenshot: {shot}")
    assert run.errors == [], run.errors
    assert run.remote_requests == [], run.remote_requests
    assert run.screenshot.startswith(b"\x89PNG")
    return json.loads(run.value)


async def test_incident_report_renders_in_chromium(tmp_path: Path) -> None:
    journal = tmp_path / "kill.jsonl"
    proc = run_cli(["run", str(SCENARIOS / "incidents" / "daily_loss_kill_switch.yaml"),
                    "--journal", str(journal), "-q"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = await _open(_report(tmp_path, journal), tmp_path / "daily_loss_kill_switch.png")
    plots = page["plots"]
    # the portfolio's equity/drawdown, then one price/position chart per symbol
    assert [p["id"] for p in plots] == ["chart-0", "chart-1", "chart-2"]
    for p in plots:
        assert p["svgs"] >= 2, p  # Plotly's main and overlay SVG roots exist: it drew
        assert p["drawn"] == p["traces"] > 0, p
    assert {"P&L", "drawdown", "kill switch"} <= set(plots[0]["names"])
    assert {"buy fills", "sell fills", "exit triggered", "kill switch", "position"} <= set(
        plots[1]["names"])
    assert "gaps" in plots[2]["names"]  # BBB gapped
    assert page["title"] == "triotrade report: daily-loss-kill-switch"


async def test_bar_journal_renders_candles(tmp_path: Path) -> None:
    html = _report(tmp_path, write_journal(tmp_path / "hand.jsonl", "10000"))
    page = await _open(html, tmp_path / "hand.png")
    names = [p["names"] for p in page["plots"]]
    assert names[1][0] == "bars" and names[2][0] == "bars"  # candlesticks from bar events
    assert page["mainSvg"] >= 6


def test_dump_dom_shows_the_drawn_charts(tmp_path: Path) -> None:
    assert BROWSER is not None
    html = _report(tmp_path, write_journal(tmp_path / "hand.jsonl", None))
    dom = dump_dom(BROWSER, html.as_uri())
    assert dom.count('class="main-svg"') >= 6
    assert "stop_loss" in dom and "take_profit" in dom  # the trade list's exit reasons


async def test_the_harness_sees_console_errors(tmp_path: Path) -> None:
    """Guard for the guard: a page that logs an error and throws must be caught."""
    assert BROWSER is not None
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('planted');"
                    "setTimeout(() => { throw new Error('boom'); }, 10);</script></body></html>")
    run = await load(BROWSER, page.as_uri(), "1 + 1", settle_s=0.5)
    assert run.value == 2
    assert any("planted" in e for e in run.errors), run.errors
    assert any("boom" in e for e in run.errors), run.errors
