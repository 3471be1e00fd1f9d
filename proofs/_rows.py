"""The ledger's rows: every formula and numeric claim of the lecture, in lecture order.

Each row is ``(id, line, section, claim, status, correction, check)``; ``line`` is
the line of the lecture's text (``feedforward-networks-and-backprop.md``, see
``proofs/README.md`` for where it is expected) where the claim stands; ``check`` a
pytest node id under ``proofs/`` (or ``"reference"`` for historical claims).
``ANCHORS[id]`` are the tokens the row judges, transcribed from that line of the
slide's text; ``proof_ledger.py`` checks they stand there. :mod:`proofs.ledger`
turns both into :class:`proofs.ledger.Row`.
"""

from __future__ import annotations

HOLDS = "holds"
ERRATUM = "erratum"
NOTATION = "notation"
CONVENTION = "convention"
HISTORICAL = "historical claim (not machine-checkable)"
REFERENCE = "reference"

NEURONS = "proofs/proof_neurons.py::"
NOVIKOFF = "proofs/proof_perceptron_convergence.py::"
XOR = "proofs/proof_xor.py::"
ACT = "proofs/proof_activations.py::"
TANH = "proofs/proof_tanh_sigmoid.py::"
SOFTMAX = "proofs/proof_softmax.py::"
GD = "proofs/proof_gradient_descent.py::"
GRAPH = "proofs/proof_computation_graph.py::"
SADDLE = "proofs/proof_saddle_point.py::"
REG = "proofs/proof_sigmoid_regression.py::"
CLS = "proofs/proof_sigmoid_classification.py::"
SCHED = "proofs/proof_learning_rate_schedule.py::"
BATCH = "proofs/proof_batch_size.py::"
LOSS = "proofs/proof_batch_loss.py::"
ONEHOT = "proofs/proof_one_hot.py::"
BP = "proofs/proof_backprop.py::"
DELTA = "proofs/proof_output_delta.py::"
UNIVERSAL = "proofs/proof_universal_approximation.py::"
MINIMA = "proofs/proof_local_minima.py::"

S_MP = "History of neural networks › McCulloch–Pitts neuron"
S_PERC = "History of neural networks › Perceptron"
S_ADA = "History of neural networks › Adaline"
S_MINSKY = "History of neural networks › Perceptrons and XOR"
S_OPT = "History of neural networks › Optimization"
S_DESIRED = "Activation function › Desirable features"
S_LIN = "Activation function › Linear"
S_THR = "Activation function › Threshold"
S_SIG = "Activation function › Sigmoid"
S_TANH = "Activation function › Tanh"
S_RELU = "Activation function › ReLU"
S_LRELU = "Activation function › Leaky ReLU"
S_SOFT = "Activation function › Softmax"
S_COST = "Gradient based learning › Cost function and gradient descent"
S_GRAPH = "Gradient based learning › Computation graph"
S_SADDLE = "Gradient based learning › Local minima and saddle points"
S_REG = "Gradient based learning › Sigmoid neuron (regression)"
S_CLS = "Gradient based learning › Sigmoid neuron (classification)"
S_LR = "Gradient based learning › Learning rate"
S_TOPO = "Deep feed-forward networks › The optimal topology of the networks"
S_DFF = "Deep feed-forward networks › Decision surface of perceptron"
S_TRAIN = "Backpropagation algorithm › Training a neural network"
S_LOSS = "Backpropagation algorithm › Computing loss"
S_BACK = "Backpropagation algorithm › Backward pass"
S_DEMO = "Backpropagation algorithm › A simple demo (summary)"
S_READ = "Reading"

MANY_LOCAL_MINIMA_CORRECTION = (
    "For XOR the failures are real but are not local minima. examples/local_minima.py, 128 seeds per group, 10⁵ "
    "full-batch steps, float32 and float64 alike: 28 (MSE) and 36 (cross-entropy) of the 2-2-1 runs and 1 of "
    "the 2-3-1 runs end unsolved, most with ŷ → ½ on two inputs (J → 1/16, resp. ln 2/2), a few with ŷ ≈ ⅔ on "
    "01, 10, 11. Every one of them drifts: ‖w‖ grows (×1.24 per decade of steps) while ‖∇J‖ decays (≈ 1e-5 at "
    "10⁵ steps, ≈ 1e-6 at 10⁶); and a Levenberg–Marquardt search for ∇J = 0 from each endpoint (float64) finds "
    "no critical point at finite weights: ‖∇J‖ falls only as ‖w‖ grows. The stuck runs approach minima at "
    "infinity (saturated hidden units), not local minima; the 2-1-1 network with skip connections was stuck in "
    "none of its runs. After only 10⁴ steps (the check here, 16 starts) a run can also still linger at a saddle "
    "with small weights (a true critical point with a negative Hessian eigenvalue) — again not a minimum. "
    "Consistent with Hamey (1998) and Sprinkhuizen-Kuyper & Boers (1996, 1998)."
)

