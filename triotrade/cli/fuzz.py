"""``triotrade fuzz``: Hypothesis hunts invariant breaks; each is shrunk into a scenario file.

Kept apart from cli.py (which registers it) so the other commands stay as they are;
everything heavy is imported when the command runs.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

DEFAULT_OUT = "fuzz-finds"


PROGRESS_EVERY_S = 5.0  # when stderr is not a terminal: one progress line this often

def _parse_budget(text: str | None) -> float | None:
    if text is None:
        return None
    from ..kernel.units import NS_PER_S, UnitError, parse_duration

    t = text.strip()
    try:
        seconds = float(t) if t.replace(".", "", 1).isdigit() else parse_duration(t) / NS_PER_S
    except UnitError:
        raise click.BadParameter(f"{text!r} is not a duration (e.g. 90s, 10m, 1h, or seconds)",
                                 param_hint="--time-budget") from None
    if seconds <= 0:
        raise click.BadParameter("must be positive", param_hint="--time-budget")
    return seconds


def _weakening_names() -> list[str]:
    # the names only (importing sim.fuzz here would slow down every CLI start)
    return ["fill_time_exposure_check", "naive_exposure", "single_exit_lock", "emergency_once",
            "forget_on_restart", "no_restart_reconciliation", "venue_stop_not_cancelled",
            "no_session_window", "no_stop_loss_cooldown", "no_trade_threshold",
            "no_open_positions_limit", "no_buying_power"]


@click.command()
@click.option("--examples", "-n", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Examples to generate, in total over all workers (one example = one "
              "simulated run; shrinking a find adds runs).")
@click.option("--seed", type=int, default=None,
              help="Campaign seed: the same seed explores the same examples. Default: a "
              "fresh one, printed so the campaign can be repeated.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(DEFAULT_OUT), show_default=True,
              help="Where shrunk finds are written (one scenario YAML per broken invariant, "
              "plus finds.json).")
@click.option("--workers", "-j", type=click.IntRange(min=0), default=None,
              help="Worker processes (default: the number of CPUs, at most 8; 0 runs in this "
              "process).")
@click.option("--time-budget", "time_budget", default=None, metavar="DURATION",
              help="Stop after this long (90s, 10m, 1h; a plain number is seconds), even if "
              "fewer examples ran.")
@click.option("--weaken", type=click.Choice(_weakening_names()), default=None,
              help="Self-test: fuzz a kernel with one protection removed (a test seam) to "
              "see the fuzzer find the break. Finds are written as usual; they pass on the "
              "real kernel.")
@click.option("--shrink-runs", type=click.IntRange(min=0), default=600, show_default=True,
              help="Simulated runs spent shrinking each find, at most.")
@click.option("--progress-every", "progress_every", type=click.FloatRange(min=0),
              default=PROGRESS_EVERY_S, show_default=True, metavar="SECONDS",
              help="When stderr is not a terminal (piped, CI), print a progress line this "
              "often instead of the progress bar.")
@click.option("--dask", "dask_address", default=None, metavar="ADDRESS|local",
              help="Run the batches on a Dask cluster: a scheduler address "
              "(tcp://host:8786) or 'local' for a LocalCluster of --workers processes.")
def fuzz(examples: int, seed: int | None, out_dir: Path, workers: int | None,
         time_budget: str | None, weaken: str | None, shrink_runs: int,
         progress_every: float, dask_address: str | None) -> None:
    """Fuzz the kernel's invariants with Hypothesis-generated scenarios.

    Each example is a whole scenario (1-3 instruments; market walks, explicit ticks, gaps,
    halts; signal bursts, duplicate and stale news, tickers found at run time; a swarm of
    faults: latency, rejects, no-fill windows, partial fills, disconnects, duplicate
    reports; sizing, exits and risk limits; the run seed, which drives trio's scheduler,
    the walks and the faults), run once in the deterministic simulator with every
    invariant checked on every journal event.

    \b
    A break is shrunk to a small scenario and written to OUT as a YAML file whose
    `expect:` says the invariant must hold, so that
      triotrade run OUT/<invariant>-<hash>.yaml
    fails (exit 1, same digest in any process) while the bug is there and passes once it
    is fixed. Fix the bug, then move the file into scenarios/regressions/ (CI runs every
    scenario there). OUT/finds.json lists the files with their digests.

    \b
    Examples:
      triotrade fuzz                                # 2000 examples on every CPU
      triotrade fuzz -n 20000 -j 2 --seed 7         # a reproducible campaign
      triotrade fuzz --time-budget 10m -n 1000000   # as many as fit in ten minutes
      triotrade fuzz --weaken single_exit_lock -n 300   # watch it find a planted bug
      triotrade fuzz -n 100000 --dask tcp://10.0.0.5:8786  # on a Dask cluster

    Exit status: 0 nothing broken, 1 something was found (see the table), 2 bad usage.
    """
    from rich.console import Console
    from rich.table import Table

    from ..sim import fuzz as fz

    budget = _parse_budget(time_budget)
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "big")  # the campaign's choice, printed below
    if workers is None:
        workers = fz.default_workers()
    if dask_address is None:
        res = _campaign(examples, seed, workers, weaken, budget, time_budget, shrink_runs,
                        None, None, progress_every)
    else:
        from .. import distributed
        from ..kernel.errors import InputError
        from . import _exit_on

        try:
            with distributed.connect(dask_address, max(1, workers)
                                     if dask_address == distributed.LOCAL else None) as client:
                workers = distributed.wait_for_a_worker(client)
                res = _campaign(examples, seed, workers, weaken, budget, time_budget,
                                shrink_runs, distributed.DaskExecutor(client), dask_address,
                                progress_every)
        except distributed.ClusterError as exc:
            _exit_on(InputError("--dask", [(dask_address, str(exc))]))
    out = Console(highlight=False, soft_wrap=True, markup=False,
                  width=None if sys.stdout.isatty() else 110)

    written = []
    for find in res.finds:
        w = fz.write_find(find, out_dir, weaken=weaken, campaign_seed=seed)
        res.written.append(w)
        written.append({"file": w.path, "invariant": w.invariant, "detail": find.detail,
                        "digest": w.digest, "reproduced": w.reproduced,
                        "campaign_seed": seed, "batch_seed": find.batch_seed,
                        "weakening": weaken})
    if written:
        fz.record_index(out_dir, written)

    where = f"Dask {dask_address} worker(s)" if dask_address else "process(es)"
    shrinking = (f" ({res.runs} simulated runs with shrinking)"
                 if res.runs > res.examples else "")
    out.print(f"ran {res.examples} examples{shrinking} in "
              f"{res.seconds:.1f}s: {res.rate:.1f} examples/s on {max(workers, 1)} "
              f"{where}" + (" (stopped: time budget reached)" if res.stopped_by_budget else ""))
    rates = res.worker_rates()
    if rates:
        out.print(f"  per worker: {sum(rates.values()) / len(rates):.1f} examples/s of busy "
                  f"time on average over {len(rates)} ("
                  + ", ".join(f"{w} {r:.1f}" for w, r in rates.items()) + ")")
    if res.hits:
        print_finds(out, res.hits, res.written)
    cov = Table(title="coverage (examples that had it)", title_justify="left")
    cov.add_column("feature / event")
    cov.add_column("examples", justify="right")
    cov.add_column("%", justify="right")
    for key, n in fz.coverage_rows(res):
        cov.add_row(key, str(n), f"{100 * n / max(res.examples, 1):.0f}")
    out.print(cov)
    if res.finds:
        if weaken:  # the real kernel passes them: they show the planted bug, not a new one
            out.print(f"result: FOUND {len(res.finds)} broken invariant(s) on the kernel "
                      f"weakened with {weaken!r}; shrunk scenarios in {out_dir}/ demonstrate "
                      "the weakening (the real kernel passes them: nothing to fix)")
        else:
            out.print(f"result: FOUND {len(res.finds)} broken invariant(s); shrunk scenarios "
                      f"in {out_dir}/ (fix, then move them into scenarios/regressions/)")
        sys.exit(1)
    if res.hits:  # only known-to-this-campaign invariants (cannot happen without finds)
        sys.exit(1)
    out.print(f"result: OK, no invariant broken in {res.examples} examples")
    sys.exit(0)


def _campaign(examples: int, seed: int, workers: int, weaken: str | None, budget: float | None,
              time_budget: str | None, shrink_runs: int, pool: Any, dask_address: str | None,
              progress_every: float = PROGRESS_EVERY_S) -> Any:
    """Announce, run the campaign with a progress bar, return its result (Ctrl-C: 130)."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)

    from ..sim import fuzz as fz

    out = Console(highlight=False, soft_wrap=True, markup=False,
                  width=None if sys.stdout.isatty() else 110)
    err = Console(stderr=True, highlight=False)
    what = f" against a kernel weakened with {weaken!r}" if weaken else ""
    where = (f"{workers} Dask worker(s) at {dask_address}" if dask_address
             else f"{workers or 'no'} worker process(es)")
    out.print(f"fuzzing{what}: {examples} examples, {where}, seed {seed}"
              + (f", budget {time_budget}" if budget else ""))
    again = f"triotrade fuzz -n {examples} --seed {seed}" + (f" --weaken {weaken}" if weaken
                                                               else "")
    if dask_address:  # the batches depend on the worker count: say it
        out.print(f"  repeat with: {again} --dask {dask_address} ({workers} workers), or "
                  f"{again} -j {workers} locally (the same batches)")
    else:  # the batches are planned per worker count: the same -j repeats them
        out.print(f"  repeat with: {again} -j {workers}")

    stats = {"examples": 0, "runs": 0, "hits": 0}
    started = time.monotonic()
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]fuzz"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>6.1f} ex/s"),
        TextColumn("violations: {task.fields[hits]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False,
        disable=not err.is_terminal)
    task = progress.add_task("fuzz", total=examples, rate=0.0, hits=0)
    last_line = [started]

    def tick(e: int, r: int, h: int) -> None:
        stats["examples"] += e
        stats["runs"] += r
        stats["hits"] += h
        now = time.monotonic()
        elapsed = max(now - started, 1e-9)
        rate = stats["examples"] / elapsed
        progress.update(task, advance=e, rate=rate, hits=stats["hits"])
        if not err.is_terminal and now - last_line[0] >= progress_every:
            # no bar on a pipe: a plain line now and then, so a long campaign shows life
            last_line[0] = now
            err.print(f"fuzz: {stats['examples']}/{examples} examples, {rate:.1f} ex/s, "
                      f"violations: {stats['hits']}, {elapsed:.0f}s elapsed", markup=False)

    try:
        with progress:
            return fz.campaign(examples, seed, workers=workers, weaken=weaken,
                               time_budget=budget, progress=tick,
                               shrink_runs=shrink_runs, pool=pool)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


