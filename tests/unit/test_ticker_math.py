"""The tick path's integer arithmetic agrees with exact Decimal arithmetic."""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from hypothesis import given
from hypothesis import strategies as st

from triotrade.kernel.ticker import _pct2


@given(st.integers(-(10**14), 10**14), st.integers(1, 10**14))
def test_gap_pct_matches_decimal(move: int, base: int) -> None:
    exact = (Decimal(move) * 100 / Decimal(base)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    got = _pct2(move, base)
    assert Decimal(got) == exact
    assert got != "-0.00"


def test_gap_pct_examples() -> None:
    assert _pct2(-800, 10_000) == "-8.00"
    assert _pct2(1, 300) == "0.33"
    assert _pct2(-1, 10**9) == "0.00"
