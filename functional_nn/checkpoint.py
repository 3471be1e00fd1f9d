"""Checkpoints: params, network description, optimizer state and history in one file.

The file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, readable with
``np.load``): every leaf is an array stored under its tree path (``params/0/w``,
``opt_state/0/mu/1/b``, ``history/train_loss``), and ``__manifest__`` holds a
JSON manifest: the trees' structure, each leaf's dtype and shape, the network's
description, free-form metadata and a SHA-256 of the arrays.

Writes are atomic: the archive goes to a temporary file in the same directory,
is flushed and fsynced, then ``os.replace``-d over the target, so a crash
mid-write leaves the previous checkpoint intact. Loads are bit-exact and keep
every dtype (float32, float64, int32, bfloat16, ...).

Numbered checkpoints in a directory (``ckpt_000123.npz``), the newest loadable one
and pruning are in :mod:`functional_nn.checkpoint_dir`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import importlib
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from functional_nn import _tree_codec as codec
from functional_nn._npz import write_npz as _write_payload  # tests stand in for it here

__all__ = ["CheckpointError", "Checkpoint", "save_checkpoint", "load_checkpoint"]

FORMAT = "functional_nn.checkpoint"
VERSION = 1
MANIFEST_KEY = "__manifest__"
SECTIONS = ("params", "opt_state", "history", "state")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read back, or that does not fit ``like=``."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (read-only directory, full disk, ...).

    Raised at the write that failed, naming the file and the cause; nothing of the
    failed write is left behind and earlier checkpoints are untouched.
    """


class Checkpoint(NamedTuple):
    """What :func:`load_checkpoint` returns."""

    params: Any  # the params tree (numpy leaves, or like's leaf types)
    network: Any  # an MLP, a dict for other network descriptions, or None
    opt_state: Any  # the optimizer state, or None if none was saved
    history: dict | None  # e.g. {"train_loss": (num_epochs,) array, ...}
    metadata: dict  # the JSON metadata given to save_checkpoint
    state: Any = None  # any further training state (fit's early-stopping state), or None


def save_checkpoint(
    path: str | os.PathLike,
    params,
    *,
    network=None,
    opt_state=None,
    history=None,
    metadata: dict | None = None,
    state=None,
) -> Path:
    """Write a checkpoint atomically.

    Args:
        path: the file to write (``.npz`` by convention; used as given). Its
            directory must exist. An existing file is replaced only once the new
            one is completely on disk.
        params: a pytree of arrays, e.g. the tuple of ``Dense(w, b)`` from ``MLP.init``.
        network: the network description: an ``MLP`` (stored via ``describe()``),
            another dataclass (``dataclasses.asdict``) or a JSON-ready dict.
        opt_state: an optax state (NamedTuples, tuples, dicts of arrays).
        history: e.g. the per-epoch arrays of a training run.
        metadata: JSON-serializable extras (epoch, seed, data set name, ...).
        state: any further pytree of arrays a run needs to continue (``fit``'s
            checkpoints keep their early-stopping and divergence state here).
    Returns:
        The path written.
    Raises:
        CheckpointWriteError: (an ``OSError``) the file cannot be written — the
            directory is read-only, the disk is full, ...; the message names the file
            and the cause, and any earlier file at ``path`` is left as it was.
    """
    path = Path(path)
    if params is None:
        raise TypeError("params must be a pytree of arrays (e.g. net.init(key)), got None")
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"cannot write checkpoint {path}: directory {path.parent} does not exist"
        )
    arrays: dict[str, np.ndarray] = {}
    trees = {}
    sections = (("params", params), ("opt_state", opt_state), ("history", history))
    for section, tree in sections + ((("state", state),) if state is not None else ()):
        trees[section] = None if tree is None else codec.encode(tree, section, arrays)
    stored, leaves = {}, {}
    for key, array in arrays.items():
        array = array.astype(array.dtype.newbyteorder("="), copy=False)
        leaves[key] = {"dtype": array.dtype.name, "shape": list(array.shape)}
        if _needs_view(array.dtype):  # store the raw bits; the manifest keeps the dtype's name
            leaves[key]["stored_as"] = f"uint{8 * array.dtype.itemsize}"
            array = array.view(np.dtype(leaves[key]["stored_as"]))
        stored[key] = array
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "trees": trees,
        "leaves": leaves,
        "network": _describe_network(network),
        "metadata": _check_json(metadata if metadata is not None else {}, "metadata"),
        "versions": _versions(),
        "payload_sha256": _payload_digest(stored, leaves),
    }
    manifest_bytes = np.frombuffer(json.dumps(manifest, sort_keys=True).encode("utf-8"), np.uint8)
    _atomic_write(path, {MANIFEST_KEY: manifest_bytes, **stored})
    return path


