"""Read crop metadata with one exiftool process, and decide what each photo's XMP says.

`crop_from_xmp` and `export_reason` implement docs/crop-metadata.md: which crop, in
which frame, and whether the file is an export whose pixels are already cropped.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import exiftool

from cropstyle.extractor import crs, skip_reasons
from cropstyle.extractor.geometry import Crop

EXIFTOOL_INSTALL = "sudo apt-get install libimage-exiftool-perl"

TAGS = [
    *(
        f"-{crs.EXIFTOOL_GROUP}:{tag}"
        for tag in ("HasCrop", *crs.CROP_TAGS, "AlreadyApplied", "RawFileName", *crs.PERSPECTIVE_NEUTRAL)
    ),
    "-XMP-xmpMM:HistoryAction",
    "-XMP-xmpMM:HistoryParameters",
    "-XMP-xmpMM:DerivedFrom*",
    "-XMP-tiff:Orientation",
    "-IFD0:Orientation",
    "-File:FileType",
    "-File:MIMEType",
    "-Composite:ImageSize",
    "-DefaultCropSize",
    "-DefaultScale",
    "-ExifTool:Error",
]
# Raw previews, largest first: JpgFromRaw is full size in NEF/CR2/DNG, PreviewImage a smaller one.
PREVIEW_TAGS = ("JpgFromRaw", "PreviewImage", "OtherImage")


class MetadataTool:
    """One exiftool process for the whole run (pyexiftool's batch mode: -stay_open)."""

    def __init__(self, tool: exiftool.ExifTool):
        self._tool = tool

    def read_tags(self, files: list[Path]) -> dict[Path, dict]:
        """Tags of many files in one request; a file exiftool could not read maps to {"ExifTool:Error": why}."""
        if not files:
            return {}
        output = self._tool.execute("-json", "-n", "-G1", *TAGS, *map(str, files))
        tags = {Path(entry["SourceFile"]): entry for entry in json.loads(output or "[]")}
        missing = [file for file in files if file not in tags]
        for file in missing:
            tags[file] = {
                "ExifTool:Error": _stderr_line_for(self._tool.last_stderr, file) or "exiftool could not read it"
            }
        return tags

    def execute(self, *params: str) -> str:
        """Any other exiftool command on the same process (writing crops back: export/apply.py)."""
        return self._tool.execute(*params)

    @property
    def last_stderr(self) -> str:
        return self._tool.last_stderr

    @property
    def last_status(self) -> int:
        return self._tool.last_status

    def preview(self, raw: Path) -> bytes | None:
        """The largest embedded JPEG preview of a raw, or None when it has none that is a JPEG."""
        for tag in PREVIEW_TAGS:
            data = self._tool.execute("-b", f"-{tag}", str(raw), raw_bytes=True)
            if data[:2] == b"\xff\xd8":
                return data
        return None


def _stderr_line_for(stderr: str, file: Path) -> str | None:
    for line in (stderr or "").splitlines():
        if str(file) in line:
            return line.replace(f" - {file}", "").removeprefix("Error: ").strip()
    return None


@contextmanager
def metadata_tool() -> Iterator[MetadataTool]:
    if shutil.which("exiftool") is None:
        raise RuntimeError(f"exiftool is not installed: run `{EXIFTOOL_INSTALL}`")
    # -charset filename=utf8: names with non-ASCII characters round-trip through the JSON output.
    with exiftool.ExifTool(common_args=["-charset", "filename=utf8"]) as tool:
        yield MetadataTool(tool)


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def export_reason(tags: dict, file: Path) -> str | None:
    """Why this file is an export (pixels already developed and cropped), or None for an original.

    First match wins, as in the reference; DNG conversion also leaves `derived` and DerivedFrom,
    so those two signs count only for files that are not DNG.
    """
    settings = crs.xmp_settings(tags)
    if crs.is_true(settings.get("AlreadyApplied")):
        return f"{skip_reasons.EXPORT}: AlreadyApplied"
    is_dng = str(tags.get("File:FileType", "")).upper() == "DNG"
    actions = _as_list(tags.get("XMP-xmpMM:HistoryAction"))
    if actions and str(actions[-1]).lower() == "derived" and not is_dng:
        return f"{skip_reasons.EXPORT}: saved to new location (xmpMM:History)"
    raw_name = settings.get("RawFileName")
    if raw_name and str(raw_name).lower() != file.name.lower():
        return f"{skip_reasons.EXPORT}: RawFileName names {raw_name}"
    derived = {key: value for key, value in tags.items() if key.startswith("XMP-xmpMM:DerivedFrom")}
    # darktable's sidecars name their own photo in a plain DerivedFrom: not a sign of an export.
    names_itself = list(derived) == ["XMP-xmpMM:DerivedFrom"] and str(derived["XMP-xmpMM:DerivedFrom"]) == file.name
    if derived and not is_dng and not names_itself:
        return f"{skip_reasons.EXPORT}: DerivedFrom"
    return None


def has_perspective(tags: dict) -> bool:
    return crs.has_perspective(crs.xmp_settings(tags))


def crop_from_xmp(tags: dict) -> Crop | None:
    """The crop in the STORED frame, or None when `crs:HasCrop` is not True.

    Missing values take Lightroom's defaults (L=T=0, R=B=1, angle 0); unreadable values become NaN,
    which the geometry's validity check reports.
    """
    settings = crs.xmp_settings(tags)
    if not crs.is_true(settings.get("HasCrop")):
        return None
    values = {}
    for tag in crs.CROP_TAGS:
        try:
            values[tag] = float(settings[tag]) if tag in settings else crs.CROP_DEFAULTS[tag]
        except (TypeError, ValueError):
            values[tag] = math.nan
    return crs.crop_from_values(values)


def orientation_from_tags(xmp_tags: dict, file_tags: dict) -> int:
    """Lightroom's combined orientation (XMP tiff:Orientation) when it wrote one, else the file's EXIF, else 1."""
    for value in (xmp_tags.get("XMP-tiff:Orientation"), file_tags.get("IFD0:Orientation")):
        try:
            if int(value) in range(1, 9):
                return int(value)
        except (TypeError, ValueError):
            continue
    return 1


def declared_size(tags: dict) -> tuple[int, int] | None:
    """The stored (unrotated) size of the frame the crop is in, from the file's headers, if it has one.

    A DNG's raw carries margin pixels for demosaicing; its final image, the whole photo in Lightroom and
    the frame of its crs:Crop* values, is the default crop: DefaultCropSize × DefaultScale (3456×2304 of
    the corpus DNG's 3516×2328, 0.7 % apart in aspect). Any other file: exiftool's ImageSize."""
    crop_size = _tag(tags, "DefaultCropSize")
    try:
        if crop_size is not None:
            scale_x, scale_y = (float(v) for v in str(_tag(tags, "DefaultScale") or "1 1").split())
            width, height = (float(v) for v in str(crop_size).split())
            width, height = round(width * scale_x), round(height * scale_y)
        else:
            width, height = (int(float(v)) for v in str(tags["Composite:ImageSize"]).replace("x", " ").split())
    except (KeyError, ValueError):
        return None
    return (width, height) if width > 0 and height > 0 else None


def _tag(tags: dict, name: str) -> object | None:
    """A tag read with -G1, in whichever IFD holds it (a DNG's raw is in IFD0 or a SubIFD)."""
    return next((value for key, value in tags.items() if key.split(":")[-1] == name), None)


def is_image(tags: dict) -> bool:
    # Photoshop files carry Camera Raw crops too, under an application/ MIME type.
    return str(tags.get("File:MIMEType", "")).startswith("image/") or tags.get("File:FileType") in {"PSD", "PSB"}
