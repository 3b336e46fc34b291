"""Reading market-data files row by row: CSV and Parquet, timestamps and prices.

The one promise here is streaming: a reader holds one row (CSV) or one record batch
(Parquet, ``BATCH_ROWS`` rows) at a time, so a 10 M-row file replays in the memory of
a 10-row one. Readers yield raw cells in the file's column order; what the columns
mean is ``sim/datafiles.py``'s business.

Cells are read exactly: prices become integer 1e-8 units with the same rules as
``kernel.units.to_units`` (a fast path for the plain ``123.45`` form, which is what
files hold, and ``to_units`` itself for anything else, so both agree by
construction), timestamps become integer Unix nanoseconds from either an integer or
ISO 8601 text with an explicit offset (a time without one is an error, not a guess
at the machine's time zone). Fractions of a second keep all nine digits.

pyarrow is imported only when a Parquet file is opened: it is the optional ``data``
extra, and CSV needs nothing beyond the standard library.
"""
from __future__ import annotations

import csv
import datetime as dt
import itertools
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import attrs

from ..kernel.units import PRICE_DECIMALS, PRICE_SCALE, UnitError, to_units

BATCH_ROWS = 65_536

_POW = tuple(10 ** (PRICE_DECIMALS - i) for i in range(PRICE_DECIMALS + 1))
_ISO = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?)"
                  r"(?:[.,]([0-9]+))?\s*(Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def price_units(value: object) -> int:
    """A price cell as 1e-8 units; ``UnitError`` when it is not an exact number."""
    if type(value) is str:
        whole, _, frac = value.partition(".")
        # the plain form only; long numbers go to to_units, which refuses what is too big
        if (len(whole) <= 20 and whole.isdigit() and whole.isascii()
                and len(frac) <= PRICE_DECIMALS and (not frac or (frac.isdigit() and frac.isascii()))):
            return int(whole) * PRICE_SCALE + (int(frac) * _POW[len(frac)] if frac else 0)
    elif type(value) is int:
        return value * PRICE_SCALE
    return to_units(value)


def count_cell(value: object) -> int:
    """A size or volume cell: a non-negative integer (``"300"``, ``300``, ``300.0``)."""
    if type(value) is str and value.isdigit() and value.isascii():
        return int(value)
    if type(value) is int:
        n = value
    elif type(value) is float and value.is_integer():
        n = int(value)
    else:
        raise UnitError(f"expected a non-negative integer, got {value!r}")
    if n < 0:
        raise UnitError(f"expected a non-negative integer, got {value!r}")
    return n


