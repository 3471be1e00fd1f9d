"""functional_nn: the feedforward networks of a deep-learning lecture as pure JAX functions."""

from functional_nn import activations, losses
from functional_nn.activations import get_activation
from functional_nn.backprop import backward, objective, value_and_grad
from functional_nn.losses import get_loss
from functional_nn.network import MLP, Dense, Trace

__version__ = "0.1.0"
from functional_nn.gradcheck import GradientReport, assert_gradients_match, compare_gradients
