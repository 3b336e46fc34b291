"""docs/tutorial.md, run as written: every file it shows is written, every command run.

The tutorial is the first thing a new user follows; if it rots, they are gone. So the
test reads the markdown itself: a fenced block with ``file=NAME`` is written to NAME in
a scratch folder, each ``$ `` line of a ``console`` block is run there in order (``triotrade``
as this interpreter's ``-m triotrade``, ``python`` as this interpreter), and a block
marked ``background`` is started and left serving until the end (its port replaced by
a free one, so parallel runs do not collide). Each command must exit 0 without a
traceback; then the results the tutorial promises are checked in its outputs and
journals.
"""
from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest

from conftest import PYTHON, REPO, cli_env
from tws_support import free_port

TUTORIAL = REPO / "docs" / "tutorial.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.M | re.S)
DOC_PORT = "4102"


@attrs.frozen
class Block:
    lang: str
    flags: tuple[str, ...]
    body: str

    @property
    def file(self) -> str | None:
        for f in self.flags:
            if f.startswith("file="):
                return f[5:]
        return None


def blocks(text: str) -> list[Block]:
    return [Block(m[1], tuple(m[2].split()), m[3]) for m in FENCE.finditer(text)]


def argv(line: str, port: str) -> list[str]:
    words = shlex.split(line.replace(DOC_PORT, port))
    if words[0] == "triotrade":
        return [PYTHON, "-m", "triotrade", *words[1:]]
    if words[0] == "python":
        return [PYTHON, *words[1:]]
    raise AssertionError(f"the tutorial runs only triotrade and python: {line!r}")


def test_the_tutorial_blocks_are_what_the_test_expects() -> None:
    found = blocks(TUTORIAL.read_text(encoding="utf-8"))
    files = [b.file for b in found if b.file]
    assert files == ["breakout.py", "make_ticks.py", "breakout.yaml", "live.yaml"]
    commands = [b.body for b in found if b.lang == "console"]
    assert any("serve --protocol tws" in c for c in commands)
    assert any("--venue ibkr" in c and "--live" in c for c in commands)


def journal(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_the_tutorial_runs_end_to_end(tmp_path: Path) -> None:
    port = str(free_port())
    env = cli_env()
    outputs: dict[str, str] = {}
    servers: list[subprocess.Popen[str]] = []
    try:
        for block in blocks(TUTORIAL.read_text(encoding="utf-8")):
            if block.file is not None:
                (tmp_path / block.file).write_text(block.body, encoding="utf-8")
                continue
            if block.lang != "console":
                continue
            for line in block.body.splitlines():
                if not line.startswith("$ "):
                    continue
                cmd = line[2:]
                if "background" in block.flags:
                    proc = subprocess.Popen(argv(cmd, port), cwd=tmp_path, env=env, text=True,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                    servers.append(proc)
                    assert proc.stdout is not None
                    first = proc.stdout.readline()  # blocks until it listens (or dies)
                    assert f"listening on 127.0.0.1:{port}" in first, first
                    continue
                r = subprocess.run(argv(cmd, port), cwd=tmp_path, env=env, text=True,
                                   capture_output=True, check=False)
                assert r.returncode == 0 and "Traceback" not in r.stderr, \
                    f"$ {cmd}\n{r.stdout}\n{r.stderr}"
                outputs[cmd] = r.stdout
    finally:
        for proc in servers:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    [check] = [o for c, o in outputs.items() if c.startswith("triotrade check")]
    assert check.strip() == "breakout.yaml: ok"
    [run] = [o for c, o in outputs.items() if c.startswith("triotrade run breakout.yaml")]
    assert "result: OK" in run and "600 row(s) replayed" in run, run
    assert run.rstrip().splitlines()[-1].startswith("digest: sha256:")
    sim = journal(tmp_path / "runs" / "breakout.jsonl")
    mine = [e for e in sim if e["type"] == "signal" and e.get("source") == "strategy"]
    assert mine and all(e["strategy_reason"].startswith(("above", "below")) for e in mine)
    assert any(e["type"] == "fill" for e in sim)
    [report] = [o for c, o in outputs.items() if c.startswith("triotrade report")]
    assert "total" in json.loads(report)
    # live: the same strategy file, through ib_async, against the served CSV
    live = journal(tmp_path / "runs" / "live.jsonl")
    assert live[0]["live"] is True and live[0]["venue"] == "ibkr"
    assert any(e["type"] == "signal" and e.get("source") == "strategy" for e in live), \
        "the strategy saw the served ticks and said something"
    assert live[-1]["type"] == "run_finished"
    assert not any(e["type"] == "strategy_error" for e in sim + live)
