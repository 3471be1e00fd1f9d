"""``functional-nn launch``: the one-machine launcher of :mod:`functional_nn.launch` as a subcommand."""

from __future__ import annotations


def add_launch(commands) -> None:
    from functional_nn import launch

    p = commands.add_parser(
        "launch",
        help="run a script as N processes on 127.0.0.1 (JAX's distributed runtime)",
        description="Start N processes of a script on 127.0.0.1 with a free coordinator port, each told its "
        "process id (FNN_PROCESS_ID, FNN_NUM_PROCESSES, FNN_COORDINATOR_ADDRESS; the script calls "
        "functional_nn.parallel.initialize()); gather their exit codes, and on the first failure stop the "
        "rest and say which process failed and why. Same as 'python -m functional_nn.launch'.",
    )
    launch.add_arguments(p)
    p.set_defaults(handler=launch.run_from_args)
