"""A test photo whose colours say where each pixel is, so that any export of it (cropped, turned, flipped, by any
program) says which part of the photo it shows: red grows with x and green with y across the displayed photo, blue
holds shapes. Used to check editors' exports against cropstyle's own rendering (tests/test_darktable.py,
tests/test_rawtherapee.py, tests/test_apply_editors.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from shapely.geometry import Polygon

from cropstyle.extractor.pixels import STORED_TRANSPOSE


def coded_photo(folder: Path, orientation: int, width: int, height: int) -> Path:
    """A JPEG that *displays* as width×height with red = x and green = y (pixel centres, 0..255) and blue
    shapes, stored turned so that its EXIF `orientation` displays it upright."""
    y, x = np.mgrid[0:height, 0:width]
    shapes = Image.new("L", (width, height), 60)
    draw = ImageDraw.Draw(shapes)
    draw.rectangle((width * 0.1, height * 0.15, width * 0.3, height * 0.35), fill=230)
    draw.ellipse((width * 0.6, height * 0.55, width * 0.85, height * 0.9), fill=0)
    draw.polygon([(width * 0.45, height * 0.05), (width * 0.55, height * 0.4), (width * 0.35, height * 0.4)], fill=160)
    pixels = np.stack([(x + 0.5) * 256 / width - 0.5, (y + 0.5) * 256 / height - 0.5, np.asarray(shapes)], -1)
    image = Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8))
    if STORED_TRANSPOSE[orientation] is not None:  # the stored pixels: the displayed ones turned back
        image = image.transpose(STORED_TRANSPOSE[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"photo-{orientation}.jpg"
    image.save(path, quality=95, subsampling=0, exif=exif.tobytes())
    return path


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(float)


def shown_area(image: np.ndarray, width: int, height: int) -> Polygon:
    """The part of the width×height displayed photo an export shows: its corners (top-left, top-right,
    bottom-right, bottom-left of the export) through the affine fit of decoded (x, y)."""
    rows, cols = image.shape[:2]
    source_x = (image[..., 0] + 0.5) * width / 256
    source_y = (image[..., 1] + 0.5) * height / 256
    out_y, out_x = np.mgrid[0:rows, 0:cols] + 0.5
    inner = np.zeros((rows, cols), bool)
    inner[2:-2, 2:-2] = True  # JPEG edges and the border pixels' interpolation
    design = np.stack([out_x[inner], out_y[inner], np.ones(inner.sum())], 1)
    fit_x = np.linalg.lstsq(design, source_x[inner], rcond=None)[0]
    fit_y = np.linalg.lstsq(design, source_y[inner], rcond=None)[0]
    residual = np.hypot(design @ fit_x - source_x[inner], design @ fit_y - source_y[inner]).mean()
    level = max(width, height) / 256  # pixels per colour level: the code's own resolution
    assert residual < 0.5 + 1.5 * level, f"the export is not an affine view of the photo (residual {residual:.2f} px)"
    return Polygon([(fit_x @ (x, y, 1), fit_y @ (x, y, 1)) for x, y in ((0, 0), (cols, 0), (cols, rows), (0, rows))])


def pixel_iou(a: Polygon, b: Polygon) -> float:
    return a.intersection(b).area / a.union(b).area
