"""The runner's tables and the issue's targets, from the results dictionary."""

from __future__ import annotations

import workloads
from harness import fmt, markdown_table

#: The issue's "whole run in one lax.scan" figure for W1 on its 2-core CPU (updates/s).
ISSUE_W1_SCAN = 1.7e7

COLUMNS = (
    ("fit", "fnn.fit"),
    ("torch", "torch eager"),
    ("numpy", "numpy (hand backprop)"),
    ("sklearn", "scikit-learn MLP"),
    ("loop", "jitted step in a Python loop"),
    ("scan", "whole run in one lax.scan"),
    ("scan_shuffle", "one lax.scan, shuffles in the run"),
)


def spec_of(entry: dict) -> workloads.Spec:
    d = entry["spec"]
    return workloads.Spec(**{**d, "layer_sizes": tuple(d["layer_sizes"])})


def metric(entry: dict, name: str) -> float | None:
    """The table's figure for one implementation: throughput, fraction of the matmul peak, or seconds."""
    impl = entry["impls"].get(name)
    if impl is None:
        return None
    spec, seconds = spec_of(entry), impl["median_s"]
    if spec.metric == "updates/s":
        return spec.num_updates * spec.num_models / seconds
    if spec.metric == "samples/s":
        return spec.num_samples * spec.num_models / seconds
    if (
        spec.metric == "fraction of matmul peak"
    ):  # the same FLOPs: a ratio of times, measured interleaved
        return entry["impls"]["matmul_peak"]["median_s"] / seconds
    return seconds


def _seconds(entry: dict | None, name: str) -> float | None:
    if entry is None or name not in entry["impls"]:
        return None
    return entry["impls"][name]["median_s"]


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _time_ratio(entry: dict, a: str, b: str) -> tuple[float | None, str]:
    """``time(a) / time(b)``: paired (harness.paired_ratio) where measured so, else of the medians;
    and how it was measured, for the target's text."""
    medians = _ratio(_seconds(entry, a), _seconds(entry, b))
    paired = entry.get("paired", {}).get(f"{a}/{b}")
    if paired is None:
        return medians, ""
    return paired, f" [paired; ratio of the medians {fmt(medians, 3)}]"


