"""A scenario's timeline as session sources: its signals and its operator's acts.

``kernel/session.py`` builds every kernel from sources; live, signals come from a news
file and operator acts from a control socket, here they come from the scenario file,
scheduled on the simulator's clock at their virtual times. The acts call the same
synchronous ``Kernel`` methods a live operator's do, so they journal the same way.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import attrs

from ..kernel.killswitch import KillAction
from ..kernel.runtime import Kernel
from ..kernel.session import Task
from ..kernel.signals import Signal
from .engine import Engine
from .scenario_schema import OperatorSpec, SignalSpec

OPERATOR = "operator"  # who the journal says acted

Current = Callable[[], "Kernel | None"]  # the kernel alive now (runs with crash faults)


def _to(current: Current, act: Callable[[Kernel, Any], None]) -> Callable[[Any], None]:
    """An act delivered to whichever kernel is alive when it comes due (none: lost,
    as a signal sent to a dead process is)."""
    def deliver(arg: Any) -> None:
        kernel = current()
        if kernel is not None:
            act(kernel, arg)

    return deliver


@attrs.frozen
class ScenarioSignals:
    engine: Engine
    signals: Sequence[SignalSpec]
    current: Current | None = None  # default: the kernel attached to

    def attach(self, kernel: Kernel) -> Task | None:
        deliver = kernel.on_signal if self.current is None else _to(
            self.current, lambda k, sig: k.on_signal(sig))
        for sig in self.signals:
            self.engine.call_at(sig.t, deliver,
                                Signal(sig.symbol, sig.side, sig.t, sig.published,
                                       source=sig.source or "scenario"))
        return None


@attrs.frozen
class ScenarioOperator:
    engine: Engine
    acts: Sequence[OperatorSpec]
    current: Current | None = None  # default: the kernel attached to

    def attach(self, kernel: Kernel) -> Task | None:
        current: Current = self.current or (lambda: kernel)
        for op in self.acts:
            act: Callable[[Kernel, Any], Any]
            arg: Any
            if op.action == "kill_switch":
                act, arg = _kill, KillAction(op.mode)
            elif op.action == "flatten":
                act, arg = _flatten, op.symbol
            else:
                act, arg = _reset, None
            self.engine.call_at(op.t, _to(current, act), arg)
        return None


def _kill(kernel: Kernel, mode: KillAction) -> None:
    kernel.kill_switch(OPERATOR, mode)


def _flatten(kernel: Kernel, symbol: str) -> None:
    kernel.operator_flatten(symbol)


def _reset(kernel: Kernel, _: object) -> None:
    kernel.reset_kill_switch(OPERATOR)
