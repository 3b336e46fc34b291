"""Sweeps and fuzz campaigns on Dask: a sweep cell is the single run it names (same
digest as ``triotrade run --set ... --seed ...``), on a LocalCluster as on local
processes; a cell is counted once; a fuzz campaign through Dask finds a planted
weakening as the local one does.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import polars as pl
import pytest

from conftest import PYTHON, SCENARIOS, assert_no_traceback, last_digest, parallel, run_cli
from triotrade import distributed
from triotrade.kernel.errors import InputError
from triotrade import sweep
from triotrade.sim import fuzz
from triotrade.sim.weakenings import FUZZ_TARGETS

GAP = SCENARIOS / "incidents" / "gap_through_stop.yaml"
PARAMS = ["config.exits.stop_loss=2%,3%", "config.sizing.unit_position_size=50,100"]
SEEDS = [42, 43]
# every wait on a Dask cluster in this module is bounded: a cluster that stops answering
# fails its test with a message instead of holding the suite forever (alone, a test here
# takes well under a minute)
DASK_WAIT = 180.0


FRESH = "TRIOTRADE_TEST_FRESH_PROCESS"


def handed_to_a_fresh_process(request: pytest.FixtureRequest) -> bool:
    """True when this test was run (and passed) in a child pytest of its own.

    A LocalCluster of worker processes is started from a process that has run the
    whole suite before it; a hang of the cluster's first sweep seen only in full-suite
    runs was not traced to a cause, so these tests start their cluster from a fresh
    interpreter that ran nothing else (the child runs this very test, every assertion
    included; its output is shown when it fails). Bounded: a child that does not end
    in time is a failure, not a stuck suite."""
    nodeid = request.node.nodeid
    if os.environ.get(FRESH) == nodeid:
        return False  # this is the child: run the test's body here
    env = {**os.environ, FRESH: nodeid}
    limit = 2 * DASK_WAIT + 60
    try:
        proc = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", nodeid],
                              cwd=request.config.rootpath, env=env, capture_output=True,
                              text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"")[-4000:]
        pytest.fail(f"{nodeid} did not finish in a fresh process in {limit:g}s\n{out!r}")
    assert proc.returncode == 0, (f"{nodeid} failed in a fresh process:\n"
                                  + proc.stdout[-6000:] + proc.stderr[-3000:])
    return True


@contextlib.contextmanager
def bounded(seconds: float, what: str, give_up: Callable[[], Any]) -> Iterator[None]:
    """Fail the test when the block is still running after ``seconds``: ``give_up``
    (cancelling the Dask futures it waits on) is called then, which ends the wait."""
    fired = threading.Event()

    def expire() -> None:
        fired.set()
        with contextlib.suppress(Exception):
            give_up()

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except BaseException:
        if fired.is_set():
            pytest.fail(f"{what} did not finish in {seconds:g}s (its Dask futures were "
                        "cancelled)")
        raise
    finally:
        timer.cancel()
    if fired.is_set():
        pytest.fail(f"{what} did not finish in {seconds:g}s (its Dask futures were cancelled)")


def single_run_digest(cell: dict[str, object], tmp: Path) -> str:
    sets = [a for p in ("config.exits.stop_loss", "config.sizing.unit_position_size")
            for a in ("--set", f"{p}={cell[p]}")]
    proc = run_cli(["run", str(GAP), "-q", *sets, "--seed", str(cell["seed"]), "--journal",
                    str(tmp / f"cell{cell['cell']}.jsonl")], cwd=tmp)
    assert_no_traceback(proc)
    return last_digest(proc.stdout)


def test_grid_order_and_values() -> None:
    cells = sweep.grid([sweep.parse_param(p) for p in PARAMS], SEEDS)
    assert [c.id for c in cells] == list(range(8))
    assert cells[5].settings == (("config.exits.stop_loss", "3%"),
                                 ("config.sizing.unit_position_size", "50"))
    assert cells[5].seed == 43
    assert sweep.split_values("1,[2,3],'a,b', x") == ["1", "[2,3]", "'a,b'", "x"]


@pytest.mark.parametrize("spec", ["config.exits.stop_loss", "config..x=1,2",
                                  "x=1,,2", "x=1,1", "x=[1"])
def test_bad_params_are_located(spec: str) -> None:
    with pytest.raises(InputError) as info:
        sweep.parse_param(spec)
    assert info.value.problems and info.value.problems[0][0]


def test_a_sweep_on_a_local_dask_cluster_is_the_single_runs(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if handed_to_a_fresh_process(request):
        return
    cells = sweep.grid([sweep.parse_param(p) for p in PARAMS], SEEDS)
    tasks = sweep.tasks(GAP, cells)
    rows: dict[int, dict[str, object]] = {}
    with distributed.connect("local", 2, processes=True) as client:
        futures = distributed.submit_keyed(client, sweep.run_cell, [(t.key, t) for t in tasks])
        for _key, fut in distributed.as_completed(futures, timeout=DASK_WAIT):
            row = fut.result(timeout=DASK_WAIT)
            assert row["cell"] not in rows
            rows[row["cell"]] = row
    assert sorted(rows) == list(range(8))
    digests = parallel([lambda r=r: single_run_digest(r, tmp_path) for r in rows.values()], 2)
    assert [r["digest"] for r in rows.values()] == digests
    assert len(set(digests)) == 8  # every cell is a different run
    # the values travelled: a size of 50 halves the loss of the incident's 100
    assert {rows[c]["net_pnl"] for c in (0, 1, 4, 5)} == {"-426.00"}
    assert {rows[c]["net_pnl"] for c in (2, 3, 6, 7)} == {"-852.00"}


def test_the_cli_sweep_on_dask_local_writes_eight_rows(tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    args = [a for p in PARAMS for a in ("--param", p)]
    proc = run_cli(["sweep", str(GAP), *args, "--seed-list", "42,43", "--dask", "local",
                    "-j", "2", "-o", str(out), "--sort", "max_drawdown"], cwd=tmp_path,
                   timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    frame = pl.read_parquet(out)
    assert frame.height == 8 and frame["cell"].to_list() == list(range(8))
    for col in ("net_pnl", "fees", "max_drawdown", "sharpe", "win_rate", "trades",
                "expect_ok", "violations", "digest", "seed", "config.exits.stop_loss"):
        assert col in frame.columns
    local = sweep.run_cell(sweep.tasks(GAP, sweep.grid(
        [sweep.parse_param(p) for p in PARAMS], SEEDS))[6])
    assert frame.filter(pl.col("cell") == 6)["digest"].item() == local["digest"]
    assert "best 8 cell(s) by max_drawdown (lowest first)" in proc.stdout
    assert "8.0 of 8" not in proc.stdout and "ran 8 of 8 cells" in proc.stdout


def test_the_cli_sweep_on_local_processes_writes_csv(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    proc = run_cli(["sweep", str(GAP), "--param", "config.exits.stop_loss=2%,3%", "--seeds",
                    "2", "-j", "0", "-o", str(out)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    frame = pl.read_csv(out)
    assert frame.height == 4 and frame["seed"].to_list() == [42, 43, 42, 43]


@pytest.mark.parametrize(("args", "where"), [
    (["--param", "config.exits.stop_los=2%,3%"], "config.exits.stop_los: unknown key"),
    (["--param", "config.sizing.unit_position_size=10,abc"],
     "config.sizing.unit_position_size: expected an integer"),
    (["--param", "x"], "--param: x: expected KEY.PATH=V1,V2"),
    # the user wrote --param: the errors say --param, never --set
    (["--param", "x=[1"], "--param: x: the value '[1' is not YAML"),
    (["--param", "config.exits.stop_loss=2%,-5%"],
     "config.exits.stop_loss: percentage must be between 0 and 100, got '-5%' "
     "(set by --param config.exits.stop_loss=-5%)"),
    (["--param", "instruments.x=1,2"], "--param: instruments.x: instruments is a list"),
    (["--param", "config.exits.stop_loss=2%", "-o", "r.txt"], "--out: r.txt"),
    (["--param", "config.exits.stop_loss=2%", "--seed-list", "1,x"], "--seed-list: x"),
    (["--param", "config.exits.stop_loss=2%", "--dask", "tcp://127.0.0.1:9"],
     "--dask: tcp://127.0.0.1:9: no Dask scheduler answered"),
])
def test_bad_sweep_input_is_located_and_exits_2(tmp_path: Path, args: list[str],
                                                where: str) -> None:
    proc = run_cli(["sweep", str(GAP), *args, "-j", "0"], cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert_no_traceback(proc)
    assert where in proc.stderr, proc.stderr
    assert "--set" not in proc.stderr, proc.stderr
    assert not list(tmp_path.glob("*.parquet"))


def test_a_fuzz_campaign_on_a_local_dask_cluster_finds_a_planted_weakening(
        tmp_path: Path) -> None:
    weaken = "single_exit_lock"
    expected = FUZZ_TARGETS[weaken].catches
    with distributed.connect("local", processes=False) as client:
        pool = distributed.DaskExecutor(client)
        with bounded(DASK_WAIT, "the fuzz campaign on Dask",
                     lambda: distributed.cancel(client, pool._futures)):
            res = fuzz.campaign(300, 5, workers=1, weaken=weaken, shrink_runs=200,
                                until=expected, pool=pool)
    finds = {f.invariant: f for f in res.finds}
    assert expected in finds, dict(res.hits)
    written = fuzz.write_find(finds[expected], tmp_path, weaken=weaken, campaign_seed=5)
    assert written.reproduced
    digest, names, code = fuzz.verify_file(written.path, weaken)
    assert (code, digest) == (1, written.digest) and expected in names
    assert res.worker_rates() and all(r > 0 for r in res.worker_rates().values())
    # the local pool's hunt for the same weakening, seed and budget is test_fuzz.py's
    # teeth test: the same batches, planned for one worker, found the same invariant


def test_a_worker_that_dies_mid_cell_is_retried_and_the_cell_counted_once(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if handed_to_a_fresh_process(request):
        return
    marker = str(tmp_path / "died")

    def dies_once(task: sweep.CellTask) -> dict[str, object]:
        import os

        from triotrade import sweep as sw

        if task.cell.id == 3 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies in the middle of the cell
        return sw.run_cell(task)

    cells = sweep.grid([sweep.parse_param(p) for p in PARAMS], SEEDS)
    tasks = sweep.tasks(GAP, cells)
    seen: list[int] = []
    rows: dict[int, dict[str, object]] = {}
    with distributed.connect("local", 2, processes=True) as client:
        futures = distributed.submit_keyed(client, dies_once, [(t.key, t) for t in tasks])
        for _, fut in distributed.as_completed(futures, timeout=DASK_WAIT):
            row = fut.result(timeout=DASK_WAIT)
            seen.append(row["cell"])
            rows[row["cell"]] = row
    assert Path(marker).exists()  # a worker did die
    assert sorted(seen) == list(range(8))  # and every cell came back exactly once
    assert rows[3]["digest"] == sweep.run_cell(tasks[3])["digest"]  # the retried cell


def test_ctrl_c_keeps_and_writes_the_cells_that_finished(tmp_path: Path) -> None:
    import signal
    import subprocess

    from conftest import PYTHON, cli_env

    out = tmp_path / "r.csv"
    proc = subprocess.Popen(
        [PYTHON, "-m", "triotrade", "sweep", str(GAP), "--param",
         "config.sizing.unit_position_size=" + ",".join(str(10 * i) for i in range(1, 11)),
         # 4 000 cells: the simulator runs ~250 cells/s on 2 cores now, and 400 used to end
         # before the interrupt arrived
         "--seeds", "400", "-j", "2", "-o", str(out)],
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # without a terminal: a progress line every tenth
        if line.startswith("sweep ") and "cells" in line:
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert "INTERRUPTED" in stdout
    frame = pl.read_csv(out)
    assert 40 <= frame.height < 4000  # what finished, and only that
    assert frame["cell"].n_unique() == frame.height
