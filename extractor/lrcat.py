"""Lightroom Classic catalogs (`.lrcat`, SQLite): read every photo's crop (samples/catalog.py writes them).

Lightroom keeps edits only in its catalog unless "Automatically write changes into XMP" is on, so for most users the
crops are here (see docs/crop-metadata.md, "Lightroom Classic catalogs"). What this module relies on:

- `Adobe_images`: one row per photo *and per virtual copy* (`copyName`, `masterImage`); `rootFile` → AgLibraryFile;
  `orientation` is Lightroom's code for the combined camera + user orientation (ORIENTATION_CODES below);
  `fileWidth` × `fileHeight` is the **stored** frame (the pixel array before orientation: the real catalog's NEFs
  read 4256 × 2832, the same as their `tiff:ImageWidth` × `tiff:ImageLength`; documented as "not affected by the
  image orientation"). That is the frame the Crop* fractions are in, so the two go together.
- `Adobe_imageDevelopSettings.text`: a Lua table literal (extractor/lua_table.py); a crop exists when Crop* keys do
  (there is no HasCrop key); missing keys take the defaults L=T=0, R=B=1, angle 0.
- path = `AgLibraryRootFolder.absolutePath || AgLibraryFolder.pathFromRoot || AgLibraryFile.baseName || '.' ||
  AgLibraryFile.extension`.
- `Adobe_AdditionalMetadata.xmp`: the photo's XMP, plain text in Lightroom 5, `4-byte big-endian length + zlib` in
  Lightroom Classic. Read only for `crs:AlreadyApplied` (a re-imported export).

The catalog is never written: it is copied into a private temporary folder and the copy opened with
`immutable=1` (see `_open_private_copy` for the -wal / -journal question). `read_catalog` gives every photo's crop
(extract); `read_develop_settings` each photo file's whole develop settings, by path (apply --catalog).
"""

from __future__ import annotations

import functools
import math
import shutil
import sqlite3
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar
from urllib.parse import quote
from xml.parsers import expat

from cropstyle.extractor import crs, lua_table
from cropstyle.extractor.geometry import Crop

# Lightroom's orientation code → EXIF orientation. The letters name the corners of the displayed frame clockwise
# from its top-left (A top-left, B top-right, C bottom-right, D bottom-left); the code is where the stored image's
# top-left and top-right corners end up. AB=1, BC=6, CD=3, DA=8 are the reference's; the mirrored codes follow
# from the same reading: BA (top edge reversed) = 2, DC = 4, AD (top-left fixed, top-right to bottom-left:
# the transpose) = 5, CB (top-left to bottom-right, top-right fixed: the transverse) = 7.
ORIENTATION_CODES = {"AB": 1, "BA": 2, "CD": 3, "DC": 4, "AD": 5, "BC": 6, "CB": 7, "DA": 8}

_ALREADY_APPLIED = crs.NAMESPACE + " AlreadyApplied"  # as expat names it in namespace mode
_SQLITE_MAGIC = b"SQLite format 3\x00"
_COPY_NAME = "catalog.lrcat"  # the private copy, in a temporary folder
_MAX_XMP_BYTES = 16 << 20  # an XMP packet larger than this after inflating is not Lightroom's: stop inflating


class CatalogError(Exception):
    """The file is not a readable Lightroom catalog (one-line message)."""


@dataclass(frozen=True)
class CatalogPhoto:
    """One Adobe_images row: a photo or a virtual copy, with its crop in the stored frame."""

    image_id: int  # Adobe_images.id_local
    path: Path  # after --remap; Path() when the catalog has no file row for the image (then `problem` says so)
    file_format: str  # RAW, JPG, DNG, TIFF, VIDEO, ...
    orientation: int | None  # EXIF 1..8; None for a code Lightroom is not known to write
    width: int | None  # stored frame (before orientation), fileWidth × fileHeight
    height: int | None
    copy_name: str | None  # virtual copies only
    crop: Crop | None  # stored frame; None when the develop settings have no Crop* key
    problem: str | None  # why the develop settings could not be read (then crop is None)
    already_applied: bool  # the catalog's XMP says crs:AlreadyApplied: this file is an export
    perspective: bool  # Upright / perspective correction is on: the crop is not in the plain pixels' frame


@dataclass(frozen=True)
class CatalogDevelopSettings:
    """A master photo's develop settings as the catalog holds them (read_develop_settings)."""

    photo: CatalogPhoto  # its row: path after --remap, orientation, crop, export flag, problem
    settings: dict[str, Any] | None  # the parsed Lua table ({} when it has none); None when unreadable (see problem)


_Row = TypeVar("_Row")


# --- reading -----------------------------------------------------------------------------------------------------


