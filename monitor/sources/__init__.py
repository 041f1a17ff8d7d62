"""Upstream access shared by every source module: the HTTP client, typed errors and backoff.

Each upstream has one module here (yahoo, tencent, openrouter) with pure parsers and thin async
fetchers. Nothing here imports textual.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Mapping
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
# What one answer may hold, after decompression, unless its endpoint says otherwise: these payloads are
# kilobytes (a chart since 2004 is ~0.6 MB), so anything far larger is a fault or an attack.
MAX_BODY = 4 * 2**20
# Only encodings decoded here, chunk by chunk under the size cap (never brotli/zstd, which httpx would
# decode whole): a gzip bomb stops at the cap instead of filling memory.
ACCEPT_ENCODING = "gzip, deflate"
# Redirects are followed only to the same scheme, host and port as the URL asked for.
MAX_REDIRECTS = 5


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
        headers={"User-Agent": BROWSER_USER_AGENT, "Accept": "*/*", "Accept-Encoding": ACCEPT_ENCODING},
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=False,  # get() follows same-host redirects itself
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


@dataclass(frozen=True)
class Answer:
    """A successful answer, read whole (within its size cap) and decoded: what parsers get."""

    status_code: int
    url: str
    headers: httpx.Headers
    content: bytes


async def get(
    client: httpx.AsyncClient,
    upstream: str,
    url: str,
    *,
    timeout: float,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    max_bytes: int = MAX_BODY,
) -> Answer:
    """GET with every transport failure and HTTP error turned into a one-line UpstreamError.

    `timeout` bounds the whole request: connecting, every redirect and every byte of the body (httpx's
    own timeouts are per read, so a body sent a byte at a time would never end). The body is streamed
    and refused past `max_bytes` after decompression. `url` in errors never carries headers, so an
    Authorization key cannot leak into a message."""
    try:
        async with asyncio.timeout(timeout):
            return await _get(client, upstream, url, params, headers, max_bytes)
    except TimeoutError:
        raise UpstreamError(upstream, f"timed out after {timeout:g} s", url) from None
    except httpx.TimeoutException:
        raise UpstreamError(upstream, f"timed out after {timeout:g} s", url) from None
    except httpx.RemoteProtocolError as exc:
        raise UpstreamError(upstream, f"response cut off: {exc}", url) from None
    except httpx.TransportError as exc:
        raise UpstreamError(upstream, f"cannot connect: {exc or type(exc).__name__}", url) from None
    except httpx.HTTPError as exc:  # undecodable content encoding, anything else httpx raises while asking
        raise BadPayload(upstream, f"unreadable response: {exc or type(exc).__name__}", url) from None
    except (httpx.InvalidURL, httpx.StreamError, ValueError) as exc:  # e.g. "URL too long", a bad header value
        raise BadPayload(upstream, f"request refused by the client: {type(exc).__name__}: {exc}"[:200], url) from None


async def _get(
    client: httpx.AsyncClient,
    upstream: str,
    url: str,
    params: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
    max_bytes: int,
) -> Answer:
    request = client.build_request("GET", url, params=params, headers=headers)
    origin = (request.url.scheme, request.url.host, request.url.port)
    for _ in range(MAX_REDIRECTS + 1):
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.is_redirect:
                target = request.url.join(response.headers["Location"])
                if (target.scheme, target.host, target.port) != origin:
                    raise BadPayload(
                        upstream,
                        f"redirect to another host refused: {target.scheme}://{target.host}"[:200],
                        url,
                        upstream_wide=True,
                    )
                request = client.build_request("GET", target, headers=headers)
                continue
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
                    await _read(response, upstream, url, MAX_ERROR_BODY, cut=True),
                    _retry_after(response.headers.get("Retry-After")),
                )
            body = await _read(response, upstream, url, max_bytes)
            return Answer(response.status_code, str(response.url), response.headers, body)
        finally:
            await response.aclose()
    raise BadPayload(upstream, f"more than {MAX_REDIRECTS} redirects", url, upstream_wide=True)


def _decoder(encoding: str, upstream: str, url: str) -> Any:
    """A zlib decompressor for the Content-Encoding, None for none; any other encoding is refused."""
    codings = [c.strip() for c in encoding.lower().split(",") if c.strip() not in ("", "identity")]
    if not codings:
        return None
    if codings in (["gzip"], ["x-gzip"]):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if codings == ["deflate"]:
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib-wrapped, as servers send it
    raise BadPayload(upstream, f"unsupported Content-Encoding {encoding[:40]!r}", url)


async def _read(response: httpx.Response, upstream: str, url: str, max_bytes: int, cut: bool = False) -> bytes:
    """The body, decompressed a bounded piece at a time; more than `max_bytes` is refused (or, with
    `cut`, cut off there: an error body is only read for the upstream's own words)."""
    decoder = _decoder(response.headers.get("Content-Encoding", ""), upstream, url)
    body = bytearray()
    # An in-memory response (httpx.MockTransport in tests) is whole already; a network one is streamed.
    chunks = _whole(response.content) if response.is_stream_consumed else response.aiter_raw()
    try:
        async for chunk in chunks:
            data = chunk
            while data:
                room = max_bytes + 1 - len(body)
                if decoder is None:
                    body += data[:room]
                    data = b""
                else:
                    body += decoder.decompress(data, room)
                    data = decoder.unconsumed_tail
                if len(body) > max_bytes:
                    if cut:
                        return bytes(body[:max_bytes])
                    raise BadPayload(upstream, f"response larger than {_size(max_bytes)} (refused)", url)
            if decoder is not None and decoder.eof:
                break
    except zlib.error as exc:
        if cut:
            return bytes(body)
        raise BadPayload(upstream, f"undecodable {response.headers.get('Content-Encoding')} body: {exc}", url) from None
    return bytes(body)


async def _whole(content: bytes) -> AsyncIterator[bytes]:
    yield content


def _size(n: int) -> str:
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n / 2**10:g} KB" if n >= 2**10 else f"{n} bytes"


def parse_json(response: Answer, upstream: str) -> Any:
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
