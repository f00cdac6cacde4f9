"""Keeping secrets out of workflow history.

Before a job starts, the secret-looking parts of what it was given are encrypted into a
``sealed_secrets`` row and the workflow carries only that row's id; the activity opens it.
Secret-looking means:

- a parameter named like a credential (``auth``, ``password``, ``token``, ``client_secret``,
  ``access_token``, …) — ``auth`` member by member where some members are templates;
- inside ``headers``, ``query``, ``body``, ``json``, ``data`` and ``form``: every member
  named like one (``Authorization``, ``X-Auth-Key``, ``api_key``, ``access_token``…);
- a URL (any parameter whose name ends in ``url``, ``uri`` or ``endpoint``) with a user and
  password in it or a credential-like query parameter: the whole URL is sealed and shown
  with those parts as ``********``;
- a Discord webhook URL, wherever it is (its last path segment is the webhook's token).

An execution's input is split the same way at its top level: fields the definition
declares secret, fields named like credentials, and fields a secret-shaped part of a
step's config reads (``"Bearer {{input.token}}"``) are sealed; the run sees
placeholders for them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from engine.models.runs import REDACTED, Plan, WorkflowRunInput
from store import secret_repo
from store.db import Database
from store.models import SealedSecret
from store.vault import Vault, associated_data

SENSITIVE_NAME = re.compile(
    r"(authorization|(^|[-_])auth($|[-_])|cookie|token|secret|passw|api[-_]?key|apikey|"
    r"signature|session|credential|private[-_]?key|(^|[-_])key$)",
    re.I,
)
NESTED = ("headers", "query", "body", "json", "data", "form")
URL_NAME = re.compile(r"(url|uri|endpoint)$", re.I)
DISCORD_WEBHOOK = re.compile(r"^https?://([a-z]+\.)?discord(app)?\.com/api(/v\d+)?/webhooks/", re.I)


def is_secret_name(name: str) -> bool:
    return bool(SENSITIVE_NAME.search(name))


def url_secret(value: Any) -> str | None:
    """The URL as it may be shown, if ``value`` is a URL carrying a secret; else None."""
    if not isinstance(value, str) or "://" not in value:
        return None
    if DISCORD_WEBHOOK.match(value):
        return REDACTED
    try:
        parts = urlsplit(value)
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return None
    secret_query = any(is_secret_name(k) for k, _v in query)
    if parts.password is None and parts.username is None and not secret_query:
        return None
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username is not None:
        netloc = f"{REDACTED}@{netloc}"
    shown_query = urlencode([(k, REDACTED if is_secret_name(k) else v) for k, v in query], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, shown_query, parts.fragment))


def split_secrets(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public, secret) parts of ``params``; merging them back (nested dicts merge, other
    values replace) gives ``params``."""
    public: dict[str, Any] = {}
    secret: dict[str, Any] = {}
    for key, value in params.items():
        shown = url_secret(value)
        if is_secret_name(key):
            secret[key] = value
        elif key in NESTED and isinstance(value, dict):
            public[key] = {k: v for k, v in value.items() if not _hidden(str(k), v)}
            hidden = {k: v for k, v in value.items() if _hidden(str(k), v)}
            if hidden:
                secret[key] = hidden
        elif shown is not None and (URL_NAME.search(key) or DISCORD_WEBHOOK.match(value)):
            public[key] = shown
            secret[key] = value
        else:
            public[key] = value
    return public, secret


def _hidden(name: str, value: Any) -> bool:
    return is_secret_name(name) or url_secret(value) is not None


def split_input(data: dict[str, Any], plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public, secret) top-level input fields of one run of ``plan``; secret fields read
    ``********`` in the public part."""
    keys = [k for k in data if k in plan.secret_inputs or is_secret_name(k)]
    secret = {k: data[k] for k in keys}
    public = {k: (REDACTED if k in secret else v) for k, v in data.items()}
    return public, secret


async def seal(db: Database, vault: Vault, user_id: str, secret: dict[str, Any]) -> str:
    row = SealedSecret(user_id=user_id, ciphertext="")
    row.ciphertext = vault.encrypt_json(secret, associated_data(user_id, "sealed", row.id))
    await db.save(row)
    return row.id


async def open_sealed(db: Database, vault: Vault, user_id: str, sealed_id: str) -> dict[str, Any]:
    """A sealed secret of the user's, opened ({} when it is gone)."""
    row = await secret_repo.get_sealed(db, user_id, sealed_id)
    if row is None:
        return {}
    return dict(vault.decrypt_json(row.ciphertext, associated_data(user_id, "sealed", row.id)))


async def seal_secret_inputs(
    db: Database, vault: Vault, run: WorkflowRunInput, *, sealed_id: str | None = None
) -> None:
    """Move the run's secret input fields into a sealed secret; the run keeps their names.

    ``sealed_id`` is the sealed secret an earlier run of the same input was given (a retry,
    a schedule moved to a new version): fields that read ``********`` keep their values
    from it, and it is reused as is when nothing new is secret.
    """
    public, secret = split_input(run.input, run.plan)
    if not secret:
        return
    fresh = {k: v for k, v in secret.items() if v != REDACTED}
    if fresh or sealed_id is None:
        earlier = await open_sealed(db, vault, run.user_id, sealed_id) if sealed_id else {}
        kept = {k: earlier[k] for k in secret if k not in fresh and k in earlier}
        sealed_id = await seal(db, vault, run.user_id, {**kept, **fresh})
    run.input = public
    run.secret_input_keys = list(secret)
    run.secret_input_id = sealed_id
