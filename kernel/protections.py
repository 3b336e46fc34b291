"""Which of the kernel's protections are on: all of them, unless a test says otherwise.

A scenario that cannot fail proves nothing. Each incident and regression scenario is
therefore also run against a kernel with exactly one protection removed (the naive
design it guards against) and must then fail. Those switches are gathered here, in
one frozen object handed to the kernel when it is built, instead of being mutable
attributes of the kernel itself: nothing can turn a protection off on a kernel that is
already running, and a kernel built without saying otherwise has every one of them.

The named weakenings that the corpus test and the fuzzer use are defined in
``sim/weakenings.py``; production code never builds anything but ``Protections()``.
"""
from __future__ import annotations

import attrs


@attrs.frozen
class Protections:
    # --- exposure
    exposure_counts_working: bool = True
    """Exposure is the filled position plus working and queued entries (not filled only)."""
    fill_time_exposure_check: bool = True
    """An entry fill that reaches the cap cancels the entries still working."""
    recheck_entry_after_pacing: bool = True
    """An entry that waited for the order-rate budget is checked against the cap again."""
    # --- exits
    single_exit_lock: bool = True
    """At most one working exit per ticker."""
    gap_triggers_exit: bool = True
    """A price gap runs the exit checks on the tick that shows it."""
    emergency_max_attempts: int | None = None
    """``None``: the emergency exit retries until flat; a number gives up after that many."""
    emergency_retries_cross: bool = True
    """Each emergency retry after the first crosses the touch a little further."""
    ttl_counts_from_send: bool = True
    """A good-till-date life starts when the order is sent, after any pacing wait."""
    venue_stop_cancelled_first: bool = True
    """A kernel exit waits for the resting venue stop's cancel to be confirmed."""
    # --- session and feed
    disconnect_kill_switch: bool = True
    """Losing the venue fires the kill switch (cancel entries on reconnect)."""
    refused_actions_use_no_budget: bool = True
    """An action refused because the session is down uses no order-rate budget."""
    stale_blocks_entries: bool = True
    """No entry goes out on a ticker whose feed is stale."""
    session_day_resets_daily_loss: bool = True
    """With a session calendar, the daily loss limit counts from each session day's start."""
    rejects_bad_quotes: bool = True
    """A crossed or non-positive quote is refused (``quote_rejected``), prices unchanged."""
    rejects_bad_prints: bool = True
    """A last-trade print outside its own book (widened by ``bad_print_pct``) is refused."""
    # --- tickers
    discover_tickers: bool = True
    """A signal for a symbol not traded yet starts a supervisor for it."""
    # --- restarts
    restore_on_restart: bool = True
    """A restarted kernel rebuilds the day from the journal (P&L, kill switch, ids)."""
    reconcile_on_restart: bool = True
    """A restarted kernel reconciles with the venue before any entry."""
    # --- the kill switch's counters and reset rules
    error_count_restarts: bool = True
    """The error count fires at ``>= max_errors`` and restarts at zero on a reset (off:
    it fires only when the count equals the limit, so after a reset it never fires again)."""
    stale_lifts_itself: bool = True
    """The all-feeds-stale switch lifts itself when the stale feeds have resumed."""
