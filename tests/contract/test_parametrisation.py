"""The contract suite runs against every venue: none may drop out unnoticed."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO, cli_env

from .conftest import HARNESS_FACTORIES

VENUES = {"sim", "ibkr", "kite"}
CONTRACT = Path(__file__).with_name("test_venue_contract.py")


def test_every_venue_has_a_harness() -> None:
    assert set(HARNESS_FACTORIES) == VENUES


def test_every_contract_test_is_collected_for_every_venue() -> None:
    """What pytest really collects from the contract module: each test once per venue."""
    tree = ast.parse(CONTRACT.read_text())
    names = {n.name for n in tree.body
             if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
             and n.name.startswith("test_")}
    assert len(names) >= 7, names
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=",
         "-p", "no:cacheprovider", str(CONTRACT)],
        cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    collected = {line.rsplit("::", 1)[1] for line in proc.stdout.splitlines() if "::" in line}
    expected = {f"{n}[{v}]" for n in names for v in VENUES}
    assert collected == expected, sorted(expected ^ collected)
