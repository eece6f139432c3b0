"""`cropstyle apply`: the predicted crop written as Lightroom writes it, read back by `extract` unchanged.

Round trips for all 8 orientations, sidecar and embedded, raws and DNG; byte-identical image data; --force,
--dry-run and --in-place semantics; existing sidecar content preserved. Real exiftool, real TF, no mocks.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import exiftool
import pandas as pd
import pytest

from cropstyle.export import apply as apply_module
from cropstyle.export.apply import EMBEDDED_CROP, HAS_CROP, LEFT_UNCROPPED, apply, written_values
from cropstyle.export.predict import predict
from cropstyle.extractor.crs import CROP_TAGS, exiftool_assignments
from cropstyle.extractor.extract import extract
from cropstyle.extractor.geometry import LABEL_VALUES, Crop, to_stored
from cropstyle.extractor.metadata import metadata_tool
from cropstyle.samples.library import make_sample_library
from tests.conftest import crop_tags, tree_hash
from tests.test_export_support import crop_model, file_hash, oriented_photo, photo_scene, pixel_hash, trained_run

CROP_KEYS = {"XMP-crs:HasCrop", *(f"XMP-crs:{tag}" for tag in CROP_TAGS)}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return crop_model(tmp_path_factory)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained_run(tmp_path_factory)


def read_tags(*paths: Path) -> dict[Path, dict]:
    with metadata_tool() as tool:
        return tool.read_tags(list(paths))


def all_tags(path: Path) -> dict:
    """Every tag of a file (exiftool -json -G1 -n), without the ones that describe the file on disk."""
    with exiftool.ExifToolHelper(common_args=["-G1", "-n"]) as tool:
        tags = tool.get_metadata(str(path))[0]
    return {k: v for k, v in tags.items() if not k.startswith(("System:", "File:", "ExifTool:", "SourceFile"))}


def stored_crop(tags: dict) -> Crop:
    return Crop(*(float(tags[f"XMP-crs:{name}"]) for name in CROP_TAGS))


def extracted_labels(folder: Path, out: Path) -> dict[Path, pd.Series]:
    extract([folder], out, size=64, jobs=1, progress=False)
    labels = pd.read_csv(out / "labels.csv")
    return {Path(row["source"]): row for _, row in labels.iterrows()}


@pytest.mark.parametrize("in_place", [False, True], ids=["sidecar", "embedded"])
def test_round_trip_all_orientations(model, run, tmp_path, in_place):
    folder = tmp_path / "photos"
    folder.mkdir()
    photos = [oriented_photo(folder / f"photo {o}.jpg", photo_scene(120, 80, seed=o), o) for o in range(1, 9)]
    pixels = {p: pixel_hash(p) for p in photos}
    files = {p: file_hash(p) for p in photos}
    predictions = {p.source: p for p in predict(run, [folder], model=model)}

    summary = apply(run, [folder], in_place=in_place, model=model)
    assert summary.counts == {"written": 8}
    tags = read_tags(*[a.target for a in summary.actions])
    for action in summary.actions:
        photo, prediction = action.source, predictions[action.source]
        assert action.target == (photo if in_place else photo.with_name(photo.name + ".xmp"))
        assert action.created is not in_place
        # Written in the STORED frame: to_stored of the prediction, rounded to Lightroom's 6 decimals.
        expected = written_values(
            to_stored(prediction.crop, prediction.width, prediction.height, prediction.orientation)
        )
        assert action.stored == expected
        assert tags[action.target]["XMP-crs:HasCrop"] is True or str(tags[action.target]["XMP-crs:HasCrop"]) == "True"
        assert stored_crop(tags[action.target]).values() == pytest.approx(expected.values(), abs=1e-12)
        # The image data is untouched: with a sidecar the file itself, in place the decoded pixels.
        assert pixel_hash(photo) == pixels[photo]
        if in_place:
            assert file_hash(photo.with_name(photo.name + "_original")) == files[photo]  # exiftool's backup
        else:
            assert file_hash(photo) == files[photo]

    labels = extracted_labels(folder, tmp_path / "dataset")
    assert set(labels) == set(photos)
    for photo in photos:
        row, prediction = labels[photo], predictions[photo]
        assert row["origin"] == ("xmp-embedded" if in_place else "xmp-sidecar")
        assert (row["width"], row["height"], row["orientation"]) == (
            prediction.width,
            prediction.height,
            prediction.orientation,
        )
        values = [row[k] for k in LABEL_VALUES]
        assert values == pytest.approx(prediction.crop.values(), abs=1e-4)


def test_round_trip_raws_and_dng(model, run, tmp_path):
    """Raws with NAME.xmp and NAME.EXT.xmp sidecars, a raw whose sidecar is gone (a new NAME.xmp with
    --new-sidecars), a DNG in place."""
    library = tmp_path / "library"
    make_sample_library(
        library, count=6, seed=4, long_side=160, kinds=("cr2-sidecar", "cr2-ext-sidecar", "nef-sidecar", "dng")
    )
    raws = sorted(p for p in library.rglob("*") if p.suffix.lower() in {".cr2", ".nef"})
    dngs = sorted(library.rglob("*.dng"))
    assert len(raws) >= 3 and dngs
    lonely = raws[0]
    for sidecar in [lonely.with_suffix(".xmp"), lonely.with_name(lonely.name + ".xmp")]:
        sidecar.unlink(missing_ok=True)
    raw_bytes = {p: file_hash(p) for p in raws}
    sidecars_before = {p: all_tags(p) for p in library.rglob("*.xmp")}
    with metadata_tool() as tool:
        previews = {p: tool.preview(p) for p in dngs}

    # Without --force, crops already there stay; the raw without a sidecar gets a new NAME.xmp, holding only the
    # crop, with --new-sidecars (without it, or --catalog, no raw sidecar is made: tests/test_apply_lightroom.py).
    summary = apply(run, [library], model=model, new_sidecars=True)
    by_source = {a.source: a for a in summary.actions}
    assert by_source[lonely].status == "written" and by_source[lonely].target == lonely.with_suffix(".xmp")
    assert by_source[lonely].created
    assert all(by_source[p].reason == HAS_CROP for p in raws[1:])
    assert by_source[dngs[0]].reason == HAS_CROP
    assert {p: all_tags(p) for p in sidecars_before} == sidecars_before

    summary = apply(run, [library], force=True, in_place=True, model=model)
    by_source = {a.source: a for a in summary.actions}
    for raw in raws:  # each raw's own sidecar, whichever name it has
        action = by_source[raw]
        assert action.status == "written" and action.target.suffix == ".xmp" and not action.created
        assert action.target.stem in (raw.stem, raw.name)
        assert file_hash(raw) == raw_bytes[raw]
    for sidecar, before in sidecars_before.items():  # only the crop tags changed
        after = all_tags(sidecar)
        assert {k: v for k, v in after.items() if k not in CROP_KEYS} == {
            k: v for k, v in before.items() if k not in CROP_KEYS
        }
    assert by_source[dngs[0]].target == dngs[0]
    with metadata_tool() as tool:
        assert {p: tool.preview(p) for p in dngs} == previews

    predictions = {p.source: p for p in predict(run, [library], model=model)}
    labels = extracted_labels(library, tmp_path / "dataset")
    for source in [*raws, *dngs]:
        values = [labels[source][k] for k in LABEL_VALUES]
        assert values == pytest.approx(predictions[source].crop.values(), abs=1e-4)


def test_force_and_in_place_semantics(model, run, tmp_path, exif_writer):
    folder = tmp_path / "photos"
    folder.mkdir()
    embedded = oriented_photo(folder / "embedded.jpg", photo_scene(90, 60, 1), 1)
    exif_writer(embedded, *crop_tags(0.1, 0.1, 0.9, 0.9, 2.0))
    oriented_photo(folder / "sidecar.jpg", photo_scene(90, 60, 2), 6)
    sidecar = folder / "sidecar.jpg.xmp"
    exif_writer(sidecar, *crop_tags(0.2, 0.1, 0.8, 0.7, 0.0), "-XMP-dc:Title=keep me", "-XMP-crs:Exposure2012=0.35")
    oriented_photo(folder / "plain.png", photo_scene(90, 60, 3), 3)
    before = tree_hash(folder)

    # Default: photos that have a crop are left alone, the others get one.
    summary = apply(run, [folder], model=model)
    actions = {a.source.name: a for a in summary.actions}
    assert actions["embedded.jpg"].reason == HAS_CROP and actions["sidecar.jpg"].reason == HAS_CROP
    assert actions["plain.png"].status == "written" and actions["plain.png"].target == folder / "plain.png.xmp"
    assert stored_crop(read_tags(embedded)[embedded]) == Crop(0.1, 0.1, 0.9, 0.9, 2.0)
    assert stored_crop(read_tags(sidecar)[sidecar]) == Crop(0.2, 0.1, 0.8, 0.7, 0.0)
    (folder / "plain.png.xmp").unlink()
    assert tree_hash(folder) == before

    # --force: the sidecar crop is replaced (other sidecar content kept); an embedded crop cannot be
    # replaced by a sidecar (the extractor would ignore it), so it is skipped with the reason.
    summary = apply(run, [folder], force=True, model=model)
    actions = {a.source.name: a for a in summary.actions}
    assert actions["embedded.jpg"].reason == EMBEDDED_CROP
    assert actions["sidecar.jpg"].status == "written" and actions["sidecar.jpg"].replaced == Crop(
        0.2, 0.1, 0.8, 0.7, 0.0
    )
    tags = read_tags(sidecar)[sidecar]
    assert stored_crop(tags) == actions["sidecar.jpg"].stored
    everything = all_tags(sidecar)
    assert everything["XMP-dc:Title"] == "keep me" and everything["XMP-crs:Exposure2012"] == 0.35

    # --force --in-place: into the files, exiftool keeping FILE_original.
    original = embedded.read_bytes()
    summary = apply(run, [folder], force=True, in_place=True, model=model)
    actions = {a.source.name: a for a in summary.actions}
    assert actions["embedded.jpg"].status == "written" and actions["embedded.jpg"].target == embedded
    assert actions["embedded.jpg"].replaced == Crop(0.1, 0.1, 0.9, 0.9, 2.0)
    assert (folder / "embedded.jpg_original").read_bytes() == original
    assert stored_crop(read_tags(embedded)[embedded]) == actions["embedded.jpg"].stored
    # Backups are not photos to predict or apply to.
    assert "embedded.jpg_original" not in {a.source.name for a in summary.actions if a.status == "written"}


def test_dry_run_writes_nothing(model, run, tmp_path, exif_writer):
    folder = tmp_path / "photos"
    folder.mkdir()
    for o in (1, 6):
        oriented_photo(folder / f"p{o}.jpg", photo_scene(90, 60, o), o)
    cropped = oriented_photo(folder / "cropped.jpg", photo_scene(90, 60, 9), 1)
    exif_writer(cropped, *crop_tags(0.1, 0.1, 0.9, 0.9))
    before = tree_hash(folder)
    for options in ({}, {"force": True}, {"force": True, "in_place": True}):
        summary = apply(run, [folder], dry_run=True, model=model, **options)
        assert tree_hash(folder) == before
        assert summary.counts["would write"] == (3 if options.get("in_place") else 2)
        report = summary.report()
        assert "dry run: nothing was written" in report and "would write" in report
        assert all(line.split(": ")[0] for line in report.splitlines())
    plain = apply(run, [folder], dry_run=True, model=model).actions
    would = {a.source.name: a for a in plain}
    assert would["p6.jpg"].created and would["p6.jpg"].target == folder / "p6.jpg.xmp"


def test_crop_assignments_are_lightroom_tags():
    crop = written_values(Crop(0.1234567891, -1e-17, 1.0000000001, 0.5, -3.14159265))
    assert crop == Crop(0.123457, 0.0, 1.0, 0.5, -3.141593)
    assert exiftool_assignments(crop) == [
        "-XMP-crs:HasCrop=True",
        "-XMP-crs:CropLeft=0.123457",
        "-XMP-crs:CropTop=0.000000",
        "-XMP-crs:CropRight=1.000000",
        "-XMP-crs:CropBottom=0.500000",
        "-XMP-crs:CropAngle=-3.141593",
    ]


def test_summary_counts_and_skips(model, run, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    oriented_photo(folder / "a.jpg", photo_scene(90, 60, 1), 1)
    (folder / "b.jpg").write_bytes(b"")
    (folder / "c.txt").write_text("hello")
    shutil.copy(folder / "a.jpg", folder / "d.jpeg")
    summary = apply(run, [folder], model=model)
    assert summary.counts == {"written": 2, "skipped": 2}
    report = summary.report()
    assert "wrote 2 crops: 2 into new sidecars" in report and "skipped 2" in report
    assert apply_module.ApplySummary().report().startswith("wrote 0 crops")


def test_min_confidence_writes_only_the_crops_it_is_sure_of(red_or_blue_run, tmp_path):
    """`apply --min-confidence X`: photos whose confidence (predict's, the expected IoU) is below X are skipped with
    that reason and left untouched; the rest are written as without it. The photographer crops red photos and leaves
    blue ones alone (tests/red_or_blue.py); the photos go from red towards blue, and X lies between two of the
    confidences the model gives the ones it crops."""
    import json

    import numpy as np
    from PIL import Image

    from cropstyle import cli
    from cropstyle.export.inference import load_crop_model
    from cropstyle.training.run import Run

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k, blue in enumerate(np.linspace(0.0, 0.6, 7)):
        colour = (1 - blue) * np.array([200, 40, 40]) + blue * np.array([40, 40, 200])
        pixels = np.clip(colour + rng.normal(0, 20, (48, 64, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{k}.jpg", quality=90)
    model = load_crop_model(red_or_blue_run)
    predictions = predict(red_or_blue_run, [folder], model=model)
    confidence = {p.source.name: p.confidence for p in predictions}
    without = {a.source.name: a.status for a in apply(red_or_blue_run, [folder], model=model, dry_run=True).actions}
    cropped = sorted(confidence[name] for name, status in without.items() if status == "would write")
    levels = sorted(set(cropped))
    assert len(levels) >= 2, confidence
    threshold = levels[len(levels) // 2]  # some crops below it, some at or above
    before = tree_hash(folder)
    summary = apply(red_or_blue_run, [folder], model=model, min_confidence=threshold)
    reason = f"confidence below --min-confidence {threshold:g}"
    expected = {
        name: ("skipped", reason)
        if confidence[name] < threshold
        else ("written" if status == "would write" else status,)
        for name, status in without.items()
    }
    got = {a.source.name: (a.status, a.reason) if a.reason == reason else (a.status,) for a in summary.actions}
    assert got == expected and ("skipped", reason) in got.values() and ("written",) in got.values()
    written = {name for name, status in got.items() if status == ("written",)}
    assert {p.name for p in folder.glob("*.xmp")} == {f"{name}.xmp" for name in written}
    assert tree_hash(folder) != before
    # A RUN trained before the confidence existed cannot honour it, and says so.
    older = tmp_path / "older-run"
    shutil.copytree(red_or_blue_run, older)
    config = json.loads((older / "config.json").read_text())
    del config["confidence"]
    (older / "config.json").write_text(json.dumps(config))
    Run.open(older).combined_members().save(older / "model.keras")
    with pytest.raises(ValueError, match="gives no confidence .trained before cropstyle had one.: train it again"):
        apply(older, [folder], min_confidence=0.5, model=load_crop_model(older))
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["apply", str(older), str(folder), "--min-confidence", "1.5"])


def test_photos_the_model_leaves_uncropped_get_no_crop_written(tmp_path):
    """A model whose keep-the-frame decision says "leave it" (trained on photos some of which were left
    uncropped, then its logit forced high) writes nothing: no full-frame crop, no new sidecar, the photo
    untouched."""
    import keras

    from cropstyle.export.inference import load_crop_model
    from cropstyle.samples.dataset import write_dataset
    from cropstyle.training.train import train

    dataset = write_dataset(tmp_path / "dataset", 16, seed=3, long_side=96)
    labels = pd.read_csv(dataset / "labels.csv")
    labels.loc[:7, ["left", "top", "right", "bottom", "angle", "has_crop"]] = [0.0, 0.0, 1.0, 1.0, 0.0, False]
    labels.to_csv(dataset / "labels.csv", index=False)
    # One model (not the default ensemble, whose "raw" is a mean): its head's weights are set below.
    keeping = train([dataset], tmp_path / "run", epochs=1, batch_size=8, image_size=32, ensemble=1, verbose=0).run
    network = keras.saving.load_model(keeping / "model.keras", compile=False)
    raw = network.get_layer("raw")
    kernel, bias = raw.get_weights()
    kernel[:, 5], bias[5] = 0.0, 10.0
    raw.set_weights([kernel, bias])
    network.save(keeping / "model.keras")
    folder = tmp_path / "photos"
    folder.mkdir()
    oriented_photo(folder / "a.jpg", photo_scene(90, 60, 1), 1)
    before = tree_hash(folder)
    summary = apply(keeping, [folder], model=load_crop_model(keeping))
    assert [(a.status, a.reason) for a in summary.actions] == [("skipped", LEFT_UNCROPPED)]
    assert tree_hash(folder) == before
