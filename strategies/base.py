"""The strategy interface: what the kernel hands a strategy, and what it may answer.

A strategy turns market data into *intents*; it never places, sizes past the caps or
cancels an order. The kernel keeps every risk decision (caps, stops, kill switch),
so a strategy is plain synchronous Python that can be unit-tested with a list of
prices. It runs on the tick path: keep it O(1) per call and free of I/O.

The minimal strategy, unchanged since the first version::

    class Mine:
        def on_price(self, ts_ns: int, price: int) -> str | None:
            return "BUY" if ... else None

``price`` (and every price below) is an integer in the kernel's 1e-8 units
(``100.25`` is ``10_025_000_000``; ``triotrade.kernel.units.to_units`` converts),
``ts_ns`` is virtual nanoseconds since the scenario's start in the simulator and Unix
nanoseconds live.

Optional hooks, each called only if the class defines it (the loader probes the class
once, so an absent hook costs nothing per tick). Per tick the kernel calls, in this
order: ``on_bar`` when the tick closed a bar, then ``on_quote``, then ``on_price``.

``on_quote(self, ctx, quote)``
    every tick, with bid, ask, last and the displayed sizes (``Quote``).
``on_bar(self, ctx, bar)``
    when a bar of the configured interval is complete (``Bar``, aggregated by the
    kernel from ``last`` prices, see ``strategies/bars.py``); the interval comes from
    the strategy's config (``bar_interval``) or a class attribute ``bar_interval``
    such as ``"1m"``.
``on_fill(self, ctx, fill)``
    after each fill of one of this ticker's orders (``Fill``), entries and exits alike.

``ctx`` is the ticker's ``StrategyContext``: symbol, instrument, time, position,
average price, realized and unrealized P&L, all read-only. It is one object per
ticker that the kernel keeps current; keep a reference to it if you like, but read
it when you need it (its values change under you between calls).

Every hook may return:

* ``None``: nothing to do (the common case, and free);
* ``"BUY"``, ``"SELL"``, ``"EXIT"`` (exactly these, upper case) or an ``Action``;
* an ``Intent(Action.BUY, size=200, reason="z=-2.4")``: ``size`` asks for a quantity
  other than the configured unit size, and the kernel clips it to its caps (maximum
  position, lot size); ``reason`` is written to the journal with the signal.

``BUY`` opens or adds to a long, ``SELL`` opens or adds to a short, ``EXIT`` flattens.
Anything else (``"buy"``, ``1``, ``True``) is a strategy error, never a guess:
``validate_intent`` raises ``IntentError`` naming the value, and the kernel journals
it as ``strategy_error``, stops that ticker's entries (exits keep working) and fails
the run. A hook that raises is treated the same way.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import attrs

from ..kernel.orders import Role, Side

if TYPE_CHECKING:
    from fractions import Fraction

    from ..kernel.instruments import Instrument

from ..kernel.signals import SignalSide

BUY = SignalSide.BUY
SELL = SignalSide.SELL
EXIT = SignalSide.EXIT


# One enum for what a strategy asks, shared with the kernel's signals: a strategy may
# import it under either name.
Action = SignalSide


def _positive_size(_: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if type(value) is not int:
        raise TypeError(f"Intent.{attr.name} must be a positive int or None, "
                        f"got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"Intent.{attr.name} must be positive, got {value}")


@attrs.frozen(slots=True)
class Intent:
    """A strategy's answer. ``size`` (shares/contracts) is a wish the kernel clips to
    its caps; ``None`` means the configured unit size. ``reason`` is journaled."""

    side: SignalSide = attrs.field(validator=attrs.validators.instance_of(SignalSide))
    size: int | None = attrs.field(default=None, validator=_positive_size)
    reason: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(str)))


class IntentError(ValueError):
    """A strategy returned something that is not an intent."""


# Plain answers map to shared Intent objects: validating "BUY" allocates nothing.
_INTENTS = {a: Intent(a) for a in SignalSide}
_BY_TEXT = {a.value: i for a, i in _INTENTS.items()}
_ALLOWED = "'BUY', 'SELL', 'EXIT', an Action, an Intent or None"


def validate_intent(value: object) -> Intent | None:
    """``value`` as an ``Intent`` (``None`` stays ``None``), or ``IntentError``.

    Strict on purpose: a lowercase ``"buy"`` is an error, because guessing (or treating
    everything that is not ``"BUY"`` as a sell) turns a typo into a short position.
    """
    if value is None:
        return None
    kind = type(value)
    if kind is Intent:
        return value  # type: ignore[return-value]
    if kind is SignalSide:
        return _INTENTS[value]  # type: ignore[index]
    if isinstance(value, str):
        intent = _BY_TEXT.get(value)
        if intent is not None:
            return intent
        hint = ""
        if value.strip().upper() in _BY_TEXT:
            hint = f" (did you mean {value.strip().upper()!r}? sides are upper case)"
        raise IntentError(f"returned {value!r}: expected {_ALLOWED}{hint}")
    if isinstance(value, Intent):  # a subclass: fine, it passed Intent's validators
        return value
    raise IntentError(f"returned {value!r} ({kind.__name__}): expected {_ALLOWED}")


# ------------------------------------------------------------------ what a hook receives
# NamedTuples rather than attrs classes: one is built per tick (quotes) or per bar, and
# a tuple is the cheapest immutable record Python has.


class Quote(NamedTuple):
    """The market as of ``ts_ns``. Sizes are the displayed sizes at bid and ask."""

    ts_ns: int
    bid: int
    ask: int
    last: int
    bid_size: int
    ask_size: int


class Bar(NamedTuple):
    """``last`` prices aggregated over ``[start_ns, end_ns)``; ``ticks`` counts them."""

    start_ns: int
    end_ns: int
    open: int
    high: int
    low: int
    close: int
    ticks: int


class Fill(NamedTuple):
    """One fill of one of the ticker's orders (``qty`` > 0; ``side`` says the way)."""

    ts_ns: int
    order_id: str
    role: Role
    side: Side
    qty: int
    price: int


