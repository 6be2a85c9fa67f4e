"""The library's exceptions: few, specific, and each message says what to do.

Every error a user can cause derives from :class:`AppealRouterError`, so the CLI and the
service map them in one place each. They also subclass the built-in they refine, so callers
that already catch ``ValueError`` or ``FileNotFoundError`` keep working.
"""

from __future__ import annotations

__all__ = [
    "AppealRouterError",
    "DataError",
    "EngineError",
    "FontMissingError",
    "InvalidNameError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "RegistryAccessError",
    "StoreError",
    "StoreSchemaError",
    "UnknownTicketError",
    "UnsupportedFormatError",
    "WorkerLostError",
]


class AppealRouterError(Exception):
    """Base class of every error the library raises on purpose."""


class DataError(AppealRouterError, ValueError):
    """Input data cannot be used as given (missing column, too few examples, bad format)."""


class InvalidNameError(DataError):
    """A model name (or version) that the registry cannot hold: it would name a place
    outside its folder, or is empty or too long."""


class UnsupportedFormatError(DataError):
    """A file's extension names no format we read or write."""


class ModelNotFoundError(AppealRouterError, FileNotFoundError):
    """No model, version, or active pointer where one was asked for."""


class ModelIntegrityError(AppealRouterError, RuntimeError):
    """A stored model failed verification (damaged manifest or pointer, hash mismatch, missing
    file, missing or wrong signature, wrong library version), or could not be loaded and run.

    Verification failures are raised before anything is unpickled: a model that fails them is
    never loaded.
    """


class FontMissingError(AppealRouterError, RuntimeError):
    """No CJK font is installed, so Chinese labels in figures would render as empty boxes."""


class RegistryAccessError(AppealRouterError, PermissionError):
    """The model registry's files cannot be read (or written) by the account that runs this.

    ``writing`` says which: a registry that cannot be read stops loading and listing; one
    that cannot be written stops saving, activating and rolling back (a read-only service
    account is a valid set-up: it serves, and operators activate as the registry's owner).
    """

    def __init__(self, message: str, *, writing: bool) -> None:
        super().__init__(message)
        self.writing = writing


class EngineError(AppealRouterError, RuntimeError):
    """A batch engine could not start or its workers cannot do the work (say what to fix)."""


class WorkerLostError(EngineError):
    """A worker process died while the run went on (killed, or out of memory)."""

    def __init__(
        self,
        message: str = "a worker process died (killed, or out of memory: then use fewer "
        "--jobs or a smaller --chunk-size)",
    ) -> None:
        super().__init__(message)


class StoreError(AppealRouterError, RuntimeError):
    """The ticket store cannot be reached or written (server down, file not writable)."""


class StoreSchemaError(StoreError):
    """The ticket store's database has a schema this version cannot use: older (run
    ``appeals store upgrade``), newer, or not a ticket store at all."""


class UnknownTicketError(AppealRouterError, LookupError):
    """No stored ticket has this id (never answered by the service, or purged)."""
