"""The lab's HTTP server: ``GET /fib/<n>`` answers F(n) exactly after a simulated latency.

One stdlib ``ThreadingHTTPServer`` (a thread per connection) on 127.0.0.1,
used by ``fastfib lab io`` and run alone by ``fastfib serve``. Routes::

    GET /fib/<n>                 {"n": 10, "value": "55", "digits": 2, "kernel": "auto"}
                                 after the configured latency (a blocking sleep, as a
                                 database or a remote call would block)
    GET /burn/<n>?kernel=python  {"n": 25, "value": "75025", "kernel": "python", ...}
                                 F(n) by naive recursion: CPU-bound work, no sleep
    GET /health                  {"status": "ok"}
    GET /stats                   requests served, errors, the most handled at once

Every error is JSON, ``{"error": "...", "status": 400}``: a non-integer or
negative n, or n above the cap → 400; an unknown path → 404; another method →
405; a request line over 8 KiB → 414; headers over the cap → 431; a client
whose request head has not arrived within ``timeout_s`` (silent, or dripping
a byte at a time) → 408 and the connection is closed. None of them stops the
server. ``capacity`` bounds how many requests are *handled* at once (the rest
wait for a slot), as a fixed pool of workers would. ``close()`` stops accepting, waits for the connections in progress
(each bounded by ``timeout_s``) and frees the port: no thread is left behind.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import fastfib
from fastfib import registry

__all__ = ["FibServer", "DEFAULT_MAX_N", "MAX_BURN_N"]

DEFAULT_MAX_N = 100_000  # F(10**5) has 20899 digits and takes about a millisecond
MAX_BURN_N = 32  # burn(32) is ~2 s of pure Python: enough to saturate a core
MAX_REQUEST_LINE = 8192
DEFAULT_MAX_HEADER_BYTES = 8192
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,30}")


class _BadRequest(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _parse_n(text: str, cap: int) -> int:
    if not _WHOLE_NUMBER.fullmatch(text):
        raise _BadRequest(HTTPStatus.BAD_REQUEST, f"n must be a whole number such as 1000, not {text[:40]!r}")
    n = int(text)
    if n < 0:
        raise _BadRequest(HTTPStatus.BAD_REQUEST, f"n must be >= 0, got {n}")
    if n > cap:
        raise _BadRequest(HTTPStatus.BAD_REQUEST, f"n must be <= {cap} on this server, got {n}")
    return n


class _HeadDeadline:
    """The handler's input stream, with one deadline for every line read through it."""

    def __init__(self, stream: Any, connection: socket.socket, seconds: float) -> None:
        self._stream, self._connection = stream, connection
        self._deadline = time.monotonic() + seconds

    def readline(self, limit: int = -1) -> bytes:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request head took too long")
        self._connection.settimeout(remaining)
        return self._stream.readline(limit)

    def __getattr__(self, name: str) -> Any:  # read, close, ...: the stream's own
        return getattr(self._stream, name)


