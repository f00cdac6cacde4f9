"""Outbound address policy: everything that is not public unicast is refused, and a
redirect to another origin does not carry the credentials along."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest

from connectors import http
from connectors.base import ActionContext
from connectors.errors import InvalidInputError
from connectors.netguard import BlockedAddressError, is_blocked, resolve_target
from tests.fakes.server import serve
from tests.fakes.target import Target


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "::ffff:127.0.0.1",
        "fe80::1",
        "fd00:ec2::254",
        "2002:7f00:1::1",
        "224.0.0.1",
        "255.255.255.255",
    ],
)
def test_private_and_special_addresses_are_blocked(address: str) -> None:
    assert is_blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert not is_blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8080/x",
        "http://2130706433/",
        "http://0x7f.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data",
    ],
)
async def test_refused_before_connecting(url: str) -> None:
    with pytest.raises((BlockedAddressError, InvalidInputError)):
        await resolve_target(url, allow_private=False)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "http:///nohost", "not a url", "file:///etc/passwd"]
)
async def test_malformed_urls_are_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInputError):
        await resolve_target(url, allow_private=True)


async def test_operator_may_allow_private() -> None:
    target = await resolve_target("http://127.0.0.1:9/", allow_private=True)
    assert target.address == "127.0.0.1"


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",
        "64:ff9b::a00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::c0a8:101",
        "64:ff9b:1::a9fe:a9fe",
        "64:ff9b:1::7f00:1",
        "::127.0.0.1",
        "::10.0.0.1",
        "::1",
        "::",
        "::ffff:0:10.0.0.1",
        "::ffff:0:169.254.169.254",
        "::ffff:0:127.0.0.1",
    ],
)
def test_ipv6_forms_of_internal_ipv4_addresses_are_blocked(address: str) -> None:
    assert is_blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("address", "embedded"),
    [
        ("64:ff9b::808:808", "8.8.8.8"),
        ("64:ff9b::5db8:d822", "93.184.216.34"),
        ("64:ff9b::7f00:1", "127.0.0.1"),
        ("64:ff9b:1::808:808", "8.8.8.8"),
        ("::8.8.8.8", "8.8.8.8"),
        ("::ffff:0:8.8.8.8", "8.8.8.8"),
        ("::ffff:0:10.0.0.1", "10.0.0.1"),
        ("2002:808:808::1", "8.8.8.8"),
        ("::ffff:8.8.8.8", "8.8.8.8"),
    ],
)
def test_embedded_ipv4_decides(address: str, embedded: str) -> None:
    assert is_blocked(ipaddress.ip_address(address)) == is_blocked(ipaddress.ip_address(embedded))


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "http://[::127.0.0.1]/",
        "http://[::ffff:0:10.0.0.1]/",
        "http://[64:ff9b:1::a00:1]:8080/",
    ],
)
async def test_ipv6_forms_are_refused_before_connecting(url: str) -> None:
    with pytest.raises(BlockedAddressError):
        await resolve_target(url, allow_private=False)


# Redirects, through the HTTP connector against loopback servers: a second server on
# another port is another origin.

SECRET = "s3cret-4b1d"
CREDENTIAL_HEADERS = {
    "X-Api-Key": SECRET,
    "Api-Key": SECRET,
    "X-Auth-Token": SECRET,
    "Cookie": f"sid={SECRET}",
    "Proxy-Authorization": f"Basic {SECRET}",
    "X-Session-Id": SECRET,
}
LOOPBACK = ActionContext(allow_private_urls=True, timeout_seconds=5)


@pytest.fixture
async def other_origin() -> AsyncIterator[Target]:
    other = Target()
    async with serve(other.app()) as base_url:
        other.base_url = base_url
        yield other


def redirect_url(server: Target, to: str, code: int = 302) -> str:
    return f"{server.base_url}/redirect?{urlencode({'to': to, 'code': code})}"


async def call(url: str, **extra: Any) -> http.HttpRequestOutput:
    return await http.request(LOOPBACK, http.HttpRequestInput.model_validate({"url": url, **extra}))


async def test_cross_origin_redirect_drops_credentials(target: Target, other_origin: Target):
    out = await call(
        redirect_url(target, other_origin.base_url + "/echo"),
        auth={"type": "bearer", "token": SECRET},
        headers={**CREDENTIAL_HEADERS, "X-Trace": "trace-1", "Accept": "application/json"},
    )

    assert out.status == 200
    [first] = target.requests
    assert first.headers["authorization"] == f"Bearer {SECRET}"
    assert all(first.headers[name.lower()] == value for name, value in CREDENTIAL_HEADERS.items())
    [landed] = other_origin.requests
    assert SECRET not in str(landed.headers)
    assert landed.headers["x-trace"] == "trace-1"
    assert landed.headers["accept"] == "application/json"
    assert landed.headers["host"] == other_origin.base_url.removeprefix("http://")


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "api_key", "key": SECRET, "header": "X-Partner"},
        {"type": "basic", "username": "ann", "password": SECRET},
    ],
)
async def test_the_credentials_header_is_dropped_whatever_its_name(
    target: Target, other_origin: Target, auth: dict[str, str]
):
    await call(redirect_url(target, other_origin.base_url + "/echo"), auth=auth)

    assert target.requests[0].headers.get("x-partner", SECRET) == SECRET
    [landed] = other_origin.requests
    assert "x-partner" not in landed.headers and "authorization" not in landed.headers


async def test_same_origin_redirect_keeps_credentials(target: Target):
    out = await call(
        redirect_url(target, "/echo"),
        auth={"type": "bearer", "token": SECRET},
        headers=CREDENTIAL_HEADERS,
    )

    assert out.status == 200
    landed = target.requests[-1]
    assert landed.path == "/echo"
    assert landed.headers["authorization"] == f"Bearer {SECRET}"
    assert all(landed.headers[name.lower()] == value for name, value in CREDENTIAL_HEADERS.items())


async def test_credentials_stay_dropped_when_a_redirect_comes_back(
    target: Target, other_origin: Target
):
    back = redirect_url(other_origin, target.base_url + "/echo")

    await call(
        redirect_url(target, back),
        auth={"type": "bearer", "token": SECRET},
        headers=CREDENTIAL_HEADERS,
    )

    landed = target.requests[-1]
    assert landed.path == "/echo"
    assert SECRET not in str(landed.headers)


@pytest.mark.parametrize(
    ("code", "method", "then", "keeps_body"),
    [
        (303, "POST", "GET", False),
        (303, "PUT", "GET", False),
        (302, "POST", "GET", False),
        (301, "POST", "GET", False),
        (302, "PUT", "PUT", True),
        (307, "POST", "POST", True),
        (308, "PUT", "PUT", True),
    ],
)
async def test_redirect_method_and_body(
    target: Target, code: int, method: str, then: str, keeps_body: bool
):
    await call(redirect_url(target, "/echo", code), method=method, body={"n": 1})

    landed = target.requests[-1]
    assert landed.path == "/echo" and landed.method == then
    if keeps_body:
        assert landed.json == {"n": 1}
        assert landed.headers["content-type"] == "application/json"
    else:
        assert landed.body == b""
        assert "content-type" not in landed.headers
        assert landed.headers.get("content-length", "0") == "0"


async def test_head_stays_head_after_303(target: Target):
    await call(redirect_url(target, "/echo", 303), method="HEAD")

    assert [r.method for r in target.requests] == ["HEAD", "HEAD"]


async def test_redirects_are_not_followed_when_turned_off(target: Target, other_origin: Target):
    out = await call(redirect_url(target, other_origin.base_url + "/echo"), followRedirects=False)

    assert out.status == 302
    assert other_origin.requests == []
