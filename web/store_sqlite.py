"""`SqliteStore`: the embedded store (`--store DIR`): SQLite (WAL) for the rows, files for the photos.

DIR/corrections.sqlite3          the rows (table corrections) and the rate-limit buckets (rate_buckets)
DIR/photos/ab/<sha256>.<ext>     each uploaded photo once, named by the SHA-256 of its bytes
DIR/tmp/                         files being written (DIGEST.PID.RANDOM.part); never counted; a store that opens
                                 removes those whose process is gone (a crash's leftovers)

A submission writes the photo to tmp/, flushes and fsyncs it, renames it to its final name and fsyncs
the folder; only then is the row inserted, in one transaction (synchronous=FULL). A crash at any point
leaves either nothing, or a complete photo without a row (not counted; `check()` lists it), never a row
without its file or a half-written file under a final name. A row that fails to be written (an error, not a
crash) takes its photo with it, unless another row uses that photo.

Several processes on one machine may share DIR (`cropstyle serve --workers N`): SQLite locks the file,
each process waits up to 30 s for the others. The schema's version is SQLite's `user_version`; opening a
store applies the migrations it lacks (MIGRATIONS), in one transaction.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cropstyle.web.store import COLUMNS, BucketDecision, Correction, CorrectionStore, StoreCheck, StoreUnavailable

DATABASE = "corrections.sqlite3"
PHOTOS = "photos"
TMP = "tmp"
BUSY_TIMEOUT_S = 30

# Version N is MIGRATIONS[N - 1]. Version 1 is the store as it was before versions (IF NOT EXISTS: such a
# store, at user_version 0, takes it as it is). Version 3: the suggestion a correction started from (rows stored
# before it have none). A script's statements are split at ";": none in the comments.
MIGRATIONS = [
    """
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
    """,
    """
    CREATE TABLE rate_buckets (                -- the server's token buckets, shared by its processes
        key         TEXT PRIMARY KEY,          -- what is limited and for whom: "submit:ADDRESS", "auth:ADDRESS"
        tokens      REAL NOT NULL,
        updated     REAL NOT NULL              -- Unix time of the last update
    );
    """,
    """
    -- the suggestion the correction started from, {"aspect", "rank", "expected_iou"} as JSON, or NULL (no comment
    -- after the column: SQLite copies its text into the table's CREATE statement, where it would hide the ")")
    ALTER TABLE corrections ADD COLUMN suggestion TEXT
    """,
]

_SELECT = ", ".join(
    '"left"' if c == "left" else '"right"' if c == "right" else "path" if c == "extension" else c for c in COLUMNS
)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _writer_alive(temporary: Path) -> bool:
    """Whether the process that is writing `temporary` (DIGEST.PID.RANDOM.part) still runs: another worker's file
    in progress must survive this one opening the store; a dead process's is a crash's leftover."""
    parts = temporary.name.split(".")
    if len(parts) != 4 or not parts[1].isdigit() or int(parts[1]) == os.getpid():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


class SqliteStore(CorrectionStore):
    """One connection for the rows (synchronous=FULL) and one for the buckets (synchronous=NORMAL: a bucket
    needs no fsync), each behind a lock."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.location = str(self.root)
        self.photos = self.root / PHOTOS
        self.tmp = self.root / TMP
        self.photos.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp.iterdir():  # half-written files of a crashed process: never counted, removed
            if leftover.is_file() and not _writer_alive(leftover):
                leftover.unlink(missing_ok=True)
        self._lock = threading.Lock()
        self._db = self._connect("FULL")
        self._migrate()
        self._buckets_lock = threading.Lock()
        self._buckets_db = self._connect("NORMAL")

    def _connect(self, synchronous: str) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.root / DATABASE, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        return db

    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # one process migrates, the others wait and find it done
            try:
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version > len(MIGRATIONS):
                    raise RuntimeError(
                        f"the store's schema is version {version}, newer than this cropstyle "
                        f"({len(MIGRATIONS)}): upgrade cropstyle"
                    )
                for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                    for statement in filter(str.strip, script.split(";")):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {number}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock, self._buckets_lock:
            self._db.close()
            self._buckets_db.close()

    def _execute(self, query: str, parameters: tuple = ()) -> list[tuple]:
        try:
            with self._lock:
                return self._db.execute(query, parameters).fetchall()
        except sqlite3.OperationalError as error:  # locked past the busy timeout, disk full, ...
            raise StoreUnavailable(f"{self.location}: {error}") from error

    def _correction(self, row: tuple) -> Correction:
        values = list(row)
        values[2] = values[2].rsplit(".", 1)[-1]  # the file's extension
        return Correction(*values)

    def _relative_path(self, digest: str, extension: str) -> str:
        return f"{PHOTOS}/{digest[:2]}/{digest}.{extension}"

    def _write_photo(self, data: bytes, digest: str, extension: str) -> str:
        relative = self._relative_path(digest, extension)
        target = self.root / relative
        if target.exists() and target.stat().st_size == len(data):
            return relative  # content-addressed: the same bytes are there already (complete: renamed in whole)
        temporary = self.tmp / f"{digest}.{os.getpid()}.{uuid.uuid4().hex}.part"  # the writer's pid: see _writer_alive
        try:
            target.parent.mkdir(exist_ok=True)
            with open(temporary, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
            _fsync_dir(target.parent)
        except OSError as error:  # disk full, a read-only file system or folder: nothing left behind
            temporary.unlink(missing_ok=True)
            raise StoreUnavailable(f"{self.location} is not writable: {error}") from error
        return relative

    def writable_problem(self) -> str | None:
        try:  # what a submission does first: a file written and synced in tmp/ (a page, as a small photo takes)
            probe = self.tmp / f"writable.{os.getpid()}.{uuid.uuid4().hex}.part"
            try:
                with open(probe, "wb") as file:
                    file.write(b"\0" * 4096)
                    file.flush()
                    os.fsync(file.fileno())
            finally:
                probe.unlink(missing_ok=True)
        except OSError as error:
            return f"{self.location} is not writable: {error}"
        return None

    @contextmanager
    def _write_transaction(self) -> Iterator[sqlite3.Connection]:
        """The rows' connection in BEGIN IMMEDIATE (SQLite's write lock, every process's), committed at the end."""
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
        except sqlite3.OperationalError as error:  # locked past the busy timeout, disk full, ...
            raise StoreUnavailable(f"{self.location}: {error}") from error

    def _insert(self, row: Correction, photo: bytes) -> bool:
        relative = self._write_photo(photo, row.photo, row.extension)  # the file first, synced ...
        values = (row.id, row.photo, relative, *(getattr(row, c) for c in COLUMNS[3:]))
        try:
            with self._write_transaction() as db:  # ... then the row
                if not (self.root / relative).is_file():  # removed meanwhile by another row's failure (below)
                    self._write_photo(photo, row.photo, row.extension)
                return (
                    len(
                        db.execute(
                            f"INSERT OR IGNORE INTO corrections ({_SELECT}) "
                            f"VALUES ({', '.join('?' * len(COLUMNS))}) RETURNING id",
                            values,
                        ).fetchall()
                    )
                    == 1
                )
        except BaseException:
            self._remove_unused_photo(row.photo, relative)
            raise

    def _remove_unused_photo(self, digest: str, relative: str) -> None:
        """After a row could not be written: its photo goes too, unless a row uses it. Under the write lock, so no
        row of the same photo is being written meanwhile (that one finds the file gone and writes it again). When
        even that lock cannot be had, the photo stays: an orphan, listed by check(), never counted."""
        try:
            with self._write_transaction() as db:
                if not db.execute("SELECT 1 FROM corrections WHERE photo = ? LIMIT 1", (digest,)).fetchall():
                    (self.root / relative).unlink(missing_ok=True)
        except (StoreUnavailable, sqlite3.Error, OSError):
            pass

    def _update_bucket(self, key: str, decide: BucketDecision) -> float:
        try:
            with self._buckets_lock:
                db = self._buckets_db
                db.execute("BEGIN IMMEDIATE")  # the write lock: no other process reads this bucket meanwhile
                try:
                    state = db.execute("SELECT tokens, updated FROM rate_buckets WHERE key = ?", (key,)).fetchone()
                    new_state, wait = decide(state)
                    if new_state is not None:
                        db.execute(
                            "INSERT INTO rate_buckets (key, tokens, updated) VALUES (?, ?, ?) "
                            "ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, "
                            "updated = excluded.updated",
                            (key, *new_state),
                        )
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
        except sqlite3.OperationalError as error:
            raise StoreUnavailable(f"{self.location}: {error}") from error
        return wait

    def _prune_buckets(self, prefix: str, now: float, rate_per_second: float, burst: float) -> None:
        with self._buckets_lock:
            self._buckets_db.execute(
                "DELETE FROM rate_buckets WHERE key LIKE ? AND tokens + (? - updated) * ? >= ?",
                (prefix + "%", now, rate_per_second, burst),
            )

    def get(self, identifier: str) -> Correction | None:
        rows = self._execute(f"SELECT {_SELECT} FROM corrections WHERE id = ?", (identifier,))
        return self._correction(rows[0]) if rows else None

    def all(self, limit: int | None = None, offset: int = 0) -> list[Correction]:
        query = f"SELECT {_SELECT} FROM corrections ORDER BY created, id"
        parameters: tuple = ()
        if limit is not None:
            query += " LIMIT ? OFFSET ?"
            parameters = (limit, offset)
        return [self._correction(row) for row in self._execute(query, parameters)]

    def count(self) -> int:
        return self._execute("SELECT COUNT(*) FROM corrections")[0][0]

    def photo_file(self, correction: Correction) -> Path:
        return self.root / self._relative_path(correction.photo, correction.extension)

    def photo_bytes(self, correction: Correction) -> bytes:
        return self.photo_file(correction).read_bytes()

    def photo_source(self, correction: Correction) -> str:
        return str(self.photo_file(correction).resolve())

    def stored_photos(self) -> list[str]:
        return sorted(p.name.split(".", 1)[0] for p in self.photos.rglob("*") if p.is_file())

    def check(self) -> StoreCheck:
        rows = self._execute("SELECT id, path FROM corrections")
        referenced = {path for _, path in rows}
        missing = [identifier for identifier, path in rows if not (self.root / path).is_file()]
        files = {str(p.relative_to(self.root)) for p in self.photos.rglob("*") if p.is_file()}
        return StoreCheck(
            len(rows), missing, sorted(files - referenced), sorted(str(p) for p in self.tmp.iterdir() if p.is_file())
        )
