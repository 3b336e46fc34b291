"""The progress bar of a long simulated run: on a terminal only, after a few seconds.

A run of a few seconds needs no bar, and a bar in a pipe or a CI log is noise, so the
bar appears only when stdout is a terminal and the run has taken ``DELAY_S`` of wall
time. It shows virtual time against the horizon and ticks per wall-clock second.

The simulator calls it from a virtual-time timer (``runner.run(progress=...)``) inside
the determinism harness, which refuses threads: rich's auto-refresh thread is off and
the bar is redrawn here, at most ``REFRESH_S`` apart. Wall-clock time is read only
here, in the CLI, never in the kernel or the simulator.
"""
from __future__ import annotations

import time
from typing import Any

from ..kernel.units import NS_PER_S

DELAY_S = 3.0
REFRESH_S = 0.1


class RunProgress:
    """``runner.run(progress=RunProgress(console, horizon))``; ``close()`` after the run."""

    def __init__(self, console: Any, horizon_ns: int, delay_s: float = DELAY_S) -> None:
        self._console = console
        self._horizon = max(horizon_ns, 1)
        self._delay = delay_s
        self._t0 = time.monotonic()
        self._last_draw = 0.0
        self._bar: Any = None
        self._task: Any = None
        self.shown = False

    def __call__(self, now_ns: int, ticks: int) -> None:
        wall = time.monotonic()
        elapsed = wall - self._t0
        if self._bar is None:
            if elapsed < self._delay or not self._console.is_terminal:
                return
            self._start()
        elif wall - self._last_draw < REFRESH_S and now_ns < self._horizon:
            return
        self._last_draw = wall
        rate = f"{ticks / elapsed:,.0f}" if elapsed > 0 else "-"
        self._bar.update(self._task, completed=min(now_ns, self._horizon),
                         vt=f"{now_ns // NS_PER_S}s / {self._horizon // NS_PER_S}s",
                         rate=rate)
        self._bar.refresh()

    def _start(self) -> None:
        """Build the bar; it is first drawn by the caller, with its fields filled in."""
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn("simulating"), BarColumn(),
                             TextColumn("virtual {task.fields[vt]}"),
                             TextColumn("{task.fields[rate]} ticks/s"), TimeElapsedColumn(),
                             console=self._console, auto_refresh=False, transient=True)
        self._task = self._bar.add_task("run", total=self._horizon, vt="", rate="")
        self._bar.live.start(refresh=False)  # Progress.start() would draw empty fields
        self.shown = True

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
