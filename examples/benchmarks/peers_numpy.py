"""The numpy peer: the backward pass written by hand, as a researcher without JAX would.

Float32 throughout, the same δ recursion as ``functional_nn.backprop``:
``δ^L = (ŷ − y)/K`` for a cross-entropy on its matching output,
``δ^l = (δ^{l+1} w^{l+1 ᵀ}) ⊙ f'(o^l)``, ``∂J/∂w^l = a^{l−1 ᵀ} δ^l``.
Adam follows optax's formula (``m̂ / (√v̂ + ε)``), so trajectories agree with
``optax.adam`` to rounding.
"""

from __future__ import annotations

import numpy as np

from workloads import NumpyParams, Problem, Spec

B1, B2, EPS = 0.9, 0.999, 1e-8


def _hidden(name: str):
    """``(f, f' expressed through a = f(o))``; relu'(0) = 0 as in JAX."""
    if name == "sigmoid":
        return (lambda o: 1 / (1 + np.exp(-o))), (lambda o, a: a * (1 - a))
    if name == "tanh":
        return np.tanh, (lambda o, a: 1 - a * a)
    if name == "relu":
        return (lambda o: np.maximum(o, 0)), (lambda o, a: (o > 0).astype(o.dtype))
    raise ValueError(f"the numpy peer has no hidden activation {name!r}")


def _output(spec: Spec):
    """``ŷ`` from ``o^L`` for the workload's cross-entropy (δ^L = (ŷ − y)/K for both)."""
    if spec.output_activation == "sigmoid" and spec.loss == "binary_cross_entropy":
        return lambda o: 1 / (1 + np.exp(-o))

    if spec.output_activation == "softmax" and spec.loss == "categorical_cross_entropy":

        def softmax(o):
            e = np.exp(o - o.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

        return softmax
    raise ValueError(f"the numpy peer has no {spec.loss!r} on a {spec.output_activation!r} output")


def gradients(spec: Spec, params: NumpyParams, x: np.ndarray, y: np.ndarray) -> NumpyParams:
    """``[(∂J/∂w^l, ∂J/∂b^l), ...]`` for one batch ``x (K, n_in)``, ``y (K, n_out)``."""
    f, df = _hidden(spec.activation)
    out = _output(spec)
    pre, post = [], [x]
    for i, (w, b) in enumerate(params):
        o = post[-1] @ w + b
        pre.append(o)
        post.append(f(o) if i < len(params) - 1 else out(o))
    delta = (post[-1] - y) / np.float32(x.shape[0])  # δ^L = ∂J/∂o^L
    grads = []
    for l in range(len(params) - 1, -1, -1):
        grads.append((post[l].T @ delta, delta.sum(axis=0)))  # a^{l−1 ᵀ} δ^l, Σ_k δ^l
        if l:
            delta = (delta @ params[l][0].T) * df(pre[l - 1], post[l])  # δ^{l−1}
    return grads[::-1]


def train(problem: Problem, params: NumpyParams, num_epochs: int | None = None) -> NumpyParams:
    """Train one model from ``params`` (copied) in ``problem.orders``; returns the final params."""
    spec = problem.spec
    params = [(w.copy(), b.copy()) for w, b in params]
    k, lr = spec.batch, np.float32(spec.learning_rate)
    x, y = problem.x, problem.y
    adam = spec.optimizer == "adam"
    if adam:
        moments = [[np.zeros_like(p) for p in layer] for layer in params]
        second = [[np.zeros_like(p) for p in layer] for layer in params]
    t = 0
    full_batch = k == x.shape[0]
    for order in problem.orders[: num_epochs or spec.num_epochs]:
        for start in range(0, order.shape[0], k):
            rows = order[start : start + k]
            xb, yb = (x, y) if full_batch else (x[rows], y[rows])  # full batch: no copy
            grads = gradients(spec, params, xb, yb)
            t += 1
            for l, (layer, grad) in enumerate(zip(params, grads)):
                for p, g, i in zip(layer, grad, range(2)):
                    if adam:
                        m, v = moments[l][i], second[l][i]
                        m *= B1
                        m += (1 - B1) * g
                        v *= B2
                        v += (1 - B2) * g * g
                        m_hat = m / np.float32(1 - B1**t)
                        v_hat = v / np.float32(1 - B2**t)
                        p -= lr * m_hat / (np.sqrt(v_hat) + np.float32(EPS))
                    else:
                        p -= lr * g
    return params


def prepare(problem: Problem, models: list[NumpyParams] | None = None):
    """``run() -> per-model params``: the models trained one after another."""
    inits = problem.init if models is None else models

    def run():
        return [train(problem, init) for init in inits]

    return run


def warm_up(problem: Problem) -> None:
    train(problem, problem.init[0], num_epochs=1)


def version() -> str:
    return f"numpy {np.__version__}"
