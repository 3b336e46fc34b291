"""Re-record ``recorded_digests.json``: run every shipped scenario at its own seed.

Run it only when a change is meant to alter journals, and say in the commit message
which runs changed and why (the diff of the JSON file lists them).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "scenarios")]

from test_recorded_digests import RECORD, corpus_files  # noqa: E402

from triotrade.sim import runner, scenario  # noqa: E402


def main() -> None:
    out = {rel: runner.run(scenario.load(REPO / rel), keep_events=False).digest
           for rel in corpus_files()}
    RECORD.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(out)} digests in {RECORD}")


if __name__ == "__main__":
    main()
