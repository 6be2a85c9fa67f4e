"""appeal-router's library: text -> segment -> features -> model -> registry.

The CLI, the HTTP service, batch tagging and the notebooks are its clients.
"""

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
from nlp.model import Prediction, ReviewPolicy, RoutingModel, Term, TextNormaliser
from nlp.registry import ActivePointer, Registry, parse_model_ref
from nlp.segment import DEFAULT_USER_DICT, Segmenter
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
    "DataError",
    "DocumentVectorizer",
    "Evaluation",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "Prediction",
    "Registry",
    "ReviewPolicy",
    "RoutingModel",
    "Segmenter",
    "Term",
    "TextNormaliser",
    "TrainConfig",
    "TrainResult",
    "UnsupportedFormatError",
    "WordNgramVectorizer",
    "build_pipeline",
    "compose_document",
    "count_personal_data",
    "evaluate",
    "evaluate_probabilities",
    "mask_personal_data",
    "normalise",
    "parse_model_ref",
    "prepare_rows",
    "read_table",
    "read_tables",
    "tag_frame",
    "train",
]
