"""`cropstyle serve`: the browser demo, the model and the correction collection API.

GET  /                              the page (web/static/index.html)
GET  /static/…                      the page's own scripts and styles
GET  /vendor/{tfjs,tfjs-backend-wasm,cropperjs,smartcrop}/…   the page's npm files, web/vendor/ (no CDN; vendor.py)
GET  /model/model.json, shards, metadata.json                 the TF.js graph model (--model)
GET  /api/model                     what the page needs to know about the model (404 without one)
POST /api/corrections               multipart: photo, crop (JSON), optional predicted (JSON), model → 201 {"id"}
GET  /api/corrections               the stored corrections (token)
GET  /api/corrections/{id}/photo    one correction's photo (token)
GET  /healthz

Every rejection is a 4xx with {"error": "…"} and stores nothing; a store that cannot be reached is a 503.
What guards the server, outermost first: the connection limit and the header deadline (`DeadlineProtocol`,
uvicorn's HTTP/1.1 protocol with timers), then `Guard` (Host allow-list, same-origin writes, the body's size
and deadline, the security headers on every response), then the routes (rate limits kept in the store,
bounded decoding).
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import os
import re
import time
from http import HTTPStatus
from dataclasses import asdict, dataclass, field
from pathlib import Path

import h11
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

from cropstyle.extractor.geometry import LABEL_VALUES, Crop, crop_problem
from cropstyle.web import vendor
from cropstyle.web.limits import (AUTH_FAILURE_BURST, AUTH_FAILURES_PER_MINUTE, BODY_TIMEOUT_S, DECODE_SLOTS,
                                  HEADER_TIMEOUT_S, KEEP_ALIVE_S, MAX_BODY_BYTES, MAX_CONNECTIONS, MAX_FIELD_BYTES,
                                  MAX_MODEL_NAME, MAX_PHOTO_BYTES)
from cropstyle.web.rejected import Rejected
from cropstyle.web.store import CorrectionStore, StoreUnavailable, open_store
from cropstyle.web.uploads import EXTENSION_TYPES, check_photo

WEB = Path(__file__).resolve().parent
STATIC = WEB / "static"

FIELDS = {"photo", "crop", "predicted", "model"}
CORRECTION_ID = re.compile(r"[0-9a-f]{32}")

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval' blob:; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' blob: data:; connect-src 'self' blob: data:; worker-src 'self' blob:; "
                           "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    # Cross-origin isolation: lets the wasm backend use SharedArrayBuffer threads (everything is same-origin).
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-embedder-policy", b"require-corp"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
NO_STORE_PREFIXES = ("/api/", "/healthz")  # corrections, photos, answers: never kept by a cache
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SETTINGS_VARIABLE = "CROPSTYLE_SERVE"  # the settings, as JSON, from `serve` to each worker process
MAX_OFFSET = 2**62  # beyond any store's row count, within SQLite's and PostgreSQL's 64-bit integers
STORE_UNAVAILABLE = "the store is unavailable, nothing was stored: try again later"

log = logging.getLogger("uvicorn.error")  # the server's own log, as uvicorn formats it


def json_body(message: str) -> bytes:
    """{"error": message}, ASCII only: a message may quote what a client sent (a lone surrogate included)."""
    return json.dumps({"error": message}).encode()


def error_head(status: int, length: int, extra: list[tuple[bytes, bytes]] = ()) -> list[tuple[bytes, bytes]]:
    """The headers of every error answer, whichever layer sends it: JSON, closed after, the security headers."""
    return [(b"content-type", b"application/json"), (b"content-length", str(length).encode()),
            (b"connection", b"close"), (b"cache-control", b"no-store"), *extra, *SECURITY_HEADERS]


class SafeJSONResponse(JSONResponse):
    """FastAPI's JSON answers, ASCII-escaped (Starlette writes UTF-8, which a lone surrogate cannot be)."""

    def render(self, content) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class ServeSettings:
    """Everything a server process needs; `serve` hands it to each worker through SETTINGS_VARIABLE."""

    store: str  # a folder (SQLite) or postgresql://USER@HOST/DB
    model: str | None = None  # WEBMODEL or RUN
    token: str | None = None
    rate_per_minute: float = 60
    rate_burst: int | None = None  # default: a third of the rate
    trusted_proxies: list[str] = field(default_factory=list)  # addresses or networks whose X-Forwarded-For counts
    allowed_hosts: list[str] = field(default_factory=list)  # Host names accepted; empty: the bind address, localhost
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    header_timeout: float = HEADER_TIMEOUT_S
    body_timeout: float = BODY_TIMEOUT_S
    max_connections: int = MAX_CONNECTIONS

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise ValueError("the token is empty: anyone could read the corrections; give a token or none at all")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        return cls(**json.loads(text))

    def host_names(self) -> set[str]:
        """The Host header names this server answers (lower case, no port)."""
        if self.allowed_hosts:
            return {name.lower().strip("[]") for name in self.allowed_hosts}
        names = {"localhost", "127.0.0.1", "::1"}
        if self.host not in ("0.0.0.0", "::", ""):
            names.add(self.host.lower().strip("[]"))
        return names

    def proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(proxy, strict=False) for proxy in self.trusted_proxies]


