"""Command-line flags read off a script's ``main(*, ...)``: each setting is written once.

An example is ``main(*, seed: int = 0, num_epochs: int = 30, ...)`` whose defaults are its
configuration. :func:`parse_flags` builds the ``argparse`` parser from that signature, so the
defaults are not repeated in ``add_argument(...)`` calls and a dict mapping one onto the other::

    def main(*, seed: int = 0, widths: tuple[int, ...] = (1, 2, 4), method: Method = "manual"):
        \"\"\"Train one network per width.

        Args:
            seed: the PRNG seed.
            widths: hidden widths to try.
        \"\"\"

    if __name__ == "__main__":
        main(**fnn.flags.parse_flags(main))  # --seed 1 --widths 8 16 --method autodiff

Each keyword-only parameter becomes ``--name-with-dashes``; its annotation gives the type:

===========================  =====================================================
annotation                   flag
===========================  =====================================================
``int``, ``float``, ``str``  one value of that type
``bool``                     ``--name`` / ``--no-name``
``X | None``                 one ``X``; the default ``None`` means "not given"
``Literal["a", "b"]``        one of the choices
``tuple[X, ...]``            any number of ``X``, space- or comma-separated
``tuple[X, X]``              exactly that many ``X``
===========================  =====================================================

Help text comes from the ``Args:`` section of ``main``'s docstring. A parameter whose
annotation is none of these (a table of runs, say) is refused unless it is named in ``skip``;
it then keeps its default when run from the command line.
"""

from __future__ import annotations

import argparse
import inspect
import re
import types
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

__all__ = ["flag_parser", "parse_flags"]

_SCALARS = (int, float, str)


def flag_parser(
    main: Callable[..., Any],
    *,
    description: str | None = None,
    skip: Collection[str] = (),
    flag_names: Mapping[str, str] | None = None,
) -> argparse.ArgumentParser:
    """An ``argparse`` parser with one flag per keyword-only parameter of ``main``.

    Args:
        main: the script's entry point; every keyword-only parameter needs a default and an
            annotation of the kinds in this module's table (strings are resolved, so
            ``from __future__ import annotations`` is fine).
        description: the parser's description; default: the first line of the docstring of
            ``main``'s module, else of ``main``.
        skip: parameters that are not flags (they keep their defaults).
        flag_names: ``{parameter: flag}`` where the flag is not the parameter's name with
            dashes, e.g. ``{"loss_names": "losses"}`` for ``--losses``.

    Returns:
        The parser; :func:`parse_flags` turns what it parses into ``main``'s keyword arguments.

    Raises:
        TypeError: ``main`` is not callable, a parameter has no default or an annotation this
            module cannot map onto a flag, or ``skip`` / ``flag_names`` name no parameter.
    """
    if not callable(main):
        raise TypeError(f"main: expected a callable, got {type(main).__name__}")
    params = _keyword_parameters(main)
    flag_names = dict(flag_names or {})
    for what, names in (("skip", skip), ("flag_names", flag_names)):
        unknown = sorted(set(names) - set(params))
        if unknown:
            raise TypeError(
                f"{what}: {unknown} are not keyword-only parameters of {main.__name__}; "
                f"those are {sorted(params)}"
            )
    hints = typing.get_type_hints(main)
    helps = _argument_help(inspect.getdoc(main) or "")
    parser = argparse.ArgumentParser(description=description or _summary(main))
    for name, param in params.items():
        if name in skip:
            continue
        if param.default is inspect.Parameter.empty:
            raise TypeError(f"{main.__name__}: parameter {name!r} needs a default to be a flag")
        if name not in hints:
            raise TypeError(
                f"{main.__name__}: parameter {name!r} has no annotation; annotate it or pass "
                f"skip=({name!r},)"
            )
        flag = "--" + flag_names.get(name, name).replace("_", "-")
        kwargs = _argument(main.__name__, name, hints[name], param.default)
        text = helps.get(name, "").replace("%", "%%")
        help_text = f"{text} (default: %(default)s)" if text else "default: %(default)s"
        parser.add_argument(flag, dest=name, help=help_text, **kwargs)
    return parser


