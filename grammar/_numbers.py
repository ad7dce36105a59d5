"""GBNF for JSON numbers within exact decimal bounds.

A bounded number is written without an exponent; its integer part is matched digit by digit
against the bounds and its fraction lexicographically (trailing zeros allowed), so `300`,
`300.0` and `299.97` are told apart exactly from `300.5`. `integer` is True for integers
(`1.0` counts from draft-06 on: `zero_fraction`), False for numbers with a non-zero fraction,
None for any.
"""

from __future__ import annotations

import functools
from decimal import Decimal

INT_PART = '("0" | [1-9] [0-9]*)'
ANY_NUMBER = f'"-"? {INT_PART} ("." [0-9]+)? ([eE] [-+]? [0-9]+)?'
_ZERO_FRACTION = '("." "0"+)?'
_NONZERO_DIGITS = '"0"* [1-9] [0-9]*'

Bound = tuple[Decimal, bool] | None  # (value, exclusive)


def number_expr(
    lo: Bound, hi: Bound, integer: bool | None, zero_fraction: bool = True
) -> str | None:
    """An expression for the numbers in the bounds, or None when there are none."""
    tail = _ZERO_FRACTION if zero_fraction else ""
    if lo is None and hi is None:
        if integer is None:
            return ANY_NUMBER
        frac = tail if integer else f'"." {_NONZERO_DIGITS}'
        return f'"-"? {INT_PART} {frac}'.strip()
    alts = [] if integer else _exponent_forms(lo, hi, integer is None)
    neg = negative_magnitudes(lo, hi)
    if neg is not None:
        body = _magnitude(*neg, integer, tail)
        if body:
            alts.append(f'"-" ({body})')
    pos = positive_magnitudes(lo, hi)
    if pos is not None:
        body = _magnitude(*pos, integer, tail)
        if body:
            alts.append(body)
    return " | ".join(f"({a})" for a in alts) if alts else None


def scientific(d: Decimal) -> str:
    """A non-zero value in scientific notation, one digit before the point, as json.dumps
    writes floats from 1e16 and below 1e-4 (1e+16, 1.5e-05): any exponent sign and case."""
    sign, digits, exponent = d.normalize().as_tuple()
    lead, rest = digits[0], "".join(map(str, digits[1:]))
    power = int(exponent) + len(digits) - 1
    fraction = f'"." "{rest}" "0"*' if rest else '("." "0"+)?'
    marker = '"-"' if power < 0 else '"+"?'
    minus = '"-" ' if sign else ""
    return f'{minus}"{lead}" {fraction} [eE] {marker} "0"* "{abs(power)}"'


def _exponent_digits(least: int) -> str:
    return f'"0"* ({int_range(least, None)})'


def _smallest_exponent(limit: Decimal | None) -> int:
    """Least e >= 1 with 10**(1 - e) <= limit: then every m.ddd e-e is below the limit."""
    e = 1
    while limit is not None and Decimal(10) ** (1 - e) > limit:
        e += 1
    return e


def _exponent_forms(lo: Bound, hi: Bound, large: bool) -> list[str]:
    """Exponent spellings (as json.dumps writes 1e-05 or 1e+16) that certainly lie in range:
    tiny ones when the range reaches past zero, huge ones when it is unbounded."""
    mantissa = '[1-9] ("." [0-9]+)?'
    out = []
    if (hi is None or hi[0] > 0) and (lo is None or lo[0] <= 0):
        e = _smallest_exponent(None if hi is None else hi[0])
        out.append(f'{mantissa} [eE] "-" {_exponent_digits(e)}')
    if (lo is None or lo[0] < 0) and (hi is None or hi[0] >= 0):
        e = _smallest_exponent(None if lo is None else -lo[0])
        out.append(f'"-" {mantissa} [eE] "-" {_exponent_digits(e)}')
    if large and hi is None and lo is not None:
        e = 0
        while Decimal(10) ** e < lo[0] or (lo[1] and Decimal(10) ** e == lo[0]):
            e += 1
        out.append(f'{mantissa} [eE] "+"? {_exponent_digits(e)}')
    if large and lo is None and hi is not None:
        e = 0
        while -(Decimal(10) ** e) > hi[0] or (hi[1] and -(Decimal(10) ** e) == hi[0]):
            e += 1
        out.append(f'"-" {mantissa} [eE] "+"? {_exponent_digits(e)}')
    return out


