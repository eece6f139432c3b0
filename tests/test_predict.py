"""`cropstyle predict`: orientation-aware batch prediction, raws through their previews, --aspect,
--write-cropped, and output in labels.csv's convention. Real exiftool, real TF, no mocks."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cropstyle.export.inference import preprocess
from cropstyle.export.predict import format_predictions, parse_aspect, predict, write_cropped_photo
from cropstyle.extractor.extract import extract
from cropstyle.extractor.geometry import (
    LABEL_VALUES,
    Crop,
    aspect_alternatives,
    crop_corners,
    crop_problem,
    crop_to_rect,
    displayed_size,
    with_aspect,
)
from cropstyle.extractor.metadata import metadata_tool
from cropstyle.extractor.pixels import open_displayed
from cropstyle.samples.library import make_sample_library
from cropstyle.training.run import Run
from tests.test_export_support import (
    IMAGE_SIZE,
    crop_model,
    file_hash,
    oriented_photo,
    photo_scene,
    trained_run,
)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return crop_model(tmp_path_factory)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_run(tmp_path_factory)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """The sample library's realistic mix: JPEG, TIFF, PNG, raws with sidecars and previews, DNG, broken files."""
    directory = tmp_path_factory.mktemp("predict-library") / "library"
    make_sample_library(directory, count=40, seed=2, long_side=320)
    return directory


def by_source(predictions):
    return {p.source: p for p in predictions}


def test_all_orientations_predict_the_displayed_photo(model, run, tmp_path):
    """The same displayed photo stored in each of the 8 EXIF orientations: identical model input, so the
    identical crop in the displayed frame, and the displayed size."""
    displayed = photo_scene(96, 64, seed=1)
    paths = [oriented_photo(tmp_path / f"o{o}.png", displayed, o) for o in range(1, 9)]
    predictions = predict(run, paths, model=model)
    assert [p.source for p in predictions] == paths
    reference = predictions[0]
    assert reference.crop is not None and reference.crop == reference.model_crop
    for prediction, orientation in zip(predictions, range(1, 9)):
        assert prediction.orientation == orientation
        assert (prediction.width, prediction.height) == (96, 64)
        np.testing.assert_allclose(prediction.crop.values(), reference.crop.values(), atol=1e-6)
    expected = model.predict_arrays(preprocess(displayed, IMAGE_SIZE)[None], np.array([96 / 64]))[0]
    assert model.values == (*LABEL_VALUES, "confidence")
    np.testing.assert_allclose(reference.crop.values(), expected[:5], atol=1e-6)
    # The confidence, the model's sixth output, rounded to 4 places; unsure below the RUN's calibrated threshold.
    assert reference.confidence == round(float(expected[5]), 4)
    assert reference.unsure == (expected[5] < Run.open(run).calibration.unsure_below)
    assert len({p.confidence for p in predictions}) == 1  # the same displayed photo, however it is stored


def test_library_matches_labels_convention_and_raw_previews(model, run, library, tmp_path):
    predictions = by_source(predict(run, [library], model=model))
    # Every photo the extractor makes an example of is predicted, in the same frame and size as labels.csv.
    extract([library], tmp_path / "dataset", size=96, jobs=1, include_uncropped=True, progress=False)
    labels = pd.read_csv(tmp_path / "dataset" / "labels.csv")
    walked = labels[labels["origin"] != "lrcat"]
    assert len(walked) > 20
    for row in walked.itertuples():
        prediction = predictions[Path(row.source)]
        assert prediction.crop is not None, prediction.skipped
        assert (prediction.width, prediction.height, prediction.orientation) == (row.width, row.height, row.orientation)
    # Raws (and the DNG): the model saw the embedded preview, oriented.
    raws = [p for p in predictions.values() if p.photo is not None and p.photo.uses_preview and p.crop is not None]
    assert {p.source.suffix.lower() for p in raws} >= {".cr2", ".nef", ".dng"}
    with metadata_tool() as tool:
        for prediction in raws:
            preview, _ = open_displayed(tool.preview(prediction.source), prediction.orientation, model.long_side)
            expected = model.predict_arrays(
                preprocess(preview, IMAGE_SIZE)[None], np.array([prediction.width / prediction.height])
            )[0]
            np.testing.assert_allclose(prediction.crop.values(), expected[:5], atol=1e-5)
    # What cannot be predicted says why; nothing is lost.
    skipped = {p.source.name: p.skipped for p in predictions.values() if p.crop is None}
    assert all(skipped.values())
    assert any("not an image" in reason for reason in skipped.values())
    assert any("no image data" in reason for reason in skipped.values())


