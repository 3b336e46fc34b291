"""The gateways' input bounds, one function at a time (no sockets).

The wire parsers refuse, before any conversion, the numbers that used to stall or
kill a gateway; the Kite form readers accept only ASCII decimals; the problem log
prints a bounded number of lines however often a client repeats its mistake.
"""
from __future__ import annotations

import logging
from decimal import Decimal

import pytest
import trio
import trio.testing

from triotrade.gateways.kite_instruments import build_master
from triotrade.gateways.kite_rest import KiteError, form_int, form_price
from triotrade.gateways.problems import ProblemLog
from triotrade.kernel.instruments import Instrument
from triotrade.wire import kite as kite_wire
from triotrade.wire import tws as P


@pytest.mark.parametrize("text", ["1e1000000", "9" * 41, "1e19", "-1e19", "NaN", "inf",
                                  "1.5", "١٢", "²", "x"])
def test_tws_integers_are_bounded_before_conversion(text: str) -> None:
    with pytest.raises(P.ProtocolError):
        P.parse_int(text)


@pytest.mark.parametrize("text, value", [("0", 0), ("", 0), ("42", 42), ("1e3", 1000),
                                         ("9223372036854775807", 2 ** 63 - 1)])
def test_tws_integers_in_range_still_parse(text: str, value: int) -> None:
    assert P.parse_int(text) == value


def test_tws_prices_and_quantities_are_bounded() -> None:
    for text in ("1e1000000", "NaN", "Infinity", "1" * 41):
        with pytest.raises(P.ProtocolError):
            P.parse_price(text)
    assert P.parse_price("1e20") is None  # an 'unset' double spelled another way
    assert P.parse_price("100.25") == 10_025_000_000
    # quantities parse as written; the broker rejects them with 201 (tests/integration)
    assert P.parse_quantity("Infinite") == Decimal("Infinity")
    assert P.parse_quantity("1e999") == Decimal("1e999")
    for text in ("1e99999", "abc", "1" * 41):
        with pytest.raises(P.ProtocolError):
            P.parse_quantity(text)


@pytest.mark.parametrize("text", ["1e400", "1e5000", "٥", "²", "Infinity", "NaN", "1.5",
                                  "9" * 25, "0x10", "1_0"])
def test_kite_form_integers_are_ascii_and_bounded(text: str) -> None:
    with pytest.raises(KiteError) as refused:
        form_int(text, "quantity")
    assert refused.value.error_type == "InputException" and len(refused.value.message) < 120


def test_kite_form_numbers_that_are_fine() -> None:
    assert form_int("75", "quantity") == 75 and form_int("10.0", "quantity") == 10
    inst = build_master([Instrument("INFY", tick_size=Decimal("0.05"), currency="INR")])[0]
    assert form_price("1500.05", "price", inst) == 150_005_000_000
    for text in ("1" * 5000, "1e3", "١٥٠٠", "NaN"):
        with pytest.raises(KiteError):
            form_price(text, "price", inst)


def test_ticker_text_that_nests_too_deep_is_not_json() -> None:
    assert kite_wire.parse_text("[" * 100_000) is None
    assert kite_wire.parse_text('{"a": "subscribe", "v": [1]}') == {"a": "subscribe", "v": [1]}


def test_the_problem_log_prints_a_bounded_number_of_lines(
        caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("triotrade.gateway.test")

    async def main() -> None:
        problems = ProblemLog(logger, burst=5, window_s=10.0)
        for i in range(1000):
            problems.problem("127.0.0.1:1", f"mistake {i}")
        assert problems.total == 1000 and problems.suppressed == 995
        await trio.sleep(11)  # the next window: one line, saying how many were held back
        problems.problem("127.0.0.1:1", "again")

    with caplog.at_level(logging.WARNING, logger="triotrade.gateway.test"):
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 6 and "995 similar lines suppressed" in lines[-1]
    assert not any(r.exc_info for r in caplog.records)
