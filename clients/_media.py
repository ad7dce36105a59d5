"""Image sniffing: what the bytes of an image are, whatever anyone claims."""

from __future__ import annotations

PNG, JPEG, WEBP, GIF = "image/png", "image/jpeg", "image/webp", "image/gif"


def sniff_image(data: bytes) -> str | None:
    """Return the MIME type of PNG, JPEG, WebP or GIF bytes; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    return None
