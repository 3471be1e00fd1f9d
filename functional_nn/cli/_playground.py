"""``functional-nn playground``: the lecture's demo page, served locally, or exported to one HTML file."""

from __future__ import annotations

import argparse

from functional_nn.cli._common import CLIError, positive_float, positive_int

_SETTING_FLAGS = {  # flag destination -> Settings field
    "data": "data",
    "noise": "noise",
    "points": "num_points",
    "train_fraction": "train_fraction",
    "hidden": "hidden",
    "activation": "activation",
    "loss": "loss",
    "learning_rate": "learning_rate",
    "schedule": "schedule",
    "c1": "c1",
    "c2": "c2",
    "batch_size": "batch_size",
    "method": "method",
    "seed": "seed",
}


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a port number in [0, 65535], got {text!r}"
        ) from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number in [0, 65535], got {text!r}")
    return value


def add_playground(commands) -> None:
    from functional_nn.playground.settings import (
        ACTIVATIONS,
        DATA_NAMES,
        LOSSES,
        METHODS,
        SCHEDULES,
    )

    p = commands.add_parser(
        "playground",
        help="the interactive demo: train a network in the browser and watch it learn",
        description="Serve the playground page on 127.0.0.1 (a free port unless --port; the address is printed): "
        "choose a data set, a network, a learning rate and a batch size, press play and watch the "
        "decision surface, every hidden unit and the losses change, computed by functional_nn's own "
        "jitted steps. With --export, train one run (or a sweep) here and write a self-contained "
        "HTML file of its frames instead; the settings flags below choose that run.",
        epilog="Example: functional-nn playground --open; "
        "functional-nn playground --export out/demo.html --data spirals --hidden 8,8 --epochs 300",
    )
    p.add_argument(
        "--port", type=port_number, default=0, help="port on 127.0.0.1 (default: 0, a free one)"
    )
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument(
        "--idle-timeout",
        type=positive_float,
        default=600.0,
        metavar="SECONDS",
        help="free a session (a tab) idle this long (default: 600)",
    )
    p.add_argument("--verbose", action="store_true", help="log every request on stderr")
    export = p.add_argument_group("export", "write --export FILE instead of serving")
    export.add_argument(
        "--export",
        metavar="FILE.html",
        default=None,
        help="train one run here and write its frames as one HTML file viewable without a server",
    )
    export.add_argument(
        "--epochs", type=positive_int, default=200, help="epochs to train (default: 200)"
    )
    export.add_argument(
        "--frames",
        type=positive_int,
        default=20,
        help="frames kept, evenly in epochs (default: 20)",
    )
    export.add_argument(
        "--sweep",
        default=None,
        metavar="NAME=V1,V2,...",
        help="one run per value, chosen with a slider: learning_rate=0.03,0.3,3 or "
        "hidden=2;4;8 (widths: hidden layers separated by ';', units by ',')",
    )
    run = p.add_argument_group("the run (for --export; the page has its own controls)")
    run.add_argument("--data", choices=DATA_NAMES, default=None)
    run.add_argument("--noise", type=float, default=None)
    run.add_argument(
        "--points", type=int, default=None, help="points drawn, training and test together"
    )
    run.add_argument("--train-fraction", type=float, default=None)
    run.add_argument(
        "--hidden", default=None, metavar="N1,N2,...", help="units per hidden layer, e.g. 8,8"
    )
    run.add_argument("--activation", choices=ACTIVATIONS, default=None)
    run.add_argument("--loss", choices=LOSSES, default=None)
    run.add_argument("--learning-rate", type=float, default=None, metavar="ALPHA")
    run.add_argument(
        "--schedule", choices=SCHEDULES, default=None, help="inverse_time is α_k = c1/(k + c2)"
    )
    run.add_argument("--c1", type=float, default=None)
    run.add_argument("--c2", type=float, default=None)
    run.add_argument(
        "--batch-size", default=None, metavar="K|all", help="1 (SGD), K (mini-batch) or all"
    )
    run.add_argument("--method", choices=METHODS, default=None)
    run.add_argument("--seed", type=int, default=None)
    p.set_defaults(handler=run_playground)


def run_playground(args: argparse.Namespace) -> int:
    from functional_nn.playground.settings import parse_settings

    fields = {
        field: getattr(args, flag)
        for flag, field in _SETTING_FLAGS.items()
        if getattr(args, flag) is not None
    }
    settings = parse_settings(fields)
    if args.export is None:
        if fields or args.sweep is not None:
            raise CLIError(
                "the run's flags (--data, --hidden, ..., --sweep) go with --export; the served page "
                "has its own controls (or a query string such as ?data=spirals&hidden=8,8)"
            )
        from functional_nn.playground.server import serve

        serve(
            args.port,
            open_browser=args.open,
            idle_seconds=args.idle_timeout,
            quiet=not args.verbose,
            announce=lambda text: print(text, flush=True),
        )
        return 0
    from functional_nn.playground.export import export_html

    path = export_html(
        args.export, settings, epochs=args.epochs, frames=args.frames, sweep=_sweep(args.sweep)
    )
    print(
        f"wrote {path} ({path.stat().st_size // 1024} KiB): open it in a browser, no server needed"
    )
    return 0


def _sweep(text: str | None):
    if text is None:
        return None
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not values.strip():
        raise CLIError(
            f"--sweep must look like learning_rate=0.03,0.3,3 or hidden=2;4;8, got {text!r}"
        )
    if name == "hidden":
        return name, [v.strip() for v in values.split(";")]
    return name, [v.strip() for v in values.split(",")]
