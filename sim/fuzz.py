"""Hypothesis fuzzing of the kernel's invariants: batches of examples, and campaigns of batches.

One example = one scenario (``fuzz_strategies.scenarios``: a v1 scenario as a dict,
run seed included) = one deterministic simulator run, with the invariant checker
listening to every journal event (``fuzz_example.run_example``). Hypothesis cannot
drive trio state machines, so the interleavings are explored through the run seed,
which seeds trio's scheduler, the market walks and the fault RNG, and shrinks with
the rest of the example. A violation raises an exception whose type is the
invariant's name, so Hypothesis keeps shrinking towards an example that breaks the
same invariant; the shrunk example is written as a scenario file that reproduces it
(``fuzz_finds``).

Campaigns (``campaign``; the CLI's ``triotrade fuzz``) split the examples into
batches, each a Hypothesis run with its own seed derived from the campaign seed, and
run the batches in worker processes. An invariant found once is not shrunk again in
later batches (they still count its hits), so a campaign reports every distinct
invariant it breaks, each with one shrunk file.

A kernel with one protection removed (a named weakening, ``weakenings.py``) shows the
fuzzer has teeth: ``tests/scenarios/test_fuzz.py`` and ``triotrade fuzz --weaken NAME``.

This module is the fuzzer's front door: it also offers the names of ``fuzz_example``
and ``fuzz_finds`` that its callers use.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import multiprocessing
import os
import queue as queue_mod
import socket
import threading
import time
import warnings
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterator

import attrs
from hypothesis import HealthCheck, Phase, Verbosity, given, reject, seed, settings, target
from hypothesis.control import current_build_context
from hypothesis import strategies as st
from hypothesis.errors import Flaky, Unsatisfiable

from .determinism import DeterminismError, derive_seed
from .fuzz_example import Find, InvariantBroken, Outcome, broken, features_of, run_example
from .fuzz_finds import Written, find_document, record_index, scenario_yaml, verify_file, \
    write_find
from .fuzz_strategies import FAULT_KINDS, LATE_FAULT_KINDS, scenarios

# ------------------------------------------------------------------ profiles

_COMMON: dict[str, Any] = dict(
    database=None,  # no .hypothesis/ directory: a campaign is reproducible from its seed
    deadline=None,
    suppress_health_check=list(HealthCheck),
    report_multiple_bugs=False,  # one bug per batch, shrunk; later batches find others
    print_blob=False,
    verbosity=Verbosity.quiet,
    phases=(Phase.generate, Phase.target, Phase.shrink),
)
CI_PROFILE = "triotrade-ci"
LONG_PROFILE = "triotrade-long"
PROFILES = {
    CI_PROFILE: settings(max_examples=300, derandomize=True, **_COMMON),
    LONG_PROFILE: settings(max_examples=20_000, derandomize=False, **_COMMON),
}
"""The batches' Hypothesis settings by name (``BatchJob.profile``)."""


def register_profiles() -> None:
    """Make the profiles known to Hypothesis by name (``settings.get_profile``,
    ``--hypothesis-profile``): called by the test suite's conftest, never on import."""
    for name, profile in PROFILES.items():
        settings.register_profile(name, profile)


@contextlib.contextmanager
def seed_only_generation() -> Iterator[None]:
    """Inside this block, what Hypothesis generates is a function of its seed alone.

    Hypothesis (recent 6.x releases) now and then draws a literal it scanned from the
    source of a *local* module (neither stdlib nor site-packages) instead of a random
    value, and the pool is every local module in ``sys.modules`` at the time. So one campaign seed (or
    the derandomized CI profile) generated other examples in a pytest run that had
    imported the gateways, the reports and the CLI than in a fresh ``triotrade fuzz``
    process; ``derandomize`` and ``database=None`` do not cover it. In here the local
    pool is empty (Hypothesis's built-in constants stay): the examples depend on the
    seed, the strategies and the Hypothesis version, not on what the process imported,
    nor on a literal edited anywhere in the project. ``tests/scenarios/
    test_fuzz_reproducible.py`` proves it in fresh processes.
    """
    from hypothesis.internal.conjecture import providers

    get = getattr(providers, "_get_local_constants", None)
    if get is None:
        if importlib.util.find_spec("hypothesis.internal.constants_ast") is not None:
            raise DeterminismError(
                "this Hypothesis collects local constants but has no providers."
                "_get_local_constants to switch them off: update sim/fuzz.py "
                "(seed_only_generation) for it")
        yield  # a Hypothesis from before local constants
        return
    empty = providers.Constants()
    cache = providers.CONSTANTS_CACHE.cache  # (type, constraints) -> permitted constants
    providers._get_local_constants = lambda: empty
    cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = get
        cache.clear()


