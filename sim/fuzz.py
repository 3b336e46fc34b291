"""Hypothesis fuzzing of the kernel's invariants; every break shrunk into a scenario file.

One example = one scenario (``fuzz_strategies.scenarios``: a v1 scenario as a dict,
run seed included) = one deterministic simulator run (``runner.run``), with the
invariant checker (``invariants.py``) listening to every journal event. Hypothesis
cannot drive trio state machines, so the interleavings are explored through the run
seed, which seeds trio's scheduler, the market walks and the fault RNG, and shrinks
with the rest of the example.

A violation raises an exception whose *type* is the invariant's name, so Hypothesis
keeps shrinking towards an example that breaks the same invariant. The shrunk
example is written as a scenario YAML whose ``expect:`` says the invariant must not
be violated::

    expect:
      no_events:
        - {type: invariant_violated, invariant: exposure_cap}

``triotrade run FILE`` therefore exits 1 (reproducing the violation, with the same
digest in any process) while the bug is there, and 0 once it is fixed: the file can
go into ``scenarios/regressions/`` as it is.

Campaigns (``campaign``; the CLI's ``triotrade fuzz``) split the examples into
batches, each a Hypothesis run with its own seed derived from the campaign seed, and
run the batches in worker processes. An invariant found once is not shrunk again in
later batches (they still count its hits), so a campaign reports every distinct
invariant it breaks, each with one shrunk file.

The kernel's test seams can be weakened by name (``WEAKENINGS``) to show the fuzzer
has teeth: ``tests/test_fuzz.py`` and ``triotrade fuzz --weaken NAME``.
"""
from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import queue as queue_mod
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable

import attrs
import yaml
from hypothesis import HealthCheck, Phase, Verbosity, given, reject, seed, settings, target
from hypothesis.control import current_build_context
from hypothesis import strategies as st
from hypothesis.errors import Flaky, Unsatisfiable

from ..kernel.runtime import Kernel
from .determinism import derive_seed
from .fuzz_strategies import FAULT_KINDS, scenarios

# ------------------------------------------------------------------ profiles

_COMMON = dict(
    database=None,  # no .hypothesis/ directory: a campaign is reproducible from its seed
    deadline=None,
    suppress_health_check=list(HealthCheck),
    report_multiple_bugs=False,  # one bug per batch, shrunk; later batches find others
    print_blob=False,
    verbosity=Verbosity.quiet,
    phases=(Phase.generate, Phase.target, Phase.shrink),
)
settings.register_profile("triotrade-ci", max_examples=300, derandomize=True, **_COMMON)
settings.register_profile("triotrade-long", max_examples=20_000, derandomize=False, **_COMMON)

CI_PROFILE = "triotrade-ci"
LONG_PROFILE = "triotrade-long"
DEFAULT_BATCH = 250


# ------------------------------------------------------------------ weakenings

def _weaken_fill_check(k: Kernel) -> None:
    k.fill_time_exposure_check = False


def _weaken_naive_exposure(k: Kernel) -> None:
    k.fill_time_exposure_check = False
    k.exposure_counts_working = False


def _weaken_exit_lock(k: Kernel) -> None:
    k.single_exit_lock = False


def _weaken_emergency_once(k: Kernel) -> None:
    k.emergency_max_attempts = 1


# name -> (what it removes, kernel hook, the invariant that should catch it)
WEAKENINGS: dict[str, tuple[str, Callable[[Kernel], None], str]] = {
    "fill_time_exposure_check": ("no cap check on entry fills", _weaken_fill_check,
                                 "exposure_cap"),
    "naive_exposure": ("exposure counts filled shares only, no fill-time check",
                       _weaken_naive_exposure, "exposure_cap"),
    "single_exit_lock": ("no single-exit lock", _weaken_exit_lock, "single_working_exit"),
    "emergency_once": ("the emergency exit tries once", _weaken_emergency_once,
                       "exit_liveness"),
}


