"""Checkpoints: bit-exact round trips, atomic writes, clear errors on bad files and wrong architectures."""

import dataclasses
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings

import functional_nn as fnn
from functional_nn import _npz
from functional_nn import checkpoint as ckpt
from functional_nn._x64 import float64_mode


def _bits(a) -> bytes:
    """The exact bytes of an array, so NaN payloads and -0.0 count too."""
    a = np.asarray(a)
    return a.dtype.name.encode() + str(a.shape).encode() + a.tobytes()


def _assert_trees_bit_equal(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        assert _bits(x) == _bits(y)


@pytest.fixture
def trained(key):
    """An MLP, params, an Adam state after one step, and a history."""
    net = fnn.MLP((2, 3, 1), activation="tanh")
    params = net.init(key)
    optimizer = optax.adam(1e-2)
    state = optimizer.init(params)
    grads = jax.tree.map(lambda p: jnp.full_like(p, 0.5), params)
    _, state = optimizer.update(grads, state, params)
    history = {"train_loss": jnp.array([0.7, 0.5, 0.25]), "epoch": np.arange(3, dtype=np.int32)}
    return net, params, optimizer, state, history


def test_round_trip_is_bit_exact_with_original_classes(tmp_path, trained):
    net, params, optimizer, state, history = trained
    path = fnn.save_checkpoint(
        tmp_path / "run.npz",
        params,
        network=net,
        opt_state=state,
        history=history,
        metadata={"seed": 0, "dataset": "xor", "best_epoch": np.int64(2)},
    )
    loaded = fnn.load_checkpoint(path)
    assert isinstance(loaded, fnn.Checkpoint)
    _assert_trees_bit_equal(loaded.params, params)
    _assert_trees_bit_equal(loaded.opt_state, state)
    _assert_trees_bit_equal(loaded.history, history)
    assert type(loaded.params[0]) is fnn.Dense and type(loaded.opt_state[0]) is type(state[0])
    assert loaded.network == net and isinstance(loaded.network, fnn.MLP)
    assert loaded.metadata == {"seed": 0, "dataset": "xor", "best_epoch": 2}
    # the restored optimizer state continues training exactly like the original
    grads = jax.tree.map(jnp.ones_like, params)
    expected, _ = optimizer.update(grads, state, params)
    resumed, _ = optimizer.update(grads, loaded.opt_state, loaded.params)
    _assert_trees_bit_equal(jax.tree.map(np.asarray, resumed), jax.tree.map(np.asarray, expected))


def test_like_restores_exact_structure_and_jax_arrays(tmp_path, trained):
    net, params, optimizer, state, _ = trained
    path = fnn.save_checkpoint(tmp_path / "c.npz", params, opt_state=state)
    loaded = fnn.load_checkpoint(path, like=params, opt_state_like=optimizer.init(params))
    assert jax.tree_util.tree_structure(loaded.params) == jax.tree_util.tree_structure(params)
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(loaded.params))
    _assert_trees_bit_equal(loaded.params, params)
    _assert_trees_bit_equal(loaded.opt_state, state)
    # leaves match by path, so dict-style layers ({"w", "b"}) load from Dense layers too
    as_dicts = tuple({"w": layer.w, "b": layer.b} for layer in params)
    loaded = fnn.load_checkpoint(path, like=as_dicts)
    np.testing.assert_array_equal(loaded.params[1]["w"], params[1].w)
    assert fnn.load_checkpoint(path).history is None


@pytest.mark.parametrize("other", [(2, 5, 1), (2, 3, 3, 1)])
def test_a_different_architecture_names_the_leaf_and_both_shapes(tmp_path, trained, other):
    net, params, *_ = trained
    path = fnn.save_checkpoint(tmp_path / "c.npz", params, network=net)
    wrong = fnn.MLP(other).init(jax.random.key(1))
    with pytest.raises(
        fnn.CheckpointError,
        match=r"params/[01]/w has shape \(.*\) in the checkpoint, like= expects",
    ):
        fnn.load_checkpoint(path, like=wrong)
    with pytest.raises(ValueError, match=str(path.name)):  # CheckpointError is a ValueError
        fnn.load_checkpoint(path, like=wrong)
    with pytest.raises(
        fnn.CheckpointError, match=r"params/0/w has dtype float32 in the checkpoint, like= expects"
    ):
        fnn.load_checkpoint(path, like=jax.tree.map(lambda p: np.asarray(p, np.float16), params))
    with pytest.raises(fnn.CheckpointError, match="no opt_state"):
        fnn.load_checkpoint(path, opt_state_like=params)


