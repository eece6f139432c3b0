"""THE way cropstyle feeds its model outside training: loading a RUN and preprocessing a photo.

`predict`, `apply` and the export's parity check all go through here; the browser repeats the same steps from
WEBMODEL/metadata.json. The steps are the RUN's preprocessing (training/pipeline.py PREPROCESSING, in
RUN/config.json): the photo as displayed, brought down to the RUN's `source_long_side` as `cropstyle extract`
wrote the training images (extractor.pixels.open_displayed), then training/pipeline.py's model_input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cropstyle.extractor.dataset import TRAINING_LONG_SIDE
from cropstyle.extractor.pixels import open_displayed
from cropstyle.training.run import Run


@dataclass
class CropModel:
    """A trained RUN, ready to predict: the Keras model and the preprocessing its config.json defines."""

    run: Run
    keras_model: object  # keras.Model

    @property
    def image_size(self) -> int:
        return self.run.image_size

    @property
    def values(self) -> tuple[str, ...]:
        """What each column of predict_arrays is: geometry.LABEL_VALUES, then "confidence" (the expected IoU with the
        photographer's crop, training/confidence.py) unless the RUN was trained before the confidence existed."""
        from cropstyle.extractor.geometry import LABEL_VALUES

        columns = int(self.keras_model.output.shape[-1])
        return (*LABEL_VALUES, "confidence")[:columns]

    @property
    def unsure_below(self) -> float | None:
        """The expected IoU under which a crop is called unsure (None: no confidence)."""
        calibration = self.run.calibration
        return None if calibration is None or "confidence" not in self.values else calibration.unsure_below

    @property
    def long_side(self) -> int:
        """What photos are brought down to before the resize."""
        return self.run.source_long_side

    def load_input(self, source: Path | bytes, orientation: int) -> "ModelInput":
        """A photo file or a raw's preview bytes → this model's image input (load_model_input)."""
        return load_model_input(source, orientation, self.image_size, self.long_side)

    def predict_arrays(self, images: np.ndarray, aspects: np.ndarray) -> np.ndarray:
        """Preprocessed images [B, S, S, 3] and displayed aspect ratios [B] → [B, len(values)] float32: the crops
        (geometry.LABEL_VALUES, displayed frame), then their confidence where the RUN has one."""
        images = np.asarray(images, dtype=np.float32)
        aspects = np.asarray(aspects, dtype=np.float32).reshape(-1, 1)
        if images.shape[1:] != (self.image_size, self.image_size, 3) or len(images) != len(aspects):
            raise ValueError(
                f"expected images [B, {self.image_size}, {self.image_size}, 3] and B aspects, "
                f"got {images.shape} and {aspects.shape}"
            )
        if len(images) == 0:
            return np.zeros((0, len(self.values)), np.float32)
        return self._forward()(images, aspects).numpy()

    def _forward(self):
        """The model as one tf.function for any batch size: traced once (predict_on_batch would retrace
        for every new batch size)."""
        if getattr(self, "_forward_fn", None) is None:
            import tensorflow as tf

            size = self.image_size

            @tf.function(
                input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32), tf.TensorSpec([None, 1], tf.float32)]
            )
            def forward(image, aspect):
                return self.keras_model({"image": image, "aspect": aspect}, training=False)

            self._forward_fn = forward
        return self._forward_fn


def load_crop_model(run: Path | Run) -> CropModel:
    """The RUN's model, ready to predict."""
    run = run if isinstance(run, Run) else Run.open(run)
    return CropModel(run, run.load_model())


def preprocess(image: Image.Image | np.ndarray, image_size: int) -> np.ndarray:
    """A displayed photo, already brought down to the RUN's long side (uint8 RGB) → the model's image input
    [S, S, 3] float32 in [0, 1], exactly as in training (pipeline.model_input)."""
    from cropstyle.training.pipeline import model_input

    pixels = np.asarray(image, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected an RGB image, got an array of shape {pixels.shape}")
    return model_input(pixels, image_size).numpy().astype(np.float32)


@dataclass(frozen=True)
class ModelInput:
    image: np.ndarray  # [S, S, 3] float32
    decoded_size: tuple[int, int]  # the decoded source's stored size (a raw's preview size, not the raw's)


def load_model_input(
    source: Path | bytes, orientation: int, image_size: int, long_side: int = TRAINING_LONG_SIDE
) -> ModelInput:
    """A photo file or a raw's preview bytes → the model's image input (the module docstring's steps),
    for a model whose training images had `long_side` (CropModel.load_input passes its RUN's). Raises
    extractor.pixels.PixelError when the image data cannot be decoded."""
    image, stored_size = open_displayed(source, orientation, max_side=long_side)
    return ModelInput(preprocess(image, image_size), stored_size)
