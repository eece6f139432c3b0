"""The dataset format every stage reads and writes (documented in README.md, "Dataset format").

DATASET/images/<hash>.jpg   the photo as displayed (orientation applied), long side --size
DATASET/labels.csv          one row per example, LABEL_COLUMNS first
DATASET/skipped.csv         one row per source that gave no example: source, reason, ...
"""
from __future__ import annotations

ORIGINS = ("xmp-embedded", "xmp-sidecar", "lrcat", "collected")

LABEL_COLUMNS = [
    "image",  # relative to DATASET
    "source",  # absolute path of the original
    "origin",  # one of ORIGINS
    "width",  # the original's displayed size in pixels
    "height",
    "has_crop",
    "top",  # fractions of the displayed frame, Lightroom corner convention (extractor/geometry.py)
    "left",
    "bottom",
    "right",
    "angle",  # degrees, displayed frame
    "orientation",  # the EXIF orientation that was applied to get the displayed frame
    "catalog_image_id",  # lrcat only: Adobe_images.id_local (virtual copies are separate rows)
    "copy_name",  # lrcat only: the virtual copy's name
    "fingerprint",  # size and mtime of the source (and sidecar): re-runs skip what did not change
]
SKIPPED_COLUMNS = ["source", "reason", "catalog_image_id", "fingerprint"]

# Skip reasons: each row of skipped.csv starts with one of these (a detail may follow after ": ").
NO_CROP = "no crop"
EXPORT = "export"
PERSPECTIVE = "upright/perspective transform"
INVALID_CROP = "invalid crop"
UNREADABLE = "unreadable file"
CORRUPT = "corrupt image"
NO_IMAGE_DATA = "no image data"
NOT_AN_IMAGE = "not an image"
ORPHAN_SIDECAR = "sidecar without a photo"
MISSING_FILE = "missing file"
