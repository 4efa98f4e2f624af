"""Reports of measured rows: the terminal table, the versioned JSON, the PNG plot,
and the side-by-side comparison of two JSON files (this module names them; the
code is in scale_document, scale_table and scale_plot). The HTML page of any of
fastfib's documents is :mod:`fastfib.report.html_report`.

Files are written atomically (:mod:`fastfib.files`): a reader, or a Ctrl-C,
never sees half a file.
"""

from __future__ import annotations

from fastfib.report.scale_document import SCHEMA, SCHEMA_VERSION, ReportError, document, load, write_json
from fastfib.report.scale_plot import dress_panel, write_plot
from fastfib.report.scale_table import (
    LEGEND,
    TABLE_HEADER,
    describe,
    format_compare,
    format_headline,
    format_table,
    gil_label,
    legend,
    lent_lines,
    pair_rows,
    ratio,
    speed_changes,
    table_cells,
)

__all__ = [
    "LEGEND", "SCHEMA", "SCHEMA_VERSION", "TABLE_HEADER", "ReportError", "describe", "document", "dress_panel",
    "format_compare", "format_headline", "format_table", "gil_label", "legend", "lent_lines", "load", "pair_rows",
    "ratio", "speed_changes", "table_cells", "write_json", "write_plot",
]
