"""Market paths (sim/market.py): explicit ticks, the seeded walk, gaps, halts, the grid."""
from __future__ import annotations

from fractions import Fraction

from conftest import px, secs
from triotrade.sim import scenario
from triotrade.sim.market import PathSpec, PathTick, WalkSpec, generate, merge_halts

TICK = px("0.01")


def _last(p: str) -> PathTick:
    return PathTick(0, px(p), None, None, None, None)


def _quotes(spec: PathSpec, horizon_s: float, seed: int = 1) -> list[tuple[int, ...]]:
    return list(generate(0, spec, secs(horizon_s), seed))


def test_last_only_tick_splits_even_spread_around_last() -> None:
    spec = PathSpec(TICK, spread=px("0.04"), ticks=(_last("100.00"),))
    assert _quotes(spec, 1) == [(0, 0, px("99.98"), px("100.02"), px("100.00"),
                                 1_000_000, 1_000_000)]


def test_odd_tick_spread_stays_on_the_grid() -> None:
    """spread one tick: no 99.995 / 100.005 half-tick quotes."""
    spec = PathSpec(TICK, spread=px("0.01"), ticks=(_last("100.00"),),
                    walk=WalkSpec(secs(1), Fraction(20)), gaps=((secs(5), Fraction(-3)),))
    qs = _quotes(spec, 10)
    assert qs[0][2:5] == (px("99.99"), px("100.00"), px("100.00"))
    for t, _, bid, ask, last, *_ in qs:
        assert bid % TICK == 0 and ask % TICK == 0 and last % TICK == 0, (t, bid, ask, last)
        assert ask - bid == TICK
        assert bid <= last <= ask


def test_spread_finer_than_tick_rounds_up_to_a_tick() -> None:
    spec = PathSpec(TICK, spread=px("0.005"), ticks=(_last("100.00"),))
    (q,) = _quotes(spec, 1)
    assert (q[2], q[3]) == (px("99.99"), px("100.00"))


def test_walk_after_bid_ask_tick_stays_on_the_grid() -> None:
    spec = PathSpec(TICK, spread=px("0.02"),
                    ticks=(PathTick(0, None, px("99.98"), px("100.01"), 300, 200),),
                    walk=WalkSpec(secs(1), Fraction(10)))
    qs = _quotes(spec, 20)
    assert qs[0][2:] == (px("99.98"), px("100.01"), px("100.00"), 300, 200)
    for q in qs:
        assert all(v % TICK == 0 for v in q[2:5]), q
    assert all(q[3] - q[2] == px("0.02") for q in qs[1:])


def test_bid_only_and_ask_only_ticks_use_spread() -> None:
    spec = PathSpec(TICK, spread=px("0.03"), ticks=(
        PathTick(0, None, px("50.00"), None, None, None),
        PathTick(secs(1), None, None, px("60.00"), None, None)))
    qs = _quotes(spec, 2)
    assert [(q[2], q[3]) for q in qs] == [(px("50.00"), px("50.03")), (px("59.97"), px("60.00"))]


def test_walk_is_seeded() -> None:
    spec = PathSpec(TICK, spread=px("0.02"), walk=WalkSpec(secs(0.1), Fraction(5), start=px("100")))
    a, b, c = _quotes(spec, 60, 1), _quotes(spec, 60, 1), _quotes(spec, 60, 2)
    assert a == b
    assert a != c
    assert len(a) == 601 and a[0][0] == 0 and a[-1][0] == secs(60)
    assert len({q[4] for q in a}) > 5  # it does move


def test_walk_continues_after_last_explicit_tick() -> None:
    spec = PathSpec(TICK, ticks=(_last("100.00"), PathTick(secs(3), px("90.00"), None, None,
                                                            None, None)),
                    walk=WalkSpec(secs(1), Fraction(0)))
    qs = _quotes(spec, 6)
    assert [q[0] for q in qs] == [0, secs(3), secs(4), secs(5), secs(6)]
    assert [q[4] for q in qs] == [px("100.00")] + [px("90.00")] * 4


def test_gap_jumps_the_level_by_pct() -> None:
    spec = PathSpec(TICK, spread=px("0.02"), ticks=(_last("99.50"),),
                    gaps=((secs(120), Fraction(-8)),))
    qs = _quotes(spec, 300)
    assert [(q[0], q[2], q[3], q[4]) for q in qs] == [
        (0, px("99.49"), px("99.51"), px("99.50")),
        (secs(120), px("91.53"), px("91.55"), px("91.54"))]