def weakening_hook(name: str | None) -> Callable[[Kernel], None] | None:
    if name is None:
        return None
    try:
        return WEAKENINGS[name][1]
    except KeyError:
        raise ValueError(f"unknown weakening {name!r} (one of: {', '.join(WEAKENINGS)})") \
            from None


# ------------------------------------------------------------------ one example

class InvariantBroken(AssertionError):
    """Raised for a violation; each invariant gets its own subclass (see ``broken``)."""

    invariant = ""


_BROKEN: dict[str, type[InvariantBroken]] = {}


def broken(invariant: str) -> type[InvariantBroken]:
    """The exception type for ``invariant``: Hypothesis tells bugs apart by type."""
    cls = _BROKEN.get(invariant)
    if cls is None:
        name = f"Broken_{invariant}"
        cls = type(name, (InvariantBroken,), {"invariant": invariant, "__module__": __name__})
        _BROKEN[invariant] = cls
        globals()[name] = cls  # picklable by name (results cross process boundaries)
    return cls


class Metrics:
    """A journal listener: what an example exercised (coverage) and target scores."""

    __slots__ = ("kernel", "seen", "cap_pressure", "exit_open", "exit_stuck")

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.seen: set[str] = set()
        self.cap_pressure = -10**9  # max over entry fills of |pos| + working - cap
        self.exit_open: dict[str, int] = {}
        self.exit_stuck = 0  # longest time (ms) a triggered exit stayed unflat

    def __call__(self, ev: dict[str, Any]) -> None:
        t = ev["type"]
        seen = self.seen
        if t == "kill_switch":
            seen.add(f"kill_switch:{ev.get('reason')}")
        elif t == "ticker_started":
            seen.add("ticker_discovered")
        elif t == "invariant_violated":
            seen.add(f"violation:{ev.get('invariant')}")
        elif t == "order_rejected":
            seen.add("order_rejected:not_sent" if str(ev.get("reason", "")).startswith("not sent")
                     else "order_rejected:venue")
        elif t == "fill":
            seen.add(f"fill:{ev.get('role')}")
        elif t == "report_duplicate":
            seen.add("report_duplicate")
        elif t == "kill_switch_reset":
            seen.add(f"kill_switch_reset:{ev.get('by')}")
        else:
            seen.add(t)
        if t == "position_changed":
            sym = ev["symbol"]
            ticker = self.kernel.tickers.get(sym)
            qty = abs(int(ev["qty"]))
            if ticker is not None and ticker.entries:
                p = qty + ticker.working_entry_qty() - ticker.sizing()[1]
                if p > self.cap_pressure:
                    self.cap_pressure = p
            if qty == 0 and sym in self.exit_open:
                self._close(sym, ev["ts_ns"])
        elif t in ("exit_triggered", "emergency_started"):
            self.exit_open.setdefault(ev["symbol"], ev["ts_ns"])
        elif t == "shutdown":
            for sym in list(self.exit_open):
                self._close(sym, ev["ts_ns"])

    def _close(self, sym: str, now: int) -> None:
        ms = (now - self.exit_open.pop(sym)) // 1_000_000
        if ms > self.exit_stuck:
            self.exit_stuck = ms


def features_of(data: dict[str, Any]) -> set[str]:
    """What a generated scenario contains (for the coverage table)."""
    out = {f"fault:{f['kind']}" for f in data.get("faults", ())}
    for f in data.get("faults", ()):
        if f["kind"] == "reject":
            out.add(f"reject_role:{f.get('role', 'ANY')}")
    markets = data.get("market", {}).values()
    for key in ("gaps", "halts", "walk", "ticks"):
        if any(key in m for m in markets):
            out.add(f"market:{key}")
    if len(data.get("instruments", ())) > 1:
        out.add("instruments:2+")
    cfg = data.get("config", {})
    if "tickers" in cfg:
        out.add("discovery_possible")
    if cfg.get("sizing", {}).get("tier_list"):
        out.add("tiers")
    if cfg.get("strategies"):
        out.add("strategy:ma_cross")
    risk = cfg.get("risk", {})
    for key in ("max_loss_per_trade", "max_loss_cumulative", "daily_loss_limit"):
        if key in risk:
            out.add(f"risk:{key}")
    if data.get("operator"):
        out.add("operator_acts")
    for s in data.get("signals", ()):
        out.add(f"signal:{s['side']}")
        if "published" in s:
            out.add("signal:news")
    return out


