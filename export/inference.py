"""THE way cropstyle feeds its model outside training: loading a RUN and preprocessing a photo.

`predict`, `apply` and the export's parity check all go through here, and the browser repeats the same
steps from WEBMODEL/metadata.json (export/README.md). The steps are RUN/config.json's `preprocessing`
(training/pipeline.py PREPROCESSING), applied to a photo the way the extractor made the training images:

1. decode the photo (a raw's embedded preview) and apply its orientation: the photo as displayed;
2. shrink it so its long side is at most DECODE_LONG_SIDE px (JPEG draft decoding, then Lanczos), as
   `cropstyle extract` wrote the training images (extractor.pixels.open_displayed, its default --size);
3. resize to image_size × image_size ignoring the aspect ratio: bilinear, half-pixel centres, no antialias;
4. float32 / 255, RGB, NHWC. The model's second input is the displayed width / height of the whole photo.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cropstyle.extractor.geometry import Crop
from cropstyle.extractor.pixels import open_displayed

# The long side of the extractor's training images (`cropstyle extract --size`, default 512): photos are
# brought to this size first, with the extractor's own decoder, so the model sees what it was trained on.
DECODE_LONG_SIDE = 512
OUTPUT_VALUES = ("left", "top", "right", "bottom", "angle")


def run_config(run: Path) -> dict:
    path = Path(run) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run} is not a training run: it has no config.json (make one with `cropstyle train`)")
    return json.loads(path.read_text())


def image_size_of(config: dict) -> int:
    """The model's input size, from the RUN's preprocessing definition."""
    return int(config["preprocessing"]["image_size"])


def model_sha256(run: Path) -> str:
    digest = hashlib.sha256()
    with open(Path(run) / "model.keras", "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class CropModel:
    """A trained RUN, ready to predict: the Keras model and the preprocessing its config.json defines."""

    run: Path
    config: dict
    image_size: int
    keras_model: object  # keras.Model

    def predict_arrays(self, images: np.ndarray, aspects: np.ndarray) -> np.ndarray:
        """Preprocessed images [B, S, S, 3] and displayed aspect ratios [B] → crops [B, 5] (float32,
        OUTPUT_VALUES, displayed frame)."""
        images = np.asarray(images, dtype=np.float32)
        aspects = np.asarray(aspects, dtype=np.float32).reshape(-1, 1)
        if images.shape[1:] != (self.image_size, self.image_size, 3) or len(images) != len(aspects):
            raise ValueError(f"expected images [B, {self.image_size}, {self.image_size}, 3] and B aspects, "
                             f"got {images.shape} and {aspects.shape}")
        if len(images) == 0:
            return np.zeros((0, 5), np.float32)
        return self._forward()(images, aspects).numpy()

    def _forward(self):
        """The model as one tf.function for any batch size: traced once (predict_on_batch would retrace
        for every new batch size)."""
        if getattr(self, "_forward_fn", None) is None:
            import tensorflow as tf

            size = self.image_size

            @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32),
                                          tf.TensorSpec([None, 1], tf.float32)])
            def forward(image, aspect):
                return self.keras_model({"image": image, "aspect": aspect}, training=False)

            self._forward_fn = forward
        return self._forward_fn


def load_crop_model(run: Path) -> CropModel:
    """RUN/model.keras with its RUN/config.json (custom layers registered by importing training)."""
    run = Path(run)
    config = run_config(run)
    if not (run / "model.keras").is_file():
        raise FileNotFoundError(f"{run} has no model.keras: training did not finish")
    import keras

    from cropstyle.training import losses as _losses  # noqa: F401  (registers the custom objects model.keras names)
    from cropstyle.training import model as _model  # noqa: F401

    model = keras.saving.load_model(run / "model.keras", compile=False)
    return CropModel(run, config, image_size_of(config), model)


def preprocess(image: Image.Image | np.ndarray, image_size: int) -> np.ndarray:
    """A displayed photo, already at most DECODE_LONG_SIDE px (uint8 RGB) → the model's image input
    [S, S, 3] float32 in [0, 1]: training/pipeline.load_image's resize and scaling, the same TF op."""
    import tensorflow as tf

    pixels = np.asarray(image, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected an RGB image, got an array of shape {pixels.shape}")
    resized = tf.image.resize(pixels, [image_size, image_size], method="bilinear", antialias=False)
    return (resized / 255.0).numpy().astype(np.float32)


@dataclass(frozen=True)
class ModelInput:
    image: np.ndarray  # [S, S, 3] float32
    decoded_size: tuple[int, int]  # the decoded source's stored size (a raw's preview size, not the raw's)


def load_model_input(source: Path | bytes, orientation: int, image_size: int) -> ModelInput:
    """A photo file or a raw's preview bytes → the model's image input (steps 1–4 of the module docstring).
    Raises extractor.pixels.PixelError when the image data cannot be decoded."""
    image, stored_size = open_displayed(source, orientation, max_side=DECODE_LONG_SIDE)
    return ModelInput(preprocess(image, image_size), stored_size)


def crops_from_array(values: np.ndarray) -> list[Crop]:
    return [Crop(*(float(v) for v in row)) for row in np.asarray(values)]
