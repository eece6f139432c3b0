"""The crop models: a CNN that reads the photo and its aspect ratio and returns a crop that cannot leave it.

Both architectures end in CropHead (training/crop_tf.bounded_crop): the crop's angle is 45°·tanh, its size a
sigmoid fraction of the frame (shrunk to fit when turned), its position a sigmoid fraction of the room left,
turned into Lightroom corners through the crop geometry; so every output is inside the image, ordered, ±45°.
"""
from __future__ import annotations

from pathlib import Path

import keras
from keras import layers

from cropstyle.training import crop_tf

ARCHITECTURES = ("compact", "mobilenet")
# The head's starting point: centred, about 80 % of the frame wide and high, upright (sigmoid(1.4) ≈ 0.8).
_HEAD_BIAS = [0.0, 0.0, 1.4, 1.4, 0.0]


@keras.saving.register_keras_serializable(package="cropstyle")
class CropHead(layers.Layer):
    """(raw [B, 5], aspect [B, 1]) → crop [B, 5]: left, top, right, bottom, angle (crop_tf.bounded_crop)."""

    def call(self, raw, aspect):
        return crop_tf.bounded_crop(raw, aspect[:, 0])

    def compute_output_shape(self, raw_shape, aspect_shape):
        return raw_shape


@keras.saving.register_keras_serializable(package="cropstyle")
class Log(layers.Layer):
    """Natural logarithm: log(aspect) treats portrait and landscape frames symmetrically."""

    def call(self, x):
        return keras.ops.log(x)


def _head(features, aspect, dropout: float) -> keras.KerasTensor:
    x = layers.Concatenate()([features, Log(name="log_aspect")(aspect)])
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    # A small starting kernel keeps the first outputs near the bias, off the flat ends of sigmoid and tanh.
    raw = layers.Dense(5, kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3, seed=0),
                       bias_initializer=keras.initializers.Constant(_HEAD_BIAS), dtype="float32", name="raw")(x)
    return CropHead(dtype="float32", name="crop")(raw, aspect)


def _inputs(image_size: int) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    return keras.Input((image_size, image_size, 3), name="image"), keras.Input((1,), name="aspect")


@keras.saving.register_keras_serializable(package="cropstyle")
class AddCoords(layers.Layer):
    """Appends two channels, x and y in [0, 1] across the frame (CoordConv): a crop is a place in the frame,
    and convolutions alone do not know where they are."""

    def call(self, x):
        shape = keras.ops.shape(x)
        ys = keras.ops.linspace(0.0, 1.0, shape[1])
        xs = keras.ops.linspace(0.0, 1.0, shape[2])
        grid = keras.ops.stack(keras.ops.meshgrid(xs, ys), axis=-1)  # [h, w, 2]: x, y
        grid = keras.ops.broadcast_to(grid[None], (shape[0], shape[1], shape[2], 2))
        return keras.ops.concatenate([x, keras.ops.cast(grid, x.dtype)], axis=-1)

    def compute_output_shape(self, shape):
        return (*shape[:-1], shape[-1] + 2)


def compact(image_size: int, dropout: float = 0.1) -> keras.Model:
    """A small CNN (well under 1M parameters): coordinate channels, four conv–batch-norm–ReLU–pool stages
    and a fifth conv, then a flatten of an image_size/16 grid that keeps where things are in the frame
    (global pooling would throw that away, and a crop is about where)."""
    image, aspect = _inputs(image_size)
    x = AddCoords()(image)
    for filters in (24, 48, 96, 144, 192):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        if filters != 192:
            x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(16, 1, activation="relu")(x)  # few channels before flattening keep the dense layer small
    x = layers.Flatten()(layers.SpatialDropout2D(dropout / 2)(x))
    return keras.Model({"image": image, "aspect": aspect}, _head(x, aspect, dropout), name="compact")


def mobilenet(image_size: int, weights: str | None, dropout: float = 0.3) -> keras.Model:
    """MobileNetV3Small backbone for small libraries: `weights` is None, "imagenet" (downloaded by Keras)
    or the path of a weights file for the backbone (e.g. the ImageNet .h5 copied by hand)."""
    image, aspect = _inputs(image_size)
    local = weights not in (None, "imagenet")
    backbone = keras.applications.MobileNetV3Small(
        input_shape=(image_size, image_size, 3), include_top=False, weights=None if local else weights,
        include_preprocessing=True,  # expects [0, 255]
    )
    if local:
        backbone.load_weights(str(Path(weights)))
    x = backbone(layers.Rescaling(255.0)(image))
    x = layers.Conv2D(32, 1, activation="relu")(x)
    x = layers.Flatten()(x)
    return keras.Model({"image": image, "aspect": aspect}, _head(x, aspect, dropout), name="mobilenet")


def build_model(arch: str, image_size: int, weights: str | None = None) -> keras.Model:
    """The named architecture (ARCHITECTURES). `weights` only applies to the pretrained one."""
    if arch == "compact":
        if weights is not None:
            raise ValueError("--weights applies to --arch mobilenet; the compact model starts from scratch")
        return compact(image_size)
    if arch == "mobilenet":
        return mobilenet(image_size, weights)
    raise ValueError(f"unknown architecture {arch!r}: choose one of {', '.join(ARCHITECTURES)}")
