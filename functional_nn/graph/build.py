"""Building a computation graph from a jaxpr: nodes, steps and the instrumented evaluation.

See :mod:`functional_nn.graph` for the idea; rendering is in :mod:`functional_nn.graph.render`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.extend.core as jex
import jax.numpy as jnp
import numpy as np

__all__ = ["Node", "Graph", "build_graph", "format_value"]

Array = jax.Array
NODE_KINDS = ("input", "parameter", "constant", "compute")
_INLINE_PRIMITIVES = ("jit", "pjit", "closed_call", "core_call")


class Node(NamedTuple):
    """One node of a computation graph."""

    index: int  # type: ignore[assignment]  # position in Graph.nodes (a topological order)
    name: str  # argument path ("w1", "params[0].w"), compute name, or constant
    kind: str  # "input" | "parameter" | "constant" | "compute"
    op: str | None  # the primitive for compute nodes ("mul", "integer_pow", ...)
    params: str  # the primitive's parameters, shortened ("y=2"); "" if none
    parents: tuple[int, ...]  # indices of the nodes this one is computed from
    value: Array  # forward value
    grad: Array | None  # backward value ∂out/∂node (same shape); None for integer nodes


class Graph(NamedTuple):
    """A computation graph; ``nodes`` are in topological order (parents first)."""

    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]  # indices of the function's output nodes

    def node(self, name: str) -> Node:
        """The unique node called ``name``; a missing or ambiguous name lists the known ones."""
        found = [n for n in self.nodes if n.name == name]
        if len(found) != 1:
            what = "no node" if not found else f"{len(found)} nodes"
            raise KeyError(f"{what} named {name!r}; names: {', '.join(n.name for n in self.nodes)}")
        return found[0]

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """``(parent, child)`` index pairs, one per distinct operand (``x * x`` gives one edge)."""
        return tuple((p, n.index) for n in self.nodes for p in dict.fromkeys(n.parents))

    def of_kind(self, kind: str) -> tuple[Node, ...]:
        """The nodes of one kind, in order."""
        if kind not in NODE_KINDS:
            raise ValueError(f"kind must be one of {NODE_KINDS}, got {kind!r}")
        return tuple(n for n in self.nodes if n.kind == kind)


class _Step(NamedTuple):
    eqn: Any  # a JaxprEqn evaluated as one operation
    in_keys: tuple[int, ...]  # node index per operand (literals have constant nodes)
    out_keys: tuple[int | None, ...]  # node index per result, None for a dropped result


# --- building ------------------------------------------------------------------------


def build_graph(
    fn: Callable[..., Any],
    *args: Any,
    parameters: Sequence[str | int] = (),
    compute_names: Sequence[str] | None = None,
    cotangent: Any = None,
    inline: bool = True,
) -> Graph:
    """The computation graph of ``fn(*args)`` with forward and backward values.

    Args:
        fn: a JAX-traceable function of positional arguments (arrays or pytrees of arrays).
        *args: the arguments at which to evaluate it.
        parameters: which arguments are parameters, by name or position; all
            other arguments become input nodes.
        compute_names: names for the compute nodes in topological order (one per
            node); default ``"<op>_<i>"``.
        cotangent: the seed ``∂out/∂out``; default ``1`` for a single scalar
            output (then grads are ``∂out/∂node``). Required otherwise, with the
            output's tree structure and shapes.
        inline: inline calls of jitted functions into their operations.
    Returns:
        :class:`Graph`.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    arg_names = _argument_names(fn, len(args))
    param_positions = _parameter_positions(parameters, arg_names)

    closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(*args)
    builder = _Builder()
    leaf_keys: list[int] = []
    for i, arg in enumerate(args):
        kind = "parameter" if i in param_positions else "input"
        for path, leaf in jax.tree_util.tree_flatten_with_path(arg)[0]:
            name = arg_names[i] + jax.tree_util.keystr(path)
            leaf_keys.append(builder.add(name, kind, None, "", (), jnp.asarray(leaf)))
    if len(leaf_keys) != len(closed.jaxpr.invars):
        raise ValueError(
            f"fn's arguments flatten to {len(leaf_keys)} arrays but its jaxpr has "
            f"{len(closed.jaxpr.invars)} inputs; pass arrays or pytrees of arrays"
        )
    env = dict(zip(closed.jaxpr.invars, leaf_keys))
    out_keys = builder.walk(closed.jaxpr, closed.consts, env, inline)
    seeds = _seeds(cotangent, out_shape, [builder.avals[k] for k in out_keys])
    values, grads = builder.evaluate(tuple(out_keys), seeds)

    names = _compute_names(builder, compute_names)
    nodes = tuple(
        Node(
            i,
            names.get(i, builder.names[i]),
            builder.kinds[i],
            builder.ops[i],
            builder.params[i],
            builder.parents[i],
            values[i],
            grads[i],
        )
        for i in range(len(values))
    )
    return Graph(nodes, tuple(out_keys))


