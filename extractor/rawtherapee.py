"""RawTherapee processing profiles (`.pp3`): reading the crop RawTherapee applies, and writing one it applies.

A photo's RawTherapee sidecar is `NAME.EXT.pp3`, a GLib key file: `[Section]` lines, `Key=Value` lines, `#`
comments. This module turns the profile's geometry into a cropstyle `Crop` (docs/crop-metadata.md: Lightroom's
corner convention, in the photo's displayed frame, EXIF orientation applied) and back. It is pure text in, text
out; the facts below were verified with Debian's `rawtherapee-cli` 5.9 by exporting test photos whose colours
encode their own pixel coordinates (tests/test_rawtherapee.py) and cross-checked with RawTherapee's source
(Beep6581/RawTherapee: rtengine/simpleprocess.cc, rtengine/iptransform.cc, rtengine/stdimagesource.cc,
rtengine/procparams.cc).

Frames, in the order RawTherapee builds them
--------------------------------------------
1. **Base frame.** RawTherapee applies the EXIF orientations that only turn the photo (6: 90° clockwise,
   3: 180°, 8: 90° counter-clockwise) and **ignores the mirroring ones** (2, 4, 5, 7: the photo stays as
   stored; stdimagesource.cc rotates only for "Rotate 90 CW", "Rotate 180", "Rotate 270 CW"). So for
   orientations 1, 3, 6, 8 the base frame is cropstyle's displayed frame, for 2, 4, 5, 7 the stored frame.
   This is why both functions take the photo's `orientation`.
2. **Coarse transformation** (`[Coarse Transformation]`): `Rotate` (0, 90, 180, 270 degrees clockwise), then
   `HorizontalFlip` (left-right) and `VerticalFlip` (top-bottom) of the turned image. This gives the
   *RawTherapee frame*, fw × fh (swapped for 90 and 270), in which everything below is measured.
3. **Fine rotation** (`[Rotation] Degree`) turns the image about the frame's centre C; the result keeps the
   frame's size. An output pixel p of the rotated image shows the frame point `C + s·R(θ)·(p − C)`, with
   θ = Degree and R(θ) = [[cos θ, −sin θ], [sin θ, cos θ]] (y down): a positive Degree turns the picture
   counter-clockwise, which is the same as turning the crop box clockwise, so **cropstyle's angle = Degree**
   in the RawTherapee frame. `s` is 1 with `[Common Properties for Transformations] AutoFill=false`; with
   `AutoFill=true` (RawTherapee's default) it is RawTherapee's auto-fill zoom, found by bisection between
   0.001 and 2 until the turned frame's corners no longer leave the image (iptransform.cc,
   `getTransformAutoFill`); `_autofill_scale` repeats that search exactly. A non-zero `[CACorrection] Red` or
   `Blue` also sets off the transformation and enters the auto-fill search, so it is repeated too.
4. **Crop** (`[Crop] Enabled, X, Y, W, H`, integers): the axis-aligned rectangle [X, X+W] × [Y, Y+H] of the
   rotated image (pixel edges, the frame's top-left at 0, 0). RawTherapee first clamps it (simpleprocess.cc):
   a crop starting beyond the frame (X > fw or Y > fh) is dropped; a negative X or Y becomes 0 *keeping W or
   H*; W and H are then cut to the frame. `FixedRatio`, `Ratio`, `Orientation` and `Guide` only steer the
   crop tool in the editor and do not change the output (verified).

So a RawTherapee crop is, in the RawTherapee frame, the rectangle of centre `C + s·R(θ)·(P − C)` (P the centre
of X, Y, W, H), size s·W × s·H, angle θ; `geometry.rect_to_crop` makes it a label and `geometry.to_stored` with
the orientation that maps cropstyle's displayed frame onto the RawTherapee frame (steps 1 and 2) brings it to
the displayed frame. Writing is the inverse, with `AutoFill=false` so that the crop is taken at the photo's own
resolution (with auto-fill RawTherapee would enlarge the rotated image and upsample the crop), and X, Y, W, H
rounded to whole pixels (the crop's centre moves by at most half a pixel).

Pixel coordinates: RawTherapee samples output pixel index x at frame index `C' + s·R·(x − C')` with
C' = (fw/2 − 0.5, fh/2 − 0.5) (iptransform.cc, `transCoord`), which is the formula above with pixel edges at
whole numbers. Measured on 1200 × 800 exports, the crop read from the profile has its corners within 0.6 pixel
of where RawTherapee's export samples the photo (the test photo's colour code resolves 4.7 px per level there),
with and without auto-fill; a bisection from 0.001 to 1 instead of 2 would be off by up to 0.35 px more.

What cannot be mapped (`RawTherapeeError`)
------------------------------------------
Only the sections that place the picture are read: [Crop], [Coarse Transformation], [Common Properties for
Transformations], [Rotation], [Distortion], [LensProfile], [Perspective], [CACorrection]. In them:

- a key RawTherapee 5.9 does not write (a newer or a different program's setting, e.g. ART's
  `[Rotation] Enabled`, or a later RawTherapee's `[Common Properties for Transformations] Scale`) is refused,
  since it may move the picture; other sections are not looked at, so a profile from a newer RawTherapee is
  read as long as its geometry keys are 5.9's (`[Version]` is only checked to be a whole number);
- a value that RawTherapee could not read either (`X=ten`, `Enabled=yes`) is refused, as is a key set twice;
- `[Distortion] Amount` ≠ 0, any non-zero perspective setting (`Horizontal`, `Vertical`, `Camera{Pitch,Roll,
  Yaw,ShiftHorizontal,ShiftVertical}`, `Projection{Pitch,Yaw,Rotate,ShiftHorizontal,ShiftVertical}`), and a
  lens-profile distortion correction (`[LensProfile] UseDistortion=true` with `LcMode` lfauto or lfmanual, or
  with an `LCPFile` and `LcMode` lcp or, as in profiles older than `LcMode`, absent) change the geometry in
  ways a crop label cannot hold. Note that RawTherapee's bundled raw profiles set `LcMode=lfauto` with
  `UseDistortion=true`, so raw profiles made with them are refused;
- `[Coarse Transformation] Rotate` other than 0, 90, 180, 270, and a crop of zero or negative size.

Not read: [Resize] (RawTherapee resizes after cropping, so the crop's fractions do not change) and every
non-geometric section. For a raw, RawTherapee's frame is its decoder's image size; `displayed_width` and
`displayed_height` must be that frame, which may differ by a few pixels from other programs' sizes.

Writing keeps every other line of an existing profile byte for byte (it sets only `[Crop] Enabled, X, Y, W, H`,
`[Rotation] Degree` and, when the photo is turned or CA-corrected, `[Common Properties for Transformations]
AutoFill=false`, and keeps the profile's coarse rotation and flips). A new profile holds only [Version]
(RawTherapee 5.9, profile version 349) and those keys; RawTherapee takes everything else from its neutral
defaults (`rawtherapee-cli -p` and sidecars are merged onto them).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from cropstyle.extractor.geometry import (
    MIRRORING_ORIENTATIONS,
    Crop,
    RotatedRect,
    compose_orientations,
    crop_problem,
    crop_to_rect,
    displayed_size,
    inverse_orientation,
    rect_to_crop,
    to_displayed,
    to_stored,
)

APP_VERSION = "5.9"
PROFILE_VERSION = 349  # [Version] Version of RawTherapee 5.9's profiles

CROP = "Crop"
COARSE = "Coarse Transformation"
COMMON = "Common Properties for Transformations"
ROTATION = "Rotation"
DISTORTION = "Distortion"
LENS = "LensProfile"
PERSPECTIVE = "Perspective"
CA = "CACorrection"
VERSION = "Version"

# Every key RawTherapee 5.9 writes in the sections that place the picture (a full profile saved by
# `rawtherapee-cli -O`). Anything else there may move the picture in a way this module does not know.
GEOMETRY_KEYS: dict[str, frozenset[str]] = {
    CROP: frozenset({"Enabled", "X", "Y", "W", "H", "FixedRatio", "Ratio", "Orientation", "Guide"}),
    COARSE: frozenset({"Rotate", "HorizontalFlip", "VerticalFlip"}),
    COMMON: frozenset({"Method", "AutoFill"}),
    ROTATION: frozenset({"Degree"}),
    DISTORTION: frozenset({"Amount"}),
    LENS: frozenset(
        {"LcMode", "LCPFile", "UseDistortion", "UseVignette", "UseCA", "LFCameraMake", "LFCameraModel", "LFLens"}
    ),
    PERSPECTIVE: frozenset(
        {
            "Method",
            "Horizontal",
            "Vertical",
            "CameraCropFactor",
            "CameraFocalLength",
            "CameraPitch",
            "CameraRoll",
            "CameraShiftHorizontal",
            "CameraShiftVertical",
            "CameraYaw",
            "ProjectionShiftHorizontal",
            "ProjectionPitch",
            "ProjectionRotate",
            "ProjectionShiftVertical",
            "ProjectionYaw",
            "ControlLineValues",
            "ControlLineTypes",
        }
    ),
    CA: frozenset({"Red", "Blue"}),
}
# Perspective settings that move the picture when not 0 (CameraCropFactor and CameraFocalLength only describe
# the camera, ControlLine* only the editor's guide lines).
PERSPECTIVE_AMOUNTS = (
    "Horizontal",
    "Vertical",
    "CameraPitch",
    "CameraRoll",
    "CameraShiftHorizontal",
    "CameraShiftVertical",
    "CameraYaw",
    "ProjectionShiftHorizontal",
    "ProjectionPitch",
    "ProjectionRotate",
    "ProjectionShiftVertical",
    "ProjectionYaw",
)
LENS_MODES = ("none", "lfauto", "lfmanual", "lcp")
COARSE_ROTATIONS = {0: 1, 90: 6, 180: 3, 270: 8}  # [Coarse Transformation] Rotate → the EXIF orientation alike
# RawTherapee's crop when none was ever drawn (rtengine/procparams.cc): clamped, it is the whole frame.
_DEFAULT_CROP = (-1, -1, 15000, 15000)

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}  # GLib's g_key_file_get_boolean
_INT_RANGE = 2**31  # RawTherapee keeps X, Y, W, H, Rotate, Version in C ints


class RawTherapeeError(ValueError):
    """A profile whose geometry cannot be read or mapped; the message (one line) names section, key and value."""


# --- the key file -------------------------------------------------------------------------------------------


@dataclass
class _Entry:
    value: str
    line: int  # index into _KeyFile.lines


@dataclass
class _KeyFile:
    lines: list[str]  # the text's lines, each with its line ending
    groups: dict[str, dict[str, list[_Entry]]]  # section → key → every occurrence, in file order
    group_lines: dict[str, list[int]]  # section → index of each of its [Section] lines


def _parse(text: str) -> _KeyFile:
    """Split a profile as GLib's key file parser does (RawTherapee reads profiles with it)."""
    lines = re.findall(r"[^\n]*\n|[^\n]+$", text)  # GLib splits at \n only (a \r before it is dropped)
    groups: dict[str, dict[str, list[_Entry]]] = {}
    group_lines: dict[str, list[int]] = {}
    current: str | None = None
    for index, raw in enumerate(lines):
        line = raw.rstrip("\r\n")
        if index == 0:
            line = line.removeprefix("\ufeff")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]") or len(stripped) < 3:
                raise RawTherapeeError(f"line {index + 1} is not a [section], key=value or # comment: {stripped!r}")
            current = stripped[1:-1]
            groups.setdefault(current, {})
            group_lines.setdefault(current, []).append(index)
            continue
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            raise RawTherapeeError(f"line {index + 1} is not a [section], key=value or # comment: {stripped!r}")
        if current is None:
            raise RawTherapeeError(f"line {index + 1} is a key before any [section]: {stripped!r}")
        groups[current].setdefault(key.strip(), []).append(_Entry(value.strip(), index))
    return _KeyFile(lines, groups, group_lines)


