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
from .exits import Exit, exit_for

DEFAULT_SCENARIO = "default.yaml"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")  # --log-level: shown as written, any case


def _default_scenario_path() -> Path:
    return Path(str(resources.files("triotrade.sim") / "data" / DEFAULT_SCENARIO))


def _load_or_exit(scenario: Path | None, overrides: tuple[str, ...] = (),
                  limits: Any = None) -> Any:
    """Load SCENARIO (the built-in default when None) with its ``--set`` overrides,
    within ``limits``; invalid input exits 2, nothing run."""
    from ..sim import overrides as overrides_mod
    from ..sim import scenario as scenario_mod
    from ..sim.scenario_limits import Limits

    path = scenario if scenario is not None else _default_scenario_path()
    try:
        scn = scenario_mod.load(path, overrides_mod.parse_overrides(overrides),
                                limits or Limits())
        scenario_mod.check_data(scn)  # market data files: every row, before anything runs
        return scn
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


def _duration_option(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    from ..kernel.units import UnitError, parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value)
    except UnitError as exc:
        raise click.BadParameter(str(exc)) from None


def _limits_options(f: Any) -> Any:
    """``--max-ticks`` and ``--max-duration``: what a scenario may cost (run and check)."""
    from ..sim.scenario_limits import DEFAULT_MAX_DURATION, DEFAULT_MAX_TICKS
    from ..kernel.units import fmt_duration

    f = click.option("--max-duration", "max_duration", callback=_duration_option, default=None,
                     help="Refuse scenarios whose duration is longer "
                     f"(default {fmt_duration(DEFAULT_MAX_DURATION)}).")(f)
    f = click.option("--max-ticks", "max_ticks", type=click.IntRange(min=1, max=10**12),
                     default=DEFAULT_MAX_TICKS, show_default=True,
                     help="Refuse scenarios whose markets would generate more ticks (or "
                     "whose monitor would wake more often) than this.")(f)
    return f


