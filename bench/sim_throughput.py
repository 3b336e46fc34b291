"""Simulation throughput: the 1 M-tick MA-cross workload through the full kernel.

Reports ticks/s through the whole kernel (risk, gap detector, monitor, orders,
journal and invariant checks on) in the deterministic simulator, next to the
plain-Python loop of the same strategy on the same ticks, measured in the same run.
With several ``--tickers`` counts the same total of ticks is spread over that many
instruments (1 000 tickers x 1 000 ticks for ``--ticks 1000000 --tickers 1000``), and
each row's kernel rate is also given against the one-ticker row ("vs 1").

    python bench/sim_throughput.py [--ticks 1000000] [--tickers 1 10 100 1000]
"""
from __future__ import annotations

import argparse
import os
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import ma_cross_scenario, path_ticks, plain_loop  # noqa: E402

from triotrade.sim import runner  # noqa: E402

# run_all.py --quick points this elsewhere, so smoke runs never overwrite the committed results
RESULTS = Path(os.environ.get("TRIOTRADE_BENCH_RESULTS") or Path(__file__).resolve().parent / "results")


def measure(ticks: int, tickers: int) -> dict[str, float | int | str]:
    scn = ma_cross_scenario(ticks, tickers)
    t0 = time.perf_counter()
    path = path_ticks(scn, scn.seed)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    trades = plain_loop(path, tickers)
    loop_s = time.perf_counter() - t0
    n = len(path)
    # the kernel replays the same prepared path the plain loop read (path replay),
    # so both sides are timed without path generation, which is reported apart
    t0 = time.perf_counter()
    result = runner.run(scn, keep_events=False, ticks=path)
    kernel_s = time.perf_counter() - t0
    # the same run without the simulator's per-event invariant checker (a test
    # harness, not part of the kernel): what a parameter sweep would run
    t0 = time.perf_counter()
    bare = runner.run(scn, keep_events=False, ticks=path, check_invariants=False)
    bare_s = time.perf_counter() - t0
    assert bare.digest == result.digest or result.violations, "the checker must not change a run"
    del path
    return {
        "tickers": tickers,
        "ticks": n,
        "kernel_ticks_per_s": round(result.ticks / kernel_s),
        "kernel_no_invariants_ticks_per_s": round(bare.ticks / bare_s),
        "plain_loop_ticks_per_s": round(n / loop_s),
        "path_generation_ticks_per_s": round(n / gen_s),
        "ratio_vs_plain_loop": round((result.ticks / kernel_s) / (n / loop_s), 4),
        "kernel_seconds": round(kernel_s, 3),
        "plain_loop_trades": trades,
        "kernel_trades": sum(int(r["trades"]) for r in result.summary.values()),
        "violations": len(result.violations),
        "digest": result.digest,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--tickers", type=int, nargs="+", default=[1, 10, 100])
    args = ap.parse_args()
    rows = [measure(args.ticks, k) for k in args.tickers]
    one = next((r for r in rows if r["tickers"] == 1), None)
    for r in rows:
        if one is not None:
            r["kernel_vs_one_ticker"] = round(
                int(r["kernel_ticks_per_s"]) / int(one["kernel_ticks_per_s"]), 3)
            r["no_invariants_vs_one_ticker"] = round(
                int(r["kernel_no_invariants_ticks_per_s"])
                / int(one["kernel_no_invariants_ticks_per_s"]), 3)
    print(f"{'tickers':>7} {'ticks':>9} {'kernel t/s':>11} {'no-inv t/s':>11} {'plain t/s':>11} "
          f"{'ratio':>7} {'vs 1':>11} {'trades k/p':>11}")
    for r in rows:
        vs = (f"{r['kernel_vs_one_ticker']:.2f}/{r['no_invariants_vs_one_ticker']:.2f}"
              if one is not None else "-")
        print(f"{r['tickers']:>7} {r['ticks']:>9} {r['kernel_ticks_per_s']:>11,} "
              f"{r['kernel_no_invariants_ticks_per_s']:>11,} "
              f"{r['plain_loop_ticks_per_s']:>11,} {r['ratio_vs_plain_loop']:>7.3f} "
              f"{vs:>11} {r['kernel_trades']:>5}/{r['plain_loop_trades']:<5}")
    RESULTS.mkdir(exist_ok=True)
    out = {"benchmark": "sim_throughput", "python": platform.python_version(),
           "machine": platform.machine(), "rows": rows}
    (RESULTS / "sim_throughput.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
