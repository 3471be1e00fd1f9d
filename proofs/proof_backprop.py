r"""The backward pass: the slides' factors for $w_{pj}^{L-1}$, and the δ recursion for any depth.

Lecture section **Backpropagation algorithm → Backward pass** (the "How to
drive [derive]" slide, the slide with the five factors, and the closing
question "How do you generalize the above equations to other layers?").
Library: :func:`functional_nn.backprop.backward` (returns the loss, the
gradients and every $\delta^l$), :func:`functional_nn.backprop.value_and_grad`,
:func:`functional_nn.losses.output_gradient`, ``output_delta``,
:func:`functional_nn.activations.sigmoid_derivative`.

## Notation

Layers $l = 1..L$; for one example, $a^0 = x$,
$$o^l_j = \sum_p w^l_{pj}\,a^{l-1}_p + b^l_j, \qquad a^l_j = f_l(o^l_j), \qquad \hat y = a^L,$$
$w^l_{pj}$ connects unit $p$ of layer $l-1$ to unit $j$ of layer $l$ (the
library's ``w[p, j]``). Over a batch of $K$ examples
$J = \frac1K\sum_s\sum_c\ell(\hat y_{cs}, y_{cs})$ (``proof_batch_loss.py``).
The slides use sigmoid units everywhere, $f_l = \sigma$.

## The slides' chain rule for a weight of layer $L-1$

$w^{L-1}_{pj}$ reaches the loss only through $o^{L-1}_j \to a^{L-1}_j \to o^L_c \to \hat y_c$
for every output $c$ (a hidden unit feeds all outputs), so
$$\frac{\partial \sum_s\ell_s}{\partial w^{L-1}_{pj}}
 = \sum_{c=1}^C\sum_{s=1}^K
   \underbrace{\frac{\partial\ell}{\partial\hat y_{cs}}}_{\text{loss}}\,
   \underbrace{\frac{\partial\hat y_{cs}}{\partial o^L_{c}}}_{\sigma(o^L_c)(1-\sigma(o^L_c))}\,
   \underbrace{\frac{\partial o^L_c}{\partial a^{L-1}_j}}_{w^L_{jc}}\,
   \underbrace{\frac{\partial a^{L-1}_j}{\partial o^{L-1}_j}}_{\sigma(o^{L-1}_j)(1-\sigma(o^{L-1}_j))}\,
   \underbrace{\frac{\partial o^{L-1}_j}{\partial w^{L-1}_{pj}}}_{a^{L-2}_p}$$
(every $o$, $a$ evaluated at example $s$). This is the second slide's line
— **holds**. Against it:

* **Erratum (first "How to derive" line).** The factors are ordered
  $\frac{\partial o^L_c}{\partial o^{L-1}_j}\frac{\partial o^{L-1}_j}{\partial a^{L-1}_j}\frac{\partial a^{L-1}_j}{\partial w^{L-1}_{pj}}$:
  $o$ and $a$ are swapped. As local derivatives of the graph's assignments
  each of these is $0$ ($o^L$ is computed from $a^{L-1}$, not from $o^{L-1}$;
  $o^{L-1}$ from $a^{L-2}$, not from $a^{L-1}$; $a^{L-1}$ from $o^{L-1}$, not
  from $w$), so the product is $0$. (Read as total derivatives it only works by
  detouring through the inverse of $\sigma$, $\partial o/\partial a = 1/\sigma'(o)$,
  which is not what the slide means.) The next slide corrects the order.
* **Convention.** $\partial\ell/\partial\hat y_{cs} = {?}$ depends on $\ell$:
  $\hat y - y$ for $\ell = \tfrac12(\hat y - y)^2$; $(\hat y - y)/(\hat y(1 - \hat y))$
  for binary cross-entropy; $-y/\hat y$ for categorical cross-entropy
  (``losses.output_gradient``, which also carries the $1/K$).
* **Holds.** $\partial\hat y_{cs}/\partial o^L_c = \sigma(o^L_c)(1 - \sigma(o^L_c))$
  and $\partial a^{L-1}_j/\partial o^{L-1}_j = \sigma(o^{L-1}_j)(1 - \sigma(o^{L-1}_j))$
  (sigmoid units; a softmax output would couple all $c$).
* **Erratum (index).** $\frac{\partial o^L_c}{\partial a^{L-1}_j}
  = \frac{\partial\sum_l w^L_{lc}a^{L-1}_l}{\partial a^{L-1}_j} = w^L_{jk}$ must
  end in $w^L_{jc}$: only the $l = j$ term depends on $a^{L-1}_j$ and it carries
  the output index $c$; $k$ is not bound anywhere (it is the example index of
  $J$). The summation letter $l$ also collides with the layer index.
* **Holds.** $\partial o^{L-1}_j/\partial w^{L-1}_{pj} = a^{L-2}_p$, and the
  sum over $c$ is needed: dropping it keeps only one output's share.

## Theorem (the δ recursion, any depth)

Let $\delta^l_{sj} = \partial J/\partial o^l_{sj}$. Then
$$\delta^L_s = \frac{\partial J}{\partial\hat y_s}\odot f_L'(o^L_s)
   \quad(\text{softmax: } J_{\mathrm{softmax}}(\hat y_s)\,\tfrac{\partial J}{\partial \hat y_s}),$$
$$\delta^l_{sj} = f_l'(o^l_{sj})\sum_c w^{l+1}_{jc}\,\delta^{l+1}_{sc}\quad(l = L-1, \dots, 1),
\qquad \frac{\partial J}{\partial w^l_{pj}} = \sum_s a^{l-1}_{sp}\,\delta^l_{sj},
\qquad \frac{\partial J}{\partial b^l_j} = \sum_s \delta^l_{sj}.$$
In matrix form $\delta^l = (\delta^{l+1}W^{l+1\top})\odot f_l'(o^l)$ and
$\nabla_{W^l}J = a^{l-1\top}\delta^l$.

*Proof* by backward induction on $l$. *Base* $l = L$: $J$ depends on $o^L_s$
only through $\hat y_s = f_L(o^L_s)$, so the chain rule gives $\delta^L$ as
stated. *Step* $l + 1 \to l$: $J$ depends on $o^l_{sj}$ only through
$a^l_{sj} = f_l(o^l_{sj})$, and on $a^l_{sj}$ only through the next layer's
$o^{l+1}_{sc} = \sum_{j'} w^{l+1}_{j'c}a^l_{sj'} + b^{l+1}_c$, $c = 1..n_{l+1}$,
whose partial in $a^l_{sj}$ is $w^{l+1}_{jc}$. Hence
$\delta^l_{sj} = \sum_c \delta^{l+1}_{sc}\,w^{l+1}_{jc}\,f_l'(o^l_{sj})$, with
$\delta^{l+1}$ known by the induction hypothesis. *Weights*: $w^l_{pj}$ enters
$J$ only through $o^l_{sj}$, $s = 1..K$, with $\partial o^l_{sj}/\partial w^l_{pj} = a^{l-1}_{sp}$,
and through nothing else; summing over $s$ gives $\nabla_{W^l}J$; for $b^l_j$
the partial is $1$. $\square$

For $l = L-1$ and sigmoid units, expanding $\delta^{L-1}$ once recovers exactly
the five factors above summed over $c$ and $s$ (times $1/K$). The library's
``backward`` is this recursion, one factor per line; it is checked here against
``jax.grad`` of an objective written independently in this file, in float64,
for several depths, activations and losses, and against central differences.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from functional_nn import activations as act
from functional_nn import losses
from functional_nn._x64 import float64_mode
from functional_nn.backprop import backward
from functional_nn.network import MLP
from proofs._errata import Erratum, assert_decided
from proofs._numerics import central_difference, jitted_value_and_grad, random_params

# The slides' network: L = 3 sigmoid layers, C = 3 outputs, a batch of K = 4.
NET = MLP((3, 4, 5, 3), activation="sigmoid", output_activation="sigmoid")
K = 4


def _setup():
    rng = np.random.default_rng(21)
    x = jnp.asarray(rng.standard_normal((K, 3)))
    y = jnp.asarray(rng.uniform(0, 1, (K, 3)))
    params = random_params(NET.layer_sizes, seed=22)
    return params, x, y


def _slide_factors(params, x, y):
    """The five factors for every (s, c, p, j) of layer L−1 = 2, mse loss without 1/K."""
    trace = NET.forward(params, x)
    o_out, o_hid = trace.pre_activations[2], trace.pre_activations[1]
    a_hid_in, y_hat = trace.activations[1], trace.activations[3]
    dl_dyhat = y_hat - y  # (s, c)  ∂ℓ/∂ŷ_cs for ℓ = ½ (ŷ − y)²
    dyhat_do = act.sigmoid_derivative(o_out)  # (s, c)  σ(o_c^L)(1 − σ(o_c^L))
    do_da = params[2].w.T  # (c, j)  ∂o_c^L/∂a_j^{L−1} = w_jc^L
    da_do = act.sigmoid_derivative(o_hid)  # (s, j)  σ(o_j^{L−1})(1 − σ(o_j^{L−1}))
    do_dw = a_hid_in  # (s, p)  ∂o_j^{L−1}/∂w_pj^{L−1} = a_p^{L−2}
    return dl_dyhat, dyhat_do, do_da, da_do, do_dw


@jax.jit  # everything the slide tests look at, in one compilation
def _slide_quantities(params, x, y):
    value, grads, deltas = backward(NET, "mse", params, x, y)
    trace = NET.forward(params, x)
    factors = _slide_factors(params, x, y)
    terms = jnp.einsum("sc,sc,cj,sj,sp->scpj", *factors)  # the product for every (s, c, p, j)

    def summed(p):  # Σ_s Σ_c ½ (ŷ_cs − y_cs)², the quantity the slides differentiate (no 1/K)
        return jnp.sum(0.5 * (NET.apply(p, x) - y) ** 2)

    last = MLP(NET.layer_sizes[-2:], output_activation="sigmoid")  # the library's layer L alone
    hidden = MLP(
        NET.layer_sizes[1:3], output_activation="sigmoid"
    )  # the library's layer L − 1 alone
    a_prev, a_in = trace.activations[2][0], trace.activations[1][0]  # example 0
    o_out, o_hid = trace.pre_activations[2][0], trace.pre_activations[1][0]
    return {
        "value": value,
        "grads": grads,
        "deltas": deltas,
        "factors": factors,
        "five_factor_sum": terms.sum(axis=(0, 1)),  # Σ_c Σ_s, (n_{L−2}, n_{L−1})
        "one_output_sum": terms[:, 0].sum(axis=0),  # Σ_s for c = 1 only
        "grad_summed": jax.grad(summed)(params),
        "sigmoid_jacobians": (jax.jacobian(act.sigmoid)(o_out), jax.jacobian(act.sigmoid)(o_hid)),
        "sigmoid_derivatives": (act.sigmoid_derivative(o_out), act.sigmoid_derivative(o_hid)),
        "o": (o_out, o_hid),
        "a_in": a_in,
        "do_da": jax.jacobian(lambda a: last.logits(params[2:], a[None])[0])(a_prev),  # [c, j]
        "do_dw": jax.jacobian(lambda w: hidden.logits((params[1]._replace(w=w),), a_in[None])[0])(
            params[1].w
        ),
    }


@functools.lru_cache(maxsize=1)
def _slide():
    """The slide quantities as numpy arrays (a pure function of fixed inputs, computed once)."""
    with float64_mode():
        params, x, y = _setup()
        out = jax.tree.map(np.asarray, _slide_quantities(params, x, y))
    return out, jax.tree.map(np.asarray, params)


# The graph's assignments, one symbol per node (two inputs p, q, one hidden unit j, one output c).
_a_p, _a_q, _w_pj, _w_qj, _w_jc, _b_j, _b_c = sp.symbols(
    "a_p a_q w_pj w_qj w_jc b_j b_c", real=True
)
_o_hid, _a_hid = sp.symbols("o_hid a_hid", real=True)
_sigma = sp.Function("sigma")
NODES = {"o_hid": _o_hid, "a_hid": _a_hid, "w_pj": _w_pj}
ASSIGN = {
    "o_hid": _w_pj * _a_p + _w_qj * _a_q + _b_j,  # o_j^{L−1} := Σ_p w_pj a_p^{L−2} + b
    "a_hid": _sigma(_o_hid),  # a_j^{L−1} := σ(o_j^{L−1})
    "o_out": _w_jc * _a_hid + _b_c,  # o_c^L := Σ_l w_lc a_l^{L−1} + b
}
_COMPOSED = ASSIGN["o_out"].subs(_a_hid, _sigma(ASSIGN["o_hid"]))
TRUTH = sp.diff(_COMPOSED, _w_pj).doit()  # ∂o_c^L/∂w_pj^{L−1} of the composed function


def local_chain(factors) -> sp.Expr:
    """The product of local partial derivatives ``∂ num / ∂ den`` (each node's own assignment), at the forward values."""
    product = sp.Integer(1)
    for numerator, denominator in factors:
        product *= sp.diff(ASSIGN[numerator], NODES[denominator])
    return product.subs(_o_hid, ASSIGN["o_hid"]).doit()


def chain_holds(factors) -> bool:
    """Does the chain ``∂o_c^L/∂· · ∂·/∂· · ∂·/∂w_pj^{L−1}`` of local derivatives give the true derivative?"""
    return sp.simplify(local_chain(factors) - TRUTH) == 0


ERRATA = (
    Erratum(
        "chain-first",
        chain_holds,
        as_written=(("o_out", "o_hid"), ("o_hid", "a_hid"), ("a_hid", "w_pj")),
        corrected=(("o_out", "a_hid"), ("a_hid", "o_hid"), ("o_hid", "w_pj")),
    ),
)
(CHAIN_FIRST,) = ERRATA


def test_first_chain_rule_line_mixes_o_and_a():
    """Erratum: ∂o_c^L/∂o_j^{L−1} · ∂o_j^{L−1}/∂a_j^{L−1} · ∂a_j^{L−1}/∂w_pj^{L−1} is 0 as local derivatives."""
    assert TRUTH != 0
    assert_decided(CHAIN_FIRST)
    assert (
        local_chain(CHAIN_FIRST.as_written) == 0
    )  # each swapped factor is 0: no direct edge in the graph
    # Under total derivatives the swapped line is not zero: d o_c/d o_j = w_jc σ'(o_j) and d a_j/d w_pj =
    # σ'(o_j) a_p, while o_j is upstream of a_j, so d o_j/d a_j exists only through the inverse σ⁻¹: 1/σ'(o_j).
    # Read that way the product telescopes to the true derivative — for an invertible σ only.
    o = sp.symbols("o", real=True)
    logistic = 1 / (1 + sp.exp(-o))
    d_sigma = sp.diff(logistic, o)
    total_out_hid = _w_jc * d_sigma
    total_a_w = d_sigma * _a_p
    inverse = 1 / d_sigma  # d(σ⁻¹(a))/da at a = σ(o)
    truth_logistic = sp.diff(_w_jc * logistic.subs(o, ASSIGN["o_hid"]) + _b_c, _w_pj)
    total_reading = (total_out_hid * inverse * total_a_w).subs(o, ASSIGN["o_hid"])
    assert sp.simplify(sp.expand((total_reading - truth_logistic).rewrite(sp.exp))) == 0
    # ReLU is constant for o < 0: no inverse, so the total-derivative reading has no value there.
    assert sp.diff(sp.Max(0, o), o).subs(o, -1) == 0
    # Numerically on the slides' network: the corrected order, summed over c and s, is K ∂J/∂w^{L−1}.
    out, _ = _slide()
    assert np.max(np.abs(out["grads"][1].w)) > 1e-3
    np.testing.assert_allclose(out["five_factor_sum"], K * out["grads"][1].w, rtol=1e-12)


def test_second_chain_rule_line_is_the_gradient_of_the_summed_loss():
    out, _ = _slide()
    np.testing.assert_allclose(out["five_factor_sum"], out["grad_summed"][1].w, rtol=1e-12)


@jax.jit
def _output_gradients(y_hat, y_prob, y_soft):
    ells = {
        "mse": (lambda yh: 0.5 * (yh - y_prob) ** 2, y_prob),
        "binary_cross_entropy": (
            lambda yh: -y_prob * jnp.log(yh) - (1 - y_prob) * jnp.log(1 - yh),
            y_prob,
        ),
        "categorical_cross_entropy": (lambda yh: -y_soft * jnp.log(yh), y_soft),
    }
    return {
        name: (
            losses.output_gradient(name, y_hat, y),
            jax.grad(lambda yh, ell=ell: jnp.sum(ell(yh)) / K)(y_hat),
        )
        for name, (ell, y) in ells.items()
    }


def test_loss_derivative_left_open_depends_on_the_loss():
    """Convention: the slide's ∂ℓ/∂ŷ = ? is ŷ − y, (ŷ − y)/(ŷ(1 − ŷ)) or −y/ŷ (with the batch factor 1/K)."""
    rng = np.random.default_rng(4)
    y_hat = rng.uniform(0.05, 0.95, (K, 3))
    y_soft = np.eye(3)[rng.integers(0, 3, K)]
    y_prob = rng.uniform(0, 1, (K, 3))
    closed_forms = {
        "mse": y_hat - y_prob,
        "binary_cross_entropy": (y_hat - y_prob) / (y_hat * (1 - y_hat)),
        "categorical_cross_entropy": -y_soft / y_hat,
    }
    with float64_mode():
        results = _output_gradients(jnp.asarray(y_hat), jnp.asarray(y_prob), jnp.asarray(y_soft))
    for name, (library, autodiff) in results.items():
        np.testing.assert_allclose(library, autodiff, rtol=1e-13)
        np.testing.assert_allclose(closed_forms[name] / K, autodiff, rtol=1e-13)


def test_sigmoid_factors_of_the_backward_pass():
    """∂ŷ_c/∂o_c^L and ∂a_j^{L−1}/∂o_j^{L−1} are σ(o)(1 − σ(o)); the output Jacobian is diagonal."""
    out, _ = _slide()
    for o, jac, derivative in zip(out["o"], out["sigmoid_jacobians"], out["sigmoid_derivatives"]):
        s = 1 / (1 + np.exp(-o))
        np.testing.assert_allclose(jac, np.diag(s * (1 - s)), rtol=1e-13, atol=0)
        np.testing.assert_allclose(derivative, s * (1 - s), rtol=1e-13)


def output_weight_holds(claimed) -> bool:
    """Is ``claimed(j, c, k) -> (row, column)`` the entry of W^L that equals ∂o_c^L/∂a_j^{L−1}, for every j, c

    and every value of a free index k (the slide's ``w_jk^L`` leaves k unbound)?
    """
    out, params = _slide()
    jac, w = out["do_da"], params[2].w  # jac[c, j], w[j, c]
    n_hid, n_out = w.shape
    return all(
        abs(jac[c, j] - w[claimed(j, c, k)]) < 1e-14
        for c in range(n_out)
        for j in range(n_hid)
        for k in range(n_out)
    )


ERRATA += (
    Erratum(
        "do-da",
        output_weight_holds,
        as_written=lambda j, c, k: (j, k),
        corrected=lambda j, c, k: (j, c),
    ),
)
DO_DA = ERRATA[-1]


def test_output_preactivation_derivative_is_w_jc_not_w_jk():
    """Erratum (index): ∂o_c^L/∂a_j^{L−1} = w_jc^L; the slide's w_jk^L has an unbound k."""
    assert_decided(DO_DA)


def test_hidden_preactivation_derivative_is_a_p():
    out, params = _slide()
    jac, a_in = out["do_dw"], out["a_in"]  # jac[j, p, j'] = ∂o_j/∂w_pj'
    n_in, n_out = params[1].w.shape
    for j in range(n_out):
        for p in range(n_in):
            for j2 in range(n_out):
                assert jac[j, p, j2] == (a_in[p] if j2 == j else 0.0)


def test_sum_over_outputs_is_needed():
    out, _ = _slide()
    np.testing.assert_allclose(out["five_factor_sum"] / K, out["grads"][1].w, rtol=1e-12)
    assert not np.allclose(out["one_output_sum"] / K, out["grads"][1].w, rtol=1e-3)


def test_five_factors_equal_the_delta_recursion():
    out, _ = _slide()
    grads, deltas = out["grads"], out["deltas"]
    dl, dy, w_jc, da, a_p = out["factors"]
    delta_out = dl * dy / K  # δ^L = ∂J/∂o^L, with the 1/K
    np.testing.assert_allclose(deltas[2], delta_out, rtol=1e-13)
    delta_hidden = (delta_out @ w_jc) * da  # δ^{L−1} = (δ^L W^{Lᵀ}) ⊙ σ'(o^{L−1})
    np.testing.assert_allclose(deltas[1], delta_hidden, rtol=1e-13)
    np.testing.assert_allclose(grads[1].w, a_p.T @ delta_hidden, rtol=1e-13)
    np.testing.assert_allclose(grads[1].b, delta_hidden.sum(axis=0), rtol=1e-13)


def test_gradient_step_lowers_the_loss():
    """The update w^{t+1} = w^t − α ∂J/∂w: for a small α the loss drops by about α ‖∇J‖²."""
    with float64_mode():
        params, x, y = _setup()
        f = jitted_value_and_grad(NET, "mse")
        value, grads = f(params, x, y)
        alpha = 1e-3
        stepped = tuple(  # the step in numpy: nothing to compile
            layer._replace(
                w=jnp.asarray(np.asarray(layer.w) - alpha * np.asarray(g.w)),
                b=jnp.asarray(np.asarray(layer.b) - alpha * np.asarray(g.b)),
            )
            for layer, g in zip(params, grads)
        )
        new_value, _ = f(stepped, x, y)
    squared_norm = sum(float(np.sum(np.asarray(g) ** 2)) for g in jax.tree.leaves(grads))
    assert float(new_value) < float(value)
    # First-order prediction J(w − α g) ≈ J(w) − α ‖g‖², to O(α²).
    assert (
        abs((float(value) - float(new_value)) - alpha * squared_norm) < 1e-2 * alpha * squared_norm
    )


# --- the general theorem, checked on random networks -----------------------------------------------

_ORACLE_ACTIVATIONS = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "leaky_relu": lambda o: jax.nn.leaky_relu(o, 0.01),
    "linear": lambda o: o,
    "softmax": lambda o: jax.nn.softmax(o, axis=-1),
}
_ORACLE_LOSSES = {
    "mse": lambda y_hat, y: 0.5 * (y_hat - y) ** 2,
    "binary_cross_entropy": lambda y_hat, y: -y * jnp.log(y_hat) - (1 - y) * jnp.log(1 - y_hat),
    "categorical_cross_entropy": lambda y_hat, y: -y * jnp.log(y_hat),
}
# (layer sizes, hidden activation(s), output activation, loss): depths 1 to 4, every activation and loss
# (depth 3 with sigmoid units and mse is NET, checked above).
CONFIGS = (
    ((3, 2), "sigmoid", "sigmoid", "binary_cross_entropy"),
    ((2, 5, 4, 3), ("tanh", "relu"), "softmax", "categorical_cross_entropy"),
    ((4, 3, 3, 3, 2), ("leaky_relu", "sigmoid", "tanh"), "linear", "mse"),
    ((2, 3, 3), "relu", "softmax", "mse"),
)


