r"""Softmax: the formula, the numeric example, the two-class case and the Jacobian.

Lecture section **Activation function → Softmax**. Library:
:func:`functional_nn.activations.softmax`, ``softmax_jacobian``, ``softmax_jvp``.

## Formula (notation)

The slide writes $a_i(x) = \exp^{z_i} / \sum_k \exp^{z_k}$: the argument is
called $x$ on the left and $z$ on the right, and "$\exp^{z}$" mixes $e^{z}$
with $\exp(z)$. Read as intended,
$$a_i(z) = \frac{e^{z_i}}{\sum_{k=1}^{C} e^{z_k}}, \qquad i = 1, \dots, C.$$
The library subtracts $\max_k z_k$ first; that changes nothing because
$e^{z_i - m}/\sum_k e^{z_k - m} = e^{z_i}/\sum_k e^{z_k}$, and keeps large logits
finite.

## The numeric example — erratum

For $x = (1.60, 0.55, 0.98)^\top$: $e^{1.60} = 4.95303\ldots$,
$e^{0.55} = 1.73325\ldots$, $e^{0.98} = 2.66446\ldots$, sum $9.35074\ldots$, so
$$a = (0.52969\ldots,\ 0.18536\ldots,\ 0.28495\ldots)^\top
   \approx (0.53, 0.19, 0.28)^\top,$$
not the stated $(0.51, 0.18, 0.31)^\top$. Each exact value is more than
$5\times 10^{-5}$ away from the nearest rounding boundary (the closest is
$0.28495 < 0.285$), far more than the $10^{-30}$ error of a 40-digit
evaluation, so the two-decimal rounding is decided exactly. All three stated
entries are wrong (they still sum to 1); their order is right (a larger logit gets a larger share).

## Softmax over two classes is the sigmoid of the difference

"Softmax is a more generalized form of the sigmoid": for $C = 2$,
$$a_1 = \frac{e^{z_1}}{e^{z_1} + e^{z_2}} = \frac{1}{1 + e^{-(z_1 - z_2)}} = \sigma(z_1 - z_2),
\qquad a_2 = \sigma(z_2 - z_1) = 1 - a_1,$$
dividing numerator and denominator by $e^{z_1}$. A sigmoid output unit is a
two-class softmax with the second logit fixed at $0$. **Holds.**

## Jacobian (used by the backward pass)

$\partial a_i / \partial z_j = a_i(\mathbb{1}[i = j] - a_j)$, i.e.
$J = \operatorname{diag}(a) - a a^\top$, symmetric, so the vector–Jacobian
product is $J g = a \odot (g - \langle g, a\rangle)$ — ``softmax_jvp``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from functional_nn import activations as act
from functional_nn._x64 import float64_mode
from proofs._errata import Erratum, assert_decided

EXAMPLE_INPUT = ("1.60", "0.55", "0.98")
STATED = (Decimal("0.51"), Decimal("0.18"), Decimal("0.31"))
CORRECTED = (Decimal("0.53"), Decimal("0.19"), Decimal("0.28"))
DIGITS = 40


def _exact_softmax(values: tuple[str, ...]) -> list[Decimal]:
    """Softmax of decimal strings, evaluated with sympy to ``DIGITS`` significant digits."""
    z = [sp.Rational(v) for v in values]
    total = sum(sp.exp(zk) for zk in z)
    return [Decimal(str(sp.N(sp.exp(zi) / total, DIGITS))) for zi in z]


def wrong_entries(claimed: tuple[Decimal, ...]) -> list[int]:
    """Indices of the entries of ``claimed`` that differ from softmax(1.60, 0.55, 0.98) rounded as printed.

    Each entry is rounded to the number of decimals it is printed with, so a
    claim may be right in some entries and wrong in others.
    """
    exact = _exact_softmax(EXAMPLE_INPUT)
    if len(claimed) != len(exact):
        return list(range(max(len(claimed), len(exact))))
    return [
        i
        for i, (c, v) in enumerate(zip(claimed, exact))
        if v.quantize(Decimal(1).scaleb(c.as_tuple().exponent), rounding=ROUND_HALF_EVEN) != c
    ]


def softmax_example_holds(claimed: tuple[Decimal, ...]) -> bool:
    """Is every printed entry of ``claimed`` the exact softmax value, rounded as printed?"""
    return not wrong_entries(claimed)


ERRATA = (
    Erratum("softmax-example", softmax_example_holds, as_written=STATED, corrected=CORRECTED),
)
(SOFTMAX_EXAMPLE,) = ERRATA


def test_softmax_example_as_written_is_wrong():
    """Erratum: softmax(1.60, 0.55, 0.98) rounds to (0.53, 0.19, 0.28), not (0.51, 0.18, 0.31)."""
    exact = _exact_softmax(EXAMPLE_INPUT)
    # The rounding is decided: every value is far from a boundary k/100 + 0.005.
    for v in exact:
        above = (v * 100 - Decimal("0.5")) % 1  # in hundredths, above the boundary below v
        assert min(above, 1 - above) / 100 > Decimal("5e-5")
    assert_decided(SOFTMAX_EXAMPLE)
    # Which printed entries are off is computed, not assumed (the ledger's correction reports it).
    assert wrong_entries(STATED) == [0, 1, 2]
    assert wrong_entries((Decimal("0.53"), Decimal("0.18"), Decimal("0.28"))) == [1]
    with float64_mode():
        lib = np.asarray(act.softmax(jnp.asarray([float(v) for v in EXAMPLE_INPUT])))
    np.testing.assert_allclose(lib, [float(v) for v in exact], rtol=1e-14)
    assert tuple(Decimal(f"{v:.2f}") for v in lib) == CORRECTED


def test_softmax_formula_reads_exp_of_z():
    """Notation: a_i = e^{z_i} / Σ_k e^{z_k}; the library's max shift does not change it."""
    z = sp.symbols("z1:4", real=True)
    m = sp.symbols("m", real=True)
    for i in range(3):
        shifted = sp.exp(z[i] - m) / sum(sp.exp(zk - m) for zk in z)
        assert sp.cancel(sp.expand(shifted - sp.exp(z[i]) / sum(sp.exp(zk) for zk in z))) == 0
    with float64_mode():
        logits = jnp.asarray([[0.3, -1.2, 2.5, 0.0], [1e3, 1e3 - 1.0, -1e3, 0.0]])
        lib = np.asarray(act.softmax(logits))
        direct = np.exp(np.asarray(logits[0])) / np.sum(np.exp(np.asarray(logits[0])))
        np.testing.assert_allclose(lib[0], direct, rtol=1e-15)
        assert np.all(np.isfinite(lib)) and np.allclose(lib.sum(axis=1), 1.0, rtol=0, atol=1e-15)


