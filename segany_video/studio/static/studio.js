// segany-video studio page: talks to the local API (every call carries the session token).
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
const FORMATS = ["masks", "png", "cutout", "overlay", "json", "davis", "mot"];
const DEFAULT_FORMATS = ["masks", "png", "overlay", "json"];
const $ = (id) => document.getElementById(id);

// Everything the page knows; window.studio exposes it to tests and the console.
const S = {
  video: null, objects: [], selected: null, frame: 0, image: null, preview: null, previews: new Map(),
  results: new Map(), strips: null, playing: false, pending: 0, seq: 0, drag: null,
  tracking: false, lastError: "",
};
window.studio = S;

// ------------------------------------------------------------------------------ API
async function api(method, path, body) {
  S.pending++;
  try {
    const init = { method, headers: { "X-Studio-Token": TOKEN } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const type = response.headers.get("Content-Type") || "";
    if (!response.ok) {
      const data = type.includes("json") ? await response.json() : { error: response.statusText };
      throw new Error(data.error || `HTTP ${response.status}`);
    }
    if (type.includes("json")) return await response.json();
    return await response.blob();
  } finally {
    S.pending--;
  }
}

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
  if (isError) S.lastError = text;
}

// Runs one user action; errors become one line in the status bar. ``pending`` counts the
// actions and requests in flight (tests wait for it to reach 0).
async function guarded(fn) {
  S.pending++;
  try { return await fn(); } catch (err) { say(err.message, true); return undefined; } finally { S.pending--; }
}

// Masks come as base64 of zlib-deflated uint8 (H, W) arrays.
async function inflate(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// ------------------------------------------------------------------------------ video
async function loadFiles(dir) {
  const listing = await api("GET", `/api/files?dir=${encodeURIComponent(dir)}`);
  $("dirline").textContent = "/" + listing.dir;
  const list = $("files");
  list.innerHTML = "";
  if (listing.parent !== null) addFileItem(list, "..", "dir", () => guarded(() => loadFiles(listing.parent)));
  for (const entry of listing.entries) {
    const open = entry.kind === "dir" ? () => guarded(() => loadFiles(entry.path))
                                      : () => guarded(() => openVideo(entry.path));
    addFileItem(list, entry.name, entry.kind, open);
  }
}

function addFileItem(list, name, kind, onclick) {
  const li = document.createElement("li");
  li.textContent = name;
  li.className = kind;
  li.dataset.name = name;
  li.onclick = onclick;
  list.appendChild(li);
}

async function openVideo(path) {
  say(`opening ${path}…`);
  const state = await api("POST", "/api/open", { path });
  applyState(state);
  await refreshStrips();
  await seek(0);
  say(`opened ${path}`);
}

function applyState(state) {
  $("engine").textContent = state.engine ? state.engine.description : "";
  S.video = state.video;
  S.objects = state.objects || [];
  S.results.clear();
  S.strips = null;
  S.preview = null;
  S.previews = new Map();
  S.selected = S.objects.length ? S.objects[0].id : null;
  const v = S.video;
  $("empty").style.display = v ? "none" : "flex";
  if (!v) return;
  $("title").textContent = v.path;
  for (const id of ["frame", "masks", "marks"]) { $(id).width = v.width; $(id).height = v.height; }
  $("stage").style.aspectRatio = `${v.width} / ${v.height}`;
  $("scrubber").max = Math.max((v.frame_count || 1) - 1, 0);
  $("rangeEnd").placeholder = String(v.frame_count);
  const stem = v.path.split("/").pop().replace(/\.[^.]*$/, "");
  $("exportFolder").value = `${stem}_studio`;
  const meta = {
    size: `${v.width} × ${v.height}`, fps: v.fps.toFixed(3), frames: v.frame_count,
    duration: v.duration ? `${v.duration.toFixed(2)} s` : "?", codec: v.codec,
    rotation: `${v.rotation}°`,
  };
  $("meta").innerHTML = "";
  for (const [k, val] of Object.entries(meta)) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = val;
    $("meta").append(dt, dd);
  }
  renderObjects();
  renderStrips();
}

