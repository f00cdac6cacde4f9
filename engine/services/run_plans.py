"""What a ``workflow_run`` is started with: a version's compiled plan, the run's input, and
the check that every credential and connector it names is the caller's own.

Shared by executions started from the API (``engine.services.runs``) and by schedules
(``engine.services.workflow_schedules``).
"""

from __future__ import annotations

from typing import Any

from connectors.registry import find_tool
from engine.models.runs import Plan, WorkflowRunInput, json_size
from engine.services.definitions import DefinitionError, compile_plan, validate
from settings import Settings
from store import credentials
from store import linkedin as linkedin_accounts
from store.db import Database
from store.errors import InvalidError
from store.workflows import WorkflowVersion

MAX_INPUT_BYTES = 256 * 1024

# A version never changes, so its compiled plan is kept (a small FIFO per API process).
PLAN_CACHE = 256
_plans: dict[tuple[str, int], Plan] = {}


class InvalidDefinition(InvalidError):
    """A definition that cannot be saved or run; ``details["errors"]`` names each step and
    field."""

    code = "INVALID_DEFINITION"


class InputTooLarge(InvalidError):
    code = "INPUT_TOO_LARGE"


class InvalidRunCredentials(InvalidError):
    """A step names a credential or connector the caller does not own, or none it needs."""

    code = "INVALID_CREDENTIALS"


def invalid_definition(exc: DefinitionError) -> InvalidDefinition:
    return InvalidDefinition(
        "Invalid workflow definition: " + str(exc),
        details={"errors": [p.as_dict() for p in exc.problems]},
    )


def check_definition(data: Any) -> None:
    """Step-by-step validation of a definition as sent, so a 422 names the step and field."""
    try:
        validate(data)
    except DefinitionError as exc:
        raise invalid_definition(exc) from exc


def cached_plans() -> dict[tuple[str, int], Plan]:
    """The compiled plans kept by (workflow id, version)."""
    return _plans


def compiled(version: WorkflowVersion) -> Plan:
    """The plan of a stored version, compiled once per process."""
    key = (version.workflow_id, version.version)
    plan = _plans.get(key)
    if plan is None:
        try:
            plan = compile_plan(version.definition, {k: v["id"] for k, v in version.sealed.items()})
        except DefinitionError as exc:  # a connector or action went away since it was saved
            raise invalid_definition(exc) from exc
        if len(_plans) >= PLAN_CACHE:
            _plans.pop(next(iter(_plans)))
        _plans[key] = plan
    return plan


def run_input(
    settings: Settings,
    user_id: str,
    workflow_id: str,
    version: int,
    plan: Plan,
    data: dict[str, Any],
    **extra: Any,
) -> WorkflowRunInput:
    """The input of one run of ``plan``; ``extra`` sets retry, schedule or prior steps."""
    if json_size(data) > MAX_INPUT_BYTES:
        raise InputTooLarge(f"input is larger than {MAX_INPUT_BYTES} bytes")
    return WorkflowRunInput(
        user_id=user_id,
        workflow_id=workflow_id,
        version=version,
        plan=plan,
        input=data,
        history_limit=settings.workflow_history_limit,
        heartbeat_timeout_seconds=settings.activity_heartbeat_timeout_seconds,
        default_timeout_seconds=settings.http_timeout_seconds + 30,
        **extra,
    )


def version_run_input(
    settings: Settings,
    user_id: str,
    version: WorkflowVersion,
    data: dict[str, Any],
    **extra: Any,
) -> WorkflowRunInput:
    """``run_input`` of a stored version's compiled plan."""
    return run_input(
        settings, user_id, version.workflow_id, version.version, compiled(version), data, **extra
    )


def _step_error(step: str, field: str, message: str) -> InvalidRunCredentials:
    return InvalidRunCredentials(
        f"step {step!r}: {field}: {message}",
        details={"errors": [{"step": step, "field": field, "message": message}]},
    )


async def check_credentials(db: Database, user_id: str, plan: Plan) -> None:
    """Every credential and connector a run uses must be the caller's own (else 422), and a
    run with ``linkedin_action`` steps needs the caller's LinkedIn account connected."""
    linkedin = next((s for s in plan.steps if s.kind == "linkedin_action"), None)
    if linkedin is not None:
        account = await linkedin_accounts.get_account(db, user_id)
        if account is None or account.status != "connected":
            raise _step_error(linkedin.name, "type", "LinkedIn is not connected for this user")
    for step in plan.steps:
        found = find_tool(step.tool) if step.tool else None
        if found is None:
            continue
        connector = found[0]
        if step.credential_id and step.credential_id.startswith(credentials.CREDENTIAL_PREFIX):
            if await credentials.get_owned(db, user_id, step.credential_id) is None:
                raise _step_error(step.name, "credentialId", "credential not found")
        elif step.connector_id:
            instance = await credentials.get_instance(db, user_id, step.connector_id)
            if instance is None:
                raise _step_error(step.name, "connectorId", "connector not found")
            if instance.type != connector.type:
                raise _step_error(
                    step.name,
                    "connectorId",
                    f"is a {instance.type} connector, not {connector.type}",
                )
        elif not step.credential_id and connector.requires_credentials:
            raise _step_error(
                step.name,
                "credentialId",
                f"the {connector.type} connector needs credentialId or connectorId",
            )
