"""Request and response bodies of the HTTP API, with the Chinese examples ``/docs`` shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from nlp.store.schema import MAX_LABEL_CHARS
from service.settings import MAX_TEXT_CHARS, MAX_TITLE_CHARS

__all__ = [
    "ActivateRequest",
    "ActivateResponse",
    "BatchItemResult",
    "BatchRequest",
    "BatchResponse",
    "ClassifyRequest",
    "ClassifyResponse",
    "DispatchAnswer",
    "ErrorBody",
    "ErrorResponse",
    "FeedbackRequest",
    "FeedbackResponse",
    "FieldError",
    "HealthResponse",
    "HotspotProblem",
    "HotspotsResponse",
    "LocationAnswer",
    "ModelRef",
    "ModelVersion",
    "ModelsResponse",
    "PlaceMention",
    "ProblemAnswer",
    "PurgeResponse",
    "QueueItem",
    "QueueResponse",
    "ReadyResponse",
    "ScoredLabel",
    "SimilarMatch",
    "SimilarRequest",
    "SimilarResponse",
    "TermSpan",
    "TextOrTitleRequest",
    "TicketId",
    "UnitAnswer",
    "UrgencyAnswer",
    "WeightedTerm",
    "ticket_id_or_none",
]

EXAMPLE_TEXT = (
    "小区楼下的烧烤摊天天占道经营，晚上十二点还在营业，油烟和噪音太大了，"
    "家里老人孩子都睡不好，希望有关部门管一管。联系电话13812345678。"
)


#: The longest string id accepted (characters), and the most digits of an integer id.
MAX_ID_CHARS = 128
_ID_LIMIT = 10**MAX_ID_CHARS

NO_TEXT_MESSAGE = (
    "a ticket needs a text or a title: both are missing, empty or white space; "
    "send the body (text), the title, or both"
)


def _valid_unicode(value: str) -> str:
    """``value`` if it can be written as UTF-8: a lone surrogate (``"\\udfff"`` in JSON)
    parses in Python but cannot be answered, so it is refused on the way in."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError(
            "lone_surrogate", "must be valid Unicode text (it contains a lone surrogate)"
        ) from None
    return value


def _ticket_id(value: object) -> str | int | None:
    """A caller's id, kept exactly as sent: a string, or an integer of any size up to
    128 digits (a JSON number beyond a float's precision stays exact: it is never a float
    here). Booleans and fractions are not ids."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > MAX_ID_CHARS:
            raise PydanticCustomError("id_too_long", f"must be at most {MAX_ID_CHARS} characters")
        return _valid_unicode(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if not -_ID_LIMIT < value < _ID_LIMIT:
            raise PydanticCustomError("id_too_long", f"must have at most {MAX_ID_CHARS} digits")
        return value
    raise PydanticCustomError("id_type", "must be a string or an integer")


#: A ticket's ``id``: a string or an integer (or null), echoed back with its type.
TicketId = Annotated[
    str | int | None,
    PlainValidator(_ticket_id),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": MAX_ID_CHARS},
                {"type": "integer"},
                {"type": "null"},
            ],
            "description": (
                f"your ticket id: a string (at most {MAX_ID_CHARS} characters) or an integer "
                f"(at most {MAX_ID_CHARS} digits); echoed back exactly, type kept"
            ),
        }
    ),
]
_TICKET_ID: TypeAdapter[str | int | None] = TypeAdapter(TicketId)


def ticket_id_or_none(value: object) -> str | int | None:
    """The id a batch item sent if it is a valid id, else None (an invalid item's answer
    still names its id when it can; nothing else it sent is echoed)."""
    try:
        return _TICKET_ID.validate_python(value)
    except ValueError:
        return None


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _title_field(description: str) -> Any:
    """A request's ``title`` field: optional, at most MAX_TITLE_CHARS characters."""
    return Field(default=None, max_length=MAX_TITLE_CHARS, description=description)


def _text_field(description: str) -> Any:
    """A request's ``text`` field: optional, at most MAX_TEXT_CHARS characters, and
    validated even when left out (so that a ticket with neither text nor title is told)."""
    return Field(
        default=None, max_length=MAX_TEXT_CHARS, description=description, validate_default=True
    )