def _value(profile: _KeyFile, section: str, key: str) -> str | None:
    entries = profile.groups.get(section, {}).get(key)
    if not entries:
        return None
    if len(entries) > 1:
        raise RawTherapeeError(f"[{section}] {key} is set {len(entries)} times")
    return entries[0].value


def _boolean(profile: _KeyFile, section: str, key: str, default: bool) -> bool:
    text = _value(profile, section, key)
    if text is None:
        return default
    if text not in _BOOLEANS:
        raise RawTherapeeError(f"[{section}] {key}={text}: not a boolean (true or false)")
    return _BOOLEANS[text]


def _integer(profile: _KeyFile, section: str, key: str, default: int) -> int:
    text = _value(profile, section, key)
    if text is None:
        return default
    if not _INTEGER.fullmatch(text) or not -_INT_RANGE <= int(text) < _INT_RANGE:
        raise RawTherapeeError(f"[{section}] {key}={text}: not a whole number")
    return int(text)


def _number(profile: _KeyFile, section: str, key: str, default: float = 0.0) -> float:
    text = _value(profile, section, key)
    if text is None:
        return default
    if not _NUMBER.fullmatch(text) or not math.isfinite(float(text)):
        raise RawTherapeeError(f"[{section}] {key}={text}: not a number")
    return float(text)


