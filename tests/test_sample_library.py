"""The sample library (samples/library.py): deterministic, complete, and true to its truth.csv.

Everything is read back with the real exiftool and Pillow; images are tiny so the module runs in seconds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import exiftool
import numpy as np
import pytest
from PIL import Image, ImageOps

from cropstyle.extractor import skip_reasons
from cropstyle.extractor.geometry import LABEL_VALUES, Crop, crop_problem, displayed_size, to_displayed
from cropstyle.extractor.pixels import ORIENTATION_TRANSPOSE
from cropstyle.samples.library import KINDS, LABEL, RAW_STUBS, TRUTH_COLUMNS, _planned_photos, make_sample_library
from cropstyle.samples.scenes import render

COUNT, SEED, LONG_SIDE = 40, 7, 120


def _tree_digest(folder: Path, skip: str = "catalog/") -> dict[str, str]:
    # The catalog is left out: its rows get fresh UUIDs on every run (test_catalog_holds_the_crops checks it).
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.relative_to(folder).as_posix().startswith(skip)
    }


@pytest.fixture(scope="module")
def stubs_before() -> dict[str, str]:
    return _tree_digest(RAW_STUBS, skip="-")


@pytest.fixture(scope="module")
def library(tmp_path_factory, stubs_before) -> Path:
    directory = tmp_path_factory.mktemp("sample") / "library"
    summary = make_sample_library(directory, count=COUNT, seed=SEED, long_side=LONG_SIDE)
    assert summary.rows == COUNT
    assert "jpeg" in summary.report()
    return directory


@pytest.fixture(scope="module")
def truth(library) -> list[dict[str, str]]:
    with open(library / "truth.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == TRUTH_COLUMNS
        return list(reader)


@pytest.fixture(scope="module")
def tool():
    with exiftool.ExifTool(common_args=["-charset", "filename=utf8"]) as et:
        yield et


def _read_tags(tool, files: list[Path]) -> dict[str, dict]:
    output = tool.execute(
        "-json",
        "-n",
        "-G1",
        "-XMP-crs:all",
        "-XMP-tiff:Orientation",
        "-IFD0:Orientation",
        "-XMP-xmpMM:HistoryAction",
        "-Composite:ImageSize",
        "-SubIFD:DefaultCropSize",
        "-File:FileType",
        *map(str, files),
    )
    return {Path(entry["SourceFile"]).as_posix(): entry for entry in json.loads(output)}


def _stored_size(file_tags: dict) -> tuple[int, int]:
    """The crop's frame: ImageSize, or for the DNG (raw in a SubIFD, DefaultScale 1 1) its DefaultCropSize."""
    size = file_tags.get("SubIFD:DefaultCropSize") or file_tags["Composite:ImageSize"]
    width, height = (int(v) for v in str(size).replace("x", " ").split())
    return width, height


def _sidecar_of(library: Path, file: str) -> Path:
    raw = library / file
    for candidate in (raw.with_suffix(".xmp"), raw.with_name(raw.name + ".xmp")):
        if candidate.exists():
            return candidate
    raise AssertionError(f"no sidecar beside {file}")


def _truth_crop(row: dict[str, str]) -> Crop:
    return Crop(*(float(row[name]) for name in LABEL_VALUES))


def test_same_seed_gives_the_same_bytes(library, tmp_path):
    again = tmp_path / "again"
    make_sample_library(again, count=COUNT, seed=SEED, long_side=LONG_SIDE)
    assert _tree_digest(again) == _tree_digest(library)
    other = tmp_path / "other"
    make_sample_library(other, count=8, seed=SEED + 1, long_side=LONG_SIDE, kinds=("jpeg",))
    assert _tree_digest(other) != _tree_digest(library)


def test_every_kind_appears_at_count_40(truth):
    assert {row["kind"] for row in truth} == set(KINDS)
    assert len(truth) == COUNT
    for row in truth:
        assert row["expected"] == KINDS[row["kind"]][0]
    jpeg_orientations = {int(row["orientation"]) for row in truth if row["kind"] == "jpeg"}
    assert jpeg_orientations == set(range(1, 9))


def test_labels_are_valid_crops_in_the_displayed_frame(truth):
    for row in truth:
        if row["expected"] == LABEL:
            crop = _truth_crop(row)
            assert crop_problem(crop, int(row["width"]), int(row["height"])) is None, row["file"]
            assert row["origin"] in ("xmp-embedded", "xmp-sidecar", "lrcat")
        elif row["expected"] == skip_reasons.NO_CROP:
            assert _truth_crop(row) == Crop(0, 0, 1, 1, 0)


