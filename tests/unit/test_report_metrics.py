"""Report metrics against a journal whose trades and equity path are worked out by hand.

The journal (tests/support/hand_journal.py, with the arithmetic beside each event) has
three trades: a long in A with a partial exit, closed by a flip into a short (the flip's
fee shared 6/16 : 10/16), the short closed at a profit, and a long in B whose entry fill
carries no ``fee`` (it costs 0). Bars mark the equity between fills. If the trade grouping, the fee split, the
marking or any metric drifts, an exact Decimal comparison here fails.
"""
from __future__ import annotations

import json
import math
import statistics
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from hand_journal import PNL_BY_SECOND, S, bar, fill, write_journal
from triotrade import report
from triotrade.report import metrics
from triotrade.report.equity import Marking, Series

D = Decimal


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return write_journal(tmp_path / "hand.jsonl", cash="10000")


def test_trades_flat_to_flat_with_a_flip_and_a_partial_exit(journal: Path) -> None:
    rep = report.build(journal)
    rows = [(t.symbol, t.side.value, t.entry_ns // S, t.exit_ns // S, t.entry_price,
             t.exit_price, t.size, t.exit_reason, t.gross_pnl, t.fees, t.net_pnl)
            for t in rep.trades if t.exit_ns is not None]
    assert rows == [
        # 10 @ 100 in; 4 @ 103 + 6 @ 97 out = 994: gross -6; fees 1 + 0.40 + 6/16 of 1.60
        ("A", "LONG", 1, 5, D("100.00"), D("99.40"), D(10), "stop_loss",
         D("-6.00"), D("2.00"), D("-8.00")),
        # the flip's other 10 short @ 97 (fee 1.00), bought back @ 94 (fee 1.00)
        ("A", "SHORT", 5, 7, D("97.00"), D("94.00"), D(10), "take_profit",
         D("30.00"), D("2.00"), D("28.00")),
        # no exit_triggered: the closing order's role names the exit
        ("B", "LONG", 8, 10, D("50.00"), D("47.00"), D(5), "exit",
         D("-15.00"), D("0.50"), D("-15.50")),
    ]
    assert not any(t.is_open for t in rep.trades)


def test_metrics_exact(journal: Path) -> None:
    rep = report.build(journal)
    m = rep.total
    assert (m.trades, m.wins, m.losses) == (3, 1, 2)
    assert m.win_rate == D("0.3333")
    assert (m.gross_pnl, m.fees, m.net_pnl) == (D("9.00"), D("4.50"), D("4.50"))
    assert m.profit_factor == (D("28.00") / D("23.50")).quantize(D("0.0001"))  # 1.1915
    # peak 10028.60 at t=3s, trough 9991.00 at t=5s (the flip's mark)
    assert m.max_drawdown.money == D("37.60")
    assert m.max_drawdown.pct == (D("3760") / D("10028.60")).quantize(D("0.0001"))
    assert (m.max_drawdown.peak_ns, m.max_drawdown.trough_ns) == (3 * S, 5 * S)
    assert m.avg_holding_ns == (4 + 2 + 2) * S // 3
    assert m.time_in_market_ns == 8 * S  # A 1s..7s, B 8s..10s
    assert m.time_in_market_pct == D("66.6667")
    assert rep.path.marking is Marking.BARS and rep.path.bar_interval_ns == S

    a, b = rep.per_symbol["A"], rep.per_symbol["B"]
    assert (a.trades, a.net_pnl, a.max_drawdown.money) == (2, D("20.00"), D("37.60"))
    assert (b.trades, b.net_pnl, b.fees, b.max_drawdown.money) == (1, D("-15.50"), D("0.50"),
                                                                    D("15.50"))
    assert b.profit_factor == D(0) and a.profit_factor == (D(28) / D(8)).quantize(D("0.0001"))


def test_sharpe_and_sortino_on_per_second_returns(journal: Path) -> None:
    rep = report.build(journal)
    p = rep.path
    returns, step = metrics.interval_returns(p.equity, p.start_ns, p.end_ns,
                                             p.bar_interval_ns, rep.cash)
    sharpe, sortino = metrics.sharpe_sortino(returns, step)
    equity = [D("10000") + D(v) for v in PNL_BY_SECOND]
    r = [float((b - a) / a) for a, b in zip(equity, equity[1:])]
    assert returns == pytest.approx(r) and step == S
    annual = math.sqrt(252 * 6.5 * 3600)
    assert sharpe == pytest.approx(statistics.mean(r) / statistics.stdev(r) * annual)
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / len(r))
    assert sortino == pytest.approx(statistics.mean(r) / downside * annual)


def test_sharpe_and_sortino_are_not_shown_for_a_short_run(journal: Path) -> None:
    rep = report.build(journal)  # seconds of data: annualising it would mean nothing
    assert rep.total.return_intervals == len(PNL_BY_SECOND) - 1
    assert (rep.total.sharpe, rep.total.sortino) == (None, None)
    assert all(m.sharpe is None for m in rep.per_symbol.values())
    j = rep.as_json()
    assert j["total"]["sharpe"] is None and j["total"]["sortino"] is None
    assert any(n.startswith("Sharpe and Sortino are not shown (-): the run spans ")
               and "at least 30 intervals and a trading day (6.5 h)" in n for n in rep.notes)


