"""Every Venue implementation runs the same contract tests.

Adapters register a factory here: an async function taking a nursery (for their
gateway and bridge tasks) and returning a started Harness.
"""
from __future__ import annotations

from typing import AsyncIterator

import pytest
import trio

from .harness import Harness, HarnessFactory
from .sim_harness import make_sim_harness

HARNESS_FACTORIES: dict[str, HarnessFactory] = {"sim": make_sim_harness}

try:  # the live adapters add themselves when their harness module exists
    from .ibkr_harness import make_ibkr_harness

    HARNESS_FACTORIES["ibkr"] = make_ibkr_harness
except ImportError:  # pragma: no cover - until the adapter lands
    pass
try:
    from .kite_harness import make_kite_harness

    HARNESS_FACTORIES["kite"] = make_kite_harness
except ImportError:  # pragma: no cover
    pass


@pytest.fixture(params=sorted(HARNESS_FACTORIES))
async def harness(request: pytest.FixtureRequest, nursery: trio.Nursery) -> AsyncIterator[Harness]:
    h = await HARNESS_FACTORIES[request.param](nursery)
    try:
        yield h
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            await h.venue.close()
