"""Why a source gave no training example: the first words of each row's `reason` in DATASET/skipped.csv
(a detail may follow after ": "). `predict` and `apply` report their skips in the same words."""

from __future__ import annotations

NO_CROP = "no crop"
EXPORT = "export"
PERSPECTIVE = "upright/perspective transform"
INVALID_CROP = "invalid crop"
UNREADABLE = "unreadable file"
CORRUPT = "corrupt image"
NO_IMAGE_DATA = "no image data"
NOT_AN_IMAGE = "not an image"
ORPHAN_SIDECAR = "sidecar without a photo"
EDITOR_SETTINGS = "unsupported editor settings"  # a darktable history or RawTherapee profile cropstyle cannot map
MISSING_FILE = "missing file"
