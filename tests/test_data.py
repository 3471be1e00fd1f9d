"""fnn.data: toy sets, encodings, standardization, splits and the name registry."""

import sys

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings

import functional_nn as fnn
from functional_nn import data

TOY_CLASSIFIERS = {
    "circle": data.circle,
    "xor_quadrants": data.xor_quadrants,
    "blobs": data.blobs,
    "spirals": data.spirals,
    "moons": data.moons,
}


# --- toy sets ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "gate, op",
    [
        ("and", np.logical_and),
        ("or", np.logical_or),
        ("xor", np.logical_xor),
        ("nand", lambda a, b: ~np.logical_and(a, b)),
        ("nor", lambda a, b: ~np.logical_or(a, b)),
        ("xnor", lambda a, b: ~np.logical_xor(a, b)),
    ],
)
def test_logic_gates_match_boolean_operators(gate, op):
    x, y = data.logic_gate(gate)
    assert x.dtype == jnp.float32 and y.dtype == jnp.int32 and x.shape == (4, 2) and y.shape == (4,)
    a, b = np.asarray(x, bool).T
    np.testing.assert_array_equal(np.asarray(y), op(a, b).astype(np.int32))


def test_noisy_gate_copies_are_balanced_and_near_the_table(key):
    x, y = data.xor(n=40, noise=0.05, key=key)
    assert x.shape == (40, 2) and np.bincount(np.asarray(y)).tolist() == [20, 20]
    corners = np.round(np.asarray(x))
    np.testing.assert_array_equal(np.logical_xor(*corners.T.astype(bool)), np.asarray(y, bool))


def test_random_gate_without_key_is_refused():
    with pytest.raises(TypeError, match="key"):
        data.xor(n=8)
    with pytest.raises(ValueError, match="unknown gate 'nxor'"):
        data.logic_gate("nxor")


@pytest.mark.parametrize("name", sorted(TOY_CLASSIFIERS))
def test_toy_classifiers_shapes_balance_and_determinism(name, getkey):
    make = TOY_CLASSIFIERS[name]
    k = getkey()
    x, y = make(n=61, key=k)
    x2, y2 = make(n=61, key=k)
    x3, _ = make(n=61, key=getkey())
    assert (
        x.shape == (61, 2) and x.dtype == jnp.float32 and y.shape == (61,) and y.dtype == jnp.int32
    )
    counts = np.bincount(np.asarray(y))
    assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, x3)


def test_noisy_line_is_the_lectures_hypothesis(key):
    x, y = data.noisy_line(30, key=key, noise=0.0, w0=-0.5, w1=3.0)
    assert x.shape == y.shape == (30, 1)
    np.testing.assert_allclose(y, -0.5 + 3.0 * x, rtol=1e-6, atol=1e-6)
    x, y = data.noisy_line(2000, key=key, noise=0.1, w0=-0.5, w1=3.0)
    design = np.hstack([np.ones((2000, 1)), np.asarray(x, np.float64)])
    w, *_ = np.linalg.lstsq(design, np.asarray(y, np.float64), rcond=None)
    np.testing.assert_allclose(w.ravel(), [-0.5, 3.0], atol=0.02)


def test_circle_and_quadrant_geometry(key):
    x, y = data.circle(200, key=key, noise=0.0)
    r, y = np.linalg.norm(np.asarray(x), axis=1), np.asarray(y)
    assert np.all(r[y == 1] <= 0.5 + 1e-6) and np.all(
        (r[y == 0] >= 0.7 - 1e-6) & (r[y == 0] <= 1 + 1e-6)
    )
    x, y = data.xor_quadrants(200, key=key, margin=0.1)
    x = np.asarray(x)
    np.testing.assert_array_equal(np.asarray(y), (x[:, 0] * x[:, 1] < 0).astype(np.int32))
    assert np.abs(x).min() >= 0.1 - 1e-6 and np.abs(x).max() <= 1.0


def test_spirals_are_point_reflections_of_each_other(key):
    x, y = data.spirals(100, key=key)
    x, y = np.asarray(x, np.float64), np.asarray(y)
    a = x[y == 0][np.lexsort(x[y == 0].T)]
    b = -x[y == 1]
    np.testing.assert_allclose(a, b[np.lexsort(b.T)], atol=1e-5)
    assert np.linalg.norm(x, axis=1).max() < 1.0


