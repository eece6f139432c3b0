"""darktable sidecars (extractor/darktable.py), checked against darktable itself (Debian's darktable-cli 4.2.1).

How pixels are compared. The test photo's colours encode where each pixel is: red grows with x and green with y
across the displayed photo (blue holds shapes). Any export of it, cropped or turned, therefore says which part
of the displayed photo it shows: a least-squares affine fit from the export's pixel positions to the decoded
(x, y) maps the export's four corners into the photo. The **pixel IoU** of two exports is the intersection over
union of those two areas of the photo, so it measures the geometry alone, whatever darktable's colour pipeline
does. darktable's export must agree with cropstyle's own rendering (`predict --write-cropped`, export/predict.py
`write_cropped_photo`) and with the crop asked for at pixel IoU ≥ 0.97 (the issue's bar), their sizes within two
pixels, and their corners within three pixels (which a mirrored or transposed export would fail).

darktable itself is a pixel or two off on photos stored turned (EXIF orientation other than 1): its flip loses a
row or column (an uncropped export of a 240×160 photo with orientation 3 is 239×159), and a crop's export then
shows a region 1.5–2 px short at its far corners, whatever the photo's size (measured on 240×160, 480×320 and
960×640). On the issue's 240×160 that alone costs 0.02 of IoU, so the photo here is 480×320.

Each darktable-cli run gets its own configuration folder and an in-memory library, so nothing outside tmp_path
is touched; the runs are independent, so they go two at a time.
"""

from __future__ import annotations

import base64
import math
import shutil
import sqlite3
import struct
import subprocess
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import Polygon

from cropstyle.export.predict import write_cropped_photo
from cropstyle.extractor.darktable import (
    ClippingParams,
    CropParams,
    DarktableError,
    crop_from_clipping_params,
    decode_params,
    encode_params,
    read_darktable_crop,
    write_darktable_crop,
)
from cropstyle.extractor.geometry import Crop, RotatedRect, crop_corners, crop_polygon, rect_to_crop
from tests import coded_photo as coded
from tests.coded_photo import pixel_iou, pixels

DATA = Path(__file__).parent / "data" / "darktable"
# A sidecar darktable-cli 4.2.1 wrote (write_sidecar_files "on import", compress_xmp_tags "always") for a photo
# displayed 240×160 and stored with EXIF orientation 8, after auto-applying a user preset of the crop and rotate
# module: angle 7°, cx 0.1, cy 0.15, cw 0.85, ch 0.9, automatic cropping on (see DARKTABLE_WROTE below).
WRITTEN_BY_DARKTABLE = DATA / "darktable-4.2.1-clipping.jpg.xmp"
DARKTABLE = shutil.which("darktable-cli")
WIDTH, HEIGHT = 480, 320  # the test photo as displayed (see the module docstring for why not smaller)
PIXEL_IOU = 0.97  # the bar
NS = 'xmlns:darktable="http://darktable.sf.net/"'
BLEND = "gz14eJxjYIAACQYYOOHEgAZY0QVwggZ7CB6pfNoAAE8gGQg="  # darktable 4.2's default blend parameters


def _largest(aspect: float, angle: float, scale: float) -> Crop:
    """The largest crop of `aspect` turned by `angle` that fits the photo, centred, shrunk by `scale`."""
    c, s = math.cos(math.radians(abs(angle))), math.sin(math.radians(abs(angle)))
    height = min(WIDTH / (aspect * c + s), HEIGHT / (aspect * s + c)) * scale
    return rect_to_crop(RotatedRect(WIDTH / 2, HEIGHT / 2, aspect * height, height, angle), WIDTH, HEIGHT)


CROPS = {
    "plain": Crop(0.1, 0.15, 0.8, 0.9, 0.0),
    "at the edge": Crop(0.0, 0.0, 0.55, 1.0, 0.0),
    "turned +10°": rect_to_crop(RotatedRect(240, 160, 300, 190, 10.0), WIDTH, HEIGHT),
    "turned -10°": rect_to_crop(RotatedRect(220, 170, 240, 160, -10.0), WIDTH, HEIGHT),
    "turned +10°, corners at the edge": _largest(1.5, 10.0, 0.995),
}
ORIENTATIONS = (1, 6, 3, 8)
MIRRORED = {2: "turned -10°", 5: "turned +10°"}  # darktable mirrors these too: one crop each


# --- helpers ------------------------------------------------------------------------------------------------


def coded_photo(folder: Path, orientation: int, width: int = WIDTH, height: int = HEIGHT) -> Path:
    return coded.coded_photo(folder, orientation, width, height)


def shown_area(image: np.ndarray, width: int = WIDTH, height: int = HEIGHT) -> Polygon:
    return coded.shown_area(image, width, height)


def darktable(photo: Path, sidecar: Path | None, out: Path, configdir: Path, *conf: str) -> Path:
    """Export `photo` (with `sidecar`, if any) as darktable-cli does: headless, CPU only, JPEG quality 95,
    its own configuration folder, a library in memory."""
    if DARKTABLE is None:
        pytest.fail("darktable-cli is missing (Debian package darktable)")
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [
        DARKTABLE,
        str(photo),
        *([str(sidecar)] if sidecar else []),
        str(out),
        "--core",
        "--configdir",
        str(configdir),
        "--library",
        ":memory:",
        "--disable-opencl",
        "--conf",
        "plugins/imageio/format/jpeg/quality=95",
    ]
    for setting in conf:
        command += ["--conf", setting]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and out.exists(), result.stdout + result.stderr
    return out


