// The browser benchmark's hook, never loaded by the page itself: bench/web.py adds smartcrop.js (its baseline) and
// this module to the page, then calls window.cropstyle.bench on each photo it opens.
import { predict, runModel, sourceCanvas } from "./predictor.js";

/** Latency (ms) of `runs` predictions of the open photo (the whole path from the decoded photo; and from the photo
 * already drawn at the source size) and of smartcrop.js on the same photo, after `warmup` rounds. */
async function bench(runs = 20, warmup = 3) {
  const { state } = window.cropstyle;
  const image = document.querySelector("#photo");
  const drawn = sourceCanvas(state.model, state.bitmap, state.width, state.height);
  const side = Math.min(state.width, state.height);
  const tasks = {
    model: () => predict(state.model, state.bitmap, state.width, state.height),
    graphOnly: () => runModel(state.model, drawn, state.width / state.height),
    smartcrop: () => window.smartcrop.crop(image, { width: side, height: side }),
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
}

window.cropstyle.bench = bench;
