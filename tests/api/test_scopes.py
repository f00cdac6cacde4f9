"""The scope matrix: each route refuses a key without its scope, in the family's shape."""

from __future__ import annotations

import pytest

from tests.conftest import Stack, new_user

# (method, path, body, scope the route needs)
MATRIX = [
    ("GET", "/api/v2/keys", None, "api_keys:read"),
    ("POST", "/api/v2/keys", {"name": "k", "permissions": ["api_keys:write"]}, "api_keys:write"),
    ("DELETE", "/api/v2/keys/key_x", None, "api_keys:write"),
    ("GET", "/api/v2/users/jobs", None, "users:read"),
    ("GET", "/api/v2/users/jobs/exec_x", None, "users:read"),
    ("DELETE", "/api/v2/users/jobs/exec_x", None, "jobs:update"),
    ("GET", "/api/v2/users/jobs/jobStatus", None, "jobs:read"),
    ("GET", "/api/v2/users/jobs/jobCounts", None, "jobs:read"),
    ("PUT", "/api/v2/users/jobs/editJobMessage/exec_x", {"message": "m"}, "jobs:update"),
    ("POST", "/api/v1/tools/execute", {"toolName": "HTTP_REQUEST", "params": {}}, "tools:execute"),
]


@pytest.mark.parametrize(("method", "path", "body", "scope"), MATRIX)
async def test_route_needs_its_scope(
    stack: Stack, method: str, path: str, body: dict | None, scope: str
) -> None:
    others = [s for s in ("leads:read", "webhooks:read", "linkedin:schedule") if s != scope]
    _user, without = await new_user(stack, others)
    _user2, with_scope = await new_user(stack, [scope])
    async with stack.api(without) as api:
        denied = await api.request(method, path, json=body)
    assert denied.status_code == 403, denied.text
    payload = denied.json()
    if path.startswith("/api/v2"):
        assert payload["error"] is True and payload["code"] == "PERMISSION_DENIED"
        assert payload["permissionHelp"]["required"] == scope
        assert sorted(payload["permissionHelp"]["available"]) == sorted(others)
    else:
        assert isinstance(payload["error"], str)
    async with stack.api(with_scope) as api:
        allowed = await api.request(method, path, json=body)
    assert allowed.status_code != 403, allowed.text


async def test_star_grants_everything(stack: Stack) -> None:
    _user, key = await new_user(stack, ["*"])
    async with stack.api(key) as api:
        for method, path, body, _scope in MATRIX:
            r = await api.request(method, path, json=body)
            assert r.status_code not in (401, 403), (path, r.text)
