// The cropstyle page: the model suggests a crop in the browser, cropper.js (v1) lets you adjust it,
// "Download" writes the straightened crop at full resolution, "Submit correction" sends it back.
// Every conversion between our label and cropper's data goes through geometry.js (the Python mirror).
import * as g from "./geometry.js";

const tf = window.tf;
const Cropper = window.Cropper;

const UPLOAD_LONG_SIDE = 1024;
const UPLOAD_QUALITY = 0.92;
const DOWNLOAD_QUALITY = 0.95;
const TYPES = new Set(["image/jpeg", "image/png", "image/webp"]);
const ASPECTS = { free: null, "1:1": 1, "4:5": 4 / 5, "16:9": 16 / 9, "9:16": 9 / 16 };

const $ = (selector) => document.querySelector(selector);
const ui = {
  file: $("#file"), stage: $("#stage"), image: $("#photo"), hint: $("#drop-hint"), values: $("#crop-values"),
  status: $("#status"), modelStatus: $("#model-status"), angle: $("#angle"), angleNumber: $("#angle-number"),
  reset: $("#reset"), download: $("#download"), submit: $("#submit"), presets: [...document.querySelectorAll("#presets button")],
};

const state = {
  model: null, // {graph, metadata, version, backend, imageSize, decodeLongSide, inputs: {image, aspect}, output}
  file: null, url: null, bitmap: null, width: 0, height: 0,
  suggestion: null, // the model's crop (displayed frame), or a default when there is no model
  aspect: null, // null (free) or width / height
  label: null, // what #crop-values shows: the crop in cropper now
  cropper: null, applying: false, generation: 0,
};

function setStatus(text, kind = "") {
  ui.status.textContent = text;
  ui.status.className = kind;
}

function setPhase(phase) {
  document.body.dataset.state = phase;
}

// ---- the model -------------------------------------------------------------------------------

function hardwareWebGL() {
  try {
    const gl = document.createElement("canvas").getContext("webgl2");
    if (!gl) return false;
    const info = gl.getExtension("WEBGL_debug_renderer_info");
    const renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
    return !/swiftshader|llvmpipe|software|basic render/i.test(String(renderer));
  } catch {
    return false;
  }
}

async function loadOn(backend, info) {
  if (!(await tf.setBackend(backend))) throw new Error(`the ${backend} backend is not available`);
  await tf.ready();
  const graph = await tf.loadGraphModel(info.url);
  const metadata = info.metadata || {};
  const pick = (key, fallback) => (metadata.inputs && metadata.inputs[key] && metadata.inputs[key].name) ||
    (graph.inputs.find((t) => t.name.replace(/:0$/, "") === key) || fallback).name;
  const model = {
    graph, metadata, backend, version: info.version,
    imageSize: metadata.image_size || graph.inputs.find((t) => t.shape && t.shape.length === 4).shape[1],
    decodeLongSide: metadata.preprocessing.decode_long_side, // the RUN's training images' long side
    inputs: { image: pick("image", graph.inputs[0]), aspect: pick("aspect", graph.inputs[1]) },
    output: (metadata.outputs && metadata.outputs.crop && metadata.outputs.crop.name) || graph.outputs[0].name,
  };
  // Warm-up: the first runs compile kernels and allocate; measure only after them.
  const blank = document.createElement("canvas");
  blank.width = model.imageSize;
  blank.height = model.imageSize;
  blank.getContext("2d", { willReadFrequently: true });
  for (let i = 0; i < 2; i += 1) await runModel(model, blank, 1.5);
  const started = performance.now();
  for (let i = 0; i < 3; i += 1) await runModel(model, blank, 1.5);
  model.warmMs = (performance.now() - started) / 3;
  return model;
}

