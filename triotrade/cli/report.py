"""``triotrade report JOURNAL``: the trader's report of any journal, sim or live.

Kept apart from the package's ``__init__`` (which registers it, and whose ``run
--report`` calls ``write_report`` here) so that the report's dependencies, polars and
plotly in the ``report`` extra, are imported only when a report is made. Without them
the command says which extra to install and exits 2 before doing anything.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .exits import Exit, exit_for

EXTRA_HINT = "pip install 'triotrade[report]'"


def require_extra() -> None:
    """Exit 2 with the extra to install when plotly or polars is missing."""
    missing = []
    for name in ("plotly", "polars"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        click.echo(f"error: HTML reports need {' and '.join(missing)} (the 'report' extra): "
                   f"{EXTRA_HINT}", err=True)
        sys.exit(Exit.INVALID_INPUT)


def _build(journal: Path) -> Any:
    from .. import report as report_mod

    try:
        return report_mod.build(journal)
    except Exception as exc:
        mapped = exit_for(exc)
        if mapped is None:
            raise
        code, lines = mapped
        for line in lines:
            click.echo(line, err=True)
        sys.exit(code)


def write_report(journal: Path, out: Path) -> Any:
    """Build the report of ``journal`` and write its HTML to ``out``; the Report."""
    from ..report import html

    rep = _build(journal)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        html.write(rep, out)
    except OSError as exc:
        click.echo(f"{out}: cannot write the report: {exc.strerror or exc}", err=True)
        sys.exit(Exit.INVALID_INPUT)
    return rep


def summary_line(rep: Any) -> str:
    m = rep.total
    return (f"{m.trades} closed trade(s), net P&L {format(m.net_pnl, 'f')} "
            f"(fees {format(m.fees, 'f')}), max drawdown {format(m.max_drawdown.money, 'f')}"
            + (f", {m.open_trades} open" if m.open_trades else ""))


@click.command()
@click.argument("journal", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Where to write the HTML report (default: JOURNAL with "
              ".html, unless --json is given alone).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the metrics (total, per symbol), trades and timelines as JSON on "
              "stdout; money as decimal strings.")
def report(journal: Path, output: Path | None, as_json: bool) -> None:
    """Report on JOURNAL: trades, metrics net of fees, timelines, charts.

    \b
    The HTML file is self-contained (Plotly's JavaScript inlined) and opens offline.
    Works on any journal, simulated or live.
    \b
    Examples:
      triotrade report runs/gap-through-stop-seed42.jsonl          # -> ...seed42.html
      triotrade report J.jsonl -o report.html
      triotrade report J.jsonl --json | jq .total.net_pnl

    Exit status: 0 written, 2 the journal is unreadable or the 'report' extra is missing.
    """
    if output is None and not as_json:
        output = journal.with_suffix(".html")
    if output is not None:
        require_extra()
        rep = write_report(journal, output)
    else:
        rep = _build(journal)
    if as_json:
        click.echo(json.dumps(rep.as_json(), indent=2, sort_keys=False))
        if output is not None:
            click.echo(f"report: {output}", err=True)
    else:
        click.echo(f"{journal}: {summary_line(rep)}")
        click.echo(f"report: {output}")
    sys.exit(Exit.OK)


def register(main: Any) -> None:
    main.add_command(report)
