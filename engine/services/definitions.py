"""Workflow definitions: validating what users save, and compiling the plan a run follows.

A definition is a list of steps. Each step is a connector action (``http_request``,
``slack.send_message``, … resolved through ``connectors.registry``, so a new
connector needs nothing here) or a control step (``delay``, ``condition``).
Validation reports every problem as (step, field, message) so the API can answer
422 naming both. ``compile_plan`` turns a valid definition into the ``Plan`` a
``workflow_run`` executes: implicit dependencies made explicit, retry and timeout
defaults filled in, the tool name resolved — workflow code then needs no registry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from connectors.base import Action
from connectors.errors import InvalidInputError
from connectors.linkedin import normalize_profile_url, post_id
from connectors.registry import CONNECTORS, get_connector
from engine.models.runs import (
    CONTROL_MODELS,
    CONTROL_TYPES,
    REDACTED,
    Definition,
    Plan,
    PlanStep,
    RetrySpec,
    StepDef,
)
from engine.services.sealing import split_secrets
from engine.workflows import templates
from store.errors import InvalidError

STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
ALIASES = {"http_request": ("http", "request")}
ROOTS = ("input", "steps", "execution")
# Bounds on what one definition makes validation (and every run) parse.
MAX_CONFIG_STRING = 100_000  # characters in one string of a step's config or the output
MAX_TEMPLATES = 500  # templates in one definition…
MAX_TEMPLATE_TEXT = 100_000  # …and characters inside them, all together


@dataclass(frozen=True)
class Problem:
    step: str | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "field": self.field, "message": self.message}

    def text(self) -> str:
        where = f"step {self.step!r}: " if self.step else ""
        return f"{where}{self.field}: {self.message}"


class DefinitionError(InvalidError, ValueError):
    """A definition that cannot be saved; ``problems`` names each step and field."""

    code = "INVALID_DEFINITION"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.text() for p in problems))
        self.problems = problems


def resolve_action(step_type: str) -> tuple[str, Action] | str:
    """(tool name, action) for a connector step type, or why it is not one."""
    if step_type in ALIASES:
        connector_type, action_name = ALIASES[step_type]
    else:
        connector_type, _, action_name = step_type.partition(".")
    connector = get_connector(connector_type)
    if connector is None or not action_name:
        known = ", ".join(sorted([*CONTROL_TYPES, *ALIASES, *CONNECTORS]))
        return (
            f"unknown step type {step_type!r} (known: {known}; connector steps are 'type.action')"
        )
    action = connector.actions.get(action_name)
    if action is None:
        known = ", ".join(sorted(connector.actions))
        return f"connector {connector_type!r} has no action {action_name!r} (actions: {known})"
    return connector.tool_name(action_name), action


def _linkedin_problems(step: StepDef) -> list[Problem]:
    """A ``linkedin_action``'s literal URLs are checked now (templated ones when it runs)."""
    problems = []
    for field, check in (("profileUrl", normalize_profile_url), ("postUrl", post_id)):
        value = step.config.get(field)
        if isinstance(value, str) and not templates.has_template(value):
            try:
                check(value)
            except InvalidInputError as exc:
                problems.append(Problem(step.name, f"config.{field}", exc.message))
    return problems


def _structure_problems(data: Any, exc: ValidationError) -> list[Problem]:
    steps = data.get("steps") if isinstance(data, dict) else None
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = list(err["loc"])
        step: str | None = None
        if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
            raw = steps[loc[1]] if isinstance(steps, list) and loc[1] < len(steps) else None
            name = raw.get("name") if isinstance(raw, dict) else None
            step = name if isinstance(name, str) and name else f"#{loc[1] + 1}"
            loc = loc[2:]
        field = ".".join(str(p) for p in loc) or ("step" if step else "definition")
        problems.append(Problem(step, field.replace("if_", "if"), err["msg"]))
    return problems


