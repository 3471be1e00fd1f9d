"""The program the subprocesses of tests/test_multiprocess.py run (not a test module itself).

``python tests/multiprocess_worker.py MODE OUT.json`` with MODE

* ``fit``: one process of a ``functional_nn.launch`` run. It makes only its own rows,
  trains on them as global arrays over all devices and over one device per process,
  checks that mismatched configurations are refused, and process 0 writes the results;
* ``fit-then-die``: the same, then a checkpointed run whose process 1 kills itself
  (SIGKILL) after a checkpoint; process 0 must then be ended by JAX's runtime (one launch
  pays JAX's start-up and the compilation once for all these checks);
* ``members``: a single process with 4 simulated devices: ``fit_many`` over a
  ``"members"`` mesh (and a ``("members", "data")`` one) against one device and
  against ``fit``;
* ``resume``: after ``fit-then-die``, its killed run's call with ``resume=True`` in two
  new processes.

The data and settings are :func:`rows` and :data:`SETTINGS`, shared with the test,
which computes the one-process, one-device reference itself.
"""

from __future__ import annotations

import json
import os
import signal
import sys

NUM_ROWS, NUM_VAL = 64, 32
LAYERS = (3, 8, 2)
SETTINGS = dict(
    loss="categorical_cross_entropy", learning_rate=0.5, batch_size=8, num_epochs=40, patience=3
)


def rows(start: int, stop: int, *, seed: int = 0):
    """Rows ``start .. stop − 1`` of the data set, each drawn from its own seed: ``(x, labels)``.

    A process makes only the rows it holds; the labels are a noisy function of x,
    so that early stopping ends the run before ``num_epochs``.
    """
    import numpy as np

    x = np.stack(
        [np.random.default_rng((seed, i)).normal(size=LAYERS[0]) for i in range(start, stop)]
    )
    noise = np.array(
        [np.random.default_rng((seed, i, 1)).random() < 0.25 for i in range(start, stop)]
    )
    labels = ((x[:, 0] * x[:, 1] > 0) ^ noise).astype(np.int32)
    return x.astype(np.float32), labels


def network_and_params():
    import jax

    import functional_nn as fnn

    net = fnn.MLP(LAYERS, activation="tanh", output_activation="softmax")
    return net, net.init(jax.random.key(1)), jax.random.key(2)


def tree_json(tree):
    import jax
    import numpy as np

    return [np.asarray(leaf, np.float64).tolist() for leaf in jax.tree_util.tree_leaves(tree)]


def result_json(result) -> dict:
    import numpy as np

    return {
        "params": tree_json(result.params),
        "best_params": tree_json(result.best_params),
        "stopped_epoch": int(result.stopped_epoch),
        "best_epoch": int(result.best_epoch),
        "history": {k: np.asarray(v, np.float64).tolist() for k, v in result.history.items()},
    }


