"""What routes receive, as ``Annotated`` aliases: settings, the model holder, the serving
model, the registry, and the API-key checks.

They are ``async def`` because each is a few attribute lookups: FastAPI runs a plain ``def``
dependency in its thread pool, and five thread hops per request cost more than the routing
itself. Only the CPU-bound routes are plain ``def``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from nlp.cache import TimedCache
from nlp.dispatch import Dispatcher
from nlp.live_similar import LiveSimilarIndex
from nlp.model import RoutingModel
from nlp.registry import Registry
from nlp.store import StoreWriter
from service.errors import (
    ForbiddenError,
    ModelUnavailableError,
    SimilarOffError,
    StoreOffError,
    UnauthorizedError,
)
from service.holder import ModelHolder, Serving
from service.settings import Settings, resolve_settings

__all__ = [
    "AdminKey",
    "ClassifyKey",
    "DispatcherDep",
    "HolderDep",
    "HotspotsCacheDep",
    "ModelDep",
    "RegistryDep",
    "SettingsDep",
    "SimilarDep",
    "WriterDep",
]


async def current_settings(request: Request) -> Settings:
    """:func:`~service.settings.get_settings`, or what a test put in its place through
    ``app.dependency_overrides[get_settings]``."""
    return resolve_settings(request.app)


SettingsDep = Annotated[Settings, Depends(current_settings)]

_api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="a classify key (APPEALS_CLASSIFY_KEYS) or an admin key (APPEALS_ADMIN_KEYS)",
)
ApiKeyHeader = Annotated[str | None, Security(_api_key_header)]


async def get_holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.holder
    return holder


HolderDep = Annotated[ModelHolder, Depends(get_holder)]


async def get_serving(holder: HolderDep) -> Serving:
    """The serving model and its dispatcher, read once (FastAPI resolves a dependency once
    per request): a swap during the request changes neither."""
    serving = holder.serving
    if serving is None:
        reason = holder.last_failure.reason if holder.last_failure else "loading the model"
        raise ModelUnavailableError(
            f"no model is loaded yet ({reason}); retry shortly", headers={"Retry-After": "1"}
        )
    return serving


ServingDep = Annotated[Serving, Depends(get_serving)]


async def get_model(serving: ServingDep) -> RoutingModel:
    """The serving model."""
    return serving.model


ModelDep = Annotated[RoutingModel, Depends(get_model)]


async def get_dispatcher(serving: ServingDep) -> Dispatcher | None:
    """The serving model's dispatcher (None: no urgency, location, dispatch or problems)."""
    return serving.dispatcher


DispatcherDep = Annotated[Dispatcher | None, Depends(get_dispatcher)]


async def get_registry(holder: HolderDep) -> Registry:
    return holder.registry


RegistryDep = Annotated[Registry, Depends(get_registry)]


async def get_writer(request: Request) -> StoreWriter | None:
    """The ticket store's writer, or None when the store is off (APPEALS_STORE_URL=off)."""
    writer: StoreWriter | None = getattr(request.app.state, "writer", None)
    return writer


OptionalWriterDep = Annotated[StoreWriter | None, Depends(get_writer)]


async def require_writer(writer: OptionalWriterDep) -> StoreWriter:
    """The writer, for routes that need the store: 503 naming the setting when it is off."""
    if writer is None:
        raise StoreOffError(
            "the ticket store is off (APPEALS_STORE_URL=off), so the service keeps no "
            "tickets; unset APPEALS_STORE_URL (a SQLite file beside the models) or set a "
            "database URL"
        )
    return writer


WriterDep = Annotated[StoreWriter, Depends(require_writer)]


async def get_similar(request: Request) -> LiveSimilarIndex | None:
    """This worker's similar-ticket index (built and kept by the app), or None when it is
    off (APPEALS_SIMILAR=false)."""
    similar: LiveSimilarIndex | None = getattr(request.app.state, "similar", None)
    return similar


OptionalSimilarDep = Annotated[LiveSimilarIndex | None, Depends(get_similar)]

#: What /v1/similar answers when the index is off.
SIMILAR_OFF = (
    "the similar-ticket index is off (APPEALS_SIMILAR=false), so the service finds no "
    "similar tickets; set APPEALS_SIMILAR=true (or unset it) to turn it on"
)


async def require_similar(similar: OptionalSimilarDep) -> LiveSimilarIndex:
    """The index, for routes that need it: 503 naming the setting when it is off."""
    if similar is None:
        raise SimilarOffError(SIMILAR_OFF)
    return similar


SimilarDep = Annotated[LiveSimilarIndex, Depends(require_similar)]


async def get_hotspots_cache(request: Request) -> TimedCache[dict[str, Any]]:
    """This worker's kept answers of GET /v1/hotspots (APPEALS_HOTSPOTS_CACHE seconds)."""
    cache: TimedCache[dict[str, Any]] = request.app.state.hotspots_cache
    return cache


HotspotsCacheDep = Annotated[TimedCache[dict[str, Any]], Depends(get_hotspots_cache)]


def _matches(key: str, keys: Iterable[str]) -> bool:
    # compare_digest against every key, without stopping early: no timing hint which matched.
    found = False
    for candidate in keys:
        found |= secrets.compare_digest(key.encode(), candidate.encode())
    return found


async def require_classify_key(settings: SettingsDep, key: ApiKeyHeader) -> None:
    """Any classify or admin key; open when no keys are configured (loopback only then)."""
    if not settings.auth_enabled:
        return
    if not key:
        raise UnauthorizedError("missing API key: send it in the X-API-Key header")
    if not _matches(key, settings.classify_keys | settings.admin_keys):
        raise UnauthorizedError("unknown API key")


async def require_admin_key(settings: SettingsDep, key: ApiKeyHeader) -> None:
    """An admin key; open when no keys are configured (loopback only then)."""
    if not settings.auth_enabled:
        return
    if not key:
        raise UnauthorizedError("missing API key: send it in the X-API-Key header")
    if _matches(key, settings.admin_keys):
        return
    if _matches(key, settings.classify_keys):
        raise ForbiddenError("this key may classify but not change models; use an admin key")
    raise UnauthorizedError("unknown API key")


ClassifyKey = Depends(require_classify_key)
AdminKey = Depends(require_admin_key)
