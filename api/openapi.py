"""The OpenAPI 3.1 document, generated from the app's routes and their ``@operation`` metadata.

Every Starlette route appears: its path and methods come from the router, its
summary, scope, body, query and response models from ``api.spec.operation`` on
the handler. Pydantic models become JSON Schema components (OpenAPI 3.1 *is*
JSON Schema 2020-12, so pydantic's output is used as is). A route without
metadata still appears, with a generic description and the default security.
Errors are documented in each family's own shape (``api.errors``).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute, Mount, Route

from api.errors import family
from api.spec import Operation, operation_of

REF = "#/components/schemas/{model}"
PARAM = re.compile(r"{([^}:]+)(?::([^}]+))?}")
CONVERTER_SCHEMAS = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
}
HTTP_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No content",
    302: "Redirect",
    400: "Bad request",
    401: "Missing or invalid API key",
    403: "The key lacks the scope",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    422: "Invalid input",
    429: "Rate limit exceeded",
    502: "Upstream failure",
    503: "Unavailable",
}

SECURITY_SCHEMES: dict[str, Any] = {
    "apiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "A Taskyard API key (`bna_…`). Scopes are listed per "
        "operation; `*` grants all.",
    },
    "bearerApiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "The same API key as `Authorization: Bearer <key>`.",
    },
    "appJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "On /v1/{appId} end-user routes: an HS256 JWT signed with the "
        "app's secret, `sub` the end user, `aud` the app id.",
    },
}
ERROR_SCHEMAS: dict[str, Any] = {
    "ErrorV1": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "code": {"type": "string"}, "details": {}},
    },
    "ErrorV2": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": ["boolean", "string"]},
            "code": {"type": "string"},
            "message": {"type": "string"},
            "version": {"type": "string"},
            "timestamp": {"type": "string"},
            "permissionHelp": {"type": "object"},
            "availableRoute": {"type": "string"},
            "details": {},
        },
    },
    "ErrorApp": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "remediation": {"type": "string"},
                    "details": {},
                },
            }
        },
    },
}
FAMILY_ERROR = {"v1": "ErrorV1", "v2": "ErrorV2", "app": "ErrorApp"}


def walk(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, method, handler) for every HTTP route, mounts included (static files skipped,
    and routes marked ``include_in_schema=False``: the codec's, which speak Temporal's
    protocol)."""
    for route in routes:
        if isinstance(route, Route) and route.include_in_schema:
            for method in sorted(route.methods or ("GET",)):
                if method != "HEAD":
                    yield prefix + route.path, method, route.endpoint
        elif isinstance(route, Mount) and route.routes:
            yield from walk(route.routes, prefix + route.path)


def _model_of(value: Any) -> tuple[type[BaseModel] | None, bool]:
    """(model, is list) of a response type: ``Model`` or ``list[Model]``."""
    if typing.get_origin(value) is list:
        (inner,) = typing.get_args(value)
        return (
            (inner, True)
            if isinstance(inner, type) and issubclass(inner, BaseModel)
            else (None, True)
        )
    if isinstance(value, type) and issubclass(value, BaseModel):
        return value, False
    return None, False


def _components(ops: list[Operation]) -> tuple[dict[Any, Any], dict[str, Any]]:
    wanted: list[tuple[type[BaseModel], Any]] = []
    for op in ops:
        if op.body is not None:
            wanted.append((op.body, "validation"))
        for value in op.responses.values():
            model, _many = _model_of(value)
            if model is not None:
                wanted.append((model, "serialization"))
    wanted = list(dict.fromkeys(wanted))
    if not wanted:
        return {}, {}
    refs, defs = models_json_schema(wanted, ref_template=REF)  # type: ignore[arg-type]
    return refs, defs.get("$defs", {})


def _parameters(path: str, op: Operation | None) -> list[dict[str, Any]]:
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": CONVERTER_SCHEMAS.get(conv or "", {"type": "string"}),
        }
        for name, conv in PARAM.findall(path)
    ]
    if op is not None and op.query is not None:
        schema = op.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            entry: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": {k: v for k, v in prop.items() if k != "title"},
            }
            if "description" in prop:
                entry["description"] = prop["description"]
            params.append(entry)
    return params


