"""The benchmark workloads W1–W4 of issue 7: specifications, data and shared starting points.

Every implementation (``functional_nn.fit``, the JAX references, torch, numpy,
scikit-learn) trains the *same* problem: the same network, the same initial
weights (drawn once, see :func:`glorot_uniform`, and converted), and the same per-epoch
sample order (``Problem.orders``: the order ``fnn.fit`` draws from the same
key) wherever the peer accepts one. Only the training call is timed; building data and converting
weights is setup.

Losses are cross-entropies from the output pre-activations throughout, because
scikit-learn's ``MLPClassifier`` (log-loss on a logistic / softmax output) can
then run the identical computation; W1 therefore uses
``binary_cross_entropy`` on its sigmoid output rather than the lecture's MSE.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import numpy as np

import functional_nn as fnn
from functional_nn._batches import epoch_orders, shuffle_seed

NumpyParams = list[tuple[np.ndarray, np.ndarray]]  # [(w (n_in, n_out), b (n_out,)), ...] float32


@dataclasses.dataclass(frozen=True)
class Spec:
    """What one workload trains; ``batch_size=None`` is full batch."""

    name: str
    title: str
    layer_sizes: tuple[int, ...]
    activation: str
    output_activation: str
    loss: str
    optimizer: str  # "sgd" or "adam"
    learning_rate: float
    batch_size: int | None
    num_epochs: int
    num_examples: int
    num_models: int = 1  # > 1: independent models from different initial weights
    metric: str = "seconds"  # what the table shows: updates/s, samples/s, fraction, seconds

    @property
    def net(self) -> fnn.MLP:
        return fnn.MLP(
            self.layer_sizes, activation=self.activation, output_activation=self.output_activation
        )

    @property
    def batch(self) -> int:
        """``K``, the examples per update."""
        return self.num_examples if self.batch_size is None else self.batch_size

    @property
    def num_updates(self) -> int:
        """Parameter updates per model over the whole run."""
        return self.num_epochs * (self.num_examples // self.batch)

    @property
    def num_samples(self) -> int:
        """Examples processed per model over the whole run."""
        return self.num_epochs * self.num_examples


# The full configurations of the issue, and tiny ones with the same structure for --quick.
FULL = {
    "W1": Spec(
        "W1",
        "XOR 2-2-1 sigmoid, SGD K=1, 5000 epochs",
        (2, 2, 1),
        "sigmoid",
        "sigmoid",
        "binary_cross_entropy",
        "sgd",
        0.5,
        1,
        5000,
        4,
        metric="updates/s",
    ),
    "W2": Spec(
        "W2",
        "digits 64-128-64-10 ReLU/softmax, K=32, 30 epochs, SGD 0.1",
        (64, 128, 64, 10),
        "relu",
        "softmax",
        "categorical_cross_entropy",
        "sgd",
        0.1,
        32,
        30,
        1440,
        metric="samples/s",
    ),
    "W3": Spec(
        "W3",
        "784-1024-1024-10, 8192 synthetic examples, full batch, 10 steps",
        (784, 1024, 1024, 10),
        "relu",
        "softmax",
        "categorical_cross_entropy",
        "sgd",
        0.01,
        None,
        10,
        8192,
        metric="fraction of matmul peak",
    ),
    "W4": Spec(
        "W4",
        "64 models 2-32-32-1 tanh, two spirals, 500 full-batch Adam steps",
        (2, 32, 32, 1),
        "tanh",
        "sigmoid",
        "binary_cross_entropy",
        "adam",
        0.01,
        None,
        500,
        200,
        num_models=64,
        metric="seconds",
    ),
    "W4xor": Spec(
        "W4xor",
        "1000 XOR 2-2-1 sigmoid models, 500 full-batch Adam steps",
        (2, 2, 1),
        "sigmoid",
        "sigmoid",
        "binary_cross_entropy",
        "adam",
        0.05,
        None,
        500,
        4,
        num_models=1000,
        metric="seconds",
    ),
}
QUICK = {
    "W1": dataclasses.replace(FULL["W1"], num_epochs=50),
    "W2": dataclasses.replace(FULL["W2"], num_epochs=2, num_examples=320),
    "W3": dataclasses.replace(
        FULL["W3"], layer_sizes=(784, 64, 64, 10), num_epochs=2, num_examples=128
    ),
    "W4": dataclasses.replace(FULL["W4"], num_models=3, num_epochs=20, num_examples=40),
    "W4xor": dataclasses.replace(FULL["W4xor"], num_models=8, num_epochs=20),
}
#: Torch eager trains this many of the 1000 XOR models; its time is extrapolated (and labelled so).
TORCH_XOR_SUBSET = {"full": 25, "quick": 2}
NAMES = ("W1", "W2", "W3", "W4")  # W4xor runs as part of W4


class Problem(NamedTuple):
    """One workload's data and starting points, shared by every implementation."""

    spec: Spec
    x: np.ndarray  # (m, n_in) float32 training inputs
    y: np.ndarray  # (m, n_out) float32 targets (one-hot for softmax)
    labels: np.ndarray  # (m,) int class labels (scikit-learn's targets)
    x_test: np.ndarray  # (m_test, n_in), empty when the workload has no test set
    labels_test: np.ndarray  # (m_test,)
    orders: np.ndarray  # (num_epochs, m) int: the sample order of each epoch
    shuffle_key: jax.Array  # the key that makes fnn.fit visit the examples in `orders`
    init: list[NumpyParams]  # one starting point per model
    init_jax: tuple  # the same starting points as fnn params, stacked on a leading model axis


