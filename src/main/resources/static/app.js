// glow-serve web page: plain JavaScript over the /v1 API, no build step.
"use strict";

const EXAMPLES = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"];
// not clothing: for the out-of-distribution check
const OTHER_EXAMPLES = { digit: "a digit (not clothing)", noise: "noise (not clothing)" };
const $ = (id) => document.getElementById(id);
const state = { models: [], model: null, sampleRequest: 0, calibrations: {} };

// ---------------------------------------------------------------- API access

function apiKey() {
  return sessionStorage.getItem("glow-api-key") || "";
}

async function api(path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (apiKey()) headers["X-API-Key"] = apiKey();
  let response;
  try {
    response = await fetch(path, { method: body === undefined ? "GET" : "POST", headers,
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new Error("The service cannot be reached (" + e.message + ").");
  }
  if (response.ok) return response.json();
  let detail = response.status + " " + response.statusText;
  let type = "";
  try {
    const problem = await response.json();        // RFC 9457 problem+json
    if (problem.detail) detail = problem.detail;
    type = problem.type || "";
  } catch (ignored) { /* not JSON */ }
  if (response.status === 401) $("auth").hidden = false;
  const hint = { 401: "The service needs an API key.", 413: "The upload is too large.",
    422: "The service cannot use this input.", 429: "The service is busy; try again in a moment.",
    503: "The model is not available right now." }[response.status];
  const error = new Error((hint ? hint + " " : "") + detail);
  error.status = response.status;
  error.type = type;
  throw error;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

async function busy(element, work) {
  element.setAttribute("aria-busy", "true");
  try {
    clearError();
    return await work();
  } catch (e) {
    showError(e.message);
  } finally {
    element.setAttribute("aria-busy", "false");
  }
}

function modelPath(op) {
  return "v1/models/" + encodeURIComponent(state.model.name) + "/" + op;
}

function pngImg(base64, alt) {
  const img = document.createElement("img");
  img.className = "pixel";
  img.src = "data:image/png;base64," + base64;
  img.alt = alt;
  return img;
}

// ---------------------------------------------------------------- models

async function loadModels() {
  const list = await api("v1/models");
  state.models = list.models;
  const select = $("model");
  select.innerHTML = "";
  for (const m of state.models) {
    const option = new Option(m.name + (m.status === "available" ? "" : " (" + m.status + ")"), m.name);
    option.disabled = m.status !== "available";
    select.add(option);
  }
  const first = state.models.find((m) => m.status === "available");
  if (!first) throw new Error("No model is available.");
  select.value = first.name;
  selectModel(first.name);
}

function selectModel(name) {
  state.model = state.models.find((m) => m.name === name);
  const m = state.model;
  const a = m.architecture;
  $("model-info").textContent = `K=${a.flows_per_level} L=${a.levels} hidden=${a.hidden_channels}, ` +
    `${m.parameters.toLocaleString()} parameters, ${m.device}` +
    (m.test_bits_per_dim ? `, test ${m.test_bits_per_dim.toFixed(3)} bits/dim` : "");
  const classes = m.classes || [];
  $("class-control").hidden = classes.length === 0;
  const cls = $("class");
  cls.innerHTML = "";
  cls.add(new Option("any", ""));
  classes.forEach((c, i) => cls.add(new Option(c, String(i))));
  $("manipulate-control").hidden = classes.length === 0;
  const to = $("to-class");
  to.innerHTML = "";
  classes.forEach((c, i) => to.add(new Option(c, String(i))));
  to.value = String(classes.length - 1);
  sample();
}

// ---------------------------------------------------------------- samples

async function sample() {
  if (!state.model) return;
  const request = ++state.sampleRequest;
  const body = { n: 16, temperature: Number($("temperature").value), seed: Number($("seed").value) };
  if ($("class").value !== "" && !$("class-control").hidden) body.class = Number($("class").value);
  const grid = $("samples");
  await busy(grid, async () => {
    const result = await api(modelPath("sample"), body);
    if (request !== state.sampleRequest) return;   // a newer request is on its way
    grid.innerHTML = "";
    const names = state.model.classes || [];
    result.images.forEach((im, i) => grid.append(pngImg(im.png,
      `sample ${i + 1}` + (im.class !== undefined && names[im.class] ? ` (${names[im.class]})` : ""))));
    grid.dataset.seed = String(result.seed);
    grid.dataset.temperature = String(result.temperature);
  });
}

let sampleTimer;
function sampleSoon() {
  clearTimeout(sampleTimer);
  sampleTimer = setTimeout(sample, 150);
}

// ---------------------------------------------------------------- images from examples, files and drops

function fillExamples(select, chosen, others) {
  for (const e of EXAMPLES) select.add(new Option(e, e));
  if (others) for (const [file, label] of Object.entries(OTHER_EXAMPLES)) select.add(new Option(label, file));
  select.value = chosen;
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    if (!file) return reject(new Error("No file chosen."));
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error("The file cannot be read."));
    reader.readAsDataURL(file);
  });
}

