"""`cropstyle extract CATALOG.lrcat`: labels from Lightroom catalogs, end to end through the extractor."""

from __future__ import annotations

import csv
import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from cropstyle.extractor.extract import extract
from cropstyle.extractor.geometry import LABEL_VALUES, Crop, displayed_size, to_displayed
from cropstyle.samples.catalog import CatalogEntry, write_catalog
from cropstyle.samples.library import RAW_STUBS
from tests.conftest import crop_tags, scene, tree_hash

STORED = (300, 200)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def values(row: dict) -> list[float]:
    return [float(row[k]) for k in LABEL_VALUES]


def crop_for(orientation: int) -> Crop:
    # Values with 6 decimals, as Lightroom stores them, different for every photo.
    return Crop(0.05 + orientation / 100, 0.1, 0.9 - orientation / 200, 0.85, round(orientation * 0.7 - 3, 6))


@pytest.fixture
def catalog_library(tmp_path, exif_writer):
    """Generated JPEGs (no crop in their XMP) and a catalog holding their crops, for every orientation."""
    library = tmp_path / "Pictures"
    library.mkdir()
    entries = []
    for orientation in range(1, 9):
        photo = library / f"IMG_{orientation:04d}.jpg"
        scene(*STORED, seed=orientation).save(photo, quality=90)
        entries.append(CatalogEntry(photo, orientation, *STORED, crop_for(orientation)))
    first = entries[0].path
    entries.append(CatalogEntry(first, 1, *STORED, Crop(0.2, 0.2, 0.7, 0.9, 1.5), copy_name="Square-ish"))
    uncropped = library / "IMG_0100.jpg"
    scene(*STORED, seed=100).save(uncropped)
    entries.append(CatalogEntry(uncropped, 1, *STORED, None))
    entries.append(CatalogEntry(Path("/Volumes/Old Disk/IMG_0200.jpg"), 1, *STORED, crop_for(1)))
    export = library / "IMG_0001-Edit.jpg"
    scene(*STORED, seed=7).save(export)
    entries.append(CatalogEntry(export, 1, *STORED, crop_for(1), already_applied=True))
    # Also XMP with another crop in the file: the catalog wins (a sidecar or embedded XMP can be stale).
    both = library / "IMG_0300.jpg"
    scene(*STORED, seed=300).save(both)
    exif_writer(both, *crop_tags(0.3, 0.3, 0.6, 0.6, 0))
    entries.append(CatalogEntry(both, 1, *STORED, crop_for(3)))
    catalog = tmp_path / "Lightroom" / "Catalog.lrcat"
    catalog.parent.mkdir()
    write_catalog(catalog, entries)
    return library, catalog


def test_catalog_crops_become_displayed_labels(catalog_library, tmp_path):
    library, catalog = catalog_library
    before = hashlib.sha256(catalog.read_bytes()).hexdigest()
    library_before = tree_hash(library)
    summary = extract([catalog, library], tmp_path / "dataset", size=128, progress=False)
    assert hashlib.sha256(catalog.read_bytes()).hexdigest() == before
    assert tree_hash(library) == library_before

    labels = read_csv(tmp_path / "dataset" / "labels.csv")
    by_name = {}
    for row in labels:
        by_name.setdefault(Path(row["source"]).name, []).append(row)
    for orientation in range(1, 9):
        rows = by_name[f"IMG_{orientation:04d}.jpg"]
        row = next(r for r in rows if not r["copy_name"])
        assert row["origin"] == "lrcat" and row["orientation"] == str(orientation)
        assert values(row) == pytest.approx(
            to_displayed(crop_for(orientation), *STORED, orientation).values(), abs=1e-9
        )
        assert (int(row["width"]), int(row["height"])) == displayed_size(*STORED, orientation)
        image = Image.open(tmp_path / "dataset" / row["image"])
        assert image.width / image.height == pytest.approx(int(row["width"]) / int(row["height"]), rel=0.02)

    # The virtual copy: same file, its own crop and row.
    master, copy = sorted(by_name["IMG_0001.jpg"], key=lambda r: r["copy_name"])
    assert copy["copy_name"] == "Square-ish" and copy["catalog_image_id"] != master["catalog_image_id"]
    assert values(copy) == pytest.approx([0.2, 0.2, 0.7, 0.9, 1.5], abs=1e-9)
    assert copy["image"] == master["image"]

    # One row for a photo both in the catalog and carrying XMP: the catalog's crop.
    (both,) = by_name["IMG_0300.jpg"]
    assert both["origin"] == "lrcat" and values(both) == pytest.approx(crop_for(3).values(), abs=1e-9)

    skipped = {Path(row["source"]).name: row["reason"] for row in read_csv(tmp_path / "dataset" / "skipped.csv")}
    assert skipped["IMG_0100.jpg"] == "no crop"
    assert skipped["IMG_0200.jpg"] == "missing file"
    assert skipped["IMG_0001-Edit.jpg"].startswith("export")
    assert len(labels) == 10
    assert "--remap" in summary.report()


