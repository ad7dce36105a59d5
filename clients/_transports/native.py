"""A lean HTTP/1.1 keep-alive connection pool on asyncio and httptools: the upstream transport.

The gateway sends complete requests (method, path, a few headers, a body) and relays replies as
bytes; it needs none of a general client's cookies, redirects, proxies or decompression. Under
py-spy aiohttp's request path and the httpx objects around it were ~30% of a relayed request's
CPU and ~0.3 ms of its latency. Failures are raised as httpx's exception types, so one function
(`_transport.upstream_error`) maps every transport's failures.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import re
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools
import httpx

from .._config import PoolLimits

_HIGH_WATER = 1 << 20  # buffered body bytes at which reading pauses until the consumer catches up

_PATH = re.compile(r"/[!-~]*")  # visible ASCII only: nothing that ends a request line
MAX_HEADER_BYTES = 64 * 1024  # a response's header lines together


class ResponseTooLarge(httpx.RemoteProtocolError):
    """An upstream response that went past a bound of the pool (its message names it)."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an upstream base URL points: the connection key and the request-line parts."""

    scheme: str
    host: str
    port: int
    prefix: bytes  # the base URL's path, prepended to every request path
    host_header: bytes

    @property
    def key(self) -> tuple[str, str, int]:
        """The pool key: connections are shared per scheme, host and port."""
        return self.scheme, self.host, self.port


@functools.lru_cache(maxsize=256)
def parse_origin(upstream: str) -> Origin:
    """Parse an upstream base URL (`http://host:port[/prefix]`) once; raise on other schemes."""
    parts = urlsplit(upstream)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise httpx.UnsupportedProtocol(f"not an http(s) URL: {upstream!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Origin(
        parts.scheme,
        parts.hostname,
        port,
        parts.path.rstrip("/").encode(),
        parts.netloc.rpartition("@")[2].encode("idna"),
    )


def request_head(
    method: str, origin: Origin, path: str, headers: Mapping[str, str], length: int | None
) -> bytes:
    """The request line and headers; refuses a path or header values that would split the
    request (control characters, spaces, line breaks)."""
    if _PATH.fullmatch(path) is None:
        raise httpx.LocalProtocolError("a request path contains a space or a control character")
    lines = [f"{name}: {value}\r\n" for name, value in headers.items()]
    text = "".join(lines)
    if text.count("\n") != len(lines) or text.count("\r") != len(lines):
        raise httpx.LocalProtocolError("a request header contains a line break")
    try:
        encoded = text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise httpx.LocalProtocolError("a request header is not latin-1") from exc
    size = b"" if length is None else b"content-length: %d\r\n" % length
    return b"%s %s%s HTTP/1.1\r\nhost: %s\r\n%s%s\r\n" % (
        method.encode(),
        origin.prefix,
        path.encode(),
        origin.host_header,
        encoded,
        size,
    )


