"""`cropstyle serve`: the browser demo, the model and the correction collection API, from 127.0.0.1.

GET  /                              the page (web/static/index.html)
GET  /static/…                      the page's own scripts and styles
GET  /vendor/{tfjs,tfjs-backend-wasm,cropperjs,smartcrop}/…   npm packages from web/node_modules (no CDN)
GET  /model/model.json, shards, metadata.json                 the TF.js graph model (--model)
GET  /api/model                     what the page needs to know about the model (404 without one)
POST /api/corrections               multipart: photo, crop (JSON), optional predicted (JSON), model → 201 {"id"}
GET  /api/corrections               the stored corrections (token)
GET  /api/corrections/{id}/photo    one correction's photo (token)
GET  /healthz

Every rejection is a 4xx with {"error": "…"} and stores nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import math
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image, UnidentifiedImageError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from cropstyle.extractor.geometry import LABEL_VALUES, Crop, crop_problem, displayed_size
from cropstyle.web.store import CorrectionStore

WEB = Path(__file__).resolve().parent
STATIC = WEB / "static"
NODE_MODULES = WEB / "node_modules"
# URL prefix → folder inside node_modules: only these are served.
VENDOR = {
    "tfjs": "@tensorflow/tfjs/dist",
    "tfjs-backend-wasm": "@tensorflow/tfjs-backend-wasm/dist",
    "cropperjs": "cropperjs/dist",
    "smartcrop": "smartcrop",
}

MAX_PHOTO_BYTES = 20 * 1024 * 1024  # the photo itself
MAX_BODY_BYTES = MAX_PHOTO_BYTES + 256 * 1024  # the whole multipart request: photo, labels, boundaries
MAX_PIXELS = 40_000_000  # decompression-bomb limit: a declared size beyond this is refused before decoding
MAX_FIELD_BYTES = 16 * 1024  # crop, predicted, model
MAX_MODEL_NAME = 200
FIELDS = {"photo", "crop", "predicted", "model"}
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
EXTENSION_TYPES = {extension: media for extension, media in FORMATS.values()}

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval' blob:; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' blob: data:; connect-src 'self' blob: data:; worker-src 'self' blob:; "
                           "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


class Rejected(Exception):
    """A request that stores nothing: answered with `status` and {"error": message}."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class ModelInfo:
    directory: Path
    metadata: dict
    version: str

    def public(self) -> dict:
        return {"url": "/model/model.json", "version": self.version, "metadata": self.metadata}


def resolve_model_dir(path: Path) -> Path:
    """WEBMODEL (a folder with model.json) or a training RUN whose export sits in one of its sub-folders."""
    path = Path(path)
    if (path / "model.json").is_file():
        return path
    for candidate in ("web", "webmodel", "tfjs", "export", "export/web", "export/tfjs"):
        if (path / candidate / "model.json").is_file():
            return path / candidate
    found = sorted(path.glob("*/model.json"))
    if len(found) == 1:
        return found[0].parent
    raise FileNotFoundError(f"no TF.js model in {path}: give a WEBMODEL folder (with model.json), or a RUN "
                            f"exported into RUN/web (`cropstyle export {path} --out {path}/web`)")


def load_model_info(path: Path) -> ModelInfo:
    directory = resolve_model_dir(path)
    metadata_path = directory / "metadata.json"
    metadata = json.loads(metadata_path.read_text()) if metadata_path.is_file() else {}
    version = metadata.get("version") or metadata.get("model_version") or \
        hashlib.sha256((directory / "model.json").read_bytes()).hexdigest()[:12]
    return ModelInfo(directory, metadata, str(version))


