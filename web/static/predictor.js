// Inference in the browser, apart from the page: chooses the TF.js backend, loads the exported graph model and its
// metadata (model_metadata.js), and runs it on a photo. The page loads TF.js and its wasm backend as classic scripts
// before the modules (web/static/index.html).
import { modelInputValues, sourceSize } from "./model_input.js";
import { confidenceFromOutput, cropFromOutput, readModelMetadata } from "./model_metadata.js";

const tf = window.tf;

/** A WebGL2 context on a GPU (not a software renderer, which is slower than wasm). */
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

/** The name of the graph's input `key` ("image" or "aspect"): the metadata's, else the graph's own. */
function inputName(graph, metadata, key, fallback) {
  const named = metadata.inputs?.[key]?.name;
  return named || (graph.inputs.find((t) => t.name.replace(/:0$/, "") === key) || fallback).name;
}

async function loadOn(backend, info, contract) {
  if (!(await tf.setBackend(backend))) throw new Error(`the ${backend} backend is not available`);
  await tf.ready();
  const graph = await tf.loadGraphModel(info.url);
  const metadata = info.metadata;
  const model = {
    graph,
    metadata,
    backend,
    version: info.version,
    // imageSize, sourceLongSide (the RUN's training photos' long side), columns (outputs by name), confidence
    ...contract,
    inputs: {
      image: inputName(graph, metadata, "image", graph.inputs[0]),
      aspect: inputName(graph, metadata, "aspect", graph.inputs[1]),
    },
    output: metadata.outputs?.crop?.name || graph.outputs[0].name,
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

/** The server's model, ready to predict, or null when the server has none. `backend`: "wasm", "webgl" or "auto"
 * (wasm, WebGL only when a hardware WebGL context measures faster after warm-up); `threads`: the wasm backend's,
 * 0 for its own default (half the cores). Throws an Error saying why a model cannot be used. */
export async function loadModel({ backend = "auto", threads = 0 } = {}) {
  const response = await fetch("/api/model");
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`the server answered ${response.status} for /api/model`);
  const info = await response.json();
  const contract = readModelMetadata(info.metadata);
  tf.wasm.setWasmPaths("/vendor/tfjs-backend-wasm/");
  // The server makes the page cross-origin isolated, so the wasm backend may use threads.
  if (self.crossOriginIsolated && threads >= 1) tf.wasm.setThreadsCount(threads);
  if (backend !== "auto") return loadOn(backend, info, contract);
  let model = await loadOn("wasm", info, contract);
  if (hardwareWebGL()) {
    try {
      const webgl = await loadOn("webgl", info, contract);
      if (webgl.warmMs < model.warmMs) {
        await tf.setBackend("wasm");
        model.graph.dispose();
        model = webgl;
        await tf.setBackend("webgl");
      } else {
        webgl.graph.dispose();
        await tf.setBackend("wasm");
      }
    } catch {
      await tf.setBackend("wasm");
    }
  }
  return model;
}

/** The displayed photo drawn at the model's source size, as export/inference.py shrinks it (never enlarged). */
export function sourceCanvas(model, source, width, height) {
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = sourceSize(width, height, model.sourceLongSide);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
  return canvas;
}

/** The canvas as the model's image input, a [1, size, size, 3] tensor (model_input.js on the canvas's bytes: faster
 * than tf.browser.fromPixels of the whole canvas and a resize in wasm, which took longer than the graph itself). */
export function modelInput(canvas, size) {
  const { width, height } = canvas;
  const rgba = canvas.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, width, height).data;
  return tf.tensor4d(modelInputValues(rgba, width, height, size), [1, size, size, 3], "float32");
}

/** One prediction on a canvas at the source size, {crop, confidence} (confidence: {expected, unsure} or null): the
 * input and the graph inside tf.tidy, so nothing but the output survives it, and the output is disposed once read. */
export async function runModel(model, canvas, aspect) {
  const output = tf.tidy(() => {
    const image = modelInput(canvas, model.imageSize);
    const aspectTensor = tf.tensor2d([[aspect]], [1, 1], "float32");
    return model.graph.execute({ [model.inputs.image]: image, [model.inputs.aspect]: aspectTensor }, model.output);
  });
  try {
    const row = await output.data();
    return { crop: cropFromOutput(row, model.columns), confidence: confidenceFromOutput(row, model.confidence) };
  } finally {
    output.dispose();
  }
}

/** The model's crop of a displayed width×height photo (an ImageBitmap or any canvas image source) and its confidence,
 * as runModel's. */
export async function predict(model, photo, width, height) {
  return runModel(model, sourceCanvas(model, photo, width, height), width / height);
}

/** `n` predictions of a photo and the tensor count before and after (a leak shows as a difference). */
export async function leakCheck(model, photo, width, height, n) {
  const before = tf.memory().numTensors;
  for (let i = 0; i < n; i += 1) await predict(model, photo, width, height);
  return { before, after: tf.memory().numTensors, bytes: tf.memory().numBytes };
}
