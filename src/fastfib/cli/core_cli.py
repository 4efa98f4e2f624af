"""The core subcommands: fib, burn, kernels, info and report (small enough to share a module;
the measuring commands live in modules of their own)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import fastfib
from fastfib import cancel, gil, registry, tables
from fastfib._args import check_n
from fastfib.command import Command, UsageError, add_json_flag, print_json

__all__ = ["BurnCommand", "FibCommand", "InfoCommand", "KernelsCommand", "ReportCommand"]


def _parse_n(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"N must be a whole number such as 1000 or 1_000_000, not {text!r}"
        ) from None


class FibCommand(Command):
    name = "fib"
    help = "print F(N) exactly"
    description = (
        "Print the N-th Fibonacci number, exactly, computed by the chosen kernel. "
        "Fixed-width kernels (cython-*) stop at N = 93 with an error; 'auto' and "
        "'python' handle any N."
    )
    epilog = "examples:\n  fastfib fib 1000\n  fastfib fib 93 --kernel cython-nogil\n  fastfib fib 1000000 | wc -c"

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("n", metavar="N", type=_parse_n, help="which Fibonacci number (N >= 0)")
        parser.add_argument(
            "--kernel", "-k", default="auto",
            help="auto (default: fastest exact path) or one of: " + ", ".join(registry.names()),
        )
        add_json_flag(parser)

    def run(self, args: argparse.Namespace) -> int:
        try:
            value = fastfib.fib(args.n, kernel=args.kernel)
        except (TypeError, ValueError, OverflowError) as exc:
            raise UsageError(str(exc)) from None
        if hasattr(sys, "set_int_max_str_digits"):
            sys.set_int_max_str_digits(0)  # F(10**6) has 208988 digits
        text = str(value)
        if args.json:
            print_json({"n": args.n, "kernel": args.kernel, "digits": len(text), "value": text})
        else:
            print(text)
        return 0


EXIT_TIMEOUT = 124  # as GNU timeout(1)


def _parse_seconds(text: str) -> float:
    try:
        return cancel.check_timeout(float(text))
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}") from None


class BurnCommand(Command):
    name = "burn"
    help = "run the CPU workload: F(N) by naive recursion (~phi**N calls)"
    description = (
        "Compute F(N) by naive double recursion on one kernel: the lab's CPU workload, about "
        "1.618**N calls. On the cython kernels it runs in a worker thread while the main thread "
        "waits, so Ctrl-C sets the C loop's cancel flag: cython-nogil stops within about 0.1 ms "
        "(exit 130); cython-gil cannot stop until the call ends, because the main thread needs the "
        "GIL to handle Ctrl-C and the burn holds it. --timeout works the same way (exit 124)."
    )
    epilog = (
        "examples:\n  fastfib burn 35 --kernel cython-nogil\n"
        "  fastfib burn 60 --kernel cython-nogil --timeout 1     # exit 124 after 1 s\n"
        "  fastfib burn 28 --kernel python --json"
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("n", metavar="N", type=_parse_n, help="which Fibonacci number (N >= 0)")
        parser.add_argument("--kernel", "-k", required=True, help="one of: " + ", ".join(registry.burn_names()))
        parser.add_argument("--timeout", type=_parse_seconds, metavar="SECONDS",
                            help="give up after this long (cython kernels only; exit status 124)")
        add_json_flag(parser)

    def run(self, args: argparse.Namespace) -> int:
        try:  # every argument checked before any work
            kernel = registry.burner(args.kernel)
            check_n(args.n, kernel.name, kernel.max_n)
        except (TypeError, ValueError, OverflowError) as exc:
            raise UsageError(str(exc)) from None
        if args.timeout is not None and not kernel.cancellable:
            raise UsageError(f"--timeout needs a kernel that can be stopped: {', '.join(registry.cancellable_names())}")

        def work(token: cancel.CancelToken | None = None) -> int:
            return fastfib.burn(args.n, kernel=kernel.name, timeout=args.timeout, cancel=token)

        stops = ("Ctrl-C cannot stop it before it ends: it holds the GIL" if kernel.gil == "held" and kernel.cancellable
                 else "Ctrl-C stops it")
        print(f"fastfib: burn({args.n}) on {kernel.name} started; {stops}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            # Python and numpy kernels run bytecode, so Ctrl-C reaches them directly.
            value = cancel.run_interruptibly(work) if kernel.cancellable else work()
        except TimeoutError as exc:
            print(f"fastfib: {exc}", file=sys.stderr)
            return EXIT_TIMEOUT
        seconds = time.perf_counter() - start
        if args.json:
            print_json({"n": args.n, "kernel": kernel.name, "value": value, "seconds": seconds})
        else:
            print(value)
        return 0


def _range(kernel: registry.Kernel) -> str:
    return "any n" if kernel.max_n is None else f"n <= {kernel.max_n}"


class KernelsCommand(Command):
    name = "kernels"
    help = "list the kernels, whether each releases the GIL, and their range"

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        add_json_flag(parser)

    def run(self, args: argparse.Namespace) -> int:
        found = fastfib.kernels()
        if args.json:
            print_json({
                "kernels": [
                    {"name": k.name, "releases_gil": k.releases_gil, "gil": k.gil, "with_gil": k.with_gil,
                     "parallel_on_threads": k.parallel, "max_n": k.max_n, "description": k.description}
                    for k in found
                ],
                "unavailable": dict(registry.UNAVAILABLE),
            })
            return 0
        rows = [("kernel", "GIL while computing", "range", "what it is")]
        rows += [(k.name, k.gil, _range(k), k.description) for k in found]
        print(tables.columns(rows, left=4))
        for name, why in registry.UNAVAILABLE.items():
            print(f"{name}: unavailable: {why}")
        print(f"on {gil.interpreter_label()}")
        return 0


def _parallel_kernels(kernels: Sequence[registry.Kernel]) -> str:
    """Which kernels run in parallel on threads here, and why the others do not."""
    if not gil.gil_enabled():
        return "every kernel: there is no GIL here (free-threaded build, GIL disabled)"
    held = [k.name for k in kernels if not k.parallel]
    return (", ".join(k.name for k in kernels if k.parallel) or "none") + (
        f" (with the GIL enabled, {', '.join(held)} hold it)" if held else "")


class InfoCommand(Command):
    name = "info"
    help = "describe the interpreter, GIL state, CPU and build that figures come from"

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        add_json_flag(parser)

    def run(self, args: argparse.Namespace) -> int:
        from fastfib import environment, runners  # only for info
        from fastfib.measure import machine

        lent = machine.now(environment.usable_cores())  # what a control gets right now: about 0.1 s
        info: dict[str, Any] = {**environment.collect(), "unavailable_runners": runners.unavailable_runners(),
                                "cpu_quota": machine.cpu_quota(), "lent_now": lent.to_dict()}
        if args.json:
            print_json(info)
            return 0
        ext = info["extension"]
        commit = f" (commit {info['git_commit']})" if info["git_commit"] else ""
        lines = [
            ("fastfib", f"{info['fastfib_version']}{commit}"),
            ("python", f"{info['python_implementation']} {info['python_version']} ({info['python_executable']})"),
            ("free-threaded build", "yes" if info["free_threaded_build"] else "no"),
            ("GIL enabled now", "yes" if info["gil_enabled"] else "no"),
            ("usable cores", f"{info['usable_cores']} (of {info['cpu_count']})"),
            ("CPU quota", "none" if info["cpu_quota"] is None else f"{info['cpu_quota']:.2g} cores (cgroup)"),
            ("lent now", lent.describe()
             + (f": {lent.why()}" if lent.short(info["usable_cores"]) else "")),
            ("CPU", info["cpu_model"]),
            ("platform", info["platform"]),
            ("numpy", info["numpy_version"] or "not installed"),
        ]
        if ext["built"]:
            lines += [("extension", ext["path"]), ("Cython", ext["cython_version"]), ("CFLAGS", ext["cflags"])]
        else:
            lines.append(("extension", f"not built: {ext['error']}"))
        lines.append(("kernels", ", ".join(info["kernels"])))
        lines.append(("parallel on threads", _parallel_kernels(fastfib.kernels())))
        lines += [(name, f"unavailable: {why}") for name, why in info["unavailable_kernels"].items()]
        lines += [(f"runner {name}", f"unavailable: {why}") for name, why in info["unavailable_runners"].items()]
        print(tables.columns(lines, left=2))
        return 0


class ReportCommand(Command):
    name = "report"
    help = "turn JSON runs (scale, crossover, lab, benchmarks) into one self-contained HTML page"
    description = (
        "Make one HTML file of any mix of fastfib's JSON documents: `fastfib scale --json`,\n"
        "`fastfib crossover --json`, `fastfib lab EXPERIMENT --json` and the benchmark suite's\n"
        "`--benchmark-json`. Each run gets what was run, where (interpreter, build, GIL, cores, CPU,\n"
        "fastfib version and commit), its table with failed and noisy rows marked, its plot and its\n"
        "finding. Several runs of one kind are overlaid on one plot, with the rows they share side by\n"
        "side and their differences said (the ratios of `fastfib compare`). The page needs no network:\n"
        "styles and plots (SVG) are inline; it reads on a phone and prints.\n"
        "\n"
        "Every input is read first: a file that is not a fastfib document, or of a schema version this\n"
        "fastfib does not read, stops it with one line naming the file (exit status 2), and no page is\n"
        "written. The page is written atomically."
    )
    epilog = (
        "examples:\n"
        "  fastfib scale --quick --json scale.json && fastfib report scale.json     # writes report.html\n"
        "  fastfib report results/*.json -o results/report.html\n"
        "  python3.11 -m fastfib scale --json py311.json; python3.13t -m fastfib scale --json py313t.json\n"
        "  fastfib report py311.json py313t.json -o gil-vs-free-threaded.html      # overlaid\n"
        "  pytest --benchmark-only --benchmark-json=bench.json && fastfib report bench.json"
    )

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("documents", metavar="RUN.json", nargs="+", help="fastfib JSON documents, in page order")
        parser.add_argument("-o", "--output", metavar="PATH", default="report.html",
                            help="the HTML file to write (default: %(default)s)")
        parser.add_argument("--title", default="", help="the page's title (default: fastfib report)")

    def run(self, args: argparse.Namespace) -> int:
        from fastfib import files  # jinja2 and matplotlib only when reporting
        from fastfib.report import html_report

        if any(os.path.realpath(path) == os.path.realpath(args.output) for path in args.documents):
            raise UsageError(f"-o {args.output} is one of the documents: the page would replace it")
        try:
            files.check_writable(args.output)
            size = html_report.write(args.documents, args.output, title=args.title)
        except files.FileError as exc:  # a report's ReportError too
            raise UsageError(str(exc)) from None
        print(f"wrote {args.output} ({len(args.documents)} run(s), {size / 1024:.0f} KiB)")
        return 0
