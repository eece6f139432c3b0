// The cropstyle page: the model suggests a crop in the browser (predictor.js), cropper.js (v1) lets you adjust it,
// "Download" writes the straightened crop at full resolution, "Submit correction" sends it back.
// Every conversion between our label and cropper's data goes through geometry.js (the Python mirror).
import * as g from "./geometry.js";
import { leakCheck, loadModel, modelInput, predict } from "./predictor.js";

const Cropper = window.Cropper;

const UPLOAD_LONG_SIDE = 1024;
const UPLOAD_QUALITY = 0.92;
const DOWNLOAD_QUALITY = 0.95;
const TYPES = new Set(["image/jpeg", "image/png", "image/webp"]);
const ASPECTS = { free: null, "1:1": 1, "4:5": 4 / 5, "16:9": 16 / 9, "9:16": 9 / 16 };
// Without a model: a centred crop of 80 % (the user adjusts it and can still submit).
const DEFAULT_CROP = Object.freeze(g.makeCrop(0.1, 0.1, 0.9, 0.9, 0));

const $ = (selector) => document.querySelector(selector);
const ui = {
  file: $("#file"),
  stage: $("#stage"),
  image: $("#photo"),
  hint: $("#drop-hint"),
  values: $("#crop-values"),
  status: $("#status"),
  modelStatus: $("#model-status"),
  confidence: $("#confidence"),
  angle: $("#angle"),
  angleNumber: $("#angle-number"),
  reset: $("#reset"),
  next: $("#next-suggestion"),
  download: $("#download"),
  submit: $("#submit"),
  presets: [...document.querySelectorAll("#presets button")],
};

const state = {
  model: null, // predictor.js loadModel's: {graph, metadata, version, backend, imageSize, ...}
  file: null,
  url: null,
  bitmap: null,
  width: 0,
  height: 0,
  suggestion: null, // the model's crop (displayed frame), or a default when there is no model
  confidence: null, // the model's {expected, unsure} for the suggestion, or null (no model, or one without it)
  aspect: null, // null (free) or width / height
  aspectName: "free", // the preset: "free", "1:1", "4:5", ...
  alternatives: [], // with an aspect: geometry.aspectAlternatives of the suggestion, best first ({crop, overlap})
  rank: 0, // which of them is shown (0: the first)
  label: null, // what #crop-values shows: the crop in cropper now
  cropper: null,
  applying: false,
  generation: 0,
};

function setStatus(text, kind = "") {
  ui.status.textContent = text;
  ui.status.className = kind;
}

function setPhase(phase) {
  document.body.dataset.state = phase;
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

/** The crop the page suggests now: the model's, or with an aspect preset its alternative of rank state.rank. */
function suggestedCrop() {
  state.alternatives = state.aspect
    ? g.aspectAlternatives(state.suggestion, state.aspect, state.width, state.height)
    : [];
  state.rank = Math.min(state.rank, Math.max(0, state.alternatives.length - 1));
  return state.aspect ? state.alternatives[state.rank].crop : state.suggestion;
}

function applySuggestion() {
  state.cropper.setAspectRatio(state.aspect || NaN);
  applyCrop(suggestedCrop());
  showSuggestion();
}

/** The expected IoU of what is suggested now: the model's confidence times the alternative's overlap with the
 * first (1 for the first, and without an aspect); null without a confidence. */
function expectedIou() {
  if (!state.confidence) return null;
  return state.confidence.expected * (state.aspect ? state.alternatives[state.rank].overlap : 1);
}

/** "Next suggestion" (k of n) and the confidence line for what is shown. */
function showSuggestion() {
  const count = state.alternatives.length;
  ui.next.hidden = count < 2;
  ui.next.dataset.rank = String(state.rank + 1);
  ui.next.dataset.count = String(count);
  ui.next.textContent = `Next suggestion (${state.rank + 1} of ${count})`;
  showConfidence(state.confidence);
}

function onAngle(value) {
  const angle = Math.max(-g.MAX_ANGLE, Math.min(g.MAX_ANGLE, Number(value)));
  if (!state.label || !Number.isFinite(angle) || Math.abs(angle - state.label.angle) < 1e-9) return;
  applyCrop(g.withAngle(state.label, angle, state.width, state.height));
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
      autoCropArea: 1,
      rotatable: true,
      scalable: false,
      zoomable: true,
      zoomOnWheel: false,
      zoomOnTouch: false,
      movable: false,
      toggleDragModeOnDblclick: false,
      restore: false,
      responsive: false, // resizes: below
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
  showConfidence(null);
  state.rank = 0;
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
    console.warn(
      "image and bitmap sizes differ",
      ui.image.naturalWidth,
      ui.image.naturalHeight,
      state.width,
      state.height,
    );
  }
  ui.image.hidden = false;
  ui.hint.hidden = true;
  setPhase("predicting");
  await modelReady;
  const started = performance.now();
  const answer = state.model
    ? await predict(state.model, state.bitmap, state.width, state.height)
    : { crop: DEFAULT_CROP, confidence: null };
  const elapsed = performance.now() - started;
  if (generation !== state.generation) return;
  state.suggestion = answer.crop;
  state.confidence = answer.confidence;
  await cropperReady(ui.image);
  if (generation !== state.generation) return;
  applySuggestion();
  for (const control of [ui.reset, ui.angle, ui.angleNumber]) control.disabled = false;
  // A model that learnt to leave photos alone answers exactly the full frame (training/model.py KeepOrCrop).
  const uncropped = g.LABEL_VALUES.every((key) => state.suggestion[key] === g.IDENTITY[key]);
  const then = "then download or submit your correction.";
  const timing = `${elapsed.toFixed(0)} ms, ${state.model?.backend}`;
  setStatus(
    !state.model
      ? "No model on this server: crop by hand, then download or submit."
      : uncropped
        ? `The model leaves this photo uncropped (${timing}). Crop it if you would, ${then}`
        : state.confidence?.unsure
          ? `Suggested in ${elapsed.toFixed(0)} ms (${state.model.backend}), but the model is unsure of this photo: ` +
            `check the crop, ${then}`
          : `Suggested in ${elapsed.toFixed(0)} ms (${state.model.backend}). Adjust it, ${then}`,
  );
  setPhase("suggested");
}

