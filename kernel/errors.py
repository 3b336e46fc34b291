"""The product's error vocabulary, and a helper for exceptions that cross nurseries.

Every mistake a user can make in what they hand us (a scenario, a live config, a data
file, a strategy file, a command-line value) is an ``InputError``: it carries
``(key.path, problem)`` pairs and prints as ``SOURCE: key.path: problem``. The CLI maps
error classes to exit codes in one place (``triotrade/cli/exits.py``), so an input
mistake exits 2 the same way whichever part of the product found it.
"""
from __future__ import annotations


class InputError(Exception):
    """Invalid user input; nothing ran. ``problems`` holds (key.path, message) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """One ``SOURCE: key.path: problem`` line per problem (no source: no prefix)."""
        out = []
        for path, msg in self.problems:
            where = ": ".join(part for part in (self.source, path) if part)
            out.append(f"{where}: {msg}" if where else msg)
        return out


def find_exception(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first ``kind`` in ``exc`` or, for an exception group, among its leaves.

    trio wraps what escapes a nursery in groups; a CLI that wants to treat Ctrl-C or a
    refused connection as a user-facing outcome has to look inside.
    """
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            found = find_exception(sub, kind)
            if found is not None:
                return found
    return None
