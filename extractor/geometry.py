"""Crop geometry: the one place that knows what a crop label means.

A label is Lightroom's corner convention (see docs/crop-metadata.md): `left, top` is
the crop's own top-left corner and `right, bottom` its own bottom-right corner, as fractions of the
image's width and height, y down; `angle` (degrees) turns the crop box clockwise about its centre.
It is *not* a bounding box. Every stage (extractor, training, export, web) goes through this module;
the browser mirrors it in web/static/geometry.js, tested against vectors made here.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, fields

import numpy as np
from shapely.geometry import Polygon

MAX_ANGLE = 45.0
# Orientations 2, 4, 5, 7 mirror the image, so they negate the crop's angle.
MIRRORING_ORIENTATIONS = frozenset({2, 4, 5, 7})
# Each orientation's inverse: 6 (90° clockwise) and 8 (90° counter-clockwise) undo each other.
_INVERSE_ORIENTATION = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}
# Lightroom rounds crop values to 6 decimals; a corner this far (fraction of the image) outside still counts as inside.
INSIDE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Crop:
    """A crop label: Lightroom corners as fractions of one image frame, angle in degrees."""

    left: float
    top: float
    right: float
    bottom: float
    angle: float = 0.0

    def values(self) -> tuple[float, float, float, float, float]:
        return astuple(self)


# The label's five values in their one order: Crop's fields, the model's outputs, labels.csv's crop columns
# as read, the API's JSON keys (web/static/geometry.js mirrors it).
LABEL_VALUES: tuple[str, ...] = tuple(field.name for field in fields(Crop))
IDENTITY = Crop(0.0, 0.0, 1.0, 1.0, 0.0)


@dataclass(frozen=True)
class RotatedRect:
    """A crop in pixels: centre, its own width and height, angle in degrees (clockwise)."""

    cx: float
    cy: float
    width: float
    height: float
    angle: float


def _axes(angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Directions of the crop's top edge (u) and left edge (v) for `angle` degrees."""
    t = math.radians(angle)
    return np.array([math.cos(t), math.sin(t)]), np.array([-math.sin(t), math.cos(t)])


def crop_to_rect(crop: Crop, width: float, height: float) -> RotatedRect:
    """Label → rotated rectangle in pixels of a `width`×`height` frame (the reference's formula)."""
    tl = np.array([crop.left * width, crop.top * height])
    br = np.array([crop.right * width, crop.bottom * height])
    u, v = _axes(crop.angle)
    diagonal = br - tl
    centre = (tl + br) / 2
    return RotatedRect(float(centre[0]), float(centre[1]), float(diagonal @ u), float(diagonal @ v), crop.angle)


def rect_to_crop(rect: RotatedRect, width: float, height: float) -> Crop:
    """Rotated rectangle in pixels → label in fractions of a `width`×`height` frame."""
    u, v = _axes(rect.angle)
    centre = np.array([rect.cx, rect.cy])
    half = rect.width / 2 * u + rect.height / 2 * v
    tl, br = centre - half, centre + half
    return Crop(float(tl[0] / width), float(tl[1] / height), float(br[0] / width), float(br[1] / height), rect.angle)


def rect_corners(rect: RotatedRect) -> np.ndarray:
    """The crop's corners in pixels, as a 4×2 array: top-left, top-right, bottom-right, bottom-left."""
    u, v = _axes(rect.angle)
    centre = np.array([rect.cx, rect.cy])
    w, h = rect.width / 2 * u, rect.height / 2 * v
    return np.array([centre - w - h, centre + w - h, centre + w + h, centre - w + h])


def crop_corners(crop: Crop, width: float, height: float) -> np.ndarray:
    """The label's corners in pixels of a `width`×`height` frame (TL, TR, BR, BL)."""
    return rect_corners(crop_to_rect(crop, width, height))


def displayed_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """Size of a `width`×`height` stored image once EXIF `orientation` is applied (and back: it is symmetric)."""
    _check_orientation(orientation)
    return (height, width) if orientation >= 5 else (width, height)


# Each EXIF orientation as the 2×2 matrix it applies to coordinates about the image centre (x right, y down).
_ORIENTATION_MATRICES = {
    1: ((1, 0), (0, 1)),
    2: ((-1, 0), (0, 1)),
    3: ((-1, 0), (0, -1)),
    4: ((1, 0), (0, -1)),
    5: ((0, 1), (1, 0)),
    6: ((0, -1), (1, 0)),
    7: ((0, -1), (-1, 0)),
    8: ((0, 1), (-1, 0)),
}
_MATRIX_ORIENTATIONS = {matrix: code for code, matrix in _ORIENTATION_MATRICES.items()}


def inverse_orientation(orientation: int) -> int:
    """The orientation that undoes `orientation`."""
    _check_orientation(orientation)
    return _INVERSE_ORIENTATION[orientation]


