"""Reading request input into pydantic models, with 400/422 in the family's shape."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from api.errors import BadRequest, Unprocessable

M = TypeVar("M", bound=BaseModel)


def describe(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


async def json_body(request: Request) -> Any:
    raw = await request.body()  # (its size was checked as it arrived: api.limits)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}", code="INVALID_JSON") from exc


def validate(model: type[M], data: Any, *, missing_is_400: bool = True) -> M:
    """Validate; missing required fields are 400 (as the API documents say), other problems 422."""
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object", code="INVALID_BODY")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = describe(exc)
        missing = [
            p["field"]
            for p, e in zip(problems, exc.errors(), strict=True)
            if e["type"] == "missing"
        ]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        if missing and missing_is_400:
            raise BadRequest(
                "Missing required fields: " + ", ".join(missing),
                code="MISSING_FIELDS",
                details={"errors": problems},
            ) from exc
        raise Unprocessable(message, details={"errors": problems}) from exc


async def read(request: Request, model: type[M]) -> M:
    return validate(model, await json_body(request))


def query_model(request: Request, model: type[M]) -> M:
    """Query parameters into a model; any problem is a 400."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        problems = describe(exc)
        raise BadRequest(
            "Invalid query parameters: "
            + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
            code="INVALID_QUERY",
            details={"errors": problems},
        ) from exc
