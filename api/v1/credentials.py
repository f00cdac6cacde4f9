"""Credentials (workflows API): create, list, read, update, delete (never showing a secret)
and test.

Data is checked against the connector's declared credential fields, encrypted
at rest, and shown back only as ``dataPreview`` (declared non-secret fields in
full, everything else as at most its last four characters). The test call runs
as a short ``tool_execution`` job, because the API never calls a connector.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api import bodies
from api.auth import require
from api.catalog_schemas import with_credentials
from api.errors import BadRequest, NotFound
from api.spec import operation
from api.state import services
from api.v1.acting import user_for
from engine.models import queues, summaries
from engine.models.fairness import INTERACTIVE
from engine.models.tools import CREDENTIAL_TEST_WORKFLOW, CredentialTestInput, CredentialTestOutput
from engine.services import catalog
from store import credentials as store
from store.db import as_utc

TAG = "Credentials"
MAX_DATA_BYTES = 64 * 1024
TEST_WAIT_SECONDS = 60.0


def _small(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str)) > MAX_DATA_BYTES:
        raise ValueError(f"must be at most {MAX_DATA_BYTES} bytes of JSON")
    return value


class CreateCredential(BaseModel):
    model_config = ConfigDict(json_schema_extra=with_credentials)

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    type: str | None = Field(default=None, max_length=40)
    provider: str = Field(min_length=1, max_length=60)
    data: dict[str, Any] = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    userId: str | None = None

    _size = field_validator("data", "metadata")(_small)


class UpdateCredential(BaseModel):
    """``data`` merges field by field; a field set to null is removed."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    data: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None

    _size = field_validator("data", "metadata")(lambda v: _small(v) if v is not None else v)


class CredentialPublic(BaseModel):
    id: str
    name: str
    description: str | None
    type: str
    provider: str
    metadata: dict[str, Any]
    dataPreview: dict[str, str]
    createdAt: datetime
    updatedAt: datetime


class CredentialTestResult(BaseModel):
    success: bool
    credentialId: str
    executionId: str
    details: dict[str, Any] | None = None
    error: str | None = None
    errorType: str | None = None


class Deleted(BaseModel):
    success: bool
    id: str


def public(row: store.Credential) -> dict[str, Any]:
    return CredentialPublic(
        id=row.id,
        name=row.name,
        description=row.description,
        type=row.type,
        provider=row.provider,
        metadata=row.meta,
        dataPreview=row.previews,
        createdAt=as_utc(row.created_at),
        updatedAt=as_utc(row.updated_at),  # type: ignore[arg-type]
    ).model_dump(mode="json")


def toolkit_for(provider: str) -> catalog.Toolkit:
    kit = catalog.toolkit(provider)
    if kit is None:
        raise BadRequest(f"Unknown provider {provider!r}", code="UNKNOWN_PROVIDER")
    return kit


def check_fields(kit: catalog.Toolkit, data: dict[str, Any]) -> None:
    """Every required field present and non-empty."""
    missing = kit.missing_fields(data)
    if missing:
        raise BadRequest(
            f"Missing required {kit.type} credential fields: {', '.join(missing)}",
            code="MISSING_CREDENTIAL_FIELDS",
            details={"missing": missing, "required": kit.required_fields()},
        )


async def owned(request: Request, user_id: str) -> store.Credential:
    row = await store.get_owned(services(request).db, user_id, request.path_params["id"])
    if row is None:
        raise NotFound("Credential not found", code="CREDENTIAL_NOT_FOUND")
    return row


@operation(
    "Create a credential",
    tag=TAG,
    scope="credentials:write",
    body=CreateCredential,
    responses={201: CredentialPublic},
)
async def create_credential(request: Request) -> JSONResponse:
    require(request, "credentials:write")
    data = await bodies.read(request, CreateCredential)
    user_id = await user_for(request, "credentials:write", data.userId)
    kit = toolkit_for(data.provider)
    if data.type is not None and data.type != kit.credential_type:
        raise BadRequest(
            f"{kit.type} credentials are of type {kit.credential_type!r}",
            code="CREDENTIAL_TYPE_MISMATCH",
        )
    check_fields(kit, data.data)
    s = services(request)
    row = await store.create(
        s.db,
        s.vault,
        user_id=user_id,
        name=data.name,
        description=data.description,
        type=kit.credential_type,
        provider=kit.type,
        data=data.data,
        metadata=data.metadata,
        public_fields=kit.public_fields(),
    )
    return JSONResponse(public(row), status_code=201)


