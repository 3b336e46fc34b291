"""Exit codes, and the one map from an error to the code and message a user sees.

The codes are part of the contract (``docs/`` lists them): 0 everything held, 1 an
expectation or invariant failed, 2 the input was invalid and nothing ran, 3 the venue
could not be reached or refused the credentials (for ``ctl``: no run answers on the
control socket). Every command turns an exception into
an exit through ``exit_for``, so two commands never disagree about the same error.
"""
from __future__ import annotations

import enum

from ..kernel.errors import InputError, find_exception
from ..kernel.venue import VenueError
from ..wire.control import ControlUnreachable


class Exit(enum.IntEnum):
    OK = 0
    FAILED = 1  # an expectation, an invariant or a strategy failed; the run happened
    INVALID_INPUT = 2  # nothing ran
    VENUE_UNREACHABLE = 3  # could not connect or authenticate (ctl: no run); nothing done


def exit_for(exc: BaseException) -> tuple[Exit, list[str]] | None:
    """The exit code and message lines for ``exc`` (searched inside trio's groups).

    ``None`` means the exception is not a user-facing outcome: a bug, to be raised.
    """
    found = find_exception(exc, InputError)
    if isinstance(found, InputError):
        return Exit.INVALID_INPUT, found.lines()
    found = find_exception(exc, VenueError)
    if found is not None:
        return Exit.VENUE_UNREACHABLE, [f"error: {found}"]
    found = find_exception(exc, ControlUnreachable)
    if found is not None:
        return Exit.VENUE_UNREACHABLE, [f"error: {found}"]
    found = find_exception(exc, OSError)
    if isinstance(found, OSError):
        where = f"{found.filename}: " if found.filename else ""
        return Exit.INVALID_INPUT, [f"{where}{found.strerror or found}"]
    return None
