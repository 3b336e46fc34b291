"""Every Venue implementation runs the same contract tests.

Each venue registers a factory here: an async function taking a nursery (for its
gateway and bridge tasks) and returning a started Harness. The harnesses are imported
plainly: a harness that fails to import is a broken test rig, and it must fail the run
rather than silently drop that venue's contract runs.
"""
from __future__ import annotations

from typing import AsyncIterator

import pytest
import trio

from .harness import Harness, HarnessFactory
from .ibkr_harness import make_ibkr_harness
from .kite_harness import make_kite_harness
from .sim_harness import make_sim_harness

HARNESS_FACTORIES: dict[str, HarnessFactory] = {
    "sim": make_sim_harness,
    "ibkr": make_ibkr_harness,
    "kite": make_kite_harness,
}


@pytest.fixture(params=sorted(HARNESS_FACTORIES))
async def harness(request: pytest.FixtureRequest, nursery: trio.Nursery) -> AsyncIterator[Harness]:
    h = await HARNESS_FACTORIES[request.param](nursery)
    try:
        yield h
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            await h.venue.close()
