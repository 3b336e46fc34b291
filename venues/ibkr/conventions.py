"""How the adapter's values look to IB: message codes, prices, order refs, good-till-date.

Every other module of the adapter asks these few definitions; none of them does I/O.
``ib_async`` is imported lazily (``load_ib_async``): the simulator-only paths of the CLI
never need it.
"""
from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any, Callable

from ...kernel.orders import Order, Role
from ...kernel.units import NS_PER_S, UnitError, to_units

DEFAULT_PORT = 4002  # IB Gateway, paper account
# Codes that mean "this new order was not accepted" when IB has not acknowledged it.
REJECT_CODES = frozenset({103, 110, 200, 201, 203, 382, 383, 434})
CANCEL_CODE = 202
LINK_LOST = 1100
LINK_RESTORED_DATA_LOST = 1101
LINK_RESTORED = 1102
CLIENT_ID_IN_USE = 326
ROLES = {r.value for r in Role}
# A latency probe: ``probe(point, perf_counter_ns, info)``; see ``IbkrVenue`` ("Probe").
Probe = Callable[[str, int, Any], None]
CANCELLED_STATUSES = ("Cancelled", "ApiCancelled")
ACKED_STATUSES = ("PreSubmitted", "Submitted")



def load_ib_async() -> Any:
    """Import ib_async lazily: the sim-only paths of the CLI never need it."""
    import ib_async

    return ib_async


def price_units(value: float) -> int:
    """An ib_async price (a float parsed from the server's decimal text) -> exact units."""
    if value is None or math.isnan(value) or math.isinf(value):
        raise UnitError(f"not a price: {value!r}")
    text = repr(float(value))
    try:
        return to_units(text)
    except UnitError:
        # more than 8 decimals (never for stocks): round half-even at 1e-8, on the text
        return to_units(Decimal(text).quantize(Decimal("0.00000001")))


def order_ref(order: Order, run_tag: str) -> str:
    return f"{order.role.value}:{order.order_id}:{run_tag}"


def parse_order_ref(ref: str) -> tuple[str, str] | None:
    """``ROLE:order_id:run`` -> (role, order_id); None for refs that are not ours."""
    parts = ref.split(":")
    if len(parts) >= 2 and parts[0] in ROLES:
        return parts[0], parts[1]
    return None


def gtd_text(expire_ns: int) -> str:
    """Good-till-date as IB reads it: whole seconds, UTC (the ``-`` form), rounded up."""
    secs = -(-expire_ns // NS_PER_S)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(secs))
