"""What the LinkedIn routes read and return (user integrations, actions, settings)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from engine.models.linkedin import MAX_LIMIT, GovernorView, WorkingHours
from engine.services.campaigns import MESSAGE_LIMIT, NOTE_TEMPLATE_LIMIT
from engine.services.linkedin import NOTE_LIMIT, check_note, check_post_url, profile_url

ActionType = Literal[
    "sendConnectionRequest",
    "sendMessage",
    "viewProfile",
    "followProfile",
    "likePost",
    "withdrawConnectionRequest",
]
MAX_BULK = 1000
_SCOPE = re.compile(r"^[A-Za-z0-9_:.\-]{1,64}$")
ACCOUNT_PATTERN = r"^[A-Za-z0-9_\-]{1,100}$"
_ACCOUNT = re.compile(ACCOUNT_PATTERN)
# What the OpenAPI document promises is accepted (the validators accept more spellings).
PROFILE_URL_PATTERN = r"^https://(www\.)?linkedin\.com/in/[A-Za-z0-9_-]{3,100}/?$"
POST_URL_PATTERN = r"^https://(www\.)?linkedin\.com/feed/update/urn:li:activity:[0-9]{10,25}/?$"
ABSOLUTE_URL_PATTERN = r"^https?://[^\s/]+"
FUTURE_NOTE: JsonDict = {"x-at-most-from-now": "P366D"}


TARGETS = ("profileUrls", "leads", "leadIds")


def _bulk_schema(schema: Any) -> None:
    """The action's texts as for one action, and at least one target."""
    _per_action(schema)
    schema["anyOf"] = [{"required": [k], "properties": {k: {"minItems": 1}}} for k in TARGETS]
    schema["x-max-targets"] = MAX_BULK


def _per_action(schema: Any) -> None:
    """Which action needs which text: one variant per action type."""
    schema["oneOf"] = [
        {"properties": {"actionType": {"enum": ["sendMessage"]}}, "required": ["message"]},
        {"properties": {"actionType": {"enum": ["likePost"]}}, "required": ["postUrl"]},
        {"properties": {"actionType": {"enum": ["sendConnectionRequest"]}}},
        {
            "properties": {
                "actionType": {
                    "enum": ["viewProfile", "followProfile", "withdrawConnectionRequest"]
                }
            },
            "not": {"required": ["note"]},
        },
    ]
    schema["oneOf"][0]["properties"]["message"] = {
        "type": "string",
        "pattern": r"[^\s\x1c-\x1f\x85]",
    }
    schema["oneOf"][0]["not"] = {"required": ["note"]}
    schema["oneOf"][1]["not"] = {"required": ["note"]}


def when(value: datetime | None) -> datetime | None:
    """Naive times are UTC; more than a year ahead is refused."""
    if value is None:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if value > datetime.now(UTC) + timedelta(days=366):
        raise ValueError("scheduledAt must be within a year")
    return value.astimezone(UTC)


# ---- integrations (the user-integrations API) ------------------------------------------


class SetupLinkedIn(BaseModel):
    returnUrl: str | None = Field(
        default=None,
        max_length=2000,
        json_schema_extra={"pattern": ABSOLUTE_URL_PATTERN},
        description="Where the member is sent back; its origin must be one the server allows "
        "(TASKYARD_OAUTH_RETURN_ORIGINS), else 422 RETURN_URL_NOT_ALLOWED.",
    )
    scopes: list[str] | None = Field(
        default=None,
        max_length=20,
        json_schema_extra={"minItems": 1, "items": {"type": "string", "pattern": _SCOPE.pattern}},
    )
    # Refused (422 AUTOMATION_ACCOUNT_FROM_PROVIDER) with a user key: the provider reports
    # the account. Not in this route's document; the legacy route documents it for operators.
    automationAccountId: SkipJsonSchema[str | None] = None
    userId: str | None = Field(default=None, description="Legacy route, global keys only.")

    @field_validator("returnUrl")
    @classmethod
    def _return_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("returnUrl must be an absolute http(s) URL")
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or any(not _SCOPE.match(s) for s in value)):
            raise ValueError("scopes must be a non-empty list of LinkedIn scope names")
        return list(dict.fromkeys(value)) if value else value

    @field_validator("automationAccountId")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.match(value):
            raise ValueError("automationAccountId has unexpected characters")
        return value


