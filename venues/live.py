"""Running the kernel live: the wall clock, the live config file, and the run loop.

The kernel is the same object the simulator drives; only the Clock, the Venue and
where the journal goes differ. Live order flow needs ``live=True`` (the CLI's
``--live``): without it the venue is wrapped so every order is refused before it
leaves the process, and the journal says why. A run's journal ends in ``run_finished``;
a run that never reached the venue (refused, unreachable, bad credentials) ends it in
``run_failed`` with the reason instead, so its journal never reads as a clean session.
"""
from __future__ import annotations

import functools
import gc
import os
import time
from pathlib import Path
from typing import Any, Mapping

import attrs
import trio

from ..kernel.config import ConfigError, Duration, TradingConfig, converter, flatten_errors, \
    load_strategy_plans
from ..kernel.errors import find_exception
from ..kernel.instruments import Instrument
from ..kernel.journal import Journal
from ..kernel.killswitch import KillAction
from ..kernel.orders import Order
from ..kernel.runtime import Kernel
from ..kernel.restore import DayState
from ..kernel.session import CheckerFactory, Source, Task, build_session, setup_problems
from ..kernel.strict_yaml import YamlFileError, read_yaml_file
from ..kernel.units import NS_PER_S
from ..kernel.venue import Venue, VenueError
from ..strategies.loader import factory as strategy_factory
from .recording import Recorder, RecordingVenue
from .resume import write_behind


class _LiveTimer:
    __slots__ = ("fn", "arg")

    def __init__(self, fn: Any, arg: Any) -> None:
        self.fn = fn
        self.arg = arg

    def cancel(self) -> None:
        self.fn = None