// ------------------------------------------------------------------------------ frames
async function seek(index) {
  if (!S.video) return;
  const last = (S.video.frame_count || 1) - 1;
  index = Math.max(0, Math.min(last, index));
  const seq = ++S.seq;
  const [blob, results, previews] = await Promise.all([
    api("GET", `/api/frame/${index}`),
    loadResults(index),
    loadPreviews(index),
  ]);
  const image = await createImageBitmap(blob);
  if (seq !== S.seq) return; // a later seek won
  S.frame = index;
  S.image = image;
  S.previews = previews;
  S.preview = previews.get(S.selected) || null;
  refreshKeyframes();
  $("scrubber").value = index;
  const t = index / S.video.fps;
  $("frameinfo").textContent = `frame ${index} / ${last} · ${formatTime(t)}`;
  draw();
  markStrips();
  renderCandidates();
  if (!S.playing) api("POST", "/api/prepare", { frame: index }).catch(() => {});
}

function formatTime(seconds) {
  const m = Math.floor(seconds / 60);
  const s = (seconds - 60 * m).toFixed(3).padStart(6, "0");
  return `${String(m).padStart(2, "0")}:${s}`;
}

async function loadResults(index) {
  if (!S.strips || !Object.keys(S.strips.objects).length) return null;
  if (S.results.has(index)) return S.results.get(index);
  const data = await api("GET", `/api/results/${index}`);
  if (!data.tracked) return null;
  data.labels = await inflate(data.labels);
  S.results.set(index, data);
  return data;
}

// The keyframe previews of every object prompted on frame ``index``: id -> preview.
async function loadPreviews(index) {
  const prompted = S.objects.filter((o) => o.keyframes.includes(index));
  const previews = await Promise.all(prompted.map(
    async (o) => decodePreview(await api("POST", "/api/preview", { object: o.id, frame: index }))));
  return new Map(previews.map((p) => [p.object, p]));
}

async function decodePreview(data) {
  for (const c of data.candidates) c.mask = await inflate(c.mask);
  return data;
}

function selectedObject() {
  return S.objects.find((o) => o.id === S.selected) || null;
}

function colourOf(id) {
  const obj = S.objects.find((o) => o.id === id);
  return obj ? obj.colour : "#ffffff";
}

function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

// ------------------------------------------------------------------------------ drawing
// Three layers: the frame, the masks (opaque object colours, shown at half opacity by CSS,
// so each pixel's colour says exactly which object covers it), and marks (boxes, ids, clicks).
function draw() {
  const v = S.video;
  if (!v || !S.image) return;
  $("frame").getContext("2d").drawImage(S.image, 0, 0);
  const masks = $("masks").getContext("2d");
  const pixels = masks.createImageData(v.width, v.height);
  const out = pixels.data;
  const result = S.results.get(S.frame);
  const previews = [...S.previews.values()].filter((p) => p.frame === S.frame);
  if (result) {
    const colours = result.ids.map((id) => rgb(colourOf(id)));
    const hidden = result.ids.map((id) => previews.some((p) => p.object === id));
    const labels = result.labels;
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i];
      if (l === 0 || hidden[l - 1]) continue;
      const c = colours[l - 1];
      out[4 * i] = c[0]; out[4 * i + 1] = c[1]; out[4 * i + 2] = c[2]; out[4 * i + 3] = 255;
    }
  }
  for (const preview of previews) {
    const mask = preview.candidates[preview.chosen].mask;
    const c = rgb(colourOf(preview.object));
    for (let i = 0; i < mask.length; i++) {
      if (!mask[i]) continue;
      out[4 * i] = c[0]; out[4 * i + 1] = c[1]; out[4 * i + 2] = c[2]; out[4 * i + 3] = 255;
    }
  }
  masks.putImageData(pixels, 0, 0);
  drawMarks(result, previews);
}