@pytest.mark.parametrize("ratio", ["4:5", "1:1", "16:9", "9:16", "3:2", "1.91:1"])
def test_aspect_gives_ranked_alternatives_of_that_ratio(model, run, tmp_path, ratio):
    """--aspect W:H --top 3: geometry.aspect_alternatives of the model's crop, best first (the first keeps its centre,
    angle and area), each valid, of exactly that ratio, with its expected IoU (the confidence times its overlap with
    the first); the crop used is the first."""
    paths = [
        oriented_photo(tmp_path / "wide.jpg", photo_scene(120, 80, 3), 1),
        oriented_photo(tmp_path / "tall.jpg", photo_scene(120, 80, 4), 6),
    ]
    w, h = parse_aspect(ratio)
    for prediction in predict(run, paths, aspects=[(w, h)], model=model, top=3):
        width, height = prediction.width, prediction.height
        expected = aspect_alternatives(prediction.model_crop, w / h, width, height)
        assert [(a.aspect, a.rank, a.crop) for a in prediction.alternatives] == [
            (f"{w:g}:{h:g}", rank, crop) for rank, (crop, _) in enumerate(expected, start=1)
        ]
        assert [a.expected_iou for a in prediction.alternatives] == [
            round(prediction.confidence * overlap, 4) for _, overlap in expected
        ]
        assert (
            prediction.crop
            == prediction.alternatives[0].crop
            == with_aspect(prediction.model_crop, w / h, width, height)
        )
        for alternative in prediction.alternatives:
            rect = crop_to_rect(alternative.crop, width, height)
            assert rect.width / rect.height == pytest.approx(w / h, rel=1e-9)
            assert crop_problem(alternative.crop, width, height) is None
        first = crop_to_rect(prediction.crop, width, height)
        outer = crop_to_rect(prediction.model_crop, width, height)
        assert first.angle == outer.angle  # the same framing turned alike, its area the prediction's unless too large
        assert first.width * first.height <= outer.width * outer.height * (1 + 1e-9)


def test_several_aspects_and_top_on_the_command_line(run, tmp_path, capsys):
    from cropstyle import cli

    photo = oriented_photo(tmp_path / "p.jpg", photo_scene(90, 60, 8), 1)
    assert cli.main(["predict", str(run), str(photo), "--aspect", "1:1,4:5", "--top", "3", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["aspect"] for r in records] == sorted((r["aspect"] for r in records), key=["1:1", "4:5"].index)
    for aspect in ("1:1", "4:5"):
        ranks = [r["rank"] for r in records if r["aspect"] == aspect]
        assert ranks == list(range(1, len(ranks) + 1)) and 1 <= len(ranks) <= 3
    first = records[0]
    assert first["expected_iou"] == first["confidence"]  # the first: the prediction's own framing at that ratio
    assert all(r["expected_iou"] <= first["confidence"] for r in records)
    assert cli.main(["predict", str(run), str(photo), "--top", "2"]) == 2
    assert "--top ranks the crops of each --aspect" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["predict", str(run), str(photo), "--aspect", "1:1", "--top", "4"])


def test_parse_aspect():
    assert parse_aspect("4:5") == (4.0, 5.0) and parse_aspect("1.91:1") == (1.91, 1.0)
    for bad in ["4x5", "0:1", "-4:5", "a:b", "4:", "inf:1"]:
        with pytest.raises(ValueError, match="W:H"):
            parse_aspect(bad)


