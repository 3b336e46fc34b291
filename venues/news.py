"""Live news alerts: tail a JSONL file and hand each alert to the kernel.

One alert per line: ``{"symbol": "ACME", "side": "BUY", "published": "2026-11-20T14:30:00Z"}``
(``published`` may also be Unix nanoseconds). A bad line is journaled as
``news_rejected`` with its line number and skipped; the tail never dies on input.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import trio

from ..kernel.runtime import Kernel
from ..kernel.signals import Signal, SignalSide

_SIDES = tuple(s.value for s in SignalSide)


def parse_alert(line: str) -> tuple[str, str, int | None]:
    data: Any = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("an alert must be a JSON object")
    symbol, side = data.get("symbol"), data.get("side")
    if not isinstance(symbol, str) or not symbol:
        raise ValueError("'symbol' must be a non-empty string")
    if side not in _SIDES:
        raise ValueError(f"'side' must be {', '.join(_SIDES[:-1])} or {_SIDES[-1]}")
    published = data.get("published")
    if published is None:
        return symbol, side, None
    if isinstance(published, int) and not isinstance(published, bool):
        return symbol, side, published
    if isinstance(published, str):
        when = dt.datetime.fromisoformat(published.replace("Z", "+00:00"))
        if when.tzinfo is None:
            raise ValueError("'published' needs a time zone")
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        delta = when - epoch
        return symbol, side, (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    raise ValueError("'published' must be an ISO time or Unix nanoseconds")


async def tail_jsonl(path: str | Path, kernel: Kernel, poll_s: float = 0.2,
                     from_start: bool = False) -> None:
    """Follow ``path`` like ``tail -f``; each new line becomes a kernel signal."""
    p = trio.Path(path)
    offset = 0 if from_start or not await p.exists() else (await p.stat()).st_size
    lineno = 0
    buf = b""
    while True:
        if await p.exists():
            size = (await p.stat()).st_size
            if size < offset:  # truncated or rotated: start over
                offset, buf = 0, b""
            if size > offset:
                async with await trio.open_file(path, "rb") as f:
                    await f.seek(offset)
                    chunk = await f.read(size - offset)
                offset += len(chunk)
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    lineno += 1
                    text = raw.decode("utf-8", "replace").strip()
                    if not text:
                        continue
                    now = kernel.clock.now_ns()
                    try:
                        symbol, side, published = parse_alert(text)
                    except (ValueError, json.JSONDecodeError) as exc:
                        kernel.journal.emit(now, "news_rejected", source=str(path),
                                            line=lineno, reason=str(exc))
                        continue
                    kernel.on_signal(Signal(symbol, side, now, published, source="news"))
        await trio.sleep(poll_s)