def _config_problems(step: StepDef, model: type[BaseModel]) -> list[Problem]:
    """Required fields come from the action's input model; templated values count as set."""
    problems = []
    given = set(step.config)
    for name, info in model.model_fields.items():
        if info.is_required() and name not in given and (info.alias or name) not in given:
            problems.append(Problem(step.name, f"config.{info.alias or name}", "is required"))
    if problems:
        return problems
    try:
        model.model_validate(step.config)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            top = step.config.get(str(err["loc"][0])) if err["loc"] else None
            if templates.has_template(top) or top == REDACTED:
                continue  # checked at run time, once the template or sealed value is in
            field = ".".join(str(p) for p in ("config", *err["loc"]))
            problems.append(Problem(step.name, field, err["msg"]))
    return problems


@dataclass
class _Budget:
    """What is left of the definition's template allowance."""

    templates: int = MAX_TEMPLATES
    text: int = MAX_TEMPLATE_TEXT

    def spend(self, expression: str) -> bool:
        self.templates -= 1
        self.text -= len(expression)
        return self.templates >= 0 and self.text >= 0


def _size_problems(step: StepDef) -> list[Problem]:
    return [
        Problem(
            step.name,
            f"config.{field}" if field else "config",
            f"is longer than {MAX_CONFIG_STRING} characters",
        )
        for field, text in templates.strings(step.config)
        if len(text) > MAX_CONFIG_STRING
    ]


def _template_sources(step: StepDef) -> Iterator[tuple[str, str]]:
    """Every expression of a step as (field, expression), found in one pass."""
    for f, e in templates.expressions(step.config):
        yield (f"config.{f}" if f else "config"), e
    if step.if_ is not None:
        inner = list(templates.expressions(step.if_))
        yield from ([("if", e) for _f, e in inner] if inner else [("if", step.if_)])
    if step.type == "condition" and isinstance(step.config.get("expression"), str):
        expr = step.config["expression"]
        if "{{" not in expr:
            yield "config.expression", expr


def _template_problems(
    step: StepDef, names: set[str], budget: _Budget
) -> tuple[list[Problem], set[str]]:
    """Parse every template of a step; returns problems and the steps it reads."""
    problems: list[Problem] = _size_problems(step)
    reads: set[str] = set()
    if problems or budget.templates < 0 or budget.text < 0:
        return problems, reads  # too big to parse (or over the budget already reported)
    for field, expr in _template_sources(step):
        if not budget.spend(expr):
            problems.append(
                Problem(
                    step.name,
                    field,
                    f"the definition has more than {MAX_TEMPLATES} templates or more than "
                    f"{MAX_TEMPLATE_TEXT} characters inside them",
                )
            )
            break
        try:
            node = templates.parse(expr)
        except templates.TemplateError as exc:
            problems.append(Problem(step.name, field, f"invalid template: {exc}"))
            continue
        for parts in templates.paths(node):
            root = parts[0]
            if root not in ROOTS:
                problems.append(
                    Problem(
                        step.name,
                        field,
                        f"unknown name {root!r} (use input., steps. or execution.)",
                    )
                )
            elif root == "steps":
                ref = parts[1] if len(parts) > 1 else None
                if not isinstance(ref, str) or ref not in names:
                    problems.append(Problem(step.name, field, f"references missing step {ref!r}"))
                elif ref == step.name:
                    problems.append(Problem(step.name, field, "a step cannot read itself"))
                else:
                    reads.add(ref)
    return problems, reads


