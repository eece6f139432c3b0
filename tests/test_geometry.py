"""Properties and exact cases of the crop geometry (extractor/geometry.py)."""

import math
from dataclasses import astuple

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cropstyle.extractor.geometry import (
    Crop,
    RotatedRect,
    aspect_alternatives,
    compose_orientations,
    covering_with_aspect,
    crop_corners,
    crop_problem,
    crop_to_rect,
    displayed_size,
    fit_in_frame,
    flip_horizontal,
    inverse_orientation,
    iou,
    largest_with_aspect,
    rect_to_crop,
    same_angle_iou,
    to_displayed,
    to_stored,
    with_aspect,
)

sizes = st.tuples(st.integers(16, 8000), st.integers(16, 8000))
orientations = st.integers(1, 8)


@st.composite
def crops_in_images(draw):
    """A valid crop of a random image: a rotated rectangle that fits inside it."""
    width, height = draw(sizes)
    angle = draw(st.floats(-45, 45))
    t = math.radians(abs(angle))
    # The box of a w×h rectangle turned by t is (w cos t + h sin t) × (w sin t + h cos t).
    w = draw(st.floats(0.05, 1.0)) * width
    h = draw(st.floats(0.05, 1.0)) * height
    scale = min(1.0, width / (w * math.cos(t) + h * math.sin(t)), height / (w * math.sin(t) + h * math.cos(t)))
    w, h = w * scale, h * scale
    assume(w >= 8 and h >= 8)  # a crop under a pixel (8 px at 1:5) is degenerate by definition
    box_w, box_h = w * math.cos(t) + h * math.sin(t), w * math.sin(t) + h * math.cos(t)
    cx = box_w / 2 + draw(st.floats(0, 1)) * (width - box_w)
    cy = box_h / 2 + draw(st.floats(0, 1)) * (height - box_h)
    return rect_to_crop(RotatedRect(cx, cy, w, h, angle), width, height), width, height


def assert_same_crop(a: Crop, b: Crop, tol: float = 1e-9) -> None:
    assert a.values() == pytest.approx(b.values(), abs=tol)


def test_lightroom_export_size_check():
    """The reference's check: an LR 15 crop on a 6720×4480 raw exported as 6237×4158."""
    rect = crop_to_rect(Crop(left=0.020308, top=0.073108, right=0.979692, bottom=0.926892, angle=-3.01), 6720, 4480)
    assert rect.width == pytest.approx(6237, abs=1)
    assert rect.height == pytest.approx(4158, abs=1)


@given(crops_in_images(), orientations)
@settings(max_examples=300)
def test_stored_displayed_stored_is_identity(case, orientation):
    crop, width, height = case
    displayed = to_displayed(crop, width, height, orientation)
    dw, dh = displayed_size(width, height, orientation)
    assert_same_crop(to_stored(displayed, dw, dh, orientation), crop)


@given(crops_in_images(), orientations)
def test_orientation_preserves_pixel_size_and_validity(case, orientation):
    crop, width, height = case
    displayed = to_displayed(crop, width, height, orientation)
    dw, dh = displayed_size(width, height, orientation)
    before, after = crop_to_rect(crop, width, height), crop_to_rect(displayed, dw, dh)
    expected = (before.height, before.width) if orientation >= 5 else (before.width, before.height)
    assert (after.width, after.height) == pytest.approx(expected, rel=1e-9)
    assert after.angle == (-crop.angle if orientation in (2, 4, 5, 7) else crop.angle)
    assert crop_problem(displayed, dw, dh) is None


@given(crops_in_images())
def test_flip_twice_is_identity(case):
    crop, width, height = case
    flipped = flip_horizontal(crop, width, height)
    assert flipped.angle == -crop.angle
    assert_same_crop(flip_horizontal(flipped, width, height), crop)


@given(crops_in_images(), crops_in_images())
def test_iou_symmetric_and_self_is_one(a, b):
    crop_a, width, height = a
    crop_b = b[0]
    assert iou(crop_a, crop_a, width, height) == pytest.approx(1.0)
    assert iou(crop_a, crop_b, width, height) == pytest.approx(iou(crop_b, crop_a, width, height))
    assert 0.0 <= iou(crop_a, crop_b, width, height) <= 1.0 + 1e-12


