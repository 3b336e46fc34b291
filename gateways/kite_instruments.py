"""The gateway's instrument master: Kite tokens, the instruments CSV, symbol parsing.

Kite identifies an instrument on the ticker by ``instrument_token`` (exchange token
<< 8 | segment) and on REST by ``EXCHANGE:TRADINGSYMBOL``. A scenario only names
symbols, so tokens are derived from ``exchange:symbol`` with a CRC: the same symbol
gets the same token in every scenario and every run, which lets a user's script keep
a token table between sessions as it would against the real Kite.

Derivative symbols follow Kite's naming (``NIFTY25N2024000CE`` weekly option,
``NIFTY25NOV24000CE`` monthly, ``NIFTY25NOVFUT`` future) and are parsed into the
CSV's name/expiry/strike/instrument_type/segment columns.
"""
from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import re
import zlib
from decimal import Decimal
from typing import Iterable

import attrs

from ..kernel.instruments import Instrument
from ..wire.kite import SEGMENTS, kite_exchange, make_token

CSV_COLUMNS = ("instrument_token", "exchange_token", "tradingsymbol", "name", "last_price",
               "expiry", "strike", "tick_size", "lot_size", "instrument_type", "segment",
               "exchange")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKLY_MONTH = {**{str(i): i for i in range(1, 10)}, "O": 10, "N": 11, "D": 12}
_WEEKLY = re.compile(r"^(?P<name>[A-Z&-]+?)(?P<yy>\d{2})(?P<m>[1-9OND])(?P<dd>\d{2})"
                     r"(?P<strike>\d+(?:\.\d+)?)(?P<kind>CE|PE)$")
_MONTHLY = re.compile(r"^(?P<name>[A-Z&-]+?)(?P<yy>\d{2})(?P<mon>" + "|".join(_MONTHS) + r")"
                      r"(?P<strike>\d+(?:\.\d+)?)(?P<kind>CE|PE)$")
_FUTURE = re.compile(r"^(?P<name>[A-Z&-]+?)(?P<yy>\d{2})(?P<mon>" + "|".join(_MONTHS) + r")FUT$")


@attrs.frozen
class KiteInstrument:
    """One row of the instrument master, plus where it lives in the simulated exchange."""

    idx: int  # the exchange's book index
    symbol: str  # tradingsymbol (the scenario's symbol)
    exchange: str  # Kite exchange: NSE, NFO, ...
    segment: str  # CSV segment: NSE, NFO-OPT, NFO-FUT, INDICES, ...
    token: int
    exchange_token: int
    tick_size: Decimal
    lot_size: int
    name: str = ""
    expiry: str = ""  # YYYY-MM-DD or empty
    strike: Decimal = Decimal(0)
    instrument_type: str = "EQ"

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.symbol}"

    @property
    def tradable(self) -> bool:
        return self.segment != "INDICES"

    @property
    def is_option(self) -> bool:
        return self.instrument_type in ("CE", "PE")


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    last = calendar.monthrange(year, month)[1]
    day = dt.date(year, month, last)
    return day - dt.timedelta(days=(day.weekday() - weekday) % 7)


def _monthly_expiry(year: int, month: int, exchange: str) -> str:
    # NSE monthly F&O expiries moved from the last Thursday to the last Tuesday in Sep 2025
    weekday = 1 if exchange == "NFO" and (year, month) >= (2025, 9) else 3
    return _last_weekday(year, month, weekday).isoformat()


def describe(symbol: str, exchange: str) -> tuple[str, str, Decimal, str, str]:
    """(name, expiry, strike, instrument_type, segment) from a Kite trading symbol."""
    if exchange in ("NFO", "BFO", "MCX", "CDS", "BCD"):
        m = _WEEKLY.match(symbol)
        if m:
            year = 2000 + int(m["yy"])
            try:
                expiry = dt.date(year, _WEEKLY_MONTH[m["m"]], int(m["dd"])).isoformat()
            except ValueError:
                expiry = ""
            if expiry:
                return (m["name"], expiry, Decimal(m["strike"]), m["kind"], f"{exchange}-OPT")
        m = _MONTHLY.match(symbol)
        if m:
            year = 2000 + int(m["yy"])
            expiry = _monthly_expiry(year, _MONTHS.index(m["mon"]) + 1, exchange)
            return (m["name"], expiry, Decimal(m["strike"]), m["kind"], f"{exchange}-OPT")
        m = _FUTURE.match(symbol)
        if m:
            year = 2000 + int(m["yy"])
            expiry = _monthly_expiry(year, _MONTHS.index(m["mon"]) + 1, exchange)
            return (m["name"], expiry, Decimal(0), "FUT", f"{exchange}-FUT")
        return (symbol, "", Decimal(0), "EQ", exchange)
    return (symbol, "", Decimal(0), "EQ", exchange)


def build_master(instruments: Iterable[Instrument]) -> list[KiteInstrument]:
    """Instrument master for the scenario's instruments, in book-index order."""
    out: list[KiteInstrument] = []
    used: set[int] = set()
    for idx, inst in enumerate(instruments):
        exchange, forced = kite_exchange(inst.exchange)
        name, expiry, strike, itype, segment = describe(inst.symbol, exchange)
        if forced is not None:
            segment, itype = forced, "EQ"
        seg_code = SEGMENTS[segment if segment == "INDICES" else exchange]
        ext = 100_000 + zlib.crc32(f"{exchange}:{inst.symbol}".encode()) % 900_000
        while ext in used:
            ext += 1
        used.add(ext)
        out.append(KiteInstrument(idx, inst.symbol, exchange, segment, make_token(ext, seg_code),
                                  ext, inst.tick_size, inst.lot_size, name, expiry, strike, itype))
    return out


def instruments_csv(rows: Iterable[KiteInstrument], last_prices: dict[int, str]) -> str:
    """The instruments dump, as ``GET /instruments[/EXCHANGE]`` serves it."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        index = r.segment == "INDICES"
        w.writerow([r.token, r.exchange_token, r.symbol, r.name, last_prices.get(r.idx, "0.0"),
                    r.expiry, format(r.strike, "f") if r.strike else "0.0",
                    "0.0" if index else format(r.tick_size, "f"), 0 if index else r.lot_size,
                    r.instrument_type, r.segment, r.exchange])
    return buf.getvalue()