def _zero_in(lo: Bound, hi: Bound) -> bool:
    above = lo is None or lo[0] < 0 or (lo[0] == 0 and not lo[1])
    below = hi is None or hi[0] > 0 or (hi[0] == 0 and not hi[1])
    return above and below


def negative_magnitudes(lo: Bound, hi: Bound) -> tuple[Bound, Bound] | None:
    """Bounds on |x| for the negative numbers (and "-0") in the range."""
    if lo is not None and (lo[0] > 0 or (lo[0] == 0 and not _zero_in(lo, hi))):
        return None
    if hi is not None and hi[0] < 0:
        mag_lo: Bound = (-hi[0], hi[1])
    else:
        mag_lo = (Decimal(0), not _zero_in(lo, hi))
    mag_hi: Bound = None if lo is None else (-lo[0], lo[1]) if lo[0] < 0 else (Decimal(0), False)
    return mag_lo, mag_hi


def positive_magnitudes(lo: Bound, hi: Bound) -> tuple[Bound, Bound] | None:
    """Bounds on x for the non-negative numbers in the range."""
    if hi is not None and (hi[0] < 0 or (hi[0] == 0 and hi[1])):
        return None
    mag_lo: Bound = (Decimal(0), False) if lo is None or lo[0] < 0 else lo
    return mag_lo, hi


def _split(d: Decimal) -> tuple[int, str]:
    text = format(d, "f")
    whole, _, frac = text.partition(".")
    return int(whole), frac.rstrip("0")


def _magnitude(lo: Bound, hi: Bound, integer: bool | None, tail: str) -> str | None:
    """Unsigned numbers m with lo <= m <= hi (lo is never None here); `tail` follows an
    integer (an optional zero fraction, or nothing)."""
    assert lo is not None
    if integer:
        n_lo = int(lo[0].to_integral_value(rounding="ROUND_CEILING"))
        if lo[1] and n_lo == lo[0]:
            n_lo += 1
        n_hi = None
        if hi is not None:
            n_hi = int(hi[0].to_integral_value(rounding="ROUND_FLOOR"))
            if hi[1] and n_hi == hi[0]:
                n_hi -= 1
        ints = int_range(n_lo, n_hi)
        return f"({ints}) {tail}".strip() if ints else None
    ai, af = _split(lo[0])
    lower = (af, lo[1])
    whole = ("", integer is False)  # a bound-free fraction: any, or non-zero for non-integers
    whole_frac = (True, "[0-9]+") if whole == ("", False) else frac_range(*whole, None, False)
    if af == "" and not lo[1] and integer is False:
        lower = whole
    alts: list[str | None] = []
    if hi is None:
        alts.append(_join(str(ai), frac_range(*lower, None, False)))
        alts.append(_join(int_range(ai + 1, None), whole_frac))
    else:
        bi, bf = _split(hi[0])
        if bi == ai:
            alts.append(_join(str(ai), frac_range(*lower, bf, hi[1])))
        elif bi > ai:
            alts.append(_join(str(ai), frac_range(*lower, None, False)))
            alts.append(_join(int_range(ai + 1, bi - 1), whole_frac))
            upper_lo = whole if integer is False else ("", False)
            alts.append(_join(str(bi), frac_range(*upper_lo, bf, hi[1])))
    found = [a for a in alts if a]
    return " | ".join(found) if found else None


def _join(int_expr: str | None, frac: tuple[bool, str | None]) -> str | None:
    if int_expr is None:
        return None
    if int_expr.isdigit():
        int_expr = f'"{int_expr}"'
    empty_ok, nonempty = frac
    if nonempty is None:
        return f"({int_expr})" if empty_ok else None
    tail = f'("." ({nonempty}))' + ("?" if empty_ok else "")
    return f"({int_expr}) {tail}"