def test_dtypes_are_kept(tmp_path):
    with float64_mode():
        x64 = jnp.array([1.0 / 3.0, -0.0, np.inf, np.nan], jnp.float64)
    tree = {
        "f32": jnp.array([1.5, -0.0, np.nan], jnp.float32),
        "f64": x64,
        "i32": jnp.array([[1, -2]], jnp.int32),
        "bf16": jnp.array([1.0 / 3.0, 65504.0], jnp.bfloat16),
        "f16": np.array([0.1], np.float16),
        "u8": np.arange(3, dtype=np.uint8),
        "bool": np.array([True, False]),
        "scalar": jnp.float32(2.5),
        "py": [1, 2.5, True, None],
        "nested": (np.zeros((0, 3), np.float32),),
    }
    path = fnn.save_checkpoint(tmp_path / "d.npz", tree)
    loaded = fnn.load_checkpoint(path).params
    for name in ("f32", "f64", "i32", "bf16", "f16", "u8", "bool", "scalar"):
        assert np.asarray(loaded[name]).dtype == np.asarray(tree[name]).dtype, name
        assert _bits(loaded[name]) == _bits(tree[name]), name
    assert loaded["py"] == [1, 2.5, True, None] and [type(v) for v in loaded["py"][:3]] == [
        int,
        float,
        bool,
    ]
    assert loaded["nested"][0].shape == (0, 3)
    with float64_mode():
        restored = fnn.load_checkpoint(path, like=tree).params
        assert restored["f64"].dtype == jnp.float64 and restored["bf16"].dtype == jnp.bfloat16
        assert _bits(restored["f64"]) == _bits(x64)


@settings(max_examples=20, deadline=None)
@given(
    hnp.arrays(
        st.sampled_from([np.float32, np.float64, np.int32, np.int8, np.float16]),
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
    )
)
def test_any_array_round_trips_bit_exactly(array):
    with tempfile.TemporaryDirectory() as directory:
        path = fnn.save_checkpoint(
            Path(directory) / "a.npz",
            {"a": array, "big_endian": array.astype(array.dtype.newbyteorder(">"))},
        )
        loaded = fnn.load_checkpoint(path).params
    assert _bits(loaded["a"]) == _bits(array)
    np.testing.assert_array_equal(loaded["big_endian"], array)


def test_tree_paths_key_the_arrays_and_the_manifest_describes_them(tmp_path, trained):
    net, params, _, state, history = trained
    path = fnn.save_checkpoint(
        tmp_path / "c.npz", params, network=net, history={"a/b": jnp.ones(2), 3: 1.0}
    )
    with np.load(path) as archive:
        assert {"params/0/w", "params/1/b", "history/a%2Fb", "history/3"} <= set(archive.files)
        np.testing.assert_array_equal(archive["params/1/w"], params[1].w)
        manifest = json.loads(archive["__manifest__"].tobytes())
    assert (
        manifest["format"] == "functional_nn.checkpoint" and len(manifest["payload_sha256"]) == 64
    )
    assert manifest["network"]["fields"]["layer_sizes"] == [2, 3, 1]
    assert manifest["leaves"]["params/0/w"] == {"dtype": "float32", "shape": [2, 3]}
    assert fnn.load_checkpoint(path).history == {"a/b": pytest.approx(np.ones(2)), 3: 1.0}


@pytest.mark.parametrize("writer", ["by hand", "np.savez (past the zip's limits)"])
def test_the_archive_is_an_npz_that_np_load_and_zipfile_read(tmp_path, monkeypatch, writer):
    if writer != "by hand":  # an archive past 4 GiB goes to np.savez (zip64)
        monkeypatch.setattr(_npz, "_ZIP_LIMIT", 0)
    leaves = {
        "größe": np.arange(6, dtype=np.int32).reshape(2, 3),  # a name the zip keeps as UTF-8
        "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        "scalar": np.float64(-0.0),
        "empty": np.zeros((0, 2), np.float32),
        "flags": np.array([True, False]),
    }
    path = fnn.save_checkpoint(tmp_path / "c.npz", leaves)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every entry's CRC-32 checks
    with np.load(path) as archive:
        assert set(archive.files) == {"__manifest__"} | {f"params/{k}" for k in leaves}
        for name, leaf in leaves.items():
            assert _bits(archive[f"params/{name}"]) == _bits(leaf)
    _assert_trees_bit_equal(fnn.load_checkpoint(path).params, leaves)


