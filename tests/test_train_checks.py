"""fit refuses bad input at the boundary, naming the argument, before anything compiles."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import functional_nn as fnn

NET = fnn.MLP((2, 3, 1), activation="tanh", output_activation="sigmoid")
X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], np.float32)
Y = np.array([[0.0], [1.0], [1.0], [0.0]], np.float32)
KEY = jax.random.key(0)
PARAMS = NET.init(KEY)


def call(**overrides):
    kwargs = dict(loss="binary_cross_entropy", learning_rate=0.1, num_epochs=2, key=KEY)
    kwargs.update(overrides)
    x, y, params = kwargs.pop("x", X), kwargs.pop("y", Y), kwargs.pop("params", PARAMS)
    return fnn.fit(kwargs.pop("net", NET), params, x, y, **kwargs)


@pytest.mark.parametrize(
    "overrides, error, match",
    [
        (dict(x=X[:, :1]), ValueError, r"x must have shape \(batch, 2\)"),
        (dict(x=X[0]), ValueError, "x must have shape"),
        (
            dict(x=np.zeros((0, 2))),
            ValueError,
            r"x must have shape \(batch, 2\) with at least one row",
        ),
        (dict(x=np.where(X == 1, np.nan, X)), ValueError, "x must be finite"),
        (dict(x=X.astype(complex)), TypeError, "x must hold real numbers"),
        (dict(x=np.array([["a", "b"]] * 4)), TypeError, "x must hold real numbers"),
        (
            dict(y=Y[:3]),
            ValueError,
            r"targets y of shape \(3, 1\) do not match network outputs of shape \(4, 1\)",
        ),
        (dict(y=Y.ravel()), ValueError, r"targets y of shape \(4,\) do not match"),
        (dict(y=Y * 2), ValueError, r"targets y in \[0, 1\]"),
        (dict(y=np.where(Y == 1, np.inf, Y)), ValueError, "y must be finite"),
        (dict(batch_size=0), ValueError, r"batch_size must be in \[1, 4\]"),
        (dict(batch_size=5), ValueError, r"batch_size must be in \[1, 4\]"),
        (dict(batch_size=2.0), TypeError, "batch_size must be an int"),
        (dict(num_epochs=0), ValueError, "num_epochs must be >= 1"),
        (dict(num_epochs=True), TypeError, "num_epochs must be an int"),
        (dict(learning_rate=None), ValueError, "exactly one of learning_rate"),
        (dict(optimizer=optax.sgd(0.1)), ValueError, "exactly one of learning_rate"),
        (dict(learning_rate=None, optimizer="adam"), TypeError, "optax.GradientTransformation"),
        (dict(learning_rate=0.0), ValueError, "learning_rate must be finite and > 0"),
        (dict(learning_rate=-1.0), ValueError, "learning_rate must be finite and > 0"),
        (dict(learning_rate=float("inf")), ValueError, "learning_rate must be finite and > 0"),
        (dict(learning_rate=np.array([0.1, 0.2])), TypeError, "learning_rate must be a number"),
        (
            dict(learning_rate=fnn.inverse_time_decay(np.ones(2), np.ones(2))),
            ValueError,
            "fit_many",
        ),
        (dict(learning_rate=lambda count: float("nan")), ValueError, "schedule"),
        (dict(key=0), TypeError, r"jax.random.key\(0\)"),
        (dict(key=jax.random.split(KEY, 2)), ValueError, "one key"),
        (dict(method="numeric"), ValueError, "method must be one of"),
        (dict(loss="hinge"), ValueError, "unknown loss"),
        (dict(loss="categorical_cross_entropy"), ValueError, "output_activation"),
        (dict(validation=X), TypeError, r"validation must be a tuple \(x_val, y_val\)"),
        (
            dict(validation=(X, Y[:2])),
            ValueError,
            r"targets validation\[1\] \(y_val\) of shape \(2, 1\) do not match",
        ),
        (dict(validation=(X[:, :1], Y)), ValueError, r"validation\[0\] \(x_val\) must have shape"),
        (dict(patience=3), ValueError, "patience .* needs validation"),
        (dict(patience=0, validation=(X, Y)), ValueError, "patience must be >= 1"),
        (dict(min_delta=-0.1), ValueError, "min_delta must be finite and >= 0"),
        (dict(progress="yes"), TypeError, "progress must be True or False"),
        (dict(drop_last=1), TypeError, "drop_last must be True or False"),
        (dict(record_grad_norms=None), TypeError, "record_grad_norms must be True or False"),
        (dict(params=PARAMS[:1]), ValueError, "params must be a tuple of 2 layers"),
        (
            dict(params=(PARAMS[0], fnn.Dense(jnp.zeros((4, 1)), jnp.zeros(1)))),
            ValueError,
            r"params\[1\].w has shape",
        ),
        (
            dict(params=jax.tree_util.tree_map(lambda a: a.astype(jnp.int32), PARAMS)),
            TypeError,
            "floating dtype",
        ),
        (dict(net=fnn.MLP((2, 1), output_activation="threshold")), ValueError, "threshold"),
        (dict(net="mlp"), TypeError, "net must be a functional_nn.MLP"),
    ],
)
def test_bad_arguments_raise_naming_them(overrides, error, match):
    with pytest.raises(error, match=match):
        call(**overrides)


def test_integer_labels_must_be_in_range():
    net = fnn.MLP((2, 3), output_activation="softmax")
    for labels in (np.array([0, 1, 2, 3]), np.array([0, -1, 1, 2])):
        with pytest.raises(ValueError, match=r"y must hold integer labels in \[0, 3\)"):
            fnn.fit(
                net,
                net.init(KEY),
                X,
                labels,
                loss="categorical_cross_entropy",
                learning_rate=0.1,
                key=KEY,
            )
