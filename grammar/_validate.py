"""Check GBNF text the way llama.cpp's grammar parser does, before it reaches a backend.

llama.cpp (src/llama-grammar.cpp) aborts or segfaults on grammars it cannot parse, so this module
re-implements its syntax rules, its repetition limits and its left-recursion check, and adds two
refusals for grammars llama.cpp accepts but mishandles: `{m,n}` with n > 2000 (silently unbounded)
and left recursion through indirectly empty rules (its matcher loops forever).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grammar import _budget
from grammar._errors import GrammarSyntaxError

MAX_REPETITION = 2000  # llama.cpp's MAX_REPETITION_THRESHOLD
MAX_NESTING = 200
_NAME = re.compile(r"[a-zA-Z0-9-]+")
_ESCAPE = r'\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[trn\\"\[\]-])'
_LITERAL = re.compile(rf'"(?:[^"\\]|{_ESCAPE})*"')
_CLASS = re.compile(rf"\[\^?(?:[^\]\\]|{_ESCAPE})*\]")
_BLANK = re.compile(r"(?:[ \t]|#[^\r\n]*)*")
_BLANK_NL = re.compile(
    r"(?:[ \t\r\n]|#[^\r\n]*)*"
)  # parenthesis depth; llama.cpp recurses per level and would overflow its stack
_SIMPLE_ESCAPES = frozenset('trn\\"[]-')
_HEX_WIDTH = {"x": 2, "u": 4, "U": 8}

# A rule is a list of alternatives; an alternative is a list of symbol ids (int) or None (a
# terminal). Only the shape matters here: which rule starts with which symbol.
_Alt = list[int | None]


@dataclass
class _State:
    src: str
    ids: dict[str, int] = field(default_factory=dict)
    rules: dict[int, list[_Alt]] = field(default_factory=dict)
    first_use: dict[int, int] = field(default_factory=dict)
    defined_at: dict[int, int] = field(default_factory=dict)


def validate_gbnf(text: str) -> None:
    """Raise GrammarSyntaxError unless llama.cpp would parse `text` and could match with it."""
    st = _State(text)
    _Parser(st).parse()
    if not st.rules:
        raise _error(st, "empty grammar", 0)
    for name, rid in st.ids.items():
        if rid not in st.rules:
            raise _error(st, f"undefined rule {name!r}", st.first_use[rid])
    if "root" not in st.ids:
        raise _error(st, "grammar has no 'root' rule", len(text))
    _check_left_recursion(st)


def _error(st: _State, message: str, pos: int) -> GrammarSyntaxError:
    line = st.src.count("\n", 0, pos) + 1
    start = st.src.rfind("\n", 0, pos) + 1
    end = st.src.find("\n", pos)
    context = st.src[start : end if end >= 0 else len(st.src)]
    return GrammarSyntaxError(message, line, pos - start + 1, context[:200])


def _is_word(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "-")


class _Parser:
    """A recursive-descent parser mirroring llama.cpp's `llama_grammar_parser`."""

    def __init__(self, st: _State) -> None:
        self.st = st
        self.src = st.src
        self.n = len(st.src)

    def _ch(self, pos: int) -> str:
        return self.src[pos] if pos < self.n else ""

    def _symbol(self, name: str, pos: int) -> int:
        ids = self.st.ids
        if name not in ids:
            ids[name] = len(ids)
            self.st.first_use[ids[name]] = pos
        return ids[name]

    def _generated(self) -> int:
        ids = self.st.ids
        rid = len(ids)
        ids[f" gen{rid}"] = rid
        return rid

    def _skip(self, pos: int, newline_ok: bool) -> int:
        blank = (_BLANK_NL if newline_ok else _BLANK).match(self.src, pos)
        assert blank is not None  # a starred pattern matches everywhere, if only ""
        return blank.end()

    def _name_end(self, pos: int) -> int:
        m = _NAME.match(self.src, pos)
        if m is None:
            raise _error(self.st, "expecting a rule name ([a-zA-Z0-9-]+)", pos)
        return m.end()

    def _int_end(self, pos: int) -> int:
        end = pos
        while end < self.n and self.src[end] in "0123456789":
            end += 1
        if end == pos:
            raise _error(self.st, "expecting an integer", pos)
        return end

    def _char_end(self, pos: int) -> int:
        if pos >= self.n:
            raise _error(self.st, "unexpected end of input", pos)
        if self.src[pos] != "\\":
            return pos + 1
        esc = self._ch(pos + 1)
        if esc in _HEX_WIDTH:
            width = _HEX_WIDTH[esc]
            digits = self.src[pos + 2 : pos + 2 + width]
            if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise _error(self.st, f"expecting {width} hex digits after \\{esc}", pos)
            return pos + 2 + width
        if esc in _SIMPLE_ESCAPES:
            return pos + 2
        raise _error(self.st, f"unknown escape \\{esc}", pos)

    def parse(self) -> None:
        pos = self._skip(0, True)
        while pos < self.n:
            pos = self._rule(pos)

    def _rule(self, pos: int) -> int:
        _budget.check()
        end = self._name_end(pos)
        rid = self._symbol(self.src[pos:end], pos)
        self.st.defined_at[rid] = pos
        p = self._skip(end, False)
        if self.src[p : p + 3] != "::=":
            raise _error(self.st, "expecting '::='", p)
        p = self._alternates(self._skip(p + 3, True), rid, depth=0)
        c = self._ch(p)
        if c == "\r":
            p += 2 if self._ch(p + 1) == "\n" else 1
        elif c == "\n":
            p += 1
        elif c:
            raise _error(self.st, "expecting newline or end of rule", p)
        return self._skip(p, True)

    def _alternates(self, pos: int, rid: int, depth: int) -> int:
        if depth > MAX_NESTING:
            raise _error(self.st, f"parentheses nested deeper than {MAX_NESTING}", pos)
        alts: list[_Alt] = []
        seq, pos = self._sequence(pos, depth)
        alts.append(seq)
        while self._ch(pos) == "|":
            seq, pos = self._sequence(self._skip(pos + 1, True), depth)
            alts.append(seq)
        self.st.rules[rid] = alts
        return pos

    def _sequence(self, pos: int, depth: int) -> tuple[_Alt, int]:
        nested = depth > 0
        seq: _Alt = []
        last_start = 0
        n_prev = 1
        while pos < self.n:
            c = self.src[pos]
            fast = _LITERAL if c == '"' else _CLASS if c == "[" else None
            m = fast.match(self.src, pos) if fast else None
            if m is not None:
                last_start, n_prev = len(seq), 1
                if m.end() - pos > (2 if c == '"' else 2 + (self.src[pos + 1] == "^")):
                    seq.append(None)
                pos = self._skip(m.end(), nested)
            elif c == '"':
                start, pos = pos, pos + 1
                last_start, n_prev = len(seq), 1
                while self._ch(pos) != '"':
                    if pos >= self.n:
                        raise _error(self.st, "unterminated string literal", start)
                    pos = self._char_end(pos)
                    seq.append(None)
                pos = self._skip(pos + 1, nested)
            elif c == "[":
                start, pos = pos, pos + 1
                if self._ch(pos) == "^":
                    pos += 1
                last_start, n_prev = len(seq), 1
                empty = True
                while self._ch(pos) != "]":
                    if pos >= self.n:
                        raise _error(self.st, "unterminated character class", start)
                    pos = self._char_end(pos)
                    if self._ch(pos) == "-" and self._ch(pos + 1) != "]":
                        pos = self._char_end(pos + 1)
                    empty = False
                if not empty:
                    seq.append(None)
                pos = self._skip(pos + 1, nested)
            elif c == "<" or c == "!":
                raise _error(self.st, "token references need a model vocabulary", pos)
            elif _is_word(c):
                end = self._name_end(pos)
                last_start, n_prev = len(seq), 1
                seq.append(self._symbol(self.src[pos:end], pos))
                pos = self._skip(end, nested)
            elif c == "(":
                start = pos
                n_before = len(self.st.ids)
                sub = self._generated()
                pos = self._alternates(self._skip(pos + 1, True), sub, depth + 1)
                n_prev = max(1, len(self.st.ids) - n_before)
                last_start = len(seq)
                seq.append(sub)
                if self._ch(pos) != ")":
                    raise _error(self.st, "expecting ')'", pos if pos < self.n else start)
                pos = self._skip(pos + 1, nested)
            elif c == ".":
                last_start, n_prev = len(seq), 1
                seq.append(None)
                pos = self._skip(pos + 1, nested)
            elif c in "*+?":
                bounds = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
                n_prev = self._repeat(seq, last_start, n_prev, *bounds, at=pos)
                pos = self._skip(pos + 1, nested)
            elif c == "{":
                at = pos
                lo, hi, pos = self._braces(self._skip(pos + 1, nested), nested, at)
                n_prev = self._repeat(seq, last_start, n_prev, lo, hi, at=at)
            else:
                break
        return seq, pos

    def _braces(self, pos: int, nested: bool, at: int) -> tuple[int, int | None, int]:
        end = self._int_end(pos)
        lo = int(self.src[pos:end])
        hi: int | None = lo
        pos = self._skip(end, nested)
        if self._ch(pos) == ",":
            pos = self._skip(pos + 1, nested)
            hi = None
            if self._ch(pos).isdigit():
                end = self._int_end(pos)
                hi = int(self.src[pos:end])
                pos = self._skip(end, nested)
        if self._ch(pos) != "}":
            raise _error(self.st, "expecting '}'", pos)
        if lo > MAX_REPETITION or (hi is not None and hi > MAX_REPETITION):
            raise _error(self.st, f"repetition bound above {MAX_REPETITION}", at)
        if hi is not None and hi < lo:
            raise _error(self.st, "repetition {m,n} with n < m", at)
        return lo, hi, self._skip(pos + 1, nested)

    def _repeat(self, seq: _Alt, start: int, n_prev: int, lo: int, hi: int | None, at: int) -> int:
        if start == len(seq):
            raise _error(self.st, "expecting an item before */+/?/{", at)
        total = hi if hi else (lo or 1)
        if n_prev * total > MAX_REPETITION:
            raise _error(self.st, f"nested repetitions expand beyond {MAX_REPETITION} rules", at)
        prev = seq[start:]
        if lo == 0:
            del seq[start:]
        else:
            for _ in range(1, lo):
                seq.extend(prev)
        n_opt = 1 if hi is None else hi - lo
        last = -1
        for i in range(n_opt):
            rid = self._generated()
            body = list(prev)
            if hi is None:
                body.append(rid)
            elif i > 0:
                body.append(last)
            self.st.rules[rid] = [body, []]
            last = rid
        if n_opt > 0:
            seq.append(last)
        return n_prev * total