def fit_mode(out: str, mode_die: bool = False) -> None:
    from functional_nn import parallel

    parallel.initialize()
    import jax
    import numpy as np

    import functional_nn as fnn

    p, n = jax.process_index(), jax.process_count()
    lo, hi = p * NUM_ROWS // n, (p + 1) * NUM_ROWS // n
    vlo, vhi = p * NUM_VAL // n, (p + 1) * NUM_VAL // n
    x, labels = rows(lo, hi)
    x_val, labels_val = rows(NUM_ROWS + vlo, NUM_ROWS + vhi)
    net, params, key = network_and_params()
    report = {"processes": n, "devices": jax.device_count()}
    for name, devices in (
        ("all_devices", jax.devices()),
        (
            "one_device_per_process",
            [next(d for d in jax.devices() if d.process_index == q) for q in range(n)],
        ),
    ):
        mesh = fnn.data_mesh(devices)
        gx = parallel.global_rows(x, mesh, "x")
        gy = parallel.global_rows(labels, mesh, "y")
        val = (
            parallel.global_rows(x_val, mesh, "x_val"),
            parallel.global_rows(labels_val, mesh, "y_val"),
        )
        # this process holds exactly its own rows, and no other process's
        held = sorted({(s.index[0].start, s.index[0].stop) for s in gx.addressable_shards})
        assert not gx.is_fully_addressable and gx.shape == (NUM_ROWS, LAYERS[0]), gx.shape
        assert held[0][0] == lo and held[-1][1] == hi, (held, lo, hi)
        mine = np.concatenate(
            [
                np.asarray(s.data)
                for s in sorted(gx.addressable_shards, key=lambda s: s.index[0].start)
            ]
        )
        assert np.array_equal(np.unique(mine, axis=0), np.unique(x, axis=0))
        result = fnn.fit(net, params, gx, gy, key=key, validation=val, mesh=mesh, **SETTINGS)
        report[name] = result_json(result)
        report[name]["mesh_devices"] = len(devices)
        report[name]["held_rows"] = [lo, hi]
    # a configuration that differs between processes is refused in every process
    mesh = fnn.data_mesh()
    gx, gy = parallel.global_rows(x, mesh, "x"), parallel.global_rows(labels, mesh, "y")
    errors = {}
    other = fnn.MLP(LAYERS, activation="sigmoid" if p == 1 else "tanh", output_activation="softmax")
    for what, kwargs in (
        ("key", dict(net=net, key=jax.random.key(3 if p == 1 else 2))),
        ("network", dict(net=other, key=key)),
    ):
        try:
            fnn.fit(
                kwargs["net"],
                params,
                gx,
                gy,
                key=kwargs["key"],
                mesh=mesh,
                **{**SETTINGS, "patience": None, "num_epochs": 2},
            )
        except ValueError as err:
            errors[what] = str(err)
    try:
        parallel.global_rows(x[: 6 if p == 1 else 8], mesh, "x")
    except ValueError as err:
        errors["rows"] = str(err)
    try:  # segments and checkpoints must be asked for alike too
        fnn.fit(
            net,
            params,
            gx,
            gy,
            key=key,
            mesh=mesh,
            checkpoint_dir=os.path.join(os.path.dirname(out), "refused"),
            checkpoint_every=2 if p == 1 else 3,
            **{**SETTINGS, "patience": None, "num_epochs": 2},
        )
    except ValueError as err:
        errors["checkpoints"] = str(err)
    report["errors"] = errors
    # fit_many with its members split over all 4 devices of both processes, against one device
    xor, xs, ys, kwargs = xor_members()
    many = fnn.fit_many(xor, xs, ys, mesh=fnn.members_mesh(), **kwargs)
    one = fnn.fit_many(xor, xs, ys, **kwargs)  # here alone, on one local device
    report["members_across_processes"] = {
        "vs_one_device": max_diff(many.members.params, one.members.params),
        "stopped": np.asarray(many.members.stopped_epoch).tolist(),
    }
    report["diverged"] = diverging_fit(x, labels, mesh=fnn.data_mesh())
    report["checkpoints"] = _checkpointed(out, many)
    if p == 0:
        with open(out, "w") as f:
            json.dump(report, f)
    else:  # every process saw the refusals
        assert set(errors) == {"key", "network", "rows", "checkpoints"}, errors
    if mode_die:
        _die_mid_run(out)


def diverging_fit(x, labels, mesh=None) -> dict:
    """A ReLU regression whose step size is too large: how ``fit`` reports its divergence.

    With ``mesh`` the rows are this process's, made global over the mesh; without, all rows.
    """
    import jax
    import numpy as np

    import functional_nn as fnn
    from functional_nn import parallel

    net = fnn.MLP((LAYERS[0], 8, 1), activation="relu", output_activation="linear")
    y = labels[:, None].astype(np.float32)
    if mesh is not None:
        x, y = parallel.global_rows(x, mesh, "x"), parallel.global_rows(y, mesh, "y")
    result = fnn.fit(
        net,
        net.init(jax.random.key(1)),
        x,
        y,
        key=jax.random.key(2),
        loss="mse",
        learning_rate=3.0,
        batch_size=8,
        num_epochs=5,
        mesh=mesh,
    )
    fields = ("diverged", "diverged_epoch", "diverged_step", "diverged_leaf", "message")
    return {name: getattr(result, name) for name in fields} | {"params": tree_json(result.params)}


