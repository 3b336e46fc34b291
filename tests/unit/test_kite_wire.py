"""Kite's ticker wire format: our encoder against Zerodha's own parser, and back.

``KiteTicker._parse_binary`` is the reference: whatever the gateway encodes must read
back through it with the same numbers, and our decoder (used by the live adapter)
must agree with it packet for packet.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from kiteconnect import KiteTicker

from triotrade.kernel.units import to_units
from triotrade.gateways.kite_instruments import build_master, describe, instruments_csv
from triotrade.kernel.instruments import Instrument
from triotrade.wire import kite as wire

NFO = wire.make_token(518767, wire.SEGMENTS["NFO"])
CDS = wire.make_token(1234, wire.SEGMENTS["CDS"])
INDEX = wire.make_token(1001, wire.SEGMENTS["INDICES"])


def reference() -> KiteTicker:
    return KiteTicker("key", "token")  # parsing only: never connects


def full_packet(token: int) -> wire.TickPacket:
    p = wire.TickPacket(token, wire.MODE_FULL, last=12005, last_qty=75, avg_price=12001,
                        volume=1500, buy_qty=750, sell_qty=600, open=12000, high=12100,
                        low=11900, close=11800, last_trade_time=1_763_600_000, oi=10,
                        oi_day_high=12, oi_day_low=8, exchange_ts=1_763_600_001)
    p.buy[0] = wire.DepthLevel(750, 12000, 3)
    p.buy[1] = wire.DepthLevel(150, 11995, 1)
    p.sell[0] = wire.DepthLevel(600, 12010, 2)
    return p


def test_full_packet_reads_back_through_kiteticker() -> None:
    msg = wire.encode_message([wire.encode_packet(full_packet(NFO))])
    (tick,) = reference()._parse_binary(msg)
    assert tick["mode"] == "full" and tick["instrument_token"] == NFO and tick["tradable"]
    assert tick["last_price"] == 120.05 and tick["last_traded_quantity"] == 75
    assert tick["average_traded_price"] == 120.01 and tick["volume_traded"] == 1500
    assert (tick["total_buy_quantity"], tick["total_sell_quantity"]) == (750, 600)
    assert tick["ohlc"] == {"open": 120.0, "high": 121.0, "low": 119.0, "close": 118.0}
    assert (tick["oi"], tick["oi_day_high"], tick["oi_day_low"]) == (10, 12, 8)
    depth = tick["depth"]
    assert len(depth["buy"]) == len(depth["sell"]) == 5
    assert depth["buy"][0] == {"quantity": 750, "price": 120.0, "orders": 3}
    assert depth["buy"][1] == {"quantity": 150, "price": 119.95, "orders": 1}
    assert depth["sell"][0] == {"quantity": 600, "price": 120.1, "orders": 2}
    assert depth["sell"][4] == {"quantity": 0, "price": 0.0, "orders": 0}


@pytest.mark.parametrize("mode,length", [("ltp", 8), ("quote", 44), ("full", 184)])
def test_modes_have_kites_lengths(mode: str, length: int) -> None:
    pk = wire.encode_packet(full_packet(NFO), mode)
    assert len(pk) == length
    (tick,) = reference()._parse_binary(wire.encode_message([pk]))
    assert tick["mode"] == mode and tick["last_price"] == 120.05
    ours = wire.decode_packet(pk)
    assert ours.mode == mode and ours.last == 12005 and ours.token == NFO


@pytest.mark.parametrize("mode,length", [("quote", 28), ("full", 32)])
def test_index_packets(mode: str, length: int) -> None:
    p = wire.TickPacket(INDEX, wire.MODE_FULL, last=2415050, open=2400000, high=2420000,
                        low=2390000, close=2400000, change=15050, exchange_ts=1_763_600_001)
    pk = wire.encode_packet(p, mode)
    assert len(pk) == length
    (tick,) = reference()._parse_binary(wire.encode_message([pk]))
    assert tick["tradable"] is False and tick["mode"] == mode
    assert tick["last_price"] == 24150.5
    assert tick["ohlc"] == {"high": 24200.0, "low": 23900.0, "open": 24000.0, "close": 24000.0}
    back = wire.decode_packet(pk)
    assert (back.last, back.high, back.low, back.open, back.close, back.change) == (
        2415050, 2420000, 2390000, 2400000, 2400000, 15050)


def test_negative_index_change_round_trips() -> None:
    p = wire.TickPacket(INDEX, last=2390000, close=2400000, change=-10000)
    assert wire.decode_packet(wire.encode_packet(p, "quote")).change == -10000


def test_several_packets_in_one_message_and_heartbeats() -> None:
    msg = wire.encode_message([wire.encode_packet(full_packet(NFO)),
                               wire.encode_packet(full_packet(CDS), "ltp")])
    ticks = reference()._parse_binary(msg)
    assert [t["instrument_token"] for t in ticks] == [NFO, CDS]
    assert [p.token for p in wire.decode_message(msg)] == [NFO, CDS]
    assert wire.split_message(wire.HEARTBEAT) == []
    assert reference()._parse_binary(wire.HEARTBEAT) == []


def test_truncated_message_is_refused() -> None:
    msg = wire.encode_message([wire.encode_packet(full_packet(NFO))])
    with pytest.raises(wire.WireError):
        wire.split_message(msg[:-3])
    with pytest.raises(wire.WireError):
        wire.decode_packet(b"\x00" * 13)


def test_prices_are_exact_per_segment() -> None:
    # paise for NSE/NFO, 1e-7 rupee for CDS: every step is an integer number of units
    assert wire.wire_to_units(12005, wire.SEGMENTS["NFO"]) == to_units("120.05")
    assert wire.units_to_wire(to_units("83.2525"), wire.SEGMENTS["CDS"]) == 832525000
    (tick,) = reference()._parse_binary(wire.encode_message(
        [wire.encode_packet(wire.TickPacket(CDS, last=832525000), "ltp")]))
    assert Decimal(repr(tick["last_price"])) == Decimal("83.2525")
    with pytest.raises(wire.WireError):
        wire.units_to_wire(to_units("120.001"), wire.SEGMENTS["NFO"])


def test_tokens_carry_the_segment() -> None:
    assert wire.segment_of(NFO) == 2 and NFO >> 8 == 518767
    assert wire.kite_exchange("NFO") == ("NFO", None)
    assert wire.kite_exchange("SMART") == ("NSE", None)
    assert wire.kite_exchange("INDICES") == ("NSE", "INDICES")


def test_symbols_parse_like_kites_instrument_master() -> None:
    assert describe("NIFTY25N2024000CE", "NFO") == ("NIFTY", "2025-11-20", Decimal(24000), "CE",
                                                     "NFO-OPT")
    assert describe("BANKNIFTY25NOV52000PE", "NFO")[1:] == ("2025-11-25", Decimal(52000), "PE",
                                                            "NFO-OPT")
    assert describe("NIFTY25NOVFUT", "NFO")[3:] == ("FUT", "NFO-FUT")
    assert describe("INFY", "NSE") == ("INFY", "", Decimal(0), "EQ", "NSE")


def test_tokens_are_stable_and_csv_parses_with_kiteconnect() -> None:
    from kiteconnect import KiteConnect

    insts = [Instrument("NIFTY25N2024000CE", Decimal("0.05"), 75, "INR", "NFO"),
             Instrument("INFY", Decimal("0.05"), 1, "INR", "NSE"),
             Instrument("NIFTY 50", Decimal("0.05"), 1, "INR", "INDICES")]
    master = build_master(insts)
    assert [m.token for m in master] == [m.token for m in build_master(insts)]
    rows = KiteConnect("k")._parse_instruments(instruments_csv(master, {0: "120.0"}).encode())
    by = {r["tradingsymbol"]: r for r in rows}
    opt = by["NIFTY25N2024000CE"]
    assert opt["instrument_token"] == master[0].token and opt["lot_size"] == 75
    assert opt["segment"] == "NFO-OPT" and opt["strike"] == 24000.0 and opt["last_price"] == 120.0
    assert str(opt["expiry"]) == "2025-11-20"
    assert by["NIFTY 50"]["segment"] == "INDICES" and by["NIFTY 50"]["exchange"] == "NSE"
    assert wire.segment_of(by["NIFTY 50"]["instrument_token"]) == wire.SEGMENT_INDICES
