"""What a hostile client found in the collection server, second round (issue 26), each tried on a real server process:
labels that crash a parser, an offset past 64 bits, an empty token, a second X-Forwarded-For line, the layers
beneath the routes answering in plain text without the security headers, store details in 503s, secrets in the
process list, a Host header with a name for a port, hidden files in the model folder. (The photo uploads' items
are in tests/test_web_uploads.py.) Where a store takes part, on both stores."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROJECT, stored_rows
from tests.load import HOST, ServerProcess, http_client, photo_bytes, submit

GOOD = {"left": 0.1, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0.0}
TOKEN = "a-token-nobody-guesses"
SECURITY = (
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "cross-origin-embedder-policy",
    "cross-origin-resource-policy",
)


def _raw(port: int, request: bytes, timeout: float = 15) -> tuple[int, dict[str, str], bytes]:
    """Send `request` as it is on one connection; the status, headers and body of the answer."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        if request:
            sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def _assert_json_error(status: int, headers: dict[str, str], body: bytes, expected: int) -> str:
    assert status == expected, body
    assert headers["content-type"] == "application/json"
    assert all(name in headers for name in SECURITY), headers
    return json.loads(body)["error"]


# --- 1. Labels that crashed the parser: 400/422 JSON, nothing stored ------------------------------------------

HUGE = "9" * 400
NESTED = "[" * 15_000  # the field's limit is 16 KB: unclosed, as the probe sent it
LABELS = [
    (
        "crop",
        f'{{"left": {HUGE}, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0}}',
        422,
        "`crop`: left must be finite numbers",
    ),
    (
        "predicted",
        f'{{"left": 0.1, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": -{HUGE}}}',
        422,
        "`predicted`: angle must be finite numbers",
    ),
    ("crop", NESTED, 400, "`crop` is nested too deep: a label is one flat object"),
    ("predicted", '{"a":' * 1_500 + "1" + "}" * 1_500, 400, "`predicted` is nested too deep"),
    ("crop", '{"left": [0.1], "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0}', 400, "`crop` is nested too deep"),
    (
        "crop",
        '{"\\ud800": 1, "left": 0.1, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0}',
        400,
        "`crop` has unknown keys: \ud800",
    ),
]


def test_labels_that_crashed_the_parser_are_refused(location):
    with ServerProcess(location, rate_limit=0) as server, http_client() as client:
        for field, text, status, message in LABELS:
            extra = {"predicted": text} if field == "predicted" else {}
            data = {"crop": text if field == "crop" else json.dumps(GOOD), **extra}
            answer = client.post(
                f"{server.url}/api/corrections", data=data, files={"photo": ("p.jpg", photo_bytes(120, 90, seed=1))}
            )
            assert answer.status_code == status, (field, text[:40], answer.text[:300])
            assert answer.headers["content-type"] == "application/json"
            assert answer.json()["error"].startswith(message), answer.json()
        assert client.get(f"{server.url}/healthz").json()["corrections"] == 0
    assert stored_rows(location) == []


