"""Small Lightroom Classic catalogs written from scratch, for the sample library, the tests and the benchmarks.

`write_catalog` starts from a real Lightroom 5 catalog's schema, catalog settings and develop texts
(`lrcat_template.sql`, kept equal to the real catalog by tests/test_lrcat.py) and adds a row per photo the
way Lightroom does; cropstyle.extractor.lrcat reads them back. The product never writes a catalog.
"""

from __future__ import annotations

import functools
import hashlib
import sqlite3
import struct
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Mapping, Sequence

from cropstyle.extractor import crs, lua_table
from cropstyle.extractor.geometry import Crop, crop_to_rect, displayed_size
from cropstyle.extractor.lrcat import ORIENTATION_CODES

# What `write_catalog` builds every catalog from: a real Lightroom 5 catalog's schema, catalog settings and two
# develop texts, as an SQL script shipped with the package (tests/test_lrcat.py keeps it equal to the real one).
CATALOG_TEMPLATE = Path(__file__).with_name("lrcat_template.sql")
# Ids of the rows write_catalog adds start after this (the real catalog's largest image id + 1000, as always).
_FIRST_ID = 1078
EXIF_TO_CODE = {exif: code for code, exif in ORIENTATION_CODES.items()}


@dataclass(frozen=True)
class CatalogEntry:
    """A photo for `write_catalog`."""

    path: Path  # absolute path of the file
    orientation: int  # EXIF 1..8, written as Lightroom's code
    width: int  # stored frame (before orientation), as Lightroom's fileWidth × fileHeight
    height: int
    crop: Crop | None  # stored frame, as Lightroom keeps it; None: no Crop* keys in the develop text
    copy_name: str | None = None  # a virtual copy of the latest earlier entry with the same path
    file_format: str = "JPG"
    already_applied: bool = False  # an export re-imported into the catalog
    develop: Mapping[str, Any] | None = None  # develop settings over the template's (exposure, curves, masks...)


def encode_xmp_blob(xmp: str) -> bytes:
    """Lightroom Classic's form of Adobe_AdditionalMetadata.xmp: 4-byte big-endian length, then zlib."""
    data = xmp.encode("utf-8")
    return struct.pack(">I", len(data)) + zlib.compress(data)


@functools.cache
def _template() -> str:
    return CATALOG_TEMPLATE.read_text(encoding="utf-8")


def _xmp(entry: CatalogEntry) -> str:
    """A compact XMP packet like Lightroom keeps in Adobe_AdditionalMetadata (Lightroom 5: plain text)."""
    attributes = {
        "tiff:Orientation": str(entry.orientation),
        "tiff:ImageWidth": str(entry.width),
        "tiff:ImageLength": str(entry.height),
        "crs:Version": "8.2",
        "crs:ProcessVersion": "6.7",
    }
    history = []
    if entry.already_applied:
        # An export's XMP: settings already applied to its pixels; Lightroom also writes the derivation.
        attributes.update(
            {
                "crs:HasSettings": "True",
                **{f"crs:{k}": v for k, v in crs.crop_settings(None, False).items()},
                "crs:AlreadyApplied": "True",
            }
        )
        history = [
            {"action": "derived", "parameters": "converted from image/x-nikon-nef to image/jpeg, saved to new location"}
        ]
    return crs.xmp_packet(
        attributes, history, wrapped=False, toolkit="Adobe XMP Core 5.5-c002 1.148022, 2012/07/15-18:06:45        "
    )


def _folders(path: PurePosixPath) -> tuple[str, str]:
    """(root folder absolutePath, folder pathFromRoot) for a file: its grandparent as the root, like an import
    of a folder of shoots; both end in "/" as Lightroom writes them."""
    parent = path.parent
    root = parent.parent if parent.parent != parent else parent
    absolute = str(root).rstrip("/") + "/"
    relative = str(parent.relative_to(root))
    return absolute, ("" if relative == "." else relative + "/")


