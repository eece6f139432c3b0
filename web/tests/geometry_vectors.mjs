// Checks web/static/geometry.js against vectors made by extractor/geometry.py.
// Run by tests/test_web_geometry.py: GEOMETRY_VECTORS=vectors.json node --test web/tests/geometry_vectors.mjs
// (not named *.test.mjs: `npm test` finds only the tests that need no Python).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import * as g from "../static/geometry.js";

const vectors = JSON.parse(readFileSync(process.env.GEOMETRY_VECTORS, "utf8"));
const TOL = 1e-9;

function close(actual, expected, what, tol = TOL) {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} != ${expected}`);
}

function closeCrop(actual, expected, what, tol = TOL) {
  for (const k of g.LABEL_VALUES) close(actual[k], expected[k], `${what}.${k}`, tol);
}

const crop = (v) => g.makeCrop(...v);

test("cropToRect and rectToCrop", () => {
  assert.deepEqual(g.LABEL_VALUES, vectors.label_values); // the label's one order, Python's
  for (const c of vectors.rects) {
    const rect = g.cropToRect(crop(c.crop), c.width, c.height);
    for (const k of ["cx", "cy", "width", "height", "angle"]) close(rect[k], c.rect[k], `rect.${k}`);
    closeCrop(g.rectToCrop(c.rect, c.width, c.height), crop(c.back), "rectToCrop");
  }
});

test("cropCorners", () => {
  for (const c of vectors.corners) {
    const corners = g.cropCorners(crop(c.crop), c.width, c.height);
    corners.forEach((p, i) => {
      close(p[0], c.corners[i][0], `corner ${i} x`);
      close(p[1], c.corners[i][1], `corner ${i} y`);
    });
  }
});

test("toDisplayed, toStored and flipHorizontal", () => {
  for (const c of vectors.orient) {
    closeCrop(
      g.toDisplayed(crop(c.crop), c.width, c.height, c.orientation),
      crop(c.displayed),
      `toDisplayed ${c.orientation}`,
    );
    closeCrop(g.toStored(crop(c.crop), c.width, c.height, c.orientation), crop(c.stored), `toStored ${c.orientation}`);
  }
  for (const c of vectors.flip) closeCrop(g.flipHorizontal(crop(c.crop), c.width, c.height), crop(c.flipped), "flip");
});

test("largestWithAspect", () => {
  for (const c of vectors.aspect) {
    closeCrop(g.largestWithAspect(crop(c.crop), c.aspect, c.width, c.height), crop(c.result), `aspect ${c.aspect}`);
  }
  assert.throws(() => g.largestWithAspect(g.IDENTITY, 0, 10, 10));
});

test("aspectAlternatives agrees with aspect_alternatives: the same crops, ranked alike, the same overlaps", () => {
  for (const c of vectors.aspect) {
    const got = g.aspectAlternatives(crop(c.crop), c.aspect, c.width, c.height);
    assert.equal(got.length, c.alternatives.length, `aspect ${c.aspect} of ${JSON.stringify(c.crop)}`);
    got.forEach((alternative, k) => {
      closeCrop(alternative.crop, crop(c.alternatives[k].crop), `aspect ${c.aspect}, rank ${k + 1}`);
      assert.ok(Math.abs(alternative.overlap - c.alternatives[k].overlap) < 1e-9);
    });
  }
  assert.throws(() => g.withAspect(g.IDENTITY, -1, 10, 10));
});

test("cropProblem agrees with crop_problem", () => {
  for (const c of vectors.problems) {
    const values = c.crop.map((x) => (x === "nan" ? NaN : x === "inf" ? Infinity : x));
    const problem = g.cropProblem(crop(values), c.width, c.height);
    if (c.problem === null) assert.equal(problem, null, `valid crop ${JSON.stringify(c)} judged ${problem}`);
    else {
      assert.notEqual(problem, null, `invalid crop ${JSON.stringify(c)} judged valid`);
      assert.equal(problem.split(" ").slice(0, 2).join(" "), c.problem.split(" ").slice(0, 2).join(" "));
      if (!c.problem.includes("angle")) assert.equal(problem, c.problem);
    }
  }
});

test("cropper v1 data: both directions", () => {
  for (const c of vectors.cropper) {
    const data = g.cropToCropper(crop(c.crop), c.width, c.height);
    for (const k of ["x", "y", "width", "height", "rotate"]) close(data[k], c.data[k], `cropper.${k}`, 1e-9);
    closeCrop(g.cropperToCrop(c.data, c.width, c.height), crop(c.crop), "cropperToCrop", 1e-9);
  }
});