def _oracle(names, loss):
    """J(params, x, y, eps) written from the definitions, with perturbations eps_l added to each o^l."""
    fns = [_ORACLE_ACTIVATIONS[n] for n in names]

    def J(params, x, y, eps):
        a = x
        for layer, f, e in zip(params, fns, eps):
            a = f(a @ layer.w + layer.b + e)
        return jnp.sum(_ORACLE_LOSSES[loss](a, y)) / x.shape[0]

    return J


def _random_batch(config, seed):
    sizes, _, _, loss = config
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal((K, sizes[0])))
    if loss == "categorical_cross_entropy":
        y = jnp.asarray(np.eye(sizes[-1])[rng.integers(0, sizes[-1], K)])
    else:
        y = jnp.asarray(rng.uniform(0, 1, (K, sizes[-1])))
    return x, y


NETS = tuple(
    MLP(sizes, activation=hidden, output_activation=output) for sizes, hidden, output, _ in CONFIGS
)


@jax.jit  # all networks in one compilation (one per primitive would cost far more)
def _both_engines(inputs):
    out = []
    for net, (*_, loss), (params, x, y, eps) in zip(NETS, CONFIGS, inputs):
        J = _oracle(net.activation_names, loss)
        out.append(
            (
                backward(net, loss, params, x, y),
                jax.value_and_grad(J, argnums=(0, 3))(params, x, y, eps),
            )
        )
    return out