def test_moons_lie_on_their_arcs(key):
    x, y = data.moons(50, key=key, noise=0.0)
    x, y = np.asarray(x), np.asarray(y)
    np.testing.assert_allclose(np.linalg.norm(x[y == 0], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(x[y == 1] - [1.0, 0.5], axis=1), 1.0, atol=1e-5)


def test_blobs_centers_and_classes(key):
    centers = np.array([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0], [-5.0, 0, 0]])
    x, y = data.blobs(400, key=key, centers=centers, noise=0.1)
    assert x.shape == (400, 3)
    for c in range(4):
        np.testing.assert_allclose(
            np.asarray(x)[np.asarray(y) == c].mean(axis=0), centers[c], atol=0.05
        )
    x, y = data.blobs(10, key=key, num_classes=5)
    assert sorted(np.unique(np.asarray(y))) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="num_classes=2 disagrees"):
        data.blobs(10, key=key, num_classes=2, centers=centers)
    with pytest.raises(ValueError, match="n must be at least num_classes"):
        data.blobs(2, key=key, num_classes=3)


def test_toy_arguments_are_checked(key):
    with pytest.raises(TypeError, match="key"):
        data.moons(10, key=None)
    with pytest.raises(TypeError, match="key"):
        data.moons(10, key=np.zeros(3))
    with pytest.raises(ValueError, match="n must be >= 2, got 1"):
        data.circle(1, key=key)
    with pytest.raises(TypeError, match="n must be an int, got bool"):
        data.circle(True, key=key)
    with pytest.raises(ValueError, match="noise must be finite and >= 0, got -0.1"):
        data.spirals(10, key=key, noise=-0.1)
    x, _ = data.moons(10, key=jax.random.PRNGKey(0))  # raw uint32 keys work too
    assert x.shape == (10, 2)


# --- encodings ---------------------------------------------------------------------------


def test_one_hot_is_the_lectures_encoding():
    np.testing.assert_array_equal(
        data.one_hot(jnp.array([0, 1, 2]), 3), np.eye(3, dtype=np.float32)
    )
    assert data.one_hot(np.array([2, 0]), 3).dtype == jnp.float32


@settings(max_examples=20, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda c: st.tuples(st.just(c), st.lists(st.integers(0, c - 1), min_size=1, max_size=20))
    )
)
def test_one_hot_rows_pick_their_label(case):
    num_classes, labels = case
    encoded = np.asarray(data.one_hot(np.array(labels), num_classes))
    assert encoded.shape == (len(labels), num_classes)
    np.testing.assert_array_equal(encoded.argmax(axis=1), labels)
    np.testing.assert_array_equal(encoded.sum(axis=1), 1.0)


def test_one_hot_refuses_bad_labels():
    with pytest.raises(ValueError, match=r"labels\[1\] = 3"):
        data.one_hot(np.array([0, 3, 1]), 3)
    with pytest.raises(ValueError, match=r"labels\[0\] = -1"):
        data.one_hot(np.array([-1]), 3)
    with pytest.raises(TypeError, match="integer class labels"):
        data.one_hot(np.array([0.0, 1.0]), 2)
    with pytest.raises(ValueError, match="shape"):
        data.one_hot(np.zeros((2, 2), np.int32), 2)
    with pytest.raises(ValueError, match="num_classes"):
        data.one_hot(np.array([0]), 0)


def test_binary_targets():
    np.testing.assert_array_equal(data.binary_targets(np.array([0, 1, 1])), [[0.0], [1.0], [1.0]])
    with pytest.raises(ValueError, match="0 or 1"):
        data.binary_targets(np.array([0, 2]))


# --- standardization -------------------------------------------------------------------------


def test_standardizer_fits_training_part_only(key):
    x_train = jax.random.normal(key, (50, 3)) * jnp.array([1.0, 10.0, 0.1]) + jnp.array(
        [5.0, -2.0, 0.0]
    )
    x_val = x_train[:10] + 100.0
    s = data.standardize(x_train)
    z = np.asarray(s.apply(x_train))
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-5)
    # validation data is shifted by the *training* statistics, not re-centred
    np.testing.assert_allclose(s.apply(x_val), (np.asarray(x_val) - s.mean) / s.scale, rtol=1e-6)
    assert np.all(np.asarray(s.apply(x_val)).mean(axis=0) > 5)
    np.testing.assert_allclose(s.invert(s.apply(x_val)), x_val, rtol=1e-5)