TOKEN_VARIABLE = "CROPSTYLE_TOKEN"


def read_token(given: str | None, token_file: Path | None, environ: dict[str, str]) -> str | None:
    """The token from --token, --token-file (its first line) or CROPSTYLE_TOKEN, at most one of them; the last two
    keep it out of the process list."""
    sources = {"--token": given, "--token-file": token_file, TOKEN_VARIABLE: environ.get(TOKEN_VARIABLE)}
    named = [name for name, value in sources.items() if value is not None]
    if len(named) > 1:
        raise ValueError(f"the token is given twice ({' and '.join(named)}): give it once")
    if token_file is not None:
        try:
            lines = token_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read the token from {token_file}: {error}") from None
        return lines[0].strip() if lines else ""
    return given if given is not None else environ.get(TOKEN_VARIABLE)


def has_password(store: str) -> bool:
    """A PostgreSQL URL with a password in it (postgresql://user:secret@host/db)."""
    if not store.startswith(("postgresql://", "postgres://")):
        return False
    credentials = store.split("://", 1)[1].split("@", 1)
    return len(credentials) == 2 and ":" in credentials[0]


@functools.cache
def settings_from_environment() -> ServeSettings:
    text = os.environ.get(SETTINGS_VARIABLE)
    if not text:
        raise RuntimeError(f"{SETTINGS_VARIABLE} is not set: start the server with `cropstyle serve`")
    return ServeSettings.from_json(text)


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


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str:
    """Who sent a request: the connection's address; only when that is a trusted proxy, the last address in
    X-Forwarded-For that is not one of the trusted proxies. Always a valid address, written normalised:
    a header that is not a list of addresses is refused, never stored."""
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        raise Rejected(400, "the connection has no client address") from None
    if not any(address in network for network in trusted):
        return str(address)
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    for hop in reversed(hops):  # the proxy appended the last one; earlier ones are whatever the client sent
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            raise Rejected(400, "X-Forwarded-For from the trusted proxy is not a list of addresses") from None
        if not any(address in network for network in trusted):
            break
    return str(address)


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


class Guard:
    """ASGI middleware, the outermost of our layers. For every HTTP request: the Host header must be one of
    `hosts` (DNS rebinding); a write (any method but GET, HEAD, OPTIONS) from a browser must come from this
    origin; the body may have at most `limit` bytes and must arrive within `body_timeout` s of the headers
    (413 and 408, without reading the rest); every response gets the security headers, and Cache-Control:
    no-store under /api/ and /healthz."""

    def __init__(self, app, *, limit: int, body_timeout: float, hosts: set[str]):
        self.app, self.limit, self.body_timeout, self.hosts = app, limit, body_timeout, hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        no_store = scope["path"].startswith(NO_STORE_PREFIXES)

        async def guarded_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control" or not no_store]
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if no_store:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        started = False
        problem = self._problem(scope)
        if problem:
            return await _send_json(guarded_send, *problem)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await _send_json(guarded_send, 413, f"request too large: the limit is {self.limit // 2**20} MB")
        received = 0
        deadline = time.monotonic() + self.body_timeout
        body_complete = False

        async def guarded_receive():
            nonlocal received, body_complete
            if body_complete:  # what follows the body (a disconnect) has no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                raise BodyTimeout from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
                body_complete = not message.get("more_body", False)
            return message

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await _send_json(guarded_send, 413, f"request too large: the limit is {self.limit // 2**20} MB")
        except BodyTimeout:
            if not started:
                await _send_json(guarded_send, 408, f"the body did not arrive within {self.body_timeout:g} s")
        except Exception:  # a bug: logged, answered as every error is (uvicorn's own 500 is plain text)
            log.exception("error in %s %s", scope["method"], scope["path"])
            if not started:
                await _send_json(guarded_send, 500, "internal error: nothing was stored")

    def _problem(self, scope) -> tuple[int, str] | None:
        """(status, message) for a request refused before it reaches a route."""
        headers = {k.lower(): v for k, v in scope.get("headers") or []}
        host = headers.get(b"host", b"").decode("latin-1")
        if _host_name(host) not in self.hosts:
            return 421, "this server does not answer to that Host name (see --allowed-host)"
        if scope["method"] in SAFE_METHODS:
            return None
        origin = headers.get(b"origin")
        fetch_site = headers.get(b"sec-fetch-site", b"").lower()
        if fetch_site in (b"cross-site", b"same-site"):
            return 403, "cross-site writes are refused: submit from this server's page"
        if origin is not None:
            origin_text = origin.decode("latin-1")
            netloc = origin_text.split("://", 1)[1] if "://" in origin_text else None
            if netloc is None or netloc.lower() != host.lower():
                return 403, "writes from another origin are refused: submit from this server's page"
        return None