def test_delta_recursion_any_depth_matches_autodiff():
    """The theorem: backward's δ^l and ∂J/∂w^l, ∂J/∂b^l equal jax.grad of an independent objective."""
    with float64_mode():
        inputs = []
        for i, config in enumerate(CONFIGS):
            params = random_params(config[0], seed=100 + i, scale=0.8)
            x, y = _random_batch(config, 200 + i)
            eps = tuple(
                jnp.asarray(np.zeros((K, n))) for n in config[0][1:]
            )  # perturbations of each o^l
            inputs.append((params, x, y, eps))
        results = jax.tree.map(np.asarray, _both_engines(inputs))
    for config, ((value, grads, deltas), (ref_value, (ref_grads, ref_deltas))) in zip(
        CONFIGS, results
    ):
        assert abs(float(value) - float(ref_value)) < 1e-13, config
        for mine, ref in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
            np.testing.assert_allclose(mine, ref, rtol=1e-11, atol=1e-14, err_msg=str(config))
        assert len(deltas) == len(config[0]) - 1
        for mine, ref in zip(deltas, ref_deltas):
            np.testing.assert_allclose(mine, ref, rtol=1e-11, atol=1e-14, err_msg=str(config))


def test_delta_recursion_matches_finite_differences():
    with float64_mode():
        config = CONFIGS[2]  # depth 4, leaky ReLU, sigmoid and tanh layers
        sizes, hidden, output, loss = config
        net = MLP(sizes, activation=hidden, output_activation=output)
        params = random_params(sizes, seed=7, scale=0.8)
        x, y = _random_batch(config, 8)
        f = jitted_value_and_grad(net, loss)
        _, grads = f(params, x, y)
        for l in (0, len(sizes) - 2):  # first and last layer

            def J_of_w(w, l=l):
                p = tuple(
                    layer._replace(w=jnp.asarray(w)) if i == l else layer
                    for i, layer in enumerate(params)
                )
                return f(p, x, y)[0]

            fd = central_difference(J_of_w, params[l].w)
            np.testing.assert_allclose(grads[l].w, fd, rtol=1e-7, atol=1e-9)