def test_constant_columns_map_to_zero():
    x = np.array([[1.0, 3.3], [2.0, 3.3], [4.0, 3.3]], np.float32)
    s = data.standardize(x)
    assert float(s.scale[1]) == 1.0
    z = np.asarray(s.apply(x))
    assert np.all(np.isfinite(z)) and np.all(z[:, 1] == 0.0)


def test_standardizer_checks_shapes():
    s = data.standardize(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 2\)"):
        s.apply(np.ones((4, 3)))
    with pytest.raises(ValueError, match="x_train"):
        data.standardize(np.ones(5))
    with pytest.raises(ValueError, match="finite"):
        data.standardize(np.array([[np.nan], [1.0]]))


# --- splits -----------------------------------------------------------------------------------


def _ids(split):
    return [np.asarray(split[i]).ravel().tolist() for i in (0, 2, 4)]


def test_split_is_a_reproducible_partition(getkey):
    x = np.arange(50, dtype=np.float32)[:, None]
    y = np.arange(50) % 2
    k = getkey()
    split = data.train_val_test_split(x, y, key=k)
    train, val, test = _ids(split)
    assert (len(train), len(val), len(test)) == (30, 10, 10)
    assert sorted(train + val + test) == list(range(50))
    np.testing.assert_array_equal(
        np.asarray(split.y_train), np.asarray(split.x_train)[:, 0].astype(int) % 2
    )
    assert _ids(data.train_val_test_split(x, y, key=k)) == [train, val, test]
    assert _ids(data.train_val_test_split(x, y, key=getkey())) != [train, val, test]


@settings(max_examples=25, deadline=None)
@given(m=st.integers(3, 60), val=st.floats(0, 0.4), test=st.floats(0, 0.4), stratify=st.booleans())
def test_split_property_every_row_once(m, val, test, stratify):
    x = np.arange(m, dtype=np.float32)[:, None]
    y = np.arange(m) % 3
    try:
        split = data.train_val_test_split(
            x, y, key=jax.random.key(m), val_fraction=val, test_fraction=test, stratify=stratify
        )
    except ValueError as err:
        # the documented refusal when rounding (per class, with stratify) leaves no training
        # row: each part takes at most round(0.4 n) of n rows, so a class of 5 rows or more
        # keeps one, and the refusal needs every class under 5 rows (m <= 12) or m <= 4
        assert "the training part is empty" in str(err) and m <= 12, (m, val, test, stratify)
        return
    train, val_ids, test_ids = _ids(split)
    assert sorted(train + val_ids + test_ids) == list(range(m)) and len(train) >= 1
    for xs, ys in (
        (split.x_train, split.y_train),
        (split.x_val, split.y_val),
        (split.x_test, split.y_test),
    ):
        np.testing.assert_array_equal(np.asarray(ys), np.asarray(xs)[:, 0].astype(int) % 3)


def test_stratified_split_keeps_class_proportions(key):
    y = np.repeat([0, 1, 2], [60, 30, 10])
    x = np.arange(100, dtype=np.float32)[:, None]
    split = data.train_val_test_split(x, y, (0.6, 0.2, 0.2), key=key, stratify=True)
    assert np.bincount(np.asarray(split.y_train)).tolist() == [36, 18, 6]
    assert np.bincount(np.asarray(split.y_val)).tolist() == [12, 6, 2]
    assert np.bincount(np.asarray(split.y_test)).tolist() == [12, 6, 2]


def test_split_arguments_are_checked(key):
    x, y = np.zeros((10, 2)), np.zeros(10, np.int32)
    with pytest.raises(ValueError, match="sum to 1"):
        data.train_val_test_split(x, y, (0.5, 0.2, 0.2), key=key)
    with pytest.raises(ValueError, match="not both"):
        data.train_val_test_split(x, y, (0.6, 0.2, 0.2), key=key, val_fraction=0.1)
    with pytest.raises(ValueError, match="same number of rows"):
        data.train_val_test_split(x, y[:5], key=key)
    with pytest.raises(ValueError, match="val_fraction"):
        data.train_val_test_split(x, y, key=key, val_fraction=1.5)
    with pytest.raises(TypeError, match="integer labels"):
        data.train_val_test_split(x, np.zeros(10), key=key, stratify=True)
    empty = data.train_val_test_split(x, y, key=key, val_fraction=0.0, test_fraction=0.0)
    assert (
        empty.x_train.shape == (10, 2)
        and empty.x_val.shape == (0, 2)
        and empty.y_test.shape == (0,)
    )


