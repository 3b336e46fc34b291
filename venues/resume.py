"""Live restarts: which journal to resume from, reading it, and making journals durable.

A live kernel that dies restarts from its own journal (``kernel/restore.py`` folds it
into the day's state). By default it resumes from the latest journal of the same
trading day (UTC date of its header's ``start_unix_ns``) for the same venue in the
runs folder, and says so on screen; ``--resume FILE`` names one; ``--fresh`` starts
from nothing. A journal that cannot be read is an input error (exit 2): a kernel
must never quietly start flat because its memory was unreadable.

Durability without slowing the tick -> order path: every line is flushed to the OS as
it is written (a killed process loses nothing already written), and a write-behind
task ``fsync``s the file off the trio thread at most ``FSYNC_EVERY_S`` after a line
was written (a power cut loses at most that much). An order sent but not yet durable
is still found at restart by its role tag at the venue.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import IO, Any

import trio

from ..kernel.errors import InputError
from ..kernel.journal import Journal
from ..kernel.restore import DayState, read_day
from ..kernel.units import NS_PER_S

FSYNC_EVERY_S = 0.2
_DAY_NS = 86_400 * NS_PER_S


class ResumeError(InputError):
    """A journal to resume from that cannot be read (``FILE: line N: problem``)."""


def load_day(path: str | Path) -> DayState:
    """The day's state from a journal file; a torn last line (the process died while
    writing it) is skipped, any other unreadable line is an error."""
    source = str(path)
    try:
        lines = Path(path).read_bytes().split(b"\n")
    except OSError as exc:
        raise ResumeError(source, [("", f"cannot read journal: {exc.strerror or exc}")]) from None
    events: list[dict[str, Any]] = []
    last = max((i for i, raw in enumerate(lines) if raw.strip()), default=-1)
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            ev = json.loads(raw)
            if not isinstance(ev, dict) or "type" not in ev:
                raise ValueError("not a journal event")
        except ValueError as exc:
            if i == last:
                break  # torn by the crash: it never happened
            raise ResumeError(source, [(f"line {i + 1}", f"not a journal line: {exc}")]) from None
        events.append(ev)
    if not events or events[0].get("type") != "header":
        raise ResumeError(source, [("line 1", "a journal starts with its header")])
    try:
        return read_day(events, source)
    except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
        raise ResumeError(source, [("", f"cannot rebuild the day: {exc!r}")]) from None


def latest_of_today(folder: Path, venue: str, now_ns: int | None = None) -> Path | None:
    """The most recent journal of ``venue`` in ``folder`` that started today (UTC)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    today = now_ns // _DAY_NS
    best: tuple[int, str] | None = None
    for p in folder.glob(f"live-{venue}-*.jsonl"):
        try:
            with p.open("rb") as f:
                header = json.loads(f.readline())
        except (OSError, ValueError):
            continue
        start = header.get("start_unix_ns") if isinstance(header, dict) else None
        if isinstance(start, int) and start // _DAY_NS == today:
            if best is None or (start, str(p)) > best:
                best = (start, str(p))
    return Path(best[1]) if best else None


async def write_behind(journal: Journal, sink: IO[bytes]) -> None:
    """fsync the journal file off the trio thread whenever lines were written."""
    done = journal.lines
    fd = sink.fileno()
    while True:
        await trio.sleep(FSYNC_EVERY_S)
        if journal.lines != done:
            done = journal.lines
            await trio.to_thread.run_sync(os.fsync, fd)
