"""Pytrees as a JSON description plus named arrays (the checkpoint's payload).

A tree is described node by node (``none``, ``tuple``, ``list``, ``dict``,
``namedtuple``, ``leaf``), so it can be rebuilt from the file alone; every leaf
is stored under its path, e.g. ``params/0/w``. Node types that are neither of
these (custom registered pytrees) are kept as ``opaque``: their leaves are
stored, their structure must come from a ``like=`` tree when loading.
"""

from __future__ import annotations

import collections
import importlib
import sys
from typing import Any

import jax
import numpy as np

# modules whose namedtuples may be imported to rebuild a state; anything else is
# used only if already imported (a file must not make us import arbitrary code)
_IMPORTABLE = ("functional_nn", "optax", "chex", "jax")


class TreeDecodeError(ValueError):
    """The stored description cannot be turned back into a tree without help."""


def escape(part: str) -> str:
    """A path component that cannot contain the separator."""
    return part.replace("%", "%25").replace("/", "%2F")


def _is_namedtuple(node) -> bool:
    return isinstance(node, tuple) and hasattr(type(node), "_fields")


def _to_array(node, where: str) -> np.ndarray:
    try:
        array = np.asarray(node)
    except Exception as err:  # typed PRNG keys, tracers, arbitrary objects
        raise TypeError(
            f"{where}: cannot store a leaf of type {type(node).__name__} ({err})"
        ) from None
    if array.dtype.kind in "OUSmM" or array.dtype.fields is not None:
        raise TypeError(
            f"{where}: cannot store a leaf of dtype {array.dtype} (type {type(node).__name__})"
        )
    return array


def encode(node, path: str, arrays: dict[str, np.ndarray]) -> dict:
    """The JSON description of ``node``; its leaves go into ``arrays`` keyed by path."""
    if node is None:
        return {"kind": "none"}
    if _is_namedtuple(node):
        cls = type(node)
        return {
            "kind": "namedtuple",
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "fields": list(cls._fields),
            "children": [
                encode(v, f"{path}/{escape(f)}", arrays) for f, v in zip(cls._fields, node)
            ],
        }
    if type(node) in (tuple, list):
        return {
            "kind": type(node).__name__,
            "children": [encode(v, f"{path}/{i}", arrays) for i, v in enumerate(node)],
        }
    if type(node) is dict:
        keys = []
        for k in node:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"{path}: dict keys must be str or int to be stored, got {k!r}")
            keys.append(k)
        if len({str(k) for k in keys}) != len(keys):
            raise TypeError(f"{path}: dict keys {keys!r} collide once written as text")
        return {
            "kind": "dict",
            "keys": keys,
            "children": [encode(node[k], f"{path}/{escape(str(k))}", arrays) for k in keys],
        }
    if isinstance(node, (bool, int, float, np.ndarray, np.generic, jax.Array)):
        return _encode_leaf(node, path, arrays)
    flat, treedef = jax.tree_util.tree_flatten_with_path(node)
    if jax.tree_util.treedef_is_leaf(treedef) and len(flat) == 1:  # a leaf: it must be array-like
        return _encode_leaf(node, path, arrays)
    cls = type(node)
    return {
        "kind": "opaque",
        "class": f"{cls.__module__}:{cls.__qualname__}",
        "treedef": str(treedef),
        "children": [_encode_leaf(v, f"{path}/{keystr(p)}", arrays) for p, v in flat],
    }


def _encode_leaf(node, path: str, arrays: dict[str, np.ndarray]) -> dict:
    spec: dict[str, Any] = {"kind": "leaf", "key": path}
    if type(node) in (bool, int, float):
        spec["python"] = type(node).__name__
    arrays[path] = _to_array(node, path)
    return spec


def keystr(key_path) -> str:
    """A jax key path in this module's notation: ``(SequenceKey(0), GetAttrKey('w')) -> '0/w'``."""
    parts = []
    for k in key_path:
        for attr in ("name", "key", "idx"):
            if hasattr(k, attr):
                parts.append(escape(str(getattr(k, attr))))
                break
        else:
            parts.append(escape(str(k)))
    return "/".join(parts)


def leaf_keys(spec: dict | None) -> list[str]:
    """Every stored array key under a description, in order."""
    if spec is None:
        return []
    if spec["kind"] == "leaf":
        return [spec["key"]]
    return [k for child in spec.get("children", ()) for k in leaf_keys(child)]


def decode(spec: dict, leaves: dict[str, Any], where: str):
    """Rebuild the tree described by ``spec`` from ``leaves`` (key -> array)."""
    return _decode(spec, leaves, where, {})


def _decode(spec, leaves, where, classes):
    kind = spec["kind"]
    if kind == "none":
        return None
    if kind == "leaf":
        value = leaves[spec["key"]]
        python = spec.get("python")
        return {"bool": bool, "int": int, "float": float}[python](value.item()) if python else value
    if kind == "opaque":
        raise TreeDecodeError(
            f"{where} holds a {spec['class']} node that is not a tuple, list, dict or NamedTuple; "
            "pass a tree of the same structure as like= to restore it"
        )
    children = [_decode(child, leaves, where, classes) for child in spec["children"]]
    if kind == "tuple":
        return tuple(children)
    if kind == "list":
        return children
    if kind == "dict":
        return dict(zip(spec["keys"], children))
    if kind == "namedtuple":
        return namedtuple_class(spec["class"], tuple(spec["fields"]), classes)(*children)
    raise TreeDecodeError(f"{where}: unknown node kind {kind!r}")


def namedtuple_class(name: str, fields: tuple[str, ...], cache: dict):
    """The original NamedTuple class when it can be found safely, else a stand-in with the same fields.

    The stand-in is created once per load, so equal nodes share one class (and
    one jax treedef).
    """
    if (name, fields) in cache:
        return cache[name, fields]
    module_name, _, qualname = name.partition(":")
    cls: Any = None
    module = sys.modules.get(module_name)
    if module is None and module_name.split(".")[0] in _IMPORTABLE:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
    if module is not None:
        cls = module
        for part in qualname.split("."):
            cls = getattr(cls, part, None)
        if not (
            isinstance(cls, type)
            and issubclass(cls, tuple)
            and tuple(getattr(cls, "_fields", ())) == fields
        ):
            cls = None
    if cls is None:
        try:
            cls = collections.namedtuple(qualname.split(".")[-1] or "Node", fields)  # type: ignore[misc,no-redef]
        except ValueError as err:
            raise TreeDecodeError(
                f"cannot rebuild NamedTuple {name} with fields {fields}: {err}"
            ) from None
    cache[name, fields] = cls
    return cls
