"""The non-learned croppers the model must beat (`cropstyle evaluate`), and one reference.

full      no crop: the whole frame.
mean      the mean training crop (RUN/baselines.json, written at training time).
random    a training crop drawn at random (fixed seed), redrawn up to 10 times until it fits the photo.
saliency  libvips smartcrop, `attention` strategy (pyvips): an upright crop placed where libvips finds the
          photo interesting, of the size and aspect ratio of the mean training crop (in this photo's frame):
          what a saliency cropper does when told the photographer's usual crop.

Reference (not a baseline): saliency_true_size, the same smartcrop at the size and aspect ratio of the
photographer's own crop of this photo (shrunk to fit if the turned crop is wider or higher than the photo).
No cropper knows that size before the photographer crops, and on real photos the size alone is worth more
than where the crop goes, so this is an upper bound for saliency placement, reported beside the baselines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cropstyle.extractor.geometry import IDENTITY, Crop, crop_problem, crop_to_rect

BASELINES = ("full", "mean", "random", "saliency")
REFERENCES = ("saliency_true_size",)
RANDOM_SEED = 0


def full(n: int) -> list[Crop]:
    return [IDENTITY] * n


def mean(n: int, mean_crop: list[float]) -> list[Crop]:
    return [Crop(*map(float, mean_crop))] * n


def random(sizes: list[tuple[float, float]], train_crops: list[list[float]], seed: int = RANDOM_SEED) -> list[Crop]:
    rng = np.random.default_rng(seed)
    crops = []
    for width, height in sizes:
        for _ in range(10):
            crop = Crop(*map(float, train_crops[rng.integers(len(train_crops))]))
            if crop_problem(crop, width, height) is None:
                break
        crops.append(crop)
    return crops


def smartcrop_box(image_path: Path | str, crop_width: float, crop_height: float) -> tuple[int, int, int, int, int, int]:
    """(left, top, width, height, image width, image height) in pixels of the image file: where libvips'
    attention smartcrop puts a crop_width×crop_height window (shrunk to fit, aspect kept)."""
    import pyvips

    image = pyvips.Image.new_from_file(str(image_path))
    scale = min(1.0, image.width / crop_width, image.height / crop_height)
    width = max(1, min(image.width, int(round(crop_width * scale))))
    height = max(1, min(image.height, int(round(crop_height * scale))))
    _, found = image.smartcrop(width, height, interesting="attention", attention_x=True, attention_y=True)
    # libvips centres the window on the attention point and clips it to the image (smartcrop.c); it does
    # not return the window's position, and this gives the same pixels (tests/test_evaluate.py checks).
    left = min(max(0, found["attention_x"] - width // 2), image.width - width)
    top = min(max(0, found["attention_y"] - height // 2), image.height - height)
    return left, top, width, height, image.width, image.height


def saliency(image_path: Path | str, size_of: Crop, width: float, height: float) -> Crop:
    """The smartcrop of the photo at the size and aspect ratio of `size_of`, a crop of its width×height frame
    (the mean training crop for the `saliency` baseline, the true crop for the `saliency_true_size` reference)."""
    rect = crop_to_rect(size_of, width, height)
    with_image = _image_size(image_path)
    scale = with_image[0] / width  # the dataset image is the displayed photo scaled down
    left, top, w, h, iw, ih = smartcrop_box(image_path, rect.width * scale, rect.height * scale)
    return Crop(left / iw, top / ih, (left + w) / iw, (top + h) / ih, 0.0)


def _image_size(image_path: Path | str) -> tuple[int, int]:
    from PIL import Image

    with Image.open(image_path) as image:
        return image.size