def load_checkpoint(
    path: str | os.PathLike, *, like=None, opt_state_like=None, state_like=None
) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Without ``like=`` the trees are rebuilt from the file: tuples, lists, dicts
    and NamedTuples (the original classes, e.g. ``Dense`` or optax's states,
    when importable; otherwise stand-ins with the same fields), leaves as numpy
    arrays. With ``like=`` (a params tree) the stored leaves are matched by path
    and poured into ``like``'s exact structure, as jax arrays where ``like`` has
    jax arrays; a different architecture is refused, naming the leaf and both
    shapes. ``opt_state_like=`` (e.g. ``optimizer.init(params)``) does the same
    for the optimizer state, and is needed when it holds custom pytree nodes.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: (a ``ValueError``) the file is corrupt, truncated, not a
            checkpoint, or does not fit ``like=``; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    manifest, leaves = _read(path)
    trees = manifest["trees"]
    out: dict[str, Any] = {}
    sections = (("params", like), ("opt_state", opt_state_like), ("history", None))
    for section, template in sections + (("state", state_like),):
        spec = trees.get(section)
        if spec is None:
            if template is not None:
                raise CheckpointError(
                    f"{path}: has no {section} to restore into the given template"
                )
            out[section] = None
        elif template is not None:
            out[section] = _restore_like(path, section, spec, leaves, template)
        else:
            try:
                out[section] = codec.decode(spec, leaves, f"{path}: {section}")
            except codec.TreeDecodeError as err:
                raise CheckpointError(str(err)) from None
            except (KeyError, TypeError) as err:
                raise CheckpointError(
                    f"{path}: corrupt tree description of {section} ({err!r})"
                ) from None
    return Checkpoint(
        out["params"],
        _rebuild_network(path, manifest.get("network")),
        out["opt_state"],
        out["history"],
        manifest.get("metadata") or {},
        out["state"],
    )


# --- writing ---------------------------------------------------------------------


def _atomic_write(path: Path, arrays: dict[str, np.ndarray]) -> None:
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise write_error(path, err) from err
    try:
        with os.fdopen(fd, "wb") as f:
            _write_payload(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, CheckpointWriteError):
            raise write_error(path, err) from err
        raise
    _fsync_directory(path.parent)


_WRITE_CAUSES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "the directory is not writable (read-only or no permission)",
    errno.EPERM: "the directory is not writable (read-only or no permission)",
}


def write_error(path: Path, err: OSError) -> CheckpointWriteError:
    """A :class:`CheckpointWriteError` naming ``path`` and the cause of ``err``."""
    cause = _WRITE_CAUSES.get(err.errno or 0, "the write failed")
    return CheckpointWriteError(
        err.errno,
        f"cannot write checkpoint {path}: {cause} ({err.strerror or err}); nothing of this "
        f"write was left behind and earlier checkpoints in {path.parent} are untouched",
    )


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _needs_view(dtype: np.dtype) -> bool:
    # isbuiltin == 2: a user-defined dtype such as ml_dtypes' bfloat16, which .npy files cannot name
    return dtype.kind == "V" or dtype.isbuiltin == 2


