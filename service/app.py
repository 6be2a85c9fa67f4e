"""The app factory: ``create_app()`` wires settings, the model holder, routes, middleware and
error mapping. ``uvicorn --factory service.app:create_app`` (or ``appeals serve``) runs it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from nlp.cache import TimedCache
from nlp.live_similar import LiveSimilarIndex
from nlp.registry import Registry
from nlp.store import StoreWriter, TicketStore, describe_url
from service import metrics
from service.docs import install_docs
from service.errors import install_error_handlers
from service.holder import ModelHolder
from service.middleware import (
    BodyLimitMiddleware,
    ConcurrencyLimitMiddleware,
    RequestLogMiddleware,
)
from service.routes import STATIC_DIR, router
from service.settings import Settings, resolve_settings

__all__ = ["create_app"]

logger = logging.getLogger("service.app")

DESCRIPTION = """\
Routes residents' appeals (12345 工单, 群众留言) to the department that must handle them:
department, confidence, runners-up, the deciding terms, whether a person must check, and,
as configured, the ticket's urgency, where it happened, the lead and assisting units, and its
separate problems.

Send an API key in `X-API-Key` when keys are configured. The try-it page is at `/`.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start serving at once; load and warm up the active model in the watcher's thread,
    which then watches the registry for activations."""
    settings = resolve_settings(app)
    registry = Registry(settings.models_dir, signing_key=settings.signing_key_value)
    if not registry.signed:
        logger.warning(
            "no signing key (APPEALS_SIGNING_KEY): model versions are checked by sha256 only, "
            "so whoever can write the registry can make this service run code",
            extra={"event": "unsigned_models"},
        )
    holder = ModelHolder(
        registry,
        settings.model_name,
        interval=settings.watch_interval,
        dispatch=settings.dispatch,
    )
    app.state.holder = holder
    app.state.writer = _store_writer(settings)
    app.state.similar = _similar_index(settings, app.state.writer)
    app.state.hotspots_cache = TimedCache(ttl=settings.hotspots_cache)
    # Until the model is loaded, /readyz answers 503 "loading the model" and classify routes
    # 503 with Retry-After. A missing or corrupt model does not stop the start either: /readyz
    # says why, and the watcher loads the model as soon as a good version is activated.
    holder.start()
    try:
        yield
    finally:
        holder.stop()
        if app.state.similar is not None:
            app.state.similar.stop(timeout=settings.shutdown_timeout / 4)
        if app.state.writer is not None:
            app.state.writer.stop(timeout=settings.shutdown_timeout / 2)
        metrics.mark_worker_dead(settings.prometheus_multiproc_dir)


def _store_writer(settings: Settings) -> StoreWriter | None:
    """The ticket store's background writer (None when the store is off). It opens the store
    in its own thread: a store that is down delays nothing and fails no request; its answers
    are dropped and counted (``appeals_store_dropped_total``) until it is back."""
    url = settings.store_location
    if url is None:
        return None
    logger.info("ticket store", extra={"event": "store", "store": describe_url(url)})
    return StoreWriter(
        TicketStore(url),
        capacity=settings.store_queue,
        retention_days=settings.store_retention_days,
        on_written=metrics.store_written,
        on_dropped=metrics.store_dropped,
    ).start()


def _similar_index(settings: Settings, writer: StoreWriter | None) -> LiveSimilarIndex | None:
    """This worker's similar-ticket index, built from the ticket store in its own thread
    (classify and /v1/similar answer from an empty index meanwhile), fed with each answered
    ticket and refreshed with the tickets other workers stored. It reads the store through
    the worker's ``writer`` (after the writer has opened it). With the store off it holds
    this worker's tickets since it started. None when it is off (APPEALS_SIMILAR=false)."""
    if not settings.similar:
        logger.info(
            "similar-ticket index off (APPEALS_SIMILAR=false)", extra={"event": "similar_off"}
        )
        return None
    return LiveSimilarIndex(
        store=writer,
        window=settings.similar_window,
        refresh_interval=settings.similar_refresh,
        on_dropped=metrics.similar_dropped,
    ).start()


def _body_limit(scope: Any) -> int:
    return resolve_settings(scope["app"]).max_body_bytes


def _concurrency_limit(scope: Any) -> int:
    return resolve_settings(scope["app"]).max_concurrency


def _queue_wait(scope: Any) -> float:
    return resolve_settings(scope["app"]).queue_wait_ms / 1000


def create_app() -> FastAPI:
    app = FastAPI(
        title="appeal-router",
        summary="12345 工单智能派单 API",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
        # Served by service.docs from local copies of Swagger UI and ReDoc, behind a setting.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    app.include_router(router)
    install_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyLimitMiddleware, limit=_body_limit)
    app.add_middleware(ConcurrencyLimitMiddleware, limit=_concurrency_limit, wait=_queue_wait)
    app.add_middleware(RequestLogMiddleware)  # outermost: ids and logs cover the 413s too
    return app
