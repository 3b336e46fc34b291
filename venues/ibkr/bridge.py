"""The thread bridge: ib_async in its own asyncio loop thread, and the two crossings to trio.

The bridge between trio and asyncio
-----------------------------------
``ib_async`` is an asyncio library whose client, wrapper and events all assume they
own the running loop. We give it one: a dedicated thread runs a private asyncio loop,
and every ``ib_async`` object is created and touched only in that thread. The trio
side talks to it in two directions:

* trio -> asyncio: a request (submit, cancel, subscribe, queries) is a function handed
  to ``loop.call_soon_threadsafe``; the trio task waits on a ``trio.Event`` that the
  venue thread sets through ``TrioToken.run_sync_soon`` with the outcome. A request
  that can be done at once (placing an order whose contract is known, a cancel) runs
  right in that callback: no asyncio Task, no extra loop iteration, which is most of
  the hop's cost on the exit path. A request that must wait for IB's answer returns a
  coroutine, which becomes a Task; if the trio task is cancelled while it waits, that
  asyncio Task is cancelled: cancellation reaches the in-flight request, not just the
  waiter (``cancelled_calls`` counts it happening).
* asyncio -> trio: quotes, execution reports and connection changes are posted with
  ``TrioToken.run_sync_soon`` and delivered to the kernel's synchronous ``VenueSink``
  / quote handler in trio's thread, in the order the socket produced them (FIFO). A
  tick costs one ``run_sync_soon`` and no trio task wake-up, as the kernel expects.

Why not trio-asyncio: it runs asyncio *inside* trio's scheduler, so ib_async would
share the kernel's thread and any blocking or slow callback in it (ib_async logs,
parses and dataclass-copies on every message) would stall the kernel's tick path; it
is also one more pinned dependency with its own loop-policy tricks. A thread with its
own loop isolates ib_async completely, needs nothing beyond the standard library, and
the only shared state is the two explicit crossings above. The price is that venue
state lives in the asyncio thread; the trio side never reads it directly.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Callable

import trio

from ...kernel.venue import VenueError

log = logging.getLogger("triotrade.venues.ibkr")


def _venue_error(exc: BaseException) -> BaseException:
    """I/O trouble under a request becomes a VenueError; anything else stays itself."""
    if isinstance(exc, (ConnectionError, OSError, asyncio.TimeoutError)) and \
            not isinstance(exc, VenueError):
        return VenueError(f"IB request failed: {type(exc).__name__}: {exc}")
    return exc


class _Call:
    """One trio -> venue-thread request: its outcome, and the way back to trio."""

    __slots__ = ("token", "done", "value", "error", "task", "abandoned")

    def __init__(self, token: trio.lowlevel.TrioToken) -> None:
        self.token = token
        self.done = trio.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.task: asyncio.Future[Any] | None = None
        self.abandoned = False  # set by the trio side when its waiter was cancelled

    def finish(self, value: Any, error: BaseException | None) -> None:  # venue thread
        self.value = value
        self.error = error
        try:
            self.token.run_sync_soon(self.done.set)
        except trio.RunFinishedError:
            pass

    def task_done(self, task: asyncio.Future[Any]) -> None:  # venue thread
        if task.cancelled():
            self.finish(None, VenueError("request cancelled"))
        else:
            self.finish(task.result() if task.exception() is None else None, task.exception())



class Bridge:
    """The venue-thread plumbing of ``IbkrVenue``: run a request there, post news back.

    Uses the venue's ``_loop``, ``_token``, ``_thread``, ``_sink`` and ``_state``.
    """

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in the venue thread; cancellation goes with it.

        ``fn`` runs directly in a ``call_soon_threadsafe`` callback: a synchronous
        request (placing an order whose contract is known, a cancel) is done in the
        first loop iteration after the wake-up, with no asyncio Task. When ``fn``
        returns an awaitable (a request that waits for IB's answer), that becomes a
        Task, and cancelling the trio waiter cancels it.
        """
        loop = self._loop
        token = self._token
        if loop is None or token is None or loop.is_closed():
            raise VenueError("the IB venue is not connected")
        call = _Call(token)
        try:
            loop.call_soon_threadsafe(self._a_start, call, fn, args)
        except RuntimeError:  # closed meanwhile
            raise VenueError("the IB venue is not connected") from None
        try:
            await call.done.wait()
        except BaseException:
            call.abandoned = True
            try:  # FIFO after _a_start: the task, if any, exists by then
                loop.call_soon_threadsafe(self._a_abandon, call)
            except RuntimeError:
                pass
            raise
        if call.error is not None:
            raise call.error
        return call.value

    def _a_start(self, call: _Call, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        if call.abandoned:
            call.finish(None, VenueError("request cancelled before it started"))
            return
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the trio caller
            call.finish(None, _venue_error(exc))
            return
        if not inspect.isawaitable(result):
            call.finish(result, None)
            return
        task = call.task = asyncio.ensure_future(self._guard(result))
        task.add_done_callback(call.task_done)

    def _a_abandon(self, call: _Call) -> None:
        if call.task is not None:
            call.task.cancel()  # cancels the asyncio task: the request itself stops

    async def _guard(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except asyncio.CancelledError:
            self.cancelled_calls += 1
            raise
        except BaseException as exc:
            raise _venue_error(exc) from None

    async def _stop_thread(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            await trio.to_thread.run_sync(thread.join)
        self._thread = None
        self._loop = None

    def _thread_main(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        """asyncio thread -> trio thread, FIFO, synchronous delivery."""
        token = self._token
        if token is None or self._state == "closed":
            return
        try:
            token.run_sync_soon(self._deliver, fn, args)
        except trio.RunFinishedError:
            pass

    def _deliver(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        # runs in trio's thread; an exception here would be a TrioInternalError
        try:
            fn(*args)
        except Exception:  # noqa: BLE001
            self.sink_errors += 1
            log.exception("kernel callback %r raised", fn)

    def _connection(self, up: bool, reason: str) -> None:
        sink = self._sink
        if sink is not None:
            self._post(sink.on_connection, up, reason)
