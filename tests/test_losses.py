"""training/losses.py: the crop loss on exact values, and the property that made Huber the default."""

import numpy as np
import pytest
import tensorflow as tf

from cropstyle.training.losses import HUBER_DELTA, CropLoss

FULL = (0.0, 0.0, 1.0, 1.0, 0.0)
INNER = (0.1, 0.1, 0.9, 0.9, 0.0)


@pytest.mark.parametrize(
    "true, pred, value_loss, expected",
    [
        # 1 % off on the left edge: IoU 0.99, so 0.01 from the IoU term, plus the mean over four corners of d(0.01).
        (FULL, (0.01, 0.0, 1.0, 1.0, 0.0), "huber", 0.01 + 0.5 * 0.01**2 / HUBER_DELTA / 4),
        (FULL, (0.01, 0.0, 1.0, 1.0, 0.0), "l1", 0.01 + 0.01 / 4),
        (FULL, (0.01, 0.0, 1.0, 1.0, 0.0), "mse", 0.01 + 0.01**2 / 4),
        # 4.5° off, nothing else: the corner boxes agree, the angle term alone counts (4.5 / 45 = 0.1).
        (INNER, (0.1, 0.1, 0.9, 0.9, 4.5), "huber", 0.1 - HUBER_DELTA / 2),
        (INNER, (0.1, 0.1, 0.9, 0.9, 4.5), "l1", 0.1),
        (INNER, (0.1, 0.1, 0.9, 0.9, 4.5), "mse", 0.01),
        (INNER, INNER, "huber", 0.0),
    ],
)
def test_crop_loss_values(true, pred, value_loss, expected):
    loss = CropLoss(value_loss=value_loss).call(tf.constant([true]), tf.constant([pred]))
    np.testing.assert_allclose(loss.numpy(), [expected], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "true, pred, expected",
    [
        # Left uncropped: only the keep-the-frame logit counts (log(1 + e^-z)), however far off the crop is.
        (FULL, (*INNER, 2.0), np.log1p(np.exp(-2.0))),
        (FULL, (0.3, 0.0, 0.7, 1.0, 20.0, -1.0), np.log1p(np.exp(1.0))),
        # Cropped: the crop's loss (here 4.5° off: 0.1 − δ/2) plus log(1 + e^z).
        (INNER, (0.1, 0.1, 0.9, 0.9, 4.5, -3.0), 0.1 - HUBER_DELTA / 2 + np.log1p(np.exp(-3.0))),
        (INNER, (*INNER, 0.0), np.log(2.0)),
    ],
)
def test_keep_the_frame_term(true, pred, expected):
    loss = CropLoss().call(tf.constant([true]), tf.constant([pred]))
    np.testing.assert_allclose(loss.numpy(), [expected], rtol=1e-5)


def _angle_gradient(value_loss: str, error_degrees: float) -> float:
    pred = tf.Variable([[0.1, 0.1, 0.9, 0.9, error_degrees]])
    with tf.GradientTape() as tape:
        loss = CropLoss(value_loss=value_loss).call(tf.constant([INNER]), pred)
    return float(tape.gradient(loss, pred).numpy()[0, 4])


def test_huber_pull_fades_near_the_answer_and_l1_does_not():
    """A photo whose answer is level pulls a prediction 0.45° off with half the force of one far off under
    Huber; under |x| with the full force, which pins a mostly-level photographer's model at 0° (losses.py)."""
    near, far = HUBER_DELTA * 45 / 2, 10.0
    assert _angle_gradient("huber", near) == pytest.approx(0.5 / 45, rel=1e-4)
    assert _angle_gradient("huber", far) == pytest.approx(1 / 45, rel=1e-4)
    assert _angle_gradient("l1", near) == pytest.approx(1 / 45, rel=1e-4)


def test_unknown_value_loss_is_refused():
    with pytest.raises(ValueError, match=r"^value loss must be one of \('huber', 'l1', 'mse'\), not 'l2'$"):
        CropLoss(value_loss="l2")
