"""The collection server under load, and killed with SIGKILL in the middle of one (real uvicorn, real SQLite).

500 submissions from 20 concurrent clients on 127.0.0.1 are all stored; then the server is killed -9
while a second load runs and restarted on the same store: every acknowledged submission is there, every
row's file exists and decodes, and no partial file counts.
"""
from __future__ import annotations

import io
import sqlite3

import httpx
from PIL import Image

from cropstyle.web.store import DATABASE, CorrectionStore
from cropstyle.samples.load import ServerProcess, make_photos, run_load

CLIENTS = 20
SUBMISSIONS = 500


def _assert_consistent(store_dir, expected_ids) -> int:
    """Every acknowledged id has a row; every row's file exists and decodes; tmp/ holds nothing that counts."""
    with CorrectionStore(store_dir) as store:  # opening cleans tmp/ as a restarted server does
        check = store.check()
        rows = store.all()
        assert check.missing_files == [], "rows without their file"
        assert check.temporary_files == []
        ids = {row.id for row in rows}
        assert set(expected_ids) <= ids, f"{len(set(expected_ids) - ids)} acknowledged submissions were lost"
        for row in rows:
            data = store.photo_path(row).read_bytes()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
            assert len(data) > 0
        for orphan in check.orphan_files:  # a crash between file and row leaves a complete file, not counted
            with Image.open(store_dir / orphan) as image:
                image.load()
    with sqlite3.connect(store_dir / DATABASE) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    return len(rows)


def test_load_then_kill_9_and_restart(tmp_path):
    store = tmp_path / "store"
    first_photos = make_photos(SUBMISSIONS, seed=1)
    second_photos = make_photos(SUBMISSIONS, seed=2)

    server = ServerProcess(store, token="secret", rate_limit=0).start()
    try:
        first = run_load(server.url, first_photos, clients=CLIENTS)
        assert first.errors == []
        assert len(first.acknowledged) == SUBMISSIONS
        health = httpx.get(f"{server.url}/healthz").json()
        assert health["corrections"] == SUBMISSIONS
        print("load:", first.figures())

        # The second load: SIGKILL the server once 150 more submissions were acknowledged.
        second = run_load(server.url, second_photos, clients=CLIENTS, kill_after=150, on_kill=server.kill, timeout=10)
    finally:
        server.kill()
    assert second.errors == []
    assert len(second.acknowledged) >= 150
    assert second.failed_after_kill > 0, "the kill came too late to interrupt anything"

    acknowledged = set(first.acknowledged) | set(second.acknowledged)
    stored = _assert_consistent(store, acknowledged)
    assert SUBMISSIONS + len(second.acknowledged) <= stored <= 2 * SUBMISSIONS

    # The restarted server sees exactly that store, and takes submissions again.
    with ServerProcess(store, token="secret", rate_limit=0) as restarted:
        listing = httpx.get(f"{restarted.url}/api/corrections", params={"limit": 1000},
                            headers={"Authorization": "Bearer secret"}).json()
        assert listing["count"] == stored
        assert acknowledged <= {row["id"] for row in listing["corrections"]}
        resumed = run_load(restarted.url, second_photos[-20:], clients=4)
        assert resumed.errors == [] and resumed.sent == 20
