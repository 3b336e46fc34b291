"""The report as one self-contained HTML file: tables, then Plotly charts, no network.

Plotly's JavaScript is inlined once (``include_plotlyjs=True``), so the file opens
offline, from an e-mail attachment or a CI artifact, exactly as it was written. Charts:
per symbol, the price (candles when the journal has bars, else a step line through the
marks) with entries, exits, exit triggers, stop levels, gaps and kill switches marked,
and the position below it; for the portfolio, equity (P&L net of fees, marked to
market) and drawdown. Floats appear only here, as plotting coordinates; every number
in the tables is the exact ``Decimal`` of the computation.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any

from ..kernel.units import NS_PER_S
from .metrics import Metrics
from .timelines import Kind

if TYPE_CHECKING:  # pragma: no cover
    from . import Report

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1200px;color:#1f2328;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:
1px solid #d0d7de;padding-bottom:4px}
.sub{color:#59636e;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f6f8fa}td.l,th.l{text-align:left}
.neg{color:#cf222e}.pos{color:#1a7f37}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;min-width:120px}
.card .k{font-size:12px;color:#59636e}.card .v{font-size:18px;font-weight:600}
.scroll{max-height:380px;overflow:auto;display:inline-block;border-bottom:1px solid #d0d7de}
.scroll th{position:sticky;top:0}
.notes{font-size:12px;color:#59636e}.warn{color:#9a6700;font-weight:600}
"""


def _dur(ns: int | None) -> str:
    if ns is None:
        return "-"
    s = ns / NS_PER_S
    if s < 120:
        return f"{s:.3g} s" if s < 10 else f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _money(d: Decimal | None) -> str:
    if d is None:
        return "-"
    cls = "neg" if d < 0 else ("pos" if d > 0 else "")
    return f'<span class="{cls}">{escape(format(d, "f"))}</span>'


def _plain(d: Decimal) -> str:
    return escape(format(d, "f"))


def _pct(d: Decimal | None, scale: int = 1) -> str:
    """For reading: two decimals at most (the JSON keeps the exact figure)."""
    if d is None:
        return "-"
    text = format((d * scale).quantize(Decimal("0.01")), "f").rstrip("0").rstrip(".")
    return f"{text} %"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


class _Clock:
    """Journal time for people and for plot axes (wall clock when the journal has one)."""

    def __init__(self, report: "Report") -> None:
        self.origin = report.time_origin_ns
        self.wall = self.origin != 0 or report.live

    def label(self, ts: int) -> str:
        if self.wall:
            return datetime.fromtimestamp((ts + self.origin) / NS_PER_S, timezone.utc) \
                .strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        return f"t+{ts / NS_PER_S:.3f}s"

    def x(self, ts: int) -> Any:
        if self.wall:
            return datetime.fromtimestamp((ts + self.origin) / NS_PER_S, timezone.utc) \
                .strftime("%Y-%m-%dT%H:%M:%S.%f")
        return ts / NS_PER_S

    @property
    def axis_title(self) -> str:
        return "time (UTC)" if self.wall else "virtual time since t=0 (s)"


def _metrics_table(total: Metrics, per: dict[str, Metrics]) -> str:
    cols = [("", None), ("trades", None), ("wins", None), ("losses", None),
            ("win rate", None), ("gross P&L", None), ("fees", None), ("net P&L", None),
            ("open P&L", None), ("max DD", None), ("max DD %", None), ("Sharpe", None),
            ("Sortino", None), ("profit factor", None), ("avg hold", None),
            ("in market", None)]
    head = "".join(f'<th class="{"l" if not c else ""}">{c}</th>' for c, _ in cols)

    def row(name: str, m: Metrics) -> str:
        cells = [name, str(m.trades), str(m.wins), str(m.losses), _pct(m.win_rate, 100),
                 _money(m.gross_pnl), _plain(m.fees),
                 _money(m.net_pnl), _money(m.open_pnl) if m.open_trades else "-",
                 _money(-m.max_drawdown.money if m.max_drawdown.money else Decimal(0)),
                 _pct(m.max_drawdown.pct), _ratio(m.sharpe), _ratio(m.sortino),
                 "-" if m.profit_factor is None else (format(m.profit_factor, "f")),
                 _dur(m.avg_holding_ns), _pct(m.time_in_market_pct)]
        return "<tr>" + "".join(f'<td class="{"l" if i == 0 else ""}">{c}</td>'
                                for i, c in enumerate(cells)) + "</tr>"

    body = [row("<b>total</b>", total)] + [row(escape(s), m) for s, m in per.items()]
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _trades_table(report: "Report", clock: _Clock) -> str:
    if not report.trades:
        return "<p>No trades.</p>"
    head = ("<tr><th>#</th><th class=l>symbol</th><th class=l>side</th><th>entry</th>"
            "<th>entry price</th><th>exit</th><th>exit price</th><th>size</th>"
            "<th class=l>exit reason</th><th>gross P&amp;L</th><th>fees</th>"
            "<th>net P&amp;L</th><th>held</th></tr>")
    rows = []
    for i, t in enumerate(report.trades, 1):
        exit_ = "open" if t.is_open else clock.label(t.exit_ns or 0)
        reason = "(open, marked at " + format(t.mark, "f") + ")" if t.is_open and t.mark \
            is not None else (t.exit_reason or "-")
        rows.append(
            f"<tr><td>{i}</td><td class=l>{escape(t.symbol)}</td><td class=l>{t.side.value}</td>"
            f"<td>{clock.label(t.entry_ns)}</td><td>{t.entry_price}</td><td>{exit_}</td>"
            f"<td>{t.exit_price if t.exit_price is not None else '-'}</td><td>{t.size}</td>"
            f"<td class=l>{escape(reason)}</td><td>{_money(t.gross_pnl)}</td>"
            f"<td>{_plain(t.fees)}</td><td>{_money(t.net_pnl)}</td>"
            f"<td>{_dur(t.holding_ns)}</td></tr>")
    return f'<div class="scroll"><table>{head}{"".join(rows)}</table></div>'


