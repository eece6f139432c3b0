"""`cropstyle apply --editor darktable|rawtherapee`: predicted crops written as those editors keep them.

- darktable: a history entry in the photo's `NAME.EXT.xmp` (extractor/darktable.py writes it: `crop`, or `clipping`
  for a turned crop), appended to the history the sidecar has, or a new minimal sidecar;
- RawTherapee: `[Crop]` and `[Rotation]` of the photo's `NAME.EXT.pp3` (extractor/rawtherapee.py), every other
  line of an existing profile kept, or a new minimal profile.

The codecs map cropstyle's displayed frame onto each editor's own (both checked by the editors' command lines in
the tests), and `cropstyle extract` reads the files back. A file is replaced atomically (a temporary file beside it,
then a rename), so a run stopped at any moment leaves each sidecar either as it was or complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cropstyle.extractor import skip_reasons
from cropstyle.extractor.geometry import Crop
from cropstyle.extractor.photos import LibraryPhoto, read_editor_file

EDITORS = ("lightroom", "darktable", "rawtherapee")
HAS_CROP = "has a crop (--force replaces it)"  # apply's reason for every editor


@dataclass(frozen=True)
class Editor:
    name: str
    what: str  # how the file is named in messages
    program: str  # the command line that opens what we write
    package: str  # the Debian package that has it
    suffix: str  # the file is NAME.EXT + suffix, beside the photo
    read: Callable[..., Crop | None]  # (text, displayed width, height, orientation=) → crop, or raises ValueError
    write: Callable[[str | None, Crop, int, int, LibraryPhoto], str]

    def target_path(self, photo: Path) -> Path:
        return photo.with_name(photo.name + self.suffix)

    def target(self, photo: LibraryPhoto) -> Path:
        """The file the library walk paired with the photo (any case), else a new one."""
        new = self.target_path(photo.path)
        paired = photo.profile if self.name == "rawtherapee" else photo.sidecar
        return paired if paired is not None and paired.name.lower() == new.name.lower() else new


def _darktable_write(existing: str | None, crop: Crop, width: int, height: int, photo: LibraryPhoto) -> str:
    from cropstyle.extractor.darktable import write_darktable_crop

    return write_darktable_crop(existing, crop, width, height, photo.path.name, orientation=photo.orientation)


def _darktable_read(text: str, width: int, height: int, orientation: int) -> Crop | None:
    from cropstyle.extractor.darktable import read_darktable_crop

    return read_darktable_crop(text, width, height, orientation=orientation)


def _rawtherapee_write(existing: str | None, crop: Crop, width: int, height: int, photo: LibraryPhoto) -> str:
    from cropstyle.extractor.rawtherapee import write_rawtherapee_crop

    return write_rawtherapee_crop(existing, crop, width, height, photo.orientation)


def _rawtherapee_read(text: str, width: int, height: int, orientation: int) -> Crop | None:
    from cropstyle.extractor.rawtherapee import read_rawtherapee_crop

    return read_rawtherapee_crop(text, width, height, orientation)


EDITOR_FILES = {
    "darktable": Editor(
        "darktable",
        "darktable sidecar",
        "darktable-cli",
        "darktable",
        ".xmp",  # darktable's NAME.EXT.xmp, for raws too (Lightroom's is NAME.xmp)
        _darktable_read,
        _darktable_write,
    ),
    "rawtherapee": Editor(
        "rawtherapee",
        "RawTherapee profile",
        "rawtherapee-cli",
        "rawtherapee",
        ".pp3",
        _rawtherapee_read,
        _rawtherapee_write,
    ),
}


def missing_program(editor: str) -> str | None:
    """A line for a photographer without the editor here: which Debian package opens what apply writes."""
    files = EDITOR_FILES[editor]
    if shutil.which(files.program) or shutil.which(files.name):
        return None
    return (
        f"{files.name} is not installed here: its files are written anyway; to open them, "
        f"sudo apt-get install {files.package}"
    )


@dataclass(frozen=True)
class EditorWrite:
    """What goes into one editor file: the new text, and the crop it replaces (displayed frame), if any."""

    target: Path
    text: str
    created: bool
    replaced: Crop | None


def planned_write(
    editor: str, photo: LibraryPhoto, crop: Crop, width: int, height: int, force: bool
) -> EditorWrite | str:
    """The file `editor` keeps the crop in, with `crop` (displayed frame, `width` × `height`) written into it, or
    the reason nothing is written (an existing crop without `force`, settings the codec cannot map)."""
    files = EDITOR_FILES[editor]
    target = files.target(photo)
    existing = None
    if target.exists():
        try:
            existing = read_editor_file(target)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            return f"{skip_reasons.UNREADABLE}: {files.what} {target.name}: {error}"
    replaced = None
    try:
        if existing is not None:
            replaced = files.read(existing, width, height, photo.orientation)
            if replaced is not None and not force:
                return HAS_CROP
        text = files.write(existing, crop, width, height, photo)
    except ValueError as error:  # DarktableError, RawTherapeeError
        return f"{skip_reasons.EDITOR_SETTINGS}: {files.what} {target.name}: {error}"
    return EditorWrite(target, text, created=existing is None, replaced=replaced)


def write_atomically(path: Path, text: str) -> None:
    """`text` into `path` through a temporary file beside it and a rename (the file's mode kept)."""
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
