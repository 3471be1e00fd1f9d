"""Small real data sets bundled with scikit-learn (no download), imported lazily.

scikit-learn is an optional extra: ``pip install 'functional-nn[data]'``.
"""

from __future__ import annotations

import importlib

import numpy as np

from functional_nn.data._raw import RawData

__all__ = ["sklearn_datasets", "read_sklearn"]

#: name -> (scikit-learn loader, task, description)
SKLEARN_SETS: dict[str, tuple[str, str, str]] = {
    "iris": (
        "load_iris",
        "classification",
        "Fisher's iris: 150 flowers, 4 measurements (cm), C = 3 species (the lecture's C = 3 example)",
    ),
    "digits": (
        "load_digits",
        "classification",
        "handwritten digits: 1797 images of 8x8 pixels (64 intensities 0..16), C = 10",
    ),
    "breast_cancer": (
        "load_breast_cancer",
        "classification",
        "Wisconsin breast cancer: 569 tumours, 30 features, malignant (0) or benign (1); "
        "a single sigmoid output",
    ),
    "diabetes": (
        "load_diabetes",
        "regression",
        "diabetes: 442 patients, 10 features (centred and scaled by scikit-learn), "
        "disease progression after one year",
    ),
}


def sklearn_datasets():
    """``sklearn.datasets``, or an ImportError that says which extra to install."""
    try:
        return importlib.import_module("sklearn.datasets")
    except ImportError as err:
        raise ImportError(
            "the real data sets (iris, digits, breast_cancer, diabetes) need scikit-learn; "
            "install the extra: pip install 'functional-nn[data]'"
        ) from err


def read_sklearn(name: str) -> RawData:
    """One of :data:`SKLEARN_SETS` as float32 inputs and int32 labels / ``(m, 1)`` float32 targets."""
    loader, task, _ = SKLEARN_SETS[name]
    bunch = getattr(sklearn_datasets(), loader)()
    x = np.asarray(bunch.data, np.float32)
    features = tuple(str(f) for f in getattr(bunch, "feature_names", ())) or None
    if task == "classification":
        classes = tuple(str(c) for c in bunch.target_names)
        return RawData(x, np.asarray(bunch.target, np.int32), task, len(classes), features, classes)
    return RawData(x, np.asarray(bunch.target, np.float32)[:, None], task, None, features, None)
