"""The row rules of market-data files: which columns a file has, and what a row means.

Shared by both passes of ``sim/datafiles.py`` so they cannot disagree: ``converter``
is the fast, strict path every streamed row takes (it only says *that* a row is
wrong, by raising ``Bad``); ``diagnose`` is the slow, thorough one that says *what*
is wrong, column by column, and runs only on refused rows. ``diagnose`` finding
nothing for a row ``converter`` refused is itself reported ("row: cannot be read"),
so a disagreement can never let a row through.

Quotes are built as ``sim/market.py`` builds them for explicit ticks: a ``last``-only
row is quoted with the spread rounded up to whole ticks, the bid on the grid at or
below ``last - spread/2``; bid and ask without ``last`` take the mid, snapped to the
grid; an empty size is the configured depth.
"""
from __future__ import annotations

import enum
from typing import Any, Callable

import attrs

from ..kernel.units import UnitError, fmt_units
from .datareaders import Table, count_cell, price_units, timestamp_ns


class DataFormat(enum.Enum):
    TICKS = "ticks"
    BARS = "bars"


COLUMNS = {
    DataFormat.TICKS: ("ts", "last", "bid", "ask", "bid_size", "ask_size"),
    DataFormat.BARS: ("ts", "open", "high", "low", "close", "volume"),
}
_PRICE_CACHE = 1 << 16  # distinct price cells remembered per file (bounded: flat memory)


class Bad(Exception):
    """A row the fast converter refused; ``diagnose`` says why, per column."""


@attrs.frozen
class Layout:
    fmt: DataFormat
    width: int
    index: dict[str, int]  # our column name -> position in the row

    def get(self, name: str) -> int | None:
        return self.index.get(name)


def missing(cell: object) -> bool:
    return cell is None or cell == ""


def layout_of(table: Table, fmt: DataFormat) -> tuple[Layout | None, list[tuple[str, str]]]:
    allowed = COLUMNS[fmt]
    index: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for i, raw in enumerate(table.columns):
        name = raw.strip().lower()
        if name not in allowed:
            problems.append(("columns", f"{raw}: unknown column (a {fmt.value} file has: "
                                        f"{', '.join(allowed)})"))
        elif name in index:
            problems.append(("columns", f"{raw}: appears twice"))
        else:
            index[name] = i
    found = ", ".join(table.columns) or "none"
    if "ts" not in index:
        problems.append(("columns", f"ts: missing column (the file has: {found})"))
    if fmt is DataFormat.TICKS:
        has_bid, has_ask = "bid" in index, "ask" in index
        if has_bid != has_ask:
            gone, there = ("ask", "bid") if has_bid else ("bid", "ask")
            problems.append(("columns", f"{gone}: missing column ({there} is there; "
                                        "quotes need both)"))
        elif not has_bid and "last" not in index:
            problems.append(("columns", f"last: missing column (give last, or bid and ask; "
                                        f"the file has: {found})"))
    else:
        for name in ("open", "high", "low", "close"):
            if name not in index:
                problems.append(("columns", f"{name}: missing column (the file has: {found})"))
    used = {table.columns[i] for i in index.values()}
    problems.extend(("columns", f"{col}: {why}") for col, why in table.column_problems
                    if col in used)
    if problems:
        return None, problems
    return Layout(fmt, len(table.columns), index), []


