"""What a probe of the collection server found (issue 12), each tried again on a real server process.

Rate-limit bypass through X-Forwarded-For, decode memory, slow clients, cross-site writes and DNS rebinding,
and the low ones: failed tokens not slowed down, cacheable answers, polyglot photos stored byte for byte, a
media type in another case refused, duplicate label keys accepted, a huge id echoed back. Where the store
takes part (rate limits), the test runs against both stores.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import zipfile

import httpx
import pytest
from PIL import Image

from cropstyle.web import limits
from cropstyle.web.store import open_store
from tests.conftest import stored_rows
from tests.load import HOST, ServerProcess, blank_png, concurrent_uploads, http_client, photo_bytes, submit

GOOD = {"left": 0.1, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0.0}
TOKEN = "hardening-token"


# --- Rate limit: the connection's address, forwarded headers only from --trusted-proxy -----------------------


def test_forwarded_for_does_not_lift_the_rate_limit(location):
    """30 submissions, each with another X-Forwarded-For, from one connection address: the limit holds
    (1 per minute, bursts of 1) and the spoofed text is never stored as the client."""
    spoofed = ["not-an-ip<script>"] + [f"203.0.113.{i}" for i in range(29)]
    with ServerProcess(location, rate_limit=1) as server, http_client() as client:
        answers = [
            client.post(
                f"{server.url}/api/corrections",
                headers={"X-Forwarded-For": forwarded},
                files={"photo": ("p.jpg", photo_bytes(120, 90, seed=200 + i))},
                data={"crop": json.dumps(GOOD)},
            )
            for i, forwarded in enumerate(spoofed)
        ]
    assert [a.status_code for a in answers].count(201) == 1
    assert {a.status_code for a in answers[1:]} == {429}
    assert [row.client for row in stored_rows(location)] == ["127.0.0.1"]


def test_each_client_address_has_its_own_limit(location):
    with ServerProcess(location, rate_limit=1) as server:
        for address in ("127.0.0.2", "127.0.0.3"):
            with http_client(address) as client:
                codes = [
                    submit(client, server.url, photo_bytes(120, 90, seed=hash(address) % 1000 + i), GOOD).status_code
                    for i in range(2)
                ]
            assert codes == [201, 429], address
    assert sorted(row.client for row in stored_rows(location)) == ["127.0.0.2", "127.0.0.3"]


def test_trusted_proxy_names_the_client(tmp_path):
    """Behind --trusted-proxy 127.0.0.1: the last address its X-Forwarded-For adds is the client (what the
    client itself put before it is ignored); a header that is not addresses is refused; from any other
    address the header is ignored."""
    store = tmp_path / "store"
    with ServerProcess(store, rate_limit=1, options=["--trusted-proxy", "127.0.0.1"]) as server:
        with http_client("127.0.0.1") as proxy:

            def via_proxy(forwarded: str, seed: int) -> httpx.Response:
                return proxy.post(
                    f"{server.url}/api/corrections",
                    headers={"X-Forwarded-For": forwarded},
                    files={"photo": ("p.jpg", photo_bytes(120, 90, seed=seed))},
                    data={"crop": json.dumps(GOOD)},
                )

            assert via_proxy("198.51.100.7", 1).status_code == 201
            assert via_proxy("198.51.100.7", 2).status_code == 429  # that client's own bucket
            assert via_proxy("10.9.9.9, 198.51.100.8", 3).status_code == 201  # the client's own claim is ignored
            refused = via_proxy("not-an-ip<script>", 4)
            assert refused.status_code == 400 and "X-Forwarded-For" in refused.json()["error"]
        with http_client("127.0.0.3") as direct:
            answer = direct.post(
                f"{server.url}/api/corrections",
                headers={"X-Forwarded-For": "198.51.100.9"},
                files={"photo": ("p.jpg", photo_bytes(120, 90, seed=5))},
                data={"crop": json.dumps(GOOD)},
            )
            assert answer.status_code == 201
    assert sorted(row.client for row in stored_rows(store)) == ["127.0.0.3", "198.51.100.7", "198.51.100.8"]


def test_rate_limit_holds_across_workers(location):
    """4 worker processes, one client address, a new connection per submission (spread over the workers):
    one bucket in the store, so 1 per minute with bursts of 1 lets exactly one through."""
    with ServerProcess(location, rate_limit=1, workers=4) as server:
        codes = []
        for i in range(12):
            with http_client("127.0.0.9") as client:  # a new connection each time
                codes.append(submit(client, server.url, photo_bytes(120, 90, seed=300 + i), GOOD).status_code)
    assert codes.count(201) == 1 and codes.count(429) == 11, codes


# --- Decode memory ------------------------------------------------------------------------------------------


def test_decoded_size_is_bounded_and_memory_stays_flat(tmp_path):
    """The probe's 7300×5470 RGBA PNG (just under 40 MP) is refused before decoding; 20 concurrent uploads of
    the worst photo still accepted (RGBA, just under the decoded-bytes limit) keep the server's peak resident
    memory under 300 MB (decodes wait for one of DECODE_SLOTS), and the memory is given back afterwards."""
    side = int((limits.MAX_DECODED_BYTES / 4) ** 0.5)
    worst = blank_png(side, side - 1)
    assert side * (side - 1) * 4 <= limits.MAX_DECODED_BYTES < 7300 * 5470 * 4
    with ServerProcess(tmp_path / "store", rate_limit=0) as server, http_client() as client:
        baseline = server.resident_memory_mb()
        bomb = submit(
            client, server.url, blank_png(7300, 5470, rows=8), GOOD, filename="b.png", content_type="image/png"
        )
        assert bomb.status_code == 413 and "decoding it would take" in bomb.json()["error"], bomb.text

        answers = concurrent_uploads(server.url, worst, "PNG", 20)
        peak, after = server.peak_memory_mb(), server.resident_memory_mb()
    assert answers == [201] * 20
    print(
        f"resident memory: {baseline:.0f} MB, peak {peak:.0f} MB during 20 concurrent {side}×{side - 1} RGBA "
        f"uploads, {after:.0f} MB after"
    )
    assert peak < 300
    assert after < baseline + 32, "the decoding buffers were not given back"


# --- Slow clients -------------------------------------------------------------------------------------------


def _read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, bool]:
    """What the server sends until it closes the connection (True), or until `limit` s pass (False)."""
    sock.settimeout(0.2)
    received = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return received, True
        if not data:
            return received, True
        received += data
    return received, False


def _trickle(sock: socket.socket, pieces: list[bytes], interval: float, stop: threading.Event) -> None:
    for piece in pieces:
        if stop.wait(interval):
            return
        try:
            sock.sendall(piece)
        except OSError:
            return


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    store = tmp_path_factory.mktemp("slow") / "store"
    with ServerProcess(store, rate_limit=0, options=["--header-timeout", "1", "--body-timeout", "1"]) as server:
        yield server


def test_idle_connection_is_closed(slow_server):
    with socket.create_connection((HOST, slow_server.port)) as sock:
        received, closed = _read_until_closed(sock, 15)
    assert closed, "an idle connection stayed open 15 s"
    assert received == b""  # nothing was asked: closed without an answer


def test_headers_trickled_in_are_cut_off(slow_server):
    """A header line every 0.25 s (the deadline is 1 s for the whole head): 408, closed."""
    with socket.create_connection((HOST, slow_server.port)) as sock:
        stop = threading.Event()
        lines = [b"GET /healthz HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n"] + [b"X-Slow-%d: 1\r\n" % i for i in range(60)]
        sender = threading.Thread(target=_trickle, args=(sock, lines, 0.25, stop))
        sender.start()
        try:
            received, closed = _read_until_closed(sock, 15)
        finally:
            stop.set()
            sender.join()
    assert closed, "headers trickled in for 15 s were still being read"
    assert received.startswith(b"HTTP/1.1 408"), received[:200]


def test_body_trickled_in_is_cut_off(slow_server):
    """The whole head at once, then a byte every 0.25 s (the body's deadline is 1 s): 408, nothing stored."""
    before = httpx.get(f"{slow_server.url}/healthz").json()["corrections"]
    boundary = "slowboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="crop"\r\n\r\n{json.dumps(GOOD)}\r\n--{boundary}--\r\n'
    ).encode()
    head = (
        f"POST /api/corrections HTTP/1.1\r\nHost: 127.0.0.1:{slow_server.port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((HOST, slow_server.port)) as sock:
        sock.sendall(head)
        stop = threading.Event()
        sender = threading.Thread(target=_trickle, args=(sock, [bytes([b]) for b in body], 0.25, stop))
        sender.start()
        try:
            received, closed = _read_until_closed(sock, 15)
        finally:
            stop.set()
            sender.join()
    assert received.startswith(b"HTTP/1.1 408"), received[:300]
    assert b"did not arrive within 1 s" in received
    assert closed
    assert httpx.get(f"{slow_server.url}/healthz").json()["corrections"] == before


def test_connection_limit(tmp_path):
    """--max-connections 3: with 3 connections held open, the request of a 4th is answered 503; once they
    close, requests are served again."""
    with ServerProcess(tmp_path / "store", rate_limit=0, options=["--max-connections", "3"]) as server:
        held = [socket.create_connection((HOST, server.port)) for _ in range(3)]
        try:
            time.sleep(0.5)  # the server has accepted them
            assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 503
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and httpx.get(f"{server.url}/healthz", timeout=10).status_code != 200:
            time.sleep(0.1)
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


# --- Cross-site writes, DNS rebinding -----------------------------------------------------------------------


def test_writes_from_another_origin_are_refused(tmp_path):
    store = tmp_path / "store"
    with ServerProcess(store, rate_limit=0) as server, http_client() as client:

        def post(headers: dict, seed: int) -> httpx.Response:
            return client.post(
                f"{server.url}/api/corrections",
                headers=headers,
                files={"photo": ("p.jpg", photo_bytes(120, 90, seed=seed))},
                data={"crop": json.dumps(GOOD)},
            )

        for headers in (
            {"Origin": "http://evil.example"},
            {"Origin": "null"},
            {"Origin": f"http://127.0.0.1:{server.port + 1}"},
            {"Sec-Fetch-Site": "cross-site"},
        ):
            refused = post(headers, 10)
            assert refused.status_code == 403 and "refused" in refused.json()["error"], (headers, refused.text)
        assert stored_rows(store) == []
        assert post({"Origin": server.url, "Sec-Fetch-Site": "same-origin"}, 11).status_code == 201  # the page
        assert post({}, 12).status_code == 201  # no browser: no Origin (scripts, curl)


def test_host_header_is_allow_listed(tmp_path):
    """A rebound DNS name reaching the server: refused, for the page and the API alike (the server has no
    token here, so the list would otherwise be readable from the attacker's page)."""
    with ServerProcess(tmp_path / "store", rate_limit=0) as server, http_client() as client:
        for path in ("/api/corrections", "/", "/healthz"):
            refused = client.get(f"{server.url}{path}", headers={"Host": "evil.example"})
            assert refused.status_code == 421 and "--allowed-host" in refused.json()["error"], path
        assert (
            client.get(f"{server.url}/api/corrections", headers={"Host": f"localhost:{server.port}"}).status_code == 200
        )
        assert client.get(f"{server.url}/api/corrections").status_code == 200  # Host: 127.0.0.1:PORT
    with (
        ServerProcess(tmp_path / "store2", rate_limit=0, options=["--allowed-host", "crops.example.org"]) as server,
        http_client() as client,
    ):
        assert client.get(f"{server.url}/healthz", headers={"Host": "crops.example.org"}).status_code == 200
        assert client.get(f"{server.url}/healthz").status_code == 421


# --- Low ----------------------------------------------------------------------------------------------------


def test_wrong_tokens_are_rate_limited(location):
    """300 wrong tokens in a row: after a burst of AUTH_FAILURE_BURST they are answered 429 (Retry-After),
    and so is the right token from that address until the bucket refills; another address is not affected."""
    with ServerProcess(location, token=TOKEN, rate_limit=0) as server, http_client() as client:
        started = time.monotonic()
        codes = [
            client.get(f"{server.url}/api/corrections", headers={"Authorization": f"Bearer wrong-{i}"}).status_code
            for i in range(300)
        ]
        elapsed = time.monotonic() - started
        refilled = int(elapsed * limits.AUTH_FAILURES_PER_MINUTE / 60) + 1
        assert set(codes) == {401, 429}
        assert codes[: limits.AUTH_FAILURE_BURST] == [401] * limits.AUTH_FAILURE_BURST
        assert codes.count(401) <= limits.AUTH_FAILURE_BURST + refilled
        locked = client.get(f"{server.url}/api/corrections", headers={"Authorization": f"Bearer {TOKEN}"})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
        with http_client("127.0.0.4") as other:
            assert (
                other.get(f"{server.url}/api/corrections", headers={"Authorization": f"Bearer {TOKEN}"}).status_code
                == 200
            )


def test_answers_with_corrections_are_not_cached(tmp_path):
    with ServerProcess(tmp_path / "store", token=TOKEN, rate_limit=0) as server, http_client() as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        created = submit(client, server.url, photo_bytes(120, 90, seed=40), GOOD)
        photo = client.get(f"{server.url}/api/corrections/{created.json()['id']}/photo", headers=auth)
        listing = client.get(f"{server.url}/api/corrections", headers=auth)
        for response in (created, photo, listing, client.get(f"{server.url}/healthz")):
            assert response.status_code in (200, 201)
            assert response.headers["cache-control"] == "no-store", response.request.url
            assert response.headers["x-content-type-options"] == "nosniff"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.html", "<script>alert(1)</script>")
    return buffer.getvalue()


def _encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(photo_bytes(120, 90, seed=50))).save(buffer, fmt)
    return buffer.getvalue()