def test_halt_drops_ticks_and_reopens_with_the_quote_in_force() -> None:
    """A gap inside a halt is not lost on an explicit-ticks path: it shows at the reopen."""
    spec = PathSpec(TICK, spread=px("0.02"),
                    ticks=(_last("100.00"), PathTick(secs(110), px("99.00"), None, None, None,
                                                     None)),
                    gaps=((secs(120), Fraction(-8)),), halts=((secs(100), secs(130)),))
    qs = _quotes(spec, 300)
    assert [(q[0], q[4]) for q in qs] == [(0, px("100.00")), (secs(130), px("91.08"))]


def test_halt_with_walk_no_ticks_inside_and_one_at_reopen() -> None:
    spec = PathSpec(TICK, spread=px("0.02"), ticks=(_last("100.00"),),
                    walk=WalkSpec(secs(0.3), Fraction(5)), halts=((secs(10), secs(20)),))
    qs = _quotes(spec, 30)
    times = [q[0] for q in qs]
    assert not [t for t in times if secs(10) <= t < secs(20)]
    assert secs(20) in times  # the reopen (20s is not a walk step: 0.3s grid)
    assert times == sorted(times)
    unhalted = _quotes(PathSpec(TICK, spread=px("0.02"), ticks=(_last("100.00"),),
                                walk=WalkSpec(secs(0.3), Fraction(5))), 30)
    # the walk moves underneath the halt: after it the path is the unhalted one
    assert [q for q in qs if q[0] > secs(20)] == [q for q in unhalted if q[0] > secs(20)]


def test_halt_with_nothing_inside_adds_no_tick() -> None:
    spec = PathSpec(TICK, ticks=(_last("100.00"),), halts=((secs(10), secs(20)),))
    assert [q[0] for q in _quotes(spec, 30)] == [0]


def test_tick_at_halt_end_is_not_doubled() -> None:
    spec = PathSpec(TICK, ticks=(_last("100.00"), PathTick(secs(15), px("101"), None, None, None, None),
                                 PathTick(secs(20), px("102"), None, None, None, None)),
                    halts=((secs(10), secs(20)),))
    assert [(q[0], q[4]) for q in _quotes(spec, 30)] == [(0, px("100")), (secs(20), px("102"))]


def test_overlapping_halts_merge() -> None:
    assert merge_halts([(20, 40), (0, 10), (5, 25), (50, 60), (60, 70)]) == ((0, 40), (50, 70))
    spec = PathSpec(TICK, ticks=(_last("100.00"), PathTick(secs(12), px("101"), None, None, None, None)),
                    halts=((secs(10), secs(15)), (secs(11), secs(30))))
    assert [(q[0], q[4]) for q in _quotes(spec, 60)] == [(0, px("100")), (secs(30), px("101"))]


def test_scenario_path_specs_merge_overlapping_halts() -> None:
    scn = scenario.loads("""
version: 1
name: halts
duration: 60s
instruments: [{symbol: ACME, tick_size: "0.01"}]
market:
  ACME:
    ticks: [{t: 0s, last: "10.00"}]
    halts: [{t: 10s, for: 10s}, {t: 15s, for: 10s}]
""")
    spec = scenario.market_path_specs(scn)["ACME"]
    assert spec.halts == ((secs(10), secs(25)),)


def test_gap_inside_halt_is_traded_at_the_reopen() -> None:
    """End to end: a long is halted, the price gaps during the halt; at the reopen the
    kernel sees the gap and its stop exits at the reopening price."""
    from decimal import Decimal

    from triotrade.sim import runner

    scn = scenario.loads("""
version: 1
name: halt-gap
seed: 1
duration: 5m
instruments: [{symbol: ACME, tick_size: "0.01"}]
market:
  ACME:
    spread: "0.02"
    ticks: [{t: 0s, last: "100.00"}]
    gaps: [{t: 120s, pct: -8}]
    halts: [{t: 100s, for: 30s}]
signals: [{t: 1s, symbol: ACME, side: BUY}]
expect:
  final_position: {ACME: 0}
  events:
    - {type: gap_detected, symbol: ACME, after: 130s, before: 131s}
""")
    res = runner.run(scn)
    assert res.ok, [c for c in res.checks if not c.ok] + res.violations
    stop = [e for e in res.events if e["type"] == "fill" and e["role"] == "STOP_LOSS"]
    assert [(e["ts_ns"] >= secs(130), Decimal(e["price"])) for e in stop] == [
        (True, Decimal("91.99"))]