def _payload_digest(stored: dict[str, np.ndarray], leaves: dict[str, dict]) -> str:
    digest = hashlib.sha256()
    for key in sorted(stored):
        header = json.dumps([key, leaves[key]["dtype"], leaves[key]["shape"]])
        digest.update(header.encode("utf-8"))
        digest.update(stored[key].tobytes())
    return digest.hexdigest()


def _describe_network(network) -> dict | None:
    if network is None:
        return None
    cls = type(network)
    describe = getattr(network, "describe", None)
    if describe is not None and dataclasses.is_dataclass(network):
        fields = describe()
    elif dataclasses.is_dataclass(network) and not isinstance(network, type):
        fields = dataclasses.asdict(network)
    elif isinstance(network, dict):
        return {"class": None, "fields": _check_json(network, "network")}
    else:
        raise TypeError(f"network must be an MLP, a dataclass or a dict, got {cls.__name__}")
    return {
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "fields": _check_json(fields, "network"),
    }


def _check_json(value, name: str):
    def default(obj):
        if isinstance(obj, (np.generic, np.ndarray, jax.Array)) and np.ndim(obj) == 0:
            return np.asarray(obj).item()
        if isinstance(obj, tuple):
            return list(obj)
        raise TypeError(
            f"{name} must be JSON-serializable; cannot store {type(obj).__name__} {obj!r:.60}"
        )

    return json.loads(json.dumps(value, default=default))


def _versions() -> dict:
    import functional_nn

    return {
        "functional_nn": getattr(functional_nn, "__version__", None),
        "jax": jax.__version__,
        "numpy": np.__version__,
    }


# --- reading ---------------------------------------------------------------------

_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    ValueError,
    OSError,
    EOFError,
    KeyError,
    UnicodeDecodeError,
)


