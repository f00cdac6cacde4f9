"""schemathesis hooks for the CI fuzz test (loaded through ``SCHEMATHESIS_HOOKS``).

1. A generator for ``format: phone``, a format the document names beyond JSON Schema's own.
2. Generated cases made to honour the document's ``x-`` notes, the constraints JSON Schema
   cannot state (relative times, references between steps of one workflow, server-issued
   page tokens, property-name patterns the 3.0 document can only note). Data breaking them
   is invalid by the document, so the positive-data check must not be fed it.
3. No traffic leaves the machine: every URL or host a case names is pointed at the discard
   port on loopback (the fuzz stack's vendor base URLs are too), and tool runs are started
   asynchronously so no request waits on one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from hypothesis import strategies as st

LOOPBACK = "http://127.0.0.1:9/"
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
RESERVED = ("host", "content-length", "content-type", "user-agent", "transfer-encoding")
RESERVED_PREFIXES = ("x-webhook-", "webhook-", "connection")
SERVER_ISSUED = ("pageToken", "cursor")
FUTURE_FIELDS = ("scheduledAt", "expires_at")
TOOL_RUNS = ("/api/v1/tools/execute", "/api/v1/connectors/{id}/actions/{action}")

schemathesis.openapi.format(
    "phone",
    st.from_regex(r"\A\+1[- ]?[2-9][0-9]{2}[- ]?[0-9]{3}[- ]?[0-9]{4}\Z"),
)


def _local(value: Any) -> Any:
    """Every URL (and SMTP-style host) pointed at loopback, however deep."""
    if isinstance(value, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value):
        return LOOPBACK
    if isinstance(value, list):
        return [_local(v) for v in value]
    if isinstance(value, dict):
        return {k: ("127.0.0.1" if k == "host" else _local(v)) for k, v in value.items()}
    return value


def _soon(value: Any) -> Any:
    """``x-at-most-from-now`` / ``x-must-be: in the future``: a time a day from now."""
    if value is None:
        return None
    return (datetime.now(UTC) + timedelta(days=1)).isoformat()


def _definition(definition: Any) -> Any:
    """``x-unique-step-names``, ``x-step-references``, ``x-expressions``: unique names,
    no references to other steps, plain expressions."""
    if not isinstance(definition, dict) or not isinstance(definition.get("steps"), list):
        return definition
    definition.pop("output", None)
    for i, step in enumerate(definition["steps"]):
        if not isinstance(step, dict):
            continue
        step["name"] = f"s{i}"
        step.pop("dependsOn", None)
        step.pop("if", None)
        config = step.get("config")
        if step.get("type") == "condition" and isinstance(config, dict):
            config.update(expression="input.x == 1", then=[], **{"else": []})
    return definition


def _webhook_headers(headers: Any) -> Any:
    """``x-propertyNames`` / ``x-reserved-headers`` (the 3.0 document can only note them)."""
    if not isinstance(headers, dict):
        return headers
    return {
        k: v
        for k, v in headers.items()
        if HEADER_NAME.match(k)
        and k.lower() not in RESERVED
        and not k.lower().startswith(RESERVED_PREFIXES)
    }


def _linkedin_settings(body: dict[str, Any]) -> None:
    """``x-min-delay-at-most-max-delay`` (against the stored 45 s / 150 s defaults too),
    ``x-start-before-end`` and the IANA zone of working hours."""
    if isinstance(body.get("minDelaySeconds"), int | float):
        body["minDelaySeconds"] = float(body["minDelaySeconds"]) % 45
    if isinstance(body.get("maxDelaySeconds"), int | float):
        body["maxDelaySeconds"] = 150 + float(body["maxDelaySeconds"]) % 1000
    hours = body.get("workingHours")
    if isinstance(hours, dict):
        if "start" in hours and "end" in hours:
            hours["start"], hours["end"] = "09:00", "18:00"
        elif "start" in hours:
            hours["start"] = "09:00"
        elif "end" in hours:
            hours["end"] = "18:00"
        if "timezone" in hours:
            hours["timezone"] = "Europe/Berlin"


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    path = case.operation.path
    if isinstance(case.query, dict):
        for name in SERVER_ISSUED:
            case.query.pop(name, None)
    body = case.body
    if not isinstance(body, dict):
        return case
    body = _local(body)
    for name in FUTURE_FIELDS:
        if name in body:
            body[name] = _soon(body[name])
    if isinstance(body.get("definition"), dict):
        body["definition"] = _definition(body["definition"])
    if path.startswith("/api/v1/webhooks") and "headers" in body:
        body["headers"] = _webhook_headers(body["headers"])
    if path == "/api/v2/linkedin/settings":
        _linkedin_settings(body)
    if path in TOOL_RUNS:
        body["async"] = True
    case.body = body
    return case


@schemathesis.hook("map_case")
def zones_and_keys(context: Any, case: Any) -> Any:
    """``x-format: IANA time zone name`` and ``x-provider-keys`` (no operator keys here)."""
    body = case.body
    if isinstance(body, dict):
        if isinstance(body.get("timezone"), str):
            body["timezone"] = "Europe/Berlin"
        if isinstance(body.get("providers"), list):
            body["providers"] = ["local"]
    return case