class _Interrupt(Exception):
    """Raised by on_segment in every process: the run stops after that segment's checkpoint."""


def _checkpointed(out, many) -> dict:
    """Runs with checkpoints in a directory both processes see, stopped and resumed.

    ``fit`` over the rows of both processes and ``fit_many`` with its members split
    over them: each is stopped after a checkpoint (``on_segment`` raises in every
    process), then resumed; process 0 reports the resumed results and the files.
    Then each process is given its own directory, where only process 0's holds
    checkpoints: resuming must be refused in both.
    """
    import jax
    import numpy as np

    import functional_nn as fnn
    from functional_nn import parallel

    root = os.path.join(os.path.dirname(out), "checkpoints")

    def stop_at(epoch):
        def hook(state):
            if state.epoch >= epoch:
                raise _Interrupt(state.epoch)

        return hook

    def fit(directory, **kwargs):
        return checkpointed_fit(os.path.join(root, directory), **kwargs)

    report: dict = {}
    try:
        fit("fit", on_segment=stop_at(4))
    except _Interrupt:
        pass
    # the checkpoints only (process 1 may be probing the directory for its next run)
    report["fit_files"] = sorted(
        name for name in os.listdir(os.path.join(root, "fit")) if name.startswith("ckpt_")
    )
    report["fit"] = result_json(fit("fit", resume=True))
    xor, xs, ys, kwargs = xor_members()
    options = dict(mesh=fnn.members_mesh(), checkpoint_dir=os.path.join(root, "many"))
    try:
        fnn.fit_many(xor, xs, ys, checkpoint_every=3, on_segment=stop_at(6), **options, **kwargs)
    except _Interrupt:
        pass
    resumed = fnn.fit_many(xor, xs, ys, checkpoint_every=3, resume=True, **options, **kwargs)
    ours, theirs = parallel.to_local((resumed.members, many.members))
    report["many_same_bits"] = all(
        np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(
            jax.tree_util.tree_leaves((ours.params, ours.opt_state, ours.history)),
            jax.tree_util.tree_leaves((theirs.params, theirs.opt_state, theirs.history)),
        )
    )
    try:  # a directory each, as on machines without a shared file system
        fit("fit" if jax.process_index() == 0 else "elsewhere", resume=True)
    except fnn.CheckpointError as err:
        report["not_shared"] = str(err)
    assert "not_shared" in report, "resuming from different checkpoints was not refused"
    return report


def _die_mid_run(out: str) -> None:
    """A checkpointed run whose process 1 kills itself (SIGKILL) once epoch 6's checkpoint is on
    disk; process 0 must then be ended by JAX's runtime (the launcher reports how), and
    ``resume`` mode later goes on from the checkpoints."""
    import jax

    def die_after_6(state):
        if jax.process_index() == 1 and state.epoch >= 6:
            os.kill(os.getpid(), signal.SIGKILL)

    print("TRAINING ON", flush=True)
    checkpointed_fit(os.path.join(os.path.dirname(out), "killed"), on_segment=die_after_6)
    print("the survivor finished: the run did not end when process 1 died", flush=True)


def xor_members():
    """``(net, x, y, fit_many's arguments)``: 8 XOR members, mini-batches of 2 of the 4 rows."""
    import jax
    import jax.numpy as jnp

    import functional_nn as fnn

    xor = fnn.MLP((2, 2, 1), activation="sigmoid", output_activation="sigmoid")
    xs = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    ys = jnp.array([[0.0], [1.0], [1.0], [0.0]])
    kwargs = dict(
        key=jax.random.split(jax.random.key(4), 8),
        loss="binary_cross_entropy",
        learning_rate=jnp.linspace(0.5, 2.0, 8),
        batch_size=2,
        num_epochs=30,
    )
    return xor, xs, ys, kwargs


def max_diff(a, b) -> float:
    import jax
    import numpy as np

    return max(
        float(np.max(np.abs(np.asarray(u) - np.asarray(v))))
        for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))
    )


