"""The READMEs tell a new user what to expect: each section once, and answers that hold."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from nlp.model import RoutingModel

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DEMO_README = ROOT / "data" / "demo" / "README.md"


def headings(markdown: str) -> list[str]:
    """Markdown headings, not the `#` comments inside fenced code blocks."""
    found, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif line.startswith("#") and not fenced:
            found.append(line)
    return found


def test_every_heading_appears_once() -> None:
    found = headings(README.read_text(encoding="utf-8"))
    repeated = [heading for heading, count in Counter(found).items() if count > 1]
    assert len(found) > 5, "the README lost its sections"
    assert repeated == [], f"sections written twice in README.md: {repeated}"


def table_rows(markdown: str, header: str) -> list[list[str]]:
    """The rows of the Markdown table whose header line is ``header``."""
    lines = markdown.splitlines()
    start = lines.index(header) + 2  # skip the |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_demo_model_routes_the_demo_readme_probes_right(tiny_model: RoutingModel) -> None:
    """``data/demo/README.md`` lists probe tickets and the department the demo model gives;
    the model trained as ``make run`` trains it (same rows, same weights) must agree."""
    probes = table_rows(DEMO_README.read_text(encoding="utf-8"), "| probe | answer |")
    assert len(probes) >= 8
    answers = [p.label for p in tiny_model.classify([text for text, _ in probes])]
    assert answers == [department for _, department in probes]
