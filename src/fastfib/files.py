"""Output files: checked before the work starts, written whole or not at all, and
the envelope every fastfib JSON document shares.

A file is written atomically (a temporary file in the same folder, then
``os.replace``): a reader, or a Ctrl-C, never sees half a file.

No fastfib imports, so any layer may write a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["FileError", "body", "check_writable", "envelope", "write_atomic", "write_document"]


class FileError(Exception):
    """A file that cannot be read or written; the message says which and why."""


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise FileError unless ``path`` can be written (checked before any work starts)."""
    target = Path(path)
    if target.is_dir():
        raise FileError(f"{target} is a directory, not a file")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileError(f"cannot write {target}: folder {folder} does not exist")
    try:  # the only sure test: create (and remove) a file beside it
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{target.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise FileError(f"cannot write {target}: {exc.strerror or exc}") from None


def write_atomic(path: str | os.PathLike[str], write: Callable[[str], None]) -> None:
    """Call ``write(temporary)`` to fill a temporary file beside ``path``, then put it in
    place; on any error (Ctrl-C included) the temporary file is removed and ``path`` untouched."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".",
                                         prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_document(path: str | os.PathLike[str], data: Any) -> None:
    """Write any JSON-ready ``data`` to ``path`` atomically (no NaN: strict JSON)."""
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"

    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())

    write_atomic(path, write)


def envelope(schema: str, version: int, meta: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """A fastfib JSON document: ``{"schema", "schema_version", "meta", ...body}``.

    ``schema`` names the document's kind ("fastfib.scale", "fastfib.lab.race", ...);
    ``version`` changes whenever a reader would notice; ``meta`` says where and how the
    figures were measured (:func:`fastfib.environment.collect` and the run's settings)."""
    return {"schema": schema, "schema_version": version, "meta": meta, **body}


def body(document: dict[str, Any]) -> dict[str, Any]:
    """What :func:`envelope` wrapped: the document less its schema, version and meta."""
    return {key: value for key, value in document.items() if key not in ("schema", "schema_version", "meta")}
