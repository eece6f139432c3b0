"""`cropstyle train`: the tf.data pipeline, the split, and real (tiny) training runs end to end."""

import json
import math
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from cropstyle.extractor.geometry import LABEL_VALUES, Crop, RotatedRect, crop_corners, crop_to_rect, iou, rect_to_crop
from cropstyle.samples.dataset import write_dataset
from cropstyle.training import metrics, pipeline
from cropstyle.training.confidence import (
    FEATURES,
    FEATURES_BEFORE,
    calibrate_run,
    features_of,
    fit_calibration,
    summary,
    with_confidence,
)
from cropstyle.training.evaluate import evaluate
from cropstyle.training.run import Run
from cropstyle.training.train import TrainResult, kept_members, train
from tests.red_or_blue import KEPT_CROP, red_or_blue_dataset

ROOT = Path(__file__).resolve().parents[1]


def sample_dataset(directory: Path, count: int, seed: int) -> Path:
    """A sample library (samples/library.py) run through the extractor: the real path to a dataset."""
    from cropstyle.extractor.extract import extract
    from cropstyle.samples.library import make_sample_library

    make_sample_library(directory / "library", count, seed=seed, long_side=160)
    extract([directory / "library"], directory / "dataset", size=96, jobs=1)
    return directory / "dataset"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 40-photo sample library, one model (not the default ensemble) trained 2 epochs at 64 px."""
    base = tmp_path_factory.mktemp("tiny")
    dataset = sample_dataset(base / "train", 40, seed=0)
    result = train([dataset], base / "run", epochs=2, batch_size=8, image_size=64, seed=1, ensemble=1)
    return base, dataset, result


def test_tiny_end_to_end(tiny_run, tmp_path, capsys):
    base, dataset, result = tiny_run
    run = result.run
    assert result.epochs == 2 and result.n_train > result.n_val > 0
    model = keras.saving.load_model(run / "model.keras", compile=False)
    config = json.loads((run / "config.json").read_text())
    assert config["preprocessing"]["image_size"] == 64
    # Every training photo was cropped: no keep-the-frame decision, the head's five outputs alone.
    assert config["model"]["keep_decision"] is False and model.get_layer("raw").units == 5
    assert config["datasets"][0]["labels_sha256"] == pipeline.file_sha256(dataset / "labels.csv")
    assert config["arguments"]["seed"] == 1 and config["versions"]["tensorflow"]
    assert list((run / "members" / "0" / "logs").rglob("events.out.tfevents.*"))  # TensorBoard, previews included
    assert not (run / "members" / "0" / "backup").exists()
    examples = pipeline.read_examples([dataset])
    outputs = model.predict(pipeline.make_dataset(examples, 64, 8, training=False), verbose=0)
    assert outputs.shape == (len(examples), 6)  # the crop, then its confidence (training/confidence.py)
    # One model without the keep-the-frame decision: nothing tells photos apart (agreement 1, the decision's doubt
    # and probability 0), so the confidence is the validation photos' mean IoU for every photo.
    calibration = Run.open(run).calibration
    assert calibration.slopes == [0.0, 0.0, 0.0] and calibration.fitted_on == result.n_val
    assert calibration.validation["expected_iou"] == pytest.approx(config["validation"]["val_crop_iou"], abs=1e-6)
    np.testing.assert_allclose(outputs[:, 5], config["validation"]["val_crop_iou"], atol=1e-5)
    # Said so, rather than quartiles of ties split by the photos' order.
    assert calibration.constant and summary(calibration) == (
        f"confidence: {calibration.intercept:.3f} for every photo (the mean IoU of {result.n_val} validation photos); "
        "one model (or one member kept) and no keep-the-frame decision: nothing in it tells its photos apart"
    )
    # The two answers that need no model, scored on the same validation photos (split.json), from labels.csv.
    rows = (
        pd.read_csv(dataset / "labels.csv").set_index("image").loc[json.loads((run / "split.json").read_text())["val"]]
    )
    mean_crop = Crop(*json.loads((run / "baselines.json").read_text())["mean"])
    expected = {
        name: np.mean([iou(crop, Crop(*row[list(LABEL_VALUES)]), row.width, row.height) for _, row in rows.iterrows()])
        for name, crop in (("full frame", Crop(0, 0, 1, 1, 0)), ("mean crop", mean_crop))
    }
    assert len(rows) == result.n_val and result.val_baselines == pytest.approx(expected, abs=1e-6)
    said = f"photos: the full frame {expected['full frame']:.3f}, the mean crop {expected['mean crop']:.3f}"
    assert said in result.report()
    assert ("the model is not yet better than" in result.report()) == (max(expected.values()) > result.best_val_iou)

    test_dataset = sample_dataset(tmp_path / "test", 12, seed=5)
    report = tmp_path / "report"
    capsys.readouterr()
    metrics = evaluate(run, [test_dataset], report)
    printed = capsys.readouterr().out
    assert f"the model's confidence: {metrics['confidence']['expected_iou']:.3f} for every photo (their IoU " in printed
    assert "by quartile" not in printed
    written = json.loads((report / "metrics.json").read_text())
    assert written == metrics and written["n"] == len(pipeline.read_examples([test_dataset]))
    recorded = Run.open(run).evaluation  # kept in the RUN for the export's metadata.json
    assert recorded["methods"] == metrics["methods"] and recorded["datasets"] == [str(test_dataset.resolve())]
    assert set(written["methods"]) == {"model", "full", "mean", "random", "saliency", "saliency_true_size"}
    for values in written["methods"].values():
        assert set(values) == {"iou", "bde", "angle_mae"} and 0 <= values["iou"] <= 1
    assert written["methods"]["full"]["iou"] < 1
    assert "<figure>" in (report / "index.html").read_text()
    assert written["seen"] == {"included": False, "left_out": 0}
    assert written["confidence"]["n"] == written["n"]
    assert written["confidence"]["iou"] == pytest.approx(written["methods"]["model"]["iou"])
    assert sum(part["n"] for part in written["confidence"]["by_quartile"]) == written["n"]

    # Photos the run trained or validated on are left out: all of them is an error, some are counted.
    trained_on = len(pipeline.read_examples([dataset]))
    with pytest.raises(ValueError, match=f"all {trained_on} photos of {dataset} were used to train or validate"):
        evaluate(run, [dataset], verbose=False)
    mixed = evaluate(run, [dataset, test_dataset], verbose=False)
    assert mixed["n"] == written["n"] and mixed["seen"] == {"included": False, "left_out": trained_on}
    assert mixed["methods"]["model"] == pytest.approx(written["methods"]["model"])
    kept = evaluate(run, [dataset, test_dataset], include_seen=True, verbose=False)
    assert kept["n"] == written["n"] + trained_on and kept["seen"] == {"included": True, "left_out": 0}


REPORT = "trained on 8 photos, validated on 2: 3 epochs in 12 s, best validation IoU 0.720; model in RUN/model.keras"


@pytest.mark.parametrize(
    "baselines, said",
    [
        (
            {"full frame": 0.815, "mean crop": 0.7},
            "\non the same 2 validation photos: the full frame 0.815, the mean crop 0.700; the model is not yet "
            "better than the full frame",
        ),
        (
            {"full frame": 0.815, "mean crop": 0.75},
            "\non the same 2 validation photos: the full frame 0.815, the mean crop 0.750; the model is not yet "
            "better than the full frame or the mean crop",
        ),
        (
            {"full frame": 0.6, "mean crop": 0.7},
            "\non the same 2 validation photos: the full frame 0.600, the mean crop 0.700",
        ),
        ({}, ""),
    ],
)
def test_the_report_says_when_the_model_is_not_yet_better_than_no_model(baselines, said):
    result = TrainResult(Path("RUN"), Path("RUN/model.keras"), 3, 0.72, 8, 2, 12.4, val_baselines=baselines)
    assert result.report() == REPORT + said


def test_a_run_without_its_model_file_remakes_it_from_the_members(tiny_run, tmp_path):
    """The general model ships without RUN/model.keras (no file over 2 MB): Run.load_model remakes it from the kept
    members as train made it, to the same outputs."""
    base, dataset, result = tiny_run
    copy = tmp_path / "run"
    shutil.copytree(result.run, copy)
    (copy / "model.keras").unlink()
    examples = pipeline.read_examples([dataset])
    data = pipeline.make_dataset(examples, 64, 8, training=False)
    saved = keras.saving.load_model(result.model_path, compile=False).predict(data, verbose=0)
    remade = Run.open(copy).load_model().predict(data, verbose=0)
    np.testing.assert_allclose(remade, saved, atol=1e-6)
    assert Run.open(copy).model_sha256 != Run.open(result.run).model_sha256  # of the members' files instead
    shutil.rmtree(copy / "members" / "0")
    with pytest.raises(FileNotFoundError, match="has no model.keras: training did not finish"):
        Run.open(copy).load_model()


def test_same_seed_same_numbers(tiny_run):
    base, dataset, first = tiny_run
    again = train([dataset], base / "again", epochs=2, batch_size=8, image_size=64, seed=1, ensemble=1, verbose=0)
    assert again.history == first.history
    a = keras.saving.load_model(first.model_path, compile=False).get_weights()
    b = keras.saving.load_model(again.model_path, compile=False).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_ensemble_is_the_mean_of_its_members(tiny_run):
    """The default, an ensemble of 3: member 0 is the run without an ensemble (same seed), members 1 and 2 other
    seeds on the same split, and RUN/model.keras the crop of the members' mean head outputs, with its exact
    validation IoU in config.json."""
    from cropstyle.training import crop_tf

    base, dataset, single = tiny_run
    result = train([dataset], base / "ensemble", epochs=2, batch_size=8, image_size=64, seed=1, verbose=0)
    run = result.run
    members = [keras.saving.load_model(run / "members" / str(k) / "model.keras", compile=False) for k in range(3)]
    alone = keras.saving.load_model(single.model_path, compile=False).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(members[0].get_weights(), alone))
    for other in members[1:]:
        assert not all(np.array_equal(x, y) for x, y in zip(other.get_weights(), alone))
    assert json.loads((run / "split.json").read_text()) == json.loads((single.run / "split.json").read_text())
    assert result.epochs == 6 and not (run / "history.csv").exists()  # histories are the members'

    examples = pipeline.read_examples([dataset])
    inputs = np.concatenate([x["image"] for x, _ in pipeline.make_dataset(examples, 64, 8, training=False)])
    feed = {"image": inputs, "aspect": examples.aspects[:, None].astype(np.float32)}
    config = Run.open(run).config
    members_val = config["validation"]["members_val_crop_iou"]
    assert members_val == [
        pytest.approx(pd.read_csv(run / "members" / str(k) / "history.csv")["val_crop_iou"].max()) for k in range(3)
    ]
    kept = config["validation"]["members_kept"]
    assert kept == [0, 1, 2]  # fewer than 50 validation photos: every member, whatever their figures
    raws = [keras.Model(m.inputs, m.get_layer("raw").output)(feed).numpy() for m in members]
    expected = crop_tf.bounded_crop(np.mean(raws, axis=0)[:, :5], feed["aspect"][:, 0]).numpy()
    model = keras.saving.load_model(result.model_path, compile=False)
    outputs = model(feed).numpy()
    np.testing.assert_allclose(outputs[:, :5], expected, atol=1e-6)

    # The confidence: the calibrated line through the members' agreement (the mean IoU over pairs of members of their
    # crops as the head makes them, upright: size 2–100 % of the frame, position a fraction of the room left); no
    # keep-the-frame decision here.
    fractions = 1 / (1 + np.exp(-np.stack([raw[:, :4] for raw in raws], axis=1)))  # [B, 3, 4]
    size = 0.02 + 0.98 * fractions[..., 2:]
    low = fractions[..., :2] * (1 - size)
    boxes = np.concatenate([low, low + size], axis=-1)  # [B, 3, 4]: left, top, right, bottom
    agreement = np.mean([box_iou(boxes[:, a], boxes[:, b]) for a, b in ((0, 1), (0, 2), (1, 2))], axis=0)
    calibration = Run.open(run).calibration
    features = np.column_stack([agreement, np.zeros_like(agreement), np.zeros_like(agreement)])
    np.testing.assert_allclose(outputs[:, 5], calibration.expected(features), atol=1e-4)  # float32 in the graph
    assert calibration.slopes[1:] == [0.0, 0.0] and calibration.slopes[0] != 0.0

    split = json.loads((run / "split.json").read_text())
    val = examples.subset(examples.frame["image"].isin(split["val"]).to_numpy())
    predicted = model.predict(pipeline.make_dataset(val, 64, 8, training=False), verbose=0)
    exact = np.mean(
        [
            iou(Crop(*map(float, p[:5])), Crop(*map(float, t)), w, h)
            for p, t, w, h in zip(predicted, val.labels, val.frame["width"], val.frame["height"])
        ]
    )
    assert config["validation"]["val_crop_iou"] == pytest.approx(exact, abs=1e-5)
    assert config["validation"]["model_keras"] == "mean of 3 members' best epochs"

    # A RUN trained before the confidence existed gets the same calibration from calibrate_run, as train made it.
    older = base / "ensemble-before-confidence"
    shutil.copytree(run, older)
    before = json.loads((older / "config.json").read_text())
    made = before.pop("confidence")
    (older / "config.json").write_text(json.dumps(before))
    Run.open(older).combined_members().save(older / "model.keras")
    assert keras.saving.load_model(older / "model.keras", compile=False)(feed).shape == (len(examples), 5)
    calibrate_run(older, verbose=False)
    remade = Run.open(older).config["confidence"]
    assert remade["slopes"] == pytest.approx(made["slopes"], abs=1e-6)
    assert remade["intercept"] == pytest.approx(made["intercept"], abs=1e-6)
    np.testing.assert_allclose(Run.open(older).load_model()(feed).numpy(), outputs, atol=1e-6)


@pytest.mark.parametrize(
    "members_val, val_photos, kept",
    [
        ([0.9896, 0.9907, 0.9584], 80, [0, 1]),  # `trim`: the third member held its height logit saturated
        ([0.9517, 0.9192, 0.9355], 80, [0, 2]),  # `uncropped`
        ([0.7149, 0.7216, 0.7200], 214, [0, 1, 2]),  # FCDB: members that vary, none failed
        ([0.60, 0.90, 0.70], 50, [1]),
        ([0.60, 0.90, 0.70], 49, [0, 1, 2]),  # too few photos to tell a failure from chance
        ([0.813, 0.856, 0.756], 2, [0, 1, 2]),  # FCDB at 10 crops: 8 trained on, 2 validated on
        ([0.5], 80, [0]),
    ],
)
def test_an_ensemble_leaves_out_members_that_failed(members_val, val_photos, kept):
    """Members more than 0.02 below the best member's validation IoU are left out of the mean, where there are
    validation photos enough (50) that no one photo can make that gap."""
    assert kept_members(members_val, val_photos) == kept


@pytest.mark.parametrize(
    "photos, schedule, epoch_steps, epochs",
    [
        (854, "scratch", 27, 56),  # FCDB's training photos: 27 batches an epoch
        (320, "scratch", 20, 75),  # a zoo style's: 10 batches, an epoch of 20 steps passes over them twice
        (40, "scratch", 20, 75),  # 2 batches: a small library sees each photo many times
        (8, "fine-tune", 20, 25),
        (320, "fine-tune", 20, 25),
        (854, "fine-tune", 27, 19),
        (30000, "scratch", 938, 15),  # 938 batches: at least 15 epochs, whatever the steps
    ],
)
def test_schedule_by_dataset_size(photos, schedule, epoch_steps, epochs):
    """About 1,500 steps for each model from scratch, 500 fine-tuning (batch 32), in epochs of at least 20 steps,
    within 15–300 epochs; patience a quarter, at least 10. Epochs given: that many passes over the photos."""
    from cropstyle.training.train import SCHEDULE_STEPS, default_patience, epoch_plan

    batches = -(-photos // 32)
    assert epoch_plan(batches, SCHEDULE_STEPS[schedule]) == (epoch_steps, epochs)
    assert epoch_plan(batches, SCHEDULE_STEPS[schedule], epochs=3) == (batches, 3)
    assert default_patience(epochs) == max(10, epochs // 4)


def test_the_command_line_trains_the_default_ensemble():
    """`cropstyle train` without --ensemble trains train()'s default number of members (training/options.py)."""
    from cropstyle import cli
    from cropstyle.training.options import DEFAULTS

    assert cli.build_parser().parse_args(["train", "data", "--out", "run"]).ensemble == DEFAULTS.ensemble == 3


