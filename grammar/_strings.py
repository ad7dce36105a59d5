"""GBNF for the text of JSON strings: one encoded character of a set, and whole literals.

A character may appear raw or escaped. Escapes accepted: the mandatory `\\"` and `\\\\`, the
optional `\\/`, the short control escapes, and `\\uXXXX` (any hex case, surrogate pairs for
characters beyond U+FFFF) for controls and everything outside printable ASCII, which is what
`json.dumps` (ensure_ascii) produces. Printable ASCII is accepted raw only.
"""

from __future__ import annotations

import functools

from grammar import _charset as cs
from grammar._charset import CharSet

_CONTROL: CharSet = ((0x00, 0x1F),)
_MUST_ESCAPE: CharSet = ((0x00, 0x1F), (0x22, 0x22), (0x5C, 0x5C))
_U_ESCAPABLE: CharSet = ((0x00, 0x1F), (0x7F, 0xD7FF), (0xE000, 0xFFFF))
_SHORT = {0x22: '"\\\\\\""', 0x5C: '"\\\\\\\\"', 0x2F: '"\\\\/"'}
_SHORT_CONTROL = {8: "b", 12: "f", 10: "n", 13: "r", 9: "t"}
_CLASS_SAFE = frozenset(chr(c) for c in range(0x21, 0x7F)) - set('[]\\-^"')
_LITERAL_SAFE = frozenset(chr(c) for c in range(0x20, 0x7F)) - set('"\\')
HEX = "[0-9a-fA-F]"


def _class_char(cp: int) -> str:
    ch = chr(cp)
    if ch in _CLASS_SAFE:
        return ch
    if cp < 0x100:
        return f"\\x{cp:02X}"
    return f"\\u{cp:04X}" if cp < 0x10000 else f"\\U{cp:08X}"


def char_class(s: CharSet) -> str:
    """A GBNF character class for a non-empty set, negated when that is shorter."""
    comp = cs.complement(s)
    negated = len(comp) < len(s)
    body = "".join(
        _class_char(lo) if lo == hi else f"{_class_char(lo)}-{_class_char(hi)}"
        for lo, hi in (comp if negated else s)
    )
    return f"[{'^' if negated else ''}{body}]"


def gbnf_literal(text: str) -> str:
    """A GBNF string literal matching `text` exactly."""
    out = []
    for ch in text:
        if ch in _LITERAL_SAFE:
            out.append(ch)
        else:
            out.append(_class_char(ord(ch)) if ch not in _CLASS_SAFE else ch)
    return '"' + "".join(out).replace('"', "\\x22") + '"'


def _hex_digit_class(digits: list[int]) -> str:
    chars = "".join(f"{d:x}" for d in digits) + "".join(f"{d:X}" for d in digits if d >= 10)
    return char_class(cs.of(*chars))


def _hex_node(ranges: CharSet, base: int, width: int) -> str | None:
    """4-digit hex text for the code points of `ranges` inside [base, base + 16**width)."""
    top = base + 16**width - 1
    inside = cs.intersect(ranges, ((base, top),))
    if not inside:
        return None
    if inside == ((base, top),):
        return HEX if width == 1 else f"{HEX}{{{width}}}"
    step = 16 ** (width - 1)
    groups: dict[str, list[int]] = {}
    for v in range(16):
        child = "" if width == 1 else _hex_node(inside, base + v * step, width - 1)
        if child is not None and (width > 1 or cs.contains(inside, base + v)):
            groups.setdefault(child, []).append(v)
    alts = [f"{_hex_digit_class(d)} {c}".strip() for c, d in groups.items()]
    return alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"


def hex_expr(s: CharSet) -> str | None:
    """Four hex digits (either case) spelling a code point of `s` (all below U+10000)."""
    return _hex_node(s, 0, 4)


def _surrogate_pairs(s: CharSet) -> list[str]:
    alts = []
    for lo, hi in s:
        hi_lo, hi_hi = 0xD800 + ((lo - 0x10000) >> 10), 0xD800 + ((hi - 0x10000) >> 10)
        low_lo, low_hi = 0xDC00 + ((lo - 0x10000) & 0x3FF), 0xDC00 + ((hi - 0x10000) & 0x3FF)
        if hi_lo == hi_hi:
            blocks = [(hi_lo, hi_lo, low_lo, low_hi)]
        else:
            blocks = [(hi_lo, hi_lo, low_lo, 0xDFFF), (hi_hi, hi_hi, 0xDC00, low_hi)]
            if hi_hi - hi_lo > 1:
                blocks.append((hi_lo + 1, hi_hi - 1, 0xDC00, 0xDFFF))
        for h1, h2, l1, l2 in blocks:
            alts.append(f'"\\\\u" {hex_expr(((h1, h2),))} "\\\\u" {hex_expr(((l1, l2),))}')
    return alts


@functools.lru_cache(maxsize=4096)
def json_char(s: CharSet) -> str | None:
    """One JSON-encoded character of `s` (raw or escaped), or None for the empty set."""
    alts = []
    raw = cs.difference(s, _MUST_ESCAPE)
    if raw:
        alts.append(char_class(raw))
    for cp, text in _SHORT.items():
        if cs.contains(s, cp):
            alts.append(text)
    for cp, letter in _SHORT_CONTROL.items():
        if cs.contains(s, cp):
            alts.append(f'"\\\\{letter}"')
    escapable = cs.intersect(s, _U_ESCAPABLE)
    if escapable:
        alts.append(f'"\\\\u" {hex_expr(escapable)}')
    astral = cs.intersect(s, ((0x10000, cs.MAX_CP),))
    if astral == ((0x10000, cs.MAX_CP),):
        alts.append(f'"\\\\u" [dD] [89abAB] {HEX}{{2}} "\\\\u" [dD] [c-fC-F] {HEX}{{2}}')
    elif astral:
        alts.extend(_surrogate_pairs(astral))
    if not alts:
        return None
    return alts[0] if len(alts) == 1 else " | ".join(alts)


def json_string_literal(text: str) -> str:
    """A sequence matching the JSON string `text`, quotes included, in every accepted spelling."""
    parts = ['"\\""']
    run = ""
    for ch in text:
        if ch in _LITERAL_SAFE:
            run += ch
            continue
        if run:
            parts.append(gbnf_literal(run))
            run = ""
        parts.append(f"({json_char(cs.of(ch))})")
    if run:
        parts.append(gbnf_literal(run))
    parts.append('"\\""')
    return " ".join(parts)
