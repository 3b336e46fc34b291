"""A headless Chromium driven over the DevTools protocol: load a page, collect errors.

Just enough of the protocol for the report tests: open a file URL, wait for the load
event and for the page's scripts to settle, gather console errors, uncaught exceptions
and log errors, note every request that leaves the machine, evaluate an expression
and take a full-page screenshot. The browser is the system's (Debian: ``apt-get
install -y chromium``); ``find_chromium`` returns None where there is none.
"""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import attrs
import trio
from trio_websocket import open_websocket_url

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1280,900"]
_HANG_GUARD_S = 60  # a wedged browser fails the test instead of hanging it


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def dump_dom(browser: str, url: str, budget_ms: int = 10_000) -> str:
    """``chromium --dump-dom``: the DOM after the page's scripts ran (virtual time)."""
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}",
                               f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
                              capture_output=True, text=True, timeout=_HANG_GUARD_S,
                              check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium --dump-dom exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout


@attrs.define
class PageRun:
    errors: list[str] = attrs.Factory(list)  # console errors, exceptions, log errors
    remote_requests: list[str] = attrs.Factory(list)  # anything not file:, data:, blob:
    value: Any = None  # the evaluated expression's value
    screenshot: bytes = b""


class _Session:
    def __init__(self, ws: Any, run: PageRun) -> None:
        self.ws, self.run = ws, run
        self._next = 0
        self._waiting: dict[int, trio.MemorySendChannel] = {}
        self.loaded = trio.Event()

    async def reader(self) -> None:
        while True:
            msg = json.loads(await self.ws.get_message())
            if "id" in msg and msg["id"] in self._waiting:
                await self._waiting.pop(msg["id"]).send(msg)
                continue
            self._event(msg.get("method", ""), msg.get("params", {}))

    def _event(self, method: str, p: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.run.errors.append("console.error: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.run.errors.append("exception: " + str(
                d.get("exception", {}).get("description") or d.get("text")))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            self.run.errors.append("log: " + str(p["entry"].get("text")))
        elif method == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith(("file:", "data:", "blob:", "about:")):
                self.run.remote_requests.append(url)
        elif method == "Page.loadEventFired":
            self.loaded.set()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        send, recv = trio.open_memory_channel[dict](1)
        self._waiting[self._next] = send
        await self.ws.send_message(json.dumps({"id": self._next, "method": method,
                                               "params": params}))
        msg = await recv.receive()
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg.get("result", {})


async def _page_ws_url(port: int) -> str:
    def fetch() -> list[dict[str, Any]]:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            return json.loads(r.read())

    for _ in range(100):
        pages = [t for t in await trio.to_thread.run_sync(fetch) if t.get("type") == "page"]
        if pages:
            return str(pages[0]["webSocketDebuggerUrl"])
        await trio.sleep(0.1)
    raise RuntimeError("chromium opened no page target")


async def load(browser: str, url: str, expression: str, *, settle_s: float = 1.5) -> PageRun:
    """Load ``url``, let it settle, evaluate ``expression``, screenshot the whole page."""
    run = PageRun()
    profile = Path(tempfile.mkdtemp(prefix="triotrade-chromium-"))
    proc = subprocess.Popen([browser, *FLAGS, f"--user-data-dir={profile}",
                             "--remote-debugging-port=0", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with trio.fail_after(_HANG_GUARD_S):
            active = profile / "DevToolsActivePort"
            while not active.exists() or not active.read_text().strip():
                if proc.poll() is not None:
                    raise RuntimeError(f"chromium exited {proc.returncode} before listening")
                await trio.sleep(0.05)
            port = int(active.read_text().split()[0])
            async with open_websocket_url(await _page_ws_url(port),
                                          max_message_size=64 * 2**20) as ws:
                session = _Session(ws, run)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(session.reader)
                    for domain in ("Runtime", "Log", "Page", "Network"):
                        await session.call(f"{domain}.enable")
                    await session.call("Page.navigate", url=url)
                    await session.loaded.wait()
                    await trio.sleep(settle_s)  # Plotly draws after load; errors come then
                    res = await session.call("Runtime.evaluate", expression=expression,
                                             returnByValue=True)
                    run.value = res.get("result", {}).get("value")
                    metrics = await session.call("Page.getLayoutMetrics")
                    size = metrics.get("cssContentSize") or metrics["contentSize"]
                    shot = await session.call(
                        "Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": size["width"],
                              "height": size["height"], "scale": 1})
                    run.screenshot = base64.b64decode(shot["data"])
                    nursery.cancel_scope.cancel()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    return run