async function loadModel() {
  const response = await fetch("/api/model");
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`the server answered ${response.status} for /api/model`);
  const info = await response.json();
  const format = info.metadata && info.metadata.format_version;
  if (format !== undefined && format !== 1) throw new Error(`unknown model metadata format_version ${format}`);
  if (!(info.metadata && info.metadata.preprocessing && info.metadata.preprocessing.decode_long_side)) {
    throw new Error("the model has no metadata.json with its preprocessing: export it with `cropstyle export`");
  }
  tf.wasm.setWasmPaths("/vendor/tfjs-backend-wasm/");
  const params = new URLSearchParams(location.search);
  // The server makes the page cross-origin isolated, so the wasm backend may use threads (its own
  // default: half the cores; ?threads=N overrides it).
  const threads = Number(params.get("threads"));
  if (self.crossOriginIsolated && threads >= 1) tf.wasm.setThreadsCount(threads);
  const wanted = params.get("backend") || "auto";
  if (wanted !== "auto") return loadOn(wanted, info);
  let model = await loadOn("wasm", info);
  if (hardwareWebGL()) {  // WebGL only when it is faster than wasm here: measure both
    try {
      const webgl = await loadOn("webgl", info);
      if (webgl.warmMs < model.warmMs) {
        await tf.setBackend("wasm");
        model.graph.dispose();
        model = webgl;
        await tf.setBackend("webgl");
      } else {
        webgl.graph.dispose();
        await tf.setBackend("wasm");
      }
    } catch (error) {
      await tf.setBackend("wasm");
    }
  }
  return model;
}

/** The displayed photo shrunk to the model's decode size, as export/inference.py does (never enlarged). */
function decodeCanvas(model, source, width, height) {
  const scale = Math.min(1, model.decodeLongSide / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
  return canvas;
}

/** Where tf.image.resizeBilinear (half-pixel centres, no antialias, as training's tf.image.resize) samples an axis
 * of `inSize` pixels for `outSize` outputs: the two source indices of each output and the weight of the second,
 * in float32 as TF computes them (in doubles the weights differ by up to 3e-5 on a 512 px axis). */
function bilinearTaps(inSize, outSize) {
  const f32 = Math.fround;
  const scale = f32(inSize / outSize);
  const low = new Int32Array(outSize);
  const high = new Int32Array(outSize);
  const weight = new Float32Array(outSize);
  for (let i = 0; i < outSize; i += 1) {
    const at = f32(f32((i + 0.5) * scale) - 0.5);
    const floor = Math.floor(at);
    low[i] = Math.max(floor, 0);
    high[i] = Math.min(Math.ceil(at), inSize - 1);
    weight[i] = at - floor;
  }
  return { low, high, weight };
}

/** The canvas as the model's image input, [1, size, size, 3] in [0, 1]: the resize of export/inference.py (the
 * same arithmetic as tf.image.resizeBilinear, tested against TF), computed on the canvas's bytes from the 4 source
 * pixels of each output: tf.browser.fromPixels of the whole canvas and a resize in wasm took longer than the
 * model's graph (about 3 ms against 2 at 640×427). */
function modelInput(canvas, size) {
  const { width, height } = canvas;
  const rgba = canvas.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, width, height).data;
  const rows = bilinearTaps(height, size);
  const columns = bilinearTaps(width, size);
  const values = new Float32Array(size * size * 3);
  let out = 0;
  for (let y = 0; y < size; y += 1) {
    const top = rows.low[y] * width * 4;
    const bottom = rows.high[y] * width * 4;
    const dy = rows.weight[y];
    for (let x = 0; x < size; x += 1) {
      const left = columns.low[x] * 4;
      const right = columns.high[x] * 4;
      const dx = columns.weight[x];
      for (let c = 0; c < 3; c += 1) {
        const upper = rgba[top + left + c] + (rgba[top + right + c] - rgba[top + left + c]) * dx;
        const lower = rgba[bottom + left + c] + (rgba[bottom + right + c] - rgba[bottom + left + c]) * dx;
        values[out] = (upper + (lower - upper) * dy) / 255;
        out += 1;
      }
    }
  }
  return tf.tensor4d(values, [1, size, size, 3], "float32");
}

