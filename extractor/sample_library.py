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

from extractor import dataset_format as reasons
from extractor.geometry import (
    IDENTITY,
    Crop,
    RotatedRect,
    crop_problem,
    displayed_size,
    rect_corners,
    rect_to_crop,
    to_displayed,
    to_stored,
)

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
    "uncropped": (reasons.NO_CROP, "xmp-embedded"),
    "uncropped-no-hascrop": (reasons.NO_CROP, "xmp-embedded"),
    "uncropped-no-xmp": (reasons.NO_CROP, "xmp-embedded"),
    "export-applied": (reasons.EXPORT, ""),
    "export-history": (reasons.EXPORT, ""),
    "export-rawfilename": (reasons.EXPORT, ""),
    "perspective": (reasons.PERSPECTIVE, ""),
    "garbage-crop": (reasons.INVALID_CROP, ""),
    "zero-byte": (reasons.UNREADABLE, ""),  # exiftool: "File is empty"
    "truncated": (reasons.CORRUPT, ""),
    "text-as-jpg": (reasons.NOT_AN_IMAGE, ""),  # exiftool: FileType TXT
    "raw-no-preview": (reasons.NO_IMAGE_DATA, ""),
    "orphan-sidecar": (reasons.ORPHAN_SIDECAR, ""),
}
# How often each repeatable kind appears in the realistic mix; the others appear exactly once.
_MIX_WEIGHTS = {
    "jpeg": 62, "jpeg-user-rotation": 4, "tiff": 2, "png": 2, "cr2-sidecar": 5, "cr2-ext-sidecar": 3,
    "nef-sidecar": 5, "uncropped": 6, "uncropped-no-hascrop": 2, "uncropped-no-xmp": 3, "lrcat": 4,
}
# Kinds that are present exactly once in the realistic mix (count permitting).
_ONCE = ("dng", "duplicate", "export-applied", "export-history", "export-rawfilename", "perspective",
         "garbage-crop", "zero-byte", "truncated", "text-as-jpg", "raw-no-preview", "orphan-sidecar")

TRUTH_COLUMNS = ["file", "kind", "expected", "origin", "orientation", "width", "height",
                 "top", "left", "bottom", "right", "angle"]

# truth.csv: `file` relative to DIR (the raw, not its sidecar); `expected` is LABEL or a skip reason of
# dataset_format; `origin` for label and no-crop rows (the latter as --include-uncropped labels them);
# `orientation` the one to apply; `width`,`height` the displayed size of the original (a raw's declared
# size); the label in the DISPLAYED frame, identity for uncropped rows, empty where there is none.
# The corpus's metadata-only raw stubs: declared (stored) size as metadata.declared_size reads it
# (Composite:ImageSize; a DNG's DefaultCropSize), the camera's preview size (the largest we embed; always
# the declared aspect ratio, exactly) and the tags that hold previews.
CORPUS_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "exiftool-images"


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
    "nef": _RawStub("Nikon.nef", (3040, 2014), (1520, 1007), ("PreviewImage", "JpgFromRaw"),
                    "NIKON CORPORATION", "NIKON D70"),
    # The DNG's frame is its DefaultCropSize, 3456×2304, not its full 3516×2328 raw (ImageSize): its previews
    # are rendered from the default crop, as a camera's or Adobe's DNG converter's are.
    "dng": _RawStub("DNG.dng", (3456, 2304), (1728, 1152), ("PreviewImage", "JpgFromRaw"),
                    "Canon", "Canon EOS 350D DIGITAL"),
}

