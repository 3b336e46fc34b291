"""The one entry point: ``triotrade run | check`` (and, as they land, serve, fuzz, replay).

Exit codes are part of the contract: 0 every expectation and invariant held, 1 some
failed (each named), 2 the input was invalid and nothing ran. User mistakes get a
message naming the file and key path, never a traceback.
"""
from __future__ import annotations

import re
import sys
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import click

from ..kernel.errors import InputError
from ..kernel.units import NS_PER_S
from .exits import Exit, exit_for

DEFAULT_SCENARIO = "default.yaml"


def _default_scenario_path() -> Path:
    return Path(str(resources.files("triotrade.sim") / "data" / DEFAULT_SCENARIO))


def _load_or_exit(scenario: Path | None) -> Any:
    """Load SCENARIO (the built-in default when None); invalid input exits 2, nothing run."""
    from ..sim import scenario as scenario_mod

    path = scenario if scenario is not None else _default_scenario_path()
    try:
        return scenario_mod.load(path)
    except Exception as exc:  # noqa: BLE001 - exit_for decides; anything else is a bug
        _exit_on(exc)


def _exit_on(exc: BaseException) -> NoReturn:
    """Print what ``exit_for`` says about ``exc`` and exit with its code (a bug: raise)."""
    outcome = exit_for(exc)
    if outcome is None:
        raise exc
    code, lines = outcome
    for line in lines:
        click.echo(line, err=True)
    sys.exit(code)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="triotrade")
def main() -> None:
    """triotrade: the code that trades your money live is the code you tested.

    \b
    Run a scenario in the deterministic simulator:
      triotrade run scenarios/incidents/gap_through_stop.yaml
      triotrade run                      # the built-in default scenario
    Validate scenario files without running them:
      triotrade check scenarios/**/*.yaml
    Hunt invariant breaks with Hypothesis (finds are shrunk into scenario files):
      triotrade fuzz --examples 2000
    """


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", type=int, default=None,
              help="Run seed (default: the scenario's `seed:`). Same seed, same digest.")
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Where to write the JSONL journal "
              "(default: runs/<scenario>-seed<N>.jsonl, live: runs/live-<venue>-<time>.jsonl).")
@click.option("--quiet", "-q", is_flag=True, help="Print only failures and the digest.")
@click.option("--venue", type=click.Choice(["sim", "ibkr", "kite"]), default="sim",
              show_default=True, help="sim runs SCENARIO; ibkr/kite run the same kernel live.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Live runs: instruments + trading config (YAML).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Live runs: broker host.")
@click.option("--port", type=int, default=None,
              help="Live runs: broker port (ibkr default 4002). kite: the port of a Kite "
              "gateway on --host (without it, Zerodha's production endpoints).")
@click.option("--client-id", type=int, default=1, show_default=True, help="ibkr: API client id.")
@click.option("--live", is_flag=True,
              help="Live runs: actually send orders. Without it the kernel only watches.")
@click.option("--resume", "resume_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Live runs: rebuild the day's state from this journal of "
              "an earlier run (default: the latest journal of today in the runs folder).")
@click.option("--fresh", is_flag=True,
              help="Live runs: do not resume from today's journal; start from nothing "
              "(the venue's positions are still adopted).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="After the run, write the HTML report of its journal here "
              "(as `triotrade report JOURNAL -o FILE`).")
