"""Outbound HTTP that cannot be pointed at our own network.

User-supplied URLs (webhooks, the HTTP connector) are resolved here, every
resolved address is checked, and the request is sent to the checked address
itself (``Host`` header and TLS SNI keep the name), so a DNS answer that changes
between the check and the connection cannot reach a private address. Redirects
are followed by hand, each hop checked again, or not at all.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from connectors.errors import InvalidInputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


class BlockedAddressError(InvalidInputError):
    """The URL resolves to an address user traffic may not reach."""


def is_blocked(address: IPAddress) -> bool:
    """Anything that is not a public unicast address is blocked."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_blocked(embedded)
        if address.teredo is not None:
            return True
    return not address.is_global or address.is_multicast


async def _addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` stands for: itself when it is an IP literal, else DNS's answer."""
    try:
        return [ipaddress.ip_address(host)]  # (no resolver round trip, as anyio does)
    except ValueError:
        pass  # a name, or a form only the resolver reads (decimal, octal, short, scoped)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InvalidInputError(f"cannot resolve host {host!r}") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if addr not in addresses:
            addresses.append(addr)
    return addresses


@dataclass(frozen=True)
class Target:
    url: httpx.URL
    address: str


async def resolve_target(url: str | httpx.URL, *, allow_private: bool) -> Target:
    """Parse ``url``, resolve its host and check every address it resolves to."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InvalidInputError(f"invalid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise InvalidInputError("URL scheme must be http or https")
    host = parsed.host
    if not host:
        raise InvalidInputError("URL has no host")
    addresses = await _addresses(host, parsed.port or (443 if parsed.scheme == "https" else 80))
    if not addresses:
        raise InvalidInputError(f"cannot resolve host {host!r}")
    if not allow_private:
        for addr in addresses:
            if is_blocked(addr):
                raise BlockedAddressError(
                    f"URL host {host!r} resolves to a private or reserved address; refused"
                )
    return Target(url=parsed, address=str(addresses[0]))


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    allow_private: bool,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    content: bytes | None = None,
    timeout: float = 30.0,
    max_redirects: int = 0,
) -> httpx.Response:
    """Send one request (streaming; the caller reads and closes the response)."""
    try:
        current = httpx.URL(url, params=params) if params else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InvalidInputError(f"invalid URL: {exc}") from exc
    for _hop in range(max_redirects + 1):
        target = await resolve_target(current, allow_private=allow_private)
        host_ip = target.address
        pinned = target.url.copy_with(host=host_ip)
        request_headers = dict(headers or {})
        request_headers["Host"] = target.url.netloc.decode("ascii")
        extensions: dict[str, object] = {
            "timeout": httpx.Timeout(timeout).as_dict(),
        }
        if target.url.scheme == "https":
            extensions["sni_hostname"] = target.url.host
        request = client.build_request(
            method, pinned, headers=request_headers, content=content, extensions=extensions
        )
        response = await client.send(request, stream=True, follow_redirects=False)
        location = response.headers.get("location")
        if response.status_code not in REDIRECT_CODES or not location or max_redirects == 0:
            return response
        await response.aclose()
        current = target.url.join(location)
        if response.status_code == 303 or (
            response.status_code in (301, 302) and method.upper() == "POST"
        ):
            method, content = "GET", None
    raise InvalidInputError(f"too many redirects (more than {max_redirects})")
