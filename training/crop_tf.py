"""The crop geometry of extractor/geometry.py, written again in TensorFlow ops for use inside the graph.

This is the only crop math in training/: the model's output head, the zoom and flip augmentation and the loss
use it, and tests/test_training_geometry.py checks it against extractor.geometry on random crops.

Units: a crop is a tensor [..., 5] of Lightroom corners (left, top, right, bottom as fractions of the
displayed frame, angle in degrees, clockwise). A rect is [..., 5] (cx, cy, width, height, angle) in a
frame `aspect` wide and 1 high (aspect = displayed width / height), so it equals geometry.crop_to_rect
of the same crop on a width×height image divided by height.
"""

from __future__ import annotations

import math

import tensorflow as tf

from cropstyle.extractor.geometry import IDENTITY

MAX_ANGLE = 45.0  # extractor.geometry.MAX_ANGLE: Lightroom keeps the angle in [-45, 45]


def _axes(angle: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """cos and sin of `angle` degrees: the crop's top edge runs along (cos, sin), its left edge along (-sin, cos)."""
    radians = angle * (math.pi / 180.0)
    return tf.cos(radians), tf.sin(radians)


def crop_to_rect(crop: tf.Tensor, aspect: tf.Tensor) -> tf.Tensor:
    """Crop [..., 5] → rect [..., 5] in an aspect×1 frame (geometry.crop_to_rect)."""
    left, top, right, bottom, angle = tf.unstack(crop, axis=-1)
    cos, sin = _axes(angle)
    dx, dy = (right - left) * aspect, bottom - top
    width, height = dx * cos + dy * sin, -dx * sin + dy * cos
    return tf.stack([(left + right) / 2 * aspect, (top + bottom) / 2, width, height, angle], axis=-1)


def rect_to_crop(rect: tf.Tensor, aspect: tf.Tensor) -> tf.Tensor:
    """Rect [..., 5] in an aspect×1 frame → crop [..., 5] (geometry.rect_to_crop)."""
    cx, cy, width, height, angle = tf.unstack(rect, axis=-1)
    cos, sin = _axes(angle)
    # Half the diagonal from the crop's own top-left to its bottom-right corner: w/2·u + h/2·v.
    half_x, half_y = width / 2 * cos - height / 2 * sin, width / 2 * sin + height / 2 * cos
    return tf.stack([(cx - half_x) / aspect, cy - half_y, (cx + half_x) / aspect, cy + half_y, angle], axis=-1)


def flip_horizontal(crop: tf.Tensor, aspect: tf.Tensor) -> tf.Tensor:
    """The crop of the same photo mirrored left-right: centre mirrored, angle negated (geometry.flip_horizontal)."""
    cx, cy, width, height, angle = tf.unstack(crop_to_rect(crop, aspect), axis=-1)
    return rect_to_crop(tf.stack([aspect - cx, cy, width, height, -angle], axis=-1), aspect)


def bounding_box(crop: tf.Tensor, aspect: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Crop [..., 5] → (left, top, right, bottom) [...] of the upright box around the turned crop, in fractions of
    the frame's width and height, clipped to the frame (geometry.crop_corners' extremes)."""
    cx, cy, width, height, angle = tf.unstack(crop_to_rect(crop, aspect), axis=-1)
    cos, sin = _axes(angle)
    sin = tf.abs(sin)
    half_x, half_y = (width * cos + height * sin) / 2 / aspect, (width * sin + height * cos) / 2
    return (
        tf.clip_by_value(cx / aspect - half_x, 0.0, 1.0),
        tf.clip_by_value(cy - half_y, 0.0, 1.0),
        tf.clip_by_value(cx / aspect + half_x, 0.0, 1.0),
        tf.clip_by_value(cy + half_y, 0.0, 1.0),
    )


def in_window(crop: tf.Tensor, aspect: tf.Tensor, x0: tf.Tensor, y0: tf.Tensor, side: tf.Tensor) -> tf.Tensor:
    """Crop [..., 5] → the same crop in the window [x0, x0 + side] × [y0, y0 + side] of the frame (fractions of its
    width and height, so the window has the frame's aspect ratio), the window enlarged to the whole frame."""
    cx, cy, width, height, angle = tf.unstack(crop_to_rect(crop, aspect), axis=-1)
    rect = tf.stack([(cx - x0 * aspect) / side, (cy - y0) / side, width / side, height / side, angle], axis=-1)
    return rect_to_crop(rect, aspect)


# bounded_crop is mirror-symmetric: the raw outputs that give a crop's mirror image are these, times -1, +1, ...
# (centre x and angle change sign; centre y, size and the sixth, the keep-the-frame logit, do not)
MIRROR_RAW = (-1.0, 1.0, 1.0, 1.0, -1.0, 1.0)
FULL_FRAME = tuple(IDENTITY.values())  # the label of a photo left uncropped
FULL_FRAME_TOLERANCE = 1e-4  # labels are rounded to 6 decimals


def bounded_crop(raw: tf.Tensor, aspect: tf.Tensor) -> tf.Tensor:
    """Unbounded network outputs [..., 5] → a crop that lies inside the frame and is never inverted.

    raw = (centre x, centre y, width, height, angle) logits, read the way a photographer crops: first the
    angle (45°·tanh) and the size (sigmoid fractions, 2–100 %, of the frame's width and height, both shrunk
    by the one factor that makes the turned box fit: its bounding box is (w cos + h |sin|) × (w |sin| + h cos)),
    then the position: a sigmoid fraction of the room that size leaves. Width and height stay positive, so
    the corners stay ordered, and the bounding box stays inside the frame.
    """
    zx, zy, zw, zh, za = tf.unstack(raw, axis=-1)
    angle = MAX_ANGLE * tf.tanh(za)
    cos, sin = _axes(angle)
    sin = tf.abs(sin)
    width, height = (0.02 + 0.98 * tf.sigmoid(zw)) * aspect, 0.02 + 0.98 * tf.sigmoid(zh)
    scale = tf.minimum(1.0, tf.minimum(aspect / (width * cos + height * sin), 1.0 / (width * sin + height * cos)))
    width, height = width * scale, height * scale
    box_x, box_y = width * cos + height * sin, width * sin + height * cos
    cx = box_x / 2 + tf.sigmoid(zx) * tf.nn.relu(aspect - box_x)
    cy = box_y / 2 + tf.sigmoid(zy) * tf.nn.relu(1.0 - box_y)
    return rect_to_crop(tf.stack([cx, cy, width, height, angle], axis=-1), aspect)


def is_full_frame(crop: tf.Tensor) -> tf.Tensor:
    """Crops [..., 5] → bool [...]: which are the full frame, i.e. photos the photographer left uncropped."""
    return tf.reduce_all(tf.abs(crop - tf.constant(FULL_FRAME, crop.dtype)) < FULL_FRAME_TOLERANCE, axis=-1)


def kept_or_cropped(crop_and_keep: tf.Tensor) -> tf.Tensor:
    """[..., 6] crop and keep-the-frame logit → crop [..., 5]: the full frame where the logit is positive, else
    the crop. Leaving a photo alone is a decision, not a slightly larger crop, so it is made as one (a
    photographer who leaves most photos uncropped and crops the rest tightly gets one or the other, not a
    crop halfway between); either way the crop is inside the image. [..., 5] (no logit) passes unchanged."""
    crop_and_keep = tf.convert_to_tensor(crop_and_keep)
    if crop_and_keep.shape[-1] == 5:
        return crop_and_keep
    crop, keep = crop_and_keep[..., :5], crop_and_keep[..., 5:]
    return tf.where(keep > 0, tf.constant(FULL_FRAME, crop.dtype), crop)


def corner_box_iou(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """IoU of the upright boxes spanned by each crop's two Lightroom corners, in fractions of the frame.

    For unrotated crops this is exactly the crop IoU (and independent of the aspect ratio); for turned crops
    it is a smooth stand-in that the L1 term on the angle completes. Used by the loss and the training metric;
    evaluation uses the exact polygon IoU of extractor.geometry.
    """

    def box(crop):
        left, top, right, bottom = tf.unstack(crop[..., :4], axis=-1)
        return tf.minimum(left, right), tf.minimum(top, bottom), tf.maximum(left, right), tf.maximum(top, bottom)

    ax0, ay0, ax1, ay1 = box(a)
    bx0, by0, bx1, by1 = box(b)
    inter = tf.nn.relu(tf.minimum(ax1, bx1) - tf.maximum(ax0, bx0)) * tf.nn.relu(
        tf.minimum(ay1, by1) - tf.maximum(ay0, by0)
    )
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / tf.maximum(union, 1e-9)
