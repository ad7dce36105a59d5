"""Every upstream call of the gateway: admission, replica choice, breakers, retries, fallback.

`send` returns a whole reply and `start_stream` an `Opening` that becomes an `OpenStream` once
the first events arrived; both take an `Endpoint` and a `Payload`. One retry loop, driven by
the model's `RetryPolicy`, runs every attempt (the first too), on another replica when one is
left, within the model's total deadline; nothing is retried once the client's response has
started. When a model's replicas are down, its `fallback` model, or with `legacy_mode:
fallback` the in-process backend, answers instead; `legacy_mode: only` models never call
LocalAI. A `pin` keeps a call on one replica (a generated file lives where it was made): it
still gets admission, the breaker and deadlines, but no other replica, model or backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from clients import (
    Timeouts,
    UpstreamClient,
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamReply,
    UpstreamUnavailable,
)
from clients.llamacpp import LlamaCppBackend

from ..errors import BackendUnavailable, NoHealthyUpstream
from ..observability.record import RequestRecord, upstream_headers
from ..registry import ModelTarget, Registry
from ..settings import Settings
from . import in_process
from .admission import Admission
from .breaker import CircuitBreaker
from .endpoints import Endpoint
from .lease import Lease, Outcome, outcome_of
from .open_stream import LOCALAI, Opening, OpenStream
from .payloads import Payload
from .replicas import Replica, ReplicaSet, Upstream

log = logging.getLogger("localai_gateway.dispatch")

T = TypeVar("T")
_DOWN = (NoHealthyUpstream, UpstreamUnavailable, UpstreamConnectTimeout)


@dataclass(frozen=True, slots=True)
class Served:
    """A complete reply, the model that gave it, the backend and the replica's index."""

    target: ModelTarget
    reply: UpstreamReply
    backend: str = LOCALAI
    replica: int = 0


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    """One request's way through the dispatcher."""

    endpoint: Endpoint
    # One attempt on one replica, holding `lease`; it releases the lease or hands it on.
    attempt: Callable[[ModelTarget, Replica, Lease, float | None], Awaitable[T]]
    in_process: Callable[[ModelTarget, Lease], Awaitable[T]]
    record: RequestRecord | None = None
    pin: int | None = None
    opening: Opening | None = None  # a stream's: once committed, no retry or fallback

    @property
    def committed(self) -> bool:
        return self.opening is not None and self.opening.committed


