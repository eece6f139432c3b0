"""THE reader of one photo: what its files and their metadata say, decided once for extract, predict and apply.

From exiftool's tags of a photo (and of its sidecar) it decides which XMP holds the crop (a raw's sidecar; any
other photo's own XMP, unless only its sidecar has one), the crop in the stored frame, the orientation that
displays it, the frame the crop is in, whether the file is an export or warped by a perspective correction, and
where its pixels are (a raw's or DNG's embedded preview). `extract` turns that into a training example or a
skip reason; `predict` and `apply` into a crop to suggest and write back, so that what `apply` writes,
`extract` reads back in the same frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cropstyle.extractor import skip_reasons
from cropstyle.extractor.geometry import Crop, displayed_size, to_stored
from cropstyle.extractor.library import LibraryFile
from cropstyle.extractor.metadata import (
    MetadataTool,
    crop_from_xmp,
    declared_size,
    export_reason,
    has_perspective,
    is_image,
    orientation_from_tags,
)

# Embedded-XMP formats whose main image is raw sensor data: seen, like raws, through their JPEG preview.
PREVIEW_TYPES = frozenset({"DNG"})
MAX_EDITOR_FILE = 16 << 20  # a darktable sidecar or RawTherapee profile larger than this is not one


@dataclass(frozen=True)
class LibraryPhoto:
    """A photo of the library, as its metadata describes it (crops in the stored frame)."""

    path: Path
    kind: str  # "file" | "raw"
    sidecar: Path | None  # the sidecar the library walk paired with it, if any
    file_type: str  # exiftool's FileType: JPEG, TIFF, DNG, CR2, ...
    orientation: int  # what displays it: the chosen XMP's tiff:Orientation, else the file's EXIF, else 1
    size: tuple[int, int] | None  # the stored frame of the crop, from the headers (the raw's, for a raw)
    file_crop: Crop | None  # crop in the file's own XMP
    sidecar_crop: Crop | None  # crop in the sidecar
    xmp_origin: str  # "xmp-embedded" | "xmp-sidecar": the XMP that holds the photo's crop
    export: str | None  # why it is an export (its pixels are already developed and cropped), or None
    perspective: bool  # the XMP has an Upright/perspective transform
    sidecar_problem: str | None = None  # the sidecar cannot be read as XMP
    file_orientation: int = 1  # the orientation the file's own tags give (what counts once the file has a crop)
    profile: Path | None = None  # RawTherapee's NAME.EXT.pp3, if any
    editor: str | None = None  # "darktable" | "rawtherapee": another editor's settings that hold a crop
    editor_crop: Crop | None = None  # that crop (stored frame)
    editor_problem: str | None = None  # why another editor's settings cannot be mapped to a crop

    @property
    def crs_crop(self) -> Crop | None:
        """The Lightroom crop (stored frame), from the XMP that holds it."""
        return self.sidecar_crop if self.xmp_origin == "xmp-sidecar" else self.file_crop

    @property
    def crop(self) -> Crop | None:
        """The photo's crop now (stored frame): Lightroom's, else another editor's."""
        return self.crs_crop if self.crs_crop is not None else self.editor_crop

    @property
    def origin(self) -> str:
        """labels.csv's origin of `crop`."""
        return self.editor if self.crs_crop is None and self.editor_crop is not None else self.xmp_origin

    @property
    def uses_preview(self) -> bool:
        """The pixels are the embedded preview: raws, and DNGs (whose main image is sensor data)."""
        return self.kind == "raw" or self.file_type.upper() in PREVIEW_TYPES

    def displayed_size(self, decoded_size: tuple[int, int]) -> tuple[int, int]:
        """Displayed width and height: of the declared size, as in labels.csv, else of the decoded pixels."""
        width, height = self.size or decoded_size
        return displayed_size(width, height, self.orientation)


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str  # starts with one of extractor/skip_reasons.py


def file_problem(tags: dict) -> str | None:
    """Why the file itself cannot be read as a photo, whatever its metadata says; None when it can."""
    error = str(tags.get("ExifTool:Error") or "")
    if not tags.get("File:FileType"):
        if "opening" in error.lower() or "empty" in error.lower():  # permissions, zero bytes
            return f"{skip_reasons.UNREADABLE}: {error}"
        if error and error != "Unknown file type":
            return f"{skip_reasons.NOT_AN_IMAGE}: {error}"
        return skip_reasons.NOT_AN_IMAGE
    if not is_image(tags):
        return f"{skip_reasons.NOT_AN_IMAGE}: {tags['File:FileType']} file"
    return None


