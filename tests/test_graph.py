"""Computation graphs from jaxprs: the lecture's worked example by hand, and jax.grad as the oracle."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functional_nn import graph as G
from functional_nn._x64 import float64_mode
from functional_nn.network import MLP


def lecture_loss(x, y, w0, w1):
    u = w1 * x
    y_hat = w0 + u
    z = y_hat - y
    return z**2


def lecture_graph(x=2.0, y=1.0, w0=0.5, w1=3.0):
    return G.build_graph(
        lecture_loss, x, y, w0, w1, parameters=("w0", "w1"), compute_names=("u", "y_hat", "z", "L")
    )


def test_lecture_example_node_kinds_and_structure():
    g = lecture_graph()
    assert [n.name for n in g.of_kind("input")] == ["x", "y"]
    assert [n.name for n in g.of_kind("parameter")] == ["w0", "w1"]
    assert [n.name for n in g.of_kind("compute")] == ["u", "y_hat", "z", "L"]
    assert [g.node(n).op for n in ("u", "y_hat", "z", "L")] == ["mul", "add", "sub", "integer_pow"]
    assert g.of_kind("constant") == ()
    name = {n.index: n.name for n in g.nodes}
    edges = {(name[p], name[c]) for p, c in g.edges}
    assert edges == {
        ("w1", "u"),
        ("x", "u"),
        ("w0", "y_hat"),
        ("u", "y_hat"),
        ("y_hat", "z"),
        ("y", "z"),
        ("z", "L"),
    }
    assert [name[i] for i in g.outputs] == ["L"]


def test_lecture_example_values_and_gradients_by_hand():
    # x=2, y=1, w0=0.5, w1=3: u = 6, ŷ = 6.5, z = 5.5, L = 30.25
    # backward: ∂L/∂L = 1, ∂L/∂z = 2z = 11, ∂L/∂ŷ = ∂L/∂z · 1 = 11, ∂L/∂u = 11,
    #           ∂L/∂w0 = 11, ∂L/∂w1 = ∂L/∂u · x = 22, ∂L/∂x = ∂L/∂u · w1 = 33, ∂L/∂y = −11
    g = lecture_graph()
    forward = {
        "x": 2.0,
        "y": 1.0,
        "w0": 0.5,
        "w1": 3.0,
        "u": 6.0,
        "y_hat": 6.5,
        "z": 5.5,
        "L": 30.25,
    }
    backward = {
        "x": 33.0,
        "y": -11.0,
        "w0": 11.0,
        "w1": 22.0,
        "u": 11.0,
        "y_hat": 11.0,
        "z": 11.0,
        "L": 1.0,
    }
    for name in forward:
        assert float(g.node(name).value) == forward[name], name
        assert float(g.node(name).grad) == backward[name], name


@settings(max_examples=20, deadline=None)
@given(*(st.floats(-5, 5) for _ in range(4)))
def test_lecture_example_formulas_hold_everywhere(x, y, w0, w1):
    with float64_mode():
        g = lecture_graph(jnp.float64(x), jnp.float64(y), jnp.float64(w0), jnp.float64(w1))
    z = w0 + w1 * x - y
    np.testing.assert_allclose(float(g.node("L").value), z**2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(float(g.node("w0").grad), 2 * z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(float(g.node("w1").grad), 2 * z * x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(float(g.node("x").grad), 2 * z * w1, rtol=1e-12, atol=1e-12)


def test_reused_node_accumulates_both_paths():
    # f = x·x + 3x: x feeds mul twice and mul-by-3 once -> ∂f/∂x = 2x + 3
    g = G.build_graph(lambda x: x * x + 3.0 * x, 2.0)
    assert float(g.node("x").grad) == 7.0
    assert [n.name for n in g.of_kind("constant")] == ["3"]


def mlp_loss(params, x, y):
    net = MLP((3, 4, 2), activation="relu", output_activation="linear")
    h = jnp.clip(net.apply(params, x), -5.0, 5.0)  # clip is a jitted helper: inlined
    return jnp.sum((h - y) ** 2)


@pytest.mark.parametrize("inline", [True, False])
def test_parameter_and_input_grads_equal_jax_grad_for_a_network(getkey, inline):
    net = MLP((3, 4, 2), activation="relu", output_activation="linear")
    with float64_mode():
        params = net.init(getkey(), dtype=jnp.float64)
        x = jax.random.normal(getkey(), (5, 3), jnp.float64)
        y = jax.random.normal(getkey(), (5, 2), jnp.float64)
        g = G.build_graph(mlp_loss, params, x, y, parameters=("params",), inline=inline)
        gp, gx = jax.jit(jax.grad(mlp_loss, argnums=(0, 1)))(params, x, y)
        assert float(g.nodes[g.outputs[0]].value) == pytest.approx(
            float(mlp_loss(params, x, y)), rel=1e-12
        )
    names = [n.name for n in g.of_kind("parameter")]
    assert names == ["params[0].w", "params[0].b", "params[1].w", "params[1].b"]
    for l in range(2):
        np.testing.assert_allclose(g.node(f"params[{l}].w").grad, gp[l].w, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(g.node(f"params[{l}].b").grad, gp[l].b, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(g.node("x").grad, gx, rtol=1e-10, atol=1e-14)
    ops = {n.op for n in g.of_kind("compute")}
    assert ("jit" in ops) != inline  # inlined: no call nodes remain


def test_every_compute_node_grad_is_the_cotangent_of_the_output():
    # Perturb one intermediate: f(x) = sin(x)·exp(x); node s = sin(x) has ∂f/∂s = exp(x).
    g = G.build_graph(lambda x: jnp.sin(x) * jnp.exp(x), 0.7, compute_names=("s", "e", "f"))
    np.testing.assert_allclose(g.node("s").grad, np.exp(0.7), rtol=1e-6)
    np.testing.assert_allclose(g.node("e").grad, np.sin(0.7), rtol=1e-6)


def test_vector_output_needs_a_cotangent():
    f = lambda x: 2.0 * x
    with pytest.raises(ValueError, match="cotangent is required"):
        G.build_graph(f, jnp.ones(3))
    g = G.build_graph(f, jnp.ones(3), cotangent=jnp.array([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(g.node("x").grad, [2.0, 0.0, -2.0])
    with pytest.raises(ValueError, match="shape"):
        G.build_graph(f, jnp.ones(3), cotangent=jnp.ones(2))


def test_integer_nodes_have_no_grad():
    g = G.build_graph(lambda x, n: x * n.astype(jnp.float32), 1.5, jnp.int32(4))
    assert g.node("n").grad is None
    assert float(g.node("x").grad) == 4.0


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="not an argument"):
        G.build_graph(lecture_loss, 1.0, 1.0, 1.0, 1.0, parameters=("w2",))
    with pytest.raises(ValueError, match="out of range"):
        G.build_graph(lecture_loss, 1.0, 1.0, 1.0, 1.0, parameters=(7,))
    with pytest.raises(ValueError, match="compute_names has 2 names for 4"):
        G.build_graph(lecture_loss, 1.0, 1.0, 1.0, 1.0, compute_names=("a", "b"))
    with pytest.raises(TypeError, match="callable"):
        G.build_graph(3.0, 1.0)
    with pytest.raises(KeyError, match="no node named 'q'"):
        lecture_graph().node("q")
    with pytest.raises(TypeError, match="Graph"):
        G.to_dot("digraph {}")


def test_parameters_by_position_equal_by_name():
    a = G.build_graph(lecture_loss, 2.0, 1.0, 0.5, 3.0, parameters=(2, -1))
    assert [n.name for n in a.of_kind("parameter")] == ["w0", "w1"]


def test_dot_text_lists_every_node_and_edge():
    g = lecture_graph()
    dot = G.to_dot(g)
    assert dot.startswith('digraph "computation_graph" {') and dot.rstrip().endswith("}")
    for n in g.nodes:
        assert f'n{n.index} [label="{n.name}\\n' in dot
    assert dot.count("->") == len(g.edges) == 7
    assert "value 30.25\\ngrad 1" in dot  # L's label
    assert "peripheries=2" in dot  # the output is marked


def test_layers_and_figure(tmp_path):
    g = lecture_graph()
    depth = dict(zip((n.name for n in g.nodes), G.layers(g)))
    assert depth == {"x": 0, "y": 0, "w0": 0, "w1": 0, "u": 1, "y_hat": 2, "z": 3, "L": 4}
    fig = G.plot_graph(g, title="lecture")
    path = tmp_path / "graph.png"
    fig.savefig(path)
    assert path.stat().st_size > 1000
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("L\ninteger_pow") for t in texts)
