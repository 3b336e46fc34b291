"""Side by side with a peer: triotrade, NautilusTrader's BacktestEngine and a plain loop.

A speed figure alone says little; next to another trading engine running the *same
workload on the same ticks in the same process run* it says how far the kernel is from
the field (NautilusTrader, Cython and Rust underneath) and from the speed of light (a
bare Python loop of the strategy). All three columns run:

* the same ticks: one trade tick every 10 ms, generated here from ``--seed`` with
  integer arithmetic only (a geometric random walk whose steps come from the
  simulator's table of normal quantiles, plus jumps of 3-8 % roughly every 5 000
  ticks), so every machine and every run sees identical prices; spread 0;
* the same signals: the MA 20/50 cross on trade prices, computed by the very same
  ``MovingAverageCross`` object type in all three (fed integer prices), so every
  difference in the trade count comes from how the exits fill, not from the signal;
* the same trade: 100 units, golden cross -> market entry long, death cross -> exit
  at market, a stop 2 % below the entry price.

How each side holds the stop:

* plain loop: exits on the first tick at or below ``entry * 0.98``, at that tick's price.
* triotrade: the stop is a kernel exit rule, checked by the gap detector on a jump tick
  itself and by the position monitor every ``check_interval``, set here to the tick
  interval. The monitor's timer fires just before the next tick (events before ticks at
  equal times), so it sees the crossing tick's quote one tick later in virtual time,
  and its market exit fills at that same quote: the plain loop's price. Entries are
  marketable limits at the ask (spread 0 and no latency: the tick's price), with no
  stagger. The ticks are replayed into the deterministic simulator as generated.
* NautilusTrader: a reduce-only stop-market order rests on its matching engine at
  ``floor(entry * 0.98)`` on the 0.01 grid, which triggers on exactly the prices the
  plain loop's rule does; a death cross cancels it and exits at market. Its matching
  engine (1.221) fills a stop that a jump went through at the *trigger* price, not at the
  traded price after the jump (optimistic on gaps), so its realized P&L is higher:
  exactly the plain loop's with each stop filled at its trigger, which the script
  computes to show it.

So the counts of trades, stop exits and signal exits agree exactly, and so does the
realized P&L of triotrade and the plain loop (the script says so under its table).
They would part with a slower monitor: ``--check-interval-ms 1000``, the kernel's
default, sees a walk-step crossing up to a second late, so a death cross can come
first (on the default data set every stop is a jump, which the gap detector catches
on its tick, and the counts still agree); or with a spread, or with latency. The
realized P&L of the closed trades (before fees) is printed to show the fills happened
at the same prices, not only that the trades were as many. A position still open at
the end stays open everywhere.

Trades are counted the same way everywhere: positions opened.

    python bench/peers.py [--ticks 200000] [--seed 7]

NautilusTrader is an optional extra (``pip install -e '.[peers]'``); without it that
column prints a ``skipped`` line and the other two still run.
"""
from __future__ import annotations

import argparse
import functools
import enum
import gc
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable

import attrs

from triotrade.sim import runner
from triotrade.sim import scenario as scenario_mod
from triotrade.sim.market import Z_TABLE, _Z_SCALE
from triotrade.strategies.base import BUY, EXIT
from triotrade.strategies.ma_cross import MovingAverageCross

# run_all.py --quick points this elsewhere, so smoke runs never overwrite the committed results
RESULTS = Path(os.environ.get("TRIOTRADE_BENCH_RESULTS")
               or Path(__file__).resolve().parent / "results")

EVERY_NS = 10_000_000  # one trade tick every 10 ms
START_CENTS = 10_000  # 100.00
VOL_BPS = 4  # standard deviation of one walk step, in basis points of the price
JUMP_EVERY = 5_000  # ticks between jumps, on average (uniform in [half, 1.5x])
JUMP_BPS = (300, 800)  # jump size, 3-8 %, either direction
FAST, SLOW = 20, 50
QTY = 100
STOP_PCT = 2
DEPTH = 1_000_000  # size on every tick: a 100-unit order always fills whole
UNITS_PER_CENT = 10**6  # triotrade prices are integer 1e-8 units
# NautilusTrader's clock starts at the first tick's time and crashes on time 0: its
# ticks carry a real date (2024-01-02 14:30 UTC); triotrade's virtual time starts at 0
NAUTILUS_T0_NS = 1_704_205_800 * 10**9
SKIP_HINT = "skipped: pip install -e '.[peers]'"


