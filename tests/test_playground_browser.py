"""The playground in a real browser: headless Chromium trains two circles through the page,
and opens the static export.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ended by NUL on file descriptors 3 and 4), so nothing but the standard
library is needed and no port is opened besides the playground's own. The tests skip
only where no Chromium is installed; under CI (``CI=true``) a missing Chromium fails.
Screenshots are kept under ``out/``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out" / "playground"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WAIT_S = (
    120.0  # bound on every wait in the page (a cold gradient check on a loaded machine takes ~30 s)
)


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """Headless Chromium and one page, over the DevTools protocol on a pipe."""

    def __init__(self, executable: str):
        self.profile = tempfile.mkdtemp(prefix="fnn-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        args = [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--mute-audio",
            "--hide-scrollbars",
            f"--user-data-dir={self.profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # posix_spawn, not fork: JAX's threads make a fork unsafe. The child gets the pipes as fds 3
        # (commands) and 4 (answers); its own ends close here.
        self.pid = os.posix_spawn(
            executable,
            args,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, to_chrome_r, 3),
                (os.POSIX_SPAWN_DUP2, from_chrome_w, 4),
            ],
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self._lock = threading.Lock()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.send("Page.enable", session=True)

    def send(
        self,
        method: str,
        params: dict | None = None,
        *,
        session: bool = False,
        timeout: float = WAIT_S,
    ):
        with self._lock:
            self._next_id += 1
            message = {"id": self._next_id, "method": method, "params": params or {}}
            if session:
                message["sessionId"] = self.session
            os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
            deadline = time.monotonic() + timeout
            while True:
                answer = self._read(deadline)
                if answer.get("id") == self._next_id:
                    if "error" in answer:
                        raise RuntimeError(f"{method}: {answer['error']}")
                    return answer["result"]

    def _read(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if ready:
                chunk = os.read(self._from_chrome, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url}, session=True)

    def evaluate(self, expression: str):
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = WAIT_S, every: float = 0.2):
        """Poll ``expression`` until it is truthy; its value, or ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except RuntimeError:
                value = None  # the page is still loading
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:g} s for: {expression}")
            time.sleep(every)

    def screenshot(self, path: Path, width: int, height: int) -> Path:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )
        data = self.send("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - it may be gone already; it is killed below then
            pass
        if not self._reaped(10):
            os.kill(self.pid, signal.SIGKILL)
            self._reaped(10)
        for fd in (self._to_chrome, self._from_chrome):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _reaped(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return True
            time.sleep(0.05)
        return False


@pytest.fixture(scope="module")
def browser():
    executable = find_chromium()
    if executable is None:
        message = (
            "no Chromium found (looked for "
            + ", ".join(CHROMIUM_NAMES)
            + "); install it, e.g. apt-get install chromium"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}: CI must run the browser tests")
        pytest.skip(message)
    b = Browser(executable)
    yield b
    b.close()


@pytest.fixture(scope="module")
def server():
    from functional_nn.playground.server import PlaygroundServer

    srv = PlaygroundServer(0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=10)


SURFACE_PIXELS = """(() => {
  const c = document.getElementById('surface'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] * 65536 + d[i + 1] * 256 + d[i + 2]);
  return seen.size;
})()"""


def test_page_trains_two_circles_in_chromium(browser, server):
    # the same program (2-4-1 tanh, K = 10, 100 + 100 points) as tests/test_playground.py: compiled once
    query = "data=circles&num_points=200&hidden=4&activation=tanh&batch_size=10&learning_rate=0.3&play=1"
    browser.goto(f"{server.url}?{query}")
    # training runs until the test loss is below the starting one, on a drawn surface
    state = browser.wait_for("""(() => {
      const el = document.getElementById('test-loss');
      if (!el || !el.dataset.start) return null;
      const now = Number(el.dataset.value), start = Number(el.dataset.start);
      const drawn = Number(document.getElementById('surface').dataset.drawn);
      const epoch = Number(document.getElementById('epoch').textContent);
      return epoch >= 20 && now < 0.5 * start && drawn > 1 ? {now, start, drawn, epoch,
        text: el.textContent, ups: document.getElementById('ups').textContent,
        first: document.getElementById('first-frame-ms').textContent,
        message: document.getElementById('message').textContent} : null;
    })()""")
    assert state["now"] < state["start"] and state["message"] == ""
    assert float(state["text"]) == pytest.approx(state["now"], abs=1e-4)
    assert browser.evaluate("document.querySelector('select[name=data]').value") == "circles"
    # the surface is drawn: many colours, not one blank fill; the network diagram too
    assert browser.evaluate(SURFACE_PIXELS) > 20
    assert browser.evaluate(SURFACE_PIXELS.replace("'surface'", "'network'")) > 5
    browser.evaluate("document.getElementById('play').click()")  # pause
    path = browser.screenshot(OUT / "page.png", 1280, 720)
    assert path.stat().st_size > 10_000
    # "check gradients": fnn.compare_gradients' per-leaf table on the page
    browser.evaluate("document.getElementById('gradcheck').click()")
    rows = browser.wait_for("""(() => {
      const rows = [...document.querySelectorAll('#gradcheck-rows tr')];
      return rows.length ? rows.map(r => [r.cells[0].textContent, r.cells[9].textContent]) : null;
    })()""")
    assert rows == [
        [name, "good"]
        for name in (
            "params[0].w",
            "params[0].b",
            "params[1].w",
            "params[1].b",
            "delta[0]",
            "delta[1]",
        )
    ]
    assert "OK" in browser.evaluate("document.getElementById('gradcheck-title').textContent")
    # a bad value typed into the page: a clear message on the page, the run kept
    message = browser.evaluate("""(async () => {
      const input = document.querySelector('input[name=learning_rate]');
      input.value = '-1'; input.dispatchEvent(new Event('change', {bubbles: true}));
      for (let i = 0; i < 100 && !document.getElementById('message').textContent; i++)
        await new Promise(r => setTimeout(r, 50));
      return document.getElementById('message').textContent;
    })()""")
    assert "learning_rate" in message and "-1" in message


def test_export_opens_and_shows_first_and_last_frame(browser, tmp_path):
    from functional_nn.playground.export import export_html
    from functional_nn.playground.settings import parse_settings

    settings = parse_settings(
        {
            "data": "circles",
            "num_points": 200,
            "hidden": [4],
            "activation": "tanh",
            "batch_size": 10,
        }
    )
    path = export_html(tmp_path / "demo.html", settings, epochs=30, frames=4)
    html = path.read_text()
    assert "<script src" not in html and "http://" not in html.replace("http://www.w3.org", "")
    browser.goto(path.as_uri())
    first = browser.wait_for("document.getElementById('first-caption').textContent")
    last = browser.evaluate("document.getElementById('last-caption').textContent")
    assert first == "epoch 0" and last == "epoch 30"
    for canvas in ("first", "last", "surface"):
        assert browser.evaluate(SURFACE_PIXELS.replace("'surface'", f"'{canvas}'")) > 5, canvas
    # the slider shows each frame: the first one, then the last
    assert (
        browser.evaluate("FNNViewer.show(0, 0), document.getElementById('epoch').textContent")
        == "0"
    )
    assert (
        browser.evaluate("FNNViewer.show(0, 3), document.getElementById('epoch').textContent")
        == "30"
    )
    browser.screenshot(OUT / "export.png", 1100, 760)


def measure(seconds: float = 10.0) -> None:
    """Print the updates/s the page sustains and the time from play to the first drawn surface.

    ``python tests/test_playground_browser.py`` (two circles, a 2-8-8-1 tanh network, each batch size).
    """
    from functional_nn.playground.server import PlaygroundServer

    srv = PlaygroundServer(0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    b = Browser(find_chromium())
    first_ms = "Number(document.getElementById('first-frame-ms').textContent.split(' ')[0]) || null"
    try:
        print(
            "batch   play→surface (cold, first compile)   play→surface (warm)   updates/s   epochs/s"
        )
        for batch in ("1", "10", "all"):
            b.goto(
                f"{srv.url}?data=circles&hidden=8,8&activation=tanh&batch_size={batch}&learning_rate=0.03&play=1"
            )
            cold = b.wait_for(first_ms)
            time.sleep(seconds)
            ups = b.evaluate("Number(document.getElementById('ups').dataset.value)")
            epochs0 = b.evaluate("Number(document.getElementById('epoch').textContent)")
            time.sleep(2.0)
            eps = (
                b.evaluate("Number(document.getElementById('epoch').textContent)") - epochs0
            ) / 2.0
            b.evaluate("document.getElementById('play').click()")  # pause
            b.wait_for("document.getElementById('play').textContent === 'play'")
            time.sleep(0.5)
            b.evaluate(
                "document.getElementById('first-frame-ms').textContent = '–'; "
                "document.getElementById('play').click()"
            )
            warm = b.wait_for(first_ms)
            print(
                f"{batch:<7} {cold:>10.0f} ms {'':<26} {warm:>6.0f} ms {'':<10} {ups:>9.0f}   {eps:>8.1f}"
            )
    finally:
        b.close()
        srv.shutdown()
        srv.server_close()


if __name__ == "__main__":
    measure()
