"""What the live latency benchmark measures with: the probe stamping the gap event's
path through both threads, and the side measurements read around it.

``Probe`` is the venue's ``probe=`` hook plus a journal listener; it records only the
armed gap tick and the exit order that follows, so the entries and the post-fill chatter
of each cycle cost a test and nothing else. Next to it, what explains a slow event
rather than timing it: garbage-collector pauses (``GcWatch``), the bare thread hops the
real path is compared with (``Hops``), each thread's wait for a CPU (``RunQueue``, from
schedstat) and the machine's CPU pressure (PSI); and the nearest-rank percentiles all of
them are reported in.
"""
from __future__ import annotations

import asyncio
import math
import os
import time
from pathlib import Path
from time import perf_counter_ns, thread_time_ns
from typing import Any, Callable

import trio

from triotrade.kernel.orders import Role
from triotrade.kernel.wakeup import Wakeup

# the points a gap event must have been stamped at to be counted (Bench drops the others)
POINTS = ("rx", "post", "quote_in", "gap_detected", "exit_triggered", "order_submitted",
          "submit", "submit_run", "placing", "write", "written")


class Probe:
    """Collects the stamps of the current gap event; called from both threads.

    Each stamp is ``perf_counter_ns``; the thread's CPU time (``thread_time_ns``) is
    taken alongside, so that a slow segment inside one thread can be split into time
    spent running and time spent waiting (for the GIL or for a CPU).
    """

    def __init__(self) -> None:
        self.armed: tuple[int, int] | None = None  # the (bid, ask) of the gap tick pushed
        self.rec: dict[str, int] = {}
        self.cpu: dict[str, int] = {}
        self.last_rx = (0, 0)
        self.ib_order_id = 0

    def arm(self, quote: tuple[int, int]) -> None:
        self.rec = {}
        self.cpu = {}
        self.armed = quote

    def _stamp(self, point: str, t: int) -> None:
        self.rec[point] = t
        self.cpu[point] = thread_time_ns()

    def __call__(self, point: str, t: int, info: Any) -> None:
        if point == "rx":
            self.last_rx = (t, thread_time_ns())
            return
        armed = self.armed
        if armed is None:
            return
        rec = self.rec
        if point == "quote":
            if info[:2] == armed and "post" not in rec:
                rec["rx"], self.cpu["rx"] = self.last_rx
                self._stamp("post", t)
        elif point == "quote_in":
            if info[:2] == armed and "post" in rec and "quote_in" not in rec:
                self._stamp("quote_in", t)
        elif point in ("write", "written"):
            if "placing" in rec and point not in rec and info[4:6] == b"3\0":  # placeOrder
                self._stamp(point, t)
                self.ib_order_id = int(info[6:info.index(b"\0", 6)])
        elif "quote_in" in rec and point not in rec and info.role is not Role.ENTRY:
            self._stamp(point, t)  # submit, submit_run, placing: the exit order

    def on_journal(self, event: dict[str, Any]) -> None:
        """The kernel's own milestones, seen through its journal (trio thread)."""
        if self.armed is None or "quote_in" not in self.rec:
            return
        kind = event["type"]
        if kind in ("gap_detected", "exit_triggered") or (
                kind == "order_submitted" and event.get("role") != "ENTRY"):
            if kind not in self.rec:
                self._stamp(kind, perf_counter_ns())


class GcWatch:
    """Garbage-collector pauses during the run (any thread), from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, int, int]] = []  # (start, end, generation)
        self._t0 = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = perf_counter_ns()
        else:
            self.pauses.append((self._t0, perf_counter_ns(), info["generation"]))


# ---------------------------------------------------------------- baseline hops


class Hops:
    """Bare thread hops on the venue's own two threads, stamped like the real path."""

    def __init__(self, loop: asyncio.AbstractEventLoop, token: trio.lowlevel.TrioToken,
                 nursery: trio.Nursery) -> None:
        self.loop = loop
        self.token = token
        self.wake = Wakeup()
        self._then: Callable[[], None] | None = None
        nursery.start_soon(self._waker)

    async def _waker(self) -> None:
        while True:
            await self.wake.wait()
            then, self._then = self._then, None
            if then is not None:
                then()

    async def sample(self, kind: str) -> int:
        loop, token = self.loop, self.token
        stamps: list[int] = []
        done = trio.Event()
        clock = time.perf_counter_ns

        def end() -> None:
            stamps.append(clock())
            token.run_sync_soon(done.set)

        async def end_coro() -> None:
            end()

        def back() -> None:  # trio thread -> venue thread
            if kind == "rss+rcts":
                asyncio.run_coroutine_threadsafe(end_coro(), loop)
            else:
                loop.call_soon_threadsafe(end)

        def in_trio() -> None:
            if kind == "rss+wake+csts":
                self._then = back
                self.wake.set()
            else:
                back()

        def start() -> None:  # venue thread
            stamps.append(clock())
            token.run_sync_soon(in_trio)

        loop.call_soon_threadsafe(start)
        with trio.fail_after(10):
            await done.wait()
        return stamps[1] - stamps[0]


def pct(values: list[int], q: float) -> int:
    """Nearest-rank percentile."""
    s = sorted(values)
    if not s:
        return 0
    k = math.ceil(q / 100 * len(s)) - 1
    return s[max(0, min(len(s) - 1, k))]


def stats(values: list[int]) -> dict[str, Any]:
    us = lambda ns: round(ns / 1000, 1)  # noqa: E731
    return {"count": len(values), "p50_us": us(pct(values, 50)), "p90_us": us(pct(values, 90)),
            "p99_us": us(pct(values, 99)), "p99_9_us": us(pct(values, 99.9)),
            "max_us": us(max(values) if values else 0),
            "min_us": us(min(values) if values else 0),
            "over_1ms": sum(1 for v in values if v >= 1_000_000)}


class RunQueue:
    """Per-thread time spent runnable but waiting for a CPU (``/proc/.../schedstat``,
    second field), read around each cycle from the trio thread, outside the window."""

    def __init__(self, threads: dict[str, int]) -> None:
        self.fds: dict[str, int] = {}
        for name, tid in threads.items():
            try:
                self.fds[name] = os.open(f"/proc/self/task/{tid}/schedstat", os.O_RDONLY)
            except OSError:
                pass

    def waits(self) -> dict[str, int]:
        out = {}
        for name, fd in self.fds.items():
            try:
                out[name] = int(os.pread(fd, 128, 0).split()[1])
            except (OSError, IndexError, ValueError):
                pass
        return out

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)


def cpu_pressure() -> str:
    """The kernel's CPU pressure line (share of time some runnable task waited)."""
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return "n/a"


def pressure_between(before: str, after: str, wall_s: float) -> float | None:
    """% of the run's wall time during which some runnable task waited for a CPU."""
    try:
        t0 = int(before.rsplit("total=", 1)[1])
        t1 = int(after.rsplit("total=", 1)[1])
    except (IndexError, ValueError):
        return None
    return round((t1 - t0) / (wall_s * 1e6) * 100, 1) if wall_s > 0 else None
