"""The end of a run: the per-ticker summary and the journal's ``run_finished`` event.

Read once, when a run stops (simulated or live), so it lives apart from the kernel's
hot paths; ``Kernel.summary`` and ``Kernel.journal_run_finished`` call in here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .units import fmt_units

if TYPE_CHECKING:
    from .runtime import Kernel


def journal_run_finished(k: "Kernel", violations: list[str]) -> None:
    """The journal's last event, alike simulated and live: final positions, realized
    P&L, broken invariants, and the summary's mark of each open position."""
    tickers = sorted(k.tickers.items())
    for _, ticker in tickers:
        ticker.flush_bar()
    marks = {s: r["mark"] for s, r in summary(k).items() if r["position"] != "0"}
    k.journal.emit(k.clock.now_ns(), "run_finished",
                   positions={s: str(t.position.qty) for s, t in tickers},
                   realized_pnl={s: fmt_units(t.position.realized) for s, t in tickers},
                   violations=violations, **({"marks": marks} if marks else {}))


def summary(k: "Kernel") -> dict[str, Any]:
    """Each ticker's figures as text (exact decimals): what the CLI prints and reports read."""
    out: dict[str, Any] = {}
    for sym in sorted(k.tickers):
        t = k.tickers[sym]
        pos = t.position
        mark = ((t.bid if pos.qty > 0 else t.ask) or t.last) if pos.qty else t.last
        unrealized = pos.unrealized(mark)
        out[sym] = {
            "position": str(pos.qty),
            "realized_pnl": fmt_units(pos.realized),  # net of fees, as the limits see it
            "fees": fmt_units(pos.fees),
            "unrealized_pnl": fmt_units(unrealized),  # marked where an exit would fill
            "net_pnl": fmt_units(pos.realized + unrealized),
            "mark": fmt_units(mark, t.inst.price_places),
            "trades": str(t.trades),
            "max_exposure": str(t.max_exposure),
            "exits": {why: str(n) for why, n in sorted(t.exits_by_reason.items())},
        }
        if t.strategy_failed is not None:
            out[sym]["strategy_error"] = t.strategy_failed
    return out