def print_finds(out: Any, hits: dict[str, int], written: list[Any]) -> None:
    """The broken invariants as a table, then each shrunk file's path on a line of its
    own: a path in a table cell is folded into fragments on a narrow terminal, and a
    user copies it whole into ``triotrade run``."""
    from rich.table import Table

    table = Table(title="invariants broken", title_justify="left")
    for col in ("invariant", "examples", "reproduced", "digest"):
        table.add_column(col, justify="right" if col == "examples" else "left")
    by_inv = {w.invariant: w for w in written}
    ranked = sorted(hits.items(), key=lambda kv: -kv[1])
    for name, n in ranked:
        w = by_inv.get(name)
        table.add_row(name, str(n), ("yes" if w.reproduced else "NO") if w else "-",
                      (w.digest[:23] + "...") if w and w.digest else "-")
    out.print(table)
    if by_inv:
        out.print("shrunk scenarios (triotrade run FILE reproduces each):")
    for name, _ in ranked:
        if name in by_inv:
            out.print(f"  {name}:")
            out.print(f"    {by_inv[name].path}", overflow="ignore", crop=False)
    if any(name not in by_inv for name in hits):
        out.print("  note: an invariant broken only while another was being shrunk is "
                  "counted but not shrunk; run again to shrink it on its own.")


def register(main: Any) -> None:
    main.add_command(fuzz)