# --- what the profile does to the picture --------------------------------------------------------------------


@dataclass(frozen=True)
class _Geometry:
    crop: tuple[int, int, int, int] | None  # X, Y, W, H as written, when [Crop] Enabled
    rotate: int  # [Coarse Transformation] Rotate
    hflip: bool
    vflip: bool
    degree: float  # [Rotation] Degree
    autofill: bool
    ca: tuple[float, float]  # [CACorrection] Red, Blue


def _geometry(profile: _KeyFile) -> _Geometry:
    """Check every geometry setting of the profile and return those this module maps."""
    for section, known in GEOMETRY_KEYS.items():
        for key in profile.groups.get(section, {}):
            if key not in known:
                raise RawTherapeeError(f"[{section}] {key}: unknown key (not a RawTherapee {APP_VERSION} setting)")
    _integer(profile, VERSION, "Version", PROFILE_VERSION)

    distortion = _number(profile, DISTORTION, "Amount")
    if distortion != 0:
        raise RawTherapeeError(
            f"[{DISTORTION}] Amount={_value(profile, DISTORTION, 'Amount')}: "
            "distortion correction changes the geometry (not supported)"
        )
    for key in PERSPECTIVE_AMOUNTS:
        if _number(profile, PERSPECTIVE, key) != 0:
            raise RawTherapeeError(
                f"[{PERSPECTIVE}] {key}={_value(profile, PERSPECTIVE, key)}: "
                "perspective correction changes the geometry (not supported)"
            )
    _number(profile, PERSPECTIVE, "CameraCropFactor")
    _number(profile, PERSPECTIVE, "CameraFocalLength")
    _lens_distortion(profile)

    rotate = _integer(profile, COARSE, "Rotate", 0)
    if rotate not in COARSE_ROTATIONS:
        raise RawTherapeeError(f"[{COARSE}] Rotate={rotate}: not 0, 90, 180 or 270")
    crop = None
    if _boolean(profile, CROP, "Enabled", False):
        crop = tuple(_integer(profile, CROP, key, default) for key, default in zip("XYWH", _DEFAULT_CROP))
    return _Geometry(
        crop=crop,
        rotate=rotate,
        hflip=_boolean(profile, COARSE, "HorizontalFlip", False),
        vflip=_boolean(profile, COARSE, "VerticalFlip", False),
        degree=_number(profile, ROTATION, "Degree"),
        autofill=_boolean(profile, COMMON, "AutoFill", True),
        ca=(_number(profile, CA, "Red"), _number(profile, CA, "Blue")),
    )


