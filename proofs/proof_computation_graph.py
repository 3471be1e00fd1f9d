r"""The computation-graph example: $u = w_1x$, $\hat y = w_0 + u$, $z = \hat y - y$, $\mathcal{L} = z^2$.

Lecture section **Gradient based learning → computation graph** (credited to
A. Geiger). Library: :func:`functional_nn.graph.build_graph` (forward value and
backward value $\partial\mathcal{L}/\partial\text{node}$ on every node), and
:func:`functional_nn.losses.mse` for the loss it stands for.

## Setup

Input nodes $x, y$; parameter nodes $w_0, w_1$; compute nodes
$$u = w_1 x,\qquad \hat y = w_0 + u,\qquad z = \hat y - y,\qquad \mathcal{L} = z^2 .$$
The slide shows the same function three ways — four assignments; $\hat y = w_0 + w_1x$,
$z = \hat y - y$, $\mathcal L = z^2$; and $\hat y = w_0 + w_1 x$,
$\mathcal L = (\hat y - y)^2$ — merging nodes changes the graph, not the
function or its gradient. **Holds.**

## Backward values by hand (reverse order, one local derivative per edge)

$$\frac{\partial\mathcal L}{\partial z} = 2z,\quad
  \frac{\partial\mathcal L}{\partial \hat y} = \frac{\partial\mathcal L}{\partial z}\cdot 1 = 2z,\quad
  \frac{\partial\mathcal L}{\partial w_0} = \frac{\partial\mathcal L}{\partial \hat y}\cdot 1 = 2z,\quad
  \frac{\partial\mathcal L}{\partial u} = 2z,$$
$$\frac{\partial\mathcal L}{\partial w_1} = \frac{\partial\mathcal L}{\partial u}\cdot x = 2zx,\qquad
  \frac{\partial\mathcal L}{\partial x} = 2z w_1,\qquad
  \frac{\partial\mathcal L}{\partial y} = -2z .$$

## Worked numbers (exact)

$x = 2$, $y = 1$, $w_0 = \tfrac12$, $w_1 = 3$: $u = 6$, $\hat y = \tfrac{13}{2}$,
$z = \tfrac{11}{2}$, $\mathcal L = \tfrac{121}{4}$; backward $2z = 11$ on
$z, \hat y, u, w_0$; $22$ on $w_1$; $33$ on $x$; $-11$ on $y$. All are dyadic
rationals, so float64 must reproduce them exactly.

## Convention

$\mathcal L = z^2$ has no $\tfrac12$, unlike the lecture's $J$ and the library's
``mse`` ($\ell = \tfrac12(\hat y - y)^2$): $\mathcal L = 2\,\ell$ and every
gradient above is twice the library's.
"""

from __future__ import annotations

from fractions import Fraction

import jax
import jax.numpy as jnp
import sympy as sp

from functional_nn import losses
from functional_nn._x64 import float64_mode
from functional_nn.graph import build_graph

X, Y, W0, W1 = Fraction(2), Fraction(1), Fraction(1, 2), Fraction(3)


def _hand_forward_backward():
    u = W1 * X
    y_hat = W0 + u
    z = y_hat - Y
    L = z * z
    dz = 2 * z  # ∂L/∂z
    dy_hat = dz * 1  # ∂z/∂ŷ = 1
    du = dy_hat * 1  # ∂ŷ/∂u = 1
    dw0 = dy_hat * 1  # ∂ŷ/∂w0 = 1
    dw1 = du * X  # ∂u/∂w1 = x
    dx = du * W1  # ∂u/∂x = w1
    dy = dz * -1  # ∂z/∂y = −1
    values = {"u": u, "y_hat": y_hat, "z": z, "L": L}
    grads = {
        "z": dz,
        "y_hat": dy_hat,
        "u": du,
        "w0": dw0,
        "w1": dw1,
        "x": dx,
        "y": dy,
        "L": Fraction(1),
    }
    return values, grads


def loss(x, y, w0, w1):
    u = w1 * x
    y_hat = w0 + u
    z = y_hat - y
    return z**2


def test_computation_graph_values_and_gradients():
    values, grads = _hand_forward_backward()
    assert values == {"u": 6, "y_hat": Fraction(13, 2), "z": Fraction(11, 2), "L": Fraction(121, 4)}
    assert (grads["w0"], grads["w1"], grads["x"], grads["y"]) == (11, 22, 33, -11)
    with float64_mode():
        args = [jnp.float64(float(v)) for v in (X, Y, W0, W1)]
        graph = build_graph(
            loss, *args, parameters=("w0", "w1"), compute_names=("u", "y_hat", "z", "L")
        )
        for name, value in values.items():
            assert float(graph.node(name).value) == float(value)
        for name, grad in grads.items():
            assert float(graph.node(name).grad) == float(grad)
        assert {graph.node(n).kind for n in ("x", "y")} == {"input"}
        assert {graph.node(n).kind for n in ("w0", "w1")} == {"parameter"}
        assert {graph.node(n).kind for n in ("u", "y_hat", "z", "L")} == {"compute"}
        autodiff = jax.grad(loss, argnums=(0, 1, 2, 3))(*args)
        assert [float(g) for g in autodiff] == [float(grads[k]) for k in ("x", "y", "w0", "w1")]
        # Convention: L = z² is twice the library's ½ (ŷ − y)² on one example.
        y_hat = jnp.asarray([[float(values["y_hat"])]])
        assert 2 * float(losses.mse(y_hat, jnp.asarray([[float(Y)]]))) == float(values["L"])


def test_three_graphs_of_the_example_are_one_function():
    x, y, w0, w1 = sp.symbols("x y w0 w1", real=True)
    u = w1 * x
    four_nodes = ((w0 + u) - y) ** 2
    y_hat = w0 + w1 * x
    three_nodes = (y_hat - y) ** 2
    two_nodes = (w0 + w1 * x - y) ** 2
    assert sp.expand(four_nodes - three_nodes) == 0 and sp.expand(three_nodes - two_nodes) == 0
    for v in (x, y, w0, w1):
        assert sp.expand(sp.diff(four_nodes, v) - sp.diff(two_nodes, v)) == 0
    assert sp.expand(sp.diff(two_nodes, w1) - 2 * (y_hat - y) * x) == 0
