"""The collection store: one interface, `CorrectionStore`, with two implementations.

- `SqliteStore` (`--store DIR`, the embedded default, web/store_sqlite.py): SQLite (WAL) for the rows,
  content-addressed files for the photos. Several processes on one machine can share it.
- `PostgresStore` (`--store postgresql://USER@HOST/DB`, web/store_postgres.py): rows and photos (`bytea`)
  in PostgreSQL, for several server processes or machines behind a load balancer.

`open_store(location)` picks one by the location's form. Both keep the same promises, and the same tests
run against both (tests/test_collect_store.py, tests/test_web_api.py, tests/test_collect_load.py):

- A submission is atomic: a row never exists without its complete photo. The photo is stored once per
  content (SHA-256 of its bytes); the row's id is the hash of the photo and the label, so the same
  correction sent twice is stored once (`add` answers created=False).
- The rate-limit buckets of the server live in the store (`take`), so every process sharing the store
  shares them: a client's limit holds however many workers or machines serve it.
- A store that cannot be reached raises `StoreUnavailable` (the server answers 503, never 201).
"""

from __future__ import annotations

import hashlib
import json
import operator
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cropstyle.extractor.geometry import LABEL_VALUES, Crop

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# The columns of a correction, in the order both implementations select them ("left" and "right" are
# quoted: they are keywords in PostgreSQL).
COLUMNS = (
    "id",
    "photo",
    "extension",
    "width",
    "height",
    "orientation",
    *LABEL_VALUES,
    "predicted",
    "model",
    "suggestion",
    "client",
    "created",
)
PRUNE_EVERY = 1000  # takes between two deletions of the buckets that are full again


class StoreUnavailable(Exception):
    """The store cannot be reached or written now (database down, locked too long): try again later."""


@dataclass(frozen=True)
class Correction:
    id: str
    photo: str  # SHA-256 of the photo's bytes
    extension: str  # jpg, png or webp
    width: int  # the photo as displayed (its EXIF orientation applied)
    height: int
    orientation: int  # the photo file's EXIF orientation (1 when it has none)
    left: float  # the corrected label, displayed frame of this photo
    top: float
    right: float
    bottom: float
    angle: float
    predicted: str | None  # the model's label as JSON, same frame, or None
    model: str | None  # the model version that predicted it
    suggestion: str | None  # the suggestion the user started from as canonical JSON (aspect, rank, expected_iou)
    client: str | None  # the client's address, validated (web/guards.py: client_address)
    created: float  # Unix time of the first submission

    @property
    def crop(self) -> Crop:
        return Crop(*(getattr(self, name) for name in LABEL_VALUES))

    def public(self) -> dict:
        """The row as the API shows it."""
        return {
            "id": self.id,
            "photo": self.photo,
            "width": self.width,
            "height": self.height,
            "orientation": self.orientation,
            "crop": dict(zip(LABEL_VALUES, self.crop.values())),
            "predicted": json.loads(self.predicted) if self.predicted else None,
            "model": self.model,
            "suggestion": json.loads(self.suggestion) if self.suggestion else None,
            "created": self.created,
            "photo_url": f"/api/corrections/{self.id}/photo",
        }


@dataclass(frozen=True)
class StoreCheck:
    rows: int
    missing_photos: list[str]  # ids of rows whose photo is absent (must never happen)
    orphan_photos: list[str]  # complete photos without a row (a crash between photo and row): harmless
    temporary_files: list[str]  # half-written files (SQLite store, a crash while writing): never counted


def correction_id(photo_sha256: str, crop: Crop) -> str:
    canonical = json.dumps([photo_sha256, [repr(float(v)) for v in crop.values()]])
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


# A token bucket's state: (tokens, Unix time of the last update). `decide` gets the stored state (None: no
# bucket yet) and returns the state to store (None: leave it) and the seconds to wait (0: allowed).
BucketState = tuple[float, float]
BucketDecision = Callable[[BucketState | None], tuple[BucketState | None, float]]


def bucket_decision(now: float, per_minute: float, burst: float, cost: int) -> BucketDecision:
    """The token-bucket rule both stores apply inside their transaction: refill at `per_minute`, at most
    `burst`; a request needs one token and takes `cost` (0 only looks)."""
    rate = per_minute / 60.0

    def decide(state: BucketState | None) -> tuple[BucketState | None, float]:
        tokens, updated = state if state is not None else (burst, now)
        tokens = min(burst, tokens + max(0.0, now - updated) * rate)
        if tokens < 1:
            return ((tokens, now) if cost else None), (1 - tokens) / rate
        if cost == 0:
            return None, 0.0
        return (tokens - cost, now), 0.0

    return decide


