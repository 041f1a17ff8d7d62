"""Upstream access shared by every source module: the HTTP client, typed errors and backoff.

Each upstream has one module here (yahoo, tencent, openrouter) with pure parsers and thin async
fetchers. Nothing here imports textual.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

# Yahoo and Tencent throttle generic or missing User-Agents; a current desktop browser string works.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
)


class UpstreamError(Exception):
    """One failed fetch. str() is the one line shown in the status bar and stored in `polls.error`."""

    def __init__(self, upstream: str, message: str, url: str = "", retry_after: float | None = None):
        self.upstream, self.message, self.url, self.retry_after = upstream, message, url, retry_after
        super().__init__(f"{upstream}: {message}" + (f" ({url})" if url else ""))


class RateLimited(UpstreamError):
    pass


class BadPayload(UpstreamError):
    """The upstream answered, but not with what its documented shape promises."""


class NoData(UpstreamError):
    """The upstream answered with an explicit 'nothing here' (Yahoo chart.error, empty result)."""


def make_client(timeout_seconds: float = 10.0, transport: httpx.AsyncBaseTransport | None = None,
                connections: int = 8) -> httpx.AsyncClient:
    """A long-lived client: connections are reused across polls, so a poll costs no new handshakes."""
    return httpx.AsyncClient(
        headers={"User-Agent": BROWSER_USER_AGENT, "Accept": "*/*"},
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=True,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        transport=transport,
    )


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


async def get(client: httpx.AsyncClient, upstream: str, url: str, *, timeout: float, params: dict | None = None,
              headers: dict | None = None) -> httpx.Response:
    """GET with every transport failure and HTTP error turned into an UpstreamError.

    `url` in errors never carries headers, so an Authorization key cannot leak into a message."""
    try:
        response = await client.get(url, params=params, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise UpstreamError(upstream, f"timed out after {timeout:g} s", url) from None
    except httpx.RemoteProtocolError as exc:
        raise BadPayload(upstream, f"response cut off: {exc}", url) from None
    except httpx.TransportError as exc:
        raise UpstreamError(upstream, f"cannot connect: {exc or type(exc).__name__}", url) from None
    if response.status_code == 429:
        wait = _retry_after(response.headers.get("Retry-After"))
        hint = f", retry after {wait:.0f} s" if wait is not None else ""
        raise RateLimited(upstream, f"429 Too Many Requests{hint}", url, retry_after=wait)
    if response.status_code >= 400:
        raise UpstreamError(upstream, f"HTTP {response.status_code} {response.reason_phrase}".strip(), url,
                            retry_after=_retry_after(response.headers.get("Retry-After")))
    return response


def parse_json(response: httpx.Response, upstream: str) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        kind = "HTML" if response.content.lstrip()[:1] == b"<" else "malformed body"
        raise BadPayload(upstream, f"expected JSON, got {kind} ({len(response.content)} bytes)",
                         str(response.url)) from None


@dataclass
class UpstreamHealth:
    """Per-upstream backoff: exponential with jitter after failures, never sooner than Retry-After."""

    base_seconds: float = 15.0
    cap_seconds: float = 900.0
    failures: int = 0
    not_before: float = 0.0
    last_error: str | None = None

    def ready(self, now: float) -> bool:
        return now >= self.not_before

    def failed(self, now: float, error: UpstreamError) -> None:
        self.failures += 1
        self.last_error = str(error)
        delay = min(self.cap_seconds, self.base_seconds * 2 ** (self.failures - 1)) * random.uniform(0.5, 1.0)
        if error.retry_after is not None:
            delay = max(delay, min(error.retry_after, 3600.0))
        self.not_before = now + delay

    def succeeded(self) -> None:
        self.failures, self.not_before, self.last_error = 0, 0.0, None


def require(condition: bool, upstream: str, message: str, url: str = "") -> None:
    if not condition:
        raise BadPayload(upstream, message, url)
