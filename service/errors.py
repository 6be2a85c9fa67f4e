"""Every error the API returns, mapped to a status code in one place, as one JSON shape:
``{"error": {"code", "message", "fields": [{"path", "message"}]}, "request_id"}``.

401 no or unknown API key · 403 key lacks the right · 404 unknown model version or route ·
409 the version failed verification or cannot be loaded, or the registry is read-only for the
service · 413 body over the limit · 422 invalid input (with the field path; also a body that
is not JSON) · 503 no model loaded yet, or the worker is at its concurrency limit (both with
``Retry-After``), or the registry cannot be read by the service; a request uvicorn cannot
parse gets a JSON 400 (:mod:`service.http_protocol`). Anything else is a bug:
it is logged and answered 500 with the same shape; the fuzz test keeps that from happening.

No answer names a place on the server's disk: :func:`public_message` turns the registry's
folder into ``<models>`` and any other absolute path into its last part, for every error
answered here and for ``/readyz``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

from nlp.errors import (
    ModelIntegrityError,
    ModelNotFoundError,
    RegistryAccessError,
    StoreError,
    UnknownTicketError,
)
from nlp.store import UnknownLabelError
from nlp.text import normalise
from service.settings import resolve_settings

__all__ = [
    "ApiError",
    "ModelUnavailableError",
    "SimilarOffError",
    "StoreOffError",
    "error_body",
    "field_errors",
    "install_error_handlers",
    "public_message",
    "too_large_message",
]

logger = logging.getLogger("service.errors")


class ApiError(Exception):
    """An error the API answers with ``status`` and a JSON body."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class UnauthorizedError(ApiError):
    status, code = 401, "unauthorized"


class ForbiddenError(ApiError):
    status, code = 403, "forbidden"


class InvalidInputError(ApiError):
    status, code = 422, "invalid_request"


class ModelUnavailableError(ApiError):
    status, code = 503, "model_unavailable"


class StoreOffError(ApiError):
    status, code = 503, "store_off"


class SimilarOffError(ApiError):
    status, code = 503, "similar_off"


_STATUS_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
}


_UNREADABLE_BODY = (
    "cannot be read as JSON (not UTF-8, nested too deeply or a number with too many digits); "
    "send a UTF-8 JSON object"
)


def _path(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """pydantic errors -> ``[{"path": "body.items.2.text", "message": ...}]``. The values the
    client sent are not echoed: they may hold a resident's personal data. A path can hold a
    key the client sent (an unknown field), so it is masked like the message."""
    return [
        {
            "path": normalise(_path(error.get("loc", ()))),
            "message": str(error.get("msg", "invalid")),
        }
        for error in errors
    ]


def too_large_message(limit: int) -> str:
    """What a 413 says (the middleware's and the error handler's alike)."""
    return f"request body over the limit of {limit:,} bytes"


def error_body(
    code: str, message: str, fields: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    return {"code": code, "message": normalise(message), "fields": fields or []}


# An absolute POSIX path: a "/" that does not continue a word, URL or relative path, then
# one or more segments; the last segment is kept.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/>-])/(?:[^\s/'\"]+/)*([^\s/'\"]*)")


def public_message(message: str, models_dir: Path | None) -> str:
    """``message`` without the server's filesystem layout: the registry folder ``models_dir``
    becomes ``<models>``, any other absolute path its last part."""
    if models_dir is not None:
        for root in sorted({str(models_dir), str(Path(models_dir).resolve())}, key=len)[::-1]:
            if root.startswith("/"):
                message = message.replace(root, "<models>")
    return _ABSOLUTE_PATH.sub(lambda match: match.group(1) or "/", message)


def _models_dir(request: Request) -> Path | None:
    try:
        return resolve_settings(request.app).models_dir
    except Exception:  # settings that fail to load must not turn an error answer into a 500
        return None


def _respond(
    request: Request,
    status: int,
    code: str,
    message: str,
    fields: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    state = request.scope.get("state") or {}
    request_id = state.get("request_id") if isinstance(state, dict) else None
    message = public_message(message, _models_dir(request))
    return JSONResponse(
        {"error": error_body(code, message, fields), "request_id": request_id},
        status_code=status,
        headers=headers,
    )


async def _api_error(request: Request, error: ApiError) -> JSONResponse:
    return _respond(request, error.status, error.code, error.message, headers=error.headers)


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    fields = field_errors(error.errors())
    summary = "; ".join(f"{f['path']}: {f['message']}" for f in fields[:5]) or "invalid request"
    return _respond(request, 422, "invalid_request", summary, fields)


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    if error.status_code == 400:
        # FastAPI's answer to a body it cannot decode: not UTF-8, nested deeper than the
        # JSON parser goes, a number of more digits than Python converts. Bad input like
        # the rest, so the same 422 and shape.
        fields = [{"path": "body", "message": _UNREADABLE_BODY}]
        return _respond(request, 422, "invalid_request", f"body: {_UNREADABLE_BODY}", fields)
    code = _STATUS_CODES.get(error.status_code, "http_error")
    message = error.detail if isinstance(error.detail, str) else code.replace("_", " ")
    limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
    if error.status_code == 413 and isinstance(limit, int):
        # Starlette's body limit (service.middleware) says only "Content Too Large".
        message = too_large_message(limit)
    return _respond(request, error.status_code, code, message, headers=error.headers)


async def _model_not_found(request: Request, error: ModelNotFoundError) -> JSONResponse:
    return _respond(request, 404, "model_not_found", str(error))


async def _model_integrity(request: Request, error: ModelIntegrityError) -> JSONResponse:
    return _respond(request, 409, "model_integrity", str(error))


async def _registry_access(request: Request, error: RegistryAccessError) -> JSONResponse:
    # Cannot write: a state of this deployment the request conflicts with (activate with the
    # CLI as the registry's owner instead), not worth retrying. Cannot read: the service
    # cannot do its job until an operator fixes the permissions.
    if error.writing:
        return _respond(request, 409, "registry_read_only", str(error))
    return _respond(request, 503, "registry_unreadable", str(error))


async def _unknown_ticket(request: Request, error: UnknownTicketError) -> JSONResponse:
    return _respond(request, 404, "ticket_not_found", str(error))


async def _unknown_label(request: Request, error: UnknownLabelError) -> JSONResponse:
    return _respond(request, 422, "unknown_label", str(error))


async def _store_unavailable(request: Request, error: StoreError) -> JSONResponse:
    # The message names the store with its password hidden (TicketStore's messages do).
    return _respond(request, 503, "store_unavailable", str(error), headers={"Retry-After": "5"})


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.error(
        "unhandled error",
        exc_info=(type(error), error, error.__traceback__),
        extra={"event": "unhandled_error"},
    )
    return _respond(request, 500, "internal_error", "internal error; the request id is logged")


#: Each error class and its handler. Starlette calls a handler only with an instance of the
#: class it is registered for (or a subclass), which is what each handler's signature says.
_HANDLERS: tuple[tuple[type[Exception], Callable[[Request, Any], Awaitable[JSONResponse]]], ...] = (
    (ApiError, _api_error),
    (RequestValidationError, _validation_error),
    (StarletteHTTPException, _http_error),
    (ModelNotFoundError, _model_not_found),
    (ModelIntegrityError, _model_integrity),
    (RegistryAccessError, _registry_access),
    (UnknownTicketError, _unknown_ticket),
    (UnknownLabelError, _unknown_label),
    (StoreError, _store_unavailable),
    (Exception, _unexpected),
)


def install_error_handlers(app: FastAPI) -> None:
    for error_class, handler in _HANDLERS:
        app.add_exception_handler(error_class, handler)