class CorrectionStore(ABC):
    """What the server and `cropstyle collected` need of a store. Thread-safe; one per process."""

    location: str  # what to show the user (no password)

    def add(
        self,
        photo: bytes,
        extension: str,
        width: int,
        height: int,
        orientation: int,
        crop: Crop,
        predicted: Crop | None = None,
        model: str | None = None,
        client: str | None = None,
        suggestion: dict | None = None,
    ) -> tuple[str, bool]:
        """Store one correction atomically; returns (id, created). created is False when it was stored before
        (its first suggestion is kept, as its first prediction). `suggestion`: {"aspect", "rank", "expected_iou"}
        as web/uploads.py's parse_suggestion checked it. A size or orientation that is no integer is a TypeError
        before anything is written."""
        width, height, orientation = operator.index(width), operator.index(height), operator.index(orientation)
        digest = hashlib.sha256(photo).hexdigest()
        identifier = correction_id(digest, crop)
        if self.get(identifier) is not None:
            return identifier, False
        predicted_json = json.dumps(dict(zip(LABEL_VALUES, predicted.values()))) if predicted is not None else None
        # Canonical (sorted keys): equal suggestions are equal text, whichever order the client sent.
        suggestion_json = json.dumps(suggestion, sort_keys=True, allow_nan=False) if suggestion is not None else None
        row = Correction(
            identifier,
            digest,
            extension,
            width,
            height,
            orientation,
            *map(float, crop.values()),
            predicted_json,
            model,
            suggestion_json,
            client,
            time.time(),
        )
        return identifier, self._insert(row, photo)

    def take(self, key: str, per_minute: float, burst: float, cost: int = 1) -> float:
        """One request against the token bucket `key` (shared by every process on this store): 0.0 when it is
        allowed (and `cost` tokens are taken), else the seconds until it would be."""
        if per_minute <= 0:
            return 0.0
        now = time.time()
        wait = self._update_bucket(key, bucket_decision(now, per_minute, burst, cost))
        self._takes = getattr(self, "_takes", 0) + 1
        if self._takes % PRUNE_EVERY == 0:  # a bucket full again is the same as no bucket
            self._prune_buckets(key.split(":", 1)[0] + ":", now, per_minute / 60.0, burst)
        return wait

    @abstractmethod
    def _insert(self, row: Correction, photo: bytes) -> bool:
        """Store the photo (once per digest) and the row in one atomic step; True if the row is new. When the row
        cannot be written, the photo is not left behind (unless another row uses it)."""

    @abstractmethod
    def _update_bucket(self, key: str, decide: BucketDecision) -> float:
        """Read bucket `key`, apply `decide` and write its new state, atomically across processes."""

    @abstractmethod
    def _prune_buckets(self, prefix: str, now: float, rate_per_second: float, burst: float) -> None:
        """Forget the buckets under `prefix` that have refilled to `burst`."""

    @abstractmethod
    def get(self, identifier: str) -> Correction | None: ...

    @abstractmethod
    def all(self, limit: int | None = None, offset: int = 0) -> list[Correction]:
        """Corrections in submission order (created, then id)."""

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def writable_problem(self) -> str | None:
        """Why a submission could not be stored now (a full disk, a read-only file system or database), or None.
        For /healthz: the details name the store, for the log, not for clients."""

    @abstractmethod
    def photo_bytes(self, correction: Correction) -> bytes:
        """The photo of `correction`, exactly as stored."""

    @abstractmethod
    def photo_source(self, correction: Correction) -> str:
        """Where the photo lives, for a dataset's `source` column: a file path, or the database and digest."""

    @abstractmethod
    def stored_photos(self) -> list[str]:
        """The digests of every stored photo, with or without a row (sorted)."""

    @abstractmethod
    def check(self) -> StoreCheck:
        """Consistency: rows without their photo (never expected), photos without a row, leftovers."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> CorrectionStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def is_postgres(location: str | Path) -> bool:
    return str(location).startswith(POSTGRES_SCHEMES)


def open_store(location: str | Path, *, create: bool = True) -> CorrectionStore:
    """`postgresql://USER@HOST[:PORT]/DB` (or postgres://) → PostgresStore; anything else is a folder →
    SqliteStore. The schema is created or migrated on opening. With create=False a folder that holds no
    store is an error (`cropstyle collected` reads, it never starts a store)."""
    if is_postgres(location):
        from cropstyle.web.store_postgres import PostgresStore

        return PostgresStore(str(location))
    from cropstyle.web.store_sqlite import DATABASE, SqliteStore

    folder = Path(location)
    if not create and not (folder / DATABASE).is_file():
        raise FileNotFoundError(
            f"{folder} is not a collection store: it has no {DATABASE} (see `cropstyle serve --store`)"
        )
    return SqliteStore(folder)
