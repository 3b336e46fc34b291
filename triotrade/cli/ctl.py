"""``triotrade ctl``: a person's hand on a running live kernel.

``status``, ``kill [--mode M]``, ``reset`` and ``flatten SYMBOL`` are sent to the run's
control socket (``<journal>.ctl``, served by ``venues/control.py``), one JSON line each
way (``wire/control.py``). The run does the act on its own thread and journals it; this
command only asks and prints the answer. Exit codes come from ``exits.py``: 0 done, 2 a
bad command or a request the run refused, 3 no run answers on that socket.
"""
from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any, Callable

import click

from ..kernel.killswitch import KillAction
from ..wire.control import Command, ControlUnreachable, Request, control_path, encode
from .exits import Exit, exit_for

MAX_RESPONSE = 1 << 20  # a status of many tickers fits; a runaway peer does not


def ask(path: Path, request: Request, timeout_s: float = 10.0) -> dict[str, Any]:
    """Send one request to the control socket at ``path``; its parsed response."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            why = "no such socket" if isinstance(exc, FileNotFoundError) else "connection refused"
            raise ControlUnreachable(f"cannot reach the control socket {path}: no run there "
                                     f"({why})") from None
        except socket.timeout:
            raise ControlUnreachable(f"cannot reach the control socket {path}: no answer "
                                     f"within {timeout_s:g}s") from None
        except OSError as exc:
            raise ControlUnreachable(f"cannot reach the control socket {path}: "
                                     f"{exc.strerror or exc}") from None
        buf = b""
        try:
            sock.sendall(encode(request.to_json()))
            while b"\n" not in buf and len(buf) < MAX_RESPONSE:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except socket.timeout:
            raise ControlUnreachable(f"the run on {path} did not answer within "
                                     f"{timeout_s:g}s") from None
        except OSError as exc:
            raise ControlUnreachable(f"the run on {path} dropped the connection: "
                                     f"{exc.strerror or exc}") from None
    finally:
        sock.close()
    line, nl, _ = buf.partition(b"\n")
    try:
        response = json.loads(line) if nl else None
    except ValueError:
        response = None
    if not isinstance(response, dict) or not isinstance(response.get("ok"), bool):
        raise ControlUnreachable(f"the socket {path} did not answer as a triotrade run does")
    return response


def _target(journal: Path | None, sock: Path | None) -> Path:
    if (journal is None) == (sock is None):
        raise click.UsageError("name the run: --journal JOURNAL (its socket is JOURNAL.ctl) "
                               "or --socket PATH")
    return sock if sock is not None else control_path(journal)  # type: ignore[arg-type]


def _send(journal: Path | None, sock: Path | None, request: Request, as_json: bool,
          show: Callable[[dict[str, Any]], None]) -> None:
    path = _target(journal, sock)
    try:
        response = ask(path, request)
    except ControlUnreachable as exc:
        code, lines = exit_for(exc) or (Exit.VENUE_UNREACHABLE, [str(exc)])
        for line in lines:
            click.echo(line, err=True)
        sys.exit(code)
    if as_json:
        click.echo(json.dumps(response, sort_keys=True, indent=2))
    if not response["ok"]:
        if not as_json:
            click.echo(f"refused: {response.get('error', '(no reason given)')}", err=True)
        sys.exit(Exit.INVALID_INPUT)
    if not as_json:
        show(response)
    sys.exit(Exit.OK)


def _show_done(response: dict[str, Any]) -> None:
    click.echo(response.get("done", "done"))


def _show_status(response: dict[str, Any]) -> None:
    st = response["status"]
    click.echo(f"venue: {'connected' if st['connected'] else 'DISCONNECTED'}   "
               f"realized P&L: {st['realized_pnl']}")
    ks = st["kill_switch"]
    if ks["active"] or ks["max_loss_cumulative_breached"]:
        reasons = ", ".join(f"{a['reason']} ({a['action']})" for a in ks["active"])
        if ks["max_loss_cumulative_breached"]:
            reasons = ", ".join(filter(None, [reasons, "max_loss_cumulative (stop_new_trades)"]))
        click.echo(f"kill switch: IN FORCE, {ks['action'] or 'stop_new_trades'}: {reasons}")
    else:
        click.echo("kill switch: off")
    if ks["entries_blocked"]:
        click.echo(f"entries blocked: {ks['entries_blocked']}")
    click.echo("positions:")
    for p in st["positions"]:
        flag = "  (exiting)" if p["exiting"] else ""
        click.echo(f"  {p['symbol']:<10} {p['qty']:>8} @ {p['avg_price']:<12} "
                   f"realized {p['realized_pnl']}{flag}")
    if not st["positions"]:
        click.echo("  (no tickers)")
    click.echo("working orders:")
    for o in st["working_orders"]:
        price = f" @ {o['price']}" if "price" in o else ""
        click.echo(f"  {o['order_id']:<10} {o['symbol']:<10} {o['role']:<15} {o['side']:<4} "
                   f"{o['filled']}/{o['qty']} {o['order_type']}{price} {o['state']}")
    if not st["working_orders"]:
        click.echo("  (none)")
    click.echo("feeds:")
    for f in st["feeds"]:
        health = "STALE" if f["stale"] else ("ok" if f["has_quote"] else "no quote yet")
        click.echo(f"  {f['symbol']:<10} {health:<12} last tick {f['last_tick_age_ms']} ms ago  "
                   f"bid {f['bid']} ask {f['ask']}")


def _where(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--json", "as_json", is_flag=True,
                      help="Print the run's JSON answer (for scripts).")(fn)
    fn = click.option("--socket", "sock", type=click.Path(dir_okay=False, path_type=Path),
                      default=None, help="The control socket itself.")(fn)
    fn = click.option("--journal", type=click.Path(dir_okay=False, path_type=Path),
                      default=None, help="The run's journal (its socket is JOURNAL.ctl).")(fn)
    return fn


@click.group()
def ctl() -> None:
    """Control a running live kernel through its socket (JOURNAL.ctl).

    \b
      triotrade ctl status --journal runs/live-ibkr-20261202T031500.123456Z-4242.jsonl
      triotrade ctl kill --mode cancel_all --journal J
      triotrade ctl reset --journal J
      triotrade ctl flatten ACME --journal J
    Every act is journaled by the run. Exits 0 done, 2 bad command or refused, 3 no
    run answers on the socket.
    """


@ctl.command()
@_where
def status(journal: Path | None, sock: Path | None, as_json: bool) -> None:
    """Positions, working orders, kill-switch state and feed health."""
    _send(journal, sock, Request(Command.STATUS), as_json, _show_status)


@ctl.command()
@click.option("--mode", type=click.Choice([a.value for a in KillAction]),
              default=KillAction.CLOSE_ALL.value, show_default=True,
              help="stop_new_trades < cancel_all (also cancels working entries) < close_all "
                   "(also flattens every position).")
@_where
def kill(mode: str, journal: Path | None, sock: Path | None, as_json: bool) -> None:
    """Fire the kill switch (reason: operator)."""
    _send(journal, sock, Request(Command.KILL, mode=KillAction(mode)), as_json, _show_done)


@ctl.command()
@_where
def reset(journal: Path | None, sock: Path | None, as_json: bool) -> None:
    """Reset the kill switch: entries allowed again."""
    _send(journal, sock, Request(Command.RESET), as_json, _show_done)


@ctl.command()
@click.argument("symbol")
@_where
def flatten(symbol: str, journal: Path | None, sock: Path | None, as_json: bool) -> None:
    """Exit SYMBOL's position at market (reason: operator)."""
    _send(journal, sock, Request(Command.FLATTEN, symbol=symbol), as_json, _show_done)


def register(main: click.Group) -> None:
    main.add_command(ctl)
