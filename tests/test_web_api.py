"""The collection API on a real server process: what it stores, and every bad input it refuses, against
both stores (SQLite folder, PostgreSQL).

Each rejection must be a 4xx with a JSON {"error": ...} message and leave the store exactly as it was
(no row, no photo, nothing in tmp/).
"""

from __future__ import annotations

import io
import json
import struct
import zlib

import httpx
import pytest
from PIL import Image

from cropstyle.extractor.geometry import LABEL_VALUES, RotatedRect, rect_to_crop
from cropstyle.web.store import open_store
from tests.conftest import STORE_KINDS, new_store
from tests.load import ServerProcess, photo_bytes, submit

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOOD = {"left": 0.1, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0.0}


@pytest.fixture(scope="module", params=STORE_KINDS)
def server(request, tmp_path_factory):
    store = new_store(request.param, tmp_path_factory.mktemp("api"), request)
    with ServerProcess(store, token=TOKEN, rate_limit=0) as process, open_store(store) as reader:
        process.reader = reader  # the store as the tests read it
        yield process


@pytest.fixture()
def client():
    with httpx.Client(timeout=30) as client:
        yield client


def snapshot(server):
    """Rows, photos and half-written files of the store: equal before and after a rejected request."""
    store = server.reader
    return sorted(row.id for row in store.all()), store.stored_photos(), store.check().temporary_files


def assert_rejected(server, response, status, words):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert words.lower() in message.lower(), message


def png_header_bomb(width: int, height: int) -> bytes:
    """A tiny, valid PNG that declares width × height pixels (8-bit grey), its data a few KB of zlib."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = zlib.compress(b"\x00" * (width + 1) * 64, 9)  # only the first rows: decoding fails long after the check
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


def test_healthz_and_page(server, client):
    assert client.get(f"{server.url}/healthz").json()["status"] == "ok"
    page = client.get(f"{server.url}/")
    assert page.status_code == 200 and "cropstyle" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in (
        "/vendor/tfjs/tf.es2017.min.js",
        "/vendor/tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm",
        "/vendor/cropperjs/cropper.min.js",
        "/vendor/cropperjs/cropper.min.css",
        "/vendor/smartcrop/smartcrop.js",
        "/static/app.js",
        "/static/geometry.js",
    ):
        assert client.get(f"{server.url}{asset}").status_code == 200, asset
    assert client.get(f"{server.url}/vendor/tfjs/../../package.json").status_code == 404
    assert client.get(f"{server.url}/api/model").status_code == 404  # started without --model


def test_submit_stores_once_and_lists_with_token(server, client):
    photo = photo_bytes(320, 200, seed=11)
    predicted = {"left": 0.05, "top": 0.1, "right": 0.95, "bottom": 0.9, "angle": 1.5}
    first = submit(client, server.url, photo, GOOD, predicted=predicted, model="abc123")
    assert first.status_code == 201, first.text
    identifier = first.json()["id"]
    again = submit(client, server.url, photo, GOOD, predicted=predicted, model="abc123")
    assert again.status_code == 200 and again.json() == {"id": identifier, "created": False}

    assert_rejected(server, client.get(f"{server.url}/api/corrections"), 401, "token")
    assert_rejected(
        server, client.get(f"{server.url}/api/corrections", headers={"Authorization": "Bearer wrong"}), 401, "token"
    )
    listing = client.get(f"{server.url}/api/corrections", headers=AUTH).json()
    rows = [row for row in listing["corrections"] if row["id"] == identifier]
    assert len(rows) == 1
    row = rows[0]
    assert row["crop"] == GOOD and row["predicted"] == predicted and row["model"] == "abc123"
    assert (row["width"], row["height"], row["orientation"]) == (320, 200, 1)

    assert_rejected(server, client.get(f"{server.url}/api/corrections/{identifier}/photo"), 401, "token")
    photo_back = client.get(f"{server.url}/api/corrections/{identifier}/photo", headers=AUTH)
    assert photo_back.status_code == 200 and photo_back.content == photo
    assert photo_back.headers["content-type"] == "image/jpeg"
    assert_rejected(server, client.get(f"{server.url}/api/corrections/nope/photo", headers=AUTH), 404, "correction")
    assert_rejected(
        server, client.get(f"{server.url}/api/corrections/{'0' * 32}/photo", headers=AUTH), 404, "no correction"
    )

    # The same photo with another correction is a second row sharing one photo (content-addressed).
    photos_before = server.reader.stored_photos()
    other = submit(client, server.url, photo, {**GOOD, "left": 0.12})
    assert other.status_code == 201 and other.json()["id"] != identifier
    assert server.reader.get(identifier).photo == server.reader.get(other.json()["id"]).photo
    assert server.reader.stored_photos() == photos_before


def test_rotated_label_and_exif_orientation(server, client):
    """The label is in the uploaded photo's displayed frame: its EXIF orientation applied."""
    photo = photo_bytes(300, 200, seed=12, orientation=6)  # stored 300×200, displayed 200×300
    crop = rect_to_crop(RotatedRect(100, 150, 150, 200, 12.0), 200, 300)
    response = submit(client, server.url, photo, dict(zip(LABEL_VALUES, crop.values())))
    assert response.status_code == 201, response.text
    row = server.reader.get(response.json()["id"])
    assert (row.width, row.height, row.orientation) == (200, 300, 6)
    assert row.crop == crop
    # A crop that fits the stored (landscape) frame but not the displayed one is refused for this photo.
    landscape_only = rect_to_crop(RotatedRect(100, 150, 120, 220, 30.0), 200, 300)
    values = dict(zip(LABEL_VALUES, landscape_only.values()))
    assert_rejected(server, submit(client, server.url, photo, values), 422, "outside")
    assert submit(client, server.url, photo_bytes(300, 200, seed=13), values).status_code == 201


