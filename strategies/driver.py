"""One ticker's strategy behind two calls: ``on_tick`` and ``on_fill``.

The kernel owns one ``StrategyDriver`` per ticker with a strategy. The driver knows
which hooks the strategy defines (``loader.capabilities``, probed once per class), so
a plain ``on_price`` strategy costs one bound-method call per tick and nothing else:
no context, no quote object, no bar aggregation unless a hook asks for them.

It is also where a strategy's misbehaviour is contained. Every answer goes through
``validate_intent``; a hook that raises, or returns anything but an intent, makes the
driver report it once through ``on_error(ts, hook, text)`` (the kernel journals
``strategy_error``, stops the ticker's entries and fails the run) and then stop
calling the strategy at all: a strategy in an unknown state gets no more data, and
exits stay with the kernel's own rules. Intents go out through ``emit(ts, intent)``;
the kernel decides what, if anything, to trade.
"""
from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any, Callable

from .bars import BarAggregator
from .base import ContextWriter, Fill, Intent, IntentError, Quote, StrategyContext, \
    validate_intent
from .loader import capabilities

Emit = Callable[[int, Intent], None]
OnError = Callable[[int, str, str], None]


class StrategyDriver:
    __slots__ = ("strategy", "caps", "failed", "_emit", "_on_error", "_price", "_quote",
                 "_bar", "_fill", "_writer", "_bars")

    def __init__(self, strategy: Any, instrument: Any, *, emit: Emit, on_error: OnError,
                 bar_interval_ns: int | None = None, bar_origin_ns: int = 0) -> None:
        caps = capabilities(type(strategy))
        self.strategy = strategy
        self.caps = caps
        self.failed: str | None = None  # the error text, once the strategy misbehaved
        self._emit = emit
        self._on_error = on_error
        self._price = strategy.on_price if caps.uses_on_price else None
        self._quote = strategy.on_quote if caps.uses_on_quote else None
        self._bar = strategy.on_bar if caps.uses_on_bar else None
        self._fill = strategy.on_fill if caps.uses_on_fill else None
        self._writer = ContextWriter(instrument) if caps.uses_context else None
        self._bars: BarAggregator | None = None
        if caps.uses_on_bar:
            if bar_interval_ns is None:
                raise ValueError(f"{type(strategy).__name__} has on_bar: a bar interval is needed")
            self._bars = BarAggregator(bar_interval_ns, bar_origin_ns)

    @property
    def price_hook(self) -> Callable[[int, int], object] | None:
        """The bound ``on_price``, for a kernel that calls a plain strategy itself (no
        context to keep): it then hands answers to ``answer`` and exceptions to
        ``raised``, and stops calling the hook once ``on_error`` has been called."""
        return self._price

    def answer(self, ts: int, hook: str, answer: object) -> None:
        """A hook's non-None answer: validated, then emitted or reported."""
        self._answer(ts, hook, answer)

    def raised(self, ts: int, hook: str, exc: BaseException) -> None:
        """A hook raised ``exc``: reported once, the strategy is not called again."""
        self._fail(ts, hook, _raised(exc))

    @property
    def ctx(self) -> StrategyContext | None:
        """The context the hooks see (None for an ``on_price``-only strategy)."""
        return self._writer.ctx if self._writer is not None else None

    @property
    def next_bar_close_ns(self) -> int | None:
        """When the open bar completes: for a timer that calls ``on_time``."""
        return self._bars.next_close_ns if self._bars is not None else None

    # ------------------------------------------------------------ events

    def on_tick(self, ts: int, bid: int, ask: int, last: int, bid_size: int,
                ask_size: int) -> None:
        """A tick: on_bar (if it closed a bar), then on_quote, then on_price."""
        if self.failed is not None:
            return
        writer = self._writer
        if writer is not None:
            writer.quote(ts, bid, ask, last)
            if self._bars is not None:
                bar = self._bars.update(ts, last)
                if bar is not None and not self._call(ts, "on_bar", self._bar, writer.ctx, bar):
                    return
            if self._quote is not None and not self._call(
                    ts, "on_quote", self._quote, writer.ctx,
                    Quote(ts, bid, ask, last, bid_size, ask_size)):
                return
        hook = self._price
        if hook is not None:
            try:
                answer = hook(ts, last)
            except Exception as exc:  # noqa: BLE001 - any failure of user code
                self._fail(ts, "on_price", _raised(exc))
                return
            if answer is not None:
                self._answer(ts, "on_price", answer)

    def on_time(self, now: int) -> None:
        """A bar boundary passed without a tick: close the bar and call on_bar."""
        if self.failed is not None or self._bars is None:
            return
        bar = self._bars.close_until(now)
        if bar is not None:
            assert self._writer is not None
            self._writer.time(now)
            self._call(now, "on_bar", self._bar, self._writer.ctx, bar)

    def on_fill(self, fill: Fill, position: Any) -> None:
        """After a fill: the context takes ``position``'s qty, cost and realized P&L
        (a ``kernel.positions.Position``), then on_fill sees the fill."""
        writer = self._writer
        if writer is None:
            return
        writer.position(position.qty, position.cost, position.realized)
        writer.time(fill.ts_ns)
        if self._fill is not None and self.failed is None:
            self._call(fill.ts_ns, "on_fill", self._fill, writer.ctx, fill)

    # ------------------------------------------------------------ answers

    def _call(self, ts: int, name: str, hook: Any, ctx: StrategyContext, arg: Any) -> bool:
        """Call a context hook; False when the strategy has failed (stop this tick)."""
        try:
            answer = hook(ctx, arg)
        except Exception as exc:  # noqa: BLE001 - any failure of user code
            self._fail(ts, name, _raised(exc))
            return False
        if answer is not None:
            self._answer(ts, name, answer)
        return self.failed is None

    def _answer(self, ts: int, name: str, answer: object) -> None:
        try:
            intent = validate_intent(answer)
        except IntentError as exc:
            self._fail(ts, name, str(exc))
            return
        if intent is not None:
            self._emit(ts, intent)

    def _fail(self, ts: int, hook: str, text: str) -> None:
        self.failed = f"{hook} {text}"
        self._on_error(ts, hook, self.failed)


def _raised(exc: BaseException) -> str:
    """``raised Type: message (file.py:LINE)``, the line being where it was raised."""
    text = str(exc)
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        where = f" ({Path(last.filename).name}:{last.lineno})"
    return f"raised {type(exc).__name__}{': ' + text if text else ''}{where}"


__all__ = ["StrategyDriver"]