def test_softmax_of_two_classes_is_sigmoid_of_difference():
    z1, z2 = sp.symbols("z1 z2", real=True)
    a1 = sp.exp(z1) / (sp.exp(z1) + sp.exp(z2))
    assert sp.cancel(sp.expand(a1 - 1 / (1 + sp.exp(-(z1 - z2))))) == 0
    assert sp.cancel(sp.expand((1 - a1) - 1 / (1 + sp.exp(-(z2 - z1))))) == 0
    logits = 3 * np.random.default_rng(0).standard_normal((50, 2))
    with float64_mode():
        lib = np.asarray(act.softmax(jnp.asarray(logits)))
        differences = np.stack([logits[:, 0] - logits[:, 1], logits[:, 1] - logits[:, 0]], axis=1)
        sig = np.asarray(act.sigmoid(jnp.asarray(differences)))
    np.testing.assert_allclose(lib, sig, rtol=1e-14, atol=1e-16)


@jax.jit
def _jacobians(logits, g):
    s = act.softmax(logits)
    return act.softmax_jacobian(s), jax.jacobian(act.softmax)(logits), act.softmax_jvp(s, g)


def test_softmax_jacobian_is_diag_minus_outer():
    z = sp.symbols("z1:4", real=True)
    total = sum(sp.exp(zk) for zk in z)
    a = [sp.exp(zi) / total for zi in z]
    for i in range(3):
        for j in range(3):
            expected = a[i] * ((1 if i == j else 0) - a[j])
            assert sp.cancel(sp.diff(a[i], z[j]) - expected) == 0
    with float64_mode():
        jac, autodiff, jvp = _jacobians(
            jnp.asarray([0.7, -0.4, 1.9, 0.1]), jnp.asarray([0.3, -2.0, 0.5, 1.0])
        )
    g = np.array([0.3, -2.0, 0.5, 1.0])
    np.testing.assert_allclose(jac, autodiff, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(jvp, np.asarray(autodiff) @ g, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(jvp, g @ np.asarray(autodiff), rtol=1e-13, atol=1e-16)