def _limits(max_ticks: int, max_duration: int | None) -> Any:
    from ..sim.scenario_limits import Limits

    if max_duration is None:
        return Limits(max_ticks=max_ticks)
    return Limits(max_ticks=max_ticks, max_duration=max_duration)


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
      triotrade check scenarios/             # every file below, recursively
    Hunt invariant breaks with Hypothesis (finds are shrunk into scenario files):
      triotrade fuzz --examples 2000
    """


@main.command()
@click.argument("scenarios", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", type=int, default=None,
              help="Run seed (default: the scenario's `seed:`). Same seed, same digest.")
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override a scenario value before validation, as if written in the file "
              "(the value is read as YAML), e.g. --set config.exits.stop_loss=3%. "
              "Repeatable; applied to every SCENARIO; the journal header records them.")
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Where to write the JSONL journal; must be a new file unless "
              "--overwrite (default: runs/<scenario>-seed<N>.jsonl, replaced on a re-run; "
              "live: a new runs/live-<venue>-<time>-<pid>.jsonl).")
@click.option("--overwrite", is_flag=True, help="Let --journal replace an existing file.")
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
@click.option("--log-level", "log_level", default=None,
              type=click.Choice(LOG_LEVELS, case_sensitive=False),
              metavar=f"[{'|'.join(LOG_LEVELS)}]",  # click would show them lowercased
              help="Live runs: also show the broker libraries' own log lines (ib_async, "
              "kiteconnect) from this level up (any case). Without it only triotrade's "
              "warnings show.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="After the run, write the HTML report of its journal here "
              "(as `triotrade report JOURNAL -o FILE`).")
@click.option("--resume", "resume_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Live runs: rebuild the day's state from this journal of "
              "an earlier run (default: the latest journal of today in the runs folder).")
@click.option("--fresh", is_flag=True,
              help="Live runs: do not resume from today's journal; start from nothing "
              "(the venue's positions are still adopted).")
@_limits_options
def run(scenarios: tuple[Path, ...], seed: int | None, journal_path: Path | None,
        overwrite: bool, quiet: bool, venue: str, config_path: Path | None, host: str,
        port: int | None, client_id: int, live: bool, log_level: str | None,
        report_path: Path | None, overrides: tuple[str, ...], max_ticks: int,
        max_duration: int | None, resume_path: Path | None, fresh: bool) -> None:
    """Run SCENARIO... in the simulator and judge each, or run the kernel live.

    \b
    Simulated: prints a summary and, as its last line, `digest: sha256:<hex>`. Exits
    0 when every expectation and invariant holds, 1 when any fails, 2 when the input
    is invalid (nothing ran). With no SCENARIO, runs the built-in default scenario.
    With several, one summary (and digest line) each, then a `total:` line; the exit
    code is the worst of them.
    \b
    Live (--venue ibkr|kite --config FILE): the same kernel against a broker. Orders
    are sent only with --live. Kite credentials come from KITE_API_KEY and
    KITE_ACCESS_TOKEN in the environment, never from the command line. Exits 0 after
    a clean run or Ctrl-C, 2 when the config is invalid, 3 when the broker cannot
    be reached or refuses the credentials.
    """
    from .journals import claim, sim_default

    if report_path is not None:
        from .report import require_extra

        require_extra()  # before anything runs
    if venue != "sim":
        if report_path is not None and journal_path is None:
            raise click.UsageError("--report with a live run needs --journal")
        if scenarios:
            raise click.UsageError("a live run takes --config, not a SCENARIO file")
        if overrides:
            raise click.UsageError("--set is for simulated runs (a live run takes --config)")
        if config_path is None:
            raise click.UsageError(f"--venue {venue} needs --config CONFIG.yaml")
        from .live import run_live_cli

        code = run_live_cli(venue, config_path=config_path, host=host, port=port,
                            client_id=client_id, live=live, journal_path=journal_path,
                            overwrite=overwrite, log_level=log_level,
                            resume_path=resume_path, fresh=fresh)
        if report_path is not None and journal_path is not None and journal_path.exists():
            from .report import write_report

            write_report(journal_path, report_path)
            click.echo(f"report: {report_path}", err=True)
        sys.exit(code)
    for flag, value in (("--config", config_path), ("--live", live or None),
                        ("--log-level", log_level),
                        ("--resume", resume_path), ("--fresh", fresh or None)):
        if value is not None:
            raise click.UsageError(f"{flag} is for live runs (--venue ibkr|kite)")
    if len(scenarios) > 1:
        for flag, value in (("--journal", journal_path), ("--report", report_path)):
            if value is not None:
                raise click.UsageError(f"{flag} names one file: give it one SCENARIO")
    from ..sim import runner

    from .progress import RunProgress
    from .summary import make_console, print_result

    console = make_console()
    loaded = _load_all(list(scenarios) or [None], overrides, _limits(max_ticks, max_duration))
    taken: set[Path] = set()  # membership only
    codes: list[int] = []
    for i, scn in enumerate(loaded):
        seed_used = scn.seed if seed is None else seed
        path = journal_path
        try:
            if journal_path is None:
                path = sim_default(_slug(scn.name), seed_used, taken)
            else:
                path = claim(journal_path, overwrite=overwrite)
            progress = RunProgress(console, scn.duration)
            try:
                result = runner.run(scn, seed_used, path, progress=progress)
            finally:
                progress.close()
        except InputError as exc:
            _exit_on(exc)
        except OSError as exc:
            _exit_on(InputError(str(exc.filename or path or "runs"),
                                [("", f"cannot write journal: {exc.strerror or exc}")]))
        if i:
            click.echo()
        print_result(result, quiet, console)
        codes.append(result.exit_code)
    if report_path is not None:  # on stderr: the digest stays stdout's last line
        from .report import write_report

        write_report(result.journal_path, report_path)
        click.echo(f"report: {report_path}", err=True)
    if len(codes) > 1:
        failed = [scn.source for scn, c in zip(loaded, codes) if c != Exit.OK]
        named = f" ({', '.join(failed)})" if failed else ""
        click.echo(f"total: {len(codes)} runs, {len(codes) - len(failed)} OK, "
                   f"{len(failed)} FAILED{named}")
    sys.exit(max(codes))


def _load_all(paths: list[Path | None], overrides: tuple[str, ...] = (),
              limits: Any = None) -> list[Any]:
    """Every scenario (with the ``--set`` overrides), each one's warnings on stderr; any
    invalid file exits 2 before anything runs (every invalid file is reported, not just
    the first)."""
    from ..sim import overrides as overrides_mod
    from ..sim import scenario as scenario_mod
    from ..sim.scenario_limits import Limits

    out, worst = [], Exit.OK
    for path in paths:
        try:
            scn = scenario_mod.load(path if path is not None else _default_scenario_path(),
                                    overrides_mod.parse_overrides(overrides),
                                    limits if limits is not None else Limits())
            scenario_mod.check_data(scn)  # market data files: every row, before anything runs
        except Exception as exc:  # noqa: BLE001 - exit_for decides; anything else is a bug
            outcome = exit_for(exc)
            if outcome is None:
                raise
            worst = max(worst, outcome[0])
            for line in outcome[1]:
                click.echo(line, err=True)
            continue
        _warn(scn)
        out.append(scn)
    if worst != Exit.OK:
        sys.exit(worst)
    return out


def _warn(scn: Any) -> None:
    from ..sim.scenario_rules import warnings

    for path, note in warnings(scn):
        click.echo(f"{scn.source}: {path}: warning: {note}", err=True)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_limits_options
def check(files: tuple[Path, ...], max_ticks: int, max_duration: int | None) -> None:
    """Validate scenario FILES without running them (exit 2 if any is invalid).

    Each of FILES is a scenario file or a directory, searched recursively for *.yaml
    and *.yml files (in sorted path order). A file is valid when `run` would accept it
    under the same limits: every value, and what running it would cost (ticks,
    horizon). Warnings (legal, but probably not meant) go to stderr and do not change
    the exit code.
    """
    from ..sim import scenario as scenario_mod

    limits = _limits(max_ticks, max_duration)
    worst = Exit.OK
    found_files: list[Path] = []
    for p in files:
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml")
                           and f.is_file())
            if not found:
                click.echo(f"{p}: no scenario files (*.yaml, *.yml) in this directory", err=True)
                worst = Exit.INVALID_INPUT
            found_files.extend(found)
        else:
            found_files.append(p)
    bad = 0
    for f in found_files:
        try:
            scn = scenario_mod.load(f, limits=limits)
            scenario_mod.check_data(scn)
        except Exception as exc:  # noqa: BLE001 - exit_for decides; anything else is a bug
            outcome = exit_for(exc)
            if outcome is None:
                raise
            code, lines = outcome
            worst = max(worst, code)
            bad += 1
            for line in lines:
                click.echo(line, err=True)
        else:
            _warn(scn)
            click.echo(f"{f}: ok")
    if len(found_files) > 1:
        click.echo(f"checked {len(found_files)} files: {len(found_files) - bad} ok, "
                   f"{bad} invalid")
    sys.exit(worst)


from .fuzz import register as _register_fuzz  # noqa: E402 - the fuzz command's module
from .serve import register as _register_serve  # noqa: E402 - the serve command's module

_register_fuzz(main)
_register_serve(main)

from .report import register as _register_report  # noqa: E402 - the report command's module

_register_report(main)

from .ctl import register as _register_ctl  # noqa: E402 - the ctl command's module
from .sweep import register as _register_sweep  # noqa: E402 - the sweep command's module

_register_ctl(main)
_register_sweep(main)

from .replay import register as _register_replay  # noqa: E402 - the replay command's module

_register_replay(main)


if __name__ == "__main__":  # pragma: no cover
    main()
