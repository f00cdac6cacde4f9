"""Client helpers the API uses to reach LinkedIn: workflows (governors, actions, connects),
the URL rules of ``connectors.linkedin`` and the sign-in page of the provider in use."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from connectors import linkedin, linkedin_sandbox
from connectors.errors import InvalidInputError
from engine.models import fairness, queues, summaries
from engine.models.linkedin import (
    ACTION_WORKFLOW,
    CONNECT_WORKFLOW,
    GOVERNOR_WORKFLOW,
    QUERY_VIEW,
    SIGNAL_DISCONNECT,
    UPDATE_CONFIGURE,
    ConnectInput,
    ConnectOutput,
    GovernorInput,
    GovernorView,
    LinkedInActionInput,
    LinkedInActionOutput,
    LinkedInSettings,
    connect_workflow_id,
    governor_id,
)
from engine.services.jobs import JobService

JOB_TYPE = "linkedin_action"
NOTE_LIMIT = 300  # LinkedIn's limit for a connection request note
DEFAULT_SCOPES: tuple[str, ...] = linkedin.DEFAULT_SCOPES
SANDBOX_CLIENT_ID = linkedin_sandbox.CLIENT_ID


def profile_url(value: str) -> str:
    """``https://www.linkedin.com/in/<name>`` for a member profile URL; else ValueError."""
    try:
        return linkedin.normalize_profile_url(value)
    except InvalidInputError as exc:
        raise ValueError(exc.message) from exc


def check_post_url(value: str) -> str:
    """The URL trimmed, if it names a LinkedIn post; else ValueError."""
    try:
        linkedin.post_id(value)
    except InvalidInputError as exc:
        raise ValueError(exc.message) from exc
    return value.strip()


def check_note(value: str | None) -> str | None:
    if value is not None and len(value) > NOTE_LIMIT:
        raise ValueError(
            f"a connection note is at most {NOTE_LIMIT} characters (LinkedIn's limit); "
            f"this one has {len(value)}"
        )
    return value


def sign_in_url(
    auth_url: str, *, client_id: str, redirect_uri: str, state: str, scopes: list[str]
) -> str:
    """The page the member approves access on (LinkedIn's, or the sandbox's own)."""
    return linkedin.authorization_url(
        auth_url, client_id=client_id, redirect_uri=redirect_uri, state=state, scopes=scopes
    )


def sandbox_consent_code(state: str) -> str:
    """The code the sandbox consent page hands back for ``state``, as LinkedIn's would."""
    return linkedin_sandbox.consent_code(state)


def _governor_start(
    account_id: str, settings: LinkedInSettings, queue: str, user_id: str | None
) -> dict[str, Any]:
    return {
        "id": governor_id(account_id),
        "task_queue": queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "static_summary": summaries.linkedin_governor(account_id),
        # Control work its actions wait on: the system class, under the owner's key.
        "priority": fairness.job_priority(
            fairness.fairness_key(user_id or f"linkedin:{account_id}"), fairness.SYSTEM
        ),
    }


async def ensure_governor(
    client: Client,
    *,
    account_id: str,
    settings: LinkedInSettings,
    queue: str,
    user_id: str | None = None,
) -> None:
    """Start the account's governor unless it runs (then the settings given are not used)."""
    await client.start_workflow(
        GOVERNOR_WORKFLOW,
        GovernorInput(account_id=account_id, settings=settings),
        **_governor_start(account_id, settings, queue, user_id),
    )


async def configure_governor(
    client: Client,
    *,
    account_id: str,
    settings: LinkedInSettings,
    queue: str,
    user_id: str | None = None,
) -> LinkedInSettings:
    """Apply settings to the running governor (starting it if needed); returns once applied."""
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        GOVERNOR_WORKFLOW,
        GovernorInput(account_id=account_id, settings=settings),
        **_governor_start(account_id, settings, queue, user_id),
    )
    applied: LinkedInSettings = await client.execute_update_with_start_workflow(
        UPDATE_CONFIGURE, settings, start_workflow_operation=start, result_type=LinkedInSettings
    )
    return applied


def _missing(exc: RPCError) -> bool:
    return exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION)


async def governor_view(client: Client, account_id: str) -> GovernorView | None:
    """The governor's live state, or None if it has never run."""
    try:
        view: GovernorView = await client.get_workflow_handle(governor_id(account_id)).query(
            QUERY_VIEW, result_type=GovernorView
        )
        return view
    except RPCError as exc:
        if _missing(exc):
            return None
        raise


async def disconnect_governor(client: Client, account_id: str) -> None:
    """Reject the account's queued actions (they cannot run without the account)."""
    try:
        await client.get_workflow_handle(governor_id(account_id)).signal(SIGNAL_DISCONNECT)
    except RPCError as exc:
        if not _missing(exc):
            raise


async def run_connect(
    client: Client, *, user_id: str, state_hash: str, queue: str, timeout: float = 90.0
) -> ConnectOutput:
    """Run the connect workflow for a consumed state and wait for the stored account."""
    out: ConnectOutput = await client.execute_workflow(
        CONNECT_WORKFLOW,
        ConnectInput(user_id=user_id, state_hash=state_hash),
        result_type=ConnectOutput,
        id=connect_workflow_id(state_hash),
        task_queue=queue,
        execution_timeout=timedelta(seconds=timeout),
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        static_summary="LinkedIn connect",
        # A person waits at the OAuth callback for it.
        priority=fairness.job_priority(fairness.fairness_key(user_id), fairness.SYSTEM),
    )
    return out


async def read_automation_profile(
    client: Client, *, user_id: str, link_hash: str, queue: str
) -> None:
    """Start reading the profile of the provider account a hosted sign-in just linked (the
    connect workflow's ``automation`` run); it does not wait for it."""
    await client.start_workflow(
        CONNECT_WORKFLOW,
        ConnectInput(user_id=user_id, state_hash=link_hash, automation=True),
        id=connect_workflow_id(link_hash),
        task_queue=queue,
        execution_timeout=timedelta(seconds=90),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def start_action(
    jobs: JobService,
    data: LinkedInActionInput,
    *,
    job_id: str,
    message: str,
    bulk: bool = False,
) -> WorkflowHandle[Any, LinkedInActionOutput]:
    """Start one action job; it asks the governor for its slot itself. A single action is
    interactive, one of a campaign (``bulk``) is bulk work."""
    priority = await jobs.priority(data.user_id, fairness.BULK if bulk else fairness.INTERACTIVE)
    return await jobs.start(
        ACTION_WORKFLOW,
        data,
        job_id=job_id,
        user_id=data.user_id,
        job_type=JOB_TYPE,
        queue=queues.LINKEDIN,
        message=message,
        metadata={
            "actionType": data.action_type,
            "profileUrl": data.profile_url,
            "provider": data.provider,
            "delay": None,
            **data.metadata,
        },
        result_type=LinkedInActionOutput,
        summary=summaries.linkedin_action(data.action_type, data.profile_url, data.account_id),
        priority=priority,
    )
