// The browser's one mirror of extractor/geometry.py (the crop geometry), plus the conversion between
// our label and cropper.js v1's data. Tested against vectors made by the Python module
// (tests/test_web_geometry.py runs web/tests/geometry_vectors.mjs with node's test runner); the page's own
// operations (withAngle, straighteningTransform) by web/tests/geometry_adjustments.test.mjs (npm test).
//
// A label {left, top, right, bottom, angle} is Lightroom's corner convention in one image frame:
// (left·W, top·H) is the crop's own top-left corner, (right·W, bottom·H) its own bottom-right corner,
// y down; the crop is the rectangle through them turned by `angle` degrees clockwise about their midpoint.
// It is not a bounding box.

export const MAX_ANGLE = 45.0;
export const INSIDE_TOLERANCE = 1e-3;
export const MIRRORING_ORIENTATIONS = new Set([2, 4, 5, 7]);
const INVERSE_ORIENTATION = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6 };
export const LABEL_VALUES = ["left", "top", "right", "bottom", "angle"];

export function makeCrop(left, top, right, bottom, angle = 0) {
  return { left, top, right, bottom, angle };
}

export const IDENTITY = Object.freeze(makeCrop(0, 0, 1, 1, 0));

function axes(angle) {
  const t = (angle * Math.PI) / 180;
  return [
    [Math.cos(t), Math.sin(t)],
    [-Math.sin(t), Math.cos(t)],
  ];
}

const dot = (a, b) => a[0] * b[0] + a[1] * b[1];

/** Label → rotated rectangle in pixels of a width×height frame: {cx, cy, width, height, angle}. */
export function cropToRect(crop, width, height) {
  const tl = [crop.left * width, crop.top * height];
  const br = [crop.right * width, crop.bottom * height];
  const [u, v] = axes(crop.angle);
  const diagonal = [br[0] - tl[0], br[1] - tl[1]];
  return {
    cx: (tl[0] + br[0]) / 2,
    cy: (tl[1] + br[1]) / 2,
    width: dot(diagonal, u),
    height: dot(diagonal, v),
    angle: crop.angle,
  };
}

/** Rotated rectangle in pixels → label in fractions of a width×height frame. */
export function rectToCrop(rect, width, height) {
  const [u, v] = axes(rect.angle);
  const half = [(rect.width / 2) * u[0] + (rect.height / 2) * v[0], (rect.width / 2) * u[1] + (rect.height / 2) * v[1]];
  return makeCrop(
    (rect.cx - half[0]) / width,
    (rect.cy - half[1]) / height,
    (rect.cx + half[0]) / width,
    (rect.cy + half[1]) / height,
    rect.angle,
  );
}

/** The rectangle's corners in pixels: [TL, TR, BR, BL], each [x, y]. */
export function rectCorners(rect) {
  const [u, v] = axes(rect.angle);
  const w = [(rect.width / 2) * u[0], (rect.width / 2) * u[1]];
  const h = [(rect.height / 2) * v[0], (rect.height / 2) * v[1]];
  const c = [rect.cx, rect.cy];
  return [
    [c[0] - w[0] - h[0], c[1] - w[1] - h[1]],
    [c[0] + w[0] - h[0], c[1] + w[1] - h[1]],
    [c[0] + w[0] + h[0], c[1] + w[1] + h[1]],
    [c[0] - w[0] + h[0], c[1] - w[1] + h[1]],
  ];
}

export function cropCorners(crop, width, height) {
  return rectCorners(cropToRect(crop, width, height));
}

export function displayedSize(width, height, orientation) {
  checkOrientation(orientation);
  return orientation >= 5 ? [height, width] : [width, height];
}

function checkOrientation(orientation) {
  if (!(orientation in INVERSE_ORIENTATION)) throw new Error(`EXIF orientation must be 1..8, not ${orientation}`);
}

function orientPoint([x, y], width, height, orientation) {
  switch (orientation) {
    case 1:
      return [x, y];
    case 2:
      return [width - x, y];
    case 3:
      return [width - x, height - y];
    case 4:
      return [x, height - y];
    case 5:
      return [y, x];
    case 6:
      return [height - y, x];
    case 7:
      return [height - y, width - x];
    case 8:
      return [y, width - x];
    default:
      throw new Error(`EXIF orientation must be 1..8, not ${orientation}`);
  }
}

