"""The append-only JSONL journal and its digest.

Every line is canonical JSON (sorted keys, no spaces, no floats), so the SHA-256 of
the bytes is a fingerprint of the run: same scenario + seed => same digest. Listeners
(the invariant checker, the live summary) see each event as it is written, which is
how invariants are checked on every event rather than at the end.
"""
from __future__ import annotations

import enum
import hashlib
import json
from json.encoder import encode_basestring as _quote
from decimal import Decimal
from fractions import Fraction
from typing import IO, Any, Callable

from .events import event_problems

FORMAT_VERSION = 1

Listener = Callable[[dict[str, Any]], None]
_PLAIN = frozenset({str, int, bool, type(None)})  # already canonical: the fast path


class JournalError(Exception):
    pass


def _canonical(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise JournalError(f"{value} in a journal event: money must be a finite number")
        if not value and value.is_signed():
            value = value.copy_abs()  # -0.00 and 0.00 are the same amount: one spelling
        return format(value, "f")
    if isinstance(value, enum.Enum):
        return _canonical(value.value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = _key(k)
            if key in out:
                raise JournalError(f"two keys read back as {key!r} in one journal object")
            out[key] = _canonical(v)
        return out
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float):
        raise JournalError(f"float {value!r} in a journal event: money must be exact")
    if isinstance(value, Fraction):
        raise JournalError("Fraction in a journal event: format it first")
    raise JournalError(f"cannot journal a {type(value).__name__}")


def _key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, enum.Enum):
        return _key(k.value)
    if isinstance(k, int) and not isinstance(k, bool):
        return str(k)
    raise JournalError(f"cannot use a {type(k).__name__} as a journal key")


def canonical(event: dict[str, Any]) -> dict[str, Any]:
    """The event as it will read back from the journal (enums and Decimals as text)."""
    return _canonical(event)  # type: ignore[no-any-return]


_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


# per key order of an event (its dict's insertion order): the keys sorted, each with
# its prefix '"key":' built once; kernel code emits a few dozen shapes, bounded anyway
_SHAPES: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}
_MAX_SHAPES = 4096


def _encode(event: dict[str, Any]) -> str:
    """Exactly ``json.dumps(event, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` plus a newline, several times as fast for the flat events
    the kernel writes: the sorted keys and their prefixes are built once per shape of
    event, top-level strings, ints, booleans and nulls are formatted directly (keys are
    identifiers from our own code), anything else goes through the json encoder."""
    shape = tuple(event)
    order = _SHAPES.get(shape)
    if order is None:
        order = tuple((key, f'"{key}":') for key in sorted(event))
        if len(_SHAPES) < _MAX_SHAPES:
            _SHAPES[shape] = order
    parts = []
    for key, prefix in order:
        value = event[key]
        kind = type(value)
        if kind is str:
            parts.append(prefix + _quote(value))
        elif kind is int:
            parts.append(prefix + int.__repr__(value))
        elif kind is bool:
            parts.append(prefix + ("true" if value else "false"))
        elif value is None:
            parts.append(prefix + "null")
        else:
            parts.append(prefix + _dumps(value))
    return "{" + ",".join(parts) + "}\n"


_HASH_BATCH = 512  # lines hashed in one update: the digest is over the same bytes


class Journal:
    """Writes canonical lines, hashes them, and keeps the events for the run's checks."""

    def __init__(self, sink: IO[bytes] | None = None, *, keep: bool = True,
                 durable: bool = False, check: bool = False) -> None:
        """``durable``: flush every line (live runs: a crash must not lose the journal).

        ``check``: refuse an event that ``kernel/events.py`` does not describe (tests
        and debugging; the simulator's invariant checker does the same on every run).
        """
        self._sink = sink
        self._check = check
        self._durable = durable
        self._hash = hashlib.sha256()
        self._unhashed: list[bytes] = []  # written lines not yet in the hash (a batch)
        self._keep = keep
        self.events: list[dict[str, Any]] = []
        self._listeners: list[Listener] = []
        self.lines = 0

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def header(self, **fields: Any) -> None:
        if self.lines:
            raise JournalError("the header must be the first line")
        event = canonical({"type": "header", "format": FORMAT_VERSION, **fields})
        if self._check and event_problems(event):
            raise JournalError("; ".join(event_problems(event)))
        self._write(event)

    def emit(self, ts_ns: int, type_: str, **fields: Any) -> dict[str, Any]:
        """Write one event; listeners see it in its canonical (read-back) form."""
        if type(ts_ns) is not int:
            raise JournalError(f"ts_ns must be integer nanoseconds, got {ts_ns!r}")
        event = {"ts_ns": ts_ns, "type": type_, **fields}
        for value in fields.values():
            if type(value) not in _PLAIN:
                event = canonical(event)  # enums, Decimals, nested: convert (and vet) all
                break
        if self._check:
            problems = event_problems(event)
            if problems:
                raise JournalError("; ".join(problems))
        self._write(event)
        for listener in self._listeners:
            listener(event)
        return event

    def _write(self, event: dict[str, Any]) -> None:
        line = _encode(event).encode("utf-8")
        unhashed = self._unhashed
        unhashed.append(line)
        if len(unhashed) >= _HASH_BATCH:
            self._hash.update(b"".join(unhashed))
            unhashed.clear()
        if self._sink is not None:
            self._sink.write(line)
            if self._durable:
                self._sink.flush()
        if self._keep:
            self.events.append(event)
        self.lines += 1

    @property
    def digest(self) -> str:
        if self._unhashed:
            self._hash.update(b"".join(self._unhashed))
            self._unhashed.clear()
        return "sha256:" + self._hash.hexdigest()

    def flush(self) -> None:
        if self._sink is not None:
            self._sink.flush()
