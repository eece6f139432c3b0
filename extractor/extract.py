"""`cropstyle extract`: a photographer's library → a training dataset (images + labels.csv).

The library reader (extractor/reading.py) reads the metadata with one exiftool process, a chunk at a time,
while a thread pool writes the training images of the photos it has read; this records each photo as it comes
and saves the dataset every few seconds. Every source ends as a row of labels.csv or of skipped.csv, with a reason.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from cropstyle.extractor import skip_reasons
from cropstyle.extractor.dataset import TRAINING_LONG_SIDE, DatasetImage, DatasetStore, label_row
from cropstyle.extractor.geometry import IDENTITY, Crop, crop_problem, displayed_size, to_displayed
from cropstyle.extractor.library import RAW_EXTENSIONS, LibraryFile, find_library_files
from cropstyle.extractor.metadata import metadata_tool
from cropstyle.extractor.photos import LibraryPhoto
from cropstyle.extractor.reading import PhotoRead, read_library, stop_reading

CHECKPOINT_SECONDS = 5.0


@dataclass
class Candidate:
    """One source that will end as one row: a photo file, a catalog entry, or a stray sidecar."""

    source: Path
    kind: str  # "file" | "raw" | "orphan-sidecar" | "catalog-photo" | "catalog" (one that cannot be read)
    sidecar: Path | None = None
    profile: Path | None = None  # RawTherapee's NAME.EXT.pp3
    catalog: object | None = None  # extractor.lrcat.CatalogPhoto for catalog entries
    fingerprint: str = ""
    problem: str | None = None  # known before reading anything more: the skip reason

    @property
    def catalog_image_id(self) -> str:
        return str(self.catalog.image_id) if self.catalog is not None else ""


@dataclass
class Pending:
    """A photo whose crop is known and whose pixels are to be decoded."""

    candidate: Candidate
    origin: str
    crop: Crop  # stored frame
    has_crop: bool
    orientation: int
    photo: LibraryPhoto  # what the reader found


@dataclass
class Summary:
    found: int = 0
    extracted: int = 0
    unchanged: int = 0
    skipped: Counter = field(default_factory=Counter)
    labels_total: int = 0
    out: Path | None = None
    foreign_missing: int = 0

    def report(self) -> str:
        lines = [
            f"found {self.found} sources: {self.extracted} extracted, "
            f"{self.unchanged} unchanged since the last run, {sum(self.skipped.values())} skipped"
        ]
        lines += [f"  skipped, {reason}: {count}" for reason, count in self.skipped.most_common()]
        lines.append(f"{self.out}/labels.csv now holds {self.labels_total} examples (reasons per file in skipped.csv)")
        if self.foreign_missing:
            lines.append(
                f"{self.foreign_missing} catalog photos point to missing files: "
                "if the catalog comes from another machine, map its folders with --remap OLD=NEW "
                "(for example --remap /Users/me/Pictures=/home/me/Pictures)"
            )
        return "\n".join(lines)


def fingerprint(*paths: Path | None, extra: str = "") -> str:
    parts = []
    for path in paths:
        if path is not None:
            stat = path.stat()
            parts.append(f"{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(parts) + (f";{extra}" if extra else "")


def _candidates(files: list[LibraryFile], remap: Sequence[tuple[str, str]]) -> list[Candidate]:
    catalog_photos: list[Candidate] = []
    for file in files:
        if file.kind == "catalog":
            from cropstyle.extractor.lrcat import CatalogError, read_catalog  # only catalogs need it

            try:
                catalog_photos += [
                    Candidate(photo.path, "catalog-photo", catalog=photo) for photo in read_catalog(file.path, remap)
                ]
            except CatalogError as error:  # one bad .lrcat is reported; the rest of the run goes on
                catalog_photos.append(Candidate(file.path, "catalog", problem=f"{skip_reasons.UNREADABLE}: {error}"))
    in_catalog = {candidate.source for candidate in catalog_photos}
    # A photo both in a catalog and found by the walk: the catalog wins, its sidecar can be stale.
    walked = [
        Candidate(file.path, file.kind, file.sidecar, file.profile)
        for file in files
        if file.kind != "catalog" and file.path not in in_catalog
    ]
    return walked + catalog_photos


def _library_file(candidate: Candidate) -> LibraryFile:
    """The file the reader describes; a catalog photo is a raw when its name or the catalog says so."""
    if candidate.catalog is None:
        return LibraryFile(candidate.source, candidate.kind, candidate.sidecar, candidate.profile)
    raw = candidate.source.suffix.lower() in RAW_EXTENSIONS or candidate.catalog.file_format.upper() == "RAW"
    return LibraryFile(candidate.source, "raw" if raw else "file")


def _pending(candidate: Candidate, photo: LibraryPhoto, include_uncropped: bool) -> Pending | str:
    """The example this photo gives, or the reason it gives none. Its crop comes from the XMP that holds it,
    or for a catalog photo from the catalog (which wins over the file's XMP: that can be stale)."""
    catalog = candidate.catalog
    if catalog is None and photo.xmp_origin == "xmp-sidecar" and photo.sidecar_problem:
        return f"{skip_reasons.UNREADABLE}: sidecar {photo.sidecar.name}: {photo.sidecar_problem}"
    if catalog is None and photo.editor_problem and photo.crop is None:
        return f"{skip_reasons.EDITOR_SETTINGS}: {photo.editor_problem}"
    if photo.export:
        return photo.export
    crop = photo.crop if catalog is None else catalog.crop
    if crop is None and not include_uncropped:
        return skip_reasons.NO_CROP
    if photo.perspective if catalog is None else catalog.perspective:
        return skip_reasons.PERSPECTIVE
    origin = photo.origin if catalog is None else "lrcat"
    orientation = photo.orientation if catalog is None else (catalog.orientation or photo.file_orientation)
    return Pending(candidate, origin, crop or IDENTITY, crop is not None, orientation, photo)


def _render(store: DatasetStore, pending: Pending, size: int, source: Path | bytes) -> tuple[Pending, DatasetImage]:
    """In a decoder: the training image of a photo whose example is pending."""
    return pending, store.add_image(source, pending.orientation, size)


def _label_row(pending: Pending, image: DatasetImage) -> dict | str:
    """The labels.csv row, or the reason the crop is not valid for this image."""
    width, height = pending.photo.size or image.stored_size
    problem = crop_problem(pending.crop, width, height)
    if problem:
        return f"{skip_reasons.INVALID_CROP}: {problem}"
    shown_width, shown_height = displayed_size(width, height, pending.orientation)
    catalog = pending.candidate.catalog
    return label_row(
        image=image.path,
        source=str(pending.candidate.source),
        origin=pending.origin,
        width=shown_width,
        height=shown_height,
        has_crop=pending.has_crop,
        crop=to_displayed(pending.crop, width, height, pending.orientation),
        orientation=pending.orientation,
        fingerprint=pending.candidate.fingerprint,
        catalog_image_id=pending.candidate.catalog_image_id,
        copy_name=(catalog.copy_name or "") if catalog else "",
    )


def extract(
    paths: Sequence[Path],
    out: Path,
    size: int = TRAINING_LONG_SIDE,
    jobs: int | None = None,
    include_uncropped: bool = False,
    remap: Sequence[tuple[str, str]] = (),
    progress: bool = True,
) -> Summary:
    """Extract every cropped photo under `paths` into the dataset folder `out` (created or updated)."""
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
    out = out.absolute()
    store = DatasetStore(out)
    summary = Summary(out=out)
    candidates = _candidates(find_library_files(list(paths)), remap)
    summary.found = len(candidates)
    bar = tqdm(total=len(candidates), unit="photo", desc="extract", disable=not progress, smoothing=0.1)
    last_checkpoint = time.monotonic()

    def skip(candidate: Candidate, reason: str) -> None:
        store.add_skipped(str(candidate.source), reason, candidate.fingerprint, candidate.catalog_image_id)
        summary.skipped[reason.split(":")[0]] += 1
        bar.update()

    def record(read: PhotoRead[Candidate, tuple[Pending, DatasetImage]]) -> None:
        if read.skipped is not None:
            skip(read.item, read.skipped)
            return
        row = _label_row(*read.decoded)
        if isinstance(row, str):
            skip(read.item, row)
        else:
            store.add_label(row)
            summary.extracted += 1
            bar.update()

    def decoder_for(
        candidate: Candidate, photo: LibraryPhoto
    ) -> Callable[[Path | bytes], tuple[Pending, DatasetImage]] | str:
        pending = _pending(candidate, photo, include_uncropped)
        return pending if isinstance(pending, str) else functools.partial(_render, store, pending, size)

    todo: list[Candidate] = []
    for candidate in candidates:
        if candidate.catalog is not None and candidate.catalog.problem:
            skip(candidate, f"{skip_reasons.INVALID_CROP}: {candidate.catalog.problem}")
            continue
        if candidate.catalog is not None and candidate.catalog.already_applied:
            skip(candidate, f"{skip_reasons.EXPORT}: AlreadyApplied (catalog)")  # known without the file
            continue
        if candidate.catalog is not None and not candidate.source.is_file():
            skip(candidate, skip_reasons.MISSING_FILE)
            summary.foreign_missing += 1
            continue
        try:
            # A catalog photo also changes when its develop settings do: their digest joins the fingerprint.
            catalog_state = (
                hashlib.sha256(repr(candidate.catalog).encode()).hexdigest()[:16] if candidate.catalog else ""
            )
            candidate.fingerprint = fingerprint(
                candidate.source, candidate.sidecar, candidate.profile, extra=catalog_state
            )
        except OSError as error:
            skip(candidate, f"{skip_reasons.UNREADABLE}: {error.strerror}")
            continue
        if store.unchanged((str(candidate.source), candidate.catalog_image_id), candidate.fingerprint):
            summary.unchanged += 1
            bar.update()
        elif candidate.problem:
            skip(candidate, candidate.problem)
        elif candidate.kind == "orphan-sidecar":
            skip(candidate, skip_reasons.ORPHAN_SIDECAR)
        else:
            todo.append(candidate)

    try:
        with metadata_tool() as tool, ThreadPoolExecutor(jobs or os.cpu_count() or 1) as decoders:
            reads = read_library(todo, tool, decoder_for, decoders, file_of=_library_file, keep_decoded=True)
            try:
                for read in reads:
                    record(read)
                    if time.monotonic() - last_checkpoint > CHECKPOINT_SECONDS:
                        store.save()
                        last_checkpoint = time.monotonic()
            except BaseException as error:
                # Ctrl-C (or an error), here or in the reader: photos not yet started are dropped, the few being
                # decoded finish, and every decoded photo is recorded, so the next run resumes after it.
                for read in stop_reading(reads, error):
                    record(read)
    finally:
        store.save()
        bar.close()
    summary.labels_total = len(store.labels)
    return summary
