"""appeal-router's library: text -> segment -> features -> model -> registry.

The CLI, the HTTP service, batch tagging and the notebooks are its clients.
"""

from nlp.analysis import (
    Comparison,
    GateDecision,
    PromotionGate,
    PromotionOutcome,
    Scored,
    calibration_curve,
    class_balance,
    compare,
    distinctive_terms,
    ensure_active_model,
    export_review_queue,
    find_duplicates,
    highlight_terms,
    length_stats,
    personal_data_counts,
    probable_label_errors,
    promote,
    review_html,
    review_queue,
    sample_frame,
    score,
    split_by_column,
)
from nlp.batch import OUTPUT_COLUMNS, tag_frame
from nlp.classifier import CalibratedLinearSVC
from nlp.data import compose_document, prepare_rows, read_table, read_tables
from nlp.errors import (
    AppealRouterError,
    DataError,
    ModelIntegrityError,
    ModelNotFoundError,
    UnsupportedFormatError,
)
from nlp.evaluate import Evaluation, evaluate_probabilities
from nlp.features import CharNgramVectorizer, DocumentVectorizer, WordNgramVectorizer
from nlp.model import Prediction, Ranking, ReviewPolicy, RoutingModel, Term, TextNormaliser
from nlp.registry import ActivePointer, Registry, parse_model_ref
from nlp.segment import DEFAULT_USER_DICT, Segmenter
from nlp.tagging import TagSummary, tag_file
from nlp.text import PLACEHOLDERS, count_personal_data, mask_personal_data, normalise
from nlp.train import TrainConfig, TrainResult, build_pipeline, evaluate, train

__all__ = [
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
