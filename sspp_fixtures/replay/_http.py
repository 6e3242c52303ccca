"""The HTTP sink: each event POSTed to the platform's API (``/api/v1/events``) as the platform's clients do.

Bounded concurrency (a thread pool sharing one keep-alive connection pool, at most ``concurrency`` requests in
flight), answers sorted as the report needs them: 2xx accepted; 4xx refused, counted with the API's message (as
expected for the ``--invalid`` events, a finding for the others); 429, 5xx and lost connections retried with
exponential backoff, then recorded as failed. Nothing is dropped without a line in :class:`Delivery`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final
from urllib.parse import urlsplit

import httpx

from ..dsn import mask_text
from ..errors import UsageError
from ._errors import QueueUnreachableError
from ._events import SentEvent
from ._redis import QueueCounts
from ._sinks import Delivery, merge_ranges

__all__ = ["HttpSink", "api_message", "check_http_url"]

_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
_HEADERS: Final = {"content-type": "application/json", "user-agent": "sspp-replay"}


def check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{mask_text(url, url)!r} is not an HTTP URL", hint="e.g. http://localhost:3000/api/v1/events")
    return url


def api_message(response: httpx.Response) -> str:
    """The API's own words: NestJS answers ``{"message": "..." | [...], "error": ..., "statusCode": ...}``."""
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(payload, dict) and "message" in payload:
        message = payload["message"]
        return "; ".join(map(str, message)) if isinstance(message, list) else str(message)
    return json.dumps(payload)[:300]


def _job_id(response: httpx.Response) -> int | None:
    """The Bull job id the API answers with (``{"status": "accepted", "jobId": "42", ...}``), if numeric."""
    try:
        job_id = response.json().get("jobId")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return None
    return int(job_id) if isinstance(job_id, str | int) and str(job_id).isdigit() else None


class HttpSink:
    """POSTs events to the API; ``send`` returns once the batch is handed to the pool (blocking when it is full)."""

    kind = "http"

    def __init__(
        self, url: str, *, concurrency: int = 16, retries: int = 5, backoff_s: float = 0.2, timeout_s: float = 30
    ) -> None:
        self.url = check_http_url(url)
        self.target = mask_text(url, url)
        self.delivery = Delivery("http")
        self._retries = retries
        self._backoff_s = backoff_s
        self._client = httpx.Client(
            headers=_HEADERS,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sspp-replay-http")
        self._slots = threading.BoundedSemaphore(concurrency * 2)
        self._lock = threading.Lock()
        self._futures: set[Future[None]] = set()
        self._fatal: BaseException | None = None
        self._job_ids: list[int] = []

    def probe(self) -> None:
        """One request that tells whether anything answers at the URL (any status will do)."""
        try:
            self._client.request("OPTIONS", self.url, timeout=5)
        except httpx.TransportError as error:
            raise QueueUnreachableError(
                f"the API at {self.target} did not answer: {mask_text(str(error) or type(error).__name__, self.url)}",
                hint="start the API or check the URL",
            ) from None

    def send(self, batch: Sequence[SentEvent]) -> None:
        if self._fatal is not None:
            raise self._fatal
        for event in batch:
            self._slots.acquire()
            future = self._pool.submit(self._deliver, event)
            with self._lock:
                self._futures.add(future)
            future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)
        self._slots.release()
        if future.cancelled():
            return
        error = future.exception()
        if error is not None and self._fatal is None:
            self._fatal = error

    def _deliver(self, event: SentEvent) -> None:
        reason = ""
        for attempt in range(self._retries + 1):
            if attempt:
                time.sleep(min(self._backoff_s * 2 ** (attempt - 1), 5.0))
                with self._lock:
                    self.delivery.retries += 1
            try:
                response = self._client.post(self.url, content=event.body.encode())
            except httpx.TransportError as error:
                reason = f"{type(error).__name__}: {mask_text(str(error), self.url)}"
                continue
            if response.status_code in _RETRY_STATUSES:
                reason = f"{response.status_code}: {api_message(response)}"
                continue
            self._record(event, response)
            return
        with self._lock:
            self.delivery.sent += 1
            self.delivery.failed.append([event.seq, f"gave up after {self._retries + 1} attempts: {reason}"])

    def _record(self, event: SentEvent, response: httpx.Response) -> None:
        with self._lock:
            self.delivery.sent += 1
            if response.is_success:
                job_id = _job_id(response)
                if job_id is not None:
                    self._job_ids.append(job_id)
                if event.invalid is None:
                    self.delivery.accepted += 1
                else:
                    self.delivery.accepted_invalid.append([event.seq, event.invalid])
            elif event.invalid is not None:
                self.delivery.rejected_as_expected += 1
            else:
                self.delivery.rejected.append([event.seq, response.status_code, api_message(response)])

    def finish(self) -> Delivery:
        while True:
            with self._lock:
                pending = list(self._futures)
            if not pending:
                break
            for future in pending:
                future.result()
        if self._fatal is not None:
            raise self._fatal
        for job_id in sorted(self._job_ids):
            merge_ranges(self.delivery.job_ids, job_id, job_id)
        return self.delivery

    def counts(self) -> QueueCounts | None:
        return None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()
