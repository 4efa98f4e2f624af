"""The wheel and sdist carry what a reader studies and nothing a build produced.

One sdist and one wheel (built from that sdist, as pip and cibuildwheel do) are
built from a copy of the checkout with ``python -m build --no-isolation``
(about 10 s), then checked by the rules in tools/check_dist.py; the rules
themselves are checked on small hand-made archives. ``make wheels`` applies the
same rules to every repaired wheel. Skipped outside a source checkout (e.g.
when cibuildwheel runs this suite against an installed wheel).
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import fastfib

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"

if not (ROOT / "setup.py").is_file() or not (TOOLS / "check_dist.py").is_file():
    pytest.skip("needs the source checkout (setup.py, tools/)", allow_module_level=True)

sys.path.insert(0, str(TOOLS))
import check_build_identifiers  # noqa: E402
import check_dist  # noqa: E402

# Never copied into the build: VCS data, venvs (any folder with a pyvenv.cfg,
# whatever its name: make test adds .venv313 and .venv-ft), outputs, caches,
# and what Cython and the compiler left beside the sources in the checkout.
_SKIP_DIRS = {".git", ".venv", "build", "dist", "wheelhouse", "results", "__pycache__",
              ".pytest_cache", ".hypothesis", ".benchmarks"}


def _ignore(directory: str, names: list[str]) -> set[str]:
    generated_c = Path(directory).resolve() == ROOT / "src" / "fastfib"
    return {name for name in names
            if name in _SKIP_DIRS or name.endswith((".so", ".pyd", ".o", ".egg-info"))
            or (Path(directory, name) / "pyvenv.cfg").is_file()
            or (generated_c and name.endswith(".c"))}


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    # Asked of the installed distributions, not of the import path: a checkout's own build/
    # folder (setuptools' and GMP's) would pass for a namespace package called "build".
    try:
        importlib.metadata.distribution("build")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("needs the 'build' package (pip install --group wheels; make test's main venv has it)")
    tmp = tmp_path_factory.mktemp("dist")
    source = tmp / "fastfib"
    shutil.copytree(ROOT, source, ignore=_ignore)
    out = tmp / "out"
    # No --sdist/--wheel: build makes the sdist, then the wheel from the unpacked sdist.
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
                   check=True, capture_output=True, text=True, timeout=600)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist, "source": source}


def test_wheel_follows_the_content_rules(dists):
    assert check_dist.check_wheel(dists["wheel"], dists["source"]) == []


def test_wheel_ships_the_sources_a_reader_studies_and_no_generated_c(dists):
    names = check_dist.wheel_names(dists["wheel"])
    for wanted in ("fastfib/_kernels.pyx", "fastfib/_cfib.pxd", "fastfib/_kernels.pyi",
                   "fastfib/csrc/fib.c", "fastfib/csrc/fib.h", "fastfib/py.typed",
                   "fastfib/report/templates/report.html.j2", "fastfib/report/templates/report.css"):
        assert wanted in names
    assert any(name.startswith("fastfib/_kernels.") and name.endswith((".so", ".pyd")) for name in names)
    assert not [name for name in names if name.endswith((".o", ".obj"))]
    shipped_c = sorted(name for name in names if name.endswith(".c"))  # C sources, never Cython's generated C
    bindings = dists["source"] / "bindings"  # the hand-written C API binding ships beside csrc/ for readers
    assert shipped_c == sorted([f"fastfib/csrc/{path.name}" for path in (dists["source"] / "csrc").glob("*.c")]
                               + [f"fastfib/bindings/{path.relative_to(bindings).as_posix()}"
                                  for path in bindings.rglob("*.c")])


def test_the_wheel_registers_the_benchmark_plugin_with_pytest(dists):
    with zipfile.ZipFile(dists["wheel"]) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        entry_points = archive.read(name).decode()
    assert "[pytest11]\nfastfib = fastfib.benchmarks.plugin" in entry_points


def test_the_wheel_alone_runs_its_benchmark_suite(dists, tmp_path):
    """As a wheel user would: no checkout, no compiler, from an unrelated folder."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    str(dists["wheel"])], check=True, timeout=300)
    # Its dependencies (numpy, pytest, pytest-benchmark, ...) from this environment, by a .pth
    # line; fastfib only from the wheel: this environment's editable install is itself a .pth
    # file in that folder, which a .pth line does not run.
    (site,) = (venv / "lib").glob("python*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*argv: str) -> subprocess.CompletedProcess:
        done = subprocess.run([str(a) for a in argv], cwd=work, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        return done

    found = run(python, "-c", "import fastfib.benchmarks.plugin as p; print(p.__file__)").stdout
    assert Path(found.strip()).resolve().is_relative_to(site.resolve()), found  # the wheel's, not the checkout's
    untimed = run(venv / "bin" / "fastfib", "bench", "--benchmark-disable", "-q", "-p", "no:cacheprovider")
    assert "passed" in untimed.stdout and "warning" not in untimed.stdout  # e.g. no assertion-rewrite warning
    run(python, "-m", "pytest", "--pyargs", "fastfib.benchmarks", "--benchmark-only", "-q", "-p",
        "no:cacheprovider", "-k", "scaling and cython-nogil-threads-2", "--fastfib-pair-budget=0",
        "--benchmark-json=bench.json")
    data = json.loads((work / "bench.json").read_text())
    assert len(data["benchmarks"]) == 1
    (row,) = data["fastfib"]["rows"]
    assert row["low"] <= row["speedup"] <= row["high"]


def test_sdist_follows_the_content_rules(dists):
    assert check_dist.check_sdist(dists["sdist"]) == []


def test_the_version_is_single_sourced(dists):
    # The version in both file names and the wheel's metadata is _version.py's.
    version = fastfib.__version__
    assert dists["wheel"].name.startswith(f"fastfib-{version}-")
    assert dists["sdist"].name == f"fastfib-{version}.tar.gz"
    with zipfile.ZipFile(dists["wheel"]) as archive:
        metadata = archive.read(f"fastfib-{version}.dist-info/METADATA").decode()
    assert f"\nVersion: {version}\n" in metadata
    assert "\nRequires-Python: >=3.10\n" in metadata


# The rules themselves, on hand-made archives.

def _wheel(tmp_path: Path, names: list[str]) -> Path:
    path = tmp_path / "fastfib-0.0.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, "")
    return path


GOOD_WHEEL = [*check_dist.WHEEL_REQUIRED, "fastfib/_kernels.cpython-311-x86_64-linux-gnu.so",
              "fastfib-0.0.0.dist-info/METADATA", "fastfib.libs/libgmp-0123abcd.so.10"]


def test_rules_accept_a_good_wheel(tmp_path):
    assert check_dist.check_wheel(_wheel(tmp_path, GOOD_WHEEL)) == []


@pytest.mark.parametrize("extra, complaint", [
    ("fastfib/_kernels.c", "generated C source"),
    ("fastfib/csrc/fib.o", "forbidden"),
    ("fastfib/__pycache__/cli.cpython-311.pyc", "forbidden"),
    ("fastfib/.hypothesis/examples/x", "forbidden"),
    ("tests/test_kernels.py", "outside the package"),
    ("fastfib/_gmp.cpython-311-x86_64-linux-gnu.so", "missing: fastfib/_gmp.pyi"),
])
def test_rules_reject_a_bad_wheel(tmp_path, extra, complaint):
    problems = check_dist.check_wheel(_wheel(tmp_path, [*GOOD_WHEEL, extra]))
    assert any(complaint in problem for problem in problems), problems


def test_rules_reject_a_wheel_without_its_sources(tmp_path):
    names = [name for name in GOOD_WHEEL if name not in ("fastfib/_kernels.pyx", "fastfib/csrc/fib.c")]
    problems = check_dist.check_wheel(_wheel(tmp_path, names))
    assert "missing: fastfib/_kernels.pyx" in problems and "missing: fastfib/csrc/fib.c" in problems


def test_rules_reject_a_wheel_without_the_report_template(tmp_path):
    names = [name for name in GOOD_WHEEL if name != "fastfib/report/templates/report.html.j2"]
    assert "missing: fastfib/report/templates/report.html.j2" in check_dist.check_wheel(_wheel(tmp_path, names))


def test_rules_reject_an_sdist_with_built_files(tmp_path):
    path = tmp_path / "fastfib-0.0.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name in [*check_dist.SDIST_REQUIRED, "src/fastfib/_kernels.c", "src/fastfib/_kernels.so"]:
            member = tarfile.TarInfo(f"fastfib-0.0.0/{name}")
            archive.addfile(member)
    problems = check_dist.check_sdist(path)
    assert "generated C source: src/fastfib/_kernels.c" in problems
    assert "built file: src/fastfib/_kernels.so" in problems


def test_identifier_comparison_names_every_difference():
    expected = {"linux": ["cp310-manylinux_x86_64", "cp313t-manylinux_x86_64"], "windows": ["cp310-win_amd64"]}
    found = {"linux": ["cp310-manylinux_x86_64", "cp310-win32"], "windows": ["cp310-win_amd64"]}
    assert check_build_identifiers.compare(expected, found) == [
        "linux: missing (expected, not built): cp313t-manylinux_x86_64",
        "linux: unexpected (built, not expected): cp310-win32",
    ]
    assert check_build_identifiers.compare(expected, expected) == []