class RateLimiter:
    """A token bucket per client: `per_minute` submissions on average, bursts of `burst`. 0 turns it off."""

    def __init__(self, per_minute: float, burst: int | None = None):
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, int(per_minute // 3)))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> tuple[bool, float]:
        """(allowed, seconds until the next one would be allowed)."""
        if self.rate <= 0:
            return True, 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if len(self._buckets) > 10_000:  # forget clients whose bucket is full again
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] + (now - v[1]) * self.rate < self.burst}
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                return True, 0.0
            self._buckets[client] = (tokens, now)
            return False, (1 - tokens) / self.rate


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body beyond `limit` bytes is answered 413 without being read in full."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await _send_json(send, 413, {"error": f"request too large: the limit is {self.limit // 2**20} MB"})
        received = 0
        started = False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _send_json(send, 413, {"error": f"request too large: the limit is {self.limit // 2**20} MB"})


async def _send_json(send, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": data})


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a finite number")


def parse_label(text: str, field: str) -> Crop:
    """A label field: a JSON object with exactly left, top, right, bottom, angle, each a finite number."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise Rejected(400, f"`{field}` is not valid JSON with finite numbers: {error}") from None
    if not isinstance(value, dict):
        raise Rejected(400, f"`{field}` must be a JSON object with {', '.join(LABEL_VALUES)}")
    unknown = sorted(set(value) - set(LABEL_VALUES))
    missing = [k for k in LABEL_VALUES if k not in value]
    if unknown:
        raise Rejected(400, f"`{field}` has unknown keys: {', '.join(unknown)}")
    if missing:
        raise Rejected(400, f"`{field}` lacks {', '.join(missing)}")
    bad = [k for k in LABEL_VALUES if not _finite_number(value[k])]
    if bad:
        raise Rejected(422, f"`{field}`: {', '.join(bad)} must be finite numbers")
    return Crop(*(float(value[k]) for k in LABEL_VALUES))


@dataclass(frozen=True)
class UploadedPhoto:
    data: bytes
    extension: str
    width: int  # displayed (orientation applied)
    height: int
    orientation: int


def check_photo(data: bytes) -> UploadedPhoto:
    """Only real images: decoded in full by Pillow, with a decompression-bomb limit."""
    if not data:
        raise Rejected(400, "`photo` is empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise Rejected(413, f"`photo` is larger than {MAX_PHOTO_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in FORMATS:
                    raise Rejected(415, f"`photo` must be JPEG, PNG or WebP, not {image.format}")
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise Rejected(413, f"`photo` declares {width}×{height} pixels, beyond the {MAX_PIXELS:,} limit")
                orientation = image.getexif().get(0x0112, 1)
                image.load()  # decode every pixel: truncated or corrupt data fails here
                extension = FORMATS[image.format][0]
    except Rejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Rejected(413, "`photo` declares too many pixels (decompression bomb)") from None
    except UnidentifiedImageError:
        raise Rejected(415, "`photo` is not an image Pillow can decode") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise Rejected(415, f"`photo` could not be decoded: {error}") from None
    if orientation not in range(1, 9):
        orientation = 1
    width, height = displayed_size(width, height, orientation)
    return UploadedPhoto(data, extension, width, height, orientation)


def _token_ok(request: Request, token: str | None) -> bool:
    if not token:
        return True
    given = request.headers.get("authorization", "")
    if given.lower().startswith("bearer "):
        given = given[7:].strip()
    else:
        given = request.headers.get("x-token", "")
    return hmac.compare_digest(given.encode(), token.encode())


def create_app(model_dir: Path | None, store_dir: Path, token: str | None = None, *,
               rate_per_minute: float = 60, rate_burst: int | None = None) -> FastAPI:
    """The whole server. `model_dir`: WEBMODEL or a RUN with one (None: the page runs without a model)."""
    model = load_model_info(model_dir) if model_dir is not None else None
    store = CorrectionStore(Path(store_dir))
    limiter = RateLimiter(rate_per_minute, rate_burst)
    app = FastAPI(title="cropstyle", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store, app.state.model = store, model

    @app.exception_handler(Rejected)
    async def rejected(request: Request, error: Rejected):
        return JSONResponse({"error": error.message}, status_code=error.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(request: Request, error: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}" for e in error.errors())
        return JSONResponse({"error": f"bad request parameters: {problems}"}, status_code=400)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        # Cross-origin isolation: lets the wasm backend use SharedArrayBuffer threads (everything is same-origin).
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Embedder-Policy", "require-corp")
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response

    @app.get("/")
    async def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/healthz")
    async def healthz():
        count = await run_in_threadpool(store.count)
        return {"status": "ok", "corrections": count, "model": model.version if model else None}

    @app.get("/api/model")
    async def model_info():
        if model is None:
            raise Rejected(404, "this server has no model: start it with --model WEBMODEL")
        return model.public()

    @app.post("/api/corrections", status_code=201)
    async def submit(request: Request):
        client = request.client.host if request.client else "unknown"
        allowed, wait = limiter.allow(client)
        if not allowed:
            return JSONResponse({"error": f"too many submissions: try again in {math.ceil(wait)} s"}, status_code=429,
                                headers={"Retry-After": str(math.ceil(wait))})
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise Rejected(415, "send multipart/form-data with `photo` and `crop`")
        try:
            form = await request.form(max_files=2, max_fields=8, max_part_size=MAX_FIELD_BYTES)
        except Exception as error:  # malformed multipart, too many parts, or a body past the limit
            if _caused_by(error, BodyTooLarge):
                raise Rejected(413, f"request too large: the limit is {MAX_BODY_BYTES // 2**20} MB") from None
            raise Rejected(400, f"malformed multipart body: {getattr(error, 'detail', error)}") from None
        try:
            fields = _form_fields(form)
            photo_file = fields.get("photo")
            if not isinstance(photo_file, UploadFile):
                raise Rejected(400, "`photo` (a file) is required")
            data = await photo_file.read(MAX_PHOTO_BYTES + 1)
        finally:
            await form.close()
        if "crop" not in fields or not isinstance(fields["crop"], str):
            raise Rejected(400, "`crop` (JSON: left, top, right, bottom, angle) is required")
        crop = parse_label(fields["crop"], "crop")
        predicted = parse_label(fields["predicted"], "predicted") if isinstance(fields.get("predicted"), str) else None
        if "predicted" in fields and predicted is None:
            raise Rejected(400, "`predicted` must be a JSON field, not a file")
        model_name = fields.get("model")
        if model_name is not None:
            if not isinstance(model_name, str) or len(model_name) > MAX_MODEL_NAME or not model_name.isprintable():
                raise Rejected(400, f"`model` must be printable text of at most {MAX_MODEL_NAME} characters")
        photo = await run_in_threadpool(check_photo, data)
        problem = crop_problem(crop, photo.width, photo.height)
        if problem:
            raise Rejected(422, f"`crop` is not a valid crop of this {photo.width}×{photo.height} photo: {problem}")
        if predicted is not None:
            problem = crop_problem(predicted, photo.width, photo.height)
            if problem:
                raise Rejected(422, f"`predicted` is not a valid crop of this photo: {problem}")
        identifier, created = await run_in_threadpool(
            store.add, photo.data, photo.extension, photo.width, photo.height, photo.orientation, crop, predicted,
            model_name, client)
        return JSONResponse({"id": identifier, "created": created}, status_code=201 if created else 200)

    @app.get("/api/corrections")
    async def list_corrections(request: Request, limit: int = 100, offset: int = 0):
        if not _token_ok(request, token):
            raise Rejected(401, "this server needs its token: send `Authorization: Bearer TOKEN`")
        limit, offset = max(1, min(limit, 1000)), max(0, offset)
        rows = await run_in_threadpool(store.all, limit, offset)
        total = await run_in_threadpool(store.count)
        return {"count": total, "corrections": [row.public() for row in rows]}

    @app.get("/api/corrections/{identifier}/photo")
    async def correction_photo(identifier: str, request: Request):
        if not _token_ok(request, token):
            raise Rejected(401, "this server needs its token: send `Authorization: Bearer TOKEN`")
        row = await run_in_threadpool(store.get, identifier)
        if row is None:
            raise Rejected(404, f"no correction {identifier!r}")
        extension = row.path.rsplit(".", 1)[-1]
        return FileResponse(store.photo_path(row), media_type=EXTENSION_TYPES.get(extension, "application/octet-stream"))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for prefix, folder in VENDOR.items():
        directory = NODE_MODULES / folder
        if not directory.is_dir():
            raise FileNotFoundError(f"{directory} is missing: run `npm ci` in {WEB} (scripts/setup.sh does)")
        app.mount(f"/vendor/{prefix}", StaticFiles(directory=directory), name=f"vendor-{prefix}")
    if model is not None:
        app.mount("/model", StaticFiles(directory=model.directory), name="model")
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)  # added last: the outermost of our layers
    return app


def _caused_by(error: BaseException, kind: type) -> bool:
    """`error` is, or wraps (exception groups, causes), an exception of `kind`."""
    if isinstance(error, kind):
        return True
    if isinstance(error, BaseExceptionGroup):
        return any(_caused_by(inner, kind) for inner in error.exceptions)
    return error.__cause__ is not None and _caused_by(error.__cause__, kind)


def _form_fields(form) -> dict:
    """The form as a dict: only known fields, each once."""
    keys = list(form.keys())
    unknown = sorted(set(keys) - FIELDS)
    if unknown:
        raise Rejected(400, f"unknown fields: {', '.join(unknown)} (allowed: {', '.join(sorted(FIELDS))})")
    repeated = sorted({k for k in keys if len(form.getlist(k)) > 1})
    if repeated:
        raise Rejected(400, f"fields sent more than once: {', '.join(repeated)}")
    return {k: form[k] for k in keys}


def serve(model: Path | None, store: Path, host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
          rate_per_minute: float = 60, log_level: str = "info") -> None:
    """Run the server with uvicorn until interrupted."""
    import uvicorn

    app = create_app(model, store, token, rate_per_minute=rate_per_minute)
    if host not in ("127.0.0.1", "localhost", "::1") and not token:
        print(f"cropstyle serve: listening on {host} without --token: anyone who reaches it can read the corrections")
    print(f"cropstyle serve: open http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/ (Ctrl-C stops)",
          flush=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
