"""A run called segment by segment: the host writes checkpoints, reports progress and calls
``on_segment`` between the calls of one compiled segment runner."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from functional_nn import _checkpointing, _progress, parallel
from functional_nn import _engine as engine
from functional_nn import checkpoint_dir as ckpt_dir
from functional_nn._prepare import Prepared
from functional_nn._validate import to_host

__all__ = ["SegmentState"]


class SegmentState(NamedTuple):
    """What ``on_segment`` gets after each segment (host values; ``fit_many``: a leading members axis).

    ``history`` holds the epochs run so far (``epoch − initial_epoch`` entries;
    ``fit_many``: entries after a member stopped are zeros until the run collects).
    """

    epoch: int  # epochs the run has reached, from the start of the whole run
    num_epochs: int
    epochs_done: Any  # int (fit) or (members,) ints: epochs each member completed (a diverged
    # one's count stops at the segment that met the bad step; the result names the exact epoch)
    running: Any  # bool or (members,) bools: still training
    best_epoch: Any  # int or (members,) ints
    history: dict  # per-epoch host arrays so far
    params: Any  # the current params (device arrays)
    checkpoint: Path | None  # the checkpoint written after this segment (on disk), if any


_start = jax.jit(engine.start, static_argnames=("config",))
_run_from = jax.jit(engine.run_from, static_argnames=("config",))


def run_by_segments(run: Prepared, description: str):
    """Call the one compiled segment runner again and again; the host works between calls.

    Between calls the host writes the checkpoint, moves the progress bar and calls
    ``on_segment``. The next segment is dispatched before the host reads the last one's
    state (a segment after every member stopped is a no-op of the compiled loop), so the
    device runs it while the host writes the last one's checkpoint, on this thread: a
    write shorter than a segment never keeps the device waiting. (A writer thread was
    slower: at every segment boundary it took a core from the thread that starts the
    next segment, and the GIL from this one.) A write's error (a full or read-only disk)
    stops the run at that checkpoint, and a returned run's checkpoints are all on disk.
    """
    config, plan = run.config, run.checkpoints
    args = (run.config, run.params, run.opt_state, run.data, run.hyper)
    epoch, resumed, described = run.start, None, None
    if plan is not None:
        kind = "fit" if config.members is None else "fit_many"
        # once (it hashes the data), by the first write: off the run's path when it starts
        described = functools.cache(functools.partial(_checkpointing.describe, run, kind))
        if plan.resume or jax.process_count() > 1:  # a refusal, and collectives: here, now
            described()
        if plan.resume:
            resumed = _checkpointing.restore(
                plan,
                run,
                described(),
                jax.eval_shape(functools.partial(engine.start, config), *args[1:]),
            )
        else:
            _checkpointing.check_fresh(plan)
    if resumed is None:
        member, history = _start(*args)
    else:
        member, history, epoch, _ = resumed
    assert run.stride is not None  # this loop runs only when segments are asked for
    with _progress.progress_bar(run.progress, config.num_epochs, description, epoch) as report:
        fresh = True  # the state in hand is the start (or the resumed checkpoint), not a segment's
        while True:
            more = epoch < config.num_epochs
            if more:  # dispatched first: the device runs it while the host works below
                stop = min(epoch + run.stride, config.num_epochs)
                following = _run_from(config, member, history, run.data, run.hyper, epoch, stop)
            status = np.asarray(parallel.to_local(member.status))  # waits for this segment
            if not fresh:
                _after_segment(run, described, member, history, epoch, report)
            if not (more and np.any(status == engine.RUNNING)):
                if plan is not None:  # the last checkpoint is on disk in every process
                    parallel.wait_for_every_process("functional_nn: the last checkpoint")
                return member, history
            (member, history), epoch, fresh = following, stop, False


def _after_segment(run: Prepared, described, member, history, epoch: int, report) -> None:
    """The host's work after a segment that ended at ``epoch``: checkpoint, progress, hook."""
    config, plan, single = run.config, run.checkpoints, run.config.members is None
    path, reporting = None, report is not None or run.on_segment is not None
    if plan is None and not reporting:
        return
    small = member._replace(params=None, opt_state=None, best_params=None)
    # members split across processes are gathered: a collective, every process in step
    local_member, history = parallel.to_local((small if plan is None else member, history))
    writes = plan is not None and jax.process_index() == 0  # process 0 writes
    if not (writes or reporting):
        return
    host_member, host_history = to_host((local_member, history))  # once, for both
    if plan is not None:
        path = ckpt_dir.checkpoint_path(plan.directory, epoch)
    if writes:
        _checkpointing.save(plan, run, described, host_member, host_history, epoch)
    if not reporting:
        return
    ran = epoch - run.start
    cut = {
        name: np.asarray(h)[:ran] if single else np.asarray(h)[:, :ran]
        for name, h in host_history.items()
    }
    done = np.asarray(host_member.epochs_done)
    running = np.asarray(host_member.status) == engine.RUNNING
    if report is not None:
        last = np.maximum(done - 1 - run.start, 0)
        pick = lambda h: (  # noqa: E731
            h[last] if single else np.take_along_axis(h, last[:, None], axis=1)[:, 0]
        )
        losses = cut.get("val_loss", cut["train_loss"])
        report(done, pick(cut["train_loss"]), pick(losses), ~running)
    if run.on_segment is not None:
        if plan is not None:  # the hook is told of a checkpoint that is on disk, in every process
            parallel.wait_for_every_process("functional_nn: a checkpoint before on_segment")
        scalar = (lambda v: v.item()) if single else np.asarray  # noqa: E731
        run.on_segment(
            SegmentState(
                epoch=epoch,
                num_epochs=config.num_epochs,
                epochs_done=scalar(done),
                running=scalar(running),
                best_epoch=scalar(np.asarray(host_member.best_epoch)),
                history=cut,
                params=member.params,
                checkpoint=path,
            )
        )
