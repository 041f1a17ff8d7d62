"""A fake upstream on loopback: one real HTTP server playing Yahoo, Tencent and OpenRouter.

Routes map a path to a Reply; faults can be queued per path (status codes, Retry-After, delays past
the client's timeout, bodies cut off mid-stream, HTML instead of JSON). Also used by the soak bench.
"""

from __future__ import annotations

import gzip
import random
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate: bool = False  # announce the full length, send half, close: a cut-off body
    drip: float = 0.0  # send the body in `pieces`, this many seconds apart: every read is quick, the whole is not
    pieces: int = 20


HTML_ERROR = Reply(
    200, b"<!DOCTYPE html><html><body>Will be right back...</body></html>", {"Content-Type": "text/html"}
)


def gzip_bomb(size: int) -> Reply:
    """A JSON body that is `size` bytes once decompressed (whitespace: valid JSON, were it read whole)
    and about a thousandth of that on the wire."""
    body = gzip.compress(b'{"data": []' + b" " * size + b"}", compresslevel=9)
    return Reply(200, body, {"Content-Type": "application/json", "Content-Encoding": "gzip"})


def padded(body: bytes, size: int) -> bytes:
    """A JSON body padded with whitespace to `size` bytes: the same data, only larger."""
    return body + b" " * max(0, size - len(body))


def fault_replies() -> list[Reply]:
    """Every kind of fault the fault-injection tests and the soak run use."""
    return [
        Reply(429, b'{"error":"Too Many Requests"}', {"Retry-After": "1"}),
        Reply(429, b"Too Many Requests"),
        Reply(401, b'{"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}'),
        Reply(500, b"Internal Server Error"),
        Reply(503, b"Service Unavailable"),
        Reply(200, b'{"chart":{"result":[{"meta"', {"Content-Type": "application/json"}),
        Reply(200, b"x" * 4000, truncate=True),
        HTML_ERROR,
        Reply(200, b"", delay=3.0),
    ]


class FakeUpstream:
    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        # Tencent batches any codes into one URL: /q=r_hk00100,r_hk02513 -> those records.
        self.tencent_records: dict[str, str] = {}
        self.faults: dict[str, deque[Reply]] = defaultdict(deque)
        self.fault_rate = 0.0  # soak: this share of all requests get a random fault
        self.delay = 0.0  # added to every reply (fan-out bench)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.query_params: list[tuple[str, dict[str, str]]] = []  # (path, query) of each request, in step
        self.record_requests = True  # the soak turns this off so its memory figure is the collector's
        self.request_count = 0
        self.faults_served = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, path: str, body: bytes | str, status: int = 200, **headers: str) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Reply(status, data, {k.replace("_", "-"): v for k, v in headers.items()})

    def fail_next(self, path: str, *replies: Reply) -> None:
        """Serve these replies, in order, to the next requests whose path starts with `path`."""
        self.faults[path].extend(replies)

    def count(self, path_prefix: str) -> int:
        return sum(1 for p, _ in self.requests if p.startswith(path_prefix))

    def _reply_for(self, path: str) -> Reply:
        with self._lock:
            for prefix, queued in self.faults.items():
                if queued and path.startswith(prefix):
                    self.faults_served += 1
                    return queued.popleft()
            if self.fault_rate and random.random() < self.fault_rate:
                self.faults_served += 1
                return random.choice(fault_replies())
        if path in self.routes:
            return self.routes[path]
        if path.startswith("/q=") and self.tencent_records:
            found = [self.tencent_records[c] for c in path[3:].split(",") if c in self.tencent_records]
            return Reply(200, " ".join(found).encode("gbk"), {"Content-Type": "text/html; charset=GBK"})
        return Reply(404, b'{"error":{"message":"Not Found","code":404}}')

    def start(self) -> None:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes; do not wait on delayed ACKs

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                path = unquote(url.path)
                with upstream._lock:
                    upstream.request_count += 1
                    if upstream.record_requests:
                        upstream.requests.append((path, dict(self.headers)))
                        upstream.query_params.append((path, dict(parse_qsl(url.query))))
                reply = upstream._reply_for(path)
                delay = reply.delay + upstream.delay
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    if reply.truncate:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    if reply.drip:
                        step = -(-len(reply.body) // reply.pieces)
                        for start in range(0, len(reply.body), step):
                            self.wfile.write(reply.body[start : start + step])
                            self.wfile.flush()
                            time.sleep(reply.drip)
                        return
                    self.wfile.write(reply.body[: len(reply.body) // 2] if reply.truncate else reply.body)
                    if reply.truncate:
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default 5 drops bursts of connects (30 symbols at once)

            def handle_error(self, request, client_address) -> None:
                # A client that gave up (a deadline, a size cap) resets its connection: not a server error.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # shutdown() waits for the serving loop to notice, up to one poll interval: keep test teardown quick.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
