"""Templates: ``{{input.name}}``, ``{{steps.s1.output.id}}``, ``{{lead.firstName | there}}``.

The one template engine of Taskyard: user-defined workflows render their step
configs with it (inside workflow code, so it is deterministic and pure) and the
LinkedIn campaigns render their messages with it (through a service).

A template is ``{{`` … ``}}``: the text up to the first ``}}`` after the ``{{``
(found with ``str.find``, so scanning is linear; a ``{{`` without a closing
``}}`` is plain text). Inside is an expression (see ``template_expr``), optionally
followed by ``| fallback``: the text after the first ``|`` that is neither part of
``||`` nor inside a quoted string, used when the expression's value is missing,
null or ``""``. A lone ``|`` was never valid in an expression, so the fallback
only gives meaning to templates that used to be errors.

A string that is exactly one template yields the value itself (object, number,
…); a template inside other text is interpolated as text. A path that does not
exist yields ``null`` rather than failing the run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.workflows.template_expr import (
    MAX_DEPTH,
    MAX_EXPRESSION,
    Binary,
    Fallback,
    Literal,
    Node,
    Path,
    TemplateError,
    Unary,
    evaluate,
    lookup,
    missing,
    parse_expression,
    paths,
    truthy,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPRESSION",
    "Binary",
    "Fallback",
    "Literal",
    "Node",
    "Path",
    "TemplateError",
    "TextTooLong",
    "Unary",
    "as_text",
    "compile_text",
    "condition",
    "evaluate",
    "expressions",
    "has_template",
    "lookup",
    "missing",
    "parse",
    "paths",
    "render",
    "render_string",
    "scan",
    "strings",
    "truthy",
]

OPEN, CLOSE = "{{", "}}"
_QUOTES = "'\""


class TextTooLong(ValueError):
    """Rendering stopped: the text grew past the limit it was given."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"is longer than {limit} characters once rendered")
        self.limit = limit


@dataclass(frozen=True)
class Found:
    """One ``{{ … }}`` in a string: where it starts and ends, and what is inside."""

    start: int
    end: int
    inner: str


def scan(text: str) -> Iterator[Found]:
    """Every template in ``text``, left to right, in one pass."""
    pos = 0
    while True:
        start = text.find(OPEN, pos)
        if start < 0:
            return
        close = text.find(CLOSE, start + 2)
        if close < 0:
            return  # no "}}" after this "{{": none after any later one either
        yield Found(start, close + 2, text[start + 2 : close])
        pos = close + 2


def _split_fallback(inner: str) -> tuple[str, str | None]:
    """(expression, fallback text or None) at the first top-level single ``|``."""
    i, n = 0, len(inner)
    while i < n:
        char = inner[i]
        if char in _QUOTES:
            j = i + 1
            while j < n and inner[j] != char:
                j += 2 if inner[j] == "\\" else 1
            if j >= n:
                return inner, None  # an unterminated string: the parser says so
            i = j + 1
        elif char == "|":
            if inner.startswith("|", i + 1):
                i += 2  # "||" is "or"
            else:
                return inner[:i], _fallback_text(inner[i + 1 :])
        else:
            i += 1
    return inner, None


def _fallback_text(raw: str) -> str:
    """Trimmed; one pair of matching quotes around it is removed (``| " "`` is a space)."""
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in _QUOTES:
        return text[1:-1]
    return text


def parse(expression: str) -> Node:
    """Parse the inside of one ``{{ … }}`` (a fallback included); raises TemplateError."""
    if len(expression) > MAX_EXPRESSION:
        raise TemplateError(f"expression is too long (at most {MAX_EXPRESSION} characters)")
    head, fallback = _split_fallback(expression)
    node = parse_expression(head)
    return node if fallback is None else Fallback(node, fallback)


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _whole(text: str, first: Found) -> bool:
    """Is ``text`` exactly its first template, give or take surrounding whitespace?"""
    return (
        first.start == len(text) - len(text.lstrip())
        and first.end == len(text.rstrip())
        and OPEN not in first.inner
    )


def render_string(text: str, context: Mapping[str, Any]) -> Any:
    if OPEN not in text:
        return text
    found = list(scan(text))
    if not found:
        return text
    if _whole(text, found[0]):
        return evaluate(parse(found[0].inner), context)
    out: list[str] = []
    pos = 0
    for item in found:
        out += (text[pos : item.start], as_text(evaluate(parse(item.inner), context)))
        pos = item.end
    out.append(text[pos:])
    return "".join(out)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every template inside a JSON value (dict keys are left alone)."""
    if isinstance(value, str):
        return render_string(value, context)
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    return value


def condition(expression: str, context: Mapping[str, Any]) -> bool:
    """An ``if``: either a template (``"{{x > 1}}"``) or a bare expression (``"x > 1"``)."""
    if OPEN in expression:
        return truthy(render_string(expression, context))
    return truthy(evaluate(parse(expression), context))


def strings(value: Any) -> Iterator[tuple[str, str]]:
    """Every string inside a JSON value as (field path, string); dict keys are not values."""
    if isinstance(value, str):
        yield "", value
    elif isinstance(value, dict):
        for key, item in value.items():
            for sub, text in strings(item):
                yield (f"{key}.{sub}" if sub else str(key)), text
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for sub, text in strings(item):
                yield (f"{index}.{sub}" if sub else str(index)), text


def expressions(value: Any) -> Iterator[tuple[str, str]]:
    """Every template inside a JSON value as (field path, expression); for validation."""
    for field, text in strings(value):
        for item in scan(text):
            yield field, item.inner


def has_template(value: Any) -> bool:
    return any(True for _ in expressions(value))


@dataclass(frozen=True)
class Piece:
    """A parsed template of a text: its source (inside the braces) and its expression."""

    source: str
    node: Node


@dataclass(frozen=True)
class TextTemplate:
    """A string parsed once, rendered many times as text (messages, notes)."""

    parts: tuple[str | Piece, ...]

    @property
    def pieces(self) -> list[Piece]:
        return [p for p in self.parts if isinstance(p, Piece)]

    def render(self, context: Mapping[str, Any], *, limit: int) -> tuple[str, list[str]]:
        """(text, templates without a fallback whose value was missing); TextTooLong past
        ``limit`` characters, checked as the text grows so a huge value costs no more."""
        out: list[str] = []
        size = 0
        absent: list[str] = []
        for part in self.parts:
            if isinstance(part, Piece):
                value = evaluate(part.node, context)
                if missing(value) and not isinstance(part.node, Fallback):
                    absent.append(part.source.strip())
                part = as_text(value)
            size += len(part)
            if size > limit:
                raise TextTooLong(limit)
            out.append(part)
        return "".join(out), absent


def compile_text(text: str) -> TextTemplate:
    """Parse every template of ``text`` once; raises TemplateError."""
    parts: list[str | Piece] = []
    pos = 0
    for item in scan(text):
        if item.start > pos:
            parts.append(text[pos : item.start])
        parts.append(Piece(item.inner, parse(item.inner)))
        pos = item.end
    if pos < len(text):
        parts.append(text[pos:])
    return TextTemplate(tuple(parts))
