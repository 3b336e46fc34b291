"""Run a scenario: build the world, run it under the determinism harness, judge it.

One run = one ``trio.run`` under ``MockClock(autojump_threshold=0)`` with trio's
scheduler seeded from the run seed, threads and real I/O refused, and a watchdog
that turns a livelock into a reported failure. The journal's SHA-256 is the digest.
"""
from __future__ import annotations

import gc
import heapq
import platform
import random
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

import attrs
import trio
import trio.testing

from .. import __version__
from ..kernel.errors import InputError, find_exception
from ..kernel.journal import Journal
from ..kernel.protections import Protections
from ..kernel.runtime import Kernel
from ..kernel.session import Session, build_session, cap_function
from ..kernel.units import fmt_units
from ..strategies.loader import factory as strategy_factory
from .determinism import (
    allow_nondeterministic_scheduling,
    derive_seed,
    forbid_real_world,
    make_scheduler_deterministic,
)
from .crash import Lives
from .engine import Engine, Watchdog
from .datafiles import ReplayStats
from .exchange import Exchange
from .expect import Check, check
from .faults import build_faults
from .invariants import InvariantChecker
from .market import generate
from .scenario import Scenario, market_path_specs, strategy_plans
from .timeline import ScenarioOperator, ScenarioSignals
from .venue import SimVenue
from .weakenings import Weakening

KernelHook = Callable[[Kernel], None]
Progress = Callable[[int, int], None]  # (virtual ns so far, ticks so far)
PROGRESS_STEPS = 200  # progress reports per run: a timer each, nothing per tick