def members_mode(out: str) -> None:
    import jax
    import numpy as np

    import functional_nn as fnn

    assert jax.device_count() == 4, jax.devices()
    report = {}
    # fit_many: XOR members split over "members" (and their batches over "data"); one
    # configuration for every run, so the one-device reference compiles once
    xor, xs, ys, kwargs = xor_members()
    keys, rates, diff = kwargs["key"], kwargs["learning_rate"], max_diff
    one = fnn.fit_many(xor, xs, ys, **kwargs)
    for name, mesh in (
        ("members", fnn.members_mesh()),
        ("members_and_data", fnn.members_mesh(data=2)),
    ):
        many = fnn.fit_many(xor, xs, ys, mesh=mesh, **kwargs)
        w = many.members.params[0].w
        report[name] = {
            "member_blocks": len({str(s.index[0]) for s in w.addressable_shards}),
            "sharded": not w.sharding.is_fully_replicated,
            "vs_one_device": diff(many.members.params, one.members.params),
            "history_vs_one_device": float(
                np.max(
                    np.abs(many.members.history["train_loss"] - one.members.history["train_loss"])
                )
            ),
        }
    # member 5 is fit from its own init and shuffle key
    k_init, k = jax.random.split(keys[5])
    alone = fnn.fit(
        xor,
        xor.init(k_init),
        xs,
        ys,
        key=k,
        loss="binary_cross_entropy",
        learning_rate=float(rates[5]),
        batch_size=2,
        num_epochs=30,
    )
    report["vs_fit"] = diff(many.member(5).params, alone.params)  # ("members", "data") run
    try:
        fnn.fit_many(
            xor,
            xs,
            ys,
            key=jax.random.split(keys[0], 6),
            learning_rate=1.0,
            mesh=fnn.members_mesh(),
        )
    except ValueError as err:
        report["uneven_error"] = str(err)
    with open(out, "w") as f:
        json.dump(report, f)


def global_data(mesh):
    """This process's rows of the training and validation sets as global arrays over ``mesh``:
    ``(x, y, (x_val, y_val))``."""
    import jax

    from functional_nn import parallel

    p, n = jax.process_index(), jax.process_count()
    local = (
        *rows(p * NUM_ROWS // n, (p + 1) * NUM_ROWS // n),
        *rows(NUM_ROWS + p * NUM_VAL // n, NUM_ROWS + (p + 1) * NUM_VAL // n),
    )
    x, y, *val = (
        parallel.global_rows(a, mesh, name) for a, name in zip(local, ("x", "y", "x_val", "y_val"))
    )
    return x, y, tuple(val)


def checkpointed_fit(directory: str, **kwargs):
    """``fit`` over this process's rows (with validation and early stopping) with a checkpoint
    every 2 epochs into ``directory``; ``kwargs`` add ``resume``, ``on_segment``."""
    import functional_nn as fnn

    mesh = fnn.data_mesh()
    gx, gy, val = global_data(mesh)
    net, params, key = network_and_params()
    return fnn.fit(
        net,
        params,
        gx,
        gy,
        key=key,
        validation=val,
        mesh=mesh,
        checkpoint_dir=directory,
        checkpoint_every=2,
        **SETTINGS,
        **kwargs,
    )


def resume_mode(out: str) -> None:
    """Relaunched after ``fit-then-die``: the killed run's call with ``resume=True``; process 0
    reports the result, the checkpoints it found and the epochs its segments ended at."""
    from functional_nn import parallel

    parallel.initialize()
    directory = os.path.join(os.path.dirname(out), "killed")
    found = sorted(os.listdir(directory))
    segments: list[int] = []
    result = checkpointed_fit(directory, resume=True, on_segment=lambda s: segments.append(s.epoch))
    import jax

    if jax.process_index() == 0:
        with open(out, "w") as f:
            json.dump({"found": found, "segments": segments, "fit": result_json(result)}, f)


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    if mode == "members":
        members_mode(out)
    elif mode == "resume":
        resume_mode(out)
    else:
        fit_mode(out, mode_die=mode == "fit-then-die")
