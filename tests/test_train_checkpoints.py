"""Checkpoints inside fit (issue 13): segments without retrace, resume to the same bits, refusals,
keep, on_segment, read-only and full directories, and the divergence causes."""

import errno
import tempfile
import types
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functional_nn as fnn
from functional_nn import _engine, _prepare, checkpoint, train
from functional_nn.checkpoint import CheckpointWriteError

NET = fnn.MLP((2, 5, 1), activation="tanh")


def _data():
    x = jax.random.normal(jax.random.key(0), (24, 2))
    return x, jnp.sin(x[:, :1] * 2)


SETTINGS = dict(learning_rate=0.3, batch_size=8, num_epochs=9, patience=4)


def _fit(x, y, **options):
    with warnings.catch_warnings():  # this run still improves at its end; that is not the subject
        warnings.simplefilter("ignore", fnn.ConvergenceWarning)
        return _fit_warning(x, y, **options)


def _fit_warning(x, y, **options):
    return fnn.fit(
        NET,
        NET.init(jax.random.key(1)),
        x,
        y,
        key=jax.random.key(2),
        validation=(x[:6], y[:6]),
        **(SETTINGS | options),
    )


def assert_bits_equal(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for u, v in zip(la, lb):
        u, v = np.asarray(u), np.asarray(v)
        assert u.dtype == v.dtype and u.shape == v.shape and u.tobytes() == v.tobytes()


def assert_same_run(a, b):
    for name in ("params", "best_params", "opt_state", "history"):
        assert_bits_equal(getattr(a, name), getattr(b, name))
    assert (a.best_epoch, a.stopped_epoch, a.stopped_early) == (
        b.best_epoch,
        b.stopped_epoch,
        b.stopped_early,
    )


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A run stopped by its on_segment hook after 2 segments, then resumed; the segment traces."""
    directory = tmp_path_factory.mktemp("ckpt")
    x, y = _data()
    traces, seen, on_disk = [], [], []
    segment = _engine.run_segment

    def counting(*args, **kwargs):
        traces.append(1)
        return segment(*args, **kwargs)

    def hook(state):
        seen.append(state)
        on_disk.append(state.checkpoint.is_file())  # written in the background, awaited first
        if len(seen) == 2:
            raise Stop

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_engine, "run_segment", counting)
        with pytest.raises(Stop):
            _fit(x, y, checkpoint_dir=directory, checkpoint_every=2, keep=2, on_segment=hook)
        after_stop = sorted(p.name for p in directory.iterdir())
        resumed = _fit(x, y, checkpoint_dir=directory, checkpoint_every=2, keep=2, resume=True)
    return dict(
        directory=directory,
        traces=len(traces),
        seen=seen,
        on_disk=on_disk,
        after_stop=after_stop,
        resumed=resumed,
        plain=_fit(x, y),
    )


def test_a_stopped_run_resumes_to_the_plain_runs_bits_without_retrace_or_foreign_files(interrupted):
    # one test over the one stopped-and-resumed run (one compilation per xdist worker)
    assert_same_run(interrupted["resumed"], interrupted["plain"])
    # one trace of the segment runner for the stopped run and the resumed one together
    assert interrupted["traces"] == 1
    _on_segment_got_the_state_and_keep_bounded_the_files(interrupted)
    _resume_refuses_another_runs_checkpoint_naming_what_differs(interrupted)


def _on_segment_got_the_state_and_keep_bounded_the_files(interrupted):
    first, second = interrupted["seen"]
    assert (first.epoch, second.epoch, first.num_epochs) == (2, 4, 9)
    assert first.history["train_loss"].shape == (2,) and second.history["val_loss"].shape == (4,)
    assert second.checkpoint.name == "ckpt_000004.npz" and second.running
    assert interrupted["on_disk"] == [True, True]
    assert interrupted["after_stop"] == ["ckpt_000002.npz", "ckpt_000004.npz"]
    names = sorted(p.name for p in interrupted["directory"].iterdir())
    assert len(names) == 2 and names[-1] == f"ckpt_{interrupted['resumed'].stopped_epoch:06d}.npz"


def _resume_refuses_another_runs_checkpoint_naming_what_differs(interrupted):
    x, y = _data()
    with pytest.raises(
        checkpoint.CheckpointError, match=r"another run.*training inputs x.*patience"
    ):
        _fit(
            x[:-8],
            y[:-8],
            patience=5,
            checkpoint_dir=interrupted["directory"],
            checkpoint_every=2,
            resume=True,
        )
    with pytest.raises(ValueError, match="already holds checkpoints.*resume=True"):
        _fit(x, y, checkpoint_dir=interrupted["directory"], checkpoint_every=2)


@pytest.mark.parametrize(
    "options, error, match",
    [
        (dict(checkpoint_every=2), ValueError, "need checkpoint_dir"),
        (dict(resume=True), ValueError, "need checkpoint_dir"),
        (dict(checkpoint_dir="d"), ValueError, "needs checkpoint_every"),
        (dict(checkpoint_dir="d", checkpoint_every=0), ValueError, "checkpoint_every must be >= 1"),
        (dict(checkpoint_dir=3, checkpoint_every=1), TypeError, "checkpoint_dir must be a path"),
        (dict(keep=0), ValueError, "keep must be >= 1"),
        (dict(resume=1), TypeError, "resume must be True or False"),
        (dict(on_segment=3), TypeError, "on_segment must be a function"),
    ],
)
def test_checkpoint_arguments_are_checked_at_the_boundary(tmp_path, options, error, match):
    x, y = _data()
    if "checkpoint_dir" in options and isinstance(options["checkpoint_dir"], str):
        options["checkpoint_dir"] = tmp_path / options["checkpoint_dir"]
    with pytest.raises(error, match=match):
        _fit(x, y, **options)


# --- read-only and full directories (fail on main: raw OSErrors without the file or the cause) ---


def _failing_mkstemp(code):
    def mkstemp(*args, **kwargs):
        raise OSError(code, "simulated")

    return mkstemp


def test_a_read_only_checkpoint_dir_fails_before_training_naming_it(tmp_path, monkeypatch):
    x, y = _data()
    # root ignores permission bits, so the refusal a read-only directory gives is simulated
    monkeypatch.setattr(tempfile, "mkstemp", _failing_mkstemp(errno.EROFS))
    with pytest.raises(CheckpointWriteError, match=f"{tmp_path}.*read-only"):
        _fit(x, y, checkpoint_dir=tmp_path, checkpoint_every=2)


def test_a_checkpoint_dir_that_cannot_be_created_is_named(tmp_path):
    x, y = _data()
    (tmp_path / "a_file").write_text("")
    target = tmp_path / "a_file" / "checkpoints"  # its parent is a file: mkdir fails
    with pytest.raises(CheckpointWriteError, match="checkpoints cannot be created"):
        _fit(x, y, checkpoint_dir=target, checkpoint_every=2)


def test_a_full_disk_fails_at_the_write_and_the_previous_checkpoint_stays_loadable(
    tmp_path, monkeypatch
):
    params = NET.init(jax.random.key(3))
    fnn.save_checkpoint_step(tmp_path, 1, params)

    def full(f, arrays):
        f.write(b"x" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "_write_payload", full)
    with pytest.raises(CheckpointWriteError, match=r"ckpt_000002\.npz: the disk is full"):
        fnn.save_checkpoint_step(tmp_path, 2, params, keep=1)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_000001.npz"]  # no stray temporary
    loaded, found = fnn.load_latest(tmp_path, like=params)
    assert found.step == 1
    assert_bits_equal(loaded.params, params)


def test_a_full_disk_inside_fit_raises_at_that_checkpoint(tmp_path, monkeypatch):
    x, y = _data()
    writes = []
    payload = checkpoint._write_payload

    def full_after_one(f, arrays):
        writes.append(1)
        if len(writes) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        payload(f, arrays)

    monkeypatch.setattr(checkpoint, "_write_payload", full_after_one)
    with pytest.raises(CheckpointWriteError, match="ckpt_000004.npz: the disk is full"):
        _fit(x, y, checkpoint_dir=tmp_path, checkpoint_every=2)
    monkeypatch.undo()
    assert fnn.latest_checkpoint(tmp_path).step == 2


# --- the divergence message tells the causes apart (on main every one blamed the step size) ---

LINEAR_OUT = fnn.MLP((4, 3, 1), activation="relu", output_activation="linear")
ONES = (fnn.Dense(jnp.ones((4, 3)), jnp.zeros(3)), fnn.Dense(jnp.ones((3, 1)), jnp.zeros(1)))


def _diverge(x, learning_rate):
    return fnn.fit(
        LINEAR_OUT,
        ONES,
        x,
        jnp.ones((8, 1)),
        learning_rate=learning_rate,
        num_epochs=30,
        key=jax.random.key(1),
    )


def test_a_too_large_step_size_is_named_by_the_growing_loss():
    result = _diverge(jax.random.normal(jax.random.key(0), (8, 4)), 1.0)
    assert result.diverged and result.diverged_epoch > 3
    assert "likely cause is learning_rate=1: the loss grew over the last" in result.message


def test_an_overflowing_activation_is_not_blamed_on_the_step_size():
    result = _diverge(jnp.full((8, 4), 3e38), 0.01)
    assert result.diverged and result.diverged_epoch == 1
    assert "activation that overflowed: layer 1's pre-activation o^1" in result.message
    assert "step size is not to blame" in result.message


def test_a_loss_that_overflows_with_finite_activations_names_the_scale():
    result = _diverge(jnp.full((8, 4), 1e19), 0.01)
    assert "scale of the outputs or targets" in result.message
    assert "learning_rate=0.01" not in result.message


def test_non_finite_data_that_slipped_past_the_boundary_is_named():
    x = jax.random.normal(jax.random.key(0), (8, 4))
    run = _prepare.prepare(
        LINEAR_OUT,
        x,
        jnp.ones((8, 1)),
        members=False,
        params=ONES,
        key=jax.random.key(1),
        loss="mse",
        learning_rate=0.01,
        optimizer=None,
        batch_size=None,
        num_epochs=30,
        method="manual",
        validation=None,
        patience=None,
        min_delta=0.0,
        progress=False,
        record_grad_norms=False,
        mesh=None,
        drop_last=False,
        opt_state=None,
        initial_epoch=0,
    )
    run = run._replace(data=run.data._replace(x=run.data.x.at[3, 1].set(jnp.nan)))
    message = train._train(run, "fit").members.message[0]
    assert "cause is non-finite data: the batch holds non-finite values" in message


@pytest.mark.parametrize("diverging", [False, True])
def test_a_checkpoint_written_by_0_2_0_resumes_to_the_plain_runs_bits(
    tmp_path, monkeypatch, diverging
):
    # 0.2.0 kept a diverged member's bad step in the checkpoint's state and counted its
    # epochs up to the bad one; this version's replay starts from the segment's first epoch
    from functional_nn import _checkpointing, checkpoint_dir

    line = fnn.MLP((1, 1), output_activation="linear")
    x = jnp.linspace(-3, 3, 16)[:, None]
    rate = 2.0 if diverging else 0.1  # 2.0: diverges in epoch 7, inside the segment of epochs 5-8
    run = dict(key=jax.random.key(2), learning_rate=rate, batch_size=4, num_epochs=12)
    plain = fnn.fit(line, line.init(jax.random.key(1)), x, 3 * x, **run)
    assert plain.diverged == diverging and (plain.stopped_epoch == 6) == diverging
    save = _checkpointing.save

    def save_as_0_2_0(plan, prepared, description, member, history, epoch):
        counts = {"epochs_done": member.epochs_done, "bad_step": 0}
        if member.status == _engine.DIVERGED:  # 0.2.0's counts: up to the bad step
            counts = {"epochs_done": plain.stopped_epoch, "bad_step": plain.diverged_step - 1}
        counts = {name: np.asarray(v, np.int32) for name, v in counts.items()}
        old = types.SimpleNamespace(**(member._asdict() | counts))
        return save(plan, prepared, description, old, history, epoch)

    with monkeypatch.context() as patched:
        patched.setattr(_checkpointing, "STATE_FIELDS", (*_checkpointing.STATE_FIELDS, "bad_step"))
        patched.setattr(_checkpointing, "save", save_as_0_2_0)
        fnn.fit(
            line,
            line.init(jax.random.key(1)),
            x,
            3 * x,
            checkpoint_dir=tmp_path,
            checkpoint_every=4,
            keep=None,
            **run,
        )
    steps = checkpoint_dir.checkpoint_steps(tmp_path)
    for _, path in steps[1:] if not diverging else ():  # resume from epoch 4: the rest is run again
        path.unlink()
    resumed = fnn.fit(
        line,
        line.init(jax.random.key(1)),
        x,
        3 * x,
        checkpoint_dir=tmp_path,
        checkpoint_every=4,
        keep=None,
        resume=True,
        **run,
    )
    for name in ("params", "opt_state", "history"):
        assert_bits_equal(getattr(resumed, name), getattr(plain, name))
    for name in ("stopped_epoch", "diverged", "diverged_epoch", "diverged_step", "diverged_leaf"):
        assert getattr(resumed, name) == getattr(plain, name), name
