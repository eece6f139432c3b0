"""training/confidence.py's arithmetic on known numbers: the calibration, AUROC, quartiles and their figures. The
confidence inside trained models (the graph's features, calibrate_run, predict, apply, the page) is tested with the
models in test_training.py, test_predict.py, test_apply.py and test_web_page.py."""

from __future__ import annotations

import numpy as np
import pytest

from cropstyle.training.confidence import (
    FEATURES,
    FEATURES_BEFORE,
    RIDGE_PHOTOS,
    Calibration,
    auroc,
    figures,
    fit_calibration,
    quartiles,
    summary,
)


@pytest.mark.parametrize(
    "good, score, expected",
    [
        ([True, True, False, False], [0.9, 0.8, 0.2, 0.1], 1.0),  # every good photo scores above every bad one
        ([True, True, False, False], [0.1, 0.2, 0.8, 0.9], 0.0),
        ([True, False, True, False], [0.9, 0.8, 0.2, 0.1], 0.75),  # 3 of the 4 good–bad pairs in order
        ([True, False], [0.5, 0.5], 0.5),  # a tie counts half
        ([True, True, False], [0.3, 0.7, 0.5], 0.5),
    ],
)
def test_auroc(good, score, expected):
    assert auroc(np.array(good), np.array(score)) == pytest.approx(expected)


def test_auroc_needs_both_groups():
    assert auroc(np.array([True, True]), np.array([0.1, 0.2])) is None


def test_quartiles_by_rank():
    assert quartiles(np.array([0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4])).tolist() == [3, 0, 2, 1, 2, 0, 3, 1]


def test_a_constant_feature_gets_no_slope_and_the_mean_is_kept():
    rng = np.random.default_rng(0)
    agreement = rng.uniform(0.5, 1.0, 200)
    ious = 0.2 + 0.6 * agreement  # exactly linear in the agreement
    rounding = 1 + rng.normal(0, 2e-6, 200)  # a constant as float32 arithmetic gives it: no signal, no slope
    calibration = fit_calibration(np.column_stack([agreement, rounding]), ious)
    assert calibration.slopes[1] == 0.0 and calibration.fitted_on == 200
    # The ridge shrinks the slope by n / (n + RIDGE_PHOTOS) in standardised units; the mean IoU is met exactly.
    assert calibration.slopes[0] == pytest.approx(0.6 * 200 / (200 + RIDGE_PHOTOS))
    assert calibration.validation["expected_iou"] == pytest.approx(ious.mean())
    assert calibration.unsure_below == pytest.approx(
        np.quantile(calibration.expected(np.column_stack([agreement, np.zeros(200)])), 0.25)
    )
    assert calibration.validation["auroc_good"] == pytest.approx(1.0)


def test_few_photos_give_their_mean_for_every_photo():
    # Three validation photos: the shrinkage leaves a fraction of a slope; one photo: no slope at all.
    few = fit_calibration(np.array([[0.6, 0.0], [0.8, 0.0], [1.0, 0.0]]), np.array([0.5, 0.7, 0.9]))
    assert few.slopes[0] == pytest.approx(1.0 * 3 / (3 + RIDGE_PHOTOS)) and few.intercept == pytest.approx(
        0.7 - few.slopes[0] * 0.8
    )
    one = fit_calibration(np.array([[0.7, 0.2]]), np.array([0.65]))
    assert one.slopes == [0.0, 0.0] and one.intercept == pytest.approx(0.65) and one.unsure_below == pytest.approx(0.65)
    with pytest.raises(ValueError, match="no validation photos"):
        fit_calibration(np.zeros((0, 2)), np.zeros(0))


def test_expected_is_clipped_to_iou_range():
    calibration = Calibration(intercept=-0.5, slopes=[2.0, 0.0], unsure_below=0.5, fitted_on=10, validation={})
    assert calibration.expected(np.array([[0.1, 0], [0.5, 0], [0.9, 0]])).tolist() == pytest.approx([0.0, 0.5, 1.0])


