"""Who scales: the burn workload of each kernel, sequential and on W threads or processes.

Expected on a machine with C usable cores: cython-nogil threads near min(W, C)x,
cython-gil and python threads flat at 1x, numpy threads in between, processes
near min(W, C)x for every kernel (they pay start-up, reported in extra_info).
"""

from __future__ import annotations

from fastfib import measure

ROUNDS = 7


def test_scaling(benchmark, record, pool, calibrated, scaling_tasks, kernel, runner, workers):
    task = calibrated(kernel)
    warm = pool(runner, workers)  # started and warmed outside the timed region
    args = [(kernel, task.n)] * scaling_tasks
    benchmark.group = f"scaling: {kernel}, {scaling_tasks} x burn({task.n})"
    batch = benchmark.pedantic(warm.run, args=(measure.burn_task, args), rounds=ROUNDS, iterations=1,
                               warmup_rounds=1)
    expected = measure.oracle(task.n)
    exact = all(result == expected for result in batch.results)
    record(question="scaling", kernel=kernel, runner=runner, workers=workers, tasks=scaling_tasks,
           n=task.n, task_ms=round(1000 * task.task_s, 3), pool_startup_s=warm.startup_s, oracle_ok=exact)
    assert exact, f"wrong result from {kernel} on {runner}"
