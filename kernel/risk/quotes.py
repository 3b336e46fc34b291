"""Bad data: which quotes the kernel refuses to believe.

A feed can deliver nonsense: a crossed book (bid above ask), a zero or negative price,
a last-trade print far outside the book it arrived with (a mis-keyed trade, a print
from another venue in another currency). Trading on it is how a stop fires on a price
that never existed. Such a quote is journaled ``quote_rejected`` and dropped whole:
the kernel's bid, ask and last stay what they were, no bar, gap check or strategy sees
it, and the feed is not counted as alive for it.

* **Book.** ``bid`` or ``ask`` 0 means that side is empty (brokers send that, and the
  simulator does with no quote); a negative side, or a bid above a non-empty ask, is
  refused. ``last`` must be positive.
* **Print band.** With both sides present, ``last`` must lie within ``[bid, ask]``
  widened by ``monitor.bad_print_pct`` percent (default 5): below ``bid * (1 - pct)``
  or above ``ask * (1 + pct)`` is refused. The band is the book that arrived *with*
  the print, never the previous tick's: a genuine gap moves the bid and the ask in the
  same quote, so the gapped print sits inside its own book and is traded on (and exits
  on that tick); only a print its own book contradicts is bad.

A bad print is one reason of ``quote_rejected`` (not an event of its own): one update
from the feed is one quote, and half-applying it (the new book, the old print) would
mix two moments.

The tick path calls these only when one chained comparison fails
(``0 < bid <= last <= ask``: an empty bid, a print outside the unwidened book, and
every refused quote fail it), so a normal tick pays three integer comparisons and no
call.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction


def band(pct: Decimal) -> tuple[int, int, int]:
    """``(low numerator, high numerator, denominator)`` of the print band for ``pct``:
    a print is inside when ``bid * low <= last * den <= ask * high``."""
    frac = Fraction(pct) / 100
    return frac.denominator - frac.numerator, frac.denominator + frac.numerator, \
        frac.denominator


def quote_problem(bid: int, ask: int, last: int, low: int, high: int, den: int) -> str | None:
    """Why this quote is refused, or None when it may be believed (``low``, ``high``,
    ``den``: the print band, from ``band``)."""
    if last <= 0:
        return "non-positive last price"
    if bid < 0 or ask < 0:
        return "negative bid or ask"
    if bid and ask:
        if bid > ask:
            return "bid above ask (crossed quote)"
        if last * den < bid * low or last * den > ask * high:
            return "last price outside [bid, ask] widened by monitor.bad_print_pct"
    return None
