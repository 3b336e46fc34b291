"""The built-in strategies on hand-computed price paths: which signal, at which tick.

Each path is small enough that the averages and z-scores in the comments can be
checked with pencil and paper; the same paths in real price units (x 1e8) must give
the same signals, so nothing depends on the toy scale.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from triotrade.kernel.instruments import Instrument
from triotrade.kernel.units import PRICE_SCALE
from triotrade.strategies.base import Action, ContextWriter, Intent, Quote, validate_intent
from triotrade.strategies.ema_cross import EmaCross
from triotrade.strategies.loader import load_strategy
from triotrade.strategies.zscore_reversion import ZScoreReversion


def _sides(answers: list[object]) -> list[tuple[int, str]]:
    """(tick index, side) of every non-None answer, through the kernel's validation."""
    out = []
    for i, a in enumerate(answers):
        intent = validate_intent(a)
        if intent is not None:
            out.append((i, intent.side.value))
    return out


# ------------------------------------------------------------------ EMA cross
# fast=1: alpha 2/(1+1) = 1, the fast EMA is the price itself.
# slow=3: alpha 2/(3+1) = 1/2, the slow EMA moves half way to each price.
#
#  i  price  fast   slow                  side
#  0   100   100   100                    (warming up: fewer than slow=3 prices)
#  1   100   100   100
#  2   100   100   100                    equal: side unknown
#  3    92    92    96                    below: first known side, no signal
#  4    92    92    94
#  5   100   100    97                    above: crossed up -> BUY
#  6   104   104   100.5
#  7    96    96    98.25                 below: crossed down -> EXIT
#  8    96    96    97.125
EMA_PATH = [100, 100, 100, 92, 92, 100, 104, 96, 96]