class Dispatcher:
    """Routes every upstream call to a model's replicas and owns the process-wide limits."""

    def __init__(
        self,
        client: UpstreamClient,
        registry: Registry,
        settings: Settings,
        llama_cpp: LlamaCppBackend | None = None,
    ) -> None:
        self.client = client
        self.registry = registry
        self.settings = settings
        self.llama_cpp = llama_cpp
        self.upstreams: dict[str, Upstream] = {}
        self.breakers: dict[tuple[str, str], CircuitBreaker] = {}  # (URL, LocalAI model)
        self.replica_sets = {target.id: self._replica_set(target) for target in registry}
        self.policies = {
            target.id: settings.retry_policy.with_retries(target.retries) for target in registry
        }
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

    def _replica_set(self, target: ModelTarget) -> ReplicaSet:
        replicas = []
        for index, config in enumerate(target.replicas):
            upstream = self.upstreams.setdefault(config.url, Upstream(config.url, config.name))
            breaker = self.breakers.setdefault(
                (config.url, target.localai_model), CircuitBreaker(self.settings.breaker_policy)
            )
            replicas.append(
                Replica(
                    upstream,
                    breaker,
                    index=index,
                    weight=config.weight,
                    max_concurrency=config.max_concurrency,
                )
            )
        return ReplicaSet(replicas)

    def replica_states(self) -> dict[str, dict[str, Any]]:
        """Per upstream name: its probed health and each model's breaker state (no URLs)."""
        states: dict[str, dict[str, Any]] = {}
        for model, replicas in self.replica_sets.items():
            for replica in replicas.replicas:
                upstream = replica.upstream
                state = states.setdefault(
                    upstream.name, {"healthy": upstream.healthy, "breakers": {}}
                )
                state["breakers"][model] = replica.breaker.state.name.lower()
        return states

    def down_models(self) -> list[str]:
        """Models with no usable replica and no in-process backend to answer instead."""
        return [
            target.id
            for target in self.registry
            if target.legacy_mode == "off" and self.replica_sets[target.id].all_down()
        ]

    async def send(
        self,
        target: ModelTarget,
        endpoint: Endpoint,
        payload: Payload,
        *,
        record: RequestRecord | None = None,
        pin: int | None = None,
    ) -> Served:
        """Call `endpoint` on a replica of `target` (or its fallbacks) for a whole reply."""
        headers = upstream_headers(record) if record else None

        async def attempt(
            model: ModelTarget, replica: Replica, lease: Lease, deadline: float | None
        ) -> Served:
            outcome = Outcome.NEUTRAL
            try:
                reply = await self.client.request(
                    replica.url,
                    endpoint.method,
                    endpoint.path,
                    payload.content(model),
                    content_type=payload.content_type,
                    model=model.id,
                    timeouts=model.timeouts,
                    headers=headers,
                    deadline=deadline,
                )
                outcome = Outcome.SUCCESS
            except BaseException as exc:
                outcome = outcome_of(exc)
                raise
            finally:
                lease.release(outcome)
            return Served(model, reply, replica=replica.index)

        async def locally(model: ModelTarget, lease: Lease) -> Served:
            try:
                reply = await in_process.send(self._in_process(model), model, endpoint, payload)
            finally:
                lease.release(Outcome.NEUTRAL)
            return Served(model, reply, in_process.BACKEND)

        call = _Call(endpoint, attempt, locally, record, pin)
        await self.admission.acquire()
        try:
            return await self._with_fallback(target, call)
        finally:
            self.admission.release()

    def start_stream(
        self,
        target: ModelTarget,
        endpoint: Endpoint,
        payload: Payload,
        *,
        record: RequestRecord | None = None,
        pin: int | None = None,
    ) -> Opening:
        """Open a stream of `endpoint` on a replica of `target` (or its fallbacks; on replica
        `pin` alone when given) in the background; it opens once its first events arrived,
        holding its slots until closed."""
        headers = upstream_headers(record) if record else None

        async def attempt(
            model: ModelTarget, replica: Replica, lease: Lease, deadline: float | None
        ) -> OpenStream:
            upstream = contextlib.AsyncExitStack()
            try:
                events = await upstream.enter_async_context(
                    self.client.stream(
                        replica.url,
                        endpoint.path,
                        payload.content(model),
                        content_type=payload.content_type,
                        model=model.id,
                        timeouts=model.timeouts,
                        headers=headers,
                        deadline=deadline,
                        dialect=endpoint.events,
                    )
                )
                batches = aiter(events)
                first = await anext(batches, None)
            except BaseException as exc:
                try:
                    await upstream.aclose()
                finally:
                    lease.release(outcome_of(exc))
                raise
            lease.confirm()
            return OpenStream(
                model,
                batches,
                first,
                upstream=upstream,
                lease=lease,
                correlation_id=events.correlation_id,
                replica=replica.index,
            )

        async def locally(model: ModelTarget, lease: Lease) -> OpenStream:
            try:
                upstream, events, first = await in_process.open_stream(
                    self._in_process(model), model, endpoint, payload
                )
            except BaseException:
                lease.release(Outcome.NEUTRAL)
                raise
            return OpenStream(
                model, events, first, upstream=upstream, lease=lease, backend=in_process.BACKEND
            )

        async def open_stream(opening: Opening) -> OpenStream:
            call = _Call(endpoint, attempt, locally, record, pin, opening)
            await self.admission.acquire()
            try:
                stream = await self._with_fallback(target, call)
            except BaseException:
                self.admission.release()
                raise
            stream.hold(self.admission)  # the gateway's slot, until the stream closes
            return stream

        return Opening(open_stream)

    def _in_process(self, target: ModelTarget) -> LlamaCppBackend:
        if self.llama_cpp is None:
            raise BackendUnavailable(f"Model {target.id!r} has no in-process backend.")
        return self.llama_cpp

    async def _with_fallback(self, target: ModelTarget, call: _Call[T]) -> T:
        """Serve `target`, moving along its `fallback` chain while models are down."""
        seen = {target.id}
        while True:
            try:
                return await self._serve(target, call)
            except _DOWN:
                fallback = target.fallback
                if fallback is None or fallback in seen or call.committed or call.pin is not None:
                    raise
                seen.add(fallback)
                log.warning("model %r is down; falling back to %r", target.id, fallback)
                target = self.registry.get(fallback)
                target.require(call.endpoint.capability)

    async def _serve(self, target: ModelTarget, call: _Call[T]) -> T:
        """Serve one model: in-process, from its replicas, or in-process when they are down."""
        if target.legacy_mode == "only" and call.pin is None:
            return await self._locally(target, call)
        try:
            return await self._attempts(target, call)
        except _DOWN:
            if target.legacy_mode != "fallback" or call.committed or call.pin is not None:
                raise
            log.warning("model %r: LocalAI is down; answering in-process", target.id)
            return await self._locally(target, call)

    @staticmethod
    async def _locally(target: ModelTarget, call: _Call[T]) -> T:
        if call.record is not None:
            call.record.upstream = in_process.IN_PROCESS
        return await call.in_process(target, Lease())

    async def _attempts(self, target: ModelTarget, call: _Call[T]) -> T:
        """The retry loop: every attempt, the first included, under the model's policy."""
        replicas = self.replica_sets[target.id]
        policy = self.policies[target.id]
        loop = asyncio.get_running_loop()
        total = target.timeouts.total
        deadline = None if total is None else loop.time() + total
        tried: set[str] = set()
        failed = 0
        while True:
            try:
                result = await self._attempt(call, target, replicas, tried, deadline)
            except BaseException as exc:
                failed += 1
                if call.committed:
                    raise
                wait = policy.next_delay(
                    failed,
                    exc,
                    remaining=None if deadline is None else deadline - loop.time(),
                    other_replica=call.pin is None and replicas.untried(tried),
                )
                if wait is None:
                    raise
                await asyncio.sleep(wait)
                continue
            if failed:
                log.info("model %r answered on attempt %d", target.id, failed + 1)
            return result

    async def _attempt(
        self,
        call: _Call[T],
        target: ModelTarget,
        replicas: ReplicaSet,
        tried: set[str],
        deadline: float | None,
    ) -> T:
        """Take the model's and a replica's slots, then make one attempt on that replica."""
        lease = Lease()
        model_admission = self.model_admission.get(target.id)
        if model_admission is not None:
            await model_admission.acquire()
            lease.admit(model_admission)
        try:
            replica = await replicas.acquire(
                target.id, tried, self.settings.queue_timeout, call.pin
            )
        except BaseException:
            lease.release(Outcome.NEUTRAL)
            raise
        lease.hold(replica, replicas)
        tried.add(replica.url)
        if call.record is not None:
            call.record.upstream = replica.upstream.name
            call.record.retries = len(tried) - 1
        return await call.attempt(target, replica, lease, deadline)

    async def probe(self, upstream: Upstream, limit: float) -> None:
        """Ask one upstream's health endpoint and record the verdict (an error counts as down)."""
        limits = Timeouts(connect=limit, first_token=limit, idle=limit, total=limit)
        try:
            healthy = await self.client.health(upstream.url, timeouts=limits) == 200
        except UpstreamError:
            healthy = False
        if healthy != upstream.healthy:
            log.warning("upstream %s is now %s", upstream.url, "up" if healthy else "down")
        upstream.healthy = healthy

    async def probe_all(self, limit: float) -> None:
        """Probe every upstream at once."""
        await asyncio.gather(*(self.probe(upstream, limit) for upstream in self.upstreams.values()))

    async def probe_forever(self, interval: float, limit: float) -> None:
        """Probe every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await self.probe_all(limit)
