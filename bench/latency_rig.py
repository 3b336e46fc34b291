"""The gateway side of the live latency benchmark: the simulated exchange behind a
TWS-API socket, in its own process (as IB Gateway would be) or inside the bench's.

Kept apart from the measurement so that the gateway process (``live_latency.py
--serve-gateway``) runs only what a gateway runs. It stamps every placeOrder it reads
with ``perf_counter_ns`` (CLOCK_MONOTONIC, system-wide on Linux, so comparable with the
bench process's stamps) and reports it on stdout; quotes are pushed to it one per stdin
line. ``LL_GATEWAY_PREFIX`` is put in front of its command line (``taskset -c 1``,
``nice -n 10``) for experiments.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from time import perf_counter_ns
from typing import Any

import trio

from triotrade.gateways.realtime import RealtimeMarket
from triotrade.gateways.tws import TwsBroker, TwsGateway
from triotrade.sim import scenario as scenario_mod

GATEWAY_PREFIX = os.environ.get("LL_GATEWAY_PREFIX", "").split()
# the gateway process is the benchmark's own script: its command line is the public one
ENTRY_POINT = Path(__file__).resolve().parent / "live_latency.py"
SYM = "ACME"


def scenario() -> scenario_mod.Scenario:
    return scenario_mod.from_dict({
        "version": 1, "name": "live-latency", "seed": 7, "duration": "24h",
        "instruments": [{"symbol": SYM, "tick_size": "0.01"}],
        "market": {SYM: {"spread": "0.02", "depth": 1000, "ticks": [{"t": "0s", "last": "100.00"}]}},
        "faults": [],
    }, "<live-latency>")


# ---------------------------------------------------------------- the gateway


def serve_gateway() -> None:
    """``--serve-gateway``: the gateway process. Prints its port, then pushes one quote
    per stdin line ``BID ASK`` (price units); stops at end of input.

    For every placeOrder it prints ``P <orderId> <ns>``: ``perf_counter_ns`` (the
    system-wide monotonic clock on Linux, the same clock as the bench process) right
    after the socket read that brought the order in. The order's bytes had been
    written to the socket by then at the latest.
    """
    from triotrade.gateways.tws import session as tws_mod
    from triotrade.wire import tws as proto

    stamp = [0]
    feed = proto.FrameReader.feed
    place = tws_mod._HANDLERS[proto.In.PLACE_ORDER]  # noqa: SLF001

    def stamped_feed(self: Any, data: bytes) -> None:
        stamp[0] = perf_counter_ns()
        feed(self, data)

    def stamped_place(self: Any, f: list[str]) -> None:
        t = stamp[0]
        place(self, f)
        sys.stdout.write(f"P {f[1]} {t}\n")
        sys.stdout.flush()

    proto.FrameReader.feed = stamped_feed  # type: ignore[method-assign]
    tws_mod._HANDLERS[proto.In.PLACE_ORDER] = stamped_place  # noqa: SLF001

    async def main() -> None:
        market = RealtimeMarket(scenario())
        broker = TwsBroker(market)
        async with trio.open_nursery() as nursery:
            await nursery.start(broker.run)
            gw = TwsGateway(broker, "127.0.0.1", 0)
            await nursery.start(gw.serve)
            print(f"port {gw.port}", flush=True)
            stdin = trio.lowlevel.FdStream(os.dup(0))
            buf = b""
            while True:
                data = await stdin.receive_some(4096)
                if not data:
                    break
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    bid, ask = map(int, line.split())
                    market.push_tick(SYM, bid, ask, None, 1000, 1000)
            nursery.cancel_scope.cancel()

    trio.run(main)


class SubprocessGateway:
    def __init__(self) -> None:
        self.proc: trio.Process | None = None
        self.port = 0
        self.order_read: dict[int, int] = {}  # IB order id -> when the gateway read it

    async def start(self, nursery: trio.Nursery) -> None:
        self.proc = await trio.lowlevel.open_process(
            [*GATEWAY_PREFIX, sys.executable, str(ENTRY_POINT), "--serve-gateway"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        buf = b""
        with trio.fail_after(30):
            while b"\n" not in buf:
                data = await self.proc.stdout.receive_some(1024)
                if not data:
                    raise RuntimeError("the gateway process exited before listening")
                buf += data
        first, rest = buf.split(b"\n", 1)
        self.port = int(first.split()[1])
        nursery.start_soon(self._read_stamps, rest)

    async def _read_stamps(self, buf: bytes) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            *lines, buf = buf.split(b"\n")
            for line in lines:
                parts = line.split()
                if len(parts) == 3 and parts[0] == b"P":
                    self.order_read[int(parts[1])] = int(parts[2])
            data = await self.proc.stdout.receive_some(65536)
            if not data:
                return
            buf += data

    async def read_stamp(self, order_id: int) -> int | None:
        with trio.move_on_after(1):
            while order_id not in self.order_read:
                await trio.sleep(0.001)
        seen = self.order_read.pop(order_id, None)
        self.order_read.clear()  # the entries' stamps: not needed
        return seen

    async def push(self, bid: int, ask: int) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        await self.proc.stdin.send_all(f"{bid} {ask}\n".encode())

    async def close(self) -> None:
        if self.proc is None:
            return
        with trio.CancelScope(shield=True):
            if self.proc.stdin is not None:
                await self.proc.stdin.aclose()
            with trio.move_on_after(5):
                await self.proc.wait()
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()


class InprocGateway:
    def __init__(self) -> None:
        self.market: RealtimeMarket | None = None
        self.port = 0

    async def read_stamp(self, order_id: int) -> int | None:
        await trio.lowlevel.checkpoint()
        return None

    async def start(self, nursery: trio.Nursery) -> None:
        self.market = RealtimeMarket(scenario())
        broker = TwsBroker(self.market)
        await nursery.start(broker.run)
        gw = TwsGateway(broker, "127.0.0.1", 0)
        await nursery.start(gw.serve)
        self.port = gw.port

    async def push(self, bid: int, ask: int) -> None:
        assert self.market is not None
        self.market.push_tick(SYM, bid, ask, None, 1000, 1000)
        await trio.lowlevel.checkpoint()

    async def close(self) -> None:
        pass
