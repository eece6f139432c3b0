"""Extracting a generated sample library gives exactly the labels the generator meant."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from cropstyle.extractor.extract import extract
from cropstyle.extractor.geometry import LABEL_VALUES
from cropstyle.samples.library import make_sample_library
from tests.conftest import tree_hash


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    library = tmp_path_factory.mktemp("sample") / "library"
    make_sample_library(library, count=40, seed=3)
    before = tree_hash(library)
    dataset = tmp_path_factory.mktemp("dataset")
    extract([library], dataset, size=256, progress=False)
    assert tree_hash(library) == before  # the library is only read
    truth = read_csv(library / "truth.csv")
    labels = {(row["source"], row["catalog_image_id"]): row for row in read_csv(dataset / "labels.csv")}
    skipped = {row["source"]: row for row in read_csv(dataset / "skipped.csv")}
    return library, dataset, truth, labels, skipped


def _label_for(labels: dict, source: str, kind: str) -> dict:
    matches = [row for (path, _), row in labels.items() if path == source]
    assert len(matches) == 1, f"{kind} {source}: {len(matches)} label rows"
    return matches[0]


def test_every_photo_gets_the_label_the_generator_meant(extracted):
    library, _, truth, labels, _ = extracted
    expected_labels = [row for row in truth if row["expected"] == "label"]
    assert {row["kind"] for row in expected_labels} >= {
        "jpeg",
        "cr2-sidecar",
        "nef-sidecar",
        "dng",
        "tiff",
        "png",
        "lrcat",
    }
    assert {int(row["orientation"]) for row in expected_labels} == set(range(1, 9))
    for row in expected_labels:
        got = _label_for(labels, str(library / row["file"]), row["kind"])
        assert [float(got[k]) for k in LABEL_VALUES] == pytest.approx(
            [float(row[k]) for k in LABEL_VALUES], abs=1e-4
        ), row["file"]
        assert (got["origin"], got["orientation"], got["width"], got["height"]) == (
            row["origin"],
            row["orientation"],
            row["width"],
            row["height"],
        ), row["file"]


def test_every_other_file_is_skipped_with_the_expected_reason(extracted):
    library, _, truth, labels, skipped = extracted
    for row in truth:
        if row["expected"] == "label":
            continue
        source = str(library / row["file"])
        assert source not in {path for path, _ in labels}, row["file"]
        assert skipped[source]["reason"].startswith(row["expected"]), (row["file"], skipped[source]["reason"])


def test_duplicates_share_one_training_image(extracted):
    library, _, truth, labels, _ = extracted
    duplicates = [row for row in truth if row["kind"] == "duplicate"]
    assert duplicates
    for row in duplicates:
        twin = _label_for(labels, str(library / row["file"]), "duplicate")
        same = [r for r in labels.values() if r["image"] == twin["image"]]
        assert len(same) == 2


def test_training_images_look_like_the_photo_as_displayed(extracted):
    """Against Pillow's own exif_transpose (independent of our code), and clearly unlike the stored frame."""
    library, dataset, truth, labels, _ = extracted
    checked = 0
    for row in truth:
        if row["kind"] != "jpeg" or row["orientation"] in ("1",):
            continue
        got = _label_for(labels, str(library / row["file"]), row["kind"])
        training = np.asarray(Image.open(dataset / got["image"]).convert("L"), dtype=float)
        with Image.open(library / row["file"]) as original:
            shown = ImageOps.exif_transpose(original).convert("L")
            stored = original.convert("L")
        assert training.shape[::-1] == pytest.approx(
            (shown.width * 256 / max(shown.size), shown.height * 256 / max(shown.size)), abs=1
        )
        as_shown = np.asarray(shown.resize(training.shape[::-1]), dtype=float)
        as_stored = np.asarray(stored.resize(training.shape[::-1]), dtype=float)
        assert np.abs(training - as_shown).mean() < 4
        assert np.abs(training - as_stored).mean() > 3 * np.abs(training - as_shown).mean()
        checked += 1
    assert checked >= 3