class LegacySetupLinkedIn(SetupLinkedIn):
    automationAccountId: str | None = Field(  # type: ignore[assignment]
        default=None,
        json_schema_extra=cast(JsonDict, {"pattern": _ACCOUNT.pattern}),
        description="Global keys only (an operator linking a Unipile account it manages); "
        "with a user key 422 AUTOMATION_ACCOUNT_FROM_PROVIDER. 409 AUTOMATION_ACCOUNT_IN_USE "
        "when another user holds it.",
    )


class SetupStarted(BaseModel):
    authUrl: str
    state: str
    expiresAt: str


class StartQuery(BaseModel):
    state: str = Field(min_length=1, max_length=200)


class SetupLinkQuery(BaseModel):
    user: str = Field(max_length=64)
    token: str = Field(max_length=512)


class SetupResponse(BaseModel):
    userId: str
    success: bool
    data: SetupStarted


class LinkedInStatus(BaseModel):
    connected: bool
    # Not connected: a link a browser can open to connect (signed for the user, short-lived).
    setupUrl: str | None = None
    profileUrl: str | None = None
    name: str | None = None
    connectionCount: int | None = None
    connectedAt: str | None = None
    provider: str | None = None


class WebhooksStatus(BaseModel):
    configured: bool
    endpoints: list[str]
    status: str


class IntegrationSummary(BaseModel):
    total: int
    connected: int
    completionPercentage: int


class IntegrationsData(BaseModel):
    linkedin: LinkedInStatus
    webhooks: WebhooksStatus
    summary: IntegrationSummary


class IntegrationsResponse(BaseModel):
    userId: str
    success: bool
    data: IntegrationsData


class UserQuery(BaseModel):
    userId: str | None = Field(default=None, max_length=64)


# ---- actions ----------------------------------------------------------------------------


class ScheduleAction(BaseModel):
    model_config = ConfigDict(json_schema_extra=_per_action)

    actionType: ActionType
    profileUrl: str = Field(max_length=500, json_schema_extra={"pattern": PROFILE_URL_PATTERN})
    message: str | None = Field(default=None, max_length=MESSAGE_LIMIT)
    note: str | None = Field(default=None, json_schema_extra={"maxLength": NOTE_LIMIT})
    postUrl: str | None = Field(
        default=None, max_length=1000, json_schema_extra={"pattern": POST_URL_PATTERN}
    )
    scheduledAt: datetime | None = Field(default=None, json_schema_extra=FUTURE_NOTE)
    userId: str | None = Field(default=None, max_length=64)

    @field_validator("profileUrl")
    @classmethod
    def _profile(cls, value: str) -> str:
        return profile_url(value)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return check_note(value)

    @field_validator("scheduledAt")
    @classmethod
    def _when(cls, value: datetime | None) -> datetime | None:
        return when(value)

    @field_validator("postUrl")
    @classmethod
    def _post(cls, value: str | None) -> str | None:
        return check_post_url(value) if value is not None else None

    @model_validator(mode="after")
    def _fits_action(self) -> ScheduleAction:
        if self.actionType == "sendMessage" and not (self.message or "").strip():
            raise ValueError("sendMessage needs a message")
        if self.actionType == "likePost" and not self.postUrl:
            raise ValueError("likePost needs a postUrl")
        if self.note is not None and self.actionType != "sendConnectionRequest":
            raise ValueError("note is only used with sendConnectionRequest")
        return self


class Scheduled(BaseModel):
    jobId: str
    status: str
    actionType: str
    profileUrl: str
    provider: str


class ScheduledResponse(BaseModel):
    userId: str
    success: bool
    data: Scheduled


