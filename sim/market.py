"""Market paths: explicit ticks, a seeded random walk, gaps and halts.

A path is a generator of ticks ``(t_ns, idx, bid, ask, last, bid_size, ask_size)``
with integer prices (1e-8 units). Randomness is integer-only: a walk step draws 12
bits from its own seeded ``random.Random`` and looks up a fixed table of normal
quantiles, so a path is bit-identical on every platform (no libm in the loop).

Rules, in the order they apply at equal times: an explicit tick sets the quote; a
gap jumps the path level by ``pct`` at its time; the walk steps every ``every`` after
the last explicit tick. A halt drops every tick in ``[t, t+for)``; the path keeps
moving underneath, and when a halt that swallowed ticks ends, the quote in force is
published at its end (the reopen), so the first tick after a halt can itself be a gap.

Quotes stay on the instrument's tick grid: a spread is rounded up to whole ticks, and
``bid = last - spread/2`` is taken to the grid price at or below it (``ask = bid +
spread``), so an odd-tick spread never yields half-tick prices.

A path's level stays within ``[tick, MAX_LEVEL]``: a walk that drifts up for millions
of steps, or a run of gaps, would otherwise grow integers without bound (and a price
past 1e30 is not one the loader would accept from a file either).
"""
from __future__ import annotations

import random
from fractions import Fraction
from statistics import NormalDist
from typing import Any, Iterable, Iterator

import attrs

MAX_LEVEL = 10**38  # price units: 1e30, the largest price a file may hold
_Z_BITS = 12
_Z_SCALE = 1 << 16


def _normal_table() -> tuple[int, ...]:
    nd = NormalDist()
    n = 1 << _Z_BITS
    return tuple(round(nd.inv_cdf((i + 0.5) / n) * _Z_SCALE) for i in range(n))


Z_TABLE = _normal_table()


@attrs.frozen
class PathTick:
    t: int
    last: int | None
    bid: int | None
    ask: int | None
    bid_size: int | None
    ask_size: int | None


@attrs.frozen
class WalkSpec:
    every: int  # ns
    vol_bps: Fraction
    drift_bps: Fraction = Fraction(0)
    start: int | None = None  # price units, when there is no explicit tick before it


@attrs.frozen
class PathSpec:
    tick_units: int
    file: Any = None  # a sim.datafiles.MarketFile: its rows instead of ticks and walk
    spread: int = 0
    depth: int = 1_000_000
    ticks: tuple[PathTick, ...] = ()
    walk: WalkSpec | None = None
    gaps: tuple[tuple[int, Fraction], ...] = ()  # (t, pct)
    halts: tuple[tuple[int, int], ...] = ()  # (start, end)


def _snap(units: int, tick: int) -> int:
    q, r = divmod(units, tick)
    if 2 * r >= tick:
        q += 1
    return max(q, 1) * tick


def merge_halts(halts: "Iterable[tuple[int, int]]") -> tuple[tuple[int, int], ...]:
    """Halts as sorted, disjoint ``[start, end)`` intervals (overlaps merged)."""
    out: list[list[int]] = []
    for start, end in sorted(halts):
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return tuple((a, b) for a, b in out)


def generate(idx: int, spec: PathSpec, horizon: int, seed: int,
             stats: Any = None) -> Iterator[tuple[int, ...]]:
    """Yield the instrument's ticks up to and including ``horizon``.

    A path read from a file (``spec.file``) replays its rows (``stats``, a
    ``sim.datafiles.ReplayStats``, counts them); gaps move its prices from their time
    on, and halts apply, as on a generated path."""
    ticks: Iterator[tuple[int, ...]]
    if spec.file is not None:
        ticks = spec.file.ticks(idx, stats)
        if spec.gaps:
            ticks = _gapped(ticks, spec.gaps, spec.tick_units)
    else:
        ticks = _path(idx, spec, horizon, seed)
    halts = merge_halts(spec.halts)
    if not halts:
        return ticks
    return _halted(ticks, halts, horizon)


def _gapped(ticks: Iterator[tuple[int, ...]], gaps: tuple[tuple[int, Fraction], ...],
            tick: int) -> Iterator[tuple[int, ...]]:
    """Replayed prices moved by every gap whose time has come (the moves compound),
    snapped to the tick grid: a gap on a recorded path is a shock from then on."""
    pending = sorted(gaps)
    gi = 0
    factor = Fraction(1)
    for tk in ticks:
        t = tk[0]
        while gi < len(pending) and pending[gi][0] <= t:
            factor *= (100 + pending[gi][1]) / 100
            gi += 1
        if gi == 0:
            yield tk
            continue
        t, i, bid, ask, last, bsz, asz = tk
        yield (t, i, _snap(int(bid * factor), tick), _snap(int(ask * factor), tick),
               _snap(int(last * factor), tick), bsz, asz)


