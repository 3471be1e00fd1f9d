r"""Gradient diagnostics: per-example gradients and per-layer gradient norms.

The lecture's batch gradient is a mean, ``∇J = (1/K) Σ_k ∇ℓ_k``; the
per-example terms ``∇ℓ_k`` show how much the examples disagree (the noise that
makes SGD differ from batch gradient descent). Per-layer norms
``‖∂J/∂w^l‖`` show gradients vanishing towards the input layers, the
motivation for ReLU over sigmoid (lecture, "Activation function").
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from functional_nn import backprop
from functional_nn.network import MLP, Params

__all__ = ["per_example_gradients", "gradient_norms"]

Array = jax.Array


def per_example_gradients(
    net: MLP,
    loss: str,
    params: Params,
    x: ArrayLike,
    y: ArrayLike,
    *,
    method: str = "manual",
    masks: tuple[Array, ...] | None = None,
) -> tuple[Array, Params]:
    r"""Each example's own loss and gradient: ``vmap`` of the gradient over the batch.

    ``values[k] = Σ_c ℓ(ŷ_kc, y_kc)`` and ``grads`` is ``∇_w`` of it, i.e. the
    batch-of-one gradient of example ``k``. Their mean over ``k`` is the batch
    gradient of :func:`functional_nn.value_and_grad`.

    Args:
        net: the network description.
        loss: a loss name.
        params: ``net``'s params.
        x: ``(batch, n_0)``.
        y: ``(batch, n_L)`` (or integer labels ``(batch,)`` for categorical cross-entropy).
        method: ``"manual"`` or ``"autodiff"`` gradient engine.
        masks: optional hidden-unit masks (see :meth:`MLP.forward`).
    Returns:
        ``(values, grads)``: values ``(batch,)``; grads with the params' structure
        and a leading batch axis, e.g. ``grads[l].w`` of shape ``(batch, n_{l-1}, n_l)``.

    Examples:
        >>> values, grads = per_example_gradients(net, "mse", params, x, y)
        >>> jnp.mean(grads[0].w, axis=0)   # == value_and_grad(net, "mse")(params, x, y)[1][0].w
    """
    backprop.check_setup(net, loss, method)
    x, y = backprop.check_batch(net, loss, params, x, y)
    f = backprop.value_and_grad(net, loss, method)

    def one(xk: Array, yk: Array) -> tuple[Array, Params]:
        return f(params, xk[None], yk[None], None, masks)

    return jax.vmap(one)(x, y)


def gradient_norms(grads: Params) -> Array:
    r"""Per-layer Euclidean norms ``sqrt(‖∂J/∂w^l‖² + ‖∂J/∂b^l‖²)``.

    Works on a single gradient (``(L,)``) and on gradients with leading axes,
    e.g. per-example gradients (``(batch, L)``).

    Args:
        grads: a tuple of per-layer ``Dense(dw, db)`` (or dicts with ``"w"``, ``"b"``),
            ``dw`` of shape ``(..., n_{l-1}, n_l)`` and ``db`` of shape ``(..., n_l)``.
    Returns:
        ``(..., L)``, layer 1 first.
    """
    if not isinstance(grads, (tuple, list)) or len(grads) == 0:
        raise TypeError(
            f"grads must be a non-empty tuple of per-layer gradients, got {type(grads).__name__}"
        )
    norms = []
    for layer in grads:
        dw, db = (layer["w"], layer["b"]) if isinstance(layer, dict) else (layer.w, layer.b)
        norms.append(
            jnp.sqrt(jnp.sum(jnp.square(dw), axis=(-2, -1)) + jnp.sum(jnp.square(db), axis=-1))
        )
    return jnp.stack(norms, axis=-1)
