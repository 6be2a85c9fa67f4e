"""appeal-router's library: text -> segment -> features -> model -> registry.

The CLI, the HTTP service, batch tagging and the notebooks are its clients.

Importing ``nlp`` costs almost nothing: each public name is imported from its module the first
time it is used (PEP 562), so the HTTP service, ``appeals --help`` and a batch worker pay only
for the modules they touch, never for the notebooks' analysis and plotting stack.
"""

import importlib as _importlib
import sys as _sys
import types as _types
import typing as _typing

if _typing.TYPE_CHECKING:  # the same names, for type checkers and readers
    from nlp.analysis.explore import (
        class_balance,
        distinctive_terms,
        find_duplicates,
        length_stats,
        personal_data_counts,
        sample_frame,
        split_by_column,
    )
    from nlp.analysis.hotspots import heat_breakdown, hotspot_tickets, hotspot_timeline
    from nlp.analysis.labelling import label_queue
    from nlp.analysis.monitor import daily_summary, drift_alerts, training_distribution
    from nlp.analysis.review import (
        export_review_queue,
        highlight_terms,
        probable_label_errors,
        review_html,
        review_queue,
    )
    from nlp.classifier import CalibratedLinearSVC
    from nlp.dispatch import DispatchConfig, Dispatcher
    from nlp.documents import compose_document, prepare_rows
    from nlp.errors import (
        AppealRouterError,
        DataError,
        ModelIntegrityError,
        ModelNotFoundError,
        UnsupportedFormatError,
    )
    from nlp.evaluate import (
        Evaluation,
        Scored,
        calibration_curve,
        evaluate,
        evaluate_probabilities,
        explanation_quality,
        score,
    )
    from nlp.features import CharNgramVectorizer, DocumentVectorizer, WordNgramVectorizer
    from nlp.hotspots import HotspotReport, hotspots
    from nlp.io import read_table, read_tables
    from nlp.location import Gazetteer, Location, Mention, locate
    from nlp.model import Prediction, Ranking, ReviewPolicy, RoutingModel, Term, TextNormaliser
    from nlp.problems import Problem, SplitPolicy, find_problems, find_problems_many
    from nlp.promotion import (
        CandidateReview,
        Comparison,
        GateDecision,
        PromotionGate,
        PromotionOutcome,
        compare,
        ensure_active_model,
        promote,
        review_candidate,
    )
    from nlp.registry import ActivePointer, Registry, parse_model_ref
    from nlp.routing import Dispatch, RoutingTable, Unit
    from nlp.segment import DEFAULT_USER_DICT, Segmenter
    from nlp.similar import Match, SimilarIndex
    from nlp.tagging.frame import OUTPUT_COLUMNS, tag_frame
    from nlp.tagging.run import TagSummary, tag_file
    from nlp.text import (
        PLACEHOLDERS,
        count_personal_data,
        mask_personal_data,
        normalise,
        normalise_aligned,
    )
    from nlp.train import (
        TrainConfig,
        TrainResult,
        build_pipeline,
        read_accepted,
        read_feedback,
        train,
    )
    from nlp.urgency import Urgency, UrgencyDetector, UrgencyModel, UrgencyTerms