def run(scenario: Path | None, seed: int | None, journal_path: Path | None, quiet: bool,
        venue: str, config_path: Path | None, host: str, port: int | None, client_id: int,
        live: bool, resume_path: Path | None, fresh: bool, report_path: Path | None) -> None:
    """Run SCENARIO in the simulator and judge it, or run the kernel live.

    \b
    Simulated: prints a summary and, as its last line, `digest: sha256:<hex>`. Exits
    0 when every expectation and invariant holds, 1 when any fails, 2 when the input
    is invalid (nothing ran). With no SCENARIO, runs the built-in default scenario.
    \b
    Live (--venue ibkr|kite --config FILE): the same kernel against a broker. Orders
    are sent only with --live. Kite credentials come from KITE_API_KEY and
    KITE_ACCESS_TOKEN in the environment, never from the command line. Exits 0 after
    a clean run or Ctrl-C, 2 when the config is invalid, 3 when the broker cannot
    be reached or refuses the credentials.
    """
    if report_path is not None:
        from .report import require_extra

        require_extra()  # before anything runs
    if venue != "sim":
        if report_path is not None and journal_path is None:
            raise click.UsageError("--report with a live run needs --journal")
        if scenario is not None:
            raise click.UsageError("a live run takes --config, not a SCENARIO file")
        if config_path is None:
            raise click.UsageError(f"--venue {venue} needs --config CONFIG.yaml")
        from .live import run_live_cli

        code = run_live_cli(venue, config_path=config_path, host=host, port=port,
                            client_id=client_id, live=live, journal_path=journal_path,
                            resume_path=resume_path, fresh=fresh)
        if report_path is not None and journal_path is not None and journal_path.exists():
            from .report import write_report

            write_report(journal_path, report_path)
            click.echo(f"report: {report_path}", err=True)
        sys.exit(code)
    for flag, value in (("--config", config_path), ("--live", live or None),
                        ("--resume", resume_path), ("--fresh", fresh or None)):
        if value is not None:
            raise click.UsageError(f"{flag} is for live runs (--venue ibkr|kite)")
    from ..sim import runner

    scn = _load_or_exit(scenario)
    seed_used = scn.seed if seed is None else seed
    if journal_path is None:
        journal_path = Path("runs") / f"{_slug(scn.name)}-seed{seed_used}.jsonl"
    try:
        result = runner.run(scn, seed_used, journal_path)
    except OSError as exc:
        _exit_on(InputError(str(journal_path),
                            [("", f"cannot write journal: {exc.strerror or exc}")]))
    _print_result(result, quiet)
    if report_path is not None:  # on stderr: the digest stays stdout's last line
        from .report import write_report

        write_report(journal_path, report_path)
        click.echo(f"report: {report_path}", err=True)
    sys.exit(result.exit_code)


def _print_result(result: Any, quiet: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 110)
    scn = result.scenario
    if not quiet:
        console.print(f"scenario: {scn.name}  ({scn.source})")
        if scn.description:
            console.print(f"  {' '.join(scn.description.split())}")
        console.print(f"seed: {result.seed}   horizon: {scn.duration // NS_PER_S}s   "
                      f"ticks: {result.ticks}   events: {len(result.events)}")
        table = Table(title="per ticker", title_justify="left")
        for col in ("ticker", "trades", "realized P&L", "final pos", "max pos",
                    "max exposure", "exits by reason"):
            table.add_column(col, justify="left" if col in ("ticker", "exits by reason") else "right")
        for sym, row in result.summary.items():
            exits = ", ".join(f"{k} {v}" for k, v in row["exits"].items()) or "-"
            table.add_row(sym, row["trades"], row["realized_pnl"], row["position"],
                          row["max_position"], row["max_exposure"], exits)
        console.print(table)
    failed = [c for c in result.checks if not c.ok]
    if not quiet:
        for c in result.checks:
            console.print(f"  {'PASS' if c.ok else 'FAIL'}  {c.name}  ({c.detail})")
    else:
        for c in failed:
            console.print(f"  FAIL  {c.name}  ({c.detail})")
    if result.violations:
        for v in result.violations:
            console.print(f"  FAIL  invariant {v['invariant']}: {v['detail']}")
    elif not quiet:
        console.print("  PASS  invariants (exposure cap, single exit, fills known, "
                      "position == fills, no entry after close_all, liveness)")
    verdict = "OK" if result.ok else (
        f"FAILED: {len(failed)} expectation(s), {len(result.violations)} invariant violation(s)")
    console.print(f"result: {verdict}")
    if result.journal_path:
        console.print(f"journal: {result.journal_path}")
    # the contract: the digest is the last line
    sys.stdout.flush()
    click.echo(f"digest: {result.digest}")


@main.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Validate scenario FILES without running them (exit 2 if any is invalid)."""
    from ..sim import scenario as scenario_mod

    worst = Exit.OK
    for f in files:
        try:
            scenario_mod.load(f)
        except Exception as exc:  # noqa: BLE001 - exit_for decides; anything else is a bug
            outcome = exit_for(exc)
            if outcome is None:
                raise
            code, lines = outcome
            worst = max(worst, code)
            for line in lines:
                click.echo(line, err=True)
        else:
            click.echo(f"{f}: ok")
    sys.exit(worst)


from .fuzz import register as _register_fuzz  # noqa: E402 - the fuzz command's module
from .serve import register as _register_serve  # noqa: E402 - the serve command's module

_register_fuzz(main)
_register_serve(main)

from .report import register as _register_report  # noqa: E402 - the report command's module

_register_report(main)


if __name__ == "__main__":  # pragma: no cover
    main()
