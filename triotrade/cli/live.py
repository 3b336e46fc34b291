"""``triotrade run --venue ibkr|kite``: one way to run the kernel live, whichever broker.

The only part that depends on the broker is building the venue: reading its config,
the lines that say where it connects, the journal header, and a context that opens
(and on the way out closes) the venue. That is a ``LiveSetup``, one small function per
broker. Everything else is the same for every broker: the journal's default path, the
dry-run note, logging, Ctrl-C, the closing summary and digest line, and the exit code
of every error, which comes from ``exits.exit_for`` (an input error exits 2, a broker
that cannot be reached 3), so two brokers never disagree about the same failure.
"""
from __future__ import annotations

import functools
import logging
import os
import sys
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import attrs
import click
import trio

from ..kernel.errors import InputError, find_exception
from ..kernel.units import fmt_units
from ..kernel.venue import Venue
from ..wire.control import control_path
from .exits import Exit, exit_for


@attrs.frozen
class LiveSetup:
    """What one broker contributes to a live run; built before anything connects."""

    cfg: Any  # venues.live.LiveConfig
    banner: list[str]  # where it connects, printed before the run
    header: dict[str, Any]  # extra journal header fields
    open_venue: Callable[[], AbstractAsyncContextManager[Venue]]


def _ibkr(config_path: Path, host: str, port: int | None, client_id: int) -> LiveSetup:
    from ..venues.ibkr import DEFAULT_PORT, IbkrVenue
    from ..venues.live import load_live_config

    cfg = load_live_config(config_path)
    port = DEFAULT_PORT if port is None else port

    @asynccontextmanager
    async def open_venue() -> AsyncIterator[Venue]:
        yield IbkrVenue(host, port, client_id)  # run_live connects and closes it

    return LiveSetup(cfg, [f"IB at {host}:{port}, clientId {client_id}"],
                     {"venue": "ibkr", "broker": f"{host}:{port}", "client_id": client_id},
                     open_venue)


def _kite(config_path: Path, host: str, port: int | None, client_id: int) -> LiveSetup:
    del client_id  # an IB notion; Kite sessions are per access token
    from ..venues.kite import endpoints, load_kite_config, open_kite_venue
    from ..venues.live import instruments_of

    cfg, settings = load_kite_config(config_path)
    api_key = os.environ.get("KITE_API_KEY", "").strip()
    access_token = os.environ.get("KITE_ACCESS_TOKEN", "").strip()
    missing = [n for n, v in (("KITE_API_KEY", api_key), ("KITE_ACCESS_TOKEN", access_token))
               if not v]
    if missing:
        raise InputError("kite", [("", f"set {' and '.join(missing)} in the environment "
                                       "(credentials are read only from there, never from "
                                       "the command line or the config)")])
    root, ws_root = endpoints(host, port)

    def open_venue() -> AbstractAsyncContextManager[Venue]:
        return open_kite_venue(api_key, access_token, instruments=instruments_of(cfg),
                               root=root, ws_root=ws_root, settings=settings)

    return LiveSetup(cfg, [f"kite: {root} (ticker {ws_root}), product {settings.product}"],
                     {"venue": "kite", "endpoint": root, "product": settings.product},
                     open_venue)


SETUPS: dict[str, Callable[[Path, str, int | None, int], LiveSetup]] = {
    "ibkr": _ibkr,
    "kite": _kite,
}


async def _run(setup: LiveSetup, journal_path: Path, live: bool, resume: Any) -> Any:
    from ..sim.invariants import live_checker
    from ..venues.live import run_live

    async with setup.open_venue() as venue:
        return await run_live(venue, setup.cfg, journal_path, live=live, header=setup.header,
                              checker=live_checker, resume=resume)


def _resume(venue: str, resume_path: Path | None, fresh: bool, runs: Path
            ) -> tuple[Path | None, Any]:
    """The journal and the day's state to restart from (None: start from nothing),
    said on screen."""
    from ..venues.resume import latest_of_today, load_day

    if resume_path is None and not fresh:
        resume_path = latest_of_today(runs, venue)
        if resume_path is not None:
            click.echo(f"resuming from {resume_path} (the latest journal of today; "
                       "--fresh to start from nothing)")
    elif resume_path is not None:
        click.echo(f"resuming from {resume_path}")
    return resume_path, (None if resume_path is None else load_day(resume_path))