def targets(results: dict) -> list[dict]:
    """Each target of the issue: the measured value, the threshold and whether it is met (None: not run)."""
    w = results["workloads"]
    rows = []

    def add(workload, text, value, threshold, at_most=False):
        met = None if value is None else (value <= threshold if at_most else value >= threshold)
        rows.append(
            {
                "workload": workload,
                "target": text,
                "value": value,
                "threshold": threshold,
                "at_most": at_most,
                "met": met,
            }
        )

    if "W1" in w:
        add(
            "W1",
            "fit / torch eager (updates/s)",
            _ratio(metric(w["W1"], "fit"), metric(w["W1"], "torch")),
            800,
        )
        add(
            "W1",
            f"fit / the issue's one-lax.scan figure ({fmt(ISSUE_W1_SCAN)} updates/s)",
            _ratio(metric(w["W1"], "fit"), ISSUE_W1_SCAN),
            0.8,
        )
        value, how = _time_ratio(w["W1"], "scan", "fit")
        add("W1", "fit / this run's one-lax.scan" + how, value, 0.8)
        value, how = _time_ratio(w["W1"], "scan_shuffle", "fit")
        add("W1", "fit / this run's one-lax.scan with in-run shuffles" + how, value, 0.8)
    if "W2" in w:
        e = w["W2"]
        add("W2", "fit / torch eager (samples/s)", _ratio(metric(e, "fit"), metric(e, "torch")), 5)
        value, how = _time_ratio(e, "fit_ckpt5", "fit")
        add("W2", "fit with checkpoint_every=5 / without (time)" + how, value, 1.05, at_most=True)
        add("W2", "fit / numpy (samples/s)", _ratio(metric(e, "fit"), metric(e, "numpy")), 2)
        value, how = _time_ratio(e, "scan", "fit")
        add("W2", "fit / this run's one-lax.scan (samples/s)" + how, value, 0.9)
        value, how = _time_ratio(e, "scan_shuffle", "fit")
        add("W2", "fit / the scan with in-run shuffles (samples/s)" + how, value, 0.9)
        fit_c, scan_c = (e["impls"].get(n, {}).get("compile_s") for n in ("fit", "scan"))
        add(
            "W2",
            "fit compile / the scan's compile (call after clear_caches − run)",
            _ratio(fit_c, scan_c),
            1.5,
            at_most=True,
        )
        accuracies = [
            e["impls"][n]["quality"].get("test_accuracy")
            for n in ("fit", "numpy")
            if n in e["impls"]
        ]
        add(
            "W2",
            "test accuracy of fit and numpy (lower of the two)",
            min(accuracies) if accuracies and None not in accuracies else None,
            0.96,
        )
        e2e = results.get("w2_end_to_end")
        if e2e is not None:
            add(
                "W2",
                "new process, warm cache: numpy end to end / fit end to end",
                _ratio(e2e["numpy"]["end_to_end_s"], e2e["fit_warm_cache"]["end_to_end_s"]),
                1.0,
            )

    if "W3" in w:
        add("W3", "fit: fraction of the matmul peak", metric(w["W3"], "fit"), 0.9)
        add(
            "W3",
            "fit / the one-lax.scan (time ratio, within 5%)",
            _ratio(_seconds(w["W3"], "scan"), _seconds(w["W3"], "fit")),
            0.95,
        )
    if "W4" in w:
        e = w["W4"]
        add(
            "W4",
            "64 sequential fit / fit_many (time)",
            _ratio(_seconds(e, "fit_seq"), _seconds(e, "fit")),
            1.0,
        )
        add(
            "W4",
            "torch eager sequential / fit_many (time)",
            _ratio(_seconds(e, "torch"), _seconds(e, "fit")),
            4,
        )
        value, how = _time_ratio(e, "scan_vmap", "fit")
        add("W4", "vmapped scan / fit_many (speed)" + how, value, 0.9)
    if "W4xor" in w:
        e = w["W4xor"]
        add(
            "W4",
            "1000 XOR models: torch eager (extrapolated) / fit_many (time)",
            _ratio(_seconds(e, "torch"), _seconds(e, "fit")),
            100,
        )
        value, how = _time_ratio(e, "fit", "scan_vmap")
        add(
            "W4", "1000 XOR models: fit_many / vmapped scan (time)" + how, value, 1.25, at_most=True
        )
    step = results.get("step_ratio")
    if step is not None:
        add(
            "step",
            "manual / autodiff step time (jitted value_and_grad per call)",
            step["per_call"]["ratio"],
            1.0,
            at_most=True,
        )
        add(
            "step",
            "manual / autodiff step time (inside a lax.scan)",
            step["in_scan"]["ratio"],
            1.0,
            at_most=True,
        )
    return rows


def _cell(entry: dict, name: str) -> str:
    spec = spec_of(entry)
    if spec.name == "W4xor" and name == "scan":
        return f"{fmt(metric(entry, 'scan_vmap'))} with vmap"
    value = metric(entry, name)
    if value is None:
        return "—"
    if spec.name == "W4" and name == "fit":
        return f"{fmt(value)} fit_many; {fmt(metric(entry, 'fit_seq'))} as {spec.num_models} sequential fit"
    if spec.name == "W4" and name == "scan":
        return f"{fmt(value)} sequential, {fmt(metric(entry, 'scan_vmap'))} with vmap"
    note = entry["impls"][name].get("note")
    return fmt(value) + (f" ({note})" if note else "")


def main_table(results: dict) -> str:
    rows = []
    for name, entry in results["workloads"].items():
        spec = spec_of(entry)
        label = f"{name}: {spec.title} ({spec.metric})"
        if "matmul_peak" in entry:
            label = label[:-1] + f"; peak {fmt(entry['matmul_peak']['flops_per_s'] / 1e9)} GFLOP/s)"
        rows.append([label] + [_cell(entry, key) for key, _ in COLUMNS])
    return markdown_table(["workload"] + [title for _, title in COLUMNS], rows)


def targets_table(rows: list[dict]) -> str:
    verdict = {True: "met", False: "NOT met", None: "not measured"}
    body = [
        [
            r["workload"],
            r["target"],
            fmt(r["value"], 3),
            ("≤ " if r["at_most"] else "≥ ") + fmt(r["threshold"]),
            verdict[r["met"]],
        ]
        for r in rows
    ]
    return markdown_table(["workload", "ratio", "measured", "target", ""], body)


