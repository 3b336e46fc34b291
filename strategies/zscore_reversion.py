"""Bollinger / z-score mean reversion: fade a move beyond ``entry_z`` standard
deviations, flatten when the price is back within ``exit_z`` of the mean.

z compares the tick's ``last`` price with the mean and population standard deviation
of the ``window`` prices *before* it (including the price itself would cap |z| at
(window - 1) / sqrt(window), under 2 for a window of 5). Exact and integer-only: with
``S`` and ``Q`` the window's sum and sum of squares, ``z = (window*p - S) /
sqrt(window*Q - S*S)``, and ``|z| > e`` is tested squared, with ``e`` as a fraction,
so no square root, float or rounding is involved. A window with no variance gives no
z and no signal.

* flat: when z moves beyond ``-entry_z`` (below the band) it says BUY; beyond
  ``+entry_z`` it says SELL (a short) if ``allow_short``, else nothing. Only entering
  the zone is a signal, not staying in it, so one move asks for one entry.
* in a position: the first tick with ``|z| < exit_z`` says EXIT (once per position).

Written against the public interface: ``on_quote`` with the read-only context, whose
``position`` is the filled position, so an entry the kernel refused leaves the
strategy flat rather than believing it is in.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from .base import Action, Intent, Quote, StrategyContext


def _fraction(value: "Decimal | int | float | str | Fraction") -> Fraction:
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got {value!r}")
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


class ZScoreReversion:
    __slots__ = ("window", "entry_z", "exit_z", "allow_short", "_buf", "_sum", "_sq", "_n",
                 "_zone", "_exit_sent", "_en", "_ed", "_xn", "_xd", "_buy", "_sell", "_exit")

    def __init__(self, window: int = 20, entry_z: Decimal = Decimal(2),
                 exit_z: Decimal = Decimal("0.5"), allow_short: bool = False) -> None:
        if window < 2:
            raise ValueError("window must be at least 2")
        ez, xz = _fraction(entry_z), _fraction(exit_z)
        if not 0 <= xz < ez:
            raise ValueError("need 0 <= exit_z < entry_z")
        self.window = window
        self.entry_z = ez
        self.exit_z = xz
        self.allow_short = allow_short
        self._buf = [0] * window
        self._sum = 0
        self._sq = 0
        self._n = 0
        self._zone = 0  # -1 below -entry_z, +1 above +entry_z, 0 between
        self._exit_sent = False
        # squared thresholds as integers: |z| > a/b  <=>  d*d*b*b > a*a*v
        self._en, self._ed = ez.numerator ** 2, ez.denominator ** 2
        self._xn, self._xd = xz.numerator ** 2, xz.denominator ** 2
        self._buy = Intent(Action.BUY, reason=f"z below -{ez}")
        self._sell = Intent(Action.SELL, reason=f"z above {ez}")
        self._exit = Intent(Action.EXIT, reason=f"|z| back below {xz}")

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> Intent | None:
        p = quote.last
        if not p:
            return None
        out: Intent | None = None
        w = self.window
        if self._n >= w:
            d = w * p - self._sum
            v = w * self._sq - self._sum * self._sum
            if v > 0:
                dd = d * d
                zone = 0
                if dd * self._ed > self._en * v:
                    zone = 1 if d > 0 else -1
                pos = ctx.position
                if pos:
                    if not self._exit_sent and dd * self._xd < self._xn * v:
                        self._exit_sent = True
                        out = self._exit
                else:
                    self._exit_sent = False
                    if zone != self._zone:
                        if zone < 0:
                            out = self._buy
                        elif zone > 0 and self.allow_short:
                            out = self._sell
                self._zone = zone
        i = self._n % w
        old = self._buf[i]
        self._buf[i] = p
        self._sum += p - old
        self._sq += p * p - old * old
        self._n += 1
        return out
