"""Every upstream call of the gateway: admission, replica choice, breakers, retries, fallback.

`send` returns a whole reply and `start_stream` an `Opening` that becomes an `OpenStream` once
the first events arrived; both take an `Endpoint` and a `Payload`. One retry loop, driven by
the model's `RetryPolicy`, runs every attempt (the first too), on another replica when one is
left, within the model's total deadline; nothing is retried once the client's response has
started. When a model's replicas are down, its `fallback` model, or with `legacy_mode:
fallback` the in-process backend, answers instead; `legacy_mode: only` models never call
LocalAI. A `pin` keeps a call on one replica (a generated file lives where it was made): it
still gets admission, the breaker and deadlines, but no other replica, model or backend. A
payload's `routing_key` (a chat's conversation) picks the replica on the ring of a model routed
by prefix; other models, and calls without a key, go to the least loaded replica.

A `Dispatcher` is the view of one registry. `reconfigured` builds the view of a reloaded one
that keeps what belongs to the process or to a URL that stays: the client (its connection
pool), the gateway's admission, each upstream's probed health, each (URL, LocalAI model)
breaker, and a model's replica slots and queue when its replicas did not change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
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
from ..registry import Capability, ModelTarget, Registry
from ..settings import Settings
from . import in_process
from .admission import Admission
from .breaker import CircuitBreaker
from .endpoints import Endpoint
from .lease import Lease, Outcome, outcome_of
from .open_stream import LOCALAI, Opening, OpenStream
from .payloads import NO_NEEDS, Payload
from .probing import judge
from .replicas import Replica, ReplicaSet, Upstream

log = logging.getLogger("localai_gateway.dispatch")

T = TypeVar("T")
Prepare = Callable[[], Awaitable[None]]
"""Work a request does once admitted, before its first upstream attempt."""
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
    routing_key: int | None = None
    needs: frozenset[Capability] = NO_NEEDS  # capabilities the request uses beyond chat's

    @property
    def committed(self) -> bool:
        return self.opening is not None and self.opening.committed

    def may_fall_back(self, model: ModelTarget) -> bool:
        """Whether this call may move to `model`: not pinned, not committed, `model` has the
        capabilities the request uses, and (with auth) the request's key may use it."""
        key = self.record.key if self.record is not None else None
        allowed = key is None or key.allows(model.id)
        usable = allowed and self.needs <= model.capabilities
        return usable and self.pin is None and not self.committed


