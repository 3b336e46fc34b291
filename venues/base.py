"""The Venue protocol (defined in the kernel, which must not import venues)."""
from ..kernel.venue import (  # noqa: F401 - re-exported as the public names
    ExecReport,
    OpenOrder,
    QuoteHandler,
    ReportKind,
    Venue,
    VenueError,
    VenueSink,
)

__all__ = ["ExecReport", "OpenOrder", "QuoteHandler", "ReportKind", "Venue", "VenueError",
           "VenueSink"]
