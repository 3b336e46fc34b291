"""triotrade: one trio kernel, a deterministic simulated exchange, and live brokers."""

__version__ = "0.1.0"
