"""What guards the server, outermost first: `DeadlineProtocol` (uvicorn's HTTP/1.1 protocol with the connection
limit and the header deadline), then `Guard` (Host allow-list, same-origin writes, the body's size and deadline,
the security headers on every response). Every answer either writes is JSON with the same headers as the app's
(`error_head`). `client_address` says who sent a request, behind trusted proxies too."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from http import HTTPStatus

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from cropstyle.web.rejected import Rejected
from cropstyle.web.settings import settings_from_environment

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' blob:; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' blob: data:; connect-src 'self' blob: data:; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
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

log = logging.getLogger("uvicorn.error")  # the server's own log, as uvicorn formats it


def json_body(message: str) -> bytes:
    """{"error": message}, ASCII only: a message may quote what a client sent (a lone surrogate included)."""
    return json.dumps({"error": message}).encode()


def error_head(length: int, extra: list[tuple[bytes, bytes]] = ()) -> list[tuple[bytes, bytes]]:
    """The headers of every error answer, whichever layer sends it: JSON, closed after, the security headers."""
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(length).encode()),
        (b"connection", b"close"),
        (b"cache-control", b"no-store"),
        *extra,
        *SECURITY_HEADERS,
    ]


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> str:
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
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control" or not no_store
                ]
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
        name = _host_name(host)
        if name is None or name not in self.hosts:
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


def _host_name(host: str) -> str | None:
    """The name of a Host header value, lower case, without the port ("[::1]:8000" → "::1"); None when what follows
    the name is not a port (":evil.example")."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
    elif host.count(":") == 1:
        name, rest = host.split(":")[0], ":" + host.split(":")[1]
    else:
        name, rest = host, ""
    if rest and not (rest.startswith(":") and rest[1:].isdigit() and rest[1:].isascii()):
        return None
    return name


async def _send_json(send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    data = json_body(message)
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": error_head(len(data), extra)})
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
        # The connection limit (uvicorn's limit_concurrency would answer in plain text): a connection beyond it, or
        # one opened while as many requests are still running (they outlive connections cut meanwhile), is
        # answered 503 as soon as its request's head arrives.
        self._over_limit = len(self.connections) > self.max_connections or len(self.tasks) >= self.max_connections
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
        if self.conn.our_state is h11.IDLE:  # not when an answer was already sent (a 429 before a broken body)
            self._answer_and_close(400, "not a valid HTTP/1.1 request")
        else:
            self.transport.close()

    def _answer_and_close(self, status: int, message: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
        """An answer written beneath the app (no request cycle to send it through), then the connection closed."""
        body = json_body(message)
        head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode() + b"".join(
            name + b": " + value + b"\r\n" for name, value in error_head(len(body), extra)
        )
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
