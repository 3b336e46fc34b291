"""bench/plugin_data.py at a tiny size: it runs, and both of its comparisons replay the
same run (a file-loaded strategy and a CSV of the walk's ticks give the built-in's
digest). No timing asserted."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import PYTHON, REPO


def test_plugin_data_bench_smoke(tmp_path: Path) -> None:
    env = {**os.environ, "TRIOTRADE_BENCH_RESULTS": str(tmp_path)}
    proc = subprocess.run([PYTHON, str(REPO / "bench" / "plugin_data.py"), "--ticks", "20000",
                           "--repeat", "1"], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "plugin_data.json").read_text())["result"]
    assert data["ticks"] == 20000  # the walk's ticks inside the run: t < duration
    assert data["same_digest_file_strategy"] is True
    assert data["same_digest_csv"] is True
    assert "same digest: file strategy vs built-in, CSV vs generated: True, True" in proc.stdout
