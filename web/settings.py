"""`cropstyle serve`'s settings: what each server process needs (ServeSettings, handed from `serve` to each worker
through SETTINGS_VARIABLE), and where the token comes from (an argument, a file, the environment)."""

from __future__ import annotations

import functools
import ipaddress
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cropstyle.web.limits import BODY_TIMEOUT_S, HEADER_TIMEOUT_S, MAX_CONNECTIONS

SETTINGS_VARIABLE = "CROPSTYLE_SERVE"  # the settings, as JSON, from `serve` to each worker process


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
            return {name.lower().strip("[]") for name in self.allowed_hosts} - {""}
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
            lines = token_file.read_text(encoding="utf-8-sig").splitlines()  # an editor's BOM is no part of it
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read the token from {token_file}: {error}") from None
        return lines[0].strip() if lines else ""
    token = given if given is not None else environ.get(TOKEN_VARIABLE)
    return None if token is None else token.strip()  # as the header's is: spaces around it could never match


def has_password(store: str) -> bool:
    """A PostgreSQL URL with a password in it (postgresql://user:secret@host/db, or ?password=secret)."""
    if not store.startswith(("postgresql://", "postgres://")):
        return False
    from cropstyle.web.store_postgres import redacted

    return redacted(store) != store


@functools.cache
def settings_from_environment() -> ServeSettings:
    text = os.environ.get(SETTINGS_VARIABLE)
    if not text:
        raise RuntimeError(f"{SETTINGS_VARIABLE} is not set: start the server with `cropstyle serve`")
    return ServeSettings.from_json(text)
