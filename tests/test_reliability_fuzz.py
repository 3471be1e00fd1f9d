"""Reliability, fuzzing (issue 8, group 6): random shapes, dtypes and values thrown at the public
functions give finite, correctly shaped output or a documented ValueError/TypeError — never
an error from inside XLA. Sizes stay tiny and examples few: each distinct shape compiles."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functional_nn as fnn

FAST = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DOCUMENTED = (ValueError, TypeError)
FLOATS = {"float32": jnp.float32, "float16": jnp.float16, "bfloat16": jnp.bfloat16}
LIMIT = {"float32": float(np.float32(1e30)), "float16": 6e4, "bfloat16": float(np.float32(1e30))}


def finite(a) -> bool:
    return bool(np.all(np.isfinite(np.asarray(jnp.asarray(a, jnp.float32)))))


@st.composite
def float_arrays(draw, *, min_dims=1, max_dims=3, max_side=5, bound=None):
    """``(array, dtype name)``: a random shape and float dtype, values finite in that dtype."""
    name = draw(st.sampled_from(sorted(FLOATS)))
    shape = tuple(draw(st.lists(st.integers(1, max_side), min_size=min_dims, max_size=max_dims)))
    limit = LIMIT[name] if bound is None else bound
    values = draw(
        st.lists(
            st.floats(-limit, limit, allow_nan=False, allow_infinity=False, width=32),
            min_size=int(np.prod(shape)),
            max_size=int(np.prod(shape)),
        )
    )
    return jnp.asarray(np.asarray(values, np.float32).reshape(shape), FLOATS[name]), name


@FAST
@given(
    data=float_arrays(),
    name=st.sampled_from(
        ["linear", "threshold", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]
    ),
)
def test_activations_and_derivatives_keep_shape_and_dtype_and_stay_finite(data, name):
    x, _ = data
    act = fnn.get_activation(name)
    y = act.fn(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert finite(y)
    if act.derivative is not None:
        d = act.derivative(x)
        assert d.shape == x.shape and finite(d)


@FAST
@given(name=st.one_of(st.text(max_size=12), st.integers(), st.none()))
def test_unknown_activation_and_loss_names_raise_documented_errors(name):
    for lookup in (fnn.get_activation, fnn.get_loss):
        if name in (
            "linear",
            "threshold",
            "sigmoid",
            "tanh",
            "relu",
            "leaky_relu",
            "softmax",
            "mse",
            "binary_cross_entropy",
            "categorical_cross_entropy",
        ):
            continue
        with pytest.raises(DOCUMENTED):
            lookup(name)


@st.composite
def loss_case(draw):
    """``(loss name, prediction or logits (K, C), targets (K, C))`` with valid targets."""
    loss = draw(st.sampled_from(["mse", "binary_cross_entropy", "categorical_cross_entropy"]))
    k, c = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    bound = 1e3 if loss == "mse" else 1e6  # mse squares: keep float32 finite
    pred = np.asarray(
        draw(st.lists(st.floats(-bound, bound, width=32), min_size=k * c, max_size=k * c)),
        np.float32,
    ).reshape(k, c)
    if loss == "mse":
        y = draw(st.lists(st.floats(-bound, bound, width=32), min_size=k * c, max_size=k * c))
    elif loss == "binary_cross_entropy":
        y = draw(st.lists(st.floats(0, 1, width=32), min_size=k * c, max_size=k * c))
    else:
        labels = draw(st.lists(st.integers(0, c - 1), min_size=k, max_size=k))
        y = np.eye(c, dtype=np.float32)[labels]
    return loss, jnp.asarray(pred), jnp.asarray(np.asarray(y, np.float32).reshape(k, c))


@FAST
@given(case=loss_case())
def test_losses_on_valid_targets_give_a_finite_scalar(case):
    loss, pred, y = case
    value = getattr(fnn.losses, loss)(pred, y)
    assert value.shape == () and finite(value) and float(value) >= 0


@FAST
@given(
    shape_a=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    shape_b=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    loss=st.sampled_from(["mse", "binary_cross_entropy", "categorical_cross_entropy"]),
)
def test_losses_refuse_mismatched_shapes(shape_a, shape_b, loss):
    f = getattr(fnn.losses, loss)
    a, b = jnp.zeros(shape_a), jnp.zeros(shape_b).at[..., 0].set(1.0)
    if shape_a == shape_b:
        assert finite(f(a, b))
    else:
        with pytest.raises(DOCUMENTED):
            f(a, b)


@st.composite
def net_case(draw):
    sizes = tuple(draw(st.lists(st.integers(1, 4), min_size=2, max_size=4)))
    hidden = draw(st.sampled_from(["sigmoid", "tanh", "relu", "leaky_relu", "linear"]))
    out = draw(st.sampled_from(["linear", "sigmoid", "softmax"]))
    return fnn.MLP(sizes, activation=hidden, output_activation=out)


@FAST
@given(
    net=net_case(),
    rows=st.integers(1, 5),
    width_shift=st.sampled_from([0, 0, 0, 1, -1]),
    dtype=st.sampled_from(["float32", "float16", "bfloat16", "int32"]),
    seed=st.integers(0, 2**16),
)
def test_mlp_apply_gives_finite_correctly_shaped_output_or_a_documented_error(
    net, rows, width_shift, dtype, seed
):
    params = net.init(jax.random.key(seed))
    width = net.layer_sizes[0] + width_shift
    if width < 1:
        return
    x = jnp.asarray(np.random.default_rng(seed).normal(size=(rows, width)) * 10).astype(dtype)
    if width_shift:
        with pytest.raises(DOCUMENTED):
            net.apply(params, x)
        return
    out = net.apply(params, x)
    assert out.shape == (rows, net.layer_sizes[-1]) and finite(out)


@FAST
@given(
    net=net_case(),
    rows=st.integers(1, 5),
    method=st.sampled_from(["manual", "autodiff"]),
    y_cols_shift=st.sampled_from([0, 0, 0, 1]),
    y_rows_shift=st.sampled_from([0, 0, 0, 1]),
    seed=st.integers(0, 2**16),
)
def test_value_and_grad_gives_finite_gradients_shaped_like_params_or_a_documented_error(
    net, rows, method, y_cols_shift, y_rows_shift, seed
):
    loss = {
        "linear": "mse",
        "sigmoid": "binary_cross_entropy",
        "softmax": "categorical_cross_entropy",
    }[net.activation_names[-1]]
    params = net.init(jax.random.key(seed))
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(rows, net.layer_sizes[0])), jnp.float32)
    n_out = net.layer_sizes[-1]
    y = np.eye(n_out, dtype=np.float32)[rng.integers(0, n_out, rows)]
    y = np.pad(y, ((0, y_rows_shift), (0, y_cols_shift)))
    f = fnn.value_and_grad(net, loss, method)
    if y_cols_shift or y_rows_shift:
        with pytest.raises(DOCUMENTED):
            f(params, x, jnp.asarray(y))
        return
    value, grads = f(params, x, jnp.asarray(y))
    assert value.shape == () and finite(value)
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(params)
    for g, p in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(params)):
        assert g.shape == p.shape and finite(g)


FIT_NET = fnn.MLP((2, 3, 1), activation="tanh", output_activation="linear")


FAULTS = {  # at most one fault per example, so about half the examples really train
    "m=0": dict(m=0),
    "n_in=3": dict(n_in=3),
    "complex x": dict(x_dtype="complex64"),
    "nan in x": dict(
        bad_value=float("nan"), x_dtype="float32"
    ),  # only float arrays hold NaN and inf
    "inf in x": dict(bad_value=float("inf"), x_dtype="float32"),
    "batch_size=0": dict(batch_size=0),
    "batch_size=-1": dict(batch_size=-1),
    "batch_size>m": dict(batch_size=99),
    "num_epochs=0": dict(num_epochs=0),
    "num_epochs<0": dict(num_epochs=-3),
    "learning_rate=0": dict(learning_rate=0.0),
    "learning_rate<0": dict(learning_rate=-1.0),
    "learning_rate=nan": dict(learning_rate=float("nan")),
    "learning_rate=inf": dict(learning_rate=float("inf")),
}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    m=st.integers(1, 6),
    x_dtype=st.sampled_from(["float32", "int32", "bool", "float16"]),
    batch_size=st.sampled_from([None, 1, 2]),
    num_epochs=st.integers(1, 2),
    learning_rate=st.sampled_from([0.1, 1e-3, 1e30]),
    fault=st.one_of(st.none(), st.sampled_from(sorted(FAULTS))),
    seed=st.integers(0, 2**16),
)
def test_fit_returns_finite_params_or_raises_a_documented_error(
    m, x_dtype, batch_size, num_epochs, learning_rate, fault, seed
):
    case = dict(
        m=m,
        n_in=2,
        x_dtype=x_dtype,
        batch_size=batch_size if batch_size is None else min(batch_size, m),
        num_epochs=num_epochs,
        learning_rate=learning_rate,
        bad_value=None,
    )
    case.update(FAULTS.get(fault, {}))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(case["m"], case["n_in"]))
    y = np.sin(x[:, :1])
    if case["bad_value"] is not None:
        x[0, 0] = case["bad_value"]
    x = x > 0 if case["x_dtype"] == "bool" else x.astype(case["x_dtype"])
    params = FIT_NET.init(jax.random.key(seed))
    call = lambda: fnn.fit(
        FIT_NET,
        params,
        x,
        y,
        learning_rate=case["learning_rate"],  # noqa: E731
        batch_size=case["batch_size"],
        num_epochs=case["num_epochs"],
        key=jax.random.key(seed),
    )
    if fault is not None:
        with pytest.raises(DOCUMENTED):
            call()
        return
    result = call()
    assert all(finite(leaf) for leaf in jax.tree_util.tree_leaves(result.params))
    assert jax.tree_util.tree_structure(result.params) == jax.tree_util.tree_structure(params)
    assert result.diverged or result.stopped_epoch == num_epochs
    assert len(result.history["train_loss"]) == result.stopped_epoch
