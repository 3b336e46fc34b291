"""Plug-in strategies and file market data, each against the built-in path it replaces.

1. **Strategy from a file**: the MA-cross workload (``workloads.ma_cross_scenario``)
   with ``MovingAverageCross`` as built in, then with the same class loaded from a
   ``.py`` file through ``strategies/loader.py``. Target: within 5 %.
2. **Ticks from a CSV file**: the same workload's ticks written to a CSV (integer-ns
   ``ts``, bid, ask, last, sizes), replayed through ``sim/datafiles.py`` while the run
   goes, against the same ticks generated in memory by the walk while the run goes.
   Target: >= 70 % of the in-memory speed. The two runs must have the same digest:
   the file replays exactly the ticks the walk made.

Each pair runs alternately, ``--repeat`` times (the order within a pair flipping each
time), and the best of each is kept (the machine is shared; the best run is the least
disturbed one).

    python bench/plugin_data.py [--ticks 1000000] [--repeat 2]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import ma_cross_scenario  # noqa: E402

import attrs  # noqa: E402

from triotrade.kernel.config import StrategySpec  # noqa: E402
from triotrade.kernel.units import fmt_units  # noqa: E402
from triotrade.sim import runner  # noqa: E402
from triotrade.sim.datafiles import ReplayStats, market_file  # noqa: E402
from triotrade.sim.determinism import derive_seed  # noqa: E402
from triotrade.sim.market import generate  # noqa: E402
from triotrade.sim.scenario import market_path_specs, strategy_plans  # noqa: E402
from triotrade.strategies import ma_cross  # noqa: E402

RESULTS = Path(os.environ.get("TRIOTRADE_BENCH_RESULTS") or Path(__file__).resolve().parent / "results")
START = 1_762_180_200_000_000_000  # 2025-11-03T14:30:00Z, Unix ns


def _generated(scn: Any) -> Iterator[tuple[int, ...]]:
    """The scenario's walk, without a tick at the horizon itself: a data file's row at
    ``start + duration`` is outside the run (the format says so), so both sides of the
    comparison get exactly the ticks inside it."""
    ((sym, spec),) = market_path_specs(scn).items()
    ticks = generate(0, spec, scn.duration, derive_seed(scn.seed, f"market:{sym}"))
    return (t for t in ticks if t[0] < scn.duration)


def _write_csv(scn: Any, path: Path) -> int:
    n = 0
    with open(path, "w") as f:
        f.write("ts,bid,ask,last,bid_size,ask_size\n")
        for t, _, bid, ask, last, bsz, asz in _generated(scn):
            f.write(f"{START + t},{fmt_units(bid)},{fmt_units(ask)},{fmt_units(last)},"
                    f"{bsz},{asz}\n")
            n += 1
    return n


def _timed(scn: Any, ticks: Any = None) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = runner.run(scn, keep_events=False, ticks=ticks)
    return time.perf_counter() - t0, result


def _file_strategy(scn: Any, folder: Path) -> Any:
    """``scn`` with the built-in MA cross copied to a file and named by path, as a
    user's strategy is (the scenario's source is placed in ``folder``, which the loader
    resolves the file against)."""
    src = Path(ma_cross.__file__).read_text()
    src = re.sub(r"from \.base import", "from triotrade.strategies.base import", src)
    src = re.sub(r"from \.\.kernel\.", "from triotrade.kernel.", src)
    (folder / "my_ma.py").write_text(src)
    specs = {sym: StrategySpec("my_ma.py:MovingAverageCross", dict(spec.params))
             for sym, spec in scn.config.strategies.items()}
    out = attrs.evolve(scn, config=attrs.evolve(scn.config, strategies=specs),
                       source=str(folder / "bench.yaml"))
    plans = strategy_plans(out)
    assert all(p.cls is not ma_cross.MovingAverageCross for p in plans.values())
    return out


def measure(ticks: int, repeat: int) -> dict[str, Any]:
    scn = ma_cross_scenario(ticks, 1)
    best: dict[str, float] = {}
    digests: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        file_scn = _file_strategy(scn, folder)
        csv_path = folder / "ticks.csv"
        t0 = time.perf_counter()
        rows = _write_csv(scn, csv_path)
        write_s = time.perf_counter() - t0
        size = csv_path.stat().st_size
        mf = market_file(csv_path, scn.instrument_map["S000"], START, scn.duration)
        t0 = time.perf_counter()
        parsed = sum(1 for _ in mf.ticks(0))
        parse_s = time.perf_counter() - t0
        for i in range(repeat):
            # each pair's order flips every repeat: the second run of a pair is not
            # always the same one (an order effect would otherwise read as a cost)
            flip = slice(None, None, -1 if i % 2 else 1)
            for name in ("builtin", "from_file")[flip]:
                run_scn = scn if name == "builtin" else file_scn
                secs, result = _timed(run_scn, _generated(scn))
                best[name] = min(best.get(name, secs), secs)
                digests[name] = result.digest
            for name in ("generated", "csv")[flip]:
                stats = ReplayStats()
                source = _generated(scn) if name == "generated" else mf.ticks(0, stats)
                secs, result = _timed(scn, source)
                best[name] = min(best.get(name, secs), secs)
                digests[name] = result.digest
    n = rows
    out = {
        "ticks": n,
        "strategy_builtin_ticks_per_s": round(n / best["builtin"]),
        "strategy_from_file_ticks_per_s": round(n / best["from_file"]),
        "strategy_file_vs_builtin": round(best["builtin"] / best["from_file"], 4),
        "generated_ticks_per_s": round(n / best["generated"]),
        "csv_ticks_per_s": round(n / best["csv"]),
        "csv_vs_generated": round(best["generated"] / best["csv"], 4),
        "csv_parse_only_rows_per_s": round(parsed / parse_s),
        "csv_write_seconds": round(write_s, 2),
        "csv_bytes_per_row": round(size / rows, 1),
        "same_digest_file_strategy": digests["builtin"] == digests["from_file"],
        "same_digest_csv": digests["generated"] == digests["csv"],
        "digest": digests["generated"],
    }
    assert out["same_digest_file_strategy"], "a strategy loaded from a file changed the run"
    assert out["same_digest_csv"], "the CSV replay differs from the generated ticks"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    r = measure(args.ticks, args.repeat)
    print(f"{'ticks':>9} {'builtin t/s':>12} {'file-strat t/s':>14} {'ratio':>6}   "
          f"{'generated t/s':>13} {'csv t/s':>10} {'ratio':>6} {'parse rows/s':>12}")
    print(f"{r['ticks']:>9} {r['strategy_builtin_ticks_per_s']:>12,} "
          f"{r['strategy_from_file_ticks_per_s']:>14,} {r['strategy_file_vs_builtin']:>6.3f}   "
          f"{r['generated_ticks_per_s']:>13,} {r['csv_ticks_per_s']:>10,} "
          f"{r['csv_vs_generated']:>6.3f} {r['csv_parse_only_rows_per_s']:>12,}")
    print("same digest: file strategy vs built-in, CSV vs generated: "
          f"{r['same_digest_file_strategy']}, {r['same_digest_csv']}")
    RESULTS.mkdir(exist_ok=True)
    out = {"benchmark": "plugin_data", "python": platform.python_version(),
           "machine": platform.machine(), "result": r}
    (RESULTS / "plugin_data.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
