"""The OpenAPI 3.1 document, generated from the app's routes and their ``@operation`` metadata.

Every Starlette route appears: its path and methods come from the router, its
summary, scope, body, query, response models and operationId from
``api.spec.operation`` on the handler. Pydantic models become JSON Schema components
(OpenAPI 3.1 *is* JSON Schema 2020-12, so pydantic's output is used as is), named by
the model's ``model_config`` title when it sets one (the names generated clients use),
else by the class name; ``$defs`` nested in a schema (a connector action's input
model) are hoisted into the components. A route without metadata still appears, with
a generic description and the default security. Errors are documented in each
family's own shape (``api.errors``). ``api.openapi30`` writes the 3.0.3 version.
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
    # The name the Python SDK reference configures (``configuration.api_key['ApiKeyAuth']``).
    "ApiKeyAuth": {
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
    schemas = _drop_null_defaults(_hoist_defs(defs.get("$defs", {})))
    renames = _title_names(schemas)
    if renames:
        schemas = {renames.get(name, name): schema for name, schema in schemas.items()}
        schemas = _rewrite_refs(schemas, renames)
        refs = _rewrite_refs(refs, renames)
    return refs, schemas


def _allows_null(schema: dict[str, Any]) -> bool:
    types = schema.get("type")
    if types == "null" or (isinstance(types, list) and "null" in types):
        return True
    if "enum" in schema:
        return None in schema["enum"]
    branches = [*schema.get("anyOf", []), *schema.get("oneOf", [])]
    if branches:
        return any(isinstance(b, dict) and _allows_null(b) for b in branches)
    return types is None and "$ref" not in schema and "allOf" not in schema


def _drop_null_defaults(value: Any) -> Any:
    """``default: null`` on a property that may be omitted but never be null (pydantic writes
    the Python default, which is not a value the schema allows)."""
    if isinstance(value, list):
        return [_drop_null_defaults(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _drop_null_defaults(v) for k, v in value.items()}
    if "default" in out and out["default"] is None and "$ref" not in out:
        if not _allows_null(out):
            del out["default"]
    return out


def _title_names(schemas: dict[str, Any]) -> dict[str, str]:
    """Component renames, so every component has a plain name equal to its title.

    A model whose ``model_config`` sets a title is published under it (pydantic keys
    definitions by class name and writes the configured title into the schema). Classes of
    the same name in two modules (pydantic keys them ``api__v1__webhooks__Deleted``) get
    their module's name in front (``WebhooksDeleted``): generators name classes by title.
    """
    renames: dict[str, str] = {}
    taken = {name for name in schemas if name.isidentifier() and "__" not in name}
    for name, schema in schemas.items():
        title = schema.get("title") if isinstance(schema, dict) else None
        if "__" in name:
            *modules, cls = name.split("__")
            wanted = "".join(p.capitalize() for p in modules[-1].split("_")) + cls
        elif isinstance(title, str) and title != name and title.isidentifier():
            wanted = title
        else:
            continue
        candidate, n = wanted, 2
        while candidate in taken:
            candidate, n = f"{wanted}{n}", n + 1
        renames[name] = candidate
        taken.add(candidate)
    for name, new in renames.items():
        if isinstance(schemas[name], dict):
            schemas[name]["title"] = new
    return renames


def _rewrite_refs(value: Any, renames: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _rewrite_refs(v, renames) for k, v in value.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF.format(model="")):
            name = ref.rsplit("/", 1)[1]
            if name in renames:
                out["$ref"] = REF.format(model=renames[name])
        return out
    if isinstance(value, list):
        return [_rewrite_refs(v, renames) for v in value]
    return value


def _hoist_defs(schemas: dict[str, Any]) -> dict[str, Any]:
    """Move ``$defs`` nested anywhere in the schemas (embedded JSON Schemas of connector
    actions carry their own) into the components, pointing their ``#/$defs/…`` refs there."""
    out = dict(schemas)

    def hoist(value: Any, local: dict[str, str]) -> Any:
        if isinstance(value, list):
            return [hoist(v, local) for v in value]
        if not isinstance(value, dict):
            return value
        nested = value.get("$defs")
        if isinstance(nested, dict):
            local = dict(local)
            for name in nested:
                target = name
                n = 2
                while target in out and out[target] != nested[name]:
                    target, n = f"{name}{n}", n + 1
                local[name] = target
            for name, sub in nested.items():
                out[local[name]] = hoist(sub, local)
        result = {k: hoist(v, local) for k, v in value.items() if k != "$defs"}
        ref = result.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            result["$ref"] = REF.format(model=local.get(ref[len("#/$defs/") :], ref))
        return result

    for name, schema in schemas.items():
        out[name] = hoist(schema, {})
    return out


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
    options = [{"ApiKeyAuth": scopes}, {"bearerApiKey": scopes}]
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


def _operation_id(
    handler: Any, op: Operation | None, method: str, path: str, seen: set[str]
) -> str:
    declared = op.operation_id if op is not None else None
    if isinstance(declared, dict):
        declared = declared.get(method)
    base = declared or getattr(handler, "__name__", None) or re.sub(r"\W+", "_", f"{method}_{path}")
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
            "operationId": _operation_id(handler, op, method, path, seen),
            "summary": op.summary if op else f"{method} {doc_path}",
            "description": (
                op.description
                if op
                else "No metadata is declared for this route yet; see the docs."
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
        "security": [{"ApiKeyAuth": []}, {"bearerApiKey": []}],
    }