NEF_FOLDER = "/Users/maxmouchet/Pictures/2013"


def test_real_catalog_exports_missing_files_and_remap(real_catalog, tmp_path):
    """The real Lightroom 5 catalog: its two re-imported exports are exports; its NEFs live on another
    machine until --remap points their folder at copies here."""
    real_before = hashlib.sha256(real_catalog.read_bytes()).hexdigest()
    catalog = tmp_path / "catalog.lrcat"
    shutil.copyfile(real_catalog, catalog)
    connection = sqlite3.connect(catalog)
    with connection:  # crops set the way Lightroom writes them: lines inside s = { ... }, no HasCrop
        for image_id, text in connection.execute(
            "SELECT image, text FROM Adobe_imageDevelopSettings WHERE image IN (21, 40)"
        ).fetchall():
            assert text.startswith("s = { ")
            text = text.replace(
                "s = { ",
                "s = { CropAngle = -2.18554,\nCropBottom = 0.945854,\n"
                "CropLeft = 0.01504,\nCropRight = 0.98496,\nCropTop = 0.054146,\n",
                1,
            )
            connection.execute("UPDATE Adobe_imageDevelopSettings SET text = ? WHERE image = ?", (text, image_id))
    connection.close()

    summary = extract([catalog], tmp_path / "dataset", progress=False)
    reasons = sorted(row["reason"].split(":")[0] for row in read_csv(tmp_path / "dataset" / "skipped.csv"))
    assert reasons == ["export", "export", "missing file", "missing file"]
    assert "--remap" in summary.report()

    moved = tmp_path / "Pictures 2013"
    for name in ("_MAX7667.NEF", "_MAX7674.NEF"):
        target = moved / "12-01 (MO) Pre-party Phoelix" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(RAW_STUBS / "Nikon.nef", target)  # a real NEF, but without a preview
    extract([catalog], tmp_path / "dataset", remap=[(NEF_FOLDER, str(moved))], progress=False)
    skipped = {row["source"]: row["reason"] for row in read_csv(tmp_path / "dataset" / "skipped.csv")}
    remapped = [reason for source, reason in skipped.items() if source.startswith(str(moved))]
    assert remapped == ["no image data: raw without a usable embedded preview"] * 2
    assert hashlib.sha256(real_catalog.read_bytes()).hexdigest() == real_before


def test_malformed_develop_settings_give_a_reason(catalog_library, tmp_path):
    library, catalog = catalog_library
    connection = sqlite3.connect(catalog)
    with connection:
        connection.execute(
            "UPDATE Adobe_imageDevelopSettings SET text = 's = { CropLeft = 0.1, CropTop = ' "
            "WHERE image = (SELECT MIN(image) FROM Adobe_imageDevelopSettings)"
        )
    connection.close()
    extract([catalog], tmp_path / "dataset", progress=False)
    reasons = [row["reason"] for row in read_csv(tmp_path / "dataset" / "skipped.csv")]
    assert any(reason.startswith("invalid crop: ") and "Lua" in reason for reason in reasons)
    assert len(read_csv(tmp_path / "dataset" / "labels.csv")) == 9
