"""Reading a journal back: events as dicts, or as a polars DataFrame with exact decimals.

A journal is JSONL: a header line, then one event per line with ``ts_ns`` and
``type``. Money, prices and quantities are written as strings precisely so that nothing
on the way turns them into binary floats; ``pd.read_json(lines=True)`` undoes that, which
is why this reader exists. It keeps them exact: in Python as ``Decimal``, in the
DataFrame as ``pl.Decimal`` with the scale the data needs (the most fraction digits any
value of the column has), so every value reads back equal to its journal string.

Time: ``ts_ns`` stays as the raw integer, and ``ts`` is a nanosecond UTC timestamp.
A live journal's ``ts_ns`` is already Unix time. A simulated one counts virtual
nanoseconds from t=0; when the header names the scenario's ``start`` wall-clock time,
``ts`` is that time plus ``ts_ns``, otherwise the Unix epoch plus ``ts_ns`` (a run
without a start has no calendar, only elapsed time).

polars is an optional dependency (the ``report`` extra); the dict readers here need
only the standard library, and ``read`` imports polars when it is called.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from .kernel.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

#: Field names that hold money, prices, quantities or percentages (decimal strings).
DECIMAL_FIELDS = frozenset({
    "price", "qty", "avg_price", "realized_pnl", "unrealized_pnl", "from_price",
    "to_price", "pct", "fee", "open", "high", "low", "close", "stop_price", "limit_price",
    "trigger_price", "cash", "account_cash", "notional",
})
_DECIMAL_SUFFIXES = ("_price", "_pnl", "_qty", "_fee")
_DECIMAL_TEXT = re.compile(r"-?\d+(\.\d+)?\Z")
_FIRST = ("ts", "ts_ns", "type")
#: Where ``read`` puts an object-valued field that other events hold as a decimal
#: (``run_finished.realized_pnl`` is a map of symbol to P&L): ``realized_pnl_by_symbol``.
NESTED_SUFFIX = "_by_symbol"


class JournalReadError(InputError):
    """A journal that cannot be read: prints as ``FILE: line N: problem``."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        super().__init__(str(path), [(f"line {line}" if line is not None else "", problem)])


def is_decimal_field(name: str) -> bool:
    """Whether journal field ``name`` holds an exact decimal written as a string."""
    return name in DECIMAL_FIELDS or name.endswith(_DECIMAL_SUFFIXES)


