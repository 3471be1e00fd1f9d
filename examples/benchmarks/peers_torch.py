"""The torch peer: the idiomatic eager training loop on CPU with 2 threads.

``nn.Sequential`` of ``nn.Linear`` layers loaded with the shared initial
weights (``nn.Linear`` stores ``w`` transposed, ``(n_out, n_in)``), the loss
from the logits (``binary_cross_entropy_with_logits`` / ``cross_entropy``, both
means over the batch like the lecture's J), ``torch.optim.SGD`` / ``Adam``
(whose ``m̂ / (√v̂ + ε)`` matches optax's), and the shared per-epoch order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from workloads import NumpyParams, Problem

THREADS = 2  # the setting: torch eager on 2 CPU threads (run.py --torch-threads changes it)
_ACTIVATIONS = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}


def _model(params: NumpyParams, activation: str) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for i, (w, b) in enumerate(params):
        linear = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(w.T))
            linear.bias.copy_(torch.tensor(b))
        layers.append(linear)
        if i < len(params) - 1:
            layers.append(_ACTIVATIONS[activation]())
    return torch.nn.Sequential(*layers)


def tensors(problem: Problem) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``x``, the targets and the epoch orders as torch tensors (setup, before timing)."""
    labels = problem.spec.loss == "categorical_cross_entropy"
    target = torch.tensor(problem.labels) if labels else torch.tensor(problem.y)
    return torch.tensor(problem.x), target, torch.tensor(problem.orders)


def train(
    problem: Problem, params: NumpyParams, data: tuple | None = None, num_epochs: int | None = None
) -> NumpyParams:
    """Train one model from ``params`` in ``problem.orders``; returns the final params as numpy."""
    spec = problem.spec
    x, target, orders = tensors(problem) if data is None else data
    model = _model(params, spec.activation)
    if spec.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=spec.learning_rate, eps=1e-8)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=spec.learning_rate)
    loss_fn = (
        F.cross_entropy
        if spec.loss == "categorical_cross_entropy"
        else F.binary_cross_entropy_with_logits
    )
    k, m = spec.batch, x.shape[0]
    for order in orders[: num_epochs or spec.num_epochs]:
        for start in range(0, m, k):
            if k == m:
                xb, tb = x, target  # full batch: no gather
            else:
                rows = order[start : start + k]
                xb, tb = x[rows], target[rows]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), tb)
            loss.backward()
            opt.step()
    linears = [layer for layer in model if isinstance(layer, torch.nn.Linear)]
    return [
        (lin.weight.detach().numpy().T.copy(), lin.bias.detach().numpy().copy()) for lin in linears
    ]


def prepare(problem: Problem, models: list[NumpyParams] | None = None):
    """``run() -> per-model params``: the models trained one after another."""
    torch.set_num_threads(THREADS)
    inits = problem.init if models is None else models
    data = tensors(problem)

    def run():
        return [train(problem, init, data) for init in inits]

    return run


def set_threads(n: int) -> None:
    """Use ``n`` intra-op threads from now on (2 unless the runner is told otherwise)."""
    global THREADS
    THREADS = n
    torch.set_num_threads(n)


def version() -> str:
    return f"torch {torch.__version__} ({torch.get_num_threads()} threads)"


def warm_up(problem: Problem) -> None:
    """One epoch of one model: loads torch's kernels so the first timed run is not penalised."""
    torch.set_num_threads(THREADS)
    train(problem, problem.init[0], num_epochs=1)