function cropFromCorners(corners, angle, width, height) {
  const [u, v] = axes(angle);
  const mean = [0, 1].map((i) => corners.reduce((s, p) => s + p[i], 0) / corners.length);
  let lo = 0;
  let hi = 0;
  const along = corners.map((p) => {
    const r = [p[0] - mean[0], p[1] - mean[1]];
    return dot(r, u) + dot(r, v);
  });
  along.forEach((a, i) => {
    // first minimum / maximum, as numpy's argmin / argmax
    if (a < along[lo]) lo = i;
    if (a > along[hi]) hi = i;
  });
  const tl = corners[lo];
  const br = corners[hi];
  return makeCrop(tl[0] / width, tl[1] / height, br[0] / width, br[1] / height, angle);
}

function reorient(crop, width, height, orientation) {
  const corners = cropCorners(crop, width, height).map((p) => orientPoint(p, width, height, orientation));
  const angle = MIRRORING_ORIENTATIONS.has(orientation) ? -crop.angle : crop.angle;
  const [outWidth, outHeight] = displayedSize(width, height, orientation);
  return cropFromCorners(corners, angle, outWidth, outHeight);
}

export function toDisplayed(crop, width, height, orientation) {
  checkOrientation(orientation);
  return reorient(crop, width, height, orientation);
}

export function toStored(crop, width, height, orientation) {
  checkOrientation(orientation);
  return reorient(crop, width, height, INVERSE_ORIENTATION[orientation]);
}

export function flipHorizontal(crop, width, height) {
  return reorient(crop, width, height, 2);
}

/** The largest crop of pixel aspect ratio `aspect` (width / height) inside `crop`, same centre and angle. */
export function largestWithAspect(crop, aspect, width, height) {
  if (!(aspect > 0 && Number.isFinite(aspect))) {
    throw new Error(`aspect ratio must be a positive number, not ${aspect}`);
  }
  const rect = cropToRect(crop, width, height);
  const newWidth = Math.min(rect.width, rect.height * aspect);
  return rectToCrop({ ...rect, width: newWidth, height: newWidth / aspect }, width, height);
}

/** `rect` moved the least into a width×height frame, shrunk about its centre (ratio kept) first if it cannot fit at
 * its angle: its bounding box inside the frame (geometry.fit_in_frame). */
export function fitInFrame(rect, width, height) {
  const t = (rect.angle * Math.PI) / 180;
  const cos = Math.abs(Math.cos(t));
  const sin = Math.abs(Math.sin(t));
  let boxW = rect.width * cos + rect.height * sin;
  let boxH = rect.width * sin + rect.height * cos;
  const scale = Math.min(1, width / boxW, height / boxH);
  boxW *= scale;
  boxH *= scale;
  return {
    cx: Math.min(Math.max(rect.cx, boxW / 2), width - boxW / 2),
    cy: Math.min(Math.max(rect.cy, boxH / 2), height - boxH / 2),
    width: rect.width * scale,
    height: rect.height * scale,
    angle: rect.angle,
  };
}

function checkAspect(aspect) {
  if (!(aspect > 0 && Number.isFinite(aspect)))
    throw new Error(`aspect ratio must be a positive number, not ${aspect}`);
}

/** The crop of ratio `aspect` with the crop's centre, angle and area, moved (or shrunk) into the frame. */
export function withAspect(crop, aspect, width, height) {
  checkAspect(aspect);
  const rect = cropToRect(crop, width, height);
  const area = rect.width * rect.height;
  const same = { ...rect, width: Math.sqrt(area * aspect), height: Math.sqrt(area / aspect) };
  return rectToCrop(fitInFrame(same, width, height), width, height);
}

/** The smallest crop of ratio `aspect` holding the crop (same centre and angle), moved (or shrunk) into the frame. */
export function coveringWithAspect(crop, aspect, width, height) {
  checkAspect(aspect);
  const rect = cropToRect(crop, width, height);
  const newWidth = Math.max(rect.width, rect.height * aspect);
  return rectToCrop(fitInFrame({ ...rect, width: newWidth, height: newWidth / aspect }, width, height), width, height);
}