function drawMarks(result, previews) {
  const v = S.video;
  const ctx = $("marks").getContext("2d");
  ctx.clearRect(0, 0, v.width, v.height);
  const scale = Math.max(1, v.width / 640);
  ctx.lineWidth = 2 * scale;
  ctx.font = `${Math.round(13 * scale)}px sans-serif`;
  if (result) {
    for (const obj of result.objects) {
      if (!obj.box || previews.some((p) => p.object === obj.id)) continue;
      const [x0, y0, x1, y1] = obj.box;
      ctx.strokeStyle = ctx.fillStyle = colourOf(obj.id);
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
      const name = (S.objects.find((o) => o.id === obj.id) || {}).name || "";
      label(ctx, `${obj.id} ${name} ${obj.score.toFixed(2)}`, x0, y0, scale);
    }
  }
  for (const preview of previews) {
    const box = preview.candidates[preview.chosen].box;
    if (box) {
      ctx.strokeStyle = ctx.fillStyle = colourOf(preview.object);
      ctx.lineWidth = (preview.object === S.selected ? 3 : 1.5) * scale;
      ctx.setLineDash([6 * scale, 4 * scale]);
      ctx.strokeRect(box[0], box[1], box[2] - box[0], box[3] - box[1]);
      ctx.setLineDash([]);
      const score = preview.candidates[preview.chosen].score.toFixed(2);
      label(ctx, `${preview.object} keyframe ${score}`, box[0], box[1], scale);
    }
  }
  ctx.lineWidth = 2 * scale;
  for (const kf of S.keyframesHere || []) drawPrompt(ctx, kf, scale);
  if (S.drag && S.drag.box) {
    const [x0, y0, x1, y1] = S.drag.box;
    ctx.strokeStyle = "#ffffff";
    ctx.setLineDash([4, 4]);
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.setLineDash([]);
  }
}

// A box's caption on a dark band just above its top-left corner (inside when at the top).
function label(ctx, text, x, y, scale) {
  const height = Math.round(16 * scale);
  const top = y - height >= 0 ? y - height : y;
  const colour = ctx.fillStyle;
  ctx.fillStyle = "rgba(0,0,0,0.6)";
  ctx.fillRect(x, top, ctx.measureText(text).width + 6 * scale, height);
  ctx.fillStyle = colour;
  ctx.fillText(text, x + 3 * scale, top + height - 4 * scale);
}