def corner_distance(a: Polygon, b: Polygon) -> float:
    """The largest distance between corresponding corners (both in the order top-left … bottom-left)."""
    return float(np.hypot(*(np.asarray(a.exterior.coords[:4]) - np.asarray(b.exterior.coords[:4])).T).max())


def embedded_xmp(path: Path) -> bytes:
    data = path.read_bytes()
    return data[data.index(b"<x:xmpmeta") : data.index(b"</x:xmpmeta>") + len(b"</x:xmpmeta>")]


@dataclass(frozen=True)
class Agreement:
    iou: float  # darktable's export against cropstyle's rendering
    iou_asked: float  # darktable's export against the crop itself
    corners: float  # px
    size: tuple[tuple[int, int], tuple[int, int]]  # darktable's, cropstyle's (rows, columns)

    def check(self, label: str) -> None:
        print(
            f"{label}: pixel IoU {self.iou:.4f} (against the crop {self.iou_asked:.4f}), corners within "
            f"{self.corners:.2f} px, size {self.size[0]} vs cropstyle {self.size[1]}"
        )
        assert np.abs(np.subtract(*self.size)).max() <= 2, label
        assert self.iou >= PIXEL_IOU and self.iou_asked >= PIXEL_IOU, label
        assert self.corners <= 3.0, label


def agreement(export: Path, photo: Path, orientation: int, crop: Crop, rendered: Path) -> Agreement:
    theirs = pixels(export)
    ours = pixels(write_cropped_photo(photo, orientation, crop, rendered))
    theirs_area, ours_area = shown_area(theirs), shown_area(ours)
    return Agreement(
        pixel_iou(theirs_area, ours_area),
        pixel_iou(theirs_area, crop_polygon(crop, WIDTH, HEIGHT)),
        corner_distance(theirs_area, ours_area),
        (theirs.shape[:2], ours.shape[:2]),
    )


def sidecar(*entries: str, history_end: int | None = None, attributes: str = "", body: str = "") -> str:
    """A darktable sidecar in darktable's layout with these history `entries` (see entry())."""
    end = f' darktable:history_end="{len(entries) if history_end is None else history_end}"'
    items = "\n".join(entries)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0">\n'
        f' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f'  <rdf:Description rdf:about="" {NS} darktable:xmp_version="5" darktable:auto_presets_applied="1"'
        f'{end} darktable:iop_order_version="2"{attributes}>\n{body}'
        f"   <darktable:history>\n    <rdf:Seq>\n{items}\n    </rdf:Seq>\n   </darktable:history>\n"
        f"  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
    )


def entry(
    num: int, operation: str, params: bytes | str, *, modversion: int | None = None, enabled: int = 1, priority: int = 0
) -> str:
    versions = {"crop": 1, "clipping": 5, "flip": 2, "lens": 6, "ashift": 5, "liquify": 1, "exposure": 6}
    text = params if isinstance(params, str) else params.hex()
    return (
        f'     <rdf:li darktable:num="{num}" darktable:operation="{operation}" darktable:enabled="{enabled}"'
        f' darktable:modversion="{versions[operation] if modversion is None else modversion}"'
        f' darktable:params="{text}" darktable:multi_name="" darktable:multi_priority="{priority}"'
        f' darktable:blendop_version="11" darktable:blendop_params="{BLEND}"/>'
    )


def flip(orientation: int) -> bytes:
    return struct.pack("<i", orientation)


def lens(flags: int, scale: float = 1.0) -> bytes:
    """dt_iop_lens_params_t v6 (316 bytes): method, modify_flags, inverse, scale, then zeros."""
    return struct.pack("<iiif", 1, flags, 0, scale).ljust(316, b"\0")


def gz(data: bytes) -> str:
    return encode_params(data, compress=True)


QUARTER = CropParams(0.125, 0.25, 0.75, 0.875).pack()  # exact in float32


# --- darktable applies what write_darktable_crop writes -----------------------------------------------------

CASES = [(orientation, name) for orientation in ORIENTATIONS for name in CROPS] + list(MIRRORED.items())


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[tuple[int, str], Agreement]:
    """Every case of CASES, exported by darktable-cli from the sidecar write_darktable_crop wrote (two at a
    time), compared with cropstyle's rendering."""
    if DARKTABLE is None:  # scripts/setup.sh installs it: a missing program is a failure, not a skip
        pytest.fail("darktable-cli is missing (Debian package darktable)")
    root = tmp_path_factory.mktemp("darktable-exports")
    photos = {orientation: coded_photo(root / "photos", orientation) for orientation in {o for o, _ in CASES}}

    def one(case: tuple[int, str]) -> Agreement:
        orientation, name = case
        crop, slug = CROPS[name], f"{orientation}-{list(CROPS).index(name)}"
        written = root / "sidecars" / f"{slug}.xmp"
        written.parent.mkdir(exist_ok=True)
        written.write_text(write_darktable_crop(None, crop, WIDTH, HEIGHT, photos[orientation].name))
        export = darktable(photos[orientation], written, root / "out" / f"{slug}.jpg", root / "conf" / slug)
        return agreement(export, photos[orientation], orientation, crop, root / "cropstyle" / f"{slug}.jpg")

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(CASES, pool.map(one, CASES)))


