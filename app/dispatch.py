"""Sending one request to a model's replicas: admission, slots, breakers, retries, fallback.

Retries (tenacity) cover connect errors, 429/502/503/504 and streams that fail before their
first event, with exponential backoff and jitter, honouring `Retry-After` when no other replica
is left, within the model's attempt budget and its total deadline. Nothing is retried once a
byte went to the client: a stream is handed over only after its first event arrived.
When a model's replicas are down, its `fallback` model, or with `legacy_mode: fallback` the
in-process backend, answers instead; `legacy_mode: only` models never call LocalAI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from clients import (
    LocalAIClient,
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamReply,
    UpstreamStatusError,
    UpstreamUnavailable,
)

from . import in_process
from .admission import Admission
from .errors import BackendUnavailable, NoHealthyUpstream
from .legacy import LegacyBackend
from .observability.record import RequestRecord, upstream_headers
from .registry import Capability, ModelTarget, Registry
from .replicas import Replica, ReplicaSet, Upstream
from .settings import Settings

log = logging.getLogger("localai_gateway.dispatch")

T = TypeVar("T")
Payload = Callable[[ModelTarget], bytes]
_DOWN = (NoHealthyUpstream, UpstreamUnavailable, UpstreamConnectTimeout)
LOCALAI = "localai"


@dataclass
class Commitment:
    """Set once the response to the client has started; no retry may happen after that."""

    committed: bool = False


@dataclass(frozen=True, slots=True)
class Served:
    """A complete reply, the model that gave it and the backend (`localai` or `legacy`)."""

    target: ModelTarget
    reply: UpstreamReply
    backend: str = LOCALAI


@dataclass
class OpenStream:
    """An upstream stream whose first events arrived; closing `stack` frees everything it holds.

    `events` yields batches of event payloads (all those one network read completed).
    """

    target: ModelTarget
    stack: contextlib.AsyncExitStack
    events: AsyncIterator[list[bytes]]
    first: list[bytes] | None
    correlation_id: str | None = None
    replica: Replica | None = field(default=None, repr=False)
    backend: str = LOCALAI

    def failed(self) -> None:
        """Count a failure after the first event (cut or silent stream) against the replica."""
        if self.replica is not None:
            self.replica.upstream.breaker.record(False)


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One request's way through the dispatcher."""

    capability: Capability
    attempt: Callable[[ModelTarget, Replica, float | None], Awaitable[T]]  # deadline
    in_process: Callable[[ModelTarget], Awaitable[T]]
    keep: Callable[[T], contextlib.AsyncExitStack] | None = None  # streams hold their slots
    commitment: Commitment | None = None
    record: RequestRecord | None = None

    @property
    def committed(self) -> bool:
        return self.commitment is not None and self.commitment.committed


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

    def __init__(
        self,
        client: LocalAIClient,
        registry: Registry,
        settings: Settings,
        legacy: LegacyBackend | None = None,
    ) -> None:
        self.client = client
        self.registry = registry
        self.settings = settings
        self.legacy = legacy
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

    def down_models(self) -> list[str]:
        """Models with no usable replica and no in-process backend to answer instead."""
        return [
            target.id
            for target in self.registry
            if target.legacy_mode == "off" and self.replica_sets[target.id].all_down()
        ]

    async def post(
        self,
        target: ModelTarget,
        capability: Capability,
        path: str,
        payload: Payload,
        record: RequestRecord | None = None,
    ) -> Served:
        """POST to a replica of `target` (or its fallbacks) and return who answered, and how."""
        headers = upstream_headers(record) if record else None

        async def attempt(model: ModelTarget, replica: Replica, deadline: float | None) -> Served:
            reply = await self.client.post(
                replica.url,
                path,
                payload(model),
                model=model.id,
                timeouts=model.timeouts,
                headers=headers,
                deadline=deadline,
            )
            return Served(model, reply)

        async def locally(model: ModelTarget) -> Served:
            reply = await in_process.post(self._legacy(model), model, path, payload(model))
            return Served(model, reply, in_process.BACKEND)

        async with self._admitted():
            return await self._with_fallback(
                target, _Call(capability, attempt, locally, record=record)
            )

    async def open_stream(
        self,
        target: ModelTarget,
        capability: Capability,
        path: str,
        payload: Payload,
        commitment: Commitment,
        record: RequestRecord | None = None,
    ) -> OpenStream:
        """Open a stream on a replica of `target` (or its fallbacks) and read its first event.

        The returned stream holds its admission and replica slots until its stack is closed.
        """
        headers = upstream_headers(record) if record else None

        async def attempt(
            model: ModelTarget, replica: Replica, deadline: float | None
        ) -> OpenStream:
            stack = contextlib.AsyncExitStack()
            try:
                events = await stack.enter_async_context(
                    self.client.stream(
                        replica.url,
                        path,
                        payload(model),
                        model=model.id,
                        timeouts=model.timeouts,
                        headers=headers,
                        deadline=deadline,
                    )
                )
                iterator = aiter(events)
                first = await anext(iterator, None)
            except BaseException:
                await stack.aclose()
                raise
            return OpenStream(model, stack, iterator, first, events.correlation_id, replica)

        async def locally(model: ModelTarget) -> OpenStream:
            stack, events, first = await in_process.open_stream(
                self._legacy(model), model, payload(model)
            )
            return OpenStream(model, stack, events, first, backend=in_process.BACKEND)

        call = _Call(capability, attempt, locally, _stream_stack, commitment, record)
        await self.admission.acquire()
        try:
            stream = await self._with_fallback(target, call)
        except BaseException:
            self.admission.release()
            raise
        stream.stack.callback(self.admission.release)
        return stream

    def _legacy(self, target: ModelTarget) -> LegacyBackend:
        if self.legacy is None:
            raise BackendUnavailable(f"Model {target.id!r} has no in-process backend.")
        return self.legacy

    @contextlib.asynccontextmanager
    async def _admitted(self) -> AsyncIterator[None]:
        await self.admission.acquire()
        try:
            yield
        finally:
            self.admission.release()

    async def _with_fallback(self, target: ModelTarget, call: _Call[T]) -> T:
        """Serve `target`, moving along its `fallback` chain while models are down."""
        seen = {target.id}
        while True:
            try:
                return await self._serve(target, call)
            except _DOWN:
                fallback = target.fallback
                if fallback is None or fallback in seen or call.committed:
                    raise
                seen.add(fallback)
                log.warning("model %r is down; falling back to %r", target.id, fallback)
                target = self.registry.get(fallback)
                target.require(call.capability)

    async def _serve(self, target: ModelTarget, call: _Call[T]) -> T:
        """Serve one model: in-process, from its replicas, or in-process when they are down."""
        if target.legacy_mode == "only":
            return await self._locally(target, call)
        try:
            return await self._attempts(target, call)
        except _DOWN:
            if target.legacy_mode != "fallback" or call.committed:
                raise
            log.warning("model %r: LocalAI is down; answering in-process", target.id)
            return await self._locally(target, call)

    @staticmethod
    async def _locally(target: ModelTarget, call: _Call[T]) -> T:
        if call.record is not None:
            call.record.upstream = in_process.IN_PROCESS
        return await call.in_process(target)

    async def _attempts(self, target: ModelTarget, call: _Call[T]) -> T:
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
                and not call.committed
                and (left is None or left > 0)
            )

        def backoff(failed: int, exc: BaseException | None) -> float:
            """Seconds to wait after attempt `failed` failed with `exc`."""
            seconds = min(
                self.settings.retry_backoff_max, self.settings.retry_backoff * 2 ** (failed - 1)
            ) * random.uniform(0.5, 1.0)
            after = getattr(exc, "retry_after", None)
            if after and not any(r.url not in tried for r in replicas.usable()):
                seconds = max(seconds, after)
            left = remaining()
            return seconds if left is None else max(0.0, min(seconds, left))

        async def attempt(number: int) -> T:
            if model_admission is not None:
                await model_admission.acquire()
            try:
                replica = await replicas.acquire(target.id, tried, self.settings.queue_timeout)
            except BaseException:
                if model_admission is not None:
                    model_admission.release()
                raise
            tried.add(replica.url)
            if call.record is not None:
                call.record.upstream = replica.url
                call.record.retries = number - 1
            result = await self._run(call, target, replica, replicas, deadline, model_admission)
            if number > 1:
                log.info("model %r answered on attempt %d", target.id, number)
            return result

        budget = (
            (target.retries + 1) if target.retries is not None else self.settings.retry_attempts
        )
        # The first attempt runs bare: most requests succeed, and tenacity's bookkeeping is
        # only worth paying for once a retry is needed.
        try:
            return await attempt(1)
        except BaseException as exc:
            if budget == 1 or not retryable(exc):
                raise
            await asyncio.sleep(backoff(1, exc))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(budget - 1),
            wait=lambda state: backoff(
                state.attempt_number + 1, state.outcome.exception() if state.outcome else None
            ),
            retry=retry_if_exception(retryable),
            reraise=True,
        )
        async for attempt_state in retrying:
            with attempt_state:
                return await attempt(attempt_state.retry_state.attempt_number + 1)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _run(
        self,
        call: _Call[T],
        target: ModelTarget,
        replica: Replica,
        replicas: ReplicaSet,
        deadline: float | None,
        model_admission: Admission | None,
    ) -> T:
        """One attempt on one replica; records the breaker outcome and frees or hands the slot.

        With `call.keep`, a successful result holds the slot until the stack it names closes.
        """

        async def release() -> None:
            await replicas.release(replica)
            if model_admission is not None:
                model_admission.release()

        breaker = replica.upstream.breaker
        try:
            result = await call.attempt(target, replica, deadline)
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
        if call.keep is None:
            await release()
        else:
            call.keep(result).push_async_callback(release)
        return result


def _stream_stack(stream: OpenStream) -> contextlib.AsyncExitStack:
    return stream.stack
