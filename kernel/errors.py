"""Small helpers for exceptions that cross nurseries."""
from __future__ import annotations


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
