"""`cropstyle evaluate`: the metrics on hand-computed cases, and the baselines."""

import math

import numpy as np
import pytest

from cropstyle.extractor.geometry import IDENTITY, Crop, RotatedRect, crop_problem, rect_to_crop
from cropstyle.samples.dataset import write_dataset
from cropstyle.training import baselines
from cropstyle.training.metrics import bde, crop_metrics, summarise


def test_identical_crops():
    crop = Crop(0.1, 0.2, 0.8, 0.9, 3.0)
    assert crop_metrics(crop, crop, 300, 200) == pytest.approx({"iou": 1.0, "bde": 0.0, "angle_ae": 0.0})


def test_upright_half_frame():
    # The left half of a 200×100 frame against the whole frame: IoU 1/2, only the right edge moves (by 1/2).
    got = crop_metrics(Crop(0, 0, 0.5, 1), IDENTITY, 200, 100)
    assert got == pytest.approx({"iou": 0.5, "bde": (0 + 0 + 0.5 + 0) / 4, "angle_ae": 0.0})


def test_disjoint_halves():
    got = crop_metrics(Crop(0, 0, 0.5, 1), Crop(0.5, 0, 1, 1), 120, 80)
    assert got == pytest.approx({"iou": 0.0, "bde": (0.5 + 0 + 0.5 + 0) / 4, "angle_ae": 0.0})


def test_bde_is_the_usual_edge_error_for_upright_crops():
    a, b = Crop(0.1, 0.2, 0.7, 0.9), Crop(0.15, 0.1, 0.6, 0.95)
    assert bde(a, b, 640, 480) == pytest.approx((0.05 + 0.1 + 0.1 + 0.05) / 4)


def test_square_turned_45_degrees():
    # A centred 50×50 square in a 100×100 frame and the same square turned 45°: their intersection is a
    # regular octagon of area 2(√2−1)·s², so IoU = 2(√2−1) / (2 − 2(√2−1)) = 1/√2. Each corner moves by
    # (25, 25 − 25√2·…) : |dx|, |dy| are 25 and 25(√2 − 1) pixels in some order, so BDE = (0.25 + 0.10355) / 2.
    square = Crop(0.25, 0.25, 0.75, 0.75, 0.0)
    turned = rect_to_crop(RotatedRect(50, 50, 50, 50, 45.0), 100, 100)
    got = crop_metrics(turned, square, 100, 100)
    assert got["iou"] == pytest.approx(1 / math.sqrt(2), abs=1e-9)
    assert got["bde"] == pytest.approx((0.25 + 0.25 * (math.sqrt(2) - 1)) / 2, abs=1e-9)
    assert got["angle_ae"] == pytest.approx(45.0)


def test_summarise_means():
    per_photo = [{"iou": 1.0, "bde": 0.0, "angle_ae": 2.0}, {"iou": 0.5, "bde": 0.2, "angle_ae": 0.0}]
    assert summarise(per_photo) == pytest.approx({"iou": 0.75, "bde": 0.1, "angle_mae": 1.0})


def test_random_baseline_is_seeded_and_plausible():
    turned = rect_to_crop(RotatedRect(150, 100, 200, 120, 2.0), 300, 200)
    train_crops = [[0.1, 0.1, 0.9, 0.9, 0.0], list(turned.values()), [0.2, 0.0, 1.0, 0.7, 0.0]]
    sizes = [(300.0, 200.0)] * 20
    first, again = baselines.random(sizes, train_crops), baselines.random(sizes, train_crops)
    assert first == again and len(set(first)) > 1
    assert all(crop_problem(c, w, h) is None for c, (w, h) in zip(first, sizes))


def test_saliency_is_libvips_smartcrop_at_a_given_crops_size(tmp_path):
    import pyvips

    dataset = write_dataset(tmp_path / "data", 3, seed=9, long_side=120)
    for path in sorted((dataset / "images").glob("*.jpg")):
        image = pyvips.Image.new_from_file(str(path))
        left, top, w, h, iw, ih = baselines.smartcrop_box(path, image.width * 0.6, image.height * 0.5)
        expected, _ = image.smartcrop(w, h, interesting="attention", attention_x=True, attention_y=True)
        assert (w, h) == (round(image.width * 0.6), round(image.height * 0.5))
        assert np.array_equal(
            np.ndarray(buffer=image.crop(left, top, w, h).write_to_memory(), dtype=np.uint8, shape=(h, w, 3)),
            np.ndarray(buffer=expected.write_to_memory(), dtype=np.uint8, shape=(h, w, 3)),
        )
        # At a crop's size (the mean training crop's, or the true one's for the reference): a 0.6×0.5 upright crop
        # of a frame ten times the image's size.
        true = Crop(0.2, 0.25, 0.8, 0.75, 0.0)
        crop = baselines.saliency(path, true, iw * 10, ih * 10)
        assert crop.angle == 0 and crop_problem(crop, iw, ih) is None
        assert (crop.right - crop.left) * iw == pytest.approx(0.6 * iw, abs=1)
        assert (crop.bottom - crop.top) * ih == pytest.approx(0.5 * ih, abs=1)