POLYGLOTS = {
    "jpeg+html": (photo_bytes(120, 90, seed=51), b"<html><script>alert(document.cookie)</script></html>"),
    "jpeg+zip": (photo_bytes(120, 90, seed=52), _zip()),
    "progressive-jpeg+zip": (None, _zip()),
    "png+zip": (_encoded("PNG"), _zip()),
    "webp+html": (_encoded("WEBP"), b"<html><script>alert(1)</script></html>"),
}


def _progressive_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(photo_bytes(120, 90, seed=53))).save(buffer, "JPEG", progressive=True, quality=90)
    return buffer.getvalue()


@pytest.mark.parametrize("name", POLYGLOTS)
def test_polyglot_is_stored_without_what_follows_the_image(tmp_path, name):
    image, appended = POLYGLOTS[name]
    image = image if image is not None else _progressive_jpeg()
    store = tmp_path / "store"
    with ServerProcess(store, token=TOKEN, rate_limit=0) as server, http_client() as client:
        response = submit(client, server.url, image + appended, GOOD)
        assert response.status_code == 201, response.text
        served = client.get(
            f"{server.url}/api/corrections/{response.json()['id']}/photo", headers={"Authorization": f"Bearer {TOKEN}"}
        ).content
    with open_store(store) as reader:
        stored = reader.photo_bytes(reader.all()[0])
    assert stored == served == image
    assert not zipfile.is_zipfile(io.BytesIO(stored))