@pytest.mark.parametrize("case", CASES, ids=[f"EXIF {o}, {name}" for o, name in CASES])
def test_darktable_applies_the_written_crop_as_cropstyle_renders_it(exports, case):
    """darktable's export of the sidecar write_darktable_crop wrote (a new one: darktable adds its default
    modules, the automatic flip among them) shows the same part of the photo as cropstyle's own rendering, at
    the same size within 2 px: the crop module for a crop without angle, crop and rotate for a turned one, in
    the frame darktable displays, for EXIF orientations 1, 6, 3, 8 and the mirroring 2 and 5."""
    exports[case].check(f"EXIF {case[0]}, {case[1]}")


# --- reading what darktable itself wrote --------------------------------------------------------------------

DARKTABLE_WROTE = {
    # a user preset darktable auto-applies on import, the photo's orientation
    "crop module, EXIF 6": ("crop", 1, CropParams(0.1, 0.2, 0.6, 0.95), 6),
    "crop and rotate +7°, automatic cropping, EXIF 8": (
        "clipping",
        5,
        ClippingParams(7.0, 0.1, 0.15, 0.85, 0.9, crop_auto=1),
        8,
    ),
    "crop and rotate -12°, no automatic cropping, EXIF 3": (
        "clipping",
        5,
        ClippingParams(-12.0, 0.3, 0.25, 0.75, 0.7, crop_auto=0),
        3,
    ),
}


def preset_configdir(template: Path, folder: Path, operation: str, version: int, params: bytes) -> Path:
    """A copy of darktable's configuration folder `template` with a user preset of `operation` that darktable
    applies automatically to every photo it imports (data.db, table presets, as darktable 4.2 keeps them)."""
    shutil.copytree(template, folder)
    with sqlite3.connect(folder / "data.db") as db:
        db.execute(
            "INSERT INTO presets (name, description, operation, op_version, op_params, enabled, blendop_params,"
            " blendop_version, multi_priority, multi_name, model, maker, lens, iso_min, iso_max, exposure_min,"
            " exposure_max, aperture_min, aperture_max, focal_length_min, focal_length_max, writeprotect,"
            " autoapply, filter, def, format) VALUES ('cropstyle test', '', ?, ?, ?, 1, ?, 11, 0, '', '%', '%',"
            " '%', 0, 3.4e38, 0, 1e7, 0, 1e8, 0, 1000, 0, 1, 0, 0, 0)",
            (operation, version, params, decode_params(BLEND)),
        )
    db.close()
    return folder


@pytest.fixture(scope="module")
def darktable_wrote(tmp_path_factory) -> dict[str, tuple[Path, Path, int]]:
    """For each DARKTABLE_WROTE case: the sidecar darktable-cli wrote on importing the photo (its parameters
    gz-compressed: compress_xmp_tags "always"), its export, the orientation. And "our sidecar, rewritten":
    the sidecar darktable wrote after importing one write_darktable_crop wrote."""
    if DARKTABLE is None:  # scripts/setup.sh installs it: a missing program is a failure, not a skip
        pytest.fail("darktable-cli is missing (Debian package darktable)")
    root = tmp_path_factory.mktemp("darktable-wrote")
    template = root / "conf-template"  # darktable creates its data.db on the first run
    darktable(coded_photo(root / "warm-up", 1), None, root / "warm-up" / "out.jpg", template)
    writes = ("write_sidecar_files=on import", "compress_xmp_tags=always")

    def one(name: str) -> tuple[Path, Path, int]:
        folder = root / f"case-{list(DARKTABLE_WROTE).index(name)}" if name in DARKTABLE_WROTE else root / "ours"
        if name in DARKTABLE_WROTE:
            operation, version, params, orientation = DARKTABLE_WROTE[name]
            conf = preset_configdir(template, folder / "conf", operation, version, params.pack())
            ours = None
        else:
            orientation, conf = 6, folder / "conf"
            photo_name = f"photo-{orientation}.jpg"
            ours = folder / "ours.xmp"
            folder.mkdir()
            ours.write_text(write_darktable_crop(None, CROPS["turned -10°"], WIDTH, HEIGHT, photo_name))
        photo = coded_photo(folder / "library", orientation)
        export = darktable(photo, ours, folder / "out.jpg", conf, *writes)
        return photo.with_name(photo.name + ".xmp"), export, orientation

    names = [*DARKTABLE_WROTE, "our sidecar, rewritten"]
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(names, pool.map(one, names)))


