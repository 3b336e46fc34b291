"""Shared benchmark workloads: the 1 M-tick MA-cross-with-stops scenario and its plain loop.

The plain-Python baseline runs the *same strategy on the same ticks* (same seeded
path, same MA 20/50 cross, same 100-unit size, same 2 % stop) with none of the
kernel's machinery: it is the speed of light for this workload in Python.
"""
from __future__ import annotations

from typing import Any

from triotrade.sim import scenario as scenario_mod
from triotrade.sim.determinism import derive_seed
from triotrade.sim.market import generate
from triotrade.sim.scenario import market_path_specs
from triotrade.sim.scenario_limits import Limits
from triotrade.strategies.ma_cross import MovingAverageCross


def ma_cross_scenario(ticks: int = 1_000_000, tickers: int = 1, seed: int = 7,
                      every_ms: int = 10) -> scenario_mod.Scenario:
    """``ticks`` total ticks spread over ``tickers`` instruments, with gaps."""
    per = ticks // tickers
    duration_s = per * every_ms // 1000
    symbols = [f"S{i:03d}" for i in range(tickers)]
    gaps = [{"t": f"{t}s", "pct": -3 if (t // 997) % 2 else 3}
            for t in range(997, duration_s, 997)]
    data: dict[str, Any] = {
        "version": 1,
        "name": f"bench-ma-cross-{ticks}-{tickers}",
        "seed": seed,
        "duration": f"{duration_s}s",
        "instruments": [{"symbol": s, "tick_size": "0.01"} for s in symbols],
        "config": {
            "sizing": {"unit_position_size": 100, "max_position_size": 100},
            "exits": {"stop_loss": "2%"},
            "entries": {"staggered_order_delay": "1s"},
            "monitor": {"stale_after": "1h"},
            "strategies": {s: {"kind": "ma_cross", "fast": 20, "slow": 50} for s in symbols},
            "risk": {"max_order_rate": 1000},
        },
        "market": {s: {"spread": "0.02", "depth": 1_000_000,
                       "ticks": [{"t": "0s", "last": "100.00"}],
                       "walk": {"every": f"{every_ms}ms", "vol_bps": 4},
                       "gaps": gaps} for s in symbols},
    }
    # the 10 M-tick run generates a few ticks beyond 10 M (the opening tick, the gaps'
    # own ticks): above the default limit a user raises with --max-ticks, as here
    limits = Limits(max_ticks=max(Limits().max_ticks, 2 * ticks))
    return scenario_mod.from_dict(data, "<bench>", limits=limits)


def path_ticks(scn: scenario_mod.Scenario, seed: int) -> list[tuple[int, ...]]:
    specs = market_path_specs(scn)
    out: list[tuple[int, ...]] = []
    for i, (sym, spec) in enumerate(specs.items()):
        out.extend(generate(i, spec, scn.duration, derive_seed(seed, f"market:{sym}")))
    out.sort()
    return out


def plain_loop(ticks: list[tuple[int, ...]], n_symbols: int, stop_pct: int = 2) -> int:
    """The same strategy as a bare loop: MA cross entries, 2 % stop, flat on death cross."""
    strategies = [MovingAverageCross(20, 50) for _ in range(n_symbols)]
    pos = [0] * n_symbols
    entry = [0] * n_symbols
    trades = 0
    for t, idx, bid, ask, last, _bs, _as in ticks:
        side = strategies[idx].on_price(t, last)
        p = pos[idx]
        if p:
            if bid * 100 <= entry[idx] * (100 - stop_pct) or side == "EXIT":
                pos[idx] = 0
                trades += 1
        elif side == "BUY":
            pos[idx] = 100
            entry[idx] = ask
    return trades
