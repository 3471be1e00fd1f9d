"""Does training on several processes, each holding only its own rows, give the one-process result?

Run under the launcher (two processes on 127.0.0.1, two simulated CPU devices each):

    python -m functional_nn.launch -n 2 --local-devices 2 examples/multi_process.py --seed 0

Every process loads the digits, keeps only its share of the training rows, and
hands them to ``fnn.fit`` as one global array (``parallel.global_rows``); the
batches are gathered inside the compiled run, XLA all-reduces the gradients, and the
shuffles are those of a single process with the same key. Process 0 then trains on
all rows on one local device and prints how far the two runs are apart. On a
cluster, start the same script once per host (``srun python examples/multi_process.py``).
"""

from __future__ import annotations

import argparse

from functional_nn import parallel


def main(*, seed: int = 0, hidden: int = 32, batch_size: int = 64, num_epochs: int = 10) -> dict:
    parallel.initialize()  # first: JAX's distributed runtime (FNN_* from the launcher)
    import jax
    import numpy as np

    import functional_nn as fnn

    p, n = jax.process_index(), jax.process_count()
    key_data, key_init, key_fit = jax.random.split(jax.random.key(seed), 3)
    ds = fnn.data.load_dataset("digits", key=key_data)
    mesh = fnn.data_mesh()  # every process's devices
    m = ds.x_train.shape[0] - ds.x_train.shape[0] % jax.device_count()  # rows split evenly
    lo, hi = p * m // n, (p + 1) * m // n
    x = parallel.global_rows(np.asarray(ds.x_train)[lo:hi], mesh, "x")
    y = parallel.global_rows(np.asarray(ds.y_train)[lo:hi], mesh, "y")
    net = fnn.MLP((ds.num_features, hidden, ds.num_classes), output_activation="softmax")
    params = net.init(key_init)
    batch_size -= batch_size % jax.device_count()
    common = dict(
        loss="categorical_cross_entropy",
        learning_rate=0.1,
        batch_size=batch_size,
        num_epochs=num_epochs,
        key=key_fit,
    )
    result = fnn.fit(net, params, x, y, mesh=mesh, **common)
    report = {"processes": n, "devices": jax.device_count(), "rows_here": hi - lo}
    if p == 0:  # the same run on one device, with every row
        alone = fnn.fit(net, params, ds.x_train[:m], ds.y_train[:m], **common)
        report["max_param_diff"] = max(
            float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
            for a, b in zip(
                jax.tree_util.tree_leaves(result.params), jax.tree_util.tree_leaves(alone.params)
            )
        )
        print(
            f"{n} processes x {jax.local_device_count()} devices, {hi - lo} of {m} rows here, "
            f"K = {batch_size}: final train loss {float(result.history['train_loss'][-1]):.6f}; "
            f"one device with all rows {float(alone.history['train_loss'][-1]):.6f}; "
            f"largest param difference {report['max_param_diff']:.2e}"
        )
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-epochs", type=int, default=10)
    args = parser.parse_args()
    main(seed=args.seed, hidden=args.hidden, batch_size=args.batch_size, num_epochs=args.num_epochs)
