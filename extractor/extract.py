"""`cropstyle extract`: a photographer's library → a training dataset (images + labels.csv).

One exiftool process reads the metadata of the whole run in chunks while a thread pool decodes the
photos of the previous chunk (Pillow releases the GIL while decoding), so the disk, exiftool and the
decoders work at once. Every source ends as a row of labels.csv or of skipped.csv, with a reason.
"""
from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from cropstyle.extractor import skip_reasons
from cropstyle.extractor.dataset import TRAINING_LONG_SIDE, DatasetStore, label_row
from cropstyle.extractor.geometry import IDENTITY, Crop, crop_problem, displayed_size, to_displayed
from cropstyle.extractor.library import RAW_EXTENSIONS, LibraryFile, find_library_files
from cropstyle.extractor.metadata import metadata_tool
from cropstyle.extractor.photos import LibraryPhoto, Skipped, pixel_source, read_photo
from cropstyle.extractor.pixels import PixelError, TrainingImage, render_training_image

CHUNK = 64  # files per exiftool request: large enough to amortise it, small enough to keep decoders busy
CHECKPOINT_SECONDS = 5.0


@dataclass
class Candidate:
    """One source that will end as one row: a photo file, a catalog entry, or a stray sidecar."""

    source: Path
    kind: str  # "file" | "raw" | "orphan-sidecar" | "catalog-photo" | "catalog" (one that cannot be read)
    sidecar: Path | None = None
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
        lines = [f"found {self.found} sources: {self.extracted} extracted, "
                 f"{self.unchanged} unchanged since the last run, {sum(self.skipped.values())} skipped"]
        lines += [f"  skipped, {reason}: {count}" for reason, count in self.skipped.most_common()]
        lines.append(f"{self.out}/labels.csv now holds {self.labels_total} examples (reasons per file in skipped.csv)")
        if self.foreign_missing:
            lines.append(f"{self.foreign_missing} catalog photos point to missing files: "
                         "if the catalog comes from another machine, map its folders with --remap OLD=NEW "
                         "(for example --remap /Users/me/Pictures=/home/me/Pictures)")
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
                catalog_photos += [Candidate(photo.path, "catalog-photo", catalog=photo)
                                   for photo in read_catalog(file.path, remap)]
            except CatalogError as error:  # one bad .lrcat is reported; the rest of the run goes on
                catalog_photos.append(Candidate(file.path, "catalog", problem=f"{skip_reasons.UNREADABLE}: {error}"))
    in_catalog = {candidate.source for candidate in catalog_photos}
    # A photo both in a catalog and found by the walk: the catalog wins, its sidecar can be stale.
    walked = [Candidate(file.path, file.kind, file.sidecar)
              for file in files if file.kind != "catalog" and file.path not in in_catalog]
    return walked + catalog_photos


def _library_file(candidate: Candidate) -> LibraryFile:
    """The file the reader describes; a catalog photo is a raw when its name or the catalog says so."""
    if candidate.catalog is None:
        return LibraryFile(candidate.source, candidate.kind, candidate.sidecar)
    raw = candidate.source.suffix.lower() in RAW_EXTENSIONS or candidate.catalog.file_format.upper() == "RAW"
    return LibraryFile(candidate.source, "raw" if raw else "file")


def _pending(candidate: Candidate, photo: LibraryPhoto, include_uncropped: bool) -> Pending | str:
    """The example this photo gives, or the reason it gives none. Its crop comes from the XMP that holds it,
    or for a catalog photo from the catalog (which wins over the file's XMP: that can be stale)."""
    catalog = candidate.catalog
    if catalog is None and photo.xmp_origin == "xmp-sidecar" and photo.sidecar_problem:
        return f"{skip_reasons.UNREADABLE}: sidecar {photo.sidecar.name}: {photo.sidecar_problem}"
    if photo.export:
        return photo.export
    crop = photo.crop if catalog is None else catalog.crop
    if crop is None and not include_uncropped:
        return skip_reasons.NO_CROP
    if (photo.perspective if catalog is None else catalog.perspective):
        return skip_reasons.PERSPECTIVE
    origin = photo.xmp_origin if catalog is None else "lrcat"
    orientation = photo.orientation if catalog is None else (catalog.orientation or photo.file_orientation)
    return Pending(candidate, origin, crop or IDENTITY, crop is not None, orientation, photo)


