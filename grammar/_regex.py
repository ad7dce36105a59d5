"""ECMAScript regular expressions (JSON Schema `pattern`) to deterministic automata.

parse -> Thompson NFA -> subset construction -> minimise. Automata run over code points; anchors
`^`/`$` are honoured anywhere (no multiline flag), and `search` wraps the pattern in `.*` on both
sides because JSON Schema patterns are unanchored. Lookaheads right after a leading `^`
(`^(?!X)R`) constrain the string's start: R's automaton intersected with (the complement of)
X followed by anything. Other lookarounds, backreferences and word boundaries have no regular
equivalent here and raise RegexError.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from grammar import _budget
from grammar import _charset as cs
from grammar._charset import CharSet
from grammar._dfa import Dfa, RegexError, StateNumbers, complement, intersect, minimize

MAX_NFA_STATES = 20_000
MAX_GROUP_DEPTH = 100


# ---------------------------------------------------------------- 1. parsing to a tiny AST


@dataclass(frozen=True)
class Chars:
    chars: CharSet


@dataclass(frozen=True)
class Cat:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    branches: tuple[Node, ...]


@dataclass(frozen=True)
class Rep:
    node: Node
    lo: int
    hi: int | None  # None: unbounded


@dataclass(frozen=True)
class Anchor:
    kind: str  # "bol" or "eol"


@dataclass(frozen=True)
class Look:
    node: Node
    negated: bool


Node = Chars | Cat | Alt | Rep | Anchor | Look
_NO_LOOKAROUND = "lookaround assertions have no grammar equivalent"

_QUANT = re.compile(r"\{(\d+)(,(\d*))?\}")
_CLASS_ESCAPES = {"d": cs.DIGIT, "w": cs.WORD, "s": cs.SPACE}
_CHAR_ESCAPES = {"n": 10, "r": 13, "t": 9, "f": 12, "v": 11, "0": 0}


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.pos = 0

    def _peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def parse(self) -> Node:
        node = self._alt(0)
        if self.pos != len(self.src):
            raise RegexError(f"unbalanced ')' at offset {self.pos}")
        return node

    def _alt(self, depth: int) -> Node:
        if depth > MAX_GROUP_DEPTH:
            raise RegexError("groups nested too deeply")
        branches = [self._seq(depth)]
        while self._peek() == "|":
            self.pos += 1
            branches.append(self._seq(depth))
        return branches[0] if len(branches) == 1 else Alt(tuple(branches))

    def _seq(self, depth: int) -> Node:
        items: list[Node] = []
        while self._peek() not in ("", "|", ")"):
            atom = self._atom(depth)
            items.append(self._quantified(atom))
        return items[0] if len(items) == 1 else Cat(tuple(items))

    def _quantified(self, atom: Node) -> Node:
        c = self._peek()
        if c in ("*", "+", "?"):
            self.pos += 1
            lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
        else:
            m = _QUANT.match(self.src, self.pos)
            if not m:
                return atom
            self.pos = m.end()
            lo = int(m.group(1))
            hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
            if hi is not None and hi < lo:
                raise RegexError("quantifier {m,n} with n < m")
        if self._peek() == "?":
            self.pos += 1  # lazy quantifiers match the same language
        if isinstance(atom, Anchor | Look):
            raise RegexError("quantified anchor or lookaround")
        return Rep(atom, lo, hi)

    def _atom(self, depth: int) -> Node:
        c = self.src[self.pos]
        self.pos += 1
        if c == "(":
            return self._group(depth)
        if c == "^":
            return Anchor("bol")
        if c == "$":
            return Anchor("eol")
        if c == ".":
            return Chars(cs.complement(cs.LINE_TERMINATORS))
        if c == "[":
            return Chars(self._class())
        if c == "\\":
            return Chars(self._escape(in_class=False))
        if c in "*+?":
            raise RegexError(f"nothing to repeat at offset {self.pos - 1}")
        if c == "{" and _QUANT.match(self.src, self.pos - 1):
            raise RegexError(f"nothing to repeat at offset {self.pos - 1}")
        return Chars(((ord(c), ord(c)),))

    def _group(self, depth: int) -> Node:
        look = self.src[self.pos : self.pos + 2] in ("?=", "?!")
        negated = self.src.startswith("?!", self.pos)
        if look or self.src.startswith("?:", self.pos):
            self.pos += 2
        elif self.src.startswith("?<", self.pos) and self.src[self.pos + 2 : self.pos + 3] not in (
            "=",
            "!",
        ):
            end = self.src.find(">", self.pos)
            if end < 0:
                raise RegexError("unterminated group name")
            self.pos = end + 1
        elif self._peek() == "?":
            raise RegexError(_NO_LOOKAROUND)
        node = self._alt(depth + 1)
        if self._peek() != ")":
            raise RegexError("missing ')'")
        self.pos += 1
        return Look(node, negated) if look else node

    def _class(self) -> CharSet:
        negated = self._peek() == "^"
        if negated:
            self.pos += 1
        ranges: list[CharSet] = []
        while True:
            c = self._peek()
            if c == "":
                raise RegexError("unterminated character class")
            if c == "]":
                self.pos += 1
                break
            lo = self._class_atom()
            if self._peek() == "-" and self.src[self.pos + 1 : self.pos + 2] not in ("]", ""):
                self.pos += 1
                hi = self._class_atom()
                if len(lo) != 1 or len(hi) != 1 or lo[0][0] != lo[0][1] or hi[0][0] != hi[0][1]:
                    raise RegexError("character class range with a class escape")
                if hi[0][0] < lo[0][0]:
                    raise RegexError("character class range out of order")
                ranges.append(((lo[0][0], hi[0][0]),))
            else:
                ranges.append(lo)
        result = cs.union(*ranges)
        return cs.complement(result) if negated else result

    def _class_atom(self) -> CharSet:
        c = self.src[self.pos]
        self.pos += 1
        if c == "\\":
            return self._escape(in_class=True)
        return ((ord(c), ord(c)),)

    def _escape(self, in_class: bool) -> CharSet:
        c = self._peek()
        if not c:
            raise RegexError("pattern ends with a backslash")
        self.pos += 1
        if c.lower() in _CLASS_ESCAPES:
            base = _CLASS_ESCAPES[c.lower()]
            return cs.complement(base) if c.isupper() else base
        if c == "b" and in_class:
            return ((8, 8),)
        if c in "bB" or c == "k" or (c.isdigit() and c != "0"):
            raise RegexError(f"\\{c} (word boundary or backreference) has no grammar equivalent")
        if c in _CHAR_ESCAPES:
            cp = _CHAR_ESCAPES[c]
            return ((cp, cp),)
        if c == "x":
            return self._hex(2)
        if c == "u":
            if self._peek() == "{":
                end = self.src.find("}", self.pos)
                return self._hex_digits(self.src[self.pos + 1 : end], end + 1)
            return self._hex(4)
        if c == "c" and self._peek().isalpha():
            cp = ord(self._peek()) % 32
            self.pos += 1
            return ((cp, cp),)
        if c in "pP":
            return self._property(negated=c == "P")
        return ((ord(c), ord(c)),)

    def _hex(self, width: int) -> CharSet:
        return self._hex_digits(self.src[self.pos : self.pos + width], self.pos + width)

    def _hex_digits(self, digits: str, end: int) -> CharSet:
        if not digits or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise RegexError("malformed hex escape")
        cp = int(digits, 16)
        if cp > cs.MAX_CP:
            raise RegexError("code point out of range")
        self.pos = end
        return ((cp, cp),)

    def _property(self, negated: bool) -> CharSet:
        if self._peek() != "{":
            raise RegexError("\\p needs {Name}")
        end = self.src.find("}", self.pos)
        name = self.src[self.pos + 1 : end].removeprefix("General_Category=").removeprefix("gc=")
        found = cs.unicode_category(name)
        if end < 0 or found is None:
            raise RegexError(f"unknown Unicode property {name!r}")
        self.pos = end + 1
        return cs.complement(found) if negated else found


# ---------------------------------------------------------------- 2. Thompson NFA


class _Nfa:
    def __init__(self) -> None:
        self.moves: list[list[tuple[CharSet, int]]] = []
        self.eps: list[list[tuple[str, int]]] = []  # kind: "" plain, "bol", "eol"

    def state(self) -> int:
        if len(self.moves) >= MAX_NFA_STATES:
            raise RegexError("pattern expands to too many states")
        self.moves.append([])
        self.eps.append([])
        return len(self.moves) - 1

    def build(self, node: Node) -> tuple[int, int]:
        start, end = self.state(), self.state()
        if isinstance(node, Chars):
            if node.chars:
                self.moves[start].append((node.chars, end))
        elif isinstance(node, Anchor):
            self.eps[start].append((node.kind, end))
        elif isinstance(node, Cat):
            cur = start
            for child in node.items:
                s, e = self.build(child)
                self.eps[cur].append(("", s))
                cur = e
            self.eps[cur].append(("", end))
        elif isinstance(node, Alt):
            for child in node.branches:
                s, e = self.build(child)
                self.eps[start].append(("", s))
                self.eps[e].append(("", end))
        elif isinstance(node, Look):
            raise RegexError(_NO_LOOKAROUND)
        else:
            self._repeat(node, start, end)
        return start, end

    def _repeat(self, node: Rep, start: int, end: int) -> None:
        child, lo, hi = node.node, node.lo, node.hi
        cur = start
        for _ in range(lo):
            s, e = self.build(child)
            self.eps[cur].append(("", s))
            cur = e
        if hi is None:
            s, e = self.build(child)
            self.eps[cur].append(("", s))
            self.eps[e].append(("", cur))
        else:
            for _ in range(hi - lo):
                s, e = self.build(child)
                self.eps[cur].append(("", s))
                self.eps[cur].append(("", end))
                cur = e
        self.eps[cur].append(("", end))

    def closure(self, states: frozenset[int], at_start: bool, at_end: bool) -> frozenset[int]:
        seen, stack = set(states), list(states)
        while stack:
            for kind, nxt in self.eps[stack.pop()]:
                ok = not kind or (kind == "bol" and at_start) or (kind == "eol" and at_end)
                if ok and nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return frozenset(seen)


# ---------------------------------------------------------------- 3. subset construction


def _split(moves: list[tuple[CharSet, int]]) -> list[tuple[CharSet, frozenset[int]]]:
    """Partition the union of the move sets into pieces with the same set of targets."""
    events: dict[int, list[tuple[int, int]]] = {}
    for chars, target in moves:
        for lo, hi in chars:
            events.setdefault(lo, []).append((1, target))
            events.setdefault(hi + 1, []).append((-1, target))
    active: dict[int, int] = {}
    pieces: dict[frozenset[int], list[tuple[int, int]]] = {}
    points = sorted(events)
    for i, p in enumerate(points):
        for delta, target in events[p]:
            active[target] = active.get(target, 0) + delta
            if not active[target]:
                del active[target]
        if active and i + 1 < len(points):
            pieces.setdefault(frozenset(active), []).append((p, points[i + 1] - 1))
    return [(cs.normalize(r), key) for key, r in pieces.items()]


def _determinize(nfa: _Nfa, start: int, final: int) -> Dfa:
    first = nfa.closure(frozenset([start]), True, False)
    found = StateNumbers((first, True), "pattern needs too many automaton states")
    moves: list[tuple[tuple[CharSet, int], ...]] = []
    accept: list[bool] = []
    for states, at_start in found.todo:
        _budget.check()
        accept.append(final in nfa.closure(states, at_start, True))
        raw = [(c, t) for s in states for c, t in nfa.moves[s]]
        moves.append(
            tuple(
                (chars, found.number((nfa.closure(frozenset(targets), False, False), False)))
                for chars, targets in _split(raw)
            )
        )
    return minimize(Dfa(tuple(moves), tuple(accept)))


# ---------------------------------------------------------------- 4. patterns

_ANY_STAR = Rep(Chars(cs.ANY), 0, None)


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str, search: bool = True) -> Dfa:
    """The strings a pattern matches: anywhere in the string (`search`) or as a whole."""
    node = _Parser(pattern).parse()
    items = node.items if isinstance(node, Cat) else (node,)
    if not items or items[0] != Anchor("bol"):
        return _automaton(node, search)
    n = 1
    while n < len(items) and isinstance(items[n], Look):
        n += 1
    dfas = [_automaton(Cat((items[0], *items[n:])), search)]
    for look in (item for item in items[1:n] if isinstance(item, Look)):
        start = _automaton(Cat((look.node, _ANY_STAR)), False)  # the string starts with it
        dfas.append(complement(start) if look.negated else start)
    return intersect(dfas)


def _automaton(node: Node, search: bool) -> Dfa:
    if search:
        node = Cat((_ANY_STAR, node, _ANY_STAR))
    nfa = _Nfa()
    start, end = nfa.build(node)
    return _determinize(nfa, start, end)