def _lens_distortion(profile: _KeyFile) -> None:
    mode = _value(profile, LENS, "LcMode")
    if mode is not None and mode not in LENS_MODES:
        raise RawTherapeeError(f"[{LENS}] LcMode={mode}: not one of {', '.join(LENS_MODES)}")
    for key in ("UseVignette", "UseCA"):
        _boolean(profile, LENS, key, True)
    if not _boolean(profile, LENS, "UseDistortion", True):
        return
    lcp_file = _value(profile, LENS, "LCPFile") or ""
    # Profiles older than LcMode (before version 327) meant an LCP correction by a non-empty LCPFile.
    if mode in ("lfauto", "lfmanual") or (mode in ("lcp", None) and lcp_file):
        shown = f"LcMode={mode}" if mode is not None else f"LCPFile={lcp_file}"
        raise RawTherapeeError(
            f"[{LENS}] {shown} with UseDistortion=true: lens distortion correction changes the geometry (not supported)"
        )


# --- frames ---------------------------------------------------------------------------------------------------


def _frame_orientation(geometry: _Geometry, orientation: int) -> int:
    """The orientation that maps cropstyle's displayed frame onto RawTherapee's frame (steps 1 and 2 above)."""
    coarse = [COARSE_ROTATIONS[geometry.rotate]] + [2] * geometry.hflip + [4] * geometry.vflip
    # RawTherapee ignores the mirroring EXIF orientations: it shows those photos as stored.
    undo = [inverse_orientation(orientation)] if orientation in MIRRORING_ORIENTATIONS else []
    return compose_orientations(*undo, *coarse)


