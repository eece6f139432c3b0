// The contract between an exported model and the page, read from WEBMODEL/metadata.json (export/webmodel.py writes
// it): its format, the preprocessing the page must reproduce, the names of the model's output columns. A model that
// asks for a preprocessing model_input.js does not implement is refused, the field named, rather than fed wrong inputs.
import { LABEL_VALUES, makeCrop } from "./geometry.js";
import { IMPLEMENTED } from "./model_input.js";

export const FORMAT_VERSION = 2;

const REEXPORT = "re-export the model with `cropstyle export`";

const shown = (value) => (value === undefined ? "missing" : JSON.stringify(value));

function positiveInteger(object, key, path) {
  const value = object[key];
  if (!(Number.isInteger(value) && value > 0)) {
    throw new Error(`${path}.${key} is ${shown(value)}, not a positive integer`);
  }
  return value;
}

function requireImplemented(actual, expected, path) {
  if (actual !== expected) {
    const implemented = expected === undefined ? "no such field" : shown(expected);
    throw new Error(`${path} is ${shown(actual)}; the page implements ${implemented}`);
  }
}

/** metadata.output.values (the model's output columns, in order) → the column of each label value, by name. */
export function outputColumns(output) {
  const names = output?.values;
  if (!Array.isArray(names)) throw new Error(`metadata.output.values is ${shown(names)}, not a list of names`);
  const columns = {};
  for (const key of LABEL_VALUES) {
    columns[key] = names.indexOf(key);
    if (columns[key] < 0) throw new Error(`metadata.output.values ${shown(names)} lacks "${key}"`);
  }
  return columns;
}

/** How to read the model's confidence (its expected IoU with the photographer's crop, training/confidence.py):
 * {column, unsureBelow}, or null for a model exported before it had one (no "confidence" output). */
export function readConfidence(metadata) {
  const column = metadata.output.values.indexOf("confidence");
  if (column < 0) return null;
  const unsureBelow = metadata.confidence?.unsure_below;
  if (!(typeof unsureBelow === "number" && unsureBelow >= 0 && unsureBelow <= 1)) {
    throw new Error(`metadata.confidence.unsure_below is ${shown(unsureBelow)}, not a number between 0 and 1`);
  }
  return { column, unsureBelow };
}

/** WEBMODEL/metadata.json → {imageSize, sourceLongSide, columns, confidence}; throws an Error that names the
 * offending field. */
export function readModelMetadata(metadata) {
  if (metadata === null || typeof metadata !== "object") {
    throw new Error(`the model has no metadata.json: ${REEXPORT}`);
  }
  if (metadata.format_version !== FORMAT_VERSION) {
    throw new Error(
      `the model's metadata.json has format_version ${shown(metadata.format_version)}, ` +
        `the page reads ${FORMAT_VERSION}: ${REEXPORT}`,
    );
  }
  const preprocessing = metadata.preprocessing;
  if (preprocessing === null || typeof preprocessing !== "object") {
    throw new Error(`metadata.preprocessing is ${shown(preprocessing)}: ${REEXPORT}`);
  }
  const resize = preprocessing.resize;
  if (resize === null || typeof resize !== "object") {
    throw new Error(`metadata.preprocessing.resize is ${shown(resize)}, not an object`);
  }
  for (const key of new Set([...Object.keys(IMPLEMENTED.resize), ...Object.keys(resize)])) {
    requireImplemented(resize[key], IMPLEMENTED.resize[key], `metadata.preprocessing.resize.${key}`);
  }
  for (const key of ["channel_order", "scale"]) {
    requireImplemented(preprocessing[key], IMPLEMENTED[key], `metadata.preprocessing.${key}`);
  }
  return {
    imageSize: positiveInteger(preprocessing, "image_size", "metadata.preprocessing"),
    sourceLongSide: positiveInteger(preprocessing, "source_long_side", "metadata.preprocessing"),
    columns: outputColumns(metadata.output),
    confidence: readConfidence(metadata),
  };
}

/** One row of the model's output → our label, each value read from its named column. */
export function cropFromOutput(row, columns) {
  return makeCrop(row[columns.left], row[columns.top], row[columns.right], row[columns.bottom], row[columns.angle]);
}

/** One row of the model's output → {expected, unsure}: the expected IoU, and whether it is below the calibrated
 * threshold; null when the model gives no confidence. */
export function confidenceFromOutput(row, confidence) {
  if (confidence === null) return null;
  const expected = row[confidence.column];
  return { expected, unsure: expected < confidence.unsureBelow };
}