def test_written_crops_convert_to_the_truth(library, truth, tool):
    """exiftool reads the stored-frame crs values; geometry.to_displayed of them is truth.csv's label."""
    rows = [row for row in truth if row["expected"] == LABEL and row["origin"] != "lrcat"]
    photos = [library / row["file"] for row in rows]
    xmp_sources = [
        (_sidecar_of(library, row["file"]) if row["origin"] == "xmp-sidecar" else library / row["file"]) for row in rows
    ]
    tags = _read_tags(tool, photos + [p for p in xmp_sources if p not in photos])
    angles = set()
    for row, photo, xmp_source in zip(rows, photos, xmp_sources):
        xmp, file_tags = tags[xmp_source.as_posix()], tags[photo.as_posix()]
        assert xmp["XMP-crs:HasCrop"] in (True, "True"), row["file"]
        orientation = int(xmp.get("XMP-tiff:Orientation") or file_tags.get("IFD0:Orientation") or 1)
        assert orientation == int(row["orientation"]), row["file"]
        stored_w, stored_h = _stored_size(file_tags)
        assert displayed_size(stored_w, stored_h, orientation) == (int(row["width"]), int(row["height"])), row["file"]
        stored = Crop(*(float(xmp[f"XMP-crs:Crop{name}"]) for name in ("Left", "Top", "Right", "Bottom", "Angle")))
        shown = to_displayed(stored, stored_w, stored_h, orientation)
        assert np.allclose(shown.values(), _truth_crop(row).values(), atol=1e-4), (row["file"], shown, row)
        angles.add(shown.angle)
    assert len(angles) > 3  # the style straightens tilted horizons: not every angle is 0


def test_catalog_holds_the_crops(library, truth, tool):
    """lrcat rows: the crop is only in DIR/catalog/Library.lrcat (stored frame), none in the file's XMP."""
    from cropstyle.extractor.lrcat import read_catalog

    rows = {(library / row["file"]).absolute(): row for row in truth if row["kind"] == "lrcat"}
    photos = list(read_catalog(library / "catalog" / "Library.lrcat"))
    assert {photo.path for photo in photos} == set(rows)
    tags = _read_tags(tool, list(rows))
    for photo in photos:
        row = rows[photo.path]
        assert photo.problem is None and photo.orientation == int(row["orientation"])
        assert displayed_size(photo.width, photo.height, photo.orientation) == (int(row["width"]), int(row["height"]))
        shown = to_displayed(photo.crop, photo.width, photo.height, photo.orientation)
        assert np.allclose(shown.values(), _truth_crop(row).values(), atol=1e-4), row["file"]
        assert tags[photo.path.as_posix()].get("XMP-crs:HasCrop") in (None, False)


def test_user_rotation_is_in_the_xmp_only(library, truth, tool):
    rows = [row for row in truth if row["kind"] == "jpeg-user-rotation"]
    tags = _read_tags(tool, [library / row["file"] for row in rows])
    for row in rows:
        entry = tags[(library / row["file"]).as_posix()]
        assert entry["XMP-tiff:Orientation"] == int(row["orientation"]) != entry["IFD0:Orientation"]


def test_pixels_show_the_scene_upright(library, truth):
    """Every cropped JPEG, displayed with its orientation, is the scene the generator drew (orientation 6 included)."""
    planned = {photo.file: photo for photo in _planned_photos(COUNT, SEED, LONG_SIDE, None)}
    rows = [row for row in truth if row["kind"] in ("jpeg", "jpeg-user-rotation", "tiff", "png", "lrcat")]
    assert any(row["orientation"] == "6" for row in rows)
    for row in rows:
        image = Image.open(library / row["file"])
        image.load()
        if row["kind"] == "jpeg-user-rotation":
            # Pillow applies the EXIF orientation; Lightroom's XMP one wins, so apply that one by hand.
            transpose = ORIENTATION_TRANSPOSE.get(int(row["orientation"]))
            shown = image.transpose(transpose) if transpose is not None else image
        else:
            shown = ImageOps.exif_transpose(image)
        shown = np.asarray(shown.convert("RGB"), dtype=np.float32)
        width, height = int(row["width"]), int(row["height"])
        assert shown.shape == (height, width, 3), row["file"]
        drawn = render(planned[row["file"]].scene, width, height).astype(np.float32)
        assert np.abs(shown - drawn).mean() < 4, row["file"]  # JPEG noise only
        if width != height:  # the other way round does not match at all
            wrong = np.asarray(
                Image.fromarray(drawn.astype(np.uint8)).transpose(Image.Transpose.ROTATE_180), np.float32
            )
            assert np.abs(shown - wrong).mean() > 8, row["file"]