@pytest.mark.parametrize("case", DARKTABLE_WROTE)
def test_a_sidecar_darktable_wrote_reads_as_the_crop_it_applied(darktable_wrote, case):
    """darktable applied the preset, wrote the whole history into the photo's sidecar (gz-compressed) and
    exported the photo: the sidecar reads back to the preset's crop, which is what the export shows (pixel IoU
    ≥ 0.97, sizes within 2 px)."""
    operation, _, params, orientation = DARKTABLE_WROTE[case]
    written, export, _ = darktable_wrote[case]
    text = written.read_text()
    assert f'darktable:operation="{operation}"' in text and 'darktable:params="gz' in text
    crop = read_darktable_crop(text, WIDTH, HEIGHT)
    if operation == "crop":
        assert crop == Crop(*struct.unpack("<4f", params.pack()[:16]), 0.0)
    else:
        assert crop == crop_from_clipping_params(ClippingParams.unpack(params.pack()), WIDTH, HEIGHT)
        assert crop.angle == pytest.approx(-params.angle)
    area, size = shown_area(pixels(export)), pixels(export).shape[:2]
    iou = pixel_iou(area, crop_polygon(crop, WIDTH, HEIGHT))
    corners = crop_corners(crop, WIDTH, HEIGHT)
    expected = (np.hypot(*(corners[3] - corners[0])), np.hypot(*(corners[1] - corners[0])))
    print(f"{case}: read {crop}, pixel IoU with the export {iou:.4f}, size {size} vs {np.round(expected, 1)}")
    assert iou >= PIXEL_IOU
    assert np.abs(np.subtract(size, expected)).max() <= 2


def test_darktable_rewrites_our_sidecar_with_the_same_crop(darktable_wrote):
    """darktable imports the sidecar write_darktable_crop wrote, adds its default modules before our entry
    (auto_presets_applied 0) and writes its own sidecar: that reads back to our crop (float precision), and the
    export shows it."""
    written, export, orientation = darktable_wrote["our sidecar, rewritten"]
    text = written.read_text()
    assert 'darktable:operation="flip"' in text and 'darktable:operation="clipping"' in text
    crop = read_darktable_crop(text, WIDTH, HEIGHT)
    assert crop.values() == pytest.approx(CROPS["turned -10°"].values(), abs=1e-6)
    assert pixel_iou(shown_area(pixels(export)), crop_polygon(crop, WIDTH, HEIGHT)) >= PIXEL_IOU


@pytest.mark.parametrize(
    ("case", "crop"),
    [("crop module, EXIF 6", "turned +10°"), ("crop and rotate +7°, automatic cropping, EXIF 8", "plain")],
)
def test_writing_over_a_history_darktable_wrote(darktable_wrote, tmp_path, case, crop):
    """Over a sidecar darktable wrote (a crop already applied), write_darktable_crop keeps every entry, adds the
    new crop (switching the other crop module off) and darktable applies it as cropstyle renders it."""
    written, _, orientation = darktable_wrote[case]
    existing = written.read_text()
    ours = write_darktable_crop(existing, CROPS[crop], WIDTH, HEIGHT, "ignored.jpg")
    before = existing.count("<rdf:li")
    assert ours.count("<rdf:li") == before + 2  # the old module switched off, then ours
    assert read_darktable_crop(ours, WIDTH, HEIGHT).values() == pytest.approx(CROPS[crop].values(), abs=1e-6)
    (tmp_path / "ours.xmp").write_text(ours)
    photo = coded_photo(tmp_path, orientation)
    export = darktable(photo, tmp_path / "ours.xmp", tmp_path / "out.jpg", tmp_path / "conf")
    agreement(export, photo, orientation, CROPS[crop], tmp_path / "cropstyle.jpg").check(f"over {case}: {crop}")


def test_the_stored_sidecar_darktable_wrote():
    """The sidecar darktable 4.2.1 wrote (kept in tests/data): gz-compressed parameters of every module, the
    preset's crop and rotate parameters exactly, and the crop they make."""
    text = WRITTEN_BY_DARKTABLE.read_text()
    assert text.count('darktable:params="gz') == 5 and 'darktable:history_end="5"' in text
    crop = read_darktable_crop(text, 240, 160)
    preset = ClippingParams.unpack(ClippingParams(7.0, 0.1, 0.15, 0.85, 0.9, crop_auto=1).pack())  # float32
    assert crop == crop_from_clipping_params(preset, 240, 160)
    assert crop.values() == pytest.approx((0.138019, 0.266649, 0.823214, 0.783351, -7.0), abs=1e-6)


# --- parsing: exact values -------------------------------------------------------------------------------------

