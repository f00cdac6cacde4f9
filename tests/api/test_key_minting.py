"""Minting API keys: scopes covered by the caller, global keys only from a global ``*`` key,
no key outliving its parent, revocation down the lineage, a cap on active keys per user."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from tests.conftest import Stack, make_settings, new_user, run_stack


async def mint(api: httpx.AsyncClient, permissions: list[str], **extra: Any) -> httpx.Response:
    return await api.post("/api/v2/keys", json={"name": "k", "permissions": permissions, **extra})


async def key_id_of(stack: Stack, user_id: str, raw: str) -> str:
    async with stack.admin as admin:
        listed = (await admin.get("/api/v2/keys", params={"userId": user_id})).json()["data"]
    (found,) = [k["id"] for k in listed if k["key_preview"] == raw[:8] + "..."]
    return found


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_global_key_mints_only_what_it_holds(stack: Stack) -> None:
    user_id, _ = await new_user(stack)
    async with stack.admin as admin:
        r = await mint(admin, ["api_keys:write"])  # global: the admin holds *
        assert r.status_code == 201 and r.json()["userId"] is None
        narrow = r.json()["key"]
    async with stack.api(narrow) as api:
        global_star = await mint(api, ["*"])
        global_same = await mint(api, ["api_keys:write"])
        user_star = await mint(api, ["*"], userId=user_id)
        user_wider = await mint(api, ["leads:read"], userId=user_id)
        user_same = await mint(api, ["api_keys:write"], userId=user_id)
    for refused in (global_star, global_same, user_star, user_wider):
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] is True and refused.json()["code"] == "PERMISSION_DENIED"
    assert global_same.json()["permissionHelp"]["required"] == "global key with *"
    assert user_same.status_code == 201 and user_same.json()["userId"] == user_id


async def test_a_minted_key_never_outlives_its_parent(stack: Stack) -> None:
    user_id, _ = await new_user(stack)
    now = datetime.now(UTC)
    parent_expiry = (now + timedelta(hours=1)).replace(microsecond=0)
    scopes = ["api_keys:write", "api_keys:read", "leads:read"]
    async with stack.admin as admin:
        r = await mint(admin, scopes, userId=user_id, expires_at=parent_expiry.isoformat())
        assert r.status_code == 201, r.text
        parent = r.json()["key"]
    async with stack.api(parent) as api:
        later = await mint(api, ["leads:read"], expires_at=(now + timedelta(hours=2)).isoformat())
        # The same instant written with another offset is not later.
        same = await mint(
            api,
            ["leads:read"],
            expires_at=parent_expiry.astimezone(timezone(timedelta(hours=2))).isoformat(),
        )
        omitted = await mint(api, ["leads:read"])
        sooner = await mint(
            api, ["leads:read"], expires_at=(now + timedelta(minutes=30)).isoformat()
        )
    assert later.status_code == 422, later.text
    body = later.json()
    assert body["error"] is True and body["code"] == "EXPIRES_AFTER_PARENT"
    assert body["details"]["field"] == "expires_at"
    assert parse(body["details"]["maxExpiresAt"]) == parent_expiry
    assert same.status_code == 201 and parse(same.json()["expires_at"]) == parent_expiry
    assert omitted.status_code == 201, omitted.text
    assert parse(omitted.json()["expires_at"]) == parent_expiry  # takes the parent's expiry
    assert sooner.status_code == 201


async def test_revoking_a_key_revokes_the_keys_minted_from_it(stack: Stack) -> None:
    scopes = ["api_keys:write", "api_keys:read", "leads:read"]
    user_id, root = await new_user(stack, scopes)
    async with stack.api(root) as api:
        child = (await mint(api, scopes)).json()["key"]
    async with stack.api(child) as api:
        grandchild = (await mint(api, ["api_keys:read"])).json()["key"]
    async with stack.admin as admin:
        sibling = (await mint(admin, ["api_keys:read"], userId=user_id)).json()["key"]
    for key in (child, grandchild, sibling):  # each is now in the key cache
        async with stack.api(key) as api:
            assert (await api.get("/api/v2/keys")).status_code == 200
    root_id = await key_id_of(stack, user_id, root)
    async with stack.api(root) as api:
        r = await api.delete(f"/api/v2/keys/{root_id}")
    assert r.status_code == 200 and r.json()["deleted_id"] == root_id
    for key in (root, child, grandchild):
        async with stack.api(key) as api:
            refused = await api.get("/api/v2/keys")
        assert refused.status_code == 401 and refused.json()["code"] == "INVALID_API_KEY"
    async with stack.api(sibling) as api:
        listed = await api.get("/api/v2/keys")
    assert listed.status_code == 200
    active = {k["key_preview"] for k in listed.json()["data"] if k["is_active"]}
    assert active == {sibling[:8] + "..."}


async def test_revoking_a_global_key_keeps_the_user_keys_it_provisioned(stack: Stack) -> None:
    async with stack.admin as admin:
        operator = (await mint(admin, ["*"])).json()["key"]  # a second global key
    async with stack.api(operator) as api:
        made = await api.post("/api/v2/users", json={"email": f"{uuid.uuid4().hex[:8]}@x.io"})
        user_id = made.json()["userId"]
        provisioned = (await mint(api, ["api_keys:read"], userId=user_id)).json()["key"]
        deputy = (await mint(api, ["*"])).json()["key"]  # global, minted by the operator key
        listed = (await api.get("/api/v2/keys")).json()["data"]
        [operator_id] = [k["id"] for k in listed if k["key_preview"] == operator[:8] + "..."]
        assert (await api.delete(f"/api/v2/keys/{operator_id}")).status_code == 200
    async with stack.api(deputy) as api:
        assert (await api.get("/api/v2/keys")).status_code == 401
    async with stack.api(provisioned) as api:
        assert (await api.get("/api/v2/keys")).status_code == 200


async def test_active_keys_per_user_are_capped(temporal_env, database_url: str, tmp_path) -> None:
    settings = make_settings(
        temporal_env,
        database_url,
        tmp_path,
        max_active_keys_per_user=3,
        task_queue_prefix="kq" + uuid.uuid4().hex[:8],
    )
    async with run_stack(temporal_env, settings, with_worker=False) as capped:
        user_id, key = await new_user(capped, ["api_keys:write", "api_keys:read"])
        async with capped.api(key) as api:
            first = await mint(api, ["api_keys:read"])
            second = await mint(api, ["api_keys:read"])
            over = await mint(api, ["api_keys:read"])
        async with capped.admin as admin:
            admin_over = await mint(admin, ["api_keys:read"], userId=user_id)
            other_user, _ = await new_user(capped)  # another user's budget is its own
            assert (await mint(admin, ["leads:read"], userId=other_user)).status_code == 201
        assert first.status_code == second.status_code == 201
        for refused in (over, admin_over):
            assert refused.status_code == 403, refused.text
            body = refused.json()
            assert body["error"] is True and body["code"] == "QUOTA_EXCEEDED"
            assert "at most 3 active keys" in body["message"] and "has 3" in body["message"]
            assert body["details"] == {"limit": 3, "active": 3}
        async with capped.api(key) as api:
            assert (await api.delete(f"/api/v2/keys/{first.json()['id']}")).status_code == 200
            assert (await mint(api, ["api_keys:read"])).status_code == 201