function drawPrompt(ctx, kf, scale) {
  if (kf.box) {
    ctx.strokeStyle = "#ffffff";
    const [x0, y0, x1, y1] = kf.box;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  }
  for (const [x, y, label] of kf.points || []) {
    ctx.fillStyle = label ? "#20e070" : "#ff3040";
    ctx.strokeStyle = "#000000";
    ctx.beginPath();
    ctx.arc(x, y, 5 * scale, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  }
}

// ------------------------------------------------------------------------------ objects
function renderObjects() {
  const list = $("objects");
  list.innerHTML = "";
  for (const obj of S.objects) {
    const li = document.createElement("li");
    li.dataset.id = obj.id;
    if (obj.id === S.selected) li.className = "selected";
    const id = document.createElement("span"); id.className = "id"; id.textContent = obj.id;
    const colour = document.createElement("input");
    colour.type = "color"; colour.value = obj.colour; colour.title = "colour";
    colour.onchange = () => guarded(() => updateObject(obj.id, { colour: colour.value }));
    const name = document.createElement("input");
    name.type = "text"; name.value = obj.name; name.title = "name";
    name.onchange = () => guarded(() => updateObject(obj.id, { name: name.value }));
    const keys = document.createElement("span"); keys.className = "keys";
    keys.textContent = obj.keyframes.length ? `keys ${obj.keyframes.join(",")}` : "no prompt";
    keys.title = "keyframes (click to go to the first)";
    keys.onclick = (e) => { e.stopPropagation(); if (obj.keyframes.length) guarded(() => seek(obj.keyframes[0])); };
    const del = document.createElement("button"); del.textContent = "✕"; del.title = "delete object";
    del.onclick = (e) => { e.stopPropagation(); guarded(() => deleteObject(obj.id)); };
    li.append(id, colour, name, keys, del);
    li.onclick = () => guarded(() => select(obj.id));
    list.appendChild(li);
  }
}

async function select(id) {
  S.selected = id;
  renderObjects();
  S.preview = S.previews.get(id) || null;
  refreshKeyframes();
  draw();
  renderCandidates();
}

async function addObject() {
  const obj = await api("POST", "/api/objects", {});
  S.objects.push(obj);
  await select(obj.id);
}

async function updateObject(id, change) {
  const state = await api("PATCH", `/api/objects/${id}`, change);
  S.objects = state.objects;
  renderObjects();
  renderStrips();
  draw();
}

async function deleteObject(id) {
  const state = await api("DELETE", `/api/objects/${id}`);
  S.objects = state.objects;
  if (S.selected === id) S.selected = S.objects.length ? S.objects[0].id : null;
  await afterEdit(null);
}

// Prompts (points, boxes) of every object on the shown frame, for drawing.
function refreshKeyframes() {
  S.keyframesHere = S.objects.map((o) => (o.prompts || {})[String(S.frame)]).filter(Boolean);
}

// After any edit: objects, preview, strips (their stale part) and the drawing are refreshed.
async function afterEdit(preview) {
  if (preview) {
    S.objects = preview.objects;
    S.selected = preview.object;
    S.preview = await decodePreview(preview);
    S.previews.set(preview.object, S.preview);
  } else {
    S.previews = await loadPreviews(S.frame);
    S.preview = S.previews.get(S.selected) || null;
  }
  renderObjects();
  refreshKeyframes();
  draw();
  renderCandidates();
  guarded(refreshStrips); // the mask is on screen first; the strips' stale part follows
}

// ------------------------------------------------------------------------------ prompting
function framePoint(event) {
  const canvas = $("marks");
  const r = canvas.getBoundingClientRect();
  return [
    Math.min(Math.max(((event.clientX - r.left) * canvas.width) / r.width, 0), canvas.width),
    Math.min(Math.max(((event.clientY - r.top) * canvas.height) / r.height, 0), canvas.height),
  ];
}

function onPointerDown(event) {
  if (!S.video) return;
  event.preventDefault();
  S.drag = { start: framePoint(event), box: null, negative: event.button === 2 || event.altKey || event.ctrlKey };
}

function onPointerMove(event) {
  if (!S.drag) return;
  const [x, y] = framePoint(event);
  const [x0, y0] = S.drag.start;
  if (Math.abs(x - x0) > 6 || Math.abs(y - y0) > 6) {
    S.drag.box = [Math.min(x0, x), Math.min(y0, y), Math.max(x0, x), Math.max(y0, y)];
    drawMarks(S.results.get(S.frame), [...S.previews.values()]);
  }
}

function onPointerUp(event) {
  const drag = S.drag;
  S.drag = null;
  if (!drag || !S.video) return;
  const object = S.selected;
  if (drag.box) {
    const box = drag.box.map((v) => Math.round(v * 10) / 10);
    guarded(async () => afterEdit(await api("POST", "/api/box", { object, frame: S.frame, box })));
    return;
  }
  const [x, y] = drag.start.map((v) => Math.round(v * 10) / 10);
  const label = drag.negative ? 0 : 1;
  const t0 = performance.now();
  guarded(async () => {
    const preview = await api("POST", "/api/click", { object, frame: S.frame, x, y, label });
    await afterEdit(preview);
    S.lastClickMs = performance.now() - t0; // click to mask drawn (read by the benchmark)
    say(`object ${preview.object}: mask in ${Math.round(S.lastClickMs)} ms`);
  });
}

function renderCandidates() {
  const box = $("candidates");
  box.innerHTML = "";
  const p = S.preview;
  if (!p || p.frame !== S.frame) return;
  const label = document.createElement("span");
  label.textContent = `object ${p.object}, frame ${p.frame}: `;
  box.appendChild(label);
  p.candidates.forEach((c, i) => {
    const b = document.createElement("button");
    b.textContent = `${i + 1}: ${c.score.toFixed(3)}`;
    b.title = `${c.area} px`;
    if (i === p.chosen) b.className = "chosen";
    b.onclick = () => guarded(() => choose(i));
    box.appendChild(b);
  });
  const more = document.createElement("button");
  more.textContent = "more…";
  more.title = "all of the engine's candidates (C cycles)";
  more.onclick = () => guarded(cycle);
  box.appendChild(more);
}

async function allCandidates() {
  const p = S.preview;
  if (p.candidates.length > 1) return p;
  const data = await api("POST", "/api/preview", { object: p.object, frame: p.frame, all: true });
  S.preview = await decodePreview(data);
  S.previews.set(S.preview.object, S.preview);
  return S.preview;
}

async function cycle() {
  if (!S.preview) return;
  const p = await allCandidates();
  await choose((p.chosen + 1) % p.candidates.length);
}

async function choose(index) {
  const p = S.preview;
  const data = await api("POST", "/api/choose", { object: p.object, frame: p.frame, index });
  await afterEdit(data);
}

async function undo() {
  const state = await api("POST", "/api/undo");
  if (!state.undone) { say("nothing to undo"); return; }
  S.objects = state.objects;
  if (!S.objects.some((o) => o.id === S.selected)) S.selected = S.objects.length ? S.objects[0].id : null;
  await afterEdit(null);
  say("undone");
}

async function clearKeyframe() {
  const obj = selectedObject();
  if (!obj || !obj.keyframes.includes(S.frame)) { say("the selected object has no prompt on this frame"); return; }
  const state = await api("POST", "/api/keyframe/delete", { object: obj.id, frame: S.frame });
  S.objects = state.objects;
  await afterEdit(null);
}

async function uploadMask(file) {
  if (S.selected === null) await addObject();
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 32768) text += String.fromCharCode(...bytes.subarray(i, i + 32768));
  const preview = await api("POST", "/api/mask", { object: S.selected, frame: S.frame, png: btoa(text) });
  await afterEdit(preview);
  say(`mask for object ${S.selected} on frame ${S.frame}`);
}

