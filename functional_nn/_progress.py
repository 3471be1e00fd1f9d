"""Live progress for compiled training runs: a ``tqdm`` bar fed by ``jax.debug.callback``.

The compiled program is cached and reused by later calls, so its callback
cannot close over one run's bar; it passes the run's id (a traced argument)
and :func:`report` looks the bar up here. With ``progress=False`` the loop
traces no callback at all, so a run pays nothing for this module.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_BARS: dict[int, Any] = {}
_ids = itertools.count(1)


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, description: str):
    """Yield the traced id of a ``tqdm`` bar the compiled loop reports to (0 = no bar)."""
    if not enabled:
        yield jnp.asarray(0, jnp.int32)
        return
    try:
        from tqdm.auto import tqdm
    except ImportError as err:
        raise ImportError(
            "progress=True needs tqdm: pip install 'functional-nn[progress]'"
        ) from err
    progress_id = next(_ids)
    bar = tqdm(total=total, desc=description, unit="epoch")
    _BARS[progress_id] = bar
    try:
        yield jnp.asarray(progress_id, jnp.int32)
        jax.effects_barrier()  # every epoch's callback has reached the bar
    finally:
        _BARS.pop(progress_id, None)
        bar.close()


def report(progress_id, epochs_run, train_loss, val_loss, done) -> None:
    """Host side of the callback: epochs run and the latest losses (one member, or a summary of many)."""
    bar = _BARS.get(int(progress_id))
    if bar is None:
        return
    epochs_run, train_loss, val_loss = (
        np.asarray(epochs_run),
        np.asarray(train_loss),
        np.asarray(val_loss),
    )
    done = np.asarray(done)
    bar.n = int(np.max(epochs_run))
    if train_loss.ndim == 0:
        bar.set_postfix(
            train_loss=f"{float(train_loss):.4g}", val_loss=f"{float(val_loss):.4g}", refresh=False
        )
    else:  # fit_many: how many members still train, and the best validation loss so far
        ran = epochs_run > 0
        best = float(np.min(val_loss[ran])) if ran.any() else float("inf")
        bar.set_postfix(
            running=f"{int((~done).sum())}/{done.size}", best_val_loss=f"{best:.4g}", refresh=False
        )
    bar.refresh()
