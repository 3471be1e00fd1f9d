"""Why a run ended, in words: a divergence's leaf and likely cause, and the closing paragraph.

Host code run by ``_results.collect`` after the compiled run, never inside it: a
diverged member's bad step is redone once from its last finite state
(:func:`redo_step`) to name the first non-finite leaf, and the evidence (the
loss's trend before the overflow, the batch's data, each layer's activations)
tells a step size that is too large from non-finite data, an overflowing
activation and a badly scaled loss.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import _engine as engine
from functional_nn._batches import batch_rows, batch_weights, epoch_orders

Array = jax.Array


class Redo(NamedTuple):
    """What redoing the non-finite step found (see :func:`redo_step`)."""

    loss_ok: Array  # () J finite
    grads_ok: Array  # (leaves,) per-leaf ∇J finite
    params_ok: Array  # (leaves,) per-leaf w_new finite
    data_ok: Array  # () the batch's x and y finite
    layers_ok: Array  # (L,) o^l and a^l of the forward pass finite, per layer


def redo_step(
    config: engine.Config,
    params,
    opt_state,
    data: engine.Data,
    hyper: engine.Hyper,
    epoch: Array,
    step: Array,
) -> Redo:
    """Redo the update that went non-finite and say where it first went so (:class:`Redo`).

    Run outside the training loop, only after a divergence, to name the leaf and the
    cause; the step's rows are drawn again from the key, as the run drew them.
    """
    config = config._replace(mesh=None)
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    if config.shuffle:
        order = epoch_orders(hyper.seed, epoch[None], config.num_examples)[0]
        rows = batch_rows(order, config.num_batches, config.batch_size)[step]
        xb, yb = data.x[rows], data.y[rows]
    else:
        xb, yb = data.x, data.y
    weights = batch_weights(
        config.num_examples, config.num_batches, config.batch_size, config.padded
    )
    wb = None if weights is None else jnp.asarray(weights, dtype)[step]
    masks = hyper.masks if config.use_masks else None
    value, grads, new_params, _ = engine.update_step(config, params, opt_state, xb, yb, wb, masks)
    finite = lambda tree: jnp.stack(  # noqa: E731
        [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]
    )
    trace = config.net.forward(params, xb, masks)
    layers = jnp.stack(
        [
            jnp.all(jnp.isfinite(o)) & jnp.all(jnp.isfinite(a))
            for o, a in zip(trace.pre_activations, trace.activations[1:])
        ]
    )
    return Redo(
        jnp.isfinite(value),
        finite(grads),
        finite(new_params),
        jnp.all(jnp.isfinite(xb)) & jnp.all(jnp.isfinite(yb)),
        layers,
    )


_redo_step = jax.jit(redo_step, static_argnames=("config",))


def diagnose(
    config: engine.Config,
    params,
    opt_state,
    data: engine.Data,
    hyper: engine.Hyper,
    epoch: int,
    step: int,
    paths: list[str],
    before: np.ndarray,
) -> tuple[tuple[str, tuple[str, str]], str | None]:
    """``((what went non-finite, the likely cause), leaf name)`` for a diverged run.

    Redoes its bad step once from the last finite params and optimizer state
    (outside the loop, so a healthy run never compiles this) to name the first
    non-finite leaf, and tells the causes apart: non-finite data in the batch; a
    loss that grew over the last steps before it overflowed (the step size); an
    activation that overflowed while the loss was not growing (inputs or weights
    too large for the dtype); a loss that overflowed with finite activations (the
    outputs' or targets' scale).
    """
    redo = jax.device_get(
        _redo_step(
            config, params, opt_state, data, hyper, jnp.asarray(epoch, jnp.int32), jnp.asarray(step)
        )
    )
    grads_bad = np.flatnonzero(~np.asarray(redo.grads_ok))
    params_bad = np.flatnonzero(~np.asarray(redo.params_ok))
    if not redo.loss_ok:
        if grads_bad.size:
            leaf = "grads" + paths[grads_bad[0]]
            what = f"the loss J became non-finite (first non-finite gradient: {leaf})"
        else:
            what, leaf = "the loss J became non-finite", "loss"
    elif grads_bad.size:
        leaf = "grads" + paths[grads_bad[0]]
        what = f"the gradient {leaf} became non-finite"
    elif params_bad.size:
        leaf = "params" + paths[params_bad[0]]
        what = f"the update made {leaf} non-finite"
    else:
        what = "a value became non-finite inside the compiled loop (it did not recur when the step was redone)"
        leaf = None
    layers_bad = np.flatnonzero(~np.asarray(redo.layers_ok))
    grew = loss_grew(before)
    if not redo.data_ok:
        cause = "data", "the batch holds non-finite values (NaN or inf) in x or y"
    elif grew is not None:
        cause = "rate", grew
    elif layers_bad.size:
        l = int(layers_bad[0])
        name = config.net.activation_names[l]
        cause = (
            "activation",
            (
                f"layer {l + 1}'s pre-activation o^{l + 1} or its {name} activation overflowed on this "
                "batch, while the loss was not growing"
            ),
        )
    elif not redo.loss_ok:
        cause = "scale", "the loss overflowed with finite activations, while it was not growing"
    else:
        cause = "unknown", ""
    return (what, cause), leaf


def loss_grew(before: np.ndarray) -> str | None:
    """How the loss grew over the last steps before the overflow (None if it did not)."""
    recent = before[np.isfinite(before)][-5:]
    if recent.size < 3 or not np.all(np.diff(recent[-3:]) > 0) or recent[-1] <= 1.5 * recent.min():
        return None
    return (
        f"the loss grew over the last {recent.size} steps before it overflowed "
        f"({recent[0]:.3g} → {recent[-1]:.3g})"
    )


def describe(
    config: engine.Config,
    rate_text: str,
    what: tuple[str, tuple[str, str]] | None,
    stopped: int,
    diverged: bool,
    bad_step: int,
    stopped_early: bool,
    best_epoch: int,
    best_val: float,
    final_train_loss: float,
) -> str:
    """How a run ended, in one paragraph; a divergence names its likely cause."""
    updates = stopped * config.num_batches + bad_step
    if diverged:
        assert what is not None  # diagnose() ran for every diverged member
        (what_text, (kind, evidence)) = what
        head = (
            f"diverged in epoch {stopped + 1}, step {bad_step + 1} (update {updates + 1}): "
            f"{what_text}. params are the last finite ones, after {updates} updates and "
            f"{stopped} complete epochs. "
        )
        if kind == "rate":
            return head + (
                f"The likely cause is {rate_text}: {evidence}, so the steps overshoot "
                "(lecture: 'if α is too high, the algorithm diverges'); try a rate about 10× "
                "smaller."
            )
        if kind == "data":
            return head + (
                f"The cause is non-finite data: {evidence}; clean the data (the step size is "
                "not to blame)."
            )
        if kind == "activation":
            return head + (
                f"The likely cause is an activation that overflowed: {evidence}, so the "
                "inputs or weights are too large for the dtype; standardize the inputs or "
                "start from smaller weights (the step size is not to blame)."
            )
        if kind == "scale":
            return head + (
                f"The likely cause is the scale of the outputs or targets: {evidence}; "
                "standardize the targets or use float64 (the step size is not to blame)."
            )
        return head + (
            f"The loss did not grow before it, so the cause is unclear; {rate_text} may be too "
            "large, or the inputs need standardizing."
        )
    ran = f"{stopped} epochs ({updates} updates)"
    best = (
        f"best validation loss {best_val:.6g} at epoch {best_epoch}"
        if config.has_validation
        else f"final training loss {final_train_loss:.6g}"
    )
    if stopped_early:
        return (
            f"stopped early after {ran}: the validation loss did not improve for {config.patience} "
            f"epochs; {best} (best_params)."
        )
    return f"ran all {ran}; {best}."