READ_CASES = {
    "crop, hex": (sidecar(entry(0, "crop", QUARTER)), Crop(0.125, 0.25, 0.75, 0.875, 0.0)),
    "crop, gz-compressed": (sidecar(entry(0, "crop", gz(QUARTER))), Crop(0.125, 0.25, 0.75, 0.875, 0.0)),
    "crop clamped as darktable does": (
        sidecar(entry(0, "crop", CropParams(-0.5, 0.95, 1.5, 0.05).pack())),
        Crop(0.0, 0.9, 1.0, 0.1, 0.0),
    ),
    "no history": (sidecar(), None),
    "no crop module": (sidecar(entry(0, "flip", flip(-1))), None),
    "crop switched off later": (sidecar(entry(0, "crop", QUARTER), entry(1, "crop", QUARTER, enabled=0)), None),
    "crop switched off, undone (history_end)": (
        sidecar(entry(0, "crop", QUARTER), entry(1, "crop", QUARTER, enabled=0), history_end=1),
        Crop(0.125, 0.25, 0.75, 0.875, 0.0),
    ),
    "later crop undone (history_end)": (
        sidecar(entry(0, "crop", QUARTER), entry(1, "crop", CropParams(0.0, 0.0, 0.5, 0.5).pack()), history_end=1),
        Crop(0.125, 0.25, 0.75, 0.875, 0.0),
    ),
    "everything undone": (sidecar(entry(0, "crop", QUARTER), history_end=0), None),
    "the last entry of each instance wins": (
        sidecar(
            entry(0, "crop", CropParams(0.0, 0.0, 0.5, 0.5).pack()),
            entry(1, "crop", QUARTER, enabled=0, priority=1),
            entry(2, "crop", QUARTER),
        ),
        Crop(0.125, 0.25, 0.75, 0.875, 0.0),
    ),
    "second instance switched off": (
        sidecar(
            entry(0, "crop", QUARTER),
            entry(1, "crop", QUARTER, priority=1),
            entry(2, "crop", QUARTER, priority=1, enabled=0),
        ),
        Crop(0.125, 0.25, 0.75, 0.875, 0.0),
    ),
    "clipping without angle": (
        sidecar(entry(0, "clipping", ClippingParams(0.0, 0.125, 0.25, 0.75, 0.875).pack())),
        Crop(0.125, 0.25, 0.75, 0.875, 0.0),
    ),
    # A square photo turned by 45°: the bounding box's middle half, or the automatic crop's whole box, is the
    # square standing on its corners at the edges' midpoints; darktable's angle turns the content clockwise.
    "clipping +45°, bounding box": (
        sidecar(entry(0, "clipping", ClippingParams(45.0, 0.25, 0.25, 0.75, 0.75).pack())),
        Crop(0, 0.5, 1, 0.5, -45),
    ),
    "clipping +45°, automatic crop": (
        sidecar(entry(0, "clipping", ClippingParams(45.0, 0.0, 0.0, 1.0, 1.0, crop_auto=1).pack())),
        Crop(0, 0.5, 1, 0.5, -45),
    ),
    "clipping -45°, automatic crop, gz": (
        sidecar(entry(0, "clipping", gz(ClippingParams(-45.0, 0.0, 0.0, 1.0, 1.0, crop_auto=1).pack()))),
        Crop(0.5, 0, 0.5, 1, 45),
    ),
    "lens correcting vignetting only, before the crop": (
        sidecar(entry(0, "lens", lens(0x2)), entry(1, "crop", QUARTER)),
        Crop(0.125, 0.25, 0.75, 0.875, 0.0),
    ),
    "liquify after the crop in a custom order": (
        sidecar(
            entry(0, "liquify", "00"),
            entry(1, "crop", QUARTER),
            attributes=' darktable:iop_order_list="flip,0,crop,0,liquify,0"',
        ).replace('darktable:iop_order_version="2"', 'darktable:iop_order_version="0"'),
        Crop(0.125, 0.25, 0.75, 0.875, 0.0),
    ),
    "no crop, a flip set in darktable (no orientation needed)": (sidecar(entry(0, "flip", flip(6))), None),
    "ashift switched off": (
        sidecar(entry(0, "ashift", "00", enabled=0), entry(1, "crop", QUARTER)),
        Crop(0.125, 0.25, 0.75, 0.875, 0.0),
    ),
    "exiftool's layout (elements, parseType Resource)": (
        sidecar()
        .replace(
            "<rdf:Seq>\n",
            '<rdf:Seq>\n<rdf:li rdf:parseType="Resource"><darktable:num>0'
            "</darktable:num><darktable:operation>crop</darktable:operation><darktable:enabled>1"
            "</darktable:enabled><darktable:modversion>1</darktable:modversion><darktable:params>"
            + QUARTER.hex()
            + "</darktable:params></rdf:li>",
        )
        .replace('darktable:history_end="0"', ""),
        Crop(0.125, 0.25, 0.75, 0.875, 0.0),
    ),
}


@pytest.mark.parametrize("case", READ_CASES)
def test_reading_exact_values(case):
    text, expected = READ_CASES[case]
    width, height = (100, 100) if "45°" in case else (WIDTH, HEIGHT)
    crop = read_darktable_crop(text, width, height)
    if expected is None:
        assert crop is None
    else:
        assert crop.values() == pytest.approx(expected.values(), abs=1e-12)
    assert read_darktable_crop(text.encode(), width, height) == crop  # bytes read the same


# darktable's own flip: the crop is in the frame darktable shows, mapped through the stored pixels.
FLIP_CASES = {
    # flip value (darktable), EXIF orientation, displayed size, crop in darktable's frame → cropstyle's crop
    "turned 90° counter-clockwise in darktable": (6, 1, (240, 160), Crop(0, 0, 0.5, 0.5), Crop(0.5, 0, 1, 0.5)),
    "turned 90° clockwise in darktable": (5, 1, (240, 160), Crop(0, 0, 0.5, 0.5), Crop(0, 0.5, 0.5, 1)),
    "flip off, EXIF 6": ("off", 6, (160, 240), Crop(0, 0, 0.5, 0.5), Crop(0.5, 0, 1, 0.5)),
    "none instead of EXIF 3": (0, 3, (240, 160), Crop(0, 0, 0.5, 0.5), Crop(0.5, 0.5, 1, 1)),
    "mirrored in darktable": (2, 1, (240, 160), Crop(0, 0, 0.5, 0.5), Crop(0.5, 0, 1, 0.5)),
    "darktable's flip agrees with EXIF 6": (5, 6, (160, 240), Crop(0, 0, 0.5, 0.5), Crop(0, 0, 0.5, 0.5)),
}