/** One prediction: the model's input and the graph inside tf.tidy, so nothing but the output survives it. */
async function runModel(model, canvas, aspect) {
  const output = tf.tidy(() => {
    const image = modelInput(canvas, model.imageSize);
    const aspectTensor = tf.tensor2d([[aspect]], [1, 1], "float32");
    return model.graph.execute({ [model.inputs.image]: image, [model.inputs.aspect]: aspectTensor }, model.output);
  });
  try {
    const values = await output.data();
    return g.makeCrop(values[0], values[1], values[2], values[3], values[4]);
  } finally {
    output.dispose();
  }
}

async function predict(model, bitmap, width, height) {
  return runModel(model, decodeCanvas(model, bitmap, width, height), width / height);
}

/** Without a model: a centred crop of 80 % (the user adjusts it and can still submit). */
function defaultCrop() {
  return g.makeCrop(0.1, 0.1, 0.9, 0.9, 0);
}

// ---- cropper.js and the label -------------------------------------------------------------------

function showLabel(label) {
  state.label = label;
  for (const key of g.LABEL_VALUES) {
    ui.values.dataset[key] = String(label[key]);
    ui.values.querySelector(`dd[data-key="${key}"]`).textContent =
      key === "angle" ? `${label.angle.toFixed(2)}°` : label[key].toFixed(4);
  }
  if (document.activeElement !== ui.angle && document.activeElement !== ui.angleNumber) {
    ui.angle.value = label.angle.toFixed(2);
    ui.angleNumber.value = label.angle.toFixed(2);
  }
  const problem = g.cropProblem(label, state.width, state.height);
  ui.values.dataset.problem = problem || "";
  ui.submit.disabled = ui.download.disabled = Boolean(problem);
  if (problem) setStatus(`This crop cannot be used: ${problem}.`, "error");
  else if (ui.status.classList.contains("error") && ui.status.textContent.startsWith("This crop")) setStatus("");
}

function readCropper() {
  if (!state.cropper || state.applying) return;
  showLabel(g.cropperToCrop(state.cropper.getData(), state.width, state.height));
}

/** Show `crop` in cropper: turn the image by −angle, fit the turned image in view, place the box. */
function applyCrop(crop) {
  const cropper = state.cropper;
  const data = g.cropToCropper(crop, state.width, state.height);
  state.applying = true;
  try {
    cropper.rotateTo(data.rotate);
    const container = cropper.getContainerData();
    const canvas = cropper.getCanvasData();
    const scale = Math.min(container.width / canvas.naturalWidth, container.height / canvas.naturalHeight);
    const width = canvas.naturalWidth * scale;
    const height = canvas.naturalHeight * scale;
    cropper.setCanvasData({ left: (container.width - width) / 2, top: (container.height - height) / 2, width, height });
    cropper.setData({ x: data.x, y: data.y, width: data.width, height: data.height });
  } finally {
    state.applying = false;
  }
  readCropper();
}

function suggestedCrop() {
  return state.aspect ? g.largestWithAspect(state.suggestion, state.aspect, state.width, state.height) : state.suggestion;
}

function applySuggestion() {
  state.cropper.setAspectRatio(state.aspect || NaN);
  applyCrop(suggestedCrop());
}

/** The crop turned to `angle` about its centre, shrunk (then moved towards the middle) until it fits. */
function withAngle(label, angle) {
  const rect = { ...g.cropToRect(label, state.width, state.height), angle };
  const fits = (r) => g.cropProblem(g.rectToCrop(r, state.width, state.height), state.width, state.height) === null;
  if (fits(rect)) return g.rectToCrop(rect, state.width, state.height);
  for (const pull of [0, 0.25, 0.5, 0.75, 1]) {
    const centred = { ...rect, cx: rect.cx + (state.width / 2 - rect.cx) * pull, cy: rect.cy + (state.height / 2 - rect.cy) * pull };
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 40; i += 1) {
      const mid = (lo + hi) / 2;
      if (fits({ ...centred, width: rect.width * mid, height: rect.height * mid })) lo = mid;
      else hi = mid;
    }
    const fitted = { ...centred, width: rect.width * lo, height: rect.height * lo };
    if (fitted.width >= 16 && fitted.height >= 16 && fits(fitted)) return g.rectToCrop(fitted, state.width, state.height);
  }
  return g.rectToCrop(rect, state.width, state.height);
}

