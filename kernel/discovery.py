"""Tickers discovered at run time: a signal naming a symbol the run does not trade yet.

With ``discover_tickers`` on (the default protection set), such a signal starts that
symbol's supervisor, looked up at the venue, and is then judged like any other;
signals arriving while it starts wait for it, in order. Exits for an unknown symbol
and every signal under the weakening are refused, journaled. The normal signal path
(``Kernel.on_signal`` for a known ticker) never comes here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .signals import Signal, SignalSide
from .venue import VenueError

if TYPE_CHECKING:
    from .runtime import Kernel


def unknown_symbol(k: "Kernel", sig: Signal, now: int) -> None:
    """Refuse the signal, or queue it behind its symbol's start (started once)."""
    if not k.protections.discover_tickers:
        k.journal.emit(now, "signal", symbol=sig.symbol, side=sig.side.value,
                       accepted=False, reason="not a configured ticker")
        return
    if sig.side is SignalSide.EXIT:
        k.journal.emit(now, "signal", symbol=sig.symbol, side=sig.side.value,
                       accepted=False, reason="no position in an unknown ticker")
        return
    pending = k._starting.get(sig.symbol)
    if pending is None:
        k._starting[sig.symbol] = [sig]
        assert k._root is not None
        k._root.start_soon(discover, k, sig.symbol)
    else:
        pending.append(sig)


async def discover(k: "Kernel", symbol: str) -> None:
    """A signal named a symbol we do not trade yet: start its supervisor now."""
    now = k.clock.now_ns()
    try:
        inst = k.instruments.get(symbol) or await k.venue.instrument(symbol)
    except VenueError as exc:
        for sig in k._starting.pop(symbol, []):
            k.journal.emit(now, "signal", symbol=symbol, side=sig.side.value, accepted=False,
                           reason=f"unknown instrument: {exc}")
        return
    k.journal.emit(k.clock.now_ns(), "ticker_started", symbol=symbol, via="discovery")
    await k.start_ticker(inst)
    for sig in k._starting.pop(symbol, []):
        k.on_signal(sig)
