"""A self-contained HTML file with the frames of a run, or of a sweep, viewable without a server.

The file holds the page's own drawing script and style inline and the frames as JSON;
a slider picks the frame, a second one the member of a sweep (learning rates or
hidden widths). The first and last frames are shown side by side.

Examples:
    $ functional-nn playground --export out/demo.html --data spirals --hidden 8,8 --epochs 300
    $ functional-nn playground --export out/sweep.html --sweep learning_rate=0.03,0.3,3
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from functional_nn._validate import check_int
from functional_nn.playground.server import static_file
from functional_nn.playground.session import Session
from functional_nn.playground.settings import Settings, SettingsError, parse_settings

SWEEPABLE = ("learning_rate", "hidden")
_COMMON = ("extent", "grid", "unit_grid", "layer_sizes", "settings", "points", "inputs")
_PER_FRAME = (
    "epoch",
    "updates",
    "learning_rate",
    "train_loss",
    "test_loss",
    "start_test_loss",
    "train_error",
    "test_error",
    "surface",
    "units",
    "weights",
    "biases",
)

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title>
<style>{css}</style></head>
<body data-mode="viewer" class="viewer">
<header><h1>{title}</h1>
<dl class="counters"><dt>epoch</dt><dd id="epoch">0</dd><dt>updates</dt><dd id="updates">0</dd>
<dt>α</dt><dd id="alpha">–</dd><dt>frame</dt><dd id="frame-index">–</dd></dl></header>
<p>{description}</p>
<p><label>frame <input id="frame-slider" type="range" min="0" max="0" value="0" step="1"></label></p>
<p id="member-row"><label>{sweep_name} <input id="member-slider" type="range" min="0" max="0" value="0" step="1">
<output id="member"></output></label></p>
<main>
<section class="network"><h2>Network</h2><canvas id="network" width="560" height="420"></canvas></section>
<section class="output"><h2>Output</h2><canvas id="surface" width="320" height="320" data-drawn="0"></canvas>
<dl class="losses"><dt>test loss</dt><dd id="test-loss">–</dd><dt>training loss</dt><dd id="train-loss">–</dd>
<dt>test error</dt><dd id="test-error">–</dd><dt>training error</dt><dd id="train-error">–</dd></dl>
<canvas id="loss-chart" width="320" height="120"></canvas></section>
<section><h2>First and last frame</h2><div class="thumbs">
<figure><canvas id="first" width="200" height="200"></canvas><figcaption id="first-caption"></figcaption></figure>
<figure><canvas id="last" width="200" height="200"></canvas><figcaption id="last-caption"></figcaption></figure>
</div></section>
</main>
<script type="application/json" id="frames">{frames}</script>
<script>{script}</script>
</body></html>
"""


def record(settings: Settings, *, epochs: int, frames: int) -> dict:
    """Train one session for ``epochs`` epochs, keeping ``frames`` frames (epoch 0 and ``epochs`` included)."""
    epochs = check_int("epochs", epochs, 1, 100_000)
    frames = check_int("frames", frames, 2, 200)
    session = Session(settings)
    marks = sorted({round(i * epochs / (frames - 1)) for i in range(frames)})
    kept = []
    for mark in marks:
        while session.epoch < mark:
            session.advance(epochs=mark - session.epoch)
            if session.state.diverged:
                break
        f = session.frame()
        kept.append({k: f[k] for k in _PER_FRAME})
        if f["diverged"]:
            break
    last = session.frame()
    common = {k: last[k] for k in _COMMON}
    common["history"] = last["history"]
    return {"common": common, "frames": kept}


def export_html(
    path: str | Path,
    settings: Settings,
    *,
    epochs: int = 200,
    frames: int = 20,
    sweep: tuple[str, Sequence] | None = None,
) -> Path:
    """Write the export file; returns its path.

    Args:
        path: the ``.html`` file to write (its folder is created).
        settings: the run's settings.
        epochs: epochs to train.
        frames: frames kept per run, evenly spaced in epochs.
        sweep: ``(name, values)`` with ``name`` in ``SWEEPABLE``: one run per value,
            chosen with a second slider.
    """
    members = []
    if sweep is None:
        members.append(
            {"label": _label(settings), **record(settings, epochs=epochs, frames=frames)}
        )
        sweep_name = "run"
    else:
        name, values = sweep
        if name not in SWEEPABLE:
            raise SettingsError(
                f"sweep must be over one of {', '.join(SWEEPABLE)}, got {name!r}", "sweep"
            )
        for value in values:
            member = parse_settings({name: value}, settings)
            members.append(
                {
                    "label": f"{name} = {_show(getattr(member, name))}",
                    **record(member, epochs=epochs, frames=frames),
                }
            )
        sweep_name = name
    title = f"functional_nn playground: {settings.data}"
    description = html.escape(_label(settings))
    if sweep is not None:
        description += html.escape(
            f"; one run per {sweep_name}: " + ", ".join(m["label"] for m in members)
        )
    data = json.dumps({"members": members}, allow_nan=False, separators=(",", ":"))
    page = _PAGE.format(
        title=html.escape(title),
        description=description,
        sweep_name=html.escape(sweep_name),
        css=static_file("playground.css").decode(),
        frames=data.replace("</", "<\\/"),
        script=static_file("playground.js").decode().replace("</script", "<\\/script"),
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _show(value: Any) -> str:
    return (
        ",".join(map(str, value))
        if isinstance(value, tuple)
        else f"{value:g}"
        if isinstance(value, float)
        else str(value)
    )


def _label(s: Settings) -> str:
    schedule = (
        f"α = {s.learning_rate:g}" if s.schedule == "constant" else f"α = {s.c1:g}/(k + {s.c2:g})"
    )
    sizes = "-".join(map(str, s.layer_sizes))
    return (
        f"{s.data} (noise {s.noise:g}, {s.num_points} points, {s.train_fraction:g} for training), "
        f"MLP {sizes} {s.activation}, {s.loss}, {schedule}, K = {s.batch_size}, {s.method} gradients, "
        f"seed {s.seed}"
    )


__all__ = ["SWEEPABLE", "export_html", "record"]
