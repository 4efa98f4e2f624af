"""The versioned JSON document of a scale run (``fastfib scale --json``): written atomically,
read back with its schema and version checked."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastfib.files import FileError, envelope, write_document
from fastfib.measure import Row

__all__ = ["SCHEMA", "SCHEMA_VERSION", "ReportError", "document", "load", "write_json"]

SCHEMA = "fastfib.scale"
# Schema history (bump SCHEMA_VERSION on any change a reader would notice):
#   1 -- {"schema", "schema_version", "meta": {...}, "rows": [Row.to_dict(), ...]}; wall_s is
#        {"median", "min", "max"} in seconds; a row with "error" has null figures.
#      (additive, still 1: meta gained gil_enabled_at_end, skipped_runners and unavailable_runners;
#      a row's extra may hold "backend" (interpreters) and "unavailable": true, an error row for a
#      kernel that cannot load on that runner, shown as n/a and not counted as a failed run)
#      (additive, still 1: meta gained "dask", an existing cluster's scheduler and workers (threads,
#      cores, interpreter) or null; a dask row's extra holds "dask", its cluster and chosen workers)
#   2 -- a parallel row's extra holds "machine": the cores the machine lent while it ran
#        (fastfib.measure.machine.Lent.to_dict: control, other processes, quota, "cores"); a row
#        measured while the machine lent too few cores says its speedup cannot tell who scales.
#        Version 1 files are still read (their rows have no "machine").
SCHEMA_VERSION = 2
READABLE = (1, 2)


class ReportError(FileError):
    """A scale report that cannot be read; the message says which file and why."""


def document(meta: dict[str, Any], rows: Sequence[Row]) -> dict[str, Any]:
    """The JSON document: schema name and version, run metadata, rows."""
    return envelope(SCHEMA, SCHEMA_VERSION, meta, {"rows": [row.to_dict() for row in rows]})


def write_json(path: str | os.PathLike[str], meta: dict[str, Any], rows: Sequence[Row]) -> None:
    """Write the rows and metadata to ``path`` atomically."""
    write_document(path, document(meta, rows))


def load(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[Row]]:
    """Read a file written by :func:`write_json`: (meta, rows). ReportError if it cannot."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ReportError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ReportError(f"{path} is not a fastfib scale report (no \"schema\": \"{SCHEMA}\")")
    version = data.get("schema_version")
    if version not in READABLE:
        writer = (data.get("meta") or {}).get("fastfib_version", "an unknown version")
        raise ReportError(
            f"{path} uses schema version {version} (written by fastfib {writer}); this fastfib "
            f"reads versions {', '.join(map(str, READABLE))}: re-run `fastfib scale --json` to compare"
        )
    try:
        return dict(data["meta"]), [Row.from_dict(row) for row in data["rows"]]
    except (KeyError, TypeError) as exc:
        raise ReportError(f"{path} is malformed ({type(exc).__name__}: {exc})") from None
