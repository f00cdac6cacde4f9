"""Fair share on Temporal's own primitives: who a task belongs to and how urgent it is.

Every workflow Taskyard starts carries a ``temporalio.common.Priority``: its
``fairness_key`` names the tenant (the user, or for the app-integrations API the
app and its end user), its ``fairness_weight`` the tenant's share (an operator
setting per user), and its ``priority_key`` the class of work. Activities and
child workflows inherit it. The task queues then dispatch backlogged tasks by
priority first, and among equal priorities in proportion to each key's weight,
so one tenant's flood no longer stands in front of everyone else's call.

Priority classes (``priority_key``, lower runs first; the server's default is 3):

===  ===========  ===================================================================
 1   system       control work a person waits on: OAuth callbacks, governors
 2   interactive  synchronous tool executions, credential tests, single LinkedIn
                  actions, webhook test sends
 3   normal       asynchronous tool executions, workflow executions, webhook deliveries
 4   bulk         enrichment batches, lead imports, campaign enrollments, scheduled runs
 5   background   only reached by asking ``low`` for bulk work
===  ===========  ===================================================================

A request's optional ``priority`` (``high``, ``normal``, ``low``) moves its job one
class up or down from the kind's default, never above ``interactive``: a tenant can
order its own work, never claim the system class.
"""

from __future__ import annotations

import hashlib
from typing import Literal, get_args

from temporalio.common import Priority

SYSTEM = 1
INTERACTIVE = 2
NORMAL = 3
BULK = 4
BACKGROUND = 5
CLASS_NAMES: dict[int, str] = {
    SYSTEM: "system",
    INTERACTIVE: "interactive",
    NORMAL: "normal",
    BULK: "bulk",
    BACKGROUND: "background",
}

RequestedPriority = Literal["high", "normal", "low"]
REQUESTED_PRIORITIES: tuple[str, ...] = get_args(RequestedPriority)
_SHIFT = {"high": -1, "normal": 0, "low": 1}

# Temporal refuses fairness keys longer than this (bytes).
MAX_KEY_BYTES = 64
# The server clamps weights to this range; the admin API refuses anything outside it.
MIN_WEIGHT = 0.001
MAX_WEIGHT = 1000.0


def fairness_key(user_id: str, *, app_id: str | None = None, end_user_id: str | None = None) -> str:
    """The tenant a task belongs to: the user, or ``app:end user`` for an app's end user.

    A key longer than Temporal's 64 bytes is replaced by a readable prefix and a hash of
    the whole, so two long keys never collide and the UI still hints at whose it is.
    """
    key = user_id if app_id is None else f"{app_id}:{end_user_id or ''}"
    raw = key.encode()
    if len(raw) <= MAX_KEY_BYTES:
        return key
    digest = hashlib.sha256(raw).hexdigest()[:32]
    head = raw[: MAX_KEY_BYTES - len(digest) - 1].decode(errors="ignore")
    return f"{head}~{digest}"


def priority_key(job_class: int, requested: str | None = None) -> int:
    """The kind's class moved by the request's ``high``/``low``, kept within 2..5."""
    shifted = job_class + _SHIFT.get(requested or "normal", 0)
    if job_class == SYSTEM:
        return SYSTEM
    return max(INTERACTIVE, min(BACKGROUND, shifted))


def job_priority(
    key: str,
    job_class: int,
    *,
    requested: str | None = None,
    weight: float | None = None,
    fairness: bool = True,
) -> Priority:
    """The ``Priority`` a start carries. ``fairness`` off (the operator's choice) keeps only
    the class, as a single-tenant deployment wants."""
    level = priority_key(job_class, requested)
    if not fairness:
        return Priority(priority_key=level)
    if weight is not None:
        weight = max(MIN_WEIGHT, min(MAX_WEIGHT, weight))
    return Priority(priority_key=level, fairness_key=key, fairness_weight=weight)


# The class a job kind runs at when its start names none (JobService's default).
DEFAULT_CLASS: dict[str, int] = {
    "tool_execution": NORMAL,
    "workflow_run": NORMAL,
    "webhook_delivery": NORMAL,
    "linkedin_action": INTERACTIVE,
    "data_enrichment": BULK,
    "lead_import": BULK,
    "campaign_enrollment": BULK,
}