def read_catalog(path: Path, remap: Sequence[tuple[str, str]] = ()) -> Iterator[CatalogPhoto]:
    """Every photo and virtual copy of the catalog at `path`, in Adobe_images order, streamed.

    `remap` rewrites path prefixes (`("/Users/me/Pictures", "/home/me/Pictures")`); the longest matching prefix
    wins, and a prefix only matches whole path components. Raises CatalogError at once for a file that is not a
    Lightroom catalog; a photo whose settings cannot be read comes back with `problem` set instead. Needs room in
    the temporary folder for a copy of the catalog (see _open_private_copy); the copy goes when the iterator ends
    or is closed.
    """
    return _read_rows(path, remap, _photo)


def read_develop_settings(path: Path, remap: Sequence[tuple[str, str]] = ()) -> dict[Path, CatalogDevelopSettings]:
    """Each photo's develop settings (the parsed Lua table) by its absolute path after `remap`, as read_catalog
    reads them: the master images only, since a virtual copy shares its master's file and so cannot have a sidecar
    of its own. Used by `apply --catalog` to write sidecars that Lightroom reads back without losing an edit."""
    by_path: dict[Path, CatalogDevelopSettings] = {}
    for entry in _read_rows(path, remap, _develop_entry):
        if entry.photo.copy_name is None and entry.photo.path != Path():
            by_path.setdefault(entry.photo.path, entry)  # Lightroom never imports one file twice; keep the first
    return by_path


def _read_rows(path: Path, remap: Sequence[tuple[str, str]], convert: Callable[[tuple, list], _Row]) -> Iterator[_Row]:
    """`convert(row, rules)` of every row of the photo query, streamed from a private copy of the catalog."""
    path = Path(path)
    workdir = tempfile.TemporaryDirectory(prefix="cropstyle-lrcat-")
    try:
        connection = _open_private_copy(path, Path(workdir.name))
        query = _photo_query(connection, path)  # also checks that this is a catalog
    except sqlite3.DatabaseError as error:
        workdir.cleanup()
        raise CatalogError(f"{path} is damaged ({error})") from None
    except BaseException:
        workdir.cleanup()
        raise
    return _photos(path, connection, query, _remap_rules(remap), workdir, convert)


def _photos(
    path: Path,
    connection: sqlite3.Connection,
    query: str,
    rules: list[tuple[str, str]],
    workdir: tempfile.TemporaryDirectory,
    convert: Callable[[tuple, list], _Row],
) -> Iterator[_Row]:
    try:
        cursor = connection.execute(query)
        while True:
            try:
                rows = cursor.fetchmany(256)  # bounded memory: the cursor streams from the copy
            except sqlite3.DatabaseError as error:
                raise CatalogError(f"{path} is damaged ({error})") from None
            if not rows:
                break
            for row in rows:
                yield convert(row, rules)
    finally:
        connection.close()
        workdir.cleanup()


def _open_private_copy(path: Path, workdir: Path) -> sqlite3.Connection:
    """Copy the catalog into `workdir` and open the copy read-only.

    `immutable=1` makes SQLite skip locking and ignore any -wal and -journal file, so it never fails on a catalog
    Lightroom holds open in WAL mode (where `mode=ro` needs the -shm file). But committed changes can still sit in
    the -wal (not yet checkpointed), and a crash can leave a hot -journal: ignoring them would read stale or torn
    data. So the -wal and -journal are copied with the catalog, and when there is one the *private copy* is opened
    read-write once to let SQLite replay (WAL) or roll back (journal) them, then checkpointed into the copy; only
    then is it opened immutable. The original and its side files are only ever read. A catalog Lightroom writes to
    during the copy may still be caught mid-change: quit Lightroom for a guaranteed-consistent read.
    """
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(_SQLITE_MAGIC))
    except OSError as error:
        raise CatalogError(f"cannot read catalog {path}: {error.strerror or error}") from None
    if magic != _SQLITE_MAGIC:
        raise CatalogError(f"{path} is not a Lightroom catalog (not an SQLite database)")
    copy = workdir / _COPY_NAME
    try:
        shutil.copyfile(path, copy)
        sidecars = []
        for suffix in ("-wal", "-journal"):
            source = path.with_name(path.name + suffix)
            if source.is_file():
                shutil.copyfile(source, copy.with_name(copy.name + suffix))
                sidecars.append(suffix)
    except OSError as error:
        raise CatalogError(f"cannot copy catalog {path}: {error.strerror or error}") from None
    try:
        if sidecars:
            recovery = sqlite3.connect(copy)
            try:
                recovery.execute("SELECT count(*) FROM sqlite_master").fetchone()  # replays / rolls back
                recovery.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                recovery.execute("PRAGMA journal_mode=DELETE")
            finally:
                recovery.close()
        connection = sqlite3.connect(f"file:{quote(str(copy))}?immutable=1", uri=True)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        raise CatalogError(f"{path} is not a Lightroom catalog ({error})") from None
    return connection


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}


