"""Sending one request to a model's replicas: admission, slots, breakers, retries, fallback.

Retries (tenacity) cover connect errors, 429/502/503/504 and streams that fail before their
first event, with exponential backoff and jitter, honouring `Retry-After` when no other replica
is left, within the model's attempt budget and its total deadline. Nothing is retried once a
byte went to the client: a stream is handed over only after its first event arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from clients import (
    LocalAIClient,
    Timeouts,
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamReply,
    UpstreamStatusError,
    UpstreamUnavailable,
)

from .admission import Admission
from .errors import NoHealthyUpstream
from .observability.record import RequestRecord, upstream_headers
from .registry import Capability, ModelTarget, Registry
from .replicas import Replica, ReplicaSet, Upstream
from .settings import Settings

log = logging.getLogger("localai_gateway.dispatch")

T = TypeVar("T")
Payload = Callable[[ModelTarget], bytes]
Keep = Callable[[T], contextlib.AsyncExitStack]
_DOWN = (NoHealthyUpstream, UpstreamUnavailable, UpstreamConnectTimeout)


@dataclass
class Commitment:
    """Set once the response to the client has started; no retry may happen after that."""

    committed: bool = False


@dataclass
class OpenStream:
    """An upstream stream whose first event arrived; closing `stack` frees everything it holds."""

    target: ModelTarget
    stack: contextlib.AsyncExitStack
    events: AsyncIterator[bytes]
    first: bytes | None
    correlation_id: str | None
    replica: Replica = field(repr=False)

    def failed(self) -> None:
        """Count a failure after the first event (cut or silent stream) against the replica."""
        self.replica.upstream.breaker.record(False)


def _stream_stack(stream: OpenStream) -> contextlib.AsyncExitStack:
    return stream.stack


def build_replica_sets(
    registry: Registry, settings: Settings
) -> tuple[dict[str, Upstream], dict[str, ReplicaSet]]:
    """One `Upstream` per distinct URL and one `ReplicaSet` per model."""
    upstreams: dict[str, Upstream] = {}
    sets: dict[str, ReplicaSet] = {}
    for target in registry:
        replicas = []
        for spec in target.replicas:
            upstream = upstreams.setdefault(spec.url, Upstream(spec.url, settings.breaker_policy))
            replicas.append(Replica(upstream, spec.weight, spec.max_concurrency))
        sets[target.id] = ReplicaSet(replicas)
    return upstreams, sets


class Dispatcher:
    """Routes a model's requests to its replicas and owns the process-wide limits."""

    def __init__(self, client: LocalAIClient, registry: Registry, settings: Settings) -> None:
        self.client = client
        self.registry = registry
        self.settings = settings
        self.upstreams, self.replica_sets = build_replica_sets(registry, settings)
        self.admission = Admission(
            "the gateway", settings.max_concurrency, settings.max_queue, settings.queue_timeout
        )
        self.model_admission = {
            target.id: Admission(
                f"model {target.id!r}",
                target.max_concurrency,
                settings.max_queue,
                settings.queue_timeout,
            )
            for target in registry
            if target.max_concurrency is not None
        }

    async def post(
        self,
        target: ModelTarget,
        capability: Capability,
        path: str,
        payload: Payload,
        record: RequestRecord | None = None,
    ) -> tuple[ModelTarget, UpstreamReply]:
        """POST to a replica of `target` (or its fallback) and return who answered, and how."""

        async def attempt(
            model: ModelTarget, replica: Replica, timeouts: Timeouts
        ) -> tuple[ModelTarget, UpstreamReply]:
            reply = await self.client.post(
                replica.url,
                path,
                payload(model),
                model=model.id,
                timeouts=timeouts,
                headers=headers,
            )
            return model, reply

        headers = upstream_headers(record) if record else None
        async with self._admitted():
            return await self._with_fallback(target, capability, attempt, keep=None, record=record)

    async def open_stream(
        self,
        target: ModelTarget,
        capability: Capability,
        path: str,
        payload: Payload,
        commitment: Commitment,
        record: RequestRecord | None = None,
    ) -> OpenStream:
        """Open a stream on a replica of `target` (or its fallback) and read its first event.

        The returned stream holds its admission and replica slots until its stack is closed.
        """

        async def attempt(model: ModelTarget, replica: Replica, timeouts: Timeouts) -> OpenStream:
            stack = contextlib.AsyncExitStack()
            try:
                events = await stack.enter_async_context(
                    self.client.stream(
                        replica.url,
                        path,
                        payload(model),
                        model=model.id,
                        timeouts=timeouts,
                        headers=headers,
                    )
                )
                iterator = aiter(events)
                first = await anext(iterator, None)
            except BaseException:
                await stack.aclose()
                raise
            return OpenStream(model, stack, iterator, first, events.correlation_id, replica)

        headers = upstream_headers(record) if record else None
        admitted = contextlib.AsyncExitStack()
        await admitted.enter_async_context(self._admitted())
        try:
            stream = await self._with_fallback(
                target,
                capability,
                attempt,
                keep=_stream_stack,
                commitment=commitment,
                record=record,
            )
        except BaseException:
            await admitted.aclose()
            raise
        stream.stack.push_async_callback(admitted.aclose)
        return stream

    @contextlib.asynccontextmanager
    async def _admitted(self) -> AsyncIterator[None]:
        await self.admission.acquire()
        try:
            yield
        finally:
            self.admission.release()

    async def _with_fallback(
        self,
        target: ModelTarget,
        capability: Capability,
        attempt: Callable[[ModelTarget, Replica, Timeouts], Awaitable[T]],
        *,
        keep: Keep[T] | None,
        commitment: Commitment | None = None,
        record: RequestRecord | None = None,
    ) -> T:
        seen = {target.id}
        while True:
            try:
                return await self._attempts(
                    target, attempt, keep=keep, commitment=commitment, record=record
                )
            except _DOWN:
                fallback = target.fallback
                if fallback is None or fallback in seen or (commitment and commitment.committed):
                    raise
                seen.add(fallback)
                log.warning("model %r is down; falling back to %r", target.id, fallback)
                target = self.registry.get(fallback)
                target.require(capability)

    async def _attempts(
        self,
        target: ModelTarget,
        attempt: Callable[[ModelTarget, Replica, Timeouts], Awaitable[T]],
        *,
        keep: Keep[T] | None,
        commitment: Commitment | None,
        record: RequestRecord | None,
    ) -> T:
        replicas = self.replica_sets[target.id]
        model_admission = self.model_admission.get(target.id)
        loop = asyncio.get_running_loop()
        deadline = None if target.timeouts.total is None else loop.time() + target.timeouts.total
        tried: set[str] = set()

        def remaining() -> float | None:
            return None if deadline is None else deadline - loop.time()

        def retryable(exc: BaseException) -> bool:
            left = remaining()
            return (
                isinstance(exc, UpstreamError)
                and exc.retryable
                and not (commitment and commitment.committed)
                and (left is None or left > 0)
            )

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            backoff = min(
                self.settings.retry_backoff_max,
                self.settings.retry_backoff * 2 ** (state.attempt_number - 1),
            ) * random.uniform(0.5, 1.0)
            after = getattr(exc, "retry_after", None)
            if after and not any(r.url not in tried for r in replicas.usable()):
                backoff = max(backoff, after)
            left = remaining()
            return backoff if left is None else max(0.0, min(backoff, left))

        attempts = (target.retries + 1) if target.retries is not None else None
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts or self.settings.retry_attempts),
            wait=wait,
            retry=retry_if_exception(retryable),
            reraise=True,
        )
        async for attempt_state in retrying:
            with attempt_state:
                if model_admission is not None:
                    await model_admission.acquire()
                try:
                    replica = await replicas.acquire(target.id, tried, self.settings.queue_timeout)
                except BaseException:
                    if model_admission is not None:
                        model_admission.release()
                    raise
                tried.add(replica.url)
                if record is not None:
                    record.upstream = replica.url
                    record.retries = attempt_state.retry_state.attempt_number - 1
                left = remaining()
                timeouts = target.timeouts if left is None else target.timeouts.merge(total=left)
                result = await self._run(
                    attempt, target, replica, replicas, timeouts, keep, model_admission
                )
                if attempt_state.retry_state.attempt_number > 1:
                    log.info(
                        "model %r answered on attempt %d",
                        target.id,
                        attempt_state.retry_state.attempt_number,
                    )
                return result
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _run(
        self,
        attempt: Callable[[ModelTarget, Replica, Timeouts], Awaitable[T]],
        target: ModelTarget,
        replica: Replica,
        replicas: ReplicaSet,
        timeouts: Timeouts,
        keep: Keep[T] | None,
        model_admission: Admission | None,
    ) -> T:
        """One attempt on one replica; records the breaker outcome and frees or hands the slot.

        With `keep`, a successful result holds the slot until the stack `keep` returns closes.
        """

        async def release() -> None:
            await replicas.release(replica)
            if model_admission is not None:
                model_admission.release()

        breaker = replica.upstream.breaker
        try:
            result = await attempt(target, replica, timeouts)
        except UpstreamStatusError as exc:
            if exc.status == 429:
                breaker.release()
            else:
                breaker.record(exc.status < 500)
            await release()
            raise
        except UpstreamError:
            breaker.record(False)
            await release()
            raise
        except BaseException:
            breaker.release()
            await release()
            raise
        breaker.record(True)
        if keep is None:
            await release()
        else:
            keep(result).push_async_callback(release)
        return result