def compose_orientations(*orientations: int) -> int:
    """The orientation that applies `orientations` in turn, first one first."""
    total = np.eye(2, dtype=int)
    for code in orientations:
        _check_orientation(code)
        total = np.array(_ORIENTATION_MATRICES[code]) @ total
    return _MATRIX_ORIENTATIONS[tuple(map(tuple, total.tolist()))]


def _check_orientation(orientation: int) -> None:
    if orientation not in _INVERSE_ORIENTATION:
        raise ValueError(f"EXIF orientation must be 1..8, not {orientation!r}")


def _orient_points(points: np.ndarray, width: float, height: float, orientation: int) -> np.ndarray:
    """Map pixel points of a `width`×`height` frame through EXIF `orientation` (as Pillow's exif_transpose)."""
    x, y = points[:, 0], points[:, 1]
    mapped = {
        1: (x, y),
        2: (width - x, y),  # mirror left-right
        3: (width - x, height - y),  # rotate 180°
        4: (x, height - y),  # mirror top-bottom
        5: (y, x),  # transpose
        6: (height - y, x),  # rotate 90° clockwise
        7: (height - y, width - x),  # transverse
        8: (y, width - x),  # rotate 90° counter-clockwise
    }[orientation]
    return np.stack(mapped, axis=1)


def _crop_from_corners(corners: np.ndarray, angle: float, width: float, height: float) -> Crop:
    """Re-express four crop corners (any order) as a label: the corner that is top-left of the crop's
    content for `angle` is the one furthest against its top and left edges."""
    u, v = _axes(angle)
    relative = corners - corners.mean(axis=0)
    along = relative @ u + relative @ v
    tl, br = corners[int(np.argmin(along))], corners[int(np.argmax(along))]
    return Crop(float(tl[0] / width), float(tl[1] / height), float(br[0] / width), float(br[1] / height), angle)


def _reorient(crop: Crop, width: int, height: int, orientation: int) -> Crop:
    corners = _orient_points(crop_corners(crop, width, height), width, height, orientation)
    angle = -crop.angle if orientation in MIRRORING_ORIENTATIONS else crop.angle
    out_width, out_height = displayed_size(width, height, orientation)
    return _crop_from_corners(corners, angle, out_width, out_height)


def to_displayed(crop: Crop, width: int, height: int, orientation: int) -> Crop:
    """A label in the stored frame of a `width`×`height` image → the same crop in its displayed frame."""
    _check_orientation(orientation)
    return _reorient(crop, width, height, orientation)


def to_stored(crop: Crop, width: int, height: int, orientation: int) -> Crop:
    """A label in the displayed frame (`width`×`height` as displayed) → the stored frame: the exact inverse."""
    _check_orientation(orientation)
    return _reorient(crop, width, height, _INVERSE_ORIENTATION[orientation])


def flip_horizontal(crop: Crop, width: int, height: int) -> Crop:
    """The label of the same photo mirrored left-right (the angle is negated)."""
    return _reorient(crop, width, height, 2)


def crop_polygon(crop: Crop, width: float, height: float) -> Polygon:
    return Polygon(crop_corners(crop, width, height))


def iou(a: Crop, b: Crop, width: float, height: float) -> float:
    """Intersection over union of two crops of the same `width`×`height` image, in pixels (exact polygons)."""
    pa, pb = crop_polygon(a, width, height), crop_polygon(b, width, height)
    if not (pa.is_valid and pb.is_valid):
        return 0.0
    union = pa.union(pb).area
    return float(pa.intersection(pb).area / union) if union > 0 else 0.0


def largest_with_aspect(crop: Crop, aspect: float, width: float, height: float) -> Crop:
    """The largest crop of pixel aspect ratio `aspect` (width / height) inside `crop`, same centre and angle."""
    _check_aspect(aspect)
    rect = crop_to_rect(crop, width, height)
    new_width = min(rect.width, rect.height * aspect)
    inner = RotatedRect(rect.cx, rect.cy, new_width, new_width / aspect, rect.angle)
    return rect_to_crop(inner, width, height)


def fit_in_frame(rect: RotatedRect, width: float, height: float) -> RotatedRect:
    """`rect` moved the least into a `width`×`height` frame, shrunk about its centre (ratio kept) first if it cannot
    fit at its angle: its bounding box inside the frame (as the model's head bounds its crops)."""
    cos, sin = abs(math.cos(math.radians(rect.angle))), abs(math.sin(math.radians(rect.angle)))
    box_w, box_h = rect.width * cos + rect.height * sin, rect.width * sin + rect.height * cos
    scale = min(1.0, width / box_w, height / box_h)
    box_w, box_h = box_w * scale, box_h * scale
    cx = min(max(rect.cx, box_w / 2), width - box_w / 2)
    cy = min(max(rect.cy, box_h / 2), height - box_h / 2)
    return RotatedRect(cx, cy, rect.width * scale, rect.height * scale, rect.angle)


