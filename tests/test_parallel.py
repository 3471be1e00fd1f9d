"""Data parallelism: a Mesh with a "data" axis splits each batch; results match one device."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh

import functional_nn as fnn
from functional_nn import parallel

FOUR_DEVICES = textwrap.dedent("""
    import json
    import jax, jax.numpy as jnp, numpy as np
    import functional_nn as fnn
    from functional_nn import parallel

    assert jax.device_count() == 4, jax.devices()
    mesh = fnn.data_mesh()
    net = fnn.MLP((5, 16, 3), activation="tanh", output_activation="softmax")
    kx, ky, kp, kf = jax.random.split(jax.random.key(0), 4)
    x = jax.random.normal(kx, (64, 5))
    labels = jax.random.randint(ky, (64,), 0, 3)
    params = net.init(kp)
    out = {}
    # (mini-batches on 4 devices: tests/test_examples_training.py runs examples/data_parallel.py)
    runs = [fnn.fit(net, params, x, labels, loss="categorical_cross_entropy", learning_rate=0.5,
                    batch_size=None, num_epochs=20, key=kf, validation=(x[:16], labels[:16]), mesh=m)
            for m in (None, mesh)]
    out["full_batch"] = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                            for a, b in zip(jax.tree_util.tree_leaves(runs[0].params),
                                            jax.tree_util.tree_leaves(runs[1].params)))
    out["full_batch_loss"] = float(np.max(np.abs(runs[0].history["val_loss"] - runs[1].history["val_loss"])))
    step = parallel.data_parallel_step(net, "categorical_cross_entropy", mesh, learning_rate=0.5)
    sharded_x = parallel.shard_batch(x, mesh)
    out["batch_devices"] = len(sharded_x.sharding.device_set)
    y = jax.nn.one_hot(labels, 3)
    p1, _, j1 = step(parallel.replicate(params, mesh), fnn.sgd(0.5).init(params), sharded_x,
                     parallel.shard_batch(y, mesh))
    j0, g0 = fnn.value_and_grad(net, "categorical_cross_entropy")(params, x, y)
    p0 = jax.tree_util.tree_map(lambda p, g: p - 0.5 * g, params, g0)
    out["step"] = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                      for a, b in zip(jax.tree_util.tree_leaves(p0), jax.tree_util.tree_leaves(p1)))
    out["step_loss"] = abs(float(j0) - float(j1))
    try:  # 4 devices cannot share a batch of 6 rows evenly
        fnn.fit(net, params, x, labels, loss="categorical_cross_entropy", learning_rate=0.5, batch_size=6,
                key=kf, mesh=mesh)
    except ValueError as err:
        out["uneven_error"] = str(err)
    print("RESULT " + json.dumps(out))
""")


def test_four_devices_match_one_device_within_1e_5():
    env = dict(
        os.environ,
        XLA_FLAGS=os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4",
        JAX_PLATFORMS="cpu",
    )
    done = subprocess.run(
        [sys.executable, "-c", FOUR_DEVICES], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    out = json.loads(line[len("RESULT ") :])
    assert out["batch_devices"] == 4
    assert "multiple of 4" in out["uneven_error"]
    for name in ("full_batch", "full_batch_loss", "step", "step_loss"):
        assert out[name] <= 1e-5, (name, out[name])


def test_a_one_device_mesh_runs_the_same_program(getkey):
    net = fnn.MLP((3, 4, 1), activation="tanh", output_activation="linear")
    x = jax.random.normal(getkey(), (8, 3))
    y = jnp.sum(x, axis=1, keepdims=True)
    params, key = net.init(getkey()), getkey()
    plain = fnn.fit(net, params, x, y, learning_rate=0.1, batch_size=4, num_epochs=3, key=key)
    meshed = fnn.fit(
        net,
        params,
        x,
        y,
        learning_rate=0.1,
        batch_size=4,
        num_epochs=3,
        key=key,
        mesh=fnn.data_mesh(jax.devices()[:1]),
    )
    for a, b in zip(
        jax.tree_util.tree_leaves(plain.params), jax.tree_util.tree_leaves(meshed.params)
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_mesh_errors_name_the_problem(key):
    net = fnn.MLP((3, 1), output_activation="linear")
    x, y = jnp.ones((8, 3)), jnp.ones((8, 1))
    devices = np.array(jax.devices()[:1])
    with pytest.raises(ValueError, match="'data'"):
        fnn.fit(
            net, net.init(key), x, y, learning_rate=0.1, key=key, mesh=Mesh(devices, ("model",))
        )
    with pytest.raises(TypeError, match="Mesh"):
        fnn.fit(net, net.init(key), x, y, learning_rate=0.1, key=key, mesh="data")
    with pytest.raises(ValueError, match="learning_rate or optimizer"):
        parallel.data_parallel_step(net, "mse", fnn.data_mesh(devices))
    with pytest.raises(ValueError, match="devices"):
        parallel.data_mesh([])


def test_members_mesh_and_its_errors():
    device = jax.devices()[0]
    mesh = fnn.members_mesh([device])
    assert mesh.axis_names == ("members", "data") and mesh.devices.shape == (1, 1)
    assert parallel.batch_spec(mesh) == jax.sharding.PartitionSpec("data")
    assert parallel.members_axis(mesh) == "members" and parallel.members_axis(None) is None
    with pytest.raises(ValueError, match="multiple of data=2"):
        fnn.members_mesh([device], data=2)
    only_members = Mesh(np.array([device]), ("members",))
    assert parallel.batch_spec(only_members) == jax.sharding.PartitionSpec()
    assert parallel.check_mesh(only_members, 4, members=True) == 1
    with pytest.raises(ValueError, match="axis named 'data', got axes"):
        parallel.check_mesh(only_members)  # fit splits batches: it needs "data"


def test_the_accelerator_benchmark_runs_tiny_on_cpu(capsys):
    import importlib.util
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "examples" / "benchmarks"
    sys.path.insert(0, str(bench))
    spec = importlib.util.spec_from_file_location(
        "_fnn_bench_accelerator", bench / "accelerator.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    report = module.main(tiny=True, only=("MNIST",), reps=1)  # W4xor: tests/test_benchmarks.py
    module.print_table(report)
    assert report["backend"] == jax.default_backend() and report["matmul_peak_flops"] > 0
    assert [r["workload"] for r in report["rows"]] == ["MNIST"]
    for row in report["rows"]:
        for name in ("samples_per_s", "run_s", "fraction_of_matmul_peak", "highest_run_s"):
            assert np.isfinite(row[name]) and row[name] > 0, (name, row)
        assert row["compile_s"] >= 0
        assert 0 <= row["highest_vs_default_params"] < 1e-2  # precisions agree closely
    assert "of peak" in capsys.readouterr().out
    with pytest.raises(ValueError, match="unknown workloads"):
        module.main(tiny=True, only=("W9",))
