r"""The multi-layer perceptron as pure functions over a params pytree.

Conventions (README, "Conventions"): arrays are batch-first; layer ``l`` computes

    o^l = a^{l-1} @ w^l + b^l        (pre-activation; the lecture's o^l)
    a^l = f_l(o^l)                   (activation; a^0 = x, a^L = ŷ)

with ``w^l`` of shape ``(n_{l-1}, n_l)`` so ``w[p, j]`` is the lecture's ``w_pj``
(from unit ``p`` of layer ``l − 1`` to unit ``j`` of layer ``l``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import _validate, activations

__all__ = ["Dense", "Trace", "MLP"]

Array = jax.Array

INIT_NAMES = (
    "glorot_uniform",
    "glorot_normal",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "normal",
)


class Dense(NamedTuple):
    """One layer's parameters."""

    w: Array  # (n_in, n_out); w[p, j] = lecture's w_pj
    b: Array  # (n_out,)


Params = tuple[Dense, ...]


class Trace(NamedTuple):
    """Everything the backward pass needs from the forward pass."""

    pre_activations: tuple[Array, ...]  # (o^1, ..., o^L), each (batch, n_l)
    activations: tuple[Array, ...]  # (a^0 = x, a^1, ..., a^L), each (batch, n_l)


@dataclasses.dataclass(frozen=True)
class MLP:
    """A fully connected feedforward network: a static description, no arrays.

    Frozen and hashable, so it can be a static argument of ``jax.jit``.

    Attributes:
        layer_sizes: ``(n_0, n_1, ..., n_L)``: inputs, hidden widths, outputs.
        activation: one name for every hidden layer, or a tuple with one per hidden layer.
        output_activation: the last layer's activation.
        initializer: weight initializer, one of ``INIT_NAMES`` (biases start at 0).
        init_scale: for ``"normal"`` the standard deviation σ (default 0.01);
            for the others a gain on the scheme's standard deviation (default 1).
        negative_slope: the slope of ``"leaky_relu"`` for negative inputs.

    Examples:
        >>> net = MLP((2, 4, 1), activation="sigmoid", output_activation="sigmoid")
        >>> params = net.init(jax.random.key(0))
        >>> net.apply(params, jnp.zeros((3, 2))).shape
        (3, 1)
    """

    layer_sizes: tuple[int, ...]
    activation: str | tuple[str, ...] = "sigmoid"
    output_activation: str = "sigmoid"
    initializer: str = "glorot_uniform"
    init_scale: float | None = None
    negative_slope: float = 0.01

    def __post_init__(self):
        sizes = self.layer_sizes
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            raise TypeError(
                f"layer_sizes must be a sequence of ints such as (2, 4, 1), got {sizes!r}"
            )
        sizes = tuple(sizes)
        if len(sizes) < 2 or not all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1 for n in sizes
        ):
            raise ValueError(
                f"layer_sizes must hold at least two positive ints (inputs, outputs), got {sizes!r}"
            )
        object.__setattr__(self, "layer_sizes", tuple(int(n) for n in sizes))
        hidden = self.activation
        n_hidden = len(sizes) - 2
        if isinstance(hidden, str):
            activations.get_activation(hidden)  # a typo is refused even without hidden layers
            hidden = (hidden,) * n_hidden
        else:
            if not isinstance(hidden, (tuple, list)):
                raise TypeError(
                    f"activation must be a name (str) or a tuple of names, got "
                    f"{type(hidden).__name__}: {hidden!r}"
                )
            hidden = tuple(hidden)
            if len(hidden) != n_hidden:
                raise ValueError(
                    f"activation has {len(hidden)} names for {n_hidden} hidden layers: {hidden!r}"
                )
            if n_hidden == 0:
                hidden = ()
        for name in (*hidden, self.output_activation):
            activations.get_activation(name)
        object.__setattr__(
            self, "activation", hidden if not isinstance(self.activation, str) else self.activation
        )
        if self.initializer not in INIT_NAMES:
            raise ValueError(
                f"unknown initializer {self.initializer!r}; known initializers: {', '.join(INIT_NAMES)}"
            )
        if self.init_scale is not None and not (
            isinstance(self.init_scale, (int, float)) and self.init_scale > 0
        ):
            raise ValueError(
                f"init_scale must be a positive number or None, got {self.init_scale!r}"
            )

    # --- description ---------------------------------------------------------

    @property
    def num_layers(self) -> int:
        """``L``: the number of weight layers."""
        return len(self.layer_sizes) - 1

    @property
    def activation_names(self) -> tuple[str, ...]:
        """One activation name per layer, ``f_1 ... f_L``."""
        hidden = self.activation
        if isinstance(hidden, str):
            hidden = (hidden,) * (self.num_layers - 1)
        return (*hidden, self.output_activation)

    @property
    def layer_activations(self) -> tuple[activations.Activation, ...]:
        return tuple(
            activations.get_activation(n, negative_slope=self.negative_slope)
            for n in self.activation_names
        )

    @property
    def trainable(self) -> bool:
        """False when a layer has zero derivative almost everywhere (threshold)."""
        return all(act.trainable for act in self.layer_activations)

    def check_trainable(self) -> None:
        """Raise when gradient training through this network is meaningless."""
        for l, act in enumerate(self.layer_activations, start=1):
            if not act.trainable:
                raise ValueError(
                    f"cannot train through layer {l}: its {act.name!r} activation has zero derivative almost "
                    "everywhere, so every gradient is 0; use sigmoid/tanh/relu for training, or "
                    "functional_nn.neurons for the perceptron rule"
                )

    # --- parameters ------------------------------------------------------------

    def init(self, key: Array, *, scale: float | Array = 1.0, dtype=None) -> Params:
        """Random weights from ``key``, zero biases.

        Args:
            key: a ``jax.random`` key.
            scale: an extra multiplier on every weight (may be traced, e.g. under ``vmap``).
            dtype: the params' dtype (default JAX's default float).
        Returns:
            A tuple of ``Dense(w, b)``, one per layer.
        """
        dtype = dtype or jnp.zeros(()).dtype
        keys = jax.random.split(key, self.num_layers)
        params = []
        for k, n_in, n_out in zip(keys, self.layer_sizes[:-1], self.layer_sizes[1:]):
            w = _init_weights(
                self.initializer, self.init_scale, k, n_in, n_out, dtype
            ) * jnp.asarray(scale, dtype)
            params.append(Dense(w, jnp.zeros((n_out,), dtype)))
        return tuple(params)

    def check_params(self, params, name: str = "params") -> None:
        """Raise naming the first layer or leaf that :meth:`forward` could not take.

        ``params`` is a tuple (or list) of :class:`Dense` layers whose ``w`` and ``b``
        are real jax or numpy arrays of this network's shapes; whatever passes runs
        in :meth:`forward`, :func:`functional_nn.backward` and ``fit``. A dict layer
        is refused (the manual backward pass returns ``Dense`` gradients, so the trees
        would not match): convert it with ``Dense(**layer)``.
        """
        if not isinstance(params, (tuple, list)) or len(params) != self.num_layers:
            got = (
                f"{type(params).__name__} of length {len(params)}"
                if isinstance(params, (tuple, list))
                else repr(type(params).__name__)
            )
            raise ValueError(
                f"{name} must be a tuple of {self.num_layers} layers (Dense(w, b)), got {got}"
            )
        for l, (layer, n_in, n_out) in enumerate(
            zip(params, self.layer_sizes[:-1], self.layer_sizes[1:])
        ):
            if not isinstance(layer, Dense):
                hint = (
                    " (convert a dict layer with Dense(**layer))" if isinstance(layer, dict) else ""
                )
                raise TypeError(
                    f"{name}[{l}] must be a Dense(w, b) layer{hint}, got {type(layer).__name__}"
                )
            for leaf, shape in (("w", (n_in, n_out)), ("b", (n_out,))):
                where, value = f"{name}[{l}].{leaf}", getattr(layer, leaf)
                if not isinstance(value, (jax.Array, np.ndarray)):
                    raise TypeError(
                        f"{where} must be a jax or numpy array, got {type(value).__name__}"
                    )
                _validate.real_dtype(value, where)
                if tuple(value.shape) != shape:
                    raise ValueError(f"{where} has shape {tuple(value.shape)}, expected {shape}")

    def check_inputs(self, x, name: str = "x") -> None:
        """Raise unless ``x`` is ``(batch, n_in)`` with ``batch >= 1``."""
        shape = tuple(np.shape(x))
        if len(shape) != 2 or shape[1] != self.layer_sizes[0] or shape[0] < 1:
            rows = " with at least one row" if len(shape) == 2 and shape[0] < 1 else ""
            raise ValueError(
                f"{name} must have shape (batch, {self.layer_sizes[0]}){rows}, got {shape}"
            )

    # --- forward -----------------------------------------------------------------

    def forward(self, params: Params, x: Array, masks: tuple[Array, ...] | None = None) -> Trace:
        """The forward pass, keeping every ``o^l`` and ``a^l``.

        Args:
            params: from :meth:`init`.
            x: ``(batch, n_0)``.
            masks: optional 0/1 unit masks, one ``(n_l,)`` per hidden layer;
                a masked unit outputs 0 (used to emulate narrower hidden layers).
        Returns:
            ``Trace(pre_activations=(o^1..o^L), activations=(x, a^1..a^L))``.
        """
        a = x
        pre, post = [], [x]
        for l, (layer, act) in enumerate(zip(params, self.layer_activations)):
            o = a @ layer.w + layer.b
            a = act.fn(o)
            if masks is not None and l < self.num_layers - 1:
                a = a * masks[l]
            pre.append(o)
            post.append(a)
        return Trace(tuple(pre), tuple(post))

    def apply(self, params: Params, x: Array, masks: tuple[Array, ...] | None = None) -> Array:
        """``ŷ = a^L``: ``(batch, n_0) -> (batch, n_L)``."""
        return self.forward(params, x, masks).activations[-1]

    def logits(self, params: Params, x: Array, masks: tuple[Array, ...] | None = None) -> Array:
        """``o^L``, the output layer's pre-activations."""
        return self.forward(params, x, masks).pre_activations[-1]

    def describe(self) -> dict:
        """A JSON-ready description; ``MLP(**net.describe())`` rebuilds the network."""
        d = dataclasses.asdict(self)
        d["layer_sizes"] = list(self.layer_sizes)
        if not isinstance(self.activation, str):
            d["activation"] = list(self.activation)
        return d


def _init_weights(name, init_scale, key, n_in, n_out, dtype):
    gain = 1.0 if init_scale is None else float(init_scale)
    if name == "normal":
        std = 0.01 if init_scale is None else float(init_scale)
        return std * jax.random.normal(key, (n_in, n_out), dtype)
    family = name.split("_")[0]
    fan = {
        "glorot": (n_in + n_out) / 2,
        "xavier": (n_in + n_out) / 2,
        "he": n_in / 2,
        "lecun": n_in,
    }[family]
    std = gain / math.sqrt(fan)  # variance 1/fan: glorot 2/(in+out), he 2/in, lecun 1/in
    if name.endswith("uniform"):
        limit = math.sqrt(3.0) * std
        return jax.random.uniform(key, (n_in, n_out), dtype, -limit, limit)
    return std * jax.random.normal(key, (n_in, n_out), dtype)