class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def test_resume_after_interruption(tmp_path):
    dataset = write_dataset(tmp_path / "data", 16, seed=3, long_side=64)
    with pytest.raises(KeyboardInterrupt):
        train(
            [dataset],
            tmp_path / "run",
            epochs=2,
            batch_size=8,
            image_size=32,
            ensemble=1,
            callbacks=[Interrupt()],
            verbose=0,
        )
    assert (tmp_path / "run" / "members" / "0" / "backup").exists()
    result = train(
        [dataset], tmp_path / "run", epochs=2, batch_size=8, image_size=32, ensemble=1, resume=True, verbose=0
    )
    assert list(result.history["loss"]) and len(result.history["loss"]) == 1  # only the second epoch ran
    assert result.epochs == 2 and result.model_path.exists() and not list((tmp_path / "run").rglob("backup"))
    # Resumed once more, after the end: config.json still says what RUN/model.keras scores.
    validation = json.loads((tmp_path / "run" / "config.json").read_text())["validation"]
    train([dataset], tmp_path / "run", epochs=2, batch_size=8, image_size=32, ensemble=1, resume=True, verbose=0)
    again = json.loads((tmp_path / "run" / "config.json").read_text())["validation"]
    assert again["model_keras"] == validation["model_keras"] == "best epoch"
    assert again["val_crop_iou"] >= validation["val_crop_iou"]
    with pytest.raises(ValueError, match="image_size"):
        train([dataset], tmp_path / "run", epochs=2, image_size=48, ensemble=1, resume=True, verbose=0)


