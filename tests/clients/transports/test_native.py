"""The native HTTP/1.1 pool against scripted servers on real 127.0.0.1 sockets.

Each test starts a `Scripted` server whose handler writes raw response bytes; the server counts
accepted connections and records each raw request, so reuse and wire format are seen from the
other end of the socket.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from clients import (
    PoolLimits,
    Timeouts,
    UpstreamClient,
    UpstreamConnectTimeout,
    UpstreamProtocolError,
    UpstreamUnavailable,
)
from clients._transports.native import (
    _HIGH_WATER,
    ConnectionPool,
    PooledResponse,
    parse_origin,
    request_head,
)
from tests.support.servers import free_port

WAIT = 5.0  # bound on every wait for an event; never reached when the code works
FAST = Timeouts(connect=1, first_token=2, idle=2, total=3)

Handler = Callable[["Scripted", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

CHAT = "/v1/chat/completions"


def reply(body: bytes = b"ok", *headers: str, status: str = "200 OK") -> bytes:
    """A complete HTTP/1.1 response with a content-length."""
    head = "".join(f"{header}\r\n" for header in headers)
    return b"HTTP/1.1 %s\r\ncontent-length: %d\r\n%s\r\n%s" % (
        status.encode(),
        len(body),
        head.encode(),
        body,
    )


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"


async def read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One raw request (head and content-length body), or None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return head + await reader.readexactly(length)


class Scripted:
    """An asyncio server on 127.0.0.1 running `handler` per connection; always closed on exit."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.arrived = asyncio.Event()  # set at each request
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.url = ""

    async def request(self, reader: asyncio.StreamReader) -> bytes | None:
        """Read and record the next request on a connection."""
        raw = await read_request(reader)
        if raw is not None:
            self.requests.append(raw)
            self.arrived.set()
        return raw

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        self._writers.append(writer)
        try:
            await self.handler(self, reader, writer)
        except asyncio.CancelledError:
            pass  # stopped by __aexit__; asyncio's stream server (3.11) logs cancelled handlers
        finally:
            writer.close()

    async def __aenter__(self) -> Scripted:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()
            await asyncio.gather(writer.wait_closed(), return_exceptions=True)
        await self._server.wait_closed()