def test_figures_by_quartile():
    expected = np.array([0.2, 0.4, 0.6, 0.8, 0.3, 0.5, 0.7, 0.9])
    ious = np.array([0.1, 0.5, 0.6, 0.9, 0.3, 0.5, 0.8, 0.8])
    result = figures(expected, ious)
    assert [part["n"] for part in result["by_quartile"]] == [2, 2, 2, 2]
    assert [part["expected_iou"] for part in result["by_quartile"]] == pytest.approx([0.25, 0.45, 0.65, 0.85])
    assert [part["iou"] for part in result["by_quartile"]] == pytest.approx([0.2, 0.5, 0.7, 0.85])
    assert result["lowest_quarter_gap"] == pytest.approx((0.5 + 0.7 + 0.85) / 3 - 0.2)
    # IoU ≥ 0.7: 0.9, 0.8, 0.8 (expected 0.8, 0.7, 0.9) against the rest (at most 0.6): all in order.
    assert result["auroc_good"] == pytest.approx(1.0)
    assert result["iou_std"] == pytest.approx(ious.std())


def test_a_run_from_another_feature_set_is_refused():
    stored = Calibration(0.5, [0.1, 0.0, 0.2], 0.4, 10, {}).as_dict()
    assert stored["features"] == list(FEATURES) and Calibration.from_dict(stored).slopes == [0.1, 0.0, 0.2]
    # A RUN calibrated before keep_probability: its two features, read as they are.
    before = Calibration.from_dict({**stored, "features": list(FEATURES_BEFORE), "slopes": [0.1, 0.0]})
    assert before.features == FEATURES_BEFORE == ("agreement", "keep") and before.as_dict()["features"] == list(
        FEATURES_BEFORE
    )
    assert before.expected(np.array([[0.5, 0.3]])).tolist() == pytest.approx([0.55])
    for names, slopes in ((["agreement", "keep", "size"], [0.1, 0.0, 0.2]), (list(FEATURES), [0.1, 0.0])):
        with pytest.raises(ValueError, match=r"the RUN's confidence uses features \['agreement', 'keep', '"):
            Calibration.from_dict({**stored, "features": names, "slopes": slopes})


def test_three_features_are_fitted_as_two_are():
    # keep_probability tells the photos apart where the other two do not: its slope carries the line.
    p = np.repeat([0.0, 1.0], 50)
    ious = 0.8 + 0.2 * p
    calibration = fit_calibration(np.column_stack([np.ones(100), 4 * p * (1 - p), p]), ious)
    assert calibration.slopes[:2] == [0.0, 0.0] and calibration.slopes[2] == pytest.approx(
        0.2 * 100 / (100 + RIDGE_PHOTOS)
    )
    assert calibration.features == FEATURES and calibration.validation["lowest_quarter_gap"] == pytest.approx(
        0.2 * 2 / 3
    )


def test_a_confidence_that_tells_nothing_apart_says_so():
    # One model without the decision: agreement 1, keep and p 0 on every photo. Its quartiles would be ties.
    alike = fit_calibration(np.tile([1.0, 0.0, 0.0], (8, 1)), np.linspace(0.5, 0.9, 8))
    assert alike.constant and alike.slopes == [0.0, 0.0, 0.0]
    assert summary(alike) == (
        "confidence: 0.700 for every photo (the mean IoU of 8 validation photos); "
        "one model (or one member kept) and no keep-the-frame decision: nothing in it tells its photos apart"
    )
    varied = fit_calibration(
        np.column_stack([np.linspace(0.6, 1.0, 8), np.zeros(8), np.zeros(8)]), np.linspace(0.5, 0.9, 8)
    )
    assert not varied.constant and summary(varied).startswith(
        "confidence calibrated on 8 validation photos: expected IoU 0.700"
    )
