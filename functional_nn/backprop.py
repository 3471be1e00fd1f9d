r"""The backward pass derived by hand, next to ``jax.grad``.

The lecture derives ``∂J/∂w_pj^{L-1}`` for sigmoid layers as a product of five
factors and asks "How do you generalize the above equations to other layers?".
The answer is the δ recursion (proved by induction in ``proofs/proof_backprop.py``):

    δ^L = ∂J/∂o^L                                  from the loss and f_L
    δ^l = (δ^{l+1} (w^{l+1})ᵀ) ⊙ f_l'(o^l)          l = L−1, ..., 1
    ∂J/∂w^l = (a^{l−1})ᵀ δ^l                        (n_{l−1}, n_l)
    ∂J/∂b^l = Σ_k δ^l_k                             (n_l,)

``δ^l`` has shape ``(batch, n_l)`` and already carries the batch factor ``1/K``,
so summing over the batch in ``(a^{l−1})ᵀ δ^l`` gives the lecture's
``(1/K) Σ_k``. The slide's factors map onto these lines as marked below.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from functional_nn import _validate, activations, losses
from functional_nn.network import MLP, Dense, Params

__all__ = [
    "Backward",
    "backward",
    "objective",
    "check_setup",
    "check_batch",
    "value_and_grad",
    "deltas",
    "per_example_backward",
]

Array = jax.Array
METHODS = ("manual", "autodiff")


class Backward(NamedTuple):
    """The manual backward pass's results."""

    value: Array  # J, ()
    grads: Params  # same tree as params: ∂J/∂w^l, ∂J/∂b^l
    deltas: tuple[Array, ...]  # (δ^1, ..., δ^L), δ^l = ∂J/∂o^l, each (batch, n_l)


def backward(
    net: MLP,
    loss: str,
    params: Params,
    x: Array,
    y: Array,
    weights: Array | None = None,
    masks: tuple[Array, ...] | None = None,
) -> Backward:
    """Loss, gradients and per-layer deltas by the hand-derived δ recursion.

    Inner function: ``y`` must already have the outputs' shape (see
    :func:`value_and_grad` for the checked entry point).

    Args:
        net: the network description.
        loss: a name from ``functional_nn.losses.LOSS_NAMES``.
        params: ``net``'s params.
        x: ``(batch, n_0)``.
        y: ``(batch, n_L)``.
        weights: optional per-example weights ``(batch,)``.
        masks: optional hidden-unit masks (see :meth:`MLP.forward`).
    """
    acts = net.layer_activations
    trace = net.forward(params, x, masks)
    o_out = trace.pre_activations[-1]
    value = losses.loss_from_logits(loss, acts[-1], o_out, y, weights)

    # δ^L = ∂ℓ/∂ŷ · ∂ŷ/∂o^L  (fused where f_L' cancels; sigmoid: ∂ŷ/∂o^L = σ(o^L)(1 − σ(o^L)))
    delta = losses.output_delta(loss, acts[-1], o_out, y, weights)
    grads, deltas = [], []
    for l in reversed(range(net.num_layers)):
        a_prev = trace.activations[l]  # a^{l−1}: ∂o_j^l/∂w_pj^l = a_p^{l−1}
        dw = a_prev.T @ delta  # ∂J/∂w_pj^l = Σ_k a_kp^{l−1} δ_kj^l
        db = jnp.sum(delta, axis=0)  # ∂o_j^l/∂b_j^l = 1
        grads.append(Dense(dw, db))
        deltas.append(delta)
        if l == 0:
            break
        da = delta @ params[l].w.T  # ∂o_c^l/∂a_j^{l−1} = w_jc^l, summed over c
        if masks is not None:
            da = da * masks[l - 1]  # a masked unit's output is constant 0
        o = trace.pre_activations[l - 1]
        delta = _through_activation(
            acts[l - 1], o, trace.activations[l], da
        )  # ∂a^{l−1}/∂o^{l−1} = f'(o^{l−1})
    return Backward(value, tuple(reversed(grads)), tuple(reversed(deltas)))


def _through_activation(act: activations.Activation, o: Array, a: Array, da: Array) -> Array:
    """``∂J/∂o = ∂J/∂a · ∂a/∂o``: elementwise ``f'(o)``, or the softmax Jacobian."""
    if act.name == "softmax":
        return activations.softmax_jvp(a, da)
    assert act.derivative is not None  # every activation but softmax is elementwise
    return da * act.derivative(o)


def objective(net: MLP, loss: str) -> Callable[..., Array]:
    """``J(params, x, y, weights=None, masks=None)`` as a plain function, for ``jax.grad``.

    Cross-entropies are evaluated from ``o^L`` (log-sigmoid / log-softmax).
    """
    output = net.layer_activations[-1]

    def J(
        params: Params,
        x: Array,
        y: Array,
        weights: Array | None = None,
        masks: tuple[Array, ...] | None = None,
    ) -> Array:
        return losses.loss_from_logits(loss, output, net.logits(params, x, masks), y, weights)

    return J


