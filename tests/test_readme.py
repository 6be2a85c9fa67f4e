"""The README is read top to bottom by a new user: each section once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


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
