"""Signal priority: which source wins when two disagree about a ticker.

Several sources may signal the same ticker: news alerts, the ticker's strategy, the
scenario's own signals. When a higher-priority source has just had an intent accepted,
an opposite intent from a lower-priority source inside ``config.signal_conflict_window``
is a conflict, and the higher one stands: the lower one is dropped (journaled
``signal_dropped``). Only BUY against SELL conflicts: an EXIT is never dropped, since
getting out must not wait for an argument. A source not listed in
``config.signal_priority`` ranks below every listed one.

``PriorityBook`` keeps the last accepted intent per ticker; ``judge`` and ``accepted``
are the two questions the kernel asks.
"""
from __future__ import annotations

import attrs

SOURCES = ("news", "strategy", "scenario")


@attrs.define
class PriorityBook:
    order: tuple[str, ...]
    window: int  # ns
    # symbol -> (source, side, ts) of the last accepted entry intent (the caller may
    # hand in the one it keeps, to carry it over a restart)
    last: dict[str, tuple[str, str, int]] = attrs.Factory(dict)

    def rank(self, source: str) -> int:
        """0 is the highest; unlisted sources below every listed one."""
        return self.order.index(source) if source in self.order else len(self.order)

    def judge(self, symbol: str, source: str, side: str, now: int) -> str | None:
        """The higher source whose intent stands against this one, or None (keep it)."""
        prev = self.last.get(symbol)
        if prev is None or side not in ("BUY", "SELL"):
            return None
        psource, pside, pts = prev
        if pside == side or now - pts > self.window:
            return None
        if self.rank(psource) < self.rank(source):
            return psource
        return None

    def accepted(self, symbol: str, source: str, side: str, now: int) -> None:
        """An entry intent was accepted: it is the one later intents are judged against."""
        if side in ("BUY", "SELL"):
            self.last[symbol] = (source, side, now)