class Dispatcher:
    """Routes every upstream call to a model's replicas and owns the process-wide limits."""

    def __init__(
        self,
        client: UpstreamClient,
        registry: Registry,
        settings: Settings,
        llama_cpp: LlamaCppBackend | None = None,
        *,
        probe_client: UpstreamClient | None = None,
        previous: Dispatcher | None = None,
    ) -> None:
        self.client = client
        # Probes keep their own connections: a pool full of long streams must not make them
        # wait and time out (and so mark busy replicas down).
        self.probe_client = probe_client or client
        self.registry = registry
        self.settings = settings
        self.llama_cpp = llama_cpp
        self.upstreams: dict[str, Upstream] = {}
        self.breakers: dict[tuple[str, str], CircuitBreaker] = {}  # (URL, LocalAI model)
        self._previous = previous
        self.replica_sets = {target.id: self._replica_set(target) for target in registry}
        self._previous = None  # the old view is not kept alive by the new one
        self.policies = {
            target.id: settings.retry_policy.with_retries(target.retries) for target in registry
        }
        self.admission: Admission = (
            previous.admission
            if previous is not None
            else Admission(
                "the gateway", settings.max_concurrency, settings.max_queue, settings.queue_timeout
            )
        )
        # Uploads being parsed or held (their files spool to /tmp): bounded so that /tmp, sized
        # for this many bodies at the body limit, never fills.
        self.uploads: Admission = (
            previous.uploads
            if previous is not None
            else Admission(
                "uploads",
                settings.max_concurrent_uploads,
                settings.max_queue,
                settings.queue_timeout,
            )
        )
        self.model_admission = {
            target.id: self._model_admission(target, target.max_concurrency, previous)
            for target in registry
            if target.max_concurrency is not None
        }

    def reconfigured(self, registry: Registry) -> Dispatcher:
        """The view of `registry` that keeps this one's per-process and per-URL state."""
        return Dispatcher(
            self.client,
            registry,
            self.settings,
            self.llama_cpp,
            probe_client=self.probe_client,
            previous=self,
        )

    def _model_admission(
        self, target: ModelTarget, limit: int, previous: Dispatcher | None
    ) -> Admission:
        """The model's admission: the previous view's while its limit is unchanged."""
        kept = previous.model_admission.get(target.id) if previous is not None else None
        if kept is not None and kept.limit == limit:
            return kept
        settings = self.settings
        return Admission(f"model {target.id!r}", limit, settings.max_queue, settings.queue_timeout)

    def _kept_replica_set(self, target: ModelTarget) -> ReplicaSet | None:
        """The previous view's replica set of `target` if its replicas did not change."""
        previous = self._previous
        if previous is None or target.id not in previous.replica_sets:
            return None
        before = previous.registry.get(target.id)
        if (before.replicas, before.localai_model, before.routing) != (
            target.replicas,
            target.localai_model,
            target.routing,
        ):
            return None
        kept = previous.replica_sets[target.id]
        for replica in kept.replicas:
            self.upstreams.setdefault(replica.url, replica.upstream)
            self.breakers.setdefault((replica.url, target.localai_model), replica.breaker)
        return kept

    def _upstream(self, url: str, name: str, health_path: str) -> Upstream:
        """The upstream at `url`: this view's, else the previous view's (same name and health
        path), else new."""
        found = self.upstreams.get(url)
        if found is None:
            old = self._previous.upstreams.get(url) if self._previous is not None else None
            if old is not None and (old.name, old.health_path) == (name, health_path):
                found = old
            else:
                found = Upstream(url, name, health_path)
                found.healthy = old is None or old.healthy  # a renamed upstream stays as probed
            self.upstreams[url] = found
        return found

    def _breaker(self, url: str, localai_model: str) -> CircuitBreaker:
        """The breaker of (`url`, `localai_model`): this view's, the previous view's, or new."""
        key = (url, localai_model)
        found = self.breakers.get(key)
        if found is None:
            old = self._previous.breakers.get(key) if self._previous is not None else None
            found = self.breakers[key] = old or CircuitBreaker(self.settings.breaker_policy)
        return found

    def _replica_set(self, target: ModelTarget) -> ReplicaSet:
        kept = self._kept_replica_set(target)
        if kept is not None:
            return kept
        replicas = []
        for index, config in enumerate(target.replicas):
            upstream = self._upstream(config.url, config.name, config.health_path)
            breaker = self._breaker(config.url, target.localai_model)
            replicas.append(
                Replica(
                    upstream,
                    breaker,
                    index=index,
                    weight=config.weight,
                    max_concurrency=config.max_concurrency,
                )
            )
        routing = target.routing
        return ReplicaSet(replicas, routing.load_factor if routing.policy == "prefix" else None)

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

    def usable_replicas(self) -> dict[str, int]:
        """Per model that has replicas: how many are usable (probed up, breaker not open)."""
        return {
            model: len(replicas.usable())
            for model, replicas in self.replica_sets.items()
            if replicas.replicas
        }

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
        prepare: Prepare | None = None,
    ) -> Served:
        """Call `endpoint` on a replica of `target` (or its fallbacks) for a whole reply.

        `prepare` runs once the request holds its admission slot, before the first attempt
        (work a request may only do while admitted, e.g. fetching its images)."""
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

        call = _Call(
            endpoint, attempt, locally, record, pin, None, payload.routing_key, payload.needs
        )
        await self.admission.acquire()
        try:
            if prepare is not None:
                await prepare()
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
        prepare: Prepare | None = None,
    ) -> Opening:
        """Open a stream of `endpoint` on a replica of `target` (or its fallbacks; on replica
        `pin` alone when given) in the background; it opens once its first events arrived,
        holding its slots until closed. `prepare` as for `send`."""
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
            key, needs = payload.routing_key, payload.needs
            call = _Call(endpoint, attempt, locally, record, pin, opening, key, needs)
            await self.admission.acquire()
            try:
                if prepare is not None:
                    await prepare()
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
                if fallback is None or fallback in seen:
                    raise
                seen.add(fallback)
                model = self.registry.get(fallback)
                if not call.may_fall_back(model):
                    raise
                log.warning("model %r is down; falling back to %r", target.id, fallback)
                target = model
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
                target.id, tried, self.settings.queue_timeout, call.pin, call.routing_key
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
        """Ask one upstream's health endpoint, on the probes' own connections, and record
        what the answer says (see `probing.judge`)."""
        limits = Timeouts(connect=limit, first_token=limit, idle=limit, total=limit)
        answer: int | UpstreamError
        try:
            answer = await self.probe_client.health(
                upstream.url, upstream.health_path, timeouts=limits
            )
        except UpstreamError as exc:
            answer = exc
        grace = 2 * max(self.settings.health_interval, limit)
        judge(upstream, answer, asyncio.get_running_loop().time(), grace)

    async def probe_all(self, limit: float, only: Collection[str] | None = None) -> None:
        """Probe every upstream that has a health endpoint (or those of them whose URL is in
        `only`), all at once."""
        await asyncio.gather(
            *(
                self.probe(upstream, limit)
                for url, upstream in self.upstreams.items()
                if upstream.probed and (only is None or url in only)
            )
        )
