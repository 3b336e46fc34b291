"""Recording a live session so the simulator can replay it, decision by decision.

A replay needs what the kernel saw, when it saw it: every quote, every signal, every
execution report and connection change, and the config and strategy code it ran. The
journal already holds the connection changes (``venue_disconnected`` /
``venue_reconnected``) and every decision. What it lacked is written here:

* **quotes**, as the adapter handed them to the kernel (its receive time, bid, ask,
  last, sizes), go to Parquet part files in a folder next to the journal
  (``<journal stem>.quotes/part-000001.parquet``, named in the header). Quotes are the
  bulk of a session and the tick -> order path must not pay for them: the handler only
  appends a tuple to a list after the kernel has seen the quote; a trio task swaps the
  list every ``WRITE_EVERY_S`` and writes it as one part from a worker thread. Each
  part is written under a temporary name and renamed, so a ``kill -9`` leaves only
  whole parts (everything up to the last written batch); a single Parquet file would
  be unreadable without the footer a killed writer never wrote. A clean exit compacts
  the parts into one file (``compact``). Without pyarrow (the optional ``data`` extra)
  the parts are CSV with the same columns.
* **signals** as received (``signal_received``: source, published time) and
  **execution reports** as received (``exec_report``: the raw report and its receive
  time) are journal events: few, and the replay of the execution path is matched
  against them. Both are written *after* the kernel has acted on them, with the
  receive time taken before, so recording adds nothing in front of an order.
* the **header** carries the config file as read (and its SHA-256), the effective
  trading config, the instruments, and each strategy's spec with the SHA-256 of its
  file: a replay compares them with the files as they are now.

Only live runs record (``run_live``); simulated journals are unchanged.
"""
from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path
from typing import Any

import trio

from ..kernel.config import converter
from ..kernel.instruments import Instrument
from ..kernel.journal import Journal
from ..kernel.orders import Order
from ..kernel.signals import Signal
from ..kernel.units import fmt_units
from ..kernel.venue import ExecReport, OpenOrder, QuoteHandler, Venue, VenueSink

WRITE_EVERY_S = 0.5
COLUMNS = ("ts", "symbol", "bid", "ask", "last", "bid_size", "ask_size")
QUOTES_SUFFIX = ".quotes"


def quotes_dir(journal_path: str | Path) -> Path:
    p = Path(journal_path)
    return p.with_name(p.stem + QUOTES_SUFFIX)


def file_sha256(path: str | Path) -> str | None:
    try:
        return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _plain(value: Any) -> Any:
    """YAML as read, made journal-safe: floats become their text (the journal holds
    no float; every reader of these values accepts decimal text)."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def recording_header(cfg: Any, journal_path: str | Path, fmt: str) -> dict[str, Any]:
    """The header fields a replay needs (``cfg``: a ``venues.live.LiveConfig``)."""
    source = getattr(cfg, "source", "")
    raw = getattr(cfg, "raw", None) or {}
    strategies: dict[str, Any] = {}
    for sym, plan in sorted(cfg.strategy_plans.items()):
        kind = str(plan.kind)
        spec: dict[str, Any] = {"kind": kind}
        file_part = kind.split(":", 1)[0]
        if file_part.endswith(".py"):
            folder = Path(source).resolve().parent if source else Path.cwd()
            path = (folder / file_part).resolve()
            spec.update(path=str(path), sha256=file_sha256(path))
        strategies[sym] = spec
    return {
        "recording": {"quotes": quotes_dir(journal_path).name, "format": fmt},
        "config_file": {"path": str(Path(source).resolve()) if source else "",
                        "sha256": file_sha256(source) if source else None},
        "config": _plain(raw.get("config") or {}),
        "instruments": _plain(raw.get("instruments") or []),
        "effective_config": converter().unstructure(cfg.config),
        "strategies": strategies,
    }


def _write_part(rows: list[tuple[Any, ...]], folder: Path, n: int, fmt: str) -> None:
    """One batch as a whole part file: written aside, then renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)  # at the first part: a run that never
    # saw a quote (never connected) leaves no folder behind
    final = folder / f"part-{n:06d}.{fmt}"
    tmp = folder / f".part-{n:06d}.{fmt}.tmp"
    cols = list(zip(*rows))
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({name: pa.array(col, type=pa.string() if name == "symbol"
                                         else pa.int64())
                          for name, col in zip(COLUMNS, cols)})
        pq.write_table(table, tmp)
    else:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            w.writerows(rows)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)


def _parquet_available() -> bool:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


