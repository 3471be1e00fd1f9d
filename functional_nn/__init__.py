"""functional_nn: the feedforward networks of a deep-learning lecture as pure JAX functions."""

from functional_nn import (
    activations,
    critical_points,
    data,
    graph,
    linear_regression,
    losses,
    neurons,
    plots,
    sigmoid_neuron,
)  # plots imports matplotlib only when a figure is drawn
from functional_nn.activations import get_activation
from functional_nn.backprop import backward, objective, value_and_grad
from functional_nn.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from functional_nn.checkpoint_dir import (
    LatestCheckpoint,
    checkpoint_path,
    checkpoint_steps,
    latest_checkpoint,
    load_latest,
    save_checkpoint_step,
)
from functional_nn.critical_points import CriticalPoint, classify_critical_point
from functional_nn.critical_points import CriticalPointSearch, find_critical_point
from functional_nn.diagnostics import gradient_norms, per_example_gradients
from functional_nn.gradcheck import GradientReport, assert_gradients_match, compare_gradients
from functional_nn.graph import Graph, Node, build_graph, plot_graph, to_dot
from functional_nn.losses import get_loss
from functional_nn.network import MLP, Dense, Trace
from functional_nn.parallel import data_mesh
from functional_nn.schedules import (
    InverseTimeDecay,
    SGDState,
    inverse_time_decay,
    sgd,
    steps_per_epoch,
)
from functional_nn.train import (
    ConvergenceWarning,
    FitManyResult,
    FitResult,
    batch_indices,
    fit,
    fit_many,
)


from functional_nn.gradcheck import check_gradients
from functional_nn.taylor import TaylorReport, taylor_test
from functional_nn.second_order import check_hvp, gauss_newton_vp, hessian_extreme_eigenvalues, hvp
from functional_nn.per_example import check_per_example
from functional_nn.rounding import check_rounding, gradient_error_bound

from functional_nn.checkpoint import CheckpointWriteError
from functional_nn.train import SegmentState

__version__ = "0.1.0"
