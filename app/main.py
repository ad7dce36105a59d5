"""Assemble the FastAPI app: lifespan, error handlers and one router per resource."""

from __future__ import annotations

from starlette.middleware import Middleware

from .access.auth import AuthMiddleware, keys_path, warn_without_keys
from .access.limits import BodyLimitMiddleware
from .access.ratelimit import RateLimitMiddleware, open_buckets
from .disconnects import DisconnectWatch
from .errors import install_error_handlers
from .hot_path import GatewayApp
from .lifespan import lifespan_for
from .observability import (
    ObservabilityMiddleware,
    TracingMiddleware,
    configured_tracer,
    metrics_router,
)
from .routes import (
    audio,
    chat,
    completions,
    embeddings,
    health,
    images,
    messages,
    models,
    rerank,
    responses,
    status,
    tokens,
)
from .settings import Settings
from .state import Lifecycle, Live


def create_app(settings: Settings | None = None) -> GatewayApp:
    """Build the gateway app for `settings` (read from the environment when omitted)."""
    settings = settings or Settings()
    lifecycle, live = Lifecycle(), Live()
    keys = keys_path(settings)
    if keys is None:
        warn_without_keys(settings)
    app = GatewayApp(
        live,
        outer=gateway_middleware(settings, auth=keys is not None),
        title="LocalAI Gateway",
        version="0.1.0",
        summary="OpenAI-compatible gateway in front of LocalAI",
        lifespan=lifespan_for(settings, lifecycle, live, keys),
    )
    app.state.lifecycle = lifecycle
    app.state.auth_required = keys is not None
    install_error_handlers(app)
    # The routes join the app's router directly: include_router wraps each router in a layer
    # that re-matches every request (measured ~8% of a chat request's CPU).
    routers = (chat, embeddings, completions, responses, messages, tokens)
    for module in (*routers, images, audio, rerank, models, health, status):
        app.router.routes.extend(module.router.routes)
    app.include_router(metrics_router)
    return app


def gateway_middleware(settings: Settings, *, auth: bool) -> list[Middleware]:
    """The pure ASGI middleware around every route, from the outside in: observability
    (creates the request record the others use), disconnect watch, tracing, body limit, and
    with `auth` the key check and the rate limits (present even when no key has limits: a
    reload may add some)."""
    middleware = [Middleware(ObservabilityMiddleware), Middleware(DisconnectWatch)]
    tracer = configured_tracer(settings)
    if tracer is not None:
        middleware.append(Middleware(TracingMiddleware, tracer=tracer))
    middleware.append(Middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes))
    if auth:
        middleware.append(Middleware(AuthMiddleware, protect_metrics=settings.metrics_auth))
        middleware.append(Middleware(RateLimitMiddleware, buckets=open_buckets(settings)))
    return middleware
