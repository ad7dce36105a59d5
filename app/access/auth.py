"""API keys: the keys file, the auth middleware and the per-model authorization of a request.

The keys file (`LOCALAI_GATEWAY_API_KEYS_FILE`, YAML) holds only sha256 hex digests:

    keys:
      - {name: team-a, sha256: <hex>, models: [chat-model, embed-model], rpm: 600, tpm: 100000}
      - {name: ops, sha256: <hex>, models: "*"}

When auth is on (`LOCALAI_GATEWAY_AUTH` unset with a keys file, or `on`), every path except
/healthz, /readyz and /metrics (unless `LOCALAI_GATEWAY_METRICS_AUTH=on`) needs a key, sent as
`Authorization: Bearer <key>` or `x-api-key: <key>`. `LOCALAI_GATEWAY_AUTH=off` turns it off.
With neither, the gateway runs without keys only when it listens on a loopback address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import AuthenticationFailed, ModelNotFound, PermissionDenied, gateway_error_response
from ..observability.record import current_record, record_of
from ..registry import ModelTarget
from ..settings import Settings

log = logging.getLogger("localai_gateway.auth")

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
# Generated images are fetched by URL (often by a browser); their signed ids are the credential.
PUBLIC_PREFIXES = ("/v1/images/files/",)
METRICS_PATH = "/metrics"

_MISSING = "Missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
_INVALID = "Incorrect API key provided."


class KeysFileError(ValueError):
    """Raised when the keys file cannot be used; the message names the file and the field."""


class AuthNotConfigured(RuntimeError):
    """Raised at start-up when no keys file is set, auth is not off, and the bind is public."""


class _KeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=128)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]
    models: list[Annotated[str, Field(min_length=1)]] | Literal["*"]
    rpm: Annotated[int, Field(ge=1)] | None = None
    tpm: Annotated[int, Field(ge=1)] | None = None


class _KeysFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: Annotated[list[_KeyEntry], Field(min_length=1)]


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One configured key: its name, digest, allowed models (None = all) and rate limits."""

    name: str
    sha256: str
    models: frozenset[str] | None
    rpm: int | None = None
    tpm: int | None = None

    def allows(self, model_id: str) -> bool:
        """Whether this key may use the model with internal id `model_id`."""
        return self.models is None or model_id in self.models


class KeyRing:
    """The configured keys; `find` compares digests in constant time against every key."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self.keys = tuple(keys)

    def find(self, presented: str) -> ApiKey | None:
        """Return the key whose digest matches `presented`, or None.

        Every digest is compared with `hmac.compare_digest`, with no early exit, so the time
        taken tells nothing about which key (or which prefix) matched.
        """
        digest = hashlib.sha256(presented.encode()).hexdigest()
        found = None
        for key in self.keys:
            if hmac.compare_digest(digest, key.sha256):
                found = key
        return found

    @property
    def limited(self) -> bool:
        """Whether any key has a rate limit."""
        return any(key.rpm or key.tpm for key in self.keys)


def load_keys(path: Path) -> KeyRing:
    """Read and check a keys file; raise `KeysFileError` naming what is wrong."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        parsed = _KeysFile.model_validate(document)
    except OSError as exc:
        raise KeysFileError(f"{path}: cannot read the API keys file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise KeysFileError(f"{path}: not valid YAML") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(document)"
        raise KeysFileError(f"{path}: field {where!r}: {first['msg']}") from None
    for field in ("name", "sha256"):
        values = [getattr(entry, field).lower() for entry in parsed.keys]
        if len(set(values)) != len(values):
            raise KeysFileError(f"{path}: two keys have the same {field}")
    return KeyRing(
        ApiKey(
            name=entry.name,
            sha256=entry.sha256.lower(),
            models=None if entry.models == "*" else frozenset(entry.models),
            rpm=entry.rpm,
            tpm=entry.tpm,
        )
        for entry in parsed.keys
    )


def configured_keys(settings: Settings) -> KeyRing | None:
    """Return the keys to enforce, or None when auth is off or not configured (logged).

    Raises `KeysFileError` for a bad file, or when `LOCALAI_GATEWAY_AUTH=on` has no keys file.
    """
    if settings.auth is False:
        log.warning("API key auth is off (LOCALAI_GATEWAY_AUTH=off): every client is trusted")
        return None
    if settings.api_keys_file is not None:
        return load_keys(settings.api_keys_file)
    if settings.auth:
        raise KeysFileError("LOCALAI_GATEWAY_AUTH=on needs LOCALAI_GATEWAY_API_KEYS_FILE")
    log.warning(
        "no API keys configured (LOCALAI_GATEWAY_API_KEYS_FILE): serving WITHOUT auth, "
        "which is allowed only on a loopback address"
    )
    return None


def check_bind(settings: Settings, host: str) -> None:
    """Refuse (AuthNotConfigured) to serve without keys on a non-loopback `host`.

    Auth is unconfigured when there is no keys file and `LOCALAI_GATEWAY_AUTH` is not `off`.
    """
    if settings.api_keys_file is not None or settings.auth is False:
        return
    if not _is_loopback(host):
        raise AuthNotConfigured(
            f"refusing to listen on {host} without API keys: set LOCALAI_GATEWAY_API_KEYS_FILE, "
            "or LOCALAI_GATEWAY_AUTH=off to serve without auth"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def presented_key(scope: Scope) -> str | None:
    """Return the key from `Authorization: Bearer` or `x-api-key`, if either is sent."""
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"x-api-key" and value.strip():
            return value.decode("latin-1").strip()
    return None


class AuthMiddleware:
    """Reject HTTP requests without a valid key (401); name the key in the request record."""

    def __init__(self, app: ASGIApp, keys: KeyRing, *, protect_metrics: bool = False) -> None:
        self.app = app
        self.keys = keys
        self.public = PUBLIC_PATHS if protect_metrics else PUBLIC_PATHS | {METRICS_PATH}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if not path or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        presented = presented_key(scope)
        key = self.keys.find(presented) if presented is not None else None
        if path in self.public:  # open to all; a valid key still shows who asked (/readyz)
            self._note(scope, key)
            await self.app(scope, receive, send)
            return
        if key is None:
            error = AuthenticationFailed(
                _INVALID if presented else _MISSING, headers={"www-authenticate": "Bearer"}
            )
            await gateway_error_response(error)(scope, receive, send)
            return
        self._note(scope, key)
        await self.app(scope, receive, send)

    @staticmethod
    def _note(scope: Scope, key: ApiKey | None) -> None:
        record = record_of(scope)
        if record is not None:
            record.key = key


def can_use(request: Request, target: ModelTarget) -> bool:
    """Whether the request's key (if auth is on) may use `target`."""
    key = current_record(request).key
    return key is None or key.allows(target.id)


def authorize(request: Request, target: ModelTarget) -> None:
    """Record the resolved model; raise `PermissionDenied` (403) if the key may not use it."""
    record = current_record(request)
    record.model = target.id
    if record.key is not None and not record.key.allows(target.id):
        raise PermissionDenied(
            f"The API key {record.key.name!r} is not allowed to use model {target.id!r}.",
            param="model",
        )


def require_visible(request: Request, target: ModelTarget, name: str) -> None:
    """Raise `ModelNotFound` (404, as for an unknown id) if the key may not use `target`."""
    if not can_use(request, target):
        raise ModelNotFound(
            f"The model {name!r} does not exist or you do not have access to it.", param="model"
        )
