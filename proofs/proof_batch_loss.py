r"""The loss over a batch, and the first backward-pass slide that loses its $1/K$ and its $\sum_s$.

Lecture sections **Backpropagation algorithm → Computing loss** and the first
**Backward pass** slide. Library: :func:`functional_nn.losses.mse`,
``binary_cross_entropy``, ``categorical_cross_entropy`` (all
$J = \frac1K\sum_k\sum_c \ell$) and :func:`functional_nn.backprop.value_and_grad`.

## The batch loss (holds)

$$J(w) = \frac1K\sum_{k=1}^K\sum_{c=1}^C \ell(\hat y_k^c, y_k^c),$$
$\hat y_k^c$ the $c$-th output for the $k$-th example of the batch. The
library's per-entry losses are $\ell = \tfrac12(\hat y - y)^2$ (``mse``),
$\ell = -y\ln\hat y - (1 - y)\ln(1 - \hat y)$ (``binary_cross_entropy``) and
$\ell = -y\ln\hat y$ over a one-hot $y$ (``categorical_cross_entropy``).

## The first backward-pass slide

It writes
$$\frac{\partial J(w)}{\partial w_{pj}^{L-1}}
  \overset{(1)}{=} \frac{\partial}{\partial w_{pj}^{L-1}}\Bigl(\sum_{s=1}^K\sum_{c=1}^C \ell(\hat y_{cs}, y_{cs})\Bigr)
  \overset{(2)}{=} \sum_{c=1}^C \frac{\partial}{\partial w_{pj}^{L-1}}\,\ell(\hat y_{cs}, y_{cs}).$$
(The indices also swap order, $\hat y_k^c$ becoming $\hat y_{cs}$ — harmless.)

* **(1) erratum**: $J$ has the factor $\frac1K$; the expression in the middle
  is $K\,\partial J/\partial w_{pj}^{L-1}$.
* **(2) erratum**: the sum over the examples $s$ disappears while the index
  $s$ stays free; the right side is one example's gradient, a different
  number for each $s$.

Corrected, by linearity of the derivative:
$$\frac{\partial J(w)}{\partial w_{pj}^{L-1}}
  = \frac1K\sum_{s=1}^K\sum_{c=1}^C \frac{\partial\,\ell(\hat y_{cs}, y_{cs})}{\partial w_{pj}^{L-1}} .$$
The following slides differentiate $\sum_s\sum_c\ell$ (no $1/K$) consistently,
so their chain rule holds for that sum; the $\frac1K$ comes back as a factor.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import activations as act
from functional_nn import losses
from functional_nn._x64 import float64_mode
from functional_nn.backprop import value_and_grad
from functional_nn.network import MLP
from proofs._errata import Erratum, assert_decided
from proofs._numerics import random_params

K, C = 5, 3
NET = MLP((4, 3, 3), activation="sigmoid", output_activation="sigmoid")


def _batch():
    rng = np.random.default_rng(11)
    x = jnp.asarray(rng.standard_normal((K, 4)))
    y = jnp.asarray(rng.uniform(0, 1, (K, C)))
    return x, y


@jax.jit  # one compilation for the three library losses
def _library_losses(logits, targets, one_hot):
    return {
        "mse": losses.mse(act.sigmoid(logits), targets),
        "bce": losses.binary_cross_entropy(logits, targets),
        "cce": losses.categorical_cross_entropy(logits, one_hot),
    }


def test_batch_loss_is_mean_over_examples_of_sum_over_outputs():
    with float64_mode():
        rng = np.random.default_rng(2)
        logits = rng.standard_normal((K, C))
        targets = rng.uniform(0, 1, (K, C))
        labels = rng.integers(0, C, K)
        one_hot = np.eye(C)[labels]
        sig = 1 / (1 + np.exp(-logits))
        soft = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        loops = {
            "mse": sum(0.5 * (sig[k, c] - targets[k, c]) ** 2 for k in range(K) for c in range(C))
            / K,
            "bce": sum(
                -targets[k, c] * np.log(sig[k, c]) - (1 - targets[k, c]) * np.log(1 - sig[k, c])
                for k in range(K)
                for c in range(C)
            )
            / K,
            "cce": sum(-one_hot[k, c] * np.log(soft[k, c]) for k in range(K) for c in range(C)) / K,
        }
        lib = _library_losses(jnp.asarray(logits), jnp.asarray(targets), jnp.asarray(one_hot))
        for name in loops:
            assert abs(float(lib[name]) - loops[name]) < 1e-13, name


def _summed(p, xs, ys):
    """Σ_s Σ_c ℓ(ŷ_cs, y_cs) with ℓ = ½ (ŷ − y)², no 1/K."""
    return jnp.sum(0.5 * (NET.apply(p, xs) - ys) ** 2)


@jax.jit
def _gradients_of(params, x, y):
    _, grads = value_and_grad(NET, "mse", method="manual")(params, x, y)
    grad_sum = jax.grad(_summed)(params, x, y)
    per_example = jax.vmap(jax.grad(_summed), in_axes=(None, 0, 0))(params, x[:, None], y[:, None])
    return (
        grads[-2].w,
        grad_sum[-2].w,
        per_example[-2].w,
    )  # layer L−1: (n_{L−2}, n_{L−1}), per s (K, ...)


def _gradients():
    """(∂J/∂w^{L−1} from the library, ∂/∂w^{L−1} Σ_s Σ_c ℓ, and one example's ∂/∂w^{L−1} Σ_c ℓ per s)."""
    x, y = _batch()
    return tuple(np.asarray(a) for a in _gradients_of(random_params(NET.layer_sizes, seed=3), x, y))


def one_over_k_holds(claimed) -> bool:
    """Is ``claimed(grad_sum)`` — a form of ∂J/∂w^{L−1} built from ∂/∂w^{L−1} Σ_s Σ_c ℓ — the library's gradient?"""
    with float64_mode():
        library, grad_sum, _ = _gradients()
    return bool(np.allclose(claimed(grad_sum), library, rtol=1e-12, atol=1e-15))


def sum_over_s_holds(claimed) -> bool:
    """Is ``claimed(per_example, s)`` ∂J/∂w^{L−1} for every value of the free index s?

    ``per_example[s]`` is one example's ∂/∂w^{L−1} Σ_c ℓ(ŷ_cs, y_cs).
    """
    with float64_mode():
        library, _, per_example = _gradients()
    return all(
        np.allclose(claimed(per_example, s), library, rtol=1e-12, atol=1e-15) for s in range(K)
    )


ERRATA = (
    Erratum(
        "backward-one-over-k",
        one_over_k_holds,
        as_written=lambda grad_sum: grad_sum,
        corrected=lambda grad_sum: grad_sum / K,
    ),
    Erratum(
        "backward-sum-over-s",
        sum_over_s_holds,
        as_written=lambda per_example, s: per_example[s],  # Σ_c ∂ℓ(ŷ_cs, y_cs)/∂w, s free
        corrected=lambda per_example, s: per_example.sum(axis=0) / K,
    ),  # (1/K) Σ_s Σ_c ∂ℓ/∂w
)
ONE_OVER_K, SUM_OVER_S = ERRATA


def test_first_backward_line_drops_one_over_k():
    """Erratum (1): ∂J/∂w = (1/K) ∂/∂w Σ_s Σ_c ℓ, not ∂/∂w Σ_s Σ_c ℓ."""
    assert_decided(ONE_OVER_K)


def test_first_backward_line_drops_sum_over_examples():
    """Erratum (2): Σ_c ∂ℓ(ŷ_cs, y_cs)/∂w is one example's term; the gradient sums it over s (and divides by K)."""
    assert_decided(SUM_OVER_S)
    with float64_mode():
        library, _, per_example = _gradients()
    # Not even one example's term scaled by 1/K is the gradient.
    assert all(not np.allclose(per_example[s] / K, library, rtol=1e-3) for s in range(K))
