"""The kill switch: one object holding every reason in force, its action and its counters.

The portfolio stops (daily loss, drawdown, cumulative loss, a lost venue, stale data,
the error count, the operator, the invariant tripwire) all land here, so there is one
answer to "may anything open now, and what must be undone". The object decides; the
kernel acts on its answers (``kernel/guard.py`` journals, cancels and flattens).

* **All reasons, in firing order.** Several conditions can hold at once (the feed went
  stale and then the daily loss limit fired); lifting one must leave the others in
  force, so every ``(reason, action)`` pair is kept, not only the first.
* **Actions escalate**: ``stop_new_trades`` < ``cancel_all`` < ``close_all``. The action
  in force is the strongest of the reasons in force; the kernel asks "at least
  cancel_all?" (``KillAction.includes``), never compares strings, so a misspelt action
  cannot quietly mean "do nothing".
* **Reset rules.** Loss and safety conditions are reset only by a person's journaled
  act: the kernel never talks itself back into opening positions after something went
  wrong. A pure data condition (``stale_data``: every feed silent) is not a loss: it
  lifts itself when the feeds it judged stale have resumed (``SELF_LIFTING``).
* **Counters.** The venue errors (rejects, inconsistent reports) are counted here; the
  count fires at ``>= max_errors`` (a count that jumps past the limit still fires) and
  restarts at zero on a reset, so a second burst after a reset fires again.

Plain synchronous code with no clock and no journal, so each rule is unit-tested on its
own (tests/unit/test_risk_killswitch.py).
"""
from __future__ import annotations

import enum

import attrs


class KillAction(enum.StrEnum):
    """A closed, ordered set; the values are the words the journal and scenarios use."""

    STOP_NEW_TRADES = "stop_new_trades"
    CANCEL_ALL = "cancel_all"
    CLOSE_ALL = "close_all"

    def includes(self, other: KillAction) -> bool:
        """Whether firing this action also does everything ``other`` does."""
        return _RANK[self] >= _RANK[other]


_RANK = {action: i for i, action in enumerate(KillAction)}

SELF_LIFTING = frozenset({"stale_data"})
"""Reasons that are data conditions, not losses: they lift themselves when the data
returns (journaled ``kill_switch_reset`` with ``by: data_resumed``). Every other reason
waits for a person's reset."""

CUMULATIVE = "max_loss_cumulative"


@attrs.define
class KillSwitch:
    """The kill switches in force and the error counter; decisions only, no side effects."""

    active: dict[tuple[str, KillAction], None] = attrs.Factory(dict)
    """Every (reason, action) in force, in firing order (a dict: ordered, deterministic)."""
    errors: int = 0
    """Venue errors since the start or the last reset."""
    stale_feeds: tuple[str, ...] = ()
    """The feeds the ``stale_data`` switch judged stale: it lifts when all have resumed."""

    # ------------------------------------------------------------ questions

    @property
    def halt_reason(self) -> str | None:
        """The first reason still in force (what a refused entry names), or None."""
        for reason, _ in self.active:
            return reason
        return None

    @property
    def reasons(self) -> list[str]:
        """Every reason in force, in firing order, each once."""
        return list(dict.fromkeys(reason for reason, _ in self.active))

    @property
    def action(self) -> KillAction | None:
        """The strongest action in force (actions escalate), or None."""
        strongest: KillAction | None = None
        for _, action in self.active:
            if strongest is None or action.includes(strongest):
                strongest = action
        return strongest

    @property
    def close_all(self) -> bool:
        """A close_all is in force: positions are being flattened, nothing to add."""
        return any(action is KillAction.CLOSE_ALL for _, action in self.active)

    def has(self, reason: str) -> bool:
        return any(r == reason for r, _ in self.active)

    # ------------------------------------------------------------ acts

    def fire(self, reason: str, action: KillAction) -> bool:
        """Put ``(reason, action)`` in force; False when it already was (nothing to do)."""
        key = (reason, action)
        if key in self.active:
            return False
        self.active[key] = None
        return True

    def errors_reached(self, max_errors: int) -> bool:
        """The error count has reached ``max_errors`` (``>=``: a count that jumped past
        the limit still fires) and the error kill switch is not already in force."""
        return self.errors >= max_errors and not self.has("error_count")

    def stale_lifts(self, still_stale: set[str]) -> bool:
        """The ``stale_data`` switch is in force and none of the feeds it judged stale
        is stale any more (``still_stale``: the symbols whose feed is stale now)."""
        return self.has("stale_data") and not any(s in still_stale for s in self.stale_feeds)

    def lift(self, reason: str) -> bool:
        """Take a self-lifting reason out of force, leaving every other reason; False
        when it was not in force. Refuses (ValueError) a reason that only a person may
        reset: the caller asked the wrong question."""
        if reason not in SELF_LIFTING:
            raise ValueError(f"{reason!r} is reset only by a person")
        keys = [key for key in self.active if key[0] == reason]
        for key in keys:
            del self.active[key]
        return bool(keys)

    def reset(self) -> None:
        """The manual reset: every reason out of force, the counters back to zero (a
        second burst of errors after a reset fires again)."""
        self.active.clear()
        self.errors = 0
        self.stale_feeds = ()