class Phase(enum.Enum):
    """Where the NautilusTrader strategy's one position is: orders are in flight between."""

    FLAT = "flat"
    ENTERING = "entering"
    LONG = "long"
    EXITING = "exiting"


class ExitReason(enum.Enum):
    NONE = "none"
    STOP = "stop"
    SIGNAL = "signal"


@attrs.frozen
class Outcome:
    """One system's run: how long the tick loop took and what it traded."""

    system: str
    ticks: int
    seconds: float
    trades: int  # positions opened
    stop_exits: int
    signal_exits: int
    realized_cents: int  # closed trades only, no fees
    # the plain loop only: the same with every stop filled at its trigger price
    realized_at_trigger_cents: int | None = None
    digest: str = ""  # triotrade only: the journal's digest (repeats must match it)
    violations: int = 0  # triotrade with the checker: invariant violations

    @property
    def ticks_per_s(self) -> int:
        return round(self.ticks / self.seconds) if self.seconds > 0 else 0

    def row(self) -> dict[str, Any]:
        out = {"system": self.system, "ticks": self.ticks, "seconds": round(self.seconds, 3),
               "ticks_per_s": self.ticks_per_s, "trades": self.trades,
               "stop_exits": self.stop_exits, "signal_exits": self.signal_exits,
               "realized_cents": self.realized_cents}
        if self.realized_at_trigger_cents is not None:
            out["realized_at_trigger_cents"] = self.realized_at_trigger_cents
        return out


# ------------------------------------------------------------------ the dataset

def make_prices(n: int, seed: int) -> list[int]:
    """``n`` trade prices in integer cents: a geometric walk with seeded jumps.

    Integer-only, like the simulator's own paths: a step draws 12 bits and looks up
    the fixed normal-quantile table, so the list is identical on every platform."""
    walk = random.Random(f"peers-walk:{seed}")
    jumps = random.Random(f"peers-jumps:{seed}")
    getbits = walk.getrandbits
    table = Z_TABLE
    den = 10_000 * _Z_SCALE
    half = den // 2
    lo, hi = JUMP_EVERY // 2, JUMP_EVERY * 3 // 2
    next_jump = jumps.randint(lo, hi)
    level = START_CENTS
    out = [level]
    for i in range(1, n):
        if i == next_jump:
            bps = jumps.randint(*JUMP_BPS)
            sign = 1 if jumps.getrandbits(1) else -1
            level = (level * (10_000 + sign * bps) + 5_000) // 10_000
            next_jump = i + jumps.randint(lo, hi)
        else:
            level += (level * VOL_BPS * table[getbits(12)] + half) // den
        if level < 1:
            level = 1
        out.append(level)
    return out


def stop_trigger(entry: int) -> int:
    """The highest price (same unit as ``entry``) that is at or below ``entry * 0.98``."""
    return entry * (100 - STOP_PCT) // 100


# ------------------------------------------------------------------ plain loop

def run_plain(prices: list[int]) -> Outcome:
    """The strategy as a bare loop over the prices: the speed of light in Python."""
    strat = MovingAverageCross(FAST, SLOW)
    on_price = strat.on_price
    long = False
    stop = entry = 0
    trades = stops = signals = pnl = slip = 0
    t0 = time.perf_counter()
    t = 0
    for price in prices:
        side = on_price(t, price)
        t += EVERY_NS
        if long:
            if price <= stop:
                long = False
                stops += 1
                pnl += price - entry
                slip += stop - price  # what a fill at the trigger would have made more
            elif side == EXIT:
                long = False
                signals += 1
                pnl += price - entry
        elif side == BUY:
            long = True
            entry = price
            stop = stop_trigger(price)
            trades += 1
    seconds = time.perf_counter() - t0
    return Outcome("plain Python loop", len(prices), seconds, trades, stops, signals, pnl * QTY,
                   (pnl + slip) * QTY)


