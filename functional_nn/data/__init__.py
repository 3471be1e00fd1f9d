"""Data for the lecture's networks: toy sets, real sets, files, splits and encodings.

Conventions: arrays are batch-first float32 inputs ``(m, n_features)``; class
targets are int32 labels ``(m,)`` in ``0..C-1`` (encode with :func:`one_hot` for
a softmax output or :func:`binary_targets` for one sigmoid output); regression
targets are float32 ``(m, n_targets)``. Every random function takes a
``jax.random`` key.

Examples:
    >>> from functional_nn import data
    >>> ds = data.load_dataset("iris", key=jax.random.key(0))   # 60/20/20, standardized
    >>> y_train = data.one_hot(ds.y_train, ds.num_classes)       # (90, 3)
"""

from functional_nn.data._raw import MAX_INFERRED_CLASSES, RawData
from functional_nn.data.files import (
    load_csv,
    load_idx,
    load_mnist,
    load_npz,
    read_csv,
    read_idx,
    read_npz,
    write_idx,
)
from functional_nn.data.preprocessing import (
    TASKS,
    Dataset,
    Split,
    Standardizer,
    binary_targets,
    one_hot,
    standardize,
    train_val_test_split,
)
from functional_nn.data.real import SKLEARN_SETS
from functional_nn.data.registry import DatasetInfo, info, load, load_dataset, names, read
from functional_nn.data.toy import (
    GATE_INPUTS,
    TRUTH_TABLES,
    blobs,
    circle,
    logic_gate,
    moons,
    noisy_line,
    spirals,
    xor,
    xor_quadrants,
)

__all__ = [
    "GATE_INPUTS",
    "MAX_INFERRED_CLASSES",
    "SKLEARN_SETS",
    "TASKS",
    "TRUTH_TABLES",
    "Dataset",
    "DatasetInfo",
    "RawData",
    "Split",
    "Standardizer",
    "binary_targets",
    "blobs",
    "circle",
    "info",
    "load",
    "load_csv",
    "load_dataset",
    "load_idx",
    "load_mnist",
    "load_npz",
    "logic_gate",
    "moons",
    "names",
    "noisy_line",
    "one_hot",
    "read",
    "read_csv",
    "read_idx",
    "read_npz",
    "spirals",
    "standardize",
    "train_val_test_split",
    "write_idx",
    "xor",
    "xor_quadrants",
]