@given(crops_in_images(), st.floats(0.2, 5.0))
def test_largest_with_aspect_fits_inside(case, aspect):
    crop, width, height = case
    inner = largest_with_aspect(crop, aspect, width, height)
    rect, outer = crop_to_rect(inner, width, height), crop_to_rect(crop, width, height)
    assert rect.width / rect.height == pytest.approx(aspect)
    assert rect.width <= outer.width + 1e-6 and rect.height <= outer.height + 1e-6
    assert max(rect.width - outer.width, rect.height - outer.height) == pytest.approx(0, abs=1e-6)
    assert crop_problem(inner, width, height) is None


# Exact cases, worked by hand: a 400×200 image, crop TL (40, 20), BR (240, 120), no angle.
AXIS_CROP = Crop(left=0.1, top=0.1, right=0.6, bottom=0.6)


@pytest.mark.parametrize(
    "orientation, expected",
    [
        (1, Crop(0.1, 0.1, 0.6, 0.6)),
        (2, Crop(0.4, 0.1, 0.9, 0.6)),  # mirrored: x → 400 − x
        (3, Crop(0.4, 0.4, 0.9, 0.9)),
        (4, Crop(0.1, 0.4, 0.6, 0.9)),
        (5, Crop(0.1, 0.1, 0.6, 0.6)),  # transposed: (x, y) → (y, x) in a 200×400 frame
        (6, Crop(0.4, 0.1, 0.9, 0.6)),  # 90° clockwise: (x, y) → (200 − y, x)
        (7, Crop(0.4, 0.4, 0.9, 0.9)),
        (8, Crop(0.1, 0.4, 0.6, 0.9)),  # 90° counter-clockwise: (x, y) → (y, 400 − x)
    ],
)
def test_axis_aligned_crop_in_every_orientation(orientation, expected):
    assert_same_crop(to_displayed(AXIS_CROP, 400, 200, orientation), expected)


def test_rotated_crop_rotated_90_keeps_angle_and_swaps_corners():
    # A 100×50 crop turned 10° in a 400×200 image; displayed turned 90° clockwise (orientation 6).
    stored = rect_to_crop(RotatedRect(200, 100, 100, 50, 10), 400, 200)
    displayed = to_displayed(stored, 400, 200, 6)
    rect = crop_to_rect(displayed, 200, 400)
    assert (rect.cx, rect.cy, rect.width, rect.height, rect.angle) == pytest.approx((100, 200, 50, 100, 10))
    # The displayed top-left corner of the content is the stored bottom-left corner, rotated.
    bl = crop_corners(stored, 400, 200)[3]
    assert (displayed.left * 200, displayed.top * 400) == pytest.approx((200 - bl[1], bl[0]))


def test_iou_hand_computed():
    a = Crop(0.0, 0.0, 0.5, 1.0)
    b = Crop(0.25, 0.0, 0.75, 1.0)
    assert iou(a, b, 100, 100) == pytest.approx(25 / 75)
    assert iou(a, Crop(0.5, 0.0, 1.0, 1.0), 100, 100) == 0.0
    # A square turned 45° inside the full frame of the same centre: area 0.5 of the frame.
    diamond = rect_to_crop(RotatedRect(50, 50, 50 * math.sqrt(2), 50 * math.sqrt(2), 45), 100, 100)
    assert iou(diamond, Crop(0, 0, 1, 1), 100, 100) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "crop, reason",
    [
        (Crop(0.1, 0.1, 0.9, 0.9, 0), None),
        (Crop(float("nan"), 0.1, 0.9, 0.9), "crop values are not finite numbers"),
        (Crop(0.1, 0.1, float("inf"), 0.9), "crop values are not finite numbers"),
        (Crop(0.1, 0.1, 0.9, 0.9, 46), "crop angle 46° is beyond ±45°"),
        (Crop(0.9, 0.1, 0.1, 0.9), "crop is inverted (its corners are swapped)"),
        (Crop(0.5, 0.1, 0.5, 0.9), "crop is degenerate (less than a pixel wide or high)"),
        (Crop(-0.2, 0.1, 0.9, 0.9), "crop reaches outside the image"),
        (Crop(0.0, 0.0, 1.0, 1.0, 10), "crop reaches outside the image"),
        (Crop(0.0, 0.0, 1.0005, 1.0), None),  # within Lightroom's rounding
    ],
)
def test_crop_problem(crop, reason):
    assert crop_problem(crop, 1000, 800) == reason


def test_bad_orientation_and_aspect_are_refused():
    with pytest.raises(ValueError, match="EXIF orientation must be 1..8, not 9"):
        to_displayed(AXIS_CROP, 400, 200, 9)
    with pytest.raises(ValueError, match="aspect ratio must be a positive number, not 0"):
        largest_with_aspect(AXIS_CROP, 0, 400, 200)


