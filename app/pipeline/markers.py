"""Find marker strings (`<think>`, `<|channel|>`...) in text that arrives in arbitrary pieces."""

from collections.abc import Iterable


class MarkerScanner:
    """Cut streamed text into text and marker segments, holding back a possible partial marker.

    Every marker must start with `<`. A text segment never equals a marker, so callers tell them
    apart with `segment in markers`.
    """

    __slots__ = ("_longest", "_markers", "_pending", "_prefixes")

    def __init__(self, markers: Iterable[str]) -> None:
        self._markers = tuple(markers)
        if not all(m.startswith("<") for m in self._markers):
            raise ValueError("every marker must start with '<'")
        self._prefixes = frozenset(m[:i] for m in self._markers for i in range(1, len(m)))
        self._longest = max(map(len, self._markers))
        self._pending = ""

    @property
    def pending(self) -> str:
        """Text held back because it may be the start of a marker."""
        return self._pending

    def feed(self, text: str) -> list[str]:
        """Segments of `pending + text`; a trailing partial marker is kept for the next call."""
        if self._pending:
            text = self._pending + text
            self._pending = ""
        segments: list[str] = []
        start = 0
        at = text.find("<")
        while at != -1:
            marker = self._marker_at(text, at)
            if marker is not None:
                if at > start:
                    segments.append(text[start:at])
                segments.append(marker)
                start = at + len(marker)
                at = text.find("<", start)
            elif len(text) - at < self._longest and text[at:] in self._prefixes:
                self._pending = text[at:]
                break
            else:
                at = text.find("<", at + 1)
        end = len(text) - len(self._pending)
        if end > start:
            segments.append(text[start:end])
        return segments

    def flush(self) -> str:
        """Give up on the held-back text: it was not a marker after all."""
        pending, self._pending = self._pending, ""
        return pending

    def _marker_at(self, text: str, at: int) -> str | None:
        for marker in self._markers:
            if text.startswith(marker, at):
                return marker
        return None
