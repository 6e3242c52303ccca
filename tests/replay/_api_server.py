"""A small stand-in for the platform's API (``POST /api/v1/events``), validating as its NestJS ValidationPipe does
(whitelist, forbidNonWhitelisted, the CreateEventDto's decorators) and answering with NestJS's shapes."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sspp_fixtures.model import PLATFORM_EVENT_TYPES

_FIELDS = ("accountId", "userId", "eventType", "timestamp", "metadata")
# class-validator's IsDateString (ISO 8601, as validator.js's isISO8601 accepts it; enough for these tests)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def validate(body: Any) -> list[str]:
    """The messages the API's ValidationPipe gives for ``body`` (empty: valid)."""
    if not isinstance(body, dict):
        return ["an object is expected"]
    problems = [f"property {key} should not exist" for key in body if key not in _FIELDS]
    for key in ("accountId", "userId"):
        value = body.get(key)
        if not isinstance(value, str):
            problems.append(f"{key} must be a string")
        if value in (None, ""):
            problems.append(f"{key} should not be empty")
    if body.get("eventType") not in PLATFORM_EVENT_TYPES:
        problems.append(f"eventType must be one of the following values: {', '.join(PLATFORM_EVENT_TYPES)}")
    timestamp = body.get("timestamp")
    if not isinstance(timestamp, str) or not _ISO.match(timestamp):
        problems.append("timestamp must be a valid ISO 8601 date string")
    if not isinstance(body.get("metadata"), dict):
        problems.append("metadata must be an object")
    return problems


class FakeApi(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.accepted: list[dict[str, Any]] = []
        self.connections = 0
        self.requests = 0
        #: Bodies (by accountId) answered 503 this many more times before being taken.
        self.fail_times: dict[str, int] = {}
        self.always_fail: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/v1/events"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: FakeApi

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_OPTIONS(self) -> None:
        self._answer(200 if self.path == "/api/v1/events" else 404, {})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        with self.server.lock:
            self.server.requests += 1
        if self.path != "/api/v1/events":
            self._answer(404, {"statusCode": 404, "message": f"Cannot POST {self.path}", "error": "Not Found"})
            return
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            self._answer(400, {"statusCode": 400, "message": "Unexpected token in JSON", "error": "Bad Request"})
            return
        account = body.get("accountId") if isinstance(body, dict) else None
        with self.server.lock:
            if account in self.server.always_fail:
                self._answer(500, {"statusCode": 500, "message": "Internal server error"})
                return
            if self.server.fail_times.get(account, 0) > 0:
                self.server.fail_times[account] -= 1
                self._answer(503, {"statusCode": 503, "message": "Service Unavailable"})
                return
        problems = validate(body)
        if problems:
            self._answer(400, {"statusCode": 400, "message": problems, "error": "Bad Request"})
            return
        with self.server.lock:
            self.server.accepted.append(body)
            job = len(self.server.accepted)
        self._answer(202, {"status": "accepted", "jobId": str(job), "message": "Event queued for processing"})


@contextmanager
def fake_api() -> Iterator[FakeApi]:
    server = FakeApi()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