def _security(path: str, op: Operation | None) -> list[dict[str, list[str]]]:
    if op is not None and op.scope is None:
        return []
    scopes = [op.scope] if op is not None and op.scope else []
    options = [{"apiKeyHeader": scopes}, {"bearerApiKey": scopes}]
    if family(path) == "app":
        options.append({"appJwt": []})
    return options


def _responses(path: str, op: Operation | None, refs: dict[Any, Any]) -> dict[str, Any]:
    error_ref = {"$ref": REF.format(model=FAMILY_ERROR[family(path)])}
    error = {"description": "Error", "content": {"application/json": {"schema": error_ref}}}
    out: dict[str, Any] = {}
    declared = op.responses if op is not None else {}
    for status, value in sorted(declared.items()):
        model, many = _model_of(value)
        entry: dict[str, Any] = {"description": HTTP_REASONS.get(status, "Response")}
        if model is not None:
            ref = refs[(model, "serialization")]
            entry["content"] = {
                "application/json": {"schema": {"type": "array", "items": ref} if many else ref}
            }
        elif status >= 400:
            entry = {**error, "description": HTTP_REASONS.get(status, "Error")}
        elif many:
            entry["content"] = {"application/json": {"schema": {"type": "array"}}}
        out[str(status)] = entry
    if not any(200 <= s < 400 for s in declared):
        out["200"] = {"description": "Success", "content": {"application/json": {"schema": {}}}}
    out["default"] = error
    return out


def _operation_id(handler: Any, method: str, path: str, seen: set[str]) -> str:
    base = getattr(handler, "__name__", None) or re.sub(r"\W+", "_", f"{method}_{path}")
    candidate = base if base not in seen else f"{base}_{method.lower()}"
    n = 2
    while candidate in seen:
        candidate, n = f"{base}_{n}", n + 1
    seen.add(candidate)
    return candidate


def build_spec(
    routes: Sequence[BaseRoute], *, version: str = "1.0.0", server_url: str | None = None
) -> dict[str, Any]:
    entries = list(walk(routes))
    ops = [op for _p, _m, h in entries if (op := operation_of(h)) is not None]
    refs, schemas = _components(ops)
    paths: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    tags: dict[str, None] = {}
    for path, method, handler in entries:
        op = operation_of(handler)
        doc_path = PARAM.sub(lambda m: "{" + m.group(1) + "}", path)
        item: dict[str, Any] = {
            "operationId": _operation_id(handler, method, path, seen),
            "summary": op.summary if op else f"{method} {doc_path}",
            "description": (
                op.description
                if op
                else "No metadata is declared for this route yet; see the seed docs."
            ),
            "tags": [op.tag if op else "Other"],
            "parameters": _parameters(path, op),
            "security": _security(path, op),
            "responses": _responses(path, op, refs),
        }
        tags[item["tags"][0]] = None
        if op is not None and op.scope:
            item["x-required-scope"] = op.scope
        if op is not None and op.global_key is not None:
            item["x-global-key"] = "required" if op.global_key else "refused"
        if op is not None and op.body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        elif op is None and method in ("POST", "PUT", "PATCH"):
            item["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": {}}},
            }
        paths.setdefault(doc_path, {})[method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Taskyard API",
            "version": version,
            "description": "Every job is a Temporal workflow; this API starts, queries "
            "and cancels them. Errors keep each family's shape: /api/v2, "
            "/api/v1 and /v1/{appId}.",
        },
        "servers": [{"url": server_url}] if server_url else [],
        "tags": [{"name": t} for t in tags],
        "paths": paths,
        "components": {
            "schemas": {**schemas, **ERROR_SCHEMAS},
            "securitySchemes": SECURITY_SCHEMES,
        },
        "security": [{"apiKeyHeader": []}, {"bearerApiKey": []}],
    }
