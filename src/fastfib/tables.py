"""Plain-text tables and the number formats in their cells.

No fastfib imports: any layer (a lab experiment, the benchmark summary, a
command) prints a table without depending on the report layer.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["columns", "grid", "ms", "num", "times"]


def times(value: float | None) -> str:
    """A ratio written like "1.93×"; "-" when there is none."""
    return "-" if value is None else f"{value:.2f}×"


def num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def ms(seconds: float | None) -> str:
    """Seconds written as milliseconds, to a precision that suits their size."""
    if seconds is None:
        return "-"
    value = 1000 * seconds
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _widths(lines: Sequence[Sequence[object]]) -> list[int]:
    return [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]


def columns(lines: Sequence[Sequence[object]], left: int, indent: str = "") -> str:
    """``lines`` with every column padded to its widest cell; the first ``left`` columns
    aligned left, the rest right; no trailing spaces."""
    widths = _widths(lines)
    return "\n".join(
        (indent + "  ".join(str(c).ljust(w) if i < left else str(c).rjust(w)
                            for i, (c, w) in enumerate(zip(cells, widths, strict=True)))).rstrip()
        for cells in lines)


def grid(header: Sequence[str], body: Sequence[Sequence[object]], left: int) -> str:
    """A table: ``header``, a rule of dashes, then ``body``, aligned as :func:`columns`."""
    rule = ["-" * w for w in _widths([header, *body])]
    return columns([header, rule, *body], left)