# ------------------------------------------------------------------ the context


class StrategyContext:
    """Read-only view of one ticker for its strategy; the kernel updates it.

    Assigning to it raises: a strategy that wants to change its position says so with
    an intent. The kernel writes through a ``ContextWriter``. Money and prices are
    1e-8 units; ``avg_price`` and the P&L figures are ``int`` or, when an average
    price is not a whole unit, an exact ``Fraction``.
    """

    __slots__ = ("_symbol", "_instrument", "_now", "_qty", "_cost", "_realized", "_mark")
    _symbol: str
    _instrument: "Instrument"
    _now: int
    _qty: int
    _cost: "int | Fraction"
    _realized: "int | Fraction"
    _mark: int

    def __init__(self, instrument: "Instrument") -> None:
        setter = object.__setattr__
        setter(self, "_symbol", instrument.symbol)
        setter(self, "_instrument", instrument)
        setter(self, "_now", 0)
        setter(self, "_qty", 0)
        setter(self, "_cost", 0)
        setter(self, "_realized", 0)
        setter(self, "_mark", 0)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"StrategyContext is read-only (cannot set {name!r}); "
                             "return an Intent to change the position")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("StrategyContext is read-only")

    @property
    def symbol(self) -> str:
        return self._symbol

    @property
    def instrument(self) -> "Instrument":
        return self._instrument

    @property
    def now_ns(self) -> int:
        """The time of the event being handled (virtual ns in the simulator)."""
        return self._now

    @property
    def position(self) -> int:
        """Filled position, signed: > 0 long, < 0 short, 0 flat."""
        return self._qty

    @property
    def avg_price(self) -> "int | Fraction":
        """Average entry price of the open position (0 when flat)."""
        qty = self._qty
        if not qty:
            return 0
        cost = self._cost
        if type(cost) is int and cost % qty == 0:
            return cost // qty
        from fractions import Fraction

        return Fraction(cost) / qty

    @property
    def mark(self) -> int:
        """The price the open position is marked at: the bid for a long, the ask for a
        short, ``last`` when that side is empty."""
        return self._mark

    @property
    def unrealized_pnl(self) -> "int | Fraction":
        return self._qty * self._mark - self._cost if self._qty else 0

    @property
    def realized_pnl(self) -> "int | Fraction":
        """Realized P&L of this ticker over the whole run."""
        return self._realized

    def __repr__(self) -> str:
        return (f"StrategyContext(symbol={self._symbol!r}, now_ns={self._now}, "
                f"position={self._qty}, avg_price={self.avg_price!r}, mark={self._mark}, "
                f"realized_pnl={self._realized!r})")


