"""Shared helpers for the test suite.

Everything here is plain functions and small classes: tests import them with
``from conftest import ...`` (pytest puts this directory on ``sys.path``).
"""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

import pytest

from triotrade.kernel.units import NS_PER_S, fmt_units, to_units
from triotrade.sim import fuzz

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
SCENARIOS = REPO / "scenarios"
PYTHON = sys.executable

MS = NS_PER_S // 1000


def pytest_configure(config: pytest.Config) -> None:
    fuzz.register_profiles()  # the fuzzer's Hypothesis profiles, by name


def px(text: str) -> int:
    """A price literal as integer units (1e-8)."""
    return to_units(text)


def dec(units: int) -> Decimal:
    """Integer units back to an exact Decimal, for assertions."""
    return Decimal(fmt_units(units))


def secs(s: float | int) -> int:
    """Seconds (or fractions given as e.g. 1.05) as integer ns; exact for ms values."""
    return int(round(s * 1000)) * MS


# ------------------------------------------------------------------ subprocesses


def cli_env(hashseed: int | str | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONHASHSEED", None)
    if hashseed is not None:
        env["PYTHONHASHSEED"] = str(hashseed)
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    # keep rich from guessing a terminal; the CLI's output must not depend on it
    env["COLUMNS"] = "110"
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def run_cli(args: Sequence[str], *, cwd: Path, hashseed: int | str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m triotrade ARGS`` in a fresh process."""
    return subprocess.run(
        [PYTHON, "-m", "triotrade", *args], cwd=cwd, env=cli_env(hashseed),
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def run_python(code: str, *args: str, cwd: Path, hashseed: int | str | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-c", code, *args], cwd=cwd, env=cli_env(hashseed),
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def parallel(calls: Iterable[Any], workers: int | None = None) -> list[Any]:
    """Run zero-argument callables (each typically waits on a subprocess) in parallel."""
    calls = list(calls)
    n = workers or max(2, min(len(calls), 2 * (os.cpu_count() or 2)))
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda f: f(), calls))


def last_digest(stdout: str) -> str:
    """The contract: the last line of ``triotrade run`` is ``digest: sha256:<hex>``."""
    lines = stdout.rstrip("\n").splitlines()
    assert lines, "triotrade run printed nothing"
    last = lines[-1]
    assert last.startswith("digest: sha256:"), f"last line is not the digest: {last!r}"
    hexpart = last[len("digest: sha256:"):]
    assert len(hexpart) == 64 and all(c in "0123456789abcdef" for c in hexpart), last
    return last[len("digest: "):]


def assert_no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both, f"traceback in CLI output:\n{both}"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A scratch cwd for CLI subprocesses (the CLI writes runs/ relative to it)."""
    d = tmp_path / "cwd"
    d.mkdir()
    return d