function onAngle(value) {
  const angle = Math.max(-g.MAX_ANGLE, Math.min(g.MAX_ANGLE, Number(value)));
  if (!state.label || !Number.isFinite(angle) || Math.abs(angle - state.label.angle) < 1e-9) return;
  applyCrop(withAngle(state.label, angle));
}

// ---- a photo --------------------------------------------------------------------------------

function imageLoaded(image) {
  return new Promise((resolve, reject) => {
    if (image.complete && image.naturalWidth) resolve();
    image.onload = () => resolve();
    image.onerror = () => reject(new Error("the browser cannot display this file as an image"));
  });
}

function cropperReady(image) {
  return new Promise((resolve) => {
    state.cropper = new Cropper(image, {
      viewMode: 0, // no limits: the turned image's corners are outside it; geometry.cropProblem judges the crop
      checkOrientation: false, // the browser already shows the photo upright (EXIF orientation honoured)
      autoCropArea: 1, rotatable: true, scalable: false, zoomable: true, zoomOnWheel: false, zoomOnTouch: false,
      movable: false, toggleDragModeOnDblclick: false, restore: false, responsive: false, // resizes: below
      ready: () => resolve(),
      crop: () => readCropper(),
    });
  });
}

async function openPhoto(file) {
  if (!file) return;
  if (!TYPES.has(file.type)) {
    setStatus(`${file.name}: choose a JPEG, PNG or WebP photo.`, "error");
    return;
  }
  const generation = ++state.generation;
  setPhase("opening");
  setStatus(`Opening ${file.name}…`);
  if (state.cropper) state.cropper.destroy();
  if (state.url) URL.revokeObjectURL(state.url);
  if (state.bitmap) state.bitmap.close();
  state.cropper = null;
  state.file = file;
  state.url = URL.createObjectURL(file);
  try {
    // Both honour the EXIF orientation: the photo as displayed, the frame of our labels.
    state.bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    ui.image.src = state.url;
    await imageLoaded(ui.image);
  } catch (error) {
    setStatus(`${file.name}: ${error.message}`, "error");
    setPhase("error");
    return;
  }
  if (generation !== state.generation) return;
  state.width = state.bitmap.width;
  state.height = state.bitmap.height;
  if (ui.image.naturalWidth !== state.width || ui.image.naturalHeight !== state.height) {
    console.warn("image and bitmap sizes differ", ui.image.naturalWidth, ui.image.naturalHeight, state.width, state.height);
  }
  ui.image.hidden = false;
  ui.hint.hidden = true;
  setPhase("predicting");
  await modelReady;
  const started = performance.now();
  state.suggestion = state.model ? await predict(state.model, state.bitmap, state.width, state.height) : defaultCrop();
  const elapsed = performance.now() - started;
  if (generation !== state.generation) return;
  await cropperReady(ui.image);
  if (generation !== state.generation) return;
  applySuggestion();
  for (const control of [ui.reset, ui.angle, ui.angleNumber]) control.disabled = false;
  // A model that learnt to leave photos alone answers exactly the full frame (training/model.py KeepOrCrop).
  const uncropped = g.LABEL_VALUES.every((key) => state.suggestion[key] === g.IDENTITY[key]);
  setStatus(!state.model
    ? "No model on this server: crop by hand, then download or submit."
    : uncropped
      ? `The model leaves this photo uncropped (${elapsed.toFixed(0)} ms, ${state.model.backend}). Crop it if you would, then download or submit your correction.`
      : `Suggested in ${elapsed.toFixed(0)} ms (${state.model.backend}). Adjust it, then download or submit your correction.`);
  setPhase("suggested");
}