def configure_logging(log_level: str | None) -> None:
    """triotrade's own warnings always; the broker libraries' lines (ib_async's
    ``API connection failed`` above our own message) only when ``--log-level`` asks."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if log_level is None:
        handler.addFilter(lambda record: record.name.split(".")[0] == "triotrade")
    logging.basicConfig(level=logging.WARNING if log_level is None else log_level.upper(),
                        handlers=[handler], force=True)


def run_live_cli(venue: str, *, config_path: Path, host: str, port: int | None,
                 client_id: int, live: bool, journal_path: Path | None,
                 overwrite: bool = False, log_level: str | None = None,
                 resume_path: Path | None = None, fresh: bool = False) -> Exit:
    """Run the kernel live against ``venue`` until the config's duration or Ctrl-C."""
    from .journals import claim, claim_live

    try:
        setup = SETUPS[venue](config_path, host, port, client_id)
        runs = journal_path.parent if journal_path is not None else Path("runs")
        resume_path, resume = _resume(venue, resume_path, fresh, runs)
        if journal_path is not None:
            if resume_path is not None and journal_path.resolve() == resume_path.resolve():
                raise InputError(str(journal_path), [("", "the new journal cannot overwrite "
                                                      "the one it resumes from; pass another "
                                                      "--journal")])
            # the journal of a run that is still live: say so, before "already there"
            from ..venues.control import refuse_if_taken

            refuse_if_taken(control_path(journal_path))
        journal_path = (claim_live(venue) if journal_path is None
                        else claim(journal_path, overwrite=overwrite))
    except InputError as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        return Exit.INVALID_INPUT
    except OSError as exc:
        click.echo(f"{exc.filename or journal_path}: cannot write journal: "
                   f"{exc.strerror or exc}", err=True)
        return Exit.INVALID_INPUT
    configure_logging(log_level)
    if not live:
        click.echo("dry run: market data only; every order is refused before it leaves this "
                   "process (pass --live to trade)")
    for line in setup.banner:
        click.echo(line)
    click.echo(f"journal: {journal_path}")
    click.echo(f"control: {control_path(journal_path)} (triotrade ctl status --journal "
               f"{journal_path})")
    sys.stdout.flush()
    try:
        kernel = trio.run(functools.partial(_run, setup, journal_path, live, resume))
    except BaseException as exc:  # noqa: BLE001 - turned into a message and an exit code
        if find_exception(exc, KeyboardInterrupt) is not None:
            click.echo("stopped (Ctrl-C); journal flushed")
            if setup.cfg.config.exits.venue_stop is not None:
                click.echo("note: positions still open at the broker keep their resting stop "
                           "there (exits.venue_stop); this process's own stops, gap and "
                           "trailing exits ran here and stopped with it; resume with "
                           "`triotrade run --venue ... --live` (it adopts them and their stops)")
            else:
                click.echo("note: positions still open at the broker are no longer watched by "
                           "this process (its stops and gap exits ran here); resume with "
                           "`triotrade run --venue ... --live` (it adopts them) or close them "
                           "at the broker (set exits.venue_stop to keep a stop at the broker)")
            return Exit.OK
        outcome = exit_for(exc)
        if outcome is None:
            raise
        code, lines = outcome
        for line in lines:
            click.echo(line, err=True)
        return code
    for sym, t in sorted(kernel.tickers.items()):
        click.echo(f"{sym}: position {t.position.qty}, realized {fmt_units(t.position.realized)}")
    for sym, text in kernel.strategy_errors:
        click.echo(f"FAIL  strategy {sym}: {text}")
    click.echo(f"journal: {journal_path}")
    sys.stdout.flush()
    click.echo(f"digest: {kernel.journal.digest}")
    return Exit.FAILED if kernel.strategy_errors else Exit.OK