def _halted(ticks: Iterator[tuple[int, ...]], halts: tuple[tuple[int, int], ...],
            horizon: int) -> Iterator[tuple[int, ...]]:
    """Drop every tick inside a halt; when a halt that swallowed ticks ends, publish
    the quote in force then (the reopening quote), unless a tick comes at that very
    time anyway. So a gap or an explicit tick inside a halt shows at the reopen."""
    hi = 0
    n = len(halts)
    held: tuple[int, ...] | None = None  # the latest tick a halt swallowed
    held_end = 0
    for tk in ticks:
        t = tk[0]
        if held is not None and held_end <= t:
            if held_end < t:
                yield (held_end, *held[1:])
            held = None
        while hi < n and halts[hi][1] <= t:
            hi += 1
        if hi < n and halts[hi][0] <= t:
            held = tk
            held_end = halts[hi][1]
            continue
        yield tk
    if held is not None and held_end <= horizon:
        yield (held_end, *held[1:])


def _path(idx: int, spec: PathSpec, horizon: int, seed: int) -> Iterator[tuple[int, ...]]:
    rng = random.Random(seed)
    getbits = rng.getrandbits
    table = Z_TABLE
    tick = spec.tick_units
    # quotes sit on the tick grid: the spread is rounded up to whole ticks, and for an
    # odd number of ticks the bid is the grid price just below last - spread/2
    spread = -(-spec.spread // tick) * tick
    below = (spread // tick + 1) // 2 * tick  # bid = level - below, ask = bid + spread
    depth = spec.depth
    gaps = list(spec.gaps)
    explicit = list(spec.ticks)
    walk = spec.walk

    level = 0
    bid = ask = 0
    bsz = asz = depth
    gi = ei = 0

    walk_t: int | None = None
    if walk is not None:
        walk_t = (explicit[-1].t + walk.every) if explicit else 0
        if not explicit:
            assert walk.start is not None
            level = _snap(walk.start, tick)
            bid, ask = level - below, level - below + spread
        vol = walk.vol_bps
        drift = walk.drift_bps
        # step = price * (vol * z / Z_SCALE + drift) / 10000, rounded to the tick grid
        den = 10000 * _Z_SCALE * vol.denominator * drift.denominator * tick
        vnum = vol.numerator * drift.denominator
        dnum = drift.numerator * vol.denominator * _Z_SCALE
        every = walk.every
        hden = den // 2
    cap = MAX_LEVEL // tick * tick

    while True:
        te = explicit[ei].t if ei < len(explicit) else None
        tg = gaps[gi][0] if gi < len(gaps) else None
        tw = walk_t if (walk_t is not None and walk_t <= horizon) else None
        candidates = [x for x in (te, tg, tw) if x is not None]
        if not candidates:
            return
        t = min(candidates)
        if t > horizon:
            return
        if te == t:
            pt = explicit[ei]
            ei += 1
            if pt.bid is not None or pt.ask is not None:
                bid = pt.bid if pt.bid is not None else (pt.ask or 0) - spread
                ask = pt.ask if pt.ask is not None else bid + spread
                # the path level (and `last`) stays on the grid so a walk can go on from it
                level = pt.last if pt.last is not None else _snap((bid + ask) // 2, tick)
            else:
                assert pt.last is not None
                level = pt.last
                bid, ask = level - below, level - below + spread
            bsz = pt.bid_size if pt.bid_size is not None else depth
            asz = pt.ask_size if pt.ask_size is not None else depth
        elif tg == t:
            pct = gaps[gi][1]
            gi += 1
            level = min(_snap(int(level * (100 + pct) / 100), tick), MAX_LEVEL // tick * tick)
            bid, ask = level - below, level - below + spread
            bsz = asz = depth
            if tw == t:
                walk_t = t + every  # the gap replaces this walk step
        else:
            # the walk: a tight loop up to the next explicit tick, gap or horizon
            limit = horizon
            if te is not None and te - 1 < limit:
                limit = te - 1
            if tg is not None and tg - 1 < limit:
                limit = tg - 1
            wt = t
            bsz = asz = depth
            while wt <= limit:
                num = level * (vnum * table[getbits(12)] + dnum)
                step = (num + hden) // den
                level += step * tick
                if level < tick:
                    level = tick
                elif level > cap:
                    level = cap
                yield (wt, idx, level - below, level - below + spread, level, depth, depth)
                wt += every
            walk_t = wt
            bid, ask = level - below, level - below + spread
            continue
        yield (t, idx, bid, ask, level, bsz, asz)
