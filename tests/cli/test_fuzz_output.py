"""What ``triotrade fuzz`` prints for the person reading it: paths whole on a narrow
terminal, no shrinking claim when nothing was shrunk, and signs of life on a pipe."""
from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from conftest import assert_no_traceback, run_cli
from triotrade.cli.fuzz import print_finds
from triotrade.sim.fuzz_finds import Written


def test_finds_keep_their_paths_whole_on_an_80_column_terminal() -> None:
    path = ("fuzz-finds/some/deeper/folder/single_working_exit-"
            "0123456789abcdef0123456789abcdef.yaml")
    written = [Written("single_working_exit", path, "sha256:" + "ab" * 32, True, [], 40)]
    buf = io.StringIO()
    console = Console(file=buf, width=80, highlight=False, markup=False, soft_wrap=True)
    print_finds(console, {"single_working_exit": 7, "exposure_cap": 2}, written)
    lines = buf.getvalue().splitlines()
    assert path in [line.strip() for line in lines], buf.getvalue()
    table = [line for line in lines if "single_working_exit" in line and path not in line]
    assert table and all(len(line) <= 80 for line in table), buf.getvalue()


def test_a_piped_campaign_prints_progress_lines_and_claims_no_shrinking(tmp_path: Path) -> None:
    proc = run_cli(["fuzz", "-n", "6", "-j", "0", "--seed", "3", "--progress-every", "0",
                    "--out", str(tmp_path / "finds")], cwd=tmp_path)
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ran 6 examples in" in proc.stdout
    assert "with shrinking" not in proc.stdout  # nothing was found, so nothing shrunk
    # the batches are planned per worker count: the line that repeats them names it
    assert "  repeat with: triotrade fuzz -n 6 --seed 3 -j 0\n" in proc.stdout
    progress = [line for line in proc.stderr.splitlines() if line.startswith("fuzz: ")]
    assert progress and progress[-1].startswith("fuzz: 6/6 examples"), proc.stderr


def test_finds_on_a_weakened_kernel_demonstrate_it_and_are_not_regressions(
        tmp_path: Path) -> None:
    proc = run_cli(["fuzz", "--weaken", "single_exit_lock", "-n", "100", "-j", "0",
                    "--seed", "5", "--progress-every", "0", "--out", str(tmp_path / "finds")],
                   cwd=tmp_path, timeout=300)
    assert_no_traceback(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "  repeat with: triotrade fuzz -n 100 --seed 5 --weaken single_exit_lock -j 0\n" \
        in proc.stdout
    (result,) = [line for line in proc.stdout.splitlines() if line.startswith("result: ")]
    assert "on the kernel weakened with 'single_exit_lock'" in result
    assert "demonstrate the weakening (the real kernel passes them" in result
    assert "scenarios/regressions" not in result
