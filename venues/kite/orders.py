"""Orders out: the kernel's orders as Kite order parameters, placed, cancelled, expired.

The kernel's orders map to Kite as: MARKET -> ``MARKET`` (with market protection),
LIMIT -> ``LIMIT``, STOP -> ``SL-M``, or ``SL`` with a limit a few ticks through the
trigger for options (exchanges refuse SL-M on options). Kite has no sub-minute
good-till-date, so an order's ``expire_ns`` is kept here: a timer cancels it and the
cancel is reported as EXPIRED. There is no GTT anywhere: a GTT fires on the broker's
schedule, and GTT lag through a gap is the incident this project exists to prevent;
protection is the kernel's gap detector and market exits.
"""
from __future__ import annotations

import inspect
import itertools
import time
from decimal import Decimal
from typing import Any

import attrs
import requests
import trio
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from ...kernel.orders import Order, OrderType
from ...kernel.units import NS_PER_S, fmt_units
from ...kernel.venue import ReportKind, VenueError
from .config import seconds
from .instruments import KiteInstrumentInfo
from .rest import Refused, safe

SESSIONS = itertools.count(1)
# kiteconnect grew ``market_protection`` within 5.x; older clients would refuse the keyword
HAS_MARKET_PROTECTION = ("market_protection"
                          in inspect.signature(KiteConnect.place_order).parameters)



@attrs.define(eq=False)
class Rec:
    """Our side of one order: the kernel's id, Kite's id, and what was reported."""

    order_id: str
    symbol: str
    side: str
    qty: int
    role: str
    tag: str
    expire_ns: int | None
    kite_id: str | None = None
    filled: int = 0  # reported to the kernel
    kite_filled: int = 0  # Kite's filled_quantity, as last seen
    kite_status: str = ""
    trade_ids: set[str] = attrs.Factory(set)
    acked: bool = False
    done: bool = False
    user_cancel: bool = False
    expiring: bool = False
    placed: trio.Event = attrs.Factory(trio.Event)  # the placement attempt finished
    last_seen: float = 0.0
    unknown_since: float | None = None  # placement reply lost and not in the order book



# the role travels in the tag (one letter after the session prefix), so an order of
# ours from an earlier run is recognised, with its role, by a restarted kernel
ROLE_CODES = {"ENTRY": "E", "TAKE_PROFIT": "T", "STOP_LOSS": "S", "EXIT": "X",
              "EMERGENCY_EXIT": "M", "DANGLING_SHARES": "D"}
_CODE_ROLES = {v: k for k, v in ROLE_CODES.items()}
_PREFIX_LEN = 7  # "t" + 4 + 2 base-36 digits


def order_tag(prefix: str, role: str, order_id: str) -> str:
    return f"{prefix}{ROLE_CODES.get(role, 'X')}{order_id}"[:20]


def parse_tag(tag: object) -> tuple[str, str] | None:
    """(role, order_id) of a tag we wrote, in any session; None for anyone else's."""
    if not isinstance(tag, str) or len(tag) <= _PREFIX_LEN + 1 or tag[0] != "t":
        return None
    role = _CODE_ROLES.get(tag[_PREFIX_LEN])
    oid = tag[_PREFIX_LEN + 1:]
    if role is None or not oid[:1].isalpha() or not oid[1:].isdigit():
        return None
    return role, oid


def tag_prefix() -> str:
    """Tags tie postbacks to our orders before place_order even returns; unique per
    session so an order of an earlier run is never taken for one of ours."""
    return ("t" + _base36(int(time.time()) % 36**4).rjust(4, "0")
            + _base36(next(SESSIONS) % 36**2).rjust(2, "0"))


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def _places(step: Decimal) -> int:
    exp = step.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0



