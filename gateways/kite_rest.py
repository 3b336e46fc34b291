"""Kite Connect's REST protocol as the gateway speaks it: envelopes, errors and form fields.

Every answer is ``{"status": "success", "data": ...}`` or ``{"status": "error",
"message", "data": null, "error_type"}`` with the HTTP status ``kiteconnect`` maps to
the exception named by ``error_type`` (``InputException`` 400, ``TokenException`` 403,
``NetworkException`` 429/503, ...). A ``KiteError`` raised anywhere under a route
becomes such an envelope.

Money is exact both ways: JSON numbers are written from Decimals (``dumps``), never
through a float, and form fields (``price``, ``quantity``) are read into integer units
with Kite's wording for what is wrong with them. Form numbers are plain ASCII decimals
of bounded length, checked before any conversion: no exponents (``1e400`` is not a
quantity), no other scripts' digits (``٥`` is not 5), no 5 000-digit prices.

The client side (``venues.kite``) does not parse these envelopes itself: the
``kiteconnect`` library does, which is the point of serving exactly its format.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..kernel.units import UnitError, to_units, units_to_decimal
from .kite_http import HttpResponse
from .kite_instruments import KiteInstrument

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


class KiteError(Exception):
    """A refusal as Kite words it: ``error_type`` picks the client's exception class."""

    def __init__(self, error_type: str, message: str, status: int) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status


def input_error(message: str) -> KiteError:
    return KiteError("InputException", message, 400)


def order_error(message: str) -> KiteError:
    return KiteError("OrderException", message, 400)


# ---------------------------------------------------------------- envelopes


def error_body(message: str, error_type: str) -> bytes:
    """The error envelope's bytes (also the body of a refused ticker upgrade)."""
    return dumps({"status": "error", "message": message, "data": None,
                  "error_type": error_type}).encode()


def error_response(status: int, message: str, error_type: str = "GeneralException") -> HttpResponse:
    return HttpResponse(status, error_body(message, error_type))


def http_error(status: int, message: str) -> HttpResponse:
    """An error the HTTP layer found (bad request line, body too large, ...)."""
    kind = "InputException" if status < 500 and status != 404 else "GeneralException"
    return error_response(status, message, kind)


def success(data: Any) -> HttpResponse:
    return HttpResponse(200, dumps({"status": "success", "data": data}).encode())


# ---------------------------------------------------------------- exact JSON

_DEC_MARK = "\x00D:"
_DEC_RE = re.compile(r'"\\u0000D:([-0-9.]+)"')


def _mark(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _DEC_MARK + format(value, "f")
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mark(v) for v in value]
    if isinstance(value, float):
        raise TypeError("float in a Kite response: money must be exact")
    return value


def dumps(value: Any) -> str:
    """JSON with Decimals written as their exact digits (a JSON number, not a string)."""
    return _DEC_RE.sub(r"\1", json.dumps(_mark(value), separators=(",", ":")))


def px(units: int | Fraction) -> Decimal:
    """Price units as the Decimal a Kite response carries (``300.1``, ``120.05``)."""
    return units_to_decimal(units, 1)


def ist(ts: float | None) -> str | None:
    """Kite's timestamp text: IST wall time, ``YYYY-MM-DD HH:MM:SS``."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(int(ts), IST).strftime("%Y-%m-%d %H:%M:%S")



# ---------------------------------------------------------------- form fields


def form_value(params: dict[str, list[str]], key: str, required: bool = True) -> str | None:
    values = params.get(key)
    if not values or values[-1] == "":
        if required:
            raise input_error(f"Missing or empty field `{key}`")
        return None
    return values[-1]


MAX_FIELD_CHARS = 24
_INT_TEXT = re.compile(r"[+-]?[0-9]+(\.0*)?", re.ASCII)
_DECIMAL_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", re.ASCII)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= MAX_FIELD_CHARS else repr(text[:MAX_FIELD_CHARS] + "...")


def form_int(text: str | None, key: str, default: int = 0) -> int:
    if text is None:
        return default
    t = text.strip()
    if len(t) > MAX_FIELD_CHARS:
        raise input_error(f"Invalid `{key}`: {_shown(t)} is too long for a number")
    if not _INT_TEXT.fullmatch(t):
        raise input_error(f"Invalid `{key}`: {_shown(t)} is not a whole number")
    return int(Decimal(t))


def form_price(text: str | None, key: str, inst: KiteInstrument) -> int:
    if text is None:
        return 0
    t = text.strip()
    if len(t) > MAX_FIELD_CHARS or not _DECIMAL_TEXT.fullmatch(t):
        raise input_error(f"Invalid `{key}`: {_shown(t)} is not a price")
    try:
        units = to_units(t)
    except UnitError:
        raise input_error(f"Invalid `{key}`: {_shown(t)}") from None
    if units < 0:
        raise input_error(f"Invalid `{key}`: must not be negative")
    tick = to_units(inst.tick_size)
    if units and tick and units % tick:
        raise input_error(f"Invalid `{key}`: {text} is not a multiple of the tick size "
                          f"{inst.tick_size}")
    return units