ROWS = (
    # --- history: neuron models ------------------------------------------------------------------
    (
        "mp-unit",
        54,
        S_MP,
        "Inputs are binary; output fires (1) or not (0); until inputs summed up to a threshold, output remains zero",
        HOLDS,
        "",
        NEURONS + "test_mcculloch_pitts_unit_fires_at_threshold",
    ),
    (
        "mp-inhibition",
        56,
        S_MP,
        "Excitatory connections have positive weights and inhibitory connections have negative weights",
        CONVENTION,
        "This is the weighted reading; McCulloch & Pitts (1943) used absolute inhibition (any active inhibitory "
        "input vetoes firing). They differ, e.g. w = (1, 1, −1), θ = 1 on x = (1, 1, 1). The library offers both.",
        NEURONS + "test_inhibition_weighted_versus_absolute",
    ),
    (
        "perceptron-learns",
        73,
        S_PERC,
        "Weights and thresholds can be determined analytically or by a learning algorithm",
        HOLDS,
        "",
        NOVIKOFF + "test_perceptron_mistakes_within_novikoff_bound",
    ),
    (
        "perceptron-history",
        78,
        S_PERC,
        "Perceptron (Frank Rosenblat (1958)); perceptron updates weights (Rosenblatt 1960)",
        HISTORICAL,
        "Spelling: Rosenblatt. Dates fit: the perceptron paper is Rosenblatt (1958, Psychological Review); "
        "1960 matches his 'Perceptron simulation experiments' (Proc. IRE).",
        REFERENCE,
    ),
    (
        "perceptron-rule",
        92,
        S_PERC,
        "w_j^(t) ← w_j^(t) + α x_j (t − y)",
        NOTATION,
        "w_j^(t+1) = w_j^(t) + α x_j (t − y), y = U(Σ_j w_j x_j), x_0 = 1. The left side needs (t+1), and the "
        "iteration counter (t) clashes with the target t.",
        NEURONS + "test_perceptron_rule_updates_w_t_plus_one",
    ),
    (
        "madaline",
        105,
        S_ADA,
        "A multilayer network of Adaline units is known as a MAdaline",
        HISTORICAL,
        "Right name, loosely described: Widrow's MADALINE ('many Adalines', 1962) is a layer of Adalines whose "
        "thresholded outputs feed a fixed logic unit (OR, AND or majority), trained by Madaline Rule I; networks with "
        "several adaptive layers came with MRII (Winter & Widrow 1988). Not trained by backpropagation: thresholded "
        "units pass no gradient (row threshold-derivative). Widrow & Lehr (1990, Proc. IEEE) review them.",
        REFERENCE,
    ),
    (
        "adaline-output",
        109,
        S_ADA,
        "y = Σ_{j=0}^n w_j x_j",
        HOLDS,
        "",
        NEURONS + "test_adaline_rule_is_sgd_on_half_squared_error",
    ),
    (
        "adaline-rule",
        114,
        S_ADA,
        "w_j^(t+1) ← w_j^(t) + α x_j (t − y)",
        HOLDS,
        "",
        NEURONS + "test_adaline_rule_is_sgd_on_half_squared_error",
    ),
    (
        "adaline-squared-error",
        117,
        S_ADA,
        "The least squares error which is (t − y)²",
        CONVENTION,
        "The rule is SGD on ½(t − y)²; the gradient of (t − y)² is −2(t − y)x_j, so on (t − y)² the factor 2 is "
        "absorbed into α.",
        NEURONS + "test_adaline_rule_is_sgd_on_half_squared_error",
    ),
    (
        "adaline-converges",
        117,
        S_ADA,
        "The Adaline converges to the least squares error",
        NOTATION,
        "True under a condition the slide leaves out. The rule (one example per step) with a decaying α_k, Σα_k = ∞, "
        "Σα_k² < ∞ (the lecture's own α_k = c1/(k + c2)), or full-batch steps with 0 < α < 2/λ_max, converge to the "
        "least-squares w*, XᵀX w* = Xᵀt; with a constant α per-example steps settle O(α) away from w* (halving α "
        "halves the gap) unless every residual is 0. The slide fixes no step schedule, so the claim is incomplete, "
        "not false.",
        NEURONS + "test_adaline_constant_step_does_not_converge_to_least_squares",
    ),
    (
        "adaline-sgd",
        117,
        S_ADA,
        "This update rule is in fact the stochastic gradient descent update for linear regression",
        HOLDS,
        "",
        NEURONS + "test_adaline_rule_is_sgd_on_half_squared_error",
    ),
    (
        "minsky-papert",
        123,
        S_MINSKY,
        "Minsky and Papert published their book Perceptrons",
        HISTORICAL,
        "Year missing: Perceptrons, MIT Press, 1969.",
        REFERENCE,
    ),
    (
        "perceptron-separable-only",
        123,
        S_MINSKY,
        "Perceptrons could only solve linearly separable problems",
        HOLDS,
        "",
        XOR + "test_perceptron_decision_surface_is_a_half_space",
    ),
    (
        "xor-not-learnable",
        124,
        S_MINSKY,
        "It is not possible for Perceptrons to learn an XOR function",
        HOLDS,
        "",
        XOR + "test_xor_is_not_linearly_separable",
    ),
    (
        "xor-hidden-layer",
        129,
        S_MINSKY,
        "The following multi-layer Perceptron can solve XOR problem; the middle layer is a hidden layer",
        HOLDS,
        "",
        XOR + "test_one_hidden_layer_computes_xor",
    ),
    (
        "bryson-ho",
        139,
        S_OPT,
        "In 1969, Bryson and Ho described proposed Backpropagation as a multi-stage dynamic system optimization method",
        HISTORICAL,
        "Essentially right (Bryson & Ho, Applied Optimal Control, 1969); the method goes back to Kelley (1960) and "
        "Bryson (1961) in optimal control.",
        REFERENCE,
    ),
    (
        "werbos-rhw",
        141,
        S_OPT,
        "In 1974, Paul Werbos, David E. Rumelhart, Geoffrey E. Hinton and Ronald J. Williams reinvented Backpropagation",
        HISTORICAL,
        "Two events conflated: Werbos proposed backpropagation for neural networks in his 1974 Harvard PhD thesis; "
        "Rumelhart, Hinton & Williams popularised it in 1986 (Nature, 'Learning representations by "
        "back-propagating errors').",
        REFERENCE,
    ),
    (
        "out-of-favor",
        146,
        S_OPT,
        "In 2000s, neural networks fell out of favor partly due to BP limitations",
        HISTORICAL,
        "The decline is usually dated to the mid/late 1990s (support vector machines and kernel methods); the 2000s "
        "are when the revival began (deep belief networks, Hinton, Osindero & Teh 2006).",
        REFERENCE,
    ),
    (
        "gpus",
        148,
        S_OPT,
        "In 2010, we are now able to train much larger networks using huge modern computing power such as GPUs",
        HISTORICAL,
        "Roughly right: GPU training of large networks spread around 2009–2012 (Raina, Madhavan & Ng 2009; "
        "Cireşan et al. 2010; Krizhevsky, Sutskever & Hinton 2012).",
        REFERENCE,
    ),
    # --- activation functions ------------------------------------------------------------------------
    (
        "gradient-nonzero",
        165,
        S_DESIRED,
        "In gradient-based algorithms, gradient must be nonzero everywhere",
        ERRATUM,
        "Not needed, and the lecture's own choice contradicts it: ReLU (recommended for hidden layers, line 553) has "
        "f' = 0 for every x < 0, yet a 1-8-1 ReLU network trained by gradient descent cuts its loss below a tenth. "
        "Gradient learning needs f' ≠ 0 on a set of positive measure that the units' inputs reach; the threshold "
        "unit (f' = 0 off the origin) fails that, its weights get zero gradient and never move.",
        ACT + "test_gradient_need_not_be_nonzero_everywhere_relu_trains",
    ),
    (
        "linear",
        182,
        S_LIN,
        "f(x) = x, f'(x) = 1",
        HOLDS,
        "",
        ACT + "test_linear_derivative_is_one_and_nonzero",
    ),
    (
        "linear-nonzero",
        191,
        S_LIN,
        "Its derivative is nonzero",
        HOLDS,
        "",
        ACT + "test_linear_derivative_is_one_and_nonzero",
    ),
    (
        "linear-no-nonlinearity",
        196,
        S_LIN,
        "Output is not in a range; no results in nonlinearity",
        HOLDS,
        "",
        ACT + "test_linear_layers_compose_to_one_affine_map",
    ),
    (
        "threshold",
        203,
        S_THR,
        "U(x) = 0 if x > 0; 0 if x < 0",
        ERRATUM,
        "U(x) = 1 if x ≥ 0, 0 if x < 0 (the Heaviside step; as written U is identically 0 and never fires). "
        "The library sets U(0) = 1.",
        ACT + "test_threshold_as_written_is_identically_zero",
    ),
    (
        "threshold-derivative",
        204,
        S_THR,
        "U'(x) = 0 if x > 0; δ(0) if x = 0; 0 if x < 0",
        NOTATION,
        "U'(x) = 0 for x ≠ 0 and no derivative at 0 (the difference quotient blows up); as a distribution U' = δ(x), "
        "a Dirac delta, not a value δ(0). The library returns 0 and refuses to train through threshold units.",
        ACT + "test_threshold_derivative_is_dirac_delta_not_a_value",
    ),
    (
        "threshold-zero",
        215,
        S_THR,
        "Its derivative is zero except at the origin",
        HOLDS,
        "",
        ACT + "test_threshold_derivative_is_dirac_delta_not_a_value",
    ),
    (
        "sigmoid",
        219,
        S_SIG,
        "σ(x) = 1 / (1 + exp^{−x})",
        NOTATION,
        "σ(x) = 1 / (1 + e^{−x}) = 1 / (1 + exp(−x)); 'exp^{−x}' mixes the two notations.",
        ACT + "test_sigmoid_derivative_is_sigma_times_one_minus_sigma",
    ),
    (
        "sigmoid-derivative",
        221,
        S_SIG,
        "σ'(x) = σ(x)(1 − σ(x))",
        HOLDS,
        "",
        ACT + "test_sigmoid_derivative_is_sigma_times_one_minus_sigma",
    ),
    (
        "sigmoid-range",
        227,
        S_SIG,
        "Output is in interval [0, 1]",
        NOTATION,
        "(0, 1), open: 0 and 1 are limits at ∓∞ and never attained (floating point does round σ(40) to 1).",
        ACT + "test_sigmoid_range_is_open_unit_interval",
    ),
    (
        "sigmoid-differentiable",
        228,
        S_SIG,
        "It is differentiable",
        HOLDS,
        "",
        ACT + "test_sigmoid_derivative_is_sigma_times_one_minus_sigma",
    ),
    (
        "sigmoid-saturates",
        233,
        S_SIG,
        "Saturates and kills gradients",
        HOLDS,
        "",
        ACT + "test_sigmoid_saturates_with_derivative_at_most_one_quarter",
    ),
    (
        "sigmoid-not-centred",
        234,
        S_SIG,
        "Its output is not zero-centered",
        HOLDS,
        "",
        ACT + "test_sigmoid_is_not_zero_centred",
    ),
    (
        "tanh",
        240,
        S_TANH,
        "tanh(x) = 2σ(2x) − 1",
        HOLDS,
        "",
        TANH + "test_tanh_is_two_sigma_of_two_x_minus_one",
    ),
    (
        "tanh-derivative",
        242,
        S_TANH,
        "tanh'(x) = 1 − (tanh(x)²)",
        HOLDS,
        "",
        TANH + "test_tanh_derivative_is_one_minus_tanh_squared",
    ),
    (
        "tanh-range",
        248,
        S_TANH,
        "Output is in interval [0, 1]",
        ERRATUM,
        "(−1, 1): tanh is odd (tanh(−1) ≈ −0.76), with limits ∓1 never attained.",
        ACT + "test_tanh_range_is_open_minus_one_one",
    ),
    (
        "tanh-differentiable",
        249,
        S_TANH,
        "It is differentiable",
        HOLDS,
        "",
        TANH + "test_tanh_derivative_is_one_minus_tanh_squared",
    ),
    (
        "tanh-centred",
        250,
        S_TANH,
        "Its output is zero-centered",
        HOLDS,
        "",
        ACT + "test_tanh_is_zero_centred",
    ),
    (
        "tanh-saturates",
        255,
        S_TANH,
        "Saturates and kills gradients",
        HOLDS,
        "",
        ACT + "test_tanh_saturates",
    ),
    (
        "relu",
        263,
        S_RELU,
        "Relu(x) = max(0, x); Relu'(x) = 1 if x > 0, ? if x = 0, 0 if x < 0",
        CONVENTION,
        "Relu'(0) does not exist (one-sided derivatives 0 and 1); any value in [0, 1] is a subgradient. The library "
        "uses 0 in both engines, as jax.nn.relu.",
        ACT + "test_relu_derivative_at_zero_is_a_convention",
    ),
    (
        "relu-gradient",
        271,
        S_RELU,
        "Its derivative is nonzero when x > 0; gradient vanishes when x < 0; output is not in a range",
        HOLDS,
        "",
        ACT + "test_relu_derivative_nonzero_for_positive_and_vanishing_for_negative",
    ),
    (
        "leaky-relu",
        281,
        S_LRELU,
        "LRelu(x) = x if x > 0; −ax if x < 0",
        CONVENTION,
        "Right only if a < 0 (a ∈ (−1, 0) for the usual small leak |a|x); the lecture never gives a's sign. Read with "
        "the usual a = 0.01 > 0 (Maas et al. 2013 write a x) the slide's −ax maps −1 to +0.01 and, at a = 1, gives "
        "|x|: not a leaky ReLU. So the reading that makes it right is not shown to be the lecture's; the library "
        "writes negative_slope · x, i.e. the slide's a = −negative_slope.",
        ACT + "test_leaky_relu_sign_convention",
    ),
    (
        "leaky-relu-derivative",
        282,
        S_LRELU,
        "LRelu'(x) = 1 if x > 0; ? if x = 0; −a if x < 0",
        CONVENTION,
        "Consistent with −ax. At 0 the one-sided derivatives are −a and 1; the library uses 1, as jax.nn.leaky_relu.",
        ACT + "test_leaky_relu_kink_and_nonzero_derivative",
    ),
    (
        "leaky-relu-nonzero",
        291,
        S_LRELU,
        "Its derivative is nonzero",
        HOLDS,
        "",
        ACT + "test_leaky_relu_kink_and_nonzero_derivative",
    ),
    (
        "softmax-generalizes-sigmoid",
        300,
        S_SOFT,
        "Softmax is a more generalized form of the sigmoid",
        HOLDS,
        "",
        SOFTMAX + "test_softmax_of_two_classes_is_sigmoid_of_difference",
    ),
    (
        "softmax",
        303,
        S_SOFT,
        "a_i(x) = exp^{z_i} / Σ_k exp^{z_k}",
        NOTATION,
        "a_i(z) = e^{z_i} / Σ_k e^{z_k}: the argument is z (not x), and exp^{z} means e^{z} = exp(z).",
        SOFTMAX + "test_softmax_formula_reads_exp_of_z",
    ),
    (
        "softmax-example",
        306,
        S_SOFT,
        "x = [1.60, 0.55, 0.98]ᵀ gives a = [0.51, 0.18, 0.31]ᵀ",
        ERRATUM,
        "a = [0.5297, 0.1854, 0.2849]ᵀ ≈ [0.53, 0.19, 0.28]ᵀ; each printed entry, rounded as printed, is "
        "checked on its own, and all three are off.",
        SOFTMAX + "test_softmax_example_as_written_is_wrong",
    ),
    # --- gradient-based learning -----------------------------------------------------------------------
    (
        "cost",
        323,
        S_COST,
        "h(x) = w0 + w1 x; J(w) = 1/(2m) Σ_i (h(x_i) − t_i)²",
        HOLDS,
        "",
        GD + "test_cost_is_half_mean_squared_error",
    ),
    (
        "gd-update",
        352,
        S_COST,
        "w_k^(t+1) = w_k^(t) − α ∂J(w^(t))/∂w_k for k = 0, 1",
        HOLDS,
        "",
        GD + "test_gradient_descent_update_uses_the_partials",
    ),
    (
        "gd-step-size",
        354,
        S_COST,
        "Big step size / small step size (figures)",
        HOLDS,
        "",
        GD + "test_gd_on_quadratic_converges_iff_alpha_below_two_over_lambda_max",
    ),
    (
        "graph",
        372,
        S_GRAPH,
        "u = w1 x, ŷ = w0 + u, z = ŷ − y, L = z²",
        HOLDS,
        "",
        GRAPH + "test_computation_graph_values_and_gradients",
    ),
    (
        "graph-merged",
        383,
        S_GRAPH,
        "The same example as ŷ = w0 + w1 x, z = ŷ − y, L = z², and as ŷ = w0 + w1 x, L = (ŷ − y)²",
        HOLDS,
        "",
        GRAPH + "test_three_graphs_of_the_example_are_one_function",
    ),
    (
        "saddle-zero-gradient",
        402,
        S_SADDLE,
        "For non-convex functions, having the gradient to be 0 is not good enough",
        HOLDS,
        "",
        SADDLE + "test_gradient_descent_stalls_on_the_stable_axis_and_escapes_off_it",
    ),
    (
        "saddle",
        404,
        S_SADDLE,
        "f(x) = x1² − x2² at (0, 0) has zero gradient but is not a local minimum: (0, ε) is smaller; a saddle point",
        HOLDS,
        "",
        SADDLE + "test_saddle_point_of_x1_squared_minus_x2_squared",
    ),
    (
        "reg-cost",
        421,
        S_REG,
        "J(w) = 1/(2m) Σ_i (h(x^i) − t^i)² with f(z) = 1/(1 + e^{−z})",
        HOLDS,
        "",
        REG + "test_sigmoid_regression_cost_and_gradient_match_the_library",
    ),
    (
        "reg-chain",
        437,
        S_REG,
        "∂J/∂w_j = ∂J/∂f(z) × ∂f(z)/∂z × ∂z/∂w_j",
        NOTATION,
        "∂J/∂w_j = Σ_i ∂J/∂f(z^i) · ∂f(z^i)/∂z^i · ∂z^i/∂w_j: one product per example, summed over i.",
        REG + "test_chain_rule_needs_sum_over_examples",
    ),
    (
        "reg-dJ-df",
        439,
        S_REG,
        "∂J/∂f(z^i) = (1/m) Σ_{i=1}^m (f(z^i) − t^i)",
        ERRATUM,
        "∂J/∂f(z^i) = (1/m)(f(z^i) − t^i); the sum belongs outside the product: "
        "∂J/∂w_j = (1/m) Σ_i (f(z^i) − t^i) f(z^i)(1 − f(z^i)) x_j^i.",
        REG + "test_per_example_factor_has_no_sum_over_examples",
    ),
    (
        "reg-df-dz",
        441,
        S_REG,
        "∂f(z)/∂z = e^{−z} / (1 + e^{−z})² = f(z)(1 − f(z))",
        HOLDS,
        "",
        REG + "test_sigmoid_derivative_identity_in_the_neuron",
    ),
    (
        "reg-dz-dw",
        443,
        S_REG,
        "∂z/∂w_j = x^j",
        NOTATION,
        "∂z^i/∂w_j = x_j^i, coordinate j of example i (x^j would be example j). The slide also asks for ∂J/∂w_i, "
        "reusing the example index.",
        REG + "test_dz_dw_is_coordinate_j_of_example_i",
    ),
    (
        "reg-update",
        445,
        S_REG,
        "w_j^(t+1) = w_j^(t) − α ∂J(w)/∂w_j",
        HOLDS,
        "",
        REG + "test_sigmoid_regression_update_lowers_the_cost",
    ),
    (
        "cls-cost",
        455,
        S_CLS,
        "J(w) = Σ_i [−t^i ln h(x^i) − (1 − t^i) ln(1 − h(x^i))]",
        CONVENTION,
        "A valid definition, but it sums where the regression slide and the library average: J = m · J_library, "
        "so the gradient (and the effective α) scale by m.",
        CLS + "test_cross_entropy_cost_is_m_times_the_library_mean",
    ),
    (
        "cls-gradient",
        459,
        S_CLS,
        "∇J(w) = Σ_i t^i x^i (h(x^i) − t^i)",
        ERRATUM,
        "∇J(w) = Σ_i x^i (h(x^i) − t^i): the factor t^i is spurious (it drops every negative example).",
        CLS + "test_cross_entropy_gradient_has_no_target_factor",
    ),
    (
        "cls-update",
        463,
        S_CLS,
        "w^(t+1) = w^(t) − α Σ_i t^i x^i (h(x^i) − t^i)",
        ERRATUM,
        "w^(t+1) = w^(t) − α Σ_i x^i (h(x^i) − t^i); as written it never moves on all-negative data.",
        CLS + "test_cross_entropy_update_as_written_ignores_negative_examples",
    ),
    (
        "lr-too-high-low",
        469,
        S_LR,
        "If α is too high, the algorithm diverges; if α is too low, it is slow to converge",
        HOLDS,
        "",
        GD + "test_gd_on_quadratic_converges_iff_alpha_below_two_over_lambda_max",
    ),
    (
        "lr-schedule",
        474,
        S_LR,
        "α_k = c1 / (k + c2) where c1 and c2 are two constants",
        NOTATION,
        "Needs c1 > 0 and k + c2 > 0 for every k used (c2 > 0 if k starts at 0, c2 > −1 if at 1); otherwise steps "
        "ascend or divide by zero.",
        SCHED + "test_schedule_needs_positive_constants",
    ),
    (
        "lr-robbins-monro",
        474,
        S_LR,
        "(theorem behind the schedule) Σ_k α_k = ∞ and Σ_k α_k² < ∞",
        HOLDS,
        "",
        SCHED + "test_schedule_sum_diverges_and_sum_of_squares_converges",
    ),
    (
        "lr-fine-tuning",
        479,
        S_LR,
        "The first iterations cause large changes in w, while the later ones do only fine-tuning",
        HOLDS,
        "",
        SCHED + "test_schedule_is_decreasing_to_zero",
    ),
    # --- deep feed-forward networks -------------------------------------------------------------------
    (
        "universal-approx",
        499,
        S_TOPO,
        "Neural networks are universal approximators",
        NOTATION,
        "True with the theorem's conditions, which the slide omits (Cybenko 1989, Hornik 1991, Leshno et al. 1993): "
        "one hidden layer with a continuous, non-polynomial activation and a linear output approximates any "
        "continuous function on a compact set uniformly, for a large enough width. It bounds neither the width nor "
        "says gradient descent finds the weights. Measured: the sup error of a 1-N-1 sigmoid network on [0, 1] "
        "falls 0.31, 0.12, 0.058, 0.029, 0.014 for N = 4 … 64; with a linear (polynomial) activation it stays 0.95.",
        UNIVERSAL + "test_one_hidden_layer_error_falls_with_width_under_the_theorems_conditions",
    ),
    (
        "decision-surface",
        515,
        S_DFF,
        "What is the decision surface of perceptron? (a hyperplane w · x̃ = 0)",
        HOLDS,
        "",
        XOR + "test_perceptron_decision_surface_is_a_half_space",
    ),
    # --- backpropagation ------------------------------------------------------------------------------
    (
        "training-box-indices",
        587,
        S_TRAIN,
        "for i ← 1 to K do: give x_i to the network and ŷ_i (inside 'create a batch S_B ⊆ S; K ← |S_B|')",
        NOTATION,
        "i runs over the batch (1..K) but x_i indexes S = {(x_1, y_1), …, (x_m, y_m)}: read literally every step "
        "feeds x_1..x_K, the first K examples, whatever S_B is, and the other m − K never reach the network. Index "
        "the batch: S_B = {(x_{i_1}, y_{i_1}), …, (x_{i_K}, y_{i_K})} and give x_{i_k} for k = 1..K (or 'for each "
        "(x, y) ∈ S_B').",
        BATCH + "test_training_box_index_i_must_run_over_the_batch_not_over_s",
    ),
    (
        "batch-regimes",
        603,
        S_TRAIN,
        "Epoch: one pass over all examples; batch size K; K = 1 SGD, K ≪ m mini-batch, K = m batch gradient descent",
        HOLDS,
        "",
        BATCH + "test_batch_size_example_m_1000",
    ),
    (
        "batch-example",
        623,
        S_TRAIN,
        "m = 1000: SGD uses 1000 batches of size 1; K = 50 gives 20 batches of size 50; batch GD one batch of 1000",
        HOLDS,
        "",
        BATCH + "test_batch_size_example_m_1000",
    ),
    (
        "batch-loss",
        653,
        S_LOSS,
        "J(w) = (1/K) Σ_{k=1}^K Σ_{c=1}^C ℓ(ŷ_k^c, y_k^c)",
        HOLDS,
        "",
        LOSS + "test_batch_loss_is_mean_over_examples_of_sum_over_outputs",
    ),
    (
        "one-hot",
        667,
        S_LOSS,
        "Classes 1, 2, 3 as (1, 0, 0), (0, 1, 0), (0, 0, 1)",
        HOLDS,
        "",
        ONEHOT + "test_one_hot_example_three_classes",
    ),
    (
        "one-hot-loss",
        671,
        S_LOSS,
        "Then use the above vectors for computing loss function",
        HOLDS,
        "",
        ONEHOT + "test_one_hot_cross_entropy_picks_the_true_class",
    ),
    (
        "update",
        684,
        S_BACK,
        "w^{t+1} = w^t − α ∂J(w)/∂w",
        HOLDS,
        "",
        BP + "test_gradient_step_lowers_the_loss",
    ),
    (
        "backward-one-over-k",
        715,
        S_BACK,
        "∂J(w)/∂w_pj^{L−1} = ∂/∂w_pj^{L−1} (Σ_{s=1}^K Σ_{c=1}^C ℓ(ŷ_cs, y_cs))",
        ERRATUM,
        "∂J/∂w_pj^{L−1} = (1/K) ∂/∂w_pj^{L−1} Σ_s Σ_c ℓ(ŷ_cs, y_cs): J has the factor 1/K.",
        LOSS + "test_first_backward_line_drops_one_over_k",
    ),
    (
        "backward-sum-over-s",
        715,
        S_BACK,
        "… = Σ_{c=1}^C ∂/∂w_pj^{L−1} ℓ(ŷ_cs, y_cs)",
        ERRATUM,
        "(1/K) Σ_{s=1}^K Σ_{c=1}^C ∂ℓ(ŷ_cs, y_cs)/∂w_pj^{L−1}: the sum over s is dropped while s stays free.",
        LOSS + "test_first_backward_line_drops_sum_over_examples",
    ),
    (
        "chain-first",
        727,
        S_BACK,
        "Σ_c Σ_s ∂ℓ/∂ŷ_cs · ∂ŷ_cs/∂o_c^L · ∂o_c^L/∂o_j^{L−1} · ∂o_j^{L−1}/∂a_j^{L−1} · ∂a_j^{L−1}/∂w_pj^{L−1}",
        ERRATUM,
        "… · ∂o_c^L/∂a_j^{L−1} · ∂a_j^{L−1}/∂o_j^{L−1} · ∂o_j^{L−1}/∂w_pj^{L−1}: o and a are swapped; as local "
        "derivatives of the graph each swapped factor is 0, so the product is 0. Read as total derivatives it is "
        "not 0 (do_c/do_j = w_jc σ'(o_j), da_j/dw_pj = σ'(o_j) a_p), but o_j is computed before a_j, so do_j/da_j "
        "exists only through the inverse σ⁻¹, 1/σ'(o_j); with it the product telescopes to the right value for an "
        "invertible σ (sigmoid, tanh) and has none for ReLU (constant for o < 0): a detour, not the chain rule "
        "backpropagation computes. Corrected on the next slide.",
        BP + "test_first_chain_rule_line_mixes_o_and_a",
    ),
    (
        "chain-second",
        735,
        S_BACK,
        "Σ_c Σ_s ∂ℓ/∂ŷ_cs · ∂ŷ_cs/∂o_c^L · ∂o_c^L/∂a_j^{L−1} · ∂a_j^{L−1}/∂o_j^{L−1} · ∂o_j^{L−1}/∂w_pj^{L−1}",
        HOLDS,
        "",
        BP + "test_second_chain_rule_line_is_the_gradient_of_the_summed_loss",
    ),
    (
        "sum-over-outputs",
        735,
        S_BACK,
        "The sum over c: w_pj^{L−1} affects every output",
        HOLDS,
        "",
        BP + "test_sum_over_outputs_is_needed",
    ),
    (
        "dl-dyhat",
        739,
        S_BACK,
        "∂ℓ(ŷ_cs, y_cs)/∂ŷ_cs = ?",
        CONVENTION,
        "Depends on ℓ: ŷ − y for ½(ŷ − y)²; (ŷ − y)/(ŷ(1 − ŷ)) for binary cross-entropy; −y/ŷ for categorical "
        "cross-entropy (the library's output_gradient, times 1/K).",
        BP + "test_loss_derivative_left_open_depends_on_the_loss",
    ),
    (
        "delta-sigmoid-bce",
        739,
        S_BACK,
        "(filling the ?) sigmoid output + binary cross-entropy: ∂ℓ/∂o^L = ŷ − y",
        HOLDS,
        "",
        DELTA + "test_sigmoid_cross_entropy_delta_is_y_hat_minus_y",
    ),
    (
        "delta-softmax-cce",
        739,
        S_BACK,
        "(filling the ?) softmax output + categorical cross-entropy: ∂ℓ/∂o^L = ŷ − y",
        HOLDS,
        "",
        DELTA + "test_softmax_categorical_cross_entropy_delta_is_y_hat_minus_y",
    ),
    (
        "delta-sigmoid-mse",
        739,
        S_BACK,
        "(filling the ?) sigmoid output + MSE: ∂ℓ/∂o^L = (ŷ − y) σ'(o^L), no cancellation",
        HOLDS,
        "",
        DELTA + "test_sigmoid_mse_delta_keeps_sigma_prime",
    ),
    (
        "dyhat-do",
        741,
        S_BACK,
        "∂ŷ_cs/∂o_c^L = σ(o_c^L)(1 − σ(o_c^L))",
        HOLDS,
        "",
        BP + "test_sigmoid_factors_of_the_backward_pass",
    ),
    (
        "do-da",
        743,
        S_BACK,
        "∂o_c^L/∂a_j^{L−1} = ∂(Σ_l w_lc^L a_l^{L−1})/∂a_j^{L−1} = w_jk^L",
        ERRATUM,
        "= w_jc^L: only the l = j term depends on a_j^{L−1}, and it carries the output index c (k is unbound). "
        "The summation letter l also collides with the layer index.",
        BP + "test_output_preactivation_derivative_is_w_jc_not_w_jk",
    ),
    (
        "da-do",
        745,
        S_BACK,
        "∂a_j^{L−1}/∂o_j^{L−1} = σ(o_j^{L−1})(1 − σ(o_j^{L−1}))",
        HOLDS,
        "",
        BP + "test_sigmoid_factors_of_the_backward_pass",
    ),
    (
        "do-dw",
        747,
        S_BACK,
        "∂o_j^{L−1}/∂w_pj^{L−1} = ∂(Σ_l w_lj^{L−1} a_l^{L−2})/∂w_pj^{L−1} = a_p^{L−2}",
        HOLDS,
        "",
        BP + "test_hidden_preactivation_derivative_is_a_p",
    ),
    (
        "five-factors-delta",
        749,
        S_BACK,
        "(the five factors above, regrouped) δ^{L−1} = (δ^L W^{Lᵀ}) ⊙ σ'(o^{L−1}), ∂J/∂W^{L−1} = a^{L−2ᵀ} δ^{L−1}",
        HOLDS,
        "",
        BP + "test_five_factors_equal_the_delta_recursion",
    ),
    (
        "generalize",
        749,
        S_BACK,
        "How do you generalize the above equations to other layers? (the δ recursion, any depth)",
        HOLDS,
        "",
        BP + "test_delta_recursion_any_depth_matches_autodiff",
    ),
    (
        "r-operator-hvp",
        749,
        S_BACK,
        "(beyond the lecture: the recursion differentiated once more) H v by the R-operator beside the δ recursion",
        HOLDS,
        "",
        "proofs/proof_hvp.py::test_the_r_operator_of_a_two_layer_chain_is_the_directional_derivative_of_the_gradient",
    ),
    (
        "rounding-bound",
        749,
        S_BACK,
        "(beyond the lecture: the recursion in finite precision) the γ_n bound on a low-precision gradient",
        HOLDS,
        "",
        "proofs/proof_rounding_bound.py::test_dot_products_obey_the_gamma_n_bound_in_every_dtype",
    ),
    (
        "no-convergence",
        761,
        S_DEMO,
        "There is no guarantee of convergence (tested on XOR, the lecture's example)",
        HOLDS,
        "",
        MINIMA + "test_gradient_descent_on_xor_has_no_guarantee_of_convergence",
    ),
    (
        "many-local-minima",
        761,
        S_DEMO,
        "Error function contains many local minima (tested on XOR, the lecture's example)",
        ERRATUM,
        MANY_LOCAL_MINIMA_CORRECTION,
        MINIMA + "test_stuck_xor_runs_are_not_at_local_minima",
    ),
    (
        "reading-goodfellow",
        771,
        S_READ,
        "Chapter 6 of Deep Learning Book (Goodfellow, Bengio & Courville 2016, MIT Press)",
        HISTORICAL,
        "Correct as cited: chapter 6 of Goodfellow, Bengio & Courville, Deep Learning (MIT Press, 2016) is 'Deep "
        "Feedforward Networks', with back-propagation in section 6.5.",
        REFERENCE,
    ),
    (
        "reading-bishop",
        772,
        S_READ,
        "Chapter 8 of Deep Learning: Foundations and Concepts (Bishop & Bishop 2024, Springer)",
        HISTORICAL,
        "Correct as cited: chapter 8 of C. M. Bishop & H. Bishop, Deep Learning: Foundations and Concepts "
        "(Springer, 2024) is 'Backpropagation'; chapter 6, 'Deep Neural Networks', covers the rest of the lecture.",
        REFERENCE,
    ),
)