# --- registry ---------------------------------------------------------------------------------


def test_registry_names_and_toy_loads(key):
    expected = {
        "xor",
        "and",
        "or",
        "nand",
        "nor",
        "line",
        "circle",
        "xor_quadrants",
        "blobs",
        "spirals",
        "moons",
        "iris",
        "digits",
        "breast_cancer",
        "diabetes",
    }
    assert expected <= set(data.names())
    for name in data.names():
        if data.info(name).source != "toy":
            continue
        x, y = data.load(name, key=key)
        info = data.info(name)
        assert x.shape[1] == info.num_features and x.dtype == jnp.float32
        if info.task == "classification":
            assert y.ndim == 1 and int(y.max()) < info.num_classes
        else:
            assert y.shape == (x.shape[0], 1)
    x, y = data.load("Blobs", key=key, n=50, noise=0.2, num_classes=4)
    assert x.shape == (50, 2) and int(y.max()) == 3
    assert data.read("blobs", key=key, num_classes=4).num_classes == 4


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(
        ValueError, match=r"unknown data set 'spiral' \(did you mean 'spirals'\?\).*iris"
    ):
        data.load("spiral")
    with pytest.raises(ValueError, match="known names"):
        data.info("mnist-like")


@pytest.mark.parametrize(
    "name, shape, num_classes",
    [
        ("iris", (150, 4), 3),
        ("digits", (1797, 64), 10),
        ("breast_cancer", (569, 30), 2),
        ("diabetes", (442, 10), None),
    ],
)
def test_bundled_real_sets(name, shape, num_classes):
    raw = data.read(name)
    assert raw.x.shape == shape and raw.x.dtype == np.float32 and raw.num_classes == num_classes
    assert len(raw.feature_names) == shape[1]
    if num_classes is None:
        assert raw.task == "regression" and raw.y.shape == (shape[0], 1)
    else:
        assert raw.y.dtype == np.int32 and sorted(np.unique(raw.y)) == list(range(num_classes))
    assert data.info(name).num_features == shape[1] and data.info(name).num_classes == num_classes
    with pytest.raises(ValueError, match="fixed real data set"):
        data.load(name, n=10)


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'functional-nn\[data\]'"):
        data.load("iris")


def test_load_dataset_splits_stratifies_and_standardizes(key):
    ds = data.load_dataset("iris", key=key)
    assert isinstance(ds, data.Dataset) and ds.task == "classification" and ds.num_classes == 3
    assert (ds.x_train.shape, ds.x_val.shape, ds.x_test.shape) == ((90, 4), (30, 4), (30, 4))
    assert np.bincount(np.asarray(ds.y_train)).tolist() == [30, 30, 30]
    np.testing.assert_allclose(np.asarray(ds.x_train).mean(axis=0), 0.0, atol=1e-5)
    raw = data.load_dataset("iris", key=key, standardize=False)
    np.testing.assert_allclose(
        ds.standardizer.mean, np.asarray(raw.x_train).mean(axis=0), rtol=1e-5
    )
    np.testing.assert_allclose(ds.x_val, ds.standardizer.apply(raw.x_val))
    assert isinstance(ds.split, data.Split) and all(a is b for a, b in zip(ds.split, ds[:6]))
    assert ds.num_features == 4 and ds.class_names[0] == "setosa"
    reg = data.load_dataset(
        "diabetes", key=key, standardize_targets=True, fractions=(0.8, 0.1, 0.1)
    )
    assert reg.num_classes is None and reg.y_train.shape[1] == 1
    np.testing.assert_allclose(float(reg.y_train.std()), 1.0, rtol=1e-4)
    with pytest.raises(ValueError, match="applies to regression"):
        data.load_dataset("moons", key=key, standardize_targets=True)


def test_load_dataset_on_toy_sets_is_reproducible(getkey):
    k = getkey()
    a = data.load_dataset("moons", key=k, n=40)
    b = data.load_dataset("moons", key=k, n=40)
    for u, v in zip(a.split, b.split):
        np.testing.assert_array_equal(u, v)
    assert a.x_train.shape == (24, 2) and a.name == "moons"
    with pytest.raises(ValueError, match="describe files"):
        data.load_dataset("moons", key=k, task="regression")
    with pytest.raises(ValueError, match="no such file"):
        data.load_dataset("no_such_set.csv", key=k)


def test_package_exports_data():
    assert fnn.data is data and callable(fnn.data.load)