def _crop(**changes):
    return {**GOOD, **changes}


BAD_LABELS = [
    (_crop(left=-0.2), 422, "outside"),
    (_crop(right=1.3), 422, "outside"),
    (_crop(left=0.9, right=0.1), 422, "inverted"),
    (_crop(top=0.8, bottom=0.2), 422, "inverted"),
    (_crop(angle=46), 422, "beyond"),
    (_crop(angle=-90), 422, "beyond"),
    # turned, it leaves the image
    ({"left": 0.05, "top": 0.05, "right": 0.95, "bottom": 0.95, "angle": 10}, 422, "outside"),
    (_crop(left=0.5, right=0.5001), 422, "degenerate"),
    (_crop(left="0.1"), 422, "finite numbers"),
    (_crop(left=True), 422, "finite numbers"),
    (_crop(left=None), 422, "finite numbers"),
]


@pytest.mark.parametrize("crop,status,words", BAD_LABELS, ids=[f"{w}-{i}" for i, (_, _, w) in enumerate(BAD_LABELS)])
def test_bad_labels_store_nothing(server, client, crop, status, words):
    before = snapshot(server)
    assert_rejected(server, submit(client, server.url, photo_bytes(200, 150, seed=20), crop), status, words)
    assert snapshot(server) == before


RAW_CROPS = [
    ('{"left": NaN, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0}', 400, "finite"),
    ('{"left": Infinity, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0}', 400, "finite"),
    ('{"left": 1e999, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0}', 422, "finite"),
    ('{"left": 0.1, "top": 0.2, "right": 0.9, "bottom": 0.8}', 400, "lacks angle"),
    ('{"left": 0.1, "top": 0.2, "right": 0.9, "bottom": 0.8, "angle": 0, "zoom": 2}', 400, "unknown keys: zoom"),
    ("[0.1, 0.2, 0.9, 0.8, 0]", 400, "JSON object"),
    ("left=0.1", 400, "not valid JSON"),
]


@pytest.mark.parametrize("text,status,words", RAW_CROPS, ids=[w for _, _, w in RAW_CROPS])
def test_malformed_crop_json(server, client, text, status, words):
    before = snapshot(server)
    response = client.post(
        f"{server.url}/api/corrections", files={"photo": ("p.jpg", photo_bytes(200, 150, seed=21))}, data={"crop": text}
    )
    assert_rejected(server, response, status, words)
    assert snapshot(server) == before


def test_submit_stores_the_suggestion_it_started_from(server, client):
    """The ranked alternative the user started from: stored as canonical JSON, listed parsed; without one, null."""
    photo = photo_bytes(300, 240, seed=30)
    sent = '{"rank": 2, "expected_iou": 1, "aspect": "1.91:1"}'  # another key order, a whole number for the IoU
    response = submit(client, server.url, photo, GOOD, predicted=GOOD, model="abc123", extra={"suggestion": sent})
    assert response.status_code == 201, response.text
    identifier = response.json()["id"]
    plain = submit(client, server.url, photo, _crop(left=0.15))
    assert plain.status_code == 201, plain.text
    assert server.reader.get(identifier).suggestion == '{"aspect": "1.91:1", "expected_iou": 1.0, "rank": 2}'
    listing = client.get(f"{server.url}/api/corrections", headers=AUTH).json()["corrections"]
    shown = {row["id"]: row["suggestion"] for row in listing}
    assert shown[identifier] == {"aspect": "1.91:1", "rank": 2, "expected_iou": 1.0}
    assert shown[plain.json()["id"]] is None
    free = {"aspect": "free", "rank": 1, "expected_iou": None}
    response = submit(client, server.url, photo, _crop(left=0.2), extra={"suggestion": json.dumps(free)})
    assert response.status_code == 201, response.text
    assert server.reader.get(response.json()["id"]).public()["suggestion"] == free


