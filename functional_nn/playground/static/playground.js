// The playground page: drawing (shared with the static export) and the live app.
// No dependencies, nothing fetched but this server's own /api.
"use strict";

const FNN = (() => {
  const ORANGE = [245, 147, 34], WHITE = [255, 255, 255], BLUE = [8, 119, 189];

  function decode(b64) {
    const raw = atob(b64), out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  // 0 -> orange, 0.5 -> white, 1 -> blue (class 0 / undecided / class 1)
  function color(t) {
    const [a, b, u] = t < 0.5 ? [ORANGE, WHITE, t * 2] : [WHITE, BLUE, t * 2 - 1];
    return [0, 1, 2].map(i => Math.round(a[i] + (b[i] - a[i]) * u));
  }

  // an n×n map of bytes drawn into the rectangle (x, y, w, h) of ctx
  function drawMap(ctx, bytes, n, x, y, w, h) {
    const off = document.createElement("canvas");
    off.width = n; off.height = n;
    const octx = off.getContext("2d"), img = octx.createImageData(n, n);
    for (let i = 0; i < n * n; i++) {
      const c = color(bytes[i] / 255);
      img.data[4 * i] = c[0]; img.data[4 * i + 1] = c[1]; img.data[4 * i + 2] = c[2]; img.data[4 * i + 3] = 255;
    }
    octx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(off, x, y, w, h);
  }

  function drawSurface(canvas, frame, points) {
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
    drawMap(ctx, decode(frame.surface), frame.grid, 0, 0, W, H);
    const [x0, x1, y0, y1] = frame.extent;
    const px = x => (x - x0) / (x1 - x0) * W, py = y => (y1 - y) / (y1 - y0) * H;
    for (const [part, stroke] of [["train", "#fff"], ["test", "#000"]]) {
      for (const [x, y, label] of points[part]) {
        const c = label ? BLUE : ORANGE;
        ctx.beginPath();
        ctx.arc(px(x), py(y), 3.2, 0, 2 * Math.PI);
        ctx.fillStyle = `rgb(${c})`; ctx.fill();
        ctx.lineWidth = 1; ctx.strokeStyle = stroke; ctx.stroke();
      }
    }
    canvas.dataset.drawn = String(Number(canvas.dataset.drawn || 0) + 1);
    canvas.dataset.epoch = String(frame.epoch);
  }

  function drawLoss(canvas, history) {
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 4;
    ctx.clearRect(0, 0, W, H);
    const n = history.epoch.length;
    if (!n) return;
    const finite = v => v !== null && isFinite(v);
    let top = 1e-9;
    for (const v of history.train_loss.concat(history.test_loss)) if (finite(v) && v > top) top = v;
    const last = Math.max(1, history.epoch[n - 1]);
    for (const [key, stroke] of [["train_loss", "#999"], ["test_loss", "#111"]]) {
      ctx.beginPath(); ctx.strokeStyle = stroke; ctx.lineWidth = 1.5;
      let started = false;
      for (let i = 0; i < n; i++) {
        const v = history[key][i];
        if (!finite(v)) continue;
        const x = pad + (W - 2 * pad) * history.epoch[i] / last, y = H - pad - (H - 2 * pad) * v / top;
        if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
      }
      ctx.stroke();
    }
    ctx.fillStyle = "#777"; ctx.font = "11px sans-serif";
    ctx.fillText(`${top.toPrecision(3)}`, pad, 12);
    ctx.fillText(`epoch ${history.epoch[n - 1]}`, W - 70, H - 6);
  }

  // input maps, every hidden unit's map and the output, with the weights drawn between them
  function drawNetwork(canvas, frame) {
    const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
    ctx.clearRect(0, 0, W, H);
    const layers = [frame.inputs, ...frame.units, [{ data: frame.surface, grid: frame.grid }]];
    const widest = Math.max(...layers.map(l => l.length));
    const size = Math.max(14, Math.min(44, Math.floor((H - 20) / widest) - 8));
    const gapX = (W - size) / Math.max(1, layers.length - 1);
    const centers = layers.map((units, l) => units.map((_, j) => {
      const x = l * gapX, span = units.length * (size + 8) - 8, top = (H - span) / 2;
      return [x, top + j * (size + 8)];
    }));
    let wmax = 1e-9;
    for (const w of frame.weights) for (const row of w) for (const v of row) wmax = Math.max(wmax, Math.abs(v));
    frame.weights.forEach((w, l) => {
      w.forEach((row, p) => row.forEach((v, j) => {
        const [xa, ya] = centers[l][p], [xb, yb] = centers[l + 1][j];
        ctx.beginPath();
        ctx.moveTo(xa + size, ya + size / 2); ctx.lineTo(xb, yb + size / 2);
        ctx.strokeStyle = `rgba(${v >= 0 ? BLUE : ORANGE},0.75)`;
        ctx.lineWidth = 0.3 + 4 * Math.abs(v) / wmax;
        ctx.stroke();
      }));
    });
    layers.forEach((units, l) => units.forEach((u, j) => {
      const [x, y] = centers[l][j];
      drawMap(ctx, decode(u.data), u.grid || frame.unit_grid, x, y, size, size);
      ctx.strokeStyle = "#888"; ctx.lineWidth = 1; ctx.strokeRect(x + 0.5, y + 0.5, size - 1, size - 1);
    }));
    ctx.fillStyle = "#777"; ctx.font = "11px sans-serif";
    layers.forEach((units, l) => {
      const sup = String(l).replace(/\d/g, d => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d]);
      const name = l === 0 ? "x" : l === layers.length - 1 ? "ŷ" : `a${sup}`;
      ctx.fillText(name, l * gapX, 11);
    });
  }

  const fmt = (v, d = 4) => (v === null || v === undefined || !isFinite(v)) ? "–" : Number(v).toFixed(d);

  function showNumbers(frame) {
    const set = (id, text) => { const el = document.getElementById(id); if (el) el.textContent = text; };
    set("epoch", String(frame.epoch));
    set("updates", String(frame.updates));
    set("alpha", fmt(frame.learning_rate, 5));
    set("test-loss", fmt(frame.test_loss));
    set("train-loss", fmt(frame.train_loss));
    set("test-error", fmt(frame.test_error, 3));
    set("train-error", fmt(frame.train_error, 3));
    const el = document.getElementById("test-loss");
    if (el) { el.dataset.value = String(frame.test_loss); el.dataset.start = String(frame.start_test_loss); }
  }

  return { decode, color, drawMap, drawSurface, drawLoss, drawNetwork, showNumbers, fmt };
})();


