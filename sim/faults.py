"""A scenario's faults as the exchange and the session suffer them: built in one place.

``triotrade run`` (``sim.runner``) and the wall-clock gateways (``gateways.realtime``)
serve the same scenario, so they must suffer the same faults. Each used to read
``scenario.faults`` itself and the gateways' copy silently left out latency,
disconnects and duplicate reports; a scenario served to a real client then lacked
the very fault it was written to show. ``build_faults`` is the one reading of the
fault list; each driver applies the plan on its own clock (virtual time for runs,
trio's clock times ``speed`` for gateways).
"""
from __future__ import annotations

import attrs

from .exchange import ExchangeFaults, Window
from .market import merge_halts
from .scenario import Scenario
from .venue import Latency


@attrs.frozen
class FaultPlan:
    """What the scenario's faults do: to the exchange, to delivery, to the session."""

    exchange: ExchangeFaults  # rejects, no-fill windows, partial fills, duplicate reports
    latency: Latency  # order, report and market-data delays (ns)
    outages: tuple[tuple[int, int], ...]  # disconnect windows [start, end), overlaps merged


def build_faults(scn: Scenario) -> FaultPlan:
    """The one reading of ``scn.faults`` (the last ``latency`` entry wins, as always)."""
    faults = ExchangeFaults()
    latency = Latency()
    downs: list[tuple[int, int]] = []
    for f in scn.faults:
        if f.kind == "latency":
            latency = Latency(f.order or 0, f.report or 0, f.data or 0)
        elif f.kind == "reject":
            assert f.t is not None and f.for_ is not None
            faults.rejects.append(Window(f.t, f.t + f.for_, f.role))
        elif f.kind == "no_fill":
            assert f.t is not None and f.for_ is not None
            faults.no_fills.append(Window(f.t, f.t + f.for_))
        elif f.kind == "partial_fill":
            faults.partial_max_qty = f.max_qty
        elif f.kind == "duplicate_reports":
            assert f.p is not None
            faults.duplicate_p = int(f.p * (1 << 32))
        elif f.kind == "disconnect":
            assert f.t is not None and f.for_ is not None
            downs.append((f.t, f.t + f.for_))
    return FaultPlan(faults, latency, merge_halts(downs))
