"""One playground session (data, params, optimizer state, history) and the store of them.

A :class:`Session` is what one browser tab trains: its :class:`~.settings.Settings`,
the drawn data, a :class:`~.engine.TrainState` and the per-epoch history. It is
advanced by the compiled chunk of :mod:`.engine` and turned into a JSON frame
(surfaces quantized to bytes, base64) for the page or the export.

A :class:`SessionStore` holds the sessions of one server, each with its own lock;
a session not touched for ``idle_seconds`` is dropped (:meth:`SessionStore.reap`).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import functional_nn as fnn
from functional_nn.playground import engine
from functional_nn.playground.settings import Settings, SettingsError, parse_settings

__all__ = ["make_data", "targets", "Session", "SessionStore"]

GRID = 48  # decision-surface resolution (GRID × GRID)
UNIT_GRID = 20  # resolution of each hidden unit's small map
MAX_UPDATES_PER_REQUEST = 20_000
MAX_SECONDS_PER_REQUEST = 2.0
MAX_HISTORY = (
    2000  # epochs kept; beyond, every other one is dropped and later ones kept at that stride
)


def make_data(settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """``x`` ``(n, 2)`` float32 and labels ``(n,)`` int32 of the chosen toy set, shuffled."""
    key = jax.random.fold_in(jax.random.key(settings.seed), 1)
    n, noise = settings.num_points, settings.noise
    if settings.data == "xor":
        x, y = fnn.data.xor_quadrants(n, key=key, noise=noise)
    elif settings.data == "circles":
        x, y = fnn.data.circle(n, key=key, noise=noise)
    elif settings.data == "spirals":
        x, y = fnn.data.spirals(n, key=key, noise=noise)
    elif settings.data == "moons":
        x, y = fnn.data.moons(n, key=key, noise=noise)
        x = (x - jnp.asarray([0.5, 0.25])) / 1.5  # into about [-1, 1]², as the other sets
    else:  # two Gaussians: each blob has spread 0.2, the noise level adds to it
        x, y = fnn.data.blobs(n, key=key, centers=[[-0.5, -0.5], [0.5, 0.5]], noise=0.2 + noise)
    return np.asarray(x, np.float32), np.asarray(y, np.int32)


def targets(loss: str, labels: np.ndarray) -> np.ndarray:
    """One column of 0/1 for a sigmoid head, one-hot rows for softmax."""
    if loss == "categorical_cross_entropy":
        return np.asarray(fnn.data.one_hot(labels, 2), np.float32)
    return labels[:, None].astype(np.float32)


class Session:
    """One tab's run. Not thread-safe by itself: the store hands out its lock."""

    def __init__(self, settings: Settings):
        self.lock = threading.Lock()
        self.last_used = 0.0
        self.settings = settings
        self._restart()

    # --- state changes ------------------------------------------------------------

    def _restart(self) -> None:
        """Fresh data (if they depend on changed fields), fresh params, empty history."""
        s = self.settings
        x, labels = make_data(s)
        m = s.num_train
        self.x_train, self.x_test = x[:m], x[m:]
        self.labels_train, self.labels_test = labels[:m], labels[m:]
        self.net = fnn.MLP(
            s.layer_sizes, activation=s.activation, output_activation=s.output_activation
        )
        self._set_program()
        self.state = engine.init_state(self.program, jax.random.fold_in(jax.random.key(s.seed), 2))
        self.history: dict[str, list[float]] = {"epoch": [], "train_loss": [], "test_loss": []}
        self.history_stride = (
            1  # the history keeps every stride-th epoch (1 until it grows past MAX_HISTORY)
        )
        self.latest = (
            0,
            float("nan"),
            float("nan"),
        )  # (epoch, J_train, J_test) of the last epoch done
        self._record(0, *map(float, engine.losses(self.program, self.state.params, self.data)))
        self.last_learning_rate = self._alpha(0)

    def _set_program(self) -> None:
        s = self.settings
        self.program = engine.Program(
            self.net, s.loss, s.method, s.effective_batch_size, len(self.x_train), len(self.x_test)
        )
        self.data = tuple(
            jnp.asarray(a)
            for a in (
                self.x_train,
                targets(s.loss, self.labels_train),
                self.x_test,
                targets(s.loss, self.labels_test),
            )
        )
        self.hyper = engine.Hyper(
            jnp.asarray(s.learning_rate, jnp.float32),
            fnn.inverse_time_decay(s.c1, s.c2),
            jnp.asarray(s.schedule == "inverse_time"),
        )

    def update_settings(self, fields: dict) -> bool:
        """Apply changed settings; returns True when the run restarted.

        The data, their split, the seed or the network's shape restart the run; the
        learning rate, schedule, batch size and gradient engine apply to the run as it is.
        """
        new = parse_settings(fields, self.settings)
        old, self.settings = self.settings, new
        if new.data_key() != old.data_key() or new.network_key() != old.network_key():
            self._restart()
            return True
        self._set_program()
        return False

    def reset(self, seed: int | None = None) -> None:
        """Start again with a new seed (the next one unless given): new data, new weights."""
        seed = self.settings.seed + 1 if seed is None else seed
        self.settings = parse_settings({"seed": seed % (2**31 - 1)}, self.settings)
        self._restart()

    def advance(
        self, *, updates: int | None = None, epochs: int | None = None, seconds: float | None = None
    ) -> dict[str, float]:
        """Do ``updates`` (or ``epochs`` × updates per epoch) updates, or as many as fit in ``seconds``.

        At most ``MAX_UPDATES_PER_REQUEST`` updates and ``MAX_SECONDS_PER_REQUEST`` seconds
        (the time limit is checked between chunks, so it binds only when ``seconds`` is given).
        A diverged run does nothing. Returns timing: ``{"updates": done, "seconds": wall time}``.
        """
        spe = self.program.steps_per_epoch
        if epochs is not None:
            updates = epochs * spe
        budget = min(
            MAX_UPDATES_PER_REQUEST, updates if updates is not None else MAX_UPDATES_PER_REQUEST
        )
        # a time budget only when asked for one: an explicit count is done in full (the first call compiles)
        deadline = (
            None if seconds is None else time.perf_counter() + min(seconds, MAX_SECONDS_PER_REQUEST)
        )
        start, asked, before = time.perf_counter(), 0, self.updates
        while asked < budget and not bool(self.state.diverged):
            n = min(self.program.chunk, budget - asked)
            self.state, report = engine.advance(self.program, self.state, self.hyper, self.data, n)
            asked += n
            report = jax.device_get(report)
            for i in np.flatnonzero(report.epoch_end):
                self._record(
                    int(report.epoch[i]), float(report.train_loss[i]), float(report.test_loss[i])
                )
            if n:
                self.last_learning_rate = float(report.learning_rate[n - 1])
            if deadline is not None and time.perf_counter() >= deadline:
                break
        return {"updates": self.updates - before, "seconds": time.perf_counter() - start}

    def _record(self, epoch: int, train_loss: float, test_loss: float) -> None:
        self.latest = (epoch, train_loss, test_loss)
        if epoch % self.history_stride:
            return
        h = self.history
        h["epoch"].append(epoch)
        h["train_loss"].append(train_loss)
        h["test_loss"].append(test_loss)
        if (
            len(h["epoch"]) > MAX_HISTORY
        ):  # thin out: a long full-batch run does thousands of epochs a second
            self.history_stride *= 2
            keep = [i for i, e in enumerate(h["epoch"]) if e % self.history_stride == 0]
            for key in h:
                h[key] = [h[key][i] for i in keep]

    def _alpha(self, k: int) -> float:
        s = self.settings
        return s.c1 / (k + s.c2) if s.schedule == "inverse_time" else s.learning_rate

    # --- reading ----------------------------------------------------------------------

    @property
    def updates(self) -> int:
        return int(self.state.updates)

    @property
    def epoch(self) -> int:
        return self.updates // self.program.steps_per_epoch

    def extent(self) -> list[float]:
        """``[x_min, x_max, y_min, y_max]`` of the plane drawn: the data plus a margin."""
        x = np.concatenate([self.x_train, self.x_test])
        lo, hi = x.min(axis=0), x.max(axis=0)
        half = 0.55 * float(max(hi - lo)) + 0.05
        mid = (lo + hi) / 2
        return [
            float(mid[0] - half),
            float(mid[0] + half),
            float(mid[1] - half),
            float(mid[1] + half),
        ]

    def frame(
        self, *, history_from: int = 0, grid: int = GRID, unit_grid: int = UNIT_GRID
    ) -> dict[str, Any]:
        """Everything the page draws, JSON-ready."""
        ext = self.extent()
        plane = _plane(ext, grid)
        small = _plane(ext, unit_grid)
        f = jax.device_get(
            engine.frame(self.net, self.state.params, plane, small, self.data[0], self.data[2])
        )
        h = self.history
        params = jax.device_get(self.state.params)
        return {
            "settings": self.settings.to_json(),
            "layer_sizes": list(self.net.layer_sizes),
            "epoch": self.epoch,
            "updates": self.updates,
            "steps_per_epoch": self.program.steps_per_epoch,
            "diverged": bool(self.state.diverged),
            "learning_rate": self.last_learning_rate,
            "train_loss": _finite(self.latest[1]),
            "test_loss": _finite(self.latest[2]),
            "start_test_loss": _finite(h["test_loss"][0]),
            "train_error": float(np.mean(f.train_pred != self.labels_train)),
            "test_error": float(np.mean(f.test_pred != self.labels_test)),
            "history_from": history_from,
            "history_stride": self.history_stride,
            "history": {k: [_finite(v) for v in values[history_from:]] for k, values in h.items()},
            "extent": ext,
            "grid": grid,
            "surface": _bytes(f.surface, 0.0, 1.0),
            "unit_grid": unit_grid,
            "units": [[_map(a[:, j]) for j in range(a.shape[1])] for a in f.units],
            "inputs": [_map(np.asarray(small[:, 0])), _map(np.asarray(small[:, 1]))],
            "weights": [np.round(layer.w, 4).tolist() for layer in params],
            "biases": [np.round(layer.b, 4).tolist() for layer in params],
            "points": {
                "train": _points(self.x_train, self.labels_train),
                "test": _points(self.x_test, self.labels_test),
            },
        }

    def check_gradients(self, max_rows: int = 16) -> dict[str, Any]:
        """``fnn.compare_gradients`` on the current params and the first training rows."""
        s = self.settings
        rows = slice(0, min(max_rows, len(self.x_train)))
        y = targets(s.loss, self.labels_train[rows])
        report = fnn.compare_gradients(
            self.net, s.loss, self.state.params, self.x_train[rows], y, max_fd_coords=64
        )
        return {
            "ok": report.ok,
            "title": report.title,
            "loss": report.loss_value,
            "text": str(report),
            "leaves": [
                {
                    "name": l.name,
                    "symbol": l.symbol,
                    "shape": list(l.shape),
                    "abs_autodiff": l.abs_autodiff,
                    "rel_autodiff": l.rel_autodiff,
                    "abs_fd": l.abs_fd,
                    "rel_fd": l.rel_fd,
                    "fd_coords": l.fd_coords,
                    "kinks": l.kinks,
                    "verdict": l.verdict,
                }
                for l in report.leaves
            ],
        }


