"""training/crop_tf.py (the crop math inside the TF graph) against extractor/geometry.py, and the bounded head."""

import math

import numpy as np
import pytest
import tensorflow as tf

from cropstyle.extractor.geometry import (
    Crop,
    RotatedRect,
    crop_corners,
    crop_problem,
    crop_to_rect,
    flip_horizontal,
    rect_to_crop,
)
from cropstyle.training import crop_tf
from cropstyle.training.model import build_model


def random_crops(rng, n):
    """Valid crops of random images: a turned rectangle that fits inside its frame."""
    out = []
    while len(out) < n:
        width, height = rng.integers(50, 6000, 2).astype(float)
        angle = rng.uniform(-45, 45)
        t = math.radians(abs(angle))
        w, h = rng.uniform(0.05, 1) * width, rng.uniform(0.05, 1) * height
        scale = min(1, width / (w * math.cos(t) + h * math.sin(t)), height / (w * math.sin(t) + h * math.cos(t)))
        w, h = w * scale, h * scale
        bw, bh = w * math.cos(t) + h * math.sin(t), w * math.sin(t) + h * math.cos(t)
        cx, cy = bw / 2 + rng.uniform() * (width - bw), bh / 2 + rng.uniform() * (height - bh)
        crop = rect_to_crop(RotatedRect(cx, cy, w, h, angle), width, height)
        if crop_problem(crop, width, height) is None:
            out.append((crop, width, height))
    return out


@pytest.fixture(scope="module")
def samples():
    return random_crops(np.random.default_rng(7), 300)


def as_tensors(samples):
    crops = tf.constant([c.values() for c, _, _ in samples], tf.float64)
    aspects = tf.constant([w / h for _, w, h in samples], tf.float64)
    return crops, aspects


def test_crop_to_rect_and_back_match_geometry(samples):
    crops, aspects = as_tensors(samples)
    rects = crop_tf.crop_to_rect(crops, aspects).numpy()
    for (crop, width, height), rect in zip(samples, rects):
        expected = crop_to_rect(crop, width, height)
        np.testing.assert_allclose(
            rect * [height, height, height, height, 1],
            [expected.cx, expected.cy, expected.width, expected.height, expected.angle],
            rtol=1e-9,
            atol=1e-6,
        )
    np.testing.assert_allclose(crop_tf.rect_to_crop(tf.constant(rects), aspects).numpy(), crops.numpy(), atol=1e-9)


def test_flip_matches_geometry(samples):
    crops, aspects = as_tensors(samples)
    flipped = crop_tf.flip_horizontal(crops, aspects).numpy()
    for (crop, width, height), got in zip(samples, flipped):
        np.testing.assert_allclose(got, flip_horizontal(crop, width, height).values(), atol=1e-9)


def test_bounding_box_and_window_match_geometry(samples):
    """The zoom augmentation's geometry: the upright box around each crop is its corners' extremes, and the crop
    seen in a window holding that box has the same corners, moved and enlarged with the window."""
    crops, aspects = as_tensors(samples)
    boxes = np.stack([b.numpy() for b in crop_tf.bounding_box(crops, aspects)], axis=-1)
    rng = np.random.default_rng(3)
    side = rng.uniform(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]), 1.0)
    x0 = rng.uniform(
        np.maximum(0, boxes[:, 2] - side), np.maximum(np.minimum(boxes[:, 0], 1 - side), boxes[:, 2] - side)
    )
    y0 = rng.uniform(
        np.maximum(0, boxes[:, 3] - side), np.maximum(np.minimum(boxes[:, 1], 1 - side), boxes[:, 3] - side)
    )
    windowed = crop_tf.in_window(crops, aspects, *(tf.constant(v) for v in (x0, y0, side))).numpy()
    for (crop, width, height), box, got, *window in zip(samples, boxes, windowed, x0, y0, side):
        corners = crop_corners(crop, width, height) / [width, height]
        np.testing.assert_allclose(box, [*corners.min(axis=0), *corners.max(axis=0)], atol=1e-9)
        start_x, start_y, f = window
        np.testing.assert_allclose(
            crop_corners(Crop(*got), width, height) / [width, height], (corners - [start_x, start_y]) / f, atol=1e-9
        )
        assert crop_problem(Crop(*got), width, height) is None


