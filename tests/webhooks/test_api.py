"""The webhook endpoints API: create, read, change, delete, validation, isolation, catalog."""

from __future__ import annotations

from engine.models.events import EVENT_CATALOG
from store.webhooks import webhook_summary
from tests.conftest import Stack, new_user
from tests.webhooks.helpers import create_hook
from tests.webhooks.receiver import Receiver


async def test_seed_body_round_trips_and_secret_is_shown_once(
    stack: Stack, receiver: Receiver
) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        created = await create_hook(
            api,
            receiver.url("/seed"),
            ["workflow.completed", "workflow.failed"],
            name="Workflow Completed Hook",
            headers={"X-Custom-Header": "value"},
            retryPolicy={"maxAttempts": 3, "backoffMs": 1000},
        )
        assert created["secret"].startswith("whsec_")
        assert created["name"] == "Workflow Completed Hook"
        assert created["events"] == ["workflow.completed", "workflow.failed"]
        assert created["headers"] == {"X-Custom-Header": "value"}
        assert created["retryPolicy"] == {"maxAttempts": 3, "backoffMs": 1000}
        assert created["status"] == "active" and created["enabled"] is True
        r = await api.get(f"/api/v1/webhooks/{created['id']}")
        assert r.status_code == 200 and "secret" not in r.json()
        r = await api.get("/api/v1/webhooks")
        assert [w["id"] for w in r.json()] == [created["id"]]
        assert all("secret" not in w for w in r.json())


async def test_patch_changes_only_what_is_sent_and_delete_hides(
    stack: Stack, receiver: Receiver
) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        hook = await create_hook(
            api, receiver.url("/a"), ["lead.created"], timeoutMs=5000, rateLimitPerSecond=5
        )
        r = await api.patch(
            f"/api/v1/webhooks/{hook['id']}",
            json={"events": ["lead.*"], "retryPolicy": {"maxAttempts": 7}},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["events"] == ["lead.*"]
        assert body["retryPolicy"] == {"maxAttempts": 7, "backoffMs": 1000}
        assert body["url"] == hook["url"] and body["timeoutMs"] == 5000
        r = await api.patch(
            f"/api/v1/webhooks/{hook['id']}",
            json={"timeoutMs": None, "rateLimitPerSecond": None, "enabled": False},
        )
        body = r.json()
        assert body["timeoutMs"] is None and body["rateLimitPerSecond"] is None
        assert body["status"] == "disabled" and body["disabledReason"] == "user"
        r = await api.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": True})
        assert r.json()["status"] == "active"
        r = await api.delete(f"/api/v1/webhooks/{hook['id']}")
        assert r.status_code == 200 and r.json() == {"success": True, "id": hook["id"]}
        assert (await api.get(f"/api/v1/webhooks/{hook['id']}")).status_code == 404
        assert (await api.delete(f"/api/v1/webhooks/{hook['id']}")).status_code == 404


async def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    stack: Stack, receiver: Receiver
) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        hook = await create_hook(api, receiver.url("/keep"), ["lead.created"])
        url = receiver.url("/x")
        cases = [
            ({"url": url, "events": ["lead.created"]}, 400),  # name missing
            ({"name": "n", "url": url, "events": ["nope.event"]}, 422),
            ({"name": "n", "url": url, "events": []}, 422),
            ({"name": "n", "url": "ftp://files.example.com/", "events": ["*"]}, 422),
            ({"name": "n", "url": "not a url", "events": ["*"]}, 422),
            ({"name": "n", "url": url, "events": ["*"], "headers": {"X-Webhook-Event": "x"}}, 422),
            ({"name": "n", "url": url, "events": ["*"], "headers": {"Bad Name": "x"}}, 422),
            ({"name": "n", "url": url, "events": ["*"], "headers": {"X-A": "a\r\nB: c"}}, 422),
            ({"name": "n", "url": url, "events": ["*"], "retryPolicy": {"maxAttempts": 0}}, 422),
            ({"name": "n", "url": url, "events": ["*"], "retryPolicy": {"backoffMs": 5}}, 422),
            ({"name": "n", "url": url, "events": ["*"], "unknown": 1}, 422),
        ]
        for body, status in cases:
            r = await api.post("/api/v1/webhooks", json=body)
            assert r.status_code == status, (body, r.text)
            assert isinstance(r.json()["error"], str)
        r = await api.post("/api/v1/webhooks", content=b"{not json")
        assert r.status_code == 400
        r = await api.patch(f"/api/v1/webhooks/{hook['id']}", json={"events": ["bogus"]})
        assert r.status_code == 422
        r = await api.patch(f"/api/v1/webhooks/{hook['id']}", json={"url": "gopher://x"})
        assert r.status_code == 422
        r = await api.get("/api/v1/webhooks")
        assert [(w["id"], w["events"], w["url"]) for w in r.json()] == [
            (hook["id"], ["lead.created"], hook["url"])
        ]