def test_raw_previews_decode_with_the_raw_aspect(library, truth, tool):
    rows = [row for row in truth if row["kind"] in ("cr2-sidecar", "cr2-ext-sidecar", "nef-sidecar", "dng")]
    assert {Path(row["file"]).suffix.lower() for row in rows} == {".cr2", ".nef", ".dng"}
    tags = _read_tags(tool, [library / row["file"] for row in rows])
    for row in rows:
        raw = library / row["file"]
        stored_w, stored_h = _stored_size(tags[raw.as_posix()])
        for tag in ("PreviewImage", "JpgFromRaw") if raw.suffix.lower() != ".cr2" else ("PreviewImage",):
            data = tool.execute("-b", f"-{tag}", str(raw), raw_bytes=True)
            assert data[:2] == b"\xff\xd8", (row["file"], tag)
            preview = Image.open(io.BytesIO(data))
            preview.load()
            assert preview.width * stored_h == preview.height * stored_w, (row["file"], preview.size)
    no_preview = next(row for row in truth if row["kind"] == "raw-no-preview")
    # The stub's 26-byte placeholder is left as is: exiftool -b gives nothing (not a valid JPEG).
    data = tool.execute("-b", "-PreviewImage", str(library / no_preview["file"]), raw_bytes=True)
    assert data[:2] != b"\xff\xd8"
    assert (
        json.loads(tool.execute("-json", "-PreviewImageLength", str(library / no_preview["file"])))[0][
            "PreviewImageLength"
        ]
        == 26
    )


def test_sidecars_exports_and_broken_files(library, truth, tool):
    by_kind = {row["kind"]: row for row in truth}
    assert (library / (by_kind["cr2-sidecar"]["file"].rsplit(".", 1)[0] + ".xmp")).exists()
    assert (library / (by_kind["cr2-ext-sidecar"]["file"] + ".xmp")).exists()
    orphan = library / by_kind["orphan-sidecar"]["file"]
    assert orphan.exists() and not list(orphan.parent.glob(orphan.stem + ".*[!p]"))
    assert (library / by_kind["zero-byte"]["file"]).stat().st_size == 0

    files = {
        kind: library / by_kind[kind]["file"]
        for kind in (
            "truncated",
            "text-as-jpg",
            "export-applied",
            "export-history",
            "export-rawfilename",
            "perspective",
            "garbage-crop",
        )
    }
    tags = {kind: _read_tags(tool, [path])[path.as_posix()] for kind, path in files.items()}
    assert tags["text-as-jpg"]["File:FileType"] == "TXT"
    assert tags["truncated"]["XMP-crs:HasCrop"] is True
    with pytest.raises(OSError):
        Image.open(files["truncated"]).load()
    assert tags["export-applied"]["XMP-crs:AlreadyApplied"] is True
    assert tags["export-history"]["XMP-xmpMM:HistoryAction"][-1] == "derived"
    assert tags["export-rawfilename"]["XMP-crs:RawFileName"] != files["export-rawfilename"].name
    assert tags["perspective"]["XMP-crs:PerspectiveUpright"] != 0
    garbage = tags["garbage-crop"]
    assert garbage["XMP-crs:CropLeft"] > garbage["XMP-crs:CropRight"]

    duplicate = by_kind["duplicate"]
    originals = [
        row
        for row in truth
        if row["file"] != duplicate["file"] and Path(row["file"]).name == Path(duplicate["file"]).name
    ]
    assert len(originals) == 1
    assert (library / originals[0]["file"]).read_bytes() == (library / duplicate["file"]).read_bytes()
    assert [originals[0][k] for k in LABEL_VALUES] == [duplicate[k] for k in LABEL_VALUES]

    assert any(not row["file"].isascii() and " " in row["file"] for row in truth)


def test_jpeg_only_library(tmp_path):
    summary = make_sample_library(tmp_path / "jpegs", count=6, seed=3, long_side=64, kinds=("jpeg",))
    assert summary.kinds == {"jpeg": 6}
    assert summary.expected == {LABEL: 6}


def test_the_raw_stubs_are_left_untouched(library, stubs_before):
    assert _tree_digest(RAW_STUBS, skip="-") == stubs_before
    assert set(stubs_before) == {"CanonRaw.cr2", "DNG.dng", "LICENSE-GPL-3.0", "Nikon.nef", "README.md"}


def test_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "photo.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="not empty"):
        make_sample_library(tmp_path, count=3)