/** A picture the browser can show, as a PNG of its own size (the API takes PNGs): JPEG, GIF, WebP... */
function asPng(img) {
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  canvas.getContext("2d").drawImage(img, 0, 0);
  return canvas.toDataURL("image/png");
}

async function imageBase64(img) {
  if (img.src.startsWith("data:") && !img.src.startsWith("data:image/png")) {
    await img.decode();
    const png = asPng(img);
    return png.substring(png.indexOf(",") + 1);
  }
  if (img.src.startsWith("data:")) return img.src.substring(img.src.indexOf(",") + 1);
  const blob = await (await fetch(img.src)).blob();
  const url = await readFile(blob);
  return url.substring(url.indexOf(",") + 1);
}

function wireImageInput(pickId, fileId, previewId, onChange) {
  $(pickId).addEventListener("change", () => {
    $(previewId).src = "examples/" + $(pickId).value + ".png";
    onChange && onChange();
  });
  $(fileId).addEventListener("change", async () => {
    try {
      $(previewId).src = await readFile($(fileId).files[0]);
      onChange && onChange();
    } catch (e) {
      showError(e.message);
    }
  });
}

// ---------------------------------------------------------------- interpolation

async function interpolate() {
  const strip = $("strip");
  await busy(strip, async () => {
    const body = {
      from: { image: await imageBase64($("from-preview")) },
      to: { image: await imageBase64($("to-preview")) },
      steps: Number($("steps").value),
      method: $("method").value,
    };
    const result = await api(modelPath("interpolate"), body);
    strip.innerHTML = "";
    result.images.forEach((im, i) => strip.append(pngImg(im.png, `step ${i + 1} of ${result.images.length}`)));
  });
}

// ---------------------------------------------------------------- scoring

/** Share of test images with a lower bits/dim, from the manifest's quantiles (p1 … p99). */
function percentile(bpd, quantiles) {
  const points = Object.entries(quantiles).map(([k, v]) => [Number(k.substring(1)), v]).sort((a, b) => a[0] - b[0]);
  if (bpd <= points[0][1]) return Math.max(0, points[0][0] * bpd / points[0][1] - 0.5);
  for (let i = 1; i < points.length; i++) {
    const [p0, v0] = points[i - 1];
    const [p1, v1] = points[i];
    if (bpd <= v1) return p0 + (p1 - p0) * (bpd - v0) / Math.max(1e-9, v1 - v0);
  }
  return 100;
}

/** The model's OOD calibration (histograms of held-out scores), fetched once; null if it has none (409). */
async function calibration() {
  const name = state.model.name;
  if (!(name in state.calibrations)) {
    try {
      state.calibrations[name] = await api(modelPath("ood"));
    } catch (e) {
      if (e.status !== 409) throw e;
      state.calibrations[name] = null;
    }
  }
  return state.calibrations[name];
}

/** The OOD verdict, or null when the model has no calibration. */
async function oodVerdict(image, fit) {
  try {
    return await api(modelPath("ood"), { images: [image], fit });
  } catch (e) {
    if (e.status === 409) return null;
    throw e;
  }
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attributes) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
  return e;
}