#: module -> the public names it gives ``nlp``.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "nlp.analysis.explore": (
        "class_balance",
        "distinctive_terms",
        "find_duplicates",
        "length_stats",
        "personal_data_counts",
        "sample_frame",
        "split_by_column",
    ),
    "nlp.analysis.hotspots": (
        "heat_breakdown",
        "hotspot_tickets",
        "hotspot_timeline",
    ),
    "nlp.analysis.labelling": ("label_queue",),
    "nlp.analysis.monitor": (
        "daily_summary",
        "drift_alerts",
        "training_distribution",
    ),
    "nlp.analysis.review": (
        "export_review_queue",
        "highlight_terms",
        "probable_label_errors",
        "review_html",
        "review_queue",
    ),
    "nlp.classifier": ("CalibratedLinearSVC",),
    "nlp.documents": (
        "compose_document",
        "prepare_rows",
    ),
    "nlp.errors": (
        "AppealRouterError",
        "DataError",
        "ModelIntegrityError",
        "ModelNotFoundError",
        "UnsupportedFormatError",
    ),
    "nlp.evaluate": (
        "Evaluation",
        "Scored",
        "calibration_curve",
        "evaluate",
        "evaluate_probabilities",
        "explanation_quality",
        "score",
    ),
    "nlp.dispatch": (
        "DispatchConfig",
        "Dispatcher",
    ),
    "nlp.hotspots": (
        "HotspotReport",
        "hotspots",
    ),
    "nlp.io": (
        "read_table",
        "read_tables",
    ),
    "nlp.location": (
        "Gazetteer",
        "Location",
        "Mention",
        "locate",
    ),
    "nlp.features": (
        "CharNgramVectorizer",
        "DocumentVectorizer",
        "WordNgramVectorizer",
    ),
    "nlp.model": (
        "Prediction",
        "Ranking",
        "ReviewPolicy",
        "RoutingModel",
        "Term",
        "TextNormaliser",
    ),
    "nlp.problems": (
        "Problem",
        "SplitPolicy",
        "find_problems",
        "find_problems_many",
    ),
    "nlp.promotion": (
        "CandidateReview",
        "Comparison",
        "GateDecision",
        "PromotionGate",
        "PromotionOutcome",
        "compare",
        "ensure_active_model",
        "promote",
        "review_candidate",
    ),
    "nlp.registry": (
        "ActivePointer",
        "Registry",
        "parse_model_ref",
    ),
    "nlp.routing": (
        "Dispatch",
        "RoutingTable",
        "Unit",
    ),
    "nlp.segment": (
        "DEFAULT_USER_DICT",
        "Segmenter",
    ),
    "nlp.similar": (
        "Match",
        "SimilarIndex",
    ),
    "nlp.tagging.run": (
        "TagSummary",
        "tag_file",
    ),
    "nlp.tagging.frame": (
        "OUTPUT_COLUMNS",
        "tag_frame",
    ),
    "nlp.text": (
        "PLACEHOLDERS",
        "count_personal_data",
        "mask_personal_data",
        "normalise",
        "normalise_aligned",
    ),
    "nlp.train": (
        "TrainConfig",
        "TrainResult",
        "build_pipeline",
        "read_accepted",
        "read_feedback",
        "train",
    ),
    "nlp.urgency": (
        "Urgency",
        "UrgencyDetector",
        "UrgencyModel",
        "UrgencyTerms",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "DEFAULT_USER_DICT",
    "OUTPUT_COLUMNS",
    "PLACEHOLDERS",
    "ActivePointer",
    "AppealRouterError",
    "CalibratedLinearSVC",
    "CandidateReview",
    "CharNgramVectorizer",
    "Comparison",
    "DataError",
    "Dispatch",
    "DispatchConfig",
    "Dispatcher",
    "DocumentVectorizer",
    "Evaluation",
    "GateDecision",
    "Gazetteer",
    "HotspotReport",
    "Location",
    "Match",
    "Mention",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "Prediction",
    "Problem",
    "PromotionGate",
    "PromotionOutcome",
    "Ranking",
    "Registry",
    "ReviewPolicy",
    "RoutingModel",
    "RoutingTable",
    "Scored",
    "Segmenter",
    "SimilarIndex",
    "SplitPolicy",
    "TagSummary",
    "Term",
    "TextNormaliser",
    "TrainConfig",
    "TrainResult",
    "Unit",
    "UnsupportedFormatError",
    "Urgency",
    "UrgencyDetector",
    "UrgencyModel",
    "UrgencyTerms",
    "WordNgramVectorizer",
    "build_pipeline",
    "calibration_curve",
    "class_balance",
    "compare",
    "compose_document",
    "count_personal_data",
    "daily_summary",
    "distinctive_terms",
    "drift_alerts",
    "ensure_active_model",
    "evaluate",
    "evaluate_probabilities",
    "explanation_quality",
    "export_review_queue",
    "find_duplicates",
    "find_problems",
    "find_problems_many",
    "heat_breakdown",
    "highlight_terms",
    "hotspot_tickets",
    "hotspot_timeline",
    "hotspots",
    "label_queue",
    "length_stats",
    "locate",
    "mask_personal_data",
    "normalise",
    "normalise_aligned",
    "parse_model_ref",
    "personal_data_counts",
    "prepare_rows",
    "probable_label_errors",
    "promote",
    "read_accepted",
    "read_feedback",
    "read_table",
    "read_tables",
    "review_candidate",
    "review_html",
    "review_queue",
    "sample_frame",
    "score",
    "split_by_column",
    "tag_file",
    "tag_frame",
    "train",
    "training_distribution",
]


def __getattr__(name: str) -> _typing.Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'nlp' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # next time, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(_types.ModuleType):
    """``nlp.train`` and ``nlp.evaluate`` name both a module and a function; the function is
    the public name. Importing the module binds it on the package (the import system does
    that), which would hide the function, so the package declines that one binding."""

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, _types.ModuleType) and name in _MODULE_OF:
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
