"""The suggestion a correction started from (the page's ranked alternatives per aspect ratio), in both stores:
stored as canonical JSON, shown parsed, added to an existing store by a migration that keeps its rows, and
counted by `cropstyle collected`. The API's side is in tests/test_web_api.py."""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter

import psycopg
import pytest

from cropstyle.cli import main
from cropstyle.extractor.geometry import Crop
from cropstyle.web.collected import collected, suggestion_ranks, suggestions_line
from cropstyle.web.store import open_store
from cropstyle.web.store_postgres import MIGRATIONS as POSTGRES_MIGRATIONS
from cropstyle.web.store_sqlite import DATABASE
from cropstyle.web.store_sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from tests.load import photo_bytes

CROP = Crop(0.1, 0.1, 0.9, 0.9, 0.0)
SUGGESTION = {"rank": 2, "expected_iou": 0.625, "aspect": "4:5"}  # keys in another order than stored
CANONICAL = '{"aspect": "4:5", "expected_iou": 0.625, "rank": 2}'


def test_suggestion_round_trip(location):
    with open_store(location) as store:
        with_it, _ = store.add(
            photo_bytes(200, 100, seed=1), "jpg", 200, 100, 1, CROP, CROP, "m", suggestion=SUGGESTION
        )
        without, _ = store.add(photo_bytes(200, 100, seed=2), "jpg", 200, 100, 1, CROP)
    with open_store(location) as store:  # reopened: as stored, not as remembered
        row, other = store.get(with_it), store.get(without)
        assert row.suggestion == CANONICAL
        assert row.public()["suggestion"] == {"aspect": "4:5", "rank": 2, "expected_iou": 0.625}
        assert (other.suggestion, other.public()["suggestion"]) == (None, None)
        assert [r.suggestion for r in store.all()] == [CANONICAL, None]
        assert (row.crop, row.model, row.width) == (CROP, "m", 200)  # the columns around it in place


def _photo_path(digest: str) -> str:
    return f"photos/{digest[:2]}/{digest}.jpg"


def test_sqlite_store_of_version_2_is_migrated(tmp_path):
    """A store written by the previous schema (version 2: no suggestion column) opens, gains the column, keeps its
    row (no suggestion) and takes new rows with one."""
    photo = photo_bytes(120, 80, seed=3)
    digest = hashlib.sha256(photo).hexdigest()
    (tmp_path / _photo_path(digest)).parent.mkdir(parents=True)
    (tmp_path / _photo_path(digest)).write_bytes(photo)
    with sqlite3.connect(tmp_path / DATABASE) as db:  # what the previous code's _migrate did, up to version 2
        for number, script in enumerate(SQLITE_MIGRATIONS[:2], start=1):
            for statement in filter(str.strip, script.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
        db.execute(
            'INSERT INTO corrections (id, photo, path, width, height, orientation, "left", top, "right", bottom, '
            "angle, predicted, model, client, created) VALUES ('old', ?, ?, 120, 80, 1, 0.1, 0.1, 0.9, 0.9, 0, "
            "NULL, 'm0', '127.0.0.1', 1)",
            (digest, _photo_path(digest)),
        )
    with open_store(tmp_path) as store:
        old = store.get("old")
        assert (old.suggestion, old.model, old.extension, old.crop) == (None, "m0", "jpg", CROP)
        assert store.photo_bytes(old) == photo
        new, created = store.add(photo_bytes(120, 80, seed=4), "jpg", 120, 80, 1, CROP, suggestion=SUGGESTION)
        assert created and store.get(new).suggestion == CANONICAL
        assert [r.id for r in store.all()][0] == "old" and store.count() == 2
        assert store.check().missing_photos == []
    with sqlite3.connect(tmp_path / DATABASE) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(SQLITE_MIGRATIONS) == 3


def test_postgres_store_of_version_1_is_migrated(postgres):
    """The same for PostgreSQL: a database at schema version 1 (no suggestion column)."""
    url = postgres.database()
    photo = photo_bytes(120, 80, seed=5)
    digest = hashlib.sha256(photo).hexdigest()
    with psycopg.connect(url) as connection:  # what the previous code's _migrate did, up to version 1
        connection.execute("CREATE TABLE cropstyle_schema (version integer NOT NULL)")
        connection.execute(POSTGRES_MIGRATIONS[0])
        connection.execute("INSERT INTO cropstyle_schema (version) VALUES (1)")
        connection.execute("INSERT INTO photos (sha256, extension, data) VALUES (%s, 'jpg', %s)", (digest, photo))
        connection.execute(
            'INSERT INTO corrections (id, photo, width, height, orientation, "left", top, "right", bottom, angle, '
            "predicted, model, client, created) VALUES ('old', %s, 120, 80, 1, 0.1, 0.1, 0.9, 0.9, 0, NULL, 'm0', "
            "'127.0.0.1', 1)",
            (digest,),
        )
    with open_store(url) as store:
        old = store.get("old")
        assert (old.suggestion, old.model, old.extension, old.crop) == (None, "m0", "jpg", CROP)
        assert store.photo_bytes(old) == photo
        new, created = store.add(photo_bytes(120, 80, seed=6), "jpg", 120, 80, 1, CROP, suggestion=SUGGESTION)
        assert created and store.get(new).suggestion == CANONICAL
        assert [r.id for r in store.all()][0] == "old" and store.count() == 2
    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT version FROM cropstyle_schema").fetchall() == [(len(POSTGRES_MIGRATIONS),)]
        assert len(POSTGRES_MIGRATIONS) == 2


def _suggestion(aspect: str, rank: int, expected: float | None = 0.5) -> dict:
    return {"aspect": aspect, "rank": rank, "expected_iou": expected}


def test_collected_reports_the_suggestions(location, tmp_path, capsys):
    with open_store(location) as store:
        for seed, suggestion in enumerate(
            [
                _suggestion("free", 1, None),
                _suggestion("4:5", 1),
                _suggestion("4:5", 2, 0.31),
                _suggestion("1.91:1", 1),
                None,  # sent without a model
            ]
        ):
            store.add(photo_bytes(160, 120, seed=10 + seed), "jpg", 160, 120, 1, CROP, suggestion=suggestion)
        assert suggestion_ranks(store.all()) == {1: 3, 2: 1}
    line = "suggestions: 4 corrections started from a ranked suggestion: rank 1 3, rank 2 1, rank 3 0"
    summary = collected(location, tmp_path / "dataset", progress=False)
    assert summary.written == 5
    assert summary.report().splitlines()[-1] == line
    # The command prints it after what it printed before.
    assert main(["collected", str(location), "--out", str(tmp_path / "again")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-2:] == [f"{tmp_path / 'again'}/labels.csv now holds 5 examples", line]


@pytest.mark.parametrize(
    "ranks,line",
    [
        ({}, "suggestions: none recorded"),
        ({1: 1}, "suggestions: 1 correction started from a ranked suggestion: rank 1 1, rank 2 0, rank 3 0"),
        ({3: 2, 1: 9}, "suggestions: 11 corrections started from a ranked suggestion: rank 1 9, rank 2 0, rank 3 2"),
    ],
)
def test_suggestions_line(ranks, line):
    assert suggestions_line(Counter(ranks)) == line
