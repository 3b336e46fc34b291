"""The exit path's two shortcuts through ib_async, each checked against ib_async itself.

``bench/live_latency.py`` measures tick-in -> exit-order-on-the-socket. Two costs in
ib_async dominate the venue thread's share of it, and both are replaced on our client
only, never blindly:

* ib_async's per-message encoder (``Client.send``) is replaced by ``fast_send``: the
  same bytes (checked against the library's own encoder at every connect, on samples
  that cover each of its branches; on any difference the library's stays), about half
  the time of a placeOrder. The fields are joined into NUL-terminated text by
  ``wire.tws.join_fields``, the one definition of the TWS field framing; the per-field
  conversion stays ib_async's own (floats, its "unset" sentinels, ``str(Decimal)``),
  not the server side's strict encoder, because matching ib_async byte for byte is the
  point. ib_async's ``sendMsg`` still adds the length prefix and does the pacing.
* ib_async Order objects (a ~130-field dataclass) are filled in from a template
  (``OrderMaker``), checked equal to what ib_async's constructors make (else the
  constructors are used).
"""
from __future__ import annotations

import logging
import math
from decimal import Decimal
from typing import Any, Callable

from ...kernel.orders import OrderType
from ...wire.tws import join_fields
from .conventions import load_ib_async

log = logging.getLogger("triotrade.venues.ibkr")

def fast_send(client: Any) -> Callable[..., None]:
    """A drop-in for ``ib_async.client.Client.send`` on one client: the same bytes.

    ib_async's ``send`` rebuilds a dict of a dozen converter lambdas and an
    ``io.StringIO`` on every message; a placeOrder is ~100 fields, ~25 µs of the
    venue thread's time on the exit path. This does the same per-field conversion
    with type tests and one join (about 2.5x faster). ``install_fast_send`` checks
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
        client.sendMsg(join_fields(out))

    return send


def _send_samples() -> list[tuple[tuple[Any, ...], bool]]:
    """Field tuples covering every branch of ib_async's message encoder."""
    ib_async = load_ib_async()
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


def install_fast_send(client: Any) -> bool:
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


class OrderMaker:
    """ib_async orders (MKT, LMT, STP) filled in from a template.

    ``ib_async.Order`` is a dataclass of ~130 fields; its ``__init__`` costs ~6 µs, a
    dict copy plus fresh mutable defaults ~1 µs. ``fast`` is set only if orders made
    this way equal those from ib_async's own constructors (checked once, here).
    """

    def __init__(self) -> None:
        import dataclasses

        ib_async = load_ib_async()
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
