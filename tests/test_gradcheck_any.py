"""check_gradients on any function, kinks by one-sided quotients, planted mistakes caught on the right leaf."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import functional_nn as fnn
from functional_nn import activations, backprop, losses, taylor
from functional_nn.backprop import Backward
from functional_nn.network import Dense

# --- any function ---------------------------------------------------------------------


@jax.custom_vjp
def softplus_sum(w, x):
    return jnp.sum(jnp.logaddexp(0.0, x @ w))


def _fwd(w, x):
    return softplus_sum(w, x), (w, x)


def _bwd_right(res, g):
    w, x = res
    return g * x.T @ jax.nn.sigmoid(x @ w), jnp.zeros_like(x)


softplus_sum.defvjp(_fwd, _bwd_right)


@jax.custom_vjp
def softplus_sum_wrong(w, x):
    return jnp.sum(jnp.logaddexp(0.0, x @ w))


softplus_sum_wrong.defvjp(
    _fwd, lambda res, g: (g * res[1].T @ jax.nn.sigmoid(-(res[1] @ res[0])), jnp.zeros_like(res[1]))
)


def test_custom_vjp_right_and_wrong(key):
    x = jax.random.normal(key, (5, 3))
    w = jax.random.normal(jax.random.fold_in(key, 1), (3, 2))
    plain = lambda w, x: jnp.sum(jnp.logaddexp(0.0, x @ w))
    report = fnn.check_gradients(softplus_sum, w, x, reference=plain)
    assert report.ok and report.max_rel_autodiff < 1e-13, str(report)
    wrong = fnn.check_gradients(softplus_sum_wrong, w, x, reference=plain)
    assert [l.name for l in wrong.failures()] == ["params"]
    # without a reference there is no independent autodiff oracle: finite differences alone decide
    alone = fnn.check_gradients(softplus_sum_wrong, w, x)
    assert not alone.ok and "n/a" in str(alone) and np.isnan(alone.leaves[0].rel_autodiff)


def test_dict_pytree_with_extra_arguments(key):
    params = {
        "enc": {"w": jax.random.normal(key, (3, 4)), "b": jnp.ones(4)},
        "scale": jnp.array(0.7),
    }
    x, target, power = jax.random.normal(jax.random.fold_in(key, 2), (6, 3)), jnp.ones((6, 4)), 2

    def f(p, x, target, power):
        return jnp.mean(p["scale"] * jnp.tanh(x @ p["enc"]["w"] + p["enc"]["b"] - target) ** power)

    def grad(p, x, target, power):  # by hand; the planted mistake below drops the tanh' factor of b
        t = jnp.tanh(x @ p["enc"]["w"] + p["enc"]["b"] - target)
        upstream = p["scale"] * power * t ** (power - 1) * (1 - t**2) / t.size
        return {"enc": {"w": x.T @ upstream, "b": upstream.sum(0)}, "scale": jnp.mean(t**power)}

    report = fnn.check_gradients(f, params, x, target, power, grad=grad)
    assert report.ok, str(report)
    assert [l.name for l in report.leaves] == [
        "params['enc']['b']",
        "params['enc']['w']",
        "params['scale']",
    ]

    def wrong(p, *args):
        g = grad(p, *args)
        t = jnp.tanh(x @ p["enc"]["w"] + p["enc"]["b"] - target)
        g["enc"]["b"] = (p["scale"] * power * t / t.size).sum(0)
        return g

    assert [
        l.name for l in fnn.check_gradients(f, params, x, target, power, grad=wrong).failures()
    ] == ["params['enc']['b']"]


def test_bad_arguments_name_what_was_expected(key):
    f = lambda p: jnp.sum(p["w"] ** 2)
    with pytest.raises(TypeError, match="f must be callable"):
        fnn.check_gradients(3, {"w": jnp.ones(2)})
    with pytest.raises(ValueError, match="f must return a scalar"):
        fnn.check_gradients(lambda p: p["w"], {"w": jnp.ones(2)})
    with pytest.raises(TypeError, match=r"params\['w'\] must be a floating-point array.*int32"):
        fnn.check_gradients(f, {"w": jnp.ones(2, jnp.int32)})
    with pytest.raises(ValueError, match="params must hold at least one array"):
        fnn.check_gradients(f, {})
    with pytest.raises(ValueError, match="grad must return a pytree shaped like params"):
        fnn.check_gradients(f, {"w": jnp.ones(2)}, grad=lambda p: (p["w"],))
    with pytest.raises(ValueError, match=r"grad leaf 0 has shape \(3,\), expected \(2,\)"):
        fnn.check_gradients(f, {"w": jnp.ones(2)}, grad=lambda p: {"w": jnp.ones(3)})
    with pytest.raises(TypeError, match="grad must be callable or None"):
        fnn.check_gradients(f, {"w": jnp.ones(2)}, grad=1.0)
    with pytest.raises(ValueError, match="dtype must be one of"):
        fnn.taylor_test(f, {"w": jnp.ones(2)}, dtype="int8")


# --- kinks ----------------------------------------------------------------------------

_SLOPE = 0.1


def _kinked(p, c):
    return jnp.sum(c * activations.relu(p["relu"])) + jnp.sum(
        c * activations.leaky_relu(p["leaky"], _SLOPE)
    )


def _kinks(p, c):
    return [p["relu"], p["leaky"]]


def test_kink_verdicts_right_and_wrong():
    # both units sit exactly on their kink; the outgoing weight 3 (and −2) makes the bracket [0, 3] / [−2, −0.2]
    params = {"relu": jnp.zeros(2), "leaky": jnp.zeros(2)}
    c = jnp.array([3.0, -2.0])
    right = fnn.check_gradients(
        _kinked, params, c, kinks=_kinks
    )  # jax.grad: relu'(0) = 0, leaky'(0) = 1
    assert right.ok, str(right)
    assert [l.kinks for l in right.leaves] == [2, 2]
    assert all(k.inside for l in right.leaves for k in l.kink_checks)
    relu_checks = {k.index: k for k in right.leaf("params['relu']").kink_checks}
    assert relu_checks[(0,)].left == pytest.approx(0.0, abs=1e-8) and relu_checks[
        (0,)
    ].right == pytest.approx(3.0)
    # any value in the subdifferential is fine (relu'(0) = 1 convention), one outside is wrong
    half = lambda p, c: {"relu": c * 1.0, "leaky": c * 0.5}
    assert fnn.check_gradients(_kinked, params, c, grad=half, kinks=_kinks).ok
    outside = lambda p, c: {"relu": c * 1.5, "leaky": c * -0.5}  # 4.5 ∉ [0, 3]; −0.5·3 ∉ [0.3, 3]
    bad = fnn.check_gradients(_kinked, params, c, grad=outside, kinks=_kinks)
    assert [l.verdict for l in bad.leaves] == ["wrong", "wrong"]
    assert bad.leaf("params['leaky']").kinks_outside == 2 and "OUTSIDE, wrong" in str(bad)


def test_mlp_unit_on_a_kink_is_judged_by_its_bracket():
    net = fnn.MLP((1, 1, 1), activation="relu", output_activation="linear")
    params = (
        Dense(jnp.array([[1.0]]), jnp.array([0.0])),
        Dense(jnp.array([[2.0]]), jnp.array([0.0])),
    )
    x, y = jnp.array([[0.0], [1.0]]), jnp.array([[1.0], [0.0]])
    report = fnn.compare_gradients(net, "mse", params, x, y)
    assert report.ok and report.leaf("params[0].b").kinks == 1, str(report)

    def relu_derivative_two_at_zero(
        net, loss, params, x, y
    ):  # 'relu'(0) = 2': outside [0, 1]·upstream
        res = backprop.backward(net, loss, params, x, y)
        trace = net.forward(params, x)
        o = trace.pre_activations[0]
        da = res.deltas[1] @ params[1].w.T
        delta0 = da * jnp.where(o == 0, 2.0, (o > 0).astype(o.dtype))
        g0 = Dense(x.T @ delta0, delta0.sum(0))
        return res._replace(grads=(g0, res.grads[1]), deltas=(delta0, res.deltas[1]))

    bad = fnn.compare_gradients(net, "mse", params, x, y, backward_fn=relu_derivative_two_at_zero)
    assert bad.leaf("params[0].b").kinks_outside == 1 and not bad.ok


# --- planted mistakes -----------------------------------------------------------------

NET = fnn.MLP((3, 4, 4, 2), activation=("sigmoid", "tanh"), output_activation="softmax")
LOSS = "mse"
ALL = ["params[0].w", "params[0].b", "params[1].w", "params[1].b", "params[2].w", "params[2].b"]


def _buggy(mistake):
    """The δ recursion of ``backprop.backward`` with one planted mistake."""

    def backward(net, loss, params, x, y, *_):
        acts = net.layer_activations
        trace = net.forward(params, x)
        y_hat = trace.activations[-1]
        k = 1 if mistake == "missing 1/K" else x.shape[0]
        g = (y_hat - y) / k
        if mistake == "wrong softmax Jacobian":
            delta = g * y_hat * (1 - y_hat)  # the diagonal only
        else:
            delta = activations.softmax_jvp(y_hat, g)
        grads, deltas = [], []
        for l in reversed(range(net.num_layers)):
            dw = trace.activations[l].T @ delta
            if mistake == "sign error" and l == 1:
                dw = -dw
            grads.append(Dense(dw, delta.sum(0)))
            deltas.append(delta)
            if l == 0:
                break
            w = params[l].w if mistake == "transposed w" and l == 1 else params[l].w.T
            da = delta @ w
            o = trace.pre_activations[l - 1]
            dropped = mistake == "dropped σ'" and l == 1
            delta = da if dropped else da * acts[l - 1].derivative(o)
        return Backward(losses.mse(y_hat, y), tuple(reversed(grads)), tuple(reversed(deltas)))

    return backward


MISTAKES = {
    "dropped σ'": ALL[:2],  # σ' of layer 1 missing: only w^1, b^1 change
    "transposed w": ALL[:2],  # w^2 instead of w^2ᵀ in δ^1
    "sign error": ["params[1].w"],
    "missing 1/K": ALL,
    "wrong softmax Jacobian": ALL,
}


@pytest.fixture(scope="module")
def batch():
    key = jax.random.key(11)
    params = NET.init(key)
    params = tuple(Dense(l.w * 1.5, jnp.full_like(l.b, 0.2)) for l in params)
    x = jax.random.normal(jax.random.fold_in(key, 1), (5, 3))
    y = jax.random.uniform(jax.random.fold_in(key, 2), (5, 2))
    return params, x, y


def test_the_clean_pass_is_good_by_every_method(batch):
    assert fnn.compare_gradients(NET, LOSS, *batch, backward_fn=_buggy(None)).ok
    assert taylor.taylor_test_mlp(NET, LOSS, *batch, backward_fn=_buggy(None)).ok


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_method_names_the_leaves_of_a_planted_mistake(batch, mistake):
    report = fnn.compare_gradients(NET, LOSS, *batch, backward_fn=_buggy(mistake))
    wrong = [l.name for l in report.failures() if l.name.startswith("params")]
    assert wrong == MISTAKES[mistake], str(report)
    orders = taylor.taylor_test_mlp(NET, LOSS, *batch, backward_fn=_buggy(mistake))
    assert [l.name for l in orders.failures()] == MISTAKES[mistake], str(orders)
    for leaf in orders.leaves:
        expected = 1.0 if leaf.name in MISTAKES[mistake] else 2.0
        assert abs(leaf.order - expected) <= 0.2, (leaf.name, leaf.order)
