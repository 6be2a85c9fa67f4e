"""Request and response bodies of the HTTP API, with the Chinese examples ``/docs`` shows."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.settings import MAX_TEXT_CHARS, MAX_TITLE_CHARS

__all__ = [
    "ActivateRequest",
    "ActivateResponse",
    "BatchItemResult",
    "BatchRequest",
    "BatchResponse",
    "ClassifyRequest",
    "ClassifyResponse",
    "ErrorBody",
    "ErrorResponse",
    "FieldError",
    "HealthResponse",
    "ModelRef",
    "ModelVersion",
    "ModelsResponse",
    "ReadyResponse",
    "ScoredLabel",
    "WeightedTerm",
]

EXAMPLE_TEXT = (
    "小区楼下的烧烤摊天天占道经营，晚上十二点还在营业，油烟和噪音太大了，"
    "家里老人孩子都睡不好，希望有关部门管一管。联系电话13812345678。"
)


def _usable_text(value: str | None, *, required: bool) -> str | None:
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (it contains a lone surrogate)") from None
    if required and not value.strip():
        raise ValueError("must not be empty or white space only")
    return value


class ClassifyRequest(BaseModel):
    """One ticket: its body (required), its title, and the caller's id (echoed back)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": EXAMPLE_TEXT, "title": "烧烤摊占道经营油烟扰民", "id": "12345-0001"}
            ]
        },
    )

    text: str = Field(
        max_length=MAX_TEXT_CHARS,
        description=f"the ticket's body (详情), at most {MAX_TEXT_CHARS:,} characters",
    )
    title: str | None = Field(
        default=None, max_length=MAX_TITLE_CHARS, description="the ticket's title (主题), if any"
    )
    id: str | None = Field(default=None, max_length=128, description="your ticket id; echoed back")

    @field_validator("text")
    @classmethod
    def _text_is_usable(cls, value: str) -> str | None:
        return _usable_text(value, required=True)

    @field_validator("title")
    @classmethod
    def _title_is_usable(cls, value: str | None) -> str | None:
        return _usable_text(value, required=False)


class ScoredLabel(BaseModel):
    label: str = Field(examples=["城乡建设"])
    score: float = Field(ge=0, le=1, examples=[0.87])


class WeightedTerm(BaseModel):
    term: str = Field(description="a word of the ticket (normalised)", examples=["占道经营"])
    weight: float = Field(description="its push toward the chosen label", examples=[0.42])


class ModelRef(BaseModel):
    name: str = Field(examples=["default"])
    version: str = Field(examples=["v3"])


class ClassifyResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "12345-0001",
                    "label": "城乡建设",
                    "confidence": 0.81,
                    "top_k": [
                        {"label": "城乡建设", "score": 0.81},
                        {"label": "环境保护", "score": 0.12},
                        {"label": "商贸旅游", "score": 0.04},
                    ],
                    "needs_review": False,
                    "review_reason": None,
                    "explanation": [
                        {"term": "占道经营", "weight": 0.41},
                        {"term": "烧烤摊", "weight": 0.22},
                    ],
                    "model": {"name": "default", "version": "v3"},
                }
            ]
        }
    )

    id: str | None = Field(description="the id you sent, or null")
    label: str = Field(description="the department (部门) to route to")
    confidence: float = Field(ge=0, le=1, description="probability of that department")
    top_k: list[ScoredLabel] = Field(description="the best departments, best first")
    needs_review: bool = Field(description="true when a person should check before 派单")
    review_reason: str | None = Field(description="why needs_review is true, or null")
    explanation: list[WeightedTerm] = Field(
        description="the ticket's terms that pushed most toward the label"
    )
    model: ModelRef


class BatchRequest(BaseModel):
    """Up to ``max_batch_items`` (default 256) tickets. Each item has the shape of a single
    request; an invalid item gets an error entry in its place and the others are answered."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"text": EXAMPLE_TEXT, "id": "a1"},
                        {"text": "孩子所在学校乱收补课费，每学期要交两千元。", "id": "a2"},
                        {"text": "   ", "id": "a3"},
                    ],
                    "explain": 0,
                }
            ]
        },
    )

    items: list[Any] = Field(
        json_schema_extra={"items": {"$ref": "#/components/schemas/ClassifyRequest"}},
        description="tickets, each {text, title?, id?}; at most 256 unless configured otherwise",
    )
    explain: int = Field(default=0, ge=0, le=20, description="deciding terms per ticket (0: none)")


class FieldError(BaseModel):
    path: str = Field(description="where in the request, e.g. body.items.3.text")
    message: str


class ErrorBody(BaseModel):
    code: str = Field(examples=["invalid_request"])
    message: str = Field(examples=["body.text: must not be empty or white space only"])
    fields: list[FieldError] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    error: ErrorBody
    request_id: str | None = None


class BatchItemResult(BaseModel):
    """A ticket's answer, or (``error`` set, predictions null) why it could not be routed."""

    index: int = Field(description="the item's position in the request")
    id: str | None = None
    label: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    top_k: list[ScoredLabel] = Field(default_factory=list)
    needs_review: bool | None = None
    review_reason: str | None = None
    explanation: list[WeightedTerm] = Field(default_factory=list)
    error: ErrorBody | None = None


class BatchResponse(BaseModel):
    model: ModelRef
    items: list[BatchItemResult]


class ModelVersion(BaseModel):
    version: str
    created_at: str | None = None
    labels: list[str] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    active: bool = Field(description="the registry's active version")
    serving: bool = Field(description="the version this worker is serving right now")
    error: str | None = Field(default=None, description="why the version's manifest cannot be read")


class ModelsResponse(BaseModel):
    name: str
    active: str | None
    serving: str | None
    versions: list[ModelVersion]
    error: str | None = Field(
        default=None, description="why the active pointer cannot be read (activate to repair)"
    )


class ActivateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"version": "v2"}]})

    version: str = Field(pattern=r"^v[0-9]{1,9}$", description="the version to activate, e.g. v2")


class ActivateResponse(BaseModel):
    name: str
    active: str = Field(description="the registry's active version after the change")
    previous: str | None
    serving: str | None = Field(description="what this worker serves; others follow within seconds")


class HealthResponse(BaseModel):
    status: str = Field(examples=["ok"])


class ReadyResponse(BaseModel):
    status: str = Field(examples=["ready"])
    model: ModelRef | None = None
    reason: str | None = None
