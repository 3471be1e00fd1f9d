"""Numbered checkpoints in a directory: ``ckpt_000123.npz`` per step, the newest loadable one, pruning.

A training run saves with :func:`save_checkpoint_step` after some epochs; a
restarted run calls :func:`load_latest` to continue from the newest checkpoint
that reads back completely. Files that cannot be trusted are skipped, never
loaded, and reported: a stray temporary file of a write that died
(``.ckpt_000123.npz.<random>.tmp``), a truncated or corrupt archive (the
checksum fails), or a file with a checkpoint's name that is not a checkpoint.
Each write is atomic (see :mod:`functional_nn.checkpoint`), so the previous
checkpoint stays loadable whatever happens to the next one.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import NamedTuple

from functional_nn._validate import check_int
from functional_nn.checkpoint import (
    Checkpoint,
    CheckpointError,
    _read,
    load_checkpoint,
    save_checkpoint,
    write_error,
)

__all__ = [
    "LatestCheckpoint",
    "checkpoint_path",
    "checkpoint_steps",
    "save_checkpoint_step",
    "latest_checkpoint",
    "load_latest",
]

_NAME = re.compile(r"^ckpt_(\d+)\.npz$")
_TEMPORARY = re.compile(
    r"^\.ckpt_\d+\.npz\..*\.tmp$"
)  # what checkpoint._atomic_write leaves if killed


class LatestCheckpoint(NamedTuple):
    """What :func:`latest_checkpoint` found."""

    path: Path | None  # the newest loadable checkpoint; None if there is none
    step: int | None  # its step number
    skipped: tuple[tuple[Path, str], ...]  # (file, why it was skipped), newest first


def checkpoint_path(directory: str | os.PathLike, step: int) -> Path:
    """The file for ``step`` in ``directory``: ``checkpoint_path("run", 123) -> run/ckpt_000123.npz``."""
    step = check_int("step", step, 0)
    return Path(directory) / f"ckpt_{step:06d}.npz"


def checkpoint_steps(directory: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(step, path)`` of every file named like a checkpoint in ``directory``, oldest first (not validated)."""
    directory = _existing(directory)
    found = [
        (int(m.group(1)), directory / name)
        for name in os.listdir(directory)
        if (m := _NAME.match(name))
    ]
    return sorted(found)


def save_checkpoint_step(
    directory: str | os.PathLike, step: int, params, *, keep: int | None = None, **kwargs
) -> Path:
    """Write ``ckpt_<step>.npz`` atomically into ``directory``, then keep only the newest ``keep``.

    Args:
        directory: an existing directory.
        step: the step (epoch, update count, ...) the checkpoint belongs to; it is
            also stored as ``metadata["step"]``.
        params: the params tree; ``**kwargs`` go to :func:`save_checkpoint`
            (``network=``, ``opt_state=``, ``history=``, ``metadata=``).
        keep: ``None`` keeps every checkpoint; ``N >= 1`` deletes the checkpoints
            older than the one just written beyond the ``N - 1`` newest of them.
            Checkpoints with a higher step (another run's) and temporary files
            (a concurrent write's) are never deleted.
    Returns:
        The path written.
    Raises:
        CheckpointWriteError: the directory is read-only or full (nothing is pruned then).
    """
    if keep is not None:
        keep = check_int("keep", keep, 1)
    path = checkpoint_path(_existing(directory), step)
    metadata = dict(kwargs.pop("metadata", None) or {})
    metadata["step"] = step
    save_checkpoint(path, params, metadata=metadata, **kwargs)
    if keep is not None:
        older = [p for s, p in checkpoint_steps(directory) if s < step]
        for stale in older[: max(len(older) - (keep - 1), 0)]:
            stale.unlink(missing_ok=True)
    return path


def check_writable(directory: str | os.PathLike) -> None:
    """Raise :class:`CheckpointWriteError` now if ``directory`` cannot take a file (read-only, full).

    A run checks its checkpoint directory before it trains, so a directory that
    cannot be written fails in the first second, not at the first checkpoint. The
    probe is not fsynced: creating it meets a read-only or forbidden directory, and
    writing it reserves its blocks, which meets a full disk or quota; what only a
    sync would wait for, the blocks reaching the device, is no refusal.
    """
    directory = _existing(directory)
    probe = directory / ".ckpt_probe"
    try:
        fd, name = tempfile.mkstemp(dir=directory, prefix=".ckpt_probe.", suffix=".tmp")
        probe = Path(name)
        try:
            os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
    except OSError as err:
        raise write_error(probe, err) from err
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def latest_checkpoint(directory: str | os.PathLike) -> LatestCheckpoint:
    """The newest checkpoint in ``directory`` that reads back completely (manifest and checksum).

    Newer files that fail (truncated, corrupt, not a checkpoint) and temporary
    files of unfinished writes are listed in ``skipped`` with the reason.
    ``path`` is None when no checkpoint loads.
    """
    directory = _existing(directory)
    skipped = [
        (directory / name, "temporary file of an unfinished write")
        for name in sorted(os.listdir(directory))
        if _TEMPORARY.match(name)
    ]
    for step, path in reversed(checkpoint_steps(directory)):
        try:
            _read(path)
        except CheckpointError as err:
            skipped.append((path, str(err)))
            continue
        except OSError as err:  # unreadable (permissions, a directory with a checkpoint's name)
            skipped.append((path, f"{path}: cannot be read ({err})"))
            continue
        return LatestCheckpoint(path, step, tuple(skipped))
    return LatestCheckpoint(None, None, tuple(skipped))


def load_latest(
    directory: str | os.PathLike, *, like=None, opt_state_like=None
) -> tuple[Checkpoint, LatestCheckpoint]:
    """Load the newest loadable checkpoint: ``(checkpoint, LatestCheckpoint(path, step, skipped))``.

    ``like=`` and ``opt_state_like=`` work as in :func:`load_checkpoint`; a
    checkpoint that reads back but does not fit them (another architecture) is
    an error, not a reason to fall back to an older file.

    Raises:
        FileNotFoundError: ``directory`` does not exist or holds no loadable
            checkpoint (the message lists what was skipped and why).
        CheckpointError: the newest loadable checkpoint does not fit ``like=``.
    """
    found = latest_checkpoint(directory)
    if found.path is None:
        why = (
            "; ".join(f"{p.name}: {reason}" for p, reason in found.skipped)
            or "no ckpt_<step>.npz files"
        )
        raise FileNotFoundError(f"no loadable checkpoint in {directory} ({why})")
    return load_checkpoint(found.path, like=like, opt_state_like=opt_state_like), found


def _existing(directory) -> Path:
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"checkpoint directory {directory} does not exist")
    return directory