# The tokens each row judges, as they stand on its line of the lecture text (raw Markdown/LaTeX).
ANCHORS: dict[str, tuple[str, ...]] = {
    "mp-unit": ("Inputs are binary",),
    "mp-inhibition": (
        "Excitatory connections have positive weights",
        "inhibitory connections have negative weights",
    ),
    "perceptron-learns": (
        "Weights and thresholds can be determined analytically or by a learning algorithm",
    ),
    "perceptron-history": ("Frank Rosenblat (1958)",),
    "perceptron-rule": (r"w_j^{(t)} \leftarrow w_j^{(t)} + \alpha x_j(t - y)",),
    "adaline-output": (r"y = \sum_{j=0}^n w_j x_j",),
    "adaline-rule": (r"w_j^{(t+1)} \leftarrow w_j^{(t)} + \alpha x_j(t - y)",),
    "adaline-squared-error": ("least squares error which is", "$(t - y)^2$"),
    "adaline-converges": ("The Adaline converges to the least squares error",),
    "adaline-sgd": ("stochastic gradient descent update for linear regression",),
    "minsky-papert": ("Minsky and Papert published their book **Perceptrons**",),
    "perceptron-separable-only": ("Perceptrons could only solve linearly separable problems",),
    "xor-not-learnable": ("not possible for Perceptrons to learn an XOR function",),
    "xor-hidden-layer": ("multi-layer Perceptron can solve XOR problem",),
    "bryson-ho": ("In 1969, Bryson and Ho", "multi-stage dynamic system optimization method"),
    "werbos-rhw": (
        "In 1974, Paul Werbos, David E. Rumelhart, Geoffrey E. Hinton and Ronald J. Williams reinvented",
    ),
    "out-of-favor": ("In 2000s, neural networks fell out of favor partly due to BP limitations",),
    "gpus": ("In 2010", "GPUs"),
    "linear": ("$$f(x) = x$$",),
    "linear-nonzero": ("Its derivative is nonzero.",),
    "linear-no-nonlinearity": ("Output is not in a range.",),
    "threshold": (
        r"U(x) = \begin{cases} 0 & \text{if } x > 0 \\ 0 & \text{if } x < 0 \end{cases}",
    ),
    "threshold-derivative": (r"\delta(0) & \text{if } x = 0",),
    "threshold-zero": ("Its derivative is zero except at the origin",),
    "sigmoid": (r"\sigma(x) = \frac{1}{1 + \exp^{-x}}",),
    "sigmoid-derivative": (r"\sigma'(x) = \sigma(x)(1 - \sigma(x))",),
    "sigmoid-range": ("Output is in interval", "$[0, 1]$"),
    "sigmoid-differentiable": ("It is differentiable",),
    "sigmoid-saturates": ("Saturates and kills gradients",),
    "sigmoid-not-centred": ("Its output is not zero-centered",),
    "tanh": (r"\tanh(x) = 2\sigma(2x) - 1",),
    "tanh-derivative": (r"\tanh'(x) = 1 - (\tanh(x)^2)",),
    "tanh-range": ("Output is in interval", "$[0, 1]$"),
    "tanh-differentiable": ("It is differentiable",),
    "tanh-centred": ("Its output is zero-centered",),
    "tanh-saturates": ("Saturates and kills gradients",),
    "relu": (
        r"\text{Relu}'(x) = \begin{cases} 1 & \text{if } x > 0 \\ ? & \text{if } x = 0 \\ 0 & \text{if } x < 0",
    ),
    "relu-gradient": ("Its derivative is nonzero when", "$x > 0$"),
    "leaky-relu": (r"-ax & \text{if } x < 0",),
    "leaky-relu-derivative": (r"? & \text{if } x = 0", r"-a & \text{if } x < 0"),
    "leaky-relu-nonzero": ("Its derivative is nonzero.",),
    "softmax-generalizes-sigmoid": ("Softmax is a more generalized form of the sigmoid",),
    "softmax": (r"a_i(x) = \frac{\exp^{z_i}}{\sum_k \exp^{z_k}}",),
    "softmax-example": (r"a_i = [0.51, 0.18, 0.31]^\top",),
    "cost": (r"J(w) = \frac{1}{2m} \sum_{i=1}^m (h(x_i) - t_i)^2",),
    "gd-update": (
        r"w_0^{(t+1)} &= w_0^{(t)} - \alpha \frac{\partial J(w^{(t)})}{\partial w_0}",
        r"w_1^{(t+1)} &= w_1^{(t)} - \alpha \frac{\partial J(w^{(t)})}{\partial w_1}",
    ),
    "gd-step-size": ("Big step size",),
    "graph": ("$$u = w_1 x$$",),
    "graph-merged": (r"$$\hat{y} = w_0 + w_1 x$$",),
    "saddle-zero-gradient": ("having the gradient to be 0 is not good enough",),
    "saddle": ("$f(x) = x_1^2 - x_2^2$", "$x = (0, 0)$", r"$x = (0, \epsilon)$", "saddle point"),
    "reg-cost": (r"J(w) = \frac{1}{2m} \sum_{i=1}^m (h(x^i) - t^i)^2",),
    "reg-chain": (
        r"\frac{\partial J(w)}{\partial f(z)} \times \frac{\partial f(z)}{\partial z} \times "
        r"\frac{\partial z}{\partial w_j}",
    ),
    "reg-dJ-df": (
        r"\frac{\partial J(w)}{\partial f(z^i)} = \frac{1}{m} \sum_{i=1}^m (f(z^i) - t^i)",
    ),
    "reg-df-dz": (r"\frac{e^{-z}}{(1 + e^{-z})^2} = f(z)(1 - f(z))",),
    "reg-dz-dw": (r"\frac{\partial z}{\partial w_j} = x^j",),
    "reg-update": (r"w_j^{(t+1)} = w_j^{(t)} - \alpha \frac{\partial J(w)}{\partial w_j}",),
    "cls-cost": (r"J(w) = \sum_{i=1}^m [-t^i \ln h(x^i) - (1 - t^i) \ln(1 - h(x^i))]",),
    "cls-gradient": (r"\nabla J(w) = \sum_{i=1}^m t^i x^i (h(x^i) - t^i)",),
    "cls-update": (r"w^{(t+1)} = w^{(t)} - \alpha \sum_{i=1}^m t^i x^i (h(x^i) - t^i)",),
    "lr-too-high-low": ("is too high, the algorithm diverges",),
    "lr-schedule": (r"\alpha_k = \frac{c_1}{k + c_2}",),
    "lr-robbins-monro": (r"\alpha_k = \frac{c_1}{k + c_2}",),
    "lr-fine-tuning": (
        "The first iterations cause large changes in the",
        "the later ones do only fine-tuning",
    ),
    "decision-surface": ("What is the decision surface of perceptron?",),
    "batch-regimes": (
        "Epoch is defined as one forward pass and one backward pass of all training examples",
    ),
    "batch-example": ("Let the size of the training set be", "$m = 1000$"),
    "batch-loss": (r"J(w) = \frac{1}{K} \sum_{k=1}^K \sum_{c=1}^C \ell(\hat{y}_k^c, y_k^c)",),
    "one-hot": ("$(1, 0, 0)$  to represent class 1",),
    "one-hot-loss": ("Then use the above vectors for computing loss function",),
    "update": (r"w^{t+1} = w^t - \alpha \frac{\partial J(w)}{\partial w}",),
    "backward-one-over-k": (
        r"\frac{\partial J(w)}{\partial w_{pj}^{L-1}} = \frac{\partial}{\partial w_{pj}^{L-1}} "
        r"\left( \sum_{s=1}^K \sum_{c=1}^C \ell(\hat{y}_{cs}, y_{cs}) \right)",
    ),
    "backward-sum-over-s": (
        r"= \sum_{c=1}^C \frac{\partial}{\partial w_{pj}^{L-1}} \ell(\hat{y}_{cs}, y_{cs})$$",
    ),
    "chain-first": (
        r"\frac{\partial o_c^L}{\partial o_j^{L-1}} \frac{\partial o_j^{L-1}}{\partial a_j^{L-1}} "
        r"\frac{\partial a_j^{L-1}}{\partial w_{pj}^{L-1}}",
    ),
    "chain-second": (
        r"\frac{\partial o_c^L}{\partial a_j^{L-1}} \frac{\partial a_j^{L-1}}{\partial o_j^{L-1}} "
        r"\frac{\partial o_j^{L-1}}{\partial w_{pj}^{L-1}}",
    ),
    "sum-over-outputs": (r"\sum_{c=1}^C \sum_{s=1}^K",),
    "dl-dyhat": (r"\frac{\partial \ell(\hat{y}_{cs}, y_{cs})}{\partial \hat{y}_{cs}} = ?",),
    "delta-sigmoid-bce": (
        r"\frac{\partial \ell(\hat{y}_{cs}, y_{cs})}{\partial \hat{y}_{cs}} = ?",
    ),
    "delta-softmax-cce": (
        r"\frac{\partial \ell(\hat{y}_{cs}, y_{cs})}{\partial \hat{y}_{cs}} = ?",
    ),
    "delta-sigmoid-mse": (
        r"\frac{\partial \ell(\hat{y}_{cs}, y_{cs})}{\partial \hat{y}_{cs}} = ?",
    ),
    "dyhat-do": (
        r"\frac{\partial \hat{y}_{cs}}{\partial o_c^L} = \sigma(o_c^L) (1 - \sigma(o_c^L))",
    ),
    "do-da": (r"\frac{\partial \sum_l w_{lc}^L a_l^{L-1}}{\partial a_j^{L-1}} = w_{jk}^L",),
    "da-do": (
        r"\frac{\partial a_j^{L-1}}{\partial o_j^{L-1}} = \sigma(o_j^{L-1}) (1 - \sigma(o_j^{L-1}))",
    ),
    "do-dw": (r"\frac{\partial \sum_l w_{lj}^{L-1} a_l^{L-2}}{\partial w_{pj}^{L-1}} = a_p^{L-2}",),
    "five-factors-delta": ("How do you generalize the above equations to other layers?",),
    "generalize": ("How do you generalize the above equations to other layers?",),
    "r-operator-hvp": ("How do you generalize the above equations to other layers?",),
    "rounding-bound": ("How do you generalize the above equations to other layers?",),
    "madaline": ("A multilayer network of Adaline units is known as a MAdaline",),
    "gradient-nonzero": ("In gradient-based algorithms, gradient must be nonzero everywhere",),
    "universal-approx": ("Neural networks are **universal approximators**",),
    "training-box-indices": (r"$i \leftarrow 1$", "**to**  $K$"),
    "no-convergence": ("there is no guarantee of convergence",),
    "many-local-minima": ("Error function contains many local minima",),
    "reading-goodfellow": ("Chapter 6 of Deep Learning Book",),
    "reading-bishop": ("Chapter 8 of Deep Learning: Foundations and Concepts",),
}