def read_photo(file: LibraryFile, tags: dict[Path, dict]) -> LibraryPhoto | Skipped:
    """What `file`'s metadata says (`tags`: exiftool's, read with extractor.metadata, of the file and of its
    sidecar), or why it is not a photo. Nothing is decided about training: exports and uncropped photos are
    described like any other."""
    file_tags = tags[file.path]
    problem = file_problem(file_tags)
    if problem:
        return Skipped(file.path, problem)
    file_crop = crop_from_xmp(file_tags)
    sidecar_tags, sidecar_crop, sidecar_problem = None, None, None
    if file.sidecar is not None:
        sidecar_tags = tags[file.sidecar]
        if sidecar_tags.get("ExifTool:Error") or sidecar_tags.get("File:FileType") != "XMP":
            sidecar_problem = str(
                sidecar_tags.get("ExifTool:Error") or f"it is {sidecar_tags.get('File:FileType', 'unknown')}, not XMP"
            )
        else:
            sidecar_crop = crop_from_xmp(sidecar_tags)
    # A raw's crop is in its sidecar; any other photo's in its own XMP, unless only its sidecar has one.
    in_sidecar = file.sidecar is not None and (file.kind == "raw" or file_crop is None)
    xmp_tags = file_tags if not in_sidecar or sidecar_problem else sidecar_tags
    orientation = orientation_from_tags(xmp_tags, file_tags)
    size = declared_size(file_tags)
    editor, editor_crop, editor_problem = None, None, None
    if (sidecar_crop if in_sidecar else file_crop) is None:
        editor, editor_crop, editor_problem = _editor_crop(file, size, orientation)
    return LibraryPhoto(
        path=file.path,
        kind=file.kind,
        sidecar=file.sidecar,
        file_type=str(file_tags["File:FileType"]),
        orientation=orientation,
        size=size,
        file_crop=file_crop,
        sidecar_crop=sidecar_crop,
        xmp_origin="xmp-sidecar" if in_sidecar else "xmp-embedded",
        export=export_reason(xmp_tags, file.path),
        perspective=has_perspective(xmp_tags),
        sidecar_problem=sidecar_problem,
        file_orientation=orientation_from_tags(file_tags, file_tags),
        profile=file.profile,
        editor=editor,
        editor_crop=editor_crop,
        editor_problem=editor_problem,
    )


def read_editor_file(path: Path) -> str:
    """A darktable sidecar's or RawTherapee profile's text; ValueError when it is too large to be one."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_EDITOR_FILE + 1)
    if len(data) > MAX_EDITOR_FILE:
        raise ValueError(f"larger than {MAX_EDITOR_FILE >> 20} MB")
    return data.decode("utf-8")


def _editor_crop(
    file: LibraryFile, size: tuple[int, int] | None, orientation: int
) -> tuple[str | None, Crop | None, str | None]:
    """(editor, crop in the stored frame, problem) from darktable's history in the photo's XMP sidecar, else from a
    RawTherapee profile beside it, for a photo without a Lightroom crop; (None, None, None) when neither has one."""
    from cropstyle.extractor.darktable import DarktableError, read_darktable_crop
    from cropstyle.extractor.rawtherapee import RawTherapeeError, read_rawtherapee_crop

    readers = []
    if file.sidecar is not None:
        readers.append(("darktable", "darktable sidecar", file.sidecar, read_darktable_crop, DarktableError))
    if file.profile is not None:
        readers.append(("rawtherapee", "RawTherapee profile", file.profile, read_rawtherapee_crop, RawTherapeeError))
    for editor, what, path, read, error_type in readers:
        try:
            text = read_editor_file(path)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            return editor, None, f"{what} {path.name}: {error}"
        if editor == "darktable" and "darktable.sf.net" not in text:
            continue  # an XMP sidecar without darktable's edits (Lightroom's)
        if size is None:
            return editor, None, f"{what} {path.name}: the photo's size is unknown"
        width, height = displayed_size(*size, orientation)
        try:
            crop = read(text, width, height, orientation=orientation)
        except (error_type, ValueError) as error:
            return editor, None, f"{what} {path.name}: {error}"
        if crop is not None:
            return editor, to_stored(crop, width, height, orientation), None
    return None, None, None


def pixel_source(tool: MetadataTool, photo: LibraryPhoto) -> Path | bytes | Skipped:
    """The file to decode, or the embedded preview of a raw or DNG (its largest JPEG), or why there is none."""
    if photo.uses_preview:
        preview = tool.preview(photo.path)
        if preview is None:
            return Skipped(photo.path, f"{skip_reasons.NO_IMAGE_DATA}: raw without a usable embedded preview")
        return preview
    return photo.path
