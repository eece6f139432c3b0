"""`PostgresStore`: the shared store (`--store postgresql://USER@HOST[:PORT]/DB`): rows and photos in PostgreSQL.

Tables (MIGRATIONS):
  photos(sha256, extension, data bytea)   each uploaded photo once, keyed by the SHA-256 of its bytes
  corrections(id, photo → photos, ...)    one row per correction, the same columns as the SQLite store
  rate_buckets(key, tokens, updated)      the server's token buckets (UNLOGGED: no WAL; a crash empties it)
  cropstyle_schema(version)               the schema's version

A submission is one transaction: the photo (INSERT … ON CONFLICT DO NOTHING: stored once) and its row
(the foreign key makes a row without its photo impossible). COMMIT returns only once PostgreSQL has made
it durable (synchronous_commit as the server sets it, on by default); only then does the API answer 201.

Opening a store creates or migrates the schema: the migrations it lacks, in one transaction, under an
advisory lock (several workers starting at once: one migrates, the others wait and find it done).

Connections: at most POOL_SIZE per process (`Connections`), idle ones kept for the next request. When an
operation fails on its connection (PostgreSQL restarted, or is down), every idle connection is dropped and
the operation is tried again on a new one every RETRY_INTERVAL_S (every operation here is idempotent), for
at most RECONNECT_WAIT_S: a restart of PostgreSQL costs the requests of that moment a short wait, not an
error, and the server reconnects by itself. Past that wait it raises StoreUnavailable (the API answers 503).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from cropstyle.web.store import COLUMNS, BucketDecision, Correction, CorrectionStore, StoreCheck, StoreUnavailable

POOL_SIZE = 8  # connections per server process (the threads that run the store's calls share them)
POOL_TIMEOUT_S = 10.0  # how long an operation waits for one of them (all busy) before a 503
CONNECT_TIMEOUT_S = 5
RECONNECT_WAIT_S = 5.0  # how long an operation keeps trying while PostgreSQL is unreachable
RETRY_INTERVAL_S = 0.2
SCHEMA_LOCK = 0x63726F70  # pg_advisory_xact_lock key for migrations ("crop")

# Version N is MIGRATIONS[N - 1]. Version 2: the suggestion a correction started from (rows stored before it
# have none).
MIGRATIONS = [
    """
    CREATE TABLE photos (
        sha256      text PRIMARY KEY,           -- of the photo's bytes
        extension   text NOT NULL,              -- jpg, png or webp
        data        bytea NOT NULL              -- the photo as stored (cut at the image's end)
    );
    ALTER TABLE photos ALTER COLUMN data SET STORAGE EXTERNAL;  -- out of line, not compressed (JPEG, PNG: already)
    CREATE TABLE corrections (
        id          text PRIMARY KEY,           -- sha256(photo sha256 + canonical label), first 32 hex digits
        photo       text NOT NULL REFERENCES photos (sha256),
        width       integer NOT NULL,           -- the photo's size as displayed (its EXIF orientation applied)
        height      integer NOT NULL,
        orientation integer NOT NULL,           -- the photo file's EXIF orientation (1 when it has none)
        "left"      double precision NOT NULL,  -- the corrected label, displayed frame of this photo
        top         double precision NOT NULL,
        "right"     double precision NOT NULL,
        bottom      double precision NOT NULL,
        angle       double precision NOT NULL,
        predicted   text,                       -- the model's label as JSON, same frame, or NULL
        model       text,                       -- the model version that predicted it, or NULL
        client      text,                       -- who sent it (the client address, validated)
        created     double precision NOT NULL   -- Unix time of the first submission
    );
    CREATE INDEX corrections_photo ON corrections (photo);
    CREATE INDEX corrections_order ON corrections (created, id);
    CREATE UNLOGGED TABLE rate_buckets (
        key         text PRIMARY KEY,           -- what is limited and for whom: "submit:ADDRESS", "auth:ADDRESS"
        tokens      double precision NOT NULL,
        updated     double precision NOT NULL   -- Unix time of the last update
    );
    """,
    """
    ALTER TABLE corrections ADD COLUMN suggestion text;  -- {"aspect", "rank", "expected_iou"} as JSON, or NULL
    """,
]

_ROW_COLUMNS = [c for c in COLUMNS if c != "extension"]  # the corrections table's own columns
_QUOTED = {"left": '"left"', "right": '"right"'}
_INSERT_COLUMNS = ", ".join(_QUOTED.get(c, c) for c in _ROW_COLUMNS)
_SELECT = ", ".join("p.extension" if c == "extension" else f"c.{_QUOTED.get(c, c)}" for c in COLUMNS)
_FROM = "corrections c JOIN photos p ON p.sha256 = c.photo"

T = TypeVar("T")


def redacted(url: str) -> str:
    """The URL without its password, in the user part or the query (for messages and the `source` column)."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "password"]
    if parts.password is None and len(query) == len(parse_qsl(parts.query, keep_blank_values=True)):
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc}" if user else netloc, query=urlencode(query)))


