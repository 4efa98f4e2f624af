"""``fastfib lab io``: threads help when the work is *waiting*.

The experiment starts a :class:`~fastfib.lab.server.FibServer` on 127.0.0.1
(an ephemeral port) whose ``GET /fib/<n>`` sleeps ``latency`` before it
answers, as a handler blocked on a database would. The same R requests then
go out from four clients, C at a time:

* sequential: one ``urllib`` request after another;
* threads: a thread pool of C, each thread blocking in ``urllib``;
* asyncio: one thread, one event loop, C raw ``asyncio`` stream connections;
* processes: a warm process pool of C, each worker blocking in ``urllib``.

Each reports requests/s and latency percentiles; every answer is checked
against the exact F(n). A thread blocked on a socket holds no GIL, so C of them
wait together: speedup ≈ C, up to the server's capacity. Then the contrast: the
same clients against ``GET /burn/<n>`` (pure-Python naive recursion on the
server, about as long as the latency): CPU-bound work under one GIL, and
threads give nothing. A final sweep of the threads client over concurrency
shows the plateau at the server's capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from fastfib import gil, pure, runners
from fastfib.command import numbers
from fastfib.lab.experiment import START_METHOD, Experiment, Option, ProgressFn
from fastfib.lab.server import FibServer
from fastfib.runners import executors
from fastfib.tables import grid, times
from fastfib.tasks import calibrate

__all__ = ["CLIENTS", "EXPERIMENT", "fetch", "run", "run_client"]

CLIENTS = ("sequential", "threads", "asyncio", "processes")
FIB_N = 1000  # each request asks for F(1000): 209 digits, exact
_EXPECTED = {FIB_N: str(pure.fib(FIB_N))}


def fetch(url: str) -> tuple[float, str]:
    """GET ``url`` with urllib: (seconds it took, the "value" of the JSON body). Importable for processes."""
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        body = json.load(response)
    return time.perf_counter() - started, body["value"]


async def _fetch_async(host: str, port: int, path: str) -> tuple[float, str]:
    """GET over a raw asyncio stream (HTTP/1.0: the server closes when done)."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise RuntimeError(f"GET {path}: HTTP {status.decode()}: {body[:200]!r}")
    return time.perf_counter() - started, json.loads(body)["value"]


def _asyncio_batch(server: FibServer, path: str, requests: int, concurrency: int) -> list[tuple[float, str]]:
    host, port = str(server.server_address[0]), int(server.server_address[1])

    async def main() -> list[tuple[float, str]]:
        limit = asyncio.Semaphore(concurrency)

        async def one() -> tuple[float, str]:
            async with limit:
                return await _fetch_async(host, port, path)

        return list(await asyncio.gather(*(one() for _ in range(requests))))

    return asyncio.run(main())


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between the sorted values."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def run_client(client: str, server: FibServer, path: str, expected: str, *, requests: int, concurrency: int,
               pools: dict[str, executors.Pool]) -> dict[str, Any]:
    """R requests for ``path`` from one client kind, C at a time; every answer checked."""
    url = server.url + path
    started = time.perf_counter()
    if client == "sequential":
        results = [fetch(url) for _ in range(requests)]
    elif client == "asyncio":
        results = _asyncio_batch(server, path, requests, concurrency)
    else:
        results = pools[client].run(fetch, [(url,)] * requests, gate=False).results
    wall = time.perf_counter() - started
    wrong = sum(value != expected for _, value in results)
    if wrong:
        raise RuntimeError(f"{client}: {wrong} of {requests} answers to {path} were wrong")
    latencies = [1000 * seconds for seconds, _ in results]
    return {
        "client": client, "concurrency": 1 if client == "sequential" else concurrency, "requests": requests,
        "wall_s": wall, "requests_per_s": requests / wall,
        "latency_ms": {"p50": percentile(latencies, 50), "p90": percentile(latencies, 90),
                       "p99": percentile(latencies, 99), "max": max(latencies)},
    }