def _suggestion(**changes):
    return json.dumps({"aspect": "4:5", "rank": 1, "expected_iou": 0.5, **changes})


ASPECT_PROBLEM = '`suggestion.aspect` must be "free" or W:H with positive numbers (e.g. 4:5, 1.91:1), not '
BAD_SUGGESTIONS = [
    (_suggestion(rank=4), 422, "`suggestion.rank` must be an integer from 1 to 3, not 4"),
    (_suggestion(rank=0), 422, "`suggestion.rank` must be an integer from 1 to 3, not 0"),
    (_suggestion(rank=2.0), 422, "`suggestion.rank` must be an integer from 1 to 3, not 2.0"),
    (_suggestion(rank="1"), 422, '`suggestion.rank` must be an integer from 1 to 3, not "1"'),
    (_suggestion(rank=True), 422, "`suggestion.rank` must be an integer from 1 to 3, not true"),
    (_suggestion(aspect="free", rank=2), 422, '`suggestion.rank` must be 1 for the aspect "free", not 2'),
    (_suggestion(aspect="4:0"), 422, ASPECT_PROBLEM + '"4:0"'),
    (_suggestion(aspect="-4:5"), 422, ASPECT_PROBLEM + '"-4:5"'),
    (_suggestion(aspect="4/5"), 422, ASPECT_PROBLEM + '"4/5"'),
    (_suggestion(aspect="inf:1"), 422, ASPECT_PROBLEM + '"inf:1"'),
    (_suggestion(aspect=0.8), 422, ASPECT_PROBLEM + "0.8"),
    (_suggestion(aspect=None), 422, ASPECT_PROBLEM + "null"),
    (_suggestion(expected_iou=1.5), 422, "`suggestion.expected_iou` must be a number from 0 to 1 or null, not 1.5"),
    (_suggestion(expected_iou=-0.1), 422, "`suggestion.expected_iou` must be a number from 0 to 1 or null, not -0.1"),
    (_suggestion(expected_iou="0.5"), 422, '`suggestion.expected_iou` must be a number from 0 to 1 or null, not "0.5"'),
    (
        '{"aspect": "4:5", "rank": 1, "expected_iou": 1e999}',
        422,
        "`suggestion.expected_iou` must be a number from 0 to 1 or null, not Infinity",
    ),
    (_suggestion(zoom=2), 422, "`suggestion` has unknown keys: zoom"),
    (_suggestion(**{"two\nlines": 1}), 422, '`suggestion` has unknown keys: "two\\nlines"'),  # one line
    ('{"aspect": "4:5", "rank": 1}', 422, "`suggestion` lacks expected_iou"),
    ("[1, 2]", 422, "`suggestion` must be a JSON object with aspect, rank, expected_iou, not [1, 2]"),
    ('{"aspect": {"w": 4, "h": 5}}', 400, "`suggestion` is nested too deep: a suggestion is one flat object"),
    (
        '{"aspect": "4:5", "rank": 1, "expected_iou": NaN}',
        400,
        "`suggestion` is not valid JSON with finite numbers and unique keys: NaN is not a finite number",
    ),
    (
        '{"aspect": "4:5", "rank": 1, "rank": 2, "expected_iou": 0.5}',
        400,
        "`suggestion` is not valid JSON with finite numbers and unique keys: keys given more than once: rank",
    ),
]


@pytest.mark.parametrize("text,status,message", BAD_SUGGESTIONS, ids=[t for t, _, _ in BAD_SUGGESTIONS])
def test_bad_suggestions_store_nothing(server, client, text, status, message):
    before = snapshot(server)
    response = submit(client, server.url, photo_bytes(200, 150, seed=31), GOOD, extra={"suggestion": text})
    assert response.status_code == status, response.text
    assert response.json() == {"error": message}
    assert snapshot(server) == before


def test_suggestion_as_a_file_or_too_long_stores_nothing(server, client):
    before = snapshot(server)
    photo = ("p.jpg", photo_bytes(200, 150, seed=32), "image/jpeg")
    as_file = client.post(
        f"{server.url}/api/corrections",
        files={"photo": photo, "suggestion": ("s.json", _suggestion().encode(), "application/json")},
        data={"crop": json.dumps(GOOD)},
    )
    assert as_file.status_code == 400 and as_file.json() == {"error": "`suggestion` must be a JSON field, not a file"}
    too_long = submit(
        client, server.url, photo[1], GOOD, extra={"suggestion": _suggestion(aspect="4:5" + " " * 20_000)}
    )
    assert_rejected(server, too_long, 400, "exceeded maximum size")  # MAX_FIELD_BYTES, as for every field
    assert snapshot(server) == before


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (64, 48)).save(buffer, "GIF")
    return buffer.getvalue()


