"""The README's example request, sent to the model ``make run`` serves, gets the README's
example answer: a new user judges the project by it."""

from __future__ import annotations

import json
import re
import shlex
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import MakeClient

from nlp.registry import Registry
from nlp.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEMO = ROOT / "data" / "demo" / "appeals.csv"


def readme_example() -> tuple[dict[str, Any], str]:
    """The JSON body of the README's first ``curl .../v1/classify`` and the JSON answer block
    that follows it (as text: the numbers are compared at the precision printed)."""
    markdown = README.read_text(encoding="utf-8")
    found = re.search(
        r"```bash\n(curl [^`]*?/v1/classify [^`]*?)```\n```json\n(.*?)```", markdown, re.S
    )
    assert found, "the README has no curl example of /v1/classify followed by its answer"
    words = shlex.split(found.group(1).replace("\\\n", " "))
    return json.loads(words[words.index("-d") + 1]), found.group(2)


def close_to_printed(actual: Any, printed: Any, where: str = "answer") -> None:
    """``actual`` equals ``printed`` (parsed with Decimal floats): numbers to the digits the
    README prints, everything else exactly."""
    if isinstance(printed, Decimal):
        exponent = printed.as_tuple().exponent
        assert isinstance(exponent, int)
        assert abs(Decimal(str(actual)) - printed) <= Decimal(5).scaleb(exponent - 1), where
    elif isinstance(printed, dict):
        assert isinstance(actual, dict), where
        assert list(actual) == list(printed), where
        for key, value in printed.items():
            close_to_printed(actual[key], value, f"{where}.{key}")
    elif isinstance(printed, list):
        assert isinstance(actual, list), where
        assert len(actual) == len(printed), where
        for index, (got, shown) in enumerate(zip(actual, printed, strict=True)):
            close_to_printed(got, shown, f"{where}[{index}]")
    else:
        assert actual == printed, where


def make_run_settings() -> dict[str, Any]:
    """The settings ``make run`` exports (urgency, several problems, repeats, the demo city's
    gazetteer and routing table)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    found = dict(re.findall(r"^run: export APPEALS_(\w+) \?= (.+)$", makefile, re.M))
    assert set(found) == {
        "URGENCY",
        "PROBLEMS",
        "REPEATS",
        "GAZETTEER",
        "GAZETTEER_CITY",
        "ROUTING_TABLE",
    }, found
    return {
        "repeats": found["REPEATS"] == "true",
        "urgency": found["URGENCY"] == "true",
        "problems": found["PROBLEMS"] == "true",
        "gazetteer": ROOT / found["GAZETTEER"],
        "gazetteer_city": found["GAZETTEER_CITY"],
        "routing_table": ROOT / found["ROUTING_TABLE"],
    }


@pytest.fixture(scope="module")
def demo_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model as ``make run`` trains it: ``appeals train data/demo/appeals.csv``."""
    frame = pd.read_csv(DEMO, dtype=str, keep_default_na=False)
    result = train(frame, TrainConfig())
    root = tmp_path_factory.mktemp("demo-models")
    Registry(root).save(result.model, name="default", metrics=result.evaluation.to_dict())
    return root


def test_the_readme_example_is_what_make_run_answers(
    make_client: MakeClient, demo_registry: Path
) -> None:
    request, shown = readme_example()
    client = make_client(models_dir=demo_registry, **make_run_settings())
    response = client.post("/v1/classify", json=request)
    assert response.status_code == 200, response.text
    close_to_printed(response.json(), json.loads(shown, parse_float=Decimal))