/** IoU of two crops turned by the same angle (in their own axes both are upright boxes). */
export function sameAngleIou(a, b, width, height) {
  const ra = cropToRect(a, width, height);
  const rb = cropToRect(b, width, height);
  if (Math.abs(ra.angle - rb.angle) > 1e-9) throw new Error("the crops are turned by different angles");
  const [u, v] = axes(ra.angle);
  const dx = rb.cx - ra.cx;
  const dy = rb.cy - ra.cy;
  const du = dx * u[0] + dy * u[1];
  const dv = dx * v[0] + dy * v[1];
  const across = Math.max(0, Math.min(ra.width / 2, du + rb.width / 2) - Math.max(-ra.width / 2, du - rb.width / 2));
  const down = Math.max(0, Math.min(ra.height / 2, dv + rb.height / 2) - Math.max(-ra.height / 2, dv - rb.height / 2));
  const inter = across * down;
  const union = ra.width * ra.height + rb.width * rb.height - inter;
  return union > 0 ? inter / union : 0;
}

export const DISTINCT_IOU = 0.95;

/** Up to three distinct crops of ratio `aspect` for a suggestion, best first, each {crop, overlap} with the first
 * (geometry.aspect_alternatives): the same framing at that ratio, the largest inside it, the smallest holding it. */
export function aspectAlternatives(crop, aspect, width, height) {
  const first = withAspect(crop, aspect, width, height);
  const others = [largestWithAspect(crop, aspect, width, height), coveringWithAspect(crop, aspect, width, height)]
    .map((other) => ({ crop: other, overlap: sameAngleIou(first, other, width, height) }))
    // Ties (the inner and the outer crop often overlap the first alike) keep that order, to 1e-9, as in Python.
    .sort((a, b) => Math.round(b.overlap * 1e9) - Math.round(a.overlap * 1e9));
  const distinct = [];
  for (const candidate of [{ crop: first, overlap: 1 }, ...others]) {
    if (distinct.every((kept) => sameAngleIou(candidate.crop, kept.crop, width, height) <= DISTINCT_IOU)) {
      distinct.push(candidate);
    }
  }
  return distinct;
}

/** Why `crop` is not a valid crop of a width×height image, or null when it is. */
export function cropProblem(crop, width, height) {
  const values = LABEL_VALUES.map((k) => crop[k]);
  if (!values.every((x) => typeof x === "number" && Number.isFinite(x))) return "crop values are not finite numbers";
  if (Math.abs(crop.angle) > MAX_ANGLE) return `crop angle ${crop.angle}° is beyond ±${MAX_ANGLE}°`;
  const rect = cropToRect(crop, width, height);
  if (rect.width < 0 || rect.height < 0) return "crop is inverted (its corners are swapped)";
  if (rect.width < 1 || rect.height < 1) return "crop is degenerate (less than a pixel wide or high)";
  let min = Infinity;
  let max = -Infinity;
  for (const [x, y] of rectCorners(rect)) {
    for (const f of [x / width, y / height]) {
      min = Math.min(min, f);
      max = Math.max(max, f);
    }
  }
  if (min < -INSIDE_TOLERANCE || max > 1 + INSIDE_TOLERANCE) return "crop reaches outside the image";
  return null;
}

// ---- the page's adjustments ------------------------------------------------------------------

/** `crop` turned to `angle` about its centre on a width×height image, shrunk (then moved towards the middle) until it
 * fits; unchanged but for the angle when no crop of 16 px or more fits. */
export function withAngle(crop, angle, width, height) {
  const rect = { ...cropToRect(crop, width, height), angle };
  const fits = (r) => cropProblem(rectToCrop(r, width, height), width, height) === null;
  if (fits(rect)) return rectToCrop(rect, width, height);
  for (const pull of [0, 0.25, 0.5, 0.75, 1]) {
    const centred = {
      ...rect,
      cx: rect.cx + (width / 2 - rect.cx) * pull,
      cy: rect.cy + (height / 2 - rect.cy) * pull,
    };
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 40; i += 1) {
      const mid = (lo + hi) / 2;
      if (fits({ ...centred, width: rect.width * mid, height: rect.height * mid })) lo = mid;
      else hi = mid;
    }
    const fitted = { ...centred, width: rect.width * lo, height: rect.height * lo };
    if (fitted.width >= 16 && fitted.height >= 16 && fits(fitted)) return rectToCrop(fitted, width, height);
  }
  return rectToCrop(rect, width, height);
}