def to_numpy(params) -> NumpyParams:
    """``fnn`` params (tuple of ``Dense``) -> ``[(w, b), ...]`` float32 numpy."""
    return [(np.asarray(layer.w, np.float32), np.asarray(layer.b, np.float32)) for layer in params]


def to_jax(params: NumpyParams) -> tuple:
    """``[(w, b), ...]`` numpy -> ``fnn`` params on the device (a transfer, nothing compiled)."""
    return tuple(fnn.Dense(jax.device_put(w), jax.device_put(b)) for w, b in params)


def unstack(stacked) -> list[NumpyParams]:
    """Params with a leading model axis -> one numpy param list per model."""
    leaves = [(np.asarray(layer.w), np.asarray(layer.b)) for layer in stacked]
    return [[(w[i], b[i]) for w, b in leaves] for i in range(leaves[0][0].shape[0])]


def make_problem(spec: Spec, *, seed: int = 0) -> Problem:
    """Build the data, the per-epoch orders and the initial weights of ``spec``."""
    if spec.batch_size is not None and spec.num_examples % spec.batch_size:
        raise ValueError(
            f"{spec.name}: batch_size {spec.batch_size} must divide {spec.num_examples} examples"
        )
    rng = np.random.default_rng(seed)
    x, labels, x_test, labels_test = _data(spec, rng, seed)
    n_out = spec.layer_sizes[-1]
    y = (
        labels[:, None].astype(np.float32)
        if n_out == 1
        else np.eye(n_out, dtype=np.float32)[labels]
    )
    init = [glorot_uniform(spec.layer_sizes, rng) for _ in range(spec.num_models)]
    init_jax = tuple(
        fnn.Dense(
            jax.device_put(np.stack([m[l][0] for m in init])),
            jax.device_put(np.stack([m[l][1] for m in init])),
        )
        for l in range(len(spec.layer_sizes) - 1)
    )
    key = jax.random.key(seed)
    return Problem(
        spec,
        x,
        y,
        labels,
        x_test,
        labels_test,
        fit_orders(spec, key, x.shape[0]),
        key,
        init,
        init_jax,
    )


def glorot_uniform(layer_sizes: tuple[int, ...], rng: np.random.Generator) -> NumpyParams:
    """``MLP``'s default initializer (``w ~ U(±√(6/(n_in + n_out)))``, ``b = 0``), drawn with numpy.

    Drawn with numpy rather than ``MLP.init`` because compiling JAX's random
    bits costs a second or more per network, which would dominate the
    ``--quick`` run; what matters here is that every implementation gets the same draw.
    """
    params = []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        limit = np.sqrt(6.0 / (n_in + n_out))
        params.append(
            (
                rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32),
                np.zeros(n_out, np.float32),
            )
        )
    return params


