"""The collection store on its own, both implementations through one interface: idempotent, content-addressed,
atomic, its schema migrated, its rate buckets shared by every process, and what a crash can and cannot leave."""

from __future__ import annotations

import sqlite3
import subprocess
import threading

import psycopg
import pytest

from cropstyle.extractor.geometry import Crop
from cropstyle.web.store import CorrectionStore, open_store
from cropstyle.web.store_postgres import MIGRATIONS as POSTGRES_MIGRATIONS
from cropstyle.web.store_sqlite import DATABASE
from cropstyle.web.store_sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from tests.load import photo_bytes

CROP = Crop(0.1, 0.1, 0.9, 0.9, 0.0)


def test_add_is_idempotent_and_content_addressed(location):
    photo = photo_bytes(200, 100, seed=1)
    with open_store(location) as store:
        assert isinstance(store, CorrectionStore)
        first, created = store.add(photo, "jpg", 200, 100, 1, CROP, predicted=CROP, model="m", client="127.0.0.1")
        again, created_again = store.add(photo, "jpg", 200, 100, 1, CROP)
        other, _ = store.add(photo, "jpg", 200, 100, 1, Crop(0.2, 0.1, 0.9, 0.9, 0.0))
        assert (created, created_again, first == again, first != other) == (True, False, True, True)
        assert store.count() == 2
        assert len(store.stored_photos()) == 1  # one photo for both corrections
        row = store.get(first)
        assert store.photo_bytes(row) == photo
        assert (row.extension, row.width, row.height, row.crop, row.model, row.client) == (
            "jpg",
            200,
            100,
            CROP,
            "m",
            "127.0.0.1",
        )
        assert [r.id for r in store.all()] == [first, other]  # submission order
        assert [r.id for r in store.all(limit=1, offset=1)] == [other]
        check = store.check()
        assert (check.rows, check.missing_photos, check.orphan_photos) == (2, [], [])
    with open_store(location) as store:  # reopened (migrations already applied): the same rows
        assert store.count() == 2


def test_orphan_photos_are_listed_never_counted(location):
    """A crash between photo and row leaves a complete photo without a row: listed, not a correction."""
    with open_store(location) as store:
        store.add(photo_bytes(200, 100, seed=2), "jpg", 200, 100, 1, CROP)
    orphan = "ab" + "0" * 62
    if isinstance(location, str):
        with psycopg.connect(location) as connection:
            connection.execute(
                "INSERT INTO photos (sha256, extension, data) VALUES (%s, 'jpg', %s)",
                (orphan, photo_bytes(64, 64, seed=3)),
            )
    else:
        path = location / "photos" / "ab" / f"{orphan}.jpg"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(photo_bytes(64, 64, seed=3))
    with open_store(location) as store:
        check = store.check()
        assert check.rows == store.count() == 1
        assert len(check.orphan_photos) == 1 and orphan in check.orphan_photos[0]
        assert check.missing_photos == []


def test_sqlite_crash_leftovers_are_removed(tmp_path):
    """A crash while writing leaves a file in tmp/: removed when the store opens, never counted. A file that
    another live process (a worker sharing the store) is writing is left alone."""
    with open_store(tmp_path) as store:
        store.add(photo_bytes(200, 100, seed=2), "jpg", 200, 100, 1, CROP)
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        finished = subprocess.Popen(["true"])
        finished.wait()  # its pid is gone
        dead = tmp_path / "tmp" / f"{'a' * 64}.{finished.pid}.0.part"
        dead.write_bytes(b"\xff\xd8 half a jpeg")
        (tmp_path / "tmp" / "deadbeef.part").write_bytes(b"\xff\xd8 half a jpeg")
        alive = tmp_path / "tmp" / f"{'b' * 64}.{sleeper.pid}.0.part"
        alive.write_bytes(b"\xff\xd8 being written")
        with open_store(tmp_path) as store:
            assert sorted(p.name for p in (tmp_path / "tmp").iterdir()) == [alive.name]
            assert store.count() == 1 and store.check().rows == 1
    finally:
        sleeper.kill()
        sleeper.wait()
    with sqlite3.connect(tmp_path / DATABASE) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(SQLITE_MIGRATIONS)


def test_sqlite_store_from_before_versions_is_migrated(tmp_path):
    """A store written before schema versions (user_version 0, no rate_buckets) opens with its rows kept."""
    with sqlite3.connect(tmp_path / DATABASE) as db:
        db.executescript(SQLITE_MIGRATIONS[0])
        db.execute(
            "INSERT INTO corrections VALUES ('i', 'p', 'photos/p.jpg', 1, 1, 1, 0, 0, 1, 1, 0, NULL, NULL, NULL, 0)"
        )
    with open_store(tmp_path) as store:
        assert store.count() == 1
        assert store.take("submit:127.0.0.1", 1, 1) == 0.0  # the bucket table exists now
    with sqlite3.connect(tmp_path / DATABASE) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(SQLITE_MIGRATIONS)


def test_postgres_schema_versioned_and_a_row_needs_its_photo(postgres):
    url = postgres.database()
    with open_store(url) as store:
        store.add(photo_bytes(80, 60, seed=4), "jpg", 80, 60, 1, CROP)
    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT version FROM cropstyle_schema").fetchall() == [(len(POSTGRES_MIGRATIONS),)]
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            connection.execute(
                'INSERT INTO corrections (id, photo, width, height, orientation, "left", top, '
                '"right", bottom, angle, created) '
                "VALUES ('x', 'no-such-photo', 1, 1, 1, 0, 0, 1, 1, 0, 0)"
            )


def test_postgres_unreachable_is_one_clear_error(postgres):
    from cropstyle.web.store import StoreUnavailable
    from tests.load import free_port

    with pytest.raises(StoreUnavailable, match="cannot reach postgresql://nobody@127.0.0.1"):
        open_store(f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none")
    with pytest.raises(StoreUnavailable) as caught:
        open_store(f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none")
    assert "secret" not in str(caught.value)


def test_rate_buckets_are_shared_by_every_store_on_the_same_data(location):
    """Two store objects (two server processes) on one store: one bucket. 20 concurrent first requests for
    the same key with a burst of 3 take exactly 3 tokens, whichever process they reach."""
    stores = [open_store(location), open_store(location)]
    try:
        answers = []
        lock = threading.Lock()

        def ask(store):
            wait = store.take("submit:192.0.2.1", 1, 3)
            with lock:
                answers.append(wait)

        threads = [threading.Thread(target=ask, args=(stores[i % 2],)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(wait == 0.0 for wait in answers) == 3
        assert all(0 < wait <= 60 for wait in answers if wait)
        # Another key has its own bucket; cost 0 only looks.
        assert stores[0].take("submit:192.0.2.2", 1, 3) == 0.0
        assert stores[1].take("auth:192.0.2.1", 1, 1, cost=0) == 0.0
        assert stores[1].take("auth:192.0.2.1", 1, 1, cost=0) == 0.0
        assert stores[0].take("auth:192.0.2.1", 1, 1) == 0.0
        assert stores[1].take("auth:192.0.2.1", 1, 1, cost=0) > 0
    finally:
        for store in stores:
            store.close()
