r"""The Hessian-vector product by the R-operator, the Gauss–Newton product, per-example gradients.

Library: :func:`functional_nn.second_order.hvp`, ``gauss_newton_vp``,
``second_derivative``, :func:`functional_nn.backprop.per_example_backward`.

## The R-operator

For a direction $v$ in parameter space let $\mathcal R\{g\} = \frac{d}{d\varepsilon} g(\theta + \varepsilon v)\big|_{\varepsilon=0}$
(Pearlmutter 1994). $\mathcal R$ is linear and obeys the product and chain rules,
$\mathcal R\{\theta\} = v$, and $\mathcal R\{\nabla J\} = H v$ because
$\nabla J(\theta + \varepsilon v) = \nabla J(\theta) + \varepsilon H v + O(\varepsilon^2)$.
So applying $\mathcal R$ to every line of the forward pass and of the δ recursion
(``proof_backprop.py``) gives $Hv$ at the cost of about two gradients. Write
$V^l, c^l$ for $v$'s parts of $w^l, b^l$.

*Forward.* $a^0 = x$ does not depend on $\theta$: $\mathcal R\{a^0\} = 0$. From
$o^l = a^{l-1}w^l + b^l$ and $a^l = f_l(o^l)$:
$$\mathcal R\{o^l\} = \mathcal R\{a^{l-1}\}w^l + a^{l-1}V^l + c^l,\qquad \mathcal R\{a^l\} = f_l'(o^l)\odot\mathcal R\{o^l\}.$$
*Backward.* From $\delta^l = (\delta^{l+1}w^{l+1\top})\odot f_l'(o^l)$, the product rule on both factors:
$$\mathcal R\{\delta^l\} = (\mathcal R\{\delta^{l+1}\}w^{l+1\top} + \delta^{l+1}V^{l+1\top})\odot f_l'(o^l)
 + (\delta^{l+1}w^{l+1\top})\odot f_l''(o^l)\odot\mathcal R\{o^l\}.$$
*Head.* sigmoid + BCE and softmax + CCE: $\delta^L = \omega(\hat y - y)$, so $\mathcal R\{\delta^L\} = \omega\mathcal R\{\hat y\}$.
mse: $\delta^L = \omega(\hat y - y)\odot f_L'(o^L)$, so
$\mathcal R\{\delta^L\} = \omega(\mathcal R\{\hat y\}\odot f_L' + (\hat y - y)\odot f_L''\odot\mathcal R\{o^L\})$.
For a softmax unit $s$ the factor $f'$ is the map $g \mapsto s\odot(g - \langle g, s\rangle)$, and
$\mathcal R\{s\odot(g - \langle g,s\rangle)\} = \mathcal R\{s\}\odot(g - \langle g,s\rangle) + s\odot(\mathcal R\{g\} - \langle\mathcal R\{g\},s\rangle - \langle g,\mathcal R\{s\}\rangle)$.
*Gradients.* $\nabla_{w^l}J = a^{l-1\top}\delta^l$ and $\nabla_{b^l}J = \sum_k\delta^l_k$ give
$$(Hv)_{w^l} = \mathcal R\{a^{l-1}\}^\top\delta^l + a^{l-1\top}\mathcal R\{\delta^l\},\qquad (Hv)_{b^l} = \textstyle\sum_k\mathcal R\{\delta^l_k\}.\quad\square$$
The second derivatives: $\sigma'' = \sigma'(1 - 2\sigma)$, $\tanh'' = -2\tanh(1 - \tanh^2)$, and $0$ for linear and (away from 0) relu / leaky relu.

## Gauss–Newton

Split $J = \ell\circ F$ where $\ell$ is convex: $F = \hat y$ for mse ($H_\ell = \omega I$), $F = o^L$ for the matching
cross-entropy heads ($H_\ell = \omega\,\partial\hat y/\partial o^L$). Then $\nabla^2 J = J_F^\top H_\ell J_F + \sum_i (\partial\ell/\partial F_i)\nabla^2F_i$
and $G = J_F^\top H_\ell J_F$ drops the second term. $J_F v = \mathcal R\{F\}$ is the forward R-pass; $J_F^\top u$ is
the δ recursion started from $u$ in place of $\delta^L$.

## Per-example gradients

$\delta^l$ carries $\omega_k = 1/K$ in row $k$, and row $k$ of the recursion involves example $k$ only, so
$\delta^l_k/\omega_k = \partial\ell_k/\partial o^l_k$ and $\nabla_{w^l}\ell_k = a^{l-1}_k\otimes\delta^l_k/\omega_k$,
$\nabla_{b^l}\ell_k = \delta^l_k/\omega_k$; summing $\omega_k\nabla\ell_k$ over $k$ gives $a^{l-1\top}\delta^l = \nabla_{w^l}J$.
"""

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from functional_nn import activations, losses
from functional_nn._x64 import float64_mode
from functional_nn.backprop import per_example_backward
from functional_nn.network import MLP
from functional_nn.second_order import gauss_newton_vp, hvp, second_derivative
from proofs._numerics import random_params