def _label_row(pending: Pending, image: TrainingImage) -> dict | str:
    """The labels.csv row, or the reason the crop is not valid for this image."""
    width, height = pending.photo.size or image.stored_size
    problem = crop_problem(pending.crop, width, height)
    if problem:
        return f"{skip_reasons.INVALID_CROP}: {problem}"
    shown_width, shown_height = displayed_size(width, height, pending.orientation)
    catalog = pending.candidate.catalog
    return label_row(image=f"images/{image.name}", source=str(pending.candidate.source), origin=pending.origin,
                     width=shown_width, height=shown_height, has_crop=pending.has_crop,
                     crop=to_displayed(pending.crop, width, height, pending.orientation),
                     orientation=pending.orientation, fingerprint=pending.candidate.fingerprint,
                     catalog_image_id=pending.candidate.catalog_image_id,
                     copy_name=(catalog.copy_name or "") if catalog else "")


def extract(paths: Sequence[Path], out: Path, size: int = TRAINING_LONG_SIDE, jobs: int | None = None,
            include_uncropped: bool = False, remap: Sequence[tuple[str, str]] = (), progress: bool = True) -> Summary:
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

    def finish(pending: Pending, future: Future) -> None:
        try:
            row = _label_row(pending, future.result())
        except PixelError as error:
            row = str(error)
        if isinstance(row, str):
            skip(pending.candidate, row)
        else:
            store.add_label(row)
            summary.extracted += 1
            bar.update()

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
            catalog_state = (hashlib.sha256(repr(candidate.catalog).encode()).hexdigest()[:16]
                             if candidate.catalog else "")
            candidate.fingerprint = fingerprint(candidate.source, candidate.sidecar, extra=catalog_state)
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

    running: dict[Future, Pending] = {}
    try:
        with metadata_tool() as tool, ThreadPoolExecutor(jobs or os.cpu_count() or 1) as decoders:
            try:
                for start in range(0, len(todo), CHUNK):
                    chunk = todo[start:start + CHUNK]
                    files = [c.source for c in chunk] + [c.sidecar for c in chunk if c.sidecar is not None]
                    tags = tool.read_tags(list(dict.fromkeys(files)))
                    for candidate in chunk:
                        photo = read_photo(_library_file(candidate), tags)
                        pending = (photo.reason if isinstance(photo, Skipped)
                                   else _pending(candidate, photo, include_uncropped))
                        if isinstance(pending, str):
                            skip(candidate, pending)
                            continue
                        source = pixel_source(tool, photo)
                        if isinstance(source, Skipped):
                            skip(candidate, source.reason)
                            continue
                        future = decoders.submit(render_training_image, source, pending.orientation, size, store.images)
                        running[future] = pending
                    for future in [future for future in running if future.done()]:
                        finish(running.pop(future), future)
                    if time.monotonic() - last_checkpoint > CHECKPOINT_SECONDS:
                        store.save()
                        last_checkpoint = time.monotonic()
                while running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        finish(running.pop(future), future)
            finally:
                # On Ctrl-C (or an error) too: photos not yet started are dropped, the few being decoded finish,
                # and every decoded photo is kept, so the next run resumes after it.
                decoders.shutdown(wait=True, cancel_futures=True)
                for future, pending in running.items():
                    if not future.cancelled():
                        finish(pending, future)
    finally:
        store.save()
        bar.close()
    summary.labels_total = len(store.labels)
    return summary
