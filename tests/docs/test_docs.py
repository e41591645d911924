"""The README is a front door and the docs hold together: size limit, the commands, every relative link resolves.

Pure Python (no Spark, no network): part of ``make test-fast``. Links are checked in README.md, BENCHMARKS.md and
docs/*.md. A relative link must name an existing file or folder; a ``#anchor`` must match a heading of the target
Markdown file (GitHub's slugs). Links inside code blocks and inline code are not links and are ignored.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
README_MAX_BYTES = 12_000
CHECKED = [README, REPO / "BENCHMARKS.md", *sorted((REPO / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
# [text](target "title") and ![alt](target); the text may hold inline code or nested brackets one level deep
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def _prose(markdown: str) -> str:
    """The text outside fenced code blocks and inline code spans."""
    return _INLINE_CODE.sub("", _FENCE.sub("", markdown))


def links(markdown: str) -> list[str]:
    """Every link target in the prose of a Markdown text, in order."""
    prose = _prose(markdown)
    return [m.group(1) for m in _INLINE_LINK.finditer(prose)] + _REFERENCE_DEF.findall(prose)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = text.replace("`", "").replace("*", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text (repeats get -1, -2, ...)."""
    seen: dict[str, int] = {}
    found = set()
    for heading in _HEADING.findall(_FENCE.sub("", markdown)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(source: Path) -> list[str]:
    """The relative links of ``source`` that do not resolve, each with the reason."""
    problems = []
    for target in links(source.read_text(encoding="utf-8")):
        if not target or _EXTERNAL.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (source.parent / unquote(path_part)).resolve() if path_part else source
        if not resolved.exists():
            problems.append(f"{target}: no such file or folder")
            continue
        if not resolved.is_relative_to(REPO):
            problems.append(f"{target}: outside the repository")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text(encoding="utf-8")):
            problems.append(f"{target}: no heading #{anchor} in {resolved.relative_to(REPO)}")
    return problems


def test_readme_fits_the_front_door_limit():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move depth to docs/ (limit {README_MAX_BYTES})"


@pytest.mark.parametrize("command", ["make demo", "make test", "make test-fast"])
def test_readme_names_the_commands(command):
    assert re.search(rf"{re.escape(command)}(?![\w-])", README.read_text(encoding="utf-8")), command


def test_docs_folder_has_pages():
    assert len(CHECKED) > 2, "docs/*.md not found"


@pytest.mark.parametrize("source", CHECKED, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(source):
    assert broken_links(source) == []


# ---- the checker itself, on inline text ---------------------------------------------------------------------------

def test_links_skip_code_and_read_titles_and_references():
    text = (
        "See [the docs](docs/a.md#x \"title\") and ![img](pic.png).\n"
        "`[not](a-link.md)` and\n```\n[nor](this.md)\n```\n"
        "[ref]: ../other.md\n[`code` text](b.md)\n"
    )
    assert links(text) == ["docs/a.md#x", "pic.png", "b.md", "../other.md"]


def test_slugs_follow_github():
    assert slug("Serving: `musiclake recommend`") == "serving-musiclake-recommend"
    assert slug("Query and report: `musiclake query`, the SQL") == "query-and-report-musiclake-query-the-sql"
    assert slug("Checks (`tests/deploy/`, part of `make test`)") == "checks-testsdeploy-part-of-make-test"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


def test_broken_links_are_reported(tmp_path, monkeypatch):
    root = tmp_path.resolve()
    monkeypatch.setattr(sys.modules[__name__], "REPO", root)
    page = root / "page.md"
    (root / "other.md").write_text("# Title\n", encoding="utf-8")
    page.write_text("[ok](other.md#title) [gone](missing.md) [bad](other.md#nope) [self](#here)\n## Here\n",
                    encoding="utf-8")
    assert broken_links(page) == ["missing.md: no such file or folder", "other.md#nope: no heading #nope in other.md"]
