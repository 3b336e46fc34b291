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
and counted in ``ReplayStats``; once a replay passes the end the rest is counted
without being parsed.

Two passes over the same row rules (``sim/datarows.py``). ``validate`` reads the
whole file and reports every problem (``("row N", "column: problem")``, rows counted
from 1 after the header; ``("columns", ...)`` for the header), for ``triotrade check``
and before a run. ``ticks`` streams, with the cheap per-row checks still on, and raises an
``InputError`` at the first bad row rather than replay garbage; it never holds more
than one row or Parquet batch.
"""
from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any, Callable, Iterator

import attrs

from ..kernel.errors import InputError
from ..kernel.units import UnitError
from .datareaders import ReadError, Table, count_rest, open_table, timestamp_ns
from .datarows import COLUMNS, Bad, DataFormat, Layout, converter, diagnose, layout_of, \
    quote_shape

TickTuple = tuple[int, int, int, int, int, int, int]
Quote5 = tuple[int, int, int, int, int]  # bid, ask, last, bid_size, ask_size
_INFER_BARS = 16  # bars looked at to infer the interval
_QUOTE_CACHE = 1 << 16  # distinct quotes (all cells but ts) remembered per file


@attrs.define
class ReplayStats:
    rows: int = 0  # data rows in the file (all of them once the replay has finished)
    replayed: int = 0  # rows inside [start, start + duration)
    before_start: int = 0
    after_end: int = 0
    ticks: int = 0  # ticks yielded (a bar makes up to four)


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
        layout, problems = layout_of(table, self.format)
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

        convert = converter(layout, self.tick_units, self.spread, self.depth)
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
                except Bad:
                    found, ts = diagnose(row, layout, self.tick_units)
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

    def _open(self) -> tuple[Table, Layout]:
        try:
            table = open_table(self.path)
        except ReadError as exc:
            raise self._error("", f"{exc}") from None
        layout, problems = layout_of(table, self.format)
        if layout is None:
            table.close()
            raise InputError(self.source or str(self.path),
                             [(self._key(k), v) for k, v in problems])
        return table, layout

    def _key(self, key: str) -> str:
        return ": ".join(p for p in (self.where, key) if p)

    def _error(self, key: str, text: str) -> InputError:
        return InputError(self.source or str(self.path), [(self._key(key), text)])

    def _row_error(self, n: int, row: Any, layout: Layout) -> InputError:
        found, _ = diagnose(row, layout, self.tick_units)
        return InputError(self.source or str(self.path),
                          [(self._key(f"row {n}"), text) for text in found])

    def _tick_ticks(self, table: Table, layout: Layout, idx: int,
                    stats: ReplayStats) -> Iterator[TickTuple]:
        """The tick stream. Rows go through a quote cache: the cells other than ``ts``
        of a row already converted map to its checked quote, and a path revisits the
        same quotes all the time, so most rows cost a timestamp and one dict lookup.
        The cache is bounded (memory stays flat)."""
        convert = converter(layout, self.tick_units, self.spread, self.depth)
        start, end = self.start_ns, self.start_ns + self.duration_ns
        rows = table.rows
        its, width = layout.index["ts"], layout.width
        text = table.text_rows
        quotes: dict[tuple[Any, ...], Quote5] = {}
        get = quotes.get

        def slow(n: int, row: Any, key: tuple[Any, ...] | None,
                 q: Quote5 | None) -> tuple[int, Quote5]:
            """A row the cache could not take whole: convert it (and remember its
            quote), or only read its ts when the quote was known."""
            try:
                if q is not None:
                    return timestamp_ns(row[its]), q
                ts, bid, ask, last, bsz, asz = convert(row)
            except (Bad, UnitError):
                raise self._row_error(n, row, layout) from None
            q = (bid, ask, last, bsz, asz)
            if key is not None:
                if len(quotes) >= _QUOTE_CACHE:
                    quotes.clear()
                quotes[key] = q
            return ts, q

        prev = -(1 << 63)
        before = replayed = 0
        q: Quote5 | None
        try:
            for n, row in enumerate(rows, 1):
                if len(row) != width:
                    ts, q = slow(n, row, None, None)
                elif text:
                    cell = row.pop(its)
                    key = tuple(row)
                    q = get(key)
                    if q is not None and cell.isdigit() and cell.isascii():
                        ts = int(cell)
                    else:
                        row.insert(its, cell)
                        ts, q = slow(n, row, key, q)
                else:
                    cell = row[its]
                    key = row[1:] if its == 0 else row[:its] + row[its + 1:]
                    q = get(key)
                    if q is not None and type(cell) is int:
                        ts = cell
                    else:
                        ts, q = slow(n, row, key, q)
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
                yield (ts - start, idx) + q  # type: ignore[misc, operator]
        except ReadError as exc:
            raise self._error("", str(exc)) from None
        finally:
            stats.before_start = before
            stats.replayed = replayed
            stats.ticks = replayed
            stats.rows = before + replayed + stats.after_end

    def _bar_ticks(self, table: Table, layout: Layout, idx: int,
                   stats: ReplayStats) -> Iterator[TickTuple]:
        convert = converter(layout, self.tick_units, self.spread, self.depth)
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
        below, spread, depth = quote_shape(self.tick_units, self.spread, self.depth)
        prev = -(1 << 63)
        n = before = replayed = emitted = 0
        try:
            for row in rows:
                n += 1
                try:
                    ts, o, h, lo, c, _ = convert(row)
                except Bad:
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

def _smallest_gap(head: list[Any], convert: Callable[[Any], tuple[int, ...]]) -> int | None:
    """The bar interval as the smallest positive spacing of the first bars (bad rows
    are left to the row checks)."""
    times = []
    for row in head:
        try:
            times.append(convert(row)[0])
        except Bad:
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