def _photo_query(connection: sqlite3.Connection, path: Path) -> str:
    """The one streaming query, naming only the columns it needs so that newer schemas' extra columns don't
    matter; a missing optional column or table reads as NULL."""
    tables = {
        name: _columns(connection, name)
        for name in (
            "Adobe_images",
            "AgLibraryFile",
            "AgLibraryFolder",
            "AgLibraryRootFolder",
            "Adobe_imageDevelopSettings",
            "Adobe_AdditionalMetadata",
        )
    }
    if not tables["Adobe_images"]:
        raise CatalogError(f"{path} is not a Lightroom catalog (no Adobe_images table)")
    if "id_local" not in tables["Adobe_images"]:
        raise CatalogError(f"{path} is not a Lightroom catalog (Adobe_images has no id_local)")

    def column(alias: str, table: str, name: str) -> str:
        return f"{alias}.{name}" if name in tables[table] else "NULL"

    have_files = (
        all(tables[t] for t in ("AgLibraryFile", "AgLibraryFolder", "AgLibraryRootFolder"))
        and "rootFile" in tables["Adobe_images"]
    )
    joins = ""
    path_columns = "NULL, NULL, NULL, NULL"
    if have_files:
        joins = (
            "LEFT JOIN AgLibraryFile f ON f.id_local = i.rootFile "
            "LEFT JOIN AgLibraryFolder fo ON fo.id_local = f.folder "
            "LEFT JOIN AgLibraryRootFolder r ON r.id_local = fo.rootFolder"
        )
        path_columns = ", ".join(
            (
                column("r", "AgLibraryRootFolder", "absolutePath"),
                column("fo", "AgLibraryFolder", "pathFromRoot"),
                column("f", "AgLibraryFile", "baseName"),
                column("f", "AgLibraryFile", "extension"),
            )
        )

    def latest(table: str, value: str) -> str:
        # One value per image even if a catalog holds several rows for it: the newest row.
        if not {"image", value, "id_local"} <= tables[table]:
            return "NULL"
        return f"(SELECT x.{value} FROM {table} x WHERE x.image = i.id_local ORDER BY x.id_local DESC LIMIT 1)"

    return (
        "SELECT i.id_local, "
        + ", ".join(
            column("i", "Adobe_images", name)
            for name in ("fileFormat", "orientation", "fileWidth", "fileHeight", "copyName")
        )
        + f", {path_columns}, {latest('Adobe_imageDevelopSettings', 'text')}, "
        + f"{latest('Adobe_AdditionalMetadata', 'xmp')} FROM Adobe_images i {joins} ORDER BY i.id_local"
    )


def _remap_rules(remap: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    rules = []
    for old, new in remap:
        old = old.replace("\\", "/").rstrip("/")
        rules.append((old, new.rstrip("/").rstrip("\\")))
    return sorted(rules, key=lambda rule: len(rule[0]), reverse=True)


def apply_remap(path: str, rules: Sequence[tuple[str, str]]) -> str:
    """`path` with the first (longest) matching prefix of `rules` (as from _remap_rules) replaced."""
    for old, new in rules:
        if path == old or path.startswith(old + "/") or (old == "" and path.startswith("/")):
            return new + path[len(old) :]
    return path


def _catalog_path(root: Any, folder: Any, base: Any, extension: Any) -> str | None:
    if root is None or base is None:
        return None
    name = f"{base}.{extension}" if extension else str(base)
    # Lightroom writes "/" separators on every system (C:/Users/...); join as strings, never as local paths.
    return f"{root}{folder or ''}{name}"


def _dimension(value: Any) -> int | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return int(round(value))
    return None


def _photo(row: tuple, rules: list[tuple[str, str]]) -> CatalogPhoto:
    (image_id, file_format, orientation, width, height, copy_name, root, folder, base, extension, text, xmp) = row
    problem = None
    location = _catalog_path(root, folder, base, extension)
    if location is None:
        problem = "catalog has no file for this image"
        path = Path()
    else:
        path = Path(apply_remap(location, rules))
    crop, perspective, settings_problem = develop_crop(text)
    return CatalogPhoto(
        image_id=int(image_id),
        path=path,
        file_format=str(file_format) if file_format is not None else "",
        orientation=ORIENTATION_CODES.get(orientation) if isinstance(orientation, str) else None,
        width=_dimension(width),
        height=_dimension(height),
        copy_name=str(copy_name) if copy_name not in (None, "") else None,
        crop=crop,
        problem=problem or settings_problem,
        already_applied=xmp_already_applied(xmp),
        perspective=perspective,
    )


def _develop_entry(row: tuple, rules: list[tuple[str, str]]) -> CatalogDevelopSettings:
    settings, _ = develop_settings(row[10])  # the row's text; its problem is the photo's, set by _photo
    return CatalogDevelopSettings(_photo(row, rules), settings)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _lua_type(value: Any) -> str:
    if value is True or value is False:
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, dict)):
        return "a table"
    if _is_number(value):
        return "a number"
    return "nil"