@pytest.mark.parametrize("case", FLIP_CASES)
def test_a_flip_set_in_darktable_maps_through_the_stored_frame(case):
    value, orientation, (width, height), in_frame, expected = FLIP_CASES[case]
    flip_entry = entry(0, "flip", flip(0), enabled=0) if value == "off" else entry(0, "flip", flip(value))
    text = sidecar(flip_entry, entry(1, "crop", CropParams(*in_frame.values()[:4]).pack()))
    crop = read_darktable_crop(text, width, height, orientation=orientation)
    assert crop.values() == pytest.approx(expected.values(), abs=1e-12)
    assert (
        write_darktable_crop(text, expected, width, height, "x.jpg", orientation=orientation).count(
            CropParams(*in_frame.values()[:4]).pack().hex()
        )
        == 2
    )  # written back in darktable's frame


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("name", CROPS)
def test_write_then_read_is_the_crop(orientation, name):
    """With darktable's own automatic flip, or a flip set in darktable (here: transposed), what is written
    reads back (float precision)."""
    crop = CROPS[name]
    assert read_darktable_crop(
        write_darktable_crop(None, crop, WIDTH, HEIGHT, "p.jpg"), WIDTH, HEIGHT
    ).values() == pytest.approx(crop.values(), abs=1e-6)
    transposed = sidecar(entry(0, "flip", flip(4)))
    written = write_darktable_crop(transposed, crop, WIDTH, HEIGHT, "p.jpg", orientation=orientation)
    assert read_darktable_crop(written, WIDTH, HEIGHT, orientation=orientation).values() == pytest.approx(
        crop.values(), abs=1e-5
    )


def test_params_encoding_is_darktables():
    """Hex, or gz + the compression factor (uncompressed size over compressed, plus one, two digits) + base64
    of the zlib stream; darktable compresses blobs over 100 bytes unless told otherwise."""
    data = ClippingParams(7.0, 0.1, 0.15, 0.85, 0.9).pack()
    assert encode_params(QUARTER) == QUARTER.hex() == "0000003e0000803e0000403f0000603f0000000000000000"
    packed = zlib.compress(data)
    assert (
        encode_params(data, compress=True)
        == f"gz{len(data) // len(packed) + 1:02d}" + base64.b64encode(packed).decode()
    )
    assert decode_params(encode_params(data, compress=True)) == data
    assert encode_params(bytes(101)).startswith("gz") and not encode_params(bytes(100)).startswith("gz")


# --- writing: what the sidecar holds -----------------------------------------------------------------------------


def test_a_new_sidecar_is_minimal_and_darktables_layout():
    text = write_darktable_crop(None, CROPS["plain"], WIDTH, HEIGHT, "Été & co.JPG")
    assert text.count("<rdf:li") == 1
    for attribute in (
        'xmpMM:DerivedFrom="Été &amp; co.JPG"',
        'darktable:auto_presets_applied="0"',
        'darktable:history_end="1"',
        'darktable:iop_order_version="2"',
        'darktable:num="0"',
        'darktable:operation="crop"',
        'darktable:modversion="1"',
        'darktable:params="cdcccc3d9a99193ecdcc4c3f6666663f0000000000000000"',
    ):
        assert attribute in text
    turned = write_darktable_crop(None, CROPS["turned +10°"], WIDTH, HEIGHT, "p.jpg")
    params = ClippingParams.unpack(
        decode_params(turned.split('operation="clipping"')[1].split('darktable:params="')[1].split('"')[0])
    )
    assert (params.angle, params.crop_auto, params.k_apply, params.ratio_n, params.ratio_d) == (-10.0, 0, 0, 0, 0)


def test_appending_keeps_every_entry_and_renumbers_the_undone_ones():
    """The new entry goes at history_end: undone entries (and their masks) move up and stay undone."""
    masks = (
        '   <darktable:masks_history>\n    <rdf:Seq>\n     <rdf:li darktable:mask_num="1" darktable:mask_id="7"/>'
        '\n     <rdf:li darktable:mask_num="3" darktable:mask_id="8"/>\n    </rdf:Seq>\n'
        "   </darktable:masks_history>\n"
    )
    existing = sidecar(
        entry(0, "flip", flip(-1)),
        entry(1, "exposure", "00"),
        entry(2, "crop", QUARTER),
        entry(3, "exposure", "01"),
        history_end=2,
        body=masks,
    )
    written = write_darktable_crop(existing, CROPS["plain"], WIDTH, HEIGHT, "p.jpg")
    assert 'darktable:history_end="3"' in written
    nums = [
        (li.split('darktable:num="')[1].split('"')[0], li.split('operation="')[1].split('"')[0])
        for li in written.split("<rdf:li")[1:]
        if "operation=" in li
    ]
    assert nums == [("0", "flip"), ("1", "exposure"), ("2", "crop"), ("3", "crop"), ("4", "exposure")]
    assert 'darktable:mask_num="1" darktable:mask_id="7"' in written
    assert 'darktable:mask_num="4" darktable:mask_id="8"' in written
    assert 'darktable:params="01"' in written and 'darktable:params="00"' in written
    assert read_darktable_crop(written, WIDTH, HEIGHT) == read_darktable_crop(
        sidecar(entry(0, "crop", CropParams(*CROPS["plain"].values()[:4]).pack())), WIDTH, HEIGHT
    )


