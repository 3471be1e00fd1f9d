"""Checkpoints inside ``fit`` and ``fit_many`` (host side, between compiled segments).

After every ``checkpoint_every`` epochs the host writes one checkpoint
(:func:`functional_nn.checkpoint_dir.save_checkpoint_step`, atomic and checksummed)
holding everything the rest of the run depends on: the params and optimizer state
(sections ``params``, ``opt_state``), the history so far (``history``, the full-length
buffers), and in ``state`` the early-stopping and divergence state (best params, best
validation loss, best epoch, epochs without improvement, status, epochs done) and the
loop's epoch. ``metadata["run"]`` describes the run — network, data shapes and a digest
of the data, loss, configuration — so that ``resume=True`` refuses a checkpoint of
another run, naming what differs. :func:`check_plan` checks the checkpoint arguments at
the boundary, and the directory takes a file before the run starts. In a run of several
processes, process 0 writes and every process resumes from the same checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import _engine as engine
from functional_nn import checkpoint_dir as ckpt_dir
from functional_nn import parallel
from functional_nn._validate import check_bool, check_int, host_values, is_split
from functional_nn.checkpoint import CheckpointError, CheckpointWriteError, _read

#: Member fields kept in a checkpoint's ``state`` section besides params and opt_state.
STATE_FIELDS = ("best_params", "best_val", "best_epoch", "bad_epochs", "status", "epochs_done")

# how the description's entries read in a refusal
_LABELS = {
    "kind": "trained by",
    "network": "network",
    "loss": "loss",
    "method": "gradient method",
    "x": "training inputs x",
    "y": "training targets y",
    "validation": "validation data",
    "batch_size": "batch_size",
    "updates_per_epoch": "updates per epoch (batch_size, drop_last)",
    "num_epochs": "num_epochs",
    "initial_epoch": "initial_epoch",
    "patience": "patience",
    "min_delta": "min_delta",
    "members": "members",
    "record_grad_norms": "record_grad_norms",
    "checkpoint_every": "checkpoint_every",
    "step_size": "step size",
    "shuffle_seed": "key (the shuffles' seed)",
    "hidden_widths": "hidden_widths",
    "history": "recorded history",
}


class Plan(NamedTuple):
    """Where and how often a run checkpoints (checked at the boundary)."""

    directory: Path
    every: int  # epochs between checkpoints
    resume: bool
    keep: int | None


def check_plan(directory, every, resume, keep) -> Plan | None:
    """The checkpoint arguments; the directory is created and must take a file now, not after an hour."""
    resume = check_bool("resume", resume)
    if keep is not None:
        keep = check_int("keep", keep, 1)
    if directory is None:
        if every is not None or resume:
            raise ValueError(
                "checkpoint_every and resume need checkpoint_dir (the directory the "
                f"checkpoints go to), got checkpoint_every={every!r}, resume={resume!r}"
            )
        return None
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(
            f"checkpoint_dir must be a path (str or os.PathLike), got "
            f"{type(directory).__name__}: {directory!r}"[:300]
        )
    if every is None:
        raise ValueError("checkpoint_dir needs checkpoint_every=N (epochs between checkpoints)")
    every = check_int("checkpoint_every", every, 1)
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"checkpoint_dir {directory} exists and is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CheckpointWriteError(
            f"checkpoint_dir {directory} cannot be created: {err.strerror or err}"
        ) from err
    ckpt_dir.check_writable(directory)
    return Plan(directory, every, resume, keep)


def describe(run, kind: str) -> dict:
    """What makes a run this run, as JSON: a checkpoint of another run is refused against it."""
    config, data = run.config, run.data
    hyper = parallel.to_local(run.hyper)  # members split across processes: gathered
    validation = None
    if data.x_val is not None:
        validation = [_array_summary(data.x_val), _array_summary(data.y_val)]
    description = {
        "kind": kind,
        "network": config.net.describe(),
        "loss": config.loss,
        "method": config.method,
        "x": _array_summary(data.x),
        "y": _array_summary(data.y),
        "validation": validation,
        "batch_size": config.batch_size,
        "updates_per_epoch": config.num_batches,
        "num_epochs": config.num_epochs,
        "initial_epoch": config.first_epoch,
        "patience": config.patience,
        "min_delta": np.atleast_1d(np.asarray(hyper.min_delta, float)).tolist(),
        "members": config.members,
        "record_grad_norms": config.record_grad_norms,
        # the segments' boundaries: a checkpoint's epoch lies on them
        "checkpoint_every": None if run.checkpoints is None else run.checkpoints.every,
        "step_size": list(run.rate_texts),
        "shuffle_seed": np.asarray(hyper.seed).reshape(-1).tolist(),
        "hidden_widths": None
        if hyper.masks is None
        else [np.asarray(m).sum(-1).astype(int).reshape(-1).tolist() for m in hyper.masks],
    }
    return json.loads(json.dumps(description))  # tuples read back as lists


def _array_summary(a) -> str:
    """``dtype[shape] sha256:…`` of ``a``'s values (of every process's rows where they are split)."""
    if is_split(a):  # each process hashes the rows it holds; one all-gather joins the hashes
        bounds = sorted({s.index[0].indices(a.shape[0])[:2] for s in a.addressable_shards})
        mine = hashlib.sha256(repr(bounds).encode())
        mine.update(np.ascontiguousarray(host_values(a)).reshape(-1).view(np.uint8).data)
        every = parallel.allgather(np.frombuffer(mine.digest(), np.uint8))
        digest = hashlib.sha256(every.tobytes()).hexdigest()[:16]
        return f"{a.dtype}{list(a.shape)} split over {len(every)} processes, sha256:{digest}"
    a = np.asarray(a)
    raw = np.ascontiguousarray(a).reshape(-1).view(np.uint8)  # the bytes, not a copy of them
    digest = hashlib.sha256(raw.data).hexdigest()[:16]
    return f"{a.dtype}{list(a.shape)} sha256:{digest}"


def check_fresh(plan) -> None:
    """A run that does not resume must not mix its checkpoints with another run's."""
    found = ckpt_dir.checkpoint_steps(plan.directory)
    if found:
        raise ValueError(
            f"checkpoint_dir {plan.directory} already holds checkpoints ({found[-1][1].name}, "
            f"{len(found)} in all); pass resume=True to continue that run, or give an empty "
            "directory"
        )