class _Builder:
    """Flattens a jaxpr into nodes and steps, then evaluates it instrumented."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.kinds: list[str] = []
        self.ops: list[str | None] = []
        self.params: list[str] = []
        self.parents: list[tuple[int, ...]] = []
        self.avals: list[Any] = []  # shape and dtype of every node
        self.sources: dict[int, Array] = {}  # values of the input, parameter and constant nodes
        self.steps: list[_Step] = []
        self._num_constants = 0

    def add(
        self,
        name: str,
        kind: str,
        op: str | None,
        params: str,
        parents: Sequence[int],
        value: Array | None = None,
        aval: Any = None,
    ) -> int:
        key = len(self.names)
        self.names.append(name)
        self.kinds.append(kind)
        self.ops.append(op)
        self.params.append(params)
        self.parents.append(tuple(parents))
        if value is not None:
            self.sources[key] = value
            aval = jax.ShapeDtypeStruct(value.shape, value.dtype)
        self.avals.append(aval)
        return key

    def constant(self, value: Any) -> int:
        value = jnp.asarray(value)
        name = format_value(value) if value.size == 1 else f"const_{self._num_constants}"
        self._num_constants += 1
        return self.add(name, "constant", None, "", (), value)

    def read(self, atom: Any, env: dict[Any, int]) -> int:
        if isinstance(atom, jex.Literal):
            return self.constant(atom.val)
        return env[atom]

    def walk(
        self, jaxpr: jex.Jaxpr, consts: Sequence[Any], env: dict[Any, int], inline: bool
    ) -> list[int]:
        for var, c in zip(jaxpr.constvars, consts):
            env[var] = self.constant(c)
        for eqn in jaxpr.eqns:
            in_keys = tuple(self.read(a, env) for a in eqn.invars)
            inner = _inner_jaxpr(eqn) if inline else None
            if inner is not None:
                inner_jaxpr, inner_consts = inner
                results = self.walk(
                    inner_jaxpr, inner_consts, dict(zip(inner_jaxpr.invars, in_keys)), inline
                )
                for var, key in zip(eqn.outvars, results):
                    if not isinstance(var, jex.DropVar):
                        env[var] = key
                continue
            out_keys: list[int | None] = []
            for j, var in enumerate(eqn.outvars):
                if isinstance(var, jex.DropVar):
                    out_keys.append(None)
                    continue
                op = eqn.primitive.name if len(eqn.outvars) == 1 else f"{eqn.primitive.name}[{j}]"
                key = self.add(
                    f"{op}_{len(self.steps)}",
                    "compute",
                    op,
                    _format_params(eqn.params),
                    in_keys,
                    aval=var.aval,
                )
                env[var] = key
                out_keys.append(key)
            self.steps.append(_Step(eqn, in_keys, tuple(out_keys)))
        return [self.read(a, env) for a in jaxpr.outvars]

    def evaluate(
        self, out_keys: Sequence[int], seeds: Sequence[Array | None]
    ) -> tuple[list[Array], list[Array | None]]:
        """Forward values and ``∂out/∂node`` of every node, from one ``jax.vjp``.

        Instrumentation: every float compute node ``v`` becomes ``v + ε_v`` with
        ``ε_v = 0``. The values do not change, and by the chain rule
        ``∂out/∂ε_v = ∂out/∂v``, summed over all uses of ``v``. The source nodes'
        backward values are the vjp's cotangents of the sources themselves.
        """
        n = len(self.avals)
        float_sources = [k for k in self.sources if _is_float_dtype(self.avals[k].dtype)]
        fixed_sources = [k for k in self.sources if not _is_float_dtype(self.avals[k].dtype)]
        perturbed = [
            k for k in range(n) if k not in self.sources and _is_float_dtype(self.avals[k].dtype)
        ]
        steps = self.steps

        def forward(
            source_vals: list[Array], eps_vals: list[Array], fixed_vals: list[Array]
        ) -> tuple[list[Array], list[Array]]:
            vals = dict(zip(float_sources, source_vals)) | dict(zip(fixed_sources, fixed_vals))
            eps = dict(zip(perturbed, eps_vals))
            for step in steps:
                outs = _bind(step.eqn, [vals[k] for k in step.in_keys])
                for k, out in zip(step.out_keys, outs):
                    if k is not None:
                        vals[k] = out + eps[k] if k in eps else out
            return [vals[k] for k in out_keys], [vals[k] for k in range(n)]

        # Run eagerly: each primitive's compiled kernel is cached across calls, while a
        # jit of this one-off closure would recompile the whole graph on every call.
        def run(
            source_vals: list[Array],
            eps: list[Array],
            fixed_vals: list[Array],
            seeds: Sequence[Array | None],
        ) -> Any:
            outs, pullback, all_vals = jax.vjp(
                lambda s, e: forward(s, e, fixed_vals), source_vals, eps, has_aux=True
            )
            # integer outputs take the symbolic-zero cotangent dtype float0
            ct_out = [
                ct if ct is not None else np.zeros(o.shape, jax.dtypes.float0)
                for ct, o in zip(seeds, outs)
            ]
            return all_vals, pullback(ct_out)

        eps = [jnp.zeros(self.avals[k].shape, self.avals[k].dtype) for k in perturbed]
        all_vals, (ct_sources, ct_eps) = run(
            [self.sources[k] for k in float_sources],
            eps,
            [self.sources[k] for k in fixed_sources],
            list(seeds),
        )
        grads: list[Array | None] = [None] * n
        for k, ct in zip(float_sources, ct_sources):
            grads[k] = ct
        for k, ct in zip(perturbed, ct_eps):
            grads[k] = ct
        return list(all_vals), grads


def _bind(eqn: jex.JaxprEqn, in_vals: Sequence[Any]) -> list[Any]:
    """Evaluate one equation, as ``jax.core.eval_jaxpr`` does."""
    bind_params = eqn.primitive.get_bind_params(eqn.params)
    with eqn.ctx.manager:
        out = eqn.primitive.bind(*in_vals, **bind_params)
    return list(out) if eqn.primitive.multiple_results else [out]


def _inner_jaxpr(eqn: jex.JaxprEqn) -> tuple[jex.Jaxpr, Sequence[Any]] | None:
    """``(jaxpr, consts)`` of a call to inline, or None for an operation kept whole."""
    if eqn.primitive.name not in _INLINE_PRIMITIVES:
        return None
    for name in ("jaxpr", "call_jaxpr"):
        inner = eqn.params.get(name)
        if isinstance(inner, jex.ClosedJaxpr):
            return inner.jaxpr, inner.consts
        if isinstance(inner, jex.Jaxpr):
            return inner, ()
    return None


def _is_float_dtype(dtype: Any) -> bool:
    return jnp.issubdtype(dtype, jnp.inexact)


def _seeds(cotangent: Any, out_shape: Any, out_avals: Sequence[Any]) -> list[Array | None]:
    """One cotangent per output leaf (None for integer outputs), checked against the output."""
    if cotangent is None:
        if (
            len(out_avals) != 1
            or out_avals[0].shape != ()
            or not _is_float_dtype(out_avals[0].dtype)
        ):
            shapes = [tuple(a.shape) for a in out_avals]
            raise ValueError(
                "cotangent is required unless fn returns a single float scalar; "
                f"fn returned arrays of shapes {shapes}"
            )
        return [jnp.ones((), out_avals[0].dtype)]
    ct_leaves, ct_tree = jax.tree_util.tree_flatten(cotangent)
    out_tree = jax.tree_util.tree_structure(out_shape)
    if ct_tree != out_tree:  # type: ignore[operator]  # jaxlib ships no stub for PyTreeDef
        raise ValueError(f"cotangent must have the output's structure {out_tree}, got {ct_tree}")
    seeds = []
    for i, (ct, aval) in enumerate(zip(ct_leaves, out_avals)):
        if tuple(np.shape(ct)) != tuple(aval.shape):
            raise ValueError(
                f"cotangent leaf {i} must have shape {tuple(aval.shape)}, got {tuple(np.shape(ct))}"
            )
        seeds.append(jnp.asarray(ct, aval.dtype) if _is_float_dtype(aval.dtype) else None)
    return seeds


def _argument_names(fn: Callable[..., Any], num_args: int) -> list[str]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return [f"arg{i}" for i in range(num_args)]
    names: list[str] = []
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        elif p.kind == p.VAR_POSITIONAL:
            names.extend(f"{p.name}[{i}]" for i in range(num_args - len(names)))
            break
    if len(names) < num_args:
        raise TypeError(f"fn takes {len(names)} positional arguments but {num_args} were given")
    return names[:num_args]


def _parameter_positions(
    parameters: Sequence[str | int] | str | int, arg_names: Sequence[str]
) -> set[int]:
    if isinstance(parameters, (str, int)):
        parameters = (parameters,)
    positions = set()
    for p in parameters:
        if isinstance(p, bool) or not isinstance(p, (str, int)):
            raise TypeError(f"parameters must hold argument names or positions, got {p!r}")
        if isinstance(p, str):
            if p not in arg_names:
                raise ValueError(
                    f"parameters names {p!r}, which is not an argument of fn; "
                    f"arguments: {', '.join(arg_names)}"
                )
            positions.add(arg_names.index(p))
        else:
            if not -len(arg_names) <= p < len(arg_names):
                raise ValueError(
                    f"parameters position {p} is out of range for {len(arg_names)} arguments"
                )
            positions.add(p % len(arg_names))
    return positions


def _compute_names(builder: _Builder, compute_names: Sequence[str] | None) -> dict[int, str]:
    if compute_names is None:
        return {}
    if isinstance(compute_names, str):
        raise TypeError("compute_names must be a sequence of names, not a single str")
    compute = [i for i, k in enumerate(builder.kinds) if k == "compute"]
    names = list(compute_names)
    if len(names) != len(compute):
        ops = ", ".join(str(builder.ops[i]) for i in compute)
        raise ValueError(
            f"compute_names has {len(names)} names for {len(compute)} compute nodes ({ops})"
        )
    return dict(zip(compute, names))


# --- text ------------------------------------------------------------------------


def format_value(value: Any, precision: int = 4) -> str:
    """A short text for a node value: the number, a short list, or dtype[shape]."""
    a = np.asarray(value)
    if a.size == 1:
        x = a.reshape(()).item()
        return f"{x:.{precision}g}" if isinstance(x, float) else str(x)
    if a.size <= 4:
        return "[" + ", ".join(format_value(v, precision) for v in a.ravel()) + "]"
    norm = float(np.linalg.norm(a.astype(float))) if a.dtype != bool else float(a.sum())
    return f"{a.dtype}{list(a.shape)} ‖·‖={norm:.3g}"


def _format_params(params: dict) -> str:
    parts = []
    for k, v in params.items():
        if isinstance(v, (bool, int, float, str)) or (
            isinstance(v, tuple) and all(isinstance(e, (int, str)) for e in v)
        ):
            parts.append(f"{k}={v}")
        elif isinstance(v, np.dtype) or (isinstance(v, type) and issubclass(v, np.generic)):
            parts.append(f"{k}={np.dtype(v).name}")
    text = ", ".join(parts)
    return text if len(text) <= 40 else text[:37] + "..."