def _digit_class(lo: int, hi: int) -> str:
    return f'"{lo}"' if lo == hi else f"[{lo}-{hi}]"


def _fixed(n: int) -> str:
    return "" if n == 0 else "[0-9]" if n == 1 else f"[0-9]{{{n}}}"


def _same_length(a: str, b: str) -> str:
    """Digit strings of equal length between a and b (leading zeros allowed)."""
    if a == b:
        return f'"{a}"'
    if len(a) == 1:
        return _digit_class(int(a), int(b))
    if a[0] == b[0]:
        return f'"{a[0]}" ({_same_length(a[1:], b[1:])})'
    n = len(a) - 1
    first, last = int(a[0]), int(b[0])
    alts = []
    if a[1:] != "0" * n:
        alts.append(f'"{a[0]}" ({_same_length(a[1:], "9" * n)})')
        first += 1
    if b[1:] != "9" * n:
        alts.append(f'"{b[0]}" ({_same_length("0" * n, b[1:])})')
        last -= 1
    if first <= last:
        alts.append(f"{_digit_class(first, last)} {_fixed(n)}")
    return " | ".join(alts)


def int_range(lo: int, hi: int | None) -> str | None:
    """Non-negative integers in [lo, hi] written without leading zeros; None if there are none."""
    lo = max(lo, 0)
    if hi is not None and hi < lo:
        return None
    alts = []
    if lo == 0:
        alts.append('"0"')
        lo = 1
    top = len(str(hi)) if hi is not None else len(str(lo))
    for width in range(len(str(lo)), top + 1):
        a, b = max(lo, 10 ** (width - 1)), 10**width - 1 if hi is None else min(hi, 10**width - 1)
        if a <= b:
            alts.append(_same_length(str(a), str(b)))
    if hi is None:
        alts.append(f"[1-9] [0-9]{{{top},}}")
    return " | ".join(f"({a})" for a in alts) if alts else None


@functools.lru_cache(maxsize=1024)
def frac_range(a: str, a_excl: bool, b: str | None, b_excl: bool) -> tuple[bool, str | None]:
    """Fraction digit strings f with 0.a <= 0.f <= 0.b (strict when *_excl; b None = no bound).

    Returns (whether the empty fraction is allowed, an expression for the non-empty ones).
    """
    if b == "":
        return (False, None) if a_excl or b_excl or a else (True, '"0"+')
    if a == "" and b is None:
        return (False, _NONZERO_DIGITS) if a_excl else (True, "[0-9]+")
    empty_ok = a == "" and not a_excl
    groups: dict[tuple[tuple[str, bool], tuple[str | None, bool]], list[int]] = {}
    for d in range(10):
        if a == "":
            rest_lo = ("", True) if a_excl and d == 0 else ("", False)
        elif d < int(a[0]):
            continue
        else:
            rest_lo = (a[1:], a_excl) if d == int(a[0]) else ("", False)
        if b is None:
            rest_hi: tuple[str | None, bool] = (None, False)
        elif d > int(b[0]):
            continue
        else:
            rest_hi = (b[1:], b_excl) if d == int(b[0]) else (None, False)
        groups.setdefault((rest_lo, rest_hi), []).append(d)
    alts = []
    for (rest_lo, rest_hi), digits in groups.items():
        rest_empty, rest = frac_range(*rest_lo, *rest_hi)
        if rest is None and not rest_empty:
            continue
        head = _digit_class(digits[0], digits[-1]) if _contiguous(digits) else _set(digits)
        tail = "" if rest is None else f" ({rest})" + ("?" if rest_empty else "")
        alts.append(head + tail)
    return empty_ok, (" | ".join(alts) if alts else None)


def _contiguous(digits: list[int]) -> bool:
    return digits[-1] - digits[0] == len(digits) - 1


def _set(digits: list[int]) -> str:
    return "[" + "".join(str(d) for d in digits) + "]"