class TextOrTitleRequest(BaseModel):
    """What every request carrying one ticket shares: a ``title`` and a ``text``, valid
    Unicode, at least one of them not blank. Subclasses redeclare both fields (with
    :func:`_title_field` and :func:`_text_field`) for their own descriptions; the title
    stays declared first, so validated first: the text's validator needs to know it."""

    title: str | None = _title_field("the ticket's title (主题)")
    text: str | None = _text_field("the ticket's body (详情)")

    @field_validator("title")
    @classmethod
    def _title_is_unicode(cls, value: str | None) -> str | None:
        return None if value is None else _valid_unicode(value)

    @field_validator("text")
    @classmethod
    def _text_or_title(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            _valid_unicode(value)
        # An invalid title (not in info.data) is reported on its own.
        if _blank(value) and "title" in info.data and _blank(info.data["title"]):
            raise PydanticCustomError("text_or_title", NO_TEXT_MESSAGE)
        return value


class ClassifyRequest(TextOrTitleRequest):
    """One ticket: its title, its body (at least one of the two), and the caller's id
    (echoed back)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": EXAMPLE_TEXT, "title": "烧烤摊占道经营油烟扰民", "id": "12345-0001"},
                {"title": "油烟扰民", "id": 202401150001},
            ]
        },
    )

    title: str | None = _title_field(
        f"the ticket's title (主题), at most {MAX_TITLE_CHARS:,} characters"
    )
    text: str | None = _text_field(
        f"the ticket's body (详情), at most {MAX_TEXT_CHARS:,} characters; a ticket "
        "needs a text or a title (whichever exist, as in the training data)"
    )
    id: TicketId = None


class ScoredLabel(BaseModel):
    label: str = Field(examples=["城乡建设"])
    score: float = Field(ge=0, le=1, examples=[0.87])


class TermSpan(BaseModel):
    field: Literal["title", "text"] = Field(description="the field the word is in, as sent")
    start: int = Field(ge=0, description="offset of its first character in that field")
    end: int = Field(ge=0, description="offset just past its last character")


class WeightedTerm(BaseModel):
    term: str = Field(
        description=(
            "a word of the ticket as it was written (traditional characters stay traditional); "
            "never a function word, a placeholder of personal data or a single character"
        ),
        examples=["占道经营"],
    )
    weight: float = Field(
        description="its push toward the chosen label: what the word and character n-grams "
        "covering it add to the label's score",
        examples=[0.42],
    )
    spans: list[TermSpan] = Field(
        default_factory=list,
        description="where the model read it: field and character offsets (Unicode code "
        "points) in the title or text as sent, one entry per occurrence",
    )


#: Why a person should check, for machines (:data:`nlp.model.REVIEW_CODES`).
ReviewCode = Literal["low_confidence", "close_call", "out_of_scope", "urgent"]
REVIEW_CODES_DESCRIPTION = (
    "every reason needs_review is true, in this order: low_confidence (confidence under the "
    "policy's minimum), close_call (the top two closer than its margin), out_of_scope (too "
    "little known content, or unlike anything the model was trained on: no department "
    "applies), urgent (urgency 紧急: danger to life or safety; put it before a person at "
    "once, whatever the confidence); empty when needs_review is false"
)


class UrgencyAnswer(BaseModel):
    level: Literal["紧急", "较急", "一般"] = Field(
        description="紧急: danger to life or safety now; 较急: an outage or hazard affecting "
        "many people, or vulnerable people; 一般: everything else"
    )
    reason: str = Field(description="why, in words a dispatcher reads", examples=["疑似燃气泄漏"])
    terms: list[str] = Field(
        description="the words of the ticket (normalised) that decided the level",
        examples=[["煤气味"]],
    )


class PlaceMention(BaseModel):
    text: str = Field(description="the mention as written", examples=["桂花路128号"])
    start: int | None = Field(description="offset in its field as sent (null: not alignable)")
    end: int | None = Field(description="offset just past it")
    kind: str = Field(
        description="estate, road, market, school, hospital, park, landmark, village, place "
        "(a named place the gazetteer lacks), division, masked or vague",
        examples=["road"],
    )
    field: Literal["title", "text"]
    place: str | None = Field(description="the gazetteer's place it resolves to, if one")
    problem: bool = Field(description="the mention the problem is at")


class LocationAnswer(BaseModel):
    district: str = Field(description="empty where it cannot be told", examples=["东湖区"])
    street: str = Field(description="street office (街道, 镇, 乡)", examples=["建设街道"])
    community: str = Field(description="community (社区) or village (村)", examples=["锦绣社区"])
    grid: str = Field(examples=["第一网格"])
    place: str = Field(description="the gazetteer's place the problem is at, if one")
    mentions: list[PlaceMention] = Field(description="every place the ticket names")


class UnitAnswer(BaseModel):
    unit: str = Field(examples=["建设街道办事处"])
    role: Literal["主办", "协办"] = Field(description="主办 lead, 协办 assisting")
    template: str = Field(
        description="the routing table's unit it was filled from", examples=["{street}办事处"]
    )


class DispatchAnswer(BaseModel):
    lead: UnitAnswer | None = Field(description="null: no rule applies; hand it to a person")
    assist: list[UnitAnswer]
    rule: str = Field(
        description="the routing table's rule that decided", examples=["line 12: 城管执法"]
    )
    unresolved: list[str] = Field(
        description="units whose placeholder the ticket's place could not fill"
    )


class ProblemAnswer(BaseModel):
    text: str = Field(description="the problem's statement, as written")
    label: str = Field(description="the department that must handle it")
    confidence: float = Field(ge=0, le=1)
    start: int = Field(ge=0, description="offset in its field as sent")
    end: int = Field(ge=0)
    field: Literal["title", "text"]
    lead: str | None = Field(
        description="the unit that leads on it by the routing table (null without one)"
    )


URGENCY_DESCRIPTION = (
    "how urgent: 紧急 / 较急 / 一般 with a reason; null when urgency is off (APPEALS_URGENCY)"
)
LOCATION_DESCRIPTION = (
    "where it happened, resolved against the city's gazetteer; null when no gazetteer is "
    "configured (APPEALS_GAZETTEER)"
)
DISPATCH_DESCRIPTION = (
    "the lead (主办) and assisting (协办) units for the label at that place; null when no "
    "routing table is configured (APPEALS_ROUTING_TABLE)"
)
PROBLEMS_DESCRIPTION = (
    "the ticket's separate problems, the lead problem (the top-level label) first, each with "
    "its department and text span; one when the ticket states one problem; null when off "
    "(APPEALS_PROBLEMS)"
)

EXAMPLE_DISPATCH_FIELDS: dict[str, Any] = {
    "urgency": {
        "level": "一般",
        "reason": "未发现危及安全、影响多人或涉及弱势群体的情形",
        "terms": [],
    },
    "location": {
        "district": "东湖区",
        "street": "建设街道",
        "community": "锦绣社区",
        "grid": "第一网格",
        "place": "锦绣华庭",
        "mentions": [
            {
                "text": "锦绣华庭北门",
                "start": 0,
                "end": 6,
                "kind": "estate",
                "field": "text",
                "place": "锦绣华庭",
                "problem": True,
            }
        ],
    },
    "dispatch": {
        "lead": {"unit": "市城管执法局", "role": "主办", "template": "市城管执法局"},
        "assist": [{"unit": "建设街道办事处", "role": "协办", "template": "{street}办事处"}],
        "rule": "line 32: 城管执法",
        "unresolved": [],
    },
    "problems": [
        {
            "text": "锦绣华庭北门的烧烤摊天天占道经营，油烟和噪音太大了",
            "label": "城管执法",
            "confidence": 0.81,
            "start": 0,
            "end": 25,
            "field": "text",
            "lead": "市城管执法局",
        }
    ],
}


REPEAT_OF_DESCRIPTION = (
    "the id of the most similar recent ticket (within APPEALS_SIMILAR_WINDOW, 30 days) that "
    "is a likely repeat (重复件: the same problem at the same place), as POST /v1/similar "
    "finds it; null when there is none, or when repeats are off (APPEALS_REPEATS)"
)

ID_DESCRIPTION = (
    "the id you sent (string or integer); when you sent none and the ticket store is on, the "
    "id the service gave the ticket (send it with POST /v1/feedback); else null"
)


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
                    "review_codes": [],
                    "explanation": [
                        {
                            "term": "占道经营",
                            "weight": 0.41,
                            "spans": [
                                {"field": "title", "start": 3, "end": 7},
                                {"field": "text", "start": 10, "end": 14},
                            ],
                        },
                        {
                            "term": "烧烤摊",
                            "weight": 0.22,
                            "spans": [
                                {"field": "title", "start": 0, "end": 3},
                                {"field": "text", "start": 5, "end": 8},
                            ],
                        },
                    ],
                    **EXAMPLE_DISPATCH_FIELDS,
                    "repeat_of": "12345-0042",
                    "model": {"name": "default", "version": "v3"},
                }
            ]
        }
    )

    id: str | int | None = Field(description=ID_DESCRIPTION)
    label: str = Field(description="the department (部门) to route to")
    confidence: float = Field(ge=0, le=1, description="probability of that department")
    top_k: list[ScoredLabel] = Field(description="the best departments, best first")
    needs_review: bool = Field(description="true when a person should check before 派单")
    review_reason: str | None = Field(
        description="why needs_review is true, in words (every reason that applies), or null"
    )
    review_codes: list[ReviewCode] = Field(
        description=REVIEW_CODES_DESCRIPTION, examples=[["low_confidence", "close_call"]]
    )
    explanation: list[WeightedTerm] = Field(
        description="the ticket's terms that pushed most toward the label"
    )
    urgency: UrgencyAnswer | None = Field(description=URGENCY_DESCRIPTION)
    location: LocationAnswer | None = Field(description=LOCATION_DESCRIPTION)
    dispatch: DispatchAnswer | None = Field(description=DISPATCH_DESCRIPTION)
    problems: list[ProblemAnswer] | None = Field(description=PROBLEMS_DESCRIPTION)
    repeat_of: str | None = Field(default=None, description=REPEAT_OF_DESCRIPTION)
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
                        {"title": "油烟扰民", "id": 1003},
                        {"text": "   ", "id": "a4"},
                    ],
                    "explain": 0,
                }
            ]
        },
    )

    items: list[Any] = Field(
        json_schema_extra={"items": {"$ref": "#/components/schemas/ClassifyRequest"}},
        description=(
            "tickets, each {text?, title?, id?} with a text or a title; at most 256 unless "
            "configured otherwise"
        ),
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
    id: str | int | None = Field(
        default=None,
        description="the item's id, if it sent a valid one; when it sent none and the ticket "
        "store is on, the id the service gave the ticket (send it with feedback)",
    )
    label: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    top_k: list[ScoredLabel] = Field(default_factory=list)
    needs_review: bool | None = None
    review_reason: str | None = None
    review_codes: list[ReviewCode] = Field(
        default_factory=list, description=REVIEW_CODES_DESCRIPTION
    )
    explanation: list[WeightedTerm] = Field(default_factory=list)
    urgency: UrgencyAnswer | None = Field(default=None, description=URGENCY_DESCRIPTION)
    location: LocationAnswer | None = Field(default=None, description=LOCATION_DESCRIPTION)
    dispatch: DispatchAnswer | None = Field(default=None, description=DISPATCH_DESCRIPTION)
    problems: list[ProblemAnswer] | None = Field(default=None, description=PROBLEMS_DESCRIPTION)
    repeat_of: str | None = Field(default=None, description=REPEAT_OF_DESCRIPTION)
    error: ErrorBody | None = None


class BatchResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": {"name": "default", "version": "v3"},
                    "items": [
                        {
                            "index": 0,
                            "id": "a1",
                            "label": "城管执法",
                            "confidence": 0.81,
                            "top_k": [
                                {"label": "城管执法", "score": 0.81},
                                {"label": "生态环境", "score": 0.12},
                            ],
                            "needs_review": False,
                            "review_reason": None,
                            "review_codes": [],
                            "explanation": [],
                            **EXAMPLE_DISPATCH_FIELDS,
                            "repeat_of": None,
                        },
                        {
                            "index": 1,
                            "id": "a2",
                            "label": "燃气",
                            "confidence": 0.97,
                            "top_k": [
                                {"label": "燃气", "score": 0.97},
                                {"label": "住建", "score": 0.02},
                            ],
                            "needs_review": True,
                            "review_reason": "urgent: 疑似燃气泄漏",
                            "review_codes": ["urgent"],
                            "explanation": [],
                            "urgency": {
                                "level": "紧急",
                                "reason": "疑似燃气泄漏",
                                "terms": ["煤气味"],
                            },
                            "location": None,
                            "dispatch": None,
                            "problems": None,
                            "repeat_of": None,
                        },
                        {
                            "index": 2,
                            "id": "a4",
                            "error": {
                                "code": "invalid_item",
                                "message": "body.items.2.text: a ticket needs a text or a "
                                "title: both are missing, empty or white space; send the "
                                "body (text), the title, or both",
                                "fields": [
                                    {
                                        "path": "body.items.2.text",
                                        "message": "a ticket needs a text or a title",
                                    }
                                ],
                            },
                        },
                    ],
                }
            ]
        }
    )

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


class FeedbackRequest(BaseModel):
    """The department a person finally gave a ticket the service answered (派单结果)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "12345-0001",
                    "label": "环境保护",
                    "note": "油烟归环保",
                    "by": "dispatcher-07",
                }
            ]
        },
    )

    id: TicketId = Field(description="the ticket's id, as the classify answer gave it")
    label: str = Field(
        min_length=1,
        max_length=MAX_LABEL_CHARS,
        description="the department the ticket finally went to; one the model knows unless "
        "allow_new_label",
    )
    note: str | None = Field(
        default=None,
        max_length=2_000,
        description="why, in words (stored with personal data masked)",
    )
    by: str | None = Field(
        default=None, max_length=128, description="who decided (a dispatcher's id), if you wish"
    )
    allow_new_label: bool = Field(
        default=False, description="accept a department the model has never seen (a new one)"
    )

    @field_validator("id")
    @classmethod
    def _id_required(cls, value: str | int | None) -> str | int:
        if value is None:
            raise PydanticCustomError("id_required", "the ticket's id is required")
        return value

    @field_validator("label", "note", "by")
    @classmethod
    def _unicode(cls, value: str | None) -> str | None:
        return None if value is None else _valid_unicode(value)