LIGHTROOM = "Adobe Photoshop Lightroom Classic 13.2 (Windows)"
_RENDER_CAP = 1280  # scenes are drawn at most this large, then resized: big images stay fast
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
        lines = [f"Wrote a sample library of {self.rows} photos ({self.files} files) to {self.directory} "
                 f"in {self.seconds:.1f} s.",
                 f"  kinds: {kinds}",
                 f"  expected: {outcomes}",
                 f"  ground truth: {self.directory / 'truth.csv'}"]
        if self.catalog:
            lines.append(f"  catalog: {self.catalog}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Scenes: a level world (sky, mountains, ground, clouds, a subject) seen by a slightly tilted camera.
# ----------------------------------------------------------------------------------------------

_PALETTES = (
    # sky top, sky at horizon, mountains, ground far, ground near
    ((60, 120, 200), (185, 210, 235), (95, 115, 140), (120, 150, 80), (55, 85, 40)),  # summer day
    ((55, 45, 105), (250, 165, 90), (60, 45, 70), (80, 65, 55), (30, 25, 22)),  # sunset
    ((145, 150, 158), (205, 205, 205), (110, 115, 120), (105, 115, 95), (65, 72, 58)),  # overcast
    ((90, 150, 215), (215, 228, 242), (150, 165, 185), (235, 238, 245), (195, 200, 212)),  # snow
    ((70, 140, 215), (200, 225, 240), (120, 140, 150), (40, 105, 150), (215, 195, 150)),  # sea and beach
)
_SUBJECT_COLOURS = ((205, 35, 40), (30, 60, 190), (250, 200, 30), (240, 240, 240), (20, 20, 25))


@dataclass(frozen=True)
class _Scene:
    """Everything needed to draw a photo at any size: positions are fractions of the displayed frame."""

    aspect: float  # displayed width / height
    tilt: float  # degrees: the horizon runs along (cos, sin) of it, y down, like a crop's top edge
    horizon: tuple[float, float]  # a point on the horizon
    subject: tuple[float, float]  # the subject's centre
    subject_kind: str  # "figure" (stands on the ground) or "sun"/"balloon" (in the sky)
    subject_size: float  # fraction of the frame's short side
    subject_colour: tuple[int, int, int]
    palette: tuple
    ridge: tuple[float, ...]  # mountain amplitude, two frequencies, two phases
    clouds: tuple[tuple[float, float, float, float], ...]  # (along, above, radius along, radius across)
    texture_seed: int


def _render(scene: _Scene, width: int, height: int) -> np.ndarray:
    """The displayed photo as a `height`×`width`×3 uint8 array."""
    return np.asarray(_render_image(scene, width, height))


def _render_image(scene: _Scene, width: int, height: int) -> Image.Image:
    """The displayed photo. Large sizes are drawn small and resized (Pillow, C speed, no extra array copies)."""
    scale = min(1.0, _RENDER_CAP / max(width, height))
    draw_w, draw_h = max(1, round(width * scale)), max(1, round(height * scale))
    image = Image.fromarray(_draw(scene, draw_w, draw_h))
    if (draw_w, draw_h) != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return image


def _draw(scene: _Scene, width: int, height: int) -> np.ndarray:
    """Draw the scene: 2-D maps (where things are) computed once, then each colour channel composed from them."""
    short = float(min(width, height))
    x = (np.arange(width, dtype=np.float32) + 0.5)[None, :]
    y = (np.arange(height, dtype=np.float32) + 0.5)[:, None]
    cos, sin = math.cos(math.radians(scene.tilt)), math.sin(math.radians(scene.tilt))

    def level(px, py) -> tuple:
        """World coordinates (along the horizon, below it) in short sides, of pixel positions."""
        dx, dy = px - scene.horizon[0] * width, py - scene.horizon[1] * height
        return (dx * cos + dy * sin) / short, (-dx * sin + dy * cos) / short

    along, below = level(x, y)
    sky_top, sky_low, mountain, ground_far, ground_near = scene.palette

    # Sky: a gradient up from the horizon, with soft clouds.
    sky_t = np.clip(below * np.float32(-1 / 0.9), 0, 1)
    cloud = np.zeros_like(along)
    for cu, cv, ru, rv in scene.clouds:
        cloud += np.exp(-(((along - cu) / ru) ** 2 + ((below + cv) / rv) ** 2))
    cloud = np.clip(cloud * np.float32(0.8), 0, 0.85)
    # Mountains: a ridge of two sines standing on the horizon, gently shaded.
    amp, f1, f2, p1, p2 = scene.ridge
    ridge = amp * (0.55 + 0.45 * np.sin(f1 * along + p1)) * (0.7 + 0.3 * np.sin(f2 * along + p2))
    is_mountain = (below < 0) & (below > -ridge)
    mountain_shade = 1 + np.float32(0.15) * np.sin(9 * along + 3 * below)
    # Ground: far to near colour, with furrows that converge like a field seen in perspective.
    is_ground = below >= 0
    ground_t = np.clip(below * np.float32(1 / 0.6), 0, 1)
    furrows = 1 + np.float32(0.05) * np.sin(40 * along / (below + np.float32(0.08))) * np.clip(below * 8, 0, 1)

    # The subject, upright in the world (so tilted in the picture like everything else).
    su, sv = level(scene.subject[0] * width, scene.subject[1] * height)
    du, dv, size = along - su, below - sv, scene.subject_size
    subject_layers = []  # (mask or weight, colour or colour map) painted in order
    if scene.subject_kind == "figure":
        body = (du / (0.22 * size)) ** 2 + ((dv - 0.12 * size) / (0.42 * size)) ** 2 < 1
        head = du ** 2 + (dv + 0.42 * size) ** 2 < (0.14 * size) ** 2
        subject_layers = [(body, scene.subject_colour), (head, (225, 185, 150))]
    else:
        r2 = (du ** 2 + dv ** 2) / (0.3 * size) ** 2
        if scene.subject_kind == "sun":
            subject_layers = [(np.exp(-r2 / 4) * np.float32(0.6), (255, 255, 255)), (r2 < 1, (255, 245, 215))]
        else:
            highlight = np.clip(1.3 - ((du + 0.1 * size) ** 2 + (dv + 0.1 * size) ** 2) / (0.2 * size) ** 2, 0, 1)
            subject_layers = [(r2 < 1, scene.subject_colour), (np.where(r2 < 1, highlight * 0.5, 0), (255, 255, 255))]

    # A lens vignette and sensor grain, shared by the channels.
    vignette = (1 - np.float32(0.35) * (y / height - 0.5) ** 2) - np.float32(0.35) * (x / width - 0.5) ** 2
    grain = np.random.default_rng(scene.texture_seed).standard_normal((height, width), dtype=np.float32)
    grain *= np.float32(3.5)

    image = np.empty((height, width, 3), np.uint8)
    for c in range(3):
        channel = sky_low[c] + np.float32(sky_top[c] - sky_low[c]) * sky_t
        channel += (np.float32(245) - channel) * cloud
        np.copyto(channel, mountain[c] * mountain_shade, where=is_mountain)
        np.copyto(channel, (ground_far[c] + np.float32(ground_near[c] - ground_far[c]) * ground_t) * furrows,
                  where=is_ground)
        for where, colour in subject_layers:
            if where.dtype == bool:
                channel[where] = colour[c]
            else:
                channel += (np.float32(colour[c]) - channel) * where
        channel *= vignette
        channel += grain
        image[..., c] = np.clip(channel, 0, 255)
    return image


# ----------------------------------------------------------------------------------------------
# The photographer's style: straighten, 16:9 or 4:5, subject on a third.
# ----------------------------------------------------------------------------------------------

def _style_crop(rng: np.random.Generator, width: int, height: int, tilt: float) -> tuple[Crop, RotatedRect]:
    """The crop this photographer gives a `width`×`height` (displayed) photo taken `tilt` degrees off level."""
    aspect = 16 / 9 if width >= height else 4 / 5
    t = math.radians(abs(tilt))
    # The largest rectangle of that aspect, turned by the tilt, that fits the frame: its bounding box
    # (w cos t + h sin t) × (w sin t + h cos t) must not exceed the frame.
    full_h = min(width / (aspect * math.cos(t) + math.sin(t)), height / (aspect * math.sin(t) + math.cos(t)))
    scale = rng.uniform(0.84, 0.98)
    while True:
        h = full_h * scale
        w = h * aspect
        box_w, box_h = np.ptp(rect_corners(RotatedRect(0, 0, w, h, tilt)), axis=0)
        cx = box_w / 2 + rng.uniform(0, 1) * (width - box_w)
        cy = box_h / 2 + rng.uniform(0, 1) * (height - box_h)
        rect = RotatedRect(cx, cy, w, h, tilt)
        crop = rect_to_crop(rect, width, height)
        if crop_problem(crop, width, height) is None:
            return crop, rect
        scale *= 0.98  # numerically at the edge: a little smaller always fits


def _point_in_rect(rect: RotatedRect, fx: float, fy: float) -> tuple[float, float]:
    """Pixel position of the point (fx, fy) given in fractions of the crop's own width and height."""
    tl, tr, _, bl = rect_corners(rect)
    x, y = tl + fx * (tr - tl) + fy * (bl - tl)
    return float(x), float(y)


def _plan_scene(rng: np.random.Generator, width: int, height: int) -> tuple[_Scene, Crop]:
    """A scene composed for the style, and its crop (displayed frame, fractions)."""
    tilt = 0.0 if rng.uniform() < 0.15 else float(np.round(rng.uniform(-4.0, 4.0), 2))
    crop, rect = _style_crop(rng, width, height, tilt)
    horizon_third = rng.choice((1 / 3, 2 / 3))
    subject_third = (rng.choice((1 / 3, 2 / 3)), rng.choice((1 / 3, 2 / 3)))
    hx, hy = _point_in_rect(rect, 0.5, horizon_third)
    sx, sy = _point_in_rect(rect, *subject_third)
    in_sky = subject_third[1] < horizon_third
    subject_kind = rng.choice(("sun", "balloon")) if in_sky else "figure"
    palette = tuple(
        tuple(int(np.clip(c + rng.integers(-15, 16), 0, 255)) for c in colour)
        for colour in _PALETTES[rng.integers(len(_PALETTES))]
    )
    clouds = tuple(
        (float(rng.uniform(-1.2, 1.2)), float(rng.uniform(0.1, 0.6)), float(rng.uniform(0.1, 0.35)),
         float(rng.uniform(0.03, 0.08)))
        for _ in range(rng.integers(0, 6))
    )
    ridge = (float(rng.uniform(0.0, 0.12)), float(rng.uniform(2, 7)), float(rng.uniform(8, 19)),
             float(rng.uniform(0, 6.3)), float(rng.uniform(0, 6.3)))
    scene = _Scene(
        aspect=width / height, tilt=tilt, horizon=(hx / width, hy / height), subject=(sx / width, sy / height),
        subject_kind=str(subject_kind), subject_size=float(rng.uniform(0.12, 0.22) * (1.6 if not in_sky else 1.0)),
        subject_colour=_SUBJECT_COLOURS[rng.integers(len(_SUBJECT_COLOURS))], palette=palette, ridge=ridge,
        clouds=clouds, texture_seed=int(rng.integers(2**31)),
    )
    return scene, crop


# ----------------------------------------------------------------------------------------------
# XMP as Lightroom writes it.
# ----------------------------------------------------------------------------------------------

_NAMESPACES = {
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "crs": "http://ns.adobe.com/camera-raw-settings/1.0/",
}
# Develop settings Lightroom writes beside any crop, neutral perspective sliders included.
_DEVELOP_SETTINGS = {
    "Version": "16.2", "ProcessVersion": "15.4", "WhiteBalance": "As Shot", "Exposure2012": "+0.35",
    "Contrast2012": "+12", "Highlights2012": "-48", "Shadows2012": "+31", "Whites2012": "+6", "Blacks2012": "-9",
    "Vibrance": "+14", "Saturation": "0", "LensProfileEnable": "1", "AutoLateralCA": "1",
    "PerspectiveUpright": "0", "PerspectiveVertical": "0", "PerspectiveHorizontal": "0",
    "PerspectiveRotate": "0.0", "PerspectiveScale": "100", "PerspectiveAspect": "0", "PerspectiveX": "0.00",
    "PerspectiveY": "0.00", "HasSettings": "True",
}


def _number(value: float) -> str:
    """A crop value as Lightroom writes it: at most 6 decimals."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _rounded(crop: Crop) -> Crop:
    """The crop exactly as it reads back from the XMP we write."""
    return Crop(*(float(_number(v)) for v in crop.values()))


def _crop_settings(stored: Crop | None, has_crop: bool | None = True) -> dict[str, str]:
    settings: dict[str, str] = {}
    if stored is not None:
        settings.update(CropTop=_number(stored.top), CropLeft=_number(stored.left),
                        CropBottom=_number(stored.bottom), CropRight=_number(stored.right),
                        CropAngle=_number(stored.angle), CropConstrainToWarp="0")
    if has_crop is not None:
        settings["HasCrop"] = "True" if has_crop else "False"
    return settings


def _xmp_packet(*, orientation: int | None, crs: dict[str, str] | None, history: Sequence[dict[str, str]] = (),
                date: str = "2024-05-03T18:22:10", extra: dict[str, str] | None = None, sidecar: bool = False) -> str:
    """An XMP packet in Lightroom's layout: one rdf:Description, simple values as attributes.

    Sidecars have no <?xpacket?> wrapper (Lightroom omits it); embedded packets have one.
    """
    attributes = {"xmp:CreatorTool": LIGHTROOM, "xmp:ModifyDate": date, "xmp:MetadataDate": date}
    if orientation is not None:
        attributes["tiff:Orientation"] = str(orientation)
    attributes.update(extra or {})
    for name, value in (crs or {}).items():
        attributes[f"crs:{name}"] = value
    declarations = "\n".join(f'    xmlns:{prefix}="{uri}"' for prefix, uri in _NAMESPACES.items())
    values = "\n".join(f'   {name}="{_escape(value)}"' for name, value in attributes.items())
    body = ""
    if history:
        items = "\n".join(
            "     <rdf:li " + " ".join(f'stEvt:{k}="{_escape(v)}"' for k, v in event.items()) + "/>" for event in history
        )
        body = f"\n   <xmpMM:History>\n    <rdf:Seq>\n{items}\n    </rdf:Seq>\n   </xmpMM:History>\n  "
    description = f'  <rdf:Description rdf:about=""\n{declarations}\n{values}'
    description += f">{body}</rdf:Description>" if body else "/>"
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0-c000 1.000000, 0000/00/00-00:00:00        ">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f"{description}\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
    )
    if sidecar:
        return packet
    return '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + packet + '<?xpacket end="w"?>'


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _saved_event(date: str) -> dict[str, str]:
    return {"action": "saved", "instanceID": "xmp.iid:" + date.replace(":", "").replace("-", ""),
            "when": date, "softwareAgent": LIGHTROOM, "changed": "/metadata"}


# ----------------------------------------------------------------------------------------------
# The plan: every decision, made up front from the seed, so that writing can run in any order.
# ----------------------------------------------------------------------------------------------

_INVERSE_TRANSPOSE = {  # displayed → stored pixels: the inverse of what exif_transpose does for each orientation
    1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
_CAMERA_ORIENTATIONS = (1, 6, 8, 3, 2, 4, 5, 7)
_CAMERA_ORIENTATION_WEIGHTS = (0.55, 0.2, 0.15, 0.04, 0.015, 0.015, 0.015, 0.015)
_FOLDERS = ("2022/2022-09-18", "2023/2023-04-02", "2023/2023-07-14 Zürich", "2024/2024-01-27 Snow day",
            "2024/2024-05-03")


@dataclass
class _Photo:
    """One planned file (and its truth row)."""

    kind: str
    file: str  # relative to DIR, POSIX
    fmt: str = "jpeg"  # jpeg | tiff | png | cr2 | nef | dng | none
    scene: _Scene | None = None
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


def _kind_list(count: int, kinds: Sequence[str] | None, rng: np.random.Generator, with_catalog: bool) -> list[str]:
    """Which kind each planned photo is; a duplicate counts as two rows (original and copy)."""
    if kinds is None:
        weights = {k: w for k, w in _MIX_WEIGHTS.items() if with_catalog or k != "lrcat"}
        once = list(_ONCE)
    else:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown sample kinds {unknown}; known: {sorted(KINDS)}")
        if "lrcat" in kinds and not with_catalog:
            raise ValueError("kind 'lrcat' needs extractor.lrcat.write_catalog, which is not available")
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


def _stored_frame(rng: np.random.Generator, long_side: int) -> tuple[int, int]:
    """A camera's stored (landscape) frame; orientations 5–8 display it as portrait."""
    aspect = 3 / 2 if rng.uniform() < 0.7 else 4 / 3
    return long_side, max(2, round(long_side / aspect))


def _plan(count: int, seed: int, long_side: int, kinds: Sequence[str] | None, with_catalog: bool) -> list[_Photo]:
    rng = np.random.default_rng(_seed_words(seed, 0))
    kind_list = _kind_list(count, kinds, rng, with_catalog)
    photos: list[_Photo] = []
    jpeg_orientations = list(rng.permutation(np.arange(1, 9)))  # all eight appear first
    special_names = iter(["Été à Zürich 01.JPG", "Été à Zürich 02.JPG", "Strand mit Möwe 03.jpeg",
                          "beach day (2).jpg"])
    for index, kind in enumerate(kind_list):
        photo_rng = np.random.default_rng(_seed_words(seed, 1, index))
        number = 1001 + index  # file numbers, like a camera's counter
        folder = _FOLDERS[photo_rng.integers(len(_FOLDERS))]
        if kind in ("jpeg", "truncated", "uncropped", "uncropped-no-hascrop", "uncropped-no-xmp", "perspective",
                    "garbage-crop", "lrcat", "duplicate"):
            if kind == "jpeg" and jpeg_orientations:
                orientation = int(jpeg_orientations.pop())
            else:
                orientation = int(photo_rng.choice(_CAMERA_ORIENTATIONS, p=_CAMERA_ORIENTATION_WEIGHTS))
            name = f"IMG_{number:04d}" + (".JPG" if photo_rng.uniform() < 0.7 else ".jpg")
            if kind == "jpeg" and photo_rng.uniform() < 0.25:
                name = next(special_names, name)
                folder = "2023/2023-07-14 Zürich" if name.startswith("Été") else folder
            photos += _plan_embedded(photo_rng, kind, f"{folder}/{name}", "jpeg", long_side, orientation, orientation)
        elif kind == "jpeg-user-rotation":
            # The camera wrote one orientation, the photographer rotated it in Lightroom: XMP says another.
            exif_o = int(photo_rng.choice((1, 1, 6, 8)))
            xmp_o = int(photo_rng.choice([o for o in (1, 3, 6, 8) if o != exif_o]))
            photos += _plan_embedded(photo_rng, kind, f"{folder}/IMG_{number:04d}.JPG", "jpeg", long_side, exif_o, xmp_o)
        elif kind == "tiff":
            orientation = int(photo_rng.choice((1, 6, 8)))
            ext = ".tif" if photo_rng.uniform() < 0.5 else ".TIFF"
            photos += _plan_embedded(photo_rng, kind, f"Scans/scan {number:04d}{ext}", "tiff", long_side,
                                     orientation, orientation)
        elif kind == "png":
            orientation = int(photo_rng.choice((1, 3, 6)))
            photos += _plan_embedded(photo_rng, kind, f"Edits/edit_{number:04d}.png", "png", long_side,
                                     orientation, orientation)
        elif kind in ("cr2-sidecar", "cr2-ext-sidecar", "nef-sidecar", "raw-no-preview", "dng"):
            photos.append(_plan_raw(photo_rng, kind, number, long_side))
        elif kind.startswith("export-"):
            photos.append(_plan_export(photo_rng, kind, number, long_side))
        elif kind == "zero-byte":
            photos.append(_Photo(kind, f"Imports/IMG_{number:04d}.jpg", fmt="none"))
        elif kind == "text-as-jpg":
            photos.append(_Photo(kind, f"{folder}/shopping list {number}.jpg", fmt="none"))
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


def _plan_embedded(rng: np.random.Generator, kind: str, file: str, fmt: str, long_side: int,
                   exif_orientation: int, orientation: int) -> list[_Photo]:
    """A photo whose XMP is inside it (JPEG, TIFF, PNG). `orientation` is the one that displays it."""
    stored_w, stored_h = _stored_frame(rng, long_side)
    shown_w, shown_h = displayed_size(stored_w, stored_h, orientation)
    scene, crop = _plan_scene(rng, shown_w, shown_h)
    stored = _rounded(to_stored(crop, shown_w, shown_h, orientation))
    truth = to_displayed(stored, stored_w, stored_h, orientation)
    date = _date(rng)
    crs: dict[str, str] | None = {**_DEVELOP_SETTINGS, **_crop_settings(stored)}
    history = [_saved_event(date)]
    catalog_crop = None
    if kind == "lrcat":
        # Lightroom Classic with "Automatically write changes into XMP" off: the crop lives only in the
        # catalog. Some files keep a stale XMP from before the crop (HasCrop False), most have none.
        catalog_crop = stored
        crs = {**_DEVELOP_SETTINGS, **_crop_settings(IDENTITY, has_crop=False)} if rng.uniform() < 0.5 else None
    elif kind.startswith("uncropped"):
        truth = IDENTITY
        crs = {**_DEVELOP_SETTINGS, **_crop_settings(IDENTITY, has_crop=False)}  # as Lightroom writes "no crop"
        if kind == "uncropped-no-hascrop":
            crs = {**_DEVELOP_SETTINGS}  # develop settings, not a word about cropping
        elif kind == "uncropped-no-xmp":
            crs = None  # straight from the camera
    elif kind == "perspective":
        crs.update(PerspectiveUpright="2", PerspectiveVertical="-14", CropConstrainToWarp="1")
    elif kind == "garbage-crop":
        # Left beyond right, bottom above top: what a broken tool (or a hand-edited file) leaves.
        stored = Crop(0.81, 0.77, 0.19, 0.12, 1.5)
        crs.update(_crop_settings(stored))
        truth = to_displayed(stored, stored_w, stored_h, orientation)
    xmp = None if crs is None else _xmp_packet(orientation=orientation, crs=crs, history=history, date=date)
    photo = _Photo(kind, file, fmt=fmt, scene=scene, pixel_size=(stored_w, stored_h), orientation=orientation,
                   exif_orientation=exif_orientation, xmp=xmp, truth_size=(shown_w, shown_h), truth_crop=truth,
                   exif=_camera_exif(rng), catalog_crop=catalog_crop)
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


def _plan_raw(rng: np.random.Generator, kind: str, number: int, long_side: int) -> _Photo:
    fmt = "nef" if kind.startswith("nef") else "dng" if kind == "dng" else "cr2"
    stub = _RAW_STUBS[fmt]
    orientation = int(rng.choice((1, 1, 6, 8)))
    shown_w, shown_h = displayed_size(*stub.declared, orientation)
    scene, crop = _plan_scene(rng, shown_w, shown_h)
    # Fractions depend only on the aspect ratio, which the preview shares with the declared size exactly.
    stored = _rounded(to_stored(crop, shown_w, shown_h, orientation))
    truth = to_displayed(stored, *stub.declared, orientation)
    date = _date(rng)
    prefix = "DSC_" if fmt == "nef" else "IMG_"
    ext = {"cr2": ".CR2", "nef": ".NEF", "dng": ".dng"}[fmt]
    folder = "Raw/" + _FOLDERS[rng.integers(len(_FOLDERS))].split("/", 1)[1]
    file = f"{folder}/{prefix}{number:04d}{ext}"
    crs = {**_DEVELOP_SETTINGS, **_crop_settings(stored), "RawFileName": Path(file).name}
    # The stub keeps its own camera EXIF; only its orientation and preview are rewritten.
    photo = _Photo(kind, file, fmt=fmt, scene=scene, pixel_size=_preview_size(stub, long_side), orientation=orientation,
                   exif_orientation=orientation, truth_size=(shown_w, shown_h), truth_crop=truth)
    if fmt == "dng":
        # DNG conversion leaves a `derived` history entry: an original all the same (see the reference).
        history = [{"action": "derived", "parameters": "converted from image/x-canon-cr2 to image/dng, saved to new location"},
                   _saved_event(date)]
        photo.xmp = _xmp_packet(orientation=orientation, crs=crs, history=history, date=date,
                                extra={"tiff:Make": stub.make, "tiff:Model": stub.model})
        return photo
    sidecar = file + ".xmp" if kind == "cr2-ext-sidecar" else str(Path(file).with_suffix(".xmp").as_posix())
    photo.sidecar = sidecar
    photo.sidecar_xmp = _xmp_packet(orientation=orientation, crs=crs, history=[_saved_event(date)], date=date,
                                    extra={"tiff:Make": stub.make, "tiff:Model": stub.model}, sidecar=True)
    if kind == "raw-no-preview":
        photo.scene = None  # keep the stub's 26-byte placeholder preview
    return photo


def _plan_export(rng: np.random.Generator, kind: str, number: int, long_side: int) -> _Photo:
    """A developed file: its crop tags describe the ORIGINAL's crop, so they must not label these pixels."""
    original_w, original_h = long_side, round(long_side * 2 / 3)
    _, original_crop = _plan_scene(rng, original_w, original_h)
    export_aspect = 16 / 9  # the crop's, since these pixels are the cropped result
    shown_w, shown_h = long_side, max(2, round(long_side / export_aspect))
    scene, _ = _plan_scene(rng, shown_w, shown_h)  # the export's own picture (already cropped)
    stored = _rounded(original_crop)
    date = _date(rng)
    crs = {**_DEVELOP_SETTINGS, **_crop_settings(stored)}
    history = [_saved_event(date)]
    if kind == "export-applied":
        crs["AlreadyApplied"] = "True"
        file = f"Exports/IMG_{number:04d}-Edit.jpg"
    elif kind == "export-history":
        # "Save to new location": the newest history entry is `derived` to JPEG, no AlreadyApplied.
        history.append({"action": "derived",
                        "parameters": "converted from image/x-canon-cr2 to image/jpeg, saved to new location"})
        file = f"Exports/Saved copies/IMG_{number:04d} copy.jpg"
    else:  # export-rawfilename: names the raw it was developed from
        crs["RawFileName"] = f"IMG_{number - 500:04d}.CR2"
        file = f"Exports/Web/holiday_{number:04d}.jpg"
    xmp = _xmp_packet(orientation=1, crs=crs, history=history, date=date)
    return _Photo(kind, file, fmt="jpeg", scene=scene, pixel_size=(shown_w, shown_h), orientation=1,
                  exif_orientation=1, xmp=xmp, truth_size=(shown_w, shown_h), truth_crop=stored,
                  exif=_camera_exif(rng))


def _plan_orphan_sidecar(rng: np.random.Generator, number: int) -> _Photo:
    """A Lightroom sidecar whose raw was deleted or moved."""
    _, crop = _plan_scene(rng, 300, 200)
    stored = _rounded(crop)
    name = f"IMG_{number:04d}"
    crs = {**_DEVELOP_SETTINGS, **_crop_settings(stored), "RawFileName": f"{name}.CR2"}
    xmp = _xmp_packet(orientation=1, crs=crs, history=[_saved_event(_date(rng))], sidecar=True)
    file = f"Raw/2022-09-18/{name}.xmp"
    return _Photo("orphan-sidecar", file, fmt="none", orientation=1, sidecar=file, sidecar_xmp=xmp, truth_crop=stored)


# ----------------------------------------------------------------------------------------------
# Writing.
# ----------------------------------------------------------------------------------------------

def _stored_pixels(photo: _Photo) -> Image.Image:
    """The pixel array as stored: the displayed scene turned by the inverse of the displaying orientation."""
    stored_w, stored_h = photo.pixel_size
    shown_w, shown_h = displayed_size(stored_w, stored_h, photo.orientation)
    image = _render_image(photo.scene, shown_w, shown_h)
    transpose = _INVERSE_TRANSPOSE[photo.orientation]
    return image.transpose(transpose) if transpose is not None else image


def _write_pixels(job: tuple[_Photo, Path, Path]) -> None:
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


def _preview_name(photo: _Photo) -> str:
    return photo.file.replace("/", "__") + ".preview.jpg"


def _metadata_arguments(photo: _Photo, directory: Path, scratch: Path, index: int) -> list[str] | None:
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
            args += [f"-SubIFD:Orientation#={photo.exif_orientation}", f"-SubIFD1:Orientation#={photo.exif_orientation}"]
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
        marker, length = data[offset + 1], int.from_bytes(data[offset + 2:offset + 4], "big")
        if marker == 0xDA:  # start of scan: the compressed pixels follow its header
            scan = offset + 2 + length
            path.write_bytes(data[:scan + (len(data) - scan) // 2])
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


def _catalog_available() -> bool:
    try:
        from extractor.lrcat import CatalogEntry, write_catalog  # noqa: F401
    except ImportError:
        return False
    return True


def _write_catalog_part(directory: Path, photos: Sequence[_Photo]) -> Path | None:
    """DIR/catalog/Library.lrcat holding the crops of the `lrcat` photos, whose files carry none.

    Catalogs store absolute paths: the catalog is right for this DIR, and needs --remap once the library moves.
    Not byte-identical between runs (the catalog writer gives rows fresh UUIDs, as Lightroom does).
    """
    from extractor.lrcat import CatalogEntry, write_catalog

    entries = [
        # The extractor walks folders as absolute (not resolved) paths: the same spelling pairs file and catalog row.
        CatalogEntry(path=(directory / photo.file).absolute(), orientation=photo.orientation,
                     width=photo.pixel_size[0], height=photo.pixel_size[1], crop=photo.catalog_crop, file_format="JPG")
        for photo in photos if photo.kind == "lrcat"
    ]
    if not entries:
        return None
    catalog = directory / "catalog" / "Library.lrcat"
    catalog.parent.mkdir(parents=True, exist_ok=True)
    write_catalog(catalog, entries)
    return catalog


def _truth_row(photo: _Photo) -> dict[str, str]:
    expected, origin = KINDS[photo.kind]
    row = {"file": photo.file, "kind": photo.kind, "expected": expected, "origin": origin if expected == LABEL else "",
           "orientation": str(photo.orientation) if photo.truth_size else "",
           "width": "", "height": "", "top": "", "left": "", "bottom": "", "right": "", "angle": ""}
    if expected == reasons.NO_CROP:
        row["origin"] = origin  # what --include-uncropped labels them with
    if photo.truth_size:
        row["width"], row["height"] = (str(v) for v in photo.truth_size)
    if photo.truth_crop is not None:
        crop = photo.truth_crop
        # 10 decimals: exact far below the 6 Lightroom writes, without float noise like 0.30000000000000004.
        row.update({name: repr(round(value, 10)) for name, value in
                    zip(("left", "top", "right", "bottom", "angle"), crop.values())})
    return row


def _planned_photos(count: int, seed: int, long_side: int, kinds: Sequence[str] | None) -> list[_Photo]:
    """The plan make_sample_library writes (tests re-draw scenes from it to check the pixels)."""
    return _plan(count, seed, long_side, kinds, with_catalog=_catalog_available())


def make_sample_library(directory: Path, count: int = 120, seed: int = 0, long_side: int = 640,
                        kinds: Sequence[str] | None = None) -> SampleSummary:
    """Write a synthetic library of `count` photos (truth.csv rows) into `directory`, which must be empty or new.

    `kinds=None` is the realistic mix (with count ≥ 40 every kind appears); `kinds=("jpeg",)` gives only
    cropped JPEGs with embedded XMP. `long_side` is the stored long side of photos in pixels; raw previews
    keep their camera's size. The same arguments give byte-identical files.
    """
    started = time.perf_counter()
    directory = Path(directory)
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    if long_side < 16:
        raise ValueError(f"long_side must be at least 16 pixels, not {long_side}")
    if directory.exists() and any(directory.iterdir()):
        raise ValueError(f"{directory} is not empty: give a new or empty folder for the sample library")
    photos = _planned_photos(count, seed, long_side, kinds)
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

        # Raws start as copies of the corpus stubs (never written in place).
        if any(photo.fmt in _RAW_STUBS for photo in photos) and not CORPUS_IMAGES.is_dir():
            raise RuntimeError(f"the raw stubs are missing: expected the shared corpus at {CORPUS_IMAGES}")
        for photo in photos:
            if photo.fmt in _RAW_STUBS:
                shutil.copyfile(CORPUS_IMAGES / _RAW_STUBS[photo.fmt].name, directory / photo.file)
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
    return SampleSummary(directory, kinds=Counter(r["kind"] for r in rows), expected=Counter(r["expected"] for r in rows),
                         files=files, seconds=time.perf_counter() - started, catalog=catalog)
