"""nlp's front door: __all__ is pinned (httpx's tests/test_exported_members.py)."""

from __future__ import annotations

import types

import pytest

import nlp

EXPORTED = [
    "DEFAULT_USER_DICT",
    "OUTPUT_COLUMNS",
    "PLACEHOLDERS",
    "ActivePointer",
    "AppealRouterError",
    "CalibratedLinearSVC",
    "CharNgramVectorizer",
    "Comparison",
    "DataError",
    "DocumentVectorizer",
    "Evaluation",
    "GateDecision",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "Prediction",
    "PromotionGate",
    "PromotionOutcome",
    "Ranking",
    "Registry",
    "ReviewPolicy",
    "RoutingModel",
    "Scored",
    "Segmenter",
    "TagSummary",
    "Term",
    "TextNormaliser",
    "TrainConfig",
    "TrainResult",
    "UnsupportedFormatError",
    "WordNgramVectorizer",
    "build_pipeline",
    "calibration_curve",
    "class_balance",
    "compare",
    "compose_document",
    "count_personal_data",
    "distinctive_terms",
    "ensure_active_model",
    "evaluate",
    "evaluate_probabilities",
    "export_review_queue",
    "find_duplicates",
    "highlight_terms",
    "length_stats",
    "mask_personal_data",
    "normalise",
    "parse_model_ref",
    "personal_data_counts",
    "prepare_rows",
    "probable_label_errors",
    "promote",
    "read_table",
    "read_tables",
    "review_html",
    "review_queue",
    "sample_frame",
    "score",
    "split_by_column",
    "tag_file",
    "tag_frame",
    "train",
]


def test_all_is_pinned() -> None:
    assert nlp.__all__ == EXPORTED


def test_all_is_sorted_without_duplicates() -> None:
    assert len(set(nlp.__all__)) == len(nlp.__all__)
    assert nlp.__all__ == sorted(nlp.__all__, key=lambda name: (not name.isupper(), name))


@pytest.mark.parametrize("name", EXPORTED)
def test_every_exported_name_is_importable(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from nlp import {name}", namespace)
    assert namespace[name] is getattr(nlp, name)


def test_every_public_name_is_exported() -> None:
    """Nothing public in nlp's namespace escapes __all__ (submodules aside)."""
    for name in nlp.__all__:  # names load on first use; load them all
        getattr(nlp, name)
    public = {
        name
        for name, value in vars(nlp).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(nlp.__all__)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from nlp import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(EXPORTED)


@pytest.mark.parametrize(
    ("name", "base"),
    [
        pytest.param("DataError", ValueError, id="DataError"),
        pytest.param("UnsupportedFormatError", ValueError, id="UnsupportedFormatError"),
        pytest.param("ModelNotFoundError", FileNotFoundError, id="ModelNotFoundError"),
        pytest.param("ModelIntegrityError", RuntimeError, id="ModelIntegrityError"),
    ],
)
def test_errors_refine_a_builtin_and_share_one_base(name: str, base: type) -> None:
    error = getattr(nlp, name)
    assert issubclass(error, base)
    assert issubclass(error, nlp.AppealRouterError)
