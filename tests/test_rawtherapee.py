"""RawTherapee profiles (extractor/rawtherapee.py), checked against RawTherapee itself (Debian's rawtherapee-cli 5.9).

How pixels are compared. The test photo's colours encode where each pixel is: red grows with x and green with y
across the displayed photo (blue holds shapes). Any export of it, cropped, turned, flipped or mirrored, therefore
says which part of the displayed photo it shows: a least-squares affine fit from the export's pixel positions to
the decoded (x, y) maps the export's four corners into the photo. The **pixel IoU** of two exports is the
intersection over union of those two areas of the photo, so it measures the geometry alone, whatever tone curve,
sharpening or orientation either program applies. RawTherapee's export must agree with cropstyle's own rendering
(`predict --write-cropped`, export/predict.py `write_cropped_photo`) and with the crop asked for at pixel IoU
≥ 0.97, and their sizes must agree within two pixels. Each RawTherapee run gets its own HOME and XDG folders, so
nothing outside tmp_path is touched; without options RawTherapee merges `-p` onto its neutral defaults, which
leave the pixels as they are (the uncropped export differs from the photo by 0.07 levels on average).
"""

from __future__ import annotations

import difflib
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import Polygon

from cropstyle.export.predict import write_cropped_photo
from cropstyle.extractor.geometry import Crop, RotatedRect, crop_polygon, crop_to_rect, rect_to_crop
from cropstyle.extractor.rawtherapee import RawTherapeeError, read_rawtherapee_crop, write_rawtherapee_crop
from tests import coded_photo as coded
from tests.coded_photo import pixel_iou, pixels

DATA = Path(__file__).parent / "data" / "rawtherapee"
# A full profile as rawtherapee-cli 5.9 saved it (-O) beside a 240×160 export made with a partial profile of
# [Coarse Transformation] Rotate=90, [Rotation] Degree=-7.5 and [Crop] Enabled=true, X=20, Y=30, W=100, H=150.
FULL_PROFILE = DATA / "rawtherapee-5.9-full.pp3"
RAWTHERAPEE = shutil.which("rawtherapee-cli")
WIDTH, HEIGHT = 240, 160  # the test photo as displayed
PIXEL_IOU = 0.97  # the bar
V59 = "[Version]\nAppVersion=5.9\nVersion=349\n\n"

CROPS = {
    "plain": Crop(0.1, 0.15, 0.8, 0.9, 0.0),
    "at the edge": Crop(0.0, 0.0, 0.55, 1.0, 0.0),
    "turned +10°": rect_to_crop(RotatedRect(120, 80, 150, 95, 10.0), WIDTH, HEIGHT),
    "turned -10°": rect_to_crop(RotatedRect(110, 85, 120, 80, -10.0), WIDTH, HEIGHT),
}
ORIENTATIONS = (1, 6, 3, 8, 2, 5)  # RawTherapee turns by 6, 3, 8 and ignores the mirroring 2 and 5


# --- helpers ------------------------------------------------------------------------------------------------


def coded_photo(folder: Path, orientation: int, width: int = WIDTH, height: int = HEIGHT) -> Path:
    return coded.coded_photo(folder, orientation, width, height)


def shown_area(image: np.ndarray, width: int = WIDTH, height: int = HEIGHT) -> Polygon:
    return coded.shown_area(image, width, height)