class InterruptSecondFit(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.fits = 0

    def on_train_begin(self, logs=None):
        self.fits += 1

    def on_epoch_end(self, epoch, logs=None):
        if self.fits == 2:
            raise KeyboardInterrupt


def test_resume_an_ensemble_keeps_the_members_it_finished(tmp_path):
    """Interrupted in its second member, the default ensemble resumes there: the first member is not trained again."""
    dataset = write_dataset(tmp_path / "data", 16, seed=3, long_side=64)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train([dataset], run, epochs=2, batch_size=8, image_size=32, callbacks=[InterruptSecondFit()], verbose=0)
    first = run / "members" / "0"
    finished = (first / "model.keras").read_bytes(), (first / "history.csv").read_text()
    assert (run / "members" / "1" / "backup").exists() and not (run / "members" / "1" / "model.keras").exists()
    result = train([dataset], run, epochs=2, batch_size=8, image_size=32, resume=True, verbose=0)
    assert ((first / "model.keras").read_bytes(), (first / "history.csv").read_text()) == finished
    assert [len(pd.read_csv(run / "members" / str(k) / "history.csv")) for k in range(3)] == [2, 2, 2]
    assert result.epochs == 6 and not list(run.glob("members/*/backup"))
    assert Run.open(run).config["validation"]["model_keras"] == "mean of 3 members' best epochs"


def test_split_keeps_copies_and_duplicates_together(tmp_path):
    dataset = write_dataset(tmp_path / "data", 30, seed=4, long_side=48)
    frame = pd.read_csv(dataset / "labels.csv")
    # Virtual copies: more rows of photo 0 (same source, own crop); a duplicate: photo 1's image under another source.
    copies = frame.iloc[[0, 0]].assign(copy_name=["Copy 1", "Copy 2"], left=0.05)
    duplicate = frame.iloc[[1]].assign(source="/elsewhere/same.jpg")
    chain = frame.iloc[[2]].assign(image=frame["image"][3])  # photo 2's source with photo 3's image: one group
    pd.concat([frame, copies, duplicate, chain]).to_csv(dataset / "labels.csv", index=False)
    examples = pipeline.read_examples([dataset])
    for seed in range(20):
        train_part, val_part = pipeline.split(examples, 0.3, seed)
        assert len(train_part) + len(val_part) == len(examples)
        for key in ("source", "image"):
            assert not set(train_part.frame[key]) & set(val_part.frame[key])
    groups = pipeline.photo_groups(examples.frame)
    assert len(set(groups)) == 30 - 1  # photos 2 and 3 joined by the shared image


def painted_photo(path: Path, crop: Crop, width: int, height: int) -> None:
    """A photo whose crop can be read from its pixels: the crop filled white, a red dot at its own top-right corner."""
    image = Image.new("RGB", (width, height), (30, 30, 30))
    draw = ImageDraw.Draw(image)
    corners = crop_corners(crop, width, height)
    draw.polygon([tuple(p) for p in corners], fill=(255, 255, 255))
    x, y = corners[1]
    draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=(255, 0, 0))
    image.save(path, quality=95)


