"""Process settings from `LOCALAI_GATEWAY_*` environment variables (and `.env`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    HttpUrl,
    SecretStr,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from clients import PoolLimits, Timeouts

from .upstream.breaker import BreakerPolicy
from .upstream.retry import RetryPolicy

DEFAULT_REGISTRY = Path("localai_models.yaml")


def upstream_base(url: str) -> str:
    """Return an upstream base URL without a trailing slash or `/v1` (the client adds paths)."""
    return url.rstrip("/").removesuffix("/v1")


def comma_list(value: object) -> object:
    """Split a comma-separated environment value ("a:1, b:2") into its non-empty items."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def http_url(tidy: Callable[[str], str]) -> WrapValidator:
    """Validate a string as an http(s) URL (pydantic's checks and messages), then `tidy` it."""

    def validate(value: object, handler: ValidatorFunctionWrapHandler) -> str:
        return tidy(str(_HTTP_URL.validate_python(handler(value))))

    return WrapValidator(validate)


_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)
Seconds = Annotated[float, Field(gt=0)]
OptionalSeconds = Annotated[float | None, Field(gt=0)]
Bytes = Annotated[int, Field(ge=1)]
MiB = 1024 * 1024
MIN_IMAGE_KEY_BYTES = 32


class Settings(BaseSettings):
    """Everything the gateway reads from its environment; immutable once loaded."""

    model_config = SettingsConfigDict(
        env_prefix="LOCALAI_GATEWAY_",
        env_file=".env",
        extra="ignore",
        frozen=True,
    )

    localai_url: Annotated[str, http_url(upstream_base)] | None = None
    registry: Path | None = None
    localai_api_key: SecretStr | None = None

    # Clients: API keys (None = auto, see app/access/auth.py), rate and body limits, observability.
    api_keys_file: Path | None = None
    auth: bool | None = None
    metrics_auth: bool = False
    rate_limit_redis_url: SecretStr | None = None
    max_request_bytes: Annotated[int, Field(ge=1)] = 32 * 1024 * 1024
    max_messages: Annotated[int, Field(ge=1)] = 2048
    max_json_containers: Annotated[int, Field(ge=16)] = 100_000
    max_concurrent_uploads: Annotated[int, Field(ge=1)] = 4
    otel: bool = False

    connect_timeout: OptionalSeconds = 5.0
    first_token_timeout: OptionalSeconds = 120.0
    idle_timeout: OptionalSeconds = 60.0
    total_timeout: OptionalSeconds = 600.0

    max_connections: Annotated[int, Field(ge=1)] = 512
    # The largest upstream body (or one stream event) the gateway reads: a 502 naming it beyond.
    max_upstream_bytes: Bytes = 128 * MiB
    keepalive_expiry: Seconds = 60.0
    http_transport: Literal["native", "httpx"] = "native"

    retries: Annotated[int, Field(ge=0, le=10)] = 2
    # Replaced by `retries` (attempts after the first, as the registry's `retries`): a
    # deployment still setting it is told so instead of having it ignored.
    retry_attempts: None = None
    retry_backoff: Seconds = 0.1
    retry_backoff_max: Seconds = 2.0
    breaker_failures: Annotated[int, Field(ge=1)] = 5
    breaker_failure_rate: Annotated[float, Field(gt=0, le=1)] = 0.5
    breaker_window: Annotated[int, Field(ge=1)] = 20
    breaker_min_calls: Annotated[int, Field(ge=1)] = 10
    breaker_cooldown: Seconds = 10.0
    health_interval: Annotated[float, Field(ge=0)] = 5.0
    health_timeout: Seconds = 2.0
    health_path: Annotated[str, Field(pattern=r"^/[!-~]*$")] = "/readyz"
    ready_requires_upstreams: bool = True
    max_concurrency: Annotated[int, Field(ge=1)] = 1024
    max_queue: Annotated[int, Field(ge=0)] = 1024
    queue_timeout: Seconds = 30.0
    keepalive_interval: Annotated[float, Field(ge=0)] = 15.0
    legacy_mode: Literal["off", "fallback", "only"] = "off"
    legacy_max_loaded: Annotated[int, Field(ge=1)] = 2
    legacy_idle_timeout: OptionalSeconds = 300.0
    drain_timeout: Seconds = 30.0
    workers: Annotated[int, Field(ge=1)] | Literal["auto"] = 1  # `serve --workers` wins
    reload_interval: Annotated[float, Field(ge=0)] = 1.0  # polling the config files; 0: SIGHUP only

    # Media (images, vision, audio): public URLs of generated images and upload/fetch limits.
    public_base_url: Annotated[str, http_url(lambda url: url.rstrip("/"))] | None = None
    image_url_key: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    image_url_ttl: Seconds = 3600.0
    max_image_bytes: Bytes = 10 * MiB
    max_images_per_request: Annotated[int, Field(ge=1)] = 16
    max_audio_bytes: Bytes = 25 * MiB
    vision_fetch_timeout: Seconds = 10.0
    vision_allow_hosts: Annotated[frozenset[str], NoDecode, BeforeValidator(comma_list)] = (
        frozenset()
    )

    @field_validator("image_url_key")
    @classmethod
    def _strong_image_key(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) < MIN_IMAGE_KEY_BYTES:
            raise ValueError(
                f"must be at least {MIN_IMAGE_KEY_BYTES} bytes (e.g. `openssl rand -hex 32`): "
                "it signs the links to generated images"
            )
        return value

    @field_validator("retry_attempts", mode="before")
    @classmethod
    def _replaced(cls, value: object) -> None:
        if value is None:  # unset (the default is validated too)
            return None
        raise ValueError(
            "replaced by LOCALAI_GATEWAY_RETRIES, the retries after the first attempt "
            "(RETRY_ATTEMPTS=3 is RETRIES=2)"
        )

    @cached_property
    def registry_path(self) -> Path:
        """The registry file: `LOCALAI_GATEWAY_REGISTRY`, else `./localai_models.yaml`."""
        return self.registry or DEFAULT_REGISTRY

    @property
    def embedded(self) -> bool:
        """True when neither LocalAI nor a registry is configured: serve the embedded models."""
        return self.localai_url is None and self.registry is None

    @cached_property
    def timeouts(self) -> Timeouts:
        """The global default timeouts; registry entries may override them per model."""
        return Timeouts(
            connect=self.connect_timeout,
            first_token=self.first_token_timeout,
            idle=self.idle_timeout,
            total=self.total_timeout,
        )

    @cached_property
    def breaker_policy(self) -> BreakerPolicy:
        """When a replica's circuit breaker opens, and for how long."""
        return BreakerPolicy(
            failures=self.breaker_failures,
            failure_rate=self.breaker_failure_rate,
            window=self.breaker_window,
            min_calls=self.breaker_min_calls,
            cooldown=self.breaker_cooldown,
        )

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """The retries and backoff of every model without its own `retries`."""
        return RetryPolicy(
            retries=self.retries, backoff=self.retry_backoff, backoff_max=self.retry_backoff_max
        )

    @cached_property
    def pool_limits(self) -> PoolLimits:
        """Bounds of the one upstream connection pool."""
        return PoolLimits(
            max_connections=self.max_connections, keepalive_expiry=self.keepalive_expiry
        )
