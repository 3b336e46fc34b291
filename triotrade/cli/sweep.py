"""``triotrade sweep``: a grid of parameter values times seeds, one deterministic run per cell.

The cells come from ``triotrade.sweep`` (each is ``triotrade run FILE --set ... --seed ...``,
digest included); this module runs them on local processes (the default) or on a Dask
cluster (``--dask``, through ``triotrade.distributed``), shows a progress bar with an
ETA, writes the table (Parquet or CSV by the output's extension, with polars) and
prints the best cells by a metric and every cell that broke an invariant. Ctrl-C stops
the sweep and writes the cells that finished.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as cf_as_completed
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import click

from ..kernel.errors import InputError

# metric -> True when larger is better
SORTS = {"net_pnl": True, "sharpe": True, "win_rate": True, "trades": True,
         "fees": False, "max_drawdown": False}
MONEY = ("net_pnl", "fees", "max_drawdown", "win_rate")
TABLE_SUFFIXES = (".parquet", ".pq", ".csv")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _run_local(tasks: Sequence[Any], workers: int) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(cell id, row or error text) as local processes finish them."""
    from ..sweep import run_cell

    if workers <= 0:
        for t in tasks:
            yield t.cell.id, _guarded(run_cell, t)
        return
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_ignore_sigint)
    try:
        futures = {pool.submit(run_cell, t): t.cell.id for t in tasks}
        for fut in cf_as_completed(futures):
            exc = fut.exception()
            yield futures[fut], (fut.result() if exc is None else f"{type(exc).__name__}: {exc}")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _guarded(fn: Callable[[Any], dict[str, Any]], arg: Any) -> dict[str, Any] | str:
    try:
        return fn(arg)
    except Exception as exc:  # noqa: BLE001 - a cell's crash is reported in its row
        return f"{type(exc).__name__}: {exc}"


def _run_dask(client: Any, tasks: Sequence[Any]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    from .. import distributed
    from ..sweep import run_cell

    futures = distributed.submit_keyed(client, run_cell, [(t.key, t) for t in tasks])
    ids = {t.key: t.cell.id for t in tasks}
    try:
        for key, fut in distributed.as_completed(futures):
            exc = fut.exception()
            yield ids[key], (fut.result() if exc is None else f"{type(exc).__name__}: {exc}")
    finally:
        distributed.cancel(client, list(futures))


def _frame(rows: list[dict[str, Any]]) -> Any:
    import polars as pl

    table = []
    for r in rows:
        r = dict(r)
        for name in MONEY:
            if isinstance(r.get(name), str):
                r[name] = Decimal(r[name])
        table.append(r)
    return pl.DataFrame(table, infer_schema_length=None)


def write_table(rows: list[dict[str, Any]], out: Path) -> None:
    frame = _frame(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        frame.write_csv(out)
    else:
        frame.write_parquet(out)


def _sort_key(metric: str) -> Callable[[dict[str, Any]], tuple[int, Any, int]]:
    bigger = SORTS[metric]

    def key(r: dict[str, Any]) -> tuple[int, Any, int]:
        v = r.get(metric)
        if v is None:
            return (1, 0, r["cell"])  # cells without the metric last
        d = Decimal(str(v))
        return (0, -d if bigger else d, r["cell"])

    return key


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--param", "params", multiple=True, required=True, metavar="KEY.PATH=V1,V2,...",
              help="A scenario key path and the values it takes (each read as YAML, as "
              "--set reads it). Repeat for a grid: the cartesian product of all params.")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Run each point of the grid with N seeds: the scenario's seed and the "
              "N-1 after it (default 1: the scenario's seed).")
@click.option("--seed-list", default=None, metavar="S1,S2,...",
              help="Run each point of the grid with exactly these seeds.")
@click.option("--workers", "-j", type=click.IntRange(min=0), default=None,
              help="Local worker processes (default: the number of CPUs, at most 8; 0 runs "
              "in this process). With --dask local: the local cluster's workers.")
@click.option("--dask", "dask_address", default=None, metavar="ADDRESS|local",
              help="Run the cells on a Dask cluster: a scheduler address "
              "(tcp://host:8786) or 'local' for a LocalCluster on this machine.")
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="The table of cells: .parquet or .csv "
              "(default: sweep-<scenario>.parquet).")