def fit_orders(spec: Spec, key: jax.Array, m: int) -> np.ndarray:
    """``(num_epochs, m)``: the order in which ``fnn.fit(..., key=key)`` visits the examples.

    ``fit`` draws every epoch's order from the key with ``functional_nn._batches.epoch_orders``
    (full batch keeps the stored order); ``tests/test_benchmarks.py`` checks these
    against ``fnn.batch_indices``, and the runner's agreement table shows ``fit``
    ending where the peers do.
    """
    if spec.batch_size is None or spec.batch_size == m:
        return np.tile(np.arange(m), (spec.num_epochs, 1))
    return np.asarray(epoch_orders(shuffle_seed(key), np.arange(spec.num_epochs), m))


def _data(spec: Spec, rng: np.random.Generator, seed: int):
    empty = (np.zeros((0, spec.layer_sizes[0]), np.float32), np.zeros((0,), np.int64))
    if spec.name in ("W1", "W4xor"):
        x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
        return (x, np.array([0, 1, 1, 0]), *empty)
    if spec.name == "W2":
        from sklearn.datasets import load_digits

        digits = load_digits()
        rows = rng.permutation(digits.data.shape[0])
        x = (digits.data[rows] / 16.0).astype(np.float32)  # intensities 0..16 -> [0, 1]
        labels = digits.target[rows].astype(np.int64)
        m = (
            spec.num_examples
        )  # 1440 = 45 batches of 32: no short last batch, so every peer does the same steps
        return x[:m], labels[:m], x[m:], labels[m:]
    if spec.name == "W3":
        x = rng.standard_normal((spec.num_examples, spec.layer_sizes[0]), dtype=np.float32)
        return (x, rng.integers(0, spec.layer_sizes[-1], spec.num_examples), *empty)
    if spec.name == "W4":
        from functional_nn.data.toy import spirals

        x, labels = spirals(spec.num_examples, key=jax.random.key(seed))
        return (np.asarray(x, np.float32), np.asarray(labels, np.int64), *empty)
    raise ValueError(f"unknown workload {spec.name!r}; known: {', '.join(FULL)}")


def numpy_forward(spec: Spec, params: NumpyParams, x: np.ndarray) -> np.ndarray:
    """Output pre-activations ``o^L`` ``(batch, n_out)``: an independent evaluator for every peer's result."""
    hidden = {
        "sigmoid": lambda o: 1 / (1 + np.exp(-o)),
        "tanh": np.tanh,
        "relu": lambda o: np.maximum(o, 0),
    }
    a = x.astype(np.float64)
    for i, (w, b) in enumerate(params):
        o = a @ w.astype(np.float64) + b.astype(np.float64)
        a = hidden[spec.activation](o) if i < len(params) - 1 else o
    return o


def evaluate(problem: Problem, params: NumpyParams) -> dict:
    """Training loss (float64, the lecture's J) and, where there is a test set, test accuracy."""
    spec = problem.spec
    o = numpy_forward(spec, params, problem.x)
    if spec.layer_sizes[-1] == 1:
        z, t = o[:, 0], problem.y[:, 0]
        loss = float(np.mean(np.logaddexp(0, z) - t * z))  # −t ln σ(z) − (1 − t) ln(1 − σ(z))
    else:
        log_p = o - o.max(axis=1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
        loss = float(-np.mean(np.sum(problem.y * log_p, axis=1)))
    out = {"train_loss": loss}
    if problem.x_test.shape[0]:
        o_test = numpy_forward(spec, params, problem.x_test)
        out["test_accuracy"] = float(np.mean(o_test.argmax(axis=1) == problem.labels_test))
    return out


def step_flops(spec: Spec) -> float:
    """Matmul FLOPs of one training step: forward, ``∂J/∂w`` per layer, ``∂J/∂a`` below every layer but the first."""
    k = spec.batch
    pairs = list(zip(spec.layer_sizes[:-1], spec.layer_sizes[1:]))
    forward = sum(2 * k * n_in * n_out for n_in, n_out in pairs)
    back_inputs = sum(2 * k * n_in * n_out for n_in, n_out in pairs[1:])
    return float(2 * forward + back_inputs)