class BulkSchedule(BaseModel):
    """A campaign: one action type, many profiles. The message and note are templates
    (docs/workflows.md, Templates) rendered per target: ``{{firstName}}`` or
    ``{{lead.firstName | there}}`` read the target's fields, with a fallback after ``|``."""

    model_config = ConfigDict(json_schema_extra=lambda schema: _bulk_schema(schema))

    actionType: ActionType
    profileUrls: list[str] = Field(
        default_factory=list,
        max_length=MAX_BULK,
        json_schema_extra={"items": {"type": "string", "pattern": PROFILE_URL_PATTERN}},
    )
    leads: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_BULK)
    leadIds: list[str] = Field(default_factory=list, max_length=MAX_BULK)
    message: str | None = Field(default=None, max_length=MESSAGE_LIMIT)
    note: str | None = Field(
        default=None,
        max_length=NOTE_TEMPLATE_LIMIT,
        json_schema_extra={"maxLength": NOTE_LIMIT, "x-max-length-after-templates": NOTE_LIMIT},
    )
    postUrl: str | None = Field(
        default=None, max_length=1000, json_schema_extra={"pattern": POST_URL_PATTERN}
    )
    scheduledAt: datetime | None = Field(default=None, json_schema_extra=FUTURE_NOTE)
    campaignName: str | None = Field(default=None, max_length=200)
    userId: str | None = Field(default=None, max_length=64)

    @field_validator("scheduledAt")
    @classmethod
    def _when(cls, value: datetime | None) -> datetime | None:
        return when(value)

    @field_validator("postUrl")
    @classmethod
    def _post(cls, value: str | None) -> str | None:
        return check_post_url(value) if value is not None else None

    @model_validator(mode="after")
    def _targets(self) -> BulkSchedule:
        total = len(self.profileUrls) + len(self.leads) + len(self.leadIds)
        if total == 0:
            raise ValueError("give profileUrls, leads or leadIds")
        if total > MAX_BULK:
            raise ValueError(f"at most {MAX_BULK} profiles per request")
        if self.actionType == "sendMessage" and not (self.message or "").strip():
            raise ValueError("sendMessage needs a message")
        if self.actionType == "likePost" and not self.postUrl:
            raise ValueError("likePost needs a postUrl")
        if self.note is not None and self.actionType != "sendConnectionRequest":
            raise ValueError("note is only used with sendConnectionRequest")
        return self


class BulkScheduled(BaseModel):
    campaignId: str
    actionType: str
    count: int
    duplicates: int
    jobIds: list[str]
    status: str


class BulkScheduledResponse(BaseModel):
    userId: str
    success: bool
    data: BulkScheduled


# ---- settings ---------------------------------------------------------------------------


def _settings_schema(schema: dict[str, Any]) -> None:
    """What ``engine.models.linkedin.LinkedInSettings`` checks once the patch is merged."""
    limits = {
        "type": "object",
        "properties": {
            name: {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT}
            for name in ActionType.__args__  # type: ignore[attr-defined]
        },
        "additionalProperties": False,
    }
    props = schema["properties"]
    for key in ("dailyLimits", "weeklyLimits"):
        props[key] = {"anyOf": [limits, {"type": "null"}]}
    for key in ("minDelaySeconds", "maxDelaySeconds"):
        props[key] = {
            "anyOf": [{"type": "number", "minimum": 0, "maximum": 86_400}, {"type": "null"}]
        }
    clock = {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$"}
    props["workingHours"] = {
        "anyOf": [
            {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "start": clock,
                    "end": clock,
                    "days": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "integer", "minimum": 1, "maximum": 7},
                    },
                    "timezone": {"type": "string", "x-format": "IANA time zone name"},
                },
                "x-start-before-end": True,
            },
            {"type": "null"},
        ]
    }
    schema["x-min-delay-at-most-max-delay"] = "after merging with the stored settings"


class SettingsPatch(BaseModel):
    """Fields given are changed; limits merge per action type; ``workingHours: null`` = any time."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_settings_schema)

    dailyLimits: dict[str, int] | None = None
    weeklyLimits: dict[str, int] | None = None
    minDelaySeconds: float | None = None
    maxDelaySeconds: float | None = None
    workingHours: WorkingHours | None = None
    userId: str | None = Field(default=None, max_length=64)


class SettingsData(BaseModel):
    dailyLimits: dict[str, int]
    weeklyLimits: dict[str, int]
    minDelaySeconds: float
    maxDelaySeconds: float
    workingHours: WorkingHours | None
    connected: bool
    governor: GovernorView | None = None


class SettingsResponse(BaseModel):
    userId: str
    success: bool
    data: SettingsData
