"""The collection store: SQLite (WAL) for the corrections, content-addressed files for their photos.

STORE/corrections.sqlite3          one row per correction (photo hash, label, predicted label, model, client)
STORE/photos/ab/<sha256>.<ext>     each uploaded photo once, named by the SHA-256 of its bytes
STORE/tmp/                         files being written; never counted, emptied when a store opens

A submission is atomic: the photo is written to tmp/, flushed and fsynced, renamed to its final name and
the folder fsynced; only then is the row inserted, in one transaction (synchronous=FULL). A crash at any
point leaves either nothing, or a complete photo without a row (not counted; `check()` lists it), never
a row without its file or a half-written file under a final name. The row's id is the hash of the photo
and the label, so the same photo with the same correction sent twice is stored once.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from cropstyle.extractor.geometry import LABEL_VALUES, Crop

DATABASE = "corrections.sqlite3"
PHOTOS = "photos"
TMP = "tmp"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS corrections (
    id          TEXT PRIMARY KEY,          -- sha256(photo sha256 + canonical label), first 32 hex digits
    photo       TEXT NOT NULL,             -- sha256 of the photo's bytes
    path        TEXT NOT NULL,             -- the photo's file, relative to the store
    width       INTEGER NOT NULL,          -- the photo's size as displayed (its EXIF orientation applied)
    height      INTEGER NOT NULL,
    orientation INTEGER NOT NULL,          -- the photo file's EXIF orientation (1 when it has none)
    left        REAL NOT NULL,             -- the corrected label, displayed frame of this photo
    top         REAL NOT NULL,
    right       REAL NOT NULL,
    bottom      REAL NOT NULL,
    angle       REAL NOT NULL,
    predicted   TEXT,                      -- the model's label as JSON, same frame, or NULL
    model       TEXT,                      -- the model version that predicted it, or NULL
    client      TEXT,                      -- who sent it (the client address)
    created     REAL NOT NULL              -- Unix time of the first submission
);
CREATE INDEX IF NOT EXISTS corrections_photo ON corrections(photo);
"""
COLUMNS = ("id", "photo", "path", "width", "height", "orientation", "left", "top", "right", "bottom", "angle",
           "predicted", "model", "client", "created")


@dataclass(frozen=True)
class Correction:
    id: str
    photo: str
    path: str
    width: int
    height: int
    orientation: int
    left: float
    top: float
    right: float
    bottom: float
    angle: float
    predicted: str | None
    model: str | None
    client: str | None
    created: float

    @property
    def crop(self) -> Crop:
        return Crop(self.left, self.top, self.right, self.bottom, self.angle)

    def public(self) -> dict:
        """The row as the API shows it."""
        return {"id": self.id, "photo": self.photo, "width": self.width, "height": self.height,
                "orientation": self.orientation,
                "crop": {"left": self.left, "top": self.top, "right": self.right, "bottom": self.bottom,
                         "angle": self.angle},
                "predicted": json.loads(self.predicted) if self.predicted else None,
                "model": self.model, "created": self.created, "photo_url": f"/api/corrections/{self.id}/photo"}


@dataclass(frozen=True)
class StoreCheck:
    rows: int
    missing_files: list[str]  # ids of rows whose photo file is absent (must never happen)
    orphan_files: list[str]  # complete photos without a row (a crash between file and row): harmless
    temporary_files: list[str]  # files still in tmp/ (a crash while writing): never counted


def correction_id(photo_sha256: str, crop: Crop) -> str:
    canonical = json.dumps([photo_sha256, [repr(float(v)) for v in crop.values()]])
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CorrectionStore:
    """Thread-safe: one connection, writes serialised by a lock (SQLite allows one writer anyway)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.photos = self.root / PHOTOS
        self.tmp = self.root / TMP
        self.photos.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp.iterdir():  # half-written files of a crashed run: never counted, removed
            if leftover.is_file():
                leftover.unlink()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.root / DATABASE, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> CorrectionStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write_photo(self, data: bytes, digest: str, extension: str) -> str:
        relative = f"{PHOTOS}/{digest[:2]}/{digest}.{extension}"
        target = self.root / relative
        if target.exists() and target.stat().st_size == len(data):
            return relative  # content-addressed: the same bytes are there already (complete: renamed in whole)
        target.parent.mkdir(exist_ok=True)
        temporary = self.tmp / f"{digest}.{uuid.uuid4().hex}.part"
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
        _fsync_dir(target.parent)
        return relative

    def add(self, data: bytes, extension: str, width: int, height: int, orientation: int, crop: Crop,
            predicted: Crop | None = None, model: str | None = None, client: str | None = None) -> tuple[str, bool]:
        """Store one correction; returns (id, created). `created` is False when it was already stored."""
        digest = hashlib.sha256(data).hexdigest()
        identifier = correction_id(digest, crop)
        if self.get(identifier) is not None:
            return identifier, False
        relative = self._write_photo(data, digest, extension)  # file first, synced ...
        predicted_json = json.dumps(dict(zip(LABEL_VALUES, predicted.values()))) \
            if predicted is not None else None
        with self._lock:  # ... then the row, in one transaction
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO corrections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (identifier, digest, relative, width, height, orientation, *map(float, crop.values()),
                 predicted_json, model, client, time.time()))
            created = cursor.rowcount == 1
        return identifier, created

    def get(self, identifier: str) -> Correction | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM corrections WHERE id = ?",
                                   (identifier,)).fetchone()
        return Correction(*row) if row else None

    def all(self, limit: int | None = None, offset: int = 0) -> list[Correction]:
        query = f"SELECT {', '.join(COLUMNS)} FROM corrections ORDER BY created, id"
        parameters: tuple = ()
        if limit is not None:
            query += " LIMIT ? OFFSET ?"
            parameters = (limit, offset)
        with self._lock:
            rows = self._db.execute(query, parameters).fetchall()
        return [Correction(*row) for row in rows]

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM corrections").fetchone()[0]

    def photo_path(self, correction: Correction) -> Path:
        return self.root / correction.path

    def check(self) -> StoreCheck:
        """Consistency: rows whose file is missing (never expected), photos without a row, leftovers in tmp/."""
        rows = self.all()
        referenced = {row.path for row in rows}
        missing = [row.id for row in rows if not (self.root / row.path).is_file()]
        files = {str(p.relative_to(self.root)) for p in self.photos.rglob("*") if p.is_file()}
        return StoreCheck(len(rows), missing, sorted(files - referenced),
                          sorted(str(p) for p in self.tmp.iterdir() if p.is_file()))
