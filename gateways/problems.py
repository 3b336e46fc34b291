"""What a gateway says about a client's mistakes: one line per problem, rate-limited.

Users point their own scripts and bots at the simulated brokers, so malformed,
truncated and abusive requests are part of ordinary traffic. Each one is worth one
WARNING line naming the peer and what was wrong, never a traceback (a traceback at
ERROR says *we* failed). A client that repeats its mistake thousands of times must not
turn the server's log into its own: past ``burst`` lines in ``window_s`` seconds the
lines are counted instead of printed, and the next line that gets through says how
many were held back. Time is trio's clock: gateways are wall-clock servers.
"""
from __future__ import annotations

import logging

import trio


class ProblemLog:
    """A rate-limited WARNING logger for client mistakes, shared by a gateway's sessions."""

    def __init__(self, logger: logging.Logger, *, burst: int = 20, window_s: float = 10.0) -> None:
        self.logger = logger
        self.burst = burst
        self.window_s = window_s
        self._window_start = float("-inf")
        self._printed = 0
        self.suppressed = 0
        self.total = 0  # every problem reported, printed or not (tests read it)

    def problem(self, peer: str, text: str) -> None:
        self.total += 1
        now = trio.current_time()
        if now - self._window_start >= self.window_s:
            self._window_start = now
            self._printed = 0
        if self._printed >= self.burst:
            self.suppressed += 1
            return
        self._printed += 1
        held = f" ({self.suppressed} similar lines suppressed)" if self.suppressed else ""
        self.suppressed = 0
        self.logger.warning("client %s: %s%s", peer, text, held)


def shorten(text: object, limit: int = 120) -> str:
    """A client's value in a log line or an error reply, never more than ``limit`` chars."""
    s = repr(text) if not isinstance(text, str) else text
    return s if len(s) <= limit else s[:limit] + f"... ({len(s)} chars)"
