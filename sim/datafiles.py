"""Market data from files: CSV or Parquet rows replayed as the simulator's ticks.

A ``MarketFile`` turns a file into the same tick tuples ``sim/market.py`` generates,
``(t, idx, bid, ask, last, bid_size, ask_size)`` with integer prices (1e-8 units) and
``t`` in virtual nanoseconds, so the runner can merge file paths with generated ones
and apply halts on top (``sim.market._halted`` takes any tick iterator).

Two formats (``DataFormat``):

``ticks``: columns ``ts`` then ``last``, or ``bid`` and ``ask`` (``last`` optional),
    optional ``bid_size`` and ``ask_size``. A row with ``last`` only is quoted as the
    generated paths are: the spread (rounded up to whole ticks) around ``last``, on
    the grid; a row with bid and ask but no ``last`` gets the mid, snapped to the
    grid. An empty size is the configured depth.
``bars``: columns ``ts, open, high, low, close`` (``volume`` optional, checked but
    not replayed). Each bar becomes up to four ticks, at ``ts`` and each following
    quarter of the bar interval: open, then whichever extreme is nearer the open,
    then the other, then the close (on a tie, the low first), skipping a point
    equal to the one before. So a bar that opens through a stop fills it at the
    open, as a gap would. The interval is ``bar_interval_ns`` or, when that is not
    given, the smallest spacing of the first bars.

``ts`` is ISO 8601 with an offset or integer Unix nanoseconds; the tick's time is
``ts - start_ns``. Rows before the start or at/after ``start + duration`` are skipped
and counted in ``ReplayStats``; once the file passes the end the rest is counted
without being parsed.

Two passes over the same row rules. ``validate`` reads the whole file and reports
every problem (``("row N", "column: problem")``, rows counted from 1 after the
header; ``("columns", ...)`` for the header), for ``triotrade check`` and before a
run. ``ticks`` streams, with the cheap per-row checks still on, and raises an
``InputError`` at the first bad row rather than replay garbage; it never holds more
than one row or Parquet batch.
"""
from __future__ import annotations

import datetime as dt
import enum
import itertools
from pathlib import Path
from typing import Any, Callable, Iterator

import attrs

from ..kernel.errors import InputError
from ..kernel.units import UnitError, fmt_units
from .datareaders import ReadError, Table, count_cell, count_rest, open_table, price_units, \
    timestamp_ns

TickTuple = tuple[int, int, int, int, int, int, int]


class DataFormat(enum.Enum):
    TICKS = "ticks"
    BARS = "bars"


COLUMNS = {
    DataFormat.TICKS: ("ts", "last", "bid", "ask", "bid_size", "ask_size"),
    DataFormat.BARS: ("ts", "open", "high", "low", "close", "volume"),
}
_INFER_BARS = 16  # bars looked at to infer the interval
_PRICE_CACHE = 1 << 16  # distinct price cells remembered per file (bounded: flat memory)
_QUOTE_CACHE = 1 << 16  # distinct quotes (all cells but ts) remembered per file


@attrs.define
class ReplayStats:
    rows: int = 0  # data rows in the file (all of them once the replay has finished)
    replayed: int = 0  # rows inside [start, start + duration)
    before_start: int = 0
    after_end: int = 0
    ticks: int = 0  # ticks yielded (a bar makes up to four)


class _Bad(Exception):
    """A row the fast converter refused; ``_diagnose`` says why, per column."""


@attrs.frozen
class _Layout:
    fmt: DataFormat
    width: int
    index: dict[str, int]  # our column name -> position in the row

    def get(self, name: str) -> int | None:
        return self.index.get(name)


def _missing(cell: object) -> bool:
    return cell is None or cell == ""


def _layout(table: Table, fmt: DataFormat) -> tuple[_Layout | None, list[tuple[str, str]]]:
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
    return _Layout(fmt, len(table.columns), index), []


