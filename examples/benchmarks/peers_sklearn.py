"""The scikit-learn peer: ``MLPClassifier`` started from the shared initial weights.

``MLPClassifier`` has no argument for initial weights, so each classifier is
built once (``partial_fit`` over the data creates its layers and label
encoding; its weights are then replaced), then before every timed run its ``coefs_`` / ``intercepts_`` are
overwritten with copies of the shared start and ``fit`` runs with
``warm_start=True``, which keeps them and makes a fresh optimizer.

How close this gets to the other implementations:

* the same network, loss (log-loss on a logistic / softmax output, ``alpha=0``
  so no L2 term), learning rate, batch size and number of epochs;
* the same initial weights, exactly;
* the sample order is ``problem.orders[0]`` in *every* epoch (``shuffle=False``):
  ``fit`` cannot take a per-epoch order, and feeding one through ``partial_fit``
  per epoch would add a call's validation overhead to every epoch;
* Adam puts ε inside the bias correction (``lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε)``)
  where optax and torch use ``m̂/(√v̂ + ε)``, a difference of order ε.
"""

from __future__ import annotations

import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from workloads import NumpyParams, Problem, Spec

_ACTIVATIONS = {"sigmoid": "logistic", "tanh": "tanh", "relu": "relu"}


def _classifier(spec: Spec, num_epochs: int) -> MLPClassifier:
    return MLPClassifier(
        hidden_layer_sizes=spec.layer_sizes[1:-1],
        activation=_ACTIVATIONS[spec.activation],
        solver=spec.optimizer,
        alpha=0.0,
        batch_size=spec.batch,
        learning_rate="constant",
        learning_rate_init=spec.learning_rate,
        max_iter=num_epochs,
        shuffle=False,
        momentum=0.0,
        nesterovs_momentum=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        tol=0.0,
        # never stop early: the count of epochs without improvement survives across warm-started fits
        n_iter_no_change=np.iinfo(np.int32).max,
        warm_start=True,
        random_state=0,
    )


def _built(problem: Problem, num_epochs: int) -> MLPClassifier:
    spec = problem.spec
    clf = _classifier(spec, num_epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.partial_fit(problem.x, problem.labels, classes=np.unique(problem.labels))
    return clf


def _fit(clf: MLPClassifier, init: NumpyParams, x: np.ndarray, labels: np.ndarray) -> NumpyParams:
    clf.coefs_ = [w.copy() for w, _ in init]
    clf.intercepts_ = [b.copy() for _, b in init]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the planned epoch count
        clf.fit(x, labels)
    return [(w.copy(), b.copy()) for w, b in zip(clf.coefs_, clf.intercepts_)]


def prepare(problem: Problem, models: list[NumpyParams] | None = None):
    """``run() -> per-model params``: the models trained one after another."""
    inits = problem.init if models is None else models
    classifiers = [_built(problem, problem.spec.num_epochs) for _ in inits]
    first = problem.orders[0]
    x, labels = problem.x[first], problem.labels[first]

    def run():
        return [_fit(clf, init, x, labels) for clf, init in zip(classifiers, inits)]

    return run


def warm_up(problem: Problem) -> None:
    _fit(_built(problem, 1), problem.init[0], problem.x, problem.labels)


def version() -> str:
    return f"scikit-learn {sklearn.__version__}"