class LiveClock:
    """Unix nanoseconds from the system clock; sleeps on trio's clock.

    Synchronous timers (``call_at``) are run by ``serve``, one task the kernel starts
    in its root nursery: a heap of deadlines and a single sleep on the earliest.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, _LiveTimer]] = []
        self._seq = 0
        self._wake: trio.Event = trio.Event()

    def now_ns(self) -> int:
        return time.time_ns()

    def call_at(self, ts_ns: int, fn: Any, arg: Any = None) -> _LiveTimer:
        import heapq

        timer = _LiveTimer(fn, arg)
        self._seq += 1
        heapq.heappush(self._heap, (ts_ns, self._seq, timer))
        self._wake.set()
        return timer

    async def serve(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        import heapq

        task_status.started()
        while True:
            self._wake = trio.Event()
            now = time.time_ns()
            while self._heap and self._heap[0][0] <= now:
                _, _, timer = heapq.heappop(self._heap)
                if timer.fn is not None:
                    timer.fn(timer.arg)
            timeout = (self._heap[0][0] - now) / NS_PER_S if self._heap else 3600.0
            with trio.move_on_after(timeout):
                await self._wake.wait()

    async def sleep_until(self, ts_ns: int) -> None:
        delay = (ts_ns - time.time_ns()) / NS_PER_S
        if delay > 0:
            await trio.sleep(delay)
        else:
            await trio.lowlevel.checkpoint()


@attrs.frozen
class LiveConfig:
    """``--config FILE`` for live runs: instruments, the trading config, a duration."""

    instruments: list[Instrument]  # the keys and checks of a scenario's instruments
    config: TradingConfig = TradingConfig()
    duration: Duration | None = None  # stop after this long (default: until Ctrl-C)
    news: str | None = None  # a JSONL file of alerts to tail (strategies/news.py)
    # not part of the file: config.strategies resolved by the strategy loader
    strategy_plans: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    # not part of the file either: where it was read from, and its mapping as read
    # (the recording's header carries both, so a replay can rebuild and compare it)
    source: str = attrs.field(default="", repr=False, eq=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


class LiveConfigError(ConfigError):
    """An invalid live config file (``FILE: key.path: problem``)."""


def read_config_yaml(path: str | Path) -> Any:
    """The YAML of a live config file, read as strictly as a scenario (a regular file
    of bounded size, YAML 1.2, no tags, no duplicate keys); else LiveConfigError."""
    try:
        data, _ = read_yaml_file(path)
    except YamlFileError as exc:
        raise LiveConfigError(str(path), exc.problems) from None
    return data


def load_live_config(path: str | Path) -> LiveConfig:
    return parse_live_config(read_config_yaml(path), str(path))


def parse_live_config(data: Any, source: str) -> LiveConfig:
    """A live config already read from YAML (adapters pop their own sections first)."""
    if not isinstance(data, dict):
        raise LiveConfigError(source, [("", "a config file must be a YAML mapping")])
    if "strategy_plans" in data:
        raise LiveConfigError(source, [("strategy_plans", "unknown key")])
    try:
        cfg: LiveConfig = converter().structure(data, LiveConfig)
    except Exception as exc:  # noqa: BLE001
        raise LiveConfigError(source, flatten_errors(exc)) from None
    problems = setup_problems(cfg.instruments, cfg.config)  # the scenario's own checks
    if problems:
        raise LiveConfigError(source, problems)
    # strategy files are relative to the config file's folder, as in a scenario
    folder = Path(source).resolve().parent if not source.startswith("<") else Path.cwd()
    try:
        plans = load_strategy_plans(cfg.config, base_dir=folder, source=source)
    except ConfigError as exc:
        raise LiveConfigError(source, exc.problems) from None
    return attrs.evolve(cfg, strategy_plans=plans, source=source, raw=data)


def instruments_of(cfg: LiveConfig) -> dict[str, Instrument]:
    return {i.symbol: i for i in cfg.instruments}


class DryRunVenue:
    """Wraps a venue so market data flows but no order leaves the process."""

    def __init__(self, inner: Venue) -> None:
        self._inner = inner
        self.name = f"{inner.name} (dry run)"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def submit(self, order: Order) -> None:
        await trio.lowlevel.checkpoint()
        raise VenueError("live order flow needs --live; this run only watches")

    async def cancel(self, order_id: str) -> None:
        await trio.lowlevel.checkpoint()
        raise VenueError("live order flow needs --live; this run only watches")


async def _orderly_shutdown(kernel: Kernel, grace_s: float = 3.0) -> None:
    """Cancel working entries at the venue (exits stay), journaled, within a bound."""
    kernel.shutdown_orders()
    with trio.move_on_after(grace_s):
        while any(t.cancel_entries_pending or any(not o.cancel_requested
                                                  for o in t.entries.values())
                  for t in kernel.tickers.values()):
            await trio.sleep(0.02)
        await trio.sleep(0.1)  # the cancels' acknowledgements, if the venue is quick


@attrs.frozen
class NewsFile:
    """A session source: alerts tailed from a JSONL file (``news:`` in the config)."""

    path: str

    def attach(self, kernel: Kernel) -> Task | None:
        from .news import tail_jsonl

        return functools.partial(tail_jsonl, self.path, kernel)


async def run_live(venue: Venue, cfg: LiveConfig, journal_path: str | Path, *, live: bool,
                   header: dict[str, Any] | None = None, duration_s: float | None = None,
                   ready: trio.Event | None = None, control: bool = True,
                   checker: CheckerFactory | None = None, operator: Source | None = None,
                   resume: DayState | None = None, record: bool = True,
                   fsync: bool = True) -> Kernel:
    """Run the kernel against ``venue`` until ``duration`` (or cancellation).

    Built by ``build_session``, as a simulated run is: strategies from
    ``config.strategies``, news from ``cfg.news``. ``checker`` builds the invariant
    checker (the CLI passes the simulator's, judging what can be judged live); each
    break it journals fires the kill switch ``cancel_all``, and ``run_finished``
    lists them. ``operator`` is where scheduled manual acts come from; with ``control``
    a person can reach the run through ``<journal>.ctl`` (``triotrade ctl``,
    ``venues/control.py``) for as long as it runs.
    ``resume``: the day's state from an earlier run's journal (``venues/resume.py``):
    restored before the venue reconciliation, journaled as ``restarted``.
    ``record``: write what a replay needs (``venues/recording.py``): quotes to Parquet
    parts beside the journal, signals and execution reports as received, the config
    and strategy files' hashes in the header. On by default; the benchmark turns it
    off to measure what it costs. ``fsync``: the write-behind task that makes the
    journal durable (off only in the benchmark's baseline; every line is still flushed).
    """
    from .. import __version__
    from ..wire.control import control_path
    from .control import refuse_if_taken, serve_control

    Path(journal_path).parent.mkdir(parents=True, exist_ok=True)
    if control:  # before the journal is opened: never truncate a live run's journal
        refuse_if_taken(control_path(journal_path))
    clock = LiveClock()
    with open(journal_path, "wb") as sink:
        journal = Journal(sink, keep=False, durable=True)
        recorder = Recorder(journal_path, journal, clock) if record else None
        journal.header(scenario=f"live:{venue.name}", seed=0, live=live,
                       start_unix_ns=clock.now_ns(), versions={"triotrade": __version__,
                                                               "trio": trio.__version__},
                       **(header or {}),
                       **(recorder.header(cfg, journal_path) if recorder else {}))
        use: Venue = venue if live else DryRunVenue(venue)  # type: ignore[assignment]
        if recorder is not None:
            use = RecordingVenue(use, recorder)  # type: ignore[assignment]
        session = build_session(
            venue=use, clock=clock, journal=journal, config=cfg.config,
            instruments=instruments_of(cfg), strategies=strategy_factory(cfg.strategy_plans),
            operator=operator, sources=[NewsFile(cfg.news)] if cfg.news is not None else [],
            checker=checker, trip=KillAction.CANCEL_ALL, reconcile_at_start=True,
            restore=resume)
        kernel = session.kernel
        kernel.journal_exec_ids = True  # a restart must know which executions it saw
        if duration_s is None and cfg.duration is not None:
            duration_s = cfg.duration / NS_PER_S
        started = False  # connected and subscribed: from here on the run is a run
        failed: str | None = None
        try:
            async with trio.open_nursery() as nursery:
                if control:  # first: a path that cannot be claimed stops the run at once
                    await nursery.start(serve_control, kernel, control_path(journal_path))
                if fsync:
                    nursery.start_soon(write_behind, journal, sink)
                if recorder is not None:
                    nursery.start_soon(recorder.write_loop)
                await session.start(nursery)
                started = True
                # Connected and subscribed: everything allocated so far (modules, the
                # venue's client library, config) lives for the whole run. Move it out of
                # the cyclic collector's reach, so a full collection walks only what the
                # session itself allocates: ~20 ms less for every full pass, which would
                # otherwise land on whatever tick or order is in flight.
                gc.freeze()
                if ready is not None:
                    ready.set()
                interrupted = False
                try:
                    if duration_s is not None:
                        await trio.sleep(duration_s)
                    else:
                        await trio.sleep_forever()
                except KeyboardInterrupt:
                    interrupted = True  # Ctrl-C: the same orderly shutdown, then re-raise
                await _orderly_shutdown(kernel)
                nursery.cancel_scope.cancel()
                if interrupted:
                    raise KeyboardInterrupt
        except BaseException as exc:
            if not started:
                failed = never_started_reason(exc)
            raise
        finally:
            with trio.CancelScope(shield=True):
                if failed is not None:  # not a clean run_finished: nothing ran
                    journal.emit(clock.now_ns(), "run_failed", reason=failed)
                else:
                    session.finish()
                journal.flush()
                os.fsync(sink.fileno())
                if recorder is not None:
                    recorder.flush()
                try:
                    await venue.close()
                except Exception:  # noqa: BLE001 - closing is best effort on the way out
                    pass
    return kernel


def never_started_reason(exc: BaseException) -> str:
    """Why a live run ended before it was connected, in the words the user sees."""
    if find_exception(exc, KeyboardInterrupt) is not None:
        return "interrupted (Ctrl-C) before the venue was reached"
    found = find_exception(exc, VenueError)
    if found is not None:
        return str(found)
    if find_exception(exc, trio.Cancelled) is not None:
        return "cancelled before the venue was reached"
    leaf = exc
    while isinstance(leaf, BaseExceptionGroup) and leaf.exceptions:
        leaf = leaf.exceptions[0]
    return f"{type(leaf).__name__}: {leaf}"


__all__ = ["LiveClock", "LiveConfig", "LiveConfigError", "load_live_config", "run_live",
           "DryRunVenue", "ConfigError", "NewsFile"]
