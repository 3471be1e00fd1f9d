"""The playground's settings: what the page may ask for, checked once at the boundary.

A request's settings arrive as JSON (or a query string, through the page). Each
field is checked here and a bad one raises :class:`SettingsError` naming the field,
what was expected and what came; the server turns that into a 400 with the
message. Nothing past this module re-checks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

__all__ = ["SettingsError", "Settings", "train_count", "parse_settings", "options"]

DATA_NAMES = ("xor", "circles", "spirals", "gaussians", "moons")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "linear")
LOSSES = ("binary_cross_entropy", "mse", "categorical_cross_entropy")
SCHEDULES = ("constant", "inverse_time")
METHODS = ("manual", "autodiff")

MAX_HIDDEN_LAYERS = 6
MAX_UNITS = 16
MAX_POINTS = 1000
MIN_POINTS = 20
MAX_LEARNING_RATE = 10.0
MAX_NOISE = 1.0
MAX_SEED = 2**31 - 1


class SettingsError(ValueError):
    """A setting the playground cannot use; ``field`` names it (``None``: the request itself)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclasses.dataclass(frozen=True)
class Settings:
    """One session's choices. ``batch_size`` is an int ``K`` or ``"all"`` (full batch)."""

    data: str = "circles"
    noise: float = 0.05
    num_points: int = 300
    train_fraction: float = 0.5
    hidden: tuple[int, ...] = (4, 4)
    activation: str = "tanh"
    loss: str = "binary_cross_entropy"
    learning_rate: float = 0.3
    schedule: str = "constant"
    c1: float = 10.0
    c2: float = 20.0
    batch_size: int | str = 10
    method: str = "manual"
    seed: int = 0

    @property
    def num_train(self) -> int:
        return train_count(self.num_points, self.train_fraction)

    @property
    def effective_batch_size(self) -> int:
        """``K``: 1 is SGD, ``m`` (``"all"``) full batch."""
        return self.num_train if self.batch_size == "all" else int(self.batch_size)

    @property
    def output_activation(self) -> str:
        return "softmax" if self.loss == "categorical_cross_entropy" else "sigmoid"

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        n_out = 2 if self.loss == "categorical_cross_entropy" else 1
        return (2, *self.hidden, n_out)

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    def data_key(self) -> tuple:
        """The fields that decide the data; a change redraws them and restarts the run."""
        return (self.data, self.noise, self.num_points, self.train_fraction, self.seed)

    def network_key(self) -> tuple:
        """The fields that decide the network's shape; a change restarts the run."""
        return (self.hidden, self.activation, self.loss)


def train_count(num_points: int, train_fraction: float) -> int:
    """Training rows of the split: at least one in each part."""
    return min(num_points - 1, max(1, round(num_points * train_fraction)))


def parse_settings(fields: Any, base: Settings | None = None) -> Settings:
    """``base`` (default :class:`Settings`) with the given fields replaced, every one checked.

    Args:
        fields: a JSON object (dict). Numbers may come as strings (a query string),
            ``hidden`` as a list of ints or ``"8,8"`` (``""`` for none),
            ``batch_size`` as an int or ``"all"``.
    Raises:
        SettingsError: naming the first bad field.
    """
    if not isinstance(fields, dict):
        raise SettingsError(f"settings must be a JSON object, got {type(fields).__name__}")
    base = base or Settings()
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise SettingsError(
            f"unknown setting {unknown[0]!r}; known settings: {', '.join(sorted(known))}",
            unknown[0],
        )
    values = dataclasses.asdict(base)
    for name, raw in fields.items():
        values[name] = _CHECKS[name](raw, name)
    settings = Settings(**values)
    m = settings.num_train
    if isinstance(settings.batch_size, int) and settings.batch_size > m:
        raise SettingsError(
            f"batch_size must be at most the {m} training points (or 'all'), "
            f"got {settings.batch_size}",
            "batch_size",
        )
    return settings


# --- one check per kind of field ---------------------------------------------------------


