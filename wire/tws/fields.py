"""TWS field values: prices, integers, booleans and quantities as text on the wire.

Prices are text on the wire and exact integers (1e-8 units) in here; "" and TWS's
"unset" sentinels mean no value. No float is ever parsed or formatted.

Every number is bounded before it is converted: a field longer than ``MAX_NUMBER_CHARS``
or outside the range the API can mean is a ``ProtocolError``, never a conversion. A
client id of ``1e1000000`` would otherwise make Python build a million-digit integer
and stall the event loop every other client shares.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

from ...kernel.units import UnitError, fmt_units, to_units
from .framing import ProtocolError

UNSET_DOUBLE = "1.7976931348623157E308"  # what TWS sends for "no value" doubles
UNSET_INTEGER = "2147483647"
MAX_NUMBER_CHARS = 40  # the longest honest field is the 22-character unset double
MAX_INT = (1 << 63) - 1  # TWS integers are at most Java longs
MAX_EXPONENT = 9999  # far inside the decimal context's limits, far beyond any real value


def _bounded(text: str, what: str) -> str:
    t = text.strip()
    if len(t) > MAX_NUMBER_CHARS or not t.isascii():
        shown = t[:20] + "..." if len(t) > 20 else t
        raise ProtocolError(f"bad {what} {shown!r}")
    return t


def _decimal(text: str, what: str, *, finite: bool = True) -> Decimal:
    """Text -> Decimal, refusing exponents so large that arithmetic on them would overflow
    the decimal context (``1e1000000``: any ``abs`` or comparison raises ``Overflow``)."""
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise ProtocolError(f"bad {what} {text!r}") from None
    if not d.is_finite():
        if finite:
            raise ProtocolError(f"bad {what} {text!r}: not a finite number")
        return d
    if abs(d.adjusted()) > MAX_EXPONENT:
        raise ProtocolError(f"{what} {text!r} out of range")
    return d


def price_text(units: int | Fraction | None, places: int = 2) -> str:
    """A price on the wire ("" when unset), from exact units."""
    if units is None:
        return ""
    return fmt_units(units, places)


def parse_price(text: str) -> int | None:
    """Wire text -> units; "" and the TWS 'unset' sentinel mean no price."""
    t = _bounded(text, "price")
    if not t or t.upper() in (UNSET_DOUBLE.upper(), "1.7976931348623157E+308", "INFINITE"):
        return None
    d = _decimal(t, "price")
    if d.adjusted() >= 15:  # an 'unset' double spelled some other way
        return None
    try:
        return to_units(d)
    except UnitError as exc:
        raise ProtocolError(str(exc)) from None


def parse_int(text: str, default: int = 0) -> int:
    t = _bounded(text, "integer")
    if not t:
        return default
    try:
        n = int(t)
    except ValueError:
        d = _decimal(t, "integer")
        if d.adjusted() > 18 or d != d.to_integral_value():
            raise ProtocolError(f"bad integer {text!r}") from None
        n = int(d)
    if abs(n) > MAX_INT:
        raise ProtocolError(f"integer {t!r} out of range")
    return n


def parse_bool(text: str) -> bool:
    t = text.strip()
    return bool(t) and t not in ("0", "false", "False")


def parse_quantity(text: str) -> Decimal:
    """A quantity as written, length-bounded. Whether it is a finite, whole, positive,
    allowed number of shares is the broker's decision (error 201, as IB words it), so
    ``inf`` and ``1e999`` parse here and are rejected there, before any conversion."""
    t = _bounded(text, "quantity") or "0"
    if t.upper() == "INFINITE":  # how ib_async writes float('inf')
        t = "Infinity"
    return _decimal(t, "quantity", finite=False)
