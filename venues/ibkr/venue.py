"""``IbkrVenue``: the Venue protocol's trio side, and the state its parts share.

A request from the kernel (submit, cancel, subscribe, queries) becomes one call into
the venue thread (``bridge.py``); what happens there is split by concern: the session
and reconnects, reconciliation, order and execution reports, market data, orders out,
account queries. Each part is a mixin in its own module; the state they share is
declared once, in ``IbkrVenue.__init__``, with the thread that may touch it.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict, deque
from typing import Any, Callable

import trio

from ...kernel.instruments import Instrument
from ...kernel.orders import Order
from ...kernel.units import NS_PER_S
from ...kernel.venue import ExecReport, OpenOrder, QuoteHandler, VenueError, VenueSink
from .account import Account
from .bridge import Bridge
from .conventions import DEFAULT_PORT, Probe
from .fast_path import OrderMaker
from .market_data import MarketData, Sub
from .orders import Orders
from .reconcile import Reconcile
from .reports import Rec, Reports
from .session import Session


class IbkrVenue(Bridge, Session, Reconcile, Reports, MarketData, Orders, Account):
    """The Venue protocol against TWS / IB Gateway through ib_async.

    The trio-side API is here; what runs in the venue thread is in one part per
    concern (the bases), all sharing the state set up in ``__init__``.
    """

    name = "ibkr"

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, client_id: int = 1, *,
                 account: str = "", connect_timeout: float = 10.0, request_timeout: float = 15.0,
                 backoff: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0),
                 heartbeat: float = 10.0, quote_wait: float = 2.0, terminal_grace: float = 3.0,
                 expiry_slack: float = 1.5, max_requests_per_s: int = 45,
                 run_tag: str | None = None, probe: Probe | None = None,
                 retain_done: int = 256, retain_done_s: float = 60.0) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.account = account
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.backoff = backoff
        self.heartbeat = heartbeat
        self.quote_wait = quote_wait
        self.terminal_grace = terminal_grace
        self.expiry_slack_ns = int(expiry_slack * NS_PER_S)
        self.max_requests_per_s = max_requests_per_s
        # finished orders are remembered for retain_done_s, at most retain_done of them
        self.retain_done = max(1, retain_done)
        self.retain_done_s = retain_done_s
        # unique per venue instance: orderRefs from another run never match ours
        self.run_tag = run_tag or format(time.time_ns() // 1_000_000, "x")
        # trio side
        self._sink: VenueSink | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # asyncio side (touched only in the venue thread)
        self._ib: Any = None
        self._state = "idle"  # idle | up | link_down | restoring | down | connecting | closed
        self._epoch = 0
        self._recs: dict[str, Rec] = {}
        self._sent_ids: set[str] = set()  # every order id ever placed (plain strings)
        self._retired: deque[tuple[float, Rec]] = deque()  # finished, oldest first
        self._by_ib: dict[int, Rec] = {}
        self._by_perm: dict[int, Rec] = {}
        self._by_ref: dict[str, Rec] = {}
        self._subs: dict[str, Sub] = {}
        self._contracts: dict[str, Any] = {}
        self._baseline: dict[str, int] = {}
        self._fill_pos: dict[str, int] = {}
        self._exec_owner: OrderedDict[str, str] = OrderedDict()
        self._completed_info: dict[Any, tuple[str, str, float]] = {}
        self._connect_errors: list[int] = []
        self._refused: asyncio.Event | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        # observability (tests and operators)
        self.cancelled_calls = 0
        self.sink_errors = 0
        self.internal_errors = 0
        self.reconnects = 0
        self.fills_reported = 0
        self.orders_finished = 0
        self.notices: deque[tuple[int, int, str]] = deque(maxlen=200)
        self.last_reconcile = ""
        self.fast_send = False  # ib_async's encoder replaced by fast_send (checked equal)
        self._maker: OrderMaker | None = None
        # latency instrumentation (bench/live_latency.py); None = no timing anywhere
        self._probe = probe

    # ================================================================ trio side

    @property
    def sink(self) -> VenueSink | None:
        """Whoever ``connect`` was given (the Kernel, in a live run)."""
        return self._sink

    async def connect(self, sink: VenueSink) -> None:
        if self._thread is not None:
            raise VenueError("IbkrVenue.connect called twice")
        self._sink = sink
        self._token = trio.lowlevel.current_trio_token()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._thread_main, daemon=True,
                                        name=f"ibkr-asyncio-client{self.client_id}")
        self._thread.start()
        try:
            await self._call(self._a_first_connect)
        except BaseException:
            with trio.CancelScope(shield=True):
                await self._stop_thread()
            raise

    async def close(self) -> None:
        if self._thread is None:
            return
        try:
            with trio.move_on_after(5):
                await self._call(self._a_close)
        except VenueError:
            pass
        finally:
            await self._stop_thread()

    async def instrument(self, symbol: str) -> Instrument:
        return await self._call(self._a_instrument, symbol)

    async def subscribe(self, instrument: Instrument, on_quote: QuoteHandler) -> None:
        await self._call(self._a_subscribe, instrument, on_quote)

    async def submit(self, order: Order) -> None:
        if self._probe is not None:
            self._probe("submit", time.perf_counter_ns(), order)
        await self._call(self._a_submit, order)

    async def cancel(self, order_id: str) -> None:
        await self._call(self._a_cancel, order_id)

    async def positions(self) -> dict[str, int]:
        return await self._call(self._a_positions)

    async def open_orders(self) -> list[OpenOrder]:
        return await self._call(self._a_open_orders)

    async def holdings(self) -> dict[str, tuple[int, int | None]]:
        """Positions with their average prices (start-up reconciliation adopts them)."""
        return await self._call(self._a_holdings)

    async def executions(self) -> list[ExecReport]:
        """Today's executions of our orders (a restart's recovery of a resting stop)."""
        return await self._call(self._a_executions)

    async def cash(self) -> int:
        return await self._call(self._a_cash)

    async def status(self) -> str:
        """The session state as the venue thread sees it (for tests and operators)."""
        return await self._call(self._a_state)

    async def recent_notices(self) -> list[tuple[int, int, str]]:
        """IB's last error/notice messages (reqId, code, text), read in the venue thread."""
        return await self._call(lambda: list(self.notices))

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(ib, *args)`` in the venue thread (an escape hatch for tools and tests)."""
        return await self._call(lambda: fn(self._ib, *args))

    def _a_state(self) -> str:
        return self._state
