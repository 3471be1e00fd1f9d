r"""Start a multi-process run on this machine: ``python -m functional_nn.launch -n N script.py args...``.

The launcher picks a free port on 127.0.0.1 and starts ``N`` copies of the
script, telling process ``i`` its id, the process count and the coordinator's
address through ``FNN_PROCESS_ID``, ``FNN_NUM_PROCESSES`` and
``FNN_COORDINATOR_ADDRESS`` (the script calls :func:`functional_nn.parallel.initialize`,
which reads them). Each line a process prints is forwarded prefixed with
``[process i]``. It gathers the exit codes; on the first failure it gives the
others ``--grace`` seconds to end by themselves (JAX's runtime ends them once it
notices), then kills the rest and reports which process failed and why.

On a cluster there is no launcher: the scheduler starts one process per host
(``srun python script.py``) and :func:`~functional_nn.parallel.initialize` finds the
coordinator itself, or is given ``coordinator_address="host0:1234"``,
``num_processes`` and ``process_id``.

Example:
    $ python -m functional_nn.launch -n 2 --local-devices 2 examples/multi_process.py
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import NamedTuple, TextIO

from functional_nn import parallel
from functional_nn._validate import check_int, check_number

#: Lines of each process's stderr kept to say why it failed.
__all__ = ["LaunchResult", "ProcessExit", "free_port", "launch", "main"]

TAIL_LINES = 40


class ProcessExit(NamedTuple):
    """How one process of a launch ended."""

    process: int  # its process id
    returncode: (
        int | None
    )  # as subprocess gives it: negative = killed by that signal; None = still running
    seconds: float  # from the launch's start to its end
    killed: bool  # ended by the launcher (after another process failed, or the timeout)
    reason: str  # "exit status 0", "killed by SIGKILL", ... and its last error line


class LaunchResult(NamedTuple):
    """A launch's outcome: ``returncode`` 0 when every process exited 0."""

    returncode: int
    exits: tuple[ProcessExit, ...]  # one per process, by process id
    failed: int | None  # the process that failed first (None: none did)
    message: str  # one paragraph: who failed first and why, and how the others ended


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def launch(
    command: Sequence[str],
    *,
    processes: int,
    local_devices: int | None = None,
    heartbeat_timeout: int | None = None,
    grace: float = 5.0,
    timeout: float | None = None,
    env: dict | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> LaunchResult:
    """Run ``command`` (e.g. ``[sys.executable, "script.py", ...]``) as ``processes`` processes.

    Args:
        command: the program of every process, its arguments included.
        processes: how many processes, ``N >= 1``.
        local_devices: simulated CPU devices per process
            (``--xla_force_host_platform_device_count``); None leaves JAX's devices.
        heartbeat_timeout: seconds after which JAX's coordinator declares a silent
            process dead (``FNN_HEARTBEAT_TIMEOUT``; default
            :data:`functional_nn.parallel.HEARTBEAT_TIMEOUT_S`).
        grace: seconds the others may take to end by themselves after the first
            failure before they are killed.
        timeout: seconds for the whole run, after which every process is killed.
        env: the environment to start from (default ``os.environ``).
        stdout, stderr: where the prefixed lines go (default ``sys.stdout``/``sys.stderr``).
    Returns:
        A :class:`LaunchResult`.
    """
    processes = check_int("processes", processes, 1)
    if local_devices is not None:
        local_devices = check_int("local_devices", local_devices, 1)
    if heartbeat_timeout is not None:
        heartbeat_timeout = check_int("heartbeat_timeout", heartbeat_timeout, 1)
    grace = check_number("grace", grace)
    if timeout is not None:
        timeout = check_number("timeout", timeout, strict=True)
    command = [str(part) for part in command]
    if not command:
        raise ValueError("command must name the program to run, got an empty command")
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    base = dict(os.environ if env is None else env)
    base[parallel.ENV_COORDINATOR] = f"127.0.0.1:{free_port()}"
    base[parallel.ENV_NUM_PROCESSES] = str(processes)
    base["PYTHONUNBUFFERED"] = "1"
    if heartbeat_timeout is not None:
        base[parallel.ENV_HEARTBEAT] = str(heartbeat_timeout)
    if local_devices is not None:
        flags = re.sub(r"--xla_force_host_platform_device_count=\S+", "", base.get("XLA_FLAGS", ""))
        base["XLA_FLAGS"] = (
            f"{flags} --xla_force_host_platform_device_count={local_devices}".strip()
        )

    start = time.monotonic()
    children, tails, pumps = [], [], []
    lock = threading.Lock()
    for i in range(processes):
        child = subprocess.Popen(
            command,
            env={**base, parallel.ENV_PROCESS_ID: str(i)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        children.append(child)
        tails.append(tail)
        for pipe, sink, keep in ((child.stdout, stdout, None), (child.stderr, stderr, tail)):
            pump = threading.Thread(target=_pump, args=(pipe, sink, f"[process {i}] ", keep, lock))
            pump.daemon = True
            pump.start()
            pumps.append(pump)

    ended: dict[int, float] = {}  # process -> seconds from the start to its end
    killed: set[int] = set()
    try:
        failed, timed_out = _wait(children, ended, killed, start, grace, timeout)
    finally:  # an interrupted launcher (Ctrl-C) leaves no process behind
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for pump in pumps:
        pump.join(timeout=5)

    exits = tuple(
        ProcessExit(
            i,
            child.returncode,
            ended[i],
            i in killed,
            _reason(child.returncode, tails[i], i in killed),
        )
        for i, child in enumerate(children)
    )
    message = _summary(exits, failed, timed_out, timeout)
    code = 0
    if failed is not None or timed_out:
        first = exits[failed].returncode if failed is not None else -signal.SIGKILL
        code = 128 - first if first < 0 else first
    return LaunchResult(code, exits, failed, message)


def _wait(children, ended: dict, killed: set, start: float, grace: float, timeout):
    """Poll until every process ended; kill the rest ``grace`` s after the first failure: ``(failed, timed_out)``."""
    failed, kill_at, timed_out = None, None, False
    while len(ended) < len(children):
        now = time.monotonic()
        for i, child in enumerate(children):
            if i not in ended and child.poll() is not None:
                ended[i] = now - start
                if child.returncode != 0 and failed is None:
                    failed, kill_at = i, now + grace
        if timeout is not None and now - start > timeout and not timed_out:
            timed_out, kill_at = True, now
        if kill_at is not None and now >= kill_at:
            for i, child in enumerate(children):
                if i not in ended and i not in killed:
                    killed.add(i)
                    child.kill()
        time.sleep(0.02)
    return failed, timed_out


def _pump(pipe, sink: TextIO, prefix: str, keep: deque | None, lock: threading.Lock) -> None:
    for line in pipe:
        if keep is not None:
            keep.append(line.rstrip("\n"))
        with lock:
            sink.write(prefix + line)
            sink.flush()
    pipe.close()


#: The lines of a failing process that say why: Python's exception line, JAX's fatal errors.
_WHY = re.compile(
    r"^(\w+\.)*\w*(Error|Exception|Interrupt)\b|Terminating process because|^F\d{4} |tasks are unhealthy"
)


def _reason(returncode: int | None, tail: deque, killed: bool) -> str:
    if returncode == 0:
        return "exit status 0"
    if returncode is not None and returncode < 0:
        try:
            how = f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"killed by signal {-returncode}"
    else:
        how = f"exit status {returncode}"
    if killed:
        how += " (by the launcher)"
    lines = [line.strip() for line in tail]
    why = [i for i, line in enumerate(lines) if _WHY.search(line)]
    if why:
        line = lines[why[-1]]
        if line.endswith(":") and why[-1] + 1 < len(
            lines
        ):  # JAX names the dead tasks on the next line
            line += " " + lines[why[-1] + 1]
        return f"{how}: {line[:400]}"
    return how


def _summary(exits, failed: int | None, timed_out: bool, timeout) -> str:
    if failed is None and not timed_out:
        return f"all {len(exits)} processes exited with status 0"
    parts = []
    if failed is not None:
        first = exits[failed]
        parts.append(f"process {failed} failed first, after {first.seconds:.1f} s ({first.reason})")
    else:
        parts.append(f"the run passed its timeout of {timeout:g} s")
    for e in exits:
        if e.process != failed:
            parts.append(f"process {e.process}: {e.reason}, after {e.seconds:.1f} s")
    return "; ".join(parts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The launcher's options (shared with ``functional-nn launch``)."""
    parser.add_argument("-n", "--processes", type=int, required=True, help="number of processes")
    parser.add_argument(
        "--local-devices",
        type=int,
        default=None,
        help="simulated CPU devices per process (--xla_force_host_platform_device_count)",
    )
    parser.add_argument(
        "--heartbeat-timeout",
        type=int,
        default=None,
        help=f"seconds until a silent process counts as dead (default {parallel.HEARTBEAT_TIMEOUT_S})",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=5.0,
        help="seconds the others may take to end by themselves after a failure (default 5)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds for the whole run, then kill"
    )
    parser.add_argument("script", help="the Python script every process runs")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")


def run_from_args(args: argparse.Namespace) -> int:
    """Launch from parsed :func:`add_arguments` options; print the summary; return the exit status."""
    if not os.path.isfile(args.script):
        raise FileNotFoundError(2, "No such file", args.script)
    result = launch(
        [sys.executable, args.script, *args.args],
        processes=args.processes,
        local_devices=args.local_devices,
        heartbeat_timeout=args.heartbeat_timeout,
        grace=args.grace,
        timeout=args.timeout,
    )
    print(f"functional_nn.launch: {result.message}", file=sys.stderr)
    return result.returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m functional_nn.launch",
        description="Start N processes of a script on 127.0.0.1 (JAX's distributed runtime), "
        "gather their exit codes, and on the first failure stop the rest and say which failed.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_from_args(args)
    except (ValueError, TypeError, OSError) as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
