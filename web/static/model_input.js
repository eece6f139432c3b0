// The model's image input, computed from a photo's pixels as export/inference.py and training compute it:
// tf.image.resize's bilinear (half-pixel centres, no antialias) to size × size, RGB, divided by 255.
// Pure functions on pixel arrays, so that node tests them (web/tests/model_input.test.mjs); predictor.js gives them
// a canvas's bytes.

/** What these functions implement, in the words of WEBMODEL/metadata.json's `preprocessing` (model_metadata.js). */
export const IMPLEMENTED = Object.freeze({
  resize: Object.freeze({
    method: "bilinear",
    keep_aspect_ratio: false,
    half_pixel_centers: true,
    align_corners: false,
    antialias: false,
  }),
  channel_order: "RGB",
  scale: 1 / 255,
});

/** The size a width×height photo is drawn at before the resize: long side at most `longSide`, never enlarged. */
export function sourceSize(width, height, longSide) {
  const scale = Math.min(1, longSide / Math.max(width, height));
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

/** Where tf.image.resizeBilinear (half-pixel centres, no antialias) samples an axis of `inSize` pixels for `outSize`
 * outputs: the two source indices of each output and the weight of the second, in float32 as TF computes them (in
 * doubles the weights differ by up to 3e-5 on a 512 px axis). */
export function bilinearTaps(inSize, outSize) {
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

/** RGBA bytes of a width×height image (row-major, as a canvas's ImageData) → the model's input values, size × size × 3
 * (NHWC without the batch axis), RGB in [0, 1]: each output from the 4 source pixels around it, alpha ignored. */
export function modelInputValues(rgba, width, height, size) {
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
  return values;
}
