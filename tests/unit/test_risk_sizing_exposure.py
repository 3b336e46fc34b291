"""The risk core's sizing and exposure rules (kernel/risk/sizing.py, exposure.py), asked directly."""
from __future__ import annotations

from decimal import Decimal

from triotrade.kernel.config import Sizing, Tier
from triotrade.kernel.risk.exposure import cap_reached_on_fill, exposure, fit, room
from triotrade.kernel.risk.sizing import unit_and_cap

U = 10**8
TIERS = Sizing(unit_position_size=10, max_position_size=30, tier_list=[
    Tier(Decimal("0"), Decimal("10"), 500, 1500),
    Tier(Decimal("10.01"), Decimal("100"), 50, 150)])


def test_flat_sizes_without_tiers() -> None:
    assert unit_and_cap(Sizing(), 50 * U) == (100, 300)


def test_the_first_tier_holding_the_price_sets_unit_and_cap() -> None:
    assert unit_and_cap(TIERS, 5 * U) == (500, 1500)
    assert unit_and_cap(TIERS, 10 * U) == (500, 1500)  # bounds are inclusive
    assert unit_and_cap(TIERS, 50 * U) == (50, 150)


def test_a_price_in_no_tier_or_no_price_falls_back_to_the_flat_sizes() -> None:
    assert unit_and_cap(TIERS, 1000 * U) == (10, 30)
    assert unit_and_cap(TIERS, 0) == (10, 30)


def test_exposure_counts_working_and_queued_entries_and_either_side() -> None:
    assert exposure(100, 50, 25) == 175
    assert exposure(-100, 50, 0) == 150
    assert exposure(-100, 50, 25, counts_working=False) == 100  # the naive count


def test_room_and_fit() -> None:
    assert room(300, 175) == 125
    assert room(300, 400) == -100
    # an order of 100 whose 100 are already in the exposure of 350: room for 50 of it
    assert fit(100, 300, 350, 100) == 50
    assert fit(100, 300, 100, 100) == 100
    assert fit(100, 300, 400, 100) <= 0


def test_the_fill_time_check_cancels_at_the_cap_only_when_nothing_more_fits() -> None:
    assert cap_reached_on_fill(300, 300, 300)  # filled alone reached it
    assert cap_reached_on_fill(-300, 300, 300)
    assert cap_reached_on_fill(100, 301, 300)  # filled + working above it (a shrunk cap)
    assert not cap_reached_on_fill(100, 300, 300)  # the working entries fit exactly
