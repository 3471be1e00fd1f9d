"""What an epoch records: its training loss, and only what the run asked for — the learning
rate, gradient norms, validation loss and accuracy (traced inside the engine's loop)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import losses
from functional_nn._batches import batch_weights

if TYPE_CHECKING:
    from functional_nn._engine import Config, Data, Hyper

Array = jax.Array


def epoch_records(config: Config, out: dict, dtype) -> dict:
    """Per-epoch records from per-step outputs shaped ``(..., B, ...)``."""
    weights = batch_weights(
        config.num_examples, config.num_batches, config.batch_size, config.padded
    )
    counts = (
        weights.sum(axis=1)
        if weights is not None
        else np.full(config.num_batches, config.batch_size)
    )
    # the epoch's J: its batch losses weighted by their real examples (a short last batch counts its own)
    record = {
        "train_loss": jnp.sum(out["loss"] * jnp.asarray(counts / counts.sum(), dtype), axis=-1)
    }
    if config.records_lr:
        record["learning_rate"] = out["learning_rate"][..., 0]
    if config.record_grad_norms:
        record["grad_norms"] = jnp.mean(out["grad_norms"], axis=-2)
    return record


def validation_loss(config: Config, params, data: Data, hyper: Hyper):
    """``(J on the validation set, logits)`` for ``params``."""
    assert data.x_val is not None and data.y_val is not None  # config.has_validation
    masks = hyper.masks if config.use_masks else None
    logits = config.net.logits(params, data.x_val, masks)
    value = losses.loss_from_logits(
        config.loss, config.net.layer_activations[-1], logits, data.y_val
    )
    return value, logits


def empty_record(config: Config, dtype) -> dict:
    """Zeros shaped like an epoch's record: what a skipped epoch leaves."""
    names = (
        ["train_loss"]
        + ["learning_rate"] * config.records_lr
        + ["grad_norms"] * config.record_grad_norms
        + ["val_loss"] * config.has_validation
        + ["val_accuracy"] * (config.accuracy is not None)
    )
    return {
        name: jnp.zeros((config.net.num_layers,) if name == "grad_norms" else (), dtype)
        for name in names
    }


def accuracy(kind: str, logits: Array, y: Array) -> Array:
    """Fraction correct: ``"threshold"`` (σ(o) >= 0.5, per output) or ``"argmax"`` (one-hot)."""
    if kind == "threshold":
        return jnp.mean(((logits >= 0) == (y >= 0.5)).astype(logits.dtype))
    return jnp.mean((jnp.argmax(logits, axis=-1) == jnp.argmax(y, axis=-1)).astype(logits.dtype))
