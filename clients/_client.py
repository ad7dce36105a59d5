"""`UpstreamClient`: one async HTTP connection pool for every LocalAI upstream of the process."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import math
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass

import httpx

from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, PoolLimits, Timeouts
from ._dialects import OPENAI_EVENTS, StreamDialect
from ._errors import (
    UpstreamFirstTokenTimeout,
    UpstreamIdleTimeout,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamTotalTimeout,
)
from ._normalize import normalize_error
from ._sse import EventTooLarge, iter_sse_batches
from ._transports.errors import upstream_error
from ._transports.httpx import HttpxWire, Wire, WireResponse
from ._transports.native import ConnectionPool

JSON = "application/json"


class _State(enum.Enum):
    UNOPENED = 1  # created; requests open the pool lazily
    OPENED = 2  # used as a context manager or sent a request
    CLOSED = 3  # aclose() ran; the pool is gone for good


@dataclass(frozen=True, slots=True)
class UpstreamReply:
    """A successful (2xx) non-streaming reply: status, raw body bytes and the headers kept."""

    status: int
    content: bytes
    content_type: str
    correlation_id: str | None = None


class _Clock:
    """Deadlines of one call, measured on the event loop's clock."""

    # Callers pass `deadline=` as `asyncio.get_running_loop().time()`-based seconds.

    __slots__ = ("loop", "start", "timeouts", "total_deadline")

    def __init__(self, timeouts: Timeouts, deadline: float | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.start = self.loop.time()
        self.timeouts = timeouts
        total = timeouts.total
        own = None if total is None else self.start + total
        # `deadline` (loop time): a caller's budget for several calls, e.g. retries; the
        # earlier one wins, but errors still name the configured limit.
        self.total_deadline = own if deadline is None else min(own or deadline, deadline)

    def deadline(self, limit: float | None, since: float) -> float | None:
        """Return the earlier of `since + limit` and the total deadline (None: no deadline)."""
        own = None if limit is None else since + limit
        if own is None or self.total_deadline is None:
            return own if self.total_deadline is None else self.total_deadline
        return min(own, self.total_deadline)

    def expired(self, model: str, phase: type[UpstreamTimeout], limit: float | None) -> Exception:
        """Return the timeout error for whichever deadline ran out first."""
        if self.total_deadline is not None and self.loop.time() >= self.total_deadline - 1e-3:
            phase, limit = UpstreamTotalTimeout, self.timeouts.total
        what = {
            UpstreamTotalTimeout: "did not complete",
            UpstreamFirstTokenTimeout: "did not start answering",
            UpstreamIdleTimeout: "went silent",
        }[phase]
        return phase(
            f"model {model!r}: the upstream {what} within {limit:.3g}s", model=model, limit=limit
        )


class EventStream:
    """The `data` payloads of one upstream SSE response, bounded by first-token and idle limits.

    Iterating yields, per network read, the batch of event payloads (bytes) it completed, until
    the stream's end in its `StreamDialect` (`[DONE]` for OpenAI's); an error event raises
    `UpstreamStreamError` and a cut-off stream or an event that is not a JSON object (checked
    by its first and last byte only) `UpstreamProtocolError`, each after the events before it
    were yielded. The dialect's preamble events are held back and yielded with the first event
    after them (the first-token limit runs until then). Limits are checked per read, not per
    event.
    """

    def __init__(
        self,
        response: WireResponse,
        clock: _Clock,
        model: str,
        dialect: StreamDialect = OPENAI_EVENTS,
        max_event: int | None = None,
    ) -> None:
        self.response = response
        self.correlation_id = response.header("x-correlation-id")
        self._clock = clock
        self._model = model
        self._dialect = dialect
        self._max_event = max_event

    async def __aiter__(self) -> AsyncGenerator[list[bytes]]:
        clock, model, timeouts = self._clock, self._model, self._clock.timeouts
        dialect = self._dialect
        batches = iter_sse_batches(self.response.chunks(), self._max_event)
        phase: type[UpstreamTimeout] = UpstreamFirstTokenTimeout
        limit = timeouts.first_token
        deadline = clock.deadline(limit, clock.start)
        held: list[bytes] = []  # preamble events, until the first answer event
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        batch = await anext(batches)
                except TimeoutError as exc:
                    raise clock.expired(model, phase, limit) from exc
                except StopAsyncIteration:
                    raise UpstreamProtocolError(
                        f"model {model!r}: the upstream stream ended before {dialect.end}",
                        model=model,
                    ) from None
                except httpx.TransportError as exc:
                    raise upstream_error(exc, model, timeouts.connect, reading=True) from exc
                except EventTooLarge as exc:
                    raise UpstreamProtocolError(f"model {model!r}: {exc}", model=model) from exc
                events, end = dialect.check(batch, model)
                if phase is UpstreamFirstTokenTimeout:
                    before_answer = dialect.in_preamble(events)
                    if end is None and before_answer:
                        held += events
                        continue
                    if isinstance(end, Exception) and before_answer:
                        events = []  # failed before any answer: raised with no event sent
                    else:
                        events, held = held + events, []
                if events:
                    yield events
                if end is not None:
                    if isinstance(end, Exception):
                        raise end
                    return
                phase, limit = UpstreamIdleTimeout, timeouts.idle
                deadline = clock.deadline(limit, clock.loop.time())
        finally:
            await batches.aclose()


class UpstreamClient:
    """Async client for LocalAI's OpenAI-compatible API, over one shared connection pool.

    Use as `async with UpstreamClient(...) as client:`; every method takes the upstream's base
    URL (`http://host:8080`), so one client serves every replica of every model.
    `max_read_bytes` bounds every body read and every pending stream event (None: no bound).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        limits: PoolLimits = DEFAULT_LIMITS,
        transport: httpx.AsyncBaseTransport | None = None,
        max_read_bytes: int | None = None,
    ) -> None:
        self.timeouts = timeouts
        self.max_read_bytes = max_read_bytes
        # The native pool unless a transport is given (httpx's own, or a mock in tests).
        self._wire: Wire = ConnectionPool(limits) if transport is None else HttpxWire(transport)
        # identity: LocalAI gzips bodies over 1 KB otherwise, and relayed bytes stay as sent.
        self._headers = {"accept-encoding": "identity"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._json_headers = {**self._headers, "content-type": JSON}
        self._state = _State.UNOPENED

    async def __aenter__(self) -> UpstreamClient:
        if self._state is not _State.UNOPENED:
            raise RuntimeError("A UpstreamClient cannot be opened twice; create a new one.")
        self._state = _State.OPENED
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pool; further calls raise RuntimeError. Calling it twice is harmless."""
        if self._state is not _State.CLOSED:
            self._state = _State.CLOSED
            await self._wire.aclose()

    def _use(self) -> None:
        if self._state is _State.CLOSED:
            raise RuntimeError(
                "This UpstreamClient has been closed; open a new one to send requests."
            )
        self._state = _State.OPENED

    def _headers_for(
        self, body: bytes | None, content_type: str | None, extra: Mapping[str, str] | None
    ) -> Mapping[str, str]:
        self._use()
        if body is None or content_type is None:
            headers = self._headers
        elif content_type == JSON:
            headers = self._json_headers
        else:
            headers = {**self._headers, "content-type": content_type}
        return {**headers, **extra} if extra else headers

    async def _open(
        self,
        clock: _Clock,
        model: str,
        upstream: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> WireResponse:
        """Send the request and return the streaming response once a 2xx status has arrived."""
        timeouts = clock.timeouts
        try:
            async with asyncio.timeout_at(clock.deadline(timeouts.first_token, clock.start)):
                response = await self._wire.send(
                    upstream, method, path, headers, body, timeouts.connect
                )
        except TimeoutError as exc:
            raise clock.expired(model, UpstreamFirstTokenTimeout, timeouts.first_token) from exc
        except httpx.TransportError as exc:
            raise upstream_error(exc, model, timeouts.connect, reading=False) from exc
        if response.status < 300:
            return response
        try:
            async with asyncio.timeout_at(clock.deadline(timeouts.idle, clock.loop.time())):
                content = await self._read(response, model)
        except (TimeoutError, httpx.TransportError, UpstreamProtocolError):
            content = b""  # the status says enough; its body broke off or was too large
        finally:
            await response.aclose()
        raise UpstreamStatusError(
            response.status,
            normalize_error(response.status, content),
            model=model,
            retry_after=_retry_after(response.header("retry-after")),
        )

    async def _read(self, response: WireResponse, model: str) -> bytes:
        """The whole body; `UpstreamProtocolError` once it grows past `max_read_bytes`."""
        limit = self.max_read_bytes
        if limit is None:
            return await response.read()
        parts: list[bytes] = []
        size = 0
        async for chunk in response.chunks():
            size += len(chunk)
            if size > limit:
                raise UpstreamProtocolError(
                    f"model {model!r}: the upstream answer is larger than {limit} bytes",
                    model=model,
                )
            parts.append(chunk)
        return b"".join(parts)

    async def request(
        self,
        upstream: str,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        content_type: str | None = JSON,
        model: str,
        timeouts: Timeouts | None = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> UpstreamReply:
        """Send a request and return the whole 2xx reply; bounded by connect and total (and
        by `deadline`, an event-loop time, when given).

        A JSON reply that does not even start and end like an object raises
        `UpstreamProtocolError` (truncated or garbage bodies are not relayed as a success).
        """
        timeouts = timeouts or self.timeouts
        headers = self._headers_for(body, content_type, headers)
        clock = _Clock(_whole_reply(timeouts), deadline)
        response = await self._open(clock, model, upstream, method, path, headers, body)
        try:
            async with asyncio.timeout_at(clock.total_deadline):
                content = await self._read(response, model)
        except TimeoutError as exc:
            raise clock.expired(model, UpstreamTotalTimeout, timeouts.total) from exc
        except httpx.TransportError as exc:
            raise upstream_error(exc, model, timeouts.connect, reading=True) from exc
        finally:
            await response.aclose()
        reply_type = response.header("content-type") or JSON
        if reply_type.startswith(JSON) and not _framed(content):
            raise UpstreamProtocolError(
                f"model {model!r}: the upstream answer is not a JSON object", model=model
            )
        return UpstreamReply(
            response.status, content, reply_type, response.header("x-correlation-id")
        )

    @contextlib.asynccontextmanager
    async def stream(
        self,
        upstream: str,
        path: str,
        body: bytes | None,
        *,
        content_type: str | None = JSON,
        model: str,
        timeouts: Timeouts | None = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
        dialect: StreamDialect = OPENAI_EVENTS,
    ) -> AsyncIterator[EventStream]:
        """POST a streaming request; yields its `EventStream` (read in `dialect`) and closes
        the upstream on exit."""
        timeouts = timeouts or self.timeouts
        clock = _Clock(timeouts, deadline)
        headers = self._headers_for(body, content_type, headers)
        response = await self._open(clock, model, upstream, "POST", path, headers, body)
        try:
            yield EventStream(response, clock, model, dialect, self.max_read_bytes)
        finally:
            await response.aclose()

    async def health(
        self, upstream: str, path: str = "/readyz", *, timeouts: Timeouts | None = None
    ) -> int:
        """GET the upstream's health endpoint and return its status, whatever it is (LocalAI's
        `/readyz` answers 200 once its startup preload is done, since v4.8)."""
        timeouts = timeouts or self.timeouts
        clock = _Clock(_whole_reply(timeouts))
        headers = self._headers_for(None, None, None)
        try:
            async with asyncio.timeout_at(clock.total_deadline):
                response = await self._wire.send(
                    upstream, "GET", path, headers, None, timeouts.connect
                )
                try:
                    await response.read()
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            raise clock.expired("", UpstreamTotalTimeout, timeouts.total) from exc
        except httpx.TransportError as exc:
            raise upstream_error(exc, "", timeouts.connect, reading=False) from exc
        return response.status


@functools.lru_cache(maxsize=64)
def _whole_reply(timeouts: Timeouts) -> Timeouts:
    """A whole-body call's limits: the first byte may take as long as the whole call."""
    return timeouts.merge(first_token=timeouts.total)


def _framed(content: bytes) -> bool:
    """True when a body starts and ends like a JSON object (a cheap check, not a parse)."""
    body = content.strip()
    return body[:1] == b"{" and body[-1:] == b"}"


def _retry_after(value: str | None) -> float | None:
    """Parse a `Retry-After` header given in seconds (`inf` stays infinite: "a long while");
    an HTTP date, NaN or garbage gives None."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return None if seconds is None or math.isnan(seconds) else max(0.0, seconds)
