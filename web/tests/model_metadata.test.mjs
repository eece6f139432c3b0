// web/static/model_metadata.js: what the page accepts from WEBMODEL/metadata.json, and what it refuses, by name.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  confidenceFromOutput,
  cropFromOutput,
  FORMAT_VERSION,
  outputColumns,
  readModelMetadata,
} from "../static/model_metadata.js";

/** The parts of a format_version 2 metadata.json the page reads (export/webmodel.py writes more). */
function metadata() {
  return {
    format_version: 2,
    preprocessing: {
      image_size: 96,
      source_long_side: 512,
      resize: {
        method: "bilinear",
        keep_aspect_ratio: false,
        half_pixel_centers: true,
        align_corners: false,
        antialias: false,
      },
      channel_order: "RGB",
      // As Python's json writes 1/255; JavaScript reads back the same double.
      scale: JSON.parse("0.00392156862745098"),
      value_range: [0, 1],
    },
    output: { values: ["left", "top", "right", "bottom", "angle"] },
  };
}

/** `change` applied to a fresh metadata object must be refused with a message matching `message`. */
function refused(change, message) {
  const changed = metadata();
  change(changed);
  assert.throws(() => readModelMetadata(changed), message);
}

test("a format_version 2 metadata.json: sizes and output columns", () => {
  assert.equal(FORMAT_VERSION, 2);
  assert.deepEqual(readModelMetadata(metadata()), {
    imageSize: 96,
    sourceLongSide: 512,
    columns: { left: 0, top: 1, right: 2, bottom: 3, angle: 4 },
    confidence: null,
  });
});

test("a model with a confidence: its column by name, and unsure below the calibrated threshold", () => {
  const withConfidence = metadata();
  withConfidence.output.values = ["left", "top", "right", "bottom", "angle", "confidence"];
  withConfidence.confidence = { unsure_below: 0.625 };
  const contract = readModelMetadata(withConfidence);
  assert.deepEqual(contract.confidence, { column: 5, unsureBelow: 0.625 });
  assert.deepEqual(confidenceFromOutput(Float32Array.from([0, 0, 1, 1, 0, 0.75]), contract.confidence), {
    expected: 0.75,
    unsure: false,
  });
  assert.deepEqual(confidenceFromOutput([0, 0, 1, 1, 0, 0.5], contract.confidence), { expected: 0.5, unsure: true });
  assert.deepEqual(confidenceFromOutput([0, 0, 1, 1, 0, 0.625], contract.confidence), {
    expected: 0.625,
    unsure: false,
  });
  assert.equal(confidenceFromOutput([0, 0, 1, 1, 0], null), null);
  refused((m) => {
    m.output.values.push("confidence");
  }, /metadata\.confidence\.unsure_below is missing, not a number between 0 and 1/);
  refused((m) => {
    m.output.values.push("confidence");
    m.confidence = { unsure_below: 1.5 };
  }, /metadata\.confidence\.unsure_below is 1\.5/);
});

test("another format_version, or none, is refused: re-export", () => {
  const reexport = /re-export the model with `cropstyle export`/;
  refused((m) => (m.format_version = 1), /format_version 1, the page reads 2: re-export/);
  refused((m) => (m.format_version = 3), reexport);
  refused((m) => delete m.format_version, /format_version missing/);
  assert.throws(() => readModelMetadata(undefined), /no metadata\.json: re-export/);
  assert.throws(() => readModelMetadata(null), /no metadata\.json: re-export/);
});

test("a preprocessing model_input.js does not implement is refused, naming the field", () => {
  refused((m) => delete m.preprocessing, /metadata\.preprocessing is missing/);
  refused(
    (m) => (m.preprocessing.resize.method = "bicubic"),
    /^Error: metadata\.preprocessing\.resize\.method is "bicubic"/,
  );
  refused(
    (m) => (m.preprocessing.resize.keep_aspect_ratio = true),
    /metadata\.preprocessing\.resize\.keep_aspect_ratio/,
  );
  refused(
    (m) => (m.preprocessing.resize.half_pixel_centers = false),
    /metadata\.preprocessing\.resize\.half_pixel_centers/,
  );
  refused((m) => (m.preprocessing.resize.align_corners = true), /metadata\.preprocessing\.resize\.align_corners/);
  refused(
    (m) => (m.preprocessing.resize.antialias = true),
    /^Error: metadata\.preprocessing\.resize\.antialias is true; the page implements false$/,
  );
  refused((m) => delete m.preprocessing.resize.antialias, /metadata\.preprocessing\.resize\.antialias is missing/);
  refused((m) => (m.preprocessing.resize.size = [96, 96]), /metadata\.preprocessing\.resize\.size .* no such field/);
  refused((m) => (m.preprocessing.resize = "bilinear"), /metadata\.preprocessing\.resize is "bilinear", not an object/);
  refused((m) => (m.preprocessing.channel_order = "BGR"), /metadata\.preprocessing\.channel_order is "BGR"/);
  refused((m) => (m.preprocessing.scale = 1), /metadata\.preprocessing\.scale is 1; the page implements 0\.0039/);
  refused((m) => (m.preprocessing.scale = 1 / 127.5), /metadata\.preprocessing\.scale/);
});

test("the sizes must be positive integers", () => {
  refused((m) => (m.preprocessing.image_size = "96"), /metadata\.preprocessing\.image_size is "96", not a positive/);
  refused((m) => (m.preprocessing.image_size = 0), /metadata\.preprocessing\.image_size is 0/);
  refused((m) => (m.preprocessing.image_size = 95.5), /metadata\.preprocessing\.image_size is 95\.5/);
  // format_version 1's name for it is not read.
  refused((m) => {
    m.preprocessing.decode_long_side = 512;
    delete m.preprocessing.source_long_side;
  }, /metadata\.preprocessing\.source_long_side is missing/);
});

test("the outputs are read by name through metadata.output.values", () => {
  const columns = outputColumns({ values: ["angle", "top", "left", "bottom", "right"] });
  assert.deepEqual(columns, { left: 2, top: 1, right: 4, bottom: 3, angle: 0 });
  assert.deepEqual(cropFromOutput(Float32Array.from([-3, 0.25, 0.125, 0.75, 0.5]), columns), {
    left: 0.125,
    top: 0.25,
    right: 0.5,
    bottom: 0.75,
    angle: -3,
  });
  refused((m) => (m.output.values = ["left", "top", "right", "bottom"]), /metadata\.output\.values .* lacks "angle"/);
  refused((m) => delete m.output, /metadata\.output\.values is missing/);
});
