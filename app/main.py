"""Assemble the FastAPI app: lifespan, error handlers and one router per resource."""

from __future__ import annotations

from fastapi import FastAPI

from .errors import install_error_handlers
from .lifespan import lifespan_for
from .routes import chat, embeddings, health, images, models
from .settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway app for `settings` (read from the environment when omitted)."""
    settings = settings or Settings()
    app = FastAPI(
        title="LocalAI Gateway",
        version="0.1.0",
        summary="OpenAI-compatible gateway in front of LocalAI",
        lifespan=lifespan_for(settings),
    )
    install_error_handlers(app)
    for module in (chat, embeddings, images, models, health):
        app.include_router(module.router)
    return app
