"""A hostile client for ``fastfib serve``, run as its own process by test_server_abuse.py.

Usage: python abuse_client.py PORT [COUNT]. Sends COUNT malformed or abusive
requests on 127.0.0.1 (bad n, junk paths, 1 MiB headers, garbage, request lines
too long, clients that drip a byte at a time) and prints a JSON tally of what
came back: the status line's code, or "closed" when the server hung up.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections import Counter

HOST = "127.0.0.1"
BAD = [
    b"GET /fib/-1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /fib/abc HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /fib/99999999999 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /fib/1e9 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /fib/" + b"9" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /fib/10 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"\x00\xff garbage \r\n\r\n",
    b"GET /fib/10 HTTP/1.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n",
    b"GET " + b"/x" * 40000 + b" HTTP/1.1\r\n\r\n",
]


def answer(payload: bytes) -> str:
    try:
        with socket.create_connection((HOST, PORT), timeout=10) as client:
            try:
                client.sendall(payload)
            except OSError:
                pass  # the server may hang up before a 1 MiB header is all sent
            head = client.recv(64)
    except OSError:
        return "closed"
    if not head:
        return "closed"
    return head.split()[1].decode() if head.startswith(b"HTTP/1.") else "junk"


def drip(results: list[str]) -> None:
    """A client sending one byte every 0.2 s: the server must cut it off."""
    try:
        with socket.create_connection((HOST, PORT), timeout=10) as client:
            for byte in b"GET /fib/10 HTTP/1.1\r\nX-Slow: " + b"a" * 100:
                try:
                    client.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(0.2)
                client.setblocking(False)
                try:
                    head = client.recv(64)
                except BlockingIOError:
                    head = None
                finally:
                    client.setblocking(True)
                if head is not None:
                    results.append(head.split()[1].decode() if head.startswith(b"HTTP/1.") else "closed")
                    return
    except OSError:
        pass
    results.append("closed")


if __name__ == "__main__":
    PORT, count = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    slow: list[str] = []
    drippers = [threading.Thread(target=drip, args=(slow,)) for _ in range(8)]
    for thread in drippers:
        thread.start()
    tally = Counter(answer(BAD[i % len(BAD)]) for i in range(count - len(drippers)))
    for thread in drippers:
        thread.join()
    tally.update(slow)
    print(json.dumps(dict(tally)))