def w2_table(results: dict) -> str | None:
    entry = results["workloads"].get("W2")
    if entry is None:
        return None
    rows = []
    for name in ("fit", "loop", "scan"):
        impl = entry["impls"].get(name)
        if impl is not None:
            rows.append(
                [
                    f"{name}: compile (call after jax.clear_caches() − median run), median of the rounds",
                    f"{fmt(impl['compile_s'])} s",
                ]
            )
            rows.append(
                [
                    f"{name}: first call, compilation included, this process",
                    f"{fmt(impl['first_call_s'])} s (median run {fmt(impl['median_s'])} s)",
                ]
            )
    e2e = results.get("w2_end_to_end")
    if e2e is not None:
        for label, key in (
            ("fit, new process, cold persistent cache", "fit_cold_cache"),
            ("fit, new process, warm persistent cache", "fit_warm_cache"),
            ("hand-written scan, new process, cold persistent cache", "scan_cold_cache"),
            ("hand-written scan, new process, warm persistent cache", "scan_warm_cache"),
            ("numpy, new process", "numpy"),
        ):
            if key not in e2e:  # results written before the scan was measured
                continue
            run = e2e[key]
            memory = f"peak RSS {fmt(run['peak_rss_bytes'] / 2**20)} MiB"
            if run.get("tracemalloc_peak_bytes") is not None:
                memory += f", numpy allocations (tracemalloc) {fmt(run['tracemalloc_peak_bytes'] / 2**20)} MiB"
            if run.get("device_peak_bytes") is not None:
                memory += f", device peak {fmt(run['device_peak_bytes'] / 2**20)} MiB"
            elif not key.startswith("numpy"):
                memory += ", device memory_stats n/a on this backend"
            rows.append(
                [
                    label,
                    f"end to end {fmt(run['end_to_end_s'])} s (imports {fmt(run['import_s'])} s, "
                    f"whole process {fmt(run['process_wall_s'])} s); {memory}; "
                    f"test accuracy {fmt(run.get('test_accuracy'), 3)}",
                ]
            )
        if (
            "scan_warm_cache" in e2e
        ):  # the floor a JAX program meets here, beside the target's numpy
            times = {
                k: e2e[k]["end_to_end_s"] for k in ("fit_warm_cache", "scan_warm_cache", "numpy")
            }
            rows.append(
                [
                    "warm cache, end to end: fit / hand-written scan; scan / numpy",
                    f"{fmt(times['fit_warm_cache'] / times['scan_warm_cache'])}; "
                    f"{fmt(times['scan_warm_cache'] / times['numpy'])}",
                ]
            )
    return markdown_table(["W2 detail", "value"], rows)


def step_table(results: dict) -> str | None:
    step = results.get("step_ratio")
    if step is None:
        return None
    rows = [
        [
            label,
            f"{fmt(s['manual_s'] * 1e6)} µs",
            f"{fmt(s['autodiff_s'] * 1e6)} µs",
            fmt(s["ratio"], 3),
        ]
        for label, s in (
            ("jitted value_and_grad, per call", step["per_call"]),
            ("SGD step inside a lax.scan", step["in_scan"]),
        )
    ]
    return markdown_table(
        ["64-128-64-10 ReLU/softmax, K = 32", "manual", "autodiff", "manual / autodiff"], rows
    )


def agreement_table(results: dict) -> str:
    """Final training loss of each implementation's first model: the same start and order give the same run."""
    names = [
        "fit",
        "fit_seq",
        "torch",
        "numpy",
        "sklearn",
        "loop",
        "scan",
        "scan_shuffle",
        "scan_vmap",
    ]
    rows = []
    for wname, entry in results["workloads"].items():
        cells = []
        for n in names:
            q = entry["impls"].get(n, {}).get("quality")
            if q is None:
                cells.append("—")
            else:
                cells.append(
                    fmt(q["train_loss"], 4)
                    + (f" / {q['test_accuracy']:.3f}" if "test_accuracy" in q else "")
                )
        rows.append([wname] + cells)
    return markdown_table(["final train loss (/ test acc.)"] + names, rows)


def tables(results: dict) -> str:
    m = results["machine"]
    head = (
        f"{results['date']} · {m['processor']} · {m['cpu_count']} cores · load {fmt(m['load_average_1m'])} · "
        f"jax {m['jax']} ({m['jax_backend']}) · "
        + " · ".join(results["peers"].values())
        + f" · median of {results['config']['reps']}"
        + (" · QUICK SIZES" if results["config"]["quick"] else "")
    )
    parts = [head, main_table(results), targets_table(results["targets"])]
    parts += [t for t in (w2_table(results), step_table(results)) if t is not None]
    parts.append(agreement_table(results))
    return "\n\n".join(parts)
