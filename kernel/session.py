"""One wiring: the only place a kernel session is built, simulated or live.

The promise is that the code trading live is the code the simulator tested. That holds
only if both worlds assemble the kernel the same way: the same strategies from
``config.strategies``, the same operator acts, the same checks of the journal. Two
builders drift (a live run once validated its strategies and then silently dropped
them), so there is one, ``build_session``, and the simulator's runner and the live
runner differ only in what they hand it: the venue, the clock, where signals and
operator acts come from, and what a broken invariant does.

The invariant checker is the simulator's (it needs the scenario to judge liveness),
so it is passed in as a factory rather than imported here: the kernel imports no
simulator. Live, it runs as a *tripwire*: every ``invariant_violated`` it journals
fires the kill switch, because a live kernel whose books have stopped adding up must
stop opening positions and cancel what it has working.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Protocol, Sequence

import attrs
import trio

from .clock import Clock
from .config import TradingConfig
from .instruments import Instrument, instrument_problems
from .journal import Journal, Listener
from .killswitch import KillAction
from .protections import Protections
from .runtime import Kernel, StrategyFactory
from .venue import Venue

CapFn = Callable[[str], tuple[int, int]]  # symbol -> (cap now, highest cap any tier allows)
Task = Callable[[], Awaitable[None]]

TRIPWIRE_REASON = "invariant_violated"


class Checker(Protocol):
    """A journal listener that judges every event and remembers what broke."""

    violations: list[dict[str, str]]

    def __call__(self, event: dict[str, Any]) -> None: ...


CheckerFactory = Callable[[Journal, CapFn], Checker]


class Source(Protocol):
    """Where signals or operator acts come from (a scenario's timeline, a news file,
    a control socket). ``attach`` is called once the kernel is built; it may schedule
    timers on the kernel's clock and may return a task to run beside the kernel."""

    def attach(self, kernel: Kernel) -> Task | None: ...


def setup_problems(instruments: list[Instrument], config: TradingConfig
                   ) -> list[tuple[str, str]]:
    """What is wrong with instruments + trading config together, as (key.path, problem).

    The same list for a scenario and a live config file: a setting the simulator
    refuses is refused live too.
    """
    from .config import validate_config

    out = instrument_problems(instruments)
    out.extend(validate_config(config))
    declared = {i.symbol for i in instruments}
    for i, sym in enumerate(config.tickers):
        if sym not in declared:
            out.append((f"config.tickers[{i}]", f"symbol {sym!r} is not declared under instruments"))
    for sym in config.strategies:
        if sym not in declared:
            out.append((f"config.strategies.{sym}",
                        f"symbol {sym!r} is not declared under instruments"))
    for sym in config.fees.symbols:
        if sym not in declared:
            out.append((f"config.fees.symbols.{sym}",
                        f"symbol {sym!r} is not declared under instruments"))
    return out


def cap_function(kernel: Kernel, config: TradingConfig) -> CapFn:
    """The position cap in force for a symbol, and the highest any tier allows."""
    sizing = config.sizing
    ceiling = max([sizing.max_position_size] + [t.max_position_size for t in sizing.tier_list])

    def cap_for(symbol: str) -> tuple[int, int]:
        t = kernel.tickers.get(symbol)
        return (t.sizing()[1] if t is not None else sizing.max_position_size), ceiling

    return cap_for


@attrs.define
class Session:
    """A built kernel with its checker and the tasks its sources run beside it."""

    kernel: Kernel
    checker: Checker | None
    tasks: list[Task]

    async def start(self, nursery: trio.Nursery) -> None:
        """Start the kernel (connected, tickers subscribed), then the sources' tasks."""
        await nursery.start(self.kernel.run)
        for task in self.tasks:
            nursery.start_soon(task)

    def violation_names(self) -> list[str]:
        return [v["invariant"] for v in self.checker.violations] if self.checker else []

    def finish(self) -> None:
        """The journal's last event, with the invariants that actually broke."""
        self.kernel.journal_run_finished(self.violation_names())


def build_session(*, venue: Venue, clock: Clock, journal: Journal, config: TradingConfig,
                  instruments: dict[str, Instrument],
                  strategies: StrategyFactory | None = None,
                  sources: Sequence[Source] = (), operator: Source | None = None,
                  checker: CheckerFactory | None = None, trip: KillAction | None = None,
                  protections: Protections = Protections(),
                  hook: Callable[[Kernel], None] | None = None,
                  reconcile_at_start: bool = False, restore: Any = None,
                  epoch_ns: int = 0) -> Session:
    """Build a kernel session; the one builder the simulator and live runs share.

    ``strategies``: the factory of ``config.strategies`` resolved by
    ``strategies.loader`` (the caller resolves them: files are relative to the
    scenario's or config's folder). ``checker`` builds the invariant
    checker, attached to the journal before anything runs. ``trip``: the kill-switch
    action a journaled ``invariant_violated`` fires (live: ``cancel_all``; the
    simulator judges the run instead and leaves it alone). ``hook`` is called with
    the kernel as soon as it exists, before the checker listens (the fuzzer attaches
    its own journal listener there). ``reconcile_at_start``: adopt the venue's
    positions and working orders before any entry (live, restarts). ``restore``: a
    ``kernel.restore.DayState`` read from an earlier run's journal (a restart).
    ``epoch_ns``: the Unix time of clock time 0 (the scenario's start; 0 live).
    """
    kernel = Kernel(config=config, clock=clock, venue=venue, journal=journal,
                    instruments=dict(instruments),
                    strategy_factory=strategies,
                    protections=protections, reconcile_at_start=reconcile_at_start,
                    restore=restore, epoch_ns=epoch_ns)
    if hook is not None:
        hook(kernel)
    built: Checker | None = None
    if checker is not None:
        built = checker(journal, cap_function(kernel, config))
        journal.add_listener(built)
    if trip is not None:
        journal.add_listener(_tripwire(kernel, trip))
    tasks = []
    for source in [*([operator] if operator is not None else []), *sources]:
        task = source.attach(kernel)
        if task is not None:
            tasks.append(task)
    return Session(kernel, built, tasks)


def _tripwire(kernel: Kernel, action: KillAction) -> Listener:
    def trip(event: dict[str, Any]) -> None:
        if event["type"] == "invariant_violated":
            kernel.kill_switch(TRIPWIRE_REASON, action)

    return trip
