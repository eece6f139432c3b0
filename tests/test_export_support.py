"""Shared by tests/test_export.py, test_predict.py and test_apply.py: ONE tiny trained RUN and its exported
WEBMODELs for the whole pytest session (training and exporting are the slow parts), and photo makers.

The fixtures here are plain functions cached for the session; each test module wraps them in a fixture.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image

from cropstyle.extractor.pixels import STORED_TRANSPOSE
from tests.conftest import scene

_CACHE: dict[str, object] = {}

IMAGE_SIZE = 64


def trained_run(tmp_path_factory) -> Path:
    """The default model (an ensemble of 3) trained 1 epoch at 64 px on 24 synthetic photos (samples/dataset.py)."""
    if "run" not in _CACHE:
        from cropstyle.samples.dataset import write_dataset
        from cropstyle.training.train import train

        base = tmp_path_factory.mktemp("export-run")
        dataset = write_dataset(base / "dataset", 24, seed=3, long_side=96)
        _CACHE["run"] = train(
            [dataset], base / "run", epochs=1, batch_size=8, image_size=IMAGE_SIZE, seed=0, verbose=0
        ).run
    return _CACHE["run"]


def crop_model(tmp_path_factory):
    if "model" not in _CACHE:
        from cropstyle.export.inference import load_crop_model

        _CACHE["model"] = load_crop_model(trained_run(tmp_path_factory))
    return _CACHE["model"]


def exported(tmp_path_factory, quantize: str):
    """(ExportReport, WEBMODEL folder) of the trained RUN, exported once per quantization."""
    key = f"export-{quantize}"
    if key not in _CACHE:
        from cropstyle.export.webmodel import export_webmodel

        out = tmp_path_factory.mktemp(f"webmodel-{quantize}")
        _CACHE[key] = export_webmodel(trained_run(tmp_path_factory), out, quantize)
    return _CACHE[key]


def pixel_hash(path: Path) -> str:
    """Hash of the decoded pixel data (not of the file): metadata edits must leave it identical."""
    with Image.open(path) as image:
        return hashlib.sha256(image.tobytes() + repr((image.mode, image.size)).encode()).hexdigest()


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def oriented_photo(
    path: Path, displayed: Image.Image, orientation: int, fmt: str | None = None, make: str = "cropstyle-test"
) -> Path:
    """Write `displayed` stored so that EXIF `orientation` displays it as `displayed` again."""
    transpose = STORED_TRANSPOSE[orientation]
    stored = displayed if transpose is None else displayed.transpose(transpose)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = make
    options = {"quality": 92} if (fmt or path.suffix.lower().lstrip(".")) in ("jpg", "jpeg") else {}
    stored.save(path, fmt, exif=exif.tobytes(), **options)
    return path


def photo_scene(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like image with a bright subject, so predictions depend on the content."""
    image = scene(width, height, seed)
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image).copy()
    cx, cy, r = int(rng.uniform(0.2, 0.8) * width), int(rng.uniform(0.2, 0.8) * height), max(2, min(width, height) // 8)
    pixels[max(0, cy - r) : cy + r, max(0, cx - r) : cx + r] = 255
    return Image.fromarray(pixels)


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
