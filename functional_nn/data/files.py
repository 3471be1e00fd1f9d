"""Data from files: CSV, NPZ and MNIST's IDX format.

Every loader returns ``(x, y)`` like the toy sets: ``x`` ``(m, n_features)``
float32 and ``y`` either ``(m,)`` int32 class labels or ``(m, n_targets)``
float32 regression targets. Errors name the file and, for CSV, the line.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import struct
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn.data._raw import RawData, check_task, encode_targets

__all__ = [
    "load_csv",
    "read_csv",
    "load_npz",
    "read_npz",
    "read_idx",
    "write_idx",
    "load_idx",
    "load_mnist",
]

Array = jax.Array
PathLike = str | os.PathLike


# --- CSV ---------------------------------------------------------------------------


def load_csv(
    path: PathLike,
    *,
    target: int | str = -1,
    header: bool | None = None,
    delimiter: str = ",",
    task: str | None = None,
) -> tuple[Array, Array]:
    """Read a table whose rows are examples; one column is the target.

    Args:
        path: a text file of ``delimiter``-separated values; blank lines are skipped.
        target: the target column, by index (default the last) or by header name.
        header: whether the first row holds column names; ``None`` infers it: the
            first row is a header when one of its feature cells is not a number.
        task: ``"classification"``, ``"regression"`` or ``None`` to infer:
            text targets, or integers with at most 32 distinct values, are class
            labels (renumbered ``0..C-1`` unless already non-negative integers).
    Returns:
        ``x`` ``(m, n_features)`` float32, ``y`` ``(m,)`` int32 or ``(m, 1)`` float32.
    """
    raw = read_csv(path, target=target, header=header, delimiter=delimiter, task=task)
    return jnp.asarray(raw.x), jnp.asarray(raw.y)


def read_csv(
    path: PathLike,
    *,
    target: int | str = -1,
    header: bool | None = None,
    delimiter: str = ",",
    task: str | None = None,
) -> RawData:
    """:func:`load_csv` with the description: task, ``C``, feature and class names (numpy arrays)."""
    task = check_task(task)
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter=delimiter)
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"{path}: no rows")
    width = len(rows[0][1])
    for line, row in rows:
        if len(row) != width:
            raise ValueError(f"{path}, line {line}: {len(row)} columns, the first row has {width}")
    if width < 2:
        raise ValueError(
            f"{path}: need at least one feature column and a target column, got {width} column(s)"
        )
    if isinstance(target, str) and header is False:
        raise ValueError(
            f"target={target!r} names a column, but header=False says the file has no names"
        )
    first = [cell.strip() for cell in rows[0][1]]
    if header is None:
        if isinstance(target, str):
            header = True
        else:
            index = _column_index(target, width, None, path)
            header = any(not _is_number(cell) for j, cell in enumerate(first) if j != index)
    names = tuple(first) if header else tuple(f"x{j}" for j in range(width))
    index = _column_index(target, width, names if header else None, path)
    body = rows[1:] if header else rows
    if not body:
        raise ValueError(f"{path}: a header but no data rows")
    feature_columns = [j for j in range(width) if j != index]
    x = np.empty((len(body), width - 1), np.float32)
    for i, (line, row) in enumerate(body):
        for k, j in enumerate(feature_columns):
            cell = row[j].strip()
            try:
                x[i, k] = float(cell)
            except ValueError:
                raise ValueError(
                    f"{path}, line {line}, column {names[j]!r}: {cell!r} is not a number"
                ) from None
    if not np.all(np.isfinite(x)):
        i, k = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(
            f"{path}, line {body[i][0]}, column {names[feature_columns[k]]!r}: value is not finite"
        )
    cells = [row[index].strip() for _, row in body]
    if all(_is_number(cell) for cell in cells):
        target_values = np.asarray([float(cell) for cell in cells])
    else:
        target_values = np.asarray(cells)
    y, task, num_classes, class_names = encode_targets(
        target_values, task, f"{path}, column {names[index]!r}"
    )
    return RawData(x, y, task, num_classes, tuple(names[j] for j in feature_columns), class_names)


def _column_index(target, width: int, names, path) -> int:
    if isinstance(target, str):
        if names is None or target not in names:
            raise ValueError(
                f"{path}: no column named {target!r}; columns: {', '.join(names or ())}"
            )
        return names.index(target)
    if (
        isinstance(target, bool)
        or not isinstance(target, (int, np.integer))
        or not -width <= target < width
    ):
        raise ValueError(
            f"target must be a column name or an index in [-{width}, {width}), got {target!r}"
        )
    return int(target) % width


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


# --- NPZ ---------------------------------------------------------------------------


def load_npz(
    path: PathLike, *, x_key: str = "x", y_key: str = "y", task: str | None = None
) -> tuple[Array, Array]:
    """Arrays ``x`` and ``y`` from a NumPy ``.npz`` (no pickles are loaded).

    ``x`` is flattened to ``(m, n_features)``. Without ``task=``, an integer
    ``y`` holds class labels and a float ``y`` regression targets.
    """
    raw = read_npz(path, x_key=x_key, y_key=y_key, task=task)
    return jnp.asarray(raw.x), jnp.asarray(raw.y)


def read_npz(
    path: PathLike, *, x_key: str = "x", y_key: str = "y", task: str | None = None
) -> RawData:
    """:func:`load_npz` with the description (numpy arrays)."""
    task = check_task(task)
    # open the file ourselves: np.load leaks its own handle when the archive is corrupt
    with open(path, "rb") as f:
        try:
            archive = np.load(f, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise ValueError(f"{path}: not a readable .npz file ({err})") from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(
                f"{path}: expected an .npz archive holding {x_key!r} and {y_key!r}, got a single array"
            )
        with archive:
            missing = [k for k in (x_key, y_key) if k not in archive.files]
            if missing:
                raise ValueError(
                    f"{path}: no array named {missing[0]!r}; arrays: {', '.join(archive.files)}"
                )
            try:
                x, y = archive[x_key], archive[y_key]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
                raise ValueError(f"{path}: corrupt array data ({err})") from None
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{path}: {x_key!r} and {y_key!r} need the same number of rows, got {x.shape} and {y.shape}"
        )
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{path}: {x_key!r} must hold numbers, got dtype {x.dtype}")
    x = x.reshape(x.shape[0], -1).astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{path}: {x_key!r} has {int(np.sum(~np.isfinite(x)))} non-finite entries")
    y, task, num_classes, class_names = encode_targets(
        y, task, f"{path}, {y_key!r}", integer_means_labels=True
    )
    return RawData(x, y, task, num_classes, None, class_names)


# --- IDX (the MNIST format) ----------------------------------------------------------

# third byte of the magic number -> element type; the data are big-endian
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dtype.newbyteorder("="): code for code, dtype in _IDX_TYPES.items()}


def read_idx(path: PathLike) -> np.ndarray:
    """An IDX file (``train-images-idx3-ubyte`` and friends), gzipped or not.

    The header is ``0x00 0x00 <type> <ndim>`` then ``ndim`` big-endian uint32
    sizes; the body holds ``prod(sizes)`` big-endian elements.

    Returns:
        A numpy array of shape ``sizes`` in native byte order (uint8 for MNIST).
    """
    path = Path(path)
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":  # gzip's magic number, whatever the file is called
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: corrupt gzip data ({err})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(
            f"{path}: not an IDX file (magic number {data[:4].hex() or 'missing'}, "
            "expected 0000 <type 08/09/0b/0c/0d/0e> <ndim>)"
        )
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    start = 4 + 4 * ndim
    if len(data) < start:
        raise ValueError(
            f"{path}: truncated IDX header ({len(data)} bytes, {ndim} dimensions need {start})"
        )
    shape = struct.unpack(f">{ndim}I", data[4:start])
    expected = math.prod(shape) * dtype.itemsize
    if len(data) - start != expected:
        raise ValueError(
            f"{path}: IDX body has {len(data) - start} bytes, shape {shape} of {dtype.name} needs "
            f"{expected} (truncated or wrong header)"
        )
    return np.frombuffer(data, dtype, offset=start).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: PathLike, array, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file; ``compress=None`` gzips when the name ends in ``.gz``."""
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _IDX_CODES:
        raise TypeError(
            f"IDX holds uint8, int8, int16, int32, float32 or float64, got dtype {array.dtype}"
        )
    if array.ndim > 255:
        raise ValueError(f"IDX holds at most 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, _IDX_CODES[native], array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    data = header + array.astype(native.newbyteorder(">")).tobytes()
    if path.name.endswith(".gz") if compress is None else compress:
        data = gzip.compress(data)
    path.write_bytes(data)


def load_idx(images: PathLike, labels: PathLike, *, scale: bool = True) -> tuple[Array, Array]:
    """Images and labels from a pair of IDX files (MNIST, Fashion-MNIST, ...).

    Args:
        images: ``(m, rows, cols)`` (any trailing shape) IDX file.
        labels: ``(m,)`` integer IDX file.
        scale: map uint8 pixels ``0..255`` to ``[0, 1]``.
    Returns:
        ``x`` ``(m, rows · cols)`` float32, ``y`` ``(m,)`` int32.
    """
    x, y = read_idx(images), read_idx(labels)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{labels}: labels must be a 1-D integer IDX array, got shape {y.shape} of {y.dtype}"
        )
    if x.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{images} has {x.shape[0] if x.ndim else 0} items but {labels} has {y.shape[0]} labels"
        )
    scaled = x.reshape(x.shape[0], -1).astype(np.float32)
    if scale and x.dtype == np.uint8:
        scaled /= 255.0
    return jnp.asarray(scaled), jnp.asarray(y.astype(np.int32))


def load_mnist(
    directory: PathLike, *, split: str = "train", scale: bool = True
) -> tuple[Array, Array]:
    """MNIST (or Fashion-MNIST) from the four standard IDX files in ``directory``.

    Looks for ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` with or without
    ``.gz`` (and the ``images.idx3-ubyte`` spelling). Nothing is downloaded.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    prefix = "train" if split == "train" else "t10k"
    found = []
    for kind, idx in (("images", "idx3"), ("labels", "idx1")):
        candidates = [
            Path(directory) / f"{prefix}-{kind}{sep}{idx}-ubyte{gz}"
            for sep in ("-", ".")
            for gz in ("", ".gz")
        ]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            raise FileNotFoundError(
                f"no {split} {kind} in {directory}; looked for "
                f"{', '.join(c.name for c in candidates)}"
            )
        found.append(hit)
    return load_idx(*found, scale=scale)
