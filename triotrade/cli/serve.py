"""``triotrade serve``: the simulated exchange over a real broker wire protocol.

The gateways (``triotrade.gateways``) are libraries: a broker, a listener, a market,
started and stopped by whoever holds them (tests, benchmarks, this command). What
only a command-line process needs lives here: loading the scenario, printing where it
listens and what it serves, one line per connection, order and fill and when the
scenario's horizon is reached, stopping on a signal, and the exit code. Gateways are
imported when the command runs, so other commands do not pay for them.

``--start-on-connect`` holds the scenario's clock at t=0 until the first client
subscribes to market data, so a script started late still sees every gap. Kite
credentials come from ``KITE_API_KEY`` / ``KITE_ACCESS_TOKEN``: on the command line they
would be visible to every user of the machine through ``ps``; the flags remain (tests
use them) and say so on stderr.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..kernel.errors import find_exception
from .exits import Exit

if TYPE_CHECKING:
    from ..gateways.realtime import RealtimeMarket
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
@click.option("--max-order-qty", type=click.IntRange(min=1), default=None,
              help="Largest quantity one order may have (default 1000000); above it the "
                   "order is rejected as the broker would.")
@click.option("--start-on-connect", is_flag=True,
              help="Hold the scenario at t=0 until the first client subscribes to market data.")
@click.option("--api-key", default=None,
              help="kite: the API key clients must present (prefer $KITE_API_KEY).")
@click.option("--access-token", default=None,
              help="kite: the access token clients must present (prefer $KITE_ACCESS_TOKEN).")
def serve(scenario: Path | None, protocol: str, host: str, port: int | None, speed: float,
          seed: int | None, max_order_qty: int | None, start_on_connect: bool,
          api_key: str | None, access_token: str | None) -> None:
    """Serve the simulated exchange over a real broker wire protocol.

    Point an ib_async or kiteconnect script at it and it trades against SCENARIO's
    market (the built-in default with no SCENARIO). Prints `listening on HOST:PORT`
    once it accepts connections. For kite, set KITE_API_KEY and KITE_ACCESS_TOKEN.
    """
    from ..gateways.limits import MAX_ORDER_QTY
    from . import _load_or_exit

    max_qty = MAX_ORDER_QTY if max_order_qty is None else max_order_qty
    if not 0 < speed < float("inf"):
        raise click.BadParameter("must be positive", param_hint="--speed")
    scn = _load_or_exit(scenario)
    if protocol == "tws":
        sys.exit(serve_tws(scn, host=host, port=TWS_PORT if port is None else port,
                           speed=speed, seed=seed, start_on_connect=start_on_connect,
                           max_order_qty=max_qty))
    key, token = kite_credentials(api_key, access_token)
    sys.exit(serve_kite(scn, host=host, port=KITE_PORT if port is None else port, speed=speed,
                        seed=seed, api_key=key, access_token=token,
                        start_on_connect=start_on_connect, max_order_qty=max_qty))


def kite_credentials(api_key: str | None, access_token: str | None) -> tuple[str, str]:
    """The credentials Kite clients must present: the environment, or (warned) the flags."""
    flags = [name for name, value in (("--api-key", api_key), ("--access-token", access_token))
             if value]
    if flags:
        click.echo(f"warning: {' and '.join(flags)} on the command line can be read by any "
                   "user of this machine (ps shows the arguments); set KITE_API_KEY and "
                   "KITE_ACCESS_TOKEN in the environment instead", err=True)
    key = api_key or os.environ.get("KITE_API_KEY", "")
    token = access_token or os.environ.get("KITE_ACCESS_TOKEN", "")
    if not key or not token:
        missing = [n for n, v in (("KITE_API_KEY", key), ("KITE_ACCESS_TOKEN", token)) if not v]
        raise click.UsageError(f"--protocol kite needs {' and '.join(missing)} in the "
                               "environment (the credentials clients must present)")
    return key, token


def _log_to_console() -> None:
    """Gateway lines: connections, orders, fills on stdout; client problems on stderr."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    gw_log = logging.getLogger("triotrade.gateway")
    gw_log.setLevel(logging.INFO)
    gw_log.propagate = False
    out = logging.StreamHandler(sys.stdout)
    out.addFilter(lambda record: record.levelno < logging.WARNING)
    out.setFormatter(logging.Formatter("%(message)s"))
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.WARNING)
    err.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    gw_log.handlers[:] = [out, err]


async def _announce(market: RealtimeMarket) -> None:
    """One line when the scenario's clock starts (late start) and when its horizon passes."""
    from ..kernel.units import NS_PER_S

    if market.start_on_connect:
        print("waiting for the first market-data subscription to start the scenario (t=0)",
              flush=True)
        await market.started.wait()
        print("first subscription: scenario started (t=0)", flush=True)
    await market.finished.wait()
    seconds = market.scenario.duration / NS_PER_S
    print(f"horizon reached: the scenario's {seconds:g} s have played; holding the last quote",
          flush=True)


def serve_tws(scn: Scenario, *, host: str, port: int, speed: float, seed: int | None,
              start_on_connect: bool = False, max_order_qty: int | None = None) -> int:
    """``--protocol tws``: serve until SIGINT/SIGTERM; 0 on a clean stop."""
    import trio

    from ..gateways.realtime import RealtimeMarket
    from ..gateways.tws import TwsBroker, TwsGateway, describe

    async def main() -> int:
        market = RealtimeMarket(scn, seed=seed, speed=speed, start_on_connect=start_on_connect)
        broker = (TwsBroker(market) if max_order_qty is None
                  else TwsBroker(market, max_order_qty=max_order_qty))
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
                nursery.start_soon(_announce, market)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()
        return code

    _log_to_console()
    try:
        return trio.run(main)
    except KeyboardInterrupt:  # pragma: no cover - a signal that raced the receiver
        return Exit.OK


def serve_kite(scn: Scenario, *, host: str, port: int, speed: float, seed: int | None,
               api_key: str, access_token: str, start_on_connect: bool = False,
               max_order_qty: int | None = None) -> int:
    """``--protocol kite``: serve until Ctrl-C. Never prints credentials."""
    import trio

    from ..gateways import kite

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            gateway: kite.KiteGateway = await nursery.start(
                lambda task_status: kite.serve_kite(scn, host=host, port=port, speed=speed,
                                                    seed=seed, api_key=api_key,
                                                    access_token=access_token,
                                                    start_on_connect=start_on_connect,
                                                    max_order_qty=max_order_qty,
                                                    task_status=task_status))
            shown = f"[{host}]" if ":" in host else host
            print(f"listening on {shown}:{gateway.port}", flush=True)
            print(f"  REST  http://{shown}:{gateway.port}   ticker  ws://{shown}:{gateway.port}"
                  f"{kite.WS_PATH}", flush=True)
            for inst in gateway.master:
                print(f"  {inst.key:<28} token {inst.token}", flush=True)
            nursery.start_soon(_announce, gateway.market)

    _log_to_console()
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
