"""The collection server under load and faults, against both stores (real uvicorn, real SQLite, real PostgreSQL).

- 500 submissions from 20 concurrent clients (each from its own loopback address) are all stored; then the
  server is killed -9 while a second load runs and restarted on the same store: every acknowledged
  submission is there, every row's photo decodes, no partial file counts.
- 4 workers share the store while one worker is killed -9 mid-load and (PostgreSQL) the database itself is
  restarted with `pg_ctl restart -m immediate`: every acknowledged submission is stored with a photo that
  decodes, nothing that failed was answered 201, and the same server processes take submissions again.
- PostgreSQL down: a submission is answered 503 (never 201); back up, the server stores again by itself.

bench/web.py runs the same at full scale (2,000 submissions, 50 clients) and reports the figures.
"""

from __future__ import annotations

import io
import sqlite3
import time

import httpx
from PIL import Image

from cropstyle.web.store import open_store
from cropstyle.web.store_sqlite import DATABASE
from tests.load import ServerProcess, http_client, make_photos, photo_bytes, run_load, submit

CLIENTS = 20
SUBMISSIONS = 500
GOOD = {"left": 0.1, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0.0}


def _assert_consistent(location, expected_ids) -> int:
    """Every acknowledged id has a row; every row's photo exists and decodes; nothing half-written counts."""
    with open_store(location) as store:  # opening cleans tmp/ as a restarted server does
        check = store.check()
        rows = store.all()
        assert check.missing_photos == [], "rows without their photo"
        assert check.temporary_files == []
        ids = {row.id for row in rows}
        assert set(expected_ids) <= ids, f"{len(set(expected_ids) - ids)} acknowledged submissions were lost"
        for row in rows:
            with Image.open(io.BytesIO(store.photo_bytes(row))) as image:
                image.load()
    if not isinstance(location, str):
        with sqlite3.connect(location / DATABASE) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    return len(rows)


def test_load_then_kill_9_and_restart(location):
    first_photos = make_photos(SUBMISSIONS, seed=1)
    second_photos = make_photos(SUBMISSIONS, seed=2)

    server = ServerProcess(location, token="secret", rate_limit=0).start()
    try:
        first = run_load(server.url, first_photos, clients=CLIENTS)
        assert first.errors == []
        assert len(first.acknowledged) == SUBMISSIONS
        health = httpx.get(f"{server.url}/healthz").json()
        assert health["corrections"] == SUBMISSIONS
        print("load:", first.figures())

        # The second load: SIGKILL the server once 150 more submissions were acknowledged.
        second = run_load(server.url, second_photos, clients=CLIENTS, faults=[(150, server.kill)], timeout=10)
    finally:
        server.kill()
    assert second.errors == []
    assert len(second.acknowledged) >= 150
    assert sum(second.failed_during_faults.values()) > 0, "the kill came too late to interrupt anything"

    acknowledged = set(first.acknowledged) | set(second.acknowledged)
    stored = _assert_consistent(location, acknowledged)
    assert SUBMISSIONS + len(second.acknowledged) <= stored <= 2 * SUBMISSIONS

    # The restarted server sees exactly that store, and takes submissions again.
    with ServerProcess(location, token="secret", rate_limit=0) as restarted:
        listing = httpx.get(
            f"{restarted.url}/api/corrections", params={"limit": 1000}, headers={"Authorization": "Bearer secret"}
        ).json()
        assert listing["count"] == stored
        assert acknowledged <= {row["id"] for row in listing["corrections"]}
        resumed = run_load(restarted.url, second_photos[-20:], clients=4)
        assert resumed.errors == [] and resumed.sent == 20


def test_workers_share_the_store_through_faults(location, request):
    """4 workers, 20 clients, a rate limit each client stays under (so the shared buckets are exercised on
    every request): a worker killed -9 at 100 acknowledged, PostgreSQL restarted immediately at 250."""
    photos = make_photos(400, seed=3)
    postgres = request.getfixturevalue("postgres") if isinstance(location, str) else None
    with ServerProcess(location, rate_limit=600, workers=4) as server:
        workers_before = server.worker_pids()
        killed = []

        def kill_worker():
            killed.append(server.kill_worker())

        faults = [(100, kill_worker)]
        if postgres is not None:
            postmaster = postgres.postmaster_pid()
            faults.append((250, postgres.restart_immediately))
        load = run_load(server.url, photos, clients=CLIENTS, faults=faults, timeout=30)
        print("workers under faults:", load.figures(), load.faults)

        assert load.errors == []  # every failure was a 5xx or a cut connection, during the faults
        assert len(load.fault_done_at) == len(faults)
        assert load.fault_done_at[-1] < len(load.acknowledged), "nothing was acknowledged after the last fault"
        assert len(load.acknowledged) + sum(load.failed_during_faults.values()) == len(photos)
        # The killed worker held a submission of ours in flight (kill_worker makes sure): cut, never a 201.
        assert killed[0][1] == b"", killed[0][1][:200]
        if postgres is not None:
            assert postgres.postmaster_pid() != postmaster

        # The same server (uvicorn replaced the killed worker) takes submissions again, from every client.
        deadline = time.monotonic() + 60
        killed_pid = killed[0][0]
        while time.monotonic() < deadline and (len(server.worker_pids()) != 4 or killed_pid in server.worker_pids()):
            time.sleep(0.2)
        assert (
            len(server.worker_pids()) == 4 and killed_pid in workers_before and killed_pid not in server.worker_pids()
        )
        again = run_load(server.url, make_photos(40, seed=4), clients=CLIENTS)
        assert again.errors == [] and len(again.acknowledged) == 40

    stored = _assert_consistent(location, set(load.acknowledged) | set(again.acknowledged))
    assert len(load.acknowledged) + 40 <= stored <= len(photos) + 40


def test_postgres_down_is_503_and_the_server_reconnects(postgres, tmp_path):
    url = postgres.database()
    with ServerProcess(url, rate_limit=0) as server, http_client() as client:
        assert submit(client, server.url, photo_bytes(120, 90, seed=30), GOOD).status_code == 201
        postgres.stop_server()
        try:
            refused = submit(client, server.url, photo_bytes(120, 90, seed=31), GOOD)
            assert refused.status_code == 503, refused.text
            assert "nothing was stored" in refused.json()["error"] and refused.headers["retry-after"] == "1"
            assert client.get(f"{server.url}/healthz").status_code == 503
        finally:
            postgres.start_server()
        accepted = submit(client, server.url, photo_bytes(120, 90, seed=31), GOOD)
        assert accepted.status_code == 201, accepted.text
        assert client.get(f"{server.url}/healthz").json()["corrections"] == 2