def _needs_transform(geometry: _Geometry) -> bool:
    """RawTherapee's needsRotation() or needsCA() (the other transformations are refused)."""
    return abs(geometry.degree) > 1e-15 or any(abs(k) > 1e-15 for k in geometry.ca)


def _autofill_scale(width: int, height: int, geometry: _Geometry) -> float:
    """RawTherapee 5.9's auto-fill zoom (iptransform.cc, getTransformAutoFill): the bisection between 0.001
    and 2 for the largest scale at which no corner of the turned frame falls outside the image (clipped
    against pixel indices 0..W−1, 0..H−1), stopped when the bracket is 0.001 wide; its lower end."""
    if not (geometry.autofill and _needs_transform(geometry)):
        return 1.0
    w2, h2 = width / 2.0 - 0.5, height / 2.0 - 0.5
    radians = geometry.degree * math.pi / 180.0
    cos_t, sin_t = math.cos(radians), math.sin(radians)
    channels = (1.0 + geometry.ca[0], 1.0, 1.0 + geometry.ca[1])  # red, green, blue

    def clipped(scale: float) -> bool:
        # The map is affine, so the frame's corners are its extreme points among RawTherapee's border samples.
        for x, y in ((0, 0), (0, height - 1), (width - 1, height - 1), (width - 1, 0)):
            x_d, y_d = x * scale + scale * (0 - w2), y * scale + scale * (0 - h2)
            dx, dy = x_d * cos_t - y_d * sin_t, x_d * sin_t + y_d * cos_t
            for factor in channels:
                px, py = dx * factor + w2, dy * factor + h2
                if not (0 <= px <= width - 1 and 0 <= py <= height - 1):
                    return True
        return False

    upper, lower = 2.0, 0.001
    while True:
        scale = (upper + lower) * 0.5
        if clipped(scale):
            upper = scale
        else:
            lower = scale
        if not upper - lower > 0.001:
            return lower


