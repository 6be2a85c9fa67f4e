"""The service's configuration: one :class:`Settings`, read from ``APPEALS_*`` environment
variables (and an optional ``.env``), behind one cached :func:`get_settings`.

Nothing else in the service reads the environment. Tests override settings through
``app.dependency_overrides[get_settings]``; the lifespan and the middleware resolve them the
same way (:func:`resolve_settings`), so one override reaches every part of the app.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from nlp.policy import ReviewPolicy
from nlp.window import parse_window

if TYPE_CHECKING:
    from nlp.dispatch import DispatchConfig

__all__ = ["MAX_TEXT_CHARS", "Settings", "get_settings", "resolve_settings"]

#: The longest ticket body accepted (characters); longer ones get a 422 naming the limit.
MAX_TEXT_CHARS = 20_000
#: The longest title accepted (characters).
MAX_TITLE_CHARS = 1_000

_DEFAULT_POLICY = ReviewPolicy()

#: Why a start with APPEALS_REPEATS on and APPEALS_SIMILAR off is refused.
REPEATS_NEED_SIMILAR = (
    "APPEALS_REPEATS=true needs the similar-ticket index, which APPEALS_SIMILAR=false turns "
    "off: set APPEALS_SIMILAR=true (or unset it) or APPEALS_REPEATS=false"
)


def _split_keys(value: Any) -> Any:
    """``"k1,k2"`` (how keys arrive from the environment) -> ``["k1", "k2"]``."""
    if isinstance(value, str):
        return [key.strip() for key in value.split(",") if key.strip()]
    return value


class Settings(BaseSettings):
    """Everything an operator may set. Each field is ``APPEALS_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="APPEALS_", env_file=".env", extra="ignore", frozen=True
    )

    models_dir: Path = Field(default=Path("models"), description="the model registry folder")
    model_name: str = Field(
        default="default",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="which model of the registry to serve",
    )
    classify_keys: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), description="API keys allowed to classify (comma-separated)"
    )
    admin_keys: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), description="API keys allowed to classify and to activate / roll back"
    )
    min_confidence: float = Field(
        default=_DEFAULT_POLICY.min_confidence,
        ge=0,
        le=1,
        description="review below this confidence",
    )
    min_margin: float = Field(
        default=_DEFAULT_POLICY.min_margin,
        ge=0,
        le=1,
        description="review when the top two are closer",
    )
    top_k: int = Field(default=3, ge=1, le=20, description="runners-up returned per ticket")
    explain_terms: int = Field(
        default=8, ge=0, le=50, description="deciding terms per single ticket"
    )
    max_batch_items: int = Field(
        default=256, ge=1, le=10_000, description="items per batch request"
    )
    max_body_bytes: int = Field(default=1 << 20, ge=1024, description="request body limit (bytes)")
    watch_interval: float = Field(
        default=1.0, gt=0, le=60, description="seconds between checks of the active-model pointer"
    )
    shutdown_timeout: int = Field(
        default=30, gt=0, description="seconds in-flight requests get to finish after SIGTERM"
    )
    max_concurrency: int = Field(
        default=8,
        ge=1,
        le=10_000,
        description="requests one worker handles at once; more wait up to queue_wait_ms for "
        "a place, then get 503 with Retry-After",
    )
    queue_wait_ms: float = Field(
        default=5.0,
        ge=0,
        le=10_000,
        description="milliseconds a request over max_concurrency waits for a place (0: none)",
    )
    worker_healthcheck_timeout: int = Field(
        default=30,
        ge=1,
        le=600,
        description="seconds a worker may take to answer uvicorn's health check before a restart",
    )
    metrics_public: bool = Field(
        default=False,
        description="serve /metrics to anyone; otherwise to loopback clients and key holders",
    )
    docs_public: bool = Field(
        default=True,
        description="serve /docs, /redoc, /openapi.json to anyone; otherwise as /metrics",
    )
    log_level: str = Field(default="INFO", description="level of the JSON request log")
    log_text: bool = Field(
        default=False, description="also log the (masked) ticket text; off by default"
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="signs model versions on save and is required to load them; unset: "
        "versions are checked by sha256 only (models/README.md, threat model)",
    )
    store_url: SecretStr | None = Field(
        default=None,
        description="the ticket store (a SQLAlchemy URL: sqlite:///PATH or "
        "postgresql+psycopg://USER:PASSWORD@HOST/DB); unset: tickets.db in the models folder; "
        "off: keep no tickets (feedback then answers 503)",
    )
    store_retention_days: float = Field(
        default=365, gt=0, le=36_500, description="days a stored ticket is kept"
    )
    store_queue: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="answers waiting for the store at most; more are dropped and counted",
    )
    urgency: bool = Field(
        default=False,
        description="answer each ticket's urgency (紧急 / 较急 / 一般); a 紧急 ticket is always "
        "flagged for a person (review code urgent). Off by default while it costs more than "
        "the routing itself (README, 'Accuracy and speed'); make run turns it on",
    )
    urgency_terms: Path | None = Field(
        default=None,
        description="the urgency term list (TOML, see nlp/resources/urgency_terms.toml); "
        "unset: the shipped one",
    )
    urgency_veto: float | None = Field(
        default=None,
        ge=0,
        lt=0.5,
        description="the urgency model's probability of 紧急 under which it overrules the "
        "terms' 紧急 (the veto, README 'Urgency'); 0: the terms' 紧急 always stands; unset: "
        "the library's default (nlp.urgency.DEFAULT_VETO_THRESHOLD)",
    )
    gazetteer: Path | None = Field(
        default=None,
        description="the city's gazetteer (CSV: district,street,community,grid,place,kind,"
        "aliases) that places each ticket; unset: no location",
    )
    gazetteer_city: str | None = Field(
        default=None, description="the city the gazetteer belongs to (e.g. 江州市)"
    )
    routing_table: Path | None = Field(
        default=None,
        description="the routing table (TOML) from department and place to lead and "
        "assisting units; unset: no dispatch",
    )
    problems: bool = Field(
        default=False,
        description="find the separate problems of a ticket and route each; off by default "
        "for the same reason as urgency; make run turns it on",
    )
    similar: bool = Field(
        default=True,
        description="keep the similar-ticket index (POST /v1/similar and repeat_of): each "
        "worker builds it from the ticket store and feeds it every answered ticket; off: no "
        "index is built or fed, /v1/similar answers 503 similar_off, and APPEALS_REPEATS "
        "must be off too",
    )
    similar_window: str = Field(
        default="30d",
        description="how far back the similar-ticket index reaches (7d, 36h, 2w): the longest "
        "window /v1/similar accepts and the one repeat_of looks in",
    )
    similar_refresh: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="seconds between reads of the tickets other workers stored, for the "
        "similar-ticket index",
    )
    repeats: bool = Field(
        default=False,
        description="answer repeat_of in classify answers: the most similar recent ticket that "
        "is a likely repeat (a lookup costs milliseconds; needs APPEALS_SIMILAR on); make run "
        "turns it on",
    )
    hotspots_cache: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="seconds a worker keeps a GET /v1/hotspots answer for the same query "
        "(0: computed on every call)",
    )
    prometheus_multiproc_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "PROMETHEUS_MULTIPROC_DIR", "APPEALS_PROMETHEUS_MULTIPROC_DIR"
        ),
        description="set by `appeals serve --workers N`; metrics are then aggregated",
    )

    _split = field_validator("classify_keys", "admin_keys", mode="before")(_split_keys)

    @field_validator("similar_window")
    @classmethod
    def _a_window(cls, value: str) -> str:
        try:
            parse_window(value)
        except (ValueError, OverflowError) as error:
            raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _repeats_need_the_index(self) -> Settings:
        if self.repeats and not self.similar:
            raise PydanticCustomError("repeats_need_similar", REPEATS_NEED_SIMILAR)
        return self

    @field_validator(
        "signing_key",
        "store_url",
        "urgency_terms",
        "gazetteer",
        "gazetteer_city",
        "routing_table",
        mode="before",
    )
    @classmethod
    def _no_empty_key(cls, value: Any) -> Any:
        return value or None  # APPEALS_SIGNING_KEY= (empty) means no key

    @field_validator("urgency_veto", mode="before")
    @classmethod
    def _empty_number_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value  # 0 stays 0

    @property
    def dispatch(self) -> DispatchConfig:
        """The dispatcher's files (:class:`nlp.dispatch.DispatchConfig`), loaded and checked
        against the model's labels whenever a model is loaded."""
        from nlp.dispatch import DispatchConfig  # scikit-learn: only the commands that use it

        return DispatchConfig(
            urgency=self.urgency,
            urgency_terms=str(self.urgency_terms) if self.urgency_terms else None,
            urgency_veto=self.urgency_veto,
            gazetteer=str(self.gazetteer) if self.gazetteer else None,
            city=self.gazetteer_city,
            routing=str(self.routing_table) if self.routing_table else None,
            problems=self.problems,
        )

    @property
    def signing_key_value(self) -> str | None:
        """The signing key itself, for :class:`~nlp.registry.Registry` only; never log it."""
        return self.signing_key.get_secret_value() if self.signing_key else None

    @property
    def store_location(self) -> str | None:
        """The ticket store's URL (None: off). A secret: it may hold a password; show it
        through :func:`nlp.store.describe_url`."""
        return self.store_location_in(self.models_dir)

    def store_location_in(self, models_dir: Path) -> str | None:
        """:attr:`store_location` for a registry at ``models_dir`` (the CLI's --models-dir):
        unset, the store is ``tickets.db`` in that folder."""
        url = self.store_url.get_secret_value().strip() if self.store_url else ""
        if url.lower() in ("off", "none", "false", "0"):
            return None
        if not url:
            return f"sqlite:///{(Path(models_dir) / 'tickets.db').absolute()}"
        return url

    @property
    def auth_enabled(self) -> bool:
        return bool(self.classify_keys or self.admin_keys)

    @property
    def policy(self) -> ReviewPolicy:
        return ReviewPolicy(min_confidence=self.min_confidence, min_margin=self.min_margin)


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()


def resolve_settings(app: FastAPI) -> Settings:
    """The settings ``app`` runs with: a test's override of :func:`get_settings` if any."""
    provider = app.dependency_overrides.get(get_settings, get_settings)
    settings: Settings = provider()
    return settings