def _find_cycle(deps: dict[str, list[str]], order: list[str]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in deps[node]:
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for name in order:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


def validate(data: Any) -> tuple[Definition, dict[str, list[str]]]:
    """Check a definition; returns it and each step's effective dependencies."""
    try:
        definition = Definition.model_validate(data)
    except ValidationError as exc:
        raise DefinitionError(_structure_problems(data, exc)) from exc
    problems: list[Problem] = []
    names: set[str] = set()
    order: list[str] = []
    for step in definition.steps:
        if not STEP_NAME.match(step.name):
            problems.append(
                Problem(
                    step.name,
                    "name",
                    "must start with a letter or '_' and use letters, digits, _ -",
                )
            )
        if step.name in names:
            problems.append(Problem(step.name, "name", "is used by another step"))
        names.add(step.name)
        order.append(step.name)
    deps: dict[str, list[str]] = {name: [] for name in order}
    budget = _Budget()
    for step in definition.steps:
        if step.type in CONTROL_MODELS:
            problems += _config_problems(step, CONTROL_MODELS[step.type])
            if step.type == "linkedin_action":
                problems += _linkedin_problems(step)
        else:
            resolved = resolve_action(step.type)
            if isinstance(resolved, str):
                problems.append(Problem(step.name, "type", resolved))
            else:
                problems += _config_problems(step, resolved[1].input_model)
        if step.credentialId and step.connectorId:
            problems.append(
                Problem(step.name, "connectorId", "give credentialId or connectorId, not both")
            )
        mine = deps[step.name]
        for dep in step.dependsOn:
            if dep not in names:
                problems.append(Problem(step.name, "dependsOn", f"references missing step {dep!r}"))
            elif dep == step.name:
                problems.append(Problem(step.name, "dependsOn", "a step cannot depend on itself"))
            elif dep not in mine:
                mine.append(dep)
        template_problems, reads = _template_problems(step, names, budget)
        problems += template_problems
        mine += [r for r in sorted(reads) if r not in mine]
        if step.type == "condition":
            for key in ("then", "else"):
                targets = step.config.get(key) or []
                for target in targets if isinstance(targets, list) else []:
                    if target not in names or target == step.name:
                        problems.append(
                            Problem(
                                step.name, f"config.{key}", f"references missing step {target!r}"
                            )
                        )
                    elif step.name not in deps[target]:
                        deps[target].append(step.name)
    if definition.output is not None:
        fake = StepDef(name="output", type="output", config={"output": definition.output})
        output_problems, _reads = _template_problems(fake, names, budget)
        problems += [Problem(None, "definition.output", p.message) for p in output_problems]
    if not problems:
        cycle = _find_cycle(deps, order)
        if cycle:
            problems.append(Problem(cycle[0], "dependsOn", "cycle: " + " → ".join(cycle)))
    if problems:
        raise DefinitionError(problems)
    return definition, deps


def compile_plan(data: Any, sealed: dict[str, str] | None = None) -> Plan:
    """The plan a run follows; ``sealed`` maps step names to sealed-secret ids."""
    definition, deps = validate(data)
    steps = []
    for step in definition.steps:
        tool = None
        kind: Literal["action", "delay", "condition", "wait_for_event", "linkedin_action"]
        if step.type in CONTROL_MODELS:
            kind = step.type  # type: ignore[assignment]
        else:
            kind = "action"
            resolved = resolve_action(step.type)
            assert not isinstance(resolved, str)
            tool = resolved[0]
        retry = step.retry or RetrySpec()
        steps.append(
            PlanStep(
                name=step.name,
                type=step.type,
                kind=kind,
                tool=tool,
                config=step.config,
                credential_id=step.credentialId,
                connector_id=step.connectorId,
                sealed_secret_id=(sealed or {}).get(step.name),
                depends_on=deps[step.name],
                if_=step.if_,
                max_attempts=retry.maxAttempts,
                backoff_ms=retry.backoffMs,
                timeout_ms=step.timeoutMs,
                continue_on_error=step.continueOnError,
            )
        )
    return Plan(steps=steps, output=definition.output, secret_inputs=secret_inputs(definition))


def secret_inputs(definition: Definition) -> list[str]:
    """Top-level input fields a run must keep out of history: the declared ones, and those a
    secret-shaped part of a step's config reads (``"auth": {"token": "{{input.key}}"}``)."""
    found = dict.fromkeys(definition.secretInputs)
    for step in definition.steps:
        _public, shaped = split_secrets(step.config)
        for _field, expression in templates.expressions(shaped):
            for parts in templates.paths(templates.parse(expression)):
                if len(parts) > 1 and parts[0] == "input" and isinstance(parts[1], str):
                    found.setdefault(parts[1])
    return list(found)


def descendants(plan: Plan, start: str) -> set[str]:
    """``start`` and every step downstream of it."""
    children: dict[str, list[str]] = {s.name: [] for s in plan.steps}
    for s in plan.steps:
        for dep in s.depends_on:
            children[dep].append(s.name)
    seen = {start}
    todo = [start]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen
