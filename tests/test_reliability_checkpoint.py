"""Checkpoint faults (issue 8, group 5): "latest checkpoint" skips what cannot be trusted, round trips
keep every bit, another architecture is refused by name, and resuming gives the uninterrupted run's bits."""

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import pytest

import functional_nn as fnn
from functional_nn import checkpoint as ckpt
from functional_nn._x64 import float64_mode


def _bits(a) -> bytes:
    a = np.asarray(a)
    return a.dtype.name.encode() + str(a.shape).encode() + a.tobytes()


def _assert_bit_equal(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        assert _bits(x) == _bits(y)


@pytest.fixture
def params(key):
    return fnn.MLP((2, 3, 1), activation="tanh").init(key)


# --- latest checkpoint -------------------------------------------------------------


def test_checkpoint_path_names_steps(tmp_path):
    assert fnn.checkpoint_path(tmp_path, 123) == tmp_path / "ckpt_000123.npz"
    assert fnn.checkpoint_path("run", 1234567).name == "ckpt_1234567.npz"
    with pytest.raises(ValueError, match="step must be >= 0, got -1"):
        fnn.checkpoint_path(tmp_path, -1)
    for bad in (1.0, True, "3"):
        with pytest.raises(TypeError, match="step must be an int, got"):
            fnn.checkpoint_path(tmp_path, bad)


def test_latest_skips_every_kind_of_bad_file_and_the_previous_checkpoint_loads(
    tmp_path, params, monkeypatch
):
    good = fnn.save_checkpoint_step(tmp_path, 2, params, metadata={"note": "good"})
    assert fnn.load_checkpoint(good).metadata == {"note": "good", "step": 2}
    content = good.read_bytes()
    # a write that dies half-way: the atomic write leaves no file, but a killed process leaves its temporary
    monkeypatch.setattr(ckpt, "_write_payload", lambda f, arrays: (f.write(content[:100]), 1 / 0))
    with pytest.raises(ZeroDivisionError):
        fnn.save_checkpoint_step(tmp_path, 3, params)
    monkeypatch.undo()
    assert not fnn.checkpoint_path(tmp_path, 3).exists()
    (tmp_path / ".ckpt_000007.npz.abc123.tmp").write_bytes(
        content[:100]
    )  # what a SIGKILL leaves behind
    fnn.checkpoint_path(tmp_path, 4).write_bytes(content[: len(content) // 2])  # truncated
    np.savez(fnn.checkpoint_path(tmp_path, 5), w=np.ones(2))  # an .npz, not a checkpoint
    fnn.checkpoint_path(tmp_path, 6).write_bytes(b"")  # empty
    flipped = bytearray(content)
    flipped[len(flipped) // 3] ^= 0x01
    fnn.checkpoint_path(tmp_path, 8).write_bytes(bytes(flipped))  # one bit flipped
    (tmp_path / "ckpt_000009.npz.bak").write_bytes(content)  # not named like a checkpoint: ignored
    (tmp_path / "notes.txt").write_text("hello")

    latest = fnn.latest_checkpoint(tmp_path)
    assert isinstance(latest, fnn.LatestCheckpoint)
    assert latest.path == good and latest.step == 2
    skipped = {p.name: why for p, why in latest.skipped}
    assert set(skipped) == {
        ".ckpt_000007.npz.abc123.tmp",
        "ckpt_000004.npz",
        "ckpt_000005.npz",
        "ckpt_000006.npz",
        "ckpt_000008.npz",
    }
    assert "temporary" in skipped[".ckpt_000007.npz.abc123.tmp"]
    assert "not a functional_nn checkpoint" in skipped["ckpt_000005.npz"]
    assert all("ckpt_00000" in why for name, why in skipped.items() if not name.startswith("."))
    checkpoint, found = fnn.load_latest(tmp_path, like=params)
    assert found == latest
    _assert_bit_equal(checkpoint.params, params)


def test_no_loadable_checkpoint_is_a_clear_error(tmp_path, params):
    assert fnn.latest_checkpoint(tmp_path) == fnn.LatestCheckpoint(None, None, ())
    with pytest.raises(
        FileNotFoundError, match="no loadable checkpoint .*no ckpt_<step>.npz files"
    ):
        fnn.load_latest(tmp_path)
    fnn.checkpoint_path(tmp_path, 1).write_bytes(b"PK\x03\x04")
    with pytest.raises(FileNotFoundError, match="ckpt_000001.npz: .*corrupt or truncated"):
        fnn.load_latest(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fnn.latest_checkpoint(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fnn.save_checkpoint_step(tmp_path / "missing", 0, params)


def test_latest_refuses_another_architecture_instead_of_falling_back(tmp_path, params):
    fnn.save_checkpoint_step(tmp_path, 1, params)
    fnn.save_checkpoint_step(tmp_path, 2, fnn.MLP((2, 5, 1)).init(jax.random.key(1)))
    with pytest.raises(
        fnn.CheckpointError,
        match=r"ckpt_000002.npz: leaf params/0/w has shape \(2, 5\) in the "
        r"checkpoint, like= expects \(2, 3\)",
    ):
        fnn.load_latest(tmp_path, like=params)
    deeper = fnn.MLP((2, 3, 3, 1)).init(jax.random.key(2))
    with pytest.raises(fnn.CheckpointError, match=r"different structure .*params/2/w"):
        fnn.load_checkpoint(fnn.checkpoint_path(tmp_path, 1), like=deeper)


def test_keep_prunes_only_older_checkpoints(tmp_path, params):
    for step in range(1, 6):
        fnn.save_checkpoint_step(tmp_path, step, params, keep=2)
    assert [s for s, _ in fnn.checkpoint_steps(tmp_path)] == [4, 5]
    (tmp_path / ".ckpt_000009.npz.x.tmp").write_bytes(b"partial")  # a concurrent write's temporary
    fnn.save_checkpoint_step(tmp_path, 9, params)  # another run's later checkpoint
    fnn.save_checkpoint_step(tmp_path, 6, params, keep=1)
    assert [s for s, _ in fnn.checkpoint_steps(tmp_path)] == [6, 9]
    assert (tmp_path / ".ckpt_000009.npz.x.tmp").exists()
    for bad, error, words in (
        (0, ValueError, "keep must be >= 1, got 0"),
        (-1, ValueError, "keep must be >= 1, got -1"),
        (1.5, TypeError, "keep must be an int, got float"),
        (True, TypeError, "keep must be an int, got bool"),
    ):
        with pytest.raises(error, match=words):
            fnn.save_checkpoint_step(tmp_path, 7, params, keep=bad)
    assert not fnn.checkpoint_path(tmp_path, 7).exists()


# --- bit-exact round trips ------------------------------------------------------------


def _specials(dtype) -> np.ndarray:
    """±0, subnormals, the extremes, ±inf and two NaNs with distinct bits (a payload, a negative sign)."""
    info = ml_dtypes.finfo(dtype)
    tiny = float(info.smallest_subnormal)
    values = [
        0.0,
        -0.0,
        tiny,
        -tiny,
        tiny * 3,
        float(info.tiny),
        float(info.max),
        -float(info.max),
        np.inf,
        -np.inf,
        1.0 / 3.0,
    ]
    array = np.array(values, np.float64).astype(dtype)
    bits = np.dtype(f"uint{8 * array.dtype.itemsize}")
    quiet = int(np.array([np.nan], np.float64).astype(dtype).view(bits)[0])
    nans = np.array([quiet | 1, quiet | 1 << (8 * bits.itemsize - 1)], bits)
    return np.concatenate([array, nans.view(array.dtype)])


@pytest.mark.parametrize(
    "dtype",
    [np.float16, ml_dtypes.bfloat16, np.float32, np.float64],
    ids=["float16", "bfloat16", "float32", "float64"],
)
def test_round_trip_keeps_negative_zero_subnormals_and_nan_payloads(tmp_path, dtype):
    array = _specials(dtype)
    assert (
        np.signbit(array[1]) and array[2] != 0 and abs(array[2]) < np.asarray(array[5])
    )  # a real subnormal
    tree = {"host": array, "matrix": array.reshape(1, -1).repeat(2, axis=0)}
    path = fnn.save_checkpoint(tmp_path / "s.npz", tree, opt_state=(array,), history={"h": array})
    loaded = fnn.load_checkpoint(path)
    for leaf in (
        loaded.params["host"],
        loaded.params["matrix"][1],
        loaded.opt_state[0],
        loaded.history["h"],
    ):
        assert _bits(leaf) == _bits(array)
    if dtype != np.float64:  # jax arrays through like=: the bits the device holds come back
        device = jax.tree.map(jnp.asarray, tree)
        restored = fnn.load_checkpoint(
            fnn.save_checkpoint(tmp_path / "j.npz", device), like=device
        ).params
        assert isinstance(restored["host"], jax.Array)
        _assert_bit_equal(jax.tree.map(np.asarray, restored), jax.tree.map(np.asarray, device))
    else:
        with float64_mode():
            device = jnp.asarray(array)
            restored = fnn.load_checkpoint(
                fnn.save_checkpoint(tmp_path / "j.npz", {"a": device}), like={"a": device}
            ).params["a"]
            assert restored.dtype == jnp.float64 and _bits(restored) == _bits(array)


# --- resuming -------------------------------------------------------------------------


def _data(key):
    kx, ky = jax.random.split(key)
    x = jax.random.normal(kx, (12, 2))
    y = (jax.random.uniform(ky, (12, 1)) > 0.5).astype(jnp.float32)
    return x, y


@pytest.mark.parametrize("setup", ["sgd_inverse_time", "adam", "constant_full_batch"])
def test_resume_from_a_checkpoint_gives_the_uninterrupted_bits(tmp_path, key, setup):
    net = fnn.MLP((2, 4, 1), activation="tanh")
    params = net.init(jax.random.fold_in(key, 1))
    x, y = _data(jax.random.fold_in(key, 2))
    run_key = jax.random.fold_in(key, 3)
    options = {
        "sgd_inverse_time": dict(learning_rate=fnn.inverse_time_decay(2.0, 4.0), batch_size=5),
        "adam": dict(optimizer=optax.adam(1e-2), batch_size=4),
        "constant_full_batch": dict(learning_rate=0.3),
    }[setup]
    common = dict(loss="binary_cross_entropy", key=run_key, **options)
    optimizer = options.get("optimizer")
    straight = fnn.fit(net, params, x, y, num_epochs=6, **common)

    first = fnn.fit(net, params, x, y, num_epochs=3, **common)
    fnn.save_checkpoint_step(
        tmp_path, 3, first.params, network=net, opt_state=first.opt_state, history=first.history
    )
    saved, found = fnn.load_latest(tmp_path)
    assert found.step == 3 and saved.network == net
    resumed = fnn.fit(
        saved.network,
        saved.params,
        x,
        y,
        num_epochs=6,
        opt_state=saved.opt_state,
        initial_epoch=found.step,
        **common,
    )

    _assert_bit_equal(
        jax.tree.map(np.asarray, resumed.params), jax.tree.map(np.asarray, straight.params)
    )
    _assert_bit_equal(
        jax.tree.map(np.asarray, resumed.opt_state), jax.tree.map(np.asarray, straight.opt_state)
    )
    assert resumed.stopped_epoch == 6 and resumed.num_updates == straight.num_updates
    np.testing.assert_array_equal(
        np.concatenate([saved.history["train_loss"], resumed.history["train_loss"]]),
        straight.history["train_loss"],
    )
    if "learning_rate" in straight.history:  # the schedule's k continued: the same α per epoch
        np.testing.assert_array_equal(
            resumed.history["learning_rate"], straight.history["learning_rate"][3:]
        )
    if optimizer is not None:  # the resumed Adam really continued from the saved moments and count
        assert int(resumed.opt_state[0].count) == straight.num_updates


def test_resume_arguments_are_checked(params, key):
    net = fnn.MLP((2, 3, 1), activation="tanh")
    x, y = _data(key)
    common = dict(loss="binary_cross_entropy", key=key, num_epochs=3)
    for bad in (3, -1):
        with pytest.raises(ValueError, match=r"initial_epoch must be in \[0, 2\]"):
            fnn.fit(net, params, x, y, learning_rate=0.1, initial_epoch=bad, **common)
    with pytest.raises(TypeError, match="initial_epoch must be an int"):
        fnn.fit(net, params, x, y, learning_rate=0.1, initial_epoch=1.0, **common)
    adam = optax.adam(1e-2)
    with pytest.raises(ValueError, match="opt_state must have the structure of optimizer.init"):
        fnn.fit(
            net,
            params,
            x,
            y,
            optimizer=adam,
            opt_state=optax.sgd(0.1, momentum=0.9).init(params),
            **common,
        )
    with pytest.raises(ValueError, match="opt_state must have the structure"):
        fnn.fit(net, params, x, y, learning_rate=0.1, opt_state=adam.init(params), **common)
    wrong = jax.tree.map(
        lambda a: a.astype(jnp.float16) if a.dtype == jnp.float32 else a, adam.init(params)
    )
    with pytest.raises(
        ValueError,
        match=r"opt_state\[0\]\.mu\[0\]\.w must be float32\[2, 3\] .*got float16\[2, 3\]",
    ):
        fnn.fit(net, params, x, y, optimizer=adam, opt_state=wrong, **common)
    with pytest.raises(
        ValueError, match="opt_state must have the structure"
    ):  # learning_rate= is fnn.sgd's state
        fnn.fit(net, params, x, y, learning_rate=0.1, opt_state=(), **common)
    result = fnn.fit(net, params, x, y, learning_rate=0.1, initial_epoch=2, **common)
    assert (
        result.stopped_epoch == 3
        and len(result.history["train_loss"]) == 1
        and result.num_updates == 3
    )
    assert int(result.opt_state.count) == 3  # the schedule's k continued from 2 epochs of 1 update