def _choice(options: tuple[str, ...]) -> Callable[[Any, str], Any]:
    def check(raw: Any, name: str) -> Any:
        if not isinstance(raw, str) or raw not in options:
            raise SettingsError(f"{name} must be one of {', '.join(options)}, got {raw!r}", name)
        return raw

    return check


def _number(raw: Any, name: str) -> float:
    if isinstance(raw, bool):
        raise SettingsError(f"{name} must be a number, got {raw!r}", name)
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}", name) from None
    if not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise SettingsError(f"{name} must be a finite number, got {raw!r}", name)
    return float(raw)


def _integer(raw: Any, name: str) -> int:
    if isinstance(raw, str):
        try:
            raw = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {raw!r}", name) from None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise SettingsError(f"{name} must be an integer, got {raw!r}", name)
    return raw


def _ranged(
    convert: Callable[[Any, str], float], low: float, high: float, *, low_open: bool = False
) -> Callable[[Any, str], float]:
    def check(raw: Any, name: str) -> float:
        value = convert(raw, name)
        below = value <= low if low_open else value < low
        if below or value > high:
            bracket = "(" if low_open else "["
            raise SettingsError(f"{name} must be in {bracket}{low}, {high}], got {raw!r}", name)
        return value

    return check


def _hidden(raw: Any, name: str) -> tuple[int, ...]:
    if isinstance(raw, str):
        text = raw.strip()
        raw = [] if text in ("", "none") else text.split(",")
    if not isinstance(raw, (list, tuple)):
        raise SettingsError(
            f"{name} must be a list of units per hidden layer such as [8, 8], got {raw!r}", name
        )
    if len(raw) > MAX_HIDDEN_LAYERS:
        raise SettingsError(
            f"{name} may have at most {MAX_HIDDEN_LAYERS} hidden layers, got {len(raw)}", name
        )
    units = tuple(_integer(u, name) for u in raw)
    for u in units:
        if not 1 <= u <= MAX_UNITS:
            raise SettingsError(
                f"{name}: every hidden layer needs 1 to {MAX_UNITS} units, got {u}", name
            )
    return units


def _batch_size(raw: Any, name: str) -> int | str:
    if raw == "all":
        return "all"
    try:
        value = _integer(raw, name)
    except SettingsError:
        raise SettingsError(
            f"{name} must be a positive integer K or 'all', got {raw!r}", name
        ) from None
    if value < 1:
        raise SettingsError(f"{name} must be a positive integer K or 'all', got {raw!r}", name)
    return value


_CHECKS = {
    "data": _choice(DATA_NAMES),
    "noise": _ranged(_number, 0.0, MAX_NOISE),
    "num_points": _ranged(_integer, MIN_POINTS, MAX_POINTS),
    "train_fraction": _ranged(_number, 0.1, 0.9),
    "hidden": _hidden,
    "activation": _choice(ACTIVATIONS),
    "loss": _choice(LOSSES),
    "learning_rate": _ranged(_number, 0.0, MAX_LEARNING_RATE, low_open=True),
    "schedule": _choice(SCHEDULES),
    "c1": _ranged(_number, 0.0, 1e6, low_open=True),
    "c2": _ranged(_number, 0.0, 1e9, low_open=True),
    "batch_size": _batch_size,
    "method": _choice(METHODS),
    "seed": _ranged(_integer, 0, MAX_SEED),
}


def options() -> dict[str, Any]:
    """What the page may choose, for ``GET /api/options``."""
    return {
        "data": list(DATA_NAMES),
        "activation": list(ACTIVATIONS),
        "loss": list(LOSSES),
        "schedule": list(SCHEDULES),
        "method": list(METHODS),
        "max_hidden_layers": MAX_HIDDEN_LAYERS,
        "max_units": MAX_UNITS,
        "num_points": [MIN_POINTS, MAX_POINTS],
        "noise": [0.0, MAX_NOISE],
        "learning_rate": [0.0, MAX_LEARNING_RATE],
        "defaults": Settings().to_json(),
    }