// ------------------------------------------------------------------------------ strips
async function refreshStrips() {
  if (!S.video) return;
  S.strips = await api("GET", "/api/strips");
  renderStrips();
}

const STATE_COLOURS = { l: "#7a2a2a", i: "#2a2d33", "-": "#0d0f12" };
const STRIP_PRIORITY = "pltic-"; // what a strip pixel covering several frames shows first
const MAX_STRIP_WIDTH = 1600;

// One strip per object: a pixel per frame (or per few frames on long videos), white where
// prompted, the object's colour where tracked, dark red where lost; the part whose results
// no longer match the prompts is dimmed; a yellow line marks the shown frame.
function renderStrips() {
  const root = $("strips");
  root.innerHTML = "";
  if (!S.strips || !S.video) return;
  const count = S.strips.frame_count;
  const width = Math.max(1, Math.min(count, MAX_STRIP_WIDTH));
  for (const obj of S.objects) {
    const row = S.strips.objects[String(obj.id)] || "";
    const keys = new Set(obj.keyframes);
    const div = document.createElement("div"); div.className = "strip"; div.dataset.id = obj.id;
    const label = document.createElement("span"); label.textContent = `${obj.id} ${obj.name}`;
    const canvas = document.createElement("canvas"); canvas.width = width; canvas.height = 1;
    canvas.title = "prompted (white), tracked (colour), lost (dark red), not tracked (black)";
    const ctx = canvas.getContext("2d");
    for (let x = 0; x < width; x++) {
      const first = Math.floor((x * count) / width);
      const last = Math.max(first, Math.floor(((x + 1) * count) / width) - 1);
      let best = "-";
      for (let f = first; f <= last; f++) {
        const letter = keys.has(f) ? "p" : row[f] || "-";
        if (STRIP_PRIORITY.indexOf(letter) < STRIP_PRIORITY.indexOf(best)) best = letter;
      }
      ctx.fillStyle = best === "t" ? obj.colour : best === "p" ? "#ffffff" : STATE_COLOURS[best];
      ctx.fillRect(x, 0, 1, 1);
    }
    const stale = S.strips.stale_from;
    if (stale !== null && stale !== undefined) {
      ctx.fillStyle = "rgba(0,0,0,0.6)";
      const x = Math.floor((stale * width) / count);
      ctx.fillRect(x, 0, width - x, 1);
    }
    canvas.base = ctx.getImageData(0, 0, width, 1);
    canvas.onclick = (e) => {
      const r = canvas.getBoundingClientRect();
      guarded(() => seek(Math.floor(((e.clientX - r.left) / r.width) * count)));
    };
    div.append(label, canvas);
    root.appendChild(div);
  }
  markStrips();
  const stale = S.strips.stale_from;
  const tracked = Object.keys(S.strips.objects).length > 0;
  $("track").textContent = tracked && stale !== null && stale !== undefined ? `Re-track from ${stale}` : "Track";
}

