"""``fastfib lab amdahl``: Amdahl's law fitted to measured speedups.

For each kernel x runner of a ``fastfib scale`` run (read from its ``--json``
file, or measured afresh), the serial fraction f whose Amdahl curve
S(p) = 1 / (f + (1 - f) / p) best fits the measured speedups (p = min(workers,
usable cores): extra workers beyond the cores add no processor), the
Karp-Flatt fraction of each point, and the ceiling 1 / f the law then allows
on any number of cores. The plot puts every measured point beside its curve.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from fastfib import environment, measure, report, runners
from fastfib.command import UsageError, names, numbers
from fastfib.lab.experiment import START_METHOD, Experiment, Option, ProgressFn, available, burn_kernels
from fastfib.measure import amdahl
from fastfib.tables import grid, times

__all__ = ["EXPERIMENT", "fit", "measure_fresh", "run"]


def measure_fresh(kernels: Sequence[str], runner_names: Sequence[str], workers: Sequence[int], *, target_s: float,
                  tasks: int, repeats: int, start_method: str,
                  progress: ProgressFn) -> list[measure.Row]:
    """A ``fastfib scale`` run, in-process: the rows it would write."""
    suite = measure.run_suite(kernels, ["sequential", *runner_names], workers, target_s=target_s, tasks=tasks,
                              repeats=repeats, start_method=start_method, progress=progress)
    try:
        return list(suite)
    finally:
        suite.close()


def fit(rows: Sequence[measure.Row], cores: int) -> list[dict[str, Any]]:
    """One fit per (kernel, runner) with a speedup measured at p > 1."""
    series: dict[tuple[str, str], list[measure.Row]] = {}
    for row in rows:
        if row.runner != "sequential" and row.speedup is not None and not row.error:
            series.setdefault((row.kernel, row.runner), []).append(row)
    fits = []
    for (kernel, runner), found in series.items():
        points = [(min(r.workers, cores), r.speedup) for r in sorted(found, key=lambda r: r.workers)]
        serial = amdahl.fit(points)
        if serial is None:
            continue
        fits.append({
            "kernel": kernel, "runner": runner, "serial_fraction": serial,
            "ceiling": None if serial == 0 else 1 / serial,
            "points": [{"workers": r.workers, "p": min(r.workers, cores), "speedup": r.speedup,
                        "karp_flatt": amdahl.karp_flatt(r.speedup, min(r.workers, cores)),
                        "amdahl": amdahl.speedup(serial, min(r.workers, cores))}
                       for r in sorted(found, key=lambda r: r.workers)],
        })
    return fits


def run(*, source: str | None, kernels: Sequence[str], runner_names: Sequence[str], workers: Sequence[int],
        target_s: float, tasks: int, repeats: int, start_method: str = "forkserver",
        progress: ProgressFn = lambda what, done, total: None) -> dict[str, Any]:
    """Fit a saved run (``source``) or a fresh one; a JSON-ready dict with a one-sentence ``finding``."""
    if source:
        meta, rows = report.load(source)
        cores = int(meta.get("usable_cores") or environment.usable_cores())
    else:
        rows = measure_fresh(kernels, runner_names, workers, target_s=target_s, tasks=tasks, repeats=repeats,
                             start_method=start_method, progress=progress)
        cores = environment.usable_cores()
    fits = fit(rows, cores)
    if not fits:
        raise ValueError("no speedup at more than one worker to fit: run with workers 1,2 or more")
    return {"settings": {"source": source, "usable_cores": cores}, "fits": fits, "finding": finding(fits, cores)}


def finding(fits: Sequence[dict[str, Any]], cores: int) -> str:
    parts = [f"{f['kernel']} on {f['runner']} {f['serial_fraction']:.2f}" for f in fits]
    best = min(fits, key=lambda f: f["serial_fraction"])
    worst = max(fits, key=lambda f: f["serial_fraction"])
    lowest = f"the lowest ({best['kernel']} on {best['runner']})"
    lowest += " sets no limit" if best["ceiling"] is None else f" caps the speedup at {best['ceiling']:.1f}×"
    return (f"Fitted serial fractions on {cores} cores: " + ", ".join(parts)
            + f"; by Amdahl's law, on any number of cores {lowest}, the highest ({worst['kernel']} on "
              f"{worst['runner']}) at {1 / max(worst['serial_fraction'], 1e-9):.2f}×.")


def format_text(result: dict[str, Any]) -> str:
    header = ["kernel", "runner", "serial fraction", "ceiling 1/f", "measured (workers: speedup, Karp-Flatt)"]
    body = []
    for f in result["fits"]:
        measured = "; ".join(
            f"{p['workers']}: {times(p['speedup'])}" + ("" if p["karp_flatt"] is None else f", {p['karp_flatt']:.2f}")
            for p in f["points"])
        body.append([f["kernel"], f["runner"], f"{f['serial_fraction']:.3f}",
                     "∞" if f["ceiling"] is None else times(f["ceiling"]), measured])
    return (grid(header, body, left=2) + f"\n\nAmdahl: S(p) = 1 / (f + (1 - f) / p), p = min(workers, "
            f"{result['settings']['usable_cores']} usable cores); f fitted by least squares on the speedups.")


def plot(result: dict[str, Any], path: str) -> None:
    """Every measured point and its fitted Amdahl curve, in one picture."""
    from fastfib.lab import plotting

    figure, ax = plotting.figure(size=(7.5, 4.8))
    cores = result["settings"]["usable_cores"]
    most = max([p["workers"] for f in result["fits"] for p in f["points"]] + [cores])
    amdahl.draw_ideal(ax, most, cores)
    for f in result["fits"]:
        drawn = ax.plot([p["workers"] for p in f["points"]], [p["speedup"] for p in f["points"]], "o",
                        label=f"{f['kernel']} / {f['runner']}: f = {f['serial_fraction']:.2f}")
        amdahl.draw_curve(ax, f["serial_fraction"], most, cores, drawn[0].get_color())
    ax.set_xlabel("workers")
    ax.set_ylabel("speedup vs sequential")
    ax.set_title("fastfib lab amdahl: measured points (dots) and fitted Amdahl curves (dashed)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    plotting.save(figure, path)


def _run(settings: argparse.Namespace, progress: ProgressFn) -> dict[str, Any]:
    workers = sorted(set(numbers(settings.workers, "--workers", int)))
    runner_names = [name for name in names(settings.runners, runners.RUNNER_NAMES, "runner") if name != "sequential"]
    try:
        return run(source=settings.source, kernels=burn_kernels(settings.kernels), runner_names=runner_names,
                   workers=workers, target_s=settings.target_ms / 1000, tasks=4 * max(workers),
                   repeats=settings.repeats, start_method=settings.start_method, progress=progress)
    except (report.ReportError, ValueError) as exc:  # a --from file that is not a scale run, or has no fit
        raise UsageError(str(exc)) from None


EXPERIMENT = Experiment(
    name="amdahl", help="the serial fraction of each kernel x runner, fitted, with the curves", description=__doc__,
    examples=("fastfib scale --json s.json && fastfib lab amdahl --from s.json --plot a.png",),
    options=(
        Option("--from", "fit a saved `fastfib scale --json` run", dest="source", metavar="SCALE.json"),
        Option("--kernels", "fresh run: kernels", default=available("python,cython-gil,cython-nogil"), short="-k"),
        Option("--runners", "fresh run: runners", default="threads,processes", short="-r"),
        Option("--workers", "fresh run: worker counts", default="1,2,4", quick="1,2", short="-w"),
        Option("--target-ms", "fresh run: ms per task", default="10", quick="4", number=float),
        Option("--repeats", "fresh run: repeats", default="3", number=int),
        START_METHOD,
    ),
    run=_run, format_text=format_text, plot=plot,
    readme=("the law fitted",
            "The serial fraction of each kernel x runner, fitted from measured speedups, says how far each could "
            "ever scale: near 0 for nogil threads and for processes, near 1 for GIL-holding threads."),
)
