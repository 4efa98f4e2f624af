"""``fastfib lab queue``: worker pools and producer/consumer, with proof of exactly-once.

Two patterns from the teaching notebook, measured and checked:

* **thread workers**: W threads take items from a ``queue.Queue``, compute
  F(item) on a kernel and call ``task_done``; the main thread ``join``s the
  queue (it returns when every item is marked done), then puts one ``None``
  sentinel per worker so each exits.
* **processes**: a producer process puts the items on a ``multiprocessing``
  queue, then one sentinel per consumer; C consumer processes take items until
  their sentinel and send back what they did. Start-up is timed apart.

Proof: every item's id comes back exactly once (none lost, none twice) with the
exact F(id mod 94); throughput is items per second.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from fastfib import pure, registry
from fastfib.command import names
from fastfib.lab.experiment import START_METHOD, Experiment, Option, ProgressFn
from fastfib.tables import grid

__all__ = ["EXPERIMENT", "consume", "produce", "processes", "run", "thread_workers", "verify"]

MOD = 94  # item i asks for F(i % 94): every answer fits in 64 bits


def _kernel(name: str) -> Callable[[int], int]:
    return registry.get(name).fib


def verify(done: list[tuple[int, int]], items: int) -> dict[str, Any]:
    """Exactly-once check of (item id, answer) pairs against ids 0..items-1 and the exact F."""
    seen = collections.Counter(item for item, _ in done)
    truth = [pure.fib(i) for i in range(MOD)]
    return {
        "items": items, "received": len(done),
        "missing": sum(1 for i in range(items) if seen[i] == 0),
        "duplicated": sum(1 for count in seen.values() if count > 1),
        "unexpected": sum(1 for i in seen if not 0 <= i < items),
        "wrong": sum(1 for i, value in done if 0 <= i < items and value != truth[i % MOD]),
    }


def _exactly_once(check: dict[str, Any]) -> bool:
    return check["received"] == check["items"] and not (check["missing"] or check["duplicated"]
                                                        or check["unexpected"] or check["wrong"])


def thread_workers(items: int, workers: int, kernel: str = "cython-nogil") -> dict[str, Any]:
    """W worker threads over one Queue, with task_done/join and a sentinel each."""
    fib = _kernel(kernel)
    tasks: queue.Queue[int | None] = queue.Queue()
    done: list[tuple[int, int]] = []  # list.append is atomic: no lock needed for the record

    def worker() -> None:
        while True:
            item = tasks.get()
            try:
                if item is None:
                    return
                done.append((item, fib(item % MOD)))
            finally:
                tasks.task_done()

    pool = [threading.Thread(target=worker, name=f"queue-worker-{i}") for i in range(workers)]
    for thread in pool:
        thread.start()
    started = time.perf_counter()
    for item in range(items):
        tasks.put(item)
    tasks.join()  # every item taken *and* marked done
    wall = time.perf_counter() - started
    for _ in pool:
        tasks.put(None)
    for thread in pool:
        thread.join()
    check = verify(done, items)
    return {"pattern": "thread workers (task_done/join)", "workers": workers, "kernel": kernel, "wall_s": wall,
            "items_per_s": items / wall, **check, "exactly_once": _exactly_once(check)}


def produce(tasks: Any, items: int, consumers: int) -> None:
    """The producer process: every item, then one sentinel per consumer."""
    for item in range(items):
        tasks.put(item)
    for _ in range(consumers):
        tasks.put(None)


def consume(tasks: Any, results: Any, kernel: str, ready: Any, go: Any) -> None:
    """A consumer process: F(item % 94) for each item until the sentinel; then one report."""
    fib = _kernel(kernel)
    ready.release()
    go.wait()
    done = []
    while (item := tasks.get()) is not None:
        done.append((item, fib(item % MOD)))
    results.put(done)


def processes(items: int, consumers: int, kernel: str = "cython-nogil",
              start_method: str = "forkserver") -> dict[str, Any]:
    """A producer process and C consumer processes joined by a multiprocessing queue."""
    context: Any = multiprocessing.get_context(start_method)  # (typeshed's BaseContext lacks Process)
    tasks, results = context.Queue(maxsize=10_000), context.Queue()
    ready, go = context.Semaphore(0), context.Event()
    started = time.perf_counter()
    workers = [context.Process(target=consume, args=(tasks, results, kernel, ready, go), name=f"consumer-{i}")
               for i in range(consumers)]
    for worker in workers:
        worker.start()
    for _ in workers:
        if not ready.acquire(timeout=60):
            raise RuntimeError("a consumer process did not start")
    startup = time.perf_counter() - started
    producer = context.Process(target=produce, args=(tasks, items, consumers), name="producer")
    started = time.perf_counter()
    go.set()
    producer.start()
    done: list[tuple[int, int]] = []
    for _ in workers:
        done.extend(results.get(timeout=120))  # read before joining: a full pipe would block the child
    wall = time.perf_counter() - started
    producer.join(30)
    for worker in workers:
        worker.join(30)
    codes = [p.exitcode for p in [producer, *workers]]
    if any(code != 0 for code in codes):
        raise RuntimeError(f"a queue process failed: exit codes {codes}")
    check = verify(done, items)
    return {"pattern": "producer + consumer processes (sentinel)", "workers": consumers, "kernel": kernel,
            "wall_s": wall, "items_per_s": items / wall, "startup_s": startup, "start_method": start_method,
            **check, "exactly_once": _exactly_once(check)}


def run(*, items: int, workers: int, consumers: int, kernel: str = "cython-nogil", start_method: str = "forkserver",
        progress: ProgressFn = lambda what, done, total: None) -> dict[str, Any]:
    """The whole experiment; a JSON-ready dict with a one-sentence ``finding``."""
    progress(f"{workers} thread workers, {items} items", 0, 3)
    rows = [thread_workers(items, 1, kernel), thread_workers(items, workers, kernel)]
    progress(f"producer + {consumers} consumer processes ({start_method}), {items} items", 2, 3)
    rows.append(processes(items, consumers, kernel, start_method))
    progress("done", 3, 3)
    return {"settings": {"items": items, "workers": workers, "consumers": consumers, "kernel": kernel,
                         "start_method": start_method}, "rows": rows, "finding": finding(rows)}


def finding(rows: list[dict[str, Any]]) -> str:
    one, threads, procs = rows
    ok = all(row["exactly_once"] for row in rows)
    verdict = "every item was consumed exactly once with the exact answer" if ok else "ITEMS WERE LOST OR REPEATED"
    return (f"{threads['items']:,} items: {threads['workers']} worker threads moved {threads['items_per_s']:,.0f} "
            f"items/s (1 thread: {one['items_per_s']:,.0f}), a producer and {procs['workers']} consumer processes "
            f"{procs['items_per_s']:,.0f} items/s; {verdict}.")


def format_text(result: dict[str, Any]) -> str:
    header = ["pattern", "workers", "items/s", "received", "missing", "duplicated", "wrong", "exactly once"]
    body = [[r["pattern"], str(r["workers"]), f"{r['items_per_s']:,.0f}", f"{r['received']:,}", str(r["missing"]),
             str(r["duplicated"]), str(r["wrong"]), "yes" if r["exactly_once"] else "NO"] for r in result["rows"]]
    s = result["settings"]
    return (grid(header, body, left=1) + f"\n\nEach item i asks for F(i mod {MOD}) on {s['kernel']}: tiny tasks, "
            "so the figures are the queues' own cost (hand-over, pickling, pipes), not the work's.")


def _run(settings: argparse.Namespace, progress: ProgressFn) -> dict[str, Any]:
    kernel = names(settings.kernel, registry.names(), "kernel")[0]
    return run(items=settings.items, workers=settings.workers, consumers=settings.consumers, kernel=kernel,
               start_method=settings.start_method, progress=progress)


EXPERIMENT = Experiment(
    name="queue", help="worker threads with task_done/join; producer/consumer processes; exactly once",
    description=__doc__, examples=("fastfib lab queue --items 100000 --consumers 4 --start-method spawn",),
    options=(
        Option("--items", "items", default="20000", quick="5000", number=int),
        Option("--workers", "worker threads", default="4", number=int),
        Option("--consumers", "consumer processes", default="2", number=int),
        Option("--kernel", "kernel computing F(item mod 94)", default="cython-nogil", short="-k"),
        START_METHOD,
    ),
    run=_run, format_text=format_text,
    readme=("worker pools and producer/consumer",
            "Thread workers with `task_done`/`join` and a producer and consumers in separate processes, joined by "
            "sentinels, consume every item exactly once; the processes pay for pickling and pipes."),
)
