"""User text templates rendered on the client side (LinkedIn campaign messages and notes).

The engine is the workflows' (``engine.workflows.templates``): the same syntax,
fallbacks and limits everywhere. A text is parsed once per request, then rendered
per record; the work is bounded up front so that a request of a thousand records
costs at most ``MAX_TEMPLATES`` templates of ``MAX_TERMS`` terms each per record,
and a rendered text stops growing at its limit.

A record's fields are offered top-level (``{{firstName}}``) and under ``lead.``
(``{{lead.firstName | there}}``); a name also finds its snake_case or camelCase
twin (``{{first_name}}`` reads ``firstName``), and an empty value counts as missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from engine.workflows import templates
from store.errors import InvalidError

MAX_TEMPLATES = 50  # templates in one message or note…
MAX_TERMS = 250  # …and names, literals, operators and fallbacks in all of them
NAMESPACE = "lead"
_UPPER = re.compile(r"(?<!^)(?=[A-Z])")
_UNDERSCORE_LOWER = re.compile(r"_([a-z])")

TextTemplate = templates.TextTemplate
TextTooLong = templates.TextTooLong


class TemplateInvalid(InvalidError):
    """A text whose templates cannot be parsed, or that has too many of them."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            f"{field}: {message}",
            field=field,
            details={"errors": [{"field": field, "message": message}]},
        )


def _terms(node: templates.Node) -> int:
    count = 0
    todo = [node]
    while todo:
        item = todo.pop()
        count += 1
        if isinstance(item, templates.Fallback):
            todo.append(item.expression)
        elif isinstance(item, templates.Unary):
            todo.append(item.operand)
        elif isinstance(item, templates.Binary):
            todo += (item.left, item.right)
    return count


def compile_text(text: str, field: str) -> TextTemplate:
    """Parse ``text`` once; TemplateInvalid (422 naming ``field``) if it cannot be used."""
    try:
        compiled = templates.compile_text(text)
    except templates.TemplateError as exc:
        raise TemplateInvalid(field, f"invalid template: {exc}") from exc
    pieces = compiled.pieces
    if len(pieces) > MAX_TEMPLATES:
        raise TemplateInvalid(field, f"has more than {MAX_TEMPLATES} templates")
    if sum(_terms(p.node) for p in pieces) > MAX_TERMS:
        raise TemplateInvalid(field, f"its templates have more than {MAX_TERMS} terms in all")
    return compiled


def names_read(texts: Iterable[TextTemplate | None]) -> set[str]:
    """The field names the texts read, top-level or under ``lead.``."""
    names: set[str] = set()
    for text in texts:
        for piece in text.pieces if text else []:
            for parts in templates.paths(piece.node):
                if parts[0] == NAMESPACE and len(parts) > 1 and isinstance(parts[1], str):
                    names.add(parts[1])
                elif isinstance(parts[0], str) and parts[0] != NAMESPACE:
                    names.add(parts[0])
    return names


def variants(name: str) -> list[str]:
    """``name``, then its snake_case and camelCase spellings."""
    snake = _UPPER.sub("_", name).lower()
    camel = _UNDERSCORE_LOWER.sub(lambda m: m.group(1).upper(), name)
    return list(dict.fromkeys([name, snake, camel]))


def field_context(fields: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The context a record's texts render with: its fields, each name read resolved
    through its spellings (the first non-empty wins), top-level and under ``lead``."""
    values = dict(fields)
    for name in names:
        values[name] = next(
            (v for v in (fields.get(k) for k in variants(name)) if not templates.missing(v)),
            None,
        )
    return {**values, NAMESPACE: values}