def _parse(path: Path, n: int, text: str) -> dict[str, Any]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JournalReadError(path, n, f"not JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise JournalReadError(path, n, "a journal line must be a JSON object")
    return obj


def read_header(path: str | Path) -> dict[str, Any]:
    """The journal's first line (``{"type": "header", "format": 1, ...}``) as a dict."""
    p = Path(path)
    try:
        with p.open("r", encoding="utf-8") as f:
            first = f.readline()
    except OSError as exc:
        raise JournalReadError(p, None, f"cannot read: {exc.strerror or exc}") from None
    if not first.strip():
        raise JournalReadError(p, 1, "empty file: a journal starts with its header line")
    head = _parse(p, 1, first)
    if head.get("type") != "header":
        raise JournalReadError(p, 1, f"the first line is a {head.get('type')!r} event, "
                               "not the journal header")
    if head.get("format") != 1:
        raise JournalReadError(p, 1, f"journal format {head.get('format')!r} is not "
                               "supported (this reader knows format 1)")
    return head


def iter_events(path: str | Path, types: Iterable[str] | None = None,
                *, decimals: bool = True) -> Iterator[dict[str, Any]]:
    """Every event after the header, in journal order, optionally only ``types``.

    With ``decimals`` (the default) top-level decimal fields are ``Decimal``. A torn
    last line (a live process killed mid-write) is skipped; any other bad line is an
    error naming the line.
    """
    p = Path(path)
    read_header(p)
    wanted = None if types is None else frozenset(types)
    with p.open("r", encoding="utf-8") as f:
        lines = f.readlines()
    last = len(lines)
    for n, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        try:
            event = _parse(p, n, text)
        except JournalReadError:
            if n == last and not text.endswith("\n"):
                return  # torn tail of a live journal
            raise
        kind = event.get("type")
        if not isinstance(kind, str) or type(event.get("ts_ns")) is not int:
            raise JournalReadError(p, n, "an event needs an integer ts_ns and a string type")
        if wanted is not None and kind not in wanted:
            continue
        if decimals:
            for key, value in event.items():
                if isinstance(value, str) and is_decimal_field(key) and _DECIMAL_TEXT.match(value):
                    event[key] = Decimal(value)
        yield event


def time_origin_ns(header: dict[str, Any]) -> int:
    """What to add to ``ts_ns`` to get Unix nanoseconds (0 for a live journal)."""
    if header.get("live") is not None or "start_unix_ns" in header:
        return 0
    start = header.get("start")
    if isinstance(start, str) and start:
        try:
            when = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            return 0
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        delta = when - datetime(1970, 1, 1, tzinfo=timezone.utc)
        return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    return 0


def _scale(values: list[Any]) -> int:
    scale = 0
    for v in values:
        if isinstance(v, Decimal):
            exp = v.as_tuple().exponent
            if isinstance(exp, int) and -exp > scale:
                scale = -exp
    return scale


def _column(name: str, values: list[Any]) -> "pl.Series":
    import polars as pl

    present = [v for v in values if v is not None]
    if is_decimal_field(name) and present and all(
            isinstance(v, str) and _DECIMAL_TEXT.match(v) for v in present):
        decs = [None if v is None else Decimal(v) for v in values]
        scale = _scale(decs)
        whole = max((max(d.adjusted() + 1, 1) for d in decs if d is not None), default=1)
        precision = min(38, max(whole + scale, 10))  # room for the widest value, exactly
        return pl.Series(name, decs, dtype=pl.Decimal(precision, scale))
    if present and all(type(v) is bool for v in present):
        return pl.Series(name, values, dtype=pl.Boolean)
    if present and all(type(v) is int for v in present):
        return pl.Series(name, values, dtype=pl.Int64)
    if present and all(isinstance(v, str) for v in present):
        return pl.Series(name, values, dtype=pl.String)
    if not present:
        return pl.Series(name, values, dtype=pl.Null)
    try:  # objects and lists: polars structs and lists, as their JSON types
        return pl.Series(name, values, strict=True)
    except Exception:  # mixed shapes in one column: keep the JSON text, exactly
        return pl.Series(name, [None if v is None else json.dumps(v, sort_keys=True)
                                for v in values], dtype=pl.String)


def read(path: str | Path, types: Iterable[str] | str | None = None) -> "pl.DataFrame":
    """The journal's events as a polars DataFrame, one row per event, in journal order.

    Columns: ``ts`` (``Datetime("ns", "UTC")``), ``ts_ns`` (Int64), ``type``, then every
    field any selected event has, alphabetically (null where an event lacks it).
    Decimal fields (prices, quantities, money, percentages) are ``pl.Decimal`` with the
    scale of their most precise value, never floats; booleans, integers and strings keep
    their JSON types; nested objects become structs or lists (an object under a decimal
field's name, as ``run_finished.realized_pnl``, goes to ``<name>_by_symbol``). ``types`` keeps only those
    event types (``"fill"`` or ``["fill", "bar"]``). The header is ``read_header(path)``.
    """
    try:
        import polars as pl
    except ImportError as exc:  # pragma: no cover - exercised through the CLI message
        raise ImportError("triotrade.journal.read needs polars: "
                          "pip install 'triotrade[report]'") from exc
    if isinstance(types, str):
        types = [types]
    header = read_header(path)
    events = list(iter_events(path, types, decimals=False))
    names: dict[str, None] = {}
    for e in events:
        for k, v in list(e.items()):
            if isinstance(v, (dict, list)) and is_decimal_field(k):
                # run_finished's per-symbol maps share a name with the scalar field of
                # other events; one column holds one type, so they get their own
                e[k + NESTED_SUFFIX] = e.pop(k)
                k = k + NESTED_SUFFIX
            names.setdefault(k, None)
    ordered = ["ts_ns", "type"] + sorted(k for k in names if k not in _FIRST)
    columns = [_column(k, [e.get(k) for e in events]) for k in ordered]
    origin = time_origin_ns(header)
    ts = pl.Series("ts", [e["ts_ns"] + origin for e in events], dtype=pl.Int64)
    ts = ts.cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")
    if not events:
        return pl.DataFrame([ts, pl.Series("ts_ns", [], dtype=pl.Int64),
                             pl.Series("type", [], dtype=pl.String)])
    return pl.DataFrame([ts, *columns])
