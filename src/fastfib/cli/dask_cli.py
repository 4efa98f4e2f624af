"""The dask runners' command-line options, shared by every command that runs them
(``fastfib scale`` now, ``fastfib probe`` later): ``--dask-scheduler`` and
``--no-dashboard``, checked -- the scheduler reached, the layouts fitted -- before
any work starts. dask itself is imported only when a dask runner is asked for.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from fastfib.command import UsageError

__all__ = ["add_arguments", "announce", "plan"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dask-scheduler", metavar="ADDRESS",
                        help="run the dask runners on the workers of this scheduler (e.g. "
                             "tcp://10.0.0.5:8786) instead of a local cluster per pool")
    parser.add_argument("--no-dashboard", action="store_true", help="local dask clusters serve no dashboard")


def announce(line: str) -> None:
    """A local cluster's address and dashboard, on stderr as it starts."""
    print(f"fastfib: {line}", file=sys.stderr, flush=True)


def plan(args: argparse.Namespace, names: Sequence[str], skipped: dict[str, str],
         workers: Sequence[int]) -> tuple[Any, dict[str, Any] | None]:
    """(DaskOptions or None, the existing cluster's facts or None) for runners ``names``.

    UsageError (one line, exit status 2) for --dask-scheduler without a dask runner
    (or without dask), an unreachable scheduler, or a cluster lacking the workers a
    pool of ``workers`` needs.
    """
    asked = [name for name in names if name.startswith("dask-")]
    if args.dask_scheduler is None:
        if not asked:
            return None, None
        from fastfib.runners.dask_runners import DaskOptions

        return DaskOptions(dashboard=not args.no_dashboard, announce=announce), None
    if not asked:
        why = next((why for name, why in skipped.items() if name.startswith("dask-")), None)
        raise UsageError(why or "--dask-scheduler runs the dask runners: add them, "
                         "e.g. -r sequential,dask-threads,dask-processes")
    from fastfib.runners import dask_runners

    try:
        facts = dask_runners.check_cluster(args.dask_scheduler, asked, workers)
    except (ConnectionError, dask_runners.LayoutError) as exc:
        raise UsageError(str(exc)) from None
    return dask_runners.DaskOptions(scheduler=args.dask_scheduler, announce=announce), facts
