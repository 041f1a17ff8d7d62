"""Upstream access shared by every source module: the HTTP client, typed errors and backoff.

Each upstream has one module here (yahoo, tencent, openrouter) with pure parsers and thin async
fetchers. Nothing here imports textual.
"""

from __future__ import annotations

import json
import random
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

import httpx

# Yahoo and Tencent throttle generic or missing User-Agents; a current desktop browser string works.
BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"

# One value of a parsed row, as the store keeps it: nulls stay None.
Value = str | int | float | None
Row = dict[str, Value]

# Besides 429 and 5xx, the statuses that refuse us as a client (auth, proxy, the edge timing out) rather
# than refuse one request; any other 4xx is about the one thing asked for (an unknown symbol, a bad range).
CLIENT_REFUSED = frozenset({401, 403, 407, 408})
# An error body is kept only to read the upstream's own words; Yahoo's chart errors are ~150 bytes.
MAX_ERROR_BODY = 4096


class UpstreamError(Exception):
    """One failed fetch. str() is the one line shown in the status bar and stored in `polls.error`.

    `upstream_wide` says the upstream as a whole cannot serve us now (network, timeout, 429, 5xx, an
    outage page), so every request to it should wait out a backoff. False: the upstream answered about
    this one request (no data for a symbol, a malformed or absurd body), and other requests may go on."""

    upstream_wide = True

    def __init__(
        self,
        upstream: str,
        message: str,
        url: str = "",
        retry_after: float | None = None,
        *,
        upstream_wide: bool | None = None,
    ) -> None:
        self.upstream, self.message, self.url, self.retry_after = upstream, message, url, retry_after
        if upstream_wide is not None:
            self.upstream_wide = upstream_wide
        super().__init__(f"{upstream}: {message}" + (f" ({url})" if url else ""))


class RateLimited(UpstreamError):
    pass


class HttpStatusError(UpstreamError):
    """An HTTP error status other than 429. `body` keeps the start of what the upstream said, so its
    source module can read the upstream's own error message out of it."""

    def __init__(
        self, upstream: str, status: int, reason: str, url: str, body: bytes, retry_after: float | None = None
    ) -> None:
        super().__init__(
            upstream,
            f"HTTP {status} {reason}".strip(),
            url,
            retry_after,
            upstream_wide=status >= 500 or status in CLIENT_REFUSED,
        )
        self.status, self.body = status, body


class BadPayload(UpstreamError):
    """The upstream answered, but not with what its documented shape promises."""

    upstream_wide = False


class NoData(UpstreamError):
    """The upstream answered with an explicit 'nothing here' (Yahoo chart.error, empty result)."""

    upstream_wide = False


class BackingOff(UpstreamError):
    """Not sent: the upstream is in backoff. Not a new failure, so it does not extend the backoff."""

    upstream_wide = False


@cache
def shared_ssl_context() -> ssl.SSLContext:
    """One verifying SSL context for every client. Building one loads the CA bundle (~0.02 s each on
    this machine); a Collector makes six clients, and every test makes a Collector."""
    return httpx.create_ssl_context()


def make_client(
    timeout_seconds: float = 10.0, transport: httpx.AsyncBaseTransport | None = None, connections: int = 8
) -> httpx.AsyncClient:
    """A long-lived client: connections are reused across polls, so a poll costs no new handshakes."""
    return httpx.AsyncClient(
        headers={"User-Agent": BROWSER_USER_AGENT, "Accept": "*/*"},
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=True,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        transport=transport,
        verify=shared_ssl_context(),
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


async def get(
    client: httpx.AsyncClient,
    upstream: str,
    url: str,
    *,
    timeout: float,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """GET with every transport failure and HTTP error turned into an UpstreamError.

    `url` in errors never carries headers, so an Authorization key cannot leak into a message."""
    try:
        response = await client.get(url, params=params, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise UpstreamError(upstream, f"timed out after {timeout:g} s", url) from None
    except httpx.RemoteProtocolError as exc:
        raise UpstreamError(upstream, f"response cut off: {exc}", url) from None
    except httpx.TransportError as exc:
        raise UpstreamError(upstream, f"cannot connect: {exc or type(exc).__name__}", url) from None
    except httpx.RequestError as exc:  # undecodable content encoding, redirect loops
        raise BadPayload(upstream, f"unreadable response: {exc or type(exc).__name__}", url) from None
    if response.status_code == 429:
        wait = _retry_after(response.headers.get("Retry-After"))
        hint = f", retry after {wait:.0f} s" if wait is not None else ""
        raise RateLimited(upstream, f"429 Too Many Requests{hint}", url, retry_after=wait)
    if response.status_code >= 400:
        raise HttpStatusError(
            upstream,
            response.status_code,
            response.reason_phrase,
            url,
            response.content[:MAX_ERROR_BODY],
            _retry_after(response.headers.get("Retry-After")),
        )
    return response


def parse_json(response: httpx.Response, upstream: str) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        html = response.content.lstrip()[:1] == b"<"
        # An HTML page where data belongs is the upstream's outage, block or consent page: it will say the
        # same to every request, so it backs the upstream off; other garbage is about this one answer.
        raise BadPayload(
            upstream,
            f"expected JSON, got {'HTML' if html else 'malformed body'} ({len(response.content)} bytes)",
            str(response.url),
            upstream_wide=html,
        ) from None


@dataclass
class UpstreamHealth:
    """Per-upstream backoff: exponential with jitter after upstream-wide failures, never sooner than Retry-After."""

    base_seconds: float = 15.0
    cap_seconds: float = 900.0
    failures: int = 0
    not_before: float = 0.0
    last_error: str | None = None
    # Counts every failure. A success clears the backoff only if no failure came while it was in flight:
    # in a fan-out, a request sent before another's 429 may well finish after it.
    serial: int = 0

    def ready(self, now: float) -> bool:
        return now >= self.not_before

    def failed(self, now: float, error: UpstreamError) -> None:
        self.serial += 1
        self.failures += 1
        self.last_error = str(error)
        delay = min(self.cap_seconds, self.base_seconds * 2 ** (self.failures - 1)) * random.uniform(0.5, 1.0)
        if error.retry_after is not None:
            delay = max(delay, min(error.retry_after, 3600.0))
        self.not_before = now + delay

    def succeeded(self, serial_at_start: int) -> None:
        if serial_at_start == self.serial:
            self.failures, self.not_before, self.last_error = 0, 0.0, None


def require(condition: bool, upstream: str, message: str, url: str = "") -> None:
    if not condition:
        raise BadPayload(upstream, message, url)