// ---- download and submit --------------------------------------------------------------------

function canvasBlob(canvas, type, quality) {
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the browser could not encode the image"))), type, quality));
}

/** The photo at full resolution, cut to the crop and straightened (as `cropstyle predict --write-cropped`). */
function croppedCanvas(label) {
  const rect = g.cropToRect(label, state.width, state.height);
  const width = Math.max(1, Math.round(rect.width));
  const height = Math.max(1, Math.round(rect.height));
  // Output pixel (x, y) shows the photo at TL + x·u + y·v (u, v: the crop's top and left edge directions).
  const [tl, tr, , bl] = g.rectCorners({ cx: rect.cx, cy: rect.cy, width, height, angle: label.angle });
  const u = [(tr[0] - tl[0]) / width, (tr[1] - tl[1]) / width];
  const v = [(bl[0] - tl[0]) / height, (bl[1] - tl[1]) / height];
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  // photo → output: (u·(p − TL), v·(p − TL))
  context.setTransform(u[0], v[0], u[1], v[1], -(u[0] * tl[0] + u[1] * tl[1]), -(v[0] * tl[0] + v[1] * tl[1]));
  context.drawImage(state.bitmap, 0, 0);
  return canvas;
}

async function download() {
  const label = state.label;
  if (!label || g.cropProblem(label, state.width, state.height)) return;
  setStatus("Preparing the download…");
  const blob = await canvasBlob(croppedCanvas(label), "image/jpeg", DOWNLOAD_QUALITY);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `${state.file.name.replace(/\.[^.]+$/, "")}-cropped.jpg`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  const rect = g.cropToRect(label, state.width, state.height);
  setStatus(`Downloaded ${link.download} (${Math.round(rect.width)}×${Math.round(rect.height)}).`, "ok");
}

/** The photo as displayed, long side at most 1024 px, as JPEG. Labels are fractions of the frame: unchanged. */
async function uploadPhoto() {
  const scale = Math.min(1, UPLOAD_LONG_SIDE / Math.max(state.width, state.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(state.width * scale));
  canvas.height = Math.max(1, Math.round(state.height * scale));
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  context.drawImage(state.bitmap, 0, 0, canvas.width, canvas.height);
  return canvasBlob(canvas, "image/jpeg", UPLOAD_QUALITY);
}

async function submit() {
  const label = state.label;
  if (!label || g.cropProblem(label, state.width, state.height)) return;
  ui.submit.disabled = true;
  setPhase("submitting");
  setStatus("Sending your correction…");
  try {
    const form = new FormData();
    form.append("photo", await uploadPhoto(), "photo.jpg");
    form.append("crop", JSON.stringify(g.labelObject(label)));
    if (state.model) {
      form.append("predicted", JSON.stringify(g.labelObject(state.suggestion)));
      form.append("model", state.model.version);
    }
    const response = await fetch("/api/corrections", { method: "POST", body: form });
    const body = await response.json().catch(() => ({}));
    if (response.status === 201) setStatus(`Thank you: correction ${body.id} saved.`, "ok");
    else if (response.ok) setStatus(`This correction was already saved (${body.id}).`, "ok");
    else setStatus(`Not saved: ${body.error || `the server answered ${response.status}`}.`, "error");
    ui.status.dataset.id = body.id || "";
    ui.status.dataset.code = String(response.status);
  } catch (error) {
    setStatus(`Not saved: ${error.message}.`, "error");
    ui.status.dataset.code = "network";
  } finally {
    ui.submit.disabled = Boolean(g.cropProblem(state.label, state.width, state.height));
    setPhase("submitted");
  }
}

// ---- wiring ---------------------------------------------------------------------------------

ui.file.addEventListener("change", () => openPhoto(ui.file.files[0]));
ui.stage.addEventListener("dragover", (event) => { event.preventDefault(); ui.stage.classList.add("dragging"); });
ui.stage.addEventListener("dragleave", () => ui.stage.classList.remove("dragging"));
ui.stage.addEventListener("drop", (event) => {
  event.preventDefault();
  ui.stage.classList.remove("dragging");
  openPhoto(event.dataTransfer.files[0]);
});
for (const button of ui.presets) {
  button.addEventListener("click", () => {
    state.aspect = ASPECTS[button.dataset.aspect];
    for (const other of ui.presets) other.setAttribute("aria-pressed", String(other === button));
    if (state.cropper && state.suggestion) applySuggestion();
  });
}
ui.reset.addEventListener("click", () => state.cropper && applySuggestion());
// When the window changes size, cropper re-lays itself out; the crop (our label) must stay what it was.
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    if (!state.cropper || !state.label || document.body.dataset.state === "predicting") return;
    const label = state.label;
    state.applying = true;
    try {
      state.cropper.resize();
    } finally {
      state.applying = false;
    }
    applyCrop(label);
    document.body.dataset.layouts = String(Number(document.body.dataset.layouts || 0) + 1);  // a count: tests wait for the re-layout
  }, 150);
});
ui.angle.addEventListener("input", () => { ui.angleNumber.value = ui.angle.value; onAngle(ui.angle.value); });
ui.angleNumber.addEventListener("change", () => { ui.angle.value = ui.angleNumber.value; onAngle(ui.angleNumber.value); });
ui.download.addEventListener("click", () => download().catch((error) => setStatus(`Download failed: ${error.message}`, "error")));
ui.submit.addEventListener("click", () => submit());