def timestamp_ns(value: object) -> int:
    """A ``ts`` cell as Unix nanoseconds: an integer, or ISO 8601 with an offset."""
    if type(value) is int:
        return value
    if type(value) is str:
        if value.isdigit() and value.isascii():
            return int(value)
        return iso_ns(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise UnitError(f"{value.isoformat()} has no time zone")
        delta = value - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    raise UnitError(f"expected ISO 8601 time with offset or integer Unix nanoseconds, "
                    f"got {type(value).__name__} {value!r}")


_TAIL = re.compile(r":([0-9]{2})(?:[.,]([0-9]{1,9}))?(Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)")
_MINUTES: dict[tuple[str, str], int] = {}  # (YYYY-MM-DDTHH:MM, offset) -> Unix ns
_MINUTES_MAX = 4096


def iso_ns(text: str) -> int:
    """ISO 8601 with an offset (``Z``, ``+05:30``) to Unix ns, keeping 9 fraction digits.

    Consecutive rows share their minute: the minute's Unix time is computed once
    (through ``datetime``, which checks the date) and cached, so a row costs one small
    regex match for its seconds, fraction and offset."""
    m = _TAIL.fullmatch(text, 16) if len(text) > 19 and text[16] == ":" else None
    if m is None:
        return _iso_full(text)
    sec, frac, offset = m.groups()
    key = (text[:16], offset)
    base = _MINUTES.get(key)
    if base is None:
        if int(sec) > 59:
            return _iso_full(text)  # let datetime say what is wrong
        try:
            base = _iso_full(text[:16] + offset)
        except UnitError:
            return _iso_full(text)  # the message quotes the cell as it is
        if len(_MINUTES) >= _MINUTES_MAX:
            _MINUTES.clear()
        _MINUTES[key] = base
    s = int(sec)
    if s > 59:
        return _iso_full(text)
    ns = base + s * 1_000_000_000
    if frac:
        ns += int(frac) * 10 ** (9 - len(frac))
    return ns


def _iso_full(text: str) -> int:
    m = _ISO.fullmatch(text.strip())
    if m is None:
        raise UnitError(f"cannot parse {text!r} as an ISO 8601 time or integer Unix nanoseconds")
    base, frac, offset = m.groups()
    if offset is None:
        raise UnitError(f"{text!r} has no UTC offset (add Z or +00:00)")
    if len(frac or "") > 9:
        raise UnitError(f"{text!r} is finer than a nanosecond")
    if offset in ("Z", "z"):
        offset = "+00:00"
    try:
        when = dt.datetime.fromisoformat(base.replace(" ", "T") + offset)
    except ValueError as exc:
        raise UnitError(f"cannot parse {text!r} as an ISO 8601 time: {exc}") from None
    delta = when - _EPOCH
    ns = (delta.days * 86400 + delta.seconds) * 1_000_000_000
    if frac:
        ns += int(frac.ljust(9, "0"))
    return ns


# ------------------------------------------------------------------ readers


class ReadError(Exception):
    """The file cannot be read at all (missing, not CSV/Parquet, a broken header)."""


@attrs.frozen
class Table:
    """An open data file: its column names and a one-pass iterator of raw rows."""

    columns: tuple[str, ...]
    rows: Iterator[Any]  # lists of str (CSV) or tuples of values (Parquet)
    # columns the reader could not hand over as usable cells, with the reason
    column_problems: tuple[tuple[str, str], ...] = ()
    close: Callable[[], None] = lambda: None  # for a table whose rows will not be read
    # rows are fresh lists of str (CSV), else tuples of hashable cells (Parquet, whose
    # boolean columns are refused, so no True can pass for a cached 1)
    text_rows: bool = False


def open_table(path: Path) -> Table:
    """CSV by default; Parquet for ``.parquet``/``.pq`` names."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return _open_parquet(path)
    return _open_csv(path)


def _open_csv(path: Path) -> Table:
    try:
        f = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed by _csv_rows
    except OSError as exc:
        raise ReadError(f"cannot read file: {exc.strerror or exc}") from None
    reader = csv.reader(f)
    try:
        header = next(reader)
    except StopIteration:
        f.close()
        raise ReadError("the file is empty (expected a header line of column names)") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        f.close()
        raise ReadError(f"cannot read the header as CSV: {exc}") from None
    return Table(tuple(h.strip() for h in header), _csv_rows(f, reader), close=f.close,
                 text_rows=True)


def _csv_rows(f: Any, reader: Any) -> Iterator[list[str]]:
    """Rows as lists of cells. A line without a quote character is split on commas
    directly (the csv module's answer for such a line, at half its cost); from the
    first line with a quote on, the csv module reads the rest, since a quoted field
    may hold commas or even line breaks."""
    line_no = 1  # the header
    with f:
        try:
            for line in f:
                if '"' in line:
                    reader = csv.reader(itertools.chain((line,), f))
                    for row in reader:
                        yield row
                    return
                line_no += 1
                line = line.rstrip("\r\n")
                yield line.split(",") if line else []
        except csv.Error as exc:
            raise ReadError(f"line {line_no + reader.line_num}: cannot read as CSV: {exc}") \
                from None
        except UnicodeDecodeError as exc:
            raise ReadError(f"after line {line_no}: cannot read as UTF-8 text: {exc}") from None


def _open_parquet(path: Path) -> Table:
    try:
        import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
        import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise ReadError("reading Parquet needs pyarrow: pip install 'triotrade[data]'") from None
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise ReadError(f"cannot read as Parquet: {exc}") from None
    schema = pf.schema_arrow
    names = tuple(schema.names)
    problems: list[tuple[str, str]] = []
    ts_cast: dict[int, Any] = {}
    for i, field in enumerate(schema):
        if pa.types.is_timestamp(field.type):
            if field.type.tz is None:
                problems.append((field.name, "a timestamp column without time zone; store it "
                                             "with one (UTC) or as integer Unix nanoseconds"))
            else:
                ts_cast[i] = pa.timestamp("ns", tz=field.type.tz)
        elif pa.types.is_boolean(field.type) or pa.types.is_nested(field.type):
            problems.append((field.name, f"a {field.type} column; expected numbers or text"))
    return Table(names, _parquet_rows(pf, ts_cast, pa), tuple(problems),
                 close=getattr(pf, "close", lambda: None))


def _parquet_rows(pf: Any, ts_cast: dict[int, Any], pa: Any) -> Iterator[tuple[Any, ...]]:
    try:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            cols = []
            for i in range(batch.num_columns):
                arr = batch.column(i)
                if i in ts_cast:
                    arr = arr.cast(ts_cast[i]).cast(pa.int64())
                cols.append(arr.to_pylist())
            yield from zip(*cols)
    except pa.ArrowException as exc:
        raise ReadError(f"cannot read as Parquet: {exc}") from None


def count_rest(rows: Iterator[tuple[Any, ...]]) -> int:
    """Exhaust ``rows`` and count them, without looking at the cells."""
    n = 0
    for _ in rows:
        n += 1
    return n


__all__ = ["BATCH_ROWS", "ReadError", "Table", "count_cell", "count_rest", "iso_ns",
           "open_table", "price_units", "timestamp_ns"]