def run(*, latency_s: float, requests: int, concurrency: int, sweep: Sequence[int], capacity: int,
        start_method: str = "forkserver", cpu: bool = True,
        progress: ProgressFn = lambda what, done, total: None) -> dict[str, Any]:
    """The whole experiment (see the module notes); a JSON-ready dict with a one-sentence ``finding``."""
    burn = calibrate("python", latency_s) if cpu else None
    burn_n = burn.n if burn else None
    workloads = [("sleep", f"/fib/{FIB_N}", _EXPECTED[FIB_N])]
    if burn is not None:
        workloads.append(("cpu", f"/burn/{burn_n}?kernel=python", str(pure.fib(burn_n))))
    per_workload = {"sleep": requests, "cpu": max(concurrency, requests // 2)}  # CPU requests cost more
    total = len(workloads) * len(CLIENTS) + len(sweep)
    done = 0
    rows: list[dict[str, Any]] = []
    progress("starting the client pools", done, total)
    with runners.make_runner("processes", start_method=start_method,
                             preload=("fastfib.lab.blocking_io",)).open(concurrency) as processes, \
            runners.make_runner("threads").open(concurrency) as threads, \
            FibServer(latency_s=latency_s, capacity=capacity, timeout_s=10.0) as server:
        pools = {"processes": processes, "threads": threads}
        fetch(server.url + f"/fib/{FIB_N}")  # warm: first imports, first connection
        for workload, path, expected in workloads:
            for client in CLIENTS:
                progress(f"{workload}: {client} client, {requests} requests", done, total)
                server.reset_stats()
                row = run_client(client, server, path, expected, requests=per_workload[workload],
                                 concurrency=concurrency, pools=pools)
                row.update(workload=workload, server_max_in_flight=server.stats()["max_in_flight"])
                rows.append(row)
                done += 1
        sweep_rows = []
        for count in sweep:
            progress(f"sleep: threads client at concurrency {count}", done, total)
            server.reset_stats()
            with runners.make_runner("threads").open(count) as pool:
                row = run_client("threads", server, f"/fib/{FIB_N}", _EXPECTED[FIB_N],
                                 requests=max(requests, 2 * count), concurrency=count, pools={"threads": pool})
            row.update(workload="sleep", server_max_in_flight=server.stats()["max_in_flight"])
            sweep_rows.append(row)
            done += 1
    progress("done", total, total)
    _speedups(rows)
    _speedups(sweep_rows, baseline=next(r for r in rows if r["workload"] == "sleep" and r["client"] == "sequential"))
    return {"settings": {"latency_ms": 1000 * latency_s, "requests": requests, "concurrency": concurrency,
                         "capacity": capacity, "fib_n": FIB_N, "burn_n": burn_n,
                         "burn_ms": 1000 * burn.task_s if burn else None, "start_method": start_method},
            "rows": rows, "sweep": sweep_rows,
            "finding": finding(rows, concurrency, latency_s, burn.task_s if burn else None)}


def _speedups(rows: list[dict[str, Any]], baseline: dict[str, Any] | None = None) -> None:
    for row in rows:
        base = baseline or next(r for r in rows if r["workload"] == row["workload"] and r["client"] == "sequential")
        row["speedup"] = row["requests_per_s"] / base["requests_per_s"]


def _get(rows: list[dict[str, Any]], workload: str, client: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["workload"] == workload and r["client"] == client), None)


def finding(rows: list[dict[str, Any]], concurrency: int, latency_s: float, burn_s: float | None = None) -> str:
    seq, thr = _get(rows, "sleep", "sequential"), _get(rows, "sleep", "threads")
    aio, proc = _get(rows, "sleep", "asyncio"), _get(rows, "sleep", "processes")
    assert seq and thr and aio and proc
    text = (f"With {concurrency} requests in flight to a server that blocks {1000 * latency_s:g} ms per request, "
            f"threads serve {thr['requests_per_s']:.0f} req/s vs {seq['requests_per_s']:.1f} sequential "
            f"({thr['speedup']:.2f}×; asyncio {aio['speedup']:.2f}×, processes {proc['speedup']:.2f}×)")
    cpu_thr = _get(rows, "cpu", "threads")
    if cpu_thr is not None and burn_s and gil.gil_enabled():
        text += (f", but on CPU-bound pure-Python requests threads give {cpu_thr['speedup']:.2f}× and stay under "
                 f"one GIL's ceiling of {1 / burn_s:.0f} req/s ({1000 * burn_s:.0f} ms of CPU each): "
                 f"{cpu_thr['requests_per_s']:.1f} req/s")
    elif cpu_thr is not None and burn_s:
        text += (f"; on CPU-bound pure-Python requests threads give {cpu_thr['speedup']:.2f}×: "
                 f"{cpu_thr['requests_per_s']:.1f} req/s against one core's {1 / burn_s:.0f} req/s "
                 f"({1000 * burn_s:.0f} ms of CPU each), and with no GIL here (free-threaded build) the usable "
                 f"cores set their ceiling, not a GIL")
    return text + "."


def format_text(result: dict[str, Any]) -> str:
    header = ["workload", "client", "in flight", "req/s", "speedup", "p50 ms", "p90 ms", "p99 ms", "max ms",
              "server peak"]
    body = [[r["workload"], r["client"], str(r["concurrency"]), f"{r['requests_per_s']:.1f}", times(r["speedup"]),
             *(f"{r['latency_ms'][k]:.1f}" for k in ("p50", "p90", "p99", "max")), str(r["server_max_in_flight"])]
            for r in result["rows"] + result["sweep"]]
    s = result["settings"]
    notes = (f"sleep = GET /fib/{s['fib_n']} after {s['latency_ms']:g} ms of blocking sleep; "
             + (f"cpu = GET /burn/{s['burn_n']}?kernel=python ({s['burn_ms']:.0f} ms of pure Python, no sleep: "
                f"one GIL serves at most {1000 / s['burn_ms']:.0f} req/s);\n" if s["burn_n"] else "")
             + f"server capacity {s['capacity']} requests at once; last rows: the threads client swept over "
               "concurrency (speedup vs the sequential sleep client).")
    return grid(header, body, left=2) + "\n\n" + notes


def plot(result: dict[str, Any], path: str) -> None:
    """Requests/s against concurrency for the threads client, with the ideal and the capacity."""
    from fastfib.lab import plotting

    figure, ax = plotting.figure()
    sweep = result["sweep"]
    base = next(r for r in result["rows"] if r["workload"] == "sleep" and r["client"] == "sequential")
    counts = [r["concurrency"] for r in sweep]
    capacity = result["settings"]["capacity"]
    ax.plot(counts, [base["requests_per_s"] * min(c, capacity) for c in counts], color="0.6", lw=1,
            label=f"ideal: sequential × min(concurrency, capacity {capacity})")
    ax.plot(counts, [r["requests_per_s"] for r in sweep], marker="o", label="threads client, blocking server")
    for row in result["rows"]:
        if row["client"] != "sequential":
            ax.scatter([row["concurrency"]], [row["requests_per_s"]], marker="x" if row["workload"] == "cpu" else "s",
                       label=f"{row['client']} ({row['workload']})", zorder=3)
    ax.set_xscale("log", base=2)
    ax.set_xticks(counts, [str(count) for count in counts])
    ax.set_xlabel("requests in flight")
    ax.set_ylabel("requests / s")
    ax.set_title("fastfib lab io: threads help while waiting, not while computing", fontsize=9)
    ax.legend(fontsize=7)
    plotting.save(figure, path)


def _run(settings: argparse.Namespace, progress: ProgressFn) -> dict[str, Any]:
    return run(latency_s=settings.latency_ms / 1000, requests=settings.requests, concurrency=settings.concurrency,
               sweep=sorted(set(numbers(settings.sweep, "--sweep", int))), capacity=settings.capacity,
               start_method=settings.start_method, cpu=not settings.no_cpu, progress=progress)


EXPERIMENT = Experiment(
    name="io", help="threads help when blocking: an HTTP server, four kinds of client", description=__doc__,
    examples=("fastfib lab io --concurrency 8 --latency-ms 100 --json io.json --plot io.png",),
    options=(
        Option("--latency-ms", "how long the server blocks per request", default="50", number=float),
        Option("--requests", "requests per client", default="32", quick="16", number=int),
        Option("--concurrency", "requests in flight for the threads, asyncio and processes clients", default="4",
               number=int, short="-c"),
        Option("--capacity", "requests the server handles at once; more wait for a slot", default="8", number=int),
        Option("--sweep", "concurrency levels for the threads client", default="1,2,4,8,16", quick="1,2,4,8"),
        Option("--no-cpu", "leave out the CPU-bound contrast (GET /burn)", action="store_true"),
        START_METHOD,
    ),
    run=_run, format_text=format_text, plot=plot,
    readme=("threads help when blocking",
            "Threads recover concurrency when the work is waiting on a socket (speedup about the number of requests "
            "in flight, up to the server's capacity), and give nothing when the server's work is pure-Python CPU."),
)