/** The held-out in-distribution histogram of the method's scores, the image's score marked, the alpha 0.05 line dashed. */
function oodHistogram(h, imageScore) {
  const w = 480, ht = 110, pad = 18;
  const plot = svg("svg", { id: "ood-histogram", viewBox: `0 0 ${w} ${ht + pad}`, width: w, height: ht + pad, role: "img",
    "aria-label": `held-out in-distribution ${h.method} scores, this image's marked at ${imageScore.toFixed(2)}` });
  const lo = h.edges[0], hi = h.edges[h.edges.length - 1];
  const x = (v) => Math.max(0, Math.min(w, (v - lo) / (hi - lo) * w));
  const max = Math.max(...h.counts);
  h.counts.forEach((c, i) => {
    const x0 = x(h.edges[i]), x1 = x(h.edges[i + 1]);
    const bh = c / max * (ht - 8);
    plot.append(svg("rect", { x: x0, y: ht - bh, width: Math.max(1, x1 - x0 - 1), height: bh, fill: "#8fb3e8" }));
  });
  const cut = x(h.flagged_above);
  plot.append(svg("line", { x1: cut, x2: cut, y1: 0, y2: ht, stroke: "#d9534f", "stroke-dasharray": "4 3", "stroke-width": 1.5 }));
  const mx = x(imageScore);
  const marker = svg("line", { id: "ood-marker", x1: mx, x2: mx, y1: 0, y2: ht, stroke: "#1d2330", "stroke-width": 3,
    "data-score": imageScore });
  plot.append(marker);
  const label = svg("text", { x: Math.min(w - 4, Math.max(4, mx)), y: ht + 14, "font-size": 11, "text-anchor":
    mx > w - 60 ? "end" : mx < 60 ? "start" : "middle", fill: "#1d2330" });
  label.textContent = imageScore > hi ? `this image ▶ (${imageScore.toFixed(2)})` : imageScore < lo
    ? `◀ this image (${imageScore.toFixed(2)})` : "this image";
  plot.append(label);
  return plot;
}

function showOod(out, verdict, cal) {
  const box = document.createElement("div");
  box.id = "ood";
  const words = document.createElement("div");
  words.id = "ood-verdict";
  if (!verdict || !cal) {
    words.className = "muted";
    words.textContent = "Out-of-distribution check: this model has no calibration (glow-serve calibrate makes one).";
    box.append(words);
    out.append(box);
    return;
  }
  const r = verdict.results[0];
  const p = r.p_value < 0.001 ? "p < 0.001" : `p = ${r.p_value.toFixed(3)}`;
  words.innerHTML = `<strong>${r.outlier ? "Unlike the training data" : "Like the training data"}</strong> ` +
    `<span class="muted">(${verdict.method} score ${r.score.toFixed(2)}, ${p}; outlier when p &lt; ${verdict.alpha})</span>`;
  words.dataset.outlier = String(r.outlier);
  words.dataset.pValue = String(r.p_value);
  words.className = r.outlier ? "verdict outlier" : "verdict";
  box.append(words);
  const h = cal.histograms.find((x) => x.method === verdict.method);
  if (h) {
    box.append(oodHistogram(h, r.score));
    const legend = document.createElement("div");
    legend.className = "muted";
    legend.textContent = `Held-out test images' ${verdict.method} scores (bars), the alpha 0.05 line (dashed red) and this image (black). ` +
      "The score is bits/dim minus the image's PNG bits/dim: raw likelihood alone rates simple images like digits as more likely than clothes.";
    box.append(legend);
  }
  out.append(box);
}

/** The drift window beside the calibration, on the same bins: calibration bars, the window as outlined bars. */
function driftHistogram(d) {
  const w = 480, ht = 110;
  const h = d.histogram;
  const plot = svg("svg", { id: "drift-histogram", viewBox: `0 0 ${w} ${ht}`, width: w, height: ht, role: "img",
    "aria-label": `the last ${d.inputs} inputs' ${d.method} scores beside the calibration's` });
  const max = Math.max(...h.calibration, ...h.window, 1e-9);
  const bw = w / h.calibration.length;
  h.calibration.forEach((f, i) => {
    const bh = f / max * (ht - 8);
    plot.append(svg("rect", { class: "calibration", x: i * bw, y: ht - bh, width: Math.max(1, bw - 1), height: bh, fill: "#8fb3e8" }));
  });
  h.window.forEach((f, i) => {
    const bh = f / max * (ht - 8);
    plot.append(svg("rect", { class: "window", x: i * bw + 1, y: ht - bh, width: Math.max(1, bw - 3), height: bh, fill: "none",
      stroke: "#1d2330", "stroke-width": 1.5 }));
  });
  return plot;
}