class Orders:
    """Placing and cancelling the orders of ``KiteVenue``."""

    def _params(self, order: Order, info: KiteInstrumentInfo, tag: str) -> dict[str, Any]:
        st = self.settings
        places = max(2, _places(info.tick_size))
        p: dict[str, Any] = dict(variety="regular", exchange=info.exchange,
                                 tradingsymbol=info.symbol, transaction_type=order.side.value,
                                 quantity=order.qty, product=st.product, validity="DAY", tag=tag)
        if order.order_type is OrderType.MARKET:
            p["order_type"] = "MARKET"
            if st.market_protection is not None and HAS_MARKET_PROTECTION:
                p["market_protection"] = st.market_protection
        elif order.order_type is OrderType.LIMIT:
            assert order.price is not None
            p["order_type"] = "LIMIT"
            p["price"] = fmt_units(order.price, places)
        else:
            assert order.price is not None
            kind = st.stop_order_type
            if kind == "auto":
                kind = "SL" if info.is_option else "SL-M"
            p["order_type"] = kind
            p["trigger_price"] = fmt_units(order.price, places)
            if kind == "SL":
                tick = info.tick_units
                through = st.stop_limit_ticks * tick
                sell = order.side.value == "SELL"
                limit = order.price - through if sell else order.price + through
                p["price"] = fmt_units(max(limit, tick), places)
            elif st.market_protection is not None and HAS_MARKET_PROTECTION:
                p["market_protection"] = st.market_protection
        return p

    async def submit(self, order: Order) -> None:
        self._check_open()
        inst = self.instruments.get(order.symbol)
        if inst is None:
            raise VenueError(f"no instrument {order.symbol!r} in this Kite session")
        info = await self._resolve(inst)
        rec = Rec(order.order_id, order.symbol, order.side.value, order.qty, order.role.value,
                   order_tag(self._tag_prefix, order.role.value, order.order_id),
                   order.expire_ns,
                   last_seen=trio.current_time())
        self._orders[rec.order_id] = rec
        self._working[rec.order_id] = rec
        self._by_tag[rec.tag] = rec
        params = self._params(order, info, rec.tag)
        try:
            kite_id = await self._place(params)
        except Refused as exc:
            self._finish(rec)
            rec.placed.set()
            self._report(ReportKind.REJECTED, rec, reason=str(exc))
            return
        except BaseException:
            self._finish(rec)
            rec.placed.set()
            raise
        if kite_id is None:
            # Kite's reply was lost and the order book does not show it (yet): the order
            # stays SUBMITTED; reconciliation binds it by its tag, or after a few passes
            # without it reports it rejected (an order Kite never listed does not exist)
            if rec.kite_id is None:
                rec.unknown_since = trio.current_time()
        elif rec.kite_id is None:
            self._bind(rec, kite_id)
        rec.placed.set()
        if rec.expire_ns is not None and not rec.done:
            self._tasks.start_soon(self._expire_at, rec)

    async def _place(self, params: dict[str, Any]) -> str | None:
        """Kite's order id; None when the outcome is unknown; raises when surely not placed."""
        for attempt in range(5):
            try:
                return str(await self._rest(self.kite.place_order, order=True, **params))
            except kex.TokenException:
                raise VenueError("Kite refused the access token (TokenException)") from None
            except kex.KiteException as exc:
                if exc.code == 429:
                    await trio.sleep(0.2 * (attempt + 1))
                    continue  # refused before placement: safe to send again
                if 400 <= exc.code < 500:
                    raise Refused(safe(exc)) from None
                failure: BaseException = exc
            except requests.RequestException as exc:
                failure = exc
            # Did Kite take it? (a timeout or a 5xx does not say.) Look for our tag.
            found = await self._find_by_tag(params["tag"])
            if found is None:
                self.errors.append(f"place_order outcome unknown: {safe(failure)}")
            return found
        raise VenueError("order not placed: Kite kept answering 429 (too many requests)")

    async def _find_by_tag(self, tag: str) -> str | None:
        try:
            orders = await self._rest(self.kite.orders)
        except (kex.KiteException, requests.RequestException):
            return None
        for o in orders:
            if o.get("tag") == tag or tag in (o.get("tags") or []):
                return str(o["order_id"])
        return None

    async def cancel(self, order_id: str) -> None:
        self._check_open()
        rec = self._orders.get(order_id)
        if rec is None:
            raise VenueError(f"order {order_id} was not sent through this Kite session")
        if rec.done:
            await trio.lowlevel.checkpoint()
            return
        rec.user_cancel = True
        await self._cancel(rec)

    async def _cancel(self, rec: Rec) -> None:
        if rec.kite_id is None:
            with trio.move_on_after(seconds(self.settings.rest_timeout)):
                await rec.placed.wait()
            if rec.kite_id is None:
                if rec.done:
                    return
                raise VenueError(f"order {rec.order_id} is not placed yet")
        for attempt in range(5):
            try:
                await self._rest(self.kite.cancel_order, "regular", rec.kite_id, order=True)
                return
            except kex.TokenException:
                raise VenueError("Kite refused the access token (TokenException)") from None
            except kex.KiteException as exc:
                if exc.code == 429:
                    await trio.sleep(0.2 * (attempt + 1))
                    continue
                if 400 <= exc.code < 500:
                    # already complete, cancelled or rejected: its postback says which
                    rec.last_seen = 0.0  # reconcile it at the next pass
                    return
                raise VenueError(f"cancel not confirmed: {safe(exc)}") from None
            except requests.RequestException as exc:
                raise VenueError(f"cancel not confirmed: {safe(exc)}") from None
        raise VenueError("cancel not sent: Kite kept answering 429 (too many requests)")

    async def _expire_at(self, rec: Rec) -> None:
        """Kite has no sub-minute good-till-date: cancel at expiry, report EXPIRED."""
        assert rec.expire_ns is not None
        delay = (rec.expire_ns - self._clock_ns()) / NS_PER_S
        if delay > 0:
            await trio.sleep(delay)
        for attempt in range(5):
            if rec.done or rec.user_cancel:
                return
            rec.expiring = True
            try:
                await self._cancel(rec)
                return
            except VenueError:
                await trio.sleep(min(1.0 * (attempt + 1), 5.0))