def _host_name(host: str) -> str:
    """The name of a Host header value, lower case, without the port ("[::1]:8000" → "::1"); "" when what follows
    the name is not a port (":evil.example")."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
    elif host.count(":") == 1:
        name, rest = host.split(":")[0], ":" + host.split(":")[1]
    else:
        name, rest = host, ""
    if rest and not (rest.startswith(":") and rest[1:].isdigit() and rest[1:].isascii()):
        return ""
    return name


async def _send_json(send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    data = json_body(message)
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": error_head(status, len(data), extra)})
    await send({"type": "http.response.body", "body": data})


class DeadlineProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for the request's headers: a connection that has not sent
    a whole request head within `header_timeout` s of opening (or of the previous response) is answered 408
    and closed, however slowly its bytes trickle in. Beyond `max_connections` open connections, a new one is
    answered 503. Every answer written here is JSON with the security headers, as the app's are."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = settings_from_environment()
        self.header_timeout, self.max_connections = settings.header_timeout, settings.max_connections
        self._header_timer: asyncio.TimerHandle | None = None
        self._bytes_waiting = False
        self._over_limit = False

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        # The connection limit (uvicorn's limit_concurrency would answer in plain text): a connection beyond it
        # is answered 503 as soon as its request's head arrives.
        self._over_limit = len(self.connections) > self.max_connections
        self._arm_header_timer()

    def handle_events(self) -> None:
        if self._over_limit:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError:
                event = None
            if event is not h11.NEED_DATA:
                self._answer_and_close(503, "too many connections: try again in a moment", [(b"retry-after", b"1")])
            return
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a new request's head arrived
            self._disarm_header_timer()

    def send_400_response(self, msg: str) -> None:
        self._answer_and_close(400, "not a valid HTTP/1.1 request")

    def _answer_and_close(self, status: int, message: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
        """An answer written beneath the app (no request cycle to send it through), then the connection closed."""
        body = json_body(message)
        head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode() + b"".join(
            name + b": " + value + b"\r\n" for name, value in error_head(status, len(body), extra))
        self.transport.write(head + b"\r\n" + body)
        self.transport.close()

    def connection_lost(self, exc) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_timer is not None:
            self._bytes_waiting = True
        super().data_received(data)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()  # the next request's head has its own deadline

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._bytes_waiting = False
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_deadline_passed)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_deadline_passed(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self._bytes_waiting and self.conn.our_state in (h11.IDLE, h11.DONE):
            self._answer_and_close(408, f"the request's headers did not arrive within {self.header_timeout:g} s")
        self.transport.close()


def _finite_number(value) -> bool:
    """A JSON number a float holds: not a bool, not NaN or infinite, not an integer beyond float's range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer of hundreds of digits
        return False


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a finite number")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"keys given more than once: {', '.join(repeated)}")
    return dict(pairs)


