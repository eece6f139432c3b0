"""`cropstyle serve`: the browser demo, the model and the correction collection API (the app and its routes).

GET  /                              the page (web/static/index.html)
GET  /static/…                      the page's own scripts and styles
GET  /vendor/{tfjs,tfjs-backend-wasm,cropperjs,smartcrop}/…   the page's npm files, web/vendor/ (no CDN; vendor.py)
GET  /model/model.json, shards, metadata.json                 the TF.js graph model (--model)
GET  /api/model                     what the page needs to know about the model (404 without one)
POST /api/corrections               multipart: photo, crop (JSON), optional predicted (JSON), model, suggestion
                                    (JSON) → 201 {"id"}
GET  /api/corrections               the stored corrections (token)
GET  /api/corrections/{id}/photo    one correction's photo (token)
GET  /healthz

Every rejection is a 4xx with {"error": "…"} and stores nothing; a store that cannot be reached is a 503.
The layers around the routes: guards.py (connection limit, deadlines, Host, same-origin writes, headers),
uploads.py (what a submission may carry), settings.py (ServeSettings, the token), store.py (where it goes).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from cropstyle.extractor.geometry import crop_problem
from cropstyle.web import vendor
from cropstyle.web.guards import BodyTimeout, BodyTooLarge, Guard, client_address, log
from cropstyle.web.limits import (
    AUTH_FAILURE_BURST,
    AUTH_FAILURES_PER_MINUTE,
    DECODE_SLOTS,
    KEEP_ALIVE_S,
    MAX_BODY_BYTES,
    MAX_FIELD_BYTES,
    MAX_MODEL_NAME,
    MAX_PHOTO_BYTES,
)
from cropstyle.web.rejected import Rejected
from cropstyle.web.settings import SETTINGS_VARIABLE, ServeSettings, has_password, settings_from_environment
from cropstyle.web.store import CorrectionStore, StoreUnavailable, open_store
from cropstyle.web.uploads import EXTENSION_TYPES, check_photo, parse_label, parse_suggestion

WEB = Path(__file__).resolve().parent
STATIC = WEB / "static"

FIELDS = {"photo", "crop", "predicted", "model", "suggestion"}
CORRECTION_ID = re.compile(r"[0-9a-f]{32}")

MAX_OFFSET = 2**62  # beyond any store's row count, within SQLite's and PostgreSQL's 64-bit integers
STORE_UNAVAILABLE = "the store is unavailable, nothing was stored: try again later"
WRITABLE_CHECK_S = 5.0  # /healthz asks the store whether it can write at most this often (per worker)


class SafeJSONResponse(JSONResponse):
    """FastAPI's JSON answers, ASCII-escaped (Starlette writes UTF-8, which a lone surrogate cannot be)."""

    def render(self, content) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode()


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
    raise FileNotFoundError(
        f"no TF.js model in {path}: give a WEBMODEL folder (with model.json), or a RUN "
        f"exported into RUN/web (`cropstyle export {path} --out {path}/web`)"
    )


def load_model_info(path: Path) -> ModelInfo:
    directory = resolve_model_dir(path)
    metadata_path = directory / "metadata.json"
    metadata = json.loads(metadata_path.read_text()) if metadata_path.is_file() else {}
    version = (
        metadata.get("version")
        or metadata.get("model_version")
        or hashlib.sha256((directory / "model.json").read_bytes()).hexdigest()[:12]
    )
    return ModelInfo(directory, metadata, str(version))


class PublicFiles(StaticFiles):
    """A folder served as it is, less its hidden files and folders (".git", ".env", editors' ".swp" files...)."""

    def get_path(self, scope) -> str:
        path = super().get_path(scope)
        if any(part.startswith(".") for part in Path(path).parts):
            raise StarletteHTTPException(404, "Not Found")
        return path


