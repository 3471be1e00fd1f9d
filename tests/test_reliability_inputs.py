"""Bad input at the public boundary (issue 8, group 2): core functions and data splits.

Every case must raise a ``ValueError`` / ``TypeError`` whose one-line message
names the argument, what was expected and what was received. Values (NaN/inf,
label ranges, one-hot rows) are checked on concrete arrays only; under ``jit``
only shapes and dtypes are (``functional_nn._validate``), tested at the end.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functional_nn as fnn
from functional_nn import data, losses

KEY = jax.random.key(0)
NET = fnn.MLP((2, 3, 2), activation="tanh", output_activation="softmax")
PARAMS = NET.init(KEY)
X = jnp.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
LABELS = jnp.array([0, 1, 1])
ONE_HOT = jax.nn.one_hot(LABELS, 2)
BNET = fnn.MLP((2, 3, 2), activation="tanh", output_activation="sigmoid")
RNET = fnn.MLP((2, 3, 2), activation="tanh", output_activation="linear")


def cce(x=X, y=LABELS, params=PARAMS, method="manual", **kw):
    return lambda: fnn.value_and_grad(NET, "categorical_cross_entropy", method)(params, x, y, **kw)


def bce(x=X, y=ONE_HOT):
    return lambda: fnn.value_and_grad(BNET, "binary_cross_entropy")(BNET.init(KEY), x, y)


def mse(x=X, y=ONE_HOT):
    return lambda: fnn.value_and_grad(RNET, "mse", "autodiff")(RNET.init(KEY), x, y)


def with_nan(a, where=(0, 0), value=np.nan):
    a = np.array(a, np.float32)
    a[where] = value
    return a


def bad_params():
    w, b = PARAMS[1]
    return {
        "w shape": (
            (PARAMS[0], fnn.Dense(w[:, :1], b)),
            r"params\[1\]\.w has shape \(3, 1\), expected \(3, 2\)",
        ),
        "b shape": (
            (PARAMS[0], fnn.Dense(w, b[:1])),
            r"params\[1\]\.b has shape \(1,\), expected \(2,\)",
        ),
        "layers": ((PARAMS[0],), r"params must be a tuple of 2 layers .*got tuple of length 1"),
    }


def bad_param_types():
    """Layers and leaves that forward could not take: refused as TypeErrors."""
    w, b = PARAMS[1]
    return {
        "dict layer": (
            (PARAMS[0], {"w": w, "b": b}),
            r"params\[1\] must be a Dense\(w, b\) layer \(convert a dict layer with "
            r"Dense\(\*\*layer\)\), got dict",
        ),
        "list leaf": (
            (PARAMS[0], fnn.Dense(np.asarray(w).tolist(), b)),
            r"params\[1\]\.w must be a jax or numpy array, got list",
        ),
        "string leaf": (
            (PARAMS[0], fnn.Dense(np.asarray(w).astype(str), b)),
            r"params\[1\]\.w must hold real numbers",
        ),
    }


# id -> (call, exception, regex the one-line message must match)
CORE_CASES = {
    # NaN / inf
    "nan in x": (
        cce(x=with_nan(X)),
        ValueError,
        r"x must be finite, got 1 NaN/inf .*index \(0, 0\)",
    ),
    "inf in x": (
        cce(x=with_nan(X, (2, 1), np.inf)),
        ValueError,
        r"x must be finite.*index \(2, 1\)",
    ),
    "nan in bfloat16 x": (
        cce(x=jnp.asarray(with_nan(X, (1, 0))).astype(jnp.bfloat16)),
        ValueError,
        r"x must be finite.*index \(1, 0\): nan",
    ),
    "nan in y (mse)": (mse(y=with_nan(ONE_HOT)), ValueError, r"y must be finite, got 1 NaN/inf"),
    "inf in y (bce)": (bce(y=with_nan(ONE_HOT, (1, 1), -np.inf)), ValueError, r"y must be finite"),
    "nan in one-hot y (cce)": (cce(y=with_nan(ONE_HOT)), ValueError, r"y must be finite"),
    # ranks and counts
    "x rank 1": (cce(x=X[0]), ValueError, r"x must have shape \(batch, 2\), got \(2,\)"),
    "x rank 3": (cce(x=X[None]), ValueError, r"x must have shape \(batch, 2\), got \(1, 3, 2\)"),
    "x wrong features": (
        cce(x=X[:, :1]),
        ValueError,
        r"x must have shape \(batch, 2\), got \(3, 1\)",
    ),
    "x zero examples": (
        cce(x=X[:0], y=LABELS[:0]),
        ValueError,
        r"x must have shape \(batch, 2\) with at least one row, got \(0, 2\)",
    ),
    "x zero features": (
        cce(x=np.zeros((3, 0))),
        ValueError,
        r"x must have shape \(batch, 2\), got \(3, 0\)",
    ),
    "y rank 1 for mse": (
        mse(y=ONE_HOT[:, 0]),
        ValueError,
        r"targets y of shape \(3,\) do not match .*\(3, 2\)",
    ),
    "y rank 3": (
        bce(y=ONE_HOT[None]),
        ValueError,
        r"targets y of shape \(1, 3, 2\) do not match .*\(3, 2\)",
    ),
    "labels count": (
        cce(y=LABELS[:2]),
        ValueError,
        r"integer labels y of shape \(2,\) do not match 3 examples",
    ),
    "targets count": (
        mse(y=ONE_HOT[:2]),
        ValueError,
        r"targets y of shape \(2, 2\) do not match .*\(3, 2\)",
    ),
    "weights shape": (
        cce(weights=jnp.ones(2)),
        ValueError,
        r"weights must have shape \(3,\), got \(2,\)",
    ),
    # labels and targets
    "label too large": (
        cce(y=jnp.array([0, 2, 1])),
        ValueError,
        r"y must hold integer labels in \[0, 2\), got min 0 and max 2",
    ),
    "negative label": (cce(y=jnp.array([0, -1, 1])), ValueError, r"labels in \[0, 2\), got min -1"),
    "float labels": (
        cce(y=jnp.array([0.0, 1.0, 1.0])),
        TypeError,
        r"class labels y of shape \(3,\) must be integers 0\.\.1, got dtype float32",
    ),
    "one-hot too wide": (
        cce(y=jax.nn.one_hot(LABELS, 3)),
        ValueError,
        r"targets y of shape \(3, 3\) do not match .*\(3, 2\)",
    ),
    "not one-hot": (
        cce(y=jnp.ones((3, 2))),
        ValueError,
        r"each row of y to sum to 1 .*row 0 sums to 2",
    ),
    "cce entries outside [0,1]": (
        cce(y=jnp.array([[2.0, -1.0]] * 3)),
        ValueError,
        r"targets y in \[0, 1\], got values in \[-1\.0, 2\.0\]",
    ),
    "bce target above 1": (
        bce(y=ONE_HOT * 2),
        ValueError,
        r"binary_cross_entropy needs targets y in \[0, 1\], got values in \[0\.0, 2\.0\]",
    ),
    "bce target below 0": (
        bce(y=-ONE_HOT),
        ValueError,
        r"targets y in \[0, 1\], got values in \[-1\.0",
    ),
    # dtypes
    "string x": (
        cce(x=np.array([["a", "b"]] * 3)),
        TypeError,
        r"x must hold real numbers \(int or float\), got dtype <U1",
    ),
    "object x": (
        cce(x=np.array([[1, None]] * 3, dtype=object)),
        TypeError,
        r"x must hold real numbers .*got dtype object",
    ),
    "complex x": (cce(x=X + 1j), TypeError, r"x must hold real numbers .*got dtype complex64"),
    "ragged x": (
        cce(x=[[1.0, 2.0], [1.0]]),
        TypeError,
        r"x must be an array of real numbers, got list",
    ),
    "complex y": (
        mse(y=ONE_HOT + 0j),
        TypeError,
        r"y must hold real numbers .*got dtype complex64",
    ),
    "string y": (
        cce(y=np.array(["a", "b", "c"])),
        TypeError,
        r"y must hold real numbers .*got dtype <U1",
    ),
    # names and descriptions
    "unknown activation": (
        lambda: fnn.MLP((2, 1), activation="swish"),
        ValueError,
        r"unknown activation 'swish'; known activations: linear, threshold, sigmoid",
    ),
    "unknown output activation": (
        lambda: fnn.MLP((2, 1), output_activation="gelu"),
        ValueError,
        r"unknown activation 'gelu'; known activations:.*softmax",
    ),
    "activation not a str": (
        lambda: fnn.MLP((2, 3, 1), activation=3),
        TypeError,
        r"activation must be a name \(str\) or a tuple of names, got int: 3",
    ),
    "unknown initializer": (
        lambda: fnn.MLP((2, 1), initializer="zeros"),
        ValueError,
        r"unknown initializer 'zeros'; known initializers: glorot_uniform",
    ),
    "unknown loss": (
        lambda: fnn.value_and_grad(NET, "hinge"),
        ValueError,
        r"unknown loss 'hinge'; known losses: mse, binary_cross_entropy",
    ),
    "unknown loss name (get_loss)": (
        lambda: fnn.get_loss("l1"),
        ValueError,
        r"unknown loss 'l1'; known losses",
    ),
    "unknown method": (
        lambda: fnn.value_and_grad(NET, "mse", "numeric"),
        ValueError,
        r"method must be one of \('manual', 'autodiff'\), got 'numeric'",
    ),
    "loss vs output": (
        lambda: fnn.value_and_grad(RNET, "binary_cross_entropy"),
        ValueError,
        r"loss 'binary_cross_entropy' needs output_activation in \('sigmoid',\), got 'linear'",
    ),
    "zero-width layer": (
        lambda: fnn.MLP((0, 3, 1)),
        ValueError,
        r"layer_sizes must hold at least two positive ints .*got \(0, 3, 1\)",
    ),
    "one layer size": (
        lambda: fnn.MLP((2,)),
        ValueError,
        r"layer_sizes must hold at least two positive ints .*got \(2,\)",
    ),
    "float layer size": (
        lambda: fnn.MLP((2, 2.5, 1)),
        ValueError,
        r"positive ints .*got \(2, 2\.5, 1\)",
    ),
    "activations per layer": (
        lambda: fnn.MLP((2, 3, 3, 1), activation=("tanh",)),
        ValueError,
        r"activation has 1 names for 2 hidden layers",
    ),
    "threshold trains": (
        lambda: fnn.value_and_grad(fnn.MLP((2, 1), output_activation="threshold"), "mse"),
        ValueError,
        r"cannot train through layer 1: its 'threshold' activation has zero derivative",
    ),
    "hidden threshold trains": (
        lambda: fnn.compare_gradients(
            fnn.MLP((2, 2, 1), activation="threshold"), "mse", None, X, ONE_HOT[:, :1]
        ),
        ValueError,
        r"cannot train through layer 1: its 'threshold'",
    ),
    # compare_gradients has the same boundary
    "gradcheck nan x": (
        lambda: fnn.compare_gradients(
            NET, "categorical_cross_entropy", PARAMS, with_nan(X), LABELS
        ),
        ValueError,
        r"x must be finite",
    ),
    "gradcheck complex x": (
        lambda: fnn.compare_gradients(NET, "categorical_cross_entropy", PARAMS, X + 1j, LABELS),
        TypeError,
        r"x must hold real numbers .*complex",
    ),
    "gradcheck string x": (
        lambda: fnn.compare_gradients(
            NET, "categorical_cross_entropy", PARAMS, np.array([["a", "b"]] * 3), LABELS
        ),
        TypeError,
        r"x must hold real numbers .*<U1",
    ),
    "gradcheck label range": (
        lambda: fnn.compare_gradients(
            NET, "categorical_cross_entropy", PARAMS, X, jnp.array([0, 5, 1])
        ),
        ValueError,
        r"labels in \[0, 2\), got min 0 and max 5",
    ),
    "gradcheck params": (
        lambda: fnn.compare_gradients(NET, "categorical_cross_entropy", PARAMS[:1], X, LABELS),
        ValueError,
        r"params must be a tuple of 2 layers",
    ),
    # prepare_targets directly
    "prepare float labels": (
        lambda: losses.prepare_targets(
            "categorical_cross_entropy", np.array([0.5, 1.0]), (2, 3), jnp.float32
        ),
        TypeError,
        r"class labels y of shape \(2,\) must be integers 0\.\.2",
    ),
    "prepare labels range": (
        lambda: losses.prepare_targets(
            "categorical_cross_entropy", np.array([0, 3]), (2, 3), jnp.float32
        ),
        ValueError,
        r"labels in \[0, 3\), got min 0 and max 3",
    ),
}
CORE_CASES.update(
    {f"params {k}": (cce(params=p), ValueError, m) for k, (p, m) in bad_params().items()}
)
CORE_CASES.update(
    {f"params {k}": (cce(params=p), TypeError, m) for k, (p, m) in bad_param_types().items()}
)

Y_SPLIT = np.arange(10) % 2
X_SPLIT = np.arange(20.0).reshape(10, 2)


def split(x=X_SPLIT, y=Y_SPLIT, **kw):
    return lambda: data.train_val_test_split(x, y, key=KEY, **kw)


DATA_CASES = {
    "split nan x": (
        split(x=with_nan(X_SPLIT, (3, 1))),
        ValueError,
        r"x must be finite, got 1 NaN/inf .*index \(3, 1\)",
    ),
    "split inf y": (
        split(y=with_nan(Y_SPLIT.astype(float)[:, None], (2, 0), np.inf)),
        ValueError,
        r"y must be finite.*index \(2, 0\)",
    ),
    "split string x": (split(x=X_SPLIT.astype(str)), TypeError, r"x must hold real numbers .*<U"),
    "split complex y": (split(y=Y_SPLIT + 1j), TypeError, r"y must hold real numbers .*complex128"),
    "split object x": (
        split(x=X_SPLIT.astype(object)),
        TypeError,
        r"x must hold real numbers .*object",
    ),
    "split row mismatch": (
        split(y=Y_SPLIT[:9]),
        ValueError,
        r"x and y must have the same number of rows, got shapes \(10, 2\) and \(9,\)",
    ),
    "split zero rows": (
        split(x=X_SPLIT[:0], y=Y_SPLIT[:0]),
        ValueError,
        r"x must have at least one row and one feature, got shape \(0, 2\)",
    ),
    "split zero features": (
        split(x=np.zeros((10, 0))),
        ValueError,
        r"at least one row and one feature, got shape \(10, 0\)",
    ),
    "split fractions sum": (
        split(fractions=(0.5, 0.3, 0.3)),
        ValueError,
        r"fractions must be >= 0 with train > 0 and sum to 1, got \(0\.5, 0\.3, 0\.3\)",
    ),
    "split negative fraction": (
        split(fractions=(1.2, -0.2, 0.0)),
        ValueError,
        r"fractions must be >= 0 .*got \(1\.2, -0\.2, 0\.0\)",
    ),
    "split no training": (split(fractions=(0.0, 0.5, 0.5)), ValueError, r"train > 0"),
    "split val+test >= 1": (
        split(val_fraction=0.5, test_fraction=0.5),
        ValueError,
        r"val_fraction \+ test_fraction must be < 1, got 0\.5 \+ 0\.5",
    ),
    "split fraction range": (
        split(val_fraction=1.5),
        ValueError,
        r"val_fraction must be a finite number in \[0, 1\), got 1\.5",
    ),
    "split empty training part": (
        split(x=X_SPLIT[:2], y=Y_SPLIT[:2]),
        ValueError,
        r"the training part is empty: 2 rows",
    ),
    "split empty test part": (
        split(x=X_SPLIT[:1], y=Y_SPLIT[:1]),
        ValueError,
        r"the test part is empty: 1 rows are too few for fractions val=0\.2, test=0\.2",
    ),
    "split stratify float labels": (
        split(y=Y_SPLIT.astype(float), stratify=True),
        TypeError,
        r"must hold integer class labels 0\.\.C-1, got dtype float64",
    ),
    "split no key": (
        lambda: data.train_val_test_split(X_SPLIT, Y_SPLIT, key=None),
        TypeError,
        r"key must be a jax\.random key such as jax\.random\.key\(seed\).*got None",
    ),
    "one_hot negative label": (
        lambda: data.one_hot(np.array([0, 1, -1]), 2),
        ValueError,
        r"labels must lie in 0\.\.1 for num_classes=2; labels\[2\] = -1",
    ),
    "one_hot label too large": (
        lambda: data.one_hot(np.array([0, 3]), 2),
        ValueError,
        r"labels\[1\] = 3 \(1 out of range\)",
    ),
    "one_hot float labels": (
        lambda: data.one_hot(np.array([0.0, 1.0]), 2),
        TypeError,
        r"labels must hold integer class labels 0\.\.C-1, got dtype float64",
    ),
    "one_hot zero classes": (
        lambda: data.one_hot(np.array([0]), 0),
        ValueError,
        r"num_classes must be >= 1, got 0",
    ),
    "binary_targets label 2": (
        lambda: data.binary_targets(np.array([0, 1, 2])),
        ValueError,
        r"binary labels must be 0 or 1; labels\[2\] = 2",
    ),
    "unknown dataset": (
        lambda: data.load_dataset("irises", key=KEY),
        ValueError,
        r"unknown data set 'irises'.*known names: .*iris",
    ),
    "dataset name type": (
        lambda: data.load_dataset(3, key=KEY),
        TypeError,
        r"source must be a data set name or a file path, got int",
    ),
    "dataset bad fractions": (
        lambda: data.load_dataset("xor", key=KEY, fractions=(0.9, 0.2, 0.2)),
        ValueError,
        r"fractions must be >= 0 .*sum to 1",
    ),
}


def _check(call, exc, pattern):
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    assert re.search(pattern, message), f"{message!r} does not match {pattern!r}"


@pytest.mark.parametrize("case", sorted(CORE_CASES))
def test_core_boundary_refuses_bad_input(case):
    _check(*CORE_CASES[case])


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_data_boundary_refuses_bad_input(case):
    _check(*DATA_CASES[case])


@pytest.mark.parametrize("method", ["manual", "autodiff"])
def test_integer_features_are_accepted_and_cast(method):
    f = fnn.value_and_grad(NET, "categorical_cross_entropy", method)
    J_int, g_int = f(PARAMS, np.array([[0, 1], [1, 0], [1, 1]]), LABELS)
    J, g = f(PARAMS, jnp.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), LABELS)
    assert J_int.dtype == jnp.float32
    np.testing.assert_array_equal(J_int, J)
    for a, b in zip(jax.tree.leaves(g_int), jax.tree.leaves(g)):
        np.testing.assert_array_equal(a, b)


def test_soft_probability_rows_are_accepted():
    y = jnp.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    J, _ = fnn.value_and_grad(NET, "categorical_cross_entropy")(PARAMS, X, y)
    assert np.isfinite(float(J))


def test_under_jit_shapes_are_checked_but_values_are_not():
    f = jax.jit(fnn.value_and_grad(NET, "categorical_cross_entropy"))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 2\), got \(3, 1\)"):
        f(PARAMS, X[:, :1], LABELS)
    with pytest.raises(TypeError, match=r"class labels y .* must be integers"):
        f(PARAMS, X, jnp.array([0.0, 1.0, 1.0]))
    # documented limit: a traced NaN cannot be inspected, so it flows through
    J, _ = f(PARAMS, with_nan(X), LABELS)
    assert np.isnan(float(J))


def test_split_accepts_exactly_three_rows():
    parts = data.train_val_test_split(X_SPLIT[:3], Y_SPLIT[:3], key=KEY)
    assert [len(p) for p in parts[::2]] == [1, 1, 1]