# --- 3. Offsets past 64 bits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offset, status",
    [
        ("9223372036854775808", 400),
        ("4611686018427387905", 400),
        ("-1", 400),
        ("4611686018427387904", 200),
        ("0", 200),
        ("9" * 5000, 400),
    ],
)
def test_offsets_beyond_the_stores_integers_are_refused(location, offset, status):
    with ServerProcess(location, token=TOKEN) as server, http_client() as client:
        answer = client.get(
            f"{server.url}/api/corrections", params={"offset": offset}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert answer.status_code == status, answer.text
    if status == 200:
        assert answer.json() == {"count": 0, "corrections": []}
    else:
        assert "offset" in answer.json()["error"]


# --- 7. An empty token; 12. the token and the password out of the process list --------------------------------


def _serve(arguments: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cropstyle", "serve", "--port", "9", *arguments],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("how", ["argument", "file", "variable", "blank file"])
def test_an_empty_token_is_refused_at_start(tmp_path, how):
    token_file = tmp_path / "token"
    token_file.write_text("\n" if how == "file" else "  \n")
    arguments = {
        "argument": ["--token", ""],
        "file": ["--token-file", str(token_file)],
        "variable": [],
        "blank file": ["--token-file", str(token_file)],
    }[how]
    done = _serve(
        ["--store", str(tmp_path / "store"), *arguments], {"CROPSTYLE_TOKEN": ""} if how == "variable" else None
    )
    assert done.returncode == 2
    assert done.stderr == (
        "cropstyle: the token is empty: anyone could read the corrections; give a token or none at all\n"
    )
    assert not (tmp_path / "store").exists()


def test_a_token_given_twice_is_refused(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    done = _serve(["--store", str(tmp_path / "store"), "--token-file", str(token_file)], {"CROPSTYLE_TOKEN": TOKEN})
    assert done.returncode == 2
    assert done.stderr == "cropstyle: the token is given twice (--token-file and CROPSTYLE_TOKEN): give it once\n"


def _command_lines(server: ServerProcess) -> list[bytes]:
    pids = {server.process.pid, *server.worker_pids()}
    return [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in sorted(pids)]


@pytest.mark.parametrize("source", ["file", "variable"])
def test_the_token_stays_out_of_the_process_list(tmp_path, source):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    options = ["--token-file", str(token_file)] if source == "file" else []
    env = {**os.environ, "CROPSTYLE_TOKEN": TOKEN} if source == "variable" else None
    with ServerProcess(tmp_path / "store", workers=2, options=options, env=env) as server, http_client() as client:
        lines = _command_lines(server)
        refused = client.get(f"{server.url}/api/corrections")
        accepted = client.get(f"{server.url}/api/corrections", headers={"Authorization": f"Bearer {TOKEN}"})
    assert len(lines) == 3 and not any(TOKEN.encode() in line for line in lines)
    assert refused.status_code == 401 and accepted.status_code == 200


def test_a_password_in_the_store_url_is_warned_about(postgres, tmp_path):
    """libpq reads PGPASSWORD and ~/.pgpass: the URL needs no password, and one in it is shown in `ps`."""
    plain = postgres.database()
    url = plain.replace("://cropstyle@", "://cropstyle:not-so-secret@", 1)
    assert url != plain
    with ServerProcess(url, log=tmp_path / "server.log") as server:
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert (
        "the --store URL holds a password, which the process list shows: give it in PGPASSWORD or ~/.pgpass"
        in (tmp_path / "server.log").read_text()
    )


# --- 8. Repeated X-Forwarded-For lines: one list, in order -----------------------------------------------------


def test_a_second_forwarded_for_line_is_the_proxys(location):
    """Behind --trusted-proxy 127.0.0.1, the client writes its own X-Forwarded-For line (rotated each time) and
    the proxy appends a second one naming the client: the rate limit keys on the proxy's, 1 of 10 accepted."""
    with (
        ServerProcess(location, rate_limit=1, options=["--trusted-proxy", "127.0.0.1"]) as server,
        http_client("127.0.0.1") as proxy,
    ):
        codes = [
            proxy.post(
                f"{server.url}/api/corrections",
                headers=[("X-Forwarded-For", f"203.0.113.{i}"), ("X-Forwarded-For", "198.51.100.7")],
                files={"photo": ("p.jpg", photo_bytes(120, 90, seed=40 + i))},
                data={"crop": json.dumps(GOOD)},
            ).status_code
            for i in range(10)
        ]
    assert codes == [201] + [429] * 9
    assert [row.client for row in stored_rows(location)] == ["198.51.100.7"]


# --- 10. The layers beneath the routes: JSON, with the security headers -------------------------------------


def test_the_http_parsers_400_is_json_with_the_security_headers(tmp_path):
    with ServerProcess(tmp_path / "store") as server:
        answer = _raw(server.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Name: x\r\n\r\n")
    assert _assert_json_error(*answer, 400) == "not a valid HTTP/1.1 request"


def test_the_header_deadlines_408_is_json_with_the_security_headers(tmp_path):
    with ServerProcess(tmp_path / "store", options=["--header-timeout", "1"]) as server:
        answer = _raw(server.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the head never ends
    assert _assert_json_error(*answer, 408) == "the request's headers did not arrive within 1 s"


def test_the_connection_limits_503_is_json_with_the_security_headers(tmp_path):
    with ServerProcess(tmp_path / "store", options=["--max-connections", "3"]) as server:
        held = [httpx.Client(timeout=10) for _ in range(3)]  # each keeps its connection open once answered
        try:
            assert [client.get(f"{server.url}/healthz").status_code for client in held] == [200] * 3
            answer = _raw(server.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            # The connections under the limit go on being served.
            assert [client.get(f"{server.url}/healthz").status_code for client in held] == [200] * 3
        finally:
            for client in held:
                client.close()
        with http_client() as client:  # once they are closed, new connections are served
            codes = []
            for _ in range(50):
                codes.append(client.get(f"{server.url}/healthz", headers={"Connection": "close"}).status_code)
                if codes[-1] == 200:
                    break
                time.sleep(0.1)  # the server notices the closed connections
            assert codes[-1] == 200, codes
    assert _assert_json_error(*answer, 503) == "too many connections: try again in a moment"
    assert answer[1]["retry-after"] == "1"


def test_an_internal_error_is_json_with_the_security_headers(tmp_path):
    """A store whose database file was overwritten while the server runs: not a 503 (the store answers, with
    nonsense), an internal error, answered as every other error is."""
    store = tmp_path / "store"
    with ServerProcess(store) as server, http_client() as client:
        assert submit(client, server.url, photo_bytes(120, 90, seed=1), GOOD).status_code == 201
        database = store / "corrections.sqlite3"
        size = database.stat().st_size
        with open(database, "r+b") as handle:
            handle.write(b"\xa5" * size)
        for name in ("corrections.sqlite3-wal", "corrections.sqlite3-shm"):
            if (store / name).exists():
                with open(store / name, "r+b") as handle:
                    handle.write(b"\xa5" * (store / name).stat().st_size)
        answer = client.get(f"{server.url}/healthz")
    assert answer.status_code == 500, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert all(name in answer.headers for name in SECURITY)
    assert answer.json() == {"error": "internal error: nothing was stored"}


# --- 11. A 503 tells a client nothing of the store --------------------------------------------------------------


def test_store_unavailable_says_so_and_no_more(postgres, tmp_path):
    url = postgres.database()
    log = tmp_path / "server.log"
    with ServerProcess(url, log=log) as server, http_client() as client:
        postgres.stop_server()
        try:
            refused = submit(client, server.url, photo_bytes(120, 90, seed=2), GOOD)
            health = client.get(f"{server.url}/healthz")
        finally:
            postgres.start_server()
    for answer in (refused, health):
        assert answer.status_code == 503
        assert answer.json() == {"error": "the store is unavailable, nothing was stored: try again later"}
        assert answer.headers["retry-after"] == "1"
    assert url.split("@")[-1] in log.read_text()  # the details are the operator's


# --- 13. A Host header with a name for a port; hidden files of the model folder -----------------------------------


@pytest.mark.parametrize(
    "host, status",
    [
        ("127.0.0.1:evil.example", 421),
        ("127.0.0.1:80x", 421),
        ("[::1]:evil.example", 421),
        ("127.0.0.1:", 421),
        ("127.0.0.1:٣", 421),
        ("127.0.0.1", 200),
        ("127.0.0.1:8000", 200),
        ("[::1]:8000", 200),
        ("LOCALHOST:1", 200),
    ],
)
def test_a_host_header_port_is_digits(tmp_path, host, status):
    with ServerProcess(tmp_path / "store") as server:
        answer = _raw(server.port, f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    assert answer[0] == status, answer


def test_hidden_files_are_not_served(tmp_path):
    model = tmp_path / "web"
    model.mkdir()
    (model / "model.json").write_text('{"format": "graph-model"}')
    (model / ".env").write_text("PGPASSWORD=secret\n")
    (model / ".git").mkdir()
    (model / ".git" / "config").write_text("[remote]\n")
    with ServerProcess(tmp_path / "store", model=model) as server, http_client() as client:
        assert client.get(f"{server.url}/model/model.json").status_code == 200
        for path in ("/model/.env", "/model/.git/config", "/model/%2Eenv", "/static/.hidden", "/vendor/.x"):
            answer = client.get(f"{server.url}{path}")
            assert answer.status_code == 404 and answer.json() == {"error": "Not Found"}, path


# --- 9. A full disk, a read-only store: 503 with Retry-After, no leftovers, /healthz says so ---------------------


@contextlib.contextmanager
def small_disk(folder: Path, megabytes: int = 8):
    """A real file system of its own for the store, small enough to fill (tmpfs: mounting needs root)."""
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(disk: Path) -> Path:
    """Write one file until the disk is full; its path (removing it frees the disk)."""
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 2**16)
                handle.flush()
        except OSError:
            pass
    return filler


def _assert_store_refused(client: httpx.Client, server: ServerProcess, seed: int) -> None:
    refused = submit(client, server.url, photo_bytes(120, 90, seed=seed), GOOD)
    assert refused.status_code == 503, refused.text
    assert refused.json() == {"error": "the store is unavailable, nothing was stored: try again later"}
    assert refused.headers["retry-after"] == "1"
    health = client.get(f"{server.url}/healthz")
    assert health.status_code == 503 and health.json()["status"] == "store not writable", health.text
    assert health.headers["retry-after"] == "1"


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs for the store needs root")
def test_a_full_disk_is_503_and_leaves_nothing(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        store = disk / "store"
        with ServerProcess(store, log=tmp_path / "server.log") as server, http_client() as client:
            assert submit(client, server.url, photo_bytes(120, 90, seed=1), GOOD).status_code == 201
            filler = fill(disk)
            _assert_store_refused(client, server, 2)
            assert list((store / "tmp").iterdir()) == []  # no .part left behind
            filler.unlink()
            assert submit(client, server.url, photo_bytes(120, 90, seed=2), GOOD).status_code == 201
            assert client.get(f"{server.url}/healthz").json()["status"] == "ok"
        assert len(stored_rows(store)) == 2
    assert "is not writable" in (tmp_path / "server.log").read_text()


def test_a_read_only_postgres_database_is_503(postgres):
    url = postgres.database()
    name = url.rsplit("/", 1)[1]

    def set_read_only(on: bool) -> None:
        import psycopg

        with psycopg.connect(postgres.url(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {"on" if on else "off"}')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))

    with ServerProcess(url) as server, http_client() as client:
        assert submit(client, server.url, photo_bytes(120, 90, seed=1), GOOD).status_code == 201
        set_read_only(True)
        try:
            _assert_store_refused(client, server, 2)
        finally:
            set_read_only(False)
        assert submit(client, server.url, photo_bytes(120, 90, seed=2), GOOD).status_code == 201
    assert len(stored_rows(url)) == 2


# --- Review of the round: passwords in a query string, tokens with spaces, an empty allowed name ---------------


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql://me:secret@db.example/corrections", "postgresql://me@db.example/corrections"),
        (
            "postgresql://me@db.example/corrections?password=secret&sslmode=require",
            "postgresql://me@db.example/corrections?sslmode=require",
        ),
        (
            "postgresql://me@db.example/corrections?sslmode=require",
            "postgresql://me@db.example/corrections?sslmode=require",
        ),
    ],
)
def test_a_password_never_shows_in_the_stores_name(url, shown):
    from cropstyle.web.settings import has_password
    from cropstyle.web.store_postgres import redacted

    assert redacted(url) == shown
    assert has_password(url) is (shown != url)


@pytest.mark.parametrize(
    "given, file_text, variable, token",
    [
        (" spaced ", None, None, "spaced"),
        (None, "\ufefffrom-an-editor \nsecond line\n", None, "from-an-editor"),
        (None, None, "\tvariable\n", "variable"),
        (None, None, None, None),
    ],
)
def test_a_token_is_read_as_the_header_is(tmp_path, given, file_text, variable, token):
    from cropstyle.web.settings import read_token

    token_file = None
    if file_text is not None:
        token_file = tmp_path / "token"
        token_file.write_text(file_text, encoding="utf-8")
    assert read_token(given, token_file, {} if variable is None else {"CROPSTYLE_TOKEN": variable}) == token


def test_an_empty_allowed_host_name_lets_nothing_through(tmp_path):
    with ServerProcess(tmp_path / "store", options=["--allowed-host", "", "--allowed-host", "127.0.0.1"]) as server:
        refused = _raw(server.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:evil\r\nConnection: close\r\n\r\n")
        accepted = _raw(server.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert (refused[0], accepted[0]) == (421, 200)