class PooledResponse:
    """One response read off a pooled connection; `aclose()` returns or closes the connection."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_connection",
        "_done",
        "_error",
        "_waiter",
        "headers",
        "keep_alive",
        "status",
    )

    def __init__(self, connection: _Connection) -> None:
        self._connection: _Connection | None = connection
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.keep_alive = False
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._done = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None

    def header(self, name: str) -> str | None:
        """The value of header `name` (lower case), or None."""
        key = name.encode()
        for header, value in self.headers:
            if header == key:
                return value.decode("latin-1")
        return None

    async def read(self) -> bytes:
        """The whole body."""
        parts = [chunk async for chunk in self.chunks()]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives: everything buffered since the last step, joined."""
        while True:
            if self._chunks:
                data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
                self._chunks.clear()
                self._buffered = 0
                if self._connection is not None:
                    self._connection.resume()
                yield data
            elif self._error is not None:
                raise self._error
            elif self._done:
                return
            else:
                self._waiter = asyncio.get_running_loop().create_future()
                await self._waiter

    async def aclose(self) -> None:
        """Give the connection back if the body was read to the end, else close it."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._done and self._error is None and self.keep_alive:
            connection.release()
        else:
            connection.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _HIGH_WATER and self._connection is not None:
            self._connection.pause()
        self._wake()

    def _finish(self, error: Exception | None = None) -> None:
        self._done = True
        self._error = error
        self._wake()


class _Connection(asyncio.Protocol):
    """One TCP connection: writes a request, parses its response (httptools), one at a time."""

    def __init__(self, pool: ConnectionPool, key: tuple[str, str, int]) -> None:
        self.pool = pool
        self.key = key
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.response: PooledResponse | None = None
        self.headers_ready: asyncio.Future[None] | None = None
        self.closed = False
        self.paused = False
        self.idle_since = 0.0
        self.framed = False  # the current response has a length or is chunked
        self.header_bytes = 0
        self.interim = False  # the message being parsed is a 1xx, not the response

    async def exchange(self, head: bytes, body: bytes | None) -> PooledResponse:
        """Send one request and return its response once the headers arrived."""
        response = self.response = PooledResponse(self)
        self.framed = False
        self.header_bytes = 0
        ready = self.headers_ready = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(head + body if body else head)
        await ready
        return response

    def release(self) -> None:
        """Back to the pool after a complete response."""
        self.resume()  # a body that ended while paused, closed unread, left reading paused
        self.response = None
        self.pool.put_idle(self)

    def close(self) -> None:
        """Close the socket; the pool forgets the connection."""
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
            self.pool.forget(self)

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and not self.closed and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.response is None:
            self.close()  # bytes nobody asked for: the connection is not in a known state
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            ours = exc.__context__  # an error a callback raised, e.g. a limit
            if isinstance(ours, httpx.RemoteProtocolError):
                self._fail(ours)
            else:
                self._fail(httpx.RemoteProtocolError(f"malformed HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        response = self.response
        if response is not None and not response._done:
            if response.status and not self.framed and exc is None:
                response._finish()  # a body without length or chunking ends with the connection
            elif exc is not None:
                self._fail(httpx.RemoteProtocolError("the connection was reset mid-response"))
            else:
                self._fail(httpx.RemoteProtocolError("the server closed the connection"))
        self.closed = True
        self.pool.forget(self)

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self.response is not None and self.response._done:
            # A second response to one request: the parse stops and the connection is closed.
            raise httpx.RemoteProtocolError("the server sent a response nobody asked for")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value) + 4
        if self.header_bytes > MAX_HEADER_BYTES:
            raise ResponseTooLarge(f"the upstream's headers exceed {MAX_HEADER_BYTES} bytes")
        name = name.lower()
        if name in (b"content-length", b"transfer-encoding"):
            self.framed = True
        assert self.response is not None
        self.response.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.response is not None
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue, 103 Early Hints): skip it
            self.interim = True
            self.response.headers.clear()
            self.header_bytes = 0
            self.framed = False
            return
        self.response.status = status
        if self.headers_ready is not None and not self.headers_ready.done():
            self.headers_ready.set_result(None)

    def on_body(self, body: bytes) -> None:
        assert self.response is not None
        self.response._feed(body)

    def on_message_complete(self) -> None:
        assert self.response is not None
        if self.interim:
            self.interim = False
            return
        self.response.keep_alive = self.parser.should_keep_alive()
        self.response._finish()

    def _fail(self, error: Exception) -> None:
        if self.headers_ready is not None and not self.headers_ready.done():
            self.headers_ready.set_exception(error)
        elif self.response is not None and not self.response._done:
            self.response._finish(error)


class ConnectionPool:
    """Keep-alive connections per origin, bounded by `PoolLimits`; idle ones expire."""

    def __init__(self, limits: PoolLimits) -> None:
        self.limits = limits
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._per_host: collections.Counter[tuple[str, str, int]] = collections.Counter()
        self._waiters: collections.deque[tuple[tuple[str, str, int], asyncio.Future[None]]] = (
            collections.deque()
        )
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    async def send(
        self,
        upstream: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        connect_timeout: float | None,
    ) -> PooledResponse:
        """Send a request to `upstream` + `path`; return the response once its headers arrived."""
        origin = parse_origin(upstream)
        head = request_head(method, origin, path, headers, len(body) if body else None)
        connection = await self._acquire(origin, connect_timeout)
        try:
            return await connection.exchange(head, body)
        except BaseException:
            connection.close()
            raise

    def put_idle(self, connection: _Connection) -> None:
        """Keep a connection whose response is complete for the next request."""
        if connection.closed or self._closed:
            return
        connection.idle_since = time.monotonic()
        idle = self._idle.setdefault(connection.key, [])
        idle.append(connection)
        # The oldest idle connection is first: expire it (and any as old) on the way.
        while idle and connection.idle_since - idle[0].idle_since > self.limits.keepalive_expiry:
            idle[0].close()
        self._wake()

    def forget(self, connection: _Connection) -> None:
        """Drop a closed connection from every count."""
        if connection in self._open:
            self._open.discard(connection)
            self._per_host[connection.key] -= 1
            idle = self._idle.get(connection.key)
            if idle and connection in idle:
                idle.remove(connection)
            self._wake()

    async def aclose(self) -> None:
        """Close every connection; further requests raise RuntimeError."""
        self._closed = True
        for connection in list(self._open):
            connection.close()

    async def _acquire(self, origin: Origin, connect_timeout: float | None) -> _Connection:
        key = origin.key
        while True:
            if self._closed:  # checked again after each wait: aclose() wakes the waiters
                raise RuntimeError("the connection pool is closed")
            idle = self._idle.get(key)
            now = time.monotonic()
            while idle:
                connection = idle.pop()
                if not connection.closed and now - connection.idle_since <= (
                    self.limits.keepalive_expiry
                ):
                    return connection
                connection.close()
            if self._room_for(key):
                return await self._connect(origin, connect_timeout)
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append((key, waiter))
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken, but leaving: the next waiter gets the turn
                raise

    def _room_for(self, key: tuple[str, str, int]) -> bool:
        if not self._may_open(key):
            return False
        if len(self._open) >= self.limits.max_connections:
            for other, idle in self._idle.items():  # full: an idle connection elsewhere makes room
                if other != key and idle:
                    idle[0].close()
                    break
        return True

    def _may_open(self, key: tuple[str, str, int]) -> bool:
        per_host = self.limits.max_connections_per_host
        if per_host and self._per_host[key] >= per_host:
            return False
        return len(self._open) < self.limits.max_connections or any(
            idle for other, idle in self._idle.items() if other != key
        )

    async def _connect(self, origin: Origin, limit: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        connection = _Connection(self, origin.key)
        self._open.add(connection)
        self._per_host[origin.key] += 1
        try:
            async with asyncio.timeout(limit):
                await loop.create_connection(
                    lambda: connection,
                    origin.host,
                    origin.port,
                    ssl=self._tls() if origin.scheme == "https" else None,
                    server_hostname=origin.host if origin.scheme == "https" else None,
                )
        except TimeoutError as exc:
            connection.close()
            raise httpx.ConnectTimeout(f"no connection within {limit}s") from exc
        except OSError as exc:
            connection.close()
            raise httpx.ConnectError(str(exc)) from exc
        except BaseException:
            connection.close()
            raise
        return connection

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _wake(self) -> None:
        if not self._waiters:  # the common case, on every release
            return
        # The turn goes to the first waiter that can proceed: with a per-host limit, the first
        # in line may still be blocked, and waking only it would strand the others.
        self._waiters = collections.deque(entry for entry in self._waiters if not entry[1].done())
        for entry in self._waiters:
            key, waiter = entry
            if self._idle.get(key) or self._may_open(key):
                self._waiters.remove(entry)
                waiter.set_result(None)
                return