def _bad_requests():
    good_photo = photo_bytes(200, 150, seed=22)
    crop = json.dumps(GOOD)
    truncated = good_photo[: len(good_photo) // 2]
    return [
        ("not multipart", dict(json={"crop": GOOD}), 415, "multipart"),
        ("no photo", dict(data={"crop": crop}, files={"x": ("x", b"")}), 400, "unknown fields: x"),
        ("photo missing", dict(data={"crop": crop, "model": "m"}, files={"predicted": ("p", b"{}")}), 400, "photo"),
        ("no crop", dict(files={"photo": ("p.jpg", good_photo)}), 400, "`crop`"),
        (
            "unknown field",
            dict(files={"photo": ("p.jpg", good_photo)}, data={"crop": crop, "comment": "hi"}),
            400,
            "unknown fields: comment",
        ),
        (
            "field twice",
            dict(files=[("photo", ("p.jpg", good_photo)), ("photo", ("q.jpg", good_photo))], data={"crop": crop}),
            400,
            "more than once",
        ),
        (
            "text as photo",
            dict(files={"photo": ("p.jpg", b"this is not an image at all")}, data={"crop": crop}),
            415,
            "not an image",
        ),
        ("empty photo", dict(files={"photo": ("p.jpg", b"")}, data={"crop": crop}), 400, "empty"),
        (
            "truncated jpeg",
            dict(files={"photo": ("p.jpg", truncated)}, data={"crop": crop}),
            415,
            "could not be decoded",
        ),
        ("gif", dict(files={"photo": ("p.gif", _gif())}, data={"crop": crop}), 415, "JPEG, PNG or WebP"),
        (
            "decompression bomb",
            dict(files={"photo": ("b.png", png_header_bomb(20_000, 20_000))}, data={"crop": crop}),
            413,
            "pixels",
        ),
        (
            "photo over 20 MB",
            dict(files={"photo": ("p.jpg", good_photo + b"\0" * (20 * 2**20))}, data={"crop": crop}),
            413,
            "20 MB",
        ),
        (
            "body far over 20 MB",
            dict(files={"photo": ("p.jpg", b"\0" * (30 * 2**20))}, data={"crop": crop}),
            413,
            "too large",
        ),
        (
            "bad predicted",
            dict(files={"photo": ("p.jpg", good_photo)}, data={"crop": crop, "predicted": json.dumps(_crop(angle=80))}),
            422,
            "`predicted`",
        ),
        (
            "model name too long",
            dict(files={"photo": ("p.jpg", good_photo)}, data={"crop": crop, "model": "m" * 201}),
            400,
            "`model`",
        ),
    ]


BAD_REQUESTS = _bad_requests()


@pytest.mark.parametrize("name,request_kwargs,status,words", BAD_REQUESTS, ids=[r[0] for r in BAD_REQUESTS])
def test_bad_requests_store_nothing(server, client, name, request_kwargs, status, words):
    before = snapshot(server)
    response = client.post(f"{server.url}/api/corrections", **request_kwargs)
    assert_rejected(server, response, status, words)
    assert snapshot(server) == before


def test_chunked_body_over_the_limit(server, client):
    """Without a Content-Length the body is counted as it arrives and cut off past the limit."""
    before = snapshot(server)
    boundary = "cropstyleboundary"

    def body():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        for _ in range(24):
            yield b"\0" * 2**20
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        f"{server.url}/api/corrections",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_rejected(server, response, 413, "too large")
    assert snapshot(server) == before


def test_bad_query_is_a_json_400(server, client):
    assert_rejected(
        server, client.get(f"{server.url}/api/corrections", params={"limit": "many"}, headers=AUTH), 400, "limit"
    )


def test_rate_limit_per_client(tmp_path):
    """A client over its rate gets 429 with Retry-After, and that submission is not stored."""
    # 1 per minute, bursts of 1: the next token is 60 s away, far beyond how long 4 submissions take anywhere.
    with ServerProcess(tmp_path / "store", rate_limit=1) as server, httpx.Client(timeout=30) as client:
        answers = [submit(client, server.url, photo_bytes(120, 90, seed=100 + i), GOOD) for i in range(4)]
        assert [a.status_code for a in answers] == [201, 429, 429, 429]
        limited = [a for a in answers if a.status_code == 429]
        assert 50 <= int(limited[0].headers["retry-after"]) <= 60
        assert "too many submissions" in limited[0].json()["error"]
        stored = sum(a.status_code == 201 for a in answers)  # the bucket lives in the store
        assert httpx.get(f"{server.url}/healthz").json()["corrections"] == stored