def parse_label(text: str, field: str) -> Crop:
    """A label field: a JSON object with exactly left, top, right, bottom, angle, each once, each a finite number."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except ValueError as error:
        raise Rejected(400, f"`{field}` is not valid JSON with finite numbers and unique keys: {error}") from None
    except RecursionError:  # arrays or objects nested thousands deep
        raise Rejected(400, f"`{field}` is nested too deep: a label is one flat object") from None
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
    app = FastAPI(title="cropstyle", docs_url=None, redoc_url=None, openapi_url=None,
                  default_response_class=SafeJSONResponse)
    app.state.store, app.state.model = store, model

    @app.exception_handler(Rejected)
    async def rejected(request: Request, error: Rejected):
        return SafeJSONResponse({"error": error.message}, status_code=error.status, headers=error.headers)

    @app.exception_handler(StoreUnavailable)
    async def unavailable(request: Request, error: StoreUnavailable):
        log.warning("store unavailable for %s %s: %s", request.method, request.url.path, error)  # its path or URL
        return SafeJSONResponse({"error": STORE_UNAVAILABLE}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        return SafeJSONResponse({"error": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(request: Request, error: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}" for e in error.errors())
        return SafeJSONResponse({"error": f"bad request parameters: {problems}"}, status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception):  # Starlette logs it; the client gets JSON
        return SafeJSONResponse({"error": "internal error: nothing was stored"}, status_code=500)

    def client_of(request: Request) -> str:
        # Repeated header lines are one list, in order (RFC 9110 5.3): the proxy's line comes last.
        return client_address(request.client.host if request.client else None,
                              ", ".join(request.headers.getlist("x-forwarded-for")), trusted)

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
        raise Rejected(429, f"too many wrong tokens: try again in {math.ceil(wait)} s",
                       {"Retry-After": str(math.ceil(wait))})

    @app.get("/")
    async def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/healthz")
    async def healthz():
        count = await run_in_threadpool(store.count)
        problem = await run_in_threadpool(store.writable_problem)
        answer = {"status": "ok", "corrections": count, "model": model.version if model else None}
        if problem:  # readable, but a submission would fail: a load balancer should send writes elsewhere
            log.warning("healthz: %s", problem)
            return SafeJSONResponse({**answer, "status": "store not writable"}, status_code=503,
                                    headers={"Retry-After": "1"})
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
            raise Rejected(429, f"too many submissions: try again in {math.ceil(wait)} s",
                           {"Retry-After": str(math.ceil(wait))})
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
            async with decode_slots:  # the photo in memory and decoded: DECODE_SLOTS at a time in this process
                data = await photo_file.read(MAX_PHOTO_BYTES + 1)
                photo = await run_in_threadpool(check_photo, data)
                del data
                problem = crop_problem(crop, photo.width, photo.height)
                if problem:
                    raise Rejected(422, f"`crop` is not a valid crop of this {photo.width}×{photo.height} photo: {problem}")
                if predicted is not None:
                    problem = crop_problem(predicted, photo.width, photo.height)
                    if problem:
                        raise Rejected(422, f"`predicted` is not a valid crop of this photo: {problem}")
                identifier, created = await run_in_threadpool(
                    store.add, photo.data, photo.extension, photo.width, photo.height, photo.orientation, crop,
                    predicted, model_name, client)
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
        raise FileNotFoundError(f"the page's scripts are missing from {vendor.VENDOR} ({', '.join(missing[:3])}): "
                                "run scripts/setup.sh")
    app.mount("/vendor", PublicFiles(directory=vendor.VENDOR), name="vendor")
    if model is not None:
        app.mount("/model", PublicFiles(directory=model.directory), name="model")
    app.add_middleware(Guard, limit=MAX_BODY_BYTES, body_timeout=settings.body_timeout,
                       hosts=settings.host_names())  # added last: the outermost of our layers
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
        print("cropstyle serve: the --store URL holds a password, which the process list shows: give it in "
              "PGPASSWORD or ~/.pgpass (libpq reads both) instead")
    if settings.model is not None:
        load_model_info(Path(settings.model))
    with open_store(settings.store) as store:  # created or migrated once, before the workers start
        location = store.location
    os.environ[SETTINGS_VARIABLE] = settings.to_json()
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        if not settings.token:
            print(f"cropstyle serve: listening on {settings.host} without --token: anyone who reaches it can read "
                  "the corrections")
        print("cropstyle serve: beyond loopback, put a reverse proxy in front (TLS, connection limits), "
              "see web/README.md")
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    print(f"cropstyle serve: open http://{shown}:{settings.port}/ (store {location}, {settings.workers} "
          f"worker{'s' if settings.workers > 1 else ''}; Ctrl-C stops)", flush=True)
    uvicorn.run("cropstyle.web.server:app_from_environment", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, http="cropstyle.web.server:DeadlineProtocol", proxy_headers=False,
                server_header=False, timeout_keep_alive=KEEP_ALIVE_S,
                timeout_worker_healthcheck=30, log_level=log_level, access_log=False)