def test_zoom_and_flip_augmentation_keep_image_and_label_consistent(tmp_path):
    width, height, size = 150, 100, 100
    crop = rect_to_crop(RotatedRect(60, 45, 80, 50, 12.0), width, height)
    (tmp_path / "images").mkdir()
    painted_photo(tmp_path / "images" / "a.jpg", crop, width, height)
    pd.DataFrame(
        [
            {
                "image": "images/a.jpg",
                "source": "/a.jpg",
                "origin": "xmp-embedded",
                "width": width,
                "height": height,
                "has_crop": True,
                **dict(zip(list(LABEL_VALUES), crop.values())),
                "orientation": 1,
                "catalog_image_id": "",
                "copy_name": "",
                "fingerprint": "",
            }
        ]
    ).to_csv(tmp_path / "labels.csv", index=False)
    data = pipeline.make_dataset(pipeline.read_examples([tmp_path]), size, 1, training=True, seed=0)
    flips, zooms = set(), set()
    for _ in range(12):  # each epoch draws anew
        inputs, label = next(iter(data))
        image, label = inputs["image"][0].numpy(), Crop(*map(float, label[0].numpy()))
        flipped = abs(label.angle + crop.angle) < 1e-4
        flips.add(flipped)
        # Zoomed into a window that holds the crop, the crop fills more of the frame,
        # by the same factor across and down.
        rect = crop_to_rect(label, width, height)
        across, down = rect.width / 80, rect.height / 50
        assert across == pytest.approx(down, rel=1e-4) and 1 - 1e-4 < across < 1 / pipeline.ZOOM_SMALLEST
        zooms.add(across > 1 + 1e-4)
        # The white region is where the label says the crop is (in the stretched size×size input).
        corners = crop_corners(label, width, height) / [width, height] * size
        mask = Image.new("L", (size, size))
        ImageDraw.Draw(mask).polygon([tuple(p) for p in corners], fill=1)
        drawn = np.asarray(mask, bool)
        white = image.min(axis=2) > 0.6
        assert (drawn & white).sum() / (drawn | white).sum() > 0.9
        # The red dot marks the photographer's top-right corner; mirrored, that corner is the crop's own
        # top-left (the label must re-pick its corners, not just mirror them).
        red = (image[..., 0] > 0.5) & (image[..., 1] < 0.35)
        ys, xs = np.nonzero(red)
        assert math.dist((xs.mean() + 0.5, ys.mean() + 0.5), corners[0 if flipped else 1]) < 3
    assert flips == {True, False} and zooms == {True, False}