DEFAULT_BATCH = 250


# ------------------------------------------------------------------ one batch

@attrs.define
class BatchJob:
    index: int
    seed: int
    examples: int
    weaken: str | None = None
    known: frozenset[str] = frozenset()  # invariants already shrunk: count, don't shrink
    deadline: float | None = None  # time.monotonic() in the worker (same machine)
    time_left: float | None = None  # or: seconds left when the batch starts (any machine)
    profile: str = LONG_PROFILE
    shrink_runs: int = 600  # simulator runs spent shrinking a find, at most

@attrs.define
class BatchResult:
    index: int
    examples: int = 0  # generated examples (before the batch's first new find)
    runs: int = 0  # every simulator run, shrinking included
    seconds: float = 0.0
    hits: Counter = attrs.Factory(Counter)  # invariant -> examples violating it
    coverage: Counter = attrs.Factory(Counter)  # feature/event -> examples with it
    finds: list[Find] = attrs.Factory(list)
    violating: int = 0  # generated examples that broke some invariant
    worker: str = ""  # host:pid of the process that ran the batch


_PROGRESS: Any = None  # a multiprocessing queue, in worker processes


def _init_worker(progress: Any) -> None:
    global _PROGRESS
    _PROGRESS = progress


class _OutOfTime(BaseException):
    """Ends a batch when the campaign's time budget is spent (between examples)."""


def _key(example: dict[str, Any]) -> str:
    return json.dumps(example, sort_keys=True)


def run_batch(job: BatchJob, progress: Callable[[int, int, int], None] | None = None
              ) -> BatchResult:
    """One Hypothesis run of up to ``job.examples`` examples; shrinks its first new find.

    ``progress(examples, runs, hits)`` is called with increments now and then (in a
    worker process, they go to the campaign's queue)."""
    if progress is None and _PROGRESS is not None:
        q = _PROGRESS

        def progress(e: int, r: int, h: int) -> None:
            q.put((e, r, h))

    res = BatchResult(job.index, worker=f"{socket.gethostname()}:{os.getpid()}")
    deadline = job.deadline
    if deadline is None and job.time_left is not None:
        deadline = time.monotonic() + job.time_left
    state: dict[str, Any] = {"failing": None, "last": {}, "first_at": 0, "refused": 0,
                             "ran": {}}  # example -> its Outcome, every run of the batch
    pending = [0, 0, 0]
    last_report = [time.monotonic()]
    started = time.monotonic()

    def flush(force: bool = False) -> None:
        if progress is None:
            return
        now = time.monotonic()
        if force or now - last_report[0] > 0.2:
            if any(pending):
                progress(*pending)
                pending[:] = [0, 0, 0]
            last_report[0] = now

    def body(data: Any) -> None:
        example = data.draw(scenarios(), label="scenario")  # always first: see below
        if (deadline is not None and state["failing"] is None
                and time.monotonic() > deadline):
            raise _OutOfTime  # not an Exception: it ends the Hypothesis run, not a failure
        key = _key(example)
        out = None
        if state["failing"] is not None and (
                res.runs - res.examples >= job.shrink_runs
                or (deadline is not None and time.monotonic() > deadline)):
            # shrinking budget spent: refuse every new candidate until the shrinker
            # stalls (after drawing: Hypothesis requires the same choices to draw the
            # same way). An example that already ran gets its result again: the best
            # examples found must still fail when replayed, and one that passed must
            # not turn invalid (Hypothesis would call that flaky, and the batch would
            # report "nondeterminism" for a simulation that is a function of its
            # scenario).
            out = state["ran"].get(key)
            if out is None and not current_build_context().is_final:
                state["refused"] += 1
                reject()
        if out is None:
            out = run_example(example, job.weaken)
            state["ran"][key] = out
            res.runs += 1
            pending[1] += 1
        shrinking = state["failing"] is not None
        if not shrinking:
            res.examples += 1
            pending[0] += 1
            for f in features_of(example) | out.seen:
                res.coverage[f] += 1
            names = {v["invariant"] for v in out.violations}
            for name in names:
                res.hits[name] += 1
            if names:
                pending[2] += 1
                res.violating += 1
        flush()
        new = [v for v in out.violations if v["invariant"] not in job.known]
        if new:
            v = new[0]
            if not shrinking:
                state["failing"] = v["invariant"]
                state["first_at"] = res.examples
            state["last"][v["invariant"]] = (example, v["detail"])
            raise broken(v["invariant"])(v["detail"])
        target(float(max(out.cap_pressure, -1000)), label="cap_pressure")
        target(float(out.exit_stuck), label="exit_stuck_ms")

    if threading.current_thread() is not threading.main_thread():
        # a Dask worker runs batches in a task thread while its event loop thread uses
        # the global `random`; Hypothesis sees the global state move during a draw and
        # warns, though the example's draws never touch it
        warnings.filterwarnings("ignore", message="Do not use the `random` module inside")
    base = PROFILES[job.profile]
    test = settings(base, max_examples=max(1, job.examples), derandomize=False)(
        seed(job.seed)(given(st.data())(body)))
    try:
        with seed_only_generation():
            test()
    except InvariantBroken as exc:
        name = type(exc).invariant
        example, detail = state["last"][name]
        res.finds.append(Find(name, detail, example, job.index, job.seed, state["first_at"],
                              res.runs - res.examples))
    except (_OutOfTime, Unsatisfiable):
        pass  # the time budget ran out
    except (Flaky, BaseExceptionGroup) as exc:
        # The same example failed once and passed (or failed differently) on replay:
        # a simulation that is not a function of its scenario. That is a find in itself.
        inner = [e for e in getattr(exc, "exceptions", ()) if isinstance(e, InvariantBroken)]
        name = type(inner[0]).invariant if inner else state["failing"]
        if name is None or name not in state["last"]:
            raise
        example, detail = state["last"][name]
        res.finds.append(Find("nondeterminism", f"replaying a {name} find gave another "
                              f"result ({detail})", example, job.index, job.seed,
                              state["first_at"], res.runs - res.examples))
    flush(force=True)
    res.seconds = time.monotonic() - started
    return res