def _token_ok(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "")
    if given.lower().startswith("bearer "):
        given = given[7:].strip()
    else:
        given = request.headers.get("x-token", "")
    return hmac.compare_digest(given.encode(), token.encode())


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def create_app(settings: ServeSettings, store: CorrectionStore | None = None) -> FastAPI:
    """The whole server for `settings` (its store opened here unless given)."""
    model = load_model_info(Path(settings.model)) if settings.model is not None else None
    store = store or open_store(settings.store)
    trusted = settings.proxy_networks()
    rate, token = settings.rate_per_minute, settings.token
    burst = float(settings.rate_burst if settings.rate_burst is not None else max(1, int(rate // 3)))
    decode_slots = asyncio.Semaphore(DECODE_SLOTS)
    app = FastAPI(
        title="cropstyle", docs_url=None, redoc_url=None, openapi_url=None, default_response_class=SafeJSONResponse
    )
    app.state.store, app.state.model = store, model
    # /healthz's probe writes to disk: once per WRITABLE_CHECK_S, and again after any write succeeded or failed.
    writable = {"checked": -math.inf, "problem": None}

    @app.exception_handler(Rejected)
    async def rejected(request: Request, error: Rejected):
        return SafeJSONResponse({"error": error.message}, status_code=error.status, headers=error.headers)

    @app.exception_handler(StoreUnavailable)
    async def unavailable(request: Request, error: StoreUnavailable):
        log.warning("store unavailable for %s %s: %s", request.method, request.url.path, error)  # its path or URL
        writable["checked"] = -math.inf  # the next /healthz looks again
        return SafeJSONResponse({"error": STORE_UNAVAILABLE}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        return SafeJSONResponse({"error": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(request: Request, error: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}" for e in error.errors()
        )
        return SafeJSONResponse({"error": f"bad request parameters: {problems}"}, status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception):  # Starlette logs it; the client gets JSON
        return SafeJSONResponse({"error": "internal error: nothing was stored"}, status_code=500)

    def client_of(request: Request) -> str:
        # Repeated header lines are one list, in order (RFC 9110 5.3): the proxy's line comes last.
        return client_address(
            request.client.host if request.client else None,
            ", ".join(request.headers.getlist("x-forwarded-for")),
            trusted,
        )

    async def require_token(request: Request) -> None:
        """The token, when the server has one; failed attempts are rate-limited per client, in the store."""
        if not token:
            return
        key = f"auth:{client_of(request)}"
        wait = await run_in_threadpool(store.take, key, AUTH_FAILURES_PER_MINUTE, AUTH_FAILURE_BURST, 0)
        if not wait:
            if _token_ok(request, token):
                return
            wait = await run_in_threadpool(store.take, key, AUTH_FAILURES_PER_MINUTE, AUTH_FAILURE_BURST, 1)
            if not wait:
                raise Rejected(401, "this server needs its token: send `Authorization: Bearer TOKEN`")
        raise Rejected(
            429, f"too many wrong tokens: try again in {math.ceil(wait)} s", {"Retry-After": str(math.ceil(wait))}
        )

    @app.get("/")
    async def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/healthz")
    async def healthz():
        count = await run_in_threadpool(store.count)
        if time.monotonic() - writable["checked"] > WRITABLE_CHECK_S:
            writable["problem"] = await run_in_threadpool(store.writable_problem)
            writable["checked"] = time.monotonic()
        problem = writable["problem"]
        answer = {"status": "ok", "corrections": count, "model": model.version if model else None}
        if problem:  # readable, but a submission would fail: a load balancer should send writes elsewhere
            log.warning("healthz: %s", problem)
            return SafeJSONResponse(
                {**answer, "status": "store not writable"}, status_code=503, headers={"Retry-After": "1"}
            )
        return answer

    @app.get("/api/model")
    async def model_info():
        if model is None:
            raise Rejected(404, "this server has no model: start it with --model WEBMODEL")
        return model.public()

    @app.post("/api/corrections", status_code=201)
    async def submit(request: Request):
        client = client_of(request)
        wait = await run_in_threadpool(store.take, f"submit:{client}", rate, burst)
        if wait:
            raise Rejected(
                429, f"too many submissions: try again in {math.ceil(wait)} s", {"Retry-After": str(math.ceil(wait))}
            )
        if _media_type(request) != "multipart/form-data":
            raise Rejected(415, "send multipart/form-data with `photo` and `crop`")
        try:
            form = await request.form(max_files=2, max_fields=8, max_part_size=MAX_FIELD_BYTES)
        except Exception as error:  # malformed multipart, too many parts, or a body past the limit or deadline
            if _caused_by(error, BodyTooLarge):
                raise Rejected(413, f"request too large: the limit is {MAX_BODY_BYTES // 2**20} MB") from None
            if _caused_by(error, BodyTimeout):
                raise Rejected(408, f"the body did not arrive within {settings.body_timeout:g} s") from None
            raise Rejected(400, f"malformed multipart body: {getattr(error, 'detail', error)}") from None
        try:
            fields = _form_fields(form)
            photo_file = fields.get("photo")
            if not isinstance(photo_file, UploadFile):
                raise Rejected(400, "`photo` (a file) is required")
            if "crop" not in fields or not isinstance(fields["crop"], str):
                raise Rejected(400, "`crop` (JSON: left, top, right, bottom, angle) is required")
            crop = parse_label(fields["crop"], "crop")
            if "predicted" in fields and not isinstance(fields["predicted"], str):
                raise Rejected(400, "`predicted` must be a JSON field, not a file")
            predicted = parse_label(fields["predicted"], "predicted") if "predicted" in fields else None
            model_name = fields.get("model")
            if model_name is not None:
                if not isinstance(model_name, str) or len(model_name) > MAX_MODEL_NAME or not model_name.isprintable():
                    raise Rejected(400, f"`model` must be printable text of at most {MAX_MODEL_NAME} characters")
            if "suggestion" in fields and not isinstance(fields["suggestion"], str):
                raise Rejected(400, "`suggestion` must be a JSON field, not a file")
            suggestion = parse_suggestion(fields["suggestion"]) if "suggestion" in fields else None
            async with decode_slots:  # the photo in memory and decoded: DECODE_SLOTS at a time in this process
                data = await photo_file.read(MAX_PHOTO_BYTES + 1)
                photo = await run_in_threadpool(check_photo, data)
                del data
                problem = crop_problem(crop, photo.width, photo.height)
                if problem:
                    raise Rejected(
                        422, f"`crop` is not a valid crop of this {photo.width}×{photo.height} photo: {problem}"
                    )
                if predicted is not None:
                    problem = crop_problem(predicted, photo.width, photo.height)
                    if problem:
                        raise Rejected(422, f"`predicted` is not a valid crop of this photo: {problem}")
                identifier, created = await run_in_threadpool(
                    store.add,
                    photo.data,
                    photo.extension,
                    photo.width,
                    photo.height,
                    photo.orientation,
                    crop,
                    predicted,
                    model_name,
                    client,
                    suggestion,
                )
                writable["checked"] = -math.inf
        finally:
            await form.close()
        return SafeJSONResponse({"id": identifier, "created": created}, status_code=201 if created else 200)

    @app.get("/api/corrections")
    async def list_corrections(request: Request, limit: int = 100, offset: int = 0):
        await require_token(request)
        if not 0 <= offset <= MAX_OFFSET:
            raise Rejected(400, f"`offset` must be between 0 and {MAX_OFFSET}")
        limit = max(1, min(limit, 1000))
        rows = await run_in_threadpool(store.all, limit, offset)
        total = await run_in_threadpool(store.count)
        return {"count": total, "corrections": [row.public() for row in rows]}

    @app.get("/api/corrections/{identifier}/photo")
    async def correction_photo(identifier: str, request: Request):
        await require_token(request)
        if not CORRECTION_ID.fullmatch(identifier):
            raise Rejected(404, "no such correction: an id is 32 hexadecimal digits")
        row = await run_in_threadpool(store.get, identifier)
        if row is None:
            raise Rejected(404, f"no correction {identifier}")
        data = await run_in_threadpool(store.photo_bytes, row)
        return Response(data, media_type=EXTENSION_TYPES.get(row.extension, "application/octet-stream"))

    app.mount("/static", PublicFiles(directory=STATIC), name="static")
    missing = vendor.missing_files()
    if missing:
        raise FileNotFoundError(
            f"the page's scripts are missing from {vendor.VENDOR} ({', '.join(missing[:3])}): run scripts/setup.sh"
        )
    app.mount("/vendor", PublicFiles(directory=vendor.VENDOR), name="vendor")
    if model is not None:
        app.mount("/model", PublicFiles(directory=model.directory), name="model")
    app.add_middleware(
        Guard, limit=MAX_BODY_BYTES, body_timeout=settings.body_timeout, hosts=settings.host_names()
    )  # added last: the outermost of our layers
    return app


def app_from_environment() -> FastAPI:
    """uvicorn's factory in each worker process: the app for the settings `serve` left in SETTINGS_VARIABLE."""
    return_freed_memory()
    return create_app(settings_from_environment())


def return_freed_memory() -> None:
    """glibc's malloc: serve every allocation of 1 MB or more from its own mapping, returned to the system when
    freed. By default the threshold rises with the first large block freed (up to 32 MB), after which
    Pillow's 16 MB decoding blocks come from per-thread heaps that keep them: memory then stays high after
    a burst of large uploads. Elsewhere than glibc, nothing to do."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_MMAP_THRESHOLD = -3
    libc.mallopt(M_MMAP_THRESHOLD, 2**20)


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


def serve(settings: ServeSettings, log_level: str = "info") -> None:
    """Run the server with uvicorn until interrupted: `settings.workers` processes on one socket, sharing
    the store (and through it the rate limits)."""
    import uvicorn

    settings.proxy_networks()  # a bad --trusted-proxy fails here, as one line
    if has_password(settings.store):
        print(
            "cropstyle serve: the --store URL holds a password, which the process list shows: give it in "
            "PGPASSWORD or ~/.pgpass (libpq reads both) instead"
        )
    if settings.model is not None:
        load_model_info(Path(settings.model))
    with open_store(settings.store) as store:  # created or migrated once, before the workers start
        location = store.location
    os.environ[SETTINGS_VARIABLE] = settings.to_json()
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        if not settings.token:
            print(
                f"cropstyle serve: listening on {settings.host} without --token: anyone who reaches it can read "
                "the corrections"
            )
        print(
            "cropstyle serve: beyond loopback, put a reverse proxy in front (TLS, connection limits), see web/README.md"
        )
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    print(
        f"cropstyle serve: open http://{shown}:{settings.port}/ (store {location}, {settings.workers} "
        f"worker{'s' if settings.workers > 1 else ''}; Ctrl-C stops)",
        flush=True,
    )
    uvicorn.run(
        "cropstyle.web.server:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        http="cropstyle.web.guards:DeadlineProtocol",
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_worker_healthcheck=30,
        log_level=log_level,
        access_log=False,
    )
