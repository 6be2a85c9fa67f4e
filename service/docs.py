"""``/docs`` (Swagger UI), ``/redoc`` and ``/openapi.json``, served without the internet, and
who may read them and ``/metrics``.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so a dispatch centre's server
without internet access showed blank pages. Here the pages load the copies shipped in the
``fastapi-offline`` package, mounted under ``/docs-assets``, and name no outside URL.

Who may read: with API keys configured, ``/metrics`` answers loopback clients and key holders
only (``APPEALS_METRICS_PUBLIC=true`` opens it), and the documentation is open to all
(``APPEALS_DOCS_PUBLIC=false`` closes it the same way). Without keys the server listens on
loopback only and everything is open, as the classify routes are.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from service.dependencies import ApiKeyHeader, SettingsDep, require_classify_key
from service.server import is_loopback
from service.settings import Settings

__all__ = ["ASSETS_URL", "MetricsAccess", "install_docs"]

ASSETS_URL = "/docs-assets"
_OPENAPI_URL = "/openapi.json"


def assets_dir() -> Path:
    """The folder of Swagger UI's and ReDoc's files in the installed ``fastapi-offline``."""
    return Path(str(resources.files("fastapi_offline") / "static"))


async def _trusted(request: Request, settings: Settings, key: str | None) -> None:
    """Pass for a loopback client or a caller with a classify or admin key; 401 otherwise."""
    client = request.scope.get("client")
    if client and is_loopback(str(client[0])):
        return
    await require_classify_key(settings, key)


async def require_metrics_access(
    request: Request, settings: SettingsDep, key: ApiKeyHeader
) -> None:
    if not settings.metrics_public:
        await _trusted(request, settings, key)


async def require_docs_access(request: Request, settings: SettingsDep, key: ApiKeyHeader) -> None:
    if not settings.docs_public:
        await _trusted(request, settings, key)


MetricsAccess = Depends(require_metrics_access)
DocsAccess = Depends(require_docs_access)

router = APIRouter(include_in_schema=False, dependencies=[DocsAccess])


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.get(_OPENAPI_URL)
async def openapi(request: Request) -> JSONResponse:
    app: FastAPI = request.app
    return JSONResponse(app.openapi())


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    app: FastAPI = request.app
    root = _root(request)
    return get_swagger_ui_html(
        openapi_url=f"{root}{_OPENAPI_URL}",
        title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        # No badge that asks the public validator to check our document.
        swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    app: FastAPI = request.app
    root = _root(request)
    return get_redoc_html(
        openapi_url=f"{root}{_OPENAPI_URL}",
        title=f"{app.title} - ReDoc",
        redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        with_google_fonts=False,
    )


def install_docs(app: FastAPI) -> None:
    """Add the documentation pages and their assets to an app made with ``docs_url=None``,
    ``redoc_url=None`` and ``openapi_url=None``."""
    app.include_router(router)
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")