/** The confidence beside the crop values: the expected IoU in words (of the alternative shown, with an aspect
 * preset), "unsure" below the model's threshold. */
function showConfidence(confidence) {
  state.confidence = confidence;
  ui.confidence.hidden = confidence === null;
  const expected = confidence === null || !state.suggestion ? null : expectedIou();
  ui.confidence.dataset.expected = expected === null ? "" : String(expected);
  ui.confidence.dataset.unsure = confidence === null ? "" : String(confidence.unsure);
  ui.confidence.className = confidence?.unsure ? "unsure" : "";
  if (expected === null) ui.confidence.textContent = "";
  else {
    const which = state.aspect
      ? `suggestion ${state.rank + 1} of ${state.alternatives.length} at ${state.aspectName}`
      : "this suggestion";
    const percent = Math.round(expected * 100);
    ui.confidence.textContent = confidence.unsure
      ? `Unsure: ${which} is expected to overlap your own crop by ${percent} % (IoU); the model is among its least ` +
        "sure answers here."
      : `Confidence: ${which} is expected to overlap your own crop by ${percent} % (IoU).`;
  }
}

// ---- download and submit --------------------------------------------------------------------

function canvasBlob(canvas, type, quality) {
  return new Promise((resolve, reject) =>
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error("the browser could not encode the image"))),
      type,
      quality,
    ),
  );
}

/** The photo at full resolution, cut to the crop and straightened (as `cropstyle predict --write-cropped`). */
function croppedCanvas(label) {
  const { width, height, matrix } = g.straighteningTransform(label, state.width, state.height);
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  context.setTransform(...matrix);
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
      // Which suggestion the correction started from: the collected data says how often the first was right.
      const expected = expectedIou();
      form.append(
        "suggestion",
        JSON.stringify({ aspect: state.aspectName, rank: state.rank + 1, expected_iou: expected }),
      );
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
ui.stage.addEventListener("dragover", (event) => {
  event.preventDefault();
  ui.stage.classList.add("dragging");
});
ui.stage.addEventListener("dragleave", () => ui.stage.classList.remove("dragging"));
ui.stage.addEventListener("drop", (event) => {
  event.preventDefault();
  ui.stage.classList.remove("dragging");
  openPhoto(event.dataTransfer.files[0]);
});
for (const button of ui.presets) {
  button.addEventListener("click", () => {
    state.aspect = ASPECTS[button.dataset.aspect];
    state.aspectName = button.dataset.aspect;
    state.rank = 0;
    for (const other of ui.presets) other.setAttribute("aria-pressed", String(other === button));
    if (state.cropper && state.suggestion) applySuggestion();
  });
}
ui.reset.addEventListener("click", () => state.cropper && applySuggestion());
ui.next.addEventListener("click", () => {
  if (!state.cropper || state.alternatives.length < 2) return;
  state.rank = (state.rank + 1) % state.alternatives.length;
  applySuggestion();
});
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
    // A count of re-layouts: the tests wait for it.
    document.body.dataset.layouts = String(Number(document.body.dataset.layouts || 0) + 1);
  }, 150);
});
ui.angle.addEventListener("input", () => {
  ui.angleNumber.value = ui.angle.value;
  onAngle(ui.angle.value);
});
ui.angleNumber.addEventListener("change", () => {
  ui.angle.value = ui.angleNumber.value;
  onAngle(ui.angleNumber.value);
});
ui.download.addEventListener("click", () =>
  download().catch((error) => setStatus(`Download failed: ${error.message}`, "error")),
);
ui.submit.addEventListener("click", () => submit());

// For the tests and the benchmark (bench/web.py adds bench.js): the page's own functions, nothing else.
window.cropstyle = {
  geometry: g,
  state,
  modelInput,
  applyCrop,
  /** n predictions of the open photo; the tensor count before and after (a leak shows as a difference). */
  leakCheck: (n = 50) => leakCheck(state.model, state.bitmap, state.width, state.height, n),
};

setPhase("loading-model");
const params = new URLSearchParams(location.search);
// ?backend=wasm|webgl forces one; ?threads=N sets the wasm backend's threads.
const modelReady = loadModel({ backend: params.get("backend") || "auto", threads: Number(params.get("threads")) })
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
