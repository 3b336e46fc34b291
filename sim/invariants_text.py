"""The journal as the invariant checker reads it: words and numbers in text.

The checker rebuilds the world from the journal alone, so it compares what the journal
says (role, side and kill-switch words; order ids; decimal strings), never the kernel's
objects. These are the few names for that text, shared by the checker and its restart
and liveness helpers, and by the ``expect:`` matchers that compare journaled values.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction
from typing import Any

from ..kernel.killswitch import KillAction
from ..kernel.orders import Role, Side
from ..kernel.units import MAX_NUMBER_TEXT, PRICE_DECIMALS, UnitError, fmt_duration, to_units

# the journal's words for what the checks look at (the checker reads text, not objects)
ENTRY = Role.ENTRY.value
EMERGENCY_EXIT = Role.EMERGENCY_EXIT.value
BUY = Side.BUY.value
CLOSE_ALL = KillAction.CLOSE_ALL.value


def oid_key(oid: str) -> tuple[int, str]:
    digits = "".join(c for c in oid if c.isdigit())
    return (int(digits) if digits else 0, oid)


def secs(ns: int) -> str:
    return fmt_duration(ns)


def money(units: Fraction | int) -> str:
    from ..kernel.units import fmt_units

    return fmt_units(units)


def as_text(v: Any) -> str:
    return v if isinstance(v, str) else str(v)


def as_decimal(v: Any) -> Decimal | None:
    if isinstance(v, bool):
        return None
    try:
        return Decimal(str(v))
    except Exception:  # noqa: BLE001
        return None


def text_units(value: object) -> int:
    """``to_units`` of the journal's own decimal text ("-12.5", "300"), by integer
    arithmetic on the digits: the checker reads several per trade, and the Decimal
    parse behind ``to_units`` cost more than the check. Anything else (an exponent,
    more than 8 places, not a string) goes to ``to_units`` and its errors, except that
    an amount too large for a file is still read exactly: the kernel may journal prices
    beyond what a file may state (a walk or a gap from the largest accepted price), and
    the checker must judge those runs, not fail on them."""
    if type(value) is str and value.isascii():
        neg = value.startswith("-")
        whole, _, frac = (value[1:] if neg else value).partition(".")
        if whole.isdigit() and len(whole) <= 20 and len(frac) <= PRICE_DECIMALS and (
                not frac or frac.isdigit()):
            n = int(whole) * 10**PRICE_DECIMALS + (int(frac.ljust(PRICE_DECIMALS, "0"))
                                                   if frac else 0)
            return -n if neg else n
    try:
        return to_units(value)
    except UnitError:
        if type(value) is not str:
            raise
        with localcontext() as ctx:
            ctx.prec = MAX_NUMBER_TEXT + PRICE_DECIMALS  # exact: nothing rounds silently
            try:
                d = Decimal(value)
            except InvalidOperation:
                raise UnitError(f"cannot read {value!r} as an amount") from None
            scaled = d.scaleb(PRICE_DECIMALS)
            if not d.is_finite() or scaled != scaled.to_integral_value():
                raise
            return int(scaled)
