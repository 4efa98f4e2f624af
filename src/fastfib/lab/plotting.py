"""What every lab plot shares: an Agg figure (no display needed) and an atomic PNG write."""

from __future__ import annotations

from typing import Any

from fastfib import files

__all__ = ["figure", "save"]


def figure(rows: int = 1, columns: int = 1, size: tuple[float, float] = (7.0, 4.2), **options: Any) -> Any:
    """(figure, axes) from matplotlib's Agg backend: files only."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    return plt.subplots(rows, columns, figsize=size, **options)


def save(fig: Any, path: str) -> None:
    """Write ``fig`` as a PNG (SVG for a path ending in .svg) at ``path`` atomically, then free it."""
    from matplotlib import pyplot as plt

    fig.tight_layout()
    kind = "svg" if str(path).endswith(".svg") else "png"
    try:
        files.write_atomic(path, lambda temporary: fig.savefig(temporary, format=kind, dpi=110))
    finally:
        plt.close(fig)