@attrs.frozen
class MarketFile:
    """One instrument's market data file and how to replay it.

    ``source`` and ``where`` locate errors raised while streaming: an ``InputError``
    reads ``SOURCE: WHERE: row N: column: problem`` (e.g. ``scn.yaml: market.ACME.file:
    data.csv: row 7: bid: ...``); by default the file's own path and nothing.
    """

    path: Path = attrs.field(converter=Path)
    tick_units: int
    start_ns: int
    duration_ns: int
    format: DataFormat = DataFormat.TICKS
    spread: int = 0  # quote width around ``last`` for last-only rows and bars
    depth: int = 1_000_000  # displayed size when a row gives none
    bar_interval_ns: int | None = None
    source: str = ""
    where: str = ""

    # ------------------------------------------------------------ public

    def ticks(self, idx: int, stats: ReplayStats | None = None) -> Iterator[TickTuple]:
        """The file as ticks for instrument ``idx``; ``stats`` is filled as it goes."""
        stats = stats if stats is not None else ReplayStats()
        table, layout = self._open()
        if self.format is DataFormat.BARS:
            return self._bar_ticks(table, layout, idx, stats)
        return self._tick_ticks(table, layout, idx, stats)

    def validate(self, limit: int | None = 100,
                 stats: ReplayStats | None = None) -> list[tuple[str, str]]:
        """Every problem of the file, as ``(row N | columns, "column: problem")``.

        After ``limit`` problems the rest are counted, not listed (a last entry says
        how many); ``limit=None`` lists them all.
        """
        stats = stats if stats is not None else ReplayStats()
        try:
            table = open_table(self.path)
        except ReadError as exc:
            return [("file", str(exc))]
        layout, problems = _layout(table, self.format)
        if layout is None:
            table.close()
            return problems
        out: list[tuple[str, str]] = []
        extra = 0

        def report(row: int | str, text: str) -> None:
            nonlocal extra
            if limit is not None and len(out) >= limit:
                extra += 1
            else:
                out.append((f"row {row}" if isinstance(row, int) else row, text))

        convert = self._converter(layout)
        bars = self.format is DataFormat.BARS
        start, end = self.start_ns, self.start_ns + self.duration_ns
        rows: Iterator[Any] = table.rows
        interval = self.bar_interval_ns
        if bars and interval is None:
            head = list(itertools.islice(rows, _INFER_BARS))
            rows = itertools.chain(head, rows)
            interval = _smallest_gap(head, convert)
            if interval is None and len(head) == 1:
                report("rows", "bars: cannot infer the bar interval from a single bar "
                               "(give bar_interval)")
        prev: int | None = None
        n = 0
        try:
            for n, row in enumerate(rows, 1):
                ts: int | None
                try:
                    ts = convert(row)[0]
                except _Bad:
                    found, ts = self._diagnose(row, layout)
                    for text in found:
                        report(n, text)
                if ts is None:
                    continue
                if prev is not None:
                    if ts < prev or (bars and ts == prev):
                        what = "bar" if bars else "row"
                        report(n, f"ts: out of order: {_show_ts(ts)} is "
                                  f"{'not after' if ts == prev else 'before'} the previous "
                                  f"{what}'s {_show_ts(prev)}")
                    elif bars and interval is not None and ts - prev < interval:
                        report(n, f"ts: {ts - prev} ns after the previous bar, less than the "
                                  f"bar interval ({interval} ns)")
                prev = ts
                if ts < start:
                    stats.before_start += 1
                elif ts >= end:
                    stats.after_end += 1
                else:
                    stats.replayed += 1
        except ReadError as exc:
            report("file", str(exc))
        stats.rows = n
        if n == 0:
            report("rows", "the file has no data rows")
        elif not stats.replayed and not out and not extra:
            report("rows", f"no row falls inside the run ({_show_ts(start)} to {_show_ts(end)}): "
                           f"{stats.before_start} before it, {stats.after_end} after "
                           "(integer ts are Unix nanoseconds)")
        if extra:
            out.append(("rows", f"{extra} more problem(s) not listed"))
        return out

    # ------------------------------------------------------------ streaming

    def _open(self) -> tuple[Table, _Layout]:
        try:
            table = open_table(self.path)
        except ReadError as exc:
            raise self._error("", f"{exc}") from None
        layout, problems = _layout(table, self.format)
        if layout is None:
            table.close()
            raise InputError(self.source or str(self.path),
                             [(self._key(k), v) for k, v in problems])
        return table, layout

    def _key(self, key: str) -> str:
        return ": ".join(p for p in (self.where, key) if p)

    def _error(self, key: str, text: str) -> InputError:
        return InputError(self.source or str(self.path), [(self._key(key), text)])

    def _row_error(self, n: int, row: Any, layout: _Layout) -> InputError:
        found, _ = self._diagnose(row, layout)
        return InputError(self.source or str(self.path),
                          [(self._key(f"row {n}"), text) for text in found])

    def _tick_ticks(self, table: Table, layout: _Layout, idx: int,
                    stats: ReplayStats) -> Iterator[TickTuple]:
        """The tick stream. CSV rows (lists of text) go through a quote cache: the
        cells other than ``ts`` of a row already converted map to its checked quote,
        and a path revisits the same quotes all the time, so most rows cost a
        timestamp and one dict lookup. The cache is bounded (memory stays flat)."""
        convert = self._converter(layout)
        start, end = self.start_ns, self.start_ns + self.duration_ns
        rows = table.rows
        its, width = layout.index["ts"], layout.width
        keyed = table.text_rows
        quotes: dict[tuple[Any, ...], tuple[int, int, int, int, int]] = {}
        get = quotes.get
        prev = -(1 << 63)
        n = before = replayed = 0
        try:
            for row in rows:
                n += 1
                q = None
                if keyed and len(row) == width:
                    cell = row.pop(its)
                    key = tuple(row)
                    q = get(key)
                    if q is None:
                        row.insert(its, cell)
                    elif cell.isdigit() and cell.isascii():
                        ts = int(cell)
                    else:
                        try:
                            ts = timestamp_ns(cell)
                        except UnitError:
                            row.insert(its, cell)
                            raise self._row_error(n, row, layout) from None
                if q is None:
                    try:
                        ts, bid, ask, last, bsz, asz = convert(row)
                    except _Bad:
                        raise self._row_error(n, row, layout) from None
                    q = (bid, ask, last, bsz, asz)
                    if keyed:
                        if len(quotes) >= _QUOTE_CACHE:
                            quotes.clear()
                        quotes[key] = q
                if ts < prev:
                    raise self._error(f"row {n}", f"ts: out of order: {_show_ts(ts)} is before "
                                                  f"the previous row's {_show_ts(prev)}")
                prev = ts
                if ts < start:
                    before += 1
                    continue
                if ts >= end:
                    stats.after_end = 1 + count_rest(rows)
                    break
                replayed += 1
                yield (ts - start, idx) + q
        except ReadError as exc:
            raise self._error("", str(exc)) from None
        finally:
            stats.before_start = before
            stats.replayed = replayed
            stats.ticks = replayed
            stats.rows = before + replayed + stats.after_end

    def _bar_ticks(self, table: Table, layout: _Layout, idx: int,
                   stats: ReplayStats) -> Iterator[TickTuple]:
        convert = self._converter(layout)
        start, end = self.start_ns, self.start_ns + self.duration_ns
        rows: Iterator[Any] = table.rows
        interval = self.bar_interval_ns
        if interval is None:
            head = list(itertools.islice(rows, _INFER_BARS))
            rows = itertools.chain(head, rows)
            interval = _smallest_gap(head, convert)
            if interval is None:
                raise self._error("rows", "bars: cannot infer the bar interval from a single "
                                          "bar (give bar_interval)")
        quarter = interval // 4
        below, spread, depth = self._quote_shape()
        prev = -(1 << 63)
        n = before = replayed = emitted = 0
        try:
            for row in rows:
                n += 1
                try:
                    ts, o, h, lo, c, _ = convert(row)
                except _Bad:
                    raise self._row_error(n, row, layout) from None
                if ts <= prev:
                    raise self._error(f"row {n}", f"ts: out of order: {_show_ts(ts)} is "
                                                  f"{'not after' if ts == prev else 'before'} "
                                                  f"the previous bar's {_show_ts(prev)}")
                if ts - prev < interval and prev > -(1 << 63):
                    raise self._error(f"row {n}", f"ts: {ts - prev} ns after the previous bar, "
                                                  f"less than the bar interval ({interval} ns)")
                prev = ts
                if ts < start:
                    before += 1
                    continue
                if ts >= end:
                    stats.after_end = 1 + count_rest(rows)
                    break
                replayed += 1
                t = ts - start
                horizon = end - start
                path = (o, h, lo, c) if h - o < o - lo else (o, lo, h, c)
                last_px = 0
                for k, p in enumerate(path):
                    if p == last_px:
                        continue
                    tk = t + k * quarter
                    if tk >= horizon:
                        break
                    last_px = p
                    emitted += 1
                    yield (tk, idx, p - below, p - below + spread, p, depth, depth)
        except ReadError as exc:
            raise self._error("", str(exc)) from None
        finally:
            stats.before_start = before
            stats.replayed = replayed
            stats.ticks = emitted
            stats.rows = before + replayed + stats.after_end

    # ------------------------------------------------------------ rows

    def _quote_shape(self) -> tuple[int, int, int]:
        """(below, spread, depth): bid = level - below, ask = bid + spread, as in
        ``sim/market.py`` (a spread rounded up to whole ticks, the bid on the grid)."""
        tick = self.tick_units
        spread = -(-self.spread // tick) * tick
        below = (spread // tick + 1) // 2 * tick
        return below, spread, self.depth

    def _converter(self, layout: _Layout) -> Callable[[Any], tuple[int, ...]]:
        """The fast, strict row converter: raises ``_Bad`` on anything wrong."""
        tick = self.tick_units
        width = layout.width
        its = layout.index["ts"]
        if layout.fmt is DataFormat.BARS:
            io, ih, il, ic = (layout.index[k] for k in ("open", "high", "low", "close"))
            iv = layout.get("volume")

            def bar(row: Any) -> tuple[int, ...]:
                try:
                    if len(row) != width:
                        raise _Bad
                    ts = timestamp_ns(row[its])
                    o, h, lo, c = (price_units(row[io]), price_units(row[ih]),
                                   price_units(row[il]), price_units(row[ic]))
                    vol = 0 if iv is None or _missing(row[iv]) else count_cell(row[iv])
                except (UnitError, TypeError, ValueError):
                    raise _Bad from None
                if (lo <= 0 or o % tick or h % tick or lo % tick or c % tick
                        or h < max(o, c) or lo > min(o, c)):
                    raise _Bad
                return ts, o, h, lo, c, vol

            return bar

        below, spread, depth = self._quote_shape()
        ilast, ibid, iask = layout.get("last"), layout.get("bid"), layout.get("ask")
        ibs, ias = layout.get("bid_size"), layout.get("ask_size")
        # Prices repeat (a path moves over a few thousand levels): a checked cell's
        # units are remembered by its text, which makes most price cells a dict hit.
        cache: dict[object, int] = {}
        get = cache.get

        def px(cell: object) -> int:
            units = price_units(cell)
            if units <= 0 or units % tick:
                raise _Bad
            if type(cell) is str:
                if len(cache) >= _PRICE_CACHE:
                    cache.clear()
                cache[cell] = units
            return units

        def quote(row: Any) -> tuple[int, ...]:
            try:
                if len(row) != width:
                    raise _Bad
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
                        raise _Bad
                    if not last:
                        q, r = divmod((bid + ask) // 2, tick)
                        last = (q + (2 * r >= tick)) * tick
                elif ibid is not None and not _missing(row[iask]):  # type: ignore[index]
                    raise _Bad
                elif last:
                    bid = last - below
                    ask = bid + spread
                else:
                    raise _Bad
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
                raise _Bad from None
            return ts, bid, ask, last, bsz, asz

        return quote

    def _diagnose(self, row: Any, layout: _Layout) -> tuple[list[str], int | None]:
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
        tick = self.tick_units
        counts = ("bid_size", "ask_size", "volume")
        for name, cell in cells.items():
            if name == "ts" or _missing(cell):
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
                if _missing(cells[name]):
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
            has_bid = "bid" in cells and not _missing(cells["bid"])
            has_ask = "ask" in cells and not _missing(cells["ask"])
            if has_bid != has_ask:
                gone, there = ("ask", "bid") if has_bid else ("bid", "ask")
                out.append(f"{gone}: missing ({there} is given; quotes need both)")
            elif not has_bid and ("last" not in cells or _missing(cells["last"])):
                out.append("last: missing (give last, or bid and ask)")
            if "bid" in prices and "ask" in prices and prices["bid"] > prices["ask"]:
                out.append(f"bid: {cells['bid']} is above ask {cells['ask']}")
        if not out:  # the fast path refused what this pass accepts: never silent
            out.append("row: cannot be read")
        return out, ts


def _smallest_gap(head: list[Any], convert: Callable[[Any], tuple[int, ...]]) -> int | None:
    """The bar interval as the smallest positive spacing of the first bars (bad rows
    are left to the row checks)."""
    times = []
    for row in head:
        try:
            times.append(convert(row)[0])
        except _Bad:
            continue
    gaps = [b - a for a, b in zip(times, times[1:]) if b > a]
    return min(gaps) if gaps else None


def _show_ts(ns: int) -> str:
    """Unix ns as ISO 8601 UTC with all nine fraction digits when there are any."""
    secs, frac = divmod(ns, 1_000_000_000)
    try:
        base = dt.datetime.fromtimestamp(secs, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return f"{ns} ns"
    return f"{base}.{frac:09d}Z" if frac else f"{base}Z"


def validate(path: str | Path, instrument: Any, start: int, duration: int, *,
             format: DataFormat | str = DataFormat.TICKS, bar_interval_ns: int | None = None,
             limit: int | None = 100) -> list[tuple[str, str]]:
    """Every problem of a data file for ``instrument`` (an ``Instrument``, or its tick
    size in units), replayed from Unix ns ``start`` for ``duration`` ns."""
    return market_file(path, instrument, start, duration, format=format,
                       bar_interval_ns=bar_interval_ns).validate(limit)


def market_file(path: str | Path, instrument: Any, start: int, duration: int, *,
                format: DataFormat | str = DataFormat.TICKS, spread: int = 0,
                depth: int = 1_000_000, bar_interval_ns: int | None = None,
                source: str = "", where: str = "") -> MarketFile:
    """A ``MarketFile`` from the scenario's terms (``format`` may be its YAML text)."""
    tick = instrument if isinstance(instrument, int) else instrument.tick_units
    return MarketFile(Path(path), tick, start, duration, DataFormat(format), spread, depth,
                      bar_interval_ns, source, where)


__all__ = ["COLUMNS", "DataFormat", "MarketFile", "ReplayStats", "market_file", "validate"]