def _timeline_table(report: "Report", clock: _Clock) -> str:
    rows = report.timeline
    if not rows:
        return "<p>No kill switch, refusal, disconnect, stale feed or invariant violation.</p>"
    out = ['<div class="scroll"><table><tr><th>time</th><th class=l>kind</th>'
           "<th class=l>event</th><th class=l>symbol</th><th class=l>what</th></tr>"]
    for r in rows:
        cls = ' class="warn"' if r.kind in (Kind.KILL_SWITCH, Kind.INVARIANT) else ""
        out.append(f"<tr{cls}><td>{clock.label(r.ts_ns)}</td><td class=l>{r.kind.value}</td>"
                   f"<td class=l>{r.event}</td><td class=l>{escape(r.symbol or '-')}</td>"
                   f"<td class=l>{escape(r.what)}</td></tr>")
    out.append("</table></div>")
    return "".join(out)


def _symbol_figure(report: "Report", sym: str, clock: _Clock) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    p = report.path.symbols[sym]
    mine = report.events_of(sym)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28],
                        vertical_spacing=0.06, subplot_titles=(f"{sym}: price", "position"))
    if p.bars:
        fig.add_trace(go.Candlestick(
            x=[clock.x(b.ts_ns) for b in p.bars], open=[float(b.open) for b in p.bars],
            high=[float(b.high) for b in p.bars], low=[float(b.low) for b in p.bars],
            close=[float(b.close) for b in p.bars], name="bars"), row=1, col=1)
        # candles too thin to see on a long run (or flat ones) still leave this line
        fig.add_trace(go.Scatter(x=[clock.x(b.ts_ns) for b in p.bars],
                                 y=[float(b.close) for b in p.bars], mode="lines",
                                 name="close", line={"color": "#8c959f", "width": 1}),
                      row=1, col=1)
    else:
        fig.add_trace(go.Scatter(x=[clock.x(t) for t in p.prices.times],
                                 y=[float(v) for v in p.prices.values], mode="lines+markers",
                                 line_shape="hv", name="price (fills, gaps)",
                                 marker={"size": 4}, line={"color": "#57606a"}), row=1, col=1)
    trig = [e for e in mine if e["type"] == "exit_triggered"]
    if trig:
        ys = []
        for e in trig:
            i = max(0, _index_at(p.prices.times, e["ts_ns"]))
            ys.append(float(p.prices.values[i]) if p.prices.values else 0.0)
        fig.add_trace(go.Scatter(
            x=[clock.x(e["ts_ns"]) for e in trig], y=ys, mode="markers+text",
            name="exit triggered", text=[str(e.get("reason")) for e in trig],
            textposition="top center", marker={"symbol": "x", "size": 11, "color": "#8250df"}),
            row=1, col=1)
    stops = [e for e in mine if e["type"] == "order_submitted" and e.get("role") == "STOP_LOSS"
             and (e.get("stop_price") or e.get("price")) is not None]
    if stops:
        fig.add_trace(go.Scatter(
            x=[clock.x(e["ts_ns"]) for e in stops],
            y=[float(e.get("stop_price") or e["price"]) for e in stops], mode="markers",
            name="stop orders", marker={"symbol": "line-ew-open", "size": 18,
                                        "color": "#bc4c00", "line": {"width": 3}}),
            row=1, col=1)
    fills = [e for e in mine if e["type"] == "fill"]
    for side, colour, symbol in (("BUY", "#1a7f37", "triangle-up"),
                                 ("SELL", "#cf222e", "triangle-down")):
        sel = [e for e in fills if e["side"] == side]
        if sel:
            fig.add_trace(go.Scatter(
                x=[clock.x(e["ts_ns"]) for e in sel], y=[float(e["price"]) for e in sel],
                mode="markers", name=f"{side.lower()} fills",
                marker={"symbol": symbol, "size": 12, "color": colour,
                        "line": {"width": 1, "color": "#1f2328"}},
                text=[f"{e['side']} {e['qty']} @ {e['price']} ({e.get('role')})" for e in sel],
                hoverinfo="text+x"), row=1, col=1)
    gaps = [e for e in mine if e["type"] == "gap_detected"]
    if gaps:
        xs: list[Any] = []
        ys2: list[Any] = []
        for e in gaps:
            xs += [clock.x(e["ts_ns"]), clock.x(e["ts_ns"]), None]
            ys2 += [float(e["from_price"]), float(e["to_price"]), None]
        fig.add_trace(go.Scatter(x=xs, y=ys2, mode="lines+markers", name="gaps",
                                 line={"color": "#d4a72c", "width": 4},
                                 marker={"size": 6}), row=1, col=1)
    _kill_lines(fig, report, clock, p.prices.values, row=1)
    _stale_spans(fig, report, sym, clock)
    fig.add_trace(go.Scatter(x=[clock.x(t) for t in p.position.times],
                             y=[float(v) for v in p.position.values], line_shape="hv",
                             name="position", fill="tozeroy", line={"color": "#0969da"}),
                  row=2, col=1)
    _layout(fig, clock, height=560, span=(report.path.start_ns, report.path.end_ns))
    return fig