_SLOTS = {name: StrategyContext.__dict__[name] for name in StrategyContext.__slots__}
_SET_NOW = _SLOTS["_now"].__set__
_SET_MARK = _SLOTS["_mark"].__set__
_SET_QTY = _SLOTS["_qty"].__set__
_SET_COST = _SLOTS["_cost"].__set__
_SET_REALIZED = _SLOTS["_realized"].__set__


class ContextWriter:
    """The kernel's side of a ``StrategyContext``: the only way to change one.

    ``quote`` runs per tick for strategies that take a context, so it is two slot
    writes; ``position`` runs per fill with the ticker's ``Position`` figures
    (``qty``, ``cost`` = signed qty x average price, ``realized``).
    """

    __slots__ = ("ctx",)

    def __init__(self, instrument: "Instrument") -> None:
        self.ctx = StrategyContext(instrument)

    def time(self, ts_ns: int) -> None:
        _SET_NOW(self.ctx, ts_ns)

    def quote(self, ts_ns: int, bid: int, ask: int, last: int) -> None:
        ctx = self.ctx
        _SET_NOW(ctx, ts_ns)
        qty = ctx._qty
        if qty > 0:
            _SET_MARK(ctx, bid or last)
        elif qty < 0:
            _SET_MARK(ctx, ask or last)
        else:
            _SET_MARK(ctx, last)

    def position(self, qty: int, cost: "int | Fraction", realized: "int | Fraction") -> None:
        ctx = self.ctx
        _SET_QTY(ctx, qty)
        _SET_COST(ctx, cost)
        _SET_REALIZED(ctx, realized)


# ------------------------------------------------------------------ the protocols


class Strategy(Protocol):
    """The minimal strategy: "BUY", "SELL", "EXIT" or None for each price.

    Typed as the original protocol (a side string), which is what the kernel's tick
    path consumes directly; strategies may also return an ``Action`` or an
    ``Intent``, and every answer goes through ``validate_intent`` (see
    ``strategies/driver.py``)."""

    def on_price(self, ts_ns: int, price: int) -> SignalSide | str | None:
        """Called for every tick with its ``last`` price (integer units)."""
        ...


class QuoteStrategy(Protocol):
    def on_quote(self, ctx: StrategyContext, quote: Quote) -> object: ...


class BarStrategy(Protocol):
    def on_bar(self, ctx: StrategyContext, bar: Bar) -> object: ...


class FillStrategy(Protocol):
    def on_fill(self, ctx: StrategyContext, fill: Fill) -> object: ...


HOOKS = ("on_price", "on_quote", "on_bar", "on_fill")
MARKET_HOOKS = ("on_price", "on_quote", "on_bar")  # a strategy needs at least one


__all__ = [
    "BUY", "SELL", "EXIT", "Action", "SignalSide", "Intent", "IntentError", "validate_intent",
    "Quote", "Bar", "Fill", "StrategyContext", "ContextWriter",
    "Strategy", "QuoteStrategy", "BarStrategy", "FillStrategy", "HOOKS", "MARKET_HOOKS",
]
