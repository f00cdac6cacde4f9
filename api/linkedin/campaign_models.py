"""What the LinkedIn campaign and event routes read and return."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.linkedin.models import MAX_BULK
from engine.models.campaigns import MAX_STEPS, CampaignSettings, CampaignStep
from store.campaigns import LinkedInCampaign, LinkedInEnrollment
from store.db import as_utc

CampaignStatus = Literal["draft", "running", "paused", "completed", "cancelled"]


def iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


class LeadFilterBody(BaseModel):
    """The user's stored leads (with a LinkedIn URL) matching all the given fields."""

    model_config = ConfigDict(extra="forbid")

    search: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=300)
    status: str | None = Field(default=None, max_length=20)
    tag: str | None = Field(default=None, max_length=100)


class TargetFields(BaseModel):
    profileUrls: list[str] = Field(default_factory=list, max_length=MAX_BULK)
    leads: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_BULK)
    leadIds: list[str] = Field(default_factory=list, max_length=MAX_BULK)
    leadFilter: LeadFilterBody | None = None

    @model_validator(mode="after")
    def _size(self) -> TargetFields:
        if len(self.profileUrls) + len(self.leads) + len(self.leadIds) > MAX_BULK:
            raise ValueError(f"at most {MAX_BULK} targets per request")
        if any(len(u) > 500 for u in self.profileUrls) or any(len(i) > 64 for i in self.leadIds):
            raise ValueError("a profile URL is at most 500 characters, a lead id 64")
        return self


class TargetsBody(TargetFields):
    """Targets to add: profile URLs, inline leads, stored lead ids, or a lead filter."""

    # The document says what the validator below enforces: at least one non-empty source.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["profileUrls"], "properties": {"profileUrls": {"minItems": 1}}},
                {"required": ["leads"], "properties": {"leads": {"minItems": 1}}},
                {"required": ["leadIds"], "properties": {"leadIds": {"minItems": 1}}},
                {"required": ["leadFilter"], "properties": {"leadFilter": {"type": "object"}}},
            ]
        }
    )

    userId: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _some(self) -> TargetsBody:
        if not (self.profileUrls or self.leads or self.leadIds or self.leadFilter):
            raise ValueError("give profileUrls, leads, leadIds or leadFilter")
        return self


class CampaignCreate(BaseModel):
    """A campaign: its steps (at most 20), sending accounts (default: the user's connected
    account), settings (default: the account's) and, optionally, its first targets."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    steps: list[CampaignStep] = Field(min_length=1, max_length=MAX_STEPS)
    accountIds: list[str] | None = Field(default=None, max_length=10)
    settings: CampaignSettings | None = None
    targets: TargetFields | None = None
    userId: str | None = Field(default=None, max_length=64)


class CampaignPatch(BaseModel):
    """Change a draft: fields given replace the campaign's."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    steps: list[CampaignStep] | None = Field(default=None, min_length=1, max_length=MAX_STEPS)
    accountIds: list[str] | None = Field(default=None, max_length=10)
    settings: CampaignSettings | None = None
    userId: str | None = Field(default=None, max_length=64)


class UserBody(BaseModel):
    """Start, pause, resume, cancel: a global key names the user here or in the query."""

    userId: str | None = Field(default=None, max_length=64)


class CampaignQuery(BaseModel):
    status: CampaignStatus | None = None
    limit: int = Field(default=20, ge=1, le=100)
    pageToken: str | None = Field(default=None, max_length=4096)
    userId: str | None = Field(default=None, max_length=64)


class TargetCounts(BaseModel):
    total: int
    byStatus: dict[str, int]


class CampaignOut(BaseModel):
    id: str
    name: str
    status: str
    accountIds: list[str]
    steps: list[dict[str, Any]]
    settings: dict[str, Any]
    pauseReason: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None
    startedAt: str | None = None
    finishedAt: str | None = None
    targets: TargetCounts | None = None


def campaign_out(row: LinkedInCampaign, counts: dict[str, Any] | None = None) -> CampaignOut:
    targets = None
    if counts is not None:
        by_status = counts["byStatus"]
        targets = TargetCounts(total=sum(by_status.values()), byStatus=by_status)
    return CampaignOut(
        id=row.id,
        name=row.name,
        status=row.status,
        accountIds=list(row.account_ids),
        steps=list(row.steps),
        settings=dict(row.settings),
        pauseReason=row.pause_reason,
        createdAt=iso(row.created_at),
        updatedAt=iso(row.updated_at),
        startedAt=iso(row.started_at),
        finishedAt=iso(row.finished_at),
        targets=targets,
    )


class CampaignResponse(BaseModel):
    userId: str
    success: bool
    data: CampaignOut


class Pagination(BaseModel):
    limit: int
    nextPageToken: str | None = None
    hasMore: bool


class CampaignListData(BaseModel):
    campaigns: list[CampaignOut]
    pagination: Pagination


class CampaignListResponse(BaseModel):
    userId: str
    success: bool
    data: CampaignListData


class TargetsAdded(BaseModel):
    campaignId: str
    added: int
    duplicates: int
    enrolled: int


class TargetsAddedResponse(BaseModel):
    userId: str
    success: bool
    data: TargetsAdded


class Started(BaseModel):
    campaignId: str
    status: str
    enrolled: int


class StartedResponse(BaseModel):
    userId: str
    success: bool
    data: Started


class Removed(BaseModel):
    campaignId: str
    enrollmentId: str
    leadId: str | None = None
    profileUrl: str
    status: str


def removed_out(row: LinkedInEnrollment) -> Removed:
    return Removed(
        campaignId=row.campaign_id,
        enrollmentId=row.id,
        leadId=row.lead_id,
        profileUrl=row.profile_url,
        status=row.status,
    )


class RemovedResponse(BaseModel):
    userId: str
    success: bool
    data: Removed


class Rates(BaseModel):
    enrolled: int
    invited: int
    accepted: int
    messaged: int
    replied: int
    acceptanceRate: float
    replyRate: float


class AccountStats(Rates):
    accountId: str


class StepStats(BaseModel):
    index: int
    type: str
    name: str | None = None
    reached: int
    outcomes: dict[str, int]


class CampaignStats(Rates):
    campaignId: str
    status: str
    byStatus: dict[str, int]
    accounts: list[AccountStats]
    steps: list[StepStats]
    workflows: dict[str, int]


class StatsResponse(BaseModel):
    userId: str
    success: bool
    data: CampaignStats


# ---- events -------------------------------------------------------------------------------


class SandboxEvent(BaseModel):
    """Fire a provider event by hand for the caller's sandbox account."""

    model_config = ConfigDict(extra="forbid")

    type: Literal[
        "invitation.accepted",
        "message.received",
        "account.restricted",
        "account.disconnected",
        "account.running",
    ]
    profileUrl: str | None = Field(default=None, max_length=500)
    text: str | None = Field(default=None, max_length=2000)
    eventId: str | None = Field(default=None, min_length=1, max_length=100)
    userId: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _member(self) -> SandboxEvent:
        if self.type in ("invitation.accepted", "message.received") and not self.profileUrl:
            raise ValueError(f"{self.type} needs the member's profileUrl")
        return self


class EventReceived(BaseModel):
    eventId: str | None = None
    received: bool = True
    duplicate: bool = False
    ignored: bool = False
    matched: int = 0


class SandboxEventResponse(BaseModel):
    userId: str
    success: bool
    data: EventReceived