def develop_crop(text: Any) -> tuple[Crop | None, bool, str | None]:
    """(crop in the stored frame or None, perspective correction on, problem) from a develop-settings text."""
    if isinstance(text, str):
        return _develop_crop_cached(text)
    return _develop_crop(text)


# Photos nobody developed share one default text per camera, and batch edits repeat texts: remember recent
# results. Bounded, so memory stays flat however large the catalog (1024 texts of a few kB).
@functools.lru_cache(maxsize=1024)
def _develop_crop_cached(text: str) -> tuple[Crop | None, bool, str | None]:
    return _develop_crop(text)


def develop_settings(text: Any) -> tuple[dict[str, Any] | None, str | None]:
    """(settings, problem) of an Adobe_imageDevelopSettings text: the parsed table ({} for no text or an empty
    table), or None and why it cannot be read."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return {}, None
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return None, "unreadable develop settings: not UTF-8 text"
    if not isinstance(text, str):
        return None, f"unreadable develop settings: a {type(text).__name__}, not text"
    try:
        settings = lua_table.loads(text)
    except lua_table.LuaSyntaxError as error:
        return None, f"unreadable develop settings: {error}"
    if not isinstance(settings, dict):
        # `s = {  }` parses as an empty list: no settings at all, so no crop.
        if settings == []:
            return {}, None
        return None, f"unreadable develop settings: {_lua_type(settings)}, not a table of settings"
    return settings, None


def _develop_crop(text: Any) -> tuple[Crop | None, bool, str | None]:
    settings, problem = develop_settings(text)
    if settings is None:
        return None, False, problem
    perspective = crs.has_perspective(settings)
    if not any(key in settings for key in crs.CROP_TAGS):  # no HasCrop key in a catalog: Crop* keys say it
        return None, perspective, None
    for key in crs.CROP_TAGS:
        if key in settings and not _is_number(settings[key]):
            return None, perspective, f"unreadable develop settings: {key} is {_lua_type(settings[key])}, not a number"
    return crs.crop_from_values(settings), perspective, None


# --- XMP -----------------------------------------------------------------------------------------------------------


def decode_xmp(value: Any) -> str | None:
    """The XMP text of an Adobe_AdditionalMetadata.xmp value (either form), or None when it is unreadable."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if not isinstance(value, (bytes, bytearray, memoryview)):
        return None
    data = bytes(value)
    if len(data) > 4 and data[4:5] == b"\x78":  # zlib streams start with 0x78
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(data[4:], _MAX_XMP_BYTES)
        except zlib.error:
            return None
        if inflater.unconsumed_tail:
            return None  # larger than any real XMP packet: refuse rather than inflate a bomb
        return inflated.decode("utf-8", errors="replace")
    return data.decode("utf-8", errors="replace")


class _Found(Exception):
    pass


def xmp_already_applied(value: Any) -> bool:
    """True when the catalog's XMP for a photo says crs:AlreadyApplied="True" (attribute or element form).
    Bad, truncated or hostile XMP reads as False; documents with a DTD are refused (no entity expansion)."""
    text = decode_xmp(value)
    if not text or "AlreadyApplied" not in text:  # cheap: most photos are no exports
        return False
    parser = expat.ParserCreate(namespace_separator=" ")
    in_element = False
    chunks: list[str] = []

    def doctype(*_: Any) -> None:
        raise ValueError("XMP with a DTD")

    def start(name: str, attributes: list[str]) -> None:
        nonlocal in_element
        names = attributes[::2]  # [name, value, name, value, ...]: cheaper than a dict of ~150 attributes
        if _ALREADY_APPLIED in names:
            if attributes[2 * names.index(_ALREADY_APPLIED) + 1].strip().lower() == "true":
                raise _Found  # stop at once: an export's flag sits in the first rdf:Description
        if name == _ALREADY_APPLIED:
            in_element = True
            chunks.clear()

    def end(name: str) -> None:
        nonlocal in_element
        if in_element and name == _ALREADY_APPLIED:
            in_element = False
            if "".join(chunks).strip().lower() == "true":
                raise _Found

    def characters(data: str) -> None:
        if in_element:
            chunks.append(data)

    parser.ordered_attributes = True
    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(text, True)
    except _Found:
        return True
    except (expat.ExpatError, ValueError):
        return False
    return False
