"""A synthetic photo library, written the way Lightroom writes one, with the answers known.

`make_sample_library(DIR)` draws photo-like scenes (sky, tilted horizon, clouds, mountains, a subject)
and crops each one in ONE consistent, learnable style:

* the crop's angle is the camera tilt, so the crop straightens the horizon;
* the subject sits on a third of the crop and the horizon on one of its third lines;
* landscape photos are cropped 16:9, portrait photos 4:5, covering roughly 60–90% of the frame.

Labels are chosen in the DISPLAYED frame, converted to the stored frame with `geometry.to_stored`,
rounded to 6 decimals as Lightroom writes them, and the truth is read back from the rounded values
(`geometry.to_displayed`), so an exact extractor matches `truth.csv` to ~1e-6.

Around the cropped photos the library holds what real libraries hold: every EXIF orientation,
Lightroom user rotations (XMP `tiff:Orientation` ≠ EXIF), TIFF and PNG, raws with sidecars
(`NAME.xmp` and darktable's `NAME.EXT.xmp`) and real embedded previews, a DNG, exports, uncropped
photos, a perspective-corrected crop, garbage crop values, broken files, an orphan sidecar, names
with spaces and accents, a duplicate, and a Lightroom catalog (`DIR/catalog/Library.lrcat`) holding
the crops of a few JPEGs that carry none themselves. `DIR/truth.csv` says what the extractor should
make of each file (see TRUTH_COLUMNS and KINDS).

`style` picks another photographer from samples/styles.py's STYLES (the style zoo, each with one habit of its
own). Their libraries hold JPEGs with embedded XMP only (the `uncropped` photographer's uncropped photos written
with `crs:HasCrop=False`, like the `uncropped` kind), in more frame shapes (3:2, 4:3, 16:9, 1:1, each landscape or
portrait), about half stored rotated; they go through the same planner and writer, so their labels take the
same path (displayed frame → `to_stored` → 6 decimals → read back).

All metadata is written by one exiftool process for the whole run. The same seed gives the same
bytes (except the catalog, whose rows get fresh UUIDs).
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import exiftool
import numpy as np
from PIL import Image

from cropstyle.extractor import crs, skip_reasons
from cropstyle.extractor.geometry import IDENTITY, LABEL_VALUES, Crop, displayed_size, to_displayed, to_stored
from cropstyle.extractor.pixels import STORED_TRANSPOSE
from cropstyle.samples.catalog import CatalogEntry, write_catalog
from cropstyle.samples.scenes import Scene, render_image
from cropstyle.samples.styles import CLASSIC, STYLES, Style, compose

LABEL = "label"  # `expected` of rows that should become training examples

# kind → (what the extractor should make of it, where the label comes from).
KINDS: dict[str, tuple[str, str]] = {
    "jpeg": (LABEL, "xmp-embedded"),
    "jpeg-user-rotation": (LABEL, "xmp-embedded"),
    "tiff": (LABEL, "xmp-embedded"),
    "png": (LABEL, "xmp-embedded"),
    "cr2-sidecar": (LABEL, "xmp-sidecar"),
    "cr2-ext-sidecar": (LABEL, "xmp-sidecar"),
    "nef-sidecar": (LABEL, "xmp-sidecar"),
    "dng": (LABEL, "xmp-embedded"),
    "duplicate": (LABEL, "xmp-embedded"),
    "lrcat": (LABEL, "lrcat"),
    "uncropped": (skip_reasons.NO_CROP, "xmp-embedded"),
    "uncropped-no-hascrop": (skip_reasons.NO_CROP, "xmp-embedded"),
    "uncropped-no-xmp": (skip_reasons.NO_CROP, "xmp-embedded"),
    "export-applied": (skip_reasons.EXPORT, ""),
    "export-history": (skip_reasons.EXPORT, ""),
    "export-rawfilename": (skip_reasons.EXPORT, ""),
    "perspective": (skip_reasons.PERSPECTIVE, ""),
    "garbage-crop": (skip_reasons.INVALID_CROP, ""),
    "zero-byte": (skip_reasons.UNREADABLE, ""),  # exiftool: "File is empty"
    "truncated": (skip_reasons.CORRUPT, ""),
    "text-as-jpg": (skip_reasons.NOT_AN_IMAGE, ""),  # exiftool: FileType TXT
    "raw-no-preview": (skip_reasons.NO_IMAGE_DATA, ""),
    "orphan-sidecar": (skip_reasons.ORPHAN_SIDECAR, ""),
}
# How often each repeatable kind appears in the realistic mix; the others appear exactly once.
_MIX_WEIGHTS = {
    "jpeg": 62,
    "jpeg-user-rotation": 4,
    "tiff": 2,
    "png": 2,
    "cr2-sidecar": 5,
    "cr2-ext-sidecar": 3,
    "nef-sidecar": 5,
    "uncropped": 6,
    "uncropped-no-hascrop": 2,
    "uncropped-no-xmp": 3,
    "lrcat": 4,
}
# Kinds that are present exactly once in the realistic mix (count permitting).
_ONCE = (
    "dng",
    "duplicate",
    "export-applied",
    "export-history",
    "export-rawfilename",
    "perspective",
    "garbage-crop",
    "zero-byte",
    "truncated",
    "text-as-jpg",
    "raw-no-preview",
    "orphan-sidecar",
)

# The kinds a zoo style's library may hold: photos whose XMP is inside them, labelled by the style. The realistic
# mix (raws, catalog, exports, broken files) is the classic photographer's.
ZOO_KINDS = ("jpeg", "jpeg-user-rotation", "tiff", "png")
ZOO_DEFAULT_KINDS = ("jpeg",)

TRUTH_COLUMNS = ["file", "kind", "expected", "origin", "orientation", "width", "height", *LABEL_VALUES]

# truth.csv: `file` relative to DIR (the raw, not its sidecar); `expected` is LABEL or a skip reason of
# skip_reasons; `origin` for label and no-crop rows (the latter as --include-uncropped labels them);
# `orientation` the one to apply; `width`,`height` the displayed size of the original (a raw's declared
# size); the label in the DISPLAYED frame, identity for uncropped rows, empty where there is none.
# Real metadata-only raw stubs from ExifTool's test suite (samples/raw_stubs/README.md: origin, licence):
# declared (stored) size as metadata.declared_size reads it (Composite:ImageSize; a DNG's DefaultCropSize), the
# camera's preview size (the largest we embed; always the declared aspect ratio, exactly) and the tags that
# hold previews.
RAW_STUBS = Path(__file__).resolve().with_name("raw_stubs")


@dataclass(frozen=True)
class _RawStub:
    name: str
    declared: tuple[int, int]
    preview: tuple[int, int]
    preview_tags: tuple[str, ...]
    make: str
    model: str


_RAW_STUBS = {
    # The CR2's IFD0 declares a 1536×1024 preview, the 350D's own size.
    "cr2": _RawStub("CanonRaw.cr2", (3456, 2304), (1536, 1024), ("PreviewImage",), "Canon", "Canon EOS 350D DIGITAL"),
    "nef": _RawStub(
        "Nikon.nef", (3040, 2014), (1520, 1007), ("PreviewImage", "JpgFromRaw"), "NIKON CORPORATION", "NIKON D70"
    ),
    # The DNG's frame is its DefaultCropSize, 3456×2304, not its full 3516×2328 raw (ImageSize): its previews
    # are rendered from the default crop, as a camera's or Adobe's DNG converter's are.
    "dng": _RawStub(
        "DNG.dng", (3456, 2304), (1728, 1152), ("PreviewImage", "JpgFromRaw"), "Canon", "Canon EOS 350D DIGITAL"
    ),
}

LIGHTROOM = "Adobe Photoshop Lightroom Classic 13.2 (Windows)"
_JPEG_QUALITY = 90


@dataclass
class SampleSummary:
    """What was written: rows of truth.csv per kind and per expected outcome."""

    directory: Path
    kinds: Counter = field(default_factory=Counter)
    expected: Counter = field(default_factory=Counter)
    files: int = 0
    seconds: float = 0.0
    catalog: Path | None = None

    @property
    def rows(self) -> int:
        return sum(self.kinds.values())

    def report(self) -> str:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.kinds.items(), key=lambda item: (-item[1], item[0])))
        outcomes = ", ".join(f"{n} {outcome}" for outcome, n in sorted(self.expected.items(), key=lambda i: -i[1]))
        lines = [
            f"Wrote a sample library of {self.rows} photos ({self.files} files) to {self.directory} "
            f"in {self.seconds:.1f} s.",
            f"  kinds: {kinds}",
            f"  expected: {outcomes}",
            f"  ground truth: {self.directory / 'truth.csv'}",
        ]
        if self.catalog:
            lines.append(f"  catalog: {self.catalog}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# XMP as Lightroom writes it.
# ----------------------------------------------------------------------------------------------

# Develop settings Lightroom writes beside any crop, neutral perspective sliders included.
_DEVELOP_SETTINGS = {
    "Version": "16.2",
    "ProcessVersion": "15.4",
    "WhiteBalance": "As Shot",
    "Exposure2012": "+0.35",
    "Contrast2012": "+12",
    "Highlights2012": "-48",
    "Shadows2012": "+31",
    "Whites2012": "+6",
    "Blacks2012": "-9",
    "Vibrance": "+14",
    "Saturation": "0",
    "LensProfileEnable": "1",
    "AutoLateralCA": "1",
    **{name: str(neutral) for name, neutral in crs.PERSPECTIVE_NEUTRAL.items()},
    "HasSettings": "True",
}


def _xmp_packet(
    *,
    orientation: int | None,
    settings: dict[str, str] | None,
    history: Sequence[dict[str, str]] = (),
    date: str = "2024-05-03T18:22:10",
    extra: dict[str, str] | None = None,
    sidecar: bool = False,
) -> str:
    """A packet as Lightroom writes one (crs.xmp_packet): creator and dates, orientation, `extra`, the crs
    `settings`. Sidecars have no <?xpacket?> wrapper (Lightroom omits it); embedded packets have one."""
    attributes = {"xmp:CreatorTool": LIGHTROOM, "xmp:ModifyDate": date, "xmp:MetadataDate": date}
    if orientation is not None:
        attributes["tiff:Orientation"] = str(orientation)
    attributes.update(extra or {})
    attributes.update({f"crs:{name}": value for name, value in (settings or {}).items()})
    return crs.xmp_packet(attributes, history, wrapped=not sidecar)


def _saved_event(date: str) -> dict[str, str]:
    return {
        "action": "saved",
        "instanceID": "xmp.iid:" + date.replace(":", "").replace("-", ""),
        "when": date,
        "softwareAgent": LIGHTROOM,
        "changed": "/metadata",
    }


# ----------------------------------------------------------------------------------------------
# The plan: every decision, made up front from the seed, so that writing can run in any order.
# ----------------------------------------------------------------------------------------------

_CAMERA_ORIENTATIONS = (1, 6, 8, 3, 2, 4, 5, 7)
_CAMERA_ORIENTATION_WEIGHTS = (0.55, 0.2, 0.15, 0.04, 0.015, 0.015, 0.015, 0.015)
_FOLDERS = (
    "2022/2022-09-18",
    "2023/2023-04-02",
    "2023/2023-07-14 Zürich",
    "2024/2024-01-27 Snow day",
    "2024/2024-05-03",
)


@dataclass
class PlannedPhoto:
    """One planned file (and its truth row)."""

    kind: str
    file: str  # relative to DIR, POSIX
    fmt: str = "jpeg"  # jpeg | tiff | png | cr2 | nef | dng | none
    scene: Scene | None = None
    pixel_size: tuple[int, int] = (0, 0)  # stored size of the pixels we write (preview size for raws)
    orientation: int = 1  # the one the extractor should apply
    exif_orientation: int | None = None  # written into IFD0 (None: no EXIF)
    xmp: str | None = None  # embedded packet
    sidecar: str | None = None  # relative path of a sidecar to write `sidecar_xmp` into
    sidecar_xmp: str | None = None
    truth_size: tuple[int, int] | None = None  # displayed size in truth.csv
    truth_crop: Crop | None = None  # displayed label in truth.csv
    copy_of: str | None = None  # duplicate: copy this planned file after its metadata is written
    exif: tuple[str, ...] = ()  # extra exiftool assignments
    catalog_crop: Crop | None = None  # lrcat: the crop the catalog holds (stored frame)


def _seed_words(seed: int, *more: int) -> list[int]:
    # SeedSequence wants non-negative integers; keep negative seeds distinct from positive ones.
    return [abs(seed) * 2 + (seed < 0), *more]


def _kind_list(count: int, kinds: Sequence[str] | None, rng: np.random.Generator) -> list[str]:
    """Which kind each planned photo is; a duplicate counts as two rows (original and copy)."""
    if kinds is None:
        weights = dict(_MIX_WEIGHTS)
        once = list(_ONCE)
    else:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown sample kinds {unknown}; known: {sorted(KINDS)}")
        weights = {k: _MIX_WEIGHTS.get(k, 1) for k in kinds}
        once = []
    # Every kind once first, the labelled ones leading (jpeg first), so that small libraries are mostly
    # cropped photos; then the rest drawn by weight.
    everything = [*weights, *once]
    must = [k for k in everything if KINDS[k][0] == LABEL] + [k for k in everything if KINDS[k][0] != LABEL]
    if "jpeg" in weights:
        must += ["jpeg"] * 7  # eight cropped JPEGs, one per EXIF orientation (see _plan)
    chosen: list[str] = []
    rows = 0
    for kind in must:
        size = 2 if kind == "duplicate" else 1
        if rows + size <= count:
            chosen.append(kind)
            rows += size
    names, p = list(weights), np.array(list(weights.values()), float)
    while rows < count:
        kind = names[rng.choice(len(names), p=p / p.sum())]
        chosen.append(kind)
        rows += 2 if kind == "duplicate" else 1
    return chosen


def _stored_frame(rng: np.random.Generator, long_side: int, frames: Sequence[tuple[float, float]]) -> tuple[int, int]:
    """A camera's stored (landscape) frame, its aspect drawn from `frames` ((width / height, share), shares summing
    to 1); orientations 5–8 display it as portrait."""
    draw, below = rng.uniform(), 0.0
    for aspect, share in frames:  # the last one if the shares' sum falls short of 1 by a rounding
        below += share
        if draw < below:
            break
    return long_side, max(2, round(long_side / aspect))


def _plan(count: int, seed: int, long_side: int, kinds: Sequence[str] | None, style: Style) -> list[PlannedPhoto]:
    rng = np.random.default_rng(_seed_words(seed, 0))
    kind_list = _kind_list(count, kinds, rng)
    photos: list[PlannedPhoto] = []
    jpeg_orientations = list(rng.permutation(np.arange(1, 9)))  # all eight appear first
    special_names = iter(["Été à Zürich 01.JPG", "Été à Zürich 02.JPG", "Strand mit Möwe 03.jpeg", "beach day (2).jpg"])
    for index, kind in enumerate(kind_list):
        photo_rng = np.random.default_rng(_seed_words(seed, 1, index))
        number = 1001 + index  # file numbers, like a camera's counter
        folder = _FOLDERS[photo_rng.integers(len(_FOLDERS))]
        if kind in (
            "jpeg",
            "truncated",
            "uncropped",
            "uncropped-no-hascrop",
            "uncropped-no-xmp",
            "perspective",
            "garbage-crop",
            "lrcat",
            "duplicate",
        ):
            if kind == "jpeg" and jpeg_orientations:
                orientation = int(jpeg_orientations.pop())
            else:
                orientation = int(photo_rng.choice(_CAMERA_ORIENTATIONS, p=_CAMERA_ORIENTATION_WEIGHTS))
            name = f"IMG_{number:04d}" + (".JPG" if photo_rng.uniform() < 0.7 else ".jpg")
            if kind == "jpeg" and photo_rng.uniform() < 0.25:
                name = next(special_names, name)
                folder = "2023/2023-07-14 Zürich" if name.startswith("Été") else folder
            photos += _plan_embedded(
                photo_rng, kind, f"{folder}/{name}", "jpeg", long_side, orientation, orientation, style
            )
        elif kind == "jpeg-user-rotation":
            # The camera wrote one orientation, the photographer rotated it in Lightroom: XMP says another.
            exif_o = int(photo_rng.choice((1, 1, 6, 8)))
            xmp_o = int(photo_rng.choice([o for o in (1, 3, 6, 8) if o != exif_o]))
            photos += _plan_embedded(
                photo_rng, kind, f"{folder}/IMG_{number:04d}.JPG", "jpeg", long_side, exif_o, xmp_o, style
            )
        elif kind == "tiff":
            orientation = int(photo_rng.choice((1, 6, 8)))
            ext = ".tif" if photo_rng.uniform() < 0.5 else ".TIFF"
            photos += _plan_embedded(
                photo_rng, kind, f"Scans/scan {number:04d}{ext}", "tiff", long_side, orientation, orientation, style
            )
        elif kind == "png":
            orientation = int(photo_rng.choice((1, 3, 6)))
            photos += _plan_embedded(
                photo_rng, kind, f"Edits/edit_{number:04d}.png", "png", long_side, orientation, orientation, style
            )
        elif kind in ("cr2-sidecar", "cr2-ext-sidecar", "nef-sidecar", "raw-no-preview", "dng"):
            photos.append(_plan_raw(photo_rng, kind, number, long_side))
        elif kind.startswith("export-"):
            photos.append(_plan_export(photo_rng, kind, number, long_side))
        elif kind == "zero-byte":
            photos.append(PlannedPhoto(kind, f"Imports/IMG_{number:04d}.jpg", fmt="none"))
        elif kind == "text-as-jpg":
            photos.append(PlannedPhoto(kind, f"{folder}/shopping list {number}.jpg", fmt="none"))
        elif kind == "orphan-sidecar":
            photos.append(_plan_orphan_sidecar(photo_rng, number))
        else:  # pragma: no cover - KINDS and this function must agree
            raise AssertionError(f"no plan for kind {kind}")
    return photos


def _date(rng: np.random.Generator) -> str:
    return f"2024-0{rng.integers(1, 10)}-{rng.integers(10, 29)}T{rng.integers(10, 20)}:{rng.integers(10, 60)}:07"


def _camera_exif(rng: np.random.Generator, make: str = "Canon", model: str = "Canon EOS 5D Mark IV") -> tuple[str, ...]:
    date = _date(rng).replace("-", ":").replace("T", " ")
    return (f"-IFD0:Make={make}", f"-IFD0:Model={model}", f"-ExifIFD:DateTimeOriginal={date}")


def _plan_embedded(
    rng: np.random.Generator,
    kind: str,
    file: str,
    fmt: str,
    long_side: int,
    exif_orientation: int,
    orientation: int,
    style: Style,
) -> list[PlannedPhoto]:
    """A photo whose XMP is inside it (JPEG, TIFF, PNG), composed and cropped by `style` in the displayed frame.
    `orientation` is the one that displays it."""
    stored_w, stored_h = _stored_frame(rng, long_side, style.frames)
    shown_w, shown_h = displayed_size(stored_w, stored_h, orientation)
    scene, crop = style.compose(rng, shown_w, shown_h)
    if crop is None:  # the photographer left it as it came from the camera: written as Lightroom writes "no crop"
        kind, crop = "uncropped", IDENTITY
    stored = crs.written(to_stored(crop, shown_w, shown_h, orientation))
    truth = to_displayed(stored, stored_w, stored_h, orientation)
    date = _date(rng)
    settings: dict[str, str] | None = {**_DEVELOP_SETTINGS, **crs.crop_settings(stored)}
    history = [_saved_event(date)]
    catalog_crop = None
    if kind == "lrcat":
        # Lightroom Classic with "Automatically write changes into XMP" off: the crop lives only in the
        # catalog. Some files keep a stale XMP from before the crop (HasCrop False), most have none.
        catalog_crop = stored
        settings = {**_DEVELOP_SETTINGS, **crs.crop_settings(IDENTITY, has_crop=False)} if rng.uniform() < 0.5 else None
    elif kind.startswith("uncropped"):
        truth = IDENTITY
        settings = {**_DEVELOP_SETTINGS, **crs.crop_settings(IDENTITY, has_crop=False)}  # as Lightroom writes "no crop"
        if kind == "uncropped-no-hascrop":
            settings = {**_DEVELOP_SETTINGS}  # develop settings, not a word about cropping
        elif kind == "uncropped-no-xmp":
            settings = None  # straight from the camera
    elif kind == "perspective":
        settings.update(PerspectiveUpright="2", PerspectiveVertical="-14", CropConstrainToWarp="1")
    elif kind == "garbage-crop":
        # Left beyond right, bottom above top: what a broken tool (or a hand-edited file) leaves.
        stored = Crop(0.81, 0.77, 0.19, 0.12, 1.5)
        settings.update(crs.crop_settings(stored))
        truth = to_displayed(stored, stored_w, stored_h, orientation)
    xmp = (
        None
        if settings is None
        else _xmp_packet(orientation=orientation, settings=settings, history=history, date=date)
    )
    photo = PlannedPhoto(
        kind,
        file,
        fmt=fmt,
        scene=scene,
        pixel_size=(stored_w, stored_h),
        orientation=orientation,
        exif_orientation=exif_orientation,
        xmp=xmp,
        truth_size=(shown_w, shown_h),
        truth_crop=truth,
        exif=_camera_exif(rng),
        catalog_crop=catalog_crop,
    )
    if kind != "duplicate":
        return [photo]
    # The same file copied into a backup folder: two rows, same image, same label.
    original = replace(photo, kind="jpeg")
    copy = replace(photo, file="Backup/" + file, copy_of=file)
    return [original, copy]


def _preview_size(stub: _RawStub, long_side: int) -> tuple[int, int]:
    """The embedded preview's size: the camera's, or smaller for small libraries, always the raw's exact aspect."""
    unit_w, unit_h = (side // math.gcd(*stub.declared) for side in stub.declared)
    scale = max(1, min(stub.preview[0], long_side) // unit_w)
    return unit_w * scale, unit_h * scale


def _plan_raw(rng: np.random.Generator, kind: str, number: int, long_side: int) -> PlannedPhoto:
    fmt = "nef" if kind.startswith("nef") else "dng" if kind == "dng" else "cr2"
    stub = _RAW_STUBS[fmt]
    orientation = int(rng.choice((1, 1, 6, 8)))
    shown_w, shown_h = displayed_size(*stub.declared, orientation)
    scene, crop = compose(rng, shown_w, shown_h)
    # Fractions depend only on the aspect ratio, which the preview shares with the declared size exactly.
    stored = crs.written(to_stored(crop, shown_w, shown_h, orientation))
    truth = to_displayed(stored, *stub.declared, orientation)
    date = _date(rng)
    prefix = "DSC_" if fmt == "nef" else "IMG_"
    ext = {"cr2": ".CR2", "nef": ".NEF", "dng": ".dng"}[fmt]
    folder = "Raw/" + _FOLDERS[rng.integers(len(_FOLDERS))].split("/", 1)[1]
    file = f"{folder}/{prefix}{number:04d}{ext}"
    settings = {**_DEVELOP_SETTINGS, **crs.crop_settings(stored), "RawFileName": Path(file).name}
    # The stub keeps its own camera EXIF; only its orientation and preview are rewritten.
    photo = PlannedPhoto(
        kind,
        file,
        fmt=fmt,
        scene=scene,
        pixel_size=_preview_size(stub, long_side),
        orientation=orientation,
        exif_orientation=orientation,
        truth_size=(shown_w, shown_h),
        truth_crop=truth,
    )
    if fmt == "dng":
        # DNG conversion leaves a `derived` history entry: an original all the same (see the reference).
        history = [
            {"action": "derived", "parameters": "converted from image/x-canon-cr2 to image/dng, saved to new location"},
            _saved_event(date),
        ]
        photo.xmp = _xmp_packet(
            orientation=orientation,
            settings=settings,
            history=history,
            date=date,
            extra={"tiff:Make": stub.make, "tiff:Model": stub.model},
        )
        return photo
    sidecar = file + ".xmp" if kind == "cr2-ext-sidecar" else str(Path(file).with_suffix(".xmp").as_posix())
    photo.sidecar = sidecar
    photo.sidecar_xmp = _xmp_packet(
        orientation=orientation,
        settings=settings,
        history=[_saved_event(date)],
        date=date,
        extra={"tiff:Make": stub.make, "tiff:Model": stub.model},
        sidecar=True,
    )
    if kind == "raw-no-preview":
        photo.scene = None  # keep the stub's 26-byte placeholder preview
    return photo


def _plan_export(rng: np.random.Generator, kind: str, number: int, long_side: int) -> PlannedPhoto:
    """A developed file: its crop tags describe the ORIGINAL's crop, so they must not label these pixels."""
    original_w, original_h = long_side, round(long_side * 2 / 3)
    _, original_crop = compose(rng, original_w, original_h)
    export_aspect = 16 / 9  # the crop's, since these pixels are the cropped result
    shown_w, shown_h = long_side, max(2, round(long_side / export_aspect))
    scene, _ = compose(rng, shown_w, shown_h)  # the export's own picture (already cropped)
    stored = crs.written(original_crop)
    date = _date(rng)
    settings = {**_DEVELOP_SETTINGS, **crs.crop_settings(stored)}
    history = [_saved_event(date)]
    if kind == "export-applied":
        settings["AlreadyApplied"] = "True"
        file = f"Exports/IMG_{number:04d}-Edit.jpg"
    elif kind == "export-history":
        # "Save to new location": the newest history entry is `derived` to JPEG, no AlreadyApplied.
        history.append(
            {"action": "derived", "parameters": "converted from image/x-canon-cr2 to image/jpeg, saved to new location"}
        )
        file = f"Exports/Saved copies/IMG_{number:04d} copy.jpg"
    else:  # export-rawfilename: names the raw it was developed from
        settings["RawFileName"] = f"IMG_{number - 500:04d}.CR2"
        file = f"Exports/Web/holiday_{number:04d}.jpg"
    xmp = _xmp_packet(orientation=1, settings=settings, history=history, date=date)
    return PlannedPhoto(
        kind,
        file,
        fmt="jpeg",
        scene=scene,
        pixel_size=(shown_w, shown_h),
        orientation=1,
        exif_orientation=1,
        xmp=xmp,
        truth_size=(shown_w, shown_h),
        truth_crop=stored,
        exif=_camera_exif(rng),
    )


def _plan_orphan_sidecar(rng: np.random.Generator, number: int) -> PlannedPhoto:
    """A Lightroom sidecar whose raw was deleted or moved."""
    _, crop = compose(rng, 300, 200)
    stored = crs.written(crop)
    name = f"IMG_{number:04d}"
    settings = {**_DEVELOP_SETTINGS, **crs.crop_settings(stored), "RawFileName": f"{name}.CR2"}
    xmp = _xmp_packet(orientation=1, settings=settings, history=[_saved_event(_date(rng))], sidecar=True)
    file = f"Raw/2022-09-18/{name}.xmp"
    return PlannedPhoto(
        "orphan-sidecar", file, fmt="none", orientation=1, sidecar=file, sidecar_xmp=xmp, truth_crop=stored
    )


# ----------------------------------------------------------------------------------------------
# Writing.
# ----------------------------------------------------------------------------------------------


def _stored_pixels(photo: PlannedPhoto) -> Image.Image:
    """The pixel array as stored: the displayed scene turned by the inverse of the displaying orientation."""
    stored_w, stored_h = photo.pixel_size
    shown_w, shown_h = displayed_size(stored_w, stored_h, photo.orientation)
    image = render_image(photo.scene, shown_w, shown_h)
    transpose = STORED_TRANSPOSE[photo.orientation]
    return image.transpose(transpose) if transpose is not None else image


def _write_pixels(job: tuple[PlannedPhoto, Path, Path]) -> None:
    """Write one photo's pixels (run in worker processes for big libraries)."""
    photo, directory, scratch = job
    if photo.scene is None or photo.copy_of:
        return
    image = _stored_pixels(photo)
    if photo.fmt == "jpeg":
        image.save(directory / photo.file, quality=_JPEG_QUALITY)
    elif photo.fmt == "tiff":
        image.save(directory / photo.file, compression="tiff_lzw")
    elif photo.fmt == "png":
        image.save(directory / photo.file, compress_level=6)
    else:  # a raw: the preview goes to scratch, exiftool embeds it
        image.save(scratch / _preview_name(photo), quality=_JPEG_QUALITY)


def _preview_name(photo: PlannedPhoto) -> str:
    return photo.file.replace("/", "__") + ".preview.jpg"


def _metadata_arguments(photo: PlannedPhoto, directory: Path, scratch: Path, index: int) -> list[str] | None:
    """exiftool arguments that give this file its metadata, or None when it needs none."""
    if photo.fmt == "none" or photo.copy_of:
        return None
    args = ["-overwrite_original"]
    if photo.fmt in ("cr2", "nef", "dng"):
        if photo.fmt == "nef":
            args.append("-m")  # the NEF stub's undersized strip is a minor error exiftool would stop on
        if photo.scene is not None:
            preview = scratch / _preview_name(photo)
            args += [f"-{tag}<={preview}" for tag in _RAW_STUBS[photo.fmt].preview_tags]
        args.append(f"-IFD0:Orientation#={photo.exif_orientation}")
        if photo.fmt == "nef":  # a camera writes the same orientation in every IFD that has one
            args += [
                f"-SubIFD:Orientation#={photo.exif_orientation}",
                f"-SubIFD1:Orientation#={photo.exif_orientation}",
            ]
    else:
        args += list(photo.exif)
        if photo.exif_orientation is not None:
            args.append(f"-IFD0:Orientation#={photo.exif_orientation}")
    if photo.xmp is not None:
        packet = scratch / f"{index:05d}.xmp"
        packet.write_text(photo.xmp, encoding="utf-8")
        args.append(f"-XMP<={packet}")
    return args + [str(directory / photo.file)]


def _truncate_in_scan_data(path: Path) -> None:
    """Cut a JPEG in the middle of its entropy-coded data, leaving every header (EXIF, XMP) intact."""
    data = path.read_bytes()
    offset = 2
    while offset < len(data):
        marker, length = data[offset + 1], int.from_bytes(data[offset + 2 : offset + 4], "big")
        if marker == 0xDA:  # start of scan: the compressed pixels follow its header
            scan = offset + 2 + length
            path.write_bytes(data[: scan + (len(data) - scan) // 2])
            return
        offset += 2 + length
    raise RuntimeError(f"no scan data found in {path}")


def _run_exiftool(jobs: list[list[str]]) -> None:
    """All metadata in one exiftool process (-stay_open), one command per file, each one checked."""
    if not jobs:
        return
    if shutil.which("exiftool") is None:
        raise RuntimeError("exiftool is not installed: run `sudo apt-get install libimage-exiftool-perl`")
    with exiftool.ExifTool(common_args=["-charset", "filename=utf8"]) as tool:
        for args in jobs:
            output = tool.execute(*args)
            errors = [line for line in (tool.last_stderr or "").splitlines() if line.startswith("Error")]
            done = "1 image files updated" in output or "1 image files unchanged" in output
            if tool.last_status or errors or not done:
                raise RuntimeError(f"exiftool failed on {args[-1]}: {(tool.last_stderr or output).strip()}")


def _write_catalog_part(directory: Path, photos: Sequence[PlannedPhoto]) -> Path | None:
    """DIR/catalog/Library.lrcat holding the crops of the `lrcat` photos, whose files carry none.

    Catalogs store absolute paths: the catalog is right for this DIR, and needs --remap once the library moves.
    Not byte-identical between runs (the catalog writer gives rows fresh UUIDs, as Lightroom does).
    """
    entries = [
        # The extractor walks folders as absolute (not resolved) paths: the same spelling pairs file and catalog row.
        CatalogEntry(
            path=(directory / photo.file).absolute(),
            orientation=photo.orientation,
            width=photo.pixel_size[0],
            height=photo.pixel_size[1],
            crop=photo.catalog_crop,
            file_format="JPG",
        )
        for photo in photos
        if photo.kind == "lrcat"
    ]
    if not entries:
        return None
    catalog = directory / "catalog" / "Library.lrcat"
    catalog.parent.mkdir(parents=True, exist_ok=True)
    write_catalog(catalog, entries)
    return catalog


def _truth_row(photo: PlannedPhoto) -> dict[str, str]:
    expected, origin = KINDS[photo.kind]
    row = {
        "file": photo.file,
        "kind": photo.kind,
        "expected": expected,
        "origin": origin if expected == LABEL else "",
        "orientation": str(photo.orientation) if photo.truth_size else "",
        "width": "",
        "height": "",
        **dict.fromkeys(LABEL_VALUES, ""),
    }
    if expected == skip_reasons.NO_CROP:
        row["origin"] = origin  # what --include-uncropped labels them with
    if photo.truth_size:
        row["width"], row["height"] = (str(v) for v in photo.truth_size)
    if photo.truth_crop is not None:
        crop = photo.truth_crop
        # 10 decimals: exact far below the 6 Lightroom writes, without float noise like 0.30000000000000004.
        row.update({name: repr(round(value, 10)) for name, value in zip(LABEL_VALUES, crop.values())})
    return row


def _planned_photos(
    count: int, seed: int, long_side: int, kinds: Sequence[str] | None, style: str = CLASSIC
) -> list[PlannedPhoto]:
    """The plan make_sample_library writes (tests re-draw scenes from it to check the pixels and the styles)."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; known: {', '.join(STYLES)}")
    if style != CLASSIC:
        kinds = ZOO_DEFAULT_KINDS if kinds is None else kinds
        if not set(kinds) <= set(ZOO_KINDS):
            raise ValueError(
                f"the {style} style writes only photos with embedded XMP ({', '.join(ZOO_KINDS)}), "
                f"not {sorted(set(kinds) - set(ZOO_KINDS))}: the realistic mix is the {CLASSIC} style's"
            )
    return _plan(count, seed, long_side, kinds, STYLES[style])


def make_sample_library(
    directory: Path,
    count: int = 120,
    seed: int = 0,
    long_side: int = 640,
    kinds: Sequence[str] | None = None,
    style: str = CLASSIC,
) -> SampleSummary:
    """Write a synthetic library of `count` photos (truth.csv rows) into `directory`, which must be empty or new.

    `style` names the photographer (samples/styles.py: STYLES). For the classic one `kinds=None` is the
    realistic mix (with count ≥ 40 every kind appears) and `kinds=("jpeg",)` gives only cropped JPEGs with
    embedded XMP; for the others `kinds` defaults to JPEGs (uncropped ones where the photographer leaves them so)
    and may only name ZOO_KINDS. `long_side` is the stored long side of photos in pixels; raw previews keep
    their camera's size. The same arguments give byte-identical files.
    """
    started = time.perf_counter()
    directory = Path(directory)
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    if long_side < 16:
        raise ValueError(f"long_side must be at least 16 pixels, not {long_side}")
    if directory.exists() and any(directory.iterdir()):
        raise ValueError(f"{directory} is not empty: give a new or empty folder for the sample library")
    photos = _planned_photos(count, seed, long_side, kinds, style)
    with_catalog = any(photo.kind == "lrcat" for photo in photos)

    directory.mkdir(parents=True, exist_ok=True)
    for photo in photos:
        (directory / photo.file).parent.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="cropstyle-sample-") as scratch_name:
        scratch = Path(scratch_name)
        jobs = [(photo, directory, scratch) for photo in photos]
        # Drawing and encoding big images is the slow part: spread it over the cores when it is worth it.
        pixels = sum(p.pixel_size[0] * p.pixel_size[1] for p in photos if p.scene is not None)
        workers = min(os.cpu_count() or 1, 8)
        if workers > 1 and pixels > 20_000_000:
            with ProcessPoolExecutor(workers) as pool:
                list(pool.map(_write_pixels, jobs, chunksize=1))
        else:
            for job in jobs:
                _write_pixels(job)

        # Raws start as copies of the stubs (never written in place).
        for photo in photos:
            if photo.fmt in _RAW_STUBS:
                shutil.copyfile(RAW_STUBS / _RAW_STUBS[photo.fmt].name, directory / photo.file)
        arguments = [_metadata_arguments(photo, directory, scratch, i) for i, photo in enumerate(photos)]
        _run_exiftool([args for args in arguments if args is not None])

    for photo in photos:
        target = directory / photo.file
        if photo.sidecar_xmp is not None:
            (directory / photo.sidecar).write_text(photo.sidecar_xmp, encoding="utf-8")
        if photo.kind == "truncated":
            _truncate_in_scan_data(target)
        elif photo.kind == "zero-byte":
            target.write_bytes(b"")
        elif photo.kind == "text-as-jpg":
            target.write_text("Shopping list\n- milk\n- film, 2 rolls of Portra 400\n- batteries\n", encoding="utf-8")
        elif photo.copy_of:
            shutil.copyfile(directory / photo.copy_of, target)

    catalog = _write_catalog_part(directory, photos) if with_catalog else None

    rows = [_truth_row(photo) for photo in photos]
    with open(directory / "truth.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=TRUTH_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)

    files = sum(1 for p in directory.rglob("*") if p.is_file())
    return SampleSummary(
        directory,
        kinds=Counter(r["kind"] for r in rows),
        expected=Counter(r["expected"] for r in rows),
        files=files,
        seconds=time.perf_counter() - started,
        catalog=catalog,
    )
