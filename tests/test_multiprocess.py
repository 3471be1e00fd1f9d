"""Several processes on JAX's distributed runtime (127.0.0.1 only), the launcher, and fit_many over "members".

One launch of 2 processes × 2 simulated devices (tests/multiprocess_worker.py)
pays JAX's start-up and compilation once for every multi-process check: the
results against one process on one device (computed here), the rows each process
holds, the refused mismatches, and then a process killed mid-run. One more
subprocess (4 simulated devices) checks fit_many over a "members" mesh. Every
subprocess has a hard timeout; the launcher's own unit tests start plain Python.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

import functional_nn as fnn
from functional_nn import cli, launch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import multiprocess_worker as worker  # noqa: E402

HEARTBEAT_S = 2  # the launch's heartbeat timeout: a dead process is noticed in a few seconds
BOUND_S = 60  # the bound on noticing a dead process


@pytest.fixture(scope="module")
def reference():
    """The same fit in this process on one device, with all the rows."""
    x, labels = worker.rows(0, worker.NUM_ROWS)
    val = worker.rows(worker.NUM_ROWS, worker.NUM_ROWS + worker.NUM_VAL)
    net, params, key = worker.network_and_params()
    return worker.result_json(
        fnn.fit(net, params, x, labels, key=key, validation=val, **worker.SETTINGS)
    )


def _launch(mode: str, out: Path):
    """Two processes × 2 simulated devices running the worker in ``mode``: ``(result, output)``."""
    lines = io.StringIO()
    result = launch.launch(
        [sys.executable, str(HERE / "multiprocess_worker.py"), mode, str(out)],
        processes=2,
        local_devices=2,
        heartbeat_timeout=HEARTBEAT_S,
        grace=BOUND_S,  # a survivor must end by itself, not by the launcher
        timeout=400,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
        stdout=lines,
        stderr=lines,
    )
    assert out.exists(), lines.getvalue()[-4000:]
    return result, lines.getvalue()


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    out = tmp_path_factory.mktemp("multiprocess") / "fit.json"
    result, lines = _launch("fit-then-die", out)
    return result, json.loads(out.read_text()), lines, out.with_name("resumed.json")


@pytest.fixture(scope="module")
def resumed(launched):
    """The run that ``launched`` killed, relaunched in two new processes with ``resume=True``."""
    out = launched[3]
    result, lines = _launch("resume", out)
    assert result.returncode == 0, lines[-4000:]
    return json.loads(out.read_text())


def _max_diff(a, b) -> float:
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for u, v in zip(a, b))


def test_two_processes_match_one_process_on_one_device(launched, reference):
    _, report, _, _ = launched
    assert report["processes"] == 2 and report["devices"] == 4
    assert reference["stopped_epoch"] < worker.SETTINGS["num_epochs"]  # early stopping ended it
    for name in ("all_devices", "one_device_per_process"):  # 4, then 2 devices hold the rows
        run = report[name]
        assert run["stopped_epoch"] == reference["stopped_epoch"], name
        assert run["best_epoch"] == reference["best_epoch"], name
        assert _max_diff(run["params"], reference["params"]) <= 1e-5, name
        assert _max_diff(run["best_params"], reference["best_params"]) <= 1e-5, name
        assert set(run["history"]) == set(reference["history"])
        for key, values in reference["history"].items():
            np.testing.assert_allclose(run["history"][key], values, atol=1e-5, err_msg=key)
    assert report["all_devices"]["mesh_devices"] == 4
    assert report["one_device_per_process"]["mesh_devices"] == 2


def test_fit_many_with_members_split_across_processes_matches_one_device(launched):
    _, report, _, _ = launched
    across = report["members_across_processes"]
    assert across["vs_one_device"] <= 1e-6 and len(across["stopped"]) == 8, across


def test_a_divergence_across_processes_is_diagnosed_as_in_one_process(launched):
    _, report, _, _ = launched
    x, labels = worker.rows(0, worker.NUM_ROWS)
    alone = worker.diverging_fit(x, labels)
    assert alone["diverged"] and alone["diverged_leaf"], alone["message"]
    across = report["diverged"]
    # the same epoch, step and leaf, found by the replay and the step redone after the run,
    # and the same message but for the last digits of the losses it quotes
    for name in ("diverged", "diverged_epoch", "diverged_step", "diverged_leaf"):
        assert across[name] == alone[name], name
    losses = re.compile(r"\d+\.\d+(e[+-]\d+)?")
    assert losses.sub("#", across["message"]) == losses.sub("#", alone["message"])
    assert _max_diff(across["params"], alone["params"]) <= 1e-5  # the last finite params


def test_checkpoints_of_a_multi_process_run_resume_to_the_uninterrupted_bits(launched):
    _, report, _, _ = launched
    ckpt = report["checkpoints"]
    # fit over both processes' rows, stopped after its epoch-4 checkpoint and resumed: the
    # bits of the same run without checkpoints, to its early stop
    assert ckpt["fit_files"] == ["ckpt_000002.npz", "ckpt_000004.npz"]
    assert set(ckpt["fit"]) == {"params", "best_params", "stopped_epoch", "best_epoch", "history"}
    assert ckpt["fit"] == {name: report["all_devices"][name] for name in ckpt["fit"]}
    # fit_many with its members split over both processes: one checkpoint holds them all
    assert ckpt["many_same_bits"]
    # each process with its own directory: refused in both, naming what each found
    assert "process 0: ckpt_" in ckpt["not_shared"] and "process 1: none" in ckpt["not_shared"]
    assert "shared file system" in ckpt["not_shared"]


def test_a_killed_multi_process_run_relaunched_with_resume_ends_with_the_uninterrupted_bits(
    launched, resumed
):
    # launched's last run: process 1 SIGKILLed itself after epoch 6's checkpoint (the test
    # below checks how that launch ended); relaunched, the same call with resume=True
    _, uninterrupted, _, _ = launched
    # process 0's checkpoints: the newest is epoch 6's, or epoch 8's when the segment
    # dispatched before the kill had run through on both processes (keep=3 prunes after a
    # write, so a process ended right after writing epoch 8's may leave epoch 2's too)
    found = [int(name[5:11]) for name in resumed["found"] if name.startswith("ckpt_")]
    assert found[-1] in (6, 8) and found[-3:] == [found[-1] - 4, found[-1] - 2, found[-1]], found
    # it went on from there, not from the start
    assert resumed["segments"][0] == found[-1] + 2, resumed["segments"]
    fit = resumed["fit"]
    assert fit == {name: uninterrupted["all_devices"][name] for name in fit}


def test_each_process_holds_only_its_own_rows(launched):
    # the worker asserts it in each process (a failed assertion fails the launch before
    # the results are written); process 0 reports the rows it held
    _, report, _, _ = launched
    assert report["all_devices"]["held_rows"] == [0, worker.NUM_ROWS // 2]


def test_a_mismatched_configuration_is_refused_naming_what_differs(launched):
    _, report, _, _ = launched
    errors = report["errors"]
    assert "key (processes [1] differ from process 0" in errors["key"]
    assert "network (processes [1]" in errors["network"] and "tanh" in errors["network"]
    assert "process 0: (8, 3), process 1: (6, 3)" in errors["rows"]
    assert "segments and checkpoints (processes [1]" in errors["checkpoints"]


def test_a_killed_process_ends_the_others_within_the_bound(launched):
    result, _, lines, _ = launched
    assert result.failed == 1, result.message
    dead, survivor = result.exits[1], result.exits[0]
    assert dead.returncode == -9 and "SIGKILL" in dead.reason
    assert survivor.returncode not in (0, None) and not survivor.killed, lines[-3000:]
    # it learns of the death from the missed heartbeats or, when it sits in a collective with
    # the dead process, from that collective's broken connection (Gloo words it as a reset or
    # as a close, depending on where in the exchange the peer vanished): either ends it at once
    signs = ("stopped sending heartbeats", "Connection reset by peer", "Connection closed by peer")
    assert any(sign in survivor.reason for sign in signs), survivor.reason
    noticed = survivor.seconds - dead.seconds
    assert 0 <= noticed <= BOUND_S, noticed
    assert "process 1 failed first" in result.message and "SIGKILL" in result.message
    assert result.returncode == 128 + 9
    assert "the survivor finished" not in lines


def test_fit_many_over_a_members_mesh_matches_one_device_and_fit(tmp_path):
    out = tmp_path / "members.json"
    env = dict(
        os.environ,
        XLA_FLAGS=os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4",
        JAX_PLATFORMS="cpu",
    )
    done = subprocess.run(
        [sys.executable, str(HERE / "multiprocess_worker.py"), "members", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    members, both = report["members"], report["members_and_data"]
    assert members["sharded"] and members["member_blocks"] == 4  # 8 members, 2 per device
    assert both["sharded"] and both["member_blocks"] == 2  # 2 × 2 mesh: 4 members per block
    for run in (members, both):
        assert run["vs_one_device"] <= 1e-6 and run["history_vs_one_device"] <= 1e-6, run
    assert report["vs_fit"] <= 1e-6
    assert "multiple of 4" in report["uneven_error"]


# --- the launcher, with plain Python processes -------------------------------------------

ECHO = textwrap.dedent("""
    import os, sys, time
    pid = int(os.environ["FNN_PROCESS_ID"])
    print(pid, os.environ["FNN_NUM_PROCESSES"], os.environ["FNN_COORDINATOR_ADDRESS"],
          os.environ.get("XLA_FLAGS", ""))
    if sys.argv[1] == "fail" and pid == 1:
        raise RuntimeError("process one broke")
    if sys.argv[1] == "fail":
        time.sleep(60)
