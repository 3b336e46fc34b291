"""Kill-switch actions: a closed, ordered set.

Each action includes the ones below it: ``stop_new_trades`` blocks entries,
``cancel_all`` also cancels the working entries, ``close_all`` also flattens every
position. The kernel asks "at least cancel_all?" rather than comparing strings, so a
misspelt action cannot quietly mean "do nothing". The values are the words the
journal and scenario files use.
"""
from __future__ import annotations

import enum


class KillAction(enum.StrEnum):
    STOP_NEW_TRADES = "stop_new_trades"
    CANCEL_ALL = "cancel_all"
    CLOSE_ALL = "close_all"

    def includes(self, other: KillAction) -> bool:
        """Whether firing this action also does everything ``other`` does."""
        return _RANK[self] >= _RANK[other]


_RANK = {action: i for i, action in enumerate(KillAction)}
