// Run exported TF.js graph models in node, as the browser will: the page's own TF.js and wasm backend files.
//
//   node export/parity.mjs VENDOR INPUTS.json WEBMODEL...
//
// VENDOR: the folder the server serves at /vendor/ (web/vendor.py): tfjs/tf.es2017.min.js and
// tfjs-backend-wasm/{tf-backend-wasm.es2017.min.js, *.wasm}, the same bytes the browser loads.
// INPUTS.json: {"image": {"shape": [B, S, S, 3], "file": "image.f32"}, "aspect": {"shape": [B, 1], "file": "aspect.f32"}}
// (files: little-endian float32, relative to INPUTS.json). Prints one JSON line per WEBMODEL, in order:
// {"backend", "tfjs_version", "inputs": [names as model.inputs sees them], "outputs": [names of model.outputs],
//  "shape": [B, 5], "result": [[...], ...]}.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";

const [vendorDir, inputsPath, ...modelDirs] = process.argv.slice(2);
if (!vendorDir || !inputsPath || modelDirs.length === 0) {
  console.error("usage: node export/parity.mjs VENDOR INPUTS.json WEBMODEL...");
  process.exit(2);
}

// The browser bundles are UMD: in node they take the CommonJS branch, and the wasm backend's
// require("@tensorflow/tfjs-core") must be the TF.js bundle loaded before it (there is no node_modules).
const nodeRequire = createRequire(import.meta.url);
function loadBundle(file, provided) {
  const module = { exports: {} };
  const load = new Function("exports", "require", "module", "__filename", "__dirname", readFileSync(file, "utf8"));
  load.call(
    globalThis,
    module.exports,
    (name) => (name in provided ? provided[name] : nodeRequire(name)),
    module,
    file,
    dirname(file),
  );
  return module.exports;
}
const tf = loadBundle(join(vendorDir, "tfjs", "tf.es2017.min.js"), {});
const wasm = loadBundle(join(vendorDir, "tfjs-backend-wasm", "tf-backend-wasm.es2017.min.js"), {
  "@tensorflow/tfjs-core": tf,
});

// tf.loadGraphModel's file:// handler lives in tfjs-node, which cannot be installed: read the files here.
function fileHandler(dir) {
  return {
    async load() {
      const model = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
      const weightSpecs = [];
      const buffers = [];
      for (const group of model.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const path of group.paths) buffers.push(readFileSync(join(dir, path)));
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: model.modelTopology,
        format: model.format,
        generatedBy: model.generatedBy,
        convertedBy: model.convertedBy,
        signature: model.signature,
        userDefinedMetadata: model.userDefinedMetadata,
        modelInitializer: model.modelInitializer,
        weightSpecs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

function readInput(spec) {
  const bytes = readFileSync(resolve(dirname(inputsPath), spec.file));
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return tf.tensor(data, spec.shape, "float32");
}

wasm.setWasmPaths(`${join(resolve(vendorDir), "tfjs-backend-wasm")}/`);
if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend did not start");
await tf.ready();

const spec = JSON.parse(readFileSync(inputsPath, "utf8"));
for (const modelDir of modelDirs) {
  const model = await tf.loadGraphModel(fileHandler(resolve(modelDir)));
  const feeds = {};
  for (const input of model.inputs) {
    // model.inputs names are the graph's ("image", "aspect"); the signature keys are the same names.
    const key = input.name.replace(/:0$/, "");
    if (!(key in spec)) throw new Error(`INPUTS.json has no entry for the model input ${input.name}`);
    feeds[input.name] = readInput(spec[key]);
  }
  const output = await model.executeAsync(feeds);
  const tensor = Array.isArray(output) ? output[0] : output;
  const line = {
    backend: tf.getBackend(),
    tfjs_version: tf.version.tfjs,
    inputs: model.inputs.map((t) => t.name),
    outputs: model.outputs.map((t) => t.name),
    shape: tensor.shape,
    result: await tensor.array(),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  tf.dispose([...Object.values(feeds), output]);
  model.dispose();
}
