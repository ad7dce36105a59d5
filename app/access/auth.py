"""API keys: the keys file, the auth middleware and the per-model authorization of a request.

The keys file (`LOCALAI_GATEWAY_API_KEYS_FILE`, YAML) holds only sha256 hex digests:

    keys:
      - {name: team-a, sha256: <hex>, models: [chat-model, embed-model], rpm: 600, tpm: 100000}
      - {name: ops, sha256: <hex>, models: "*", admin: true}

When auth is on (`LOCALAI_GATEWAY_AUTH` unset with a keys file, or `on`), every path except
/healthz, /readyz and /metrics (unless `LOCALAI_GATEWAY_METRICS_AUTH=on`) needs a key, sent as
`Authorization: Bearer <key>` or `x-api-key: <key>`; the status page (/status) needs an `admin`
key, which a browser may also send as HTTP Basic auth (the key as the password).
`LOCALAI_GATEWAY_AUTH=off` turns auth off. With neither, the gateway runs without keys only when
it listens on a loopback address. The keys are part of the reloadable configuration: each
request checks the keys of the configuration it took at its start (`app/reload.py`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import (
    AuthenticationFailed,
    GatewayError,
    ModelNotFound,
    PermissionDenied,
    gateway_error_response,
)
from ..observability.record import current_record, record_of
from ..registry import ModelTarget
from ..settings import Settings

if TYPE_CHECKING:
    from ..state import Gateway

log = logging.getLogger("localai_gateway.auth")

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
# Generated images are fetched by URL (often by a browser); their signed ids are the credential.
PUBLIC_PREFIXES = ("/v1/images/files/",)
METRICS_PATH = "/metrics"
# The status page and its data: an `admin` key only, also accepted as HTTP Basic auth.
ADMIN_PREFIX = "/status"
_BASIC_CHALLENGE = {"www-authenticate": 'Basic realm="localai-gateway", charset="UTF-8"'}

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
    admin: bool = False


class _KeysFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: Annotated[list[_KeyEntry], Field(min_length=1)]


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One configured key: its name, digest, allowed models (None = all), rate limits and
    whether it may see the status page (`admin`)."""

    name: str
    sha256: str
    models: frozenset[str] | None
    rpm: int | None = None
    tpm: int | None = None
    admin: bool = False

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


def load_keys(path: Path, read: Callable[[Path], bytes] = Path.read_bytes) -> KeyRing:
    """Read (with `read`) and check a keys file; raise `KeysFileError` naming the file, the key
    (by name when it has one) and the field."""
    try:
        document = yaml.safe_load(read(path))
    except OSError as exc:
        raise KeysFileError(f"{path}: cannot read the API keys file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise KeysFileError(f"{path}: not valid YAML") from exc
    try:
        parsed = _KeysFile.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(document)"
        raise KeysFileError(
            f"{path}:{_key_named(document, first['loc'])} field {where!r}: {first['msg']}"
        ) from None
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
            admin=entry.admin,
        )
        for entry in parsed.keys
    )


def _key_named(document: object, location: tuple[int | str, ...]) -> str:
    """` key '<name>':` for an error inside a keys entry that has a name, else ``."""
    if len(location) < 2 or location[0] != "keys" or not isinstance(document, dict):
        return ""
    entries, index = document.get("keys"), location[1]
    if not isinstance(entries, list) or not isinstance(index, int) or index >= len(entries):
        return ""
    name = entries[index].get("name") if isinstance(entries[index], dict) else None
    return f" key {name!r}:" if isinstance(name, str) else ""


def keys_path(settings: Settings) -> Path | None:
    """The keys file to enforce, or None when auth is off or not configured.

    Raises `KeysFileError` when `LOCALAI_GATEWAY_AUTH=on` has no keys file.
    """
    if settings.auth is False:
        return None
    if settings.api_keys_file is None and settings.auth:
        raise KeysFileError("LOCALAI_GATEWAY_AUTH=on needs LOCALAI_GATEWAY_API_KEYS_FILE")
    return settings.api_keys_file


def warn_without_keys(settings: Settings) -> None:
    """Log why the gateway serves without keys (auth off, or no keys file on loopback)."""
    if settings.auth is False:
        log.warning("API key auth is off (LOCALAI_GATEWAY_AUTH=off): every client is trusted")
    else:
        log.warning(
            "no API keys configured (LOCALAI_GATEWAY_API_KEYS_FILE): serving WITHOUT auth, "
            "which is allowed only on a loopback address"
        )


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


def presented_key(scope: Scope, *, basic: bool = False) -> str | None:
    """Return the key from `Authorization: Bearer` or `x-api-key`, if either is sent; with
    `basic`, also the password of `Authorization: Basic` (a browser's login)."""
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            if basic and scheme.lower() == "basic":
                return _basic_password(token.strip())
        elif name == b"x-api-key" and value.strip():
            return value.decode("latin-1").strip()
    return None


def _basic_password(token: str) -> str | None:
    try:
        decoded = base64.b64decode(token, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, colon, password = decoded.partition(":")
    return password if colon and password else None


def keys_of(scope: Scope) -> KeyRing | None:
    """The keys of the configuration the request took at its start (None: auth is off)."""
    gateway: Gateway = scope["state"]["gateway"]
    return gateway.keys


class AuthMiddleware:
    """Reject HTTP requests without a valid key (401) and the status page without an admin key
    (403); name the key in the request record. The keys are the request's configuration's."""

    def __init__(self, app: ASGIApp, *, protect_metrics: bool = False) -> None:
        self.app = app
        self.public = PUBLIC_PATHS if protect_metrics else PUBLIC_PATHS | {METRICS_PATH}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if not path or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        admin_only = path.startswith(ADMIN_PREFIX)
        keys = keys_of(scope)
        presented = presented_key(scope, basic=admin_only)
        key = keys.find(presented) if keys is not None and presented is not None else None
        if path in self.public:  # open to all; a valid key still shows who asked (/readyz)
            self._note(scope, key)
            await self.app(scope, receive, send)
            return
        refusal = _refusal(key, presented, admin_only)
        if refusal is not None:
            await gateway_error_response(refusal)(scope, receive, send)
            return
        self._note(scope, key)
        await self.app(scope, receive, send)

    @staticmethod
    def _note(scope: Scope, key: ApiKey | None) -> None:
        record = record_of(scope)
        if record is not None:
            record.key = key


def _refusal(key: ApiKey | None, presented: str | None, admin_only: bool) -> GatewayError | None:
    """The 401 or 403 for a request with `key` (None: missing or unknown), or None to admit."""
    if key is None:
        challenge = _BASIC_CHALLENGE if admin_only else {"www-authenticate": "Bearer"}
        return AuthenticationFailed(_INVALID if presented else _MISSING, headers=challenge)
    if admin_only and not key.admin:
        return PermissionDenied(
            f"The API key {key.name!r} may not see the status page: it needs `admin: true`.",
            code="admin_required",
        )
    return None


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
