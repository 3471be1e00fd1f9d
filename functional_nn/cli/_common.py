"""What every subcommand shares: the parser class, argument types, tables and the compile cache."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

PROG = "functional-nn"


class CLIError(Exception):
    """A usage or input error: printed as one line, exit status 2.

    ``prog`` names the (sub)command the message is about, when known.
    """

    def __init__(self, message: str, prog: str | None = None):
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """``argparse`` that raises instead of printing usage and exiting, so ``main`` prints one line."""

    def error(self, message: str):  # argparse's hook for every parse error
        raise CLIError(f"{message} (see '{self.prog} --help')", prog=self.prog)


def positive_int(text: str) -> int:
    """An argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text!r}")
    return value


def fraction(text: str) -> float:
    """An argparse type: a number in ``[0, 1)``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return value


def int_list(text: str, *, allow_empty: bool = False) -> tuple[int, ...]:
    """``"64,32"`` -> ``(64, 32)``; ``""``/``"none"`` -> ``()`` when ``allow_empty``."""
    stripped = text.strip()
    if allow_empty and stripped.lower() in ("", "none", "0"):
        return ()
    parts = [p.strip() for p in stripped.split(",")]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        example = "64,32" if allow_empty else "3,5,2"
        extra = " (or 'none' for no hidden layer)" if allow_empty else ""
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as {example}{extra}, got {text!r}"
        )
    return values


def hidden_sizes(text: str) -> tuple[int, ...]:
    return int_list(text, allow_empty=True)


def layer_sizes(text: str) -> tuple[int, ...]:
    sizes = int_list(text)
    if len(sizes) < 2:
        raise argparse.ArgumentTypeError(
            f"expected at least two sizes (inputs,outputs) such as 3,5,2, got {text!r}"
        )
    return sizes


def name_list(text: str) -> tuple[str, ...]:
    """``"tanh"`` -> ``("tanh",)``; ``"relu,tanh"`` -> one name per hidden layer."""
    names = tuple(p.strip() for p in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected a name or comma-separated names, got {text!r}")
    return names


def hidden_activation(names: tuple[str, ...], num_hidden: int) -> str | tuple[str, ...]:
    """One name for every hidden layer, or exactly one per hidden layer."""
    if len(names) == 1:
        return names[0]
    if len(names) != num_hidden:
        raise CLIError(
            f"--activation lists {len(names)} names for {num_hidden} hidden layers; "
            "give one name, or one per hidden layer"
        )
    return names


def table(rows: Sequence[Sequence[str]], *, header: bool = True) -> str:
    """Left-aligned text columns; the first row underlined when ``header``."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    if header:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- JAX's persistent compilation cache -------------------------------------------


def default_cache_dir() -> Path:
    """``$FUNCTIONAL_NN_CACHE_DIR``, else ``$XDG_CACHE_HOME/functional_nn/jax``, else ``~/.cache/functional_nn/jax``."""
    explicit = os.environ.get("FUNCTIONAL_NN_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "functional_nn" / "jax"


def enable_compilation_cache(cache_dir: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``cache_dir`` (default :func:`default_cache_dir`).

    A second run of the same command then loads its compiled programs from disk
    instead of compiling them again. Every program is cached, however small or
    quick to compile (the CLI's are both). Returns the folder, or ``None`` when it
    cannot be created (the run goes on without a cache).
    """
    import jax

    path = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return path


def disable_compilation_cache() -> None:
    """Keep JAX from reading or writing a persistent cache (also one set through the environment)."""
    import jax

    jax.config.update("jax_enable_compilation_cache", False)
