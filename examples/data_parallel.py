"""Does splitting every batch across devices change training? Data-parallel fit on a device mesh.

Data parallelism with JAX's own engine: a ``jax.sharding.Mesh`` over the devices
with one axis named "data". ``fnn.fit(..., mesh=mesh)`` splits every batch of K
examples into K / n rows per device and keeps the params and optimizer state
replicated; because ∂J/∂w^l = (a^{l−1})ᵀ δ^l is a sum over the batch, each device
computes a partial sum and XLA adds them with one all-reduce in the same jitted
step. The run on n devices should equal the run on one device up to the order of
floating-point summation. Without accelerators, ``--devices 4`` fakes four CPU
devices (the script sets ``XLA_FLAGS=--xla_force_host_platform_device_count=4``
before JAX starts, which is the only time XLA reads it); fake devices share the
same CPU cores, so there the mesh shows equal results, not speed. On a GPU/TPU host the
mesh spans the real devices; across hosts call ``jax.distributed.initialize()``
first and build the mesh over ``jax.devices()``.

    python examples/data_parallel.py --devices 4 --seed 0 --out-dir out/data_parallel
"""

from __future__ import annotations

import os
import sys

DEFAULT_DEVICES = 4


def _fake_host_devices(argv: list[str]) -> None:
    """Honour ``--devices N`` (default 4) on CPU by setting XLA_FLAGS before ``import jax`` below."""
    if "jax" in sys.modules:
        return  # too late: XLA has started; main() uses the devices it has
    value = str(DEFAULT_DEVICES)
    for i, arg in enumerate(argv):
        if arg.startswith("--devices="):
            value = arg.split("=", 1)[1]
        elif arg == "--devices" and i + 1 < len(argv):
            value = argv[i + 1]
    if value.isdigit() and int(value) > 1:  # only the CPU platform reads this flag
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (
            f"{flags} --xla_force_host_platform_device_count={int(value)}".strip()
        )


if __name__ == "__main__":
    _fake_host_devices(sys.argv[1:])

import time  # noqa: E402  (after XLA_FLAGS is set)
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

import functional_nn as fnn  # noqa: E402
from functional_nn.flags import parse_flags  # noqa: E402


def main(
    *,
    seed: int = 0,
    devices: int = DEFAULT_DEVICES,
    batch_size: int = 64,
    num_epochs: int = 20,
    hidden: int = 64,
    learning_rate: float = 0.1,
    out_dir: str = "out/data_parallel",
) -> dict:
    """Train the same digits classifier on one device and on a mesh; print the table, write the figure.

    Args:
        devices: data-parallel devices (faked on a CPU)
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    available = jax.devices()
    used = available[: min(devices, len(available))]
    if len(used) < devices:
        print(
            f"asked for {devices} devices, JAX has {len(available)} ({available[0].platform}); using {len(used)}. "
            f"Run as a script with --devices {devices} to fake them on a CPU."
        )
    mesh = fnn.data_mesh(used)
    batch_size = batch_size - batch_size % len(used)  # every device gets the same number of rows
    key_data, key_init, key_fit = jax.random.split(jax.random.key(seed), 3)
    ds = fnn.data.load_dataset("digits", key=key_data)
    net = fnn.MLP(
        (ds.num_features, hidden, ds.num_classes),
        activation="relu",
        output_activation="softmax",
        initializer="he_uniform",
    )
    params = net.init(key_init)
    common = dict(
        loss="categorical_cross_entropy",
        learning_rate=learning_rate,
        batch_size=batch_size,
        num_epochs=num_epochs,
        key=key_fit,
        validation=(ds.x_val, ds.y_val),
    )

    runs = {}
    for name, run_mesh in (("1 device", None), (f"{len(used)} devices (mesh 'data')", mesh)):
        fnn.fit(net, params, ds.x_train, ds.y_train, mesh=run_mesh, **common)  # compile
        start = time.perf_counter()
        result = fnn.fit(net, params, ds.x_train, ds.y_train, mesh=run_mesh, **common)
        jax.block_until_ready(result.params)
        seconds = time.perf_counter() - start
        test_acc = float(
            np.mean(
                np.argmax(np.asarray(net.apply(result.params, ds.x_test)), axis=1)
                == np.asarray(ds.y_test)
            )
        )
        runs[name] = dict(result=result, seconds=seconds, test_accuracy=test_acc)

    (one, many) = runs.values()
    max_param_diff = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(
            jax.tree_util.tree_leaves(one["result"].params),
            jax.tree_util.tree_leaves(many["result"].params),
        )
    )
    max_loss_diff = float(
        np.max(np.abs(one["result"].history["val_loss"] - many["result"].history["val_loss"]))
    )
    rows_per_device = batch_size // len(used)
    print(
        f"digits 64-{hidden}-10, K = {batch_size} ({rows_per_device} rows per device), {num_epochs} epochs, "
        f"devices: {[str(d) for d in used]}"
    )
    print(f"{'run':<28} {'seconds':>8} {'final val loss':>14} {'test acc':>8}")
    for name, r in runs.items():
        print(
            f"{name:<28} {r['seconds']:>8.3f} {float(r['result'].history['val_loss'][-1]):>14.6f} "
            f"{r['test_accuracy']:>8.4f}"
        )
    print(
        f"largest param difference {max_param_diff:.2e}, largest validation-loss difference {max_loss_diff:.2e}"
    )
    figure = _plot(out / "data_parallel.png", runs)
    print(f"figure: {figure}")
    return {
        "devices": len(used),
        "batch_size": batch_size,
        "max_param_diff": max_param_diff,
        "max_val_loss_diff": max_loss_diff,
        "seconds": {k: r["seconds"] for k, r in runs.items()},
        "test_accuracy": {k: r["test_accuracy"] for k, r in runs.items()},
        "figure": str(figure),
    }


def _plot(path: Path, runs: dict) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for (name, r), style in zip(runs.items(), ("-", "--")):
        h = r["result"].history["val_loss"]
        ax.plot(np.arange(1, len(h) + 1), h, style, label=name)
    ax.set(xlabel="epoch", ylabel="validation loss", title="one device vs a data-parallel mesh")
    ax.legend()
    fig.savefig(path, dpi=120)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