async function drift() {
  const out = $("drift-result");
  await busy(out, async () => {
    out.innerHTML = "";
    let d;
    try {
      d = await api(modelPath("drift"));
    } catch (e) {
      if (e.status !== 409) throw e;
      out.innerHTML = '<span class="muted">This model has no calibration (glow-serve calibrate makes one).</span>';
      return;
    }
    const words = document.createElement("div");
    words.id = "drift-verdict";
    words.dataset.inputs = String(d.inputs);
    words.dataset.pValue = String(d.p_value);
    const p = d.p_value < 0.001 ? "p < 0.001" : `p = ${d.p_value.toFixed(3)}`;
    const alarm = d.p_value < 0.001;
    words.className = alarm ? "verdict outlier" : "verdict";
    words.innerHTML = d.inputs < 20
      ? `<strong>${d.inputs} input${d.inputs === 1 ? "" : "s"} so far</strong> <span class="muted">(the tests start at 20)</span>`
      : `<strong>${alarm ? "Drifted from the training data" : "Like the training data"}</strong> <span class="muted">(${p}; ` +
        `${d.flagged} of the last ${d.inputs} inputs flagged at alpha ${d.alpha}, expected about ${Math.round(d.alpha * d.inputs)})</span>`;
    out.append(words, driftHistogram(d));
    const legend = document.createElement("div");
    legend.className = "muted";
    legend.textContent = `Held-out test images' ${d.method} scores (filled) and the last ${d.inputs} inputs' (outlined), ` +
      `the window at most ${d.window_size} inputs and ${Math.round(d.max_age_seconds / 60)} minutes old.`;
    out.append(legend);
  });
}

/** An image of another size or a colour photo: offer to fit it rather than stop at the error. */
function offerFit(out) {
  out.innerHTML = "";
  const offer = document.createElement("div");
  offer.textContent = `This image is not ${shapeWords()}, the model's shape. `;
  const button = document.createElement("button");
  button.id = "fit-offer";
  button.type = "button";
  button.textContent = `Fit it to ${shapeWords()} and score`;
  button.addEventListener("click", () => score(true));
  offer.append(button);
  out.append(offer);
}

/** The model's image shape in words: "28×28 grayscale". */
function shapeWords() {
  const [c, h, w] = state.model.image_shape;
  return `${w}×${h} ${c === 1 ? "grayscale" : c === 3 ? "RGB" : c + "-channel"}`;
}

async function score(fit = false) {
  const out = $("score-result");
  await busy(out, async () => {
    const image = await imageBase64($("score-preview"));
    let result, verdict, cal;
    try {
      [result, verdict, cal] = await Promise.all([api(modelPath("log-likelihood"), { images: [image], fit }),
        oodVerdict(image, fit), calibration()]);
    } catch (e) {
      if (e.status !== 422 || !String(e.type).endsWith("wrong-shape")) throw e;
      offerFit(out);
      return;
    }
    const r = result.results[0];
    out.innerHTML = "";
    if (result.fitted) {
      const note = document.createElement("div");
      note.className = "fitted";
      note.id = "fitted-note";
      note.textContent = "Fitted: " + result.fitted[0].replace(/^images\[0\]: /, "") + ".";
      out.append(note);
    }
    const head = document.createElement("div");
    head.innerHTML = `<span class="bpd" id="bpd-value">${r.bits_per_dim.toFixed(3)}</span> bits/dim ` +
      `<span class="muted">(log p = ${r.log_p_nats.toFixed(1)} nats)</span>`;
    out.append(head);
    const names = state.model.classes || [];
    if (r.class !== undefined && names.length) {
      const p = r.class_probabilities ? ` with probability ${(100 * r.class_probabilities[r.class]).toFixed(1)}%` : "";
      const cls = document.createElement("div");
      cls.textContent = `Most likely class: ${names[r.class]}${p}.`;
      out.append(cls);
    }
    const q = state.model.test_bits_per_dim_quantiles;
    const hint = document.createElement("div");
    hint.id = "typicality";
    if (q) {
      const pct = percentile(r.bits_per_dim, q);
      const meter = document.createElement("div");
      meter.className = "meter";
      meter.title = "test-set bits/dim, most likely (left) to least likely (right)";
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.style.left = `calc(${Math.min(100, Math.max(0, pct))}% - 2px)`;
      meter.append(mark);
      out.append(meter);
      let words;
      // raw likelihood only: whether the image is like the training data is the check below
      if (r.bits_per_dim < q.p1) words = "more likely than 99% of test images (simple images are, whatever they show).";
      else if (r.bits_per_dim > q.p99) words = "less likely than 99% of test images.";
      else if (r.bits_per_dim > q.p95) words = `less likely than ${Math.round(pct)}% of test images: unusual.`;
      else words = `typical: ${Math.round(pct)}% of test images score lower bits/dim.`;
      hint.textContent = "Compared with the test set: " + words;
    } else {
      hint.textContent = "This model's manifest has no test-set distribution to compare with.";
    }
    out.append(hint);
    showOod(out, verdict, cal);
  });
  await drift();
}

