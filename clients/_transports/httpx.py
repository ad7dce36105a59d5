"""What `UpstreamClient` needs from a transport, and the adapter for httpx transports.

The default is the native HTTP/1.1 pool (`native`); any `httpx.AsyncBaseTransport` (httpx's
own, `MockTransport`, or respx's mocks in tests) fits behind `HttpxWire`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Protocol

import httpx


class WireResponse(Protocol):
    """A response whose headers arrived; the body is read once, then it is closed."""

    status: int

    def header(self, name: str) -> str | None:
        """The value of header `name` (lower case), or None."""

    async def read(self) -> bytes:
        """The whole body."""

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""

    async def aclose(self) -> None:
        """Release the connection (closing it if the body was not read to the end)."""


class Wire(Protocol):
    """Sends one request and returns its response once the status and headers arrived."""

    async def send(
        self,
        upstream: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        connect_timeout: float | None,
    ) -> WireResponse:
        """Send `method` `upstream + path`; failures raise `httpx.TransportError`s."""

    async def aclose(self) -> None:
        """Close every connection."""


class HttpxResponse:
    """A `WireResponse` over an `httpx.Response`."""

    __slots__ = ("response", "status")

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code

    def header(self, name: str) -> str | None:
        """The value of header `name`, or None."""
        value: str | None = self.response.headers.get(name)
        return value

    async def read(self) -> bytes:
        """The whole body."""
        return await self.response.aread()

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as the transport hands it over (decoded like `read`; a body a mock
        transport gave whole comes as one chunk)."""
        return self.response.aiter_bytes()

    async def aclose(self) -> None:
        """Close the response."""
        await self.response.aclose()


class HttpxWire:
    """A `Wire` over an httpx transport."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport

    async def send(
        self,
        upstream: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        connect_timeout: float | None,
    ) -> HttpxResponse:
        """Build the `httpx.Request` and hand it to the transport."""
        timeout = {"connect": connect_timeout, "read": None, "write": None, "pool": None}
        request = httpx.Request(
            method, upstream + path, content=body, headers=headers, extensions={"timeout": timeout}
        )
        response = await self.transport.handle_async_request(request)
        response.request = request
        return HttpxResponse(response)

    async def aclose(self) -> None:
        """Close the transport."""
        await self.transport.aclose()
