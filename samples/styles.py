"""Photographers' crop styles: where each puts its crop, and the scene it composes for it.

The sample library's photographer (`compose`): straighten the horizon, crop landscape photos 16:9 and
portrait photos 4:5, put the subject on a third of the crop and the horizon on one of its third lines.
"""
from __future__ import annotations

import math

import numpy as np

from cropstyle.extractor.geometry import Crop, RotatedRect, crop_problem, rect_corners, rect_to_crop
from cropstyle.samples.scenes import PALETTES, SUBJECT_COLOURS, Scene

def style_crop(rng: np.random.Generator, width: int, height: int, tilt: float) -> tuple[Crop, RotatedRect]:
    """The crop this photographer gives a `width`×`height` (displayed) photo taken `tilt` degrees off level."""
    aspect = 16 / 9 if width >= height else 4 / 5
    t = math.radians(abs(tilt))
    # The largest rectangle of that aspect, turned by the tilt, that fits the frame: its bounding box
    # (w cos t + h sin t) × (w sin t + h cos t) must not exceed the frame.
    full_h = min(width / (aspect * math.cos(t) + math.sin(t)), height / (aspect * math.sin(t) + math.cos(t)))
    scale = rng.uniform(0.84, 0.98)
    while True:
        h = full_h * scale
        w = h * aspect
        box_w, box_h = np.ptp(rect_corners(RotatedRect(0, 0, w, h, tilt)), axis=0)
        cx = box_w / 2 + rng.uniform(0, 1) * (width - box_w)
        cy = box_h / 2 + rng.uniform(0, 1) * (height - box_h)
        rect = RotatedRect(cx, cy, w, h, tilt)
        crop = rect_to_crop(rect, width, height)
        if crop_problem(crop, width, height) is None:
            return crop, rect
        scale *= 0.98  # numerically at the edge: a little smaller always fits


def _point_in_rect(rect: RotatedRect, fx: float, fy: float) -> tuple[float, float]:
    """Pixel position of the point (fx, fy) given in fractions of the crop's own width and height."""
    tl, tr, _, bl = rect_corners(rect)
    x, y = tl + fx * (tr - tl) + fy * (bl - tl)
    return float(x), float(y)


def compose(rng: np.random.Generator, width: int, height: int) -> tuple[Scene, Crop]:
    """A scene composed for the style, and its crop (displayed frame, fractions)."""
    tilt = 0.0 if rng.uniform() < 0.15 else float(np.round(rng.uniform(-4.0, 4.0), 2))
    crop, rect = style_crop(rng, width, height, tilt)
    horizon_third = rng.choice((1 / 3, 2 / 3))
    subject_third = (rng.choice((1 / 3, 2 / 3)), rng.choice((1 / 3, 2 / 3)))
    hx, hy = _point_in_rect(rect, 0.5, horizon_third)
    sx, sy = _point_in_rect(rect, *subject_third)
    in_sky = subject_third[1] < horizon_third
    subject_kind = rng.choice(("sun", "balloon")) if in_sky else "figure"
    palette = tuple(
        tuple(int(np.clip(c + rng.integers(-15, 16), 0, 255)) for c in colour)
        for colour in PALETTES[rng.integers(len(PALETTES))]
    )
    clouds = tuple(
        (float(rng.uniform(-1.2, 1.2)), float(rng.uniform(0.1, 0.6)), float(rng.uniform(0.1, 0.35)),
         float(rng.uniform(0.03, 0.08)))
        for _ in range(rng.integers(0, 6))
    )
    ridge = (float(rng.uniform(0.0, 0.12)), float(rng.uniform(2, 7)), float(rng.uniform(8, 19)),
             float(rng.uniform(0, 6.3)), float(rng.uniform(0, 6.3)))
    scene = Scene(
        aspect=width / height, tilt=tilt, horizon=(hx / width, hy / height), subject=(sx / width, sy / height),
        subject_kind=str(subject_kind), subject_size=float(rng.uniform(0.12, 0.22) * (1.6 if not in_sky else 1.0)),
        subject_colour=SUBJECT_COLOURS[rng.integers(len(SUBJECT_COLOURS))], palette=palette, ridge=ridge,
        clouds=clouds, texture_seed=int(rng.integers(2**31)),
    )
    return scene, crop
