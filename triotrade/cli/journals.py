"""Where a run's journal goes, and the promise that no journal is ever lost to another.

A journal is the record of what a run did; for a live run it is the only record. So a
journal file is created exclusively (``O_EXCL``): two processes can never write the same
file, whatever the clock says. Live runs are named for the time to the microsecond and
the process id, and on the (theoretical) clash a numbered suffix is tried instead. A
path the user names with ``--journal`` must be new unless ``--overwrite`` says
otherwise. The one journal that is replaced silently is the simulator's default
``runs/<scenario>-seed<N>.jsonl``: the run is deterministic, so running the same file
with the same seed again writes it again (the Quickstart runs twice in a row).
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from ..kernel.errors import InputError

RUNS_DIR = Path("runs")
MAX_SUFFIX = 1000  # live names that clash this often mean something else is wrong


class JournalExists(InputError):
    """``--journal PATH`` names a file that is already there (nothing ran)."""


def _create_new(path: Path) -> bool:
    """Create ``path`` empty if nothing is there; False if something is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def claim(path: Path, *, overwrite: bool) -> Path:
    """Make ``path`` ours to write: created new, or (``overwrite``) replaced.

    Refuses an existing file with a located message, so the caller exits 2 before
    anything runs.
    """
    if overwrite:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
    if not _create_new(path):
        raise JournalExists(str(path), [("", "a journal is already there; name a new file "
                                             "with --journal, or pass --overwrite to replace it")])
    return path


def claim_live(venue: str, *, now: datetime | None = None, pid: int | None = None,
               runs_dir: Path = RUNS_DIR) -> Path:
    """A new journal for a live run: ``runs/live-<venue>-<UTC time, µs>-<pid>.jsonl``.

    Created exclusively, so two runs started in the same second (or microsecond) get
    two files; a clash takes the next free ``-2``, ``-3``, ... suffix.
    """
    now = now or datetime.now(timezone.utc)
    pid = os.getpid() if pid is None else pid
    stem = f"live-{venue}-{now.strftime('%Y%m%dT%H%M%S.%fZ')}-{pid}"
    for n in range(1, MAX_SUFFIX + 1):
        path = runs_dir / (f"{stem}.jsonl" if n == 1 else f"{stem}-{n}.jsonl")
        if _create_new(path):
            return path
    raise InputError(str(runs_dir), [("", f"no free journal name for {stem}")])


def sim_default(name: str, seed: int, taken: set[Path]) -> Path:
    """The simulator's default journal path; within one invocation of several files,
    two scenarios with the same name and seed get ``-2``, ``-3``... (not one file)."""
    base = RUNS_DIR / f"{name}-seed{seed}"
    path, n = RUNS_DIR / f"{base.name}.jsonl", 1
    while path in taken:
        n += 1
        path = RUNS_DIR / f"{base.name}-{n}.jsonl"
    taken.add(path)
    return path
