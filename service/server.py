"""``appeals serve``: run the app under uvicorn (uvloop + httptools) with N workers.

The command line wins over the environment: its options are handed to the workers as
``APPEALS_*`` variables, which is how each worker's :class:`~service.settings.Settings` gets
them. With several workers, a fresh ``PROMETHEUS_MULTIPROC_DIR`` makes ``/metrics`` count
for all of them.

Workers start cheaply: a worker answers uvicorn's health check once it has imported the
``appeals`` script and uvicorn's config (``nlp`` imports its modules lazily), and it loads the
model in the background after it starts serving (``/readyz`` says 503 until then). The health
check waits ``APPEALS_WORKER_HEALTHCHECK_TIMEOUT`` seconds (30 by default; uvicorn's own 5 s
killed workers that started slowly on a busy machine) before it restarts a worker.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.settings import Settings

__all__ = ["is_loopback", "serve", "uvicorn_options"]

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def uvicorn_options(settings: Settings, *, host: str, port: int, workers: int) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run`` (and ``uvicorn.Config``) for the service."""
    from service.http_protocol import JsonErrorHttpToolsProtocol
    from service.logs import log_config

    return {
        "app": "service.app:create_app",
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "loop": "uvloop",
        "http": JsonErrorHttpToolsProtocol,  # JSON, not plain text, for requests it rejects
        "log_config": log_config(settings.log_level),
        "access_log": False,
        "timeout_graceful_shutdown": settings.shutdown_timeout,
        "timeout_worker_healthcheck": settings.worker_healthcheck_timeout,
        "server_header": False,
    }


def serve(
    *,
    host: str = LOOPBACK,
    port: int = 8000,
    workers: int = 1,
    models_dir: Path | None = None,
    model_name: str | None = None,
) -> int:
    """Start the service and block until it is stopped (SIGINT / SIGTERM: in-flight requests
    finish first, up to ``APPEALS_SHUTDOWN_TIMEOUT`` seconds)."""
    import uvicorn

    from service.settings import Settings

    if models_dir is not None:
        os.environ["APPEALS_MODELS_DIR"] = str(Path(models_dir).resolve())
    if model_name is not None:
        os.environ["APPEALS_MODEL_NAME"] = model_name
    settings = Settings()
    if not settings.auth_enabled:
        if not is_loopback(host):
            print(
                f"appeals serve: no API keys configured, so binding to {LOOPBACK} instead of "
                f"{host}; set APPEALS_CLASSIFY_KEYS and APPEALS_ADMIN_KEYS to serve others",
                file=sys.stderr,
            )
            host = LOOPBACK
        else:
            print(
                f"appeals serve: no API keys configured: serving on loopback ({host}) only, "
                "without authentication",
                file=sys.stderr,
            )

    multiproc_dir: str | None = None
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        multiproc_dir = tempfile.mkdtemp(prefix="appeals-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
    print(
        f"appeals serve: model {settings.model_name!r} from {settings.models_dir} on "
        f"http://{host}:{port} ({workers} worker{'s' if workers > 1 else ''}); "
        f"try-it page at /, API docs at /docs",
        file=sys.stderr,
    )
    try:
        uvicorn.run(**uvicorn_options(settings, host=host, port=port, workers=workers))
    finally:
        if multiproc_dir is not None:
            shutil.rmtree(multiproc_dir, ignore_errors=True)
    return 0
