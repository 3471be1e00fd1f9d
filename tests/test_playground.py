"""The playground's server API over real HTTP: training, no retrace, bad requests, sessions, idle freeing,
and the ``functional-nn playground`` command. (The gradient-check button is tested through the page, in
tests/test_playground_browser.py.)"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from functional_nn.cli import main
from functional_nn.playground import engine
from functional_nn.playground.server import PlaygroundServer
from functional_nn.playground.session import SessionStore
from functional_nn.playground.settings import Settings, SettingsError, parse_settings

# XOR on the plane with a 2-4-1 tanh network; the other tests reuse its compiled program
XOR = {
    "data": "xor",
    "hidden": [4],
    "activation": "tanh",
    "noise": 0,
    "num_points": 200,
    "batch_size": 10,
    "learning_rate": 1.0,
}
IDLE_S = 300.0


class Clock:
    """A monotonic clock the tests can move forward."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        import time

        return time.monotonic() + self.offset


@pytest.fixture(scope="module")
def server():
    srv = PlaygroundServer(0, store=SessionStore(idle_seconds=IDLE_S, clock=Clock()))
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=10)


def call(server, method: str, path: str, body=None, *, raw: bytes | None = None):
    """``(status, JSON answer)``; error statuses are returned, not raised."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server.url.rstrip("/") + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            payload = response.read()
            return response.status, json.loads(payload) if payload else None
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def new_session(server, settings=XOR) -> dict:
    status, frame = call(server, "POST", "/api/sessions", settings)
    assert status == 201, frame
    return frame


def test_the_page_and_its_files_are_served(server):
    with urllib.request.urlopen(server.url, timeout=30) as response:
        page = response.read().decode()
    assert '<canvas id="surface"' in page and "/static/playground.js" in page
    for name in ("playground.js", "playground.css"):
        with urllib.request.urlopen(f"{server.url}static/{name}", timeout=30) as response:
            assert response.status == 200 and len(response.read()) > 500
    status, options = call(server, "GET", "/api/options")
    assert status == 200 and options["defaults"] == Settings().to_json()


def test_a_session_trains_xor_to_zero_classification_error(server):
    frame = new_session(server)
    sid = frame["session"]
    assert frame["layer_sizes"] == [2, 4, 1] and frame["epoch"] == 0 and frame["updates"] == 0
    assert frame["train_error"] > 0.2  # the random start does not already solve it
    start = frame["test_loss"]
    for _ in range(40):  # at most 1000 epochs
        status, frame = call(server, "POST", f"/api/sessions/{sid}/advance", {"epochs": 25})
        assert status == 200, frame
        if frame["train_error"] == 0 and frame["test_error"] == 0:
            break
    assert frame["train_error"] == 0 and frame["test_error"] == 0, frame["epoch"]
    assert frame["test_loss"] < start / 4
    assert (
        frame["updates"] == frame["epoch"] * 10 == 10 * frame["history"]["epoch"][-1]
    )  # m = 100, K = 10
    # the per-epoch history: one row per epoch, fetched from an index on
    status, tail = call(server, "GET", f"/api/sessions/{sid}?history_from={frame['epoch'] - 2}")
    assert tail["history"]["epoch"] == [frame["epoch"] - 2, frame["epoch"] - 1, frame["epoch"]]
    # the surface and every hidden unit's map come as grid² bytes
    assert len(np.frombuffer(base64.b64decode(frame["surface"]), np.uint8)) == frame["grid"] ** 2
    assert [len(layer) for layer in frame["units"]] == [4]
    assert np.array(frame["weights"][0]).shape == (2, 4)


def test_a_changed_learning_rate_or_schedule_does_not_retrace(server):
    sid = new_session(server)["session"]
    assert call(server, "POST", f"/api/sessions/{sid}/advance", {"updates": 3})[0] == 200
    traces = engine.TRACE_COUNTS["advance"]
    for change in (
        {"learning_rate": 0.05},
        {"schedule": "inverse_time", "c1": 2.0, "c2": 4.0},
        {"c1": 3.0},
        {"method": "manual"},
    ):
        status, frame = call(server, "POST", f"/api/sessions/{sid}/settings", change)
        assert status == 200 and frame["restarted"] is False, frame
        status, frame = call(server, "POST", f"/api/sessions/{sid}/advance", {"updates": 5})
        assert status == 200
    assert engine.TRACE_COUNTS["advance"] == traces
    # α_k = c1/(k + c2) with k the update count: the last update was k = updates - 1
    assert frame["learning_rate"] == pytest.approx(3.0 / (frame["updates"] - 1 + 4.0), rel=1e-6)
    # the counter counts (this program was traced here, once) and jit holds one compiled version of it
    session = server.store.get(sid)
    assert traces >= 1 and engine._advance_fn(session.program)._cache_size() == 1


@pytest.mark.parametrize(
    "method, path, body, status, words",
    [
        ("POST", "/api/sessions", {"hidden": [4, 0]}, 400, ["hidden", "1 to 16 units", "0"]),
        ("POST", "/api/sessions", {"learning_rate": -1}, 400, ["learning_rate", "-1"]),
        ("POST", "/api/sessions", {"hidden": [2] * 20}, 400, ["at most 6 hidden layers", "20"]),
        ("POST", "/api/sessions", b'{"hidden": [4', 400, ["must be JSON"]),
        ("POST", "/api/sessions", b"[1, 2]", 400, ["JSON object", "list"]),
        ("POST", "/api/sessions", {"width": 3}, 400, ["unknown setting 'width'"]),
        (
            "POST",
            "/api/sessions",
            {"activation": "softmax"},
            400,
            ["activation must be one of", "softmax"],
        ),
        (
            "POST",
            "/api/sessions",
            {"learning_rate": "fast"},
            400,
            ["learning_rate must be a number", "fast"],
        ),
        (
            "POST",
            "/api/sessions",
            {"batch_size": 1000},
            400,
            ["batch_size", "at most the 150 training points"],
        ),
        (
            "POST",
            "/api/sessions",
            {"noise": float("inf")},
            400,
            ["must be JSON"],
        ),  # Infinity is not JSON
        ("POST", "/api/sessions", b"x" * 70_000, 413, ["at most 65536 bytes"]),
        ("GET", "/api/sessions", None, 405, ["use POST"]),
        ("GET", "/api/sessions/0123456789abcdef", None, 404, ["no session 0123456789abcdef"]),
        ("GET", "/api/nothing", None, 404, ["no such page"]),
        ("GET", "/static/../server.py", None, 404, ["no such file"]),
    ],
)
def test_bad_requests_get_a_4xx_and_a_message(server, capfd, method, path, body, status, words):
    raw = body if isinstance(body, bytes) else None
    if body is not None and raw is None:
        raw = json.dumps(body).encode()  # json.dumps writes inf as Infinity, which JSON refuses
    got, answer = call(server, method, path, raw=raw)
    assert got == status, answer
    for word in words:
        assert word in answer["error"]
    assert "Traceback" not in capfd.readouterr().err


def test_bad_requests_to_a_session_leave_it_usable(server, capfd):
    sid = new_session(server)["session"]
    for body, words in (
        ({}, ["exactly one of"]),
        ({"updates": 0}, ["updates", "[1, 100000]"]),
        ({"seconds": "1"}, ["seconds"]),
        ({"epochs": 1, "updates": 1}, ["exactly one of"]),
        ({"steps": 1}, ["unknown field 'steps'"]),
    ):
        status, answer = call(server, "POST", f"/api/sessions/{sid}/advance", body)
        assert status == 400 and all(w in answer["error"] for w in words), answer
    status, answer = call(server, "POST", f"/api/sessions/{sid}/settings", {"hidden": [64]})
    assert status == 400 and answer["field"] == "hidden"
    status, answer = call(server, "POST", f"/api/sessions/{sid}/reset", {"seed": -3})
    assert status == 400 and answer["field"] == "seed"
    status, answer = call(server, "GET", f"/api/sessions/{sid}?history_from=-1")
    assert status == 400 and "history_from" in answer["error"]
    status, frame = call(server, "POST", f"/api/sessions/{sid}/advance", {"updates": 2})
    assert status == 200 and frame["updates"] == 2 and frame["settings"]["hidden"] == [4]
    assert "Traceback" not in capfd.readouterr().err


def test_two_sessions_do_not_interfere(server):
    a, b = new_session(server), new_session(server)
    assert a["session"] != b["session"] and a["weights"] == b["weights"]  # same seed, same start
    call(server, "POST", f"/api/sessions/{a['session']}/settings", {"learning_rate": 0.2})
    _, a5 = call(server, "POST", f"/api/sessions/{a['session']}/advance", {"epochs": 5})
    _, b0 = call(server, "GET", f"/api/sessions/{b['session']}")
    assert (
        b0["updates"] == 0
        and b0["weights"] == b["weights"]
        and b0["settings"]["learning_rate"] == 1.0
    )
    _, b5 = call(server, "POST", f"/api/sessions/{b['session']}/advance", {"epochs": 5})
    assert (
        a5["updates"] == b5["updates"] == 50 and a5["weights"] != b5["weights"]
    )  # different rates
    call(server, "POST", f"/api/sessions/{b['session']}/settings", {"learning_rate": 0.2})
    _, b10 = call(server, "POST", f"/api/sessions/{b['session']}/reset", {"seed": 0})
    _, b15 = call(server, "POST", f"/api/sessions/{b['session']}/advance", {"epochs": 5})
    assert b10["updates"] == 0 and b15["weights"] == a5["weights"]  # the same run, bit for bit
    # a reset without a seed takes the next one: new data and new weights
    _, fresh = call(server, "POST", f"/api/sessions/{a['session']}/reset", {})
    assert (
        fresh["settings"]["seed"] == 1
        and fresh["updates"] == 0
        and fresh["weights"] != a["weights"]
    )
    assert call(server, "DELETE", f"/api/sessions/{a['session']}")[0] == 204
    assert call(server, "GET", f"/api/sessions/{a['session']}")[0] == 404
    assert call(server, "GET", f"/api/sessions/{b['session']}")[0] == 200


def test_an_idle_session_is_freed(server):
    store = server.store
    busy, idle = new_session(server)["session"], new_session(server)["session"]
    store.clock.offset += IDLE_S / 2
    assert call(server, "GET", f"/api/sessions/{busy}")[0] == 200  # used: its idle time restarts
    store.clock.offset += IDLE_S / 2 + 1
    assert set(store.reap()) >= {idle} and idle not in store.ids() and busy in store.ids()
    status, answer = call(server, "POST", f"/api/sessions/{idle}/advance", {"updates": 1})
    assert status == 404 and "freed after being idle" in answer["error"]
    store.clock.offset += IDLE_S + 1
    assert call(server, "GET", f"/api/sessions/{busy}")[0] == 404  # freed on the next request
    assert busy not in store.ids()


def test_a_long_history_is_thinned_not_unbounded(monkeypatch):
    from functional_nn.playground import session as session_module

    monkeypatch.setattr(session_module, "MAX_HISTORY", 8)
    s = session_module.Session(parse_settings(XOR))
    s.advance(epochs=50)
    epochs = s.history["epoch"]
    assert len(epochs) <= 8 and s.history_stride == 8 and all(e % 8 == 0 for e in epochs)
    assert epochs == sorted(epochs) and epochs[0] == 0 and s.latest[0] == s.epoch == 50
    frame = s.frame(history_from=0)
    assert frame["history_stride"] == 8 and frame["test_loss"] == pytest.approx(s.latest[2])


def test_a_non_finite_step_stops_the_run_and_keeps_the_last_params():
    import jax
    import jax.numpy as jnp

    from functional_nn.playground.session import Session

    s = Session(parse_settings(XOR))
    s.advance(updates=3)
    poisoned = s.state.params[1]._replace(w=s.state.params[1].w.at[0, 0].set(jnp.inf))
    s.state = s.state._replace(params=(s.state.params[0], poisoned))
    kept = jax.device_get(s.state.params)
    assert s.advance(updates=20)["updates"] == 0
    assert bool(s.state.diverged) and s.updates == 3
    assert all(
        np.array_equal(a, b, equal_nan=True)
        for a, b in zip(jax.tree.leaves(kept), jax.tree.leaves(s.state.params))
    )
    assert s.frame()["diverged"] is True and s.advance(updates=5)["updates"] == 0


def test_settings_are_checked_at_the_boundary():
    s = parse_settings({"hidden": "8,8", "batch_size": "all", "noise": "0.1"})
    assert s.layer_sizes == (2, 8, 8, 1) and s.effective_batch_size == s.num_train == 150
    assert parse_settings({"loss": "categorical_cross_entropy", "hidden": ""}).layer_sizes == (2, 2)
    with pytest.raises(SettingsError, match="seed must be an integer"):
        parse_settings({"seed": 1.5})
    with pytest.raises(SettingsError, match="train_fraction must be in"):
        parse_settings({"train_fraction": 1})


# --- the command ------------------------------------------------------------------------------


def test_playground_help_and_bad_flags(capsys):
    assert main(["playground", "--help"]) == 0
    out = capsys.readouterr().out
    assert (
        out.startswith("usage: functional-nn playground") and "--export" in out and "--open" in out
    )
    assert main(["playground", "--export", "x.html", "--hidden", "4,0"]) == 2
    assert "hidden" in capsys.readouterr().err


def test_export_through_the_command(tmp_path, capsys):
    path = tmp_path / "demo.html"
    code = main(
        [
            "playground",
            "--export",
            str(path),
            "--data",
            "xor",
            "--hidden",
            "4",
            "--activation",
            "tanh",
            "--noise",
            "0",
            "--points",
            "200",
            "--batch-size",
            "10",
            "--learning-rate",
            "1",
            "--epochs",
            "4",
            "--frames",
            "3",
            "--sweep",
            "learning_rate=0.5,1",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert str(path) in capsys.readouterr().out
    page = path.read_text()
    data = json.loads(
        page.split('<script type="application/json" id="frames">')[1].split("</script>")[0]
    )
    assert [m["label"] for m in data["members"]] == ["learning_rate = 0.5", "learning_rate = 1"]
    assert [f["epoch"] for f in data["members"][0]["frames"]] == [0, 2, 4]


def test_the_command_serves_on_a_free_port_and_stops_on_ctrl_c():
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with subprocess.Popen(
        # `python -m functional_nn.cli playground` with SIGINT's default handler, as a
        # terminal's foreground job has it: a shell's background job (`cmd &`) ignores SIGINT
        # and its children inherit that
        [
            sys.executable,
            "-c",
            "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "sys.argv = ['functional_nn.cli', 'playground']; "
            "runpy.run_module('functional_nn.cli', run_name='__main__', alter_sys=True)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        try:
            line = process.stdout.readline()
            assert "serving on http://127.0.0.1:" in line, line
            url = line.split("serving on ")[1].split()[0]
            with urllib.request.urlopen(url + "api/options", timeout=30) as response:
                assert json.loads(response.read())["data"] == [
                    "xor",
                    "circles",
                    "spirals",
                    "gaussians",
                    "moons",
                ]
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=30)
            assert process.returncode == 130 and "Traceback" not in err, err
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
