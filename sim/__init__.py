"""The deterministic simulated exchange, scenario loader/runner and fuzzing."""
