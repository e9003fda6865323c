"""The docs point only at files that exist, and code cites only sections the vLLM page has.

Comments explain vLLM's behaviour by citing ``docs/vllm-behaviour.md`` sections; a renumbered
or deleted section, a renamed doc or a path to a file outside the repository would otherwise
leave readers with a pointer to nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BEHAVIOUR = ROOT / "docs" / "vllm-behaviour.md"
SOURCE_DIRS = (
    "console",
    "engines",
    "emulator",
    "tests",
    "bench",
    "scripts",
    "templates",
    "static/js",
)
SOURCE_SUFFIXES = {".py", ".md", ".html", ".js", ".sh", ".toml"}
TOP_DIRS = ("console/", "engines/", "emulator/", "docs/", "bench/", "tests/", "scripts/")

FENCE = re.compile(r"^```.*?^```", re.M | re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
MD_NAME = re.compile(r"(?<![\w/.-])([\w./-]+\.md)\b")
HEADING = re.compile(r"^#{2,4} (\d+(?:\.\d+)?)\.? ", re.M)
CITATION = re.compile(r"§(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?")
OLD_CITATION = re.compile(r"vllm-facts|\bfacts (?:sections? )?\d")


def docs() -> list[Path]:
    """The repository's prose documentation."""
    return [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted(ROOT.glob("docs/*.md"))]


def prose(text: str) -> str:
    """``text`` without fenced code blocks: commands there may name files on other machines."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading, as GitHub builds it."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", prose(doc.read_text()), re.M)
    return {slug(heading) for heading in headings}


def is_repo_file_path(span: str) -> bool:
    """A path under a top-level directory, naming a file (``x.py``) or a folder (``x/``)."""
    return span.startswith(TOP_DIRS) and (span.endswith("/") or Path(span).suffix != "")


def link_leads_nowhere(doc: Path, target: str) -> bool:
    """A relative link whose file is missing, or whose ``#anchor`` no heading of it makes."""
    path, _, anchor = target.partition("#")
    file = (doc.parent / path).resolve() if path else doc
    if not file.exists():
        return True
    return bool(anchor) and file.suffix == ".md" and anchor not in anchors(file)


def missing_targets(doc: Path) -> Iterator[str]:
    """Links, repository paths and ``*.md`` names in ``doc``'s prose that lead nowhere."""
    text = prose(doc.read_text())
    for target in LINK.findall(text):
        if not re.match(r"[a-z]+:", target) and link_leads_nowhere(doc, target):
            yield target
    for span in CODE_SPAN.findall(text):
        path = span.strip().split(" ")[0]
        if is_repo_file_path(path) and not (ROOT / path).exists():
            yield path
    for name in MD_NAME.findall(CODE_SPAN.sub("", LINK.sub("]", text))):
        if not ((doc.parent / name).exists() or (ROOT / name).exists()):
            yield name


def sections(doc: Path) -> set[str]:
    return set(HEADING.findall(doc.read_text()))


def cited_sections(text: str) -> Iterator[str]:
    for start, end in CITATION.findall(text):
        yield start
        if end:
            yield end


def sources() -> Iterator[Path]:
    """Files whose comments may cite the vLLM page (this test's own examples excepted)."""
    yield from docs()
    for top in SOURCE_DIRS:
        for path in (ROOT / top).rglob("*"):
            if path.suffix in SOURCE_SUFFIXES and path.resolve() != Path(__file__).resolve():
                yield path


@pytest.mark.parametrize("doc", docs(), ids=lambda doc: str(doc.relative_to(ROOT)))
def test_doc_points_only_at_files_that_exist(doc: Path) -> None:
    assert list(missing_targets(doc)) == []


def test_every_cited_section_is_a_heading_of_the_vllm_page() -> None:
    known = sections(BEHAVIOUR)
    unknown = {
        f"{path.relative_to(ROOT)}: §{number}"
        for path in sources()
        for number in cited_sections(path.read_text(errors="replace"))
        if number not in known
    }
    assert unknown == set()


def test_no_code_cites_the_facts_file_outside_the_repository() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path in sources()
        if OLD_CITATION.search(path.read_text(errors="replace"))
    ]
    assert stale == []


def test_the_vllm_page_numbers_the_sections_the_code_cites() -> None:
    assert {"1", "2.4", "3", "4", "5.1", "5.3", "7", "8"} <= sections(BEHAVIOUR)


def test_a_link_to_a_missing_file_or_anchor_is_found(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# 1. Real heading\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[ok](there.md#1-real-heading) [gone](gone.md) [bad](there.md#nope) see OTHER.md\n"
        "`docs/gone.py`, `docs/`, `bench/fast` model\n"
        "```sh\n../outside/run.sh missing.md\n```\n"
    )
    assert list(missing_targets(doc)) == ["gone.md", "there.md#nope", "docs/gone.py", "OTHER.md"]


def test_a_citation_range_names_both_ends() -> None:
    text = "see (docs/vllm-behaviour.md §5.3-5.5) and §3-4, §2.10 and §7"
    assert list(cited_sections(text)) == ["5.3", "5.5", "3", "4", "2.10", "7"]
