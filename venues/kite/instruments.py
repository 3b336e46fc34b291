"""Kite's instrument master: symbols resolved to tokens, checked against the config."""
from __future__ import annotations

from decimal import Decimal

import attrs
import requests
from kiteconnect import exceptions as kex

from ...kernel.instruments import Instrument
from ...kernel.units import to_units
from ...kernel.venue import VenueError
from ...wire import kite as wire
from .rest import safe


@attrs.frozen
class KiteInstrumentInfo:
    """What the adapter needs from Kite's instrument master for one symbol."""

    symbol: str
    exchange: str
    token: int
    tick_size: Decimal
    lot_size: int
    segment: str
    instrument_type: str

    @property
    def is_option(self) -> bool:
        return self.instrument_type in ("CE", "PE")

    @property
    def tick_units(self) -> int:
        return to_units(self.tick_size)



class Instruments:
    """Instrument lookups of ``KiteVenue``."""

    async def _table(self, exchange: str) -> dict[str, KiteInstrumentInfo]:
        table = self._tables.get(exchange)
        if table is None:
            try:
                rows = await self._rest(self.kite.instruments, exchange)
            except (kex.KiteException, requests.RequestException) as exc:
                raise VenueError(f"cannot load Kite's {exchange} instruments: "
                                 f"{safe(exc)}") from None
            table = {}
            for r in rows:
                info = KiteInstrumentInfo(str(r["tradingsymbol"]), str(r["exchange"]),
                                          int(r["instrument_token"]),
                                          Decimal(repr(float(r["tick_size"]))),
                                          int(r["lot_size"]), str(r["segment"]),
                                          str(r["instrument_type"]))
                table.setdefault(info.symbol, info)
            self._tables[exchange] = table
        return table

    async def _resolve(self, inst: Instrument) -> KiteInstrumentInfo:
        info = self._info.get(inst.symbol)
        if info is not None:
            return info
        exchange, forced = wire.kite_exchange(inst.exchange)
        table = await self._table(exchange)
        info = table.get(inst.symbol)
        if info is None or (forced == "INDICES") != (info.segment == "INDICES"):
            raise VenueError(f"{inst.symbol} is not listed on Kite's {exchange}")
        if info.segment != "INDICES":
            if info.lot_size != inst.lot_size:
                raise VenueError(f"{inst.symbol}: lot_size {inst.lot_size} in the config, "
                                 f"{info.lot_size} at Kite")
            if info.tick_size != inst.tick_size:
                raise VenueError(f"{inst.symbol}: tick_size {inst.tick_size} in the config, "
                                 f"{info.tick_size} at Kite")
        self._info[inst.symbol] = info
        return info

    async def instrument(self, symbol: str) -> Instrument:
        """A symbol the config does not list (news discovery): NSE first, then NFO."""
        for exchange in ("NSE", "NFO", "BSE", "BFO"):
            info = (await self._table(exchange)).get(symbol)
            if info is not None and info.segment != "INDICES":
                inst = Instrument(symbol, info.tick_size, info.lot_size, "INR", exchange)
                self.instruments[symbol] = inst
                self._info[symbol] = info
                return inst
        raise VenueError(f"no instrument {symbol!r} at Kite (NSE, NFO, BSE, BFO)")
