"""Sets of Unicode code points as sorted, disjoint, inclusive ranges."""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Iterable

CharSet = tuple[tuple[int, int], ...]

MAX_CP = sys.maxunicode
EMPTY: CharSet = ()
ANY: CharSet = ((0, MAX_CP),)
DIGIT: CharSet = ((0x30, 0x39),)
WORD: CharSet = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
# ECMAScript \s: WhiteSpace and LineTerminator code points
SPACE: CharSet = (
    (0x09, 0x0D),
    (0x20, 0x20),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
    (0xFEFF, 0xFEFF),
)
LINE_TERMINATORS: CharSet = ((0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029))


def normalize(ranges: Iterable[tuple[int, int]]) -> CharSet:
    """Sort and merge overlapping or touching ranges."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def of(*chars: str) -> CharSet:
    return normalize((ord(c), ord(c)) for c in chars)


def union(*sets: CharSet) -> CharSet:
    return normalize(r for s in sets for r in s)


def complement(s: CharSet) -> CharSet:
    out, start = [], 0
    for lo, hi in s:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= MAX_CP:
        out.append((start, MAX_CP))
    return tuple(out)


def intersect(a: CharSet, b: CharSet) -> CharSet:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def difference(a: CharSet, b: CharSet) -> CharSet:
    return intersect(a, complement(b))


def contains(s: CharSet, cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in s)


_CATEGORY_ALIASES = {
    "Letter": "L",
    "Uppercase_Letter": "Lu",
    "Lowercase_Letter": "Ll",
    "Titlecase_Letter": "Lt",
    "Modifier_Letter": "Lm",
    "Other_Letter": "Lo",
    "Number": "N",
    "Decimal_Number": "Nd",
    "Letter_Number": "Nl",
    "Other_Number": "No",
    "Punctuation": "P",
    "Symbol": "S",
    "Mark": "M",
    "Separator": "Z",
    "Space_Separator": "Zs",
}


def unicode_category(name: str) -> CharSet | None:
    """Code points of a general category (`L`, `Letter`, `Nd`...), or None if unknown."""
    code = _CATEGORY_ALIASES.get(name, name)
    table = _category_table()
    if code in table:
        return table[code]
    return None


@functools.cache
def _category_table() -> dict[str, CharSet]:
    """Built on first use (about 0.3 s): ranges per one- and two-letter general category."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    prev, start = "", 0
    for cp in range(MAX_CP + 2):
        cat = unicodedata.category(chr(cp)) if cp <= MAX_CP else ""
        if cat != prev:
            if prev:
                ranges.setdefault(prev, []).append((start, cp - 1))
                ranges.setdefault(prev[0], []).append((start, cp - 1))
            prev, start = cat, cp
    return {k: normalize(v) for k, v in ranges.items()}
