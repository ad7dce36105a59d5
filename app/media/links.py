"""Unguessable, expiring ids for generated images: an HMAC-signed (model, replica, file) triple.

The id names the model, the index of the replica in its `upstreams` and LocalAI's file name, so
any gateway process with the same key can serve it; the internal URL never leaves the gateway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

import orjson

from ..errors import RouteNotFound

_MAC_BYTES = 18  # 144 bits
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # use with fullmatch


@dataclass(frozen=True, slots=True)
class ImageRef:
    """Where a generated image lives: model id, replica index and LocalAI's file name."""

    model: str
    upstream: int
    name: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def sign_image(key: bytes, ref: ImageRef, ttl: float) -> str:
    """Return the public id of `ref`, valid for `ttl` seconds."""
    expires = int(time.time() + ttl)
    payload = orjson.dumps([expires, ref.upstream, ref.model, ref.name])
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def verify_image(key: bytes, image_id: str) -> ImageRef:
    """Return the reference an id signs; raise `RouteNotFound` (404) if forged or expired."""
    try:
        encoded, mac = image_id.split(".")
        payload = _unb64(encoded)
        valid = hmac.compare_digest(_mac(key, payload), _unb64(mac))
        expires, upstream, model, name = orjson.loads(payload) if valid else (0, 0, "", "")
    except (ValueError, binascii.Error):  # orjson.JSONDecodeError is a ValueError
        valid = False
    if not valid or expires < time.time() or not _well_formed(upstream, model, name):
        raise RouteNotFound("No image has this id, or it has expired.", param="image_id")
    return ImageRef(model=model, upstream=upstream, name=name)


def _well_formed(upstream: object, model: object, name: object) -> bool:
    """Whether a verified payload still names what the gateway signs (defence in depth)."""
    return (
        isinstance(upstream, int)
        and isinstance(model, str)
        and isinstance(name, str)
        and FILE_NAME.fullmatch(name) is not None
    )
