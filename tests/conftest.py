"""Shared fixtures: one tiny model per session, trained on the demo data shipped in the repo."""

from __future__ import annotations

import signal
from pathlib import Path

import pandas as pd
import pytest

from nlp.model import RoutingModel
from nlp.registry import Registry
from nlp.train import TrainConfig, TrainResult, train


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C as a terminal delivers it, however the suite was started: a shell starting it
    in the background (``make test &`` in a script) leaves SIGINT ignored, and the tests of
    what ``appeals tag`` does on Ctrl-C would then see an interrupt that never comes."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each API operation's schemathesis test its own id (``…[POST /v1/classify]``).
    schemathesis names them all after the test function, and pytest-xdist (``make test``)
    sends a test to a worker by its id: with one id for all of them only one operation
    would be fuzzed (``test_fuzzing_sent_over_a_thousand_requests`` catches it)."""
    for item in items:
        label = getattr(item, "operation_label", None)
        if not isinstance(label, str) or item.nodeid.endswith("]"):
            continue
        if hasattr(item, "_id"):  # pytest >= 9.2: a structured id
            item._id = item._id.with_params(label)
        else:
            item._nodeid = f"{item.nodeid}[{label}]"


ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo" / "appeals.csv"
SHARED_DATA = ROOT.parent / "shared" / "data"

# store_url: the ticket-store tests on SQLite and on a real PostgreSQL server.
pytest_plugins = ["tests.store_fixtures"]


@pytest.fixture(scope="session")
def demo_frame() -> pd.DataFrame:
    return pd.read_csv(DEMO, dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def demo_sample(demo_frame: pd.DataFrame) -> pd.DataFrame:
    """The demo data's first 30 tickets of each department (420 rows, every label): for
    tests of what the CLI and the plumbing around training do, where the model's accuracy
    is not the point. A training on it takes a fraction of one on the whole file (~4.5 s);
    tests of accuracy on the demo train on the whole file."""
    return demo_frame.groupby("label", sort=False).head(30).reset_index(drop=True)


@pytest.fixture(scope="session")
def demo_sample_csv(tmp_path_factory: pytest.TempPathFactory, demo_sample: pd.DataFrame) -> Path:
    """:func:`demo_sample` as a CSV file with the demo file's columns (treat as read-only)."""
    path = tmp_path_factory.mktemp("demo_sample") / "appeals.csv"
    demo_sample.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def trained(demo_frame: pd.DataFrame) -> TrainResult:
    return train(demo_frame, TrainConfig(calibration_folds=3))


@pytest.fixture(scope="session")
def tiny_model(trained: TrainResult) -> RoutingModel:
    return trained.model


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, trained: TrainResult) -> Path:
    """A registry holding the demo model as ``default@v1`` (active). Treat as read-only;
    tests that activate, roll back or corrupt versions copy it first (see ``registry_copy``)."""
    root = tmp_path_factory.mktemp("models")
    Registry(root).save(trained.model, name="default", metrics=trained.evaluation.to_dict())
    return root


@pytest.fixture
def registry_copy(models_dir: Path, tmp_path: Path) -> Registry:
    """A private, writable copy of ``models_dir``."""
    import shutil

    target = tmp_path / "models"
    shutil.copytree(models_dir, target)
    return Registry(target)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (the real benchmark data); tests that need it skip when it is absent."""
    if not (SHARED_DATA / "appeals" / "train.csv").is_file():
        pytest.skip("../shared/data is not beside the project")
    return SHARED_DATA