def test_write_cropped_photo_straightens_the_rotated_crop(tmp_path):
    """Pixels encode their own position; the output pixel (x, y) must come from TL + x·u + y·v."""
    width, height = 400, 300
    y, x = np.mgrid[0:height, 0:width]
    displayed = Image.fromarray(
        np.stack([x * 255 // (width - 1), y * 255 // (height - 1), np.full_like(x, 128)], axis=-1).astype(np.uint8)
    )
    source = oriented_photo(tmp_path / "grid.png", displayed, 6)
    crop = Crop(0.2, 0.15, 0.85, 0.9, 8.0)  # Lightroom corners of a box turned 8° clockwise
    target = write_cropped_photo(source, 6, crop, tmp_path / "out" / "grid.jpg")
    rect = crop_to_rect(crop, width, height)
    with Image.open(target) as out:
        assert out.size == (round(rect.width), round(rect.height))
        assert out.getexif().get(0x0112) == 1 and out.getexif().get(0x010F) == "cropstyle-test"
        assert out.quantization[0][0] <= 3  # quality 95
        pixels = np.asarray(out.convert("RGB")).astype(float)
    t = math.radians(crop.angle)
    u, v = np.array([math.cos(t), math.sin(t)]), np.array([-math.sin(t), math.cos(t)])
    tl = crop_corners(crop, width, height)[0]
    for fx, fy in [(0.1, 0.1), (0.5, 0.5), (0.9, 0.2), (0.3, 0.85)]:
        ox, oy = fx * out.width, fy * out.height
        sx, sy = tl + ox * u + oy * v
        expected = np.array([sx * 255 / (width - 1), sy * 255 / (height - 1)])
        np.testing.assert_allclose(pixels[int(oy), int(ox), :2], expected, atol=4)


def test_write_cropped_full_resolution_and_never_over_an_input(model, run, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    a = oriented_photo(photos / "a.jpg", photo_scene(300, 200, 5), 8)
    b = oriented_photo(photos / "b.png", photo_scene(200, 300, 6), 1)
    before = {p: file_hash(p) for p in (a, b)}
    predictions = predict(run, [photos], write_cropped=photos, aspects=[(4, 5)], model=model)
    assert {p: file_hash(p) for p in (a, b)} == before
    written = {p.source.name: p.cropped for p in predictions}
    assert written["a.jpg"] == photos / "a-2.jpg" and written["b.png"] == photos / "b.jpg"
    for prediction in predictions:
        rect = crop_to_rect(
            prediction.crop, *displayed_size(*Image.open(prediction.source).size, prediction.orientation)
        )
        with Image.open(prediction.cropped) as out:
            assert out.format == "JPEG" and out.size == (round(rect.width), round(rect.height))
            assert out.width / out.height == pytest.approx(4 / 5, abs=0.02)
            assert out.getexif().get(0x0112) == 1


def test_formats(model, run, tmp_path):
    photo = oriented_photo(tmp_path / "p.jpg", photo_scene(90, 60, 7), 3)
    (tmp_path / "notes.txt").write_text("not a photo")
    predictions = predict(run, [tmp_path], model=model)
    rows = list(csv.DictReader(io.StringIO(format_predictions(predictions, "csv"))))
    assert list(rows[0])[:11] == ["source", "width", "height", *LABEL_VALUES, "orientation", "confidence", "unsure"]
    row = next(r for r in rows if r["source"] == str(photo))
    done = next(p for p in predictions if p.source == photo)
    assert [float(row[k]) for k in LABEL_VALUES] == list(done.crop.values())
    assert (int(row["width"]), int(row["height"]), int(row["orientation"])) == (90, 60, 3)
    assert 0 <= done.confidence <= 1 and float(row["confidence"]) == done.confidence
    assert row["unsure"] == str(done.unsure)
    skipped_row = next(r for r in rows if r["source"].endswith("notes.txt"))
    assert skipped_row["skipped"].startswith("not an image") and skipped_row["confidence"] == ""
    records = json.loads(format_predictions(predictions, "json"))
    record = next(r for r in records if r["source"] == str(photo))
    assert record["angle"] == done.crop.angle
    assert record["confidence"] == done.confidence and record["unsure"] is done.unsure
    table = format_predictions(predictions, "table")
    assert "p.jpg" in table and "1 of 2 photos predicted" in table
    line = next(line for line in table.splitlines() if "p.jpg" in line)
    assert f"{done.confidence:.2f}" + (" unsure" if done.unsure else "") in line and "confidence" in table
    with pytest.raises(ValueError, match="format"):
        format_predictions(predictions, "xml")


def test_command_line(run, tmp_path, capsys):
    """The command line's predict --aspect --format json and apply --dry-run."""
    from cropstyle import cli

    photo = oriented_photo(tmp_path / "p.jpg", photo_scene(90, 60, 8), 6)
    args = cli.build_parser().parse_args(["predict", str(run), str(tmp_path), "--aspect", "4:5", "--format", "json"])
    assert (
        args.aspect == [(4.0, 5.0)]
        and cli.main(["predict", str(run), str(tmp_path), "--aspect", "4:5", "--format", "json"]) == 0
    )
    (record,) = json.loads(capsys.readouterr().out)
    assert record["source"] == str(photo) and (record["width"], record["height"], record["orientation"]) == (90, 60, 6)
    rect = crop_to_rect(Crop(*(record[k] for k in LABEL_VALUES)), 90, 60)
    assert rect.width / rect.height == pytest.approx(0.8)
    assert cli.main(["apply", str(run), str(photo), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would write" in out and "dry run: nothing was written" in out
    assert not (tmp_path / "p.jpg.xmp").exists()
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["predict", str(run), str(photo), "--aspect", "4x5"])