class FibHandler(BaseHTTPRequestHandler):
    """One connection. Errors are JSON; logging is off unless the server asks for it."""

    server: FibServer
    protocol_version = "HTTP/1.1"  # keep-alive for clients that want it
    server_version = f"fastfib/{fastfib.__version__}"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.timeout_s)  # every read from the client waits at most this long
        self._stream = self.rfile

    def version_string(self) -> str:
        return self.server_version

    # -- the request loop: BaseHTTPRequestHandler's, with 408 and 431 as JSON ---------------

    def handle_one_request(self) -> None:
        # The whole request head must arrive within timeout_s: a client dripping a byte at a
        # time would otherwise hold its thread for ever, each read well inside the timeout.
        self.rfile = _HeadDeadline(self._stream, self.connection, self.server.timeout_s)  # type: ignore[assignment]
        try:
            line = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if not line:  # the client closed the connection
                self.close_connection = True
                return
            self.raw_requestline = line
            if len(line) > MAX_REQUEST_LINE:
                self.requestline, self.request_version, self.command = "", "HTTP/1.0", ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG, f"request line over {MAX_REQUEST_LINE} bytes")
                return
            if not self.parse_request():  # it has sent its own (JSON) error
                return
            size = sum(len(k) + len(v) + 4 for k, v in self.headers.items())
            if size > self.server.max_header_bytes:
                self.close_connection = True
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                                f"headers are {size} bytes; this server accepts {self.server.max_header_bytes}")
                return
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, f"method {self.command} is not allowed; use GET")
                return
            method()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True
            self.server.count("timeouts")
            try:
                self.request_version = getattr(self, "request_version", "HTTP/1.0") or "HTTP/1.0"
                self.send_error(HTTPStatus.REQUEST_TIMEOUT,
                                f"the request did not arrive within {self.server.timeout_s:g} s")
            except OSError:
                pass
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        status = HTTPStatus(code)
        self.server.count("errors")
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # unparsed or 0.9: still answer with a status line and headers
        if code in (HTTPStatus.BAD_REQUEST, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE) and not getattr(
                self, "command", ""):
            self.close_connection = True  # a request we could not even parse: do not trust the rest
        extra = {"allow": "GET"} if status == HTTPStatus.METHOD_NOT_ALLOWED else {}
        self._send_json(status, {"error": message or status.phrase, "status": int(status)}, extra)

    def _send_json(self, status: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", "") != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")

    # -- routes ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = url.path.split("/")[1:]  # "/fib/10" -> ["fib", "10"]; "/fib/" -> ["fib", ""]
        try:
            with self.server.slot():
                if len(parts) == 2 and parts[0] == "fib":
                    body = self._fib(parts[1])
                elif len(parts) == 2 and parts[0] == "burn":
                    body = self._burn(parts[1], parse_qs(url.query).get("kernel", ["python"])[-1])
                elif url.path == "/health":
                    body = {"status": "ok"}
                elif url.path == "/stats":
                    body = self.server.stats()
                else:
                    raise _BadRequest(HTTPStatus.NOT_FOUND,
                                      f"no such path {url.path[:60]!r}; try /fib/<n>, /burn/<n>, /health, /stats")
        except _BadRequest as exc:
            self.send_error(exc.status, str(exc))
            return
        self.server.count("served")
        self._send_json(HTTPStatus.OK, body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def _fib(self, text: str) -> dict[str, Any]:
        n = _parse_n(text, self.server.max_n)
        if self.server.latency_s:
            time.sleep(self.server.latency_s)  # the simulated blocking call: releases the GIL
        value = str(fastfib.fib(n))
        return {"n": n, "value": value, "digits": len(value), "kernel": "auto",
                "latency_ms": 1000 * self.server.latency_s}

    def _burn(self, text: str, kernel: str) -> dict[str, Any]:
        if kernel not in registry.burn_names():
            raise _BadRequest(HTTPStatus.BAD_REQUEST,
                              f"unknown kernel {kernel[:40]!r}; burn kernels: {', '.join(registry.burn_names())}")
        n = _parse_n(text, MAX_BURN_N)
        return {"n": n, "value": str(registry.burn_of(kernel)(n)), "kernel": kernel}


class FibServer(ThreadingHTTPServer):
    """The server on ``host:port`` (port 0: the system picks a free one; see ``url``).

    >>> with FibServer(latency_s=0.0) as server:
    ...     import urllib.request, json
    ...     json.load(urllib.request.urlopen(server.url + "/fib/10"))["value"]
    '55'
    """

    daemon_threads = False  # server_close() joins every connection's thread:
    block_on_close = True  # nothing is left running after close()
    allow_reuse_address = True
    request_queue_size = 128  # the listen backlog: socketserver's 5 drops connections under a burst

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, latency_s: float = 0.05,
                 max_n: int = DEFAULT_MAX_N, timeout_s: float = 5.0, capacity: int | None = None,
                 max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES, log: Any = None) -> None:
        self.latency_s = latency_s
        self.max_n = max_n
        self.timeout_s = timeout_s
        self.capacity = capacity
        self.max_header_bytes = max_header_bytes
        self.log = log
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(capacity) if capacity else None
        self._counts = {"served": 0, "errors": 0, "timeouts": 0, "in_flight": 0, "max_in_flight": 0}
        self._thread: threading.Thread | None = None
        super().__init__((host, port), FibHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def count(self, what: str) -> None:
        with self._lock:
            self._counts[what] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {**self._counts, "capacity": self.capacity, "latency_ms": 1000 * self.latency_s,
                    "max_n": self.max_n}

    def reset_stats(self) -> None:
        with self._lock:
            self._counts.update(served=0, errors=0, timeouts=0, max_in_flight=self._counts["in_flight"])

    class _Slot:
        def __init__(self, server: FibServer) -> None:
            self.server = server

        def __enter__(self) -> None:
            server = self.server
            if server._slots is not None:
                server._slots.acquire()
            with server._lock:
                server._counts["in_flight"] += 1
                server._counts["max_in_flight"] = max(server._counts["max_in_flight"], server._counts["in_flight"])

        def __exit__(self, *_: Any) -> None:
            server = self.server
            with server._lock:
                server._counts["in_flight"] -= 1
            if server._slots is not None:
                server._slots.release()

    def slot(self) -> _Slot:
        """Held while a request is handled: at most ``capacity`` at once."""
        return FibServer._Slot(self)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.log is not None:  # a client vanishing mid-response is not the server's failure
            super().handle_error(request, client_address)

    # -- running in the background -----------------------------------------------------------

    def start(self) -> FibServer:
        """Serve from a background thread (until ``close``)."""
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fastfib-server", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop accepting, wait for the connections in progress, free the port."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()

    def __enter__(self) -> FibServer:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.close()
