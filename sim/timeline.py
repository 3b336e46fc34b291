"""A scenario's timeline as session sources: its signals and its operator's acts.

``kernel/session.py`` builds every kernel from sources; live, signals come from a news
file and operator acts from a control socket, here they come from the scenario file,
scheduled on the simulator's clock at their virtual times. The acts call the same
synchronous ``Kernel`` methods a live operator's do, so they journal the same way.
"""
from __future__ import annotations

from typing import Sequence

import attrs

from ..kernel.killswitch import KillAction
from ..kernel.runtime import Kernel
from ..kernel.session import Task
from ..kernel.signals import Signal
from .engine import Engine
from .scenario_schema import OperatorSpec, SignalSpec

OPERATOR = "operator"  # who the journal says acted


@attrs.frozen
class ScenarioSignals:
    engine: Engine
    signals: Sequence[SignalSpec]

    def attach(self, kernel: Kernel) -> Task | None:
        for sig in self.signals:
            self.engine.call_at(sig.t, kernel.on_signal,
                                Signal(sig.symbol, sig.side, sig.t, sig.published,
                                       source="scenario"))
        return None


@attrs.frozen
class ScenarioOperator:
    engine: Engine
    acts: Sequence[OperatorSpec]

    def attach(self, kernel: Kernel) -> Task | None:
        for op in self.acts:
            if op.action == "kill_switch":
                self.engine.call_at(op.t, lambda mode: kernel.kill_switch(OPERATOR, mode),
                                    KillAction(op.mode))
            elif op.action == "flatten":
                self.engine.call_at(op.t, kernel.flatten, op.symbol)
            else:
                self.engine.call_at(op.t, lambda _: kernel.reset_kill_switch(OPERATOR))
        return None