// For the tests and the benchmark (bench/web.py): the page's own functions, nothing else.
window.cropstyle = {
  geometry: g,
  state,
  modelInput,
  applyCrop,
  /** n predictions of the open photo; the tensor count before and after (a leak shows as a difference). */
  async leakCheck(n = 50) {
    const before = tf.memory().numTensors;
    for (let i = 0; i < n; i += 1) await predict(state.model, state.bitmap, state.width, state.height);
    return { before, after: tf.memory().numTensors, bytes: tf.memory().numBytes };
  },
  /** Latency (ms) of `runs` predictions of the open photo (the whole path from the decoded photo; and from
   * the photo already drawn at the decode size) and of smartcrop.js on the same photo. */
  async bench(runs = 20, warmup = 3) {
    const decoded = decodeCanvas(state.model, state.bitmap, state.width, state.height);
    const side = Math.min(state.width, state.height);
    const tasks = {
      model: () => predict(state.model, state.bitmap, state.width, state.height),
      graphOnly: () => runModel(state.model, decoded, state.width / state.height),
      smartcrop: () => window.smartcrop.crop(ui.image, { width: side, height: side }),
    };
    const samples = { model: [], graphOnly: [], smartcrop: [] };
    // Interleaved, so that both methods see the same machine: warm-up rounds first, then `runs` timed rounds.
    for (let round = 0; round < warmup + runs; round += 1) {
      for (const [name, task] of Object.entries(tasks)) {
        const started = performance.now();
        await task();
        if (round >= warmup) samples[name].push(performance.now() - started);
      }
    }
    return { backend: state.model.backend, width: state.width, height: state.height, ...samples };
  },
};

setPhase("loading-model");
const modelReady = loadModel()
  .then((model) => {
    state.model = model;
    ui.modelStatus.textContent = model
      ? `Model ${model.version} (${model.imageSize} px) on ${model.backend}, ${model.warmMs.toFixed(0)} ms a photo.`
      : "No model on this server: the page still collects hand-made crops.";
    setPhase("ready");
  })
  .catch((error) => {
    ui.modelStatus.textContent = `The model could not be loaded: ${error.message}`;
    setPhase("ready");
  });
