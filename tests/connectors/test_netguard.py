"""Outbound address policy: everything that is not public unicast is refused."""

from __future__ import annotations

import ipaddress

import pytest

from connectors.errors import InvalidInputError
from connectors.netguard import BlockedAddressError, is_blocked, resolve_target


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
     "0.0.0.0", "::1", "::ffff:127.0.0.1", "fe80::1", "fd00:ec2::254", "2002:7f00:1::1",
     "224.0.0.1", "255.255.255.255"],
)
def test_private_and_special_addresses_are_blocked(address: str) -> None:
    assert is_blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert not is_blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/", "http://localhost:8080/x", "http://2130706433/", "http://0x7f.0.0.1/",
     "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/meta-data"],
)
async def test_refused_before_connecting(url: str) -> None:
    with pytest.raises((BlockedAddressError, InvalidInputError)):
        await resolve_target(url, allow_private=False)


@pytest.mark.parametrize("url", ["ftp://example.com/", "http:///nohost", "not a url", "file:///etc/passwd"])
async def test_malformed_urls_are_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInputError):
        await resolve_target(url, allow_private=True)


async def test_operator_may_allow_private() -> None:
    target = await resolve_target("http://127.0.0.1:9/", allow_private=True)
    assert target.address == "127.0.0.1"
