"""The dataset format every stage reads and writes (README.md, "Dataset format"), and a dataset folder that
grows across runs: labels.csv and skipped.csv keyed by source photo.

DATASET/images/<hash>.jpg   the photo as displayed (orientation applied), long side at most --size
DATASET/labels.csv          one row per example (LABEL_COLUMNS; `label_row` makes one)
DATASET/skipped.csv         one row per source that gave no example: source, reason (extractor/skip_reasons.py), ...

Re-running adds new photos, replaces the rows of changed ones and keeps every other row, so a
library can be extracted a folder at a time. Both CSVs are replaced atomically at each checkpoint:
a run killed at any moment leaves the last complete pair, and every image they name exists.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from cropstyle.extractor.geometry import LABEL_VALUES, Crop

# The long side of the training images `cropstyle extract` writes by default (--size): the preprocessing of
# every model starts from photos this size (a RUN records the size its dataset had).
TRAINING_LONG_SIDE = 512

# Where a label came from; `imported`: from another tool or dataset (bench/quality.py's FCDB crops).
ORIGINS = ("xmp-embedded", "xmp-sidecar", "lrcat", "darktable", "rawtherapee", "collected", "imported")

LABEL_COLUMNS = [
    "image",  # relative to DATASET
    "source",  # absolute path of the original
    "origin",  # one of ORIGINS
    "width",  # the original's displayed size in pixels
    "height",
    "has_crop",
    # The crop (geometry.LABEL_VALUES: left, top, right, bottom as fractions of the displayed frame, Lightroom
    # corner convention; angle in degrees): the one order of every file and model output.
    *LABEL_VALUES,
    "orientation",  # the EXIF orientation that was applied to get the displayed frame
    "catalog_image_id",  # lrcat only: Adobe_images.id_local (virtual copies are separate rows)
    "copy_name",  # lrcat only: the virtual copy's name
    "fingerprint",  # size and mtime of the source (and sidecar): re-runs skip what did not change
]
# What a labels.csv must have to train on (the rest is provenance, for re-runs).
REQUIRED_COLUMNS = LABEL_COLUMNS[: LABEL_COLUMNS.index("orientation") + 1]
SKIPPED_COLUMNS = ["source", "reason", "catalog_image_id", "fingerprint"]
IMAGES_FOLDER = "images"


def label_row(
    *,
    image: str,
    source: str,
    origin: str,
    width: int,
    height: int,
    crop: Crop,
    has_crop: bool,
    orientation: int,
    fingerprint: str,
    catalog_image_id: str = "",
    copy_name: str = "",
) -> dict[str, object]:
    """One labels.csv row: `crop` in the displayed frame of a `width`×`height` (displayed) original; values
    written with repr so that they read back exactly."""
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, not {origin!r}")
    return {
        "image": image,
        "source": source,
        "origin": origin,
        "width": width,
        "height": height,
        "has_crop": has_crop,
        **{name: repr(float(value)) for name, value in zip(LABEL_VALUES, crop.values())},
        "orientation": orientation,
        "catalog_image_id": catalog_image_id,
        "copy_name": copy_name,
        "fingerprint": fingerprint,
    }


Key = tuple[str, str]  # (source, catalog_image_id or "")


def row_key(row: dict) -> Key:
    return row["source"], str(row.get("catalog_image_id") or "")


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def _write_rows(path: Path, columns: list[str], rows: list[dict]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


@dataclass(frozen=True)
class DatasetImage:
    """A training image written into a dataset."""

    path: str  # relative to DATASET: labels.csv's `image`
    stored_size: tuple[int, int]  # the decoded source's size before orientation


class DatasetStore:
    def __init__(self, root: Path):
        self.root = root
        self.images = root / IMAGES_FOLDER
        self.images.mkdir(parents=True, exist_ok=True)
        self.labels: dict[Key, dict] = {row_key(row): row for row in read_rows(root / "labels.csv")}
        self.skipped: dict[Key, dict] = {row_key(row): row for row in read_rows(root / "skipped.csv")}

    def add_image(self, source: Path | bytes, orientation: int, size: int = TRAINING_LONG_SIDE) -> DatasetImage:
        """Write a photo (its file, or its encoded bytes) as a training image: as displayed with `orientation`, long
        side at most `size`, named by its content (duplicates and re-runs share one file). Safe from several threads.
        Raises extractor.pixels.PixelError when the image data cannot be decoded."""
        # Pillow and libheif only when an image is written: the command line starts without them.
        from cropstyle.extractor.pixels import render_training_image

        image = render_training_image(source, orientation, size, self.images)
        return DatasetImage(f"{IMAGES_FOLDER}/{image.name}", image.stored_size)

    def unchanged(self, key: Key, fingerprint: str) -> bool:
        """True when the last run saw this source with the same fingerprint (and its image is still there)."""
        label = self.labels.get(key)
        if label is not None:
            return label["fingerprint"] == fingerprint and (self.root / label["image"]).exists()
        skipped = self.skipped.get(key)
        return skipped is not None and skipped["fingerprint"] == fingerprint

    def _forget(self, key: Key) -> None:
        self.labels.pop(key, None)
        self.skipped.pop(key, None)
        if key[1]:  # a catalog entry wins over the same file's XMP row
            self.labels.pop((key[0], ""), None)
            self.skipped.pop((key[0], ""), None)

    def add_label(self, row: dict) -> None:
        key = row_key(row)
        self._forget(key)
        self.labels[key] = row

    def add_skipped(self, source: str, reason: str, fingerprint: str, catalog_image_id: str = "") -> None:
        key = (source, catalog_image_id)
        self._forget(key)
        self.skipped[key] = {
            "source": source,
            "reason": reason,
            "catalog_image_id": catalog_image_id,
            "fingerprint": fingerprint,
        }

    def save(self) -> None:
        _write_rows(self.root / "labels.csv", LABEL_COLUMNS, [self.labels[k] for k in sorted(self.labels)])
        _write_rows(self.root / "skipped.csv", SKIPPED_COLUMNS, [self.skipped[k] for k in sorted(self.skipped)])
