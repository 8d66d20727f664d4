"""Transport-neutral request and response of the local org's single dispatch point."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    # Set by fault injection: item index -> (error code, message) to fail inside a 200 answer.
    item_errors: dict[int, tuple[str, str]] | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.query_string, keep_blank_values=True).items()}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False  # fault injection: close the socket without answering

    @classmethod
    def json(cls, status: int, payload) -> "Response":
        return cls(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                   {"Content-Type": "application/json;charset=UTF-8"})

    @classmethod
    def xml(cls, status: int, text: str) -> "Response":
        return cls(status, text.encode("utf-8"), {"Content-Type": "text/xml;charset=UTF-8"})
