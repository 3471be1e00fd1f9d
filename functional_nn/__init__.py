"""functional_nn: the feedforward networks of a deep-learning lecture as pure JAX functions."""

# plots and taylor_plots import matplotlib only when a figure is drawn.
from functional_nn import (
    activations,
    critical_points,
    data,
    flags,
    graph,
    linear_regression,
    losses,
    neurons,
    plots,
    sigmoid_neuron,
)
from functional_nn.activations import get_activation
from functional_nn.backprop import backward, objective, value_and_grad
from functional_nn.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointWriteError,
    load_checkpoint,
    save_checkpoint,
)
from functional_nn.checkpoint_dir import (
    LatestCheckpoint,
    checkpoint_path,
    checkpoint_steps,
    latest_checkpoint,
    load_latest,
    save_checkpoint_step,
)
from functional_nn.critical_points import (
    CriticalPoint,
    CriticalPointSearch,
    classify_critical_point,
    find_critical_point,
)
from functional_nn.diagnostics import gradient_norms, per_example_gradients
from functional_nn.gradcheck import (
    GradientReport,
    assert_gradients_match,
    check_gradients,
    compare_gradients,
)
from functional_nn.graph import Graph, Node, build_graph, plot_graph, to_dot
from functional_nn.losses import get_loss
from functional_nn.network import MLP, Dense, Trace
from functional_nn.parallel import data_mesh, members_mesh
from functional_nn.per_example import check_per_example
from functional_nn.rounding import check_rounding, gradient_error_bound
from functional_nn.schedules import (
    InverseTimeDecay,
    SGDState,
    inverse_time_decay,
    sgd,
    steps_per_epoch,
)
from functional_nn.second_order import check_hvp, gauss_newton_vp, hessian_extreme_eigenvalues, hvp
from functional_nn.taylor import TaylorReport, taylor_test
from functional_nn.train import (
    ConvergenceWarning,
    FitManyResult,
    FitResult,
    SegmentState,
    batch_indices,
    fit,
    fit_many,
)

__version__ = "0.2.0"

# The public surface: what the API reference documents and `from functional_nn import *` binds.
__all__ = [
    "__version__",
    # submodules
    "activations",
    "critical_points",
    "data",
    "flags",
    "graph",
    "linear_regression",
    "losses",
    "neurons",
    "plots",
    "sigmoid_neuron",
    # the network and its gradients
    "MLP",
    "Dense",
    "Trace",
    "get_activation",
    "get_loss",
    "backward",
    "objective",
    "value_and_grad",
    # training
    "fit",
    "fit_many",
    "FitResult",
    "FitManyResult",
    "ConvergenceWarning",
    "SegmentState",
    "batch_indices",
    "sgd",
    "SGDState",
    "inverse_time_decay",
    "InverseTimeDecay",
    "steps_per_epoch",
    "data_mesh",
    "members_mesh",
    # checkpoints
    "Checkpoint",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "LatestCheckpoint",
    "CheckpointWriteError",
    "checkpoint_path",
    "checkpoint_steps",
    "latest_checkpoint",
    "load_latest",
    "save_checkpoint_step",
    # checking gradients
    "check_gradients",
    "compare_gradients",
    "assert_gradients_match",
    "GradientReport",
    "taylor_test",
    "TaylorReport",
    "check_hvp",
    "hvp",
    "gauss_newton_vp",
    "hessian_extreme_eigenvalues",
    "check_per_example",
    "check_rounding",
    "gradient_error_bound",
    "gradient_norms",
    "per_example_gradients",
    # critical points
    "CriticalPoint",
    "CriticalPointSearch",
    "classify_critical_point",
    "find_critical_point",
    # computation graphs
    "Graph",
    "Node",
    "build_graph",
    "plot_graph",
    "to_dot",
]
