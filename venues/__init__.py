"""The Venue protocol and the live broker adapters."""
