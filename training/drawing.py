"""Crops drawn on photos, for TensorBoard previews and the evaluation contact sheet."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from cropstyle.extractor.geometry import Crop, crop_corners

TRUE_COLOUR = (40, 220, 60)  # the photographer's crop
MODEL_COLOUR = (255, 60, 40)
BASELINE_COLOUR = (60, 140, 255)


def draw_crops(path: Path | str, crops: list[tuple[Crop, tuple[int, int, int]]], long_side: int = 256) -> Image.Image:
    """The photo at `path`, scaled to `long_side`, with each crop's rotated outline in its colour and a
    dot on its own top-left corner (so a turned or mirrored crop reads unambiguously)."""
    with Image.open(path) as image:
        image = image.convert("RGB")
    scale = long_side / max(image.size)
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    draw = ImageDraw.Draw(image)
    width = max(2, long_side // 128)
    for crop, colour in crops:
        corners = [tuple(point) for point in crop_corners(crop, image.width, image.height)]
        draw.line(corners + corners[:1], fill=colour, width=width)
        x, y = corners[0]
        draw.ellipse([x - 2 * width, y - 2 * width, x + 2 * width, y + 2 * width], fill=colour)
    return image