@operation(
    "List credentials (sanitized)",
    tag=TAG,
    scope="credentials:read",
    responses={200: list[CredentialPublic]},
)
async def list_credentials(request: Request) -> JSONResponse:
    user_id = await user_for(request, "credentials:read")
    rows = await store.list_owned(services(request).db, user_id)
    return JSONResponse([public(r) for r in rows])


@operation(
    "Get a credential (sanitized)",
    tag=TAG,
    scope="credentials:read",
    responses={200: CredentialPublic},
)
async def get_credential(request: Request) -> JSONResponse:
    user_id = await user_for(request, "credentials:read")
    return JSONResponse(public(await owned(request, user_id)))


@operation(
    "Update a credential",
    tag=TAG,
    scope="credentials:write",
    body=UpdateCredential,
    responses={200: CredentialPublic},
)
async def update_credential(request: Request) -> JSONResponse:
    user_id = await user_for(request, "credentials:write")
    data = await bodies.read(request, UpdateCredential)
    row = await owned(request, user_id)
    kit = toolkit_for(row.provider)
    s = services(request)
    merged: dict[str, Any] | None = None
    if data.data is not None:
        merged = {**store.open_data(s.vault, row), **data.data}
        merged = {k: v for k, v in merged.items() if v is not None}
        check_fields(kit, merged)
    changes: dict[str, Any] = {
        k: v for k, v in (("name", data.name), ("meta", data.metadata)) if v is not None
    }
    if "description" in data.model_fields_set:
        changes["description"] = data.description
    row = await store.update(
        s.db, s.vault, row, changes=changes, data=merged, public_fields=kit.public_fields()
    )
    return JSONResponse(public(row))


@operation("Delete a credential", tag=TAG, scope="credentials:write", responses={200: Deleted})
async def delete_credential(request: Request) -> JSONResponse:
    user_id = await user_for(request, "credentials:write")
    row = await owned(request, user_id)
    await store.delete(services(request).db, row)
    return JSONResponse(Deleted(success=True, id=row.id).model_dump())


@operation(
    "Test a credential with its connector's cheap call",
    tag=TAG,
    scope="credentials:write",
    responses={200: CredentialTestResult},
    description="Calls out to the vendor with the stored secret, so it needs the write scope.",
)
async def test_credential(request: Request) -> JSONResponse:
    user_id = await user_for(request, "credentials:write")
    row = await owned(request, user_id)
    kit = toolkit_for(row.provider)
    if not kit.testable:
        raise BadRequest(f"{kit.name} credentials have no test call", code="TEST_NOT_SUPPORTED")
    s = services(request)
    execution_id = "exec_" + uuid.uuid4().hex
    handle = await s.jobs.start(
        CREDENTIAL_TEST_WORKFLOW,
        CredentialTestInput(
            user_id=user_id,
            credential_id=row.id,
            provider=row.provider,
            timeout_seconds=s.settings.http_timeout_seconds + 30,
            heartbeat_timeout_seconds=s.settings.activity_heartbeat_timeout_seconds,
        ),
        job_id=execution_id,
        user_id=user_id,
        job_type="tool_execution",
        queue=queues.TOOLS,
        message=f"Queued {kit.type} credential test",
        metadata={"credentialId": row.id, "provider": row.provider},
        result_type=CredentialTestOutput,
        summary=summaries.credential_test(row.provider),
        priority=await s.jobs.priority(user_id, INTERACTIVE),  # the caller waits for it
    )
    try:
        outcome = await asyncio.wait_for(s.jobs.outcome(handle), TEST_WAIT_SECONDS)
    except TimeoutError:
        return JSONResponse({"executionId": execution_id, "status": "running"}, status_code=202)
    result = CredentialTestResult(
        success=outcome.successful,
        credentialId=row.id,
        executionId=execution_id,
        details=outcome.data if outcome.successful else None,
        error=outcome.error,
        errorType=outcome.error_type,
    )
    return JSONResponse(result.model_dump(mode="json"))


routes = [
    Route("/api/v1/credentials", create_credential, methods=["POST"]),
    Route("/api/v1/credentials", list_credentials, methods=["GET"]),
    Route("/api/v1/credentials/{id}", get_credential, methods=["GET"]),
    Route("/api/v1/credentials/{id}", update_credential, methods=["PATCH"]),
    Route("/api/v1/credentials/{id}", delete_credential, methods=["DELETE"]),
    Route("/api/v1/credentials/{id}/test", test_credential, methods=["POST"]),
]
