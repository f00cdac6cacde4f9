"""Unipile's report of the account a member linked (the user-integrations API).

After LinkedIn's sign-in, the member signs in at Unipile's hosted page (its link was
created by the connect activity, with a notify URL carrying a secret state of ours).
Unipile then calls ``POST …/linkedin/automation/notify?state=…`` server to server with
``{status: "CREATION_SUCCESS", account_id, name}``. The state is checked before the body
is read, works once, before it expires, and only with the ``name`` issued with it; the
account is linked to the user the state was issued for, unless another user holds it
(409 ``AUTOMATION_ACCOUNT_IN_USE``). Its profile is then read on a worker.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field
from temporalio.service import RPCError

from api.errors import BadRequest
from api.linkedin.models import ACCOUNT_PATTERN
from api.state import Services
from engine.models import queues
from engine.services.linkedin import read_automation_profile
from store import linkedin as store
from store import linkedin_links

log = logging.getLogger("taskyard.api")
LINKED = "CREATION_SUCCESS"


class NotifyQuery(BaseModel):
    state: str = Field(min_length=1, max_length=200)


class AutomationNotice(BaseModel):
    """What Unipile's hosted sign-in sends to ``notify_url``."""

    model_config = ConfigDict(extra="ignore")

    status: str = Field(max_length=60)
    account_id: str = Field(pattern=ACCOUNT_PATTERN, max_length=100)
    name: str = Field(min_length=1, max_length=64)


class Notified(BaseModel):
    success: bool


def invalid_state(reason: str) -> BadRequest:
    return BadRequest(f"Invalid automation state: {reason}", code="INVALID_AUTOMATION_STATE")


async def check_state(s: Services, state: str) -> None:
    """Unknown, used or expired notify states are refused before anything else is read."""
    try:
        await linkedin_links.open_state(s.db, state)
    except linkedin_links.StateError as exc:
        raise invalid_state(exc.message) from exc


async def notified(s: Services, state: str, notice: AutomationNotice) -> Notified:
    """Link the account Unipile reports to the user the state was issued for."""
    if notice.status != LINKED:
        raise BadRequest(
            f"Only {LINKED} links an account (got {notice.status!r})",
            code="UNSUPPORTED_NOTIFICATION",
        )
    try:
        link = await linkedin_links.consume(s.db, state, notice.name, notice.account_id)
    except linkedin_links.StateError as exc:
        raise invalid_state(exc.message) from exc
    await store.link_automation_account(s.db, link.user_id, notice.account_id)
    try:
        await read_automation_profile(
            s.temporal,
            user_id=link.user_id,
            link_hash=link.state_hash,
            queue=queues.task_queue(s.settings.task_queue_prefix, queues.LINKEDIN),
        )
    except RPCError as exc:  # the account is linked; only its profile waits
        log.warning("could not start reading the automation account's profile: %s", exc)
    return Notified(success=True)