def test_media_type_in_any_case(tmp_path):
    """Media types are case-insensitive (RFC 9110): `Multipart/Form-Data` is multipart."""
    with ServerProcess(tmp_path / "store", rate_limit=0) as server, http_client() as client:
        request = client.build_request(
            "POST",
            f"{server.url}/api/corrections",
            files={"photo": ("p.jpg", photo_bytes(120, 90, seed=60))},
            data={"crop": json.dumps(GOOD)},
        )
        request.headers["Content-Type"] = request.headers["Content-Type"].replace(
            "multipart/form-data", "Multipart/Form-Data"
        )
        response = client.send(request)
    assert response.status_code == 201, response.text


def test_duplicate_keys_in_a_label_are_refused(tmp_path):
    store = tmp_path / "store"
    text = '{"left": 0.1, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0, "left": 0.3}'
    with ServerProcess(store, rate_limit=0) as server, http_client() as client:
        for field in ("crop", "predicted"):
            data = {"crop": text} if field == "crop" else {"crop": json.dumps(GOOD), "predicted": text}
            response = client.post(
                f"{server.url}/api/corrections", files={"photo": ("p.jpg", photo_bytes(120, 90, seed=61))}, data=data
            )
            assert response.status_code == 400, response.text
            assert "more than once: left" in response.json()["error"] and f"`{field}`" in response.json()["error"]
    assert stored_rows(store) == []


def test_a_huge_id_is_not_echoed(tmp_path):
    huge = "a" * 70_000  # longer than an HTTP client will send: written on the socket
    with ServerProcess(tmp_path / "store", token=TOKEN, rate_limit=0) as server:
        with socket.create_connection((HOST, server.port)) as sock:
            sock.sendall(
                f"GET /api/corrections/{huge}/photo HTTP/1.1\r\nHost: {HOST}:{server.port}\r\n"
                f"Authorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n".encode()
            )
            received, closed = _read_until_closed(sock, 15)
    head, _, body = received.partition(b"\r\n\r\n")
    assert closed and head.split(b" ")[1] in (b"400", b"404"), head
    assert len(body) < 300 and huge[:100].encode() not in received