def restore(plan, run, description: dict, template):
    """``(member, history, epoch, path)`` from the newest loadable checkpoint, or None if there is none.

    ``template`` is ``(member, history)`` as shapes (``jax.eval_shape`` of the start).
    Raises CheckpointError when the checkpoint belongs to another run, or when the
    processes of a multi-process run did not find the same checkpoint.
    """
    found = ckpt_dir.latest_checkpoint(plan.directory)
    if jax.process_count() > 1:  # before any other collective, which would not match then
        _check_same_checkpoint(plan, -1 if found.step is None else found.step)
    if found.path is None:
        corrupt = [(p, why) for p, why in found.skipped if ckpt_dir._NAME.match(p.name)]
        if corrupt:
            raise CheckpointError(
                f"resume=True found no loadable checkpoint in {plan.directory}: "
                + "; ".join(f"{p.name}: {why}" for p, why in corrupt)
            )
        return None  # nothing written yet (or only a write that died): start from the beginning
    member_like, history_like = template
    # the run's description first: a foreign checkpoint is named as such, not by a leaf's shape
    manifest = _read(found.path)[0]
    _compare(found.path, (manifest.get("metadata") or {}).get("run"), description)
    state_like = {name: getattr(member_like, name) for name in STATE_FIELDS}
    if state_like["best_params"] is None:
        del state_like["best_params"]
    state_like["epoch"] = jax.ShapeDtypeStruct((), jnp.int32)
    legacy = "state/bad_step" in manifest["leaves"]  # written by 0.2.0 (see _from_0_2_0)
    if legacy:
        state_like["bad_step"] = member_like.epochs_done
    loaded = ckpt_dir.load_checkpoint(
        found.path,
        like=member_like.params,
        opt_state_like=member_like.opt_state,
        state_like=state_like,
    )
    history = _restore_history(found.path, loaded.history, history_like)
    state = dict(loaded.state)
    epoch = int(state.pop("epoch"))
    if legacy:
        _from_0_2_0(run.config, state)
    state.setdefault("best_params", None)
    member = engine.Member(params=loaded.params, opt_state=loaded.opt_state, **state)
    member, history = jax.tree_util.tree_map(
        lambda a, t: jnp.asarray(a, t.dtype), (member, history), (member_like, history_like)
    )
    if run.config.mesh is not None:  # placed as a fresh run's start is
        member, history = parallel.place_state(run.config, (member, history))
    return member, history, epoch, found.path


