"""Who scales: the burn workload of each kernel, sequential and on W threads or processes.

Expected on a machine with C usable cores: cython-nogil threads near min(W, C)x,
cython-gil and python threads flat at 1x, numpy threads in between, processes
near min(W, C)x for every kernel (they pay start-up, reported in extra_info).
Each parallel benchmark times its sequential baseline in alternation with
itself: the speedup is the median of those pairs (see the ``paired`` fixture).
"""

from __future__ import annotations

from fastfib import tasks


def test_scaling(benchmark, record, pool, paired, calibrated, scaling_tasks, kernel, runner, workers):
    task = calibrated(kernel)
    warm = pool(runner, workers)  # started and warmed outside the timed region
    args = [(kernel, task.n)] * scaling_tasks
    expected = tasks.oracle(task.n)
    benchmark.group = f"scaling: {kernel}, {scaling_tasks} x burn({task.n})"

    def exact(results):
        return results == [expected] * scaling_tasks

    facts = dict(question="scaling", kernel=kernel, runner=runner, workers=workers, tasks=scaling_tasks,
                 n=task.n, task_ms=round(1000 * task.task_s, 3), pool_startup_s=warm.startup_s)
    record(paired(warm, tasks.burn_task, args, exact), **facts)
