"""Down-converting the OpenAPI 3.1 document to OpenAPI 3.0.3.

OpenAPI 3.1 schemas are JSON Schema 2020-12, which is what pydantic writes; 3.0 schemas
are an older, smaller dialect that many importers and code generators still require.
``to_openapi30`` rewrites every schema of a 3.1 document (components, parameters, request
and response bodies, headers) into the 3.0 dialect:

- a ``null`` branch of ``anyOf``/``oneOf``, ``type: "null"`` and ``null`` in a type array or
  an ``enum`` become ``nullable: true``; other type arrays become ``anyOf`` of single types;
- ``const`` becomes a one-value ``enum``; ``examples`` becomes ``example`` (the first one);
- numeric ``exclusiveMinimum``/``exclusiveMaximum`` become ``minimum``/``maximum`` with the
  boolean form;
- ``prefixItems`` (tuples) becomes ``items`` with ``anyOf`` of the positions plus
  ``minItems``/``maxItems``;
- a ``$ref`` with sibling keywords (allowed in 3.1, ignored in 3.0) is wrapped in ``allOf``;
- keywords 3.0 has no equivalent for (``propertyNames``, ``patternProperties``,
  ``if``/``then``/``else``, ``dependentRequired``, ``contains``, …) are kept as ``x-``
  extensions of the same name, so the constraint stays documented;
- security requirements of non-OAuth schemes lose their scope lists (3.0 requires them
  empty); the scope each operation needs stays in ``x-required-scope``.

``$defs`` nested in schemas are hoisted into ``components/schemas`` by the generator
before either version is written, so both documents resolve every ``$ref``.
"""

from __future__ import annotations

import copy
from typing import Any

VERSION = "3.0.3"
# Keywords of JSON Schema 2020-12 that the OpenAPI 3.0 schema object does not have.
UNSUPPORTED = (
    "propertyNames",
    "patternProperties",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contains",
    "minContains",
    "maxContains",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
    "$comment",
    "$anchor",
    "$id",
    "$schema",
    "$dynamicRef",
    "$dynamicAnchor",
)
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
SUBSCHEMA_KEYS = ("not", "items", "additionalProperties")
NULL = {"type": "null"}


def _is_null(schema: Any) -> bool:
    """``{"type": "null"}``, before or after conversion."""
    return schema == NULL or schema == {"nullable": True, "enum": [None]}


def _type_array(out: dict[str, Any]) -> None:
    types = out.get("type")
    if not isinstance(types, list):
        return
    if "null" in types:
        out["nullable"] = True
    rest = [t for t in types if t != "null"]
    if len(rest) == 1:
        out["type"] = rest[0]
    else:
        del out["type"]
        if rest:
            out["anyOf"] = [{"type": t} for t in rest]


def _drop_null_branch(out: dict[str, Any], key: str) -> None:
    branches = out.get(key)
    if not isinstance(branches, list) or not any(_is_null(b) for b in branches):
        return
    rest = [b for b in branches if not _is_null(b)]
    del out[key]
    out["nullable"] = True
    if len(rest) == 1 and not (set(rest[0]) & set(out) - {"nullable"}):
        only = rest[0]
        if "$ref" in only:
            # 3.0 ignores siblings of $ref (nullable included), so wrap it.
            out["allOf"] = [only]
        else:
            out.update(only)
    elif rest:
        out[key] = rest


def convert_schema(schema: Any) -> Any:
    """One JSON Schema 2020-12 schema (as pydantic writes it) in the OpenAPI 3.0 dialect."""
    if isinstance(schema, bool):
        return {} if schema else {"not": {}}
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: convert_schema(sub) for name, sub in value.items()}
        elif key in SUBSCHEMA_LISTS and isinstance(value, list):
            out[key] = [convert_schema(sub) for sub in value]
        elif key in SUBSCHEMA_KEYS and isinstance(value, dict):
            out[key] = convert_schema(value)
        elif key == "prefixItems" and isinstance(value, list):
            continue
        elif key in UNSUPPORTED:
            out["x-" + key.lstrip("$")] = value
        else:
            out[key] = copy.deepcopy(value)
    if "prefixItems" in schema:
        positions = [convert_schema(sub) for sub in schema["prefixItems"]]
        extra = schema.get("items")
        if extra is False or extra is None:
            out["maxItems"] = min(out.get("maxItems", len(positions)), len(positions))
            out["items"] = positions[0] if len(positions) == 1 else {"anyOf": positions}
        else:
            out["items"] = {"anyOf": [*positions, convert_schema(extra)]}
        out.setdefault("minItems", len(positions))
        out["x-prefixItems"] = positions
    elif out.get("items") is False:
        out["maxItems"] = 0
        out["items"] = {}
    if "const" in out:
        value = out.pop("const")
        out["enum"] = [value]
    if "examples" in out:
        examples = out.pop("examples")
        if isinstance(examples, list) and examples:
            out.setdefault("example", examples[0])
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[plain] = value
            out[bound] = True
    if "enum" in out and None in out["enum"]:
        out["nullable"] = True
    _type_array(out)
    if out.get("type") == "null":
        del out["type"]
        out["nullable"] = True
        out.setdefault("enum", [None])
    for key in ("anyOf", "oneOf"):
        _drop_null_branch(out, key)
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}, *out.get("allOf", [])]
    return out


def _content(content: dict[str, Any]) -> None:
    for media in content.values():
        if "schema" in media:
            media["schema"] = convert_schema(media["schema"])


def _operation(op: dict[str, Any], oauth_schemes: set[str]) -> None:
    for param in op.get("parameters", []):
        if "schema" in param:
            param["schema"] = convert_schema(param["schema"])
    body = op.get("requestBody")
    if body:
        _content(body.get("content", {}))
    for response in op.get("responses", {}).values():
        _content(response.get("content", {}))
        for header in response.get("headers", {}).values():
            if "schema" in header:
                header["schema"] = convert_schema(header["schema"])
    if "security" in op:
        op["security"] = _security(op["security"], oauth_schemes)


def _security(
    requirements: list[dict[str, list[str]]], oauth_schemes: set[str]
) -> list[dict[str, list[str]]]:
    return [
        {name: scopes if name in oauth_schemes else [] for name, scopes in req.items()}
        for req in requirements
    ]


def to_openapi30(spec: dict[str, Any]) -> dict[str, Any]:
    """A 3.0.3 copy of a 3.1 document; the input is not changed."""
    out = copy.deepcopy(spec)
    out["openapi"] = VERSION
    components = out.get("components", {})
    oauth_schemes = {
        name
        for name, scheme in components.get("securitySchemes", {}).items()
        if scheme.get("type") in ("oauth2", "openIdConnect")
    }
    schemas = components.get("schemas", {})
    for name, schema in list(schemas.items()):
        schemas[name] = convert_schema(schema)
    for item in out.get("paths", {}).values():
        for method, op in item.items():
            if isinstance(op, dict) and method != "parameters":
                _operation(op, oauth_schemes)
    if "security" in out:
        out["security"] = _security(out["security"], oauth_schemes)
    return out
