"""IbkrVenue: the ``Venue`` protocol on ``ib_async`` 2.x (TWS / IB Gateway).

The bridge between trio and asyncio
-----------------------------------
``ib_async`` is an asyncio library whose client, wrapper and events all assume they
own the running loop. We give it one: a dedicated thread runs a private asyncio loop,
and every ``ib_async`` object is created and touched only in that thread. The trio
side talks to it in two directions:

* trio -> asyncio: a request (submit, cancel, subscribe, queries) is a function handed
  to ``loop.call_soon_threadsafe``; the trio task waits on a ``trio.Event`` that the
  venue thread sets through ``TrioToken.run_sync_soon`` with the outcome. A request
  that can be done at once (placing an order whose contract is known, a cancel) runs
  right in that callback: no asyncio Task, no extra loop iteration, which is most of
  the hop's cost on the exit path. A request that must wait for IB's answer returns a
  coroutine, which becomes a Task; if the trio task is cancelled while it waits, that
  asyncio Task is cancelled: cancellation reaches the in-flight request, not just the
  waiter (``cancelled_calls`` counts it happening).
* asyncio -> trio: quotes, execution reports and connection changes are posted with
  ``TrioToken.run_sync_soon`` and delivered to the kernel's synchronous ``VenueSink``
  / quote handler in trio's thread, in the order the socket produced them (FIFO). A
  tick costs one ``run_sync_soon`` and no trio task wake-up, as the kernel expects.

Why not trio-asyncio: it runs asyncio *inside* trio's scheduler, so ib_async would
share the kernel's thread and any blocking or slow callback in it (ib_async logs,
parses and dataclass-copies on every message) would stall the kernel's tick path; it
is also one more pinned dependency with its own loop-policy tricks. A thread with its
own loop isolates ib_async completely, needs nothing beyond the standard library, and
the only shared state is the two explicit crossings above. The price is that venue
state lives in the asyncio thread; the trio side never reads it directly.

What the adapter guarantees
---------------------------
* Orders carry ``ROLE:order_id:run`` in ``orderRef`` (the role first, as issue 5 asks;
  the run tag keeps refs unique across runs on the same account and day). Prices go
  out as exact Decimals, quantities as integers, good-till-date as whole UTC seconds.
  Fill prices come back as floats from ib_async's decoder and are converted with
  ``to_units(repr(price))``: the shortest repr of the double the server's decimal text
  parsed to, i.e. that text. No money arithmetic is done in float.
* Order state comes from the server's own messages, tapped at the wrapper
  (orderStatus, execDetails, openOrder, completedOrder, error). We do not read
  ib_async's ``Trade.orderStatus``: ib_async turns every non-warning error code on an
  order (10349 "TIF set to DAY by preset", for instance) into a local ``Cancelled``
  although the order is still working at IB. Here only 201/200/103/110/... on an order
  IB has not acknowledged is a reject; 202 or a server ``Cancelled`` status is a
  cancel (or an expiry, when its good-till-date has passed and we did not ask); any
  other code on an order is logged and changes nothing.
* A terminal status that claims more filled shares than we have seen executions for
  is held back until those executions arrive (or, after a grace period, executions
  are requested again), so the kernel never sees "cancelled" before the last fill.
* After a drop: ``on_connection(False)``, reconnect with backoff, then reconcile
  before ``on_connection(True)``: open orders (ack what is working), completed orders
  (finish what ended while away), executions (replay every fill we have not
  reported, deduplicated by execId), positions (compared with what our fills imply;
  the result is in the ``venue_reconnected`` reason), market data resubscribed and a
  fresh quote awaited. An order that IB never saw (lost in the drop) is reported
  rejected. The same reconciliation runs after IB's own 1100 -> 1101/1102.
* Pacing: ib_async throttles outgoing messages to 45 per second (IB's limit is 50);
  we set that explicitly. A heartbeat (reqCurrentTime) detects a dead but open socket.

Latency (``bench/live_latency.py`` measures tick-in -> exit-order-on-the-socket)
------------------------------------------------------------------------------
* ib_async's per-message encoder is replaced, on our client only, by ``fast_send``:
  the same bytes (checked against the library's own encoder at every connect; on any
  difference the library's stays), about half the time of a placeOrder.
* ib_async Order objects (a ~130-field dataclass) are filled in from a template,
  checked equal to what ib_async's constructors make (else the constructors are used).
* ib_async keeps every Trade of a session (~45 objects each, in reference cycles
  through their events). Finished orders are forgotten, with their ib_async Trades
  and Fills, after ``retain_done_s`` or beyond the ``retain_done`` most recent, so a
  long session's heap, and the garbage collector's pauses, do not grow by the order.
* ``probe``: an optional ``probe(point, perf_counter_ns, info)`` callback at the
  points the benchmark needs (``rx`` a socket chunk reaches ib_async, ``quote`` the
  quote goes to trio, ``quote_in`` trio delivers it, ``submit`` the kernel submits,
  ``submit_run`` it runs in the venue thread, ``placing`` ib_async is called,
  ``write``/``written`` around the socket write). None by default: then nothing is
  timed and nothing is wrapped; the hot path pays one ``is not None`` test.
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import math
import threading
import time
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import attrs
import trio

from ..kernel.errors import find_exception
from ..kernel.instruments import Instrument
from ..kernel.orders import Order, OrderType, Role, Side
from ..kernel.units import NS_PER_S, UnitError, fmt_units, to_units
from ..kernel.venue import ExecReport, OpenOrder, QuoteHandler, ReportKind, VenueError, VenueSink

log = logging.getLogger("triotrade.venues.ibkr")

DEFAULT_PORT = 4002  # IB Gateway, paper account
# Codes that mean "this new order was not accepted" when IB has not acknowledged it.
REJECT_CODES = frozenset({103, 110, 200, 201, 203, 382, 383, 434})
CANCEL_CODE = 202
LINK_LOST = 1100
LINK_RESTORED_DATA_LOST = 1101
LINK_RESTORED = 1102
CLIENT_ID_IN_USE = 326
_ROLES = {r.value for r in Role}
# A latency probe: ``probe(point, perf_counter_ns, info)``; see ``IbkrVenue`` ("Probe").
Probe = Callable[[str, int, Any], None]
_CANCELLED = ("Cancelled", "ApiCancelled")
_ACKED = ("PreSubmitted", "Submitted")


def _ib() -> Any:
    """Import ib_async lazily: the sim-only paths of the CLI never need it."""
    import ib_async

    return ib_async


def price_units(value: float) -> int:
    """An ib_async price (a float parsed from the server's decimal text) -> exact units."""
    if value is None or math.isnan(value) or math.isinf(value):
        raise UnitError(f"not a price: {value!r}")
    text = repr(float(value))
    try:
        return to_units(text)
    except UnitError:
        # more than 8 decimals (never for stocks): round half-even at 1e-8, on the text
        return to_units(Decimal(text).quantize(Decimal("0.00000001")))


def order_ref(order: Order, run_tag: str) -> str:
    return f"{order.role.value}:{order.order_id}:{run_tag}"


def parse_order_ref(ref: str) -> tuple[str, str] | None:
    """``ROLE:order_id:run`` -> (role, order_id); None for refs that are not ours."""
    parts = ref.split(":")
    if len(parts) >= 2 and parts[0] in _ROLES:
        return parts[0], parts[1]
    return None


def gtd_text(expire_ns: int) -> str:
    """Good-till-date as IB reads it: whole seconds, UTC (the ``-`` form), rounded up."""
    secs = -(-expire_ns // NS_PER_S)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(secs))


def fast_send(client: Any) -> Callable[..., None]:
    """A drop-in for ``ib_async.client.Client.send`` on one client: the same bytes.

    ib_async's ``send`` rebuilds a dict of a dozen converter lambdas and an
    ``io.StringIO`` on every message; a placeOrder is ~100 fields, ~25 µs of the
    venue thread's time on the exit path. This does the same per-field conversion
    with type tests and one join (about 2.5x faster). ``_install_fast_send`` checks
    it against the library's own ``send`` before using it.
    """
    from ib_async import client as client_mod

    contract_cls = client_mod.Contract
    unset_double = client_mod.UNSET_DOUBLE
    unset_int = client_mod.UNSET_INTEGER
    inf = math.inf

    def send(*fields: Any, makeEmpty: bool = True) -> None:  # noqa: N803 - ib_async's name
        if not client.isConnected():
            raise ConnectionError("Not connected")
        out: list[str] = []
        add = out.append
        for f in fields:
            t = type(f)
            if t is str:
                add(f)
            elif t is int:
                add("" if makeEmpty and f == unset_int else str(f))
            elif t is float:
                add("" if makeEmpty and f == unset_double else "Infinite" if f == inf else str(f))
            elif f is None:
                add("")
            elif t is bool:
                add("1" if f else "0")
            elif isinstance(f, contract_cls):
                add("\0".join([str(x) for x in (
                    f.conId, f.symbol, f.secType, f.lastTradeDateOrContractMonth, f.strike,
                    f.right, f.multiplier, f.exchange, f.primaryExchange, f.currency,
                    f.localSymbol, f.tradingClass)]))
            elif t is list:
                add("".join([f"{v.tag}={v.value};" for v in f]))
            else:
                add(str(f))
        add("")
        client.sendMsg("\0".join(out))

    return send


def _send_samples() -> list[tuple[tuple[Any, ...], bool]]:
    """Field tuples covering every branch of ib_async's message encoder."""
    ib_async = _ib()
    from ib_async import client as client_mod

    stock = ib_async.Stock("ACME", "SMART", "USD", primaryExchange="NASDAQ")
    stock.conId = 123456
    future = ib_async.Contract(secType="FUT", symbol="ES", lastTradeDateOrContractMonth="202612",
                               exchange="CME", currency="USD", multiplier="50", strike=0.0)
    tags = [ib_async.TagValue("a", "1"), ib_async.TagValue("b", "x y")]
    fields = (3, 17, stock, future, "", "BUY", 100.0, 0.0, -1.5, 1e-7, 123456789.125,
              client_mod.UNSET_DOUBLE, client_mod.UNSET_INTEGER, math.inf, -math.inf, None,
              True, False, 0, -1, 2**40, Decimal("100.01"), Decimal("1E-8"), tags, [],
              ib_async.TagValue("c", "3"), "GTD", "20260101-10:00:00", "ENTRY:o1:run")
    return [(fields, True), (fields, False), ((), True), (("x",), True)]


def _install_fast_send(client: Any) -> bool:
    """Use ``fast_send`` on ``client`` if it encodes the samples exactly as ib_async's
    own ``send`` does (it would not after an incompatible ib_async change)."""

    class Capture:
        def __init__(self) -> None:
            self.msgs: list[str] = []

        def isConnected(self) -> bool:  # noqa: N802 - ib_async's name
            return True

        def sendMsg(self, msg: str) -> None:  # noqa: N802
            self.msgs.append(msg)

    try:
        ours, theirs = Capture(), Capture()
        fast = fast_send(ours)
        original = type(client).send
        for fields, empty in _send_samples():
            fast(*fields, makeEmpty=empty)
            original(theirs, *fields, makeEmpty=empty)
        same = ours.msgs == theirs.msgs
    except Exception:  # noqa: BLE001 - any surprise: keep the library's encoder
        log.warning("ib_async's message encoder changed; using it as is", exc_info=True)
        return False
    if not same:
        log.warning("ib_async's message encoder changed; using it as is")
        return False
    client.send = fast_send(client)
    return True


class _OrderMaker:
    """ib_async orders (MKT, LMT, STP) filled in from a template.

    ``ib_async.Order`` is a dataclass of ~130 fields; its ``__init__`` costs ~6 µs, a
    dict copy plus fresh mutable defaults ~1 µs. ``fast`` is set only if orders made
    this way equal those from ib_async's own constructors (checked once, here).
    """

    def __init__(self) -> None:
        import dataclasses

        ib_async = _ib()
        self.classes = {OrderType.MARKET: ib_async.MarketOrder,
                        OrderType.LIMIT: ib_async.LimitOrder,
                        OrderType.STOP: ib_async.StopOrder}
        base = ib_async.Order
        self.template = dict(vars(base()))
        self.factories = [(f.name, f.default_factory) for f in dataclasses.fields(base)
                          if f.default_factory is not dataclasses.MISSING]
        self.fast = False
        if not hasattr(base, "__post_init__"):
            try:
                self.fast = all(
                    type(a) is type(b) and vars(a) == vars(b)
                    for kind, price in ((OrderType.MARKET, None),
                                        (OrderType.LIMIT, Decimal("101.25")),
                                        (OrderType.STOP, Decimal("97.5")))
                    for a, b in [(self._fast(kind, "SELL", 7.0, price),
                                  self._slow(kind, "SELL", 7.0, price))])
            except Exception:  # noqa: BLE001 - another ib_async layout: its constructors
                log.debug("order template check failed", exc_info=True)

    def make(self, kind: OrderType, action: str, qty: float, price: Decimal | None) -> Any:
        if self.fast:
            return self._fast(kind, action, qty, price)
        return self._slow(kind, action, qty, price)

    def _slow(self, kind: OrderType, action: str, qty: float, price: Decimal | None) -> Any:
        cls = self.classes[kind]
        return cls(action, qty) if kind is OrderType.MARKET else cls(action, qty, price)

    def _fast(self, kind: OrderType, action: str, qty: float, price: Decimal | None) -> Any:
        o = object.__new__(self.classes[kind])
        d = o.__dict__
        d.update(self.template)
        for name, factory in self.factories:
            d[name] = factory()
        d["action"] = action
        d["totalQuantity"] = qty
        if kind is OrderType.MARKET:
            d["orderType"] = "MKT"
        elif kind is OrderType.LIMIT:
            d["orderType"] = "LMT"
            d["lmtPrice"] = price
        else:
            d["orderType"] = "STP"
            d["auxPrice"] = price
        return o


def _venue_error(exc: BaseException) -> BaseException:
    """I/O trouble under a request becomes a VenueError; anything else stays itself."""
    if isinstance(exc, (ConnectionError, OSError, asyncio.TimeoutError)) and \
            not isinstance(exc, VenueError):
        return VenueError(f"IB request failed: {type(exc).__name__}: {exc}")
    return exc


class _Call:
    """One trio -> venue-thread request: its outcome, and the way back to trio."""

    __slots__ = ("token", "done", "value", "error", "task", "abandoned")

    def __init__(self, token: trio.lowlevel.TrioToken) -> None:
        self.token = token
        self.done = trio.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.task: asyncio.Future[Any] | None = None
        self.abandoned = False  # set by the trio side when its waiter was cancelled

    def finish(self, value: Any, error: BaseException | None) -> None:  # venue thread
        self.value = value
        self.error = error
        try:
            self.token.run_sync_soon(self.done.set)
        except trio.RunFinishedError:
            pass

    def task_done(self, task: asyncio.Future[Any]) -> None:  # venue thread
        if task.cancelled():
            self.finish(None, VenueError("request cancelled"))
        else:
            self.finish(task.result() if task.exception() is None else None, task.exception())


@attrs.define(eq=False)
class _Rec:
    """Our record of one order we sent: what we told the kernel, and IB's ids for it."""

    order_id: str
    symbol: str
    role: str
    side: Side
    qty: int
    expire_ns: int | None
    ref: str
    ib_order: Any
    ib_id: int = 0
    perm_id: int = 0
    acked: bool = False
    done: bool = False  # a terminal report went to the kernel
    filled: int = 0  # executions reported to the kernel
    broker_filled: int = 0  # what IB's last orderStatus said
    exec_ids: set[str] = attrs.Factory(set)
    cancel_requested: bool = False
    pending: tuple[ReportKind, str, int] | None = None  # terminal report held for fills
    catch_up_scheduled: bool = False
    sent_epoch: int = 0


@attrs.define(eq=False)
class _Sub:
    symbol: str
    contract: Any
    on_quote: QuoteHandler
    ticker: Any = None
    fresh: asyncio.Event | None = None
    cache: dict[float, int] = attrs.Factory(dict)


class IbkrVenue:
    """The Venue protocol against TWS / IB Gateway through ib_async."""

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
        self._recs: dict[str, _Rec] = {}
        self._sent_ids: set[str] = set()  # every order id ever placed (plain strings)
        self._retired: deque[tuple[float, _Rec]] = deque()  # finished, oldest first
        self._by_ib: dict[int, _Rec] = {}
        self._by_perm: dict[int, _Rec] = {}
        self._by_ref: dict[str, _Rec] = {}
        self._subs: dict[str, _Sub] = {}
        self._contracts: dict[str, Any] = {}
        self._baseline: dict[str, int] = {}
        self._fill_pos: dict[str, int] = {}
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
        self._maker: _OrderMaker | None = None
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

    # ---------------------------------------------------------------- the bridge

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in the venue thread; cancellation goes with it.

        ``fn`` runs directly in a ``call_soon_threadsafe`` callback: a synchronous
        request (placing an order whose contract is known, a cancel) is done in the
        first loop iteration after the wake-up, with no asyncio Task. When ``fn``
        returns an awaitable (a request that waits for IB's answer), that becomes a
        Task, and cancelling the trio waiter cancels it.
        """
        loop = self._loop
        token = self._token
        if loop is None or token is None or loop.is_closed():
            raise VenueError("the IB venue is not connected")
        call = _Call(token)
        try:
            loop.call_soon_threadsafe(self._a_start, call, fn, args)
        except RuntimeError:  # closed meanwhile
            raise VenueError("the IB venue is not connected") from None
        try:
            await call.done.wait()
        except BaseException:
            call.abandoned = True
            try:  # FIFO after _a_start: the task, if any, exists by then
                loop.call_soon_threadsafe(self._a_abandon, call)
            except RuntimeError:
                pass
            raise
        if call.error is not None:
            raise call.error
        return call.value

    def _a_start(self, call: _Call, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        if call.abandoned:
            call.finish(None, VenueError("request cancelled before it started"))
            return
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the trio caller
            call.finish(None, _venue_error(exc))
            return
        if not inspect.isawaitable(result):
            call.finish(result, None)
            return
        task = call.task = asyncio.ensure_future(self._guard(result))
        task.add_done_callback(call.task_done)

    def _a_abandon(self, call: _Call) -> None:
        if call.task is not None:
            call.task.cancel()  # cancels the asyncio task: the request itself stops

    async def _guard(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except asyncio.CancelledError:
            self.cancelled_calls += 1
            raise
        except BaseException as exc:
            raise _venue_error(exc) from None

    async def _stop_thread(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            await trio.to_thread.run_sync(thread.join)
        self._thread = None
        self._loop = None

    def _thread_main(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        """asyncio thread -> trio thread, FIFO, synchronous delivery."""
        token = self._token
        if token is None or self._state == "closed":
            return
        try:
            token.run_sync_soon(self._deliver, fn, args)
        except trio.RunFinishedError:
            pass

    def _deliver(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        # runs in trio's thread; an exception here would be a TrioInternalError
        try:
            fn(*args)
        except Exception:  # noqa: BLE001
            self.sink_errors += 1
            log.exception("kernel callback %r raised", fn)

    def _report(self, kind: ReportKind, rec: _Rec, *, qty: int = 0, price: int = 0,
                reason: str = "", exec_id: str = "") -> None:
        sink = self._sink
        if sink is None:
            return
        self._post(sink.on_report,
                   ExecReport(kind, rec.order_id, time.time_ns(), qty, price, reason, exec_id))

    def _connection(self, up: bool, reason: str) -> None:
        sink = self._sink
        if sink is not None:
            self._post(sink.on_connection, up, reason)

    # ================================================================ asyncio side

    def _a_state(self) -> str:
        return self._state

    async def _a_first_connect(self) -> None:
        ib_async = _ib()
        ib = self._ib = ib_async.IB()
        ib.client.MaxRequests = self.max_requests_per_s  # IB pacing: < 50 msg/s
        ib.client.RequestsInterval = 1
        self._install_taps(ib)
        self.fast_send = _install_fast_send(ib.client)
        if self._probe is not None:
            self._install_probe(ib)
        ib.disconnectedEvent += self._on_disconnected
        self._state = "connecting"
        try:
            await self._a_open()
            summary = await self._a_reconcile(first=True)
        except VenueError:
            self._state = "idle"
            self._safe_disconnect()
            raise
        except Exception as exc:  # noqa: BLE001
            self._state = "idle"
            self._safe_disconnect()
            raise VenueError(self._describe_failure(exc)) from None
        self._epoch += 1
        self._state = "up"
        self.last_reconcile = summary
        log.info("connected to IB at %s:%s as clientId %d; %s", self.host, self.port,
                 self.client_id, summary)
        self._start_heartbeat()

    async def _a_open(self) -> None:
        self._connect_errors.clear()
        self._completed_info.clear()
        refused = self._refused = asyncio.Event()
        connect = asyncio.ensure_future(self._ib.connectAsync(
            self.host, self.port, clientId=self.client_id, timeout=self.connect_timeout,
            account=self.account, raiseSyncErrors=True))
        watch = asyncio.ensure_future(refused.wait())
        try:
            # IB answers a clientId in use with 326 and a close; ib_async would then sit
            # out its whole timeout waiting for a handshake that cannot come: fail now
            await asyncio.wait({connect, watch}, return_when=asyncio.FIRST_COMPLETED)
            if not connect.done():
                connect.cancel()
                await asyncio.gather(connect, return_exceptions=True)
                raise VenueError(self._describe_failure(ConnectionError("refused")))
            connect.result()
        except VenueError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise VenueError(self._describe_failure(exc)) from None
        finally:
            watch.cancel()
            if not connect.done():
                connect.cancel()
        if not self._ib.isConnected():
            raise VenueError(f"IB at {self.host}:{self.port} closed the connection while "
                             "synchronising")

    def _describe_failure(self, exc: BaseException) -> str:
        where = f"IB at {self.host}:{self.port} (clientId {self.client_id})"
        if CLIENT_ID_IN_USE in self._connect_errors:
            return (f"{where}: clientId {self.client_id} is already in use; pick another "
                    "--client-id or close the other session")
        if isinstance(exc, ConnectionRefusedError):
            return (f"cannot reach {where}: connection refused (is TWS / IB Gateway running "
                    "with the API enabled on that port?)")
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
            return (f"{where}: no API handshake within {self.connect_timeout:g}s (wrong port, "
                    "API disabled, or the gateway is not logged in)")
        if isinstance(exc, OSError):
            return f"cannot reach {where}: {exc.strerror or exc}"
        return f"{where}: {type(exc).__name__}: {exc}"

    def _safe_disconnect(self) -> None:
        try:
            if self._ib is not None:
                self._ib.disconnect()
        except Exception:  # noqa: BLE001 - best effort
            log.debug("disconnect failed", exc_info=True)

    async def _a_close(self) -> None:
        self._state = "closed"
        for task in (self._reconnect_task, self._heartbeat_task):
            if task is not None:
                task.cancel()
        self._safe_disconnect()

    # ---------------------------------------------------------------- wrapper taps

    def _install_taps(self, ib: Any) -> None:
        """See IB's raw messages, after ib_async has had them, without its interpretation."""
        w = ib.wrapper

        def tap(name: str, ours: Callable[..., None]) -> None:
            original = getattr(w, name)

            def both(*args: Any) -> None:
                original(*args)
                try:
                    ours(*args)
                except Exception:  # noqa: BLE001
                    self.internal_errors += 1
                    log.exception("IbkrVenue failed handling %s%r", name, args)

            setattr(w, name, both)

        tap("orderStatus", self._on_status)
        tap("openOrder", self._on_open_order)
        tap("completedOrder", self._on_completed_order)
        tap("execDetails", self._on_exec)
        tap("error", self._on_error)

    def _install_probe(self, ib: Any) -> None:
        """The probe points inside ib_async (installed only when a probe is given).

        ``rx``: ib_async's client calls ``tcpDataArrived`` first thing when the socket
        hands it a chunk, before decoding it. ``write`` / ``written``: around ib_async's
        ``Connection.sendMsg`` (``transport.write``: the bytes go into the socket);
        the info is the framed message.
        """
        probe = self._probe
        assert probe is not None
        client = ib.client
        arrived = client._tcpDataArrived  # noqa: SLF001 - ib_async's own optional hook
        clock = time.perf_counter_ns

        def on_arrival() -> None:
            probe("rx", clock(), None)
            if arrived is not None:
                arrived()

        client._tcpDataArrived = on_arrival  # noqa: SLF001
        conn = client.conn
        send = conn.sendMsg

        def send_msg(msg: bytes) -> None:
            probe("write", clock(), msg)
            send(msg)
            probe("written", clock(), msg)

        conn.sendMsg = send_msg

    def _probed_quote(self, on_quote: QuoteHandler) -> QuoteHandler:
        probe = self._probe
        assert probe is not None
        clock = time.perf_counter_ns

        def stamped(ts: int, bid: int, ask: int, last: int, bs: int, asz: int) -> None:
            probe("quote_in", clock(), (bid, ask, last))
            on_quote(ts, bid, ask, last, bs, asz)

        return stamped

    def _find(self, client_id: int, order_id: int, perm_id: int, ref: str) -> _Rec | None:
        if order_id and (client_id == self.client_id or client_id == 0):
            rec = self._by_ib.get(order_id)
            if rec is not None:
                return rec
        if perm_id:
            rec = self._by_perm.get(perm_id)
            if rec is not None:
                return rec
        if ref:
            return self._by_ref.get(ref)
        return None

    def _learn_perm(self, rec: _Rec, perm_id: int) -> None:
        if perm_id and rec.perm_id != perm_id:
            rec.perm_id = perm_id
            self._by_perm[perm_id] = rec

    def _ack(self, rec: _Rec) -> None:
        if not rec.acked and not rec.done:
            rec.acked = True
            if rec.filled == 0:  # after a fill the kernel must not see an ack
                self._report(ReportKind.ACCEPTED, rec)

    def _on_status(self, order_id: int, status: str, filled: float, remaining: float,
                   avg: float, perm_id: int, parent_id: int, last: float, client_id: int,
                   why_held: str = "", mkt_cap: float = 0.0) -> None:
        rec = self._find(client_id, order_id, perm_id, "")
        if rec is None:
            return
        self._learn_perm(rec, perm_id)
        rec.broker_filled = max(rec.broker_filled, int(filled))
        if rec.broker_filled > rec.filled:
            self._schedule_catch_up(rec)  # executions should follow; make sure they do
        if rec.done:
            return
        if status in _ACKED:
            self._ack(rec)
        elif status == "Filled":
            rec.acked = True  # the fills themselves carry the news
        elif status in _CANCELLED:
            kind, reason = self._cancel_kind(rec, "")
            self._terminal(rec, kind, reason, int(filled))
        elif status == "Inactive":
            if not rec.acked and rec.filled == 0:
                self._terminal(rec, ReportKind.REJECTED, "inactive at IB", int(filled))
            else:
                log.warning("order %s is Inactive at IB (%s); left working", rec.order_id,
                            why_held)

    def _on_open_order(self, order_id: int, contract: Any, order: Any, state: Any) -> None:
        if getattr(order, "whatIf", False):
            return
        rec = self._find(order.clientId, order_id, order.permId, order.orderRef)
        if rec is None:
            return
        self._learn_perm(rec, order.permId)
        if not rec.done and state.status in _ACKED:
            self._ack(rec)

    def _on_completed_order(self, contract: Any, order: Any, state: Any) -> None:
        filled = order.filledQuantity
        try:
            filled_f = float(filled)
        except (TypeError, ValueError):
            filled_f = -1.0
        info = (state.status, state.completedStatus, filled_f if filled_f < 1e300 else -1.0)
        if order.permId:
            self._completed_info[("perm", order.permId)] = info
        if order.orderRef:
            self._completed_info[("ref", order.orderRef)] = info

    def _on_exec(self, req_id: int, contract: Any, ex: Any) -> None:
        rec = self._find(ex.clientId, ex.orderId, ex.permId, ex.orderRef)
        if rec is None:
            return
        self._learn_perm(rec, ex.permId)
        if ex.execId in rec.exec_ids:
            return
        shares = float(ex.shares)
        qty = int(shares)
        if qty != shares or qty <= 0:
            log.error("execution %s of %s: %r shares is not a positive whole number",
                      ex.execId, rec.order_id, ex.shares)
            return
        try:
            price = price_units(ex.price)
        except UnitError:
            log.error("execution %s of %s: bad price %r", ex.execId, rec.order_id, ex.price)
            return
        rec.exec_ids.add(ex.execId)
        rec.filled += qty
        self.fills_reported += 1
        self._fill_pos[rec.symbol] = self._fill_pos.get(rec.symbol, 0) + rec.side.sign * qty
        if rec.done:
            log.error("fill %s for %s after its terminal report; delivering it anyway",
                      ex.execId, rec.order_id)
        self._report(ReportKind.FILL, rec, qty=qty, price=price, exec_id=ex.execId)
        if rec.filled >= rec.qty:
            rec.pending = None
            self._retire(rec)
        elif rec.pending is not None and rec.filled >= rec.pending[2]:
            kind, reason, _ = rec.pending
            rec.pending = None
            self._retire(rec)
            self._report(kind, rec, reason=reason)

    def _on_error(self, req_id: int, code: int, text: str, advanced: str = "") -> None:
        self.notices.append((req_id, code, text))
        if code == CLIENT_ID_IN_USE:
            self._connect_errors.append(code)
            if self._refused is not None:
                self._refused.set()
            return
        if code == LINK_LOST:
            log.warning("IB: %s (%d)", text, code)
            if self._state == "up":
                self._state = "link_down"
                self._stop_heartbeat()
                self._connection(False, f"IB connectivity lost ({code}): {text}")
            return
        if code in (LINK_RESTORED, LINK_RESTORED_DATA_LOST):
            log.warning("IB: %s (%d)", text, code)
            if self._state == "link_down":
                self._state = "restoring"
                asyncio.ensure_future(self._a_link_restored(code))
            return
        if 2100 <= code < 2200:
            log.debug("IB notice %d: %s", code, text)  # farm status etc.: informational
            return
        rec = self._by_ib.get(req_id) if req_id > 0 else None
        if rec is None:
            if req_id > 0 and code in REJECT_CODES | {CANCEL_CODE}:
                log.debug("IB error %d for request %d: %s", code, req_id, text)
            else:
                log.info("IB message %d (reqId %d): %s", code, req_id, text)
            return
        if code == CANCEL_CODE:
            reason = text.split("reason:", 1)[1].strip() if "reason:" in text else ""
            kind, why = self._cancel_kind(rec, reason)
            self._terminal(rec, kind, why, rec.broker_filled)
        elif code in REJECT_CODES and not rec.acked and rec.filled == 0:
            self._terminal(rec, ReportKind.REJECTED, f"IB {code}: {text}", 0)
        else:
            # 10349 (TIF changed by preset), 399, 404, 161, 10147/10148 (cancel refused),
            # 321 (modify refused)...: the order lives on; its fate arrives as a status.
            log.warning("IB %d on order %s (still working): %s", code, rec.order_id, text)

    def _cancel_kind(self, rec: _Rec, reason: str) -> tuple[ReportKind, str]:
        if rec.cancel_requested:
            return ReportKind.CANCELLED, reason or "cancelled"
        if "expire" in reason.lower() or (
                rec.expire_ns is not None
                and time.time_ns() >= rec.expire_ns - self.expiry_slack_ns):
            return ReportKind.EXPIRED, reason or "good-till-date expired"
        return ReportKind.CANCELLED, reason or "cancelled by IB"

    def _terminal(self, rec: _Rec, kind: ReportKind, reason: str, broker_filled: int) -> None:
        if rec.done or rec.pending is not None:
            return
        if broker_filled > rec.filled:
            # IB says more was filled than we have executions for: hold the terminal
            # report until they arrive, so no fill lands after a cancel
            rec.pending = (kind, reason, broker_filled)
            self._schedule_catch_up(rec)
            return
        self._retire(rec)
        self._report(kind, rec, reason=reason)

    def _retire(self, rec: _Rec) -> None:
        """The order is finished: keep its record a while (late or replayed messages
        about it are recognised and ignored), then forget it, and ib_async's Trade
        and Fills for it too. ib_async keeps every Trade of a session, ~45 objects
        each; a heap that grows by the order makes the garbage collector's full
        passes grow with it (tens of ms after a few thousand orders, paid on
        whatever tick or order is in flight when one starts)."""
        if rec.done:
            return
        rec.done = True
        self.orders_finished += 1
        retired = self._retired
        now = time.monotonic()
        retired.append((now, rec))
        horizon = now - self.retain_done_s
        while len(retired) > self.retain_done or retired[0][0] < horizon:
            self._forget(retired.popleft()[1])

    def _forget(self, rec: _Rec) -> None:
        for index, key in ((self._recs, rec.order_id), (self._by_ib, rec.ib_id),
                           (self._by_perm, rec.perm_id), (self._by_ref, rec.ref)):
            if index.get(key) is rec:  # type: ignore[attr-defined]
                del index[key]  # type: ignore[attr-defined]
        ib = self._ib
        if ib is None:
            return
        w = ib.wrapper
        try:
            keys = [(w.clientId, rec.ib_id)] if rec.ib_id > 0 else []
            if rec.perm_id:
                keys.append(rec.perm_id)
                trade = w.permId2Trade.get(rec.perm_id)
                if trade is not None and trade.order.orderRef == rec.ref:
                    del w.permId2Trade[rec.perm_id]
            for key in keys:
                trade = w.trades.get(key)
                if trade is not None and trade.order.orderRef == rec.ref:
                    del w.trades[key]
                    # an eventkit Event keeps the last values it emitted, the Trade
                    # itself: a reference cycle per Trade, which only a full collection
                    # would free (~80 ms for a few thousand Trades). Break it.
                    for name in getattr(trade, "events", ()):
                        event = getattr(trade, name, None)
                        if getattr(event, "_value", None) is not None:
                            event._value = None
            for exec_id in rec.exec_ids:
                w.fills.pop(exec_id, None)
        except (AttributeError, TypeError):  # another ib_async layout: keep its books
            log.debug("could not prune ib_async's records of %s", rec.order_id, exc_info=True)

    def _schedule_catch_up(self, rec: _Rec) -> None:
        if not rec.catch_up_scheduled:
            rec.catch_up_scheduled = True
            asyncio.get_running_loop().call_later(self.terminal_grace, self._catch_up, rec)

    def _catch_up(self, rec: _Rec) -> None:
        """IB's status is ahead of the executions we have: ask for them again, then
        finish a held terminal report even if they still do not come (and say so)."""
        rec.catch_up_scheduled = False
        if rec.filled >= rec.broker_filled and rec.pending is None:
            return

        async def fetch_then_finish() -> None:
            try:
                if self._state == "up":
                    await asyncio.wait_for(self._ib.reqExecutionsAsync(self._exec_filter()),
                                           self.request_timeout)
            except Exception:  # noqa: BLE001
                log.warning("re-requesting executions for %s failed", rec.order_id, exc_info=True)
            if rec.filled < rec.broker_filled:
                log.error("order %s: IB reports %d filled, executions for %d", rec.order_id,
                          rec.broker_filled, rec.filled)
            if rec.pending is not None and not rec.done:
                kind, reason, _ = rec.pending
                rec.pending = None
                self._retire(rec)
                self._report(kind, rec, reason=reason)

        asyncio.ensure_future(fetch_then_finish())

    def _exec_filter(self) -> Any:
        return _ib().ExecutionFilter(clientId=self.client_id)

    # ---------------------------------------------------------------- connection life

    def _on_disconnected(self) -> None:
        if self._state in ("closed", "connecting", "idle", "down"):
            return
        was = self._state
        self._state = "down"
        self._stop_heartbeat()
        log.warning("lost the connection to IB at %s:%s (was %s)", self.host, self.port, was)
        if was != "link_down":
            self._connection(False, "connection to IB lost")
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.ensure_future(self._a_reconnect())

    async def _a_reconnect(self) -> None:
        attempt = 0
        while self._state == "down":
            delay = self.backoff[min(attempt, len(self.backoff) - 1)]
            attempt += 1
            await asyncio.sleep(delay)
            if self._state != "down":
                return
            self._state = "connecting"
            since = self._progress()
            try:
                await self._a_open()
                summary = await self._a_reconcile(first=False, since=since)
                await self._a_resubscribe()
            except Exception as exc:  # noqa: BLE001
                log.warning("reconnect attempt %d to %s:%s failed: %s", attempt, self.host,
                            self.port, exc)
                self._safe_disconnect()
                if self._state == "connecting":
                    self._state = "down"
                continue
            if self._state != "connecting":  # closed meanwhile
                return
            if not self._ib.isConnected():
                self._state = "down"
                continue
            self._epoch += 1
            self._state = "up"
            self.reconnects += 1
            self.last_reconcile = summary
            log.warning("reconnected to IB after %d attempt(s); %s", attempt, summary)
            self._connection(True, f"reconnected after {attempt} attempt(s); {summary}")
            self._start_heartbeat()
            return

    async def _a_link_restored(self, code: int) -> None:
        try:
            summary = await self._a_reconcile(first=False)
            if code == LINK_RESTORED_DATA_LOST or any(s.ticker is None for s in self._subs.values()):
                await self._a_resubscribe()
        except Exception as exc:  # noqa: BLE001
            log.warning("reconciliation after IB %d failed: %s; dropping the session", code, exc)
            if self._state == "restoring":
                self._state = "up"  # let the disconnect handler take over
                self._safe_disconnect()
            return
        if self._state != "restoring":
            return
        self._epoch += 1
        self._state = "up"
        self.last_reconcile = summary
        self._connection(True, f"IB connectivity restored ({code}); {summary}")
        self._start_heartbeat()

    def _start_heartbeat(self) -> None:
        self._stop_heartbeat()
        if self.heartbeat > 0:
            self._heartbeat_task = asyncio.ensure_future(self._a_heartbeat())

    def _stop_heartbeat(self) -> None:
        task = self._heartbeat_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        self._heartbeat_task = None

    async def _a_heartbeat(self) -> None:
        """A socket can stay open while the far end is gone; ask the time to find out."""
        while self._state == "up":
            await asyncio.sleep(self.heartbeat)
            if self._state != "up":
                return
            try:
                await asyncio.wait_for(self._ib.reqCurrentTimeAsync(), self.request_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.warning("IB heartbeat failed (%s); dropping the connection", exc)
                self._heartbeat_task = None
                self._safe_disconnect()
                return

    def _progress(self) -> tuple[int, int]:
        """(fills reported, orders finished): taken before a reconnect, for its summary."""
        return self.fills_reported, self.orders_finished

    async def _a_reconcile(self, *, first: bool, since: tuple[int, int] | None = None) -> str:
        """Bring our records in line with IB's books. Runs before the session is 'up'.

        ``since``: the progress counters from before the connection was (re)opened;
        ib_async's own startup sync already replays executions inside connectAsync.
        """
        ib = self._ib
        t = self.request_timeout
        fills_before, done_before = since if since is not None else self._progress()
        opened = await asyncio.wait_for(ib.reqOpenOrdersAsync(), t)
        await asyncio.wait_for(ib.reqCompletedOrdersAsync(False), t)
        await asyncio.wait_for(ib.reqExecutionsAsync(self._exec_filter()), t)
        positions = await asyncio.wait_for(ib.reqPositionsAsync(), t)
        open_ids = {tr.order.orderId for tr in opened if tr.order.clientId in (self.client_id, 0)}
        open_perms = {tr.order.permId for tr in opened if tr.order.permId}
        lost: list[str] = []
        unknown: list[str] = []
        for rec in self._recs.values():
            if rec.done or rec.pending is not None:
                continue
            if rec.ib_id in open_ids or (rec.perm_id and rec.perm_id in open_perms):
                self._ack(rec)
                continue
            info = (self._completed_info.get(("perm", rec.perm_id)) if rec.perm_id else None) \
                or self._completed_info.get(("ref", rec.ref))
            if info is not None:
                status, text, filled = info
                broker_filled = int(filled) if filled >= 0 else rec.filled
                if status == "Filled":
                    if rec.filled < rec.qty:
                        unknown.append(f"{rec.order_id} filled at IB but executions missing")
                        rec.broker_filled = max(rec.broker_filled, rec.qty)
                        self._schedule_catch_up(rec)
                    continue
                if status == "Inactive" or text.lower().startswith("rejected"):
                    kind, why = ReportKind.REJECTED, text or "rejected at IB"
                    if rec.acked or rec.filled:
                        kind, why = ReportKind.CANCELLED, text or "inactive at IB"
                else:
                    kind, why = self._cancel_kind(rec, text if "expire" in text.lower() else "")
                    if kind is ReportKind.CANCELLED and text and not rec.cancel_requested:
                        why = text
                self._terminal(rec, kind, why, broker_filled)
                continue
            if not rec.acked and rec.filled == 0:
                lost.append(rec.order_id)
                self._terminal(rec, ReportKind.REJECTED, "never reached IB: the connection "
                               "dropped before it was acknowledged", 0)
            else:
                unknown.append(f"{rec.order_id} unknown to IB")
        broker = {}
        for p in positions:
            if self.account and p.account != self.account:
                continue
            sym = p.contract.symbol
            broker[sym] = broker.get(sym, 0) + int(p.position)
        if first:
            self._baseline = dict(broker)
            pos_text = "positions " + (", ".join(f"{s} {q}" for s, q in sorted(broker.items())
                                                 if q) or "flat")
        else:
            mismatch = []
            for sym in sorted(set(broker) | set(self._fill_pos) | set(self._baseline)):
                want = self._baseline.get(sym, 0) + self._fill_pos.get(sym, 0)
                have = broker.get(sym, 0)
                if want != have:
                    mismatch.append(f"{sym} IB {have} vs fills {want}")
            pos_text = ("positions match" if not mismatch
                        else "POSITION MISMATCH: " + "; ".join(mismatch))
            if mismatch:
                log.error("reconciliation: %s", pos_text)
        fills_now, done_now = self._progress()
        parts = [f"{fills_now - fills_before} fill(s) replayed",
                 f"{done_now - done_before} order(s) finished while away",
                 f"{sum(1 for r in self._recs.values() if not r.done)} working"]
        if lost:
            parts.append(f"{len(lost)} lost ({', '.join(lost)})")
        if unknown:
            parts.append("UNRESOLVED: " + "; ".join(unknown))
            log.error("reconciliation: %s", "; ".join(unknown))
        parts.append(pos_text)
        return "reconciled: " + ", ".join(parts)

    async def _a_resubscribe(self) -> None:
        subs = []
        for sub in self._subs.values():
            if sub.contract is None:  # subscribed during an outage
                c = self._contracts.get(sub.symbol)
                if c is None:
                    [c] = await asyncio.wait_for(self._ib.qualifyContractsAsync(
                        _ib().Stock(sub.symbol, "SMART", "USD")), self.request_timeout)
                    if c is None:
                        log.error("IB knows no stock %r: no market data for it", sub.symbol)
                        continue
                    self._contracts[sub.symbol] = c
                sub.contract = c
            subs.append(sub)
        for sub in subs:
            self._start_ticker(sub)
        if not subs or self.quote_wait <= 0:
            return
        events = [s.fresh for s in subs if s.fresh is not None]
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), self.quote_wait)
        except asyncio.TimeoutError:
            stale = [s.symbol for s in subs if s.fresh is not None and not s.fresh.is_set()]
            log.warning("no quote yet after resubscribing %s", ", ".join(stale))

    # ---------------------------------------------------------------- market data

    async def _a_contract(self, symbol: str, currency: str = "USD") -> Any:
        c = self._contracts.get(symbol)
        if c is not None:
            return c
        self._require_up()
        ib_async = _ib()
        [c] = await asyncio.wait_for(
            self._ib.qualifyContractsAsync(ib_async.Stock(symbol, "SMART", currency)),
            self.request_timeout)
        if c is None:
            raise VenueError(f"IB knows no {currency} stock {symbol!r} on SMART")
        self._contracts[symbol] = c
        return c

    async def _a_instrument(self, symbol: str) -> Instrument:
        self._require_up()
        ib_async = _ib()
        details = await asyncio.wait_for(
            self._ib.reqContractDetailsAsync(ib_async.Stock(symbol, "SMART", "USD")),
            self.request_timeout)
        if not details:
            raise VenueError(f"IB knows no USD stock {symbol!r} on SMART")
        d = details[0]
        c = d.contract
        c.exchange = "SMART"
        self._contracts.setdefault(symbol, c)
        tick = Decimal(repr(d.minTick)) if d.minTick and d.minTick > 0 else Decimal("0.01")
        size = int(d.sizeIncrement) if d.sizeIncrement and d.sizeIncrement >= 1 else 1
        return Instrument(symbol, tick, size, c.currency or "USD", "SMART")

    async def _a_subscribe(self, inst: Instrument, on_quote: QuoteHandler) -> None:
        old = self._subs.get(inst.symbol)
        if self._probe is not None:
            on_quote = self._probed_quote(on_quote)
        if self._state != "up":
            # an outage: remember it; the reconnect qualifies and subscribes
            self._subs[inst.symbol] = _Sub(inst.symbol, self._contracts.get(inst.symbol),
                                           on_quote)
            return
        contract = await self._a_contract(inst.symbol, inst.currency)
        if old is not None and old.ticker is not None and self._state == "up":
            try:
                self._ib.cancelMktData(old.contract)
            except Exception:  # noqa: BLE001
                log.debug("cancelMktData failed", exc_info=True)
        sub = _Sub(inst.symbol, contract, on_quote)
        self._subs[inst.symbol] = sub
        if self._state == "up":
            self._start_ticker(sub)

    def _start_ticker(self, sub: _Sub) -> None:
        sub.fresh = asyncio.Event()
        ticker = self._ib.reqMktData(sub.contract, "", False, False)
        sub.ticker = ticker

        def on_update(t: Any) -> None:
            if sub.ticker is t:
                self._on_ticker(sub, t)

        ticker.updateEvent += on_update

    def _units(self, sub: _Sub, value: float) -> int:
        u = sub.cache.get(value)
        if u is None:
            if len(sub.cache) > 4096:
                sub.cache.clear()
            u = sub.cache[value] = price_units(value)
        return u

    def _on_ticker(self, sub: _Sub, t: Any) -> None:
        bid, ask, last = t.bid, t.ask, t.last
        if not (bid > 0 and ask > 0):  # NaN (no quote yet) and -1 (empty side) fail this
            return
        try:
            b = self._units(sub, bid)
            a = self._units(sub, ask)
            lst = self._units(sub, last) if last > 0 else (b + a) // 2
        except UnitError:
            log.warning("unreadable quote for %s: %r/%r/%r", sub.symbol, bid, ask, last)
            return
        bs = int(t.bidSize) if t.bidSize == t.bidSize and t.bidSize > 0 else 0
        asz = int(t.askSize) if t.askSize == t.askSize and t.askSize > 0 else 0
        probe = self._probe
        if probe is not None:
            probe("quote", time.perf_counter_ns(), (b, a, lst))
        self._post(sub.on_quote, time.time_ns(), b, a, lst, bs, asz)
        if sub.fresh is not None:
            sub.fresh.set()

    # ---------------------------------------------------------------- orders

    def _require_up(self) -> None:
        if self._state != "up":
            raise VenueError(f"IB session is {self._state}, not up")

    def _build(self, order: Order, contract: Any) -> Any:
        action = "BUY" if order.side is Side.BUY else "SELL"
        qty = float(order.qty)  # exact: integers below 2**53
        price: Decimal | None = None
        if order.order_type is not OrderType.MARKET:
            if order.price is None or order.price <= 0:
                raise VenueError(f"{order.order_type.value} order {order.order_id} has no price")
            # exact decimal text, at least two places (ib_async sends str(Decimal) as is)
            price = Decimal(fmt_units(order.price, 2))
        maker = self._maker
        if maker is None:
            maker = self._maker = _OrderMaker()
        o = maker.make(order.order_type, action, qty, price)
        o.orderRef = order_ref(order, self.run_tag)
        if self.account:
            o.account = self.account
        if order.expire_ns is not None:
            o.tif = "GTD"
            o.goodTillDate = gtd_text(order.expire_ns)
        else:
            o.tif = "GTC"
        return o

    def _a_submit(self, order: Order) -> Any:
        """Place the order now when its contract is known (the hot path: no Task, no
        await); otherwise return a coroutine that qualifies the contract first."""
        probe = self._probe
        if probe is not None:
            probe("submit_run", time.perf_counter_ns(), order)
        self._require_up()
        if order.order_id in self._sent_ids:
            raise VenueError(f"order id {order.order_id} was already sent")
        contract = self._contracts.get(order.symbol)
        if contract is None:
            return self._a_submit_qualified(order)
        self._place(order, contract)
        return None

    async def _a_submit_qualified(self, order: Order) -> None:
        contract = await self._a_contract(order.symbol)
        self._require_up()  # the await may have seen the session drop
        if order.order_id in self._sent_ids:
            raise VenueError(f"order id {order.order_id} was already sent")
        self._place(order, contract)

    def _place(self, order: Order, contract: Any) -> None:
        ib_order = self._build(order, contract)
        probe = self._probe
        if probe is not None:
            probe("placing", time.perf_counter_ns(), order)
        trade = self._ib.placeOrder(contract, ib_order)
        rec = _Rec(order.order_id, order.symbol, order.role.value, order.side, order.qty,
                   order.expire_ns, ib_order.orderRef, ib_order, ib_id=trade.order.orderId,
                   sent_epoch=self._epoch)
        self._sent_ids.add(order.order_id)
        self._recs[order.order_id] = rec
        self._by_ib[rec.ib_id] = rec
        self._by_ref[rec.ref] = rec

    def _a_cancel(self, order_id: str) -> None:
        rec = self._recs.get(order_id)
        if rec is None:
            if order_id in self._sent_ids:
                return  # finished and forgotten
            raise VenueError(f"order {order_id} was never sent to IB")
        if rec.done:
            return
        self._require_up()
        rec.cancel_requested = True
        self._ib.cancelOrder(rec.ib_order)

    # ---------------------------------------------------------------- queries

    async def _a_positions(self) -> dict[str, int]:
        self._require_up()
        positions = await asyncio.wait_for(self._ib.reqPositionsAsync(), self.request_timeout)
        out: dict[str, int] = {}
        for p in positions:
            if self.account and p.account != self.account:
                continue
            out[p.contract.symbol] = out.get(p.contract.symbol, 0) + int(p.position)
        return {s: q for s, q in out.items() if q}

    async def _a_open_orders(self) -> list[OpenOrder]:
        self._require_up()
        trades = await asyncio.wait_for(self._ib.reqOpenOrdersAsync(), self.request_timeout)
        out = []
        for tr in trades:
            o = tr.order
            rec = self._find(o.clientId, o.orderId, o.permId, o.orderRef)
            parsed = parse_order_ref(o.orderRef or "")
            role = rec.role if rec else (parsed[0] if parsed else "")
            oid = rec.order_id if rec else f"ib:{o.permId}"
            filled = rec.filled if rec else int(tr.orderStatus.filled)
            out.append(OpenOrder(oid, tr.contract.symbol, o.action, int(o.totalQuantity),
                                 filled, role))
        return out

    async def _a_cash(self) -> int:
        self._require_up()
        values = self._ib.accountValues(self.account)
        if not any(v.tag == "TotalCashValue" for v in values):
            values = await asyncio.wait_for(self._ib.accountSummaryAsync(self.account),
                                            self.request_timeout)
        for ccy in ("USD", "BASE"):
            for v in values:
                if v.tag == "TotalCashValue" and v.currency == ccy:
                    return to_units(v.value)
        raise VenueError("IB reported no TotalCashValue for the account")


# ==================================================================== the CLI entry




def cli_run(*, config_path: str | Path, host: str, port: int | None, client_id: int, live: bool,
            journal_path: str | Path | None) -> int:
    """``triotrade run --venue ibkr --config F``: 0 after a clean run, 2 when nothing could run."""
    import sys

    import click

    from .live import LiveConfigError, load_live_config, run_live

    try:
        cfg = load_live_config(config_path)
    except LiveConfigError as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        return 2
    port = DEFAULT_PORT if port is None else port
    if journal_path is None:
        journal_path = Path("runs") / f"live-ibkr-{time.time_ns() // NS_PER_S}.jsonl"
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not live:
        click.echo("dry run: market data only; every order is refused before it leaves this "
                   "process (pass --live to trade)")
    click.echo(f"IB at {host}:{port}, clientId {client_id}; journal: {journal_path}")
    venue = IbkrVenue(host, port, client_id)
    header = {"venue": "ibkr", "broker": f"{host}:{port}", "client_id": client_id}
    try:
        kernel = trio.run(functools.partial(run_live, venue, cfg, journal_path, live=live,
                                            header=header))
    except KeyboardInterrupt:
        click.echo("stopped (Ctrl-C); journal flushed")
        return 0
    except BaseException as exc:  # noqa: BLE001 - turned into a message and an exit code
        venue_exc = find_exception(exc, VenueError)
        if venue_exc is not None:
            click.echo(f"error: {venue_exc}", err=True)
            return 2
        os_exc = find_exception(exc, OSError)
        if os_exc is not None:
            click.echo(f"{journal_path}: {getattr(os_exc, 'strerror', None) or os_exc}", err=True)
            return 2
        if find_exception(exc, KeyboardInterrupt) is not None:
            click.echo("stopped (Ctrl-C); journal flushed")
            return 0
        raise
    for sym, t in sorted(kernel.tickers.items()):
        click.echo(f"{sym}: position {t.position.qty}, realized {fmt_units(t.position.realized)}")
    click.echo(f"journal: {journal_path}")
    sys.stdout.flush()
    click.echo(f"digest: {kernel.journal.digest}")
    return 0


__all__ = ["IbkrVenue", "cli_run", "price_units", "order_ref", "parse_order_ref", "gtd_text"]