# (photos, --val-split) → training and validation sets of 1, replicas − 1 (= 1), replicas + 1 and batch + 1
# photos modulo the batch of 8, on 2 replicas: sizes whose last batch cannot be split evenly, or at all.
MIRRORED_SPLITS = [(2, 0.5), (4, 0.25), (12, 0.25), (26, 0.35)]  # train/val: 1/1, 3/1, 9/3, 17/9


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    """Distributed training on 2 logical CPUs for every awkward size; validation covers every photo."""
    datasets = [write_dataset(tmp_path / f"data-{n}", n, seed=6, long_side=64) for n, _ in MIRRORED_SPLITS]
    script = textwrap.dedent(f"""
        import json
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from pathlib import Path
        from cropstyle.training.train import train
        for dataset, (n, val_split) in zip({[str(d) for d in datasets]!r}, {MIRRORED_SPLITS!r}):
            result = train([Path(dataset)], Path(dataset + "-run"), epochs=2, batch_size=8, image_size=32,
                           val_split=val_split, devices=["/cpu:0", "/cpu:1"], ensemble=1, verbose=0,
                           flip_average=n > 4)
            print(json.dumps({{"n_train": result.n_train, "n_val": result.n_val, "epochs": result.epochs}}))
        assert len(tf.config.list_logical_devices("CPU")) == 2
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [(r["n_train"], r["n_val"], r["epochs"]) for r in results] == [(1, 1, 2), (3, 1, 2), (9, 3, 2), (17, 9, 2)]
    for dataset in datasets:
        run = Path(f"{dataset}-run")
        config = json.loads((run / "config.json").read_text())
        assert config["batch"]["replicas"] == 2 and config["batch"]["size"] >= 2
        # The validation figure is the exact IoU over every validation photo: recomputed here from the model.
        history = pd.read_csv(run / "members" / "0" / "history.csv")
        assert {"loss", "val_loss", "val_iou", "val_crop_iou"} <= set(history.columns)
        model = keras.saving.load_model(run / "model.keras", compile=False)
        split = json.loads((run / "split.json").read_text())
        examples = pipeline.read_examples([dataset])
        val = examples.subset(examples.frame["image"].isin(split["val"]).to_numpy())
        assert len(val) == config["split"]["val"]
        predicted = model.predict(pipeline.make_dataset(val, 32, 8, training=False), verbose=0)
        exact = np.mean(
            [
                iou(Crop(*map(float, p[:5])), Crop(*map(float, t)), w, h)
                for p, t, w, h in zip(predicted, val.labels, val.frame["width"], val.frame["height"])
            ]
        )
        # model.keras is the best epoch (flip averaged with flip_average=True): its figure, computed by the same
        # code as val_crop_iou.
        averaged = config["validation"]["model_keras"] == "best epoch, flip averaged"
        assert averaged == (config["split"]["train"] + config["split"]["val"] > 4)
        figure = config["validation"]["val_crop_iou_flip_averaged" if averaged else "val_crop_iou"]
        assert figure == pytest.approx(exact, abs=1e-5)
        assert config["validation"]["val_crop_iou"] == pytest.approx(history["val_crop_iou"].max())


def test_photos_the_photographer_leaves_uncropped_come_back_exactly_uncropped(red_or_blue_run, tmp_path):
    """Leaving a photo alone is a decision (training/model.py KeepOrCrop): the model answers exactly the full
    frame for the kind of photo the photographer leaves uncropped, and her crop for the kind she crops; a crop
    alone only approaches the full frame, never reaches it."""
    run = red_or_blue_run
    examples = pipeline.read_examples([red_or_blue_dataset(tmp_path / "new", 8, seed=1)])
    model = keras.saving.load_model(run / "model.keras", compile=False)
    assert Run.open(run).config["model"]["keep_decision"] is True
    outputs = model.predict(pipeline.make_dataset(examples, 32, 8, training=False), verbose=0)
    for crop, label in zip(outputs[:, :5], examples.labels):
        if label[2] == 1.0:  # blue, uncropped
            assert crop.tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]
        else:
            assert iou(Crop(*map(float, crop)), KEPT_CROP, 640, 480) > 0.8


def test_the_confidence_reads_which_way_the_keep_decision_went(red_or_blue_run, tmp_path):
    """With the keep-the-frame decision the confidence's third feature is the decision's probability p (its second,
    the decision's doubt 4·p·(1 − p)): a photo left uncropped scores 1 or nothing like it, a cropped one what its crop
    is worth. A RUN calibrated before that feature keeps its two, in its saved model and in the one remade from its
    members, until calibrate_run calibrates it anew."""
    run = Run.open(red_or_blue_run)
    calibration = run.calibration
    assert calibration.features == FEATURES == ("agreement", "keep", "keep_probability")
    examples = pipeline.read_examples([red_or_blue_dataset(tmp_path / "new", 8, seed=1)])
    images = np.concatenate([x["image"] for x, _ in pipeline.make_dataset(examples, 32, 8, training=False)])
    feed = {"image": images, "aspect": examples.aspects[:, None].astype(np.float32)}
    model = run.load_model()
    raw = keras.Model(model.inputs, model.get_layer("raw").output)(feed).numpy()
    p = 1 / (1 + np.exp(-raw[:, 5].astype(np.float64)))
    features = np.column_stack([np.ones_like(p), 4 * p * (1 - p), p])  # one model: its members agree
    outputs = model(feed).numpy()
    np.testing.assert_allclose(outputs[:, 5], calibration.expected(features), atol=1e-5)
    # The blue photos, left uncropped, score exactly 1 on the validation photos; the red ones less: p counts.
    assert calibration.slopes[0] == 0.0 and calibration.slopes[2] > 0.0

    # The same RUN as it was calibrated before: two features, in config.json and in a model.keras whose layer says
    # nothing of how many (what Keras wrote then).
    older = tmp_path / "calibrated-before"
    shutil.copytree(run.path, older)
    final = run.combined_members()
    validation = pipeline.read_examples([Path(d) for d in run.datasets])
    validation = validation.subset(validation.frame["image"].isin(run.split["val"]).to_numpy())
    crops, val_features = features_of(final, pipeline.make_dataset(validation, 32, 8, training=False, cache=False))
    frame = validation.frame
    before = fit_calibration(
        val_features[:, :2], metrics.exact_ious(crops, validation.labels, frame["width"], frame["height"])
    )
    assert before.features == FEATURES_BEFORE and before.fitted_on == calibration.fitted_on
    config = json.loads((older / "config.json").read_text())
    (older / "config.json").write_text(json.dumps({**config, "confidence": before.as_dict()}))
    with_confidence(final, before).save(older / "model.keras")
    _forget_feature_count(older / "model.keras")
    old_model = Run.open(older).load_model()
    assert old_model.get_layer("confidence_features").count == 2
    np.testing.assert_allclose(old_model(feed).numpy()[:, 5], before.expected(features[:, :2]), atol=1e-5)
    (older / "model.keras").unlink()  # remade from its members, with its own two features
    np.testing.assert_allclose(
        Run.open(older).load_model()(feed).numpy()[:, 5], before.expected(features[:, :2]), atol=1e-5
    )
    calibrate_run(older, verbose=False)
    again = Run.open(older).calibration
    assert again.features == FEATURES and again.slopes == pytest.approx(calibration.slopes, abs=1e-6)
    assert again.intercept == pytest.approx(calibration.intercept, abs=1e-6)
    np.testing.assert_allclose(Run.open(older).load_model()(feed).numpy(), outputs, atol=1e-6)


def _forget_feature_count(path: Path) -> None:
    """Rewrites a saved model.keras as Keras wrote it before ConfidenceFeatures had `count`."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    forgotten = []

    def forget(node):
        if isinstance(node, dict):
            if node.get("class_name") == "ConfidenceFeatures":
                forgotten.append(node["config"].pop("count"))
            for value in node.values():
                forget(value)
        elif isinstance(node, list):
            for value in node:
                forget(value)

    forget(config)
    assert forgotten == [2]  # the model's one layer of features, which computed two
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of upright boxes [n, 4] (left, top, right, bottom), in fractions of the frame."""
    width = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    height = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    area = lambda c: (c[:, 2] - c[:, 0]) * (c[:, 3] - c[:, 1])  # noqa: E731
    return width * height / (area(a) + area(b) - width * height)
