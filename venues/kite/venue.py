"""``KiteVenue``: the session that owns the adapter's tasks, and the state its parts share.

``connect`` checks the token over REST, resolves every configured instrument, then
starts the session: the ticker loop, the order-update worker and the reconcile loop in
one nursery, so ``close`` (or the nursery of ``open_kite_venue``) ends all three.
The rest is one mixin per concern, in its own module (REST, instruments, ticker,
orders, reports, account); the state they share is declared once, in
``KiteVenue.__init__``.
"""
from __future__ import annotations

import math
import time
from collections import deque
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable
from urllib.parse import quote

import requests
import trio
import trio_websocket
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from ...kernel.instruments import Instrument
from ...kernel.venue import QuoteHandler, VenueError, VenueSink
from .account import Account
from .config import PRODUCTION_ROOT, PRODUCTION_WS, KiteSettings, seconds
from .instruments import Instruments, KiteInstrumentInfo
from .orders import Orders, Rec, tag_prefix
from .reports import Reports
from .rest import Rest, safe
from .ticker import Ticker


class KiteVenue(Rest, Instruments, Ticker, Orders, Reports, Account):
    """The Venue protocol over Kite Connect. Construct with a nursery for its tasks."""

    name = "kite"

    def __init__(self, api_key: str, access_token: str, *, instruments: dict[str, Instrument],
                 nursery: trio.Nursery, root: str = PRODUCTION_ROOT, ws_root: str = PRODUCTION_WS,
                 settings: KiteSettings = KiteSettings(),
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.settings = settings
        self.root = root
        self.ws_root = ws_root
        self._nursery = nursery
        self._clock_ns = clock_ns
        self.kite = KiteConnect(api_key, access_token=access_token, root=root,
                                timeout=seconds(settings.rest_timeout))
        # the one place credentials are kept; never logged (see __repr__)
        self._ws_url = (f"{ws_root}?api_key={quote(api_key, safe='')}"
                        f"&access_token={quote(access_token, safe='')}")
        self.instruments = dict(instruments)
        self._limiter = trio.CapacityLimiter(settings.rest_threads)
        self._order_times: deque[float] = deque()
        self._order_lock = trio.Lock()
        self._apply_lock = trio.Lock()
        self._tables: dict[str, dict[str, KiteInstrumentInfo]] = {}
        self._info: dict[str, KiteInstrumentInfo] = {}
        self._subs: dict[int, tuple[str, QuoteHandler]] = {}
        self._orders: dict[str, Rec] = {}
        self._working: dict[str, Rec] = {}
        self._by_kite: dict[str, Rec] = {}
        self._by_tag: dict[str, Rec] = {}
        self._tag_prefix = tag_prefix()
        self._updates_send, self._updates_recv = trio.open_memory_channel[dict[str, Any]](math.inf)
        self.sink: VenueSink | None = None
        self._ws: trio_websocket.WebSocketConnection | None = None
        self._ws_up = False
        self._reported_up = False
        self._ever_connected = False
        self._ready = trio.Event()
        self._first_failure: str | None = None
        self._scope: trio.CancelScope | None = None
        self._tasks: trio.Nursery = nursery  # replaced by the session's own nursery
        self._stopped = trio.Event()
        self._closed = False
        # observability (tests and the operator read these)
        self.ticks = 0
        self.heartbeats = 0
        self.pongs = 0
        self.dead_sockets = 0
        self.reconnects = 0
        self.postbacks = 0
        self.errors: deque[str] = deque(maxlen=256)  # recent problems, newest last
        self.order_requests: deque[float] = deque(maxlen=10_000)  # trio time of each sent

    def __repr__(self) -> str:  # never show credentials
        return f"<KiteVenue root={self.root!r} ws={self.ws_root!r}>"

    def _connection(self, up: bool, reason: str) -> None:
        if up == self._reported_up:
            return
        self._reported_up = up
        if self.sink is not None:
            self.sink.on_connection(up, reason)

    def _check_open(self) -> None:
        if self._closed:
            raise VenueError("the Kite session is closed")
        if self.sink is None:
            raise VenueError("the Kite session is not connected")

    async def connect(self, sink: VenueSink) -> None:
        if self._closed:
            raise VenueError("the Kite session is closed")
        try:
            await self._rest(self.kite.profile)
        except kex.TokenException:
            raise VenueError("Kite refused the API key / access token (TokenException)") from None
        except (kex.KiteException, requests.RequestException) as exc:
            raise VenueError(f"cannot reach Kite at {self.root}: {safe(exc)}") from None
        for inst in self.instruments.values():
            await self._resolve(inst)
        self.sink = sink
        await self._nursery.start(self._session)
        with trio.move_on_after(seconds(self.settings.connect_timeout)):
            await self._ready.wait()
        if not self._ready.is_set():
            why = self._first_failure or "no answer"
            await self.close()
            raise VenueError(f"Kite ticker did not connect within "
                             f"{seconds(self.settings.connect_timeout):g}s: {why}")

    async def _session(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                async with trio.open_nursery() as nursery:
                    self._tasks = nursery
                    nursery.start_soon(self._ticker_loop)
                    nursery.start_soon(self._update_worker)
                    nursery.start_soon(self._reconcile_loop)
                    task_status.started()
        finally:
            self._ws = None
            self._ws_up = False
            self._stopped.set()

    async def close(self) -> None:
        self._closed = True
        if self._scope is not None:
            self._scope.cancel()
            with trio.move_on_after(2):
                await self._stopped.wait()
        else:
            await trio.lowlevel.checkpoint()


@asynccontextmanager
async def open_kite_venue(api_key: str, access_token: str, *, instruments: dict[str, Instrument],
                          root: str = PRODUCTION_ROOT, ws_root: str = PRODUCTION_WS,
                          settings: KiteSettings = KiteSettings(),
                          clock_ns: Callable[[], int] = time.time_ns) -> AsyncIterator[KiteVenue]:
    """A KiteVenue whose background tasks live exactly as long as this block."""
    async with trio.open_nursery() as nursery:
        venue = KiteVenue(api_key, access_token, instruments=instruments, nursery=nursery,
                          root=root, ws_root=ws_root, settings=settings, clock_ns=clock_ns)
        try:
            yield venue
        finally:
            with trio.CancelScope(shield=True):
                await venue.close()
            nursery.cancel_scope.cancel()
