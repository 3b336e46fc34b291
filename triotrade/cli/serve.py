"""``triotrade serve``: the simulated exchange over a real broker wire protocol.

The gateways (``triotrade.gateways``) are libraries: a broker, a listener, a market,
started and stopped by whoever holds them (tests, benchmarks, this command). What
only a command-line process needs lives here: loading the scenario, printing where it
listens and what it serves, stopping on a signal, and the exit code. Gateways are
imported when the command runs, so other commands do not pay for them.
"""
from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..kernel.errors import find_exception
from .exits import Exit

if TYPE_CHECKING:
    from ..sim.scenario import Scenario

TWS_PORT = 4002
KITE_PORT = 8765


@click.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--protocol", type=click.Choice(["tws", "kite"]), required=True,
              help="tws: the TWS API as ib_async speaks it; kite: Kite Connect REST + ticker WS.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="Default: 4002 (tws), 8765 (kite).")
@click.option("--speed", type=float, default=1.0, show_default=True,
              help="Virtual seconds per wall-clock second (10 = ten times faster).")
@click.option("--seed", type=int, default=None, help="Market/fault seed (default: the scenario's).")
@click.option("--api-key", default=None, help="kite: the API key clients must present.")
@click.option("--access-token", default=None, help="kite: the access token clients must present.")
def serve(scenario: Path | None, protocol: str, host: str, port: int | None, speed: float,
          seed: int | None, api_key: str | None, access_token: str | None) -> None:
    """Serve the simulated exchange over a real broker wire protocol.

    Point an ib_async or kiteconnect script at it and it trades against SCENARIO's
    market (the built-in default with no SCENARIO). Prints `listening on HOST:PORT`
    once it accepts connections.
    """
    from . import _load_or_exit

    if speed <= 0:
        raise click.BadParameter("must be positive", param_hint="--speed")
    scn = _load_or_exit(scenario)
    if protocol == "tws":
        sys.exit(serve_tws(scn, host=host, port=TWS_PORT if port is None else port,
                           speed=speed, seed=seed))
    if not api_key or not access_token:
        raise click.UsageError("--protocol kite needs --api-key and --access-token")
    sys.exit(serve_kite(scn, host=host, port=KITE_PORT if port is None else port, speed=speed,
                        seed=seed, api_key=api_key, access_token=access_token))


def serve_tws(scn: Scenario, *, host: str, port: int, speed: float, seed: int | None) -> int:
    """``--protocol tws``: serve until SIGINT/SIGTERM; 0 on a clean stop."""
    import trio

    from ..gateways.realtime import RealtimeMarket
    from ..gateways.tws import TwsBroker, TwsGateway, describe

    async def main() -> int:
        market = RealtimeMarket(scn, seed=seed, speed=speed)
        broker = TwsBroker(market)
        gateway = TwsGateway(broker, host, port)
        code = Exit.OK
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(broker.run)
                try:
                    await nursery.start(gateway.serve)
                except OSError as exc:
                    print(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                          file=sys.stderr, flush=True)
                    code = Exit.INVALID_INPUT
                    nursery.cancel_scope.cancel()
                    return code
                print(f"listening on {host}:{gateway.port}", flush=True)
                print(describe(broker), flush=True)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()
        return code

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return trio.run(main)
    except KeyboardInterrupt:  # pragma: no cover - a signal that raced the receiver
        return Exit.OK


def serve_kite(scn: Scenario, *, host: str, port: int, speed: float, seed: int | None,
               api_key: str, access_token: str) -> int:
    """``--protocol kite``: serve until Ctrl-C. Never prints credentials."""
    import trio

    from ..gateways import kite

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            gateway: kite.KiteGateway = await nursery.start(
                lambda task_status: kite.serve_kite(scn, host=host, port=port, speed=speed,
                                                    seed=seed, api_key=api_key,
                                                    access_token=access_token,
                                                    task_status=task_status))
            shown = f"[{host}]" if ":" in host else host
            print(f"listening on {shown}:{gateway.port}", flush=True)
            print(f"  REST  http://{shown}:{gateway.port}   ticker  ws://{shown}:{gateway.port}"
                  f"{kite.WS_PATH}", flush=True)
            for inst in gateway.master:
                print(f"  {inst.key:<28} token {inst.token}", flush=True)

    try:
        trio.run(main)
    except BaseException as exc:  # noqa: BLE001 - trio groups errors; unwrap the ones we expect
        if find_exception(exc, KeyboardInterrupt) is not None:
            return Exit.OK
        os_error = find_exception(exc, OSError)
        if isinstance(os_error, OSError):
            print(f"cannot listen on {host}:{port}: {os_error.strerror or os_error}",
                  file=sys.stderr)
            return Exit.INVALID_INPUT
        raise
    return Exit.OK


def register(main: click.Group) -> None:
    main.add_command(serve)