def test_writing_a_turned_crop_switches_the_crop_module_off_and_back():
    existing = sidecar(entry(0, "crop", QUARTER))
    turned = write_darktable_crop(existing, CROPS["turned +10°"], WIDTH, HEIGHT, "p.jpg")
    assert turned.count("<rdf:li") == 3 and 'darktable:history_end="3"' in turned
    assert (
        f'darktable:num="1" darktable:operation="crop" darktable:enabled="0" darktable:modversion="1" '
        f'darktable:params="{QUARTER.hex()}"' in turned
    )
    assert read_darktable_crop(turned, WIDTH, HEIGHT).values() == pytest.approx(CROPS["turned +10°"].values(), abs=1e-6)
    plain = write_darktable_crop(turned, CROPS["plain"], WIDTH, HEIGHT, "p.jpg")
    assert (
        plain.count("<rdf:li") == 5
        and 'darktable:num="3" darktable:operation="clipping" darktable:enabled="0"' in plain
    )
    assert read_darktable_crop(plain, WIDTH, HEIGHT).values() == pytest.approx(CROPS["plain"].values(), abs=1e-6)


def test_writing_into_a_sidecar_darktable_never_saw():
    """A Lightroom-style sidecar (cropstyle's own, crs values as attributes) gets darktable's history beside its
    crs values, with auto_presets_applied 0 so that darktable adds its defaults."""
    from cropstyle.extractor import crs

    existing = crs.xmp_packet({"crs:HasCrop": "True", "crs:CropLeft": "0.1", "tiff:Orientation": "6"}, wrapped=False)
    written = write_darktable_crop(existing, CROPS["turned -10°"], WIDTH, HEIGHT, "p.jpg")
    for kept in (
        'crs:HasCrop="True"',
        'crs:CropLeft="0.1"',
        'tiff:Orientation="6"',
        'darktable:history_end="1"',
        'darktable:auto_presets_applied="0"',
        'darktable:iop_order_version="2"',
    ):
        assert kept in written
    assert "DerivedFrom" not in written
    assert read_darktable_crop(written, WIDTH, HEIGHT).values() == pytest.approx(
        CROPS["turned -10°"].values(), abs=1e-6
    )


