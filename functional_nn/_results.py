"""What ``fit`` and ``fit_many`` return: the one result builder, its messages and diagnoses.

A run's device state (:class:`functional_nn._engine.Member` and the history) becomes
host scalars and histories cut to the epochs each member ran; a member that diverged
is replayed to its bad step and diagnosed there (``functional_nn._diagnosis``).
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import jax
import numpy as np

from functional_nn import _diagnosis
from functional_nn import _engine as engine
from functional_nn._prepare import Prepared
from functional_nn._validate import to_host
from functional_nn.network import Params

__all__ = ["ConvergenceWarning", "FitResult", "FitManyResult"]


class ConvergenceWarning(UserWarning):
    """A run ran out of epochs while early stopping still saw the validation loss improve.

    Raised once per ``fit`` or ``fit_many`` call from the Python wrapper (never
    inside the compiled loop) when ``patience`` is given and a run that did not
    diverge reached ``num_epochs`` without ``patience`` epochs in a row without
    improvement: more epochs would likely still help. Silence it with
    ``warnings.filterwarnings`` or pass a larger ``num_epochs``.
    """


class FitResult(NamedTuple):
    """What a run produced. In ``fit_many`` every field gets a leading ``(members,)`` axis.

    ``history`` maps names to per-epoch arrays, one entry per epoch this call
    completed (``len == stopped_epoch − initial_epoch``); a key is absent where it
    does not apply:

    * ``"train_loss"`` ``(epochs,)``: mean of the epoch's batch losses ``J``, each
      taken before its update and weighted by the batch's example count;
    * ``"val_loss"`` ``(epochs,)``: ``J`` on the validation set after the epoch
      (only with ``validation``);
    * ``"val_accuracy"`` ``(epochs,)``: fraction correct on the validation set
      (binary cross-entropy: ``ŷ >= 0.5`` per output; categorical: argmax),
      absent for ``"mse"``;
    * ``"learning_rate"`` ``(epochs,)``: ``α`` of the epoch's first update (with
      ``learning_rate=``, :func:`functional_nn.sgd`, or an optimizer built with
      ``optax.inject_hyperparams``);
    * ``"grad_norms"`` ``(epochs, L)``: mean over the epoch's updates of the
      per-layer norms ``‖∂J/∂(w^l, b^l)‖`` (only with ``record_grad_norms``).
    """

    params: Params  # final params; the last finite ones if the run diverged
    best_params: Params  # params after best_epoch (the final ones without validation)
    best_epoch: int  # 1-based epoch of the lowest validation loss; 0 = initial params
    stopped_epoch: int  # epochs completed, counted from the start of the whole run
    num_updates: int  # parameter updates applied, from the start of the whole run
    history: dict  # per-epoch arrays, see above
    opt_state: Any  # final optax state (fnn.sgd's SGDState for learning_rate=)
    stopped_early: bool  # early stopping ended the run
    diverged: bool  # a non-finite loss, gradient or update ended the run
    diverged_epoch: int  # 1-based epoch of the divergence; 0 = none
    diverged_step: int  # 1-based step within that epoch; 0 = none
    diverged_leaf: str | None  # "loss", "grads[l].w", "params[l].b", ...; None = none
    message: str  # one paragraph saying how the run ended (and the likely cause)


def one_member(members: Any, i: int, take, initial_epoch: int) -> FitResult:
    """Member ``i`` of stacked results (a FitResult whose fields have a leading (members,) axis);
    ``take`` picks it from the device trees."""
    e = int(members.stopped_epoch[i])
    return FitResult(
        params=take(members.params),
        best_params=take(members.best_params),
        best_epoch=int(members.best_epoch[i]),
        stopped_epoch=e,
        num_updates=int(members.num_updates[i]),
        history={name: h[i, : e - initial_epoch] for name, h in members.history.items()},
        opt_state=take(members.opt_state),
        stopped_early=bool(members.stopped_early[i]),
        diverged=bool(members.diverged[i]),
        diverged_epoch=int(members.diverged_epoch[i]),
        diverged_step=int(members.diverged_step[i]),
        diverged_leaf=members.diverged_leaf[i],
        message=members.message[i],
    )


class FitManyResult(NamedTuple):
    """Stacked results of ``fit_many`` and the member with the lowest validation loss.

    ``members`` is a :class:`FitResult` whose arrays have a leading
    ``(members,)`` axis (``diverged_leaf`` and ``message`` are tuples). Its
    history arrays are ``(members, num_epochs − initial_epoch, ...)``: entries
    after a member's ``stopped_epoch`` repeat its last value (``+inf`` losses for
    a member that completed no epoch). :meth:`member` gives one member exactly as
    ``fit`` would.
    """

    members: FitResult
    best_index: int  # argmin of the best validation loss (final training loss without validation)
    initial_epoch: int = 0

    def member(self, i: int) -> FitResult:
        """Member ``i`` as a plain :class:`FitResult` (history cut to its own epochs)."""
        return one_member(
            self.members,
            i,
            lambda tree: jax.tree_util.tree_map(lambda a: a[i], tree),
            self.initial_epoch,
        )

    @property
    def best(self) -> FitResult:
        """The member with the lowest validation loss, ready to evaluate on the test set."""
        return self.member(self.best_index)


_replay = jax.jit(engine.replay, static_argnames=("config",))


def collect(run: Prepared, member: engine.Member, history: dict) -> FitManyResult:
    """The one result builder: host scalars, histories cut to the epochs run, messages and diagnoses.

    ``fit``'s single member has no members axis on the device; its host values get one here.
    """
    config, start, single = run.config, run.start, run.config.members is None
    scalars = {
        name: getattr(member, name) for name in ("status", "epochs_done", "best_epoch", "best_val")
    }
    scalars, history = to_host((scalars, history))
    host = {name: np.array(np.atleast_1d(v)) for name, v in scalars.items()}
    stopped = host["epochs_done"]
    diverged = host["status"] == engine.DIVERGED
    bad_step = np.zeros_like(stopped)
    history = {
        name: np.asarray(h)[None] if single else np.asarray(h) for name, h in history.items()
    }
    take = (
        (lambda tree, i: tree)
        if single
        else (lambda tree, i: jax.tree_util.tree_map(lambda a: a[i], tree))
    )
    leaves: list[str | None] = [None] * len(stopped)
    whats: list[tuple[str, tuple[str, str]] | None] = [None] * len(stopped)
    # a diverged member was handed back in the state before its bad span: find the step, advance to it
    for i in map(int, np.flatnonzero(diverged)):
        last, step_losses, index = _replay(config, take(member, i), run.data, take(run.hyper, i))
        index = int(index)
        if index == len(step_losses):
            raise RuntimeError(
                f"internal error: the run met a non-finite step in epochs {stopped[i] + 1}.. but "
                "replaying them found none (the compiled run is not deterministic here)"
            )
        epochs, bad_step[i] = divmod(index, config.num_batches)
        stopped[i] += epochs
        member = (
            last if single else jax.tree_util.tree_map(lambda a, v: a.at[i].set(v), member, last)  # noqa: B023
        )
        before = np.asarray(step_losses)[:index]  # J of the finite steps before the bad one
        if before.size < 3:  # too few steps in the replayed span: the epochs before count too
            before = np.concatenate([history["train_loss"][i, : stopped[i] - start], before])
        whats[i], leaves[i] = _diagnosis.diagnose(
            config,
            last.params,
            last.opt_state,
            run.data,
            take(run.hyper, i),
            int(stopped[i]),
            int(bad_step[i]),
            [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(last.params)],
            before,
        )
        host["best_epoch"][i], host["best_val"][i] = int(last.best_epoch), float(last.best_val)
    history = {name: _forward_fill(h, stopped - start, name) for name, h in history.items()}
    final = np.maximum(stopped - start - 1, 0)[:, None]  # each member's last epoch in the history
    per_member = zip(  # Python scalars: a thousand members' messages in a millisecond
        run.rate_texts,
        whats,
        stopped.tolist(),
        diverged.tolist(),
        bad_step.tolist(),
        (host["status"] == engine.STOPPED_EARLY).tolist(),
        host["best_epoch"].tolist(),
        host["best_val"].tolist(),
        np.take_along_axis(history["train_loss"], final, axis=1)[:, 0].tolist(),
        strict=True,
    )
    messages = [_diagnosis.describe(config, *values) for values in per_member]
    validated = config.has_validation
    stacked: dict[str, Any] = dict(  # every field with a leading (members,) axis
        params=member.params,
        best_params=member.best_params if validated else member.params,
        best_epoch=host["best_epoch"] if validated else stopped,
        stopped_epoch=stopped,
        num_updates=stopped * config.num_batches + bad_step,
        history=history,
        opt_state=member.opt_state,
        stopped_early=host["status"] == engine.STOPPED_EARLY,
        diverged=diverged,
        diverged_epoch=np.where(diverged, stopped + 1, 0),
        diverged_step=np.where(diverged, bad_step + 1, 0),
        diverged_leaf=tuple(leaves),
        message=tuple(messages),
    )
    members = FitResult(**stacked)
    score = host["best_val"] if validated else history["train_loss"][:, -1]
    return FitManyResult(members, int(np.argmin(np.where(np.isnan(score), np.inf, score))), start)


def _forward_fill(h: np.ndarray, ran: np.ndarray, name: str) -> np.ndarray:
    """Entries after each member's last epoch repeat its last value (``+inf`` losses where none ran)."""
    if np.all(ran == h.shape[1]):
        return h  # every member ran every epoch: nothing to fill
    cols = np.arange(h.shape[1]).reshape((1, -1) + (1,) * (h.ndim - 2))
    last = np.take_along_axis(
        h, np.maximum(ran - 1, 0).reshape((-1, 1) + (1,) * (h.ndim - 2)), axis=1
    )
    empty = np.inf if name in ("train_loss", "val_loss") else 0
    last = np.where(ran.reshape((-1, 1) + (1,) * (h.ndim - 2)) > 0, last, empty)
    return np.where(cols < ran.reshape((-1, 1) + (1,) * (h.ndim - 2)), h, last).astype(h.dtype)


def warn_if_unconverged(config: engine.Config, result: FitManyResult) -> None:
    """One :class:`ConvergenceWarning` for runs with ``patience`` that hit ``num_epochs`` still improving."""
    if config.patience is None:
        return
    m = result.members
    still = (
        ~np.asarray(m.stopped_early)
        & ~np.asarray(m.diverged)
        & (np.asarray(m.stopped_epoch) >= config.num_epochs)
    )
    if not still.any():
        return
    who = (
        "fit"
        if config.members is None
        else f"fit_many: {int(still.sum())} of {config.members} members"
    )
    last = int(np.max(np.asarray(m.best_epoch)[still]))
    warnings.warn(
        f"{who} reached num_epochs={config.num_epochs} before early stopping (patience="
        f"{config.patience}) saw the validation loss stop improving (last improvement at epoch "
        f"{last}); more epochs would likely help. best_params are the best so far.",
        ConvergenceWarning,
        stacklevel=4,
    )