def rawtherapee(tmp_path: Path, photo: Path, profile: str, name: str, save_profile: bool = False) -> Path:
    """Export `photo` with `profile` as rawtherapee-cli does: JPEG quality 95, 4:4:4, private HOME."""
    if RAWTHERAPEE is None:  # scripts/setup.sh installs it: a missing program is a failure, not a skip
        pytest.fail("rawtherapee-cli is missing (Debian package rawtherapee)")
    home = tmp_path / "home"
    profile_path = tmp_path / f"{name}.pp3"
    profile_path.write_text(profile)
    out = tmp_path / "out" / f"{name}.jpg"
    out.parent.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    command = [
        RAWTHERAPEE,
        "-O" if save_profile else "-o",
        str(out),
        "-p",
        str(profile_path),
        "-j95",
        "-js3",
        "-Y",
        "-q",
        "-c",
        str(photo),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and out.exists(), result.stdout + result.stderr
    return out


# --- RawTherapee applies what write_rawtherapee_crop writes ------------------------------------------------


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_rawtherapee_applies_the_written_crop_as_cropstyle_renders_it(tmp_path, orientation):
    """For each crop, RawTherapee's export of the profile write_rawtherapee_crop wrote shows the same part of the
    photo as cropstyle's own rendering (pixel IoU ≥ 0.97, measured 0.988–1.000), at the same size within 2 px
    (measured: equal), and with RawTherapee's neutral defaults even the same pixel values where both exports
    are upright (mean difference 0.02 levels unturned, 1.0–1.5 turned). RawTherapee does not mirror photos with
    the mirroring orientations, so there its export is the crop mirrored (or transposed), as RawTherapee shows
    the photo; the area of the photo it shows is the same."""
    photo = coded_photo(tmp_path, orientation)
    for name, crop in CROPS.items():
        profile = write_rawtherapee_crop(None, crop, WIDTH, HEIGHT, orientation=orientation)
        ours = pixels(write_cropped_photo(photo, orientation, crop, tmp_path / "cropstyle" / f"{name}.jpg"))
        theirs = pixels(rawtherapee(tmp_path, photo, profile, name))
        expected_size = ours.shape[:2] if orientation not in (5, 7) else ours.shape[1::-1]
        assert np.abs(np.subtract(theirs.shape[:2], expected_size)).max() <= 2, (name, theirs.shape, ours.shape)
        theirs_area, ours_area = shown_area(theirs), shown_area(ours)
        assert pixel_iou(theirs_area, ours_area) >= PIXEL_IOU, name
        assert pixel_iou(theirs_area, crop_polygon(crop, WIDTH, HEIGHT)) >= PIXEL_IOU, name
        if orientation not in (2, 4, 5, 7) and theirs.shape == ours.shape:
            assert np.abs(theirs - ours).mean() < 3.0, name


def test_writing_over_a_full_profile_changes_only_the_crop_and_keeps_the_coarse_rotation(tmp_path):
    """A full profile RawTherapee saved (coarse rotation 90°, auto-fill on): writing a crop into it changes the
    [Crop] values, the angle and AutoFill, nothing else; RawTherapee keeps turning the photo by 90° and crops
    it where cropstyle does."""
    existing = FULL_PROFILE.read_text()
    crop = CROPS["turned +10°"]
    written = write_rawtherapee_crop(existing, crop, WIDTH, HEIGHT)
    changed = [
        line
        for line in difflib.unified_diff(existing.splitlines(), written.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == [
        "-X=20",
        "-Y=30",
        "-W=100",
        "+X=32",
        "+Y=45",
        "+W=95",  # H stays 150
        "-AutoFill=true",
        "+AutoFill=false",
        "-Degree=-7.5",
        "+Degree=10",
    ]
    photo = coded_photo(tmp_path, 1)
    theirs = pixels(rawtherapee(tmp_path, photo, written, "over-full"))
    ours = pixels(write_cropped_photo(photo, 1, crop, tmp_path / "ours.jpg"))
    assert theirs.shape[:2] == ours.shape[1::-1]  # RawTherapee's export is turned by the profile's 90°
    assert pixel_iou(shown_area(theirs), shown_area(ours)) >= PIXEL_IOU
    back = read_rawtherapee_crop(written, WIDTH, HEIGHT)
    assert pixel_iou(crop_polygon(back, WIDTH, HEIGHT), crop_polygon(crop, WIDTH, HEIGHT)) >= 0.98


# --- reading what RawTherapee itself wrote -------------------------------------------------------------------

RAWTHERAPEE_SAVED = {
    # partial profile given to rawtherapee-cli -O, photo orientation; RawTherapee completes and saves it
    "auto-fill zoom": ("[Rotation]\nDegree=-7.5\n\n[Crop]\nEnabled=true\nX=20\nY=30\nW=100\nH=90\n", 1),
    "coarse 90° + flip, EXIF 6": (
        "[Coarse Transformation]\nRotate=90\nHorizontalFlip=true\n\n[Rotation]\n"
        "Degree=10\n\n[Crop]\nEnabled=true\nX=30\nY=60\nW=90\nH=100\n",
        6,
    ),
    "vertical flip, EXIF 5 (not applied)": (
        "[Coarse Transformation]\nVerticalFlip=true\n\n[Rotation]\n"
        "Degree=4\n\n[Common Properties for Transformations]\nAutoFill=false"
        "\n\n[Crop]\nEnabled=true\nX=10\nY=80\nW=140\nH=100\n",
        5,
    ),
    "no crop, only turned (auto-fill)": ("[Rotation]\nDegree=3\n", 8),
    "crop clamped by RawTherapee": ("[Crop]\nEnabled=true\nX=-15\nY=100\nW=80\nH=90\n", 3),
}


@pytest.mark.parametrize("case", RAWTHERAPEE_SAVED)
def test_a_profile_rawtherapee_saved_reads_as_the_crop_it_applied(tmp_path, case):
    """rawtherapee-cli -O saves the full profile it applied beside the export; read back, it is the crop the
    export shows (pixel IoU ≥ 0.97; measured 0.993–0.999)."""
    partial, orientation = RAWTHERAPEE_SAVED[case]
    photo = coded_photo(tmp_path, orientation)
    export = rawtherapee(tmp_path, photo, V59 + partial, "saved", save_profile=True)
    saved = export.with_name(export.name + ".pp3").read_text()
    assert saved.count("\n") > 700  # RawTherapee's whole profile, every section
    crop = read_rawtherapee_crop(saved, WIDTH, HEIGHT, orientation=orientation)
    assert crop is not None
    assert pixel_iou(shown_area(pixels(export)), crop_polygon(crop, WIDTH, HEIGHT)) >= PIXEL_IOU


def test_turned_crops_land_within_a_pixel_of_where_rawtherapee_samples(tmp_path):
    """On a larger photo (1200×800) the corners of the read crop are where RawTherapee's export samples the photo,
    within 0.75 pixel (measured: at most 0.56 px, the colour code's own precision there being 4.7 px per level),
    with the auto-fill zoom repeated from RawTherapee's own search."""
    width, height = 1200, 800
    photo = coded_photo(tmp_path, 1, width, height)
    for degree, autofill in ((10, "true"), (-7.5, "false")):
        profile = (
            f"{V59}[Rotation]\nDegree={degree}\n\n[Common Properties for Transformations]\n"
            f"AutoFill={autofill}\n\n[Crop]\nEnabled=true\nX=300\nY=200\nW=500\nH=300\n"
        )
        area = shown_area(pixels(rawtherapee(tmp_path, photo, profile, f"big{degree}")), width, height)
        corners = crop_polygon(read_rawtherapee_crop(profile, width, height), width, height)
        measured = np.array(area.exterior.coords[:4])
        expected = np.array(corners.exterior.coords[:4])
        assert np.hypot(*(measured - expected).T).max() < 0.75, (degree, measured, expected)


@pytest.mark.parametrize("bad", ["[Crop]\nEnabled=true\nX=ten\n", "[Crop]\nEnabled=true\nX=10\nnot a key\n"])
def test_rawtherapee_refuses_the_unreadable_profiles_too(tmp_path, bad):
    """What the reader refuses as unreadable, rawtherapee-cli refuses too (exit status 253, no export)."""
    with pytest.raises(RawTherapeeError):
        read_rawtherapee_crop(bad, WIDTH, HEIGHT)
    profile = tmp_path / "bad.pp3"
    profile.write_text(bad)
    out = tmp_path / "bad.jpg"
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [RAWTHERAPEE, "-o", str(out), "-p", str(profile), "-Y", "-q", "-c", str(coded_photo(tmp_path, 1))],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and not out.exists()


# --- parsing: exact values of hand-written profiles ------------------------------------------------------------


def _turned(cx: float, cy: float, w: float, h: float, degrees: float, width: int = 300, height: int = 200) -> Crop:
    """The label of a w×h box centred at (cx, cy) turned by `degrees`, by the formula of docs/crop-metadata.md."""
    t = math.radians(degrees)
    left, top = cx - w / 2 * math.cos(t) + h / 2 * math.sin(t), cy - w / 2 * math.sin(t) - h / 2 * math.cos(t)
    right, bottom = 2 * cx - left, 2 * cy - top
    return Crop(left / width, top / height, right / width, bottom / height, degrees)


# A 300×200 photo (as displayed); the RawTherapee frame is 200×300 after a coarse 90° or 270°.
PARSED = {
    "plain": ("[Crop]\nEnabled=true\nX=30\nY=20\nW=150\nH=100\n", 1, Crop(0.1, 0.1, 0.6, 0.6, 0.0)),
    "spaces, comments, CRLF": (
        "# made by hand\r\n[Crop]\r\nEnabled = true\r\nX = 30\r\nY=20\r\nW=150\r\nH=100\r\n",
        1,
        Crop(0.1, 0.1, 0.6, 0.6, 0.0),
    ),
    "disabled": ("[Crop]\nEnabled=false\nX=30\nY=20\nW=150\nH=100\n", 1, None),
    "no crop section": (V59 + "[Exposure]\nCompensation=1\n", 1, None),
    "coarse 90 only": ("[Coarse Transformation]\nRotate=90\n", 1, None),
    "coarse 90": (
        "[Coarse Transformation]\nRotate=90\n\n[Crop]\nEnabled=true\nX=20\nY=30\nW=100\nH=150\n",
        1,
        Crop(0.1, 0.4, 0.6, 0.9, 0.0),
    ),
    "coarse 180": (
        "[Coarse Transformation]\nRotate=180\n\n[Crop]\nEnabled=true\nX=30\nY=20\nW=150\nH=100\n",
        1,
        Crop(0.4, 0.4, 0.9, 0.9, 0.0),
    ),
    "coarse 270": (
        "[Coarse Transformation]\nRotate=270\n\n[Crop]\nEnabled=true\nX=20\nY=30\nW=100\nH=150\n",
        1,
        Crop(0.4, 0.1, 0.9, 0.6, 0.0),
    ),
    "horizontal flip": (
        "[Coarse Transformation]\nHorizontalFlip=true\n\n[Crop]\nEnabled=true\nX=30\nY=20\nW=150\nH=100\n",
        1,
        Crop(0.4, 0.1, 0.9, 0.6, 0.0),
    ),
    "vertical flip": (
        "[Coarse Transformation]\nVerticalFlip=true\n\n[Crop]\nEnabled=true\nX=30\nY=20\nW=150\nH=100\n",
        1,
        Crop(0.1, 0.4, 0.6, 0.9, 0.0),
    ),
    "coarse 90 + horizontal flip": (
        "[Coarse Transformation]\nRotate=90\nHorizontalFlip=true\n\n[Crop]\nEnabled=true\nX=20\nY=30\nW=100\nH=150\n",
        1,
        Crop(0.1, 0.1, 0.6, 0.6, 0.0),
    ),
    "EXIF 6 is applied by RawTherapee": (
        "[Crop]\nEnabled=true\nX=30\nY=20\nW=150\nH=100\n",
        6,
        Crop(0.1, 0.1, 0.6, 0.6, 0.0),
    ),
    "EXIF 2 is not": ("[Crop]\nEnabled=true\nX=30\nY=20\nW=150\nH=100\n", 2, Crop(0.4, 0.1, 0.9, 0.6, 0.0)),
    "EXIF 5 is not": ("[Crop]\nEnabled=true\nX=20\nY=30\nW=100\nH=150\n", 5, Crop(0.1, 0.1, 0.6, 0.6, 0.0)),
    "negative X kept its W": ("[Crop]\nEnabled=true\nX=-10\nY=20\nW=150\nH=100\n", 1, Crop(0.0, 0.1, 0.5, 0.6, 0.0)),
    "cut at the frame": ("[Crop]\nEnabled=true\nX=150\nY=100\nW=400\nH=400\n", 1, Crop(0.5, 0.5, 1.0, 1.0, 0.0)),
    "starting beyond the frame: dropped": ("[Crop]\nEnabled=true\nX=301\nY=20\nW=10\nH=10\n", 1, None),
    "RawTherapee's untouched crop": (
        "[Crop]\nEnabled=true\nX=-1\nY=-1\nW=15000\nH=15000\n",
        1,
        Crop(0.0, 0.0, 1.0, 1.0, 0.0),
    ),
    "turned 10°, no auto-fill": (
        "[Rotation]\nDegree=10\n\n[Common Properties for Transformations]\nAutoFill=false\n"
        "\n[Crop]\nEnabled=true\nX=75\nY=50\nW=150\nH=100\n",
        1,
        Crop(0.282739, 0.188680, 0.717261, 0.811320, 10.0),
    ),
    "turned -20°, off centre": (
        "[Rotation]\nDegree=-20\n\n[Common Properties for Transformations]\n"
        "AutoFill=false\n\n[Crop]\nEnabled=true\nX=100\nY=60\nW=120\nH=80\n",
        1,
        _turned(150 + 10 * math.cos(math.radians(20)), 100 - 10 * math.sin(math.radians(20)), 120, 80, -20.0),
    ),
    # auto-fill: RawTherapee zooms by 0.80235693359375 (its bisection for a 300×200 frame turned by 10°)
    "turned 10°, auto-fill": (
        "[Rotation]\nDegree=10\n\n[Crop]\nEnabled=true\nX=75\nY=50\nW=150\nH=100\n",
        1,
        _turned(150, 100, 150 * 0.80235693359375, 100 * 0.80235693359375, 10.0),
    ),
    "only turned, auto-fill": (
        "[Rotation]\nDegree=10\n",
        1,
        _turned(150, 100, 300 * 0.80235693359375, 200 * 0.80235693359375, 10.0),
    ),
    "only turned, no auto-fill": (
        "[Rotation]\nDegree=10\n[Common Properties for Transformations]\nAutoFill=false\n",
        1,
        _turned(150, 100, 300, 200, 10.0),
    ),
    "the full profile RawTherapee saved": (
        FULL_PROFILE.read_text(),
        1,
        Crop(0.16887027552494827, 0.3532260056455456, 0.7360065837315974, 0.7716413315569565, -7.5),
    ),
}


@pytest.mark.parametrize("case", PARSED)
def test_hand_written_profiles_read_exactly(case):
    text, orientation, expected = PARSED[case]
    width, height = (300, 200) if case != "the full profile RawTherapee saved" else (WIDTH, HEIGHT)
    crop = read_rawtherapee_crop(text, width, height, orientation=orientation)
    if expected is None:
        assert crop is None
    else:
        assert crop is not None and crop.values() == pytest.approx(expected.values(), abs=1e-6)


def test_the_auto_fill_zoom_is_rawtherapees_bisection():
    """The zoom in PARSED above: 0.80235693359375 is the lower end of RawTherapee's bisection in (0.001, 2) for a
    300×200 frame turned by 10° (the exact zoom that keeps the corners inside is 0.80271…, found here too)."""
    crop = read_rawtherapee_crop("[Rotation]\nDegree=10\n", 300, 200)
    rect = crop_to_rect(crop, 300, 200)
    assert rect.width / 300 == pytest.approx(0.80235693359375, abs=1e-12)
    w2, h2 = 149.5, 99.5  # RawTherapee's centre in pixel indices; the corners may reach index 299, 199
    t = math.radians(10)
    exact = min(w2 / (w2 * math.cos(t) + h2 * math.sin(t)), h2 / (w2 * math.sin(t) + h2 * math.cos(t)))
    assert 0 < exact - rect.width / 300 < 0.001


# --- writing ----------------------------------------------------------------------------------------------------


def test_a_new_profile_is_minimal():
    assert write_rawtherapee_crop(None, Crop(0.1, 0.15, 0.8, 0.9, 0.0), WIDTH, HEIGHT) == (
        "[Version]\nAppVersion=5.9\nVersion=349\n\n"
        "[Crop]\nEnabled=true\nX=24\nY=24\nW=168\nH=120\n\n"
        "[Rotation]\nDegree=0\n"
    )
    assert write_rawtherapee_crop(None, CROPS["turned -10°"], WIDTH, HEIGHT) == (
        "[Version]\nAppVersion=5.9\nVersion=349\n\n"
        "[Crop]\nEnabled=true\nX=49\nY=43\nW=120\nH=80\n\n"
        "[Rotation]\nDegree=-10\n\n"
        "[Common Properties for Transformations]\nAutoFill=false\n"
    )


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("coarse", ["", "[Coarse Transformation]\nRotate=270\nVerticalFlip=true\n"])
def test_written_crops_read_back(orientation, coarse):
    """Write then read is the identity up to RawTherapee's whole pixels (IoU ≥ 0.98), in every orientation, with
    and without a coarse transformation kept from the existing profile."""
    for crop in CROPS.values():
        written = write_rawtherapee_crop(coarse or None, crop, WIDTH, HEIGHT, orientation=orientation)
        back = read_rawtherapee_crop(written, WIDTH, HEIGHT, orientation=orientation)
        assert pixel_iou(crop_polygon(back, WIDTH, HEIGHT), crop_polygon(crop, WIDTH, HEIGHT)) >= 0.98
        assert back.angle == pytest.approx(crop.angle, abs=1e-6)


def test_writing_keeps_every_other_line():
    existing = (
        "[Version]\r\nAppVersion=5.9\r\nVersion=349\r\n\r\n[Exposure]\r\nCompensation=0.5\r\n\r\n"
        "[Crop]\r\nEnabled=false\r\nX = 1\r\nFixedRatio=true\r\n# a comment\r\n\r\n[Sharpening]\r\n"
        "Enabled=true\r\n"
    )
    written = write_rawtherapee_crop(existing, Crop(0.1, 0.15, 0.8, 0.9, 0.0), WIDTH, HEIGHT)
    assert written == (
        "[Version]\r\nAppVersion=5.9\r\nVersion=349\r\n\r\n[Exposure]\r\nCompensation=0.5\r\n\r\n"
        "[Crop]\r\nEnabled=true\r\nX = 24\r\nFixedRatio=true\r\nY=24\r\nW=168\r\nH=120\r\n"
        "# a comment\r\n\r\n[Sharpening]\r\nEnabled=true\r\n\r\n[Rotation]\r\nDegree=0\r\n"
    )


# --- bad input ------------------------------------------------------------------------------------------------

BAD_PROFILES = {
    "unknown key": ("[Crop]\nEnabled=true\nScale=2\n", "[Crop] Scale: unknown key (not a RawTherapee 5.9 setting)"),
    "a newer program's key": (
        "[Common Properties for Transformations]\nScale=1.2\n",
        "[Common Properties for Transformations] Scale: unknown key (not a RawTherapee 5.9 setting)",
    ),
    "ART's key": (
        "[Rotation]\nEnabled=true\nDegree=2\n",
        "[Rotation] Enabled: unknown key (not a RawTherapee 5.9 setting)",
    ),
    "not an integer": ("[Crop]\nEnabled=true\nX=ten\n", "[Crop] X=ten: not a whole number"),
    "a fraction": ("[Crop]\nEnabled=true\nX=10.5\n", "[Crop] X=10.5: not a whole number"),
    "not a number": ("[Rotation]\nDegree=1,5\n", "[Rotation] Degree=1,5: not a number"),
    "not finite": ("[Rotation]\nDegree=nan\n", "[Rotation] Degree=nan: not a number"),
    "not a boolean": ("[Crop]\nEnabled=yes\n", "[Crop] Enabled=yes: not a boolean (true or false)"),
    "set twice": ("[Crop]\nEnabled=true\nX=1\n\n[Crop]\nX=2\n", "[Crop] X is set 2 times"),
    "version": ("[Version]\nVersion=3.49\n", "[Version] Version=3.49: not a whole number"),
    "not a line of a key file": (
        "[Crop]\nEnabled=true\nX 10\n",
        "line 3 is not a [section], key=value or # comment: 'X 10'",
    ),
    "before any section": ("Enabled=true\n[Crop]\n", "line 1 is a key before any [section]: 'Enabled=true'"),
    "coarse 45": ("[Coarse Transformation]\nRotate=45\n", "[Coarse Transformation] Rotate=45: not 0, 90, 180 or 270"),
    "empty crop": ("[Crop]\nEnabled=true\nX=0\nY=0\nW=0\nH=10\n", "[Crop] W=0: not a positive size"),
    "crop at the frame's edge": (
        "[Crop]\nEnabled=true\nX=300\nY=0\nW=10\nH=10\n",
        "[Crop] X=300, Y=0: the crop lies outside the 300×200 frame",
    ),
    "distortion": (
        "[Distortion]\nAmount=0.05\n",
        "[Distortion] Amount=0.05: distortion correction changes the geometry (not supported)",
    ),
    "perspective": (
        "[Perspective]\nMethod=simple\nHorizontal=0\nVertical=12\n",
        "[Perspective] Vertical=12: perspective correction changes the geometry (not supported)",
    ),
    "camera-based perspective": (
        "[Perspective]\nMethod=camera_based\nCameraYaw=-3.5\n",
        "[Perspective] CameraYaw=-3.5: perspective correction changes the geometry (not supported)",
    ),
    "lensfun": (
        "[LensProfile]\nLcMode=lfauto\nUseDistortion=true\n",
        "[LensProfile] LcMode=lfauto with UseDistortion=true: lens distortion correction changes the "
        "geometry (not supported)",
    ),
    "an LCP file": (
        "[LensProfile]\nLcMode=lcp\nLCPFile=/lenses/a.lcp\n",
        "[LensProfile] LcMode=lcp with UseDistortion=true: lens distortion correction changes the "
        "geometry (not supported)",
    ),
    "unknown lens mode": (
        "[LensProfile]\nLcMode=metadata\n",
        "[LensProfile] LcMode=metadata: not one of none, lfauto, lfmanual, lcp",
    ),
}


# Bad crops that a written crop simply replaces.
REPLACEABLE = {"empty crop", "crop at the frame's edge"}


@pytest.mark.parametrize("case", BAD_PROFILES)
def test_bad_profiles_are_refused_with_their_reason(case):
    """Reading refuses them with a one-line reason; writing refuses them too (the caller then leaves the profile
    alone), except a bad crop, which the new crop replaces."""
    text, message = BAD_PROFILES[case]
    with pytest.raises(RawTherapeeError) as raised:
        read_rawtherapee_crop(text, 300, 200)
    assert str(raised.value) == message
    if case in REPLACEABLE:
        written = write_rawtherapee_crop(text, Crop(0.1, 0.1, 0.6, 0.6, 0.0), 300, 200)
        assert read_rawtherapee_crop(written, 300, 200) == Crop(0.1, 0.1, 0.6, 0.6, 0.0)
        return
    with pytest.raises(RawTherapeeError) as raised:
        write_rawtherapee_crop(text, Crop(0.1, 0.1, 0.6, 0.6, 0.0), 300, 200)
    assert str(raised.value) == message


def test_harmless_lens_and_perspective_settings_are_accepted():
    """Vignetting and CA from a lens profile, a lens profile without distortion, and the perspective tool's
    camera description do not move the picture."""
    text = (
        "[LensProfile]\nLcMode=lfauto\nUseDistortion=false\nUseVignette=true\nUseCA=true\n\n"
        "[Perspective]\nMethod=camera_based\nCameraCropFactor=1.5\nCameraFocalLength=24\nControlLineValues=\n\n"
        "[Crop]\nEnabled=true\nX=30\nY=20\nW=150\nH=100\n"
    )
    assert read_rawtherapee_crop(text, 300, 200) == Crop(0.1, 0.1, 0.6, 0.6, 0.0)


def test_crops_rawtherapee_cannot_hold_are_refused():
    """RawTherapee crops the rotated image within its own frame; a turned crop near a corner of the photo can
    reach outside it, and an invalid crop is no crop at all."""
    near_corner = rect_to_crop(RotatedRect(40, 30, 60, 40, 20.0), WIDTH, HEIGHT)
    with pytest.raises(RawTherapeeError) as raised:
        write_rawtherapee_crop(None, near_corner, WIDTH, HEIGHT)
    assert str(raised.value) == (
        "RawTherapee cannot hold this crop: turned by 20°, [Crop] X=-2, Y=40, W=60, H=40 "
        "reaches 2 px outside its 240×160 frame"
    )
    with pytest.raises(RawTherapeeError) as raised:
        write_rawtherapee_crop(None, Crop(0.5, 0.5, 0.4, 0.9, 0.0), WIDTH, HEIGHT)
    assert str(raised.value) == "invalid crop: crop is inverted (its corners are swapped)"