def parse_flags(
    main: Callable[..., Any],
    argv: Sequence[str] | None = None,
    *,
    description: str | None = None,
    skip: Collection[str] = (),
    flag_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Parse ``argv`` (default ``sys.argv[1:]``) into keyword arguments for ``main``.

    Args:
        main: the script's entry point (see :func:`flag_parser`).
        argv: the command line without the program name; ``None`` reads ``sys.argv[1:]``.
        description, skip, flag_names: as for :func:`flag_parser`.

    Returns:
        ``{parameter: value}`` for every flag; with an empty ``argv`` these are ``main``'s
        defaults, so ``main(**parse_flags(main, []))`` is ``main()``.

    Examples:
        >>> def main(*, seed: int = 0, widths: tuple[int, ...] = (1, 2)):
        ...     '''Args:
        ...         seed: the PRNG seed.'''
        >>> parse_flags(main, ["--widths", "4,8", "16"])
        {'seed': 0, 'widths': (4, 8, 16)}
    """
    parser = flag_parser(main, description=description, skip=skip, flag_names=flag_names)
    return vars(parser.parse_args(None if argv is None else list(argv)))


def _keyword_parameters(main: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    return {
        name: p
        for name, p in inspect.signature(main).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _argument(where: str, name: str, hint: Any, default: Any) -> dict[str, Any]:
    """``add_argument`` keywords for one parameter's annotation."""
    base, optional = _strip_none(hint)
    if optional and default is not None:
        raise TypeError(f"{where}: {name!r} is {hint} but its default is {default!r}, not None")
    if base is bool:
        return {"action": argparse.BooleanOptionalAction, "default": default}
    if typing.get_origin(base) is tuple:
        args = typing.get_args(base)
        if len(args) == 2 and args[1] is Ellipsis:
            element, count = args[0], None
        elif args and all(a == args[0] for a in args):
            element, count = args[0], len(args)
        else:
            raise TypeError(
                f"{where}: {name!r} is {hint}; a flag takes tuple[X, ...] or tuple[X, X, ...] "
                "with one element type"
            )
        convert, choices = _scalar(where, name, element)
        kwargs: dict[str, Any] = {
            "type": _Tuple(convert, choices) if count is None else convert,
            "nargs": "*" if count is None else count,
            "default": default,
            "metavar": _metavar(name, choices),
        }
        if count is None:
            kwargs["action"] = _Flatten
        else:
            kwargs["action"] = _AsTuple
            if choices:
                kwargs["choices"] = choices
        return kwargs
    convert, choices = _scalar(where, name, base)
    return {"type": convert, "default": default, "choices": choices}


def _scalar(where: str, name: str, hint: Any) -> tuple[Callable[[str], Any], list[Any] | None]:
    """The converter and the choices of one value: a scalar type or a ``Literal``."""
    if typing.get_origin(hint) is typing.Literal:
        values = list(typing.get_args(hint))
        kinds = {type(v) for v in values}
        if len(kinds) != 1 or kinds.pop() not in _SCALARS:
            raise TypeError(f"{where}: {name!r} is {hint}; its values need one type of {_SCALARS}")
        return type(values[0]), values
    if hint in _SCALARS:
        return hint, None
    raise TypeError(
        f"{where}: {name!r} is annotated {hint!r}, which is not a flag's type "
        "(int, float, str, bool, Literal, X | None, tuple[X, ...]); pass skip=(name,) to keep "
        "it off the command line"
    )


def _strip_none(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(hint, False)``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


class _Tuple:
    """One command-line token of a variadic tuple flag: ``"1,2"`` -> ``[1, 2]``."""

    def __init__(self, convert: Callable[[str], Any], choices: list[Any] | None):
        self.convert, self.choices = convert, choices
        self.__name__ = getattr(convert, "__name__", "value")  # argparse's error messages

    def __call__(self, token: str) -> list[Any]:
        values = [self.convert(part) for part in token.split(",") if part != ""]
        for v in values:
            if self.choices is not None and v not in self.choices:
                raise argparse.ArgumentTypeError(
                    f"invalid choice: {v!r} (choose from {', '.join(map(repr, self.choices))})"
                )
        return values


class _Flatten(argparse.Action):
    """Collect ``--widths 1,2 4`` as the tuple ``(1, 2, 4)``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, tuple(v for token in values for v in token))


class _AsTuple(argparse.Action):
    """Store a fixed-count flag's values as a tuple, like the default it replaces."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, tuple(values))


def _metavar(name: str, choices: list[Any] | None) -> str:
    if choices:
        return "{" + ",".join(map(str, choices)) + "}"
    return name.upper()


def _summary(main: Callable[..., Any]) -> str | None:
    module = inspect.getmodule(main)
    for doc in (getattr(module, "__doc__", None), main.__doc__):
        if doc and doc.strip():
            return doc.strip().splitlines()[0]
    return None


_ARG_LINE = re.compile(r"^\s*(\w+(?:\s*,\s*\w+)*)(?:\s*\([^)]*\))?:\s*(.*)$")


def _argument_help(doc: str) -> dict[str, str]:
    """``{name: help}`` from the ``Args:`` section of a Google-style docstring."""
    helps: dict[str, str] = {}
    lines = doc.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() in ("Args:", "Arguments:"))
    except StopIteration:
        return helps
    indent: int | None = None
    current: str | None = None
    for line in lines[start + 1 :]:
        if not line.strip():
            current = None
            continue
        width = len(line) - len(line.lstrip())
        if indent is None:
            indent = width
        if width < indent:
            break  # the next section
        match = _ARG_LINE.match(line)
        if width == indent and match:
            current = match.group(1)
            helps[current] = match.group(2).strip()
        elif current is not None:
            helps[current] = (helps[current] + " " + line.strip()).strip()
    # "a, b: text" documents two parameters at once.
    for key in [k for k in helps if "," in k]:
        for part in key.split(","):
            helps.setdefault(part.strip(), helps[key])
    return helps
