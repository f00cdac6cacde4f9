"""Outbound HTTP that cannot be pointed at our own network.

User-supplied URLs (webhooks, the HTTP connector) are resolved here, every
resolved address is checked, and the request is sent to the checked address
itself (``Host`` header and TLS SNI keep the name), so a DNS answer that changes
between the check and the connection cannot reach a private address. Redirects
are followed by hand, each hop checked again, or not at all; a hop to another
origin loses the credentials meant for the first one. ``resolve_host`` is the same
check for connectors that speak other protocols (SMTP).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from connectors.errors import InvalidInputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})

# IPv6 ranges whose low 32 bits name an IPv4 host that a translator or the stack
# itself may end up reaching: NAT64's well-known (RFC 6052) and local-use (RFC 8215)
# prefixes, IPv4-compatible (RFC 4291, deprecated) and IPv4-translated (RFC 2765,
# ::ffff:0:a.b.c.d; not the IPv4-mapped ::ffff:a.b.c.d, which Python reads itself)
# addresses. ``is_global`` judges the IPv6 form, so ``64:ff9b::7f00:1`` would pass.
_EMBEDS_IPV4_LOW32 = tuple(
    ipaddress.IPv6Network(net)
    for net in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96")
)

# Sent again to a redirect's target only while it stays on the same origin, as
# browsers and httpx do for Authorization. An API may take its key in any header, so
# names that look like credentials count too (every name the API seals as secret does).
_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token"}
)
_CREDENTIAL_HEADER_NAME = re.compile(
    r"auth|cookie|token|secret|passw|api[-_]?key|signature|session|credential", re.IGNORECASE
)
# A redirect that drops the body drops what describes the body too (Fetch standard).
_BODY_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "content-language",
        "content-location",
        "transfer-encoding",
    }
)


class BlockedAddressError(InvalidInputError):
    """The URL resolves to an address user traffic may not reach."""


class UnresolvableHostError(InvalidInputError):
    """DNS has no address for the host; ``temporary`` when the resolver only failed for now."""

    def __init__(self, message: str, *, temporary: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    embedded = address.ipv4_mapped or address.sixtofour
    if embedded is not None:
        return embedded
    if any(address in net for net in _EMBEDS_IPV4_LOW32):
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def is_blocked(address: IPAddress) -> bool:
    """Anything that is not a public unicast address is blocked.

    An IPv6 address that carries an IPv4 one is judged by the IPv4 address it leads to.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.teredo is not None:
            return True
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_blocked(embedded)
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
        raise UnresolvableHostError(
            f"cannot resolve host {host!r}", temporary=exc.errno == socket.EAI_AGAIN
        ) from exc
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


async def resolve_host(host: str, port: int, *, allow_private: bool, what: str = "host") -> str:
    """Resolve ``host`` and check every address; the first one is the one to connect to.

    Refusing when any answer is blocked (not only the first) keeps a name that
    mixes public and private answers from reaching the private one on a later try.
    """
    addresses = await _addresses(host, port)
    if not addresses:
        raise UnresolvableHostError(f"cannot resolve {what} {host!r}")
    if not allow_private:
        for addr in addresses:
            if is_blocked(addr):
                raise BlockedAddressError(
                    f"{what} {host!r} resolves to a private or reserved address; refused"
                )
    return str(addresses[0])


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
    address = await resolve_host(host, _port(parsed), allow_private=allow_private, what="URL host")
    return Target(url=parsed, address=address)


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return (url.scheme, url.host.lower(), _port(url))


def is_credential_header(name: str) -> bool:
    """Whether a header looks like it carries a secret, by its name alone."""
    lowered = name.lower()
    return lowered in _CREDENTIAL_HEADERS or _CREDENTIAL_HEADER_NAME.search(lowered) is not None


def _without(headers: dict[str, str], drop: Iterable[str]) -> dict[str, str]:
    names = {name.lower() for name in drop}
    return {k: v for k, v in headers.items() if k.lower() not in names}


def _redirect_method(status: int, method: str) -> str:
    """The method the next hop uses, as browsers and httpx pick it."""
    if status == 303 and method != "HEAD":
        return "GET"
    if status in (301, 302) and method == "POST":
        return "GET"
    return method


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
    secret_headers: Iterable[str] = (),
) -> httpx.Response:
    """Send one request (streaming; the caller reads and closes the response).

    On a redirect to another origin (scheme, host or port), ``secret_headers`` (those
    the caller filled from credentials) and every header that looks like a credential
    are not sent again; a 303, or a 301/302 after a POST, goes on as a GET without body.
    """
    try:
        current = httpx.URL(url, params=params) if params else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InvalidInputError(f"invalid URL: {exc}") from exc
    method = method.upper()
    hop_headers = dict(headers or {})
    secret = {name.lower() for name in secret_headers}
    for _hop in range(max_redirects + 1):
        target = await resolve_target(current, allow_private=allow_private)
        host_ip = target.address
        pinned = target.url.copy_with(host=host_ip)
        request_headers = _without(hop_headers, ["host"])
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
        try:
            current = target.url.join(location)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise InvalidInputError(f"invalid redirect location: {exc}") from exc
        if _origin(current) != _origin(target.url):
            # Stripped for good: a later hop back to the first origin does not get them back.
            hop_headers = {
                k: v
                for k, v in hop_headers.items()
                if k.lower() not in secret and not is_credential_header(k)
            }
        next_method = _redirect_method(response.status_code, method)
        if next_method != method:
            method, content = next_method, None
            hop_headers = _without(hop_headers, _BODY_HEADERS)
    raise InvalidInputError(f"too many redirects (more than {max_redirects})")