def _stale_spans(fig: Any, report: "Report", sym: str, clock: _Clock) -> None:
    """Shade the symbol's stale-feed intervals (feed_stale until feed_resumed or the end)."""
    import plotly.graph_objects as go

    spans: list[tuple[int, int]] = []
    since: int | None = None
    for e in report.events_of(sym):
        if e["type"] == "feed_stale" and since is None:
            since = e["ts_ns"]
        elif e["type"] == "feed_resumed" and since is not None:
            spans.append((since, e["ts_ns"]))
            since = None
    if since is not None:
        spans.append((since, report.path.end_ns))
    for a, b in spans:
        fig.add_vrect(x0=clock.x(a), x1=clock.x(b), row=1, col=1, fillcolor="#d4a72c",
                      opacity=0.15, line_width=0, layer="below")
    if spans:  # shapes have no legend entry: a swatch stands in for them
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="feed stale",
                                 marker={"symbol": "square", "size": 12, "color": "#d4a72c",
                                         "opacity": 0.4}), row=1, col=1)


def _index_at(times: list[int], ts: int) -> int:
    from bisect import bisect_right

    return bisect_right(times, ts) - 1


def _kill_lines(fig: Any, report: "Report", clock: _Clock, values: list[Decimal],
                row: int) -> None:
    import plotly.graph_objects as go

    kills = [e for e in report.events if e["type"] in ("kill_switch", "kill_switch_reset")]
    if not kills or not values:
        return
    lo, hi = float(min(values)), float(max(values))
    pad = (hi - lo) * 0.05 or 1.0
    xs: list[Any] = []
    ys: list[Any] = []
    text: list[str] = []
    for e in kills:
        xs += [clock.x(e["ts_ns"]), clock.x(e["ts_ns"]), None]
        ys += [lo - pad, hi + pad, None]
        label = (f"kill switch: {e.get('reason')} -> {e.get('action')}"
                 if e["type"] == "kill_switch" else f"kill switch reset ({e.get('was')})")
        text += [label, label, ""]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="kill switch",
                             line={"color": "#cf222e", "dash": "dash", "width": 2},
                             text=text, hoverinfo="text+x"), row=row, col=1)
    fig.add_trace(go.Scatter(  # the reason written at the top of each line
        x=xs[1::3], y=ys[1::3], mode="text", text=text[1::3], textposition="bottom right",
        textfont={"color": "#cf222e", "size": 11}, showlegend=False, hoverinfo="skip",
        name="kill switch labels"), row=row, col=1)


