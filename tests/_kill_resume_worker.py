"""The training subprocess of ``tests/test_reliability_kill_resume.py`` (not a test module).

``python _kill_resume_worker.py DIR OUT`` runs a ``fit`` with early stopping, then a
``fit_many``, each with checkpoints in ``DIR`` and ``resume=True``, and writes their
results to ``OUT`` (an ``.npz``). It prints ``segment <run> <epoch>`` after every
segment and ``writing <run> <epoch>`` half-way through every checkpoint write, which
then pauses, so the parent can SIGKILL it at a chosen moment, a write included.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import functional_nn as fnn
from functional_nn import checkpoint, checkpoint_dir

NET = fnn.MLP((2, 4, 1), activation="tanh")
PAUSE_IN_WRITE = 0.3  # seconds a write waits half-way, so a kill can land inside it


def runs():
    """``{name: (function, kwargs)}``: the two runs, shared with the test's uninterrupted reference."""
    x = jax.random.normal(jax.random.key(0), (24, 2))
    y = jnp.sin(2 * x[:, :1])
    x_val = (
        3 * x[:6]
    )  # outside the training range: the validation loss turns up, early stopping acts
    shared = dict(
        batch_size=8, num_epochs=16, validation=(x_val, jnp.sin(2 * x_val[:, :1])), patience=3
    )
    # fit stops early after 11 epochs (best 8); fit_many's members stop after 12, 16 and 12
    single = dict(
        shared, learning_rate=2.0, params=NET.init(jax.random.key(1)), key=jax.random.key(2)
    )
    many = dict(shared, learning_rate=0.5, key=jax.random.split(jax.random.key(3), 3))
    return {
        "fit": (lambda **kw: fnn.fit(NET, x=x, y=y, **kw), single),
        "fit_many": (lambda **kw: fnn.fit_many(NET, x, y, **kw).members, many),
    }


def flatten(result) -> dict[str, np.ndarray]:
    """The bits a resumed run must reproduce, as named arrays."""
    out = {}
    for name in ("params", "best_params", "opt_state", "history", "best_epoch", "stopped_epoch"):
        for i, leaf in enumerate(jax.tree_util.tree_leaves(getattr(result, name))):
            out[f"{name}/{i}"] = np.asarray(leaf)
    return out


def main(directory: Path, out: Path) -> None:
    current = {"run": None}
    payload = checkpoint._write_payload

    def slow_write(f, arrays):
        buffer = io.BytesIO()
        payload(buffer, arrays)
        data = buffer.getvalue()
        f.write(data[: len(data) // 2])
        f.flush()
        print("writing", current["run"], current["step"], flush=True)
        time.sleep(PAUSE_IN_WRITE)
        f.write(data[len(data) // 2 :])

    save_step = checkpoint_dir.save_checkpoint_step

    def numbered(directory, step, *args, **kwargs):
        current["step"] = step
        return save_step(directory, step, *args, **kwargs)

    checkpoint._write_payload = slow_write
    checkpoint_dir.save_checkpoint_step = numbered
    results = {}
    for name, (run, kwargs) in runs().items():
        current["run"] = name

        def hook(state, name=name):
            print("segment", name, state.epoch, flush=True)

        result = run(
            checkpoint_dir=directory / name,
            checkpoint_every=2,
            resume=True,
            on_segment=hook,
            **kwargs,
        )
        results.update({f"{name}/{k}": v for k, v in flatten(result).items()})
    np.savez(out, **results)
    print("done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
