"""Running many independent simulations on a Dask cluster (``--dask ADDRESS|local``).

Sweep cells and fuzz batches are embarrassingly parallel; Dask distributed places
them on workers (one machine or many), reschedules the task of a worker that died,
and needs nothing of ours on a worker but ``pip install triotrade``: every task
carries its inputs by value (a scenario's bytes, a batch's seeds), never a path.

Each task is submitted under a key of its own (a sweep cell's id), so a task that
Dask runs again after a worker died is still one task with one result: a cell is
never counted twice.

One simulation per process at a time: trio's deterministic-scheduling knobs and the
guards that refuse threads and sockets during a run are process-wide, so two runs at
once in one worker process would break each other's determinism. ``exclusive`` takes
a process-wide lock around each task; workers are best started with ``--nthreads 1``
(``local`` clusters are), because a second thread in a worker would only wait.

Dask is an optional extra (``pip install 'triotrade[dask]'``); nothing here is
imported by the simulator, which stays free of distributed code.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import threading
from typing import Any, Callable, Iterator, Sequence

LOCAL = "local"
# A worker's statistical profiler samples the task thread's stack every 10 ms: with a
# simulation's deep trio stacks that costs a third of a cell's time, so local
# clusters run without it (remote workers: DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False).
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}
_RUN_LOCK = threading.Lock()


class ClusterError(Exception):
    """The cluster cannot be used (not installed, unreachable, no workers)."""


def require() -> None:
    """ClusterError with the install line when ``dask[distributed]`` is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ClusterError("Dask is not installed: pip install 'triotrade[dask]'") from None


@contextlib.contextmanager
def connect(address: str, workers: int | None = None, *, processes: bool = True,
            timeout: float = 10.0) -> Iterator[Any]:
    """A ``distributed.Client`` on the scheduler at ``address``, or on a LocalCluster
    of ``workers`` single-threaded processes (``address == "local"``; ``processes=False``
    keeps one worker in this process, for tests)."""
    require()
    from distributed import Client, LocalCluster

    if address == LOCAL:
        import dask

        n = max(1, workers or 1) if processes else 1
        with dask.config.set(WORKER_CONFIG), \
                LocalCluster(n_workers=n, threads_per_worker=1, processes=processes,
                             dashboard_address=None, silence_logs=40) as cluster, \
                Client(cluster) as client:
            yield client
        return
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"no Dask scheduler answered at {address}: {exc}") from None
    with client:
        if workers is not None:
            client.wait_for_workers(workers, timeout=timeout)
        yield client


def worker_count(client: Any) -> int:
    """Worker processes known to the scheduler now."""
    return len(client.scheduler_info().get("workers", {}))


def wait_for_a_worker(client: Any, timeout: float = 30.0) -> int:
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise ClusterError(f"the scheduler has no workers after {timeout:g}s "
                           "(start some: dask worker tcp://SCHEDULER:8786 --nthreads 1)"
                           ) from None
    return worker_count(client)


def exclusive(fn: Callable[[Any], Any], arg: Any) -> Any:
    """``fn(arg)``, never at the same time as another simulation in this process."""
    with _RUN_LOCK:
        return fn(arg)


def submit_keyed(client: Any, fn: Callable[[Any], Any], items: Sequence[tuple[str, Any]]
                 ) -> dict[Any, str]:
    """Submit ``fn(arg)`` for each (key, arg) under that key: {dask future: key}."""
    keys = [k for k, _ in items]
    if len(set(keys)) != len(keys):
        raise ValueError("two tasks with one key")
    futures = client.map(exclusive, [fn] * len(items), [a for _, a in items], key=keys,
                         pure=False)
    return dict(zip(futures, keys))


def as_completed(futures: dict[Any, str], timeout: float | None = None
                 ) -> Iterator[tuple[str, Any]]:
    """(key, future) as each finishes, each key once (a retried task counts once).

    ``timeout`` (seconds, for all of them; None waits as long as it takes): a
    ``TimeoutError`` naming the keys still unfinished when it is spent."""
    from distributed import as_completed as dask_as_completed

    seen: set[str] = set()
    waiting = dask_as_completed(list(futures), timeout=timeout)
    while True:
        try:
            fut = next(waiting)
        except StopIteration:
            return
        except TimeoutError:
            left = sorted(k for f, k in futures.items() if k not in seen and not f.done())
            raise TimeoutError(f"{len(left)} Dask task(s) unfinished after {timeout:g}s: "
                               f"{', '.join(left[:10])}") from None
        key = futures[fut]
        if key in seen:
            continue
        seen.add(key)
        yield key, fut


def cancel(client: Any, futures: Sequence[Any]) -> None:
    with contextlib.suppress(Exception):
        client.cancel(list(futures))


class DaskExecutor(cf.Executor):
    """A ``concurrent.futures.Executor`` on a Dask client (the fuzz campaign's pool):
    each call runs through ``exclusive`` on some worker."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._futures: list[Any] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        if kwargs or len(args) != 1:
            raise TypeError("DaskExecutor.submit takes fn and one argument")
        dask_future = self.client.submit(exclusive, fn, args[0], pure=False)
        self._futures.append(dask_future)
        out: cf.Future[Any] = cf.Future()

        def done(f: Any) -> None:
            try:
                out.set_result(f.result())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting side
                out.set_exception(exc)

        dask_future.add_done_callback(done)
        return out

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            cancel(self.client, self._futures)
