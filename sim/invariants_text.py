"""The journal as the invariant checker reads it: words and numbers in text.

The checker rebuilds the world from the journal alone, so it compares what the journal
says (role, side and kill-switch words; order ids; decimal strings), never the kernel's
objects. These are the few names for that text, shared by the checker and its restart
and liveness helpers, and by the ``expect:`` matchers that compare journaled values.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..kernel.killswitch import KillAction
from ..kernel.orders import Role, Side
from ..kernel.units import PRICE_DECIMALS, fmt_duration, to_units

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
    more than 8 places, not a string) goes to ``to_units`` and its errors."""
    if type(value) is str and value.isascii():
        neg = value.startswith("-")
        whole, _, frac = (value[1:] if neg else value).partition(".")
        if whole.isdigit() and len(whole) <= 20 and len(frac) <= PRICE_DECIMALS and (
                not frac or frac.isdigit()):
            n = int(whole) * 10**PRICE_DECIMALS + (int(frac.ljust(PRICE_DECIMALS, "0"))
                                                   if frac else 0)
            return -n if neg else n
    return to_units(value)
