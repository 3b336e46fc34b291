"""A set of order ids in memory that does not grow with a long run.

The invariant checker remembers every order id ever sent (``order_id_unique``: one
intent, one order). The kernel's ids are a prefix and a counter ("O1", "O2", ...), so
they are kept as runs of consecutive numbers per prefix: a run of any length is two
ints, and a 10 M-tick simulation's 160 k ids are one run instead of 160 k strings.
An id of any other form is kept as it is.
"""
from __future__ import annotations

from bisect import bisect_right


class IdSet:
    """Membership and insertion of order ids (never iterated)."""

    __slots__ = ("_runs", "_other")

    def __init__(self) -> None:
        self._runs: dict[str, tuple[list[int], list[int]]] = {}  # prefix -> (starts, ends)
        self._other: set[str] = set()

    @staticmethod
    def _split(oid: str) -> tuple[str, int] | None:
        """(prefix, number) of a canonical id: trailing ASCII digits, no leading zero."""
        prefix = oid.rstrip("0123456789")
        digits = oid[len(prefix):]
        if not digits or (digits[0] == "0" and digits != "0"):
            return None
        return prefix, int(digits)

    def __contains__(self, oid: str) -> bool:
        split = self._split(oid)
        if split is None:
            return oid in self._other
        runs = self._runs.get(split[0])
        if runs is None:
            return False
        starts, ends = runs
        i = bisect_right(starts, split[1]) - 1
        return i >= 0 and split[1] <= ends[i]

    def add(self, oid: str) -> None:
        split = self._split(oid)
        if split is None:
            self._other.add(oid)
            return
        prefix, n = split
        starts, ends = self._runs.setdefault(prefix, ([], []))
        i = bisect_right(starts, n) - 1
        if i >= 0 and n <= ends[i]:
            return
        left = i >= 0 and ends[i] == n - 1
        right = i + 1 < len(starts) and starts[i + 1] == n + 1
        if left and right:  # n closes the gap between two runs
            ends[i] = ends[i + 1]
            del starts[i + 1], ends[i + 1]
        elif left:
            ends[i] = n
        elif right:
            starts[i + 1] = n
        else:
            starts.insert(i + 1, n)
            ends.insert(i + 1, n)
