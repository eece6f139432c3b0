"""Evaluation metrics of one predicted crop against the photographer's, through extractor.geometry.

iou        exact intersection over union of the two rotated crops in displayed pixels (geometry.iou).
bde        boundary displacement error: the mean of the 8 absolute coordinate differences between the two
           crops' corresponding corners (top-left, top-right, bottom-right, bottom-left of each crop's own
           frame), x as a fraction of the displayed width, y of the height. For upright crops this is the
           usual BDE, (|Δleft| + |Δtop| + |Δright| + |Δbottom|) / 4.
angle_ae   absolute difference of the angles, degrees.
"""

from __future__ import annotations

import numpy as np

from cropstyle.extractor.geometry import Crop, crop_corners, iou


def bde(predicted: Crop, true: Crop, width: float, height: float) -> float:
    difference = (crop_corners(predicted, width, height) - crop_corners(true, width, height)) / np.array(
        [width, height]
    )
    return float(np.abs(difference).mean())


def crop_metrics(predicted: Crop, true: Crop, width: float, height: float) -> dict[str, float]:
    return {
        "iou": iou(predicted, true, width, height),
        "bde": bde(predicted, true, width, height),
        "angle_ae": abs(predicted.angle - true.angle),
    }


def summarise(per_photo: list[dict[str, float]]) -> dict[str, float]:
    """Means over photos, as metrics.json reports them: iou, bde, angle_mae."""
    return {
        "iou": float(np.mean([m["iou"] for m in per_photo])),
        "bde": float(np.mean([m["bde"] for m in per_photo])),
        "angle_mae": float(np.mean([m["angle_ae"] for m in per_photo])),
    }


def exact_ious(predicted: np.ndarray, true: np.ndarray, widths, heights) -> np.ndarray:
    """Per photo: iou of predicted[i] (its first 5 values, a crop) and true[i] on a widths[i]×heights[i] photo."""
    return np.array(
        [
            iou(Crop(*map(float, p[:5])), Crop(*map(float, t)), float(w), float(h))
            for p, t, w, h in zip(predicted, true, widths, heights)
        ]
    )