function markStrips() {
  if (!S.strips) return;
  const count = S.strips.frame_count;
  for (const canvas of document.querySelectorAll("#strips canvas")) {
    const ctx = canvas.getContext("2d");
    ctx.putImageData(canvas.base, 0, 0);
    ctx.fillStyle = "#ffd400";
    ctx.fillRect(Math.floor((S.frame * canvas.width) / count), 0, Math.max(1, canvas.width / 300), 1);
  }
}

// ------------------------------------------------------------------------------ jobs
async function track() {
  const start = parseInt($("rangeStart").value || "0", 10);
  const endText = $("rangeEnd").value.trim();
  const body = { start };
  if (endText) body.end = parseInt(endText, 10);
  await api("POST", "/api/track", body);
  await followJob();
  S.results.clear();
  await refreshStrips();
  await seek(S.frame);
}

async function exportFiles() {
  const formats = FORMATS.filter((f) => $(`fmt-${f}`).checked);
  await api("POST", "/api/export", { formats, folder: $("exportFolder").value.trim() });
  const done = await followJob();
  if (done.export) showExport(done.export);
}

function showExport(exp) {
  const list = $("downloads");
  list.innerHTML = "";
  for (const path of exp.files) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = `/api/download?path=${encodeURIComponent(path)}&token=${encodeURIComponent(TOKEN)}`;
    a.textContent = path;
    a.download = path.split("/").pop();
    li.appendChild(a);
    list.appendChild(li);
  }
  $("command").textContent = `cd ${exp.cwd}\n${exp.command}`;
  $("promptsFile").textContent = exp.prompts;
  S.lastExport = exp;
}

