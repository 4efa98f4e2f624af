"""Check that cibuildwheel would build exactly the wheels fastfib means to publish.

For linux, macos and windows, run ``cibuildwheel --print-build-identifiers``
(it only reads ``[tool.cibuildwheel]`` in pyproject.toml: no Docker, no
compiler) and compare the identifiers with ``expected-build-identifiers.txt``
beside this script. Any difference -- a wheel missing, or one nobody asked
for -- is printed and the exit status is 1.

    python tools/check_build_identifiers.py            # check (make test runs this)
    python tools/check_build_identifiers.py --update   # rewrite the expected list

After an intended change to the configuration, run it with ``--update`` and
review the diff of the expected list like any other change.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = Path(__file__).with_name("expected-build-identifiers.txt")
PLATFORMS = ("linux", "macos", "windows")
HEADER = """\
# The wheels fastfib publishes: cibuildwheel build identifiers, one a line, per platform.
# `make test` checks that `cibuildwheel --print-build-identifiers` lists exactly these
# for the [tool.cibuildwheel] configuration in pyproject.toml. After an intended change
# there, regenerate this file and review its diff:
#     .venv/bin/python tools/check_build_identifiers.py --update
"""


def printed_identifiers(platform: str) -> list[str]:
    """What cibuildwheel would build for ``platform`` from this checkout."""
    # CIBW_* variables in the caller's environment would override pyproject.toml.
    env = {key: value for key, value in os.environ.items() if not key.startswith("CIBW_")}
    result = subprocess.run(
        [sys.executable, "-m", "cibuildwheel", "--print-build-identifiers", "--platform", platform, str(ROOT)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        sys.exit(f"cibuildwheel --print-build-identifiers --platform {platform} failed:\n{result.stderr}")
    return result.stdout.split()


def read_expected(path: Path = EXPECTED) -> dict[str, list[str]]:
    """The expected identifiers by platform, from ``[platform]`` sections."""
    expected: dict[str, list[str]] = {}
    section: list[str] | None = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = expected.setdefault(line[1:-1], [])
        elif section is None:
            sys.exit(f"{path}:{number}: identifier {line!r} before any [platform] line")
        else:
            section.append(line)
    return expected


def write_expected(found: dict[str, list[str]], path: Path = EXPECTED) -> None:
    parts = [HEADER]
    for platform, identifiers in found.items():
        parts.append(f"\n[{platform}]\n" + "".join(f"{ident}\n" for ident in identifiers))
    path.write_text("".join(parts))


def compare(expected: dict[str, list[str]], found: dict[str, list[str]]) -> list[str]:
    """One line per difference; empty when they agree."""
    problems = []
    for platform in sorted(set(expected) | set(found)):
        want, got = set(expected.get(platform, [])), set(found.get(platform, []))
        problems += [f"{platform}: missing (expected, not built): {ident}" for ident in sorted(want - got)]
        problems += [f"{platform}: unexpected (built, not expected): {ident}" for ident in sorted(got - want)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="rewrite the expected list from cibuildwheel")
    args = parser.parse_args(argv)
    found = {platform: printed_identifiers(platform) for platform in PLATFORMS}
    if args.update:
        write_expected(found)
        print(f"wrote {EXPECTED.relative_to(ROOT)}: " + ", ".join(f"{p} {len(ids)}" for p, ids in found.items()))
        return 0
    problems = compare(read_expected(), found)
    if problems:
        print("cibuildwheel's build identifiers differ from tools/expected-build-identifiers.txt:")
        print("\n".join(f"  {line}" for line in problems))
        print("If the change is intended: python tools/check_build_identifiers.py --update")
        return 1
    counts = ", ".join(f"{len(ids)} {p}" for p, ids in found.items())
    print(f"build identifiers as expected: {counts} ({sum(map(len, found.values()))} wheels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