def check_setup(net: MLP, loss: str, method: str | None = None) -> None:
    """Validate a (network, loss, method) triple once, at the API boundary."""
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a functional_nn.MLP, got {type(net).__name__}")
    net.check_trainable()
    losses.check_loss_output(loss, net.output_activation)
    if method is not None and method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def check_batch(
    net: MLP,
    loss: str,
    params: Params,
    x: ArrayLike,
    y: ArrayLike,
    weights: ArrayLike | None = None,
) -> tuple[Array, Array]:
    """Check and return ``(x, y)`` as arrays in the params' dtype, ``y`` in the outputs' shape.

    Shapes and dtypes are always checked (also while ``jit`` traces); NaN/inf
    and target values only on concrete arrays (see ``functional_nn._validate``).
    Integer features are accepted and cast.
    """
    net.check_params(params)
    x, y = check_xy(net, loss, params[0].w.dtype, x, y)
    if weights is not None and tuple(jnp.shape(weights)) != (x.shape[0],):
        raise ValueError(
            f"weights must have shape ({x.shape[0]},), got {tuple(jnp.shape(weights))}"
        )
    return x, y


def check_xy(
    net: MLP,
    loss: str,
    dtype: DTypeLike,
    x: ArrayLike,
    y: ArrayLike,
    names: tuple[str, str] = ("x", "y"),
) -> tuple[Array, Array]:
    """``(x, y)`` as arrays of ``dtype``, ``y`` in the outputs' shape: :func:`check_batch`'s checks
    of the data, which ``fit`` runs on its training and validation sets (``names`` says which)."""
    _validate.real_dtype(x, names[0])
    net.check_inputs(x, names[0])
    _validate.check_finite(x, names[0])
    shape = (np.shape(x)[0], net.layer_sizes[-1])
    y = losses.prepare_targets(loss, y, shape, dtype, names[1])
    return _validate.as_array(x, dtype), y


def value_and_grad(net: MLP, loss: str, method: str = "manual") -> Callable:
    """``f(params, x, y) -> (J, grads)``, with the output of ``jax.value_and_grad``.

    ``method="manual"`` runs :func:`backward`; ``"autodiff"`` runs
    ``jax.value_and_grad`` of :func:`objective`. Both are jittable and vmappable;
    shapes are checked when ``f`` is called or traced, values when they are concrete.
    Called on concrete arrays, ``f`` runs one compiled program per shape (not one per
    primitive, as eager JAX would): the first call on a 5-16-3 network takes about
    0.2 s instead of 1.3 s.

    Examples:
        >>> f = value_and_grad(MLP((2, 3, 1)), "mse", method="manual")
        >>> J, grads = f(params, x, y)     # grads[l].w: (n_{l-1}, n_l)

    The returned function also takes ``weights=`` (per-example, ``(batch,)``) and
    ``masks=`` (hidden-unit masks).
    """
    check_setup(net, loss, method)

    def f(
        params: Params,
        x: ArrayLike,
        y: ArrayLike,
        weights: Array | None = None,
        masks: tuple[Array, ...] | None = None,
    ) -> tuple[Array, Params]:
        x, y = check_batch(net, loss, params, x, y, weights)  # the values, while concrete
        weights = None if weights is None else jnp.asarray(weights)
        return _value_and_grad(net, loss, method, params, x, y, weights, masks)

    return f


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _value_and_grad(
    net: MLP,
    loss: str,
    method: str,
    params: Params,
    x: Array,
    y: Array,
    weights: Array | None,
    masks: tuple[Array, ...] | None,
) -> tuple[Array, Params]:
    if method == "manual":
        value, grads, _ = backward(net, loss, params, x, y, weights, masks)
        return value, grads
    return jax.value_and_grad(objective(net, loss))(params, x, y, weights, masks)


def deltas(net: MLP, loss: str, params: Params, x: ArrayLike, y: ArrayLike) -> tuple[Array, ...]:
    """The per-layer deltas ``δ^l = ∂J/∂o^l`` of the manual pass, checked inputs."""
    check_setup(net, loss)
    x, y = check_batch(net, loss, params, x, y)
    return backward(net, loss, params, x, y).deltas


def per_example_backward(
    net: MLP, loss: str, params: Params, x: Array, y: Array
) -> tuple[Array, Params]:
    r"""Each example's own gradient by hand: ``∂ℓ_k/∂w^l = a_k^{l−1} ⊗ δ_k^l / ω_k``, ``∂ℓ_k/∂b^l = δ_k^l / ω_k``.

    Inner function (``y`` in the outputs' shape). ``δ^l`` of :func:`backward`
    carries the batch factor ``ω_k = 1/K``; dividing it out gives the
    batch-of-one gradient of ``ℓ_k = Σ_c ℓ(ŷ_kc, y_kc)``, the same quantity as
    ``vmap(grad)`` over single examples. Hence ``Σ_k ω_k g_k`` (the mean over
    ``k``) is the batch gradient. Derivation: ``proofs/proof_hvp.py``.

    Returns:
        ``(values, grads)``: ``values`` ``(batch,)`` the per-example losses ``ℓ_k``;
        ``grads[l].w`` ``(batch, n_{l−1}, n_l)``, ``grads[l].b`` ``(batch, n_l)``.
    """
    trace = net.forward(params, x)
    result = backward(net, loss, params, x, y)
    k = x.shape[0]
    grads = []
    for l, delta in enumerate(result.deltas):
        delta_k = delta * k  # δ_k^l / ω_k: one example's own δ
        grads.append(
            Dense(
                jnp.einsum("kp,kj->kpj", trace.activations[l], delta_k),  # a_k^{l−1} ⊗ δ_k^l
                delta_k,
            )
        )
    per_example = jax.vmap(
        lambda o, t: losses.loss_from_logits(loss, net.layer_activations[-1], o[None], t[None])
    )
    return per_example(trace.pre_activations[-1], y), tuple(grads)