// Polls the running job until it ends; shows frames, speed and ETA; returns the last poll.
async function followJob() {
  S.tracking = true;
  $("cancel").disabled = false;
  $("track").disabled = $("export").disabled = true;
  let data;
  let tick = 0;
  try {
    for (;;) {
      data = await api("GET", "/api/progress");
      const p = data.progress;
      $("trackBar").max = p.total || 1;
      $("trackBar").value = p.done;
      const eta = p.eta_s !== null ? ` · ETA ${p.eta_s.toFixed(0)} s` : "";
      const from = p.first !== null && p.kind === "track" ? ` from frame ${p.first}` : "";
      const text = `${p.kind}${from}: ${p.done}/${p.total ?? "?"} frames · ${p.frames_per_s.toFixed(1)} frames/s${eta}`;
      (p.kind === "export" ? $("exportText") : $("trackText")).textContent =
        p.state === "running" ? text : `${text} · ${p.message}`;
      if (p.state !== "running") {
        if (p.state === "failed") say(p.message, true); else say(p.message);
        break;
      }
      if (p.kind === "track" && ++tick % 4 === 0) await refreshStrips();
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    S.tracking = false;
    $("cancel").disabled = true;
    $("track").disabled = $("export").disabled = false;
  }
  return data;
}

// ------------------------------------------------------------------------------ playback
async function play() {
  if (S.playing) { S.playing = false; $("play").textContent = "▶ Play"; return; }
  S.playing = true;
  $("play").textContent = "❚❚ Pause";
  const last = S.video.frame_count - 1;
  if (S.frame >= last) await seek(0);
  while (S.playing && S.frame < last) {
    const t0 = performance.now();
    await seek(S.frame + 1);
    const wait = 1000 / S.video.fps - (performance.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  S.playing = false;
  $("play").textContent = "▶ Play";
  api("POST", "/api/prepare", { frame: S.frame }).catch(() => {});
}

function onKey(event) {
  if (!S.video || event.target.tagName === "INPUT") return;
  const step = event.shiftKey ? 10 : 1;
  if (event.key === "ArrowLeft") { event.preventDefault(); guarded(() => seek(S.frame - step)); }
  else if (event.key === "ArrowRight") { event.preventDefault(); guarded(() => seek(S.frame + step)); }
  else if (event.key === " ") { event.preventDefault(); guarded(play); }
  else if (event.key === "c" || event.key === "C") guarded(cycle);
  else if ((event.ctrlKey || event.metaKey) && event.key === "z") { event.preventDefault(); guarded(undo); }
}

// ------------------------------------------------------------------------------ start
function wire() {
  for (const f of FORMATS) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox"; box.id = `fmt-${f}`; box.checked = DEFAULT_FORMATS.includes(f);
    label.append(box, ` ${f}`);
    $("formats").appendChild(label);
  }
  const marks = $("marks");
  marks.addEventListener("mousedown", onPointerDown);
  window.addEventListener("mousemove", onPointerMove);
  window.addEventListener("mouseup", onPointerUp);
  marks.addEventListener("contextmenu", (e) => e.preventDefault());
  window.addEventListener("keydown", onKey);
  // Space plays and pauses; it must not also press the button that has the focus.
  window.addEventListener("keyup", (e) => { if (e.key === " " && e.target.tagName === "BUTTON") e.preventDefault(); });
  $("back10").onclick = () => guarded(() => seek(S.frame - 10));
  $("back1").onclick = () => guarded(() => seek(S.frame - 1));
  $("fwd1").onclick = () => guarded(() => seek(S.frame + 1));
  $("fwd10").onclick = () => guarded(() => seek(S.frame + 10));
  $("play").onclick = () => guarded(play);
  $("scrubber").oninput = () => guarded(() => seek(parseInt($("scrubber").value, 10)));
  $("addObject").onclick = () => guarded(addObject);
  $("undo").onclick = () => guarded(undo);
  $("clearKeyframe").onclick = () => guarded(clearKeyframe);
  $("maskFile").onchange = () => { const f = $("maskFile").files[0]; if (f) guarded(() => uploadMask(f)); $("maskFile").value = ""; };
  $("track").onclick = () => guarded(track);
  $("cancel").onclick = () => guarded(() => api("POST", "/api/cancel"));
  $("export").onclick = () => guarded(exportFiles);
}

async function start() {
  wire();
  if (!TOKEN) { say("this page needs the URL with ?token=… that the studio printed", true); return; }
  const state = await api("GET", "/api/state");
  await loadFiles("");
  applyState(state);
  if (state.video) {
    await refreshStrips(); // a reloaded page shows what the server already tracked
    await seek(0);
  }
  if (state.export) showExport(state.export);
  S.ready = true;
  if (state.progress.state === "running") {
    await guarded(async () => {
      const done = await followJob();
      if (done.export) showExport(done.export);
      S.results.clear();
      await refreshStrips();
      await seek(S.frame);
    });
  }
}

guarded(start);