// --- the live page ---------------------------------------------------------------------------

function startLive() {
  const form = document.getElementById("controls");
  const message = document.getElementById("message");
  const playButton = document.getElementById("play");
  const app = { id: null, playing: false, busy: false, history: null, points: null, frame: null,
                playPressed: null, ups: { marks: [] } };

  const say = text => { message.textContent = text || ""; };

  async function api(method, path, body) {
    const url = `/api/sessions${app.id ? "/" + app.id : ""}${path}`;
    const response = await fetch(url, {
      method, headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const answer = response.status === 204 ? {} : await response.json();
    if (!response.ok) {
      const error = new Error(answer.error || `HTTP ${response.status}`);
      error.status = response.status; error.field = answer.field;
      throw error;
    }
    return answer;
  }

  // form <-> settings
  function settingsFromForm() {
    const f = form.elements, s = {};
    for (const name of ["data", "activation", "loss", "schedule", "method"]) s[name] = f[name].value;
    for (const name of ["noise", "train_fraction", "learning_rate", "c1", "c2"]) s[name] = f[name].value;
    for (const name of ["num_points", "seed"]) s[name] = f[name].value;
    s.hidden = f.hidden.value;
    const kind = f.batch_kind.value;
    s.batch_size = kind === "sgd" ? 1 : kind === "all" ? "all" : f.batch_k.value;
    return s;
  }

  function formFromSettings(s) {
    const f = form.elements;
    for (const [name, value] of Object.entries(s)) {
      if (name === "hidden") f.hidden.value = value.join(",");
      else if (name === "batch_size") {
        f.batch_kind.value = value === "all" ? "all" : Number(value) === 1 ? "sgd" : "mini";
        if (value !== "all" && Number(value) !== 1) f.batch_k.value = value;
      } else if (f[name]) f[name].value = value;
    }
    if (!f.batch_k.value) f.batch_k.value = 10;
    toggleRows();
  }

  function toggleRows() {
    const f = form.elements;
    for (const el of form.querySelectorAll("label.constant")) el.hidden = f.schedule.value !== "constant";
    for (const el of form.querySelectorAll("label.inverse_time")) el.hidden = f.schedule.value !== "inverse_time";
    for (const el of form.querySelectorAll("label.mini")) el.hidden = f.batch_kind.value !== "mini";
  }

  // a query string such as ?data=circles&hidden=8,8&play=1 presets the form
  function settingsFromQuery() {
    const q = new URLSearchParams(location.search), s = {};
    for (const [key, value] of q) if (key !== "play") s[key === "lr" ? "learning_rate" : key] = value;
    return s;
  }

  function show(frame) {
    if (frame.session) app.id = frame.session;
    if (frame.history_from === 0 || !app.history) {
      app.history = { epoch: [], train_loss: [], test_loss: [], stride: frame.history_stride };
    }
    if (frame.history_stride !== app.history.stride) {
      app.history.stale = true;  // the server thinned its history: fetch all of it with the next frame
    } else {
      for (const key of ["epoch", "train_loss", "test_loss"]) {
        for (const v of frame.history[key]) app.history[key].push(v);
      }
    }
    app.points = frame.points;
    app.frame = frame;
    FNN.drawSurface(document.getElementById("surface"), frame, frame.points);
    FNN.drawNetwork(document.getElementById("network"), frame);
    FNN.drawLoss(document.getElementById("loss-chart"), app.history);
    FNN.showNumbers(frame);
    if (app.playPressed !== null) {
      document.getElementById("first-frame-ms").textContent = `${Math.round(performance.now() - app.playPressed)} ms`;
      app.playPressed = null;
    }
    if (frame.diverged) { say("the run diverged (a non-finite loss or weight): lower the learning rate and reset"); pause(); }
  }

  const since = () => `?history_from=${app.history && !app.history.stale ? app.history.epoch.length : 0}`;

  async function run(task) {  // one request at a time; errors land in the message line
    if (app.busy) return;
    app.busy = true;
    try { await task(); } catch (err) {
      say(err.status === 404 ? `${err.message}` : `error: ${err.message}`);
      if (err.status === 404) { app.id = null; pause(); }
      else if (err.status) pause();
      else { say(`error: ${err.message}`); pause(); }
    } finally { app.busy = false; }
  }

  async function create(settings) {
    app.id = null; app.history = null;
    show(await api("POST", "", settings));
    say("");
  }

  async function loop() {
    while (app.playing) {
      await run(async () => {
        if (!app.id) await create(settingsFromForm());
        const frame = await api("POST", `/advance${since()}`, { seconds: 0.1 });
        show(frame);
        // updates/s over the last few seconds of playing, from the first frame on (so no compile time)
        const now = performance.now(), marks = app.ups.marks;
        marks.push([now, frame.updates]);
        while (marks.length > 2 && now - marks[0][0] > 3000) marks.shift();
        const dt = (now - marks[0][0]) / 1000;
        if (dt > 0.4) {
          const rate = (frame.updates - marks[0][1]) / dt;
          const el = document.getElementById("ups");
          el.textContent = String(Math.round(rate)); el.dataset.value = String(rate);
        }
      });
      await new Promise(r => requestAnimationFrame(() => r()));
    }
  }

  function play() {
    if (app.playing) return;
    app.playing = true; app.playPressed = performance.now(); app.ups = { marks: [] };
    playButton.textContent = "pause";
    loop();
  }
  function pause() { app.playing = false; playButton.textContent = "play"; app.playPressed = null; }

  playButton.addEventListener("click", () => app.playing ? pause() : play());
  document.getElementById("step").addEventListener("click", () => run(async () => {
    if (!app.id) await create(settingsFromForm());
    show(await api("POST", `/advance${since()}`, { epochs: 1 }));
  }));
  document.getElementById("reset").addEventListener("click", () => run(async () => {
    const frame = await api("POST", "/reset", {});
    app.history = null; formFromSettings(frame.settings); show(frame);
  }));
  form.addEventListener("change", () => {
    toggleRows();
    const wasPlaying = app.playing;
    pause();
    const settle = () => app.busy ? setTimeout(settle, 20) : run(async () => {
      const frame = app.id ? await api("POST", `/settings${since()}`, settingsFromForm())
                           : await api("POST", "", settingsFromForm());
      if (frame.restarted) app.history = null;
      show(frame); say("");
    }).then(() => { if (wasPlaying && !message.textContent) play(); });
    settle();
  });
  form.addEventListener("submit", e => e.preventDefault());
  document.getElementById("gradcheck").addEventListener("click", () => {
    const wasPlaying = app.playing;
    pause();
    const settle = () => app.busy ? setTimeout(settle, 20) : run(async () => {
      say("checking gradients…");
      const report = await api("POST", "/gradcheck", {});
      const rows = report.leaves.map(l => `<tr><td>${l.name}</td><td>${l.symbol}</td><td>(${l.shape})</td>` +
        `<td>${l.abs_autodiff.toExponential(1)}</td><td>${l.rel_autodiff.toExponential(1)}</td>` +
        `<td>${l.abs_fd.toExponential(1)}</td><td>${l.rel_fd.toExponential(1)}</td><td>${l.fd_coords}</td>` +
        `<td>${l.kinks}</td><td class="${l.verdict}">${l.verdict}</td></tr>`);
      document.getElementById("gradcheck-rows").innerHTML = rows.join("");
      document.getElementById("gradcheck-title").textContent =
        `${report.title}; J = ${report.loss.toPrecision(8)}: ` +
        (report.ok ? "OK, manual backprop matches jax.grad and finite differences" : "MISMATCH");
      document.getElementById("gradcheck-result").hidden = false;
      say("");
    }).then(() => { if (wasPlaying) play(); });
    settle();
  });
  window.addEventListener("pagehide", () => {
    if (app.id) fetch(`/api/sessions/${app.id}`, { method: "DELETE", keepalive: true });
  });

  (async () => {
    const q = new URLSearchParams(location.search);
    const options = await (await fetch("/api/options")).json();
    formFromSettings(options.defaults);
    const preset = settingsFromQuery();
    await run(() => create({ ...settingsFromForm(), ...preset }));
    if (app.frame) formFromSettings(app.frame.settings);
    if (q.get("play") === "1" && app.id) play();
  })();
}


// --- the static export: frames of a run (or of a sweep) chosen with sliders ------------------

function startViewer() {
  const data = JSON.parse(document.getElementById("frames").textContent);
  const frameSlider = document.getElementById("frame-slider");
  const memberSlider = document.getElementById("member-slider");
  memberSlider.max = String(data.members.length - 1);
  document.getElementById("member-row").hidden = data.members.length < 2;

  function frameOf(member, i) {  // a stored frame with its member's static fields
    return { ...member.common, ...member.frames[i] };
  }
  function showMember() {
    const member = data.members[Number(memberSlider.value)];
    document.getElementById("member").textContent = member.label;
    frameSlider.max = String(member.frames.length - 1);
    if (Number(frameSlider.value) > member.frames.length - 1) frameSlider.value = frameSlider.max;
    FNN.drawSurface(document.getElementById("first"), frameOf(member, 0), member.common.points);
    FNN.drawSurface(document.getElementById("last"), frameOf(member, member.frames.length - 1), member.common.points);
    document.getElementById("first-caption").textContent = `epoch ${member.frames[0].epoch}`;
    document.getElementById("last-caption").textContent = `epoch ${member.frames[member.frames.length - 1].epoch}`;
    showFrame();
  }
  function showFrame() {
    const member = data.members[Number(memberSlider.value)];
    const i = Number(frameSlider.value), frame = frameOf(member, i);
    FNN.drawSurface(document.getElementById("surface"), frame, member.common.points);
    FNN.drawNetwork(document.getElementById("network"), frame);
    const upto = member.common.history.epoch.filter(e => e <= frame.epoch).length;
    const cut = {};
    for (const key of ["epoch", "train_loss", "test_loss"]) cut[key] = member.common.history[key].slice(0, upto);
    FNN.drawLoss(document.getElementById("loss-chart"), cut);
    FNN.showNumbers(frame);
    document.getElementById("frame-index").textContent = `${i + 1} / ${member.frames.length}`;
  }
  frameSlider.addEventListener("input", showFrame);
  memberSlider.addEventListener("input", showMember);
  window.FNNViewer = { show(member, i) { memberSlider.value = member; showMember(); frameSlider.value = i; showFrame(); } };
  showMember();
}

if (document.body.dataset.mode === "live") startLive(); else startViewer();
