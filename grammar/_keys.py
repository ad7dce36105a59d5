"""Automata over member keys: the keys propertyNames allows, the keys of each region of
extra members (which patternProperties they match), and the range of a "some member" rule."""

from __future__ import annotations

from grammar import _dfa, _regex
from grammar._dfa import Dfa
from grammar._ir import TRUE, Conj, Obj, Some, Values
from grammar._normalize import Normalizer, pattern_dfa


def names_dfa(norm: Normalizer, names: Conj) -> Dfa:
    """The keys a propertyNames schema accepts (only its string part matters)."""
    dfas = []
    for alt in norm.conj(names):
        if isinstance(alt, Values):
            dfas.append(_dfa.words([v for v in alt.decoded() if isinstance(v, str)]))
        elif alt.string is not None:
            s = alt.string
            parts = [_dfa.length(s.min_len, s.max_len)]
            for p in s.patterns:
                dfa = pattern_dfa(p)
                parts.append(_dfa.complement(dfa) if p.negated else dfa)
            dfas.append(_dfa.intersect(parts))
    return _dfa.union(dfas) if dfas else _dfa.words([])


def some_range(norm: Normalizer, some: Some) -> Dfa:
    """The keys a "some member matches" requirement ranges over."""
    dfas = [_regex.compile_pattern(some.pattern)] if some.pattern is not None else []
    if some.besides:
        dfas.append(_dfa.complement(_dfa.words(sorted(some.besides))))
    dfas += [_dfa.complement(_regex.compile_pattern(p)) for p in sorted(some.besides_patterns)]
    if some.unnamed is not None:
        dfas.append(_dfa.complement(names_dfa(norm, some.unnamed)))
    return _dfa.intersect(dfas) if dfas else _dfa.complement(_dfa.words([]))


def region_value(o: Obj, chosen: set[str]) -> Conj:
    """What an extra member's value must match when its key matches exactly the patterns
    `chosen` (and is not a named member)."""
    conj: Conj = TRUE
    for part in o.parts:
        matched = [c for src, c in part.patterns if src in chosen]
        for c in matched:
            conj |= c
        if not matched and part.additional is not None:
            conj |= part.additional
    return conj
