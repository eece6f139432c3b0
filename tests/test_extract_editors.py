"""`cropstyle extract` reads crops other editors keep beside a photo: darktable's history in NAME.EXT.xmp and
RawTherapee's NAME.EXT.pp3 (the codecs and their checks by darktable-cli and rawtherapee-cli: tests/test_darktable.py,
tests/test_rawtherapee.py): the crop comes back in the displayed frame, settings it cannot map skip the photo with
their reason and the run goes on, and nothing is modified."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from cropstyle.extractor.darktable import read_darktable_crop, write_darktable_crop
from cropstyle.extractor.extract import extract
from cropstyle.extractor.geometry import LABEL_VALUES, Crop
from cropstyle.extractor.rawtherapee import read_rawtherapee_crop, write_rawtherapee_crop
from tests.test_export_support import oriented_photo, photo_scene

WIDTH, HEIGHT = 120, 80  # displayed
CROPS = {
    1: Crop(0.1, 0.15, 0.8, 0.9, 0.0),
    6: Crop(0.2, 0.1, 0.9, 0.7, 0.0),
    3: Crop(0.3, 0.2, 0.75, 0.8, 4.0),
    8: Crop(0.25, 0.3, 0.85, 0.9, -6.0),
}
DATA = Path(__file__).parent / "data" / "rawtherapee"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """JPEGs with RawTherapee profiles beside them: one per orientation, a profile RawTherapee saved itself, one
    it cannot map, one unreadable, an orphan profile, and a photo whose own XMP crop wins over its profile."""
    root = tmp_path_factory.mktemp("editors")
    for orientation, crop in CROPS.items():
        photo = oriented_photo(root / f"o{orientation}.jpg", photo_scene(WIDTH, HEIGHT, orientation), orientation)
        profile = write_rawtherapee_crop(None, crop, WIDTH, HEIGHT, orientation)
        photo.with_name(photo.name + ".pp3").write_text(profile)
    saved = oriented_photo(root / "saved.jpg", photo_scene(WIDTH, HEIGHT, 9), 1)
    saved.with_name("saved.jpg.pp3").write_text((DATA / "rawtherapee-5.9-full.pp3").read_text())
    warped = oriented_photo(root / "warped.jpg", photo_scene(WIDTH, HEIGHT, 10), 1)
    warped.with_name("warped.jpg.pp3").write_text(
        "[Crop]\nEnabled=true\nX=10\nY=10\nW=50\nH=40\n[Distortion]\nAmount=0.05\n"
    )
    broken = oriented_photo(root / "broken.jpg", photo_scene(WIDTH, HEIGHT, 11), 1)
    broken.with_name("broken.jpg.pp3").write_text("[Crop]\nEnabled=true\nX=ten\n")
    (root / "gone.jpg.pp3").write_text("[Crop]\nEnabled=true\nX=1\nY=1\nW=10\nH=10\n")
    for orientation, crop in CROPS.items():
        photo = oriented_photo(root / f"d{orientation}.jpg", photo_scene(WIDTH, HEIGHT, orientation), orientation)
        sidecar = write_darktable_crop(None, crop, WIDTH, HEIGHT, photo.name, orientation=orientation)
        photo.with_name(photo.name + ".xmp").write_text(sidecar)
    newer = oriented_photo(root / "newer.jpg", photo_scene(WIDTH, HEIGHT, 12), 1)
    sidecar = write_darktable_crop(None, CROPS[1], WIDTH, HEIGHT, newer.name, orientation=1)
    newer.with_name("newer.jpg.xmp").write_text(sidecar.replace('darktable:modversion="1"', 'darktable:modversion="3"'))
    return root


@pytest.fixture(scope="module")
def extracted(library, tmp_path_factory):
    before = {path: digest(path) for path in library.iterdir()}
    out = tmp_path_factory.mktemp("dataset")
    summary = extract([library], out, size=96, jobs=1)
    assert {path: digest(path) for path in library.iterdir()} == before  # the library is read only
    labels = pd.read_csv(out / "labels.csv").set_index("source")
    skipped = pd.read_csv(out / "skipped.csv").set_index("source")
    return summary, labels, skipped


@pytest.mark.parametrize("orientation", sorted(CROPS))
def test_a_rawtherapee_crop_is_read_in_the_displayed_frame(library, extracted, orientation):
    _, labels, _ = extracted
    row = labels.loc[str(library / f"o{orientation}.jpg")]
    assert row["origin"] == "rawtherapee" and row["orientation"] == orientation and bool(row["has_crop"])
    assert (row["width"], row["height"]) == (WIDTH, HEIGHT)
    # What RawTherapee itself would apply: the profile's whole pixels, read back by the codec.
    profile = (library / f"o{orientation}.jpg.pp3").read_text()
    expected = read_rawtherapee_crop(profile, WIDTH, HEIGHT, orientation)
    assert [row[k] for k in LABEL_VALUES] == pytest.approx(list(expected.values()), abs=1e-9)
    assert [row[k] for k in LABEL_VALUES] == pytest.approx(list(CROPS[orientation].values()), abs=0.02)


@pytest.mark.parametrize("orientation", sorted(CROPS))
def test_a_darktable_crop_is_read_in_the_displayed_frame(library, extracted, orientation):
    _, labels, _ = extracted
    row = labels.loc[str(library / f"d{orientation}.jpg")]
    assert row["origin"] == "darktable" and row["orientation"] == orientation and bool(row["has_crop"])
    sidecar = (library / f"d{orientation}.jpg.xmp").read_text()
    expected = read_darktable_crop(sidecar, WIDTH, HEIGHT, orientation=orientation)
    assert [row[k] for k in LABEL_VALUES] == pytest.approx(list(expected.values()), abs=1e-9)
    assert [row[k] for k in LABEL_VALUES] == pytest.approx(list(CROPS[orientation].values()), abs=1e-6)


def test_a_profile_rawtherapee_saved_is_read(library, extracted):
    _, labels, _ = extracted
    row = labels.loc[str(library / "saved.jpg")]
    expected = read_rawtherapee_crop((library / "saved.jpg.pp3").read_text(), WIDTH, HEIGHT, 1)
    if expected is None:
        pytest.fail("the saved profile is expected to crop")
    assert row["origin"] == "rawtherapee"
    assert [row[k] for k in LABEL_VALUES] == pytest.approx(list(expected.values()), abs=1e-9)


def test_profiles_it_cannot_map_skip_the_photo_with_their_reason(library, extracted):
    summary, labels, skipped = extracted
    assert str(library / "warped.jpg") not in labels.index and str(library / "broken.jpg") not in labels.index
    assert skipped.loc[str(library / "warped.jpg"), "reason"] == (
        "unsupported editor settings: RawTherapee profile warped.jpg.pp3: [Distortion] Amount=0.05: distortion "
        "correction changes the geometry (not supported)"
    )
    assert skipped.loc[str(library / "broken.jpg"), "reason"] == (
        "unsupported editor settings: RawTherapee profile broken.jpg.pp3: [Crop] X=ten: not a whole number"
    )
    assert skipped.loc[str(library / "gone.jpg.pp3"), "reason"] == "sidecar without a photo"
    assert skipped.loc[str(library / "newer.jpg"), "reason"] == (
        "unsupported editor settings: darktable sidecar newer.jpg.xmp: darktable crop module version 3 is newer than "
        "cropstyle reads (1)"
    )
    assert summary.extracted == 2 * len(CROPS) + 1


def test_a_lightroom_crop_wins_over_a_profile(tmp_path):
    """A photo edited in both: the XMP crop is the photographer's last word for Lightroom users, and the label's
    origin says which one was read."""
    import exiftool

    photo = oriented_photo(tmp_path / "both.jpg", photo_scene(WIDTH, HEIGHT, 3), 1)
    photo.with_name("both.jpg.pp3").write_text(write_rawtherapee_crop(None, CROPS[1], WIDTH, HEIGHT, 1))
    with exiftool.ExifToolHelper() as tool:
        tool.execute(
            "-overwrite_original",
            "-XMP-crs:HasCrop=True",
            "-XMP-crs:CropLeft=0.2",
            "-XMP-crs:CropTop=0.25",
            "-XMP-crs:CropRight=0.7",
            "-XMP-crs:CropBottom=0.75",
            "-XMP-crs:CropAngle=0",
            str(photo),
        )
    extract([tmp_path], tmp_path / "dataset", size=96, jobs=1)
    row = pd.read_csv(tmp_path / "dataset" / "labels.csv").iloc[0]
    assert row["origin"] == "xmp-embedded"
    assert [row[k] for k in LABEL_VALUES] == pytest.approx([0.2, 0.25, 0.7, 0.75, 0.0])


def test_extract_reads_a_sidecar_darktable_wrote(tmp_path):
    """The sidecar darktable 4.2.1 wrote for a 240×160 photo-8.jpg (tests/test_darktable.py checks its crop against
    darktable's own export) becomes the label darktable's crop is."""
    written = Path(__file__).parent / "data" / "darktable" / "darktable-4.2.1-clipping.jpg.xmp"
    (tmp_path / "library").mkdir()
    photo = oriented_photo(tmp_path / "library" / "photo-8.jpg", photo_scene(240, 160, 4), 8)
    photo.with_name("photo-8.jpg.xmp").write_bytes(written.read_bytes())
    extract([tmp_path / "library"], tmp_path / "dataset", size=96, jobs=1)
    row = pd.read_csv(tmp_path / "dataset" / "labels.csv").iloc[0]
    assert row["origin"] == "darktable" and (row["width"], row["height"]) == (240, 160)
    assert [row[k] for k in LABEL_VALUES] == pytest.approx([0.138019, 0.266649, 0.823214, 0.783351, -7.0], abs=1e-6)