@attrs.define
class RunResult:
    scenario: Scenario
    seed: int
    digest: str
    events: list[dict[str, Any]]
    checks: list[Check]
    violations: list[dict[str, str]]
    summary: dict[str, Any]
    final_positions: dict[str, int]
    realized: dict[str, Any]
    max_positions: dict[str, int]
    ticks: int = 0
    journal_path: str | None = None
    # (symbol, error) of each strategy that raised or answered nonsense: the run fails
    strategy_errors: list[tuple[str, str]] = attrs.Factory(list)
    data: dict[str, Any] = attrs.Factory(dict)  # symbol -> ReplayStats of a file market

    @property
    def ok(self) -> bool:
        return not self.violations and not self.strategy_errors \
            and all(c.ok for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def _strategy_factory(scn: Scenario) -> Callable[[str], Any]:
    """The kernel's strategy factory: the scenario's strategies through the loader."""
    return strategy_factory(strategy_plans(scn))


def run(scn: Scenario, seed: int | None = None, journal_path: str | Path | None = None,
        *, weakening: Weakening | None = None, kernel_hook: KernelHook | None = None,
        keep_events: bool = True,
        ticks: Iterable[tuple[int, ...]] | None = None,
        deterministic_scheduler: bool = True, check_invariants: bool = True,
        progress: Progress | None = None,
        venue_factory: Callable[..., SimVenue] | None = None,
        session_kw: dict[str, Any] | None = None) -> RunResult:
    """Run ``scn`` in the simulator.

    ``weakening`` builds the kernel with a protection removed (to prove a scenario can
    fail); the simulator and the invariant checker still judge by the scenario as written.
    ``kernel_hook`` is called with the kernel once it is built (the fuzzer attaches its
    journal listener there).
    ``ticks`` replays a prepared market path instead of generating the scenario's
    (the benchmarks use it to time the kernel apart from path generation).
    ``deterministic_scheduler=False`` and ``check_invariants=False`` exist only for the
    benchmarks, to measure what determinism and the per-event checks cost.
    ``progress`` is called ``PROGRESS_STEPS`` times over the run's virtual time with
    (virtual ns, ticks so far), from a timer that touches nothing else: the journal and
    the digest are the same with or without it.
    ``venue_factory`` builds the simulated venue from SimVenue's arguments instead of
    SimVenue itself (an execution replay answers orders with recorded reports).
    ``session_kw``: extra ``build_session`` arguments for a run without crash faults
    (an execution replay of a resumed live session: ``restore``, ``reconcile_at_start``).
    """
    seed = scn.seed if seed is None else seed
    sink: IO[bytes] | None = None
    if journal_path is not None:
        Path(journal_path).parent.mkdir(parents=True, exist_ok=True)
        sink = open(journal_path, "wb")  # noqa: SIM115 - closed below
    try:
        journal = Journal(sink, keep=keep_events)  # no path: digest (and events) only
        result = _run(scn, seed, journal, weakening, kernel_hook, ticks,
                      deterministic_scheduler, check_invariants, progress, venue_factory,
                      session_kw)
    finally:
        if sink is not None:
            sink.close()
    result.journal_path = str(journal_path) if journal_path is not None else None
    return result


def _run(scn: Scenario, seed: int, journal: Journal, weakening: Weakening | None,
         kernel_hook: KernelHook | None,
         ticks: Iterable[tuple[int, ...]] | None, deterministic: bool = True,
         check_invariants: bool = True, progress: Progress | None = None,
         venue_factory: Callable[..., SimVenue] | None = None,
         session_kw: dict[str, Any] | None = None) -> RunResult:
    mock = trio.testing.MockClock(autojump_threshold=0)
    engine = Engine(mock)
    state: dict[str, Any] = {}

    async def main() -> None:
        state.update(await _main(scn, seed, journal, engine, weakening, kernel_hook, ticks,
                                 check_invariants, progress, venue_factory, session_kw))

    if deterministic:
        make_scheduler_deterministic(derive_seed(seed, "scheduler"))
    else:
        allow_nondeterministic_scheduling()
    watchdog_box: list[Watchdog] = []

    async def guarded() -> None:
        with trio.CancelScope() as scope:
            watchdog = Watchdog(engine, scope.cancel)
            watchdog_box.append(watchdog)
            trio.lowlevel.add_instrument(watchdog)
            await main()

    # A prepared tick path (millions of tuples) is frozen out of the cyclic GC:
    # otherwise every full collection during the run walks it, and throughput falls
    # as the path grows. Only then: the collection before freezing walks the whole
    # heap (15-50 ms in a Hypothesis worker, ten times a short run), and freezing
    # without it would let each run's cyclic garbage slip past the collector for good
    # (unfrozen objects land in the oldest generation uncounted: a fuzzing worker
    # grew by 1.5 GB in 10 000 runs).
    freeze = ticks is not None
    if freeze:
        _collect_before_freeze()
        gc.freeze()
    try:
        with forbid_real_world():
            trio.run(guarded, clock=mock)
    except BaseExceptionGroup as group:
        # a data file found bad while streaming (a run not preceded by check_data):
        # the located input error, not the nursery's wrapping of it
        bad = find_exception(group, InputError)
        if bad is not None:
            raise bad from None
        raise
    finally:
        if freeze:
            gc.unfreeze()
    violations = list(state.get("violations", []))
    if watchdog_box and watchdog_box[0].tripped:
        violations.append({"invariant": "liveness", "detail": watchdog_box[0].tripped})
    if "kernel" not in state:
        raise RuntimeError("simulation ended before the kernel was built")
    kernel: Kernel = state["kernel"]
    max_abs: dict[str, int] = state["max_abs"]
    final_positions = {s: t.position.qty for s, t in kernel.tickers.items()}
    realized = {s: t.position.realized for s, t in kernel.tickers.items()}
    checks = check(scn, journal.events, final_positions, realized, max_abs)
    return RunResult(scn, seed, journal.digest, journal.events, checks, violations,
                     state["summary"], final_positions, realized, max_abs,
                     engine.ticks_processed, strategy_errors=list(state["kernel"].strategy_errors),
                     data=state.get("data", {}))


# The full collection before a freeze walks the whole heap (100-170 ms on a loaded
# 2-core machine: a sixth of a 200 k-tick run). The young generations are collected
# every run; the whole heap on the first run of a process and then every
# _FULL_EVERY-th, so the cyclic garbage frozen in between is at most that many runs'
# worth before a full collection frees it (memory stays flat over a fuzz campaign).
_FULL_EVERY = 16
_runs_since_full = [_FULL_EVERY]


def _collect_before_freeze() -> None:
    if _runs_since_full[0] >= _FULL_EVERY:
        gc.collect()
        _runs_since_full[0] = 1
        return
    gc.collect(1)
    _runs_since_full[0] += 1


async def _main(scn: Scenario, seed: int, journal: Journal, engine: Engine,
                weakening: Weakening | None, kernel_hook: KernelHook | None,
                prepared: Iterable[tuple[int, ...]] | None,
                check_invariants: bool = True, progress: Progress | None = None,
                venue_factory: Callable[..., SimVenue] | None = None,
                session_kw: dict[str, Any] | None = None) -> dict[str, Any]:
    instruments = scn.instrument_map
    symbols = [i.symbol for i in scn.instruments]
    journal.header(
        scenario=scn.name, seed=seed, scenario_sha256=scn.sha256, start=scn.start,
        duration_ns=scn.duration, account_cash=fmt_units(scn.account.cash),
        versions={"triotrade": __version__, "trio": trio.__version__,
                  "python": platform.python_version()},
        **({"overrides": list(scn.overrides)} if scn.overrides else {}),
    )
    fault_rng = random.Random(derive_seed(seed, "faults"))
    plan = build_faults(scn)
    faults, latency = plan.exchange, plan.latency
    venue_box: list[SimVenue] = []
    exchange = Exchange(engine, symbols, faults, fault_rng, lambda r: venue_box[0].on_exchange_report(r))
    venue = (venue_factory or SimVenue)(engine, exchange, instruments, latency,
                                        scn.account.cash)
    venue_box.append(venue)

    if progress is not None:
        step = max(scn.duration // PROGRESS_STEPS, 1)

        def report(_: object) -> None:
            progress(engine.now, engine.ticks_processed)
            if engine.now + step <= scn.duration:
                engine.call_at(engine.now + step, report)

        engine.call_at(step, report)

    # scheduled inputs the kernel does not own: fault switches, halts (scheduled first:
    # at equal times the engine runs them in the order they were scheduled)
    for f in scn.faults:
        t0 = f.t or 0
        engine.call_at(t0, lambda kind: journal.emit(engine.now, "fault_injected", kind=kind),
                       f.kind)
    for start, end in plan.outages:  # overlapping disconnect windows are one outage
        engine.call_at(start, venue.set_down)
        engine.call_at(end, venue.set_up)
    specs = market_path_specs(scn)
    for sym, m in scn.market.items():
        exchange.books[exchange.index[sym]].slippage = m.slippage_ticks * instruments[sym].tick_units
    for sym, m in scn.market.items():  # bad feed data: to the kernel only, never the book
        for bq in m.bad_quotes:
            engine.call_at(bq.t, venue.deliver_feed_only,
                           (bq.t, exchange.index[sym], bq.bid, bq.ask, bq.last, m.depth, m.depth))
    for sym, spec in specs.items():
        idx = exchange.index[sym]
        for start, end in spec.halts:
            engine.call_at(start, lambda i: exchange.set_halted(i, True), idx)
            engine.call_at(end, lambda i: exchange.set_halted(i, False), idx)

    config, protections = scn.config, Protections()
    if weakening is not None:
        config, protections = weakening.kernel_config(config), weakening.protections
    checker_factory = ((lambda j, cap_for: InvariantChecker(j, cap_for, scn))
                       if check_invariants else None)
    crashes = [f for f in scn.faults if f.kind == "crash"]
    lives: Lives | None = None
    if not crashes:
        session = build_session(
            venue=venue, clock=engine, journal=journal, config=config, instruments=instruments,
            strategies=_strategy_factory(scn), protections=protections,
            operator=ScenarioOperator(engine, scn.operator),
            sources=[ScenarioSignals(engine, scn.signals)], checker=checker_factory,
            # the simulator judges a broken invariant (the run fails) rather than trip on it
            trip=None, hook=kernel_hook, epoch_ns=scn.start_unix_ns or 0,
            **(session_kw or {}))
    else:
        lives = _lives(scn, engine, venue, journal, config, protections, instruments,
                       checker_factory, kernel_hook)
        session = lives.first()
        for f in crashes:
            assert f.t is not None and f.restart_after is not None
            lives.schedule(f.t, f.restart_after)
    kernel = session.kernel
    checker = session.checker
    assert checker is None or isinstance(checker, InvariantChecker)

    ticks: Iterator[tuple[int, ...]]
    data: dict[str, ReplayStats] = {}  # file markets: rows replayed and skipped
    if prepared is not None:
        ticks = iter(prepared)
    else:
        gens = []
        for sym, spec in specs.items():
            stats = None
            if spec.file is not None:
                stats = data[sym] = ReplayStats()
            gens.append(generate(exchange.index[sym], spec, scn.duration,
                                 derive_seed(seed, f"market:{sym}"), stats))
        ticks = gens[0] if len(gens) == 1 else heapq.merge(*gens)

    async with trio.open_nursery() as nursery:
        if lives is None:
            await session.start(nursery)
        else:
            await lives.start(nursery)
        await engine.run(ticks, venue.deliver_tick, scn.duration)
        dead_at_horizon = False
        if lives is not None:  # the kernel of the last life
            assert lives.session is not None
            session, kernel = lives.session, lives.session.kernel
            dead_at_horizon = lives.dead  # its restart waited out an outage: no shutdown
        if not dead_at_horizon:
            kernel.shutdown_orders()
        await engine.settle()  # let the order queues send their cancels
        nursery.cancel_scope.cancel()

    summary = kernel.summary()
    max_abs = checker.max_abs_position if checker is not None else {}
    for sym, row in summary.items():
        row["max_position"] = str(max_abs.get(sym, 0))
        if sym in data:
            st = data[sym]
            row["data_rows"] = {"replayed": str(st.replayed),
                                "before_start": str(st.before_start),
                                "after_end": str(st.after_end)}
    if dead_at_horizon:
        assert lives is not None
        lives.open_for_the_record()  # the run's last line is written for the dead kernel
    kernel.journal_run_finished([v["invariant"] for v in checker.violations]
                                if checker is not None else [])
    return {"kernel": kernel, "max_abs": max_abs,
            "violations": checker.violations if checker is not None else [],
            "summary": summary, "data": data}


class _Alive:
    """The kernel now alive, as the cap function of the checker sees it."""

    def __init__(self, lives: Lives) -> None:
        self._lives = lives

    @property
    def tickers(self) -> dict[str, Any]:
        session = self._lives.session
        return session.kernel.tickers if session is not None else {}


def _lives(scn: Scenario, engine: Engine, venue: SimVenue, journal: Journal, config: Any,
           protections: Protections, instruments: dict[str, Any], checker_factory: Any,
           kernel_hook: KernelHook | None) -> Lives:
    """The kernel's lives in a run with crash faults: the first one as any run's, each
    restart from the journal so far (+ reconciliation), built by the same function."""
    box: list[Lives] = []

    def current() -> Kernel | None:
        return box[0].kernel

    def build(j: Any, v: Any, day: Any, restart: bool) -> Session:
        first = not box[0].session
        checker = None
        if first and checker_factory is not None:
            def checker(real: Any, _: Any) -> Any:  # caps from the kernel alive now
                return checker_factory(real, cap_function(_Alive(box[0]), config))
        return build_session(
            venue=v, clock=engine, journal=j, config=config, instruments=instruments,
            strategies=_strategy_factory(scn), protections=protections,
            operator=ScenarioOperator(engine, scn.operator, current) if first else None,
            sources=[ScenarioSignals(engine, scn.signals, current)] if first else [],
            checker=checker, trip=None, hook=kernel_hook if first else None,
            restore=day, reconcile_at_start=restart, epoch_ns=scn.start_unix_ns or 0)

    lives = Lives(engine, venue, journal, build,
                  restore=protections.restore_on_restart,
                  reconcile=protections.reconcile_on_restart)
    box.append(lives)
    return lives
