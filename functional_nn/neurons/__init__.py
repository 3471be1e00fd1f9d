"""Single neurons of the lecture's history section: McCulloch–Pitts, the perceptron, Adaline, XOR.

Same conventions as the rest of the library (batch-first arrays, pure functions,
``jax.random`` keys), but these models stand on their own: the perceptron and
Adaline keep their bias as the weight ``w_0`` of a constant input ``x_0 = 1``, so
their weights are one vector ``w`` of shape ``(n_in + 1,)``.

Modules:
    mcculloch_pitts: binary threshold units, two readings of inhibition, logic gates.
    perceptron: Rosenblatt's rule in a compiled loop; margin and Novikoff's bound.
    adaline: the Widrow–Hoff rule (online, mini-batch, full batch); least squares.
    separability: data with a known margin; exact separability certificates.
    xor: the XOR certificate and the hand-set two-layer threshold network.
"""

from functional_nn.neurons._checks import add_bias_input
from functional_nn.neurons.adaline import (
    AdalineResult,
    adaline_classify,
    adaline_loss,
    adaline_output,
    least_squares,
    train_adaline,
)
from functional_nn.neurons.mcculloch_pitts import (
    INHIBITION_READINGS,
    McCullochPitts,
    absolute_to_weighted,
    all_binary_inputs,
    and_gate,
    find_unit,
    fire,
    fire_network,
    mcculloch_pitts,
    nand_gate,
    not_gate,
    or_gate,
    truth_table,
    xor_network,
)
from functional_nn.neurons.perceptron import (
    PerceptronResult,
    margin,
    novikoff_bound,
    perceptron_output,
    train_perceptron,
)
from functional_nn.neurons.separability import (
    InseparabilityCertificate,
    SeparableData,
    SeparatingHyperplane,
    certificate_combination,
    linearly_separable,
    separability_certificate,
    separable_data,
    verify_certificate,
)
from functional_nn.neurons.xor import xor_certificate, xor_data, xor_threshold_network

__all__ = [
    "INHIBITION_READINGS",
    "AdalineResult",
    "InseparabilityCertificate",
    "McCullochPitts",
    "PerceptronResult",
    "SeparableData",
    "SeparatingHyperplane",
    "absolute_to_weighted",
    "adaline_classify",
    "adaline_loss",
    "adaline_output",
    "add_bias_input",
    "all_binary_inputs",
    "and_gate",
    "certificate_combination",
    "find_unit",
    "fire",
    "fire_network",
    "least_squares",
    "linearly_separable",
    "margin",
    "mcculloch_pitts",
    "nand_gate",
    "not_gate",
    "novikoff_bound",
    "or_gate",
    "perceptron_output",
    "separability_certificate",
    "separable_data",
    "train_adaline",
    "train_perceptron",
    "truth_table",
    "verify_certificate",
    "xor_certificate",
    "xor_data",
    "xor_network",
    "xor_threshold_network",
]