class Connections:
    """At most `size` connections to `url` in use at once, the idle ones kept (autocommit: each operation
    opens its own transaction)."""

    def __init__(self, url: str, size: int, location: str):
        self.url, self.location = url, location
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A connection inside a transaction, committed when the block ends (rolled back on an exception)."""
        if not self._slots.acquire(timeout=POOL_TIMEOUT_S):
            raise StoreUnavailable(f"{self.location}: all {POOL_SIZE} connections busy for {POOL_TIMEOUT_S:g} s")
        try:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                connection = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
            try:
                with connection.transaction():
                    yield connection
            finally:
                if (
                    connection.broken
                    or connection.closed
                    or connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
                ):
                    connection.close()
                else:
                    with self._lock:
                        self._idle.append(connection)
        finally:
            self._slots.release()

    def drop_idle(self) -> None:
        """Close the idle connections (after one broke: the server restarted, they are all broken)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class PostgresStore(CorrectionStore):
    def __init__(self, url: str):
        self.url = url
        self.location = redacted(url)
        try:
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as connection:
                self._migrate(connection)
        except psycopg.OperationalError as error:
            raise StoreUnavailable(f"cannot reach {self.location}: {_first_line(error)}") from error
        self._connections = Connections(url, POOL_SIZE, self.location)

    @staticmethod
    def _migrate(connection: psycopg.Connection) -> None:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            connection.execute("CREATE TABLE IF NOT EXISTS cropstyle_schema (version integer NOT NULL)")
            row = connection.execute("SELECT version FROM cropstyle_schema").fetchone()
            version = row[0] if row else 0
            if version > len(MIGRATIONS):
                raise RuntimeError(
                    f"the store's schema is version {version}, newer than this cropstyle "
                    f"({len(MIGRATIONS)}): upgrade cropstyle"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                connection.execute(script)
                connection.execute("DELETE FROM cropstyle_schema")
                connection.execute("INSERT INTO cropstyle_schema (version) VALUES (%s)", (number,))

    def close(self) -> None:
        self._connections.drop_idle()

    def _run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """`work` in one transaction, committed when it returns; tried again on a new connection while it fails
        on its connection, for at most RECONNECT_WAIT_S (every operation here is idempotent)."""
        deadline = time.monotonic() + RECONNECT_WAIT_S
        while True:
            try:
                with self._connections.transaction() as connection:
                    return work(connection)
            except psycopg.errors.ReadOnlySqlTransaction as error:  # a read-only database or a standby: no retry
                raise StoreUnavailable(f"{self.location} is not writable: {_first_line(error)}") from error
            except psycopg.OperationalError as error:  # unreachable, restarting, disk full (DiskFull)
                self._connections.drop_idle()
                if time.monotonic() + RETRY_INTERVAL_S > deadline:
                    raise StoreUnavailable(f"{self.location}: {_first_line(error)}") from error
                time.sleep(RETRY_INTERVAL_S)

    def writable_problem(self) -> str | None:
        def read_only(connection: psycopg.Connection) -> bool:
            return connection.execute(
                "SELECT current_setting('transaction_read_only') = 'on' OR pg_is_in_recovery()"
            ).fetchone()[0]

        return f"{self.location} is read only" if self._run(read_only) else None

    def _insert(self, row: Correction, photo: bytes) -> bool:
        values = tuple(getattr(row, c) for c in _ROW_COLUMNS)

        def work(connection: psycopg.Connection) -> bool:
            connection.execute(
                "INSERT INTO photos (sha256, extension, data) VALUES (%s, %s, %s) ON CONFLICT (sha256) DO NOTHING",
                (row.photo, row.extension, photo),
            )
            inserted = connection.execute(
                f"INSERT INTO corrections ({_INSERT_COLUMNS}) VALUES ({', '.join(['%s'] * len(values))}) "
                "ON CONFLICT (id) DO NOTHING RETURNING id",
                values,
            ).fetchone()
            return inserted is not None

        return self._run(work)

    def _update_bucket(self, key: str, decide: BucketDecision) -> float:
        def work(connection: psycopg.Connection) -> float:
            connection.execute("SET LOCAL synchronous_commit TO off")  # a bucket needs no durable commit
            # A first request creates the bucket; of two concurrent first requests, the second waits for the
            # first's commit here, finds the row and goes on below (never two full buckets for one key).
            fresh_state, fresh_wait = decide(None)
            if (
                fresh_state is not None
                and connection.execute(
                    "INSERT INTO rate_buckets (key, tokens, updated) VALUES (%s, %s, %s) "
                    "ON CONFLICT (key) DO NOTHING RETURNING key",
                    (key, *fresh_state),
                ).fetchone()
            ):
                return fresh_wait
            state = connection.execute(
                "SELECT tokens, updated FROM rate_buckets WHERE key = %s FOR UPDATE", (key,)
            ).fetchone()
            new_state, wait = decide(state)
            if new_state is not None:
                connection.execute(
                    "UPDATE rate_buckets SET tokens = %s, updated = %s WHERE key = %s", (*new_state, key)
                )
            return wait

        return self._run(work)

    def _prune_buckets(self, prefix: str, now: float, rate_per_second: float, burst: float) -> None:
        self._run(
            lambda connection: connection.execute(
                "DELETE FROM rate_buckets WHERE key LIKE %s AND tokens + (%s - updated) * %s >= %s",
                (prefix + "%", now, rate_per_second, burst),
            )
        )

    def _rows(self, query: str, parameters: tuple = ()) -> list[tuple]:
        return self._run(lambda connection: connection.execute(query, parameters).fetchall())

    def get(self, identifier: str) -> Correction | None:
        rows = self._rows(f"SELECT {_SELECT} FROM {_FROM} WHERE c.id = %s", (identifier,))
        return Correction(*rows[0]) if rows else None

    def all(self, limit: int | None = None, offset: int = 0) -> list[Correction]:
        query = f"SELECT {_SELECT} FROM {_FROM} ORDER BY c.created, c.id"
        parameters: tuple = ()
        if limit is not None:
            query += " LIMIT %s OFFSET %s"
            parameters = (limit, offset)
        return [Correction(*row) for row in self._rows(query, parameters)]

    def count(self) -> int:
        return self._rows("SELECT COUNT(*) FROM corrections")[0][0]

    def photo_bytes(self, correction: Correction) -> bytes:
        def work(connection: psycopg.Connection) -> bytes:
            with connection.cursor(binary=True) as cursor:  # bytea in binary: no hex text to parse
                row = cursor.execute("SELECT data FROM photos WHERE sha256 = %s", (correction.photo,)).fetchone()
            if row is None:
                raise FileNotFoundError(f"{self.location}: photo {correction.photo} is missing")
            return bytes(row[0])

        return self._run(work)

    def photo_source(self, correction: Correction) -> str:
        return f"{self.location}#photos/{correction.photo}.{correction.extension}"

    def stored_photos(self) -> list[str]:
        return [row[0] for row in self._rows("SELECT sha256 FROM photos ORDER BY sha256")]

    def check(self) -> StoreCheck:
        rows = self.count()
        missing = [
            r[0]
            for r in self._rows(
                "SELECT c.id FROM corrections c LEFT JOIN photos p ON p.sha256 = c.photo "
                "WHERE p.sha256 IS NULL ORDER BY c.id"
            )
        ]
        orphans = [
            r[0]
            for r in self._rows(
                "SELECT sha256 FROM photos p WHERE NOT EXISTS "
                "(SELECT 1 FROM corrections c WHERE c.photo = p.sha256) ORDER BY sha256"
            )
        ]
        return StoreCheck(rows, missing, orphans, [])


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
