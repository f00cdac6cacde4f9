"""API keys and users: creation, listing without secrets, revocation, expiry, scopes on minting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import ADMIN_KEY, Stack, new_user


async def test_key_is_shown_once_and_listed_without_secret(stack: Stack) -> None:
    user_id, key = await new_user(stack, ["api_keys:read", "api_keys:write", "leads:read"])
    async with stack.api(key) as api:
        r = await api.get("/api/v2/keys")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1
    listed = body["data"][0]
    assert "key" not in listed and "key_hash" not in listed
    assert listed["key_preview"] == key[:8] + "..."
    assert listed["is_active"] is True and listed["userId"] == user_id
    assert key not in r.text


async def test_both_header_forms_work(stack: Stack) -> None:
    _user, key = await new_user(stack, ["api_keys:read"])
    async with stack.api() as api:
        a = await api.get("/api/v2/keys", headers={"x-api-key": key})
        b = await api.get("/api/v2/keys", headers={"Authorization": f"Bearer {key}"})
    assert a.status_code == b.status_code == 200


async def test_missing_and_invalid_keys_are_401_in_family_shape(stack: Stack) -> None:
    async with stack.api() as api:
        missing = await api.get("/api/v2/keys")
        invalid = await api.get("/api/v2/keys", headers={"x-api-key": "bna_nope"})
        v1 = await api.post("/api/v1/tools/execute", json={}, headers={"x-api-key": "bad"})
    assert missing.status_code == 401 and missing.json()["error"] is True
    assert missing.json()["version"] == "2.0" and missing.json()["code"] == "MISSING_API_KEY"
    assert invalid.status_code == 401 and invalid.json()["code"] == "INVALID_API_KEY"
    assert v1.status_code == 401 and isinstance(v1.json()["error"], str)


async def test_revoked_key_is_refused_at_once(stack: Stack) -> None:
    _user, key = await new_user(stack, ["api_keys:read", "api_keys:write"])
    async with stack.api(key) as api:
        key_id = (await api.get("/api/v2/keys")).json()["data"][0]["id"]
        r = await api.delete(f"/api/v2/keys/{key_id}")
        assert r.status_code == 200 and r.json()["success"] is True
        after = await api.get("/api/v2/keys")
    assert after.status_code == 401


async def test_expired_key_is_refused(stack: Stack) -> None:
    user_id, _ = await new_user(stack)
    soon = datetime.now(UTC) + timedelta(seconds=1)
    async with stack.admin as admin:
        r = await admin.post(
            "/api/v2/keys",
            json={
                "name": "short",
                "permissions": ["api_keys:read"],
                "userId": user_id,
                "expires_at": soon.isoformat(),
            },
        )
        assert r.status_code == 201
        key = r.json()["key"]
    async with stack.api(key) as api:

        async def refused() -> bool:
            return (await api.get("/api/v2/keys")).status_code == 401

        from tests.conftest import wait_for

        await wait_for(refused, timeout=10)
        body = (await api.get("/api/v2/keys")).json()
    assert body["code"] == "API_KEY_EXPIRED"


async def test_past_expiry_is_rejected(stack: Stack) -> None:
    async with stack.admin as admin:
        r = await admin.post(
            "/api/v2/keys",
            json={
                "name": "old",
                "permissions": ["leads:read"],
                "expires_at": "2001-01-01T00:00:00Z",
            },
        )
    assert r.status_code == 422


async def test_user_key_mints_keys_for_itself_within_its_scopes(stack: Stack) -> None:
    user_id, key = await new_user(stack, ["api_keys:write", "api_keys:read", "leads:read"])
    async with stack.api(key) as api:
        ok = await api.post("/api/v2/keys", json={"name": "child", "permissions": ["leads:read"]})
        wider = await api.post(
            "/api/v2/keys", json={"name": "wider", "permissions": ["leads:write"]}
        )
        star = await api.post("/api/v2/keys", json={"name": "star", "permissions": ["*"]})
        other = await api.post(
            "/api/v2/keys",
            json={"name": "x", "permissions": ["leads:read"], "userId": "someone-else"},
        )
    assert ok.status_code == 201 and ok.json()["userId"] == user_id
    assert ok.json()["key"].startswith("bna_")
    assert wider.status_code == 403 and wider.json()["code"] == "PERMISSION_DENIED"
    assert star.status_code == 403
    assert other.status_code == 404


async def test_key_validation_errors(stack: Stack) -> None:
    async with stack.admin as admin:
        missing = await admin.post("/api/v2/keys", json={"permissions": ["leads:read"]})
        unknown = await admin.post("/api/v2/keys", json={"name": "n", "permissions": ["nope"]})
        not_json = await admin.post("/api/v2/keys", content=b"{nope")
        no_user = await admin.post(
            "/api/v2/keys", json={"name": "n", "permissions": ["leads:read"], "userId": "ghost"}
        )
    assert missing.status_code == 400 and missing.json()["code"] == "MISSING_FIELDS"
    assert unknown.status_code == 422
    assert not_json.status_code == 400 and not_json.json()["code"] == "INVALID_JSON"
    assert no_user.status_code == 404


async def test_users_are_created_by_global_keys_only(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        r = await api.post("/api/v2/users", json={"email": "x@example.com", "name": "X"})
    assert r.status_code == 403
    async with stack.admin as admin:
        first = await admin.post("/api/v2/users", json={"email": "Dup@Example.com", "name": "D"})
        again = await admin.post("/api/v2/users", json={"email": "dup@example.com", "name": "D"})
        bad = await admin.post("/api/v2/users", json={"email": "not-an-email", "name": "D"})
    assert first.status_code == 201 and len(first.json()["userId"]) == 24
    assert again.status_code == 409
    assert bad.status_code == 422


async def test_other_users_keys_cannot_be_revoked(stack: Stack) -> None:
    _a, key_a = await new_user(stack, ["api_keys:read", "api_keys:write"])
    _b, key_b = await new_user(stack, ["api_keys:read", "api_keys:write"])
    async with stack.api(key_b) as api_b:
        b_key_id = (await api_b.get("/api/v2/keys")).json()["data"][0]["id"]
    async with stack.api(key_a) as api_a:
        r = await api_a.delete(f"/api/v2/keys/{b_key_id}")
        listed = (await api_a.get("/api/v2/keys")).json()
    assert r.status_code == 404
    assert all(k["id"] != b_key_id for k in listed["data"])
    async with stack.api(key_b) as api_b:
        assert (await api_b.get("/api/v2/keys")).status_code == 200


async def test_admin_key_lists_all_keys(stack: Stack) -> None:
    user_id, _ = await new_user(stack)
    async with stack.api(ADMIN_KEY) as admin:
        r = await admin.get("/api/v2/keys", params={"userId": user_id})
    assert r.status_code == 200 and r.json()["total"] == 1