function wireDrop() {
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    try {
      $("score-preview").src = await readFile(e.dataTransfer.files[0]);
      await score();
    } catch (err) {
      showError(err.message);
    }
  });
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      $("score-file").click();
    }
  });
}

// ---------------------------------------------------------------- latent space

/** Pixels of a PNG as the browser decodes it, for comparing two images exactly. */
async function pixels(src) {
  const img = new Image();
  img.src = src;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  return ctx.getImageData(0, 0, canvas.width, canvas.height).data;
}

async function roundTrip() {
  const out = $("latent-result");
  await busy(out, async () => {
    const image = await imageBase64($("latent-preview"));
    const encoded = (await api(modelPath("encode"), { images: [image] })).results[0];
    const decoded = (await api(modelPath("decode"), { items: [{ latents: encoded.latents, class: encoded.class }] })).images[0];
    const [a, b] = await Promise.all([pixels("data:image/png;base64," + image), pixels("data:image/png;base64," + decoded.png)]);
    const same = a.length === b.length && a.every((v, i) => v === b[i]);
    out.innerHTML = "";
    out.append(pngImg(image, "the image"), document.createTextNode("→ latents →"), pngImg(decoded.png, "decoded from its latents"));
    const words = document.createElement("span");
    words.id = "roundtrip-verdict";
    words.dataset.identical = String(same);
    const levels = encoded.latents.map((l) => l.shape.join("×")).join(" + ");
    words.textContent = `${same ? "Identical, pixel for pixel" : "Not identical"}: ${encoded.bits_per_dim.toFixed(3)} bits/dim, ` +
      `latents ${levels}.`;
    out.append(words);
  });
}

async function manipulate() {
  const strip = $("manipulation");
  await busy(strip, async () => {
    const scales = [0, 0.5, 1, 1.5];
    const result = await api(modelPath("manipulate"), { image: await imageBase64($("latent-preview")),
      to_class: Number($("to-class").value), scales });
    strip.innerHTML = "";
    result.images.forEach((im, i) => strip.append(pngImg(im.png, `scale ${scales[i]}`)));
  });
}

// ---------------------------------------------------------------- start

function init() {
  $("temperature").addEventListener("input", () => {
    $("temperature-value").value = Number($("temperature").value).toFixed(2);
    sampleSoon();
  });
  $("seed").addEventListener("change", sample);
  $("class").addEventListener("change", sample);
  $("resample").addEventListener("click", () => {
    $("seed").value = String(Math.floor(Math.random() * 1e6));
    sample();
  });
  $("model").addEventListener("change", () => selectModel($("model").value));
  $("drift-refresh").addEventListener("click", drift);
  fillExamples($("from-pick"), "sneaker");
  fillExamples($("to-pick"), "boot");
  fillExamples($("score-pick"), "bag", true);
  wireImageInput("from-pick", "from-file", "from-preview");
  wireImageInput("to-pick", "to-file", "to-preview");
  wireImageInput("score-pick", "score-file", "score-preview", () => score());
  fillExamples($("latent-pick"), "sneaker");
  wireImageInput("latent-pick", "latent-file", "latent-preview");
  $("roundtrip").addEventListener("click", roundTrip);
  $("manipulate").addEventListener("click", manipulate);
  $("interpolate").addEventListener("click", interpolate);
  $("score").addEventListener("click", () => score());
  wireDrop();
  $("api-key").value = apiKey();
  $("api-key-save").addEventListener("click", () => {
    sessionStorage.setItem("glow-api-key", $("api-key").value.trim());
    $("auth").hidden = true;
    loadModels().catch((e) => showError(e.message));
  });
  loadModels().catch((e) => showError(e.message));
}

document.addEventListener("DOMContentLoaded", init);