def test_crash_mid_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch, trained):
    net, params, *_ = trained
    path = fnn.save_checkpoint(tmp_path / "c.npz", params, metadata={"version": 1})
    before = path.read_bytes()

    def crash(f, arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise RuntimeError("power cut")

    monkeypatch.setattr(ckpt, "_write_payload", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        fnn.save_checkpoint(path, jax.tree.map(lambda p: p + 1, params), metadata={"version": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == [
        "c.npz"
    ]  # no temporary file left behind
    loaded = fnn.load_checkpoint(path)
    assert loaded.metadata == {"version": 1}
    _assert_trees_bit_equal(loaded.params, params)

    def no_rename(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.os, "replace", no_rename)
    with pytest.raises(OSError, match="disk full"):
        fnn.save_checkpoint(path, params, metadata={"version": 3})
    monkeypatch.undo()
    assert fnn.load_checkpoint(path).metadata == {"version": 1} and os.listdir(tmp_path) == [
        "c.npz"
    ]
    fnn.save_checkpoint(path, params, metadata={"version": 4})
    assert fnn.load_checkpoint(path).metadata == {"version": 4}


def test_corrupt_and_truncated_files_name_the_file(tmp_path, trained):
    net, params, _, state, _ = trained
    good = fnn.save_checkpoint(tmp_path / "good.npz", params, opt_state=state).read_bytes()
    cases = {
        "truncated.npz": good[: len(good) // 2],
        "empty.npz": b"",
        "garbage.npz": os.urandom(64),
        "flipped.npz": good[:200] + bytes([good[200] ^ 0xFF]) + good[201:],
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(fnn.CheckpointError, match=name):
            fnn.load_checkpoint(tmp_path / name)
    np.savez(tmp_path / "plain.npz", w=np.ones(2))
    with pytest.raises(fnn.CheckpointError, match=r"plain.npz: not a functional_nn checkpoint"):
        fnn.load_checkpoint(tmp_path / "plain.npz")
    np.save(tmp_path / "single.npy", np.ones(2))
    with pytest.raises(fnn.CheckpointError, match="single.npy: not a checkpoint"):
        fnn.load_checkpoint(tmp_path / "single.npy")
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        fnn.load_checkpoint(tmp_path / "missing.npz")


def test_swapped_arrays_fail_the_checksum(tmp_path, trained):
    _, params, *_ = trained
    path = fnn.save_checkpoint(tmp_path / "c.npz", params)
    tampered = tmp_path / "tampered.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            content = src.read(item)
            if (
                item.filename == "params/0/b.npy"
            ):  # a valid .npy with other values: the zip CRCs are fine
                content = src.read("params/0/b.npy").replace(
                    b"\x00\x00\x00\x00", b"\x00\x00\x80\x3f", 1
                )
            dst.writestr(item, content)
    with pytest.raises(fnn.CheckpointError, match="tampered.npz: checksum mismatch"):
        fnn.load_checkpoint(tampered)


def test_network_descriptions(tmp_path, trained):
    _, params, *_ = trained

    @dataclasses.dataclass(frozen=True)
    class Elsewhere:
        width: int = 3

    path = fnn.save_checkpoint(tmp_path / "a.npz", params, network=Elsewhere())
    assert fnn.load_checkpoint(path).network == {"width": 3}
    path = fnn.save_checkpoint(
        tmp_path / "b.npz", params, network={"kind": "custom", "sizes": [2, 3]}
    )
    assert fnn.load_checkpoint(path).network == {"kind": "custom", "sizes": [2, 3]}
    assert fnn.load_checkpoint(fnn.save_checkpoint(tmp_path / "c.npz", params)).network is None


def test_unstorable_inputs_are_refused_at_save(tmp_path, trained):
    _, params, *_ = trained
    with pytest.raises(TypeError, match="params/0: cannot store a leaf of dtype <U"):
        fnn.save_checkpoint(tmp_path / "c.npz", ("text",))
    with pytest.raises(TypeError, match="metadata must be JSON-serializable"):
        fnn.save_checkpoint(tmp_path / "c.npz", params, metadata={"f": print})
    with pytest.raises(TypeError, match="network must be"):
        fnn.save_checkpoint(tmp_path / "c.npz", params, network=object())
    with pytest.raises(TypeError, match="params must be a pytree"):
        fnn.save_checkpoint(tmp_path / "c.npz", None)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fnn.save_checkpoint(tmp_path / "no" / "c.npz", params)
    assert os.listdir(tmp_path) == []


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class _CustomState:
    """A pytree node that is not a tuple, list, dict or NamedTuple."""

    step: jax.Array
    trace: jax.Array


class _Pair(NamedTuple):
    first: object
    second: object


def test_custom_nodes_need_a_template(tmp_path, trained):
    _, params, *_ = trained
    state = _Pair(_CustomState(jnp.int32(3), jnp.arange(2.0)), None)
    path = fnn.save_checkpoint(tmp_path / "c.npz", params, opt_state=state)
    with pytest.raises(
        fnn.CheckpointError,
        match=r"_CustomState node .* pass a tree of the same structure as like=",
    ):
        fnn.load_checkpoint(path)
    template = _Pair(_CustomState(jnp.int32(0), jnp.zeros(2)), None)
    restored = fnn.load_checkpoint(path, opt_state_like=template).opt_state
    assert isinstance(restored.first, _CustomState) and int(restored.first.step) == 3
    np.testing.assert_array_equal(restored.first.trace, [0.0, 1.0])
