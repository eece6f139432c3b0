// web/static/geometry.js's page adjustments: withAngle (the angle control) and straighteningTransform (Download),
// on hand-computed cases and round trips. (geometry_vectors.mjs checks the rest against the Python module.)
import assert from "node:assert/strict";
import { test } from "node:test";

import * as g from "../static/geometry.js";

function close(actual, expected, what, tolerance = 1e-9) {
  assert.ok(
    Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} != ${expected}`,
  );
}

function closeRect(actual, expected, what, tolerance = 1e-9) {
  for (const key of ["cx", "cy", "width", "height", "angle"])
    close(actual[key], expected[key], `${what}.${key}`, tolerance);
}

/** x' = a·x + c·y + e, y' = b·x + d·y + f: how canvas setTransform's [a, b, c, d, e, f] maps a point. */
const apply = ([a, b, c, d, e, f], [x, y]) => [a * x + c * y + e, b * x + d * y + f];

/** The inverse of a rotation-and-translation matrix (its linear part's transpose). */
const invert = ([a, b, c, d, e, f]) => [a, c, b, d, -(a * e + b * f), -(c * e + d * f)];

/** A reproducible stream of numbers in [0, 1) (mulberry32). */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A valid crop of a random image: a rectangle turned by up to 45°, inside the image (as tests/test_web_geometry.py). */
function randomCrop(next) {
  const width = 16 + Math.floor(next() * 6000);
  const height = 16 + Math.floor(next() * 6000);
  const angle = (next() * 2 - 1) * 45;
  const t = (Math.abs(angle) * Math.PI) / 180;
  let w = (0.05 + 0.95 * next()) * width;
  let h = (0.05 + 0.95 * next()) * height;
  const scale = Math.min(1, width / (w * Math.cos(t) + h * Math.sin(t)), height / (w * Math.sin(t) + h * Math.cos(t)));
  w *= scale;
  h *= scale;
  const boxWidth = w * Math.cos(t) + h * Math.sin(t);
  const boxHeight = w * Math.sin(t) + h * Math.cos(t);
  const cx = boxWidth / 2 + next() * (width - boxWidth);
  const cy = boxHeight / 2 + next() * (height - boxHeight);
  return { crop: g.rectToCrop({ cx, cy, width: w, height: h, angle }, width, height), width, height };
}

test("withAngle: a crop that fits once turned keeps its centre and size", () => {
  const crop = g.makeCrop(0.3, 0.3, 0.7, 0.7, 0);
  const turned = g.withAngle(crop, 10, 1000, 800);
  closeRect(g.cropToRect(turned, 1000, 800), { cx: 500, cy: 400, width: 400, height: 320, angle: 10 }, "turned");
  assert.equal(g.cropProblem(turned, 1000, 800), null);
});

test("withAngle: the full frame turned shrinks to the largest crop of its shape that fits", () => {
  const [width, height, angle] = [1200, 800, 10];
  const t = (angle * Math.PI) / 180;
  // Centred, the turned crop's bounding box may reach INSIDE_TOLERANCE beyond each edge (cropProblem's rule).
  const reach = 1 + 2 * g.INSIDE_TOLERANCE;
  const scale = Math.min(
    (reach * width) / (width * Math.cos(t) + height * Math.sin(t)),
    (reach * height) / (width * Math.sin(t) + height * Math.cos(t)),
  );
  const turned = g.withAngle(g.IDENTITY, angle, width, height);
  closeRect(
    g.cropToRect(turned, width, height),
    { cx: 600, cy: 400, width: width * scale, height: height * scale, angle },
    "shrunk",
  );
  assert.equal(g.cropProblem(turned, width, height), null);
});

test("withAngle: a small crop at the edge moves towards the middle rather than shrink below 16 px", () => {
  // 20 px at the corner turned by 45° would fit only at 20·11/(10·√2) = 15.6 px: a quarter of the way to the
  // middle, (10, 10) → (132.5, 132.5), it fits whole (the binary search stops 2⁻⁴⁰ short of 1).
  const turned = g.withAngle(g.makeCrop(0, 0, 0.02, 0.02, 0), 45, 1000, 1000);
  closeRect(g.cropToRect(turned, 1000, 1000), { cx: 132.5, cy: 132.5, width: 20, height: 20, angle: 45 }, "moved");
  assert.equal(g.cropProblem(turned, 1000, 1000), null);
});

test("withAngle: when nothing of 16 px fits, only the angle changes", () => {
  const turned = g.withAngle(g.IDENTITY, 30, 10, 10);
  closeRect(g.cropToRect(turned, 10, 10), { cx: 5, cy: 5, width: 10, height: 10, angle: 30 }, "unchanged");
  assert.equal(g.cropProblem(turned, 10, 10), "crop reaches outside the image");
});

test("straighteningTransform: upright, a translation", () => {
  const { width, height, matrix } = g.straighteningTransform(g.makeCrop(0.1, 0.2, 0.6, 0.7, 0), 1000, 500);
  assert.deepEqual([width, height], [500, 250]);
  for (const [i, value] of [1, 0, 0, 1, -100, -100].entries()) close(matrix[i], value, `matrix[${i}]`, 0);
});

test("straighteningTransform: 45°, hand-computed", () => {
  // A 100×100 crop centred on a 200×200 photo, turned 45° clockwise: its top-left corner is (100, 100 − 50√2),
  // u = (√2/2, √2/2), v = (−√2/2, √2/2), so e = −u·TL = 50 − 100√2 and f = −v·TL = 50.
  const crop = g.rectToCrop({ cx: 100, cy: 100, width: 100, height: 100, angle: 45 }, 200, 200);
  const { width, height, matrix } = g.straighteningTransform(crop, 200, 200);
  assert.deepEqual([width, height], [100, 100]);
  const r = Math.SQRT1_2;
  for (const [i, value] of [r, -r, r, r, 50 - 100 * Math.SQRT2, 50].entries()) {
    close(matrix[i], value, `matrix[${i}]`, 1e-12);
  }
  const [x, y] = apply(matrix, [100, 100]);
  close(x, 50, "centre x", 1e-12);
  close(y, 50, "centre y", 1e-12);
});

test("straighteningTransform: the output is round(width) × round(height), centred on the crop", () => {
  const crop = g.rectToCrop({ cx: 300.25, cy: 200.5, width: 100.4, height: 60.6, angle: -12 }, 640, 480);
  const { width, height, matrix } = g.straighteningTransform(crop, 640, 480);
  assert.deepEqual([width, height], [100, 61]);
  const [x, y] = apply(matrix, [300.25, 200.5]);
  close(x, 50, "centre x");
  close(y, 30.5, "centre y");
});

test("straighteningTransform: round trips on random crops", () => {
  const next = random(27);
  for (let n = 0; n < 500; n += 1) {
    const { crop, width, height } = randomCrop(next);
    const out = g.straighteningTransform(crop, width, height);
    const rect = g.cropToRect(crop, width, height);
    const [a, b, c, d] = out.matrix;
    // A turn, no scaling (full resolution), no mirroring.
    close(a * a + b * b, 1, "|u|");
    close(a * d - b * c, 1, "determinant");
    close(a * c + b * d, 0, "u·v");
    // The corners of the output-sized crop land on the output's corners, and back again.
    const sized = { cx: rect.cx, cy: rect.cy, width: out.width, height: out.height, angle: crop.angle };
    const corners = [
      [0, 0],
      [out.width, 0],
      [out.width, out.height],
      [0, out.height],
    ];
    const scale = Math.max(width, height);
    g.rectCorners(sized).forEach((p, i) => {
      const q = apply(out.matrix, p);
      close(q[0], corners[i][0], `corner ${i} x`, 1e-12 * scale);
      close(q[1], corners[i][1], `corner ${i} y`, 1e-12 * scale);
      const back = apply(invert(out.matrix), q);
      close(back[0], p[0], `corner ${i} back x`, 1e-12 * scale);
      close(back[1], p[1], `corner ${i} back y`, 1e-12 * scale);
    });
    assert.deepEqual(
      [out.width, out.height],
      [Math.max(1, Math.round(rect.width)), Math.max(1, Math.round(rect.height))],
    );
  }
});
