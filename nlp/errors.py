"""The library's exceptions: few, specific, and each message says what to do.

Every error a user can cause derives from :class:`AppealRouterError`, so the CLI and the
service map them in one place each. They also subclass the built-in they refine, so callers
that already catch ``ValueError`` or ``FileNotFoundError`` keep working.
"""

from __future__ import annotations


class AppealRouterError(Exception):
    """Base class of every error the library raises on purpose."""


class DataError(AppealRouterError, ValueError):
    """Input data cannot be used as given (missing column, too few examples, bad format)."""


class UnsupportedFormatError(DataError):
    """A file's extension names no format we read or write."""


class ModelNotFoundError(AppealRouterError, FileNotFoundError):
    """No model, version, or active pointer where one was asked for."""


class ModelIntegrityError(AppealRouterError, RuntimeError):
    """A stored model failed verification (hash mismatch, missing file, wrong library version).

    Raised before anything is unpickled: a model that fails here is never loaded.
    """