def test_the_r_operator_of_a_two_layer_chain_is_the_directional_derivative_of_the_gradient():
    # one unit per layer, sigmoid hidden, mse head: the R-pass lines above, symbolically
    w1, b1, w2, b2, v1, c1, v2, c2, x, y, eps = sp.symbols("w1 b1 w2 b2 v1 c1 v2 c2 x y epsilon")
    sig = lambda t: 1 / (1 + sp.exp(-t))
    J = lambda W1, B1, W2, B2: sp.Rational(1, 2) * (W2 * sig(W1 * x + B1) + B2 - y) ** 2
    theta = (w1, b1, w2, b2)
    grad = [sp.diff(J(*theta), t) for t in theta]
    along = {w1: w1 + eps * v1, b1: b1 + eps * c1, w2: w2 + eps * v2, b2: b2 + eps * c2}
    Hv_true = [sp.diff(g.subs(along, simultaneous=True), eps).subs(eps, 0) for g in grad]
    o1 = w1 * x + b1
    a1 = sig(o1)
    d1s = a1 * (1 - a1)  # σ'
    d2s = d1s * (1 - 2 * a1)  # σ''
    o2 = w2 * a1 + b2
    Ro1 = v1 * x + c1
    Ra1 = d1s * Ro1
    Ro2 = Ra1 * w2 + a1 * v2 + c2
    delta2, R_delta2 = o2 - y, Ro2  # linear head, ω = 1
    delta1 = delta2 * w2 * d1s
    R_delta1 = (R_delta2 * w2 + delta2 * v2) * d1s + delta2 * w2 * d2s * Ro1
    Hv_r = [x * R_delta1, R_delta1, Ra1 * delta2 + a1 * R_delta2, R_delta2]
    point = {
        w1: 0.3,
        b1: -0.2,
        w2: 1.1,
        b2: 0.4,
        v1: 0.7,
        c1: -1.3,
        v2: 0.5,
        c2: 0.9,
        x: 1.7,
        y: 0.2,
    }
    for a, b in zip(Hv_true, Hv_r):
        assert abs(float((a - b).subs(point))) < 1e-12
        assert sp.simplify(a - b) == 0
    # The forward-mode pass differentiates the backward pass: its δ's give the gradient itself.
    grad_backprop = [x * delta1, delta1, a1 * delta2, delta2]
    for a, b in zip(grad, grad_backprop):
        assert sp.simplify(a - b) == 0


def test_second_derivatives_match_autodiff():
    with float64_mode():
        o = jnp.linspace(-4, 4, 33)
        for name in ("sigmoid", "tanh", "linear", "relu", "leaky_relu"):
            act = activations.get_activation(name)
            d2 = jax.vmap(jax.grad(jax.grad(act.fn)))(o + 1e-3)  # off the kink
            np.testing.assert_allclose(second_derivative(act, o + 1e-3), d2, atol=1e-13)


def test_hvp_gauss_newton_and_per_example_against_an_independent_objective():
    net = MLP((3, 4, 2), activation="tanh", output_activation="softmax")
    with float64_mode():
        params, v = random_params(net.layer_sizes, seed=1), random_params(net.layer_sizes, seed=2)
        rng = np.random.default_rng(3)
        x = jnp.asarray(rng.standard_normal((5, 3)))
        y = jnp.asarray(np.eye(2)[rng.integers(0, 2, 5)])

        def J(p):  # written here, not with the library's forward pass
            h = jnp.tanh(x @ p[0].w + p[0].b)
            return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(h @ p[1].w + p[1].b), axis=1))

        expected = jax.jvp(jax.grad(J), (params,), (v,))[1]
        got = hvp(net, "categorical_cross_entropy", params, x, y, v)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
        gv = gauss_newton_vp(net, "categorical_cross_entropy", params, x, y, v)
        quad = sum(float(jnp.vdot(a, b)) for a, b in zip(jax.tree.leaves(v), jax.tree.leaves(gv)))
        assert quad >= 0  # G = J_Fᵀ H_ℓ J_F with H_ℓ ⪰ 0
        _, per = per_example_backward(net, "categorical_cross_entropy", params, x, y)
        batch = jax.grad(J)(params)
        for a, b in zip(jax.tree.leaves(per), jax.tree.leaves(batch)):
            np.testing.assert_allclose(jnp.mean(a, axis=0), b, rtol=1e-12, atol=1e-15)
        assert losses.example_weights(None, 5, jnp.float64)[0] == 0.2
