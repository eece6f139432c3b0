"""The one way a request is refused: `Rejected(status, message)`, answered as {"error": message} and storing nothing."""

from __future__ import annotations


class Rejected(Exception):
    """A request that stores nothing: answered with `status` and {"error": message}."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers
