"""`cropstyle extract` on real files: the ExifTool corpus, bad inputs, re-runs and interruptions."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from cropstyle.extractor.extract import extract
from cropstyle.extractor.geometry import LABEL_VALUES, Crop, to_displayed
from cropstyle.extractor.metadata import declared_size, metadata_tool
from cropstyle.samples.library import RAW_STUBS
from tests.conftest import PROJECT, crop_tags, scene, tree_hash


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {Path(row["source"]).name: row for row in rows}


@pytest.mark.parametrize(
    "name, size",
    [
        ("DNG.dng", (3456, 2304)),  # DefaultCropSize × DefaultScale (1 1), not the raw's 3516×2328 with margins
        ("CanonRaw.cr2", (3456, 2304)),
        ("Nikon.nef", (3040, 2014)),
        ("ExifTool.jpg", (8, 8)),
    ],
)
def test_declared_size_is_the_frame_of_the_crop(corpus, name, size):
    with metadata_tool() as tool:
        tags = tool.read_tags([corpus / "exiftool-images" / name])
    assert declared_size(next(iter(tags.values()))) == size


def test_declared_size_applies_the_dng_default_scale():
    tags = {"IFD0:DefaultCropSize": "1000 800", "IFD0:DefaultScale": "2 1", "Composite:ImageSize": "1010 804"}
    assert declared_size(tags) == (2000, 800)
    assert declared_size({"Composite:ImageSize": "0 0"}) is None
    assert declared_size({"SubIFD:DefaultCropSize": "garbage"}) is None


def test_corpus_is_walked_read_only_and_every_file_is_reported(corpus, tmp_path):
    images = corpus / "exiftool-images"
    before = tree_hash(images)
    summary = extract([images], tmp_path / "dataset", progress=False)
    assert tree_hash(images) == before
    labels = read_csv(tmp_path / "dataset" / "labels.csv")
    skipped = by_name(read_csv(tmp_path / "dataset" / "skipped.csv"))
    assert labels == []  # no file in the corpus carries a crop
    assert set(skipped) == {p.name for p in images.iterdir() if p.is_file()}
    assert all(row["reason"] for row in skipped.values())
    assert summary.found == len(skipped)
    # What the reference says the corpus holds: raws and images without crops, sidecars without photos.
    assert skipped["CanonRaw.cr2"]["reason"] == "no crop"
    assert skipped["DNG.dng"]["reason"] == "no crop"
    assert skipped["Canon.jpg"]["reason"] == "no crop"
    assert skipped["XMP.xmp"]["reason"] == "sidecar without a photo"
    assert skipped["Text1.txt"]["reason"] == "not an image: TXT file"


@pytest.fixture
def bad_library(tmp_path, exif_writer) -> Path:
    library = tmp_path / "library with spaces"
    library.mkdir()
    good = library / "good.jpg"
    scene(300, 200).save(good, quality=90)
    exif_writer(good, *crop_tags(0.1, 0.2, 0.8, 0.9, 2.5))

    (library / "zero bytes.jpg").write_bytes(b"")
    (library / "notes.jpg").write_text("this is not a photo\n")

    truncated = library / "truncated.jpg"
    shutil.copy(good, truncated)
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) * 2 // 3])  # XMP is in the header, intact; scan data cut short

    garbage_xmp = tmp_path / "garbage.xmp"
    garbage_xmp.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" '
        'crs:HasCrop="True" crs:CropLeft="left-ish" crs:CropTop="0.1" crs:CropRight="0.9" crs:CropBottom="0.9"/>'
        "</rdf:RDF></x:xmpmeta>"
    )
    garbage = library / "garbage values.jpg"
    scene(300, 200, seed=1).save(garbage)
    exif_writer(garbage, f"-xmp<={garbage_xmp}")

    outside = library / "outside.jpg"
    scene(300, 200, seed=2).save(outside)
    exif_writer(outside, *crop_tags(0.0, 0.0, 1.0, 1.0, 20))  # full frame turned 20°: corners leave the image

    (library / "dangling.jpg").symlink_to(library / "gone.jpg")
    (library / "old catalog.lrcat").write_text("not a catalog\n")

    # A header that declares 60000×60000 pixels (3.6 gigapixels) for a small photo: refused, not decoded.
    huge = library / "huge.jpg"
    shutil.copy(good, huge)
    data = bytearray(huge.read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (60000).to_bytes(2, "big") * 2  # height, width
    huge.write_bytes(bytes(data))

    # An XML entity bomb beside a raw: must not expand, hang or crash.
    raw = library / "bomb.nef"
    shutil.copy(RAW_STUBS / "Nikon.nef", raw)
    lol = "".join(f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10))
    (library / "bomb.xmp").write_text(
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY lol0 "lol">{lol}]>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" crs:HasCrop="True" '
        'crs:CropLeft="&lol9;"/></rdf:RDF></x:xmpmeta>'
    )
    return library


@pytest.mark.parametrize(
    "name, reason",
    [
        ("zero bytes.jpg", "unreadable file: File is empty"),
        ("notes.jpg", "not an image: TXT file"),
        ("truncated.jpg", "corrupt image: image file is truncated"),
        ("garbage values.jpg", "invalid crop: crop values are not finite numbers"),
        ("outside.jpg", "invalid crop: crop reaches outside the image"),
        ("dangling.jpg", "unreadable file: No such file or directory"),
        ("old catalog.lrcat", "unreadable file: "),
        ("huge.jpg", "corrupt image: declared size is beyond 250,000,000 pixels"),
        ("bomb.nef", "unreadable file: sidecar bomb.xmp: it is TXT, not XMP"),
    ],
)
def test_bad_inputs_give_reasons(bad_library, tmp_path, name, reason):
    before = tree_hash(bad_library)
    extract([bad_library], tmp_path / "dataset", progress=False)
    skipped = by_name(read_csv(tmp_path / "dataset" / "skipped.csv"))
    assert skipped[name]["reason"].startswith(reason)
    labels = by_name(read_csv(tmp_path / "dataset" / "labels.csv"))
    assert list(labels) == ["good.jpg"]
    assert tree_hash(bad_library) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_file_without_read_permission(tmp_path, exif_writer):
    photo = tmp_path / "library" / "private.jpg"
    photo.parent.mkdir()
    scene(100, 80).save(photo)
    exif_writer(photo, *crop_tags(0.1, 0.1, 0.9, 0.9))
    photo.chmod(0)
    try:
        extract([photo.parent], tmp_path / "dataset", progress=False)
    finally:
        photo.chmod(0o644)
    (row,) = read_csv(tmp_path / "dataset" / "skipped.csv")
    assert row["reason"].startswith("unreadable file")


def test_label_is_in_displayed_frame_and_image_is_displayed(tmp_path, exif_writer):
    """A 300×200 JPEG stored sideways (orientation 6): labels and pixels come out as displayed, 200×300."""
    photo = tmp_path / "library" / "sideways.JPG"
    photo.parent.mkdir()
    stored = scene(300, 200)
    stored.save(photo, quality=95)
    stored_crop = Crop(0.1, 0.2, 0.8, 0.9, 4.0)
    exif_writer(photo, "-IFD0:Orientation#=6", *crop_tags(*stored_crop.values()))
    extract([photo.parent], tmp_path / "dataset", size=150, progress=False)
    (row,) = read_csv(tmp_path / "dataset" / "labels.csv")
    expected = to_displayed(stored_crop, 300, 200, 6)
    assert [float(row[k]) for k in LABEL_VALUES] == pytest.approx(expected.values(), abs=1e-9)
    assert (row["width"], row["height"], row["orientation"], row["origin"]) == ("200", "300", "6", "xmp-embedded")
    image = Image.open(tmp_path / "dataset" / row["image"])
    assert image.size == (100, 150)
    # Orientation 6 turns the stored image 90° clockwise: its bottom-left corner is now top-left.
    shown = stored.transpose(Image.Transpose.ROTATE_270).resize((100, 150))
    assert abs(int(image.getpixel((5, 5))[0]) - int(shown.getpixel((5, 5))[0])) < 24


def _library_of(folder: Path, exif_writer, count: int, size: tuple[int, int] = (240, 160)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    photos = []
    for i in range(count):
        photo = folder / f"photo {i:03d}.jpg"
        scene(*size, seed=i).save(photo, quality=90)
        exif_writer(photo, *crop_tags(0.05 + i / 1000, 0.1, 0.9, 0.95, (i % 5) * 0.4 - 0.8))
        photos.append(photo)
    return photos


def test_rerun_adds_updates_and_keeps(tmp_path, exif_writer):
    library = tmp_path / "library"
    photos = _library_of(library, exif_writer, 6)
    dataset = tmp_path / "dataset"
    first = extract([library], dataset, progress=False)
    assert (first.extracted, first.unchanged) == (6, 0)

    again = extract([library], dataset, progress=False)
    assert (again.extracted, again.unchanged) == (0, 6)

    exif_writer(photos[0], "-XMP-crs:CropAngle=1.5")  # a new crop
    _library_of(tmp_path / "library" / "new", exif_writer, 1)  # a new photo
    photos[1].unlink()  # gone from the library: its example stays
    third = extract([library], dataset, progress=False)
    assert (third.extracted, third.unchanged) == (2, 4)
    rows = read_csv(dataset / "labels.csv")
    assert len(rows) == len({row["source"] for row in rows}) == 7
    assert float({row["source"]: row for row in rows}[str(photos[0])]["angle"]) == 1.5
    assert all((dataset / row["image"]).exists() for row in rows)


def _run_cli(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cropstyle", *args],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


PAUSE_AT = PROJECT / "tests" / "pause_at.py"
# Where a run is interrupted: the call it is paused in (tests/pause_at.py) while the signal arrives.
PHASES = {
    "walking the library": {"call": "cropstyle.extractor.library:_walk", "nth": 1},
    # With the batch's request sent to exiftool and its answer not yet read (pyexiftool 0.5.6 reads each answer
    # with _read_fd_endswith: its first two calls are the start-up's `-ver`, stdout and stderr).
    "in the exiftool batch": {"call": "exiftool.exiftool:_read_fd_endswith", "nth": 3},
    "decoding": {"call": "cropstyle.extractor.pixels:render_training_image", "nth": 10},
    "writing the CSVs": {
        "call": "os:replace",
        "nth": 1,
        "first_argument_named": ".labels.csv.tmp",
        # a checkpoint after the first photo
        "set": {"cropstyle.extractor.extract:CHECKPOINT_SECONDS": 0},
    },
}


def _interrupted_run(
    tmp_path: Path, library: Path, dataset: Path, phase: dict, stop: signal.Signals
) -> subprocess.Popen:
    """The CLI paused in `phase`, then sent `stop` as Ctrl-C sends it: to the whole process group (exiftool too)."""
    ready, release = tmp_path / "ready", tmp_path / "release"
    plan = {
        "call": phase["call"],
        "nth": phase["nth"],
        "first_argument_named": phase.get("first_argument_named"),
        "set": phase.get("set", {}),
        "ready": str(ready),
        "release": str(release),
    }
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    process = subprocess.Popen(
        [
            sys.executable,
            str(PAUSE_AT),
            str(tmp_path / "plan.json"),
            "extract",
            str(library),
            "--out",
            str(dataset),
            "--jobs",
            "1",
        ],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while process.poll() is None and not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, f"the run ended before reaching the pause: {process.communicate()[1][-2000:]}"
    os.killpg(process.pid, stop)
    release.touch()
    process.wait(timeout=120)
    return process


# Ctrl-C in every phase; SIGKILL, which cannot be handled, in one: the dataset must survive it too.
@pytest.mark.parametrize(
    "phase, stop",
    [
        pytest.param(phase, stop, id=f"{phase}, {stop.name}")
        for phase, stop in [(phase, signal.SIGINT) for phase in PHASES] + [("decoding", signal.SIGKILL)]
    ],
)
def test_interrupted_run_leaves_valid_dataset_and_resumes(tmp_path, exif_writer, phase, stop):
    library = tmp_path / "library"
    _library_of(library, exif_writer, 60, size=(640, 480))
    reference = tmp_path / "reference"
    extract([library], reference, progress=False)

    dataset = tmp_path / "dataset"
    process = _interrupted_run(tmp_path, library, dataset, PHASES[phase], stop)
    stderr = process.stderr.read()
    if stop == signal.SIGINT:
        assert process.returncode == 130, stderr[-2000:]
        assert stderr.strip().splitlines()[-1] == "cropstyle: interrupted"
    else:
        assert process.returncode == -signal.SIGKILL
    saved = read_csv(dataset / "labels.csv") if (dataset / "labels.csv").exists() else []
    assert all((dataset / row["image"]).exists() for row in saved)  # what was saved is consistent
    if stop == signal.SIGINT:
        # Ctrl-C keeps every photo already decoded: each image written has its row.
        images = (
            {f"images/{path.name}" for path in (dataset / "images").glob("*.jpg")}
            if (dataset / "images").exists()
            else set()
        )
        assert {row["image"] for row in saved} == images
        if phase == "decoding":
            # One decoder: 9 done, the 10th finishes; until the main thread takes the signal (milliseconds, more on
            # a loaded machine: 11 seen once) the decoder may start another, kept too; the rest are dropped.
            assert 10 <= len(saved) < 60
        elif phase != "writing the CSVs":
            assert saved == []

    resumed = extract([library], dataset, progress=False)
    assert resumed.unchanged == len(saved)

    def strip(rows):
        return sorted((r["source"], r["image"], r["left"], r["angle"]) for r in rows)

    assert strip(read_csv(dataset / "labels.csv")) == strip(read_csv(reference / "labels.csv"))


def test_cli_reports_one_line_errors(tmp_path):
    process = _run_cli(["extract", str(tmp_path / "nowhere"), "--out", str(tmp_path / "dataset")])
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert err.strip() == f"cropstyle: {tmp_path / 'nowhere'}: no such file or folder"
