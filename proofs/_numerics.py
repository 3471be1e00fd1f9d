"""Small helpers shared by the proofs: central differences, random float64 params, a jitted value_and_grad.

Not collected by pytest (the name does not start with ``proof_``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np


def central_difference(f: Callable[[np.ndarray], float], x, eps: float = 1e-6) -> np.ndarray:
    """Gradient of a scalar ``f`` at ``x`` by central differences, in float64.

    ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` per coordinate; the error is
    ``O(eps²)`` for smooth ``f``, about 1e-10 relative at ``eps = 1e-6``.

    Args:
        f: maps an array shaped like ``x`` to a scalar.
        x: the point, any shape.
    Returns:
        An array shaped like ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (float(f(x + step)) - float(f(x - step))) / (2 * eps)
    return grad


def random_params(layer_sizes, seed: int, scale: float = 1.0):
    """Deliberately non-trivial float64 params ``(Dense(w, b), ...)`` from a local numpy generator.

    Random weights *and* biases of order ``scale``, so a swapped index or a
    dropped bias cannot hide behind zeros. Built with numpy rather than
    ``net.init`` to avoid compiling JAX's random kernels in every proof. Call
    inside ``float64_mode()``.
    """
    import jax

    from functional_nn.network import Dense

    rng = np.random.default_rng(seed)
    # device_put (unlike jnp.asarray) compiles nothing.
    return tuple(
        Dense(
            jax.device_put(scale * rng.standard_normal((n_in, n_out))),
            jax.device_put(scale * rng.standard_normal(n_out)),
        )
        for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])
    )


@functools.cache
def jitted_value_and_grad(net, loss: str, method: str = "manual"):
    """``jax.jit(functional_nn.value_and_grad(net, loss, method))``, built once per configuration.

    One compilation per network instead of one per primitive keeps the proofs fast.
    """
    import jax

    from functional_nn.backprop import value_and_grad

    return jax.jit(value_and_grad(net, loss, method=method))
