"""Pass 2: normal form -> GBNF rules, one method per JSON type.

Every child schema becomes its own rule through a work list, so nesting depth costs no Python
recursion. Whitespace goes after `{`, `[`, `,`, `:` and after each member or item, bounded by
`ws`; the root value has none around it. Objects of up to ANY_ORDER_MAX named members accept
them in any order (duplicates of named keys excluded); larger ones follow schema order.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from itertools import combinations

from grammar import _budget, _decimal, _dfa, _regex
from grammar import _charset as cs
from grammar._arrays import Items, Slot, array_body, unique_body
from grammar._dialect import KEYWORDS
from grammar._emit import NEVER_BODY, Emitter, RuleName
from grammar._errors import UnsupportedSchemaError
from grammar._ir import FALSE, Arr, Conj, Json, Num, Obj, Str, Typed, Union, Values, json_key
from grammar._keys import names_dfa, region_value, some_range
from grammar._normalize import Normalizer, key_conj, pattern_dfa
from grammar._numbers import negative_magnitudes, number_expr, positive_magnitudes, scientific
from grammar._objects import Member, Shape, object_body
from grammar._strings import char_class, json_char, json_string_literal

WS_BODY = '| " " | "\\n" [ \\t]{0,40}'
MAX_KEY_PATTERNS = 6
MAX_SOME = 4
MAX_COUNTED_ITEMS = 64
MAX_UNIQUE = 8
MAX_MODULUS = 1000
QUOTE = '"\\""'


def _pointer(conj: Conj) -> str:
    return min((r.pointer for r in conj), default="").replace("\x00", "")


def _keyword(pointer: str) -> str:
    """The innermost keyword of a pointer (`items` in /properties/a/items), for errors."""
    return next((t for t in reversed(pointer.split("/")) if t in KEYWORDS), "")


def _hint(conj: Conj) -> str:
    tokens = [t for t in _pointer(conj).rsplit("/", 2) if t]
    return "-".join(tokens[-2:]) or "value"


class Compiler:
    """Turns the normal form of a document's root into GBNF text."""

    def __init__(self, norm: Normalizer, emitter: Emitter) -> None:
        self.norm = norm
        self.out = emitter
        self._rules: dict[Conj, RuleName] = {}
        self._todo: list[Conj] = []
        self._chars: dict[cs.CharSet, RuleName] = {}
        self._dfas: dict[_dfa.Dfa, RuleName] = {}
        self._strings: dict[tuple[Str, str], str | None] = {}
        self._ptr = ""
        self._zero_fraction = norm.doc.dialect.zero_fraction_integers

    def compile(self, root: Conj) -> str:
        self._rules[root] = self.out.reserve("root")
        self._todo.append(root)
        while self._todo:
            conj = self._todo.pop()
            self._ptr = _pointer(conj)
            union = self.norm.conj(conj)  # records where it is, for the budget's error
            if self._ptr:
                _budget.at(_keyword(self._ptr), self._ptr)
            body = self._union(union, _hint(conj))
            self.out.define(self._rules[conj], body)
        return self.out.text()

    def rule_for(self, conj: Conj) -> RuleName:
        """The rule for a child schema, compiled later from the work list."""
        if conj not in self._rules:
            self._rules[conj] = self.out.reserve(_hint(conj))
            self._todo.append(conj)
        return self._rules[conj]

    # ------------------------------------------------------------ shared pieces

    def _ws(self) -> RuleName:
        return self.out.rule("ws", WS_BODY)

    def _never(self) -> RuleName:
        return self.out.rule("never", NEVER_BODY)

    def _char(self, chars: cs.CharSet) -> RuleName:
        if chars not in self._chars:
            body = json_char(chars)
            assert body is not None
            self._chars[chars] = self.out.rule("char" if chars == cs.ANY else "c", body)
        return self._chars[chars]

    def _unsupported(self, keyword: str, exc: Exception) -> UnsupportedSchemaError:
        return UnsupportedSchemaError(keyword, self._ptr, str(exc))

    def _union(self, union: Union, hint: str) -> str:
        exprs = [e for alt in union for e in self._alt(alt, hint)]
        if not exprs:
            return self._never()
        return " | ".join(f"({e})" if " | " in e and len(exprs) > 1 else e for e in exprs)

    def _alt(self, alt: Typed | Values, hint: str) -> list[str]:
        if isinstance(alt, Values):
            return [self._value(v, hint) for v in alt.decoded()]
        found = [
            '"null"' if alt.null else None,
            " | ".join(f'"{str(v).lower()}"' for v in sorted(alt.boolean, reverse=True)) or None,
            None if alt.number is None else self._type_number(alt.number, hint),
            None if alt.string is None else self._type_string(alt.string, hint),
            None if alt.array is None else self._type_array(alt.array, hint),
            None if alt.object is None else self._type_object(alt.object, hint),
        ]
        return [e for e in found if e is not None]

    # ------------------------------------------------------------ scalar types

    def _type_number(self, n: Num, hint: str) -> str | None:
        if n.multiples or n.not_multiples:
            return self._counted_number(n, hint)
        expr = number_expr(n.lo, n.hi, n.integer, self._zero_fraction)
        if expr is None:
            return None
        plain = n.lo is None and n.hi is None
        name = {None: "number", True: "integer", False: "fraction"}[n.integer] if plain else hint
        return self.out.rule(name, expr)

    def _counted_number(self, n: Num, hint: str) -> str | None:
        """Numbers with multipleOf (or its negation): automata over the magnitude's digits,
        one for the negative numbers and one for the others."""
        for q in n.multiples | n.not_multiples:
            if q * 10 ** max(0, -int(q.normalize().as_tuple().exponent)) > MAX_MODULUS:
                raise self._unsupported("multipleOf", ValueError(f"modulus above {MAX_MODULUS}"))
        alts = []
        signs = (('"-" ', negative_magnitudes(n.lo, n.hi)), ("", positive_magnitudes(n.lo, n.hi)))
        for sign, bounds in signs:
            if bounds is None:
                continue
            dfas = [_decimal.magnitudes(), self._integer_dfa(n.integer)]
            for bound, above in ((bounds[0], True), (bounds[1], False)):
                if bound is not None:
                    dfas.append(_decimal.compare(bound[0], above, bound[1]))
            dfas += [_decimal.multiple(q) for q in sorted(n.multiples)]
            dfas += [_dfa.complement(_decimal.multiple(q)) for q in sorted(n.not_multiples)]
            try:
                rule = self._dfa_text(_dfa.intersect(dfas), hint)
            except _dfa.RegexError as exc:
                raise self._unsupported("multipleOf", exc) from exc
            if rule is not None:
                alts.append(f"{sign}{rule}")
        return " | ".join(alts) or None

    def _integer_dfa(self, integer: bool | None) -> _dfa.Dfa:
        if integer is None:
            return _decimal.magnitudes()
        if integer is False:
            return _regex.compile_pattern(r"[0-9]+\.[0-9]*[1-9][0-9]*", search=False)
        return _regex.compile_pattern(
            r"[0-9]+(\.0+)?" if self._zero_fraction else "[0-9]+", search=False
        )

    def _type_string(self, s: Str, hint: str) -> str | None:
        key = (s, hint if s.patterns else "")
        if key not in self._strings:
            self._strings[key] = self._string(s, hint)
        return self._strings[key]

    def _string(self, s: Str, hint: str) -> str | None:
        if s.max_len is not None and s.min_len > s.max_len:
            return None
        if not s.patterns:
            body = f"{QUOTE} {self.out.repeat(self._char(cs.ANY), s.min_len, s.max_len)} {QUOTE}"
            return self.out.rule("string" if s == Str() else f"{hint}-string", body)
        try:
            dfas = []
            for p in sorted(s.patterns, key=repr):
                dfa = pattern_dfa(p)
                dfas.append(_dfa.complement(dfa) if p.negated else dfa)
            text = _dfa.intersect(dfas)
        except _dfa.RegexError as exc:
            raise self._unsupported("pattern", exc) from exc
        if s.min_len or s.max_len is not None:
            longest = text.longest()  # a bound the patterns already keep costs nothing
            if s.min_len or longest is None or s.max_len is None or longest > s.max_len:
                text = self._within_length(text, s)
        return self._dfa_string(text, hint)

    def _within_length(self, text: _dfa.Dfa, s: Str) -> _dfa.Dfa:
        """`text` within the string's length bounds. Bounds whose product with a pattern or
        format is too large (Pydantic's HttpUrl: `format: uri`, `maxLength: 2083`) are refused
        by name, or when not strict dropped (a superset, left to the answer check)."""
        try:
            return _dfa.intersect([_dfa.length(s.min_len, s.max_len), text])
        except _dfa.RegexError as exc:
            if self.norm.strict:
                keyword = "minLength" if s.max_len is None else "maxLength"
                reason = f"{exc}: a length bound with a pattern or format"
                raise UnsupportedSchemaError(keyword, self._ptr, reason) from exc
            return text

    def _dfa_string(self, dfa: _dfa.Dfa, hint: str) -> RuleName | None:
        """A JSON string whose decoded text the automaton accepts."""
        if dfa.is_empty():
            return None
        if dfa not in self._dfas:
            start = self._dfa_rules(dfa, f"{hint}-s", self._char, QUOTE)
            self._dfas[dfa] = self.out.rule(f"{hint}-string", f"{QUOTE} {start}")
        return self._dfas[dfa]

    def _dfa_text(self, dfa: _dfa.Dfa, hint: str) -> RuleName | None:
        """The text the automaton accepts, character by character (a number's digits)."""
        if dfa.is_empty():
            return None
        if dfa not in self._dfas:
            self._dfas[dfa] = self._dfa_rules(dfa, f"{hint}-d", char_class, "")
        return self._dfas[dfa]

    def _dfa_rules(
        self, dfa: _dfa.Dfa, hint: str, char: Callable[[cs.CharSet], str], end: str
    ) -> RuleName:
        """One rule per state: a character and the next state, or `end` where it accepts."""
        names = [self.out.reserve(f"{hint}{i}") for i in range(len(dfa.moves))]
        for state, moves in enumerate(dfa.moves):
            alts = [f"{char(chars)} {names[t]}" for chars, t in moves]
            if dfa.accept[state]:
                alts.insert(0, end)  # "" makes a leading empty alternative
            body = " | ".join(alts).strip()
            self.out.define(names[state], body or ('""' if dfa.accept[state] else self._never()))
        return names[0]

    # ------------------------------------------------------------ literal values (enum/const)

    def _value(self, v: Json, hint: str) -> str:
        if v is None or isinstance(v, bool):
            return f'"{"null" if v is None else str(v).lower()}"'
        if isinstance(v, int | float):
            d = Decimal(repr(v))
            expr = number_expr((d, False), (d, False), None)
            assert expr is not None
            return f"({expr}) | {scientific(d)}" if d else expr
        if isinstance(v, str):
            return json_string_literal(v)
        ws = self._ws()
        if isinstance(v, list):
            items = [self.out.rule(f"{hint}-v", self._value(x, hint)) for x in v]
            return f'"[" {ws} ' + f' {ws} "," {ws} '.join(items) + (f' {ws} "]"' if v else '"]"')
        members = tuple(
            Member(
                self._kv(json_string_literal(k), self.out.rule(f"{hint}-v", self._value(x, hint))),
                True,
            )
            for k, x in v.items()
        )
        body = object_body(Shape(members), self.out, ws, hint)
        assert body is not None
        return body

    # ------------------------------------------------------------ arrays

    def _type_array(self, a: Arr, hint: str) -> str | None:
        if a.unique and (a.max_items is None or a.max_items > 1):
            values = self._finite_items(a)
            if values is not None:
                return self._unique_array(values, a, hint)
            if self.norm.strict:
                why = f"a grammar can only keep apart up to {MAX_UNIQUE} items of a finite set"
                raise self._unsupported("uniqueItems", ValueError(why))
        if a.some:
            return self._witnessed_array(a, hint)
        hi = a.max_items
        if a.items >= FALSE:
            hi = len(a.prefix) if hi is None else min(hi, len(a.prefix))
        for i, conj in enumerate(a.prefix):
            if (hi is None or i < hi) and self.norm.conj_empty(conj, 1):
                hi = i
        if hi is not None and a.min_items > hi:
            return None
        ws = self._ws()
        p = len(a.prefix) if hi is None else min(len(a.prefix), hi)
        elements = [self.rule_for(c) for c in a.prefix[:p]]
        if hi is None or hi > p:
            item = self.rule_for(a.items)
            more = self.out.rule(f"{hint}-more", f'"," {ws} {item} {ws}')
            if p == 0:
                tail_hi = None if hi is None else hi - 1
                tail = f'{self.out.repeat(more, max(a.min_items - 1, 0), tail_hi)} "]"'
                first = f"{item} {ws} {tail}"
                return f'"[" {ws} ' + (f'("]" | {first})' if a.min_items == 0 else first)
            tail_hi = None if hi is None else hi - p
            state = f'{self.out.repeat(more, max(a.min_items - p, 0), tail_hi)} "]"'.strip()
        else:
            state = '"]"'
            if p == 0:
                return f'"[" {ws} "]"'
        for i in range(p - 1, 0, -1):
            step = f'"," {ws} {elements[i]} {ws} {state}'
            body = f'"]" | {step}' if i >= a.min_items else step
            state = self.out.rule(f"{hint}-a{i}", body)
        first = f"{elements[0]} {ws} {state}"
        return f'"[" {ws} ' + (f'("]" | {first})' if a.min_items == 0 else first)

    def _finite_items(self, a: Arr) -> list[Json] | None:
        """The values an item may take, when they are few (no tuple, no contains)."""
        if a.prefix or a.some:
            return None
        values: list[Json] = []
        for alt in self.norm.conj(a.items):
            if isinstance(alt, Values):
                values += alt.decoded()
            elif alt.number or alt.string or alt.array or alt.object:
                return None
            else:
                values += [None] if alt.null else []
                values += sorted(alt.boolean)
        unique = list({json_key(v): v for v in values}.values())
        return unique if len(unique) <= MAX_UNIQUE else None

    def _unique_array(self, values: list[Json], a: Arr, hint: str) -> str | None:
        """Distinct items from a finite set: a state per set of values used so far."""
        choices = [self.out.rule(f"{hint}-v", self._value(v, hint)) for v in values]
        return unique_body(choices, a.min_items, a.max_items, self.out, self._ws(), hint)

    def _witnessed_array(self, a: Arr, hint: str) -> str | None:
        """An array that must contain items matching some schemas, position by position."""
        if a.max_items is not None and a.max_items > MAX_COUNTED_ITEMS:
            why = f"maxItems above {MAX_COUNTED_ITEMS} with contains or a negated items"
            raise self._unsupported("maxItems", ValueError(why))
        if len(a.some) > MAX_SOME:
            raise self._unsupported("contains", ValueError(f"more than {MAX_SOME} contains"))
        rules = sorted(a.some, key=repr)
        slots = []
        for i in range(max([len(a.prefix), *(r.start for r in rules)]) + 1):
            conj = a.prefix[i] if i < len(a.prefix) else a.items
            plain = None if self.norm.conj_empty(conj, 1) else self.rule_for(conj)
            witnesses = []
            for met in _subsets([j for j, r in enumerate(rules) if i >= r.start]):
                both = conj.union(*(rules[j].value for j in met))
                if not self.norm.conj_empty(both, 1):
                    witnesses.append((self.rule_for(both), met))
            slots.append(Slot(plain, tuple(witnesses)))
        needs = tuple(r.at_least for r in rules)
        items = Items(tuple(slots), needs, a.min_items, a.max_items)
        return array_body(items, self.out, self._ws(), hint)

    # ------------------------------------------------------------ objects

    def _kv(self, key: str, value: str) -> RuleName:
        ws = self._ws()
        return self.out.rule("kv", f'{key} {ws} ":" {ws} {value}')

    def _type_object(self, o: Obj, hint: str) -> str | None:
        known = list(dict.fromkeys(k for part in o.parts for k, _ in part.props))
        mentioned = o.required.union(*(need | {key} for key, need in o.dependent))
        known += [k for k in o.order if k not in known]  # required ones, as `required` lists them
        known += sorted(mentioned - set(known))
        possible = {key: self._member_value(o, key) for key in known}
        needs = _possible_needs(o, possible)
        if needs is None:
            return None
        index = {key: i for i, key in enumerate(k for k in known if possible[k] is not None)}
        ranges = self._some_ranges(o)
        members = tuple(
            self._member(key, conj, o.required, [(d.matches(key), c) for d, c in ranges])
            for key, conj in possible.items()
            if conj is not None
        )
        shape = Shape(
            members,
            tuple(self._extras(o, known, ranges, hint)),
            o.min_props,
            o.max_props,
            tuple((index[k], frozenset(index[n] for n in need)) for k, need in needs),
            len(ranges),
            tuple(index[k] for k in (*o.order, *sorted(o.required - set(o.order))) if k in index),
        )
        return object_body(shape, self.out, self._ws(), hint)

    def _member(
        self, key: str, value: Conj, required: frozenset[str], ranges: list[tuple[bool, Conj]]
    ) -> Member:
        """The named member `key`, and its variants meeting each requirement it is in range of."""
        text = json_string_literal(key)
        variants = []
        for met in _subsets([j for j, (in_range, _) in enumerate(ranges) if in_range]):
            both = value.union(*(ranges[j][1] for j in met))
            if not self.norm.conj_empty(both, 1):
                variants.append((self._kv(text, self.rule_for(both)), met))
        return Member(self._kv(text, self.rule_for(value)), key in required, tuple(variants))

    def _member_value(self, o: Obj, key: str) -> Conj | None:
        """What the value of member `key` must match; None when no value can."""
        conj = key_conj(o, key)
        if o.names and not self.norm.accepts_conj(o.names, key):
            return None
        return None if self.norm.conj_empty(conj, 1) else conj

    def _some_ranges(self, o: Obj) -> list[tuple[_dfa.Dfa, Conj]]:
        if len(o.some) > MAX_SOME:
            why = f"more than {MAX_SOME} 'some member matches' rules"
            raise self._unsupported("not", ValueError(why))
        try:
            return [(some_range(self.norm, s), s.value) for s in sorted(o.some, key=repr)]
        except _dfa.RegexError as exc:
            raise self._unsupported("patternProperties", exc) from exc

    def _extras(
        self, o: Obj, known: list[str], ranges: list[tuple[_dfa.Dfa, Conj]], hint: str
    ) -> list[Member]:
        """Members with keys outside `known`, one per set of matching patterns."""
        sources = sorted({src for part in o.parts for src, _ in part.patterns})
        if len(sources) > MAX_KEY_PATTERNS:
            raise self._unsupported("patternProperties", ValueError("too many patterns to combine"))
        try:
            base: list[_dfa.Dfa] | None = None
            out = []
            for mask in range(2 ** len(sources)):
                chosen = {src for i, src in enumerate(sources) if mask >> i & 1}
                value = region_value(o, chosen)
                if self.norm.conj_empty(value, 1):
                    continue
                if base is None:
                    base = [_dfa.complement(_dfa.words(known))] if known else []
                    base += [names_dfa(self.norm, o.names)] if o.names else []
                dfas = base + [
                    _regex.compile_pattern(src)
                    if src in chosen
                    else _dfa.complement(_regex.compile_pattern(src))
                    for src in sources
                ]
                key = self._key_rule(dfas, hint)
                if key is None:
                    continue
                variants = []
                for met in _subsets(list(range(len(ranges)))):
                    keys = self._key_rule([*dfas, *(ranges[j][0] for j in met)], hint)
                    both = value.union(*(ranges[j][1] for j in met))
                    if keys is not None and not self.norm.conj_empty(both, 1):
                        variants.append((self._kv(keys, self.rule_for(both)), met))
                out.append(Member(self._kv(key, self.rule_for(value)), False, tuple(variants)))
            return out
        except _dfa.RegexError as exc:
            raise self._unsupported("patternProperties", exc) from exc

    def _key_rule(self, dfas: list[_dfa.Dfa], hint: str) -> str | None:
        if not dfas:
            return self._type_string(Str(), hint)
        return self._dfa_string(_dfa.intersect(dfas), f"{hint}-key")


def _subsets(indices: list[int]) -> list[frozenset[int]]:
    """The non-empty sets of requirements one member or item may meet at once."""
    return [frozenset(c) for n in range(1, len(indices) + 1) for c in combinations(indices, n)]


def _possible_needs(
    o: Obj, possible: dict[str, Conj | None]
) -> list[tuple[str, frozenset[str]]] | None:
    """The dependencies between members that can appear; a member whose dependency cannot
    appear cannot appear either. None when a required member is impossible."""
    changed = True
    while changed:
        changed = False
        for key, need in o.dependent:
            if possible[key] is not None and any(possible[n] is None for n in need):
                possible[key] = None
                changed = True
    if any(possible[key] is None for key in o.required):
        return None
    return [(k, n) for k, n in sorted(o.dependent, key=repr) if possible[k] is not None]