def test_sharpe_and_sortino_are_shown_over_a_day_of_intervals() -> None:
    hour = 3600 * S
    curve = Series()
    for i in range(8 * 6 + 1):  # 8 h of 10-minute marks, wobbling upwards
        curve.put(i * hour // 6, D(10 * i + (7 if i % 3 else -5)))
    kw = dict(in_market_ns=0, start_ns=0, end_ns=8 * hour, cash=D("10000"))
    m = metrics.compute([], curve, interval_ns=hour // 6, **kw)  # type: ignore[arg-type]
    assert m.return_intervals == 48 and m.sharpe is not None and m.sortino is not None
    short = metrics.compute([], curve, interval_ns=hour, **kw)  # type: ignore[arg-type]
    assert short.return_intervals == 8 and short.sharpe is None  # a day, but 8 intervals
    kw["end_ns"] = 6 * hour  # 36 intervals, under a trading day
    assert metrics.compute([], curve, interval_ns=hour // 6, **kw).sharpe is None  # type: ignore[arg-type]


def test_without_cash_drawdown_is_money_only(tmp_path: Path) -> None:
    rep = report.build(write_journal(tmp_path / "nocash.jsonl", cash=None))
    assert rep.total.max_drawdown.money == D("37.60")  # from a starting P&L of 0
    assert rep.total.max_drawdown.pct is None
    assert any("no account_cash" in n for n in rep.notes)


def test_timelines(journal: Path) -> None:
    j = report.build(journal).as_json()
    assert j["kill_switches"] == {"fired": 1, "reset": 0}
    assert j["refused_by_reason"] == {"signal: kill switch: daily_loss_limit": 1}


def test_open_trade_is_marked_and_kept_apart(tmp_path: Path) -> None:
    path = tmp_path / "open.jsonl"
    write_journal(path, cash=None)
    with path.open("a", encoding="utf-8") as f:  # after run_finished is fine for the reader
        for e in (fill(13, "C", "SELL", 3, "10.00", "0.30", "ENTRY"), bar(14, "C", "9.00")):
            f.write(json.dumps(e, sort_keys=True) + "\n")
    rep = report.build(path)
    (open_trade,) = [t for t in rep.trades if t.is_open]
    assert open_trade.mark == D("9.00")
    assert open_trade.net_pnl == D("2.70")  # short 3 from 10 to 9, less 0.30
    assert rep.total.trades == 3 and rep.total.open_trades == 1
    assert rep.total.open_pnl == D("2.70") and rep.total.net_pnl == D("4.50")


def test_cli_json_agrees_with_the_hand_computation(journal: Path) -> None:
    proc = run_cli(["report", str(journal), "--json"], cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    total = out["total"]
    assert (total["trades"], total["wins"], total["losses"]) == (3, 1, 2)
    assert (total["net_pnl"], total["fees"], total["gross_pnl"]) == ("4.50", "4.50", "9.00")
    assert (total["max_drawdown"], total["win_rate"], total["profit_factor"]) == (
        "37.60", "0.3333", "1.1915")
    assert out["per_symbol"]["B"]["net_pnl"] == "-15.50"
    assert [t["exit_reason"] for t in out["trades"]] == ["stop_loss", "take_profit", "exit"]


def test_a_live_journal_gives_the_same_report(tmp_path: Path) -> None:
    """Live journals carry Unix nanoseconds and a live header; the report is the same."""
    sim = write_journal(tmp_path / "sim.jsonl", cash="10000")
    t0 = 1_763_650_000 * S  # 2025-11-20, Unix time
    lines = sim.read_text().splitlines()
    head = {"type": "header", "format": 1, "scenario": "live:ibkr", "seed": 0, "live": True,
            "start_unix_ns": t0, "venue": "ibkr", "account_cash": "10000"}
    events = []
    for line in lines[1:]:
        e = json.loads(line)
        e["ts_ns"] += t0
        events.append(json.dumps(e, sort_keys=True))
    live = tmp_path / "live.jsonl"
    live.write_text("\n".join([json.dumps(head, sort_keys=True), *events]) + "\n")
    a, b = report.build(sim), report.build(live)
    assert b.live and not a.live
    for key in ("trades", "wins", "losses", "net_pnl", "fees", "profit_factor",
                "max_drawdown", "max_drawdown_pct", "avg_holding_ns", "time_in_market_ns"):
        assert a.total.as_json()[key] == b.total.as_json()[key], key
    assert [t.entry_ns - t0 for t in b.trades] == [t.entry_ns for t in a.trades]
    # a live run spans its events (first at t0+1s), not a virtual horizon from t=0
    assert (b.path.start_ns, b.path.end_ns) == (t0 + S, t0 + 12 * S)
    assert b.total.time_in_market_pct == (D(800) / D(11)).quantize(D("0.0001"))
    from triotrade.report import html

    page = html.render(b)
    assert "2025-11-20 14:46:41.000" in page  # wall-clock times in the tables (t0 + 1 s)
