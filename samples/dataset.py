"""A small synthetic dataset in the extractor's format (images/ + labels.csv), for tests and the benchmark.

Each photo is a noisy gradient with one bright subject; its crop puts the subject on a third of the frame,
so a model can learn it. This is not the sample library (samples/library.py makes real photo
files with XMP crops for the extractor); it writes the extractor's output directly.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from cropstyle.extractor.dataset import LABEL_COLUMNS, label_row
from cropstyle.extractor.geometry import Crop, RotatedRect, crop_problem, rect_corners, rect_to_crop


def _photo(rng: np.random.Generator, width: int, height: int) -> tuple[Image.Image, Crop]:
    base = rng.uniform(40, 200, 3)
    ramp = np.linspace(-30, 30, width)[None, :, None] * rng.choice([-1, 1])
    pixels = np.clip(base + ramp + rng.normal(0, 8, (height, width, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    sx, sy = rng.uniform(0.25, 0.75) * width, rng.uniform(0.25, 0.75) * height
    radius = rng.uniform(0.06, 0.12) * min(width, height)
    ImageDraw.Draw(image).ellipse(
        [sx - radius, sy - radius, sx + radius, sy + radius], fill=tuple(int(v) for v in rng.uniform(200, 255, 3))
    )
    # The style: a crop 70 % of the frame, the subject on its nearer third, slightly turned.
    angle = float(rng.normal(0, 3))
    w, h = 0.7 * width, 0.7 * height
    cx = sx + (w / 6 if sx < width / 2 else -w / 6)
    cy = sy + (h / 6 if sy < height / 2 else -h / 6)
    bw, bh = np.ptp(rect_corners(RotatedRect(0, 0, w, h, angle)), axis=0)  # the turned crop's bounding box
    cx, cy = min(max(cx, bw / 2), width - bw / 2), min(max(cy, bh / 2), height - bh / 2)
    return image, rect_to_crop(RotatedRect(cx, cy, w, h, angle), width, height)


def write_dataset(directory: Path, count: int, seed: int = 0, long_side: int = 160) -> Path:
    """`count` photos (mixed landscape and portrait) in DATASET `directory`; returns it."""
    directory = Path(directory)
    (directory / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(count):
        short = int(long_side * rng.choice([0.5625, 0.6667, 0.75, 1.0]))
        width, height = (long_side, short) if rng.random() < 0.7 else (short, long_side)
        image, crop = _photo(rng, width, height)
        assert crop_problem(crop, width, height) is None
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        name = f"images/{hashlib.sha256(buffer.getvalue()).hexdigest()[:16]}.jpg"
        (directory / name).write_bytes(buffer.getvalue())
        rows.append(
            label_row(
                image=name,
                source=f"/photos/{seed}/{index:04d}.jpg",
                origin="xmp-embedded",
                width=width * 10,
                height=height * 10,
                has_crop=True,
                crop=crop,
                orientation=1,
                fingerprint=f"{index}",
            )
        )
    pd.DataFrame(rows, columns=LABEL_COLUMNS).to_csv(directory / "labels.csv", index=False)
    return directory
