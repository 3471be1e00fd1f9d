"""The ``functional-nn`` command line: ``train``, ``gradcheck``, ``proofs``, ``info`` and ``playground``.

Each subcommand has ``--help``. A usage or input error (an unknown data set, a
malformed ``--hidden``, a missing file) is printed as one line on stderr and
exits with status 2; ``--debug`` shows the traceback instead.

Examples:
    $ functional-nn train                      # digits, 64-32 hidden units, figures in out/train
    $ functional-nn gradcheck --layers 3,5,2 --loss mse
    $ functional-nn proofs --run
    $ functional-nn info
    $ functional-nn playground --open          # the interactive demo page

In Python, ``main([...])`` runs the same thing and returns the exit status.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from functional_nn.cli._common import PROG, CLIError, Parser

__all__ = ["main", "build_parser", "CLIError"]


def build_parser() -> Parser:
    """The argument parser with every subcommand."""
    from functional_nn import __version__
    from functional_nn.cli._launch import add_launch
    from functional_nn.cli._playground import add_playground
    from functional_nn.cli._tools import add_gradcheck, add_info, add_proofs
    from functional_nn.cli._train import add_train

    parser = Parser(
        prog=PROG,
        description="Feedforward networks and backpropagation as pure JAX functions: train a network, check the "
        "manual gradients against jax.grad, list the machine-checked proofs, show the setup.",
        epilog=f"'{PROG} COMMAND --help' describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    commands = parser.add_subparsers(
        dest="command", title="commands", metavar="COMMAND", parser_class=Parser
    )
    add_train(commands)
    add_gradcheck(commands)
    add_proofs(commands)
    add_info(commands)
    add_playground(commands)
    add_launch(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    parser = build_parser()
    command = PROG
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise CLIError(
                f"choose a command: train, gradcheck, proofs or info (see '{PROG} --help')"
            )
        command = f"{PROG} {args.command}"
        return int(args.handler(args))
    except SystemExit as done:  # --help and --version end here
        return done.code if isinstance(done.code, int) else 0
    except CLIError as err:
        if debug:
            raise
        print(f"{err.prog or command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader of our output went away (e.g. `| head`): stop quietly, as other command-line tools do
        _silence_stdout()
        return 1
    except (ValueError, TypeError, OSError, ImportError) as err:
        if debug:
            raise
        print(f"{command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is not a real file (e.g. captured in tests): nothing left to flush


def _one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    if isinstance(err, FileNotFoundError) and err.filename:
        text = f"no such file: {err.filename}"
    return " ".join(text.split())