def answering(*responses: bytes) -> Handler:
    """A keep-alive handler answering each request on a connection with the next of `responses`
    (the last one repeats)."""

    async def handler(server: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        index = 0
        while await server.request(reader) is not None:
            writer.write(responses[min(index, len(responses) - 1)])
            index += 1

    return handler


@pytest.fixture
async def pool() -> AsyncIterator[ConnectionPool]:
    pool = ConnectionPool(PoolLimits())
    yield pool
    await pool.aclose()


async def fetch(pool: ConnectionPool, url: str, path: str = "/x", body: bytes | None = None):
    """Send a request and read its whole body; return (status, body)."""
    async with asyncio.timeout(WAIT):  # no inner task: a step of the caller is a step of send
        response = await pool.send(url, "POST", path, {}, body, 1.0)
        try:
            return response.status, await response.read()
        finally:
            await response.aclose()


async def wait_for(event: asyncio.Event) -> None:
    await asyncio.wait_for(event.wait(), WAIT)


async def until(condition: Callable[[], bool]) -> None:
    """Wait (bounded) until `condition()` holds, for states no event announces."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - the pool has no event to await for these
            await asyncio.sleep(0.001)


# 1. Wire format


async def test_request_line_headers_and_body_are_sent_exactly(pool: ConnectionPool) -> None:
    async with Scripted(answering(reply())) as server:
        headers = {"authorization": "Bearer k", "content-type": "application/json"}
        response = await pool.send(
            server.url + "/prefix/", "POST", "/v1/chat/completions", headers, b'{"a":1}', 1.0
        )
        assert (response.status, await response.read()) == (200, b"ok")
        await response.aclose()
        response = await pool.send(server.url + "/prefix", "GET", "/v1/models", {}, None, 1.0)
        await response.read()
        await response.aclose()
    host = server.url.removeprefix("http://").encode()
    assert server.requests == [
        b"POST /prefix/v1/chat/completions HTTP/1.1\r\nhost: %s\r\nauthorization: Bearer k\r\n"
        b'content-type: application/json\r\ncontent-length: 7\r\n\r\n{"a":1}' % host,
        b"GET /prefix/v1/models HTTP/1.1\r\nhost: %s\r\n\r\n" % host,
    ]


@pytest.mark.parametrize("value", ["a\r\nx-injected: 1", "a\nb", "a\rb"])
async def test_header_with_a_line_break_is_refused_before_sending(
    pool: ConnectionPool, value: str
) -> None:
    async with Scripted(answering(reply())) as server:
        with pytest.raises(httpx.LocalProtocolError):
            await pool.send(server.url, "GET", "/", {"x-note": value}, None, 1.0)
    assert server.connections == 0


async def test_header_outside_latin_1_is_refused_before_sending(pool: ConnectionPool) -> None:
    async with Scripted(answering(reply())) as server:
        with pytest.raises(httpx.LocalProtocolError):
            await pool.send(server.url, "GET", "/", {"authorization": "Bearer \u2603"}, None, 1.0)
    assert server.connections == 0


# 2. Keep-alive


async def test_a_response_nobody_asked_for_closes_the_connection(pool: ConnectionPool) -> None:
    async with Scripted(answering(reply(b"one") + reply(b"unasked"))) as server:
        assert await fetch(pool, server.url) == (200, b"one")
        assert await fetch(pool, server.url) == (200, b"one")  # on a new connection
    assert server.connections == 2


async def test_sequential_requests_share_one_connection(pool: ConnectionPool) -> None:
    async with Scripted(answering(reply(b"a"), reply(b"bb"), reply(b""))) as server:
        bodies = [await fetch(pool, server.url) for _ in range(3)]
    assert bodies == [(200, b"a"), (200, b"bb"), (200, b"")]
    assert server.connections == 1 and len(server.requests) == 3


async def test_connection_close_response_is_not_reused(pool: ConnectionPool) -> None:
    async with Scripted(answering(reply(b"bye", "connection: close"))) as server:
        assert [await fetch(pool, server.url) for _ in range(2)] == [(200, b"bye")] * 2
    assert server.connections == 2


async def test_close_delimited_body_is_read_to_eof_and_not_reused(pool: ConnectionPool) -> None:
    async def http10(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nno length")
        writer.write(b", no chunks")

    async with Scripted(http10) as server:
        assert await fetch(pool, server.url) == (200, b"no length, no chunks")
        assert await fetch(pool, server.url) == (200, b"no length, no chunks")
    assert server.connections == 2


# 3. Bodies


async def test_response_headers_and_status(pool: ConnectionPool) -> None:
    teapot = reply(b"{}", "X-Correlation-ID: abc", status="418 I'm a teapot")
    async with Scripted(answering(teapot)) as server:
        response = await pool.send(server.url, "GET", "/", {}, None, 1.0)
        assert response.status == 418
        assert response.header("x-correlation-id") == "abc"
        assert response.header("content-length") == "2"
        assert response.header("retry-after") is None
        assert await response.read() == b"{}"
        await response.aclose()


async def test_chunked_body_arrives_piece_by_piece(pool: ConnectionPool) -> None:
    go_on = asyncio.Event()

    async def two_steps(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        while await server.request(reader) is not None:
            writer.write(CHUNKED_HEAD + chunk(b"first"))
            await wait_for(go_on)
            go_on.clear()
            writer.write(chunk(b"second") + chunk(b" and third") + LAST_CHUNK)

    async with Scripted(two_steps) as server:
        for _ in range(2):  # the second exchange proves the chunked reply left it reusable
            response = await pool.send(server.url, "POST", "/", {}, b"{}", 1.0)
            pieces = aiter(response.chunks())
            assert await asyncio.wait_for(anext(pieces), WAIT) == b"first"
            go_on.set()
            assert b"".join([piece async for piece in pieces]) == b"second and third"
            await response.aclose()
    assert server.connections == 1


async def read_late(response: PooledResponse) -> bytes:
    """Read like a consumer that fell behind: reading pauses past the threshold, then resumes."""
    await until(lambda: response._buffered > _HIGH_WATER)
    received = []
    async with asyncio.timeout(WAIT):
        async for piece in response.chunks():
            received.append(piece)
            await asyncio.sleep(0)
    return b"".join(received)


async def test_multi_megabyte_body_reaches_a_slow_consumer_whole_and_in_order(
    pool: ConnectionPool,
) -> None:
    body = b"".join(b"%08d" % index for index in range(600_000))  # 4.8 MB, every offset distinct

    async def big(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        while await server.request(reader) is not None:
            writer.write(reply(body))
            await writer.drain()

    async with Scripted(big) as server:
        for _ in range(2):
            response = await pool.send(server.url, "GET", "/", {}, None, 1.0)
            assert await read_late(response) == body
            await response.aclose()
    assert server.connections == 1


async def test_unread_body_over_the_pause_threshold_leaves_the_connection_usable(
    pool: ConnectionPool,
) -> None:
    """A body that ended while reading was paused for back-pressure, then closed unread: the
    connection goes back to the pool and must not stay paused for the next request."""
    part = b"x" * (_HIGH_WATER - 100)
    finish = asyncio.Event()

    async def big(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        writer.write(CHUNKED_HEAD + chunk(part))
        await wait_for(finish)
        writer.write(chunk(b"y" * 200) + LAST_CHUNK)  # crosses the threshold and ends the body
        while await server.request(reader) is not None:
            writer.write(reply())

    async with Scripted(big) as server:
        response = await pool.send(server.url, "GET", "/", {}, None, 1.0)
        # White-box waits: the part arrived whole, then the end arrived with nothing read.
        await until(lambda: response._buffered == len(part))
        finish.set()
        await until(lambda: response.keep_alive)
        await response.aclose()
        assert await fetch(pool, server.url) == (200, b"ok")
    assert server.connections == 1


# 4. Responses closed early


async def test_unread_response_closes_its_connection_and_the_next_opens_another(
    pool: ConnectionPool,
) -> None:
    peer_closed = asyncio.Event()

    async def half_then_wait(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        if server.connections == 1:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf.")
            assert await reader.read() == b""  # the client hung up
            peer_closed.set()
        else:
            writer.write(reply(b"fresh"))
            await reader.read()

    async with Scripted(half_then_wait) as server:
        response = await pool.send(server.url, "GET", "/", {}, None, 1.0)
        await response.aclose()
        await wait_for(peer_closed)
        assert await fetch(pool, server.url) == (200, b"fresh")
    assert server.connections == 2


# 5. Failures raise httpx's exceptions


async def test_server_closing_mid_body_is_a_remote_protocol_error(pool: ConnectionPool) -> None:
    responses = {
        "length": b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial",
        "chunked": CHUNKED_HEAD + chunk(b"partial"),
    }

    async def cut(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        writer.write(responses["chunked" if server.connections % 2 else "length"])

    async with Scripted(cut) as server:
        for _ in responses:
            response = await pool.send(server.url, "GET", "/", {}, None, 1.0)
            with pytest.raises(httpx.RemoteProtocolError):
                await asyncio.wait_for(response.read(), WAIT)
            await response.aclose()
        response = await pool.send(server.url, "GET", "/", {}, None, 1.0)
        received = []
        with pytest.raises(httpx.RemoteProtocolError):
            async for piece in response.chunks():
                received.append(piece)
        assert received == [b"partial"]
        await response.aclose()


async def test_server_closing_before_answering_is_a_remote_protocol_error(
    pool: ConnectionPool,
) -> None:
    async def hang_up(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)

    async with Scripted(hang_up) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await asyncio.wait_for(pool.send(server.url, "GET", "/", {}, None, 1.0), WAIT)


@pytest.mark.parametrize(
    "garbage",
    [b"SMTP ready\r\n\r\n", b"HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n"],
    ids=["status-line", "content-length"],
)
async def test_malformed_response_is_a_remote_protocol_error(
    pool: ConnectionPool, garbage: bytes
) -> None:
    async def nonsense(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        writer.write(garbage)
        await reader.read()

    async with Scripted(nonsense) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await asyncio.wait_for(pool.send(server.url, "GET", "/", {}, None, 1.0), WAIT)


async def test_refused_port_is_a_connect_error(pool: ConnectionPool) -> None:
    with pytest.raises(httpx.ConnectError):
        await pool.send(f"http://127.0.0.1:{free_port()}", "GET", "/", {}, None, 1.0)


def slow_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this loop's `create_connection` take longer than any connect limit in these tests."""
    loop = asyncio.get_running_loop()

    async def never(*args: object, **kwargs: object) -> None:
        await asyncio.sleep(WAIT)

    monkeypatch.setattr(loop, "create_connection", never)


async def test_slow_connect_is_a_connect_timeout(
    pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_connect(monkeypatch)
    with pytest.raises(httpx.ConnectTimeout):
        await pool.send("http://127.0.0.1:9", "GET", "/", {}, None, 0.01)
    monkeypatch.undo()
    async with Scripted(answering(reply())) as server:  # the timed-out attempt freed its slot
        assert await fetch(pool, server.url) == (200, b"ok")


def test_only_http_urls_are_accepted() -> None:
    with pytest.raises(httpx.UnsupportedProtocol):
        parse_origin("ftp://127.0.0.1/")


# 5b. ...and UpstreamClient turns them into its own errors


async def test_client_maps_a_hang_up_before_answering_to_unavailable() -> None:
    async def hang_up(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)

    async with Scripted(hang_up) as server, UpstreamClient(timeouts=FAST) as client:
        with pytest.raises(UpstreamUnavailable):
            await client.request(server.url, "POST", CHAT, b"{}", model="m")


async def test_client_maps_a_body_cut_off_to_a_protocol_error() -> None:
    async def cut(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"partial"')

    async with Scripted(cut) as server, UpstreamClient(timeouts=FAST) as client:
        with pytest.raises(UpstreamProtocolError, match="broke off"):
            await client.request(server.url, "POST", CHAT, b"{}", model="m")


async def test_client_maps_a_stream_cut_off_to_a_protocol_error() -> None:
    async def cut(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        writer.write(CHUNKED_HEAD + chunk(b'data: {"a":1}\n\n') + b"7\r\ndat")

    received = []
    async with Scripted(cut) as server, UpstreamClient(timeouts=FAST) as client:
        async with client.stream(server.url, CHAT, b"{}", model="m") as events:
            with pytest.raises(UpstreamProtocolError, match="broke off"):
                async for batch in events:
                    received.append(batch)
    assert received == [[b'{"a":1}']]


async def test_client_maps_a_slow_connect_to_a_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow_connect(monkeypatch)
    timeouts = FAST.merge(connect=0.01)
    async with UpstreamClient(timeouts=timeouts) as client:
        with pytest.raises(UpstreamConnectTimeout) as info:
            await client.request("http://127.0.0.1:9", "POST", CHAT, b"{}", model="m")
    assert info.value.limit == 0.01


# 6. Limits


def gated(gate: asyncio.Event) -> Handler:
    """Answer each request once `gate` is set (then clear it: one answer per set)."""

    async def handler(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        while await server.request(reader) is not None:
            await wait_for(gate)
            gate.clear()
            writer.write(reply(b"%d" % len(server.requests)))

    return handler


async def test_one_connection_serves_concurrent_requests_in_turn() -> None:
    gate = asyncio.Event()
    pool = ConnectionPool(PoolLimits(max_connections=1))
    async with Scripted(gated(gate)) as server:
        first = asyncio.create_task(fetch(pool, server.url))
        await wait_for(server.arrived)
        second = asyncio.create_task(fetch(pool, server.url))
        await asyncio.sleep(0)  # one step: the second request reaches the pool and waits
        assert len(server.requests) == 1
        server.arrived.clear()
        gate.set()
        assert await first == (200, b"1")
        await wait_for(server.arrived)
        gate.set()
        assert await second == (200, b"2")
        await pool.aclose()
    assert server.connections == 1


@pytest.mark.parametrize("when", ["while-waiting", "just-woken"])
async def test_a_cancelled_waiter_passes_its_turn_on(when: str) -> None:
    pool = ConnectionPool(PoolLimits(max_connections=1))
    async with Scripted(answering(reply())) as server:
        held = await pool.send(server.url, "GET", "/", {}, None, 1.0)
        await held.read()
        middle = asyncio.create_task(fetch(pool, server.url))
        last = asyncio.create_task(fetch(pool, server.url))
        await asyncio.sleep(0)  # one step: both reach the pool's queue
        if when == "while-waiting":
            middle.cancel()
            await held.aclose()
        else:
            await held.aclose()  # wakes the middle waiter...
            middle.cancel()  # ...which leaves before it runs
        assert await asyncio.wait_for(last, WAIT) == (200, b"ok")
        with pytest.raises(asyncio.CancelledError):
            await middle
        await pool.aclose()
    assert server.connections == 1


async def test_connections_per_host_are_bounded_and_hosts_do_not_wait_on_each_other() -> None:
    gate_a, gate_b = asyncio.Event(), asyncio.Event()
    pool = ConnectionPool(PoolLimits(max_connections=10, max_connections_per_host=1))
    async with Scripted(gated(gate_a)) as a, Scripted(gated(gate_b)) as b:
        a1 = asyncio.create_task(fetch(pool, a.url))
        await wait_for(a.arrived)
        a2 = asyncio.create_task(fetch(pool, a.url))  # waits: host a has its one connection
        b1 = asyncio.create_task(fetch(pool, b.url))
        await wait_for(b.arrived)
        b2 = asyncio.create_task(fetch(pool, b.url))
        await asyncio.sleep(0)  # one step: a2 and b2 wait in the pool's queue, a2 first
        b.arrived.clear()
        gate_b.set()  # b1 completes; its connection must go to b2, while a1 still holds a's
        assert await b1 == (200, b"1")
        await wait_for(b.arrived)
        gate_b.set()
        assert await asyncio.wait_for(b2, WAIT) == (200, b"2")
        assert len(a.requests) == 1
        gate_a.set()
        assert await a1 == (200, b"1")
        await wait_for(a.arrived)
        gate_a.set()
        assert await a2 == (200, b"2")
        await pool.aclose()
    assert (a.connections, b.connections) == (1, 1)


async def test_a_full_pool_closes_an_idle_connection_to_another_host() -> None:
    pool = ConnectionPool(PoolLimits(max_connections=1))
    async with Scripted(answering(reply(b"a"))) as a, Scripted(answering(reply(b"b"))) as b:
        assert await fetch(pool, a.url) == (200, b"a")
        assert await fetch(pool, b.url) == (200, b"b")
        assert await fetch(pool, a.url) == (200, b"a")
        await pool.aclose()
    assert (a.connections, b.connections) == (2, 1)


# 7. Idle connections


async def test_connection_idle_past_the_expiry_is_not_reused() -> None:
    pool = ConnectionPool(PoolLimits(keepalive_expiry=0.0))
    async with Scripted(answering(reply())) as server:
        for _ in range(2):
            assert await fetch(pool, server.url) == (200, b"ok")
        await pool.aclose()
    assert server.connections == 2


async def test_idle_connection_closed_by_the_server_is_replaced(pool: ConnectionPool) -> None:
    closed = asyncio.Event()

    async def one_then_close(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        writer.write(reply())
        await writer.drain()
        if server.connections == 1:
            writer.close()
            await writer.wait_closed()
            closed.set()
        else:
            await reader.read()

    async with Scripted(one_then_close) as server:
        assert await fetch(pool, server.url) == (200, b"ok")
        await wait_for(closed)
        assert await fetch(pool, server.url) == (200, b"ok")
    assert server.connections == 2


# 10-11. Cancellation and closing


async def test_cancel_while_waiting_for_headers_closes_and_frees_the_slot() -> None:
    pool = ConnectionPool(PoolLimits(max_connections=1))
    hung_up = asyncio.Event()

    async def silent_then_answer(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        if server.connections == 1:
            assert await reader.read() == b""
            hung_up.set()
        else:
            writer.write(reply())
            await reader.read()

    async with Scripted(silent_then_answer) as server:
        waiting = asyncio.create_task(pool.send(server.url, "GET", "/", {}, None, 1.0))
        await wait_for(server.arrived)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await wait_for(hung_up)
        assert await fetch(pool, server.url) == (200, b"ok")
        await pool.aclose()
    assert server.connections == 2


async def test_closing_the_pool_closes_connections_and_refuses_requests() -> None:
    pool = ConnectionPool(PoolLimits())
    hung_up = asyncio.Event()

    async def answer_then_watch(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        writer.write(reply())
        assert await reader.read() == b""
        hung_up.set()

    async with Scripted(answer_then_watch) as server:
        assert await fetch(pool, server.url) == (200, b"ok")
        await pool.aclose()
        await wait_for(hung_up)
        with pytest.raises(RuntimeError, match="closed"):
            await pool.send(server.url, "GET", "/", {}, None, 1.0)


async def test_closing_the_pool_turns_its_waiters_away() -> None:
    pool = ConnectionPool(PoolLimits(max_connections=1))
    async with Scripted(answering(reply())) as server:
        held = await pool.send(server.url, "GET", "/", {}, None, 1.0)
        waiting = asyncio.create_task(fetch(pool, server.url))
        await asyncio.sleep(0)  # one step: the request waits for the pool's only connection
        await pool.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await waiting
        await held.aclose()
    assert (server.connections, len(server.requests)) == (1, 1)


@pytest.mark.parametrize("path", ["/a b", "/a\r\nx: y", "/a\x00", "/\u00e9", "no-slash"])
def test_a_path_that_could_split_the_request_line_is_refused(path: str) -> None:
    with pytest.raises(httpx.LocalProtocolError, match="request path"):
        request_head("GET", parse_origin("http://h:1"), path, {}, None)
    assert request_head("GET", parse_origin("http://h:1"), "/ok?x=1", {}, None).startswith(
        b"GET /ok?x=1 HTTP/1.1\r\n"
    )


async def test_headers_past_the_bound_are_a_protocol_error_naming_it() -> None:
    async def huge(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        headers = b"".join(b"x-%d: %s\r\n" % (i, b"v" * 1000) for i in range(100))
        writer.write(b"HTTP/1.1 200 OK\r\n" + headers + b"content-length: 2\r\n\r\nok")

    async with Scripted(huge) as server, UpstreamClient(timeouts=FAST) as client:
        with pytest.raises(UpstreamProtocolError, match="headers exceed 65536 bytes"):
            await client.request(server.url, "POST", CHAT, b"{}", model="m")


async def test_a_body_past_the_bound_is_a_protocol_error_naming_it() -> None:
    async def big(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        writer.write(reply(b"{" + b" " * 5000 + b"}", "content-type: application/json"))

    async with Scripted(big) as server:
        async with UpstreamClient(timeouts=FAST, max_read_bytes=4096) as client:
            with pytest.raises(UpstreamProtocolError, match="larger than 4096 bytes"):
                await client.request(server.url, "POST", CHAT, b"{}", model="m")


async def test_interim_1xx_answers_are_skipped() -> None:
    async def early_hints(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        while await server.request(reader) is not None:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n")
            writer.write(reply(b"{}", "content-type: application/json", "x-final: yes"))

    async with Scripted(early_hints) as server, UpstreamClient(timeouts=FAST) as client:
        answer = await client.request(server.url, "POST", CHAT, b"{}", model="m")
        again = await client.request(server.url, "POST", CHAT, b"{}", model="m")
    assert answer.status == 200 and answer.content == b"{}"
    assert again.status == 200, "the connection stays usable after interim answers"


async def test_a_close_delimited_body_cut_by_a_reset_is_not_complete() -> None:
    async def reset(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: audio/wav\r\n\r\nRIFF part")
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST, not FIN

    async with Scripted(reset) as server, UpstreamClient(timeouts=FAST) as client:
        with pytest.raises(UpstreamProtocolError, match="broke off"):
            await client.request(server.url, "POST", "/v1/audio/speech", b"{}", model="m")


async def test_a_close_delimited_body_ended_by_a_clean_close_is_complete() -> None:
    async def closing(server: Scripted, reader: asyncio.StreamReader, writer) -> None:
        await server.request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{"all":1}')
        await writer.drain()
        writer.close()

    async with Scripted(closing) as server, UpstreamClient(timeouts=FAST) as client:
        answer = await client.request(server.url, "POST", CHAT, b"{}", model="m")
    assert answer.content == b'{"all":1}'
