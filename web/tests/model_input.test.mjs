// web/static/model_input.js: the resize taps and the model's input values, on hand-computed cases and against the
// half-pixel-centre formula. (The browser test, tests/test_web_page.py, checks the same path against TF itself.)
import assert from "node:assert/strict";
import { test } from "node:test";

import { bilinearTaps, IMPLEMENTED, modelInputValues, sourceSize } from "../static/model_input.js";

const taps = (inSize, outSize) => {
  const { low, high, weight } = bilinearTaps(inSize, outSize);
  return { low: [...low], high: [...high], weight: [...weight] };
};

/** RGBA bytes from [r, g, b] pixels, alpha `alpha`. */
const rgba = (pixels, alpha = 255) => Uint8ClampedArray.from(pixels.flatMap((p) => [...p, alpha]));

test("bilinearTaps: hand-computed cases", () => {
  // Output i samples the source at (i + 0.5)·in/out − 0.5: 4 → 2 at 0.5 and 2.5, halfway between two pixels.
  assert.deepEqual(taps(4, 2), { low: [0, 2], high: [1, 3], weight: [0.5, 0.5] });
  // 2 → 4 at −0.25 (clamped to pixel 0), 0.25, 0.75, 1.25 (clamped to pixel 1).
  assert.deepEqual(taps(2, 4), { low: [0, 0, 0, 1], high: [0, 1, 1, 1], weight: [0.75, 0.25, 0.75, 0.25] });
  // 3 → 2 at 0.25 and 1.75.
  assert.deepEqual(taps(3, 2), { low: [0, 1], high: [1, 2], weight: [0.25, 0.75] });
  // 5 → 3 in float32, as TF: the scale is f32(5/3) = 1.66666662693023681640625, so output 0 samples at
  // 0.5·scale − 0.5 = 0.333333313465118408203125 (1/3 in doubles) and output 2 at f32(2.5·scale) − 0.5 =
  // 3.6666665077209473 (3.6666666666666665 in doubles); output 1 at exactly 2.
  assert.deepEqual(taps(5, 3), {
    low: [0, 2, 3],
    high: [1, 2, 4],
    weight: [0.3333333134651184, 0, 0.6666665077209473],
  });
  // The same size: every output on its own pixel.
  assert.deepEqual(taps(3, 3), { low: [0, 1, 2], high: [0, 1, 2], weight: [0, 0, 0] });
});

test("bilinearTaps: exactly the half-pixel-centre formula where float32 is exact (power-of-two ratios)", () => {
  for (const [inSize, outSize] of [
    [512, 64],
    [64, 256],
    [96, 96],
    [1, 8],
  ]) {
    const got = taps(inSize, outSize);
    for (let i = 0; i < outSize; i += 1) {
      const at = ((i + 0.5) * inSize) / outSize - 0.5;
      assert.equal(got.low[i], Math.max(Math.floor(at), 0), `${inSize}→${outSize} low ${i}`);
      // + 0: ceil(−0.25) is −0, an index 0.
      assert.equal(got.high[i], Math.min(Math.ceil(at), inSize - 1) + 0, `${inSize}→${outSize} high ${i}`);
      assert.equal(got.weight[i], at - Math.floor(at), `${inSize}→${outSize} weight ${i}`);
    }
  }
});

test("bilinearTaps: the half-pixel-centre formula to float32 rounding, any sizes", () => {
  // On a ramp (pixel j has value j) a tap reads its sampling position, clamped to the axis: compare that with the
  // formula in doubles, to a few float32 steps of the largest position.
  for (const [inSize, outSize] of [
    [512, 96],
    [341, 96],
    [25, 96],
    [96, 40],
    [4000, 224],
    [7, 3],
  ]) {
    const { low, high, weight } = bilinearTaps(inSize, outSize);
    const tolerance = 4 * inSize * 2 ** -24;
    for (let i = 0; i < outSize; i += 1) {
      const at = ((i + 0.5) * inSize) / outSize - 0.5;
      const expected = Math.min(Math.max(at, 0), inSize - 1);
      const read = low[i] + (high[i] - low[i]) * weight[i];
      assert.ok(Math.abs(read - expected) <= tolerance, `${inSize}→${outSize} output ${i}: ${read} != ${expected}`);
      assert.ok(low[i] >= 0 && high[i] <= inSize - 1 && low[i] <= high[i] && high[i] - low[i] <= 1);
    }
  }
});

test("modelInputValues: hand-computed cases", () => {
  // Black and white side by side → one grey pixel, exactly halfway.
  assert.deepEqual(
    modelInputValues(
      rgba([
        [0, 0, 0],
        [255, 255, 255],
      ]),
      2,
      1,
      1,
    ),
    Float32Array.from([0.5, 0.5, 0.5]),
  );
  // A 2×2 image → its centre, the mean of its four pixels, channel by channel, RGB order.
  const square = rgba([
    [0, 10, 20],
    [40, 50, 60],
    [80, 90, 100],
    [120, 130, 140],
  ]);
  assert.deepEqual(modelInputValues(square, 2, 2, 1), Float32Array.from([60 / 255, 70 / 255, 80 / 255]));
  // Alpha is ignored.
  assert.deepEqual(
    modelInputValues(
      square.map((v, i) => (i % 4 === 3 ? 0 : v)),
      2,
      2,
      1,
    ),
    modelInputValues(square, 2, 2, 1),
  );
  // 1×2 → 1×4 (taps 2 → 4 above): rows 0 and 3 clamped to the pixels, rows 1 and 2 a quarter of the way across.
  const column = modelInputValues(
    rgba([
      [0, 0, 0],
      [200, 100, 40],
    ]),
    1,
    2,
    4,
  );
  const row = (y) => [...column.slice(12 * y, 12 * y + 3)]; // the first pixel of output row y
  assert.deepEqual(row(0), [0, 0, 0]);
  assert.deepEqual(row(1), [...Float32Array.from([50 / 255, 25 / 255, 10 / 255])]);
  assert.deepEqual(row(2), [...Float32Array.from([150 / 255, 75 / 255, 30 / 255])]);
  assert.deepEqual(row(3), [...Float32Array.from([200 / 255, 100 / 255, 40 / 255])]);
});

test("modelInputValues: at the model's size, the bytes divided by 255", () => {
  const size = 5;
  const bytes = Uint8ClampedArray.from({ length: size * size * 4 }, (_, i) => (i * 37 + 11) % 256);
  const expected = Float32Array.from(
    bytes.filter((_, i) => i % 4 !== 3),
    (v) => v / 255,
  );
  assert.deepEqual(modelInputValues(bytes, size, size, size), expected);
});

test("sourceSize: long side at most the source's, never enlarged", () => {
  assert.deepEqual(sourceSize(4000, 3000, 512), [512, 384]);
  assert.deepEqual(sourceSize(3000, 4000, 512), [384, 512]);
  assert.deepEqual(sourceSize(1000, 333, 512), [512, 170]); // 333·0.512 = 170.496
  assert.deepEqual(sourceSize(300, 200, 512), [300, 200]);
  assert.deepEqual(sourceSize(5000, 1, 512), [512, 1]); // never less than a pixel
});

test("IMPLEMENTED says what these functions do, in metadata.json's words", () => {
  assert.deepEqual(IMPLEMENTED, {
    resize: {
      method: "bilinear",
      keep_aspect_ratio: false,
      half_pixel_centers: true,
      align_corners: false,
      antialias: false,
    },
    channel_order: "RGB",
    scale: 1 / 255,
  });
});
