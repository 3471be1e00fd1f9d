r"""A rounding-error bound for the gradient of an MLP computed in float32 / bfloat16 / float16.

Library: :func:`functional_nn.rounding.gradient_error_bound`, ``check_rounding``, ``gamma``.

## Model of arithmetic

Each operation $\circ$ on representable numbers returns $\mathrm{fl}(a\circ b) = (a\circ b)(1 + \eta)$, $|\eta|\le u$,
$u = 2^{-p}$ the unit roundoff ($p$ = 24, 8, 11 for float32, bfloat16, float16). **Lemma** (Higham, Lemma 3.1):
if $|\eta_i|\le u$ and $nu < 1$ then $\prod_{i=1}^n(1+\eta_i)^{\pm1} = 1 + \theta_n$ with $|\theta_n|\le\gamma_n = nu/(1 - nu)$.

**Dot products.** A computed $\hat s = \mathrm{fl}(\sum_{p=1}^n x_p w_p)$ in *any* order satisfies
$|\hat s - \sum_p x_p w_p|\le\gamma_n\sum_p|x_p||w_p|$: each product is rounded once and takes part in at most
$n - 1$ additions, so it carries a factor $1 + \theta_n$. A bias adds one term ($\gamma_{n+1}$).

**Inherited errors.** With $|\hat x - x|\le E_x$, $|\hat w - w|\le E_w$ entrywise,
$|\hat x\hat w - xw|\le E_x|w| + |x|E_w + E_xE_w$, so a computed layer satisfies
$$|\hat o - o|\le E_a|w| + |a|E_w + E_aE_w + \gamma_{n+1}\big((|a| + E_a)(|w| + E_w) + |b|\big) + E_b,$$
with $E = u|\cdot|$ for the rounded params and inputs.

**Activations.** By the mean value theorem $|f(\hat o) - f(o)|\le\sup_{[o - E_o, o + E_o]}|f'|\,E_o$, and the kernel
adds $c\,u|f(\hat o)|$ ($c = 8$ for exp-based kernels, an assumption on the library's accuracy checked below: XLA's float32 tanh is 4.2 ulps off near 0.03, so 4 would not do; relu is exact,
leaky relu one multiplication). Softmax: $|\ln s_i(o + \Delta) - \ln s_i(o)|\le|\Delta_i| + \max_j|\Delta_j|\le 2\max_j E_j$,
so $|\Delta s_i|\le s_i(e^{2\max E} - 1)$, plus the rounding of $n$ exponentials, their sum ($\gamma_n$) and a division.

**Derivatives.** $|f'(\hat o) - f'(o)|\le\sup|f''|E_o$ ($|\sigma''|\le 1/(6\sqrt3)$, $|\tanh''|\le 4/(3\sqrt3)$), plus the
kernel's own rounding; for relu / leaky relu the derivative jumps by $1$ / $1 - \text{slope}$ when the interval straddles 0.

**The backward pass** is products, sums and dot products of the same kind: $\delta^L$ from the head
($\omega(\hat y - y)$ times $f'$ or the softmax map), $\delta^l = (\delta^{l+1}w^{l+1\top})\odot f'(o^l)$ (a dot product of
length $n_{l+1}$), $\nabla_w = a^\top\delta$ (length $K$), $\nabla_b = \sum_k\delta_k$ ($\gamma_{K-1}$). Propagating the
bounds entry by entry with the rules above, using the float64 values as $|x|$, bounds $|\hat g - g|$ for every entry. The
bound includes all second-order terms $E_xE_w$ except inside the $\gamma$ factors' own inputs, which are magnitudes.
"""

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import activations
from functional_nn.network import MLP
from functional_nn.rounding import EVAL_ULPS, UNIT_ROUNDOFF, check_rounding, gamma


def test_dot_products_obey_the_gamma_n_bound_in_every_dtype():
    rng = np.random.default_rng(0)
    for name, dtype in (
        ("float32", jnp.float32),
        ("bfloat16", jnp.bfloat16),
        ("float16", jnp.float16),
    ):
        u = UNIT_ROUNDOFF[name]
        for n in (4, 32, 100):
            x = jnp.asarray(rng.standard_normal((20, n)), dtype)
            w = jnp.asarray(rng.standard_normal((n, 1)), dtype)
            computed = np.asarray((x @ w).astype(jnp.float32), np.float64).ravel()
            xs, ws = (
                np.asarray(x.astype(jnp.float32), np.float64),
                np.asarray(w.astype(jnp.float32), np.float64),
            )
            for row, got in zip(xs, computed):
                exact = sum(Fraction(a) * Fraction(b) for a, b in zip(row, ws.ravel()))
                assert abs(Fraction(got) - exact) <= Fraction(gamma(n, u)) * Fraction(
                    float(np.abs(row) @ np.abs(ws.ravel()))
                )


def test_activation_kernels_are_within_c_ulps():
    o64 = np.linspace(-8, 8, 2001)
    for name, dtype in (("float32", jnp.float32), ("bfloat16", jnp.bfloat16)):
        u = UNIT_ROUNDOFF[name]
        o = jnp.asarray(o64, dtype)
        exact_in = np.asarray(o.astype(jnp.float32), np.float64)
        for fn, ref in (
            (activations.sigmoid, lambda t: 1 / (1 + np.exp(-t))),
            (activations.tanh, np.tanh),
        ):
            got = np.asarray(fn(o).astype(jnp.float32), np.float64)
            assert np.all(
                np.abs(got - ref(exact_in)) <= EVAL_ULPS * u * np.abs(ref(exact_in)) + 1e-300
            )


def test_the_bound_holds_and_is_not_vacuous_for_float32():
    net = MLP((6, 16, 3), activation="tanh", output_activation="softmax")
    params = net.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (8, 6))
    report = check_rounding(
        net, "categorical_cross_entropy", params, x, jnp.arange(8) % 3, dtype="float32"
    )
    assert report.ok
    # the bound is a few hundred u times the gradient's size, not a blanket tolerance
    assert all(leaf.bound < 1e-4 for leaf in report.leaves)
    assert gamma(2**24, 2.0**-24) == float("inf")