# ------------------------------------------------------------------ triotrade

def triotrade_scenario(n: int, seed: int, check_interval_ms: int = EVERY_NS // 1_000_000
                       ) -> scenario_mod.Scenario:
    """The kernel's configuration of the workload (the market section is a formality:
    the run replays the prepared ticks instead of generating a path)."""
    data: dict[str, Any] = {
        "version": 1,
        "name": f"bench-peers-{n}",
        "seed": seed,
        "duration": f"{n * EVERY_NS // 1_000_000}ms",
        "instruments": [{"symbol": "S000", "tick_size": "0.01"}],
        "config": {
            "sizing": {"unit_position_size": QTY, "max_position_size": QTY},
            "exits": {"stop_loss": f"{STOP_PCT}%"},
            # no stagger: every golden cross enters at once, as on the other two sides
            "entries": {"staggered_order_delay": "0s"},
            # by default the stop rule is looked at on every tick, like a resting stop
            # order (the kernel's default, 1 s, plus the gap detector's check on a jump
            # tick, trades the same on this data set: --check-interval-ms 1000)
            "monitor": {"check_interval": f"{check_interval_ms}ms", "stale_after": "1h"},
            "strategies": {"S000": {"kind": "ma_cross", "fast": FAST, "slow": SLOW}},
            "risk": {"max_order_rate": 1000},
        },
        "market": {"S000": {"spread": "0", "depth": DEPTH,
                            "walk": {"every": f"{EVERY_NS // 1_000_000}ms", "vol_bps": VOL_BPS,
                                     "start": f"{START_CENTS // 100}.{START_CENTS % 100:02d}"}}},
    }
    return scenario_mod.from_dict(data, "<bench peers>")


def triotrade_ticks(prices: list[int]) -> list[tuple[int, ...]]:
    """The simulator's tick tuples for the prices: (t, idx, bid, ask, last, sizes), spread 0."""
    out = []
    for i, cents in enumerate(prices):
        u = cents * UNITS_PER_CENT
        out.append((i * EVERY_NS, 0, u, u, u, DEPTH, DEPTH))
    return out


def run_triotrade(scn: scenario_mod.Scenario, ticks: list[tuple[int, ...]],
                  check_invariants: bool) -> Outcome:
    """One full-kernel run over the prepared ticks."""
    t0 = time.perf_counter()
    result = runner.run(scn, keep_events=False, ticks=ticks, check_invariants=check_invariants)
    seconds = time.perf_counter() - t0
    row = result.summary["S000"]
    exits = {k: int(v) for k, v in row["exits"].items()}
    name = "triotrade, full kernel + invariant checker" if check_invariants else \
        "triotrade, full kernel, no checker"
    realized = round(result.realized["S000"] / UNITS_PER_CENT)
    return Outcome(name, result.ticks, seconds, int(row["trades"]), exits.get("stop_loss", 0),
                   exits.get("signal", 0), realized, digest=result.digest,
                   violations=len(result.violations))


# ------------------------------------------------------------------ NautilusTrader

def nautilus_version() -> str | None:
    try:
        import nautilus_trader
    except ImportError:
        return None
    return str(nautilus_trader.__version__)