def _finite(value: float) -> float | None:
    """JSON has no NaN or inf: a non-finite loss is sent as null."""
    return value if np.isfinite(value) else None


def _plane(extent: list[float], n: int) -> jax.Array:
    """``(n², 2)`` points of an ``n × n`` grid, row-major from the top (largest y) down."""
    xs = np.linspace(extent[0], extent[1], n, dtype=np.float32)
    ys = np.linspace(extent[3], extent[2], n, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    return jnp.asarray(np.stack([gx.ravel(), gy.ravel()], axis=1))


def _bytes(values: Any, lo: float, hi: float) -> str:
    """Values in ``[lo, hi]`` as base64 of one byte each (0..255)."""
    values = np.nan_to_num(np.asarray(values, np.float64), nan=lo, posinf=hi, neginf=lo)
    scaled = np.clip((values - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    return base64.b64encode(np.round(scaled * 255).astype(np.uint8).tobytes()).decode("ascii")


def _map(values: Any) -> dict[str, Any]:
    """A unit's output on the small grid, scaled to its own range (``lo``, ``hi`` sent along)."""
    values = np.asarray(values, np.float64)
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return {"lo": lo, "hi": hi, "data": _bytes(values, lo, hi)}


def _points(x: np.ndarray, labels: np.ndarray) -> list[list[float]]:
    return [[round(float(a), 4), round(float(b), 4), int(c)] for (a, b), c in zip(x, labels)]


class SessionStore:
    """The sessions of one server: create, look up, drop, and free the idle ones.

    Args:
        idle_seconds: a session not used for this long is freed.
        max_sessions: refuse new sessions beyond this (after freeing the idle ones).
        clock: seconds, monotonic; tests pass their own.
    """

    def __init__(
        self,
        *,
        idle_seconds: float = 600.0,
        max_sessions: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.idle_seconds = idle_seconds
        self.max_sessions = max_sessions
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._sessions)

    def create(self, fields: dict) -> tuple[str, Session]:
        settings = parse_settings(fields)
        self.reap()
        if len(self) >= self.max_sessions:
            raise SettingsError(
                f"too many sessions ({self.max_sessions}); close a tab or wait for idle "
                f"sessions to be freed"
            )
        session = Session(settings)
        session.last_used = self.clock()
        session_id = secrets.token_hex(8)
        with self._lock:
            self._sessions[session_id] = session
        return session_id, session

    def get(self, session_id: str) -> Session | None:
        """The session, marked as used now; ``None`` when unknown or freed."""
        self.reap()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                session.last_used = self.clock()
            return session

    def drop(self, session_id: str) -> bool:
        with self._lock:
            return self._sessions.pop(session_id, None) is not None

    def reap(self) -> list[str]:
        """Free every session idle for longer than ``idle_seconds``; returns their ids."""
        now = self.clock()
        with self._lock:
            idle = [
                sid
                for sid, s in self._sessions.items()
                if now - s.last_used > self.idle_seconds and not s.lock.locked()
            ]
            for sid in idle:
                del self._sessions[sid]
        return idle