def with_aspect(crop: Crop, aspect: float, width: float, height: float) -> Crop:
    """The crop of pixel aspect ratio `aspect` with `crop`'s centre, angle and area, moved (or shrunk) into the frame:
    the same framing at another ratio."""
    _check_aspect(aspect)
    rect = crop_to_rect(crop, width, height)
    area = rect.width * rect.height
    same = RotatedRect(rect.cx, rect.cy, math.sqrt(area * aspect), math.sqrt(area / aspect), rect.angle)
    return rect_to_crop(fit_in_frame(same, width, height), width, height)


def covering_with_aspect(crop: Crop, aspect: float, width: float, height: float) -> Crop:
    """The smallest crop of pixel aspect ratio `aspect` that holds `crop` (same centre and angle), moved (or shrunk)
    into the frame."""
    _check_aspect(aspect)
    rect = crop_to_rect(crop, width, height)
    new_width = max(rect.width, rect.height * aspect)
    outer = RotatedRect(rect.cx, rect.cy, new_width, new_width / aspect, rect.angle)
    return rect_to_crop(fit_in_frame(outer, width, height), width, height)


def same_angle_iou(a: Crop, b: Crop, width: float, height: float) -> float:
    """IoU of two crops turned by the same angle (exact: in their own axes both are upright boxes)."""
    ra, rb = crop_to_rect(a, width, height), crop_to_rect(b, width, height)
    if abs(ra.angle - rb.angle) > 1e-9:
        raise ValueError(f"the crops are turned by different angles ({ra.angle:g}°, {rb.angle:g}°)")
    u, v = _axes(ra.angle)
    offset = np.array([rb.cx - ra.cx, rb.cy - ra.cy])
    du, dv = float(offset @ u), float(offset @ v)
    across = max(0.0, min(ra.width / 2, du + rb.width / 2) - max(-ra.width / 2, du - rb.width / 2))
    down = max(0.0, min(ra.height / 2, dv + rb.height / 2) - max(-ra.height / 2, dv - rb.height / 2))
    inter = across * down
    union = ra.width * ra.height + rb.width * rb.height - inter
    return inter / union if union > 0 else 0.0


DISTINCT_IOU = 0.95  # alternatives that overlap an earlier one more than this are the same suggestion


def aspect_alternatives(crop: Crop, aspect: float, width: float, height: float) -> list[tuple[Crop, float]]:
    """Up to three distinct crops of pixel aspect ratio `aspect` for a suggested `crop`, best first, each with its
    overlap (same_angle_iou) with the first: the same framing at that ratio (with_aspect), the largest inside the
    suggestion (largest_with_aspect), the smallest holding it (covering_with_aspect). The first keeps the
    suggestion's centre and area, what the photographer's own crop fitted to that ratio keeps; the others are
    ranked by how much of it they share."""
    first = with_aspect(crop, aspect, width, height)
    others = [largest_with_aspect(crop, aspect, width, height), covering_with_aspect(crop, aspect, width, height)]
    # Ties (the inner and the outer crop often overlap the first alike) keep that order, to 1e-9, as in the browser.
    ranked = [(first, 1.0)] + sorted(
        ((other, same_angle_iou(first, other, width, height)) for other in others),
        key=lambda pair: -round(pair[1], 9),
    )
    distinct: list[tuple[Crop, float]] = []
    for candidate, overlap in ranked:
        if all(same_angle_iou(candidate, kept, width, height) <= DISTINCT_IOU for kept, _ in distinct):
            distinct.append((candidate, overlap))
    return distinct


def _check_aspect(aspect: float) -> None:
    if not (aspect > 0 and math.isfinite(aspect)):
        raise ValueError(f"aspect ratio must be a positive number, not {aspect!r}")


def crop_problem(crop: Crop, width: float, height: float) -> str | None:
    """Why `crop` is not a valid crop of a `width`×`height` image, or None when it is."""
    if not all(math.isfinite(value) for value in crop.values()):
        return "crop values are not finite numbers"
    if abs(crop.angle) > MAX_ANGLE:
        return f"crop angle {crop.angle:g}° is beyond ±{MAX_ANGLE:g}°"
    rect = crop_to_rect(crop, width, height)
    if rect.width < 0 or rect.height < 0:
        return "crop is inverted (its corners are swapped)"
    if rect.width < 1 or rect.height < 1:
        return "crop is degenerate (less than a pixel wide or high)"
    corners = rect_corners(rect) / np.array([width, height])
    if corners.min() < -INSIDE_TOLERANCE or corners.max() > 1 + INSIDE_TOLERANCE:
        return "crop reaches outside the image"
    return None