class Recorder:
    """The quote buffer and its background writer; the journal's recorded events."""

    def __init__(self, journal_path: str | Path, journal: Journal, clock: Any) -> None:
        self.folder = quotes_dir(journal_path)
        self.format = "parquet" if _parquet_available() else "csv"
        self.journal = journal
        self.clock = clock
        self.rows: list[tuple[Any, ...]] = []
        self.parts = 0
        self.written = 0

    def header(self, cfg: Any, journal_path: str | Path) -> dict[str, Any]:
        return recording_header(cfg, journal_path, self.format)

    def tap_quotes(self, symbol: str, inner: QuoteHandler) -> QuoteHandler:
        rows = self.rows  # swapped by clearing in place: the closure keeps its list

        def on_quote(ts: int, bid: int, ask: int, last: int, bs: int, asz: int) -> None:
            inner(ts, bid, ask, last, bs, asz)  # the kernel first
            rows.append((ts, symbol, bid, ask, last, bs, asz))

        return on_quote

    def tap_signals(self, kernel: Any) -> None:
        """Record the signals handed to the kernel (news, operator scripts, strategies)."""
        inner = kernel.on_signal
        journal, clock = self.journal, self.clock

        def on_signal(sig: Signal) -> None:
            received = clock.now_ns()
            inner(sig)
            extra: dict[str, Any] = {}
            if sig.published_ns is not None:
                extra["published_ns"] = sig.published_ns
            if sig.size is not None:
                extra["size"] = str(sig.size)
            journal.emit(clock.now_ns(), "signal_received", symbol=sig.symbol,
                         side=sig.side.value, source=sig.source, received_ns=received, **extra)

        kernel.on_signal = on_signal

    def _take(self) -> list[tuple[Any, ...]]:
        batch = self.rows[:]
        del self.rows[:len(batch)]
        return batch

    async def write_loop(self) -> None:
        """Every ``WRITE_EVERY_S``: the quotes so far, as one part, off the trio thread."""
        while True:
            await trio.sleep(WRITE_EVERY_S)
            batch = self._take()
            if batch:
                self.parts += 1
                await trio.to_thread.run_sync(_write_part, batch, self.folder, self.parts,
                                              self.format)
                self.written += len(batch)

    def flush(self) -> None:
        """The last batch, synchronously (the run is ending), then the parts compacted."""
        batch = self._take()
        if batch:
            self.parts += 1
            _write_part(batch, self.folder, self.parts, self.format)
            self.written += len(batch)
        if self.parts > 1 and self.format == "parquet":
            compact(self.folder, self.parts)


COMPACTED = "part-000000.parquet"


def compact(folder: Path, last: int) -> None:
    """A run that ends cleanly leaves one file, not one per half second: parts 1..last
    become ``part-000000.parquet`` (its metadata says which), then are deleted. A kill
    in between leaves both, and the reader skips the parts the compacted file holds."""
    import pyarrow.parquet as pq

    names = [folder / f"part-{n:06d}.parquet" for n in range(1, last + 1)]
    tables = [pq.read_table(p) for p in names if p.exists()]
    if not tables:
        return
    import pyarrow as pa

    table = pa.concat_tables(tables).replace_schema_metadata({"last_part": str(last)})
    tmp = folder / f".{COMPACTED}.tmp"
    pq.write_table(table, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, folder / COMPACTED)
    for p in names:
        p.unlink(missing_ok=True)


class RecordingSink:
    """The kernel as the venue's sink, with every execution report journaled as received.

    Anything else is the kernel's own attribute (``venue.sink.tickers`` still works)."""

    def __init__(self, kernel: Any, journal: Journal, clock: Any) -> None:
        self._kernel = kernel
        self._journal = journal
        self._clock = clock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kernel, name)

    def on_report(self, report: ExecReport) -> None:
        received = self._clock.now_ns()
        self._kernel.on_report(report)
        self._journal.emit(self._clock.now_ns(), "exec_report", order_id=report.order_id,
                           kind=report.kind.value, received_ns=received,
                           venue_ts_ns=report.ts_ns, qty=str(report.qty),
                           price=fmt_units(report.price), reason=report.reason,
                           exec_id=report.exec_id,
                           **({} if report.fee is None else {"fee": fmt_units(report.fee)}))

    def on_connection(self, up: bool, reason: str) -> None:
        self._kernel.on_connection(up, reason)  # journaled by the kernel itself


class RecordingVenue:
    """A venue whose quotes and reports are recorded on their way to the kernel."""

    def __init__(self, inner: Venue, recorder: Recorder) -> None:
        self._inner = inner
        self._recorder = recorder
        self._tapped = False
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def connect(self, sink: VenueSink) -> None:
        if not self._tapped:
            self._tapped = True
            self._recorder.tap_signals(sink)
        await self._inner.connect(RecordingSink(sink, self._recorder.journal,
                                                self._recorder.clock))

    async def subscribe(self, instrument: Instrument, on_quote: QuoteHandler) -> None:
        await self._inner.subscribe(instrument,
                                    self._recorder.tap_quotes(instrument.symbol, on_quote))

    async def submit(self, order: Order) -> None:
        await self._inner.submit(order)

    async def cancel(self, order_id: str) -> None:
        await self._inner.cancel(order_id)

    async def open_orders(self) -> list[OpenOrder]:
        return await self._inner.open_orders()
