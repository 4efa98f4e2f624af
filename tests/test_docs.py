"""README and the docs/ pages it links: every relative link resolves, every generated block has its page.

A link is relative when it names no scheme (``https:``, ``mailto:``); its file
must exist, and a ``#fragment`` (a bare one included) must name a heading of the
page it points to, slugged as GitHub slugs them (lower case, punctuation dropped,
spaces to hyphens). Links inside code blocks
and inline code are not links. Skipped outside a source checkout or sdist.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

if not README.is_file() or not DOCS.is_dir():
    pytest.skip("needs README.md and docs/ (a checkout or an sdist)", allow_module_level=True)

PAGES = [README, *sorted(DOCS.glob("*.md"))]
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """The page without its code: links in code are examples, not links."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup and punctuation dropped, lower case, spaces to hyphens."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(heading) for heading in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8")))}


def _links(page: Path) -> list[str]:
    return [target for target in _LINK.findall(_prose(page.read_text(encoding="utf-8")))
            if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_relative_link_resolves(page):
    broken = []
    for target in _links(page):
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
            broken.append(f"{target}: {resolved.name} has no heading with that anchor")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_readme_links_every_docs_page():
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in _links(README)}
    unlinked = [p.name for p in DOCS.glob("*.md") if p.resolve() not in linked]
    assert not unlinked, f"README.md does not link: {', '.join(unlinked)}"


def test_the_checks_see_links_and_anchors():
    assert _slug("Who scales: what `make run` shows") == "who-scales-what-make-run-shows"
    assert _slug("Why a `gmp` kernel") == "why-a-gmp-kernel"
    assert _links(README), "found no link in README.md: the pattern is wrong"
    assert "x.md" not in _prose("see `[a](x.md)` and\n```\n[b](x.md)\n```\n")


def test_every_generated_block_has_its_page():
    if not (ROOT / "tools" / "update_readme.py").is_file():
        pytest.skip("needs tools/ (a checkout)")
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import update_readme
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert set(update_readme.PAGES) == set(update_readme.BLOCKS)
    for name, page in update_readme.PAGES.items():
        text = page.read_text(encoding="utf-8")
        assert text.count(f"<!-- {name}:begin -->") == 1 == text.count(f"<!-- {name}:end -->"), (name, page)
    lab = (DOCS / "lab.md").read_text(encoding="utf-8")
    assert lab.count("<!-- lab:begin -->") == 1 == lab.count("<!-- lab:end -->")


def test_the_lab_page_names_every_experiment():
    from fastfib.cli.lab_cli import EXPERIMENTS

    lab = (DOCS / "lab.md").read_text(encoding="utf-8")
    missing = [e.name for e in EXPERIMENTS if f"`fastfib lab {e.name}`" not in lab]
    assert not missing, f"docs/lab.md does not describe: {', '.join(missing)}"
