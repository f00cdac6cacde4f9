"""Input field types connectors share.

A list field that callers naturally send as one string (``"to": "x@y.com"``)
accepts either form and advertises both in its JSON Schema; the action always
receives a list.
"""

from __future__ import annotations

import email.utils
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _addresses(value: Any) -> Any:
    """``"a@x.com"`` → ``["a@x.com"]``; ``"a@x.com, B <b@y.com>"`` → both, as RFC 5322 lists
    are split (a comma inside a quoted display name stays)."""
    if not isinstance(value, str):
        return value
    if "," not in value:
        return [value]
    pairs = email.utils.getaddresses([value])
    return [email.utils.formataddr(pair) for pair in pairs if pair[1]] or [value]


def _schema(item: str) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "string", "description": f"one {item}"},
            {"type": "array", "items": {"type": "string"}},
        ]
    }


StrList = Annotated[list[str], BeforeValidator(_one_or_many), WithJsonSchema(_schema("value"))]
"""A list of strings; one string is a list of one."""

AddressList = Annotated[
    list[str],
    BeforeValidator(_addresses),
    WithJsonSchema(_schema("address, or several, comma-separated")),
]
"""Email addresses: a list, or one string (comma-separated addresses are split)."""