@pytest.mark.parametrize("first", range(1, 9))
@pytest.mark.parametrize("second", range(1, 9))
def test_composed_orientations_reorient_as_the_two_in_turn(first, second):
    crop, width, height = Crop(0.1, 0.2, 0.7, 0.9, 5.0), 300, 200
    shown = displayed_size(width, height, first)
    in_turn = to_displayed(to_displayed(crop, width, height, first), *shown, second)
    at_once = to_displayed(crop, width, height, compose_orientations(first, second))
    assert list(at_once.values()) == pytest.approx(list(in_turn.values()), abs=1e-12)
    assert compose_orientations(first, inverse_orientation(first)) == 1


# A 400×200 image, the crop 200×100 px centred at (200, 100): exact boxes of each aspect rule.
CENTRED = Crop(0.25, 0.25, 0.75, 0.75, 0.0)


@pytest.mark.parametrize(
    "rule, aspect, box",
    [
        # same centre and area (20,000 px²) at 1:1: 141.42 px square
        (
            with_aspect,
            1.0,
            (200 - 50 * math.sqrt(2), 100 - 50 * math.sqrt(2), 200 + 50 * math.sqrt(2), 100 + 50 * math.sqrt(2)),
        ),
        # at 1:4 the same area is 70.7×282.8 px, taller than the frame: shrunk to 50×200
        (with_aspect, 0.25, (175, 0, 225, 200)),
        (covering_with_aspect, 1.0, (100, 0, 300, 200)),  # the smallest square holding it: 200×200, just fits
        (covering_with_aspect, 4.0, (0, 50, 400, 150)),  # 400×100
        (largest_with_aspect, 1.0, (150, 50, 250, 150)),
    ],
)
def test_aspect_rules_exact_boxes(rule, aspect, box):
    crop = rule(CENTRED, aspect, 400, 200)
    assert (crop.left * 400, crop.top * 200, crop.right * 400, crop.bottom * 200) == pytest.approx(box, abs=1e-9)


def test_fit_in_frame_moves_then_shrinks():
    # Moved the least: a 100×50 box centred 20 px from the left edge slides in.
    assert fit_in_frame(RotatedRect(20, 100, 100, 50, 0), 400, 200) == RotatedRect(50, 100, 100, 50, 0)
    # Turned 90° (its bounding box 50×100) it needs no move; 600×100 must shrink to 400×66.67 first.
    assert fit_in_frame(RotatedRect(30, 100, 100, 50, 90), 400, 200).cx == pytest.approx(30)
    shrunk = fit_in_frame(RotatedRect(200, 100, 600, 100, 0), 400, 200)
    assert astuple(shrunk) == pytest.approx((200, 100, 400, 400 / 6, 0))


def test_aspect_alternatives_are_distinct_and_ranked_by_overlap_with_the_first():
    ranked = aspect_alternatives(CENTRED, 1.0, 400, 200)
    assert [crop for crop, _ in ranked] == [
        with_aspect(CENTRED, 1.0, 400, 200),
        largest_with_aspect(CENTRED, 1.0, 400, 200),  # overlap 10,000 / 20,000 = 0.5
        covering_with_aspect(CENTRED, 1.0, 400, 200),  # 20,000 / 40,000 = 0.5, after the inner one (stable order)
    ]
    assert [overlap for _, overlap in ranked] == pytest.approx([1.0, 0.5, 0.5])
    # A crop already 1:1: the three rules give the same square, one alternative.
    square = Crop(0.25, 0.25, 0.5, 0.75, 0.0)  # 100×100 px
    assert aspect_alternatives(square, 1.0, 400, 200) == [(square, 1.0)]


@given(crops_in_images(), st.floats(0.2, 5.0))
def test_aspect_alternatives_are_valid_crops_of_that_ratio(case, aspect):
    crop, width, height = case
    for alternative, overlap in aspect_alternatives(crop, aspect, width, height):
        rect = crop_to_rect(alternative, width, height)
        assert rect.width / rect.height == pytest.approx(aspect) and rect.angle == crop.angle
        assert crop_problem(alternative, width, height) is None
        first = aspect_alternatives(crop, aspect, width, height)[0][0]
        assert overlap == pytest.approx(same_angle_iou(alternative, first, width, height))
        assert overlap == pytest.approx(iou(alternative, first, width, height), abs=1e-6)  # exact, as the polygons
