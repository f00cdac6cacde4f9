"""JSON Schema pieces the OpenAPI document takes from the connector catalog.

Which tool names, providers, connector types and toolkits exist, which params each tool
takes and which credential fields each provider requires are constraints the API enforces
(``engine.services.catalog``); request models attach these to their schemas
(``model_config = ConfigDict(json_schema_extra=...)``) so the published document states
them as ``enum``s and ``oneOf`` variants. Built from the registry, so a new connector is
documented with no change here.
"""

from __future__ import annotations

import copy
from typing import Any

from engine.models.runs import CONTROL_MODELS, MAX_STEPS, StepDef
from engine.services import catalog
from engine.services.definitions import ALIASES, STEP_NAME

# A required credential field must be present and neither null nor "".
NOT_EMPTY: dict[str, Any] = {"not": {"enum": [None, ""]}}
NON_EMPTY: dict[str, Any] = {"type": "string", "minLength": 1}


def toolkit_names() -> list[str]:
    return [kit.type for kit in catalog.toolkits()]


def tool_names() -> list[str]:
    return [tool.name for kit in catalog.toolkits() for tool in kit.tools]


def tool_variants(name_field: str, params_field: str) -> list[dict[str, Any]]:
    """One object schema per tool: its name, and its params as the action's input model."""
    variants = []
    for kit in catalog.toolkits():
        for tool in kit.tools:
            params = copy.deepcopy(tool.input_schema)
            params.pop("title", None)
            variant: dict[str, Any] = {
                "type": "object",
                "title": tool.name,
                "properties": {name_field: {"enum": [tool.name]}, params_field: params},
                "required": [name_field],
            }
            if params.get("required"):
                variant["required"].append(params_field)
            variants.append(variant)
    return variants


def credential_variants() -> list[dict[str, Any]]:
    """One object schema per provider: its credential type and required data fields."""
    variants = []
    for kit in catalog.toolkits():
        required = kit.required_fields()
        data: dict[str, Any] = {"type": "object", "minProperties": 1}
        if required:
            data["required"] = required
            data["properties"] = {name: NOT_EMPTY for name in required}
        variants.append(
            {
                "type": "object",
                "title": kit.type,
                "properties": {
                    "provider": {"enum": [kit.type]},
                    "type": {"enum": [kit.credential_type, None]},
                    "data": data,
                },
            }
        )
    return variants


def connector_variants() -> list[dict[str, Any]]:
    """One object schema per connector type; those that need a credential require one."""
    variants = []
    for kit in catalog.toolkits():
        variant: dict[str, Any] = {
            "type": "object",
            "title": kit.type,
            "properties": {"type": {"enum": [kit.type]}},
        }
        if kit.requires_credentials:
            variant["required"] = ["credentialId"]
            variant["properties"]["credentialId"] = {"type": "string"}
        variants.append(variant)
    return variants


def definition_schema() -> dict[str, Any]:
    """A workflow definition, each step a ``oneOf`` variant per step type with its config.

    What JSON Schema cannot say is in ``x-`` notes: step names are unique, ``dependsOn``,
    ``condition.then``/``else`` and ``{{steps.<name>…}}`` templates name other steps of the
    definition without a cycle, ``if`` and ``condition.expression`` are template
    expressions, and any config value may be a ``{{…}}`` template instead.
    """
    base = StepDef.model_json_schema(ref_template="#/$defs/{model}")
    defs = base.pop("$defs", {})
    base["properties"]["name"]["pattern"] = STEP_NAME.pattern
    controls: dict[str, dict[str, Any]] = {}
    for step_type, model in CONTROL_MODELS.items():
        config = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(config.pop("$defs", {}))
        controls[step_type] = config
    actions = {
        f"{tool.toolkit}.{tool.action}": copy.deepcopy(tool.input_schema)
        for kit in catalog.toolkits()
        for tool in kit.tools
    }
    needs_credential = {
        f"{tool.toolkit}.{tool.action}"
        for kit in catalog.toolkits()
        if kit.requires_credentials
        for tool in kit.tools
    }
    for alias, (toolkit, action) in ALIASES.items():
        found = catalog.toolkit(toolkit)
        tool = found.tool(action) if found else None
        if tool is not None:
            actions[alias] = copy.deepcopy(tool.input_schema)
            if found is not None and found.requires_credentials:
                needs_credential.add(alias)
    variants = []
    for step_type, config in {**controls, **actions}.items():
        config.pop("title", None)
        defs.update(config.pop("$defs", {}))
        variant = copy.deepcopy(base)
        variant["title"] = step_type
        variant["properties"]["type"] = {"enum": [step_type]}
        variant["properties"]["config"] = config
        if config.get("required") or "anyOf" in config or "oneOf" in config:
            variant["required"] = [*variant.get("required", []), "config"]
        if step_type in needs_credential:
            # The connector needs a credential: credentialId or connectorId, not both.
            variant["oneOf"] = [
                {"required": ["credentialId"], "properties": {"credentialId": NON_EMPTY}},
                {"required": ["connectorId"], "properties": {"connectorId": NON_EMPTY}},
            ]
        else:
            variant["not"] = {"required": ["credentialId", "connectorId"]}
        variants.append(variant)
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["steps"],
        "properties": {
            "steps": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_STEPS,
                "items": {"oneOf": variants},
            },
            "output": {"description": "Template of the run's output ({{steps.x.y}})"},
        },
        "x-unique-step-names": True,
        "x-step-references": "dependsOn, condition then/else and {{steps.<name>}} templates "
        "name other steps of this definition, and they form no cycle",
        "x-expressions": "if and condition.expression are template expressions over input., "
        "steps. and execution.",
        "x-templates": "any config value may be a {{…}} template, checked when the step runs",
        "$defs": defs,
    }


# ---- ``json_schema_extra`` callables for request models ----------------------------------


def with_tools(schema: dict[str, Any]) -> None:
    """``toolName`` + ``params``: the tool's name (matched case-insensitively) and its input."""
    schema["properties"]["toolName"]["x-case-insensitive"] = True
    schema["oneOf"] = tool_variants("toolName", "params")


def toolkit_enum(schema: dict[str, Any]) -> None:
    schema["enum"] = toolkit_names()


def with_credentials(schema: dict[str, Any]) -> None:
    """``provider`` a toolkit; ``data`` holds that provider's required fields."""
    schema["properties"]["provider"]["enum"] = toolkit_names()
    schema["oneOf"] = credential_variants()


def with_connectors(schema: dict[str, Any]) -> None:
    """``type`` a toolkit; connectors whose actions need a credential require ``credentialId``."""
    schema["properties"]["type"]["enum"] = toolkit_names()
    schema["oneOf"] = connector_variants()


def with_definition(schema: dict[str, Any]) -> None:
    """A field holding a workflow definition (replacing its ``$ref`` to ``Definition``)."""
    nullable = "anyOf" in schema
    kept = {k: v for k, v in schema.items() if k in ("default", "description", "title")}
    schema.clear()
    definition = definition_schema()
    if nullable:
        defs = definition.pop("$defs")
        schema.update(anyOf=[definition, {"type": "null"}], **kept)
        schema["$defs"] = defs
    else:
        schema.update(definition, **kept)