def run_nautilus(prices: list[int], repeat: int = 1) -> Outcome:
    """The workload on NautilusTrader's BacktestEngine: trade ticks, a simulated venue
    whose matching engine executes on trades, market orders and a resting stop. The
    fastest of ``repeat`` runs, each on a fresh engine over the same tick objects."""
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig, StrategyConfig
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.data import TradeTick
    from nautilus_trader.model.enums import AccountType, AggressorSide, OmsType, OrderSide
    from nautilus_trader.model.identifiers import InstrumentId, TradeId, TraderId, Venue
    from nautilus_trader.model.objects import Money, Price, Quantity
    from nautilus_trader.test_kit.providers import TestInstrumentProvider
    from nautilus_trader.trading.strategy import Strategy

    instrument = TestInstrumentProvider.equity(symbol="AAPL", venue="XNAS")
    iid = instrument.id
    cents_raw = Price.from_str("0.01").raw  # the raw fixed-point value of one cent
    units_per_raw = cents_raw // UNITS_PER_CENT  # raw -> triotrade's 1e-8 units

    def px(cents: int) -> Price:
        return Price.from_str(f"{cents // 100}.{cents % 100:02d}")

    class MACrossStopConfig(StrategyConfig, frozen=True):
        instrument_id: InstrumentId

    class MACrossStop(Strategy):  # type: ignore[misc]
        """MA 20/50 cross, market in, reduce-only stop-market at -2 %, market out."""

        def __init__(self, config: MACrossStopConfig) -> None:
            super().__init__(config)
            self.iid = config.instrument_id
            self.ma = MovingAverageCross(FAST, SLOW)
            self.qty = Quantity.from_int(QTY)
            self.phase = Phase.FLAT
            self.entry_id: Any = None
            self.stop_order: Any = None
            self.exit_reason = ExitReason.NONE
            self.trades = self.stop_exits = self.signal_exits = 0
            self.entry_cents = self.realized_cents = 0

        def on_start(self) -> None:
            self.subscribe_trade_ticks(self.iid)

        def on_trade_tick(self, tick: TradeTick) -> None:
            side = self.ma.on_price(tick.ts_event, tick.price.raw // units_per_raw)
            if side == BUY and self.phase is Phase.FLAT:
                order = self.order_factory.market(self.iid, OrderSide.BUY, self.qty)
                self.entry_id = order.client_order_id
                self.phase = Phase.ENTERING
                self.submit_order(order)
            elif side == EXIT and self.phase is Phase.LONG:
                self._exit_at_market(ExitReason.SIGNAL)

        def _exit_at_market(self, reason: ExitReason) -> None:
            if self.stop_order is not None and self.stop_order.is_open:
                self.cancel_order(self.stop_order)
            self.phase = Phase.EXITING
            self.exit_reason = reason
            self.submit_order(self.order_factory.market(self.iid, OrderSide.SELL, self.qty,
                                                        reduce_only=True))

        def on_order_filled(self, event: Any) -> None:
            if event.client_order_id == self.entry_id:
                self.trades += 1
                self.phase = Phase.LONG
                entry = self.entry_cents = event.last_px.raw // cents_raw
                self.stop_order = self.order_factory.stop_market(
                    self.iid, OrderSide.SELL, self.qty, trigger_price=px(stop_trigger(entry)),
                    reduce_only=True)
                self.submit_order(self.stop_order)
                return
            stop = self.stop_order
            stopped = stop is not None and event.client_order_id == stop.client_order_id
            self.realized_cents += (event.last_px.raw // cents_raw - self.entry_cents) * QTY
            if stopped or self.exit_reason is ExitReason.STOP:
                self.stop_exits += 1
            else:
                self.signal_exits += 1
            self.phase = Phase.FLAT
            self.exit_reason = ExitReason.NONE

        def on_order_rejected(self, event: Any) -> None:
            # a stop already in the market on arrival (a jump between the entry fill and
            # the stop) is refused by the venue: the stop's meaning is to get out now
            stop = self.stop_order
            if stop is not None and event.client_order_id == stop.client_order_id \
                    and self.phase is Phase.LONG:
                self._exit_at_market(ExitReason.STOP)

    size = Quantity.from_int(DEPTH)
    cache: dict[int, Price] = {}
    data = []
    for i, cents in enumerate(prices):
        p = cache.get(cents)
        if p is None:
            p = cache[cents] = px(cents)
        ts = NAUTILUS_T0_NS + i * EVERY_NS
        data.append(TradeTick(iid, p, size, AggressorSide.NO_AGGRESSOR, TradeId(str(i + 1)),
                              ts, ts))

    def once() -> Outcome:
        engine = BacktestEngine(config=BacktestEngineConfig(
            trader_id=TraderId("BENCH-001"),
            logging=LoggingConfig(log_level="ERROR"),
            run_analysis=False,
        ))
        engine.add_venue(venue=Venue("XNAS"), oms_type=OmsType.NETTING,
                         account_type=AccountType.CASH, base_currency=USD,
                         starting_balances=[Money(100_000_000, USD)], trade_execution=True)
        engine.add_instrument(instrument)
        engine.add_data(data)
        strategy = MACrossStop(MACrossStopConfig(instrument_id=iid))
        engine.add_strategy(strategy)
        # the tick list frozen out of the cyclic GC, as the simulator's runner does for
        # its prepared path: no full collection walks it during the timed run
        gc.collect()
        gc.freeze()
        try:
            t0 = time.perf_counter()
            engine.run()
            seconds = time.perf_counter() - t0
        finally:
            gc.unfreeze()
        engine.dispose()
        return Outcome(f"NautilusTrader {nautilus_version()} BacktestEngine", len(prices),
                       seconds, strategy.trades, strategy.stop_exits, strategy.signal_exits,
                       strategy.realized_cents)

    return best_of(repeat, once)


# ------------------------------------------------------------------ the run

def best_of(repeat: int, run: Callable[[], Outcome]) -> Outcome:
    """The fastest of ``repeat`` runs (the machine is shared: the minimum is the figure
    least disturbed by others); every run must have traded exactly alike."""
    runs = [run() for _ in range(repeat)]
    first = attrs.evolve(runs[0], seconds=0.0)
    for other in runs[1:]:
        if attrs.evolve(other, seconds=0.0) != first:
            raise RuntimeError(f"{first.system}: repeated runs differ: {first} != {other}")
    return min(runs, key=lambda o: o.seconds)



def measure(n: int, seed: int, with_nautilus: bool = True,
            check_interval_ms: int = EVERY_NS // 1_000_000, repeat: int = 1) -> dict[str, Any]:
    t0 = time.perf_counter()
    prices = make_prices(n, seed)
    gen_s = time.perf_counter() - t0
    plain = best_of(repeat, lambda: run_plain(prices))
    scn = triotrade_scenario(n, seed, check_interval_ms)
    ticks = triotrade_ticks(prices)
    full = best_of(repeat, functools.partial(run_triotrade, scn, ticks, check_invariants=True))
    bare = best_of(repeat, functools.partial(run_triotrade, scn, ticks, check_invariants=False))
    if bare.digest != full.digest and not full.violations:
        raise RuntimeError("the invariant checker changed the run")
    del ticks
    rows = [full.row(), bare.row()]
    version = nautilus_version()
    nautilus: Outcome | None = None
    if version is not None and with_nautilus:
        nautilus = run_nautilus(prices, repeat)
        rows.append(nautilus.row())
    else:
        rows.append({"system": "NautilusTrader BacktestEngine",
                     "skipped": SKIP_HINT if version is None else "skipped: --no-nautilus"})
    rows.append(plain.row())
    ratios: dict[str, float | None] = {
        "full_vs_nautilus": None, "no_checker_vs_nautilus": None,
        "full_vs_plain_loop": round(full.ticks_per_s / plain.ticks_per_s, 4),
        "no_checker_vs_plain_loop": round(bare.ticks_per_s / plain.ticks_per_s, 4),
    }
    if nautilus is not None:
        ratios["full_vs_nautilus"] = round(full.ticks_per_s / nautilus.ticks_per_s, 2)
        ratios["no_checker_vs_nautilus"] = round(bare.ticks_per_s / nautilus.ticks_per_s, 2)
    return {
        "benchmark": "peers",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "ticks": n,
        "seed": seed,
        "tick_interval_ms": EVERY_NS // 1_000_000,
        "triotrade_check_interval_ms": check_interval_ms,
        "repeat": repeat,
        "dataset_generation_ticks_per_s": round(n / gen_s) if gen_s > 0 else 0,
        "nautilus_trader": version,
        "rows": rows,
        "ratios": ratios,
        "triotrade_digest": full.digest,
        "triotrade_violations": full.violations,
    }


def fmt_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def agreement(rows: list[dict[str, Any]]) -> list[str]:
    """Say in words whether the columns traded alike, and name the known fill rule when
    only the P&L differs."""
    ran = [r for r in rows if "skipped" not in r]
    plain = ran[-1]
    counts = {(r["trades"], r["stop_exits"], r["signal_exits"]) for r in ran}
    out = ["trades and exits: the same in every column" if len(counts) == 1 else
           "trades and exits differ between columns (the module docstring says why they can)"]
    differ = [r for r in ran if r["realized_cents"] != plain["realized_cents"]]
    if not differ:
        out.append("realized P&L: the same in every column")
    for r in differ:
        name = r["system"].split(" BacktestEngine")[0].split(",")[0]
        if r["realized_cents"] == plain["realized_at_trigger_cents"]:
            out.append(f"realized P&L: {name} {fmt_cents(r['realized_cents'])} = the plain "
                       f"loop's with each stop filled at its trigger price")
            out.append("  (its rule for a stop a jump went through; the others fill after it)")
        else:
            out.append(f"realized P&L: {name} {fmt_cents(r['realized_cents'])} differs from "
                       f"the plain loop's {fmt_cents(plain['realized_cents'])}")
    return out


def report(out: dict[str, Any]) -> str:
    lines = [f"{out['ticks']:,} trade ticks (seed {out['seed']}, one every "
             f"{out['tick_interval_ms']} ms, spread 0), MA {FAST}/{SLOW} cross, {QTY} units, "
             f"{STOP_PCT} % stop",
             f"{'system':<44} {'ticks/s':>10} {'seconds':>7} {'trades':>6} {'stop':>5} "
             f"{'signal':>6} {'realized':>10}"]
    for r in out["rows"]:
        if "skipped" in r:
            lines.append(f"{r['system']:<44} {r['skipped']}")
            continue
        lines.append(f"{r['system']:<44} {r['ticks_per_s']:>10,} {r['seconds']:>7.2f} "
                     f"{r['trades']:>6} {r['stop_exits']:>5} {r['signal_exits']:>6} "
                     f"{fmt_cents(r['realized_cents']):>10}")
    lines.extend(agreement(out["rows"]))
    ratios = out["ratios"]
    if ratios["full_vs_nautilus"] is not None:
        lines.append(f"triotrade vs NautilusTrader: {ratios['full_vs_nautilus']:.2f}x with the "
                     f"checker, {ratios['no_checker_vs_nautilus']:.2f}x without")
    else:
        skipped = [r["skipped"] for r in out["rows"] if "skipped" in r]
        lines.append(f"triotrade vs NautilusTrader: {skipped[0] if skipped else SKIP_HINT}")
    lines.append(f"triotrade vs the plain loop: {ratios['full_vs_plain_loop']:.4f}x with the "
                 f"checker, {ratios['no_checker_vs_plain_loop']:.4f}x without")
    lines.append(f"invariant violations: {out['triotrade_violations']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticks", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--check-interval-ms", type=int, default=EVERY_NS // 1_000_000,
                    help="triotrade's position-monitor interval (default: every tick)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each system this many times and report the fastest")
    ap.add_argument("--no-nautilus", action="store_true",
                    help="leave the NautilusTrader column out even when it is installed")
    args = ap.parse_args(argv)
    if args.ticks < SLOW + 1:
        ap.error(f"--ticks must be above {SLOW} (the slow average needs that many)")
    if args.check_interval_ms <= 0:
        ap.error("--check-interval-ms must be positive")
    if args.repeat <= 0:
        ap.error("--repeat must be positive")
    out = measure(args.ticks, args.seed, with_nautilus=not args.no_nautilus,
                  check_interval_ms=args.check_interval_ms, repeat=args.repeat)
    print(report(out))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "peers.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
