"""Recognise image bytes by their signature (magic numbers), not by what a client claims.

The sniffing itself is `clients.sniff_image`, so the Python client and the gateway agree on
what an image is.
"""

from __future__ import annotations

from clients import sniff_image

PNG, JPEG, WEBP, GIF = "image/png", "image/jpeg", "image/webp", "image/gif"

__all__ = ["GIF", "JPEG", "PNG", "WEBP", "sniff_image"]