def test_corner_box_iou_is_the_crop_iou_for_upright_crops():
    a = tf.constant([[0.0, 0.0, 0.5, 1.0, 0.0], [0.1, 0.1, 0.9, 0.9, 0.0], [0.0, 0.0, 0.5, 0.5, 0.0]])
    b = tf.constant([[0.0, 0.0, 1.0, 1.0, 0.0], [0.1, 0.1, 0.9, 0.9, 0.0], [0.5, 0.5, 1.0, 1.0, 0.0]])
    np.testing.assert_allclose(crop_tf.corner_box_iou(a, b).numpy(), [0.5, 1.0, 0.0], atol=1e-6)


def assert_valid(crops, aspects):
    for values, aspect in zip(np.asarray(crops, float), np.asarray(aspects, float)):
        crop = Crop(*values)
        width, height = 1000.0 * aspect, 1000.0
        rect = crop_to_rect(crop, width, height)
        assert abs(crop.angle) <= 45 + 1e-6
        assert rect.width > 0 and rect.height > 0, crop  # ordered: never inverted
        problem = crop_problem(crop, width, height)
        assert problem in (None, "crop is degenerate (less than a pixel wide or high)"), (problem, crop)


def test_bounded_head_stays_inside_for_any_raw_output():
    rng = np.random.default_rng(3)
    raw = rng.normal(0, 6, (2000, 5))  # far into the saturated ranges too
    aspects = np.exp(rng.uniform(-1.2, 1.2, 2000))
    assert_valid(crop_tf.bounded_crop(tf.constant(raw), tf.constant(aspects)).numpy(), aspects)


@pytest.mark.parametrize("arch", ["separable", "compact", "pretrained", "mobilenet"])
def test_model_outputs_inside_for_random_inputs_and_weights(arch):
    rng = np.random.default_rng(5)
    model = build_model(arch, 64)
    # Random weights, scaled up so the head sees large, saturating values.
    model.set_weights(
        [w + rng.normal(0, 0.5, w.shape).astype(w.dtype) if w.ndim > 1 else w for w in model.get_weights()]
    )
    images = rng.uniform(0, 1, (16, 64, 64, 3)).astype("float32")
    aspects = np.exp(rng.uniform(-1, 1, (16, 1))).astype("float32")
    crops = model.predict({"image": images, "aspect": aspects}, verbose=0)
    assert crops.shape == (16, 5) and np.isfinite(crops).all()
    assert_valid(crops, aspects[:, 0])


def test_the_head_is_mirror_symmetric():
    """Flip averaging maps the mirrored photo's raw outputs back with MIRROR_RAW: exactly the mirror image (and
    the keep-the-frame logit, the sixth, is the same for a photo and its mirror)."""
    rng = np.random.default_rng(3)
    raw = tf.constant(rng.normal(0, 2, (500, 5)), tf.float64)
    aspects = tf.constant(np.exp(rng.uniform(np.log(0.4), np.log(2.5), 500)), tf.float64)
    assert crop_tf.MIRROR_RAW[5] == 1.0
    mirrored = crop_tf.bounded_crop(raw * tf.constant(crop_tf.MIRROR_RAW[:5], tf.float64), aspects)
    np.testing.assert_allclose(
        crop_tf.flip_horizontal(crop_tf.bounded_crop(raw, aspects), aspects).numpy(), mirrored.numpy(), atol=1e-9
    )


@pytest.mark.parametrize(
    "crop_and_keep, expected",
    [
        ((0.1, 0.2, 0.8, 0.9, 3.0, 0.5), (0.0, 0.0, 1.0, 1.0, 0.0)),  # keep > 0: exactly the full frame
        ((0.1, 0.2, 0.8, 0.9, 3.0, -0.5), (0.1, 0.2, 0.8, 0.9, 3.0)),  # else the crop, unchanged
        ((0.1, 0.2, 0.8, 0.9, 3.0), (0.1, 0.2, 0.8, 0.9, 3.0)),  # a model saved without the logit
    ],
)
def test_kept_or_cropped(crop_and_keep, expected):
    assert crop_tf.kept_or_cropped(tf.constant([crop_and_keep], tf.float64)).numpy().tolist() == [list(expected)]


def test_is_full_frame_allows_labels_rounding_only():
    crops = tf.constant(
        [[0, 0, 1, 1, 0], [1e-6, 0, 1 - 1e-6, 1, 1e-6], [0.001, 0, 1, 1, 0], [0, 0, 1, 1, 0.01]], tf.float64
    )
    assert crop_tf.is_full_frame(crops).numpy().tolist() == [True, True, False, False]
