"""What ``triotrade run`` prints after a simulated run: what happened, at a glance.

A summary that says ``result: OK`` while a kill switch fired and a signal was refused
hides the two things a trader most needs to know. So besides the expectations it shows,
per ticker and for the portfolio, realized P&L (net of fees, as the loss limits see it),
fees, unrealized P&L marked where an exit would fill at the end, and net P&L; how many
kill switches fired and why; the refused signals by reason; and a warning when the run
ends holding a position. PASS and FAIL are coloured on a terminal and plain in a pipe
(rich decides from the stream). The digest stays the last line: scripts read it.
"""
from __future__ import annotations

import sys
from collections import Counter
from decimal import Decimal
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..kernel.units import NS_PER_S

PASS = ("PASS", "bold green")
FAIL = ("FAIL", "bold red")


def make_console() -> Console:
    return Console(highlight=False, soft_wrap=True, markup=False,
                   width=None if sys.stdout.isatty() else 110)


def _secs(ts: int) -> str:
    whole, rest = divmod(ts, NS_PER_S)
    ms = rest // 1_000_000
    return f"{whole}.{ms:03d}s" if ms else f"{whole}s"


def pnl_rows(summary: dict[str, Any]) -> tuple[list[list[str]], list[str]]:
    """The per-ticker rows and the portfolio total row of the P&L table."""
    rows, total = [], dict.fromkeys(("realized_pnl", "fees", "unrealized_pnl", "net_pnl"),
                                    Decimal(0))
    trades = 0
    for sym, row in summary.items():
        exits = ", ".join(f"{k} {v}" for k, v in row["exits"].items()) or "-"
        rows.append([sym, row["trades"], row["realized_pnl"], row["fees"],
                     row["unrealized_pnl"], row["net_pnl"], row["position"],
                     row["max_position"], row["max_exposure"], exits])
        trades += int(row["trades"])
        for key in total:
            total[key] += Decimal(row[key])
    return rows, ["portfolio", str(trades), *(format(v, "f") for v in total.values()),
                  "", "", "", ""]


def kill_switches(events: list[dict[str, Any]]) -> list[str]:
    return [f"{_secs(e['ts_ns'])} {e['reason']} ({e['action']})"
            for e in events if e["type"] == "kill_switch"]


def refused_signals(events: list[dict[str, Any]]) -> Counter[str]:
    return Counter(e["reason"] for e in events if e["type"] == "signal" and not e["accepted"])


def print_result(result: Any, quiet: bool, console: Console | None = None) -> None:
    console = console or make_console()
    scn = result.scenario
    events = result.events
    if not quiet:
        console.print(f"scenario: {scn.name}  ({scn.source})")
        if scn.description:
            console.print(f"  {' '.join(scn.description.split())}")
        console.print(f"seed: {result.seed}   horizon: {scn.duration // NS_PER_S}s   "
                      f"ticks: {result.ticks}   events: {len(events)}")
        table = Table(title="P&L per ticker (realized is net of fees; unrealized marked at "
                      "the end; pos: final position; max exp: max exposure, working entries "
                      "included)", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                      collapse_padding=True)
        cols = ("ticker", "trades", "realized", "fees", "unrealized", "net P&L", "pos",
                "max pos", "max exp", "exits")
        for col in cols:  # a narrow terminal folds a figure onto two lines, never cuts it
            table.add_column(col, justify="left" if col in ("ticker", "exits") else "right",
                             overflow="fold")
        rows, total = pnl_rows(result.summary)
        for i, row in enumerate(rows):
            table.add_row(*row, end_section=i == len(rows) - 1)
        table.add_row(*total, style="bold")
        console.print(table)
        fired = kill_switches(events)
        resets = sum(1 for e in events if e["type"] == "kill_switch_reset")
        console.print(f"kill switches fired: {len(fired)}"
                      + (f"  ({'; '.join(fired)})" if fired else "")
                      + (f", reset: {resets}" if resets else ""))
        refused = refused_signals(events)
        detail = ", ".join(f"{reason} {n}" for reason, n in sorted(refused.items()))
        console.print(f"signals refused: {sum(refused.values())}"
                      + (f"  ({detail})" if detail else ""))
        open_pos = {s: r for s, r in result.summary.items() if r["position"] != "0"}
        for sym, row in open_pos.items():
            console.print(Text(f"WARNING: the run ended with an open position: {sym} "
                               f"{row['position']} (marked at {row['mark']}, unrealized "
                               f"{row['unrealized_pnl']})", style="bold yellow"))
    failed = [c for c in result.checks if not c.ok]
    for c in (failed if quiet else result.checks):
        console.print(Text.assemble("  ", PASS if c.ok else FAIL, f"  {c.name}  ({c.detail})"))
    if result.violations:
        for v in result.violations:
            console.print(Text.assemble("  ", FAIL,
                                        f"  invariant {v['invariant']}: {v['detail']}"))
    elif not quiet:
        console.print(Text.assemble("  ", PASS, "  invariants (exposure cap, single exit, "
                                    "fills known, position == fills, no entry after "
                                    "close_all, liveness)"))
    for sym, stats in getattr(result, "data", {}).items():
        if not quiet or stats.before_start or stats.after_end:
            console.print(f"  data  {sym}: {stats.replayed} row(s) replayed, "
                          f"{stats.before_start} before the start and {stats.after_end} at or "
                          "after the end skipped")
    errors = getattr(result, "strategy_errors", [])
    for sym, text in errors:
        console.print(Text.assemble("  ", FAIL, f"  strategy {sym}: {text}"))
    if result.ok:
        console.print(Text.assemble("result: ", ("OK", "bold green")))
    else:
        console.print(Text.assemble("result: ", ("FAILED", "bold red"),
                                    f": {len(failed)} expectation(s), "
                                    f"{len(result.violations)} invariant violation(s)"
                                    + (f", {len(errors)} strategy error(s)" if errors else "")))
    if result.journal_path:
        console.print(f"journal: {result.journal_path}")
    # the contract: the digest is the last line
    sys.stdout.flush()
    click.echo(f"digest: {result.digest}")