/** The crop of a width×height photo cut out and straightened, as `cropstyle predict --write-cropped` writes it: the
 * output's size (round(width) × round(height) of the turned crop, at least 1) and the map photo → output as canvas
 * setTransform's [a, b, c, d, e, f] (x' = a·x + c·y + e, y' = b·x + d·y + f). Output pixel (x, y) shows the photo at
 * TL + x·u + y·v (TL the crop's own top-left corner, u, v its top and left edges' directions), so the map is
 * p → (u·(p − TL), v·(p − TL)). */
export function straighteningTransform(crop, width, height) {
  const rect = cropToRect(crop, width, height);
  const outWidth = Math.max(1, Math.round(rect.width));
  const outHeight = Math.max(1, Math.round(rect.height));
  const [u, v] = axes(crop.angle);
  const [tl] = rectCorners({ cx: rect.cx, cy: rect.cy, width: outWidth, height: outHeight, angle: crop.angle });
  return { width: outWidth, height: outHeight, matrix: [u[0], v[0], u[1], v[1], -dot(u, tl), -dot(v, tl)] };
}

// ---- cropper.js v1 ----------------------------------------------------------------------------
// Cropper v1 keeps its crop box axis-aligned and turns the IMAGE by `rotate` degrees (CSS: clockwise)
// about the image's centre. Its canvas is the turned image's bounding box, centred on the image's
// centre, and getData()/setData() give the box's top-left (x, y) and size in natural pixels measured
// from that bounding box's top-left. Our crop turned by +θ on the image is the image turned by −θ
// under an axis-aligned box, so rotate = −θ and the box is the crop's own width × height.

/** Size of the bounding box of a width×height image turned by `degrees` (cropper's getRotatedSizes). */
export function rotatedBounds(width, height, degrees) {
  const d = Math.abs(degrees) % 180;
  if (d === 90) return [height, width];
  const arc = ((d % 90) * Math.PI) / 180;
  const s = Math.sin(arc);
  const c = Math.cos(arc);
  const w = width * c + height * s;
  const h = width * s + height * c;
  return d > 90 ? [h, w] : [w, h];
}

/** Our label on a width×height (natural pixels, displayed frame) image → cropper v1 setData() data. */
export function cropToCropper(crop, width, height) {
  const rect = cropToRect(crop, width, height);
  const rotate = rect.angle === 0 ? 0 : -rect.angle; // never -0: cropper compares rotate values
  const [boundsWidth, boundsHeight] = rotatedBounds(width, height, rotate);
  // The crop's centre relative to the image centre, turned with the image by `rotate` (clockwise).
  const t = (rotate * Math.PI) / 180;
  const dx = rect.cx - width / 2;
  const dy = rect.cy - height / 2;
  const rx = dx * Math.cos(t) - dy * Math.sin(t);
  const ry = dx * Math.sin(t) + dy * Math.cos(t);
  return {
    x: boundsWidth / 2 + rx - rect.width / 2,
    y: boundsHeight / 2 + ry - rect.height / 2,
    width: rect.width,
    height: rect.height,
    rotate,
  };
}

/** cropper v1 getData() (natural pixels, no scaling) on a width×height image → our label. */
export function cropperToCrop(data, width, height) {
  const rotate = data.rotate || 0;
  const [boundsWidth, boundsHeight] = rotatedBounds(width, height, rotate);
  const rx = data.x + data.width / 2 - boundsWidth / 2;
  const ry = data.y + data.height / 2 - boundsHeight / 2;
  const t = (-rotate * Math.PI) / 180; // turn the centre back into the image's frame
  const dx = rx * Math.cos(t) - ry * Math.sin(t);
  const dy = rx * Math.sin(t) + ry * Math.cos(t);
  const angle = rotate === 0 ? 0 : -rotate;
  return rectToCrop(
    { cx: width / 2 + dx, cy: height / 2 + dy, width: data.width, height: data.height, angle },
    width,
    height,
  );
}

/** The label as plain numbers (a fresh object with exactly LABEL_VALUES), for JSON. */
export function labelObject(crop) {
  return Object.fromEntries(LABEL_VALUES.map((k) => [k, crop[k]]));
}