async def test_another_users_webhook_is_not_found(stack: Stack, receiver: Receiver) -> None:
    _a, key_a = await new_user(stack)
    _b, key_b = await new_user(stack)
    async with stack.api(key_a) as a:
        hook = await create_hook(a, receiver.url("/mine"))
    async with stack.api(key_b) as b:
        base = f"/api/v1/webhooks/{hook['id']}"
        assert (await b.get(base)).status_code == 404
        assert (await b.patch(base, json={"name": "x"})).status_code == 404
        assert (await b.delete(base)).status_code == 404
        assert (await b.post(base + "/rotate-secret")).status_code == 404
        assert (await b.post(base + "/test")).status_code == 404
        assert (await b.get(base + "/deliveries")).status_code == 404
        r = await b.post(base + "/recover", json={"since": "2024-01-01T00:00:00Z"})
        assert r.status_code == 404
        assert (await b.get("/api/v1/webhooks")).json() == []


async def test_scopes_are_enforced(stack: Stack, receiver: Receiver) -> None:
    _user, key = await new_user(stack, ["webhooks:read"])
    async with stack.api(key) as api:
        r = await api.post(
            "/api/v1/webhooks", json={"name": "n", "url": receiver.url("/s"), "events": ["*"]}
        )
        assert r.status_code == 403
        assert (await api.get("/api/v1/webhooks")).status_code == 200
    async with stack.api() as anonymous:
        assert (await anonymous.get("/api/v1/webhooks")).status_code == 401


async def test_event_catalog_lists_every_event(stack: Stack) -> None:
    _user, key = await new_user(stack)
    async with stack.api(key) as api:
        r = await api.get("/api/v1/webhooks/events")
    assert r.status_code == 200
    names = [e["name"] for e in r.json()["events"]]
    assert names == list(EVENT_CATALOG)
    for name in (
        "workflow.cancelled",
        "tool.failed",
        "linkedin.action.completed",
        "enrichment.failed",
        "lead.updated",
        "webhook.endpoint.disabled",
        "webhook.delivery.exhausted",
    ):
        assert name in names
    assert "*" in r.json()["wildcards"]


async def test_summary_for_user_integrations(stack: Stack, receiver: Receiver) -> None:
    user, key = await new_user(stack)
    db = stack.deps.db
    empty = await webhook_summary(db, user)
    assert empty.model_dump() == {"configured": False, "endpoints": [], "status": "inactive"}
    async with stack.api(key) as api:
        hook = await create_hook(api, receiver.url("/summary"))
        summary = await webhook_summary(db, user)
        assert summary.model_dump() == {
            "configured": True,
            "endpoints": [hook["url"]],
            "status": "active",
        }
        await api.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": False})
        assert (await webhook_summary(db, user)).status == "inactive"


async def test_global_key_acts_for_a_named_user(stack: Stack, receiver: Receiver) -> None:
    user, _key = await new_user(stack)
    async with stack.admin as admin:
        r = await admin.post(
            "/api/v1/webhooks",
            json={"name": "g", "url": receiver.url("/g"), "events": ["*"], "userId": user},
        )
        assert r.status_code == 201, r.text
        r = await admin.get("/api/v1/webhooks", params={"userId": user})
        assert len(r.json()) == 1
        r = await admin.get("/api/v1/webhooks")
        assert r.status_code == 400