class FeedbackResponse(BaseModel):
    id: str | int = Field(description="the ticket's id, as you sent it")
    label: str = Field(description="the department recorded")
    predicted: str = Field(description="the department the service had answered")
    agreed: bool = Field(description="whether the service had answered that department")
    model: ModelRef = Field(description="the model version that answered the ticket")
    corrected_at: str = Field(description="when it was recorded (UTC, ISO 8601)")


class QueueItem(BaseModel):
    """A stored ticket worth a dispatcher's label, with why (``nlp.label_queue``)."""

    rank: int = Field(ge=1, examples=[1])
    id: str = Field(description="the ticket's id in the store", examples=["12345-0001"])
    answered_at: str = Field(description="when it was answered (UTC, ISO 8601)")
    model_version: str = Field(examples=["v3"])
    predicted: str = Field(description="the department the service answered", examples=["城乡建设"])
    confidence: float = Field(ge=0, le=1, examples=[0.46])
    margin: float = Field(description="confidence minus the runner-up's", examples=[0.04])
    runner_up: str | None = Field(examples=["环境保护"])
    review_codes: list[str] = Field(examples=[["low_confidence", "close_call"]])
    score: float = Field(
        description="uncertainty + 0.5 x out_of_scope + disagreement: higher teaches more"
    )
    uncertainty: float = Field(ge=0, le=1, description="1 - margin")
    out_of_scope: bool = Field(description="the answer was flagged out_of_scope")
    disagreement: float = Field(
        ge=0,
        le=1,
        description="how often dispatchers moved tickets answered with this department to "
        "another one (shrunk toward the overall rate)",
    )
    similar: int = Field(
        ge=0, description="near-duplicates of this ticket left out of the queue for it"
    )
    why: str = Field(
        description="the reasons in words",
        examples=["城乡建设 at 0.46, 环境保护 0.04 behind"],
    )
    title: str = Field(description="the title, masked")
    text: str = Field(
        description="the text, masked", examples=["小区楼下烧烤摊油烟扰民，电话<PHONE>"]
    )


class QueueResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "considered": 1834,
                    "items": [
                        {
                            "rank": 1,
                            "id": "12345-0001",
                            "answered_at": "2026-12-01T08:15:02",
                            "model_version": "v3",
                            "predicted": "城乡建设",
                            "confidence": 0.46,
                            "margin": 0.04,
                            "runner_up": "环境保护",
                            "review_codes": ["low_confidence", "close_call"],
                            "score": 1.21,
                            "uncertainty": 0.96,
                            "out_of_scope": False,
                            "disagreement": 0.25,
                            "similar": 3,
                            "why": "城乡建设 at 0.46, 环境保护 0.04 behind; dispatchers moved "
                            "5 of 20 corrected 城乡建设 tickets elsewhere (25%); stands for "
                            "3 similar ticket(s) left out of the queue",
                            "title": "油烟扰民",
                            "text": "小区楼下的烧烤摊天天占道经营，油烟太大，电话<PHONE>",
                        }
                    ],
                }
            ]
        }
    )

    considered: int = Field(
        ge=0, description="stored tickets without a final department that were ranked"
    )
    items: list[QueueItem] = Field(description="best first")


class PurgeResponse(BaseModel):
    id: str | int = Field(description="the ticket's id, as you sent it")
    deleted: bool = Field(description="true: the store holds nothing of the ticket any more")