# ------------------------------------------------------------------ campaigns

@attrs.define
class CampaignResult:
    seed: int
    workers: int
    examples: int = 0
    runs: int = 0
    seconds: float = 0.0
    hits: Counter = attrs.Factory(Counter)
    coverage: Counter = attrs.Factory(Counter)
    finds: list[Find] = attrs.Factory(list)
    written: list[Written] = attrs.Factory(list)
    stopped_by_budget: bool = False
    # host:pid -> [examples, seconds busy]: what each worker process did
    per_worker: dict[str, list[float]] = attrs.Factory(dict)

    @property
    def rate(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0

    def worker_rates(self) -> dict[str, float]:
        """Examples per second of busy time, per worker process."""
        return {w: (e / s if s else 0.0) for w, (e, s) in sorted(self.per_worker.items())}


ProgressFn = Callable[[int, int, int], None]


def plan_batches(examples: int, workers: int, batch: int = DEFAULT_BATCH) -> list[int]:
    size = max(10, min(batch, math.ceil(examples / max(1, workers))))
    sizes = [size] * (examples // size)
    if examples % size:
        sizes.append(examples % size)
    return sizes


def campaign(examples: int, seed_: int, *, workers: int = 2, weaken: str | None = None,
             time_budget: float | None = None, progress: ProgressFn | None = None,
             batch: int = DEFAULT_BATCH, shrink_runs: int = 600,
             until: str | None = None, pool: Executor | None = None) -> CampaignResult:
    """Run ``examples`` examples in batches over ``workers`` processes (0 = in process).

    ``until``: stop as soon as this invariant has been found (and shrunk).
    ``pool``: run the batches on this executor instead (a Dask cluster's, with
    ``workers`` its worker count: the batches are planned as for that many local
    processes, so the same seed explores the same batches); progress is then reported
    as each batch ends, and a batch's time budget is the time left when it starts."""
    started = time.monotonic()
    deadline = started + time_budget if time_budget else None
    res = CampaignResult(seed_, workers)
    sizes = plan_batches(examples, max(1, workers), batch)
    jobs = [BatchJob(i, derive_seed(seed_, f"fuzz-batch:{i}"), n, weaken,
                     shrink_runs=shrink_runs) for i, n in enumerate(sizes)]
    known: set[str] = set()
    todo = list(jobs)
    continued = [0]
    from_pool = pool is not None

    def absorb(job: BatchJob, r: BatchResult) -> None:
        # a batch ends at its first new find (after shrinking it): the rest of its
        # examples go on in a continuation batch with its own seed
        left = job.examples - r.examples
        if r.finds and left > 0:
            continued[0] += 1
            todo.insert(0, BatchJob(job.index, derive_seed(seed_, f"fuzz-batch:{job.index}:"
                                                                  f"{continued[0]}"),
                                    left, weaken, shrink_runs=shrink_runs))
        res.examples += r.examples
        res.runs += r.runs
        done = res.per_worker.setdefault(r.worker, [0, 0.0])
        done[0] += r.examples
        done[1] += r.seconds
        if from_pool and progress is not None:
            progress(r.examples, r.runs, r.violating)
        res.hits.update(r.hits)
        res.coverage.update(r.coverage)
        for f in r.finds:
            if f.invariant not in known:
                known.add(f.invariant)
                res.finds.append(f)

    def out_of_time() -> bool:
        if until is not None and until in known:
            return True
        return deadline is not None and time.monotonic() > deadline

    if workers <= 0:
        while todo:
            if out_of_time():
                break
            job = todo.pop(0)
            job.known = frozenset(known)
            job.deadline = deadline
            absorb(job, run_batch(job, progress))
        res.stopped_by_budget = bool(todo) and not (until is not None and until in known)
    else:
        q: Any = None
        if pool is None:
            ctx = multiprocessing.get_context("spawn")
            q = ctx.Queue()
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                       initializer=_init_worker, initargs=(q,))
        with pool:
            running: dict[Future[BatchResult], BatchJob] = {}

            def submit() -> None:
                while todo and len(running) < workers and not out_of_time():
                    job = todo.pop(0)
                    job.known = frozenset(known)
                    if from_pool:
                        job.time_left = (None if deadline is None
                                         else max(0.0, deadline - time.monotonic()))
                    else:
                        job.deadline = deadline
                    running[pool.submit(run_batch, job)] = job

            submit()
            while running:
                done, _ = wait(running, timeout=0.1, return_when=FIRST_COMPLETED)
                _drain(q, progress)
                for fut in done:
                    absorb(running.pop(fut), fut.result())
                submit()
            _drain(q, progress)
            res.stopped_by_budget = bool(todo) and not (until is not None and until in known)
    res.seconds = time.monotonic() - started
    return res


def _drain(q: Any, progress: ProgressFn | None) -> None:
    if q is None:
        return
    while True:
        try:
            e, r, h = q.get_nowait()
        except queue_mod.Empty:
            return
        if progress is not None:
            progress(e, r, h)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


_ROUTINE = frozenset({
    "header", "signal", "order_submitted", "order_accepted", "order_cancelled",
    "order_expired", "position_changed", "fault_injected", "shutdown", "run_finished",
    "risk_rejected", "emergency_retry", "emergency_finished",
    "exit_ignored", "entry_dropped",
})


def coverage_rows(res: CampaignResult) -> list[tuple[str, int]]:
    """Coverage counters in a stable, readable order (routine events left out)."""
    first = [f"fault:{k}" for k in FAULT_KINDS + LATE_FAULT_KINDS]
    rest = sorted(k for k in res.coverage if k not in first and k not in _ROUTINE)
    ordered = [k for k in first if k in res.coverage] + rest
    return [(k, res.coverage[k]) for k in ordered]


__all__ = [
    "CI_PROFILE", "LONG_PROFILE", "PROFILES", "register_profiles", "seed_only_generation",
    "Find", "BatchJob", "BatchResult", "CampaignResult", "InvariantBroken", "Outcome",
    "Written", "broken",
    "features_of", "run_example", "run_batch", "campaign", "write_find", "verify_file",
    "find_document", "scenario_yaml", "record_index", "default_workers", "coverage_rows",
]
