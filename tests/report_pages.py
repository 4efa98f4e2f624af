"""What the ``fastfib report`` tests share: the sample documents and a reader of the pages.

tests/data/report/ holds real documents of every kind, written on the project's
2-core machine by ``fastfib scale --quick --json``, ``fastfib crossover --json``
(before its meta recorded the command: an older document), each ``fastfib lab
<experiment> --quick --json``, and ``pytest benchmarks/test_scaling.py
--benchmark-only --benchmark-json`` (raw timings dropped). :func:`variant`
derives documents from them (a second interpreter, an error row, fields the
benchmark summary may grow).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "report"
SAMPLES = sorted(DATA.glob("*.json"))
# The kinds with a plot (queue, race and release have none: their table is the result).
UNPLOTTED = {"lab-queue.json", "lab-race.json", "lab-release.json"}


def sample(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def variant(tmp_path: Path, name: str, change: Callable[[dict[str, Any]], None], saved_as: str) -> Path:
    """A copy of sample ``name`` changed by ``change``, written to ``tmp_path / saved_as``."""
    data = copy.deepcopy(sample(name))
    change(data)
    path = tmp_path / saved_as
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def as_free_threaded(data: dict[str, Any]) -> None:
    """The scale sample as if run on 3.13t with the GIL off: python scales on threads there."""
    data["meta"].update(python_version="3.13.5", free_threaded_build=True, gil_enabled=False,
                        gil_enabled_at_end=False)
    for row in data["rows"]:
        if row["kernel"] == "python" and row["runner"] == "threads" and row["workers"] == 2:
            row["speedup"], row["noisy"] = 2.05, False


class Page(HTMLParser):
    """The elements of a page, as (tag, attributes) in document order, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.stack: list[tuple[str, dict[str, str]]] = []  # open section/table/tr elements
        self.inside: list[tuple[str, dict[str, str], list[tuple[str, dict[str, str]]]]] = []
        self.text_parts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = (tag, {key: value or "" for key, value in attrs})
        self.elements.append(found)
        self.inside.append((tag, found[1], [(t, a) for t, a in self.stack]))
        if tag in ("section", "table", "tr"):
            self.stack.append(found)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if not self.inside or self.inside[-1][0] != "style":  # the page's text, not its styles
            self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def count(self, tag: str, cls: str = "", within: str = "") -> int:
        """Elements ``tag`` (of class ``cls``), optionally inside a section of class ``within``."""
        return sum(1 for t, attrs, outer in self.inside if t == tag
                   and (not cls or cls in attrs.get("class", "").split())
                   and (not within or any(o == "section" and within in a.get("class", "").split()
                                          for o, a in outer)))

    def rows(self, status: str) -> int:
        return self.count("tr", status)