@pytest.mark.parametrize("scale", [1, PRICE_SCALE])
def test_ema_cross_signals_at_the_hand_computed_ticks(scale: int) -> None:
    s = EmaCross(fast=1, slow=3)
    out = [s.on_price(i, p * scale) for i, p in enumerate(EMA_PATH)]
    assert _sides(out) == [(5, "BUY"), (7, "EXIT")]
    assert s.averages == (96 * scale, 97 * scale + scale // 8)  # 97.125


def test_ema_cross_reasons_and_short_mode() -> None:
    s = EmaCross(fast=1, slow=3, allow_short=True)
    out = [s.on_price(i, p) for i, p in enumerate(EMA_PATH)]
    assert _sides(out) == [(5, "BUY"), (7, "SELL")]
    assert out[5] == Intent(Action.BUY, reason="EMA1 crossed above EMA3")
    assert out[7] == Intent(Action.SELL, reason="EMA1 crossed below EMA3")


def test_ema_cross_slower_alphas() -> None:
    # fast=3 (alpha 1/2), slow=7 (alpha 1/4); prices chosen so every EMA is exact.
    #  i price fast   slow
    #  0  64   64     64
    #  1..5 64 64     64      (warming up to slow=7; equal)
    #  6  64   64     64      equal: unknown
    #  7  32   48     56      below: first side, no signal
    #  8  96   72     66      above -> BUY
    #  9  96   84     73.5
    # 10  32   58     63.125  below -> EXIT
    s = EmaCross(fast=3, slow=7)
    path = [64] * 7 + [32, 96, 96, 32]
    out = [s.on_price(i, p) for i, p in enumerate(path)]
    assert _sides(out) == [(8, "BUY"), (10, "EXIT")]
    assert s.averages == (58, 63)


def test_ema_cross_rejects_bad_windows() -> None:
    with pytest.raises(ValueError, match="need 0 < fast < slow"):
        EmaCross(5, 5)


# ------------------------------------------------------------------ z-score reversion
# window=4, entry_z=2, exit_z=0.5; z of each price against the 4 prices before it
# (mean m, population standard deviation sd):
#
#  i  price  window            m      sd       z        position  side
#  0-3 100,102,100,102 (filling the window)
#  4    98   100 102 100 102   101    1       -3        flat      BUY  (z < -2)
#  5   100   102 100 102  98   100.5  1.658   -0.302    long 100  EXIT (|z| < 0.5)
#  6   100   100 102  98 100   100    1.414    0        long 100  (EXIT already asked)
#  7   100   102  98 100 100   100    1.414    0        flat
#  8   106    98 100 100 100    99.5  0.866   +7.51     flat      SELL if allow_short
#  9   107   100 100 100 106   101.5  2.598   +2.12     flat      (still beyond: no new entry)
# 10   101   100 100 106 107   103.25 3.269   -0.69     flat      (back inside the band)
# 11    90   100 106 107 101   103.5  3.041   -4.44     flat      BUY
Z_PATH = [100, 102, 100, 102, 98, 100, 100, 100, 106, 107, 101, 90]
POSITION = {5: 100, 6: 100}  # the fills the kernel would report: long after tick 4


def _run_z(strategy: ZScoreReversion, scale: int = 1) -> list[object]:
    inst = Instrument("ACME", Decimal("0.01"))
    writer = ContextWriter(inst)
    out = []
    for i, p in enumerate(Z_PATH):
        qty = POSITION.get(i, 0)
        writer.position(qty, qty * 98 * scale, 0)
        px = p * scale
        writer.quote(i, px, px, px)
        out.append(strategy.on_quote(writer.ctx, Quote(i, px, px, px, 100, 100)))
    return out


@pytest.mark.parametrize("scale", [1, PRICE_SCALE])
def test_zscore_reversion_signals_at_the_hand_computed_ticks(scale: int) -> None:
    out = _run_z(ZScoreReversion(window=4, entry_z=Decimal(2), exit_z=Decimal("0.5")), scale)
    assert _sides(out) == [(4, "BUY"), (5, "EXIT"), (11, "BUY")]
    assert out[4] == Intent(Action.BUY, reason="z below -2")
    assert out[5] == Intent(Action.EXIT, reason="|z| back below 1/2")


def test_zscore_reversion_shorts_only_when_allowed() -> None:
    out = _run_z(ZScoreReversion(window=4, entry_z=Decimal(2), exit_z=Decimal("0.5"),
                                 allow_short=True))
    assert _sides(out) == [(4, "BUY"), (5, "EXIT"), (8, "SELL"), (11, "BUY")]


def test_zscore_thresholds_are_strict_and_exact() -> None:
    # z at tick 4 is exactly -3: entry_z=3 must not fire (strictly beyond), 2.99 must
    for entry, fires in ((Decimal(3), False), (Decimal("2.99"), True)):
        out = _run_z(ZScoreReversion(window=4, entry_z=entry, exit_z=Decimal("0.5")))
        assert (4, "BUY") in _sides(out) if fires else (4, "BUY") not in _sides(out)


def test_zscore_flat_window_has_no_z() -> None:
    inst = Instrument("ACME", Decimal("0.01"))
    writer = ContextWriter(inst)
    s = ZScoreReversion(window=3, entry_z=Decimal(1), exit_z=Decimal(0))
    out = [s.on_quote(writer.ctx, Quote(i, p, p, p, 1, 1)) for i, p in enumerate([50, 50, 50, 10])]
    assert out == [None, None, None, None]


def test_zscore_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="window must be at least 2"):
        ZScoreReversion(window=1)
    with pytest.raises(ValueError, match="need 0 <= exit_z < entry_z"):
        ZScoreReversion(entry_z=Decimal(1), exit_z=Decimal(1))


def test_builtins_load_by_name_with_yaml_style_params() -> None:
    z = load_strategy("zscore_reversion", {"window": 4, "entry_z": "2", "exit_z": "0.5"},
                      base_dir=".")
    assert z.caps.uses_on_quote and not z.caps.uses_on_price
    assert _sides(_run_z(z())) == [(4, "BUY"), (5, "EXIT"), (11, "BUY")]
    e = load_strategy("ema_cross", {"fast": 1, "slow": 3}, base_dir=".")
    assert e.caps.uses_on_price and not e.caps.uses_context
    s = e()
    assert _sides([s.on_price(i, p) for i, p in enumerate(EMA_PATH)]) == [(5, "BUY"), (7, "EXIT")]
