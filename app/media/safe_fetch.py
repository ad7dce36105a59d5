"""Fetch a client-given http(s) URL without letting it reach into the gateway's network (SSRF).

Every hop, redirects included: resolve the host, refuse unless every address is public (not
loopback, private, link-local, metadata, multicast or reserved), then connect to the checked
address itself (the Host header and TLS SNI keep the name), so DNS cannot answer differently
between the check and the connection. "host:port" pairs on an allow-list skip the address check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchRefused(ValueError):
    """Raised when a URL may not be fetched, or its answer is unusable; the message says why."""


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits of one fetch: body size, total time (all hops), redirects, allowed host:ports."""

    max_bytes: int
    timeout: float
    allow_hosts: frozenset[str] = frozenset()
    max_redirects: int = 3


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched body and the content type its server declared."""

    content: bytes
    content_type: str


class FetchClient:
    """The outbound client for untrusted URLs, an async context manager that closes it.

    Its httpx client (no proxies from the environment, no redirects followed by httpx, no
    connection reuse, as connections are made to checked addresses) is created by the first
    fetch: it costs ~1.6 MB of resident memory (httpcore, an SSL context) and most gateways
    never fetch an image.
    """

    def __init__(self) -> None:
        self._http: httpx.AsyncClient | None = None
        self._closed = False

    def http(self) -> httpx.AsyncClient:
        """The httpx client, created on first use."""
        if self._closed:
            raise RuntimeError("This FetchClient is closed and cannot fetch any more URLs.")
        if self._http is None:
            self._http = httpx.AsyncClient(
                trust_env=False,
                follow_redirects=False,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return self._http

    async def aclose(self) -> None:
        """Close the httpx client if one was created; later fetches raise `RuntimeError`."""
        self._closed = True
        if self._http is not None:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def fetch_client() -> FetchClient:
    """A new `FetchClient` (the app's lifespan owns one)."""
    return FetchClient()


async def safe_fetch(fetcher: FetchClient, url: str, policy: FetchPolicy) -> Fetched:
    """GET `url` under `policy`; raise `FetchRefused` for anything but a complete 200."""
    try:
        async with asyncio.timeout(policy.timeout):
            return await _follow(fetcher.http(), httpx.URL(url), policy)
    except TimeoutError:
        raise FetchRefused(f"no complete answer within {policy.timeout}s") from None
    except httpx.InvalidURL as exc:
        raise FetchRefused(f"not a valid URL ({exc})") from exc
    except httpx.HTTPError as exc:
        raise FetchRefused(f"the connection failed ({type(exc).__name__})") from exc


async def _follow(http: httpx.AsyncClient, url: httpx.URL, policy: FetchPolicy) -> Fetched:
    for _ in range(policy.max_redirects + 1):
        response = await http.send(await _pinned_request(url, policy), stream=True)
        try:
            if response.is_redirect:
                url = url.join(response.headers["location"])
                continue
            if response.status_code != 200:
                raise FetchRefused(f"the server answered HTTP {response.status_code}")
            content = await _read(response, policy.max_bytes)
            return Fetched(content, response.headers.get("content-type", ""))
        finally:
            await response.aclose()
    raise FetchRefused(f"more than {policy.max_redirects} redirects")


async def _pinned_request(url: httpx.URL, policy: FetchPolicy) -> httpx.Request:
    """A GET of `url` sent to a checked address of its host."""
    if url.scheme not in _DEFAULT_PORTS or not url.host:
        raise FetchRefused("only http and https URLs with a host can be fetched")
    if url.userinfo:
        raise FetchRefused("URLs with credentials are not fetched")
    port = url.port or _DEFAULT_PORTS[url.scheme]
    addresses = await _resolve(url.host, port)
    allowed = f"{url.host}:{port}" in policy.allow_hosts
    if not addresses or not (allowed or all(_public(address) for address in addresses)):
        # One answer for "no such name" and "a private address": no probing of internal DNS.
        raise FetchRefused(f"{url.host!r} does not resolve to a public address")
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return httpx.Request(
        "GET",
        url.copy_with(host=str(addresses[0])),
        # identity: a compressed body could inflate past the size limit before it is counted
        headers={
            "host": url.netloc.decode("ascii"),
            "accept": "image/*",
            "accept-encoding": "identity",
        },
        extensions=extensions,
    )


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass  # a name, not an address literal
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _public(address: IPAddress) -> bool:
    """Whether `address` is a public unicast address; an IPv6 address that carries an IPv4
    one (mapped, 6to4, Teredo, NAT64, IPv4-compatible) is judged by what it carries, and
    site-local IPv6 (fec0::/10, deprecated but routable inside sites) is never public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local:
            return False
        carried = _carried_ipv4(address)
        if carried:
            return all(_public(inner) for inner in carried)
    return address.is_global and not address.is_multicast


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _carried_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address embeds, by the translations that reach them."""
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    carried = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    carried += list(address.teredo or ())
    if any(address in network for network in _NAT64) or address in _IPV4_COMPATIBLE:
        carried.append(low32)
    return carried


async def _read(response: httpx.Response, max_bytes: int) -> bytes:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchRefused(f"the body is compressed ({encoding}); send it uncompressed")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchRefused(f"the body is larger than {max_bytes} bytes")
    chunks, size = [], 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > max_bytes:
            raise FetchRefused(f"the body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