def _equity_figure(report: "Report", clock: _Clock) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    eq = report.path.equity
    base = report.cash or Decimal(0)
    peak = base
    dd: list[float] = []
    for v in eq.values:
        peak = max(peak, base + v)
        dd.append(float(base + v - peak))
    # P&L, not cash + P&L: a $5 swing on a 1M account would be lost on an axis of millions
    title = "P&L net of fees, marked to market" + (
        f" (equity minus the starting cash {format(report.cash, 'f')})"
        if report.cash is not None else "")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35],
                        vertical_spacing=0.08, subplot_titles=(title, "drawdown"))
    xs = [clock.x(t) for t in eq.times]
    fig.add_trace(go.Scatter(x=xs, y=[float(v) for v in eq.values], line_shape="hv",
                             name="P&L", line={"color": "#0969da"}), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=dd, line_shape="hv", name="drawdown", fill="tozeroy",
                             line={"color": "#cf222e"}), row=2, col=1)
    fig.update_yaxes(title_text="P&L", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", row=2, col=1)
    _kill_lines(fig, report, clock, list(eq.values) or [Decimal(0)], row=1)
    _layout(fig, clock, height=460, span=(report.path.start_ns, report.path.end_ns))
    return fig


def _layout(fig: Any, clock: _Clock, height: int, span: tuple[int, int]) -> None:
    fig.update_xaxes(range=[clock.x(span[0]), clock.x(span[1])])  # every chart, one span
    fig.update_layout(height=height, margin={"l": 60, "r": 20, "t": 40, "b": 40},
                      template="plotly_white", hovermode="closest",
                      legend={"orientation": "h", "y": -0.12},
                      xaxis_rangeslider_visible=False)
    fig.update_xaxes(title_text=clock.axis_title, row=2, col=1)


def render(report: "Report") -> str:
    """The whole report as one HTML document (Plotly's JS inlined once)."""
    clock = _Clock(report)
    h = report.header
    j = report.as_json()
    kills = j["kill_switches"]
    refused = j["refused_by_reason"]
    m = report.total
    title = escape(str(h.get("scenario") or "journal"))
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
             f"<title>triotrade report: {title}</title><style>{_CSS}</style></head><body>",
             f"<h1>triotrade report: {title}</h1>",
             f'<div class="sub">journal {escape(report.source)} &middot; '
             f'{"live" if j["live"] else "simulated"} &middot; seed {escape(str(h.get("seed")))}'
             f' &middot; {clock.label(report.path.start_ns)} to {clock.label(report.path.end_ns)}'
             f"</div>", '<div class="cards">']
    for k, v in (("net P&L", _money(m.net_pnl)), ("closed trades", str(m.trades)),
                 ("win rate", _pct(m.win_rate, 100)), ("fees", _plain(m.fees)),
                 ("max drawdown", _money(-m.max_drawdown.money)),
                 ("kill switches fired", str(kills["fired"])),
                 ("signals refused", str(j["signals_refused"]))):
        parts.append(f'<div class="card"><div class="k">{k}</div><div class="v">{v}</div></div>')
    parts.append("</div>")
    if m.open_trades:
        parts.append(f'<p class="warn">The run ended with {m.open_trades} open position(s): '
                     f"net P&amp;L {_money(m.open_pnl)}, marked where an exit would fill "
                     "(the bid for a long, the ask for a short; the last price when the "
                     "journal does not say) "
                     "(not in the closed-trade metrics).</p>")
    parts += ["<h2>Metrics</h2>", _metrics_table(report.total, report.per_symbol),
              "<h2>Kill switches, refusals, disconnects, stale feeds, invariants</h2>"]
    if refused:
        parts.append("<p>Refused by reason: " + ", ".join(
            f"{escape(k)} &times; {v}" for k, v in refused.items()) + "</p>")
    parts.append(_timeline_table(report, clock))
    parts += [f"<h2>Trades ({len(report.trades)})</h2>", _trades_table(report, clock)]
    parts.append("<h2>Charts</h2>")
    figures = [_equity_figure(report, clock)] + [
        _symbol_figure(report, s, clock) for s in sorted(report.path.symbols)]
    config = {"displaylogo": False, "responsive": True}
    for i, fig in enumerate(figures):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0), config=config,
                                 div_id=f"chart-{i}"))
    parts.append('<h2>Method</h2><ul class="notes">' + "".join(
        f"<li>{escape(n)}</li>" for n in report.notes) + "</ul></body></html>")
    return "".join(parts)


def write(report: "Report", path: Any) -> None:
    from pathlib import Path

    Path(path).write_text(render(report), encoding="utf-8")
