"""Canary: fails loudly if a trio upgrade breaks the deterministic scheduling we rely on.

sim/determinism.py flips two private knobs of ``trio._core._run``
(``_ALLOW_DETERMINISTIC_SCHEDULING`` and the ``_r`` Random). If a trio release renames
them, stops reading them, or adds a new source of scheduling nondeterminism, every
digest in the project silently stops being reproducible. These tests catch that:

* the knobs exist (``check_trio_knobs``) and the installed trio is in the pinned range;
* a small trio program with racing tasks (checkpoints, memory channels, nested
  nurseries, equal-deadline sleeps, a cancel scope cancelling several tasks) has the
  same task-step trace on every run with one seed, in this process and in fresh
  processes with other PYTHONHASHSEEDs;
* different seeds give different traces, and traces that are neither spawn order nor
  its reverse: proof that the seeded shuffle is really what orders the tasks.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import trio

from conftest import REPO, parallel, run_python
from triotrade.sim import determinism

LOUD = ("\n\n*** DETERMINISM CANARY: trio {version} broke deterministic scheduling. ***\n"
        "{what}\n"
        "Every simulation digest depends on this. Pin trio back to the tested range in "
        "pyproject.toml, or update sim/determinism.py for the new trio and re-run this "
        "canary.\n")

# The program runs from source text so the very same code runs here and in the
# subprocesses. It returns the scheduler's trace: the name of the task at every step.
PROGRAM = r'''
import trio
import trio.testing

from triotrade.sim.determinism import make_scheduler_deterministic


class StepTrace(trio.abc.Instrument):
    def __init__(self):
        self.steps = []

    def before_task_step(self, task):
        # the root task is named after the module running this source: not a difference
        name = task.name
        self.steps.append("main" if name.endswith("._program") else name)


async def _program(log):
    send, recv = trio.open_memory_channel(1)

    async def producer(i):
        async with send.clone() as s:
            for k in range(4):
                log.append(f"p{i}.{k}")
                await s.send((i, k))
                await trio.lowlevel.checkpoint()

    async def consumer(j):
        async for item in recv:
            log.append(f"c{j}:{item[0]}.{item[1]}")
            await trio.lowlevel.checkpoint()

    async def spinner(i):
        for k in range(6):
            log.append(f"s{i}.{k}")
            await trio.lowlevel.checkpoint()

    async def sleeper(i):
        for k in range(3):
            await trio.sleep(1)  # equal deadlines: the wake-up order is the scheduler's
            log.append(f"z{i}.{k}")

    async def victim(i, scope_box, started):
        try:
            started.append(i)
            await trio.sleep_forever()
        finally:
            log.append(f"v{i}")

    async with trio.open_nursery() as outer:
        for j in range(2):
            outer.start_soon(consumer, j, name=f"c{j}")
        victims = trio.CancelScope()
        started = []

        async def victims_group():
            with victims:
                async with trio.open_nursery() as vn:
                    for i in range(5):
                        vn.start_soon(victim, i, None, started, name=f"v{i}")

        outer.start_soon(victims_group, name="victims")
        async with send:
            async with trio.open_nursery() as inner:
                for i in range(3):
                    inner.start_soon(producer, i, name=f"p{i}")
                for i in range(4):
                    inner.start_soon(spinner, i, name=f"s{i}")
                for i in range(3):
                    inner.start_soon(sleeper, i, name=f"z{i}")
        victims.cancel()  # several blocked tasks woken at once, in set order internally


def run_program(seed):
    log = []
    tracer = StepTrace()
    make_scheduler_deterministic(seed)
    trio.run(_program, log, clock=trio.testing.MockClock(autojump_threshold=0),
             instruments=[tracer])
    return tracer.steps, log
'''

SEEDS = (1, 2, 3)
SPAWNED = ["p0", "p1", "p2", "s0", "s1", "s2", "s3", "z0", "z1", "z2"]


def _load_program() -> Any:
    ns: dict[str, Any] = {}
    exec(compile(PROGRAM, "<canary program>", "exec"), ns)  # noqa: S102 - our own source
    return ns["run_program"]


def _fingerprint(steps: list[str], log: list[str]) -> str:
    return hashlib.sha256(("|".join(steps) + "#" + "|".join(log)).encode()).hexdigest()


def _fail(what: str) -> None:
    pytest.fail(LOUD.format(version=trio.__version__, what=what), pytrace=False)


def test_private_knobs_exist() -> None:
    try:
        determinism.check_trio_knobs()
    except determinism.DeterminismError as exc:
        _fail(f"check_trio_knobs: {exc}")
    import trio._core._run as run_mod

    if not isinstance(run_mod._ALLOW_DETERMINISTIC_SCHEDULING, bool):
        _fail("trio._core._run._ALLOW_DETERMINISTIC_SCHEDULING is no longer a bool")
    determinism.make_scheduler_deterministic(7)
    if run_mod._ALLOW_DETERMINISTIC_SCHEDULING is not True:
        _fail("make_scheduler_deterministic did not switch the knob on")
    a = run_mod._r.random()
    determinism.make_scheduler_deterministic(7)
    if run_mod._r.random() != a:
        _fail("seeding trio._core._run._r does not reproduce its draws")


def test_installed_trio_is_in_the_pinned_range() -> None:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    trio_dep = [d for d in deps if re.match(r"^trio\s*[<>=!~]", d)]
    assert trio_dep, "pyproject.toml must pin trio to a tested range"
    spec = SpecifierSet(trio_dep[0][len("trio"):].split(";")[0].strip())
    assert any(s.operator in ("<", "<=", "~=", "==") for s in spec), (
        f"trio must have an upper bound: {trio_dep[0]}")
    if Version(trio.__version__) not in spec:
        _fail(f"installed trio {trio.__version__} is outside the tested range {spec}")


def test_same_seed_same_interleaving_in_process() -> None:
    run_program = _load_program()
    for seed in SEEDS:
        first = run_program(seed)
        for _ in range(2):
            again = run_program(seed)
            if again != first:
                diff = next(i for i, (a, b) in enumerate(zip(again[0], first[0])) if a != b) \
                    if again[0] != first[0] else None
                _fail(f"seed {seed}: two runs interleaved differently (first task step "
                      f"that differs: #{diff})")
    steps, log = first
    # the program really raced: every kind of task ran and interleaved
    assert {s[0] for s in log} >= {"p", "c", "s", "z", "v"}
    assert len(steps) > 60
    assert sorted(x for x in log if x.startswith("v")) == [f"v{i}" for i in range(5)]


def test_different_seeds_shuffle_the_tasks() -> None:
    run_program = _load_program()
    traces = {seed: run_program(seed) for seed in range(12)}
    if len({_fingerprint(*t) for t in traces.values()}) < 2:
        _fail("12 different seeds gave the same interleaving: the seed is not used")
    # the order in which the ten tasks spawned together first ran
    orders = set()
    for steps, _ in traces.values():
        firsts = [s for i, s in enumerate(steps) if s in SPAWNED and s not in steps[:i]]
        orders.add(tuple(firsts))
    trivial = {tuple(SPAWNED), tuple(reversed(SPAWNED))}
    if not orders - trivial:
        _fail("tasks only ever ran in spawn order or its reverse: trio is not using the "
              "seeded shuffle (_ALLOW_DETERMINISTIC_SCHEDULING is ignored)")


def test_same_interleaving_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    run_program = _load_program()
    here = {seed: _fingerprint(*run_program(seed)) for seed in SEEDS}
    driver = PROGRAM + (
        "\nimport hashlib, sys\n"
        "for seed in (1, 2, 3):\n"
        "    steps, log = run_program(seed)\n"
        "    fp = hashlib.sha256(('|'.join(steps) + '#' + '|'.join(log)).encode()).hexdigest()\n"
        "    print(seed, fp)\n")
    procs = parallel([lambda h=h: run_python(driver, cwd=tmp_path, hashseed=h)
                      for h in (0, 12345)])
    for hashseed, proc in zip((0, 12345), procs):
        assert proc.returncode == 0, proc.stderr
        there = {int(a): b for a, b in (line.split() for line in proc.stdout.splitlines())}
        if there != here:
            _fail(f"a fresh process with PYTHONHASHSEED={hashseed} interleaved differently "
                  f"from this one: {there} != {here}")