def _read(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    # open the file ourselves: np.load leaks its own handle when the archive is corrupt
    with open(path, "rb") as f:
        try:
            archive = np.load(f, allow_pickle=False)
        except _READ_ERRORS as err:
            raise CheckpointError(
                f"{path}: not a readable checkpoint, corrupt or truncated ({err})"
            ) from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CheckpointError(
                f"{path}: not a checkpoint (a single .npy array, not an .npz archive)"
            )
        with archive:
            manifest, stored = _read_archive(path, archive)
    try:
        return manifest, _check_leaves(path, manifest, stored)
    except CheckpointError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise CheckpointError(
            f"{path}: corrupt checkpoint manifest ({type(err).__name__}: {err})"
        ) from None


def _check_leaves(
    path: Path, manifest: dict, stored: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The stored arrays, checked against the manifest and its checksum, in their saved dtypes."""
    specs = manifest["leaves"]
    for key, spec in specs.items():
        array = stored[key]
        expected = np.dtype(spec.get("stored_as", spec["dtype"]))
        if array.dtype != expected or list(array.shape) != spec["shape"]:
            raise CheckpointError(
                f"{path}: leaf {key!r} is {array.dtype}{list(array.shape)}, the manifest says "
                f"{expected}{spec['shape']} (corrupt checkpoint)"
            )
    if _payload_digest(stored, specs) != manifest.get("payload_sha256"):
        raise CheckpointError(
            f"{path}: checksum mismatch, the arrays are not the ones written (corrupt checkpoint)"
        )
    return {
        key: stored[key].view(_dtype(spec["dtype"], path)) if "stored_as" in spec else stored[key]
        for key, spec in specs.items()
    }


def _read_archive(path: Path, archive) -> tuple[dict, dict[str, np.ndarray]]:
    if MANIFEST_KEY not in archive.files:
        raise CheckpointError(f"{path}: not a functional_nn checkpoint (no {MANIFEST_KEY} entry)")
    try:
        manifest = json.loads(archive[MANIFEST_KEY].tobytes().decode("utf-8"))
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not a functional_nn checkpoint (no {FORMAT} manifest)")
        if manifest.get("version") != VERSION:
            raise CheckpointError(
                f"{path}: checkpoint format version {manifest.get('version')!r}; "
                f"this functional_nn reads version {VERSION}"
            )
        return manifest, {key: archive[key] for key in manifest["leaves"]}
    except CheckpointError:
        raise
    except (*_READ_ERRORS, json.JSONDecodeError, TypeError, AttributeError) as err:
        raise CheckpointError(
            f"{path}: corrupt or truncated checkpoint ({type(err).__name__}: {err})"
        ) from None


def _dtype(name: str, path: Path) -> np.dtype:
    try:
        return np.dtype(name)
    except TypeError:
        pass
    try:
        import ml_dtypes  # ships with jax; names bfloat16, float8_*, int4, ...

        return np.dtype(getattr(ml_dtypes, name))
    except (ImportError, AttributeError, TypeError):
        raise CheckpointError(f"{path}: unknown dtype {name!r}") from None


def _restore_like(path: Path, section: str, spec: dict, leaves: dict[str, np.ndarray], like):
    prefix = f"{section}/"
    stored = {key[len(prefix) :]: leaves[key] for key in codec.leaf_keys(spec)}
    flat, treedef = jax.tree_util.tree_flatten_with_path(like)
    wanted = [(codec.keystr(p), leaf) for p, leaf in flat]
    names = {name for name, _ in wanted}
    extra = [name for name in stored if name not in names]
    missing = [name for name, _ in wanted if name not in stored]
    if missing or extra:
        parts = [
            f"{section}/{name} has shape {stored[name].shape} in the checkpoint, like= expects {np.shape(t)}"
            for name, t in wanted
            if name in stored and stored[name].shape != np.shape(t)
        ][:1]
        if missing:
            parts.append(f"like= has leaf {section}/{missing[0]} that the checkpoint lacks")
        if extra:
            parts.append(f"the checkpoint has leaf {section}/{extra[0]} that like= lacks")
        raise CheckpointError(
            f"{path}: {section} has a different structure (checkpoint: {len(stored)} leaves, "
            f"like=: {len(wanted)}): {'; '.join(parts)}"
        )
    restored: list[Any] = []
    for name, template in wanted:
        array = stored[name]
        shape = tuple(np.shape(template))
        dtype = (
            np.dtype(template.dtype) if hasattr(template, "dtype") else np.asarray(template).dtype
        )
        if array.shape != shape:
            raise CheckpointError(
                f"{path}: leaf {section}/{name} has shape {array.shape} in the checkpoint, "
                f"like= expects {shape} (a different architecture?)"
            )
        if array.dtype != dtype:
            raise CheckpointError(
                f"{path}: leaf {section}/{name} has dtype {array.dtype} in the checkpoint, "
                f"like= expects {dtype}"
            )
        if (
            isinstance(template, jax.Array)
            and jax.dtypes.canonicalize_dtype(array.dtype) == array.dtype
        ):
            array = jax.device_put(array)
        elif isinstance(template, (bool, int, float)):
            restored.append(type(template)(array.item()))
            continue
        restored.append(array)
    return jax.tree_util.tree_unflatten(treedef, restored)


def _rebuild_network(path: Path, description: dict | None):
    if description is None:
        return None
    fields, name = description["fields"], description.get("class")
    if not name or not name.startswith("functional_nn."):
        return fields
    module_name, _, qualname = name.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), qualname)
    except (ImportError, AttributeError):
        return fields  # the class is gone: the description is still useful as a dict
    try:
        return cls(**fields)
    except (TypeError, ValueError) as err:
        raise CheckpointError(
            f"{path}: cannot rebuild network {qualname}({fields}): {err}"
        ) from None
