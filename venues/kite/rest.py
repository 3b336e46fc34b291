"""Kite's REST API: blocking ``kiteconnect`` calls in worker threads, paced for orders.

REST goes through the real ``kiteconnect.KiteConnect`` client. It is blocking
(``requests``), so every call runs in a worker thread (``trio.to_thread``) behind a
``CapacityLimiter``; order actions (place, modify, cancel) also pass a sliding-window
pacer so we never exceed Kite's 10 order requests per second, and a 429 that slips
through anyway is retried (Kite refused it before placing anything).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import trio
from kiteconnect import exceptions as kex

from ...kernel.units import to_units

T = TypeVar("T")


class Refused(Exception):
    """Kite refused an order outright (4xx): it never existed at the exchange."""


def safe(exc: BaseException) -> str:
    """An exception as text fit for the journal: Kite's own message, never a URL."""
    if isinstance(exc, kex.KiteException):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def units(value: Any) -> int:
    """A price from Kite JSON (float, int, str or Decimal) as exact units."""
    return to_units(value)  # floats go through repr(): the text Kite sent


class Rest:
    """The REST plumbing of ``KiteVenue``."""

    async def _rest(self, fn: Callable[..., T], *args: Any, order: bool = False, **kw: Any) -> T:
        """One kiteconnect call in a worker thread; order actions are paced first."""
        if order:
            await self._pace()
        call = functools.partial(fn, *args, **kw)
        try:
            return await trio.to_thread.run_sync(call, limiter=self._limiter,
                                                 abandon_on_cancel=not order)
        except kex.TokenException as exc:
            self._token_failed(exc)
            raise

    async def _pace(self) -> None:
        """Sliding window of ``order_rate`` per second (with a margin for clock skew)."""
        window = 1.1  # the exchange counts on arrival; leave room for jitter in between
        async with self._order_lock:
            times = self._order_times
            now = trio.current_time()
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) >= self.settings.order_rate:
                await trio.sleep_until(times[0] + window)
                now = trio.current_time()
                while times and times[0] <= now - window:
                    times.popleft()
            times.append(now)
            self.order_requests.append(now)

    def _token_failed(self, exc: BaseException) -> None:
        reason = "Kite refused the access token (TokenException): log in again"
        self.errors.append(reason)
        if self._reported_up:
            self._connection(False, reason)