@attrs.define
class Outcome:
    violations: list[dict[str, str]]
    seen: set[str]
    digest: str
    cap_pressure: int = 0
    exit_stuck: int = 0


def run_example(data: dict[str, Any], weaken: str | None = None) -> Outcome:
    """Load the generated dict as a scenario and run it once (no journal file)."""
    from . import runner, scenario

    scn = scenario.from_dict(data, "<fuzz example>")
    weak = weakening_hook(weaken)
    box: list[Metrics] = []

    def hook(k: Kernel) -> None:
        if weak is not None:
            weak(k)
        m = Metrics(k)
        box.append(m)
        k.journal.add_listener(m)

    try:
        result = runner.run(scn, keep_events=False, kernel_hook=hook)
    except Exception as exc:  # noqa: BLE001 - a crash of the kernel is a find too
        seen = box[0].seen if box else set()
        return Outcome([{"invariant": "crash", "detail": f"{type(exc).__name__}: {exc}"}],
                       seen, "")
    m = box[0]
    return Outcome(list(result.violations), m.seen, result.digest, m.cap_pressure,
                   m.exit_stuck)


# ------------------------------------------------------------------ one batch

@attrs.define
class BatchJob:
    index: int
    seed: int
    examples: int
    weaken: str | None = None
    known: frozenset[str] = frozenset()  # invariants already shrunk: count, don't shrink
    deadline: float | None = None  # time.monotonic() in the worker (same machine)
    profile: str = LONG_PROFILE
    shrink_runs: int = 600  # simulator runs spent shrinking a find, at most


@attrs.define
class Find:
    invariant: str
    detail: str
    data: dict[str, Any]
    batch: int
    batch_seed: int
    found_after: int  # examples of the batch run when it was first seen
    shrink_runs: int


@attrs.define
class BatchResult:
    index: int
    examples: int = 0  # generated examples (before the batch's first new find)
    runs: int = 0  # every simulator run, shrinking included
    seconds: float = 0.0
    hits: Counter = attrs.Factory(Counter)  # invariant -> examples violating it
    coverage: Counter = attrs.Factory(Counter)  # feature/event -> examples with it
    finds: list[Find] = attrs.Factory(list)


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

    res = BatchResult(job.index)
    state: dict[str, Any] = {"failing": None, "last": {}, "first_at": 0, "refused": 0,
                             "raised": set()}
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
        if (job.deadline is not None and state["failing"] is None
                and time.monotonic() > job.deadline):
            raise _OutOfTime  # not an Exception: it ends the Hypothesis run, not a failure
        if state["failing"] is not None and (
                res.runs - res.examples >= job.shrink_runs
                or (job.deadline is not None and time.monotonic() > job.deadline)):
            # shrinking budget spent: refuse every new candidate until the shrinker
            # stalls (after drawing: Hypothesis requires the same choices to draw the
            # same way). The best examples found must still fail when replayed.
            if (not current_build_context().is_final
                    and _key(example) not in state["raised"]):
                state["refused"] += 1
                reject()
        out = run_example(example, job.weaken)
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
        flush()
        new = [v for v in out.violations if v["invariant"] not in job.known]
        if new:
            v = new[0]
            if not shrinking:
                state["failing"] = v["invariant"]
                state["first_at"] = res.examples
            state["last"][v["invariant"]] = (example, v["detail"])
            state["raised"].add(_key(example))
            raise broken(v["invariant"])(v["detail"])
        target(float(max(out.cap_pressure, -1000)), label="cap_pressure")
        target(float(out.exit_stuck), label="exit_stuck_ms")

    base = settings.get_profile(job.profile)
    test = settings(base, max_examples=max(1, job.examples), derandomize=False)(
        seed(job.seed)(given(st.data())(body)))
    try:
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


