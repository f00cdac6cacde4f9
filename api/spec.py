"""Per-route API metadata, declared next to each handler, read by the OpenAPI generator.

Handlers are decorated with ``@operation(...)`` naming the pydantic models they
read and return and the scope they require, so the published spec comes from
the same models the routes validate with (one source of truth).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__taskyard_operation__"


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    scope: str | None = None  # None: no key needed
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    # a model, ``list[Model]``, or None (no body); ``Any`` because ``list[M]`` is no ``type``
    responses: dict[int, Any] = field(default_factory=dict)
    description: str = ""
    global_key: bool | None = None  # True: global keys only; False: user keys only
    # The operationId clients are generated with (method names); default: the handler's name.
    # A dict maps HTTP methods to ids when one handler serves several methods.
    operation_id: str | dict[str, str] | None = None


def operation(
    summary: str,
    *,
    tag: str,
    scope: str | None = None,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    responses: dict[int, Any] | None = None,
    description: str = "",
    global_key: bool | None = None,
    operation_id: str | dict[str, str] | None = None,
) -> Callable[[F], F]:
    """Attach OpenAPI metadata to a handler; behaviour is unchanged."""

    def mark(handler: F) -> F:
        setattr(
            handler,
            ATTRIBUTE,
            Operation(
                summary,
                tag,
                scope,
                body,
                query,
                dict(responses or {}),
                description,
                global_key,
                operation_id,
            ),
        )
        return handler

    return mark


def operation_of(handler: Callable[..., Any]) -> Operation | None:
    return getattr(handler, ATTRIBUTE, None)
