"""The crop models: a CNN that reads the photo and its aspect ratio and returns a crop that cannot leave it.

separable  the default: depthwise-separable blocks (MobileNet's), ~0.2M parameters at 96 px, fast in the browser
compact    plain convolutions, ~0.5M parameters (the first model; slower in the browser)
pretrained a frozen MobileNetV2 trunk with ImageNet weights shipped in the package (training/imagenet_trunk.py),
           then separable's last layers: the general model's; better on real photos, worse on drawn habits
mobilenet  MobileNetV3Small, for users who can download ImageNet weights (--weights imagenet)

Every architecture ends in CropHead (training/crop_tf.bounded_crop): the crop's angle is 45°·tanh, its size a
sigmoid fraction of the frame (shrunk to fit when turned), its position a sigmoid fraction of the room left,
turned into Lightroom corners through the crop geometry; so every output is inside the image, ordered, ±45°.
With `keep_decision` (train turns it on when the training photos include uncropped ones) the head also gives a
keep-the-frame logit, and KeepOrCrop makes the decision: the full frame where the photographer would leave
the photo uncropped, else the crop. build_model returns the crop [B, 5]; training fits training_view(model),
the crop and the logit [B, 6] (training/losses.py).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from cropstyle.training import crop_tf
from cropstyle.training.imagenet_trunk import TRUNK, imagenet_trunk

ARCHITECTURES = ("separable", "compact", "pretrained", "mobilenet")
# The head's starting point: centred, about 80 % of the frame wide and high, upright (sigmoid(1.4) ≈ 0.8). It
# overlaps every plausible crop, so the IoU term has a gradient from the first step (the training crops' mean,
# tried instead, misses tight crops entirely: docs/results.md).
_HEAD_BIAS = (0.0, 0.0, 1.4, 1.4, 0.0)
# The keep-the-frame logit starts at "crop" (sigmoid(-2) ≈ 0.12): most photographers crop most photos.
_KEEP_BIAS = -2.0
AFTER_TRUNK = "after_trunk"  # the pretrained model's first layer of its own, on the trunk's features


@keras.saving.register_keras_serializable(package="cropstyle")
class CropHead(layers.Layer):
    """(raw [B, 6], aspect [B, 1]) → [B, 6]: the crop, left, top, right, bottom, angle (crop_tf.bounded_crop of
    the first five), and the keep-the-frame logit (the sixth, unchanged). Models saved before the logit: [B, 5]."""

    def call(self, raw, aspect):
        return keras.ops.concatenate([crop_tf.bounded_crop(raw[:, :5], aspect[:, 0]), raw[:, 5:]], axis=-1)

    def compute_output_shape(self, raw_shape, aspect_shape):
        return raw_shape


@keras.saving.register_keras_serializable(package="cropstyle")
class KeepOrCrop(layers.Layer):
    """[B, 6] crop and keep-the-frame logit → crop [B, 5]: the full frame or the crop (crop_tf.kept_or_cropped)."""

    def call(self, crop_and_keep):
        return crop_tf.kept_or_cropped(crop_and_keep)

    def compute_output_shape(self, shape):
        return (shape[0], 5)


@keras.saving.register_keras_serializable(package="cropstyle")
class Log(layers.Layer):
    """Natural logarithm: log(aspect) treats portrait and landscape frames symmetrically."""

    def call(self, x):
        return keras.ops.log(x)


def _head(features, aspect, dropout: float, keep_decision: bool) -> keras.KerasTensor:
    x = layers.Concatenate()([features, Log(name="log_aspect")(aspect)])
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    # A small starting kernel keeps the first outputs near the bias, off the flat ends of sigmoid and tanh.
    bias = [*_HEAD_BIAS, _KEEP_BIAS] if keep_decision else list(_HEAD_BIAS)
    raw = layers.Dense(
        len(bias),
        kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3, seed=0),
        bias_initializer=keras.initializers.Constant(bias),
        dtype="float32",
        name="raw",
    )(x)
    return _decided(CropHead(dtype="float32", name="crop_and_keep")(raw, aspect))


def _decided(crop_and_keep) -> keras.KerasTensor:
    return KeepOrCrop(dtype="float32", name="crop")(crop_and_keep)


def training_view(model: keras.Model) -> keras.Model:
    """The model (build_model's) before its decision, sharing its weights: crop and keep-the-frame logit
    [B, 6] (without keep_decision: the crop [B, 5]), what the loss needs."""
    return keras.Model(model.inputs, model.get_layer("crop_and_keep").output, name=model.name)


def decided(view: keras.Model) -> keras.Model:
    """A training_view back to the model that decides, crop [B, 5] (what RUN/model.keras holds)."""
    return keras.Model(view.inputs, _decided(view.output), name=view.name)


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


@keras.saving.register_keras_serializable(package="cropstyle")
class PositionBias(layers.Layer):
    """Adds a learned bias per position and channel: the network knows where in the frame it looks (as
    CoordConv's coordinate channels do through a first convolution, but without building and concatenating
    coordinate maps at run time, which TF.js's wasm backend does slowly)."""

    def build(self, shape):
        self.bias = self.add_weight(shape=tuple(shape[1:]), initializer="zeros", name="bias")

    def call(self, x):
        return x + self.bias[None]


def _separable_block(x, filters: int, stride: int = 1) -> keras.KerasTensor:
    """Depthwise 3×3 then pointwise 1×1 with batch norm, each with ReLU6 (MobileNet's block, without the batch
    norm after the depthwise step, which TF.js cannot fold into it and runs as separate kernels): a tenth of
    the multiplications of a full 3×3 convolution, which is what makes the model fast in the browser."""
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same")(x)
    x = layers.ReLU(6.0)(x)
    x = layers.Conv2D(filters, 1, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU(6.0)(x)


def separable(
    image_size: int,
    widths=(24, 48, 96, 128),
    dropout: float = 0.1,
    extra_block: bool = True,
    keep_decision: bool = False,
) -> keras.Model:
    """The default: a strided 3×3 convolution with a learned bias per position, then per width a strided and a plain
    depthwise-separable block (image_size/16 grid at the end), a 1×1 convolution to few channels and a flatten
    that keeps where things are, as in `compact`."""
    image, aspect = _inputs(image_size)
    x = layers.Conv2D(widths[0], 3, strides=2, padding="same", use_bias=False)(image)
    x = layers.BatchNormalization()(x)
    x = PositionBias()(layers.ReLU(6.0)(x))  # after the activation: the converter fuses only rank-1 conv biases
    for filters in widths[1:]:
        x = _separable_block(x, filters, stride=2)
        x = _separable_block(x, filters)
    if extra_block:
        x = _separable_block(x, widths[-1])
    x = layers.Conv2D(16, 1, activation="relu")(x)
    x = layers.Flatten()(layers.SpatialDropout2D(dropout / 2)(x))
    return keras.Model({"image": image, "aspect": aspect}, _head(x, aspect, dropout, keep_decision), name="separable")


def compact(image_size: int, dropout: float = 0.1, keep_decision: bool = False) -> keras.Model:
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
    return keras.Model({"image": image, "aspect": aspect}, _head(x, aspect, dropout, keep_decision), name="compact")


def pretrained(image_size: int, dropout: float = 0.1, keep_decision: bool = False) -> keras.Model:
    """The frozen ImageNet trunk (imagenet_trunk: MobileNetV2 to block 10, an image_size/16 grid of 96 channels), then
    `separable`'s 1×1 convolution to few channels, flatten and head. Only those last layers train (≈76k weights)."""
    image, aspect = _inputs(image_size)
    x = imagenet_trunk(image_size)(image)
    x = layers.Conv2D(16, 1, activation="relu", name=AFTER_TRUNK)(x)
    x = layers.Flatten()(layers.SpatialDropout2D(dropout / 2)(x))
    return keras.Model({"image": image, "aspect": aspect}, _head(x, aspect, dropout, keep_decision), name="pretrained")


def mobilenet(image_size: int, weights: str | None, dropout: float = 0.3, keep_decision: bool = False) -> keras.Model:
    """MobileNetV3Small backbone for small libraries: `weights` is None, "imagenet" (downloaded by Keras)
    or the path of a weights file for the backbone (e.g. the ImageNet .h5 copied by hand)."""
    image, aspect = _inputs(image_size)
    local = weights not in (None, "imagenet")
    backbone = keras.applications.MobileNetV3Small(
        input_shape=(image_size, image_size, 3),
        include_top=False,
        weights=None if local else weights,
        include_preprocessing=True,  # expects [0, 255]
    )
    if local:
        backbone.load_weights(str(Path(weights)))
    x = backbone(layers.Rescaling(255.0)(image))
    x = layers.Conv2D(32, 1, activation="relu")(x)
    x = layers.Flatten()(x)
    return keras.Model({"image": image, "aspect": aspect}, _head(x, aspect, dropout, keep_decision), name="mobilenet")


@keras.saving.register_keras_serializable(package="cropstyle")
class WithMirror(layers.Layer):
    """[B, S, S, 3] → [2B, S, S, 3]: the photos, then the same photos mirrored left-right."""

    def call(self, image):
        return keras.ops.concatenate([image, keras.ops.flip(image, axis=2)], axis=0)

    def compute_output_shape(self, shape):
        return (None, *shape[1:])


@keras.saving.register_keras_serializable(package="cropstyle")
class MirroredMean(layers.Layer):
    """Raw head outputs [2B, …, 6] of the photos then of their mirrors → [B, …, 6]: their mean, the mirrors' mapped back
    (crop_tf.MIRROR_RAW: the head is mirror-symmetric, so the mean is again a crop inside the photo)."""

    def call(self, raw):
        half = keras.ops.shape(raw)[0] // 2
        mirror = keras.ops.convert_to_tensor(crop_tf.MIRROR_RAW[: raw.shape[-1]], raw.dtype)
        return (raw[:half] + raw[half:] * mirror) / 2

    def compute_output_shape(self, shape):
        return (None, *shape[1:])


def flip_averaged(model: keras.Model) -> keras.Model:
    """`model` with test-time flip averaging: its head's outputs for each photo and for the mirrored photo,
    mapped back and averaged before the crop is made, in one batch of two. Training mirrors photos at random, so
    the two are two looks at the same photo; their mean is steadier than either. RUN/model.keras is this model
    with `cropstyle train --flip-average`, so predict, evaluate and the browser all average."""
    image, aspect = _inputs(next(tensor.shape[1] for tensor in model.inputs if len(tensor.shape) == 4))
    from cropstyle.training.confidence import member_raws

    raws_of = keras.Model(model.inputs, member_raws(model), name=model.name)
    both = raws_of({"image": WithMirror()(image), "aspect": keras.ops.concatenate([aspect, aspect], axis=0)})
    members = MirroredMean(dtype="float32", name="member_raws")(both)  # each member's own two looks, [B, M, R]
    raw = MemberMean(dtype="float32", name="raw_mean")(members)
    crop = _decided(CropHead(dtype="float32", name="crop_and_keep")(raw, aspect))
    return keras.Model({"image": image, "aspect": aspect}, crop, name=f"{model.name}_flip_averaged")


@keras.saving.register_keras_serializable(package="cropstyle")
class MemberStack(layers.Layer):
    """M raw outputs [B, R] → [B, M, R]."""

    def call(self, raws):
        return keras.ops.stack(raws, axis=1)

    def compute_output_shape(self, shapes):
        return (shapes[0][0], len(shapes), shapes[0][1])


@keras.saving.register_keras_serializable(package="cropstyle")
class MemberMean(layers.Layer):
    """[B, M, R] → [B, R]: the members' mean."""

    def call(self, member_raws):
        return keras.ops.mean(member_raws, axis=1)

    def compute_output_shape(self, shape):
        return (shape[0], shape[2])


def averaged(members: list[keras.Model]) -> keras.Model:
    """Training views (training_view's) of models trained alike → one training view whose head outputs are the
    members' mean, made a crop by one CropHead (the mean of raw outputs, as flip_averaged's, is again a crop inside
    the photo). Its mean layer is named "raw", so decided() and flip_averaged() apply to it as to one model."""
    image, aspect = _inputs(next(tensor.shape[1] for tensor in members[0].inputs if len(tensor.shape) == 4))
    if _same_trunk(members):
        # The frozen trunk is the same in every member: run it once, then each member's own layers after it (three
        # trunks would make the browser slower than smartcrop.js).
        features = members[0].get_layer(TRUNK)(image)
        raws = [_after_trunk(member, k)([features, aspect]) for k, member in enumerate(members)]
    else:
        raws = [
            keras.Model(member.inputs, member.get_layer("raw").output, name=f"member_{k}")(
                {"image": image, "aspect": aspect}
            )
            for k, member in enumerate(members)
        ]
    # [B, M, R] kept in the graph: how much the members agree is the confidence's first feature
    raw = MemberMean(dtype="float32", name="raw")(MemberStack(dtype="float32", name="member_raws")(raws))
    return keras.Model(
        {"image": image, "aspect": aspect},
        CropHead(dtype="float32", name="crop_and_keep")(raw, aspect),
        name=f"{members[0].name}_ensemble",
    )


def _same_trunk(members: list[keras.Model]) -> bool:
    if not all(TRUNK in {layer.name for layer in member.layers} for member in members):
        return False
    first = members[0].get_layer(TRUNK).get_weights()
    return all(
        all(np.array_equal(a, b) for a, b in zip(first, member.get_layer(TRUNK).get_weights()))
        for member in members[1:]
    )


def _after_trunk(member: keras.Model, k: int) -> keras.Model:
    """(trunk features, aspect) → the member's raw head output: its own layers after the shared trunk."""
    aspect = next(tensor for tensor in member.inputs if len(tensor.shape) == 2)
    # The first layer's input, not the trunk's .output: a nested model's .output is its own graph's.
    features = member.get_layer(AFTER_TRUNK).input
    return keras.Model([features, aspect], member.get_layer("raw").output, name=f"member_{k}")


def build_model(arch: str, image_size: int, weights: str | None = None, keep_decision: bool = False) -> keras.Model:
    """The named architecture (ARCHITECTURES). `weights` only applies to the pretrained one. `keep_decision`: the
    head also decides whether to leave the photo uncropped (the module docstring)."""
    if arch in ("separable", "compact"):
        if weights is not None:
            raise ValueError(f"--weights applies to --arch mobilenet; the {arch} model starts from scratch")
        return (separable if arch == "separable" else compact)(image_size, keep_decision=keep_decision)
    if arch == "pretrained":
        if weights is not None:
            raise ValueError("--weights applies to --arch mobilenet; the pretrained model's are shipped")
        return pretrained(image_size, keep_decision=keep_decision)
    if arch == "mobilenet":
        return mobilenet(image_size, weights, keep_decision=keep_decision)
    raise ValueError(f"unknown architecture {arch!r}: choose one of {', '.join(ARCHITECTURES)}")
