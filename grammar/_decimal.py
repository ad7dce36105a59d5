"""Automata over the text of a number's magnitude (`12`, `0.50`: no sign, no exponent), for
what a number grammar must count digit by digit: bounds together with multipleOf, fractional
multipleOf, numbers that are *not* multiples. They intersect like any other automaton.

A bound is compared digit by digit, the integer part's length first; "a multiple of a/10**d"
keeps the remainder modulo a of the digits read, fraction digits up to the d-th, after which
only zeros may follow. No exponent is written (a documented subset: json.dumps writes 1e-05
and 1e+16 for floats that small or large).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import TypeVar

from grammar import _charset as cs
from grammar import _dfa, _regex
from grammar._dfa import Dfa

S = TypeVar("S", bound=Hashable)
_CHARS = "0123456789."
_MAGNITUDE = r"(0|[1-9][0-9]*)(\.[0-9]+)?"

Order = str  # "<", "=" or ">": the magnitude read so far against the bound
Position = tuple[str, int, Order]  # phase ("int", "zero", "frac"), digits read, order


def magnitudes() -> Dfa:
    """Every magnitude."""
    return _regex.compile_pattern(_MAGNITUDE, search=False)


def _build(start: S, step: Callable[[S, str], S | None], accept: Callable[[S], bool]) -> Dfa:
    """The automaton of a step function over digits and '.' (None: no move), cut down to
    well-formed magnitudes."""
    index = {start: 0}
    todo = [start]
    moves: list[tuple[tuple[cs.CharSet, int], ...]] = []
    for state in todo:
        targets: dict[int, list[tuple[int, int]]] = {}
        for ch in _CHARS:
            nxt = step(state, ch)
            if nxt is not None:
                targets.setdefault(index.setdefault(nxt, len(index)), []).append((ord(ch),) * 2)
                if len(todo) < len(index):
                    todo.append(nxt)
        moves.append(tuple((cs.normalize(r), t) for t, r in targets.items()))
    return _dfa.intersect([magnitudes(), Dfa(tuple(moves), tuple(map(accept, todo)))])


def compare(bound: Decimal, above: bool, strict: bool) -> Dfa:
    """Magnitudes >= bound (<= when not `above`), > or < when `strict`."""
    whole, _, frac = format(abs(bound), "f").partition(".")
    whole, frac = whole.lstrip("0"), frac.rstrip("0")

    def step(state: Position, ch: str) -> Position | None:
        phase, n, order = state
        if ch == ".":
            return None if phase == "frac" else ("frac", 0, _int_order(phase, n, order, whole))
        if phase == "zero" or (phase == "int" and n == 0 and ch == "0"):
            return None if phase == "zero" else ("zero", 0, "=")
        if phase == "int":
            if n >= len(whole):
                return ("int", len(whole) + 1, ">")
            return ("int", n + 1, order if order != "=" else _cmp(ch, whole[n]))
        if order != "=":
            return ("frac", 0, order)
        return ("frac", min(n + 1, len(frac)), _cmp(ch, frac[n] if n < len(frac) else "0"))

    def accept(state: Position) -> bool:
        phase, n, order = state
        if phase != "frac":
            order = _int_order(phase, n, order, whole)
        if order == "=" and (n if phase == "frac" else 0) < len(frac):
            order = "<"  # the bound has non-zero fraction digits left
        return order == (">" if above else "<") or (order == "=" and not strict)

    return _build(("int", 0, "="), step, accept)


def _int_order(phase: str, n: int, order: Order, whole: str) -> Order:
    """The integer part against the bound's, once it has ended."""
    length = 0 if phase == "zero" else n
    if length != len(whole):
        return ">" if length > len(whole) else "<"
    return order


def _cmp(ch: str, digit: str) -> Order:
    return "=" if ch == digit else ">" if ch > digit else "<"


def multiple(q: Decimal) -> Dfa:
    """Magnitudes that are whole multiples of q (> 0)."""
    places = max(0, -int(q.normalize().as_tuple().exponent))
    modulus = int(q.scaleb(places))

    def step(state: tuple[bool, int, int], ch: str) -> tuple[bool, int, int] | None:
        in_fraction, rem, used = state
        if ch == ".":
            return None if in_fraction else (True, rem, 0)
        if in_fraction and used == places:
            return state if ch == "0" else None
        return (in_fraction, (10 * rem + int(ch)) % modulus, used + in_fraction)

    def accept(state: tuple[bool, int, int]) -> bool:
        _, rem, used = state
        return rem * pow(10, places - used, modulus) % modulus == 0

    return _build((False, 0, 0), step, accept)
