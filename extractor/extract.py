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
from concurrent.futures import Future, ThreadPoolExecutor, wait, FIRST_COMPLETED
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from cropstyle.extractor import dataset_format as reasons
from cropstyle.extractor.dataset import DatasetStore
from cropstyle.extractor.geometry import IDENTITY, Crop, crop_problem, displayed_size, to_displayed
from cropstyle.extractor.library import LibraryFile, find_library_files
from cropstyle.extractor.metadata import (
    MetadataTool, crop_from_xmp, crop_xmp, declared_size, export_reason, has_perspective, is_image, metadata_tool,
    orientation_from_tags, uses_preview,
)
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
    size: tuple[int, int] | None  # stored size from the headers (the raw's, for a preview)


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
        lines = [f"found {self.found} sources: {self.extracted} extracted, {self.unchanged} unchanged since the last run, "
                 f"{sum(self.skipped.values())} skipped"]
        lines += [f"  skipped, {reason}: {count}" for reason, count in self.skipped.most_common()]
        lines.append(f"{self.out}/labels.csv now holds {self.labels_total} examples (reasons per file in skipped.csv)")
        if self.foreign_missing:
            lines.append(f"{self.foreign_missing} catalog photos point to missing files: if the catalog comes from another "
                         "machine, map its folders with --remap OLD=NEW (for example --remap /Users/me/Pictures=/home/me/Pictures)")
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
                catalog_photos.append(Candidate(file.path, "catalog", problem=f"{reasons.UNREADABLE}: {error}"))
    in_catalog = {candidate.source for candidate in catalog_photos}
    # A photo both in a catalog and found by the walk: the catalog wins, its sidecar can be stale.
    walked = [Candidate(file.path, file.kind, file.sidecar)
              for file in files if file.kind != "catalog" and file.path not in in_catalog]
    return walked + catalog_photos


def _skip_for_file_tags(tags: dict) -> str | None:
    """A reason when the file itself cannot give an example, whatever its crop."""
    error = str(tags.get("ExifTool:Error") or "")
    if not tags.get("File:FileType"):
        if "opening" in error.lower() or "empty" in error.lower():  # permissions, zero bytes
            return f"{reasons.UNREADABLE}: {error}"
        if error and error != "Unknown file type":
            return f"{reasons.NOT_AN_IMAGE}: {error}"
        return reasons.NOT_AN_IMAGE
    if not is_image(tags):
        return f"{reasons.NOT_AN_IMAGE}: {tags['File:FileType']} file"
    return None


def _pending_from_xmp(candidate: Candidate, tags: dict[Path, dict], include_uncropped: bool) -> Pending | str:
    file_tags = tags[candidate.source]
    skip = _skip_for_file_tags(file_tags)
    if skip:
        return skip
    sidecar_tags = tags[candidate.sidecar] if candidate.sidecar is not None else None
    xmp_tags, origin = crop_xmp(candidate.kind, file_tags, sidecar_tags)
    if origin == "xmp-sidecar":
        if xmp_tags.get("ExifTool:Error") or xmp_tags.get("File:FileType") != "XMP":
            why = xmp_tags.get('ExifTool:Error') or f"it is {xmp_tags.get('File:FileType', 'unknown')}, not XMP"
            return f"{reasons.UNREADABLE}: sidecar {candidate.sidecar.name}: {why}"
    reason = export_reason(xmp_tags, candidate.source)
    if reason:
        return reason
    crop = crop_from_xmp(xmp_tags)
    if crop is None and not include_uncropped:
        return reasons.NO_CROP
    if has_perspective(xmp_tags):
        return reasons.PERSPECTIVE
    return Pending(candidate, origin, crop or IDENTITY, crop is not None, orientation_from_tags(xmp_tags, file_tags),
                   declared_size(file_tags))