def test_everything_outside_the_history_is_kept():
    existing = sidecar(
        entry(0, "crop", QUARTER),
        attributes=' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="3"',
        body="   <dc:subject>\n    <rdf:Bag>\n     <rdf:li>beach &amp; sea</rdf:li>\n    </rdf:Bag>\n"
        "   </dc:subject>\n   <!-- a comment -->\n",
    )
    existing = (
        existing.replace(
            '<?xml version="1.0" encoding="UTF-8"?>\n', '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        )
        + '<?xpacket end="w"?>'
    )
    written = write_darktable_crop(existing, CROPS["plain"], WIDTH, HEIGHT, "p.jpg")
    for kept in (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n<x:xmpmeta',
        '<?xpacket end="w"?>',
        'xmp:Rating="3"',
        "<rdf:li>beach &amp; sea</rdf:li>",
        "<!-- a comment -->",
        'x:xmptk="XMP Core 4.4.0"',
    ):
        assert kept in written
    assert written.count("<rdf:li") == 3


# --- bad input: one-line reasons -------------------------------------------------------------------------------

BAD = {
    "crop module from a newer darktable": (
        sidecar(entry(0, "crop", CropParams(0.1, 0.1, 0.9, 0.9).pack() + b"\1\0\0\0", modversion=2)),
        "darktable crop module version 2 is newer than cropstyle reads (1)",
    ),
    "an old crop and rotate": (
        sidecar(entry(0, "clipping", bytes(76), modversion=4)),
        "darktable clipping module version 4 is older than cropstyle reads (5)",
    ),
    "gz blob that does not inflate": (
        sidecar(entry(0, "crop", "gz12" + base64.b64encode(b"not a zlib stream").decode())),
        "darktable crop parameters: compressed data does not inflate "
        "(Error -3 while decompressing data: incorrect header check)",
    ),
    "gz blob cut short": (
        sidecar(entry(0, "crop", gz(QUARTER)[:-8])),
        "darktable crop parameters: compressed data does not inflate (truncated or too large)",
    ),
    "gz blob, not base64": (
        sidecar(entry(0, "crop", "gz02@@@@")),
        "darktable crop parameters: compressed data is not base64",
    ),
    "wrong length": (
        sidecar(entry(0, "crop", QUARTER[:20])),
        "darktable crop module version 1 parameters are 20 bytes, not 24",
    ),
    "wrong length, compressed": (
        sidecar(entry(0, "clipping", gz(bytes(88)))),
        "darktable clipping module version 5 parameters are 88 bytes, not 84",
    ),
    "not hex": (sidecar(entry(0, "crop", "0x1234")), "darktable crop parameters are neither hex nor gz-compressed"),
    "rotate and perspective before the crop": (
        sidecar(entry(0, "ashift", "00"), entry(1, "crop", QUARTER)),
        "darktable ashift module (rotate and perspective) before the crop is not supported",
    ),
    "lens distortion correction before the crop": (
        sidecar(entry(0, "lens", lens(0x8 | 0x2)), entry(1, "crop", QUARTER)),
        "darktable lens module (lens correction) before the crop is not supported",
    ),
    "liquify before crop and rotate (legacy order)": (
        sidecar(entry(0, "liquify", "00"), entry(1, "clipping", ClippingParams(0, 0, 0, 1, 1).pack())).replace(
            'darktable:iop_order_version="2"', 'darktable:iop_order_version="1"'
        ),
        "darktable liquify module (liquify) before the crop is not supported",
    ),
    "two crops": (
        sidecar(entry(0, "crop", QUARTER), entry(1, "clipping", ClippingParams(0, 0, 0, 1, 1).pack())),
        "darktable history applies two crops, clipping (instance 0) and crop (instance 0): not supported",
    ),
    "two crop instances": (
        sidecar(entry(0, "crop", QUARTER), entry(1, "crop", QUARTER, priority=1)),
        "darktable history applies two crops, crop (instance 0) and crop (instance 1): not supported",
    ),
    "keystone": (
        sidecar(entry(0, "clipping", ClippingParams(0, 0, 0, 1, 1, k_type=3, k_apply=1).pack())),
        "darktable clipping module with keystone correction is not supported",
    ),
    "old keystone": (
        sidecar(entry(0, "clipping", ClippingParams(0, 0, 0, 1, 1, k_h=0.2, k_type=4).pack())),
        "darktable clipping module with keystone correction is not supported",
    ),
    "mirrored by crop and rotate": (
        sidecar(entry(0, "clipping", ClippingParams(0, 0, 0, -1, 1).pack())),
        "darktable clipping module with a mirror flip is not supported",
    ),
    "a flip set in darktable, EXIF orientation unknown": (
        sidecar(entry(0, "flip", flip(6)), entry(1, "crop", QUARTER)),
        "darktable shows this photo with orientation 8 (set in darktable); mapping its crop needs the photo's "
        "EXIF orientation",
    ),
    "flip after the crop in a custom order": (
        sidecar(
            entry(0, "flip", flip(-1)),
            entry(1, "crop", QUARTER),
            attributes=' darktable:iop_order_list="crop,0,flip,0"',
        ).replace('darktable:iop_order_version="2"', 'darktable:iop_order_version="0"'),
        "darktable module order with flip after crop is not supported",
    ),
    "a DOCTYPE": (
        '<!DOCTYPE x [<!ENTITY a "b">]>' + sidecar(entry(0, "crop", QUARTER)),
        "darktable sidecar declares a DOCTYPE or entities, which XMP never does",
    ),
    "the old layout": (
        sidecar().replace(
            "<darktable:history>",
            "<darktable:history_operation><rdf:Seq><rdf:li>"
            "crop</rdf:li></rdf:Seq></darktable:history_operation><darktable:history>",
        ),
        "darktable sidecar in the old layout (history_operation lists) is not supported",
    ),
    "no modversion": (
        sidecar(entry(0, "crop", QUARTER)).replace(' darktable:modversion="1"', ""),
        "darktable crop module entry has no modversion",
    ),
    "history_end not a number": (
        sidecar(entry(0, "crop", QUARTER), history_end="x"),  # type: ignore[arg-type]
        "darktable history_end is not a whole number: 'x'",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_sidecars_are_refused_with_one_line(case):
    text, message = BAD[case]
    with pytest.raises(DarktableError) as error:
        read_darktable_crop(text, WIDTH, HEIGHT)
    assert str(error.value) == message
    assert isinstance(error.value, ValueError) and "\n" not in message


@pytest.mark.parametrize(
    "case",
    [
        "rotate and perspective before the crop",
        "lens distortion correction before the crop",
        "two crops",
        "a flip set in darktable, EXIF orientation unknown",
        "a DOCTYPE",
    ],
)
def test_writing_refuses_what_it_cannot_map(case):
    text, message = BAD[case]
    with pytest.raises(DarktableError) as error:
        write_darktable_crop(text, CROPS["plain"], WIDTH, HEIGHT, "p.jpg")
    assert str(error.value) == message


def test_not_xml_and_invalid_crops_are_refused():
    with pytest.raises(DarktableError, match=r"^darktable sidecar is not well-formed XML \(.*\)$"):
        read_darktable_crop("<x:xmpmeta", WIDTH, HEIGHT)
    with pytest.raises(DarktableError, match="^cannot write an invalid crop: crop reaches outside the image$"):
        write_darktable_crop(None, Crop(0.5, 0.5, 1.2, 0.9), WIDTH, HEIGHT, "p.jpg")
    with pytest.raises(DarktableError, match=r"^crop lies beyond darktable's crop module limits"):
        write_darktable_crop(None, Crop(0.95, 0.0, 1.0, 1.0), WIDTH, HEIGHT, "p.jpg")