def _check_left_recursion(st: _State) -> None:
    """llama.cpp's own (shallow) check, then the deeper one through nullable rules it misses."""
    n = len(st.ids)
    rules = [st.rules[i] for i in range(n)]
    literal_empty = [any(not alt for alt in alts) for alts in rules]
    nullable = _nullable(rules)
    names = {rid: name for name, rid in st.ids.items()}
    for empty in (literal_empty, nullable):
        edges = [_left_edges(alts, empty) for alts in rules]
        bad = _find_cycle(edges)
        if bad is not None:
            pos = st.defined_at.get(bad, st.first_use.get(bad, 0))
            while names[bad].startswith(" gen"):
                bad = next(r for r in range(n) if bad in edges[r])
                pos = st.defined_at.get(bad, pos)
            raise _error(st, f"left recursion through rule {names[bad]!r}", pos)


def _left_edges(alts: list[_Alt], empty: list[bool]) -> set[int]:
    out: set[int] = set()
    for alt in alts:
        for el in alt:
            if el is None:
                break
            out.add(el)
            if not empty[el]:
                break
    return out


def _nullable(rules: list[list[_Alt]]) -> list[bool]:
    nullable = [False] * len(rules)
    changed = True
    while changed:
        changed = False
        for i, alts in enumerate(rules):
            if not nullable[i] and any(all(e is not None and nullable[e] for e in a) for a in alts):
                nullable[i] = changed = True
    return nullable


def _find_cycle(edges: list[set[int]]) -> int | None:
    """Return a rule on a cycle of `edges`, iteratively (grammars may have many rules)."""
    color = [0] * len(edges)  # 0 new, 1 on the stack, 2 done
    for root in range(len(edges)):
        if color[root]:
            continue
        stack = [(root, iter(edges[root]))]
        color[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[node] = 2
                stack.pop()
            elif color[nxt] == 1:
                return nxt
            elif color[nxt] == 0:
                color[nxt] = 1
                stack.append((nxt, iter(edges[nxt])))
    return None
