"""Photos of a photographer who crops some kinds of photo and leaves the others alone: red photos are cropped to
KEPT_CROP, blue ones left uncropped (their label the full frame, as `extract --include-uncropped` writes it)."""

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from cropstyle.extractor.dataset import LABEL_COLUMNS, label_row
from cropstyle.extractor.geometry import Crop

KEPT_CROP = Crop(0.2, 0.1, 0.8, 0.9, 0.0)  # the red photos' crop; blue photos are left uncropped


def red_or_blue_dataset(directory: Path, count: int, seed: int) -> Path:
    """Photos that are red (cropped to KEPT_CROP) or blue (left uncropped: the full frame, as `extract
    --include-uncropped` writes it), with noise, in the extractor's format."""
    rng = np.random.default_rng(seed)
    (directory / "images").mkdir(parents=True)
    rows = []
    for index in range(count):
        red = index % 2 == 0
        colour = np.array([200, 40, 40] if red else [40, 40, 200], float)
        pixels = np.clip(colour + rng.normal(0, 20, (48, 64, 3)), 0, 255).astype(np.uint8)
        name = f"images/{seed}-{index}.jpg"
        Image.fromarray(pixels).save(directory / name, quality=90)
        rows.append(
            label_row(
                image=name,
                source=f"/photos/{seed}/{index}.jpg",
                origin="xmp-embedded",
                width=640,
                height=480,
                has_crop=red,
                crop=KEPT_CROP if red else Crop(0.0, 0.0, 1.0, 1.0, 0.0),
                orientation=1,
                fingerprint=str(index),
            )
        )
    pd.DataFrame(rows, columns=LABEL_COLUMNS).to_csv(directory / "labels.csv", index=False)
    return directory
