"""Prometheus metrics of the gateway, and the GET /metrics route that exposes them.

`METRICS` holds every metric object. Request metrics (requests, latency, TTFT, tokens and
retries) are observed by the observability middleware from the request record, so code that
retries sets `record.retries`; the resilience gauges (`breaker_state`, `upstream_healthy`,
`model_usable_replicas`, `queue_depth`) are set from the dispatcher at scrape, and the reload
metrics by `app/reload.py`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase
from starlette.requests import Request
from starlette.responses import Response

from ..upstream.breaker import BreakerState
from .record import RequestRecord

# Seconds; LLM requests span milliseconds (cached, embeddings) to minutes (long generations).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)


class Metrics:
    """The gateway's metric objects, registered on one `CollectorRegistry`."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.requests = Counter(
            "localai_gateway_requests",
            "HTTP requests answered, by model, endpoint (route template) and status.",
            ["model", "endpoint", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "localai_gateway_request_duration_seconds",
            "Time from request start to the last response byte, by model and endpoint.",
            ["model", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            "localai_gateway_time_to_first_token_seconds",
            "Time from request start to the first body byte of a streamed response, by model.",
            ["model"],
            buckets=TTFT_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "localai_gateway_tokens",
            "Tokens reported by upstream usage, by model and direction (in = prompt, out).",
            ["model", "direction"],
            registry=registry,
        )
        self.retries = Counter(
            "localai_gateway_upstream_retries",
            "Upstream attempts retried or failed over (from the request record), by model.",
            ["model"],
            registry=registry,
        )
        self.breaker_state = Gauge(
            "localai_gateway_breaker_state",
            "Circuit breaker state per replica (upstream name, model): 0 closed, 1 half-open, "
            "2 open.",
            ["upstream", "model"],
            registry=registry,
        )
        self.upstream_healthy = Gauge(
            "localai_gateway_upstream_healthy",
            "1 when the upstream's last health probe passed, else 0, by upstream name.",
            ["upstream"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "localai_gateway_queue_depth",
            "Requests waiting for a concurrency slot, per queue (the gateway, or one model).",
            ["queue"],
            registry=registry,
        )
        self.inflight_streams = Gauge(
            "localai_gateway_inflight_streams",
            "Streamed (SSE) responses being sent right now, by model.",
            ["model"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "localai_gateway_rate_limited",
            "Requests refused with 429 by the per-key rate limits, by key name and limit.",
            ["key", "limit"],
            registry=registry,
        )
        self.rate_limit_store_errors = Counter(
            "localai_gateway_rate_limit_store_errors",
            "Rate-limit store (Redis) calls that failed or timed out; those requests passed.",
            registry=registry,
        )
        self.usable_replicas = Gauge(
            "localai_gateway_model_usable_replicas",
            "Replicas of a model that are probed healthy with a breaker letting calls through.",
            ["model"],
            registry=registry,
        )
        self.config_reloads = Counter(
            "localai_gateway_config_reload",
            "Reloads of the registry and keys files (file change or SIGHUP), by result.",
            ["result"],
            registry=registry,
        )
        for result in ("ok", "error"):
            self.config_reloads.labels(result)
        self.config_reload_successful = Gauge(
            "localai_gateway_config_last_reload_successful",
            "1 when the last load of the configuration files was applied, 0 when it failed.",
            registry=registry,
        )
        self.config_reload_success_time = Gauge(
            "localai_gateway_config_last_reload_success_timestamp_seconds",
            "Unix time the configuration now served was loaded.",
            registry=registry,
        )
        self._resilience = (
            self.breaker_state,
            self.upstream_healthy,
            self.usable_replicas,
            self.queue_depth,
        )
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: MetricWrapperBase, *labels: str) -> Any:
        """Return `metric.labels(*labels)`, cached (label sets are bounded: models x routes)."""
        slot = (id(metric), labels)
        found = self._children.get(slot)
        if found is None:
            found = self._children[slot] = metric.labels(*labels)
        return found

    def observe(self, record: RequestRecord, finished: float) -> None:
        """Count one finished request from its record."""
        model = record.model or ""
        self.child(self.requests, model, record.endpoint, str(record.status)).inc()
        self.child(self.latency, model, record.endpoint).observe(finished - record.started)
        if record.streaming and record.first_byte is not None:
            self.child(self.ttft, model).observe(record.first_byte - record.started)
        if record.tokens_in:
            self.child(self.tokens, model, "in").inc(record.tokens_in)
        if record.tokens_out:
            self.child(self.tokens, model, "out").inc(record.tokens_out)
        if record.retries:
            self.child(self.retries, model).inc(record.retries)

    def reloaded(self, *, ok: bool, at: float | None = None) -> None:
        """Count a reload (`ok`: applied); `at`: when the configuration applied was loaded."""
        self.child(self.config_reloads, "ok" if ok else "error").inc()
        self.loaded(ok=ok, at=at)

    def loaded(self, *, ok: bool, at: float | None = None) -> None:
        """Record whether the last load of the configuration was applied, and when."""
        self.config_reload_successful.set(1 if ok else 0)
        if at is not None:
            self.config_reload_success_time.set(at)

    def set_resilience(
        self,
        replicas: dict[str, dict[str, Any]],
        usable: dict[str, int],
        queues: dict[str, int],
    ) -> None:
        """Set health and breaker states per replica (`Dispatcher.replica_states`), usable
        replicas per model and the waiting requests per queue; series of upstreams, models and
        queues a reload removed disappear."""
        for metric in self._resilience:
            self._reset(metric)
        for model, count in usable.items():
            self.child(self.usable_replicas, model).set(count)
        for upstream, state in replicas.items():
            self.child(self.upstream_healthy, upstream).set(1 if state["healthy"] else 0)
            for model, breaker in state["breakers"].items():
                self.child(self.breaker_state, upstream, model).set(BreakerState[breaker.upper()])
        for queue, waiting in queues.items():
            self.child(self.queue_depth, queue).set(waiting)

    def streams_by_model(self) -> dict[str, int]:
        """The streams being sent right now, per model (the `inflight_streams` gauge)."""
        (family,) = self.inflight_streams.collect()
        return {sample.labels["model"]: int(sample.value) for sample in family.samples}

    def _reset(self, metric: MetricWrapperBase) -> None:
        """Drop every series of `metric` (and the cached children pointing at them)."""
        metric.clear()
        for slot in [slot for slot in self._children if slot[0] == id(metric)]:
            del self._children[slot]

    def render(self) -> Response:
        """The Prometheus text exposition of the registry."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


METRICS = Metrics()

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus scrape endpoint; resilience gauges are read from the dispatcher at scrape."""
    dispatcher = request.state.gateway.dispatcher
    METRICS.set_resilience(
        dispatcher.replica_states(),
        dispatcher.usable_replicas(),
        {
            "gateway": dispatcher.admission.waiting,
            **{f"model:{m}": a.waiting for m, a in dispatcher.model_admission.items()},
        },
    )
    return METRICS.render()
