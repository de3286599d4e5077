"""The Markdown docs' links resolve: every relative link's file, and its #anchor among
the target's headings (GitHub's slugs); every repository path to a .md file named in
prose (`docs/x.md`, `benchmarks/NOTES.md`) exists. No network: web links are left alone.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC_FOLDERS = ("docs", "benchmarks", "infra", "layers", "functions", "tests")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# A repository path to a Markdown file in prose, from the root: docs/regions.md.
NAMED_DOC = re.compile(r"(?<![\w./-])((?:docs|benchmarks|infra)/[\w./-]*\.md)\b")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_files(root: Path) -> list[Path]:
    files = sorted(root.glob("*.md"))
    for folder in DOC_FOLDERS:
        files.extend(sorted((root / folder).rglob("*.md")))
    return files


def prose_lines(text: str) -> list[tuple[int, str]]:
    """Numbered lines outside fenced code blocks."""
    lines: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    plain = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return re.sub(r"[^\w\- ]", "", plain.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    return {
        slug(match.group(1))
        for _, line in prose_lines(text)
        if (match := HEADING.match(line)) is not None
    }


def broken_links(path: Path, root: Path) -> list[str]:
    """Each link or named doc in path that does not resolve, as 'file:line: target'."""
    broken: list[str] = []
    where = path.relative_to(root)
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            if not resolved.exists():
                broken.append(f"{where}:{number}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{where}:{number}: {target} (no such heading)")
        for named in NAMED_DOC.findall(re.sub(LINK, "", line)):
            if not (root / named).exists():
                broken.append(f"{where}:{number}: {named}")
    return broken


def test_every_link_in_the_docs_resolves() -> None:
    files = markdown_files(ROOT)
    assert ROOT / "README.md" in files
    assert ROOT / "docs" / "architecture.md" in files
    assert [b for path in files for b in broken_links(path, ROOT)] == []


def test_the_readme_links_the_architecture_overview() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/architecture.md" in LINK.findall(readme)


def test_the_check_finds_a_missing_file_a_missing_heading_and_a_missing_named_doc(
    tmp_path: Path,
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## The `local` drill\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/a.md) [ok](docs/a.md#the-local-drill) [ok](https://example.com/x.md)\n"
        "[gone](docs/b.md) [no heading](docs/a.md#nowhere) see docs/c.md\n"
        "```\n[in code](docs/d.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, tmp_path) == [
        "README.md:2: docs/b.md",
        "README.md:2: docs/a.md#nowhere (no such heading)",
        "README.md:2: docs/c.md",
    ]