def _check_same_checkpoint(plan, epoch: int) -> None:
    """Every process resumes from the same epoch's checkpoint (``-1``: none; one small all-gather)."""
    every = parallel.allgather(np.array([epoch], np.int64))[:, 0]
    if np.any(every != every[0]):
        found = ", ".join(
            f"process {p}: "
            + (ckpt_dir.checkpoint_path(plan.directory, e).name if e >= 0 else "none")
            for p, e in enumerate(every.tolist())
        )
        raise CheckpointError(
            f"the processes of this run found different checkpoints in {plan.directory} "
            f"({found}); checkpoint_dir must be one directory that every process sees (a "
            "shared file system): process 0 writes it and every process resumes from it"
        )


def _from_0_2_0(config: engine.Config, state: dict) -> None:
    """A 0.2.0 checkpoint's state in this version's terms (in place).

    0.2.0 kept a diverged member's bad step (``bad_step``) and counted its epochs to
    the bad one; this version's replay finds the step itself, starting from the
    epoch its handed-back state is at: without validation, its segment's first.
    """
    del state["bad_step"]
    if config.has_validation:
        return  # the span was the bad epoch itself: the counts agree
    done, c = np.asarray(state["epochs_done"]), config.epochs_per_segment
    start = config.first_epoch + (done - config.first_epoch) // c * c
    state["epochs_done"] = np.where(np.asarray(state["status"]) == engine.DIVERGED, start, done)


def _restore_history(path: Path, history, like: dict) -> dict:
    if history is None or set(history) != set(like):
        raise CheckpointError(
            f"{path}: its history has {sorted(history or ())}, this run records {sorted(like)}"
        )
    for name, t in like.items():
        if tuple(np.shape(history[name])) != tuple(t.shape):
            raise CheckpointError(
                f"{path}: history[{name!r}] has shape {np.shape(history[name])}, this run's "
                f"is {tuple(t.shape)}"
            )
    return {name: history[name] for name in like}


def _compare(path: Path, saved, current: dict) -> None:
    if not isinstance(saved, dict):
        raise CheckpointError(
            f"{path}: not a checkpoint written by fit or fit_many (no run description); "
            "resume=True continues only such a run"
        )
    differs = [
        f"{_LABELS.get(name, name)}: {saved.get(name)!r} in the checkpoint, {value!r} now"
        for name, value in current.items()
        if saved.get(name) != value
    ]
    if differs:
        raise CheckpointError(
            f"{path} was written by another run, so resume=True cannot continue it; "
            + "; ".join(differs)
        )


def save(plan, run, describe: Callable[[], dict], member, history, epoch: int) -> Path:
    """Write the checkpoint of epoch ``epoch`` (``member`` and ``history`` on the host) and prune
    to ``keep``; ``describe()`` is the run's description."""
    state = {name: getattr(member, name) for name in STATE_FIELDS}
    if state["best_params"] is None:
        del state["best_params"]
    state["epoch"] = np.asarray(epoch, np.int32)
    return ckpt_dir.save_checkpoint_step(
        plan.directory,
        epoch,
        member.params,
        keep=plan.keep,
        network=run.config.net,
        opt_state=member.opt_state,
        history=history,
        state=state,
        metadata={"run": describe(), "epoch": epoch},
    )
