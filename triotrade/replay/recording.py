"""Reading a recorded live journal and its quotes, refusing what cannot be replayed.

Everything wrong with the input is a ``ReplayInputError`` (exit 2) naming the file and
the line: not a journal, a journal of a simulated run or of a live run recorded before
recordings existed, a torn line (a truncated file), a quotes folder that is missing or
unreadable. A journal that simply stops (the process was killed) is replayable up to
its last event: that is the point of recording as it goes.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import attrs

from ..kernel.errors import InputError


class ReplayInputError(InputError):
    """A journal (or its recording) that cannot be replayed: ``FILE: where: problem``."""


Quote = tuple[int, int, int, int, int, int]  # ts (Unix ns), bid, ask, last, bid_size, ask_size


@attrs.define
class Recording:
    path: Path
    header: dict[str, Any]
    events: list[dict[str, Any]]  # everything after the header
    quotes: dict[str, list[Quote]]  # by symbol, in time order
    finished: bool  # the journal ends in run_finished (else: the run was killed)

    @property
    def start_ns(self) -> int:
        return int(self.header["start_unix_ns"])

    @property
    def venue(self) -> str:
        return str(self.header.get("venue") or self.header["scenario"].split(":", 1)[-1])

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]


def read(path: str | Path) -> Recording:
    """The recording of the live journal at ``path`` (quotes from the folder it names)."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReplayInputError(source, [("", f"cannot read: {exc.strerror or exc}")]) from None
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise ReplayInputError(source, [("", "empty file: not a journal")])
    parsed: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        try:
            ev = json.loads(line)
            if not isinstance(ev, dict) or not isinstance(ev.get("type"), str):
                raise ValueError("not a journal event")
        except ValueError as exc:
            if i == 0:
                raise ReplayInputError(source, [("line 1", "not a journal (the first line must "
                                                 "be its JSON header)")]) from None
            torn = i == len(lines) - 1 and not raw.endswith(b"\n")
            what = ("truncated: the last line is cut short" if torn
                    else f"not a journal line ({exc})")
            raise ReplayInputError(source, [(f"line {i + 1}", what)]) from None
        parsed.append(ev)
    header = parsed[0]
    if header["type"] != "header":
        raise ReplayInputError(source, [("line 1", "not a journal (the first line must be "
                                         "its header)")])
    if not header.get("scenario", "").startswith("live:") or "start_unix_ns" not in header:
        raise ReplayInputError(source, [("header", "the journal of a simulated run: replay "
                                         "takes a live journal (run it again with "
                                         "`triotrade run`)")])
    rec = header.get("recording")
    if not isinstance(rec, dict) or not isinstance(rec.get("quotes"), str):
        raise ReplayInputError(source, [("header", "this live journal has no recording "
                                         "(written before recordings existed)")])
    events = parsed[1:]
    finished = bool(events) and events[-1]["type"] in ("run_finished", "run_failed")
    folder = path.parent / rec["quotes"]
    # a run killed before its first batch of quotes was written (every 0.5 s) has none;
    # a run that finished wrote its last batch on the way out, so it must have them
    quotes = read_quotes(folder, source) if finished or folder.exists() else {}
    return Recording(path, header, events, quotes, finished)


def read_quotes(folder: Path, source: str) -> dict[str, list[Quote]]:
    """Every part file of the quotes folder, in part order, by symbol."""
    where = f"header.recording.quotes: {folder.name}"
    if not folder.is_dir():
        raise ReplayInputError(source, [(where, "the recorded quotes are missing (no such "
                                         "folder next to the journal)")])
    parts = sorted(p for p in folder.iterdir() if p.name.startswith("part-"))
    held = _compacted_upto(folder)  # parts already inside part-000000 (a clean exit)
    parts = [p for p in parts if p.name == COMPACTED or _number(p) > held]
    out: dict[str, list[Quote]] = {}
    for part in parts:
        try:
            rows = _rows(part)
        except Exception as exc:  # noqa: BLE001 - any unreadable part is the same problem
            raise ReplayInputError(source, [(f"{where}/{part.name}",
                                             f"unreadable part file: {exc}")]) from None
        for ts, sym, bid, ask, last, bs, asz in rows:
            out.setdefault(str(sym), []).append((int(ts), int(bid), int(ask), int(last),
                                                 int(bs), int(asz)))
    for rows in out.values():
        rows.sort(key=lambda q: q[0])  # stable: equal times keep their order of arrival
    return out


COMPACTED = "part-000000.parquet"  # venues/recording.py: the parts of a clean exit, in one


def _number(part: Path) -> int:
    try:
        return int(part.name.split(".")[0].split("-")[1])
    except (IndexError, ValueError):
        return 0


def _compacted_upto(folder: Path) -> int:
    if not (folder / COMPACTED).exists():
        return 0
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(folder / COMPACTED).metadata or {}
        return int(meta.get(b"last_part", b"0"))
    except Exception:  # noqa: BLE001 - the reader below names the unreadable file
        return 0


def _rows(part: Path) -> list[tuple[Any, ...]]:
    if part.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(part)
        cols = [table.column(n).to_pylist() for n in
                ("ts", "symbol", "bid", "ask", "last", "bid_size", "ask_size")]
        return list(zip(*cols))
    with open(part, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        return [tuple(r) for r in reader]
