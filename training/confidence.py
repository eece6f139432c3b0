"""How sure the model is of each crop: its expected IoU with the photographer's own crop, per photo.

The model computes three features of each photo alongside its crop (ConfidenceFeatures, in the graph, so that
predict, apply, evaluate and the browser all read the same number):

  agreement         how much the members agree: the mean IoU, over pairs of members, of their crops as upright
                    boxes (1 for one model)
  keep              how undecided the keep-the-frame decision is: 4·p·(1 − p), p its probability (0 without the
                    decision)
  keep_probability  p itself (0 without the decision): a photo left uncropped scores 1 or misses a straightening,
                    a cropped one scores what the crop is worth, so which way the decision went says much

`train` calibrates them on the validation photos (fit_calibration): a least-squares line from the features to the
exact IoU each photo got, its slopes shrunk towards zero by a few pseudo-photos (few validation photos give their
mean IoU for every photo, not a line fitted to noise), clipped to [0, 1]. The result is a number a user can read
as "expected IoU with my own crop"; its figures on the validation photos (by quartile, AUROC for "IoU at least
GOOD_IOU") are kept beside the coefficients in RUN/config.json's `confidence` and in the web model's metadata.
Photos whose expected IoU is below `unsure_below` (the validation photos' lower quartile) are called unsure. One
model without the keep-the-frame decision has nothing to tell photos apart: its confidence is the validation
photos' mean IoU for every photo. RUNs calibrated before keep_probability keep their two features: their
Calibration says which, and their saved models compute those. Tried instead (docs/results.md): the crop's size as
another feature (it lowered the ranking on FCDB's and `thirds`' test photos), and the members' pairwise IoU of their
exact crops (it ranked alike but cost the browser 5 ms a photo, more than the rest of the model).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
import numpy as np
import tensorflow as tf

FEATURES = ("agreement", "keep", "keep_probability")
FEATURES_BEFORE = FEATURES[:2]  # what RUNs calibrated before keep_probability use, and what their models compute
GOOD_IOU = 0.7  # "a crop the photographer would keep": what AUROC figures are for
RIDGE_PHOTOS = 10.0  # slope shrinkage, in pseudo-photos of standardised features
VARIES = 1e-4  # a feature's spread below which it is constant: float32's rounding is not a signal
UNSURE_QUANTILE = 0.25  # photos below the validation photos' lower quartile of expected IoU are "unsure"
CONSTANT_WHY = "one model (or one member kept) and no keep-the-frame decision: nothing in it tells its photos apart"


@keras.saving.register_keras_serializable(package="cropstyle")
class ConfidenceFeatures(keras.layers.Layer):
    """(member raw outputs [B, M, R], combined raw output [B, R]) → [B, F]: the first F of FEATURES. R is 5, or 6
    with the keep-the-frame logit. Few ops, all members at once: in the browser each op costs about the same whatever
    its size, and the members' exact crops and their pairwise IoUs, one by one (about 200 ops), cost 5 ms a photo,
    more than the rest of the model. `count` defaults to what models saved before keep_probability compute."""

    def __init__(self, count: int = len(FEATURES_BEFORE), **kwargs):
        super().__init__(**kwargs)
        if not 1 <= count <= len(FEATURES):
            raise ValueError(f"confidence features: {count} asked, {len(FEATURES)} known")
        self.count = int(count)

    def call(self, member_raws, raw):
        # Each member's crop as the head makes it (crop_tf.bounded_crop), upright and before the turned crop is shrunk
        # to fit: its size a fraction of the frame, its position a fraction of the room left. Angles are small, and
        # this is a feature, not a crop: the mean IoU over pairs of members of these boxes, all pairs at once.
        fractions = keras.ops.sigmoid(member_raws[:, :, :4])  # [B, M, 4]: centre x, centre y, width, height
        size = 0.02 + 0.98 * fractions[:, :, 2:4]
        centre = size / 2 + fractions[:, :, 0:2] * (1.0 - size)
        low, high = centre - size / 2, centre + size / 2  # [B, M, 2]
        overlap = keras.ops.relu(
            keras.ops.minimum(high[:, :, None], high[:, None]) - keras.ops.maximum(low[:, :, None], low[:, None])
        )  # [B, M, M, 2]
        inter = overlap[..., 0] * overlap[..., 1]
        area = size[:, :, 0] * size[:, :, 1]
        iou = inter / (area[:, :, None] + area[:, None] - inter)  # [B, M, M], 1 on the diagonal
        members = member_raws.shape[1]
        if members == 1:  # exactly 1: a box's IoU with itself is 1 only within rounding, and the calibration would
            agreement = keras.ops.ones_like(iou[:, 0, 0])  # fit a slope to the rounding
        else:
            agreement = (keras.ops.sum(iou, axis=(1, 2)) - members) / (members * (members - 1))
        p = keras.ops.sigmoid(raw[:, 5]) if raw.shape[-1] > 5 else keras.ops.zeros_like(agreement)
        keep = 4.0 * p * (1.0 - p)
        return keras.ops.stack([agreement, keep, p][: self.count], axis=-1)

    def compute_output_shape(self, member_raws_shape, raw_shape):
        return (raw_shape[0], self.count)

    def get_config(self):
        return {**super().get_config(), "count": self.count}


@keras.saving.register_keras_serializable(package="cropstyle")
class ExpectedIoU(keras.layers.Layer):
    """Features [B, F] → expected IoU [B, 1]: intercept + features · slopes, clipped to [0, 1] (the calibration,
    held as constants so that the exported graph carries it)."""

    def __init__(self, intercept: float, slopes: list[float], **kwargs):
        super().__init__(**kwargs)
        self.intercept, self.slopes = float(intercept), [float(s) for s in slopes]

    def call(self, features):
        # A sum of products, not a matmul: the TF.js converter fuses matmul and a scalar bias into _FusedMatMul,
        # which TF.js refuses (its bias must have rank 1).
        slopes = keras.ops.convert_to_tensor(np.array(self.slopes, np.float32))
        return keras.ops.clip(keras.ops.sum(features * slopes, axis=-1, keepdims=True) + self.intercept, 0.0, 1.0)

    def compute_output_shape(self, shape):
        return (shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "intercept": self.intercept, "slopes": self.slopes}


@dataclass(frozen=True)
class Calibration:
    """The line from the first len(slopes) of FEATURES to the expected IoU, and what it gave on the photos it was
    fitted on."""

    intercept: float
    slopes: list[float]
    unsure_below: float  # expected IoU under which a crop is called unsure
    fitted_on: int  # validation photos
    validation: dict  # figures(expected, iou) on them

    @property
    def features(self) -> tuple[str, ...]:
        return FEATURES[: len(self.slopes)]

    @property
    def constant(self) -> bool:
        """Whether every photo gets the same expected IoU: no feature varied on the validation photos (one model, or
        one member kept, and no keep-the-frame decision)."""
        return not any(self.slopes)

    def as_dict(self) -> dict:
        return {"features": list(self.features), **asdict(self)}

    @classmethod
    def from_dict(cls, stored: dict) -> Calibration:
        names = list(stored.get("features", []))
        if names not in (list(FEATURES), list(FEATURES_BEFORE)) or len(stored.get("slopes", [])) != len(names):
            raise ValueError(f"the RUN's confidence uses features {names}, this cropstyle {list(FEATURES)}")
        return cls(**{key: stored[key] for key in ("intercept", "slopes", "unsure_below", "fitted_on", "validation")})

    def expected(self, features: np.ndarray) -> np.ndarray:
        """Features [n, F] → expected IoU [n] (ExpectedIoU's arithmetic, in numpy)."""
        return np.clip(np.asarray(features, float) @ np.array(self.slopes) + self.intercept, 0.0, 1.0)


def fit_calibration(features: np.ndarray, ious: np.ndarray) -> Calibration:
    """The calibration of `features` [n, F] (ConfidenceFeatures', the first F of FEATURES) to the exact `ious` [n]
    the same photos got."""
    features, ious = np.asarray(features, float), np.asarray(ious, float)
    if len(ious) == 0:
        raise ValueError("no validation photos to calibrate the confidence on")
    mean, spread = features.mean(axis=0), features.std(axis=0)
    varies = spread > VARIES  # a constant feature (one member: agreement 1) gets no slope
    standard = np.zeros_like(features)
    standard[:, varies] = (features[:, varies] - mean[varies]) / spread[varies]
    centred = ious - ious.mean()
    gram = standard.T @ standard + RIDGE_PHOTOS * np.eye(features.shape[1])
    weights = np.linalg.solve(gram, standard.T @ centred)
    slopes = np.where(varies, weights / np.where(varies, spread, 1.0), 0.0)
    intercept = float(ious.mean() - mean @ slopes)
    expected = np.clip(features @ slopes + intercept, 0.0, 1.0)
    return Calibration(
        intercept=intercept,
        slopes=[float(s) for s in slopes],
        unsure_below=float(np.quantile(expected, UNSURE_QUANTILE)),
        fitted_on=len(ious),
        validation=figures(expected, ious),
    )


def auroc(good: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve of `score` for telling the `good` photos from the rest (Mann–Whitney U, ties
    counted half); None when one of the two groups is empty."""
    good, score = np.asarray(good, bool), np.asarray(score, float)
    n_good, n_bad = int(good.sum()), int((~good).sum())
    if not n_good or not n_bad:
        return None
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    sorted_scores = score[order]
    # average ranks over ties
    start = 0
    for end in range(1, len(score) + 1):
        if end == len(score) or sorted_scores[end] != sorted_scores[start]:
            ranks[order[start:end]] = (start + end + 1) / 2
            start = end
    return float((ranks[good].sum() - n_good * (n_good + 1) / 2) / (n_good * n_bad))


def quartiles(expected: np.ndarray) -> np.ndarray:
    """Each photo's confidence quartile, 0 (least confident) to 3, by rank (ties broken by order)."""
    expected = np.asarray(expected, float)
    ranks = np.argsort(np.argsort(expected, kind="mergesort"), kind="mergesort")
    return (ranks * 4 // max(len(expected), 1)).astype(int)


def figures(expected: np.ndarray, ious: np.ndarray) -> dict:
    """What a confidence is worth on photos with known IoUs: the means, each quartile's expected and measured IoU,
    the gap between the least confident quarter and the rest, AUROC for IoU ≥ GOOD_IOU, and the correlation."""
    expected, ious = np.asarray(expected, float), np.asarray(ious, float)
    quarter = quartiles(expected)
    by_quartile = [
        {
            "n": int((quarter == q).sum()),
            "expected_iou": float(expected[quarter == q].mean()) if (quarter == q).any() else None,
            "iou": float(ious[quarter == q].mean()) if (quarter == q).any() else None,
        }
        for q in range(4)
    ]
    lowest, rest = ious[quarter == 0], ious[quarter > 0]
    varies = expected.std() > 1e-9 and ious.std() > 1e-9
    return {
        "n": len(ious),
        "expected_iou": float(expected.mean()),
        "iou": float(ious.mean()),
        "iou_std": float(ious.std()),
        "by_quartile": by_quartile,
        "lowest_quarter_gap": float(rest.mean() - lowest.mean()) if len(lowest) and len(rest) else None,
        "auroc_good": auroc(ious >= GOOD_IOU, expected),
        "correlation": float(np.corrcoef(expected, ious)[0, 1]) if varies else None,
    }


def member_raws(model: keras.Model) -> keras.KerasTensor:
    """The members' raw outputs [B, M, R] of a model built by training/model.py (one model: M = 1)."""
    names = {layer.name for layer in model.layers}
    if "member_raws" in names:
        return model.get_layer("member_raws").output
    return AsMembers()(model.get_layer("raw").output)


@keras.saving.register_keras_serializable(package="cropstyle")
class AsMembers(keras.layers.Layer):
    """[B, R] → [B, 1, R]: one model's raw output as an ensemble of one."""

    def call(self, raw):
        return raw[:, None, :]

    def compute_output_shape(self, shape):
        return (shape[0], 1, shape[1])


def feature_model(model: keras.Model) -> keras.Model:
    """A decided model (crop [B, 5]) → the same inputs → its ConfidenceFeatures [B, len(FEATURES)], sharing its
    weights."""
    return keras.Model(model.inputs, _features(model, len(FEATURES)), name=f"{model.name}_confidence_features")


def _features(model: keras.Model, count: int) -> keras.KerasTensor:
    """The first `count` ConfidenceFeatures on a decided model's own tensors: its members' raw outputs and the raw
    output its crop is made from ("raw", or "raw_mean" when flip averaged)."""
    names = {layer.name for layer in model.layers}
    raw = model.get_layer("raw_mean" if "raw_mean" in names else "raw").output
    return ConfidenceFeatures(count, dtype="float32", name="confidence_features")(member_raws(model), raw)


def with_confidence(model: keras.Model, calibration: Calibration) -> keras.Model:
    """A decided model (crop [B, 5]) → crop and expected IoU [B, 6] (geometry.LABEL_VALUES then "confidence"), with
    the features `calibration` was fitted on."""
    expected = ExpectedIoU(calibration.intercept, calibration.slopes, dtype="float32", name="confidence")(
        _features(model, len(calibration.slopes))
    )
    output = keras.layers.Concatenate(dtype="float32", name="crop_and_confidence")([model.output, expected])
    return keras.Model(model.inputs, output, name=model.name)


def features_of(model: keras.Model, data: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(crops [n, 5], features [n, len(FEATURES)]) of a decided model on a dataset of (inputs, labels) batches."""
    both = keras.Model(model.inputs, [model.output, feature_model(model).output])
    crops, features = [], []
    for inputs, _ in data:
        crop, feature = both(inputs, training=False)
        crops.append(np.asarray(crop))
        features.append(np.asarray(feature))
    return np.concatenate(crops), np.concatenate(features)


def calibrate_run(path, datasets: list | None = None, verbose: bool = True) -> Calibration:
    """Calibrate the confidence of a finished RUN (one trained before the confidence existed, or the general model)
    on its validation photos, read from `datasets` (default: the RUN's own), as `cropstyle train` does at its end:
    config.json gets `confidence`, and RUN/model.keras, where the RUN has one, gives it."""
    import json
    from pathlib import Path

    from cropstyle.training import metrics, pipeline
    from cropstyle.training import run as layout

    run = layout.Run.open(Path(path))
    examples = pipeline.read_examples([Path(d) for d in (datasets or run.datasets)])
    validation_stems = {Path(image).stem for image in run.split["val"]}
    examples = examples.subset(np.array([Path(image).stem in validation_stems for image in examples.frame["image"]]))
    if len(examples) < len(validation_stems):
        raise ValueError(
            f"{run.path} validated on {len(validation_stems)} photos; the datasets hold {len(examples)} of them"
        )
    final = run.combined_members()
    data = pipeline.make_dataset(examples, run.image_size, 32, training=False, cache=False)
    crops, features = features_of(final, data)
    frame = examples.frame
    calibration = fit_calibration(features, metrics.exact_ious(crops, examples.labels, frame["width"], frame["height"]))
    config = dict(run.config, confidence=calibration.as_dict())
    if run.model_path.is_file():
        with_confidence(final, calibration).save(run.model_path)
    (run.path / layout.CONFIG).write_text(json.dumps(config, indent=2))
    if verbose:
        print(summary(calibration))
    return calibration


def summary(calibration: Calibration) -> str:
    """One paragraph: what the confidence did on the photos it was calibrated on."""
    figures = calibration.validation
    if calibration.constant:  # its quartiles would be ties split by the photos' order: nothing to report
        return (
            f"confidence: {calibration.intercept:.3f} for every photo (the mean IoU of {calibration.fitted_on} "
            f"validation photos); {CONSTANT_WHY}"
        )
    auroc = figures["auroc_good"]
    return (
        f"confidence calibrated on {calibration.fitted_on} validation photos: expected IoU "
        f"{figures['expected_iou']:.3f} (measured {figures['iou']:.3f}); the least confident quarter "
        f"{figures['lowest_quarter_gap']:.3f} below the rest; AUROC for IoU ≥ {GOOD_IOU}: "
        + (f"{auroc:.3f}" if auroc is not None else "n/a")
        + f"; unsure below {calibration.unsure_below:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        description="Calibrate the confidence of a RUN trained before cropstyle had one (train does it itself)."
    )
    parser.add_argument("run", metavar="RUN")
    parser.add_argument(
        "datasets", nargs="*", metavar="DATASET", help="where its validation photos are (default: its own)"
    )
    args = parser.parse_args(argv)
    calibrate_run(args.run, args.datasets or None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
