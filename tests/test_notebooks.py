"""The analysts' notebooks as committed: output-free, parameterised, clients of nlp only.

They are executed by ``make notebooks`` (nbmake), not here: this file checks what git holds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# Libraries that would mean logic living in a notebook instead of in nlp.
_FORBIDDEN_IMPORT = re.compile(
    r"^\s*(?:import|from)\s+(sklearn|scipy|numpy|jieba|rjieba|joblib)\b", re.M
)


def _cells(path: Path) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return cells


def _source(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else str(source)


def test_the_five_notebooks_exist() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_explore.ipynb",
        "02_retrain.ipynb",
        "03_review.ipynb",
        "04_hotspots.ipynb",
        "05_monitor.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_output_free(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: run nbstripout (make format)"
            assert cell.get("execution_count") is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_first_code_cell_holds_the_parameters(path: Path) -> None:
    first = next(c for c in _cells(path) if c["cell_type"] == "code")
    assert "parameters" in first["metadata"].get("tags", [])
    source = _source(first)
    assert "FIGURES_DIR" in source
    assert "../../shared/data" in source
    assert "import" not in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_a_client_of_nlp(path: Path) -> None:
    code = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "code")
    assert "import nlp" in code
    assert not _FORBIDDEN_IMPORT.findall(code)
    assert ".png" in code  # every notebook saves its figures


def test_promotion_is_off_by_default() -> None:
    retrain = next(p for p in NOTEBOOKS if p.name == "02_retrain.ipynb")
    parameters = _source(next(c for c in _cells(retrain) if c["cell_type"] == "code"))
    assert re.search(r"^PROMOTE = False\b", parameters, re.M)


def test_hotspots_falls_back_on_data_the_project_ships() -> None:
    """On a clone without ../shared, 04 runs on a demonstration built from a shipped file."""
    hot = next(p for p in NOTEBOOKS if p.name == "04_hotspots.ipynb")
    first, *rest = [_source(c) for c in _cells(hot) if c["cell_type"] == "code"]
    parameters: dict[str, Any] = {}
    exec(first, parameters)  # assignments only (checked above: no import)
    demo = (hot.parent / parameters["DEMO_PAIRS"]).resolve()
    assert demo.is_file()
    assert demo.is_relative_to(hot.parents[1])
    assert all("../../shared/data" in path for path in parameters["DATA_FILES"])
    later = "\n".join(rest)
    assert "Path(path).exists() for path in DATA_FILES" in later
    assert "nlp.read_tables([DEMO_PAIRS])" in later