@click.option("--sort", "sort_by", type=click.Choice(list(SORTS)), default="net_pnl",
              show_default=True, help="The metric the best cells are ranked by.")
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many of the best cells to print.")
def sweep(scenario: Path, params: tuple[str, ...], seeds: int | None, seed_list: str | None,
          workers: int | None, dask_address: str | None, out_path: Path | None,
          sort_by: str, top: int) -> None:
    """Run SCENARIO over a grid of parameter values times seeds and tabulate the runs.

    \b
    Each cell is one deterministic run, exactly
      triotrade run SCENARIO --set P1=V1 --set P2=V2 --seed S
    (the same digest). Per cell the table holds the values, the seed, the run report's
    metrics (net P&L, fees, max drawdown, Sharpe, win rate, trades), whether the
    scenario's `expect:` held, the invariant violations and the digest.

    \b
    Examples:
      triotrade sweep s.yaml --param config.exits.stop_loss=1%,2%,3% --seeds 5
      triotrade sweep s.yaml --param config.strategies.ACME.fast=5,10,20 \\
          --param config.strategies.ACME.slow=50,100 --dask tcp://10.0.0.5:8786 -o r.csv

    Ctrl-C stops the sweep and writes the cells that finished. Exit status: 0 no cell
    broke an invariant, 1 some did (or crashed), 2 bad input (nothing ran), 130
    interrupted.
    """
    from rich.console import Console

    from .. import sweep as sw
    from . import _exit_on, _slug
    from .report import require_extra

    require_extra()  # polars writes the table: refuse before anything runs
    out = Console(highlight=False, soft_wrap=True, markup=False,
                  width=None if sys.stdout.isatty() else 120)
    err = Console(stderr=True, highlight=False)
    try:
        if out_path is not None and out_path.suffix.lower() not in TABLE_SUFFIXES:
            raise InputError("--out", [(str(out_path), "the table is written as .parquet "
                                        "or .csv: name the file with one of those")])
        if seeds is not None and seed_list is not None:
            raise InputError("--seeds", [("", "give --seeds or --seed-list, not both")])
        grid_params = [sw.parse_param(p) for p in params]
        base = _load_base(scenario)
        seed_values = _seeds(base.seed, seeds, seed_list)
        cells = sw.grid(grid_params, seed_values)
        sw.check_cells(scenario, cells)
        tasks = sw.tasks(scenario, cells)
    except Exception as exc:  # noqa: BLE001 - exit_for decides; anything else is a bug
        _exit_on(exc)
    if out_path is None:
        out_path = Path(f"sweep-{_slug(base.name)}.parquet")

    rows: dict[int, dict[str, Any]] = {}
    errors: dict[int, str] = {}
    interrupted = False
    try:
        with _executor(dask_address, workers) as (where, run_cells):
            out.print(f"sweep {scenario}: {len(grid_params)} param(s), "
                      f"{len(cells) // len(seed_values)} point(s) x {len(seed_values)} "
                      f"seed(s) = {len(cells)} cells on {where}")
            started = time.monotonic()
            with _progress(err, len(cells)) as advance:
                try:
                    for cell_id, got in run_cells(tasks):
                        if cell_id in rows or cell_id in errors:
                            continue  # a cell is counted once, whatever ran it twice
                        if isinstance(got, str):
                            errors[cell_id] = got
                        else:
                            rows[cell_id] = got
                        advance(len(rows) + len(errors))
                except KeyboardInterrupt:
                    interrupted = True
    except InputError as exc:
        _exit_on(exc)
    seconds = time.monotonic() - started
    done = [rows[i] for i in sorted(rows)]
    if done:
        try:
            write_table(done, out_path)
        except OSError as exc:
            _exit_on(InputError(str(out_path), [("", f"cannot write: {exc.strerror or exc}")]))
    rate = (len(rows) + len(errors)) / seconds if seconds > 0 else 0.0
    out.print(f"ran {len(rows) + len(errors)} of {len(cells)} cells in {seconds:.1f}s: "
              f"{rate:.2f} cells/s on {where}" + ("  (interrupted)" if interrupted else ""))
    if done:
        out.print(f"table: {out_path} ({len(done)} rows)")
    _print_best(out, done, [p.path for p in grid_params], sort_by, top)
    broke = [r for r in done if r["violations"]]
    for r in broke:
        out.print(f"  INVARIANT  cell {r['cell']} ({_settings(r, grid_params)}, seed "
                  f"{r['seed']}): {r['violations']}")
    for cell_id, text in sorted(errors.items()):
        out.print(f"  CRASHED  cell {cell_id} ({cells[cell_id].command}): {text}")
    if interrupted:
        out.print("result: INTERRUPTED; the table holds the cells that finished")
        sys.exit(130)
    if broke or errors:
        out.print(f"result: FAILED: {len(broke)} cell(s) broke an invariant, "
                  f"{len(errors)} crashed")
        sys.exit(1)
    out.print(f"result: OK, no invariant broken in {len(done)} cells")
    sys.exit(0)


