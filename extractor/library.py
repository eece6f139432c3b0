"""Walk a photographer's library: which files are photos, which sidecar belongs to which raw."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Every other file may carry its XMP inside (JPEG, TIFF, PNG, DNG, HEIC, ...): exiftool decides what it is.
# Proprietary raws: the crop is in a sidecar, the pixels in the embedded preview.
RAW_EXTENSIONS = frozenset(
    {
        ".3fr",
        ".arw",
        ".cr2",
        ".cr3",
        ".crw",
        ".dcr",
        ".erf",
        ".fff",
        ".iiq",
        ".k25",
        ".kdc",
        ".mef",
        ".mos",
        ".mrw",
        ".nef",
        ".nrw",
        ".orf",
        ".pef",
        ".raf",
        ".raw",
        ".rw2",
        ".rwl",
        ".sr2",
        ".srf",
        ".srw",
        ".x3f",
    }
)
CATALOG_EXTENSION = ".lrcat"
SIDECAR_EXTENSION = ".xmp"
PROFILE_EXTENSION = ".pp3"  # RawTherapee's processing profile, NAME.EXT.pp3 beside the photo


@dataclass(frozen=True)
class LibraryFile:
    """One file found under the paths given: a photo (with its sidecar, for raws), a catalog or anything else."""

    path: Path
    kind: str  # "file" | "raw" | "catalog" | "orphan-sidecar"
    sidecar: Path | None = None
    profile: Path | None = None  # RawTherapee's NAME.EXT.pp3


def _walk(path: Path) -> list[Path]:
    if path.is_dir():
        found = []
        for folder, subfolders, names in os.walk(path):
            # Lightroom's preview caches sit beside catalogs and hold thousands of non-photo files.
            subfolders[:] = sorted(d for d in subfolders if not d.endswith(".lrdata"))
            found.extend(Path(folder, name) for name in sorted(names))
        return found
    return [path]


def find_library_files(paths: list[Path]) -> list[LibraryFile]:
    """Every file under `paths` (folders are walked recursively, extensions are case-insensitive), classified.

    A sidecar `NAME.xmp` (Lightroom) or `NAME.EXT.xmp` (darktable) is paired with the raw beside it, and
    `NAME.EXT.xmp` with any other photo (as `cropstyle apply` writes them); a RawTherapee profile `NAME.EXT.pp3`
    with any photo. Sidecars and profiles of nothing are reported as orphans so that nothing passes silently.
    """
    files: dict[Path, None] = {}  # ordered, without duplicates when paths overlap
    for root in paths:
        for file in _walk(Path(os.path.abspath(root.expanduser()))):  # absolute, ".." folded, links kept
            files.setdefault(file, None)
    by_lower_name = {str(file).lower(): file for file in files}

    sidecars_claimed: set[Path] = set()
    found: list[LibraryFile] = []
    for file in files:
        suffix = file.suffix.lower()
        if suffix in (SIDECAR_EXTENSION, PROFILE_EXTENSION):
            continue  # decided below, once photos have claimed theirs
        profile = None
        if suffix != CATALOG_EXTENSION:
            profile = _existing(file.with_name(file.name + PROFILE_EXTENSION), by_lower_name)
            if profile is not None:
                sidecars_claimed.add(profile)
        if suffix in RAW_EXTENSIONS:
            sidecar = _sidecar_of(file, by_lower_name)
            if sidecar is not None:
                sidecars_claimed.add(sidecar)
            found.append(LibraryFile(file, "raw", sidecar, profile))
        elif suffix == CATALOG_EXTENSION:
            found.append(LibraryFile(file, "catalog"))
        else:
            # Only NAME.EXT.xmp: a plain NAME.xmp beside a JPEG belongs to the raw of a RAW+JPEG pair.
            sidecar = _existing(file.with_name(file.name + SIDECAR_EXTENSION), by_lower_name)
            if sidecar is not None:
                sidecars_claimed.add(sidecar)
            found.append(LibraryFile(file, "file", sidecar, profile))
    found.extend(
        LibraryFile(file, "orphan-sidecar")
        for file in files
        if file.suffix.lower() in (SIDECAR_EXTENSION, PROFILE_EXTENSION) and file not in sidecars_claimed
    )
    return found


def _sidecar_of(raw: Path, by_lower_name: dict[str, Path]) -> Path | None:
    # Lightroom's NAME.xmp first, then darktable's NAME.EXT.xmp.
    return _existing(raw.with_suffix(SIDECAR_EXTENSION), by_lower_name) or _existing(
        raw.with_name(raw.name + SIDECAR_EXTENSION), by_lower_name
    )


def _existing(candidate: Path, by_lower_name: dict[str, Path]) -> Path | None:
    """`candidate` in any case among the walked files, or on disk (a single photo named on the command line)."""
    match = by_lower_name.get(str(candidate).lower())
    if match is not None:
        return match
    for name in (candidate.name, candidate.with_suffix(candidate.suffix.upper()).name):
        if (candidate.parent / name).is_file():
            return candidate.parent / name
    return None
