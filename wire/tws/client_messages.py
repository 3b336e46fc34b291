"""Parsing what a TWS API client sends: contracts and placeOrder.

Each parser walks ``ib_async.client.Client``'s field list for the negotiated version,
field by field, so a reader can check one against the other. Only the fields the
simulator acts on are kept; the rest are walked past, and an order the simulator
cannot take is marked ``unsupported`` rather than misread.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Sequence

import attrs

from .fields import parse_bool, parse_int, parse_price, parse_quantity
from .framing import ProtocolError


@attrs.frozen
class ContractQuery:
    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary: str
    currency: str
    local_symbol: str


def parse_contract(fields: Sequence[str], at: int) -> ContractQuery:
    """The 12 contract fields ``ib_async`` sends (client.send's Contract handler)."""
    if len(fields) < at + 12:
        raise ProtocolError("truncated contract")
    f = fields[at:at + 12]
    return ContractQuery(con_id=parse_int(f[0]), symbol=f[1], sec_type=f[2], exchange=f[7],
                         primary=f[8], currency=f[9], local_symbol=f[10])


@attrs.frozen
class PlaceOrder:
    """The fields of a placeOrder the simulator acts on (the rest are walked past)."""

    order_id: int
    contract: ContractQuery
    action: str
    quantity: Decimal
    order_type: str
    lmt_price: int | None
    aux_price: int | None
    tif: str
    oca_group: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    outside_rth: bool
    good_after: str
    good_till: str
    what_if: bool
    algo: str
    conditions: int
    unsupported: str = ""  # why the simulator cannot take this order, if it cannot


class _Cursor:
    def __init__(self, fields: Sequence[str], at: int) -> None:
        self.f = fields
        self.i = at

    def take(self, n: int = 1) -> list[str]:
        if self.i + n > len(self.f):
            raise ProtocolError("truncated placeOrder")
        out = list(self.f[self.i:self.i + n])
        self.i += n
        return out

    def one(self) -> str:
        return self.take(1)[0]


def parse_place_order(fields: Sequence[str], version: int) -> PlaceOrder:
    """Walk ``ib_async.client.Client.placeOrder``'s field list for ``version``."""
    c = _Cursor(fields, 1)
    order_id = parse_int(c.one())
    contract = parse_contract(fields, c.i)
    c.take(12)
    c.take(2)  # secIdType, secId
    (action, qty, otype, lmt, aux, tif, oca, account, _open_close, _origin, order_ref,
     transmit, parent_id, _block, _sweep, _display, _trigger, outside_rth, _hidden) = c.take(19)
    base: dict[str, Any] = dict(
        order_id=order_id, contract=contract, action=action.upper(),
        quantity=parse_quantity(qty), order_type=otype.upper().strip(),
        lmt_price=parse_price(lmt), aux_price=parse_price(aux), tif=tif.upper().strip(),
        oca_group=oca, account=account, order_ref=order_ref,
        transmit=parse_bool(transmit) if transmit else True,
        parent_id=parse_int(parent_id), outside_rth=parse_bool(outside_rth))
    if contract.sec_type.upper() == "BAG":
        return PlaceOrder(**base, good_after="", good_till="", what_if=False, algo="",
                          conditions=0, unsupported="combo (BAG) orders")
    c.take(1)  # deprecated sharesAllocation
    _disc, good_after, good_till = c.take(3)
    c.take(3)  # faGroup, faMethod, faPercentage
    if version < 177:
        c.take(1)  # faProfile
    rest = c.take(24)  # modelCode .. deltaNeutralAuxPrice
    dn_order_type = rest[22]
    if dn_order_type:
        c.take(8)
    cont = c.take(7)  # continuousUpdate .. scalePriceIncrement
    inc_text = cont[6].strip()
    try:
        inc = Decimal(inc_text) if inc_text and len(inc_text) <= 40 else None
    except InvalidOperation:
        inc = None
    if inc is not None and inc.is_finite() and 0 < inc < Decimal("1e300"):
        c.take(7)
    _table, _start, _stop, hedge_type = c.take(4)
    if hedge_type:
        c.take(1)
    c.take(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if parse_bool(c.one()):
        c.take(3)  # delta-neutral contract
    algo = c.one()
    if algo:
        n = parse_int(c.one())
        if n < 0:
            raise ProtocolError(f"negative algo parameter count {n}")
        c.take(2 * n)
    _algo_id, what_if, _misc, _solicited, _rsize, _rprice = c.take(6)
    if otype.upper() in ("PEG BENCH", "PEGBENCH"):
        c.take(5)
    conditions = parse_int(c.one())
    return PlaceOrder(**base, good_after=good_after, good_till=good_till,
                      what_if=parse_bool(what_if), algo=algo, conditions=conditions)