def _rotation(degrees: float) -> np.ndarray:
    t = math.radians(degrees)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


# --- reading -----------------------------------------------------------------------------------------------


def read_rawtherapee_crop(pp3: str, displayed_width: int, displayed_height: int, orientation: int = 1) -> Crop | None:
    """The crop RawTherapee applies with profile `pp3` to a photo displayed (EXIF `orientation` applied)
    at `displayed_width` × `displayed_height`, as a label of that displayed frame; None when the profile
    neither crops ([Crop] Enabled false or absent, or a crop RawTherapee drops) nor rotates. A rotation
    without a crop gives the turned frame (with AutoFill=false it reaches outside the photo, which
    geometry.crop_problem reports). Raises RawTherapeeError for what cannot be read or mapped."""
    displayed_size(displayed_width, displayed_height, orientation)  # ValueError for an orientation not 1..8
    geometry = _geometry(_parse(pp3))
    code = _frame_orientation(geometry, orientation)
    width, height = displayed_size(displayed_width, displayed_height, code)
    clamped = _clamped_crop(geometry, width, height)
    if clamped is None and abs(geometry.degree) <= 1e-15:
        return None
    x, y, w, h = clamped or (0, 0, width, height)
    scale = _autofill_scale(width, height, geometry)
    centre = np.array([width / 2, height / 2])
    shown = centre + scale * _rotation(geometry.degree) @ (np.array([x + w / 2, y + h / 2]) - centre)
    rect = RotatedRect(float(shown[0]), float(shown[1]), scale * w, scale * h, geometry.degree)
    return to_stored(rect_to_crop(rect, width, height), width, height, code)


def _clamped_crop(geometry: _Geometry, width: int, height: int) -> tuple[int, int, int, int] | None:
    """[Crop] X, Y, W, H as RawTherapee uses them (simpleprocess.cc); None when it does not crop."""
    if geometry.crop is None:
        return None
    x, y, w, h = geometry.crop
    for key, size in (("W", w), ("H", h)):
        if size <= 0:
            raise RawTherapeeError(f"[{CROP}] {key}={size}: not a positive size")
    if x > width or y > height:  # RawTherapee drops a crop that starts beyond the frame
        return None
    x, y = max(x, 0), max(y, 0)
    w, h = min(w, width - x), min(h, height - y)
    if w <= 0 or h <= 0:
        raise RawTherapeeError(
            f"[{CROP}] X={geometry.crop[0]}, Y={geometry.crop[1]}: the crop lies outside the {width}×{height} frame"
        )
    return x, y, w, h


# --- writing -----------------------------------------------------------------------------------------------


