"""The lab server under abuse, from a real client in a second process on loopback:
1000 malformed or abusive requests get 4xx or a hang-up, memory stays bounded, and
the server still answers valid requests and shuts down cleanly."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import fastfib
from helpers import port_is_free, rss_bytes

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's RSS from /proc")]
CLIENT = Path(__file__).with_name("abuse_client.py")


def get(port: int, path: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_thousand_abusive_requests_leave_the_server_serving():
    server = subprocess.Popen(
        [sys.executable, "-m", "fastfib", "serve", "--port", "0", "--latency-ms", "0", "--timeout", "1", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = server.stdout.readline()
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        status, body = get(port, "/fib/10")
        assert status == 200 and body["value"] == "55"
        before = rss_bytes(server.pid)
        abuse = subprocess.run([sys.executable, str(CLIENT), str(port), "1000"], capture_output=True, text=True,
                               timeout=150)
        assert abuse.returncode == 0, abuse.stderr
        tally = json.loads(abuse.stdout)
        grown = rss_bytes(server.pid) - before
        print(f"\nanswers to 1000 abusive requests: {tally}; server RSS {grown / 2**20:+.1f} MiB")
        assert sum(tally.values()) == 1000
        assert set(tally) <= {"400", "404", "405", "408", "414", "431", "closed"}, tally
        assert grown < 64 * 2**20, f"server RSS grew {grown / 2**20:.0f} MiB"
        status, body = get(port, "/fib/100")
        assert status == 200 and body["value"] == str(fastfib.fib(100))
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 143, err
    assert port_is_free("127.0.0.1", port)
