"""strategies/driver.py: hook dispatch by capability, and a misbehaving strategy
contained (reported once, then never called again; never a guessed side)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from triotrade.kernel.instruments import Instrument
from triotrade.kernel.orders import Role, Side
from triotrade.kernel.positions import Position
from triotrade.strategies.base import Action, Bar, Fill, Intent, Quote
from triotrade.strategies.driver import StrategyDriver
from triotrade.strategies.ma_cross import MovingAverageCross

ACME = Instrument("ACME", Decimal("0.01"))
S = 1_000_000_000


class Recorder:
    def __init__(self) -> None:
        self.intents: list[tuple[int, Intent]] = []
        self.errors: list[tuple[int, str, str]] = []

    def driver(self, strategy: Any, **kw: Any) -> StrategyDriver:
        return StrategyDriver(strategy, ACME, emit=lambda ts, i: self.intents.append((ts, i)),
                              on_error=lambda ts, h, t: self.errors.append((ts, h, t)), **kw)


class Everything:
    """Every hook; records what it saw, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_price(self, ts_ns: int, price: int) -> object:
        self.calls.append(("price", ts_ns, price))
        return "BUY" if price == 105 else None

    def on_quote(self, ctx: Any, quote: Quote) -> object:
        self.calls.append(("quote", ctx.now_ns, quote))
        return None

    def on_bar(self, ctx: Any, bar: Bar) -> object:
        self.calls.append(("bar", ctx.now_ns, bar))
        return Intent(Action.SELL, size=7, reason="bar")

    def on_fill(self, ctx: Any, fill: Fill) -> object:
        self.calls.append(("fill", ctx.position, ctx.avg_price, fill))
        return None


def test_hooks_in_order_bar_quote_price() -> None:
    rec = Recorder()
    s = Everything()
    d = rec.driver(s, bar_interval_ns=10 * S)
    d.on_tick(1 * S, 99, 101, 100, 5, 6)
    d.on_tick(11 * S, 104, 106, 105, 5, 6)
    assert s.calls == [
        ("quote", 1 * S, Quote(1 * S, 99, 101, 100, 5, 6)),
        ("price", 1 * S, 100),
        ("bar", 11 * S, Bar(0, 10 * S, 100, 100, 100, 100, 1)),
        ("quote", 11 * S, Quote(11 * S, 104, 106, 105, 5, 6)),
        ("price", 11 * S, 105),
    ]
    assert rec.intents == [(11 * S, Intent(Action.SELL, size=7, reason="bar")),
                           (11 * S, Intent(Action.BUY))]
    assert rec.errors == []
    assert d.next_bar_close_ns == 20 * S
    d.on_time(20 * S)
    assert s.calls[-1] == ("bar", 20 * S, Bar(10 * S, 20 * S, 105, 105, 105, 105, 1))


def test_fill_updates_the_context_before_on_fill() -> None:
    rec = Recorder()
    s = Everything()
    d = rec.driver(s, bar_interval_ns=S)
    pos = Position("ACME")
    pos.apply_fill(1, 3, 100, 5)
    pos.apply_fill(1, 1, 104, 6)
    fill = Fill(6, "o-2", Role.ENTRY, Side.BUY, 1, 104)
    d.on_fill(fill, pos)
    assert s.calls == [("fill", 4, 101, fill)]
    assert d.ctx is not None and d.ctx.now_ns == 6


def test_a_price_only_strategy_gets_no_context() -> None:
    rec = Recorder()
    d = rec.driver(MovingAverageCross(2, 3))
    assert d.ctx is None and not d.caps.uses_context
    for i, p in enumerate([10, 10, 10, 5, 4, 20, 30]):
        d.on_tick(i, p, p, p, 1, 1)
    assert [i.side for _, i in rec.intents] == [Action.BUY]
    d.on_fill(Fill(7, "o", Role.ENTRY, Side.BUY, 1, 30), Position("ACME"))  # nothing to do


def test_on_bar_needs_an_interval() -> None:
    with pytest.raises(ValueError, match="Everything has on_bar: a bar interval is needed"):
        Recorder().driver(Everything())


class Lowercase:
    def on_price(self, ts_ns: int, price: int) -> object:
        return "buy"


class Raises:
    def __init__(self) -> None:
        self.seen = 0

    def on_price(self, ts_ns: int, price: int) -> object:
        self.seen += 1
        if ts_ns == 2:
            return 1 / 0
        return None


def test_a_bad_answer_is_reported_once_and_never_traded() -> None:
    rec = Recorder()
    d = rec.driver(Lowercase())
    d.on_tick(1, 1, 1, 1, 1, 1)
    d.on_tick(2, 1, 1, 1, 1, 1)
    assert rec.intents == []
    assert rec.errors == [(1, "on_price", "on_price returned 'buy': expected 'BUY', 'SELL', "
                           "'EXIT', an Action, an Intent or None (did you mean 'BUY'? sides "
                           "are upper case)")]
    assert d.failed == rec.errors[0][2]


def test_a_raising_strategy_is_reported_with_its_line_and_not_called_again() -> None:
    rec = Recorder()
    s = Raises()
    d = rec.driver(s)
    for ts in (1, 2, 3, 4):
        d.on_tick(ts, 1, 1, 1, 1, 1)
    assert s.seen == 2  # never called after it raised
    ((ts, hook, text),) = rec.errors
    assert (ts, hook) == (2, "on_price")
    assert text.startswith("on_price raised ZeroDivisionError: division by zero "
                           "(test_strategy_driver.py:")


def test_errors_in_context_hooks() -> None:
    class BadQuote:
        def on_quote(self, ctx: Any, quote: Quote) -> object:
            return ("BUY", 10)

    rec = Recorder()
    d = rec.driver(BadQuote())
    d.on_tick(5, 1, 1, 1, 1, 1)
    assert rec.errors == [(5, "on_quote", "on_quote returned ('BUY', 10) (tuple): expected "
                           "'BUY', 'SELL', 'EXIT', an Action, an Intent or None")]