# ------------------------------------------------------------------ scenario files

class _Dumper(yaml.SafeDumper):
    """Block style for the structure, flow style for small all-scalar mappings."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> Any:
    flat = all(not isinstance(v, (dict, list)) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(),
                                    flow_style=flat and len(data) <= 8)


_Dumper.add_representer(dict, _represent_dict)


def scenario_yaml(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100,
                     default_flow_style=False, allow_unicode=True)


def find_document(find: Find, *, weaken: str | None, campaign_seed: int | None) -> str:
    """The shrunk example as a scenario file that states the invariant."""
    data = dict(find.data)
    body_hash = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]
    data["name"] = f"fuzz-{find.invariant}-{body_hash}"
    data["description"] = (
        f"Found by triotrade fuzz and shrunk by Hypothesis: {find.detail}")
    if find.invariant in ("crash", "nondeterminism"):
        data.pop("expect", None)  # nothing a journal matcher can state
    else:
        data["expect"] = {"no_events": [{"type": "invariant_violated",
                                         "invariant": find.invariant}]}
    # key order: the header fields first, as a person would write them
    order = ["version", "name", "description", "seed", "duration", "instruments", "account",
             "config", "market", "signals", "faults", "operator", "expect"]
    data = {k: data[k] for k in order if k in data}
    how = (f"triotrade fuzz --seed {campaign_seed}" if campaign_seed is not None
           else "the fuzzer") + f" (batch {find.batch}, Hypothesis seed {find.batch_seed})"
    lines = [
        f"# Invariant broken: {find.invariant}",
        f"# Found by {how}, after {find.found_after} example(s); "
        f"{find.shrink_runs} shrinking run(s).",
    ]
    if find.invariant == "nondeterminism":
        lines += ["# The same scenario and seed gave two different runs: run it twice and",
                  "# compare the digests (determinism is broken somewhere)."]
    if weaken is not None:
        what = WEAKENINGS[weaken][0]
        lines += [
            f"# Against a kernel WEAKENED with {weaken!r} ({what}): a test seam.",
            "# The real kernel passes this file; with the weakening it exits 1.",
        ]
    else:
        lines += [
            "# `triotrade run` on this file exits 1 while the bug is present and 0",
            "# once it is fixed; then copy it into scenarios/regressions/.",
        ]
    return "\n".join(lines) + "\n" + scenario_yaml(data)


@attrs.define
class Written:
    invariant: str
    path: str
    digest: str
    reproduced: bool
    violations: list[str]
    lines: int


def verify_file(path: str | Path, weaken: str | None = None) -> tuple[str, list[str], int]:
    """Run a scenario file as ``triotrade run`` would: (digest, violated names, exit code)."""
    from . import runner, scenario

    result = runner.run(scenario.load(path), kernel_hook=weakening_hook(weaken))
    names = [v["invariant"] for v in result.violations]
    return result.digest, names, result.exit_code


def write_find(find: Find, out_dir: str | Path, *, weaken: str | None = None,
               campaign_seed: int | None = None) -> Written:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = find_document(find, weaken=weaken, campaign_seed=campaign_seed)
    name = yaml.safe_load(doc)["name"].removeprefix("fuzz-")
    path = out / f"{name}.yaml"
    path.write_text(doc, encoding="utf-8")
    if find.invariant == "crash":
        try:
            verify_file(path, weaken)
        except Exception:  # noqa: BLE001
            return Written(find.invariant, str(path), "", True, ["crash"], doc.count("\n"))
        return Written(find.invariant, str(path), "", False, [], doc.count("\n"))
    if find.invariant == "nondeterminism":  # reproduced when two runs disagree
        (d1, n1, _), (d2, n2, _) = verify_file(path, weaken), verify_file(path, weaken)
        return Written(find.invariant, str(path), d1, d1 != d2, sorted(set(n1) | set(n2)),
                       doc.count("\n"))
    digest, names, code = verify_file(path, weaken)
    ok = code == 1 and find.invariant in names
    return Written(find.invariant, str(path), digest, ok, names, doc.count("\n"))


def record_index(out_dir: str | Path, entries: Iterable[dict[str, Any]]) -> Path:
    """Append the finds to ``OUT/finds.json`` (file, invariant, digest, seed, weakening)."""
    path = Path(out_dir) / "finds.json"
    old: list[dict[str, Any]] = []
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = []
    keep = {e["file"]: e for e in old}
    for e in entries:
        keep[e["file"]] = e
    path.write_text(json.dumps(sorted(keep.values(), key=lambda e: e["file"]), indent=2,
                               sort_keys=True) + "\n")
    return path


# ------------------------------------------------------------------ campaigns

@attrs.define
class CampaignResult:
    seed: int
    workers: int
    examples: int = 0
    runs: int = 0
    seconds: float = 0.0
    batches: int = 0
    hits: Counter = attrs.Factory(Counter)
    coverage: Counter = attrs.Factory(Counter)
    finds: list[Find] = attrs.Factory(list)
    written: list[Written] = attrs.Factory(list)
    stopped_by_budget: bool = False

    @property
    def rate(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0


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
             until: str | None = None) -> CampaignResult:
    """Run ``examples`` examples in batches over ``workers`` processes (0 = in process).

    ``until``: stop as soon as this invariant has been found (and shrunk)."""
    started = time.monotonic()
    deadline = started + time_budget if time_budget else None
    res = CampaignResult(seed_, workers)
    sizes = plan_batches(examples, max(1, workers), batch)
    jobs = [BatchJob(i, derive_seed(seed_, f"fuzz-batch:{i}"), n, weaken,
                     shrink_runs=shrink_runs) for i, n in enumerate(sizes)]
    known: set[str] = set()
    todo = list(jobs)
    continued = [0]

    def absorb(job: BatchJob, r: BatchResult) -> None:
        # a batch ends at its first new find (after shrinking it): the rest of its
        # examples go on in a continuation batch with its own seed
        left = job.examples - r.examples
        if r.finds and left > 0:
            continued[0] += 1
            todo.insert(0, BatchJob(job.index, derive_seed(seed_, f"fuzz-batch:{job.index}:"
                                                                  f"{continued[0]}"),
                                    left, weaken, shrink_runs=shrink_runs))
        res.batches += 1
        res.examples += r.examples
        res.runs += r.runs
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
        ctx = multiprocessing.get_context("spawn")
        q = ctx.Queue()
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                 initializer=_init_worker, initargs=(q,)) as pool:
            running: dict[Future[BatchResult], BatchJob] = {}

            def submit() -> None:
                while todo and len(running) < workers and not out_of_time():
                    job = todo.pop(0)
                    job.known = frozenset(known)
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
    first = [f"fault:{k}" for k in FAULT_KINDS]
    rest = sorted(k for k in res.coverage if k not in first and k not in _ROUTINE)
    ordered = [k for k in first if k in res.coverage] + rest
    return [(k, res.coverage[k]) for k in ordered]


__all__ = [
    "WEAKENINGS", "CI_PROFILE", "LONG_PROFILE", "Find", "BatchJob", "BatchResult",
    "CampaignResult", "run_example", "run_batch", "campaign", "write_find", "verify_file",
    "find_document", "scenario_yaml", "record_index",
]