class HealthResponse(BaseModel):
    status: str = Field(examples=["ok"])


class ReadyResponse(BaseModel):
    status: str = Field(examples=["ready"])
    model: ModelRef | None = None
    reason: str | None = None
    store: str = Field(
        default="off",
        description="the ticket store: ok, off, or why answers are not being stored now "
        "(classification goes on either way)",
        examples=["ok"],
    )
    similar: str = Field(
        default="",
        description="what the similar-ticket index of this worker holds: the tickets of the "
        "window from the ticket store and every worker, or, with the store off, only this "
        "worker's tickets since it started; off when APPEALS_SIMILAR=false",
        examples=["1834 ticket(s) of the last 30d"],
    )


MAX_SIMILAR_K = 50


class SimilarRequest(TextOrTitleRequest):
    """A ticket whose likely repeats you want among the tickets the service has answered."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": EXAMPLE_TEXT,
                    "title": "烧烤摊占道经营油烟扰民",
                    "k": 5,
                    "window": "7d",
                },
                {"title": "油烟扰民", "id": "12345-0001", "time": "2026-12-01T08:30:00Z"},
            ]
        },
    )

    title: str | None = _title_field("the ticket's title (主题)")
    text: str | None = _text_field("the ticket's body (详情); a text or a title is needed")
    id: TicketId = Field(
        default=None, description="the ticket's own id, if the service has answered it: left out"
    )
    time: datetime | None = Field(
        default=None,
        description="the ticket's time (ISO 8601; no zone: UTC): tickets answered before it "
        "and within the window are searched; default now",
    )
    k: int = Field(default=5, ge=1, le=MAX_SIMILAR_K, description="most similar tickets returned")
    window: str | None = Field(
        default=None,
        max_length=32,
        description="how far back to look (7d, 36h, 2w), at most APPEALS_SIMILAR_WINDOW (30d), "
        "which is the default",
    )


class SimilarMatch(BaseModel):
    id: str = Field(description="the similar ticket's id", examples=["12345-0042"])
    time: str = Field(description="when it was answered (UTC, ISO 8601)")
    score: float = Field(description="similarity, 0 to 1 (cosine of TF-IDF rows)")
    repeat: bool = Field(
        description="a likely repeat (重复件): similar enough and not at another place"
    )
    same_place: bool = Field(
        description="false only when both tickets name places and none of them match"
    )


class SimilarResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "matches": [
                        {
                            "id": "12345-0042",
                            "time": "2026-11-28T19:02:11Z",
                            "score": 0.46,
                            "repeat": True,
                            "same_place": True,
                        }
                    ]
                }
            ]
        }
    )

    matches: list[SimilarMatch] = Field(description="most similar first")


class HotspotProblem(BaseModel):
    """A row of 热点问题表, with its group's tickets."""

    rank: int = Field(ge=1, description="热度排名")
    problem_id: int = Field(ge=1, description="问题ID")
    heat: float = Field(description="热度指数 (README, 'Repeats and hot spots')")
    time_range: str = Field(description="时间范围", examples=["2026/11/20 至 2026/12/01"])
    place: str = Field(description="地点/人群 (masked)", examples=["A2区 丽发新城小区 居民"])
    description: str = Field(description="问题描述: the words that set the group apart")
    tickets: int = Field(ge=1, description="tickets in the group")
    ids: list[str] = Field(description="the group's ticket ids (留言编号), oldest first")


class HotspotsResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "since": "2026-11-01T00:00:00Z",
                    "until": "2026-12-01T00:00:00Z",
                    "window": "7d",
                    "considered": 1834,
                    "problems": [
                        {
                            "rank": 1,
                            "problem_id": 1,
                            "heat": 61.2,
                            "time_range": "2026/11/20 至 2026/11/30",
                            "place": "A2区 丽发新城小区 居民",
                            "description": "搅拌站 噪音 粉尘 夜间施工",
                            "tickets": 43,
                            "ids": ["12345-0042", "12345-0057"],
                        }
                    ],
                    "notes": [],
                }
            ]
        }
    )

    since: str = Field(description="start of the period (UTC, ISO 8601)")
    until: str = Field(description="end of the period, excluded (UTC, ISO 8601)")
    window: str = Field(description="the link window", examples=["7d"])
    considered: int = Field(ge=0, description="stored tickets answered in the period")
    problems: list[HotspotProblem] = Field(description="热点问题表, hottest first")
    notes: list[str] = Field(description="why the table is empty or short, if it is")
