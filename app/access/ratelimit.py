"""Per-key rate limits: requests per minute (checked before) and tokens per minute (after).

Each limit is a token bucket holding up to one minute's allowance and refilling continuously.
`rpm` takes one request before the app runs. `tpm` only asks that the bucket is not in debt
before, and is charged the reply's tokens (from the request record) once the response is done,
so one large reply can push the key into debt and the next requests wait it off.

Buckets live in the process (`MemoryBuckets`), or in Redis (`RedisBuckets`, one Lua script per
step, for several gateway replicas sharing the limits). If Redis fails, requests pass (logged):
the limits protect capacity, and are not worth an outage of the gateway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import RateLimited, gateway_error_response, retry_after
from ..observability.metrics import METRICS, Metrics
from ..observability.record import record_of
from ..settings import Settings
from .auth import ApiKey
from .limits import content_length

log = logging.getLogger("localai_gateway.ratelimit")

STORE_TIMEOUT = 0.5  # seconds a bucket store may take before the request passes unlimited
STORE_RETRY = 5.0  # seconds the store is left alone after it failed
BYTES_PER_TOKEN = 4


class Buckets(Protocol):
    """Token buckets named by string, each refilling at `per_minute` per minute."""

    async def take(self, bucket: str, per_minute: int, cost: float, force: bool = False) -> float:
        """Take `cost` if the bucket holds at least that (or always, if `force`).

        Return 0 when taken, else the seconds until the bucket will hold `cost`.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class MemoryBuckets:
    """Buckets in this process: `{name: (level, last refill time)}`."""

    def __init__(self) -> None:
        self._levels: dict[str, tuple[float, float]] = {}

    async def take(self, bucket: str, per_minute: int, cost: float, force: bool = False) -> float:
        now = time.monotonic()
        rate = per_minute / 60
        level, last = self._levels.get(bucket, (float(per_minute), now))
        level = min(float(per_minute), level + (now - last) * rate)
        wait = 0.0
        if force or level >= cost:
            level = min(float(per_minute), level - cost)  # a refund never overfills it
        else:
            wait = (cost - level) / rate
        self._levels[bucket] = (level, now)
        return wait

    async def aclose(self) -> None:
        self._levels.clear()


# KEYS[1] bucket; ARGV: per_minute, cost, force (0/1). Redis's clock, so replicas agree.
_TAKE = """
local cap = tonumber(ARGV[1])
local rate = cap / 60
local cost = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = tonumber(state[1]) or cap
local at = tonumber(state[2]) or now
level = math.min(cap, level + math.max(0, now - at) * rate)
local wait = 0
if ARGV[3] == '1' or level >= cost then
  level = math.min(cap, level - cost)
else
  wait = (cost - level) / rate
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil((cap - level) / rate) + 1)
return tostring(wait)
"""


class RedisBuckets:
    """Buckets in Redis, shared by every gateway replica that uses the same URL."""

    PREFIX = "localai_gateway:rl:"

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        # Bounded: a Redis that accepts connections and never answers must not hold requests.
        self._redis = Redis.from_url(
            url, socket_connect_timeout=STORE_TIMEOUT, socket_timeout=STORE_TIMEOUT
        )
        self._take = self._redis.register_script(_TAKE)

    async def take(self, bucket: str, per_minute: int, cost: float, force: bool = False) -> float:
        reply = await self._take(keys=[self.PREFIX + bucket], args=[per_minute, cost, int(force)])
        return float(reply)

    async def aclose(self) -> None:
        await self._redis.aclose()


def open_buckets(settings: Settings) -> Buckets:
    """Redis buckets when `LOCALAI_GATEWAY_RATE_LIMIT_REDIS_URL` is set, else in-process."""
    url = settings.rate_limit_redis_url
    return RedisBuckets(url.get_secret_value()) if url is not None else MemoryBuckets()


class RateLimitMiddleware:
    """Answer 429 with `Retry-After` when the request's key is over its rpm or tpm.

    Runs inside the auth middleware (the record names the key); closes the buckets at shutdown.
    """

    def __init__(self, app: ASGIApp, buckets: Buckets, metrics: Metrics = METRICS) -> None:
        self.app = app
        self.buckets = buckets
        self.metrics = metrics
        self._store_down_until = float("-inf")  # event-loop time

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing(send))
            return
        record = record_of(scope) if scope["type"] == "http" else None
        key = record.key if record is not None else None
        if key is None or not (key.rpm or key.tpm):
            await self.app(scope, receive, send)
            return
        wait, limit = await self._admit(key)
        if wait > 0:
            self.metrics.child(self.metrics.rate_limited, key.name, limit).inc()
            await gateway_error_response(_refusal(key, limit, wait))(scope, receive, send)
            return
        # The prompt is charged on admission (estimated from the body size), so a client that
        # leaves early still pays for it; the rest once the response ends, however it ends.
        tpm = key.tpm
        charged = _prompt_estimate(scope) if tpm else 0
        if tpm and charged:
            await self._take(f"{key.name}:tpm", tpm, charged, force=True)
        try:
            await self.app(scope, receive, send)
        finally:
            if tpm and record is not None:
                used = (record.tokens_in or charged) + (record.tokens_out or 0)
                if used != charged:
                    await self._take(f"{key.name}:tpm", tpm, used - charged, force=True)

    async def _admit(self, key: ApiKey) -> tuple[float, str]:
        """Return (seconds to wait, the limit hit); (0, "") admits the request."""
        if key.tpm:
            wait = await self._take(f"{key.name}:tpm", key.tpm, 0)
            if wait > 0:
                return wait, "tpm"
        if key.rpm:
            wait = await self._take(f"{key.name}:rpm", key.rpm, 1)
            if wait > 0:
                return wait, "rpm"
        return 0.0, ""

    async def _take(self, bucket: str, per_minute: int, cost: float, force: bool = False) -> float:
        """`Buckets.take`, failing open: while the store fails or hangs, requests pass (logged,
        counted) and the store is left alone for `STORE_RETRY` seconds."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._store_down_until:
            return 0.0
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                return float(await self.buckets.take(bucket, per_minute, cost, force))
        except (TimeoutError, OSError, ConnectionError, _redis_error()) as exc:
            self._store_down_until = loop.time() + STORE_RETRY
            self.metrics.rate_limit_store_errors.inc()
            log.warning(
                "rate limit store failed (%s): requests pass unlimited for %gs",
                type(exc).__name__,
                STORE_RETRY,
            )
            return 0.0

    def _closing(self, send: Send) -> Send:
        async def closing_send(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.buckets.aclose()
            await send(message)

        return closing_send


def _prompt_estimate(scope: Scope) -> int:
    """Tokens the request's prompt may hold, estimated from its body size (4 bytes a token)."""
    length = content_length(scope)
    return 0 if length is None else length // BYTES_PER_TOKEN


def _refusal(key: ApiKey, limit: str, wait: float) -> RateLimited:
    per = "requests" if limit == "rpm" else "tokens"
    headers = retry_after(wait)
    return RateLimited(
        f"Rate limit reached for API key {key.name!r}: {per} per minute. "
        f"Try again in {headers['retry-after']}s.",
        headers=headers,
    )


def _redis_error() -> type[Exception]:
    try:
        from redis.exceptions import RedisError
    except ImportError:
        return OSError
    return RedisError
