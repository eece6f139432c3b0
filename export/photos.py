"""Which photos `predict` and `apply` work on, and what the extractor would read from each.

Everything comes from the extractor's readers (library walk, one exiftool process, orientation, declared
size, crops, raw previews), so a crop written by `apply` is read back by `extract` in the same frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cropstyle.extractor import dataset_format as reasons
from cropstyle.extractor.geometry import Crop, displayed_size
from cropstyle.extractor.library import LibraryFile, find_library_files
from cropstyle.extractor.metadata import (
    MetadataTool, crop_from_xmp, crop_xmp, declared_size, export_reason, has_perspective, is_image,
    orientation_from_tags, uses_preview,
)

BACKUP_SUFFIX = "_original"  # exiftool's backup of a file it wrote in place (`apply --in-place`)


@dataclass
class Photo:
    """A photo to predict: its files, its metadata as the extractor reads it, its displayed frame."""

    path: Path
    kind: str  # "file" | "raw"
    sidecar: Path | None  # the sidecar the library walk paired with it, if any
    file_type: str  # exiftool's FileType: JPEG, TIFF, DNG, CR2, ...
    orientation: int  # the one the extractor applies (XMP tiff:Orientation first, then EXIF)
    size: tuple[int, int] | None  # stored size from the headers (the raw's, for a raw), as the extractor uses it
    file_crop: Crop | None  # crop in the file's own XMP (stored frame)
    sidecar_crop: Crop | None  # crop in the sidecar (stored frame)
    xmp_origin: str  # "xmp-embedded" | "xmp-sidecar": the XMP the extractor reads the crop from
    export: str | None  # why the extractor would call it an export (pixels already cropped), or None
    perspective: bool  # the XMP has an Upright/perspective transform
    sidecar_problem: str | None = None  # the sidecar cannot be read as XMP
    file_orientation: int = 1  # the orientation the file's own tags give (what counts once the file has a crop)

    @property
    def uses_preview(self) -> bool:
        """The pixels come from the embedded preview (raws and DNG), as in the extractor."""
        return uses_preview(self.kind, {"File:FileType": self.file_type})

    @property
    def existing_crop(self) -> Crop | None:
        """The crop the extractor reads for this photo now (stored frame), if any."""
        return self.sidecar_crop if self.xmp_origin == "xmp-sidecar" else self.file_crop

    def displayed_size(self, decoded_size: tuple[int, int]) -> tuple[int, int]:
        """Displayed width and height: of the declared size, as in labels.csv, else of the decoded pixels."""
        width, height = self.size or decoded_size
        return displayed_size(width, height, self.orientation)


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def find_photos(paths: list[Path]) -> tuple[list[LibraryFile], list[Skipped]]:
    """Photo files (and raws with their sidecars) under `paths`; the rest with a reason."""
    for path in paths:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
    photos, skipped = [], []
    for file in find_library_files([Path(p) for p in paths]):
        if file.kind == "catalog":
            skipped.append(Skipped(file.path, "catalog: name the photos or their folders instead"))
        elif file.kind == "orphan-sidecar":
            skipped.append(Skipped(file.path, reasons.ORPHAN_SIDECAR))
        elif file.path.name.endswith(BACKUP_SUFFIX):
            skipped.append(Skipped(file.path, "exiftool backup of a photo written in place"))
        else:
            photos.append(file)
    return photos, skipped


def describe(file: LibraryFile, tags: dict[Path, dict]) -> Photo | Skipped:
    """What the extractor reads for `file` (extractor.metadata.crop_xmp), without deciding
    whether it would make a training example: `predict` works on exports and uncropped photos too."""
    file_tags = tags[file.path]
    if not file_tags.get("File:FileType") or not is_image(file_tags):
        error = file_tags.get("ExifTool:Error") or f"{file_tags.get('File:FileType', 'unknown')} file"
        return Skipped(file.path, f"{reasons.NOT_AN_IMAGE}: {error}")
    file_crop = crop_from_xmp(file_tags)
    sidecar_crop, sidecar_problem, sidecar_tags = None, None, None
    if file.sidecar is not None:
        sidecar_tags = tags[file.sidecar]
        if sidecar_tags.get("ExifTool:Error") or sidecar_tags.get("File:FileType") != "XMP":
            sidecar_problem = str(sidecar_tags.get("ExifTool:Error")
                                  or f"it is {sidecar_tags.get('File:FileType', 'unknown')}, not XMP")
            sidecar_tags = None
        else:
            sidecar_crop = crop_from_xmp(sidecar_tags)
    xmp_tags, origin = crop_xmp(file.kind, file_tags, sidecar_tags)
    return Photo(
        path=file.path, kind=file.kind, sidecar=file.sidecar, file_type=str(file_tags["File:FileType"]),
        orientation=orientation_from_tags(xmp_tags, file_tags), size=declared_size(file_tags),
        file_crop=file_crop, sidecar_crop=sidecar_crop, xmp_origin=origin,
        export=export_reason(xmp_tags, file.path), perspective=has_perspective(xmp_tags),
        sidecar_problem=sidecar_problem, file_orientation=orientation_from_tags(file_tags, file_tags),
    )


def pixel_source(tool: MetadataTool, photo: Photo) -> Path | bytes | Skipped:
    """The file to decode, or a raw's (DNG's) embedded preview (extractor.extract._pixel_source's rule)."""
    if photo.uses_preview:
        preview = tool.preview(photo.path)
        if preview is None:
            return Skipped(photo.path, f"{reasons.NO_IMAGE_DATA}: raw without a usable embedded preview")
        return preview
    return photo.path