def _load_base(scenario: Path) -> Any:
    from ..sim import scenario as scenario_mod

    return scenario_mod.load(scenario)


def _seeds(base: int, seeds: int | None, seed_list: str | None) -> list[int]:
    if seed_list is None:
        return [base + i for i in range(seeds or 1)]
    out = []
    for part in seed_list.split(","):
        try:
            out.append(int(part.strip()))
        except ValueError:
            raise InputError("--seed-list", [(part.strip(), "a seed is an integer")]) from None
    if len(set(out)) != len(out):
        raise InputError("--seed-list", [("", "a seed given twice")])
    return out


@contextlib.contextmanager
def _executor(address: str | None, workers: int | None
              ) -> Iterator[tuple[str, Callable[[Sequence[Any]], Iterator[Any]]]]:
    """(description, run(tasks) -> (cell id, row | error)) on local processes or Dask."""
    from ..sim.fuzz import default_workers

    if address is None:
        n = default_workers() if workers is None else workers
        yield (f"{n} local process(es)" if n else "this process",
               lambda tasks: _run_local(tasks, n))
        return
    from .. import distributed

    try:
        with distributed.connect(address, workers or 2) if address == distributed.LOCAL \
                else distributed.connect(address) as client:
            n = distributed.wait_for_a_worker(client)
            yield f"Dask {address} ({n} worker(s))", lambda tasks: _run_dask(client, tasks)
    except distributed.ClusterError as exc:
        raise InputError("--dask", [(address, str(exc))]) from None


def _settings(row: dict[str, Any], params: Sequence[Any]) -> str:
    return ", ".join(f"{p.path}={row[p.path]}" for p in params)


def _print_best(out: Any, rows: list[dict[str, Any]], paths: list[str], metric: str,
                top: int) -> None:
    if not rows or top == 0:
        return
    from rich.table import Table

    best = sorted(rows, key=_sort_key(metric))[:top]
    order = "highest" if SORTS[metric] else "lowest"
    table = Table(title=f"best {len(best)} cell(s) by {metric} ({order} first)",
                  title_justify="left")
    cols = ["cell", *paths, "seed", "net_pnl", "fees", "max_drawdown", "sharpe", "win_rate",
            "trades", "expect", "digest"]
    for c in cols:
        table.add_column(c.rsplit(".", 1)[-1] if c in paths else c, overflow="fold")
    for r in best:
        cells = [str(r["cell"]), *(str(r[p]) for p in paths), str(r["seed"])]
        sharpe = r.get("sharpe")
        cells += [str(r.get(m)) for m in ("net_pnl", "fees", "max_drawdown")]
        cells += ["-" if sharpe is None else f"{sharpe:.3f}", str(r.get("win_rate")),
                  str(r.get("trades")), "ok" if r["expect_ok"] else "FAIL",
                  r["digest"].removeprefix("sha256:")[:12]]
        table.add_row(*cells)
    out.print(table)


class _progress:
    """A rich progress bar with an ETA on a terminal; a line every tenth elsewhere."""

    def __init__(self, console: Any, total: int) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                                   TextColumn, TimeElapsedColumn, TimeRemainingColumn)

        self.console, self.total = console, total
        self.started = time.monotonic()
        self.last_tenth = 0
        self.bar = Progress(SpinnerColumn(), TextColumn("[bold]sweep"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("{task.fields[rate]:>6.1f} cells/s"),
                            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                            console=console, disable=not console.is_terminal)
        self.task = self.bar.add_task("sweep", total=total, rate=0.0)

    def __enter__(self) -> Callable[[int], None]:
        self.bar.__enter__()
        return self.advance

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def advance(self, done: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = done / elapsed
        self.bar.update(self.task, completed=done, rate=rate)
        if not self.console.is_terminal:
            tenth = done * 10 // max(self.total, 1)
            if tenth > self.last_tenth:
                self.last_tenth = tenth
                eta = (self.total - done) / rate if rate else 0.0
                self.console.print(f"sweep {done}/{self.total} cells, {rate:.1f} cells/s, "
                                   f"eta {eta:.0f}s")


def register(main: Any) -> None:
    main.add_command(sweep)