def write_rawtherapee_crop(
    existing_pp3: str | None, crop: Crop, displayed_width: int, displayed_height: int, orientation: int = 1
) -> str:
    """A profile that makes RawTherapee crop the photo (displayed at `displayed_width` × `displayed_height`
    with EXIF `orientation`) to `crop`, a label of the displayed frame: `existing_pp3` with [Crop] and
    [Rotation] set and every other line kept, or a new minimal profile when it is None. Raises
    RawTherapeeError when the existing profile's geometry cannot be mapped, the crop is invalid, or
    RawTherapee cannot hold the crop (turned, it would reach outside RawTherapee's frame)."""
    displayed_size(displayed_width, displayed_height, orientation)  # ValueError for an orientation not 1..8
    problem = crop_problem(crop, displayed_width, displayed_height)
    if problem is not None:
        raise RawTherapeeError(f"invalid crop: {problem}")
    profile = _parse(existing_pp3) if existing_pp3 is not None else None
    geometry = _geometry(profile) if profile is not None else _geometry(_parse(""))
    code = _frame_orientation(geometry, orientation)
    width, height = displayed_size(displayed_width, displayed_height, code)
    rect = crop_to_rect(to_displayed(crop, displayed_width, displayed_height, code), width, height)
    degree = round(rect.angle, 6) + 0.0  # + 0.0: no "-0"
    centre = np.array([width / 2, height / 2])
    # The crop's centre in the rotated image (AutoFill=false: scale 1), then whole pixels.
    middle = centre + _rotation(degree).T @ (np.array([rect.cx, rect.cy]) - centre)
    w, h = max(1, round(rect.width)), max(1, round(rect.height))
    x, y = round(middle[0] - w / 2), round(middle[1] - h / 2)
    x, y, w, h = _fit_frame(x, y, w, h, width, height, degree)

    settings = {
        CROP: {"Enabled": "true", "X": str(x), "Y": str(y), "W": str(w), "H": str(h)},
        ROTATION: {"Degree": _decimal(degree)},
    }
    if abs(degree) > 1e-15 or any(abs(k) > 1e-15 for k in geometry.ca):
        settings[COMMON] = {"AutoFill": "false"}
    if profile is None:
        settings = {VERSION: {"AppVersion": APP_VERSION, "Version": str(PROFILE_VERSION)}, **settings}
        return "\n".join(
            f"[{section}]\n" + "".join(f"{key}={value}\n" for key, value in keys.items())
            for section, keys in settings.items()
        )
    return _edited(profile, settings)


def _fit_frame(x: int, y: int, w: int, h: int, width: int, height: int, degree: float) -> tuple[int, int, int, int]:
    """Keep the crop inside RawTherapee's frame, which RawTherapee would otherwise clamp: rounding may push it
    out by a pixel (trimmed here); a turned crop near a corner of the photo may not fit at all (refused)."""
    over = max(-x, -y, x + w - width, y + h - height)
    if over > 1:
        raise RawTherapeeError(
            f"RawTherapee cannot hold this crop: turned by {_decimal(degree)}°, [Crop] X={x}, Y={y}, W={w}, H={h} "
            f"reaches {over} px outside its {width}×{height} frame"
        )
    left, top = max(x, 0), max(y, 0)
    right, bottom = min(x + w, width), min(y + h, height)
    return left, top, right - left, bottom - top


def _decimal(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _edited(profile: _KeyFile, settings: dict[str, dict[str, str]]) -> str:
    """`profile`'s text with `settings` set: existing lines rewritten in place, missing keys added at the end of
    their section (its last [Section] block), missing sections appended."""
    lines = list(profile.lines)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    inserts: dict[int, list[str]] = {}
    appended: list[tuple[str, str, str]] = []
    for section, keys in settings.items():
        existing = profile.groups.get(section, {})
        for key, value in keys.items():
            entries = existing.get(key)
            if entries:  # _geometry has checked that geometry keys are set once
                index = entries[-1].line
                line = lines[index]
                body = line.rstrip("\r\n")
                key_part, _, old_value = body.partition("=")
                spacing = old_value[: len(old_value) - len(old_value.lstrip())]  # keep "X = 1"'s layout
                lines[index] = f"{key_part}={spacing}{value}{line[len(body) :]}"
            elif section in profile.group_lines:
                inserts.setdefault(_section_end(profile, section), []).append(f"{key}={value}{newline}")
            else:
                appended.append((section, key, value))
    for index in sorted(inserts, reverse=True):
        lines[index:index] = inserts[index]
    if appended:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        current = None
        for section, key, value in appended:
            if section != current:
                lines.append(f"{newline}[{section}]{newline}")
                current = section
            lines.append(f"{key}={value}{newline}")
    return "".join(lines)


def _section_end(profile: _KeyFile, section: str) -> int:
    """The line index just after the last key line of the last block of `section`."""
    start = profile.group_lines[section][-1]
    end = start + 1
    for index in range(start + 1, len(profile.lines)):
        stripped = profile.lines[index].strip()
        if stripped.startswith("["):
            break
        if stripped and not stripped.startswith("#"):
            end = index + 1
    return end