def _pending_from_catalog(candidate: Candidate, tags: dict[Path, dict], include_uncropped: bool) -> Pending | str:
    photo = candidate.catalog
    file_tags = tags[candidate.source]
    skip = _skip_for_file_tags(file_tags)
    if skip:
        return skip
    reason = export_reason(file_tags, candidate.source)
    if reason:
        return reason
    if photo.crop is None and not include_uncropped:
        return reasons.NO_CROP
    if photo.perspective:
        return reasons.PERSPECTIVE
    orientation = photo.orientation or orientation_from_tags(file_tags, file_tags)
    return Pending(candidate, "lrcat", photo.crop or IDENTITY, photo.crop is not None, orientation,
                   declared_size(file_tags))


def _label_row(pending: Pending, image: TrainingImage) -> dict | str:
    """The labels.csv row, or the reason the crop is not valid for this image."""
    width, height = pending.size or image.stored_size
    problem = crop_problem(pending.crop, width, height)
    if problem:
        return f"{reasons.INVALID_CROP}: {problem}"
    label = to_displayed(pending.crop, width, height, pending.orientation)
    shown_width, shown_height = displayed_size(width, height, pending.orientation)
    photo = pending.candidate.catalog
    return {
        "image": f"images/{image.name}", "source": str(pending.candidate.source), "origin": pending.origin,
        "width": shown_width, "height": shown_height, "has_crop": pending.has_crop,
        "top": repr(label.top), "left": repr(label.left), "bottom": repr(label.bottom), "right": repr(label.right),
        "angle": repr(label.angle), "orientation": pending.orientation,
        "catalog_image_id": pending.candidate.catalog_image_id, "copy_name": (photo.copy_name or "") if photo else "",
        "fingerprint": pending.candidate.fingerprint,
    }


def extract(paths: Sequence[Path], out: Path, size: int = 512, jobs: int | None = None,
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
            skip(candidate, f"{reasons.INVALID_CROP}: {candidate.catalog.problem}")
            continue
        if candidate.catalog is not None and candidate.catalog.already_applied:
            skip(candidate, f"{reasons.EXPORT}: AlreadyApplied (catalog)")  # known without the file
            continue
        if candidate.catalog is not None and not candidate.source.is_file():
            skip(candidate, reasons.MISSING_FILE)
            summary.foreign_missing += 1
            continue
        try:
            # A catalog photo also changes when its develop settings do: their digest joins the fingerprint.
            catalog_state = hashlib.sha256(repr(candidate.catalog).encode()).hexdigest()[:16] if candidate.catalog else ""
            candidate.fingerprint = fingerprint(candidate.source, candidate.sidecar, extra=catalog_state)
        except OSError as error:
            skip(candidate, f"{reasons.UNREADABLE}: {error.strerror}")
            continue
        if store.unchanged((str(candidate.source), candidate.catalog_image_id), candidate.fingerprint):
            summary.unchanged += 1
            bar.update()
        elif candidate.problem:
            skip(candidate, candidate.problem)
        elif candidate.kind == "orphan-sidecar":
            skip(candidate, reasons.ORPHAN_SIDECAR)
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
                        decide = _pending_from_catalog if candidate.catalog is not None else _pending_from_xmp
                        pending = decide(candidate, tags, include_uncropped)
                        if isinstance(pending, str):
                            skip(candidate, pending)
                            continue
                        source = _pixel_source(tool, pending, tags[candidate.source])
                        if isinstance(source, str):
                            skip(candidate, source)
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


def _pixel_source(tool: MetadataTool, pending: Pending, file_tags: dict) -> Path | bytes | str:
    """The file to decode, a raw's (or DNG's) embedded preview, or the reason there is none."""
    candidate = pending.candidate
    if uses_preview(candidate.kind, file_tags) or (
            candidate.catalog is not None and candidate.catalog.file_format.upper() in {"RAW", "DNG"}):
        preview = tool.preview(candidate.source)
        if preview is None:
            return f"{reasons.NO_IMAGE_DATA}: raw without a usable embedded preview"
        return preview
    return candidate.source
