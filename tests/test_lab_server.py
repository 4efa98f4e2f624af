"""The lab's HTTP server, against real clients on loopback: status codes, JSON bodies,
bad requests that leave it serving, a clean shutdown, and ``fastfib serve`` as a process."""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import fastfib
from fastfib.lab.server import FibServer
from helpers import port_is_free

pytestmark = pytest.mark.timeout(60)


def get(server: FibServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        assert response.getheader("Content-Type") == "application/json"
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.fixture
def server():
    before = threading.active_count()
    with FibServer(latency_s=0.0, max_n=10_000, timeout_s=0.5, max_header_bytes=1024) as running:
        yield running
    port = running.server_address[1]
    assert port_is_free("127.0.0.1", port), "the port still accepts connections after close()"
    assert threading.active_count() == before, "a server or connection thread outlived close()"


def test_fib_is_exact(server):
    status, body = get(server, "/fib/300")
    assert status == 200
    assert body["n"] == 300 and body["value"] == str(fastfib.fib(300)) and body["digits"] == len(body["value"])


def test_burn_is_exact_on_each_kernel(server):
    for kernel in fastfib.registry.burn_names():
        status, body = get(server, f"/burn/15?kernel={kernel}")
        assert (status, body["value"], body["kernel"]) == (200, "610", kernel)


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/fib/-1", 400, ">= 0"),
    ("/fib/abc", 400, "whole number"),
    ("/fib/1.5", 400, "whole number"),
    ("/fib/99999999999", 400, "<= 10000"),
    ("/fib/" + "9" * 200, 400, "whole number"),
    ("/fib/", 400, "whole number"),
    ("/burn/40", 400, "<= 32"),
    ("/burn/10?kernel=nope", 400, "unknown kernel"),
    ("/nope", 404, "no such path"),
    ("/fib/1/2", 404, "no such path"),
])
def test_bad_requests_get_a_json_error_and_the_server_keeps_serving(server, path, status, says):
    got, body = get(server, path)
    assert (got, body["status"]) == (status, status)
    assert says in body["error"]
    assert get(server, "/fib/10") == (200, {"n": 10, "value": "55", "digits": 2, "kernel": "auto", "latency_ms": 0.0})


def test_other_methods_are_405_with_allow(server):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request("POST", "/fib/10", body=b"x")
    response = connection.getresponse()
    assert response.status == 405 and response.getheader("Allow") == "GET"
    assert json.loads(response.read())["status"] == 405
    connection.close()
    assert get(server, "/health") == (200, {"status": "ok"})


def test_oversized_headers_get_431(server):
    status, body = get(server, "/fib/10", headers={"X-Padding": "a" * 4000})
    assert status == 431 and "headers" in body["error"]
    assert get(server, "/health")[0] == 200


def test_a_header_line_over_64_kib_gets_431(server):
    status, _ = get(server, "/fib/10", headers={"X-Padding": "a" * 70_000})
    assert status == 431
    assert get(server, "/health")[0] == 200


def test_an_overlong_request_line_gets_414(server):
    status, body = get(server, "/fib/" + "1" * 9000)
    assert status == 414 and body["status"] == 414


def raw(server: FibServer, data: bytes, *, then_wait: bool = True) -> bytes:
    """Send raw bytes, then read whatever the server answers until it closes."""
    with socket.create_connection(server.server_address[:2], timeout=10) as client:
        client.sendall(data)
        chunks = []
        while then_wait and (chunk := client.recv(65536)):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_client_that_goes_quiet_mid_request_gets_408_and_is_closed(server):
    started = time.monotonic()
    answer = raw(server, b"GET /fib/10 HTTP/1.1\r\nHost: x\r\n")  # no blank line: the request never ends
    assert answer.startswith(b"HTTP/1.1 408")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["status"] == 408
    assert time.monotonic() - started < 8  # the 0.5 s timeout, not the client's 10 s
    assert server.stats()["timeouts"] >= 1
    assert get(server, "/fib/10")[0] == 200


def test_garbage_request_lines_get_400(server):
    answer = raw(server, b"\x16\x03\x01 not http at all\r\n\r\n")
    assert b" 400 " in answer.split(b"\r\n", 1)[0]
    assert get(server, "/health")[0] == 200


def test_keep_alive_serves_several_requests_on_one_connection(server):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    for n in (1, 2, 3):
        connection.request("GET", f"/fib/{n}")
        assert json.loads(connection.getresponse().read())["value"] == str(fastfib.fib(n))
    connection.close()


def test_capacity_bounds_requests_in_flight():
    with FibServer(latency_s=0.05, capacity=2) as server:
        threads = [threading.Thread(target=get, args=(server, "/fib/5")) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stats = server.stats()
    assert stats["served"] == 6 and stats["max_in_flight"] == 2


@pytest.mark.parametrize(("signum", "exit_status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_fastfib_serve_answers_errors_and_stops_cleanly(tmp_path, signum, exit_status):
    process = subprocess.Popen(
        [sys.executable, "-m", "fastfib", "serve", "--port", "0", "--latency-ms", "0", "--quiet",
         "--duration", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line + process.stderr.read()
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        for path, status in (("/fib/-1", 400), ("/fib/abc", 400), ("/fib/99999999999", 400), ("/nope", 404),
                             ("/fib/20", 200)):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", path)
            response = connection.getresponse()
            assert response.status == status and json.loads(response.read())
            connection.close()
        process.send_signal(signum)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == exit_status, err
    assert "stopped after 1 answer(s), 4 error(s)" in out
    assert port_is_free("127.0.0.1", port)


def test_fastfib_serve_refuses_a_port_in_use():
    with FibServer(latency_s=0.0) as server:
        done = subprocess.run([sys.executable, "-m", "fastfib", "serve", "--port", str(server.server_address[1])],
                              capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "cannot listen" in done.stderr


def test_a_client_dripping_its_request_a_byte_at_a_time_is_cut_off(server):
    """Each byte arrives well inside the per-read timeout, but the whole head must arrive within it."""
    with socket.create_connection(server.server_address[:2], timeout=10) as client:
        started = time.monotonic()
        answer = b""
        for byte in b"GET /fib/10 HTTP/1.1\r\nX-Slow: " + b"a" * 200:
            try:
                client.sendall(bytes([byte]))
            except OSError:  # the server closed the connection
                break
            if select.select([client], [], [], 0.05)[0] or time.monotonic() - started > 3:
                break  # the server answered (or we give up: the assertion below fails)
        answer = client.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 3
    assert get(server, "/health")[0] == 200
