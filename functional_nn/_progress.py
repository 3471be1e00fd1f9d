"""Live progress for training runs: a ``tqdm`` bar the host updates between compiled segments.

Nothing host-side runs inside the compiled program: a run with ``progress=True``
is called segment by segment (see ``functional_nn.train``) and the bar moves
between the calls, so a run without it pays nothing for this module.
"""

from __future__ import annotations

import contextlib

import numpy as np


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, description: str, initial: int = 0):
    """Yield ``report(epochs_run, train_loss, val_loss, done)`` for a ``tqdm`` bar (None when off)."""
    if not enabled:
        yield None
        return
    try:
        from tqdm.auto import tqdm
    except ImportError as err:
        raise ImportError(
            "progress=True needs tqdm: pip install 'functional-nn[progress]'"
        ) from err
    bar = tqdm(total=total, initial=initial, desc=description, unit="epoch")
    try:
        yield lambda *values: report(bar, *values)
    finally:
        bar.close()


def report(bar, epochs_run, train_loss, val_loss, done) -> None:
    """Epochs run and the latest losses (one member, or a summary of many)."""
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