""")


def test_the_launcher_tells_each_process_its_id_and_gathers_exit_codes():
    out = io.StringIO()
    result = launch.launch(
        [sys.executable, "-c", ECHO, "ok"], processes=3, local_devices=2, stdout=out, stderr=out
    )
    assert result.returncode == 0 and result.failed is None, out.getvalue()
    assert [e.returncode for e in result.exits] == [0, 0, 0]
    lines = sorted(line for line in out.getvalue().splitlines() if line.startswith("[process"))
    assert [line.split()[2] for line in lines] == ["0", "1", "2"]
    addresses = {line.split()[4] for line in lines}
    assert len(addresses) == 1 and addresses.pop().startswith("127.0.0.1:")
    assert all("--xla_force_host_platform_device_count=2" in line for line in lines)


def test_the_launcher_stops_the_rest_and_names_the_failed_process():
    out = io.StringIO()
    result = launch.launch(
        [sys.executable, "-c", ECHO, "fail"], processes=2, grace=0.5, stdout=out, stderr=out
    )
    assert result.failed == 1 and result.returncode == 1
    assert "RuntimeError: process one broke" in result.exits[1].reason
    assert result.exits[0].killed and "by the launcher" in result.exits[0].reason
    assert result.exits[0].seconds < 30
    assert result.message.startswith("process 1 failed first")


def test_the_launcher_refuses_bad_arguments(tmp_path, capsys):
    with pytest.raises(ValueError, match="processes must be >= 1, got 0"):
        launch.launch([sys.executable, "-c", "pass"], processes=0)
    with pytest.raises(ValueError, match="empty command"):
        launch.launch([], processes=1)
    assert launch.main(["-n", "2", str(tmp_path / "missing.py")]) == 2
    assert "missing.py" in capsys.readouterr().err
    script = tmp_path / "ok.py"
    script.write_text("import os; print('id', os.environ['FNN_PROCESS_ID'])\n")
    assert cli.main(["launch", "-n", "2", str(script)]) == 0
    assert "all 2 processes exited with status 0" in capsys.readouterr().err


def test_a_single_process_initialize_is_not_needed_for_global_rows():
    mesh = fnn.data_mesh(jax.devices()[:1])
    rows = fnn.parallel.global_rows(np.ones((4, 3), np.float32), mesh)
    assert rows.shape == (4, 3) and rows.sharding.spec == jax.sharding.PartitionSpec("data")
    with pytest.raises(ValueError, match="leading axis of rows"):
        fnn.parallel.global_rows(np.float32(1.0), mesh)
