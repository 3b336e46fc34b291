"""Exact numbers (kernel/units.py): durations, decimals, fixed-point price units."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from triotrade.kernel.units import (
    NS_PER_S,
    PRICE_SCALE,
    UnitError,
    decimals_of,
    fmt_units,
    parse_decimal,
    parse_duration,
    to_units,
    units_to_decimal,
)


@pytest.mark.parametrize("text,ns", [
    ("250ms", 250_000_000), ("10s", 10 * NS_PER_S), ("5m", 300 * NS_PER_S),
    ("1h", 3600 * NS_PER_S), ("0s", 0), ("0ms", 0), ("05s", 5 * NS_PER_S),
    (" 10s ", 10 * NS_PER_S), ("1ns", 1), ("7us", 7_000), ("1d", 86400 * NS_PER_S),
    ("100000h", 100000 * 3600 * NS_PER_S),
])
def test_parse_duration(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("bad", [
    "1.5s", "-5s", "+5s", "5", "s", "", "5 s", "5S", "5sec", "5mm", "1e3s", "5s5",
    "٥s",        # Arabic-Indic digit five: int() would take it, a duration must not
    "５s",       # fullwidth five
    "5s\n1s",
    5, 5.0, True, None, ["5s"],
])
def test_parse_duration_refuses(bad: object) -> None:
    with pytest.raises(UnitError):
        parse_duration(bad)


@pytest.mark.parametrize("ns,text", [
    (0, "0ns"), (250_000_000, "250ms"), (90 * NS_PER_S, "90s"), (120 * NS_PER_S, "2m"),
    (3600 * NS_PER_S, "1h"), (1_500, "1500ns"), (7_000, "7us"),
])
def test_parse_duration_units(ns: int, text: str) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("value,exact", [
    ("100.10", Decimal("100.10")), (" -0.5 ", Decimal("-0.5")), ("+3", Decimal(3)),
    (100, Decimal(100)), (0.1, Decimal("0.1")), (100.1, Decimal("100.1")),
    (1e-7, Decimal("1E-7")), ("1e3", Decimal(1000)), (".5", Decimal("0.5")),
    ("5.", Decimal(5)), (Decimal("2.50"), Decimal("2.50")),
])
def test_parse_decimal_is_exact(value: object, exact: Decimal) -> None:
    d = parse_decimal(value)
    assert d == exact and type(d) is Decimal


@pytest.mark.parametrize("bad", [
    "", "abc", "1,5", "1.2.3", "NaN", "nan", "Infinity", "-inf", "sNaN",
    float("inf"), float("nan"), True, False, None, [1], {"a": 1},
    "١٠٠",       # Arabic-Indic digits: Decimal() takes them, a price file must not
    "1_000",     # Decimal() takes underscores; prices are plain numerals
    "0x10",
])
def test_parse_decimal_refuses(bad: object) -> None:
    with pytest.raises(UnitError):
        parse_decimal(bad)


@pytest.mark.parametrize("value,units", [
    ("100.00", 100 * PRICE_SCALE), ("0.01", 1_000_000), ("0.00000001", 1),
    ("-2.5", -250_000_000), (0, 0), ("1e2", 100 * PRICE_SCALE), (99.95, 9_995_000_000),
    ("12345678901234567890.12345678", 1234567890123456789012345678),
    ("123456789012.00000000", 123456789012 * PRICE_SCALE),
])
def test_to_units_exact(value: object, units: int) -> None:
    assert to_units(value) == units
    assert type(to_units(value)) is int


@pytest.mark.parametrize("bad", [
    "0.000000001",                       # finer than 1e-8
    "100.123456789",
    "123456789012345678901.123456785",   # too many significant digits for the context
    "1e100000000",                       # absurd magnitude must not hang or eat memory
    "1e-100000000",
])
def test_to_units_refuses(bad: str) -> None:
    with pytest.raises(UnitError):
        to_units(bad)


def test_to_units_zero_with_any_exponent() -> None:
    assert to_units("0e100000000") == 0 == to_units("-0.000")


def test_to_units_never_rounds_silently() -> None:
    # 30 significant digits: beyond the default decimal context of 28
    text = "1234567890123456789012.12345678"
    assert to_units(text) == 123456789012345678901212345678
    assert units_to_decimal(to_units(text), 8) == Decimal(text)


@pytest.mark.parametrize("units,places,text", [
    (0, 2, "0.00"), (100 * PRICE_SCALE, 2, "100.00"), (123456789, 2, "1.23456789"),
    (-150_000_000, 2, "-1.50"), (PRICE_SCALE, 0, "1"), (12_000_000, 4, "0.1200"),
    (10**30, 2, "10000000000000000000000.00"),
    (12345678901234567890123456789012, 2, "123456789012345678901234.56789012"),
    (Fraction(1, 3), 2, "0.00"), (Fraction(3, 2), 2, "0.00000002"),
    (Fraction(5, 2), 2, "0.00000002"), (Fraction(301, 3) * PRICE_SCALE, 2, "100.33333333"),
    (Fraction(-1, 2), 2, "0.00"),   # rounds to zero: never "-0.00"
    (Fraction(-1, 3), 2, "0.00"),
    (Fraction(-7, 2), 2, "-0.00000004"),
    (Fraction(10**40 + 1, 3), 2, "33333333333333333333333333333333.33333334"),
])
def test_fmt_units(units: int | Fraction, places: int, text: str) -> None:
    assert fmt_units(units, places) == text
    assert units_to_decimal(units, places) == Decimal(text)


def test_fmt_units_round_trips_every_price() -> None:
    for text in ("0.01", "99.99", "100.00000001", "-42.5", "1000000"):
        assert Decimal(fmt_units(to_units(text))) == Decimal(text)


@pytest.mark.parametrize("step,n", [
    (Decimal("0.01"), 2), (Decimal("0.05"), 2), (Decimal("1"), 0), (Decimal("0.0001"), 4),
    (Decimal("0.10"), 1), (Decimal("5"), 0), (Decimal("1E+1"), 0),
])
def test_decimals_of(step: Decimal, n: int) -> None:
    assert decimals_of(step) == n
