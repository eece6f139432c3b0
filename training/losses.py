"""The training loss and metric.

loss = iou_weight · (1 − corner-box IoU)            shape and overlap (crop_tf.corner_box_iou)
     + value_weight · mean over left, top, right, bottom of d(pred, true)   fractions of the frame
     + value_weight · d(pred angle / 45, true angle / 45)                   the angle, on the same scale
where d is Huber's ("huber", the default: x²/2δ within δ = HUBER_DELTA of the answer, |x| − δ/2 beyond), |x|
("l1") or x² ("mse"). The IoU term rewards overlap the way evaluation measures it and does not fade for small
crops; the value term gives a gradient when boxes do not overlap and carries the angle, which the corner-box
IoU does not see.

With the keep-the-frame logit z (training/model.py keep_decision): keep_weight · the binary cross-entropy of z on
"the label is the full frame" for every photo, plus the crop's loss above for the cropped photos only: the crop
is learnt from the photos that were cropped, whether to crop from all.

Huber, not |x|: |x| pulls with the same force however close the answer, so the most common answer (a level,
uncropped photo) traps the model; within δ Huber's pull fades, beyond it is |x|, robust to odd crops as x² is
not. docs/results.md has the measurements.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from cropstyle.training import crop_tf

VALUE_LOSSES = ("huber", "l1", "mse")
HUBER_DELTA = 0.02  # fractions of the frame; for the angle, 0.02 · 45° = 0.9°


@keras.saving.register_keras_serializable(package="cropstyle")
class CropLoss(keras.losses.Loss):
    def __init__(
        self,
        value_loss: str = "huber",
        iou_weight: float = 1.0,
        value_weight: float = 1.0,
        keep_weight: float = 1.0,
        name: str = "crop_loss",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if value_loss not in VALUE_LOSSES:
            raise ValueError(f"value loss must be one of {VALUE_LOSSES}, not {value_loss!r}")
        self.value_loss, self.iou_weight, self.value_weight = value_loss, iou_weight, value_weight
        self.keep_weight = keep_weight

    def call(self, y_true, y_pred):
        y_true, y_pred = tf.cast(y_true, tf.float32), tf.cast(y_pred, tf.float32)
        crop_loss = self.crop_loss(y_true, y_pred[..., :5])
        if y_pred.shape[-1] == 5:
            return crop_loss
        # With the keep-the-frame logit: the crop is learnt from the photos that were cropped, the logit from all.
        kept = tf.cast(crop_tf.is_full_frame(y_true), tf.float32)
        keep_loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=kept, logits=y_pred[..., 5])
        return (1.0 - kept) * crop_loss + self.keep_weight * keep_loss

    def crop_loss(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        """The crop's loss [...] (the module docstring's first three terms) for crops [..., 5]."""
        scale = tf.constant([1.0, 1.0, 1.0, 1.0, 1.0 / crop_tf.MAX_ANGLE])
        diff = (y_pred - y_true) * scale
        if self.value_loss == "huber":
            a = tf.abs(diff)
            d = tf.where(a < HUBER_DELTA, 0.5 * tf.square(a) / HUBER_DELTA, a - 0.5 * HUBER_DELTA)
        else:
            d = tf.abs(diff) if self.value_loss == "l1" else tf.square(diff)
        values = tf.reduce_mean(d[..., :4], axis=-1) + d[..., 4]
        return self.iou_weight * (1.0 - crop_tf.corner_box_iou(y_true, y_pred)) + self.value_weight * values

    def get_config(self):
        return {
            **super().get_config(),
            "value_loss": self.value_loss,
            "iou_weight": self.iou_weight,
            "value_weight": self.value_weight,
            "keep_weight": self.keep_weight,
        }


@keras.saving.register_keras_serializable(package="cropstyle")
class CornerBoxIoU(keras.metrics.MeanMetricWrapper):
    """Mean corner-box IoU (crop_tf.corner_box_iou) for the progress lines; RUN's val_crop_iou is exact."""

    def __init__(self, name: str = "iou", **kwargs):
        super().__init__(fn=_iou, name=name, **kwargs)

    def get_config(self):
        return {"name": self.name}


def _iou(y_true, y_pred):
    return crop_tf.corner_box_iou(tf.cast(y_true, tf.float32), crop_tf.kept_or_cropped(tf.cast(y_pred, tf.float32)))
