"""A late ib_async client: subscribes to SYMBOL and prints each last price it sees.

    python tests/support/ib_late_gap.py HOST PORT SYMBOL GAP_PRICE [PATIENCE_S]

Plain ib_async, public API only. Prints ``last PRICE`` for every new last price and
exits 0 once it has seen a price at or below GAP_PRICE (the scenario's gap), 1 after
PATIENCE_S (default 60) seconds without one.
"""
from __future__ import annotations

import asyncio
import math
import sys
import time

from ib_async import IB, Stock


async def main(host: str, port: int, symbol: str, gap: float, patience_s: float) -> int:
    ib = IB()
    await ib.connectAsync(host, port, clientId=42, timeout=30)
    [contract] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    ticker = ib.reqMktData(contract)
    seen = math.nan
    deadline = time.monotonic() + patience_s
    try:
        while time.monotonic() < deadline:
            last = ticker.last
            if last == last and last != seen:  # not NaN, and new
                seen = last
                print(f"last {last}", flush=True)
                if last <= gap:
                    return 0
            await asyncio.sleep(0.01)
        print("FAILED: no gap seen", flush=True)
        return 1
    finally:
        ib.disconnect()


if __name__ == "__main__":
    host, port, symbol, gap = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    patience = float(sys.argv[5]) if len(sys.argv) > 5 else 60.0
    sys.exit(asyncio.run(main(host, port, symbol, gap, patience)))
