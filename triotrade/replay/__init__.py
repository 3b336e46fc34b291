"""Replaying a recorded live session in the simulator, decision by decision.

A live journal (``venues/recording.py``) holds what the kernel saw and what it
decided. ``triotrade replay`` turns it into a scenario (``scenario_builder``: the
config and strategies, the recorded quotes as a market data file, the signals, the
disconnect windows, a venue estimated from the recording in ``venue_estimate``), runs
it, and compares the decisions of both runs (``decisions``, ``diff``). In execution
mode the simulated venue is replaced by the live session's own execution reports
(``exec_venue``), so any divergence left is the kernel's own. ``recording`` reads and
vets the journal; ``replayer`` puts the pieces together for the command.
"""
