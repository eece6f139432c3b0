"""web/static/geometry.js (the browser's mirror of extractor/geometry.py) against vectors made here.

The vectors are computed by the Python geometry module; node's test runner checks the mirror on them.
The cropper.js v1 conversion is checked against an independent construction: turn the image and the
crop's corners about the image centre and measure the box from the turned image's bounding box.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cropstyle.extractor.geometry import (
    LABEL_VALUES,
    Crop,
    RotatedRect,
    aspect_alternatives,
    crop_corners,
    crop_problem,
    crop_to_rect,
    flip_horizontal,
    largest_with_aspect,
    rect_to_crop,
    to_displayed,
    to_stored,
)

PROJECT = Path(__file__).resolve().parents[1]
JS_TEST = PROJECT / "web" / "tests" / "geometry_vectors.mjs"


def _random_valid(rng: np.random.Generator) -> tuple[Crop, int, int]:
    width, height = int(rng.integers(16, 6000)), int(rng.integers(16, 6000))
    angle = float(rng.uniform(-45, 45)) if rng.random() > 0.15 else 0.0
    t = math.radians(abs(angle))
    w, h = rng.uniform(0.05, 1.0) * width, rng.uniform(0.05, 1.0) * height
    scale = min(1.0, width / (w * math.cos(t) + h * math.sin(t)), height / (w * math.sin(t) + h * math.cos(t)))
    w, h = w * scale, h * scale
    box_w, box_h = w * math.cos(t) + h * math.sin(t), w * math.sin(t) + h * math.cos(t)
    cx = box_w / 2 + rng.random() * (width - box_w)
    cy = box_h / 2 + rng.random() * (height - box_h)
    return rect_to_crop(RotatedRect(cx, cy, w, h, angle), width, height), width, height


def cropper_data(crop: Crop, width: float, height: float) -> dict:
    """What cropper.js v1's getData() reports for `crop`: the image turned by rotate = −angle (clockwise,
    about its centre) under an axis-aligned box; x, y from the turned image's bounding box, natural pixels."""
    rotate = -crop.angle
    t = math.radians(rotate)
    turn = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    centre = np.array([width / 2, height / 2])
    image = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=float)
    turned_image = (image - centre) @ turn.T + centre
    turned_crop = (crop_corners(crop, width, height) - centre) @ turn.T + centre
    origin = turned_image.min(axis=0)
    top_left, bottom_right = turned_crop.min(axis=0), turned_crop.max(axis=0)
    rect = crop_to_rect(crop, width, height)
    assert bottom_right - top_left == pytest.approx([rect.width, rect.height], rel=1e-9, abs=1e-6)  # axis-aligned
    return {
        "x": float(top_left[0] - origin[0]),
        "y": float(top_left[1] - origin[1]),
        "width": rect.width,
        "height": rect.height,
        "rotate": rotate + 0.0,
    }


def make_vectors(seed: int = 6) -> dict:
    rng = np.random.default_rng(seed)
    valid = [_random_valid(rng) for _ in range(200)]
    valid += [(Crop(0, 0, 1, 1, 0), 640, 480), (Crop(0.1, 0.2, 0.9, 0.7, 0), 1, 1)]
    vectors: dict[str, list] = {
        "rects": [],
        "corners": [],
        "orient": [],
        "flip": [],
        "aspect": [],
        "problems": [],
        "cropper": [],
        "label_values": list(LABEL_VALUES),
    }
    for crop, width, height in valid:
        rect = crop_to_rect(crop, width, height)
        vectors["rects"].append(
            {
                "crop": crop.values(),
                "width": width,
                "height": height,
                "rect": vars(rect),
                "back": rect_to_crop(rect, width, height).values(),
            }
        )
        vectors["corners"].append(
            {
                "crop": crop.values(),
                "width": width,
                "height": height,
                "corners": crop_corners(crop, width, height).tolist(),
            }
        )
        orientation = int(rng.integers(1, 9))
        vectors["orient"].append(
            {
                "crop": crop.values(),
                "width": width,
                "height": height,
                "orientation": orientation,
                "displayed": to_displayed(crop, width, height, orientation).values(),
                "stored": to_stored(crop, width, height, orientation).values(),
            }
        )
        vectors["flip"].append(
            {
                "crop": crop.values(),
                "width": width,
                "height": height,
                "flipped": flip_horizontal(crop, width, height).values(),
            }
        )
        for aspect in (1.0, 4 / 5, 16 / 9, 9 / 16, float(rng.uniform(0.2, 5))):
            vectors["aspect"].append(
                {
                    "crop": crop.values(),
                    "width": width,
                    "height": height,
                    "aspect": aspect,
                    "result": largest_with_aspect(crop, aspect, width, height).values(),
                    "alternatives": [
                        {"crop": alternative.values(), "overlap": overlap}
                        for alternative, overlap in aspect_alternatives(crop, aspect, width, height)
                    ],
                }
            )
        vectors["cropper"].append(
            {"crop": crop.values(), "width": width, "height": height, "data": cropper_data(crop, width, height)}
        )
    invalid = [
        Crop(0.1, 0.1, 0.9, 0.9, 46),
        Crop(0.1, 0.1, 0.9, 0.9, -45.5),
        Crop(0.9, 0.1, 0.1, 0.9, 0),
        Crop(0.1, 0.9, 0.9, 0.1, 0),
        Crop(0.5, 0.5, 0.5001, 0.9, 0),
        Crop(-0.1, 0, 1, 1, 0),
        Crop(0, 0, 1.01, 1, 0),
        Crop(0, 0, 1, 1, 10),
        Crop(0.0, 0.0, 1.0005, 1.0, 0),
    ]
    cases = [(c.values(), 1000, 800) for c in invalid] + [(c.values(), w, h) for c, w, h in valid[:60]]
    cases += [((0.1, float("nan"), 0.9, 0.9, 0), 100, 100), ((0.1, 0.1, float("inf"), 0.9, 0), 100, 100)]
    for values, width, height in cases:
        encoded = [
            "nan" if isinstance(v, float) and math.isnan(v) else "inf" if isinstance(v, float) and math.isinf(v) else v
            for v in values
        ]
        vectors["problems"].append(
            {"crop": encoded, "width": width, "height": height, "problem": crop_problem(Crop(*values), width, height)}
        )
    assert sum(p["problem"] is None for p in vectors["problems"]) >= 50  # both kinds are exercised
    assert sum(p["problem"] is not None for p in vectors["problems"]) >= 10
    return vectors


def test_cropper_reference_round_trip():
    """The Python construction of cropper's data is itself consistent: upright crops measure from the image."""
    data = cropper_data(Crop(0.25, 0.1, 0.75, 0.6, 0.0), 400, 200)
    assert data == pytest.approx({"x": 100, "y": 20, "width": 200, "height": 100, "rotate": 0})


def test_geometry_js_matches_python(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to test web/static/geometry.js (Debian package nodejs)")
    vectors = tmp_path / "vectors.json"
    vectors.write_text(json.dumps(make_vectors()))
    result = subprocess.run(
        [node, "--test", str(JS_TEST)],
        env={"GEOMETRY_VECTORS": str(vectors), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout and "# pass 7" in result.stdout, result.stdout
