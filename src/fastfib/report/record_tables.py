"""The report page's tables: rows marked as errors or noisy, and a table built from
any list of JSON records (every column any record has, one level of nesting
spelled out, seconds shown as milliseconds and ratios as "1.93×").
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import Any

from fastfib import tables
from fastfib.measure import paired

__all__ = ["Table", "TableRow", "cell", "is_noisy", "is_records", "records_table"]


@dataclass
class TableRow:
    cells: list[str]
    status: str = ""  # "", "error", "noisy" or "na" (a kernel that cannot load on a runner)


@dataclass
class Table:
    header: list[str]
    rows: list[TableRow]
    caption: str = ""
    says_status: bool = False  # True when a column already names each row's error or noise

    @property
    def numeric(self) -> list[bool]:
        """Per column: whether every filled cell reads as a number (right-aligned)."""
        def number(text: str) -> bool:
            head = text.split(" ", 1)[0].rstrip("×%").replace(",", "")
            try:
                float(head)
                return True
            except ValueError:
                return text in ("-", "")
        return [all(number(row.cells[i]) for row in self.rows if i < len(row.cells))
                for i in range(len(self.header))]

    def count(self, status: str) -> int:
        return sum(row.status == status for row in self.rows)



def is_records(value: Any) -> bool:
    """A non-empty list of JSON objects: something records_table can show."""
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


# The keys that make a nested object a paired ratio (PairedRatio.to_dict()): shown as one cell.
PAIRED_KEYS = frozenset({"speedup", "low", "high", "coverage", "q1", "q3", "pairs"})


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One level of nesting spelled out: {"latency_ms": {"p50": 1}} -> {"latency_ms p50": 1};
    a paired ratio stays one cell, as its own words say it ("1.97x (96% CI 1.87-2.01x, 12 pairs)")."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict) and PAIRED_KEYS <= value.keys():
            flat[key] = paired.PairedRatio.from_dict(value).describe()
        elif isinstance(value, dict):
            for inner, item in value.items():
                flat[f"{key} {inner}"] = item
        else:
            flat[key] = value
    return flat


def is_noisy(record: dict[str, Any]) -> bool:
    """A true "noisy" flag, or any text value that says noisy ("too noisy to tell")."""
    for key, value in _flatten(record).items():
        if (key in ("noisy", "too_noisy") or key.endswith((" noisy", " too_noisy"))) and value is True:
            return True
        if isinstance(value, str) and "noisy" in value.lower():
            return True
    return False


def _status(record: dict[str, Any]) -> str:
    if record.get("error"):
        return "na" if (record.get("extra") or {}).get("unavailable") else "error"
    return "noisy" if is_noisy(record) else ""


def cell(key: str, value: Any) -> str:
    """A JSON value as a table cell; ratios (speedup, ideal) as "1.93×", seconds as ms."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if "speedup" in key or key in ("ideal", "ratio", "time_ratio"):
            return tables.times(float(value))
        if key.endswith("_s") or "_s " in key:
            return tables.ms(float(value))
        if isinstance(value, int):
            return f"{value:,}" if abs(value) >= 10_000 else str(value)
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    if isinstance(value, (list, dict)):
        text = json.dumps(value, separators=(",", ":"))
        return text if len(text) <= 60 else text[:57] + "..."
    return str(value)


def records_table(records: Sequence[dict[str, Any]], hidden: Set[str] = frozenset(), caption: str = "") -> Table:
    """A table of every column present in any record, in order of first appearance."""
    flat = [_flatten(record) for record in records]
    columns: dict[str, None] = {}
    for record in flat:
        for key in record:
            if key not in hidden and key.split(" ", 1)[0] not in hidden:
                columns.setdefault(key)
    header = [_header(key) for key in columns]
    rows = [TableRow([cell(key, record.get(key)) for key in columns], _status(original))
            for record, original in zip(flat, records, strict=True)]
    return Table(header, rows, caption)


def _header(key: str) -> str:
    """median_s -> "median ms" (the cells are in ms); other names with spaces for underscores."""
    if key.endswith("_s"):
        key = key[:-2] + "_ms"
    key = key.replace("_s ", "_ms ")
    return key.replace("_", " ")
