"""Everything that makes a simulation reproducible, in one place.

* One root seed derives every named sub-seed (``derive_seed``) with SHA-256, so adding
  a new consumer of randomness never shifts the others.
* trio's scheduler is made deterministic through two private knobs of
  ``trio._core._run``: ``_ALLOW_DETERMINISTIC_SCHEDULING`` (sort each batch by task
  creation order before shuffling) and ``_r`` (the shuffling Random). We seed ``_r``
  before each run. These are private: trio is pinned to a tested range in
  pyproject.toml and ``tests/test_determinism_canary.py`` fails loudly if an upgrade
  moves them.
* Threads and real I/O are refused inside a simulation (``forbid_real_world``): a
  thread or a socket would make a run depend on the machine.
"""
from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
from typing import Any, Iterator

import trio
import trio._core._run as _trio_run


class DeterminismError(RuntimeError):
    pass


def derive_seed(root: int, name: str) -> int:
    """A 64-bit sub-seed for ``name``, independent of every other name."""
    digest = hashlib.sha256(f"{root}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def check_trio_knobs() -> None:
    """Raise if trio no longer has the private knobs we rely on."""
    if not hasattr(_trio_run, "_ALLOW_DETERMINISTIC_SCHEDULING"):
        raise DeterminismError(
            f"trio {trio.__version__} has no trio._core._run._ALLOW_DETERMINISTIC_SCHEDULING; "
            "deterministic scheduling is broken: pin trio to the tested range"
        )
    r = getattr(_trio_run, "_r", None)
    if r is None or not hasattr(r, "seed") or not hasattr(r, "shuffle"):
        raise DeterminismError(f"trio {trio.__version__} has no seedable trio._core._run._r")
    if not hasattr(_trio_run, "GLOBAL_RUN_CONTEXT"):
        raise DeterminismError(f"trio {trio.__version__} has no GLOBAL_RUN_CONTEXT")


def make_scheduler_deterministic(seed: int) -> None:
    """Call before each trio.run of a simulation."""
    check_trio_knobs()
    _trio_run._ALLOW_DETERMINISTIC_SCHEDULING = True  # type: ignore[misc]
    _trio_run._r.seed(seed)


def allow_nondeterministic_scheduling() -> None:
    """Undo ``make_scheduler_deterministic`` (only to measure its cost)."""
    check_trio_knobs()
    _trio_run._ALLOW_DETERMINISTIC_SCHEDULING = False  # type: ignore[misc]


def runq_getter() -> Any:
    """The current runner's run queue, for a cheap per-event emptiness check."""
    return _trio_run.GLOBAL_RUN_CONTEXT.runner.runq


def _refuse(what: str, original: Any, owner: int) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() != owner:
            return original(*args, **kwargs)
        raise DeterminismError(f"{what} is forbidden inside a simulation")

    return refuse


@contextlib.contextmanager
def forbid_real_world() -> Iterator[None]:
    """Refuse threads, sockets and wall-clock sleeps while a simulation runs.

    Only the thread that runs the simulation is refused: a process may hold other
    threads that are not part of it (a Dask worker runs a simulation in a task thread
    while its event loop keeps talking to the scheduler), and those go on as usual."""
    owner = threading.get_ident()
    targets = [
        (threading.Thread, "start", "starting a thread"),
        (socket.socket, "connect", "opening a network connection"),
        (socket.socket, "bind", "binding a socket"),
        (socket, "create_connection", "opening a network connection"),
        (time, "sleep", "time.sleep"),
        (trio.to_thread, "run_sync", "trio.to_thread.run_sync"),
    ]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in targets]
    try:
        for (obj, name, what), (_, _, original) in zip(targets, saved):
            setattr(obj, name, _refuse(what, original, owner))
        yield
    finally:
        for obj, name, fn in saved:
            setattr(obj, name, fn)
