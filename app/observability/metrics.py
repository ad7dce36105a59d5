"""Prometheus metrics of the gateway, and the GET /metrics route that exposes them.

`METRICS` holds every metric object. Request metrics (requests, latency, TTFT, tokens and
retries) are observed by the observability middleware from the request record, so code that
retries sets `record.retries`; the resilience gauges (`breaker_state`, `upstream_healthy`,
`model_usable_replicas`, `queue_depth`) are built from the dispatcher at each scrape, and the
reload metrics are set by `app/reload.py`.

With several workers (PROMETHEUS_MULTIPROC_DIR set, see app/workers.py) a scrape answers for all
of them: counters and histograms are summed, in-flight streams too, the reload gauges show the
worst worker (the lowest success flag and timestamp), and the resilience gauges describe the
worker that answered (each has its own probes, breakers and queues).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response

from ..upstream.breaker import BreakerState
from .record import RequestRecord

# Seconds; LLM requests span milliseconds (cached, embeddings) to minutes (long generations).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)


RESILIENCE_GAUGES = {
    "breaker_state": (
        "Circuit breaker state per replica (upstream name, model): 0 closed, 1 half-open, 2 open.",
        ["upstream", "model"],
    ),
    "upstream_healthy": (
        "1 when the upstream's last health probe passed, else 0, by upstream name.",
        ["upstream"],
    ),
    "model_usable_replicas": (
        "Replicas of a model that are probed healthy with a breaker letting calls through.",
        ["model"],
    ),
    "queue_depth": (
        "Requests waiting for a concurrency slot, per queue (the gateway, or one model).",
        ["queue"],
    ),
}


class ResilienceGauges:
    """A collector of the resilience gauges, rebuilt from the dispatcher before each scrape
    (`update`): nothing is kept between scrapes, so series a reload removed disappear, and
    with several workers each scrape shows the answering worker's view, never a sum."""

    def __init__(self) -> None:
        self._families: list[Metric] = []

    def update(
        self,
        replicas: dict[str, dict[str, Any]],
        usable: dict[str, int],
        queues: dict[str, int],
    ) -> None:
        """Health and breaker state per replica (`Dispatcher.replica_states`), usable replicas
        per model and waiting requests per queue."""
        family = {
            name: GaugeMetricFamily(f"localai_gateway_{name}", text, labels=labels)
            for name, (text, labels) in RESILIENCE_GAUGES.items()
        }
        for upstream, state in replicas.items():
            family["upstream_healthy"].add_metric([upstream], 1 if state["healthy"] else 0)
            for model, breaker in state["breakers"].items():
                state_value = BreakerState[breaker.upper()]
                family["breaker_state"].add_metric([upstream, model], state_value)
        for model, count in usable.items():
            family["model_usable_replicas"].add_metric([model], count)
        for queue, waiting in queues.items():
            family["queue_depth"].add_metric([queue], waiting)
        self._families = list(family.values())

    def collect(self) -> Iterator[Metric]:
        yield from self._families


class Metrics:
    """The gateway's metric objects, registered on one `CollectorRegistry`."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.resilience = ResilienceGauges()
        registry.register(self.resilience)
        self.exposed = registry  # what a scrape shows
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # one of several workers
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed)  # type: ignore[no-untyped-call]
            self.exposed.register(self.resilience)
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
        self.inflight_streams = Gauge(
            "localai_gateway_inflight_streams",
            "Streamed (SSE) responses being sent right now, by model.",
            ["model"],
            registry=registry,
            multiprocess_mode="livesum",
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
            multiprocess_mode="livemin",
        )
        self.config_reload_success_time = Gauge(
            "localai_gateway_config_last_reload_success_timestamp_seconds",
            "Unix time the configuration now served was loaded.",
            registry=registry,
            multiprocess_mode="livemin",
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

    def streams_by_model(self) -> dict[str, int]:
        """The streams being sent right now, per model (the `inflight_streams` gauge)."""
        (family,) = self.inflight_streams.collect()
        return {sample.labels["model"]: int(sample.value) for sample in family.samples}

    def render(self) -> Response:
        """The Prometheus text exposition of the registry (of every worker's, with several)."""
        return Response(generate_latest(self.exposed), media_type=CONTENT_TYPE_LATEST)


METRICS = Metrics()

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus scrape endpoint; resilience gauges are read from the dispatcher at scrape."""
    dispatcher = request.state.gateway.dispatcher
    METRICS.resilience.update(
        dispatcher.replica_states(),
        dispatcher.usable_replicas(),
        {
            "gateway": dispatcher.admission.waiting,
            **{f"model:{m}": a.waiting for m, a in dispatcher.model_admission.items()},
        },
    )
    return METRICS.render()
