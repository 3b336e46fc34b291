"""The test suite as the people who run it see it: ``pytest -q`` ends with the count,
and the slow lane is a marker CI runs and a local command can skip."""
from __future__ import annotations

import subprocess
import sys
import tomllib

from conftest import REPO


def test_pytest_q_prints_the_count() -> None:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/unit/test_units.py"], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed" in proc.stdout.splitlines()[-1], proc.stdout


def test_the_slow_lane_is_a_marker_ci_still_runs_and_the_readme_documents() -> None:
    ini = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "-q" not in ini.get("addopts", "").split()
    assert any(m.startswith("slow:") for m in ini["markers"])
    ci = (REPO / ".ci" / "run").read_text()
    assert ".venv/bin/python -m pytest\n" in ci  # CI runs everything, slow included
    assert 'pytest -m "not slow"' in (REPO / "README.md").read_text()