def write_catalog(out_path: Path, entries: Sequence[CatalogEntry]) -> None:
    """Write a Lightroom 5 catalog at `out_path` holding `entries`: a real catalog's schema (tables, indexes,
    triggers) and catalog settings, from CATALOG_TEMPLATE, with rows for each entry in
    Adobe_images, AgLibraryFile, AgLibraryFolder, AgLibraryRootFolder, Adobe_imageDevelopSettings and
    Adobe_AdditionalMetadata. Used by the tests and by `cropstyle sample-library`.

    Develop texts are the template's settings (a real raw or JPEG photo's) with the crop written as Lightroom writes it:
    `CropAngle`, `CropBottom`, `CropLeft`, `CropRight`, `CropTop` (6 decimals) among the other keys, sorted, no
    HasCrop key. An entry with `copy_name` is a virtual copy of the latest earlier entry with the same path; an
    entry's `develop` settings are written over the template's, before the crop.
    """
    out_path = Path(out_path)
    if out_path.exists():
        raise FileExistsError(f"{out_path} exists; write_catalog makes a new catalog")
    template = _template()
    # One explicit transaction: SQLite would otherwise commit (and sync) after each of the template's ~300 statements.
    catalog = sqlite3.connect(out_path, isolation_level=None)
    try:
        catalog.executescript("BEGIN;\n" + template)  # the schema, Adobe_variablesTable and temp.develop_template
        texts = dict(catalog.execute("SELECT fileFormat, text FROM temp.develop_template"))
        catalog.execute("DROP TABLE temp.develop_template")
        raw_settings, jpeg_settings = lua_table.loads(texts["RAW"]), lua_table.loads(texts["JPG"])
        next_id = _FIRST_ID

        def new_id() -> int:
            nonlocal next_id
            next_id += 1
            return next_id

        roots: dict[str, int] = {}
        folders: dict[tuple[int, str], int] = {}
        files: dict[str, int] = {}
        masters: dict[str, int] = {}
        for number, entry in enumerate(entries):
            if entry.orientation not in EXIF_TO_CODE:
                raise ValueError(f"EXIF orientation must be 1..8, not {entry.orientation!r}")
            location = PurePosixPath(Path(entry.path).as_posix())
            key = str(location)
            if entry.copy_name is None:
                if key in files:
                    raise ValueError(f"{key} appears twice; give the second a copy_name (a virtual copy)")
                absolute, relative = _folders(location)
                if absolute not in roots:
                    roots[absolute] = new_id()
                    name = PurePosixPath(absolute).name or absolute
                    catalog.execute(
                        "INSERT INTO AgLibraryRootFolder (id_local, id_global, absolutePath, name, "
                        "relativePathFromCatalog) VALUES (?, ?, ?, ?, NULL)",
                        (roots[absolute], _uuid(), absolute, name),
                    )
                folder_key = (roots[absolute], relative)
                if folder_key not in folders:
                    folders[folder_key] = new_id()
                    catalog.execute(
                        "INSERT INTO AgLibraryFolder (id_local, id_global, pathFromRoot, rootFolder) "
                        "VALUES (?, ?, ?, ?)",
                        (folders[folder_key], _uuid(), relative, roots[absolute]),
                    )
                files[key] = new_id()
                extension = location.suffix[1:]
                catalog.execute(
                    "INSERT INTO AgLibraryFile (id_local, id_global, baseName, extension, folder, idx_filename, "
                    "importHash, lc_idx_filename, lc_idx_filenameExtension, originalFilename, sidecarExtensions) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        files[key],
                        _uuid(),
                        location.stem,
                        extension,
                        folders[folder_key],
                        location.name,
                        f"0:{location.name}:0",
                        location.name.lower(),
                        extension.lower(),
                        location.name,
                        "xmp" if entry.file_format == "RAW" else "",
                    ),
                )
                master = None
            elif key not in masters:
                raise ValueError(f"virtual copy {entry.copy_name!r} of {key}, which is not an earlier entry")
            else:
                master = masters[key]

            image_id = new_id()
            settings_id = new_id()
            if entry.copy_name is None:
                masters[key] = image_id
            settings = dict(raw_settings if entry.file_format == "RAW" else jpeg_settings)
            settings.update(entry.develop or {})
            crop_size = None
            if entry.crop is not None:
                for name, value in zip(crs.CROP_TAGS, entry.crop.values()):
                    settings[name] = crs.rounded(value)  # Lightroom rounds crop values to 6 decimals in the text
                settings["CropConstrainToWarp"] = 0
                rect = crop_to_rect(entry.crop, entry.width, entry.height)
                crop_size = (max(1, round(abs(rect.width))), max(1, round(abs(rect.height))))
            text = lua_table.dumps(settings) + "\n"
            shown = displayed_size(*(crop_size or (entry.width, entry.height)), entry.orientation)
            catalog.execute(
                "INSERT INTO Adobe_images (id_local, id_global, aspectRatioCache, bitDepth, captureTime, "
                "colorChannels, colorMode, copyName, copyReason, developSettingsIDCache, fileFormat, fileHeight, "
                "fileWidth, masterImage, orientation, pick, positionInFolder, pyramidIDCache, rootFile, "
                "sidecarStatus, touchCount, touchTime) VALUES (?, ?, ?, ?, ?, 3.0, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "0.0, 'z', 'none', ?, 0.0, 1.0, ?)",
                (
                    image_id,
                    _uuid(),
                    shown[0] / shown[1],
                    16.0 if entry.file_format == "RAW" else 8.0,
                    f"2024-05-{1 + number % 28:02d}T12:{number // 60 % 60:02d}:{number % 60:02d}.00",
                    32803.0 if entry.file_format == "RAW" else 2.0,
                    entry.copy_name,
                    "copy" if entry.copy_name is not None else None,
                    float(settings_id),
                    entry.file_format,
                    float(entry.height),
                    float(entry.width),
                    master,
                    EXIF_TO_CODE[entry.orientation],
                    files[key],
                    700000000.0 + number,
                ),
            )
            catalog.execute(
                "INSERT INTO Adobe_imageDevelopSettings (id_local, croppedHeight, croppedWidth, digest, grayscale, "
                "hasDevelopAdjustmentsEx, historySettingsID, image, processVersion, settingsID, text, "
                "validatedForVersion, whiteBalance) VALUES (?, ?, ?, ?, 0, -1.0, ?, ?, '6.7', ?, ?, 3.0, ?)",
                (
                    settings_id,
                    float(crop_size[1]) if crop_size else None,
                    float(crop_size[0]) if crop_size else "uncropped",
                    hashlib.md5(text.encode()).hexdigest(),
                    _uuid(),
                    image_id,
                    _uuid() if entry.crop is not None else "default",
                    text,
                    str(settings.get("WhiteBalance", "As Shot")),
                ),
            )
            catalog.execute(
                "INSERT INTO Adobe_AdditionalMetadata (id_local, id_global, embeddedXmp, image, isRawFile, xmp) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    new_id(),
                    _uuid(),
                    0 if entry.file_format == "RAW" else 1,
                    image_id,
                    1 if entry.file_format == "RAW" else 0,
                    _xmp(entry),
                ),
            )

        catalog.execute(
            "UPDATE Adobe_variablesTable SET value = ? WHERE name = 'Adobe_entityIDCounter'", (float(next_id + 1),)
        )
        catalog.execute("COMMIT")
    except BaseException:
        catalog.close()
        out_path.unlink(missing_ok=True)  # no half-written catalog left behind
        raise
    catalog.close()


def _uuid() -> str:
    return str(uuid.uuid4()).upper()