def quote_shape(tick: int, spread: int, depth: int) -> tuple[int, int, int]:
    """(below, spread, depth): bid = level - below, ask = bid + spread, as in
    ``sim/market.py`` (a spread rounded up to whole ticks, the bid on the grid)."""
    spread = -(-spread // tick) * tick
    below = (spread // tick + 1) // 2 * tick
    return below, spread, depth

def converter(layout: Layout, tick: int, spread: int = 0,
              depth: int = 1_000_000) -> Callable[[Any], tuple[int, ...]]:
    """The fast, strict row converter: raises ``Bad`` on anything wrong. A tick row
    becomes ``(ts, bid, ask, last, bid_size, ask_size)``, a bar row ``(ts, open, high,
    low, close, volume)``, prices in units and ``ts`` in Unix ns."""
    width = layout.width
    its = layout.index["ts"]
    if layout.fmt is DataFormat.BARS:
        io, ih, il, ic = (layout.index[k] for k in ("open", "high", "low", "close"))
        iv = layout.get("volume")

        def bar(row: Any) -> tuple[int, ...]:
            try:
                if len(row) != width:
                    raise Bad
                ts = timestamp_ns(row[its])
                o, h, lo, c = (price_units(row[io]), price_units(row[ih]),
                               price_units(row[il]), price_units(row[ic]))
                vol = 0 if iv is None or missing(row[iv]) else count_cell(row[iv])
            except (UnitError, TypeError, ValueError):
                raise Bad from None
            if (lo <= 0 or o % tick or h % tick or lo % tick or c % tick
                    or h < max(o, c) or lo > min(o, c)):
                raise Bad
            return ts, o, h, lo, c, vol

        return bar

    below, spread, depth = quote_shape(tick, spread, depth)
    ilast, ibid, iask = layout.get("last"), layout.get("bid"), layout.get("ask")
    ibs, ias = layout.get("bid_size"), layout.get("ask_size")
    # Prices repeat (a path moves over a few thousand levels): a checked cell's
    # units are remembered by its text, which makes most price cells a dict hit.
    cache: dict[object, int] = {}
    get = cache.get

    def px(cell: object) -> int:
        units = price_units(cell)
        if units <= 0 or units % tick:
            raise Bad
        if type(cell) is str or type(cell) is float:  # never bool: True == 1.0
            if len(cache) >= _PRICE_CACHE:
                cache.clear()
            cache[cell] = units
        return units

    def quote(row: Any) -> tuple[int, ...]:
        try:
            if len(row) != width:
                raise Bad
            cell = row[its]
            ts = int(cell) if type(cell) is str and cell.isdigit() and cell.isascii() \
                else timestamp_ns(cell)
            if ilast is None:
                last = 0
            else:
                cell = row[ilast]
                last = 0 if cell is None or cell == "" else (get(cell) or px(cell))
            cell = row[ibid] if ibid is not None else None
            if cell is not None and cell != "":
                bid = get(cell) or px(cell)
                cell = row[iask]  # type: ignore[index]
                ask = get(cell) or px(cell)
                if bid > ask:
                    raise Bad
                if not last:
                    q, r = divmod((bid + ask) // 2, tick)
                    last = (q + (2 * r >= tick)) * tick
            elif ibid is not None and not missing(row[iask]):  # type: ignore[index]
                raise Bad
            elif last:
                bid = last - below
                ask = bid + spread
            else:
                raise Bad
            if ibs is None:
                bsz = depth
            else:
                cell = row[ibs]
                bsz = depth if cell is None or cell == "" else count_cell(cell)
            if ias is None:
                asz = depth
            else:
                cell = row[ias]
                asz = depth if cell is None or cell == "" else count_cell(cell)
        except (UnitError, TypeError, ValueError):
            raise Bad from None
        return ts, bid, ask, last, bsz, asz

    return quote

def diagnose(row: Any, layout: Layout, tick: int) -> tuple[list[str], int | None]:
    """Every problem of a row the converter refused, and its time if readable."""
    names = {i: name for name, i in layout.index.items()}
    if len(row) != layout.width:
        return [f"row: {len(row)} cells, the header has {layout.width} columns"], None
    cells = {name: row[i] for i, name in names.items()}
    out: list[str] = []
    ts: int | None = None
    try:
        ts = timestamp_ns(cells["ts"])
    except UnitError as exc:
        out.append(f"ts: {exc}")
    prices: dict[str, int] = {}
    counts = ("bid_size", "ask_size", "volume")
    for name, cell in cells.items():
        if name == "ts" or missing(cell):
            continue
        try:
            if name in counts:
                count_cell(cell)
                continue
            units = price_units(cell)
        except UnitError as exc:
            out.append(f"{name}: {exc}")
            continue
        if units <= 0:
            out.append(f"{name}: must be positive, got {cell!r}")
        elif units % tick:
            out.append(f"{name}: {cell} is not a multiple of the tick size "
                       f"{fmt_units(tick, 0)}")
        else:
            prices[name] = units
    if layout.fmt is DataFormat.BARS:
        for name in ("open", "high", "low", "close"):
            if missing(cells[name]):
                out.append(f"{name}: missing")
        if all(k in prices for k in ("open", "high", "low", "close")):
            o, h, lo, c = (prices[k] for k in ("open", "high", "low", "close"))
            if h < max(o, c, lo):
                out.append(f"high: {fmt_units(h, 0)} is below "
                           f"{'open' if o > c else 'close'} {fmt_units(max(o, c), 0)}")
            if lo > min(o, c, h):
                out.append(f"low: {fmt_units(lo, 0)} is above "
                           f"{'open' if o < c else 'close'} {fmt_units(min(o, c), 0)}")
    else:
        has_bid = "bid" in cells and not missing(cells["bid"])
        has_ask = "ask" in cells and not missing(cells["ask"])
        if has_bid != has_ask:
            gone, there = ("ask", "bid") if has_bid else ("bid", "ask")
            out.append(f"{gone}: missing ({there} is given; quotes need both)")
        elif not has_bid and ("last" not in cells or missing(cells["last"])):
            out.append("last: missing (give last, or bid and ask)")
        if "bid" in prices and "ask" in prices and prices["bid"] > prices["ask"]:
            out.append(f"bid: {cells['bid']} is above ask {cells['ask']}")
    if not out:  # the fast path refused what this pass accepts: never silent
        out.append("row: cannot be read")
    return out, ts


__all__ = ["COLUMNS", "Bad", "DataFormat", "Layout", "converter", "diagnose", "layout_of",
           "missing", "quote_shape"]
