"""Negation of the normal form: the alternatives covering exactly what an alternative rejects.

Each way to fail becomes one alternative (a bound crossed, a required member missing, a member
or item whose value fails, as a lazily negated Ref). What needs a disjunction inside one
value ("some item fails all of...") raises NotExpressible, which the normalizer turns into a
refusal naming the keyword.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

from grammar._ir import (
    ALL,
    CONST_POINTER,
    FALSE,
    TRUE,
    Arr,
    Json,
    Num,
    Obj,
    ObjPart,
    Pattern,
    Ref,
    Some,
    SomeItems,
    Str,
    Typed,
)


class NotExpressible(Exception):
    """A negation that has no finite normal form (it would need "some item/key fails...")."""


def negate_typed(t: Typed) -> list[Typed]:
    """Alternatives covering exactly the values `t` rejects."""
    out: list[Typed] = []
    if not t.null:
        out.append(Typed(null=True))
    missing = frozenset({True, False}) - t.boolean
    if missing:
        out.append(Typed(boolean=missing))
    out += [Typed(number=n) for n in ([Num()] if t.number is None else _neg_num(t.number))]
    out += [Typed(string=s) for s in ([Str()] if t.string is None else _neg_str(t.string))]
    out += [Typed(array=a) for a in ([Arr()] if t.array is None else _neg_arr(t.array))]
    out += [Typed(object=o) for o in ([Obj()] if t.object is None else _neg_obj(t.object))]
    return out


def _neg_num(n: Num) -> list[Num]:
    out = [Num(not_multiples=frozenset({m})) for m in sorted(n.multiples)]
    out += [Num(multiples=frozenset({m})) for m in sorted(n.not_multiples)]
    if n.lo is not None:
        out.append(Num(hi=(n.lo[0], not n.lo[1])))
    if n.hi is not None:
        out.append(Num(lo=(n.hi[0], not n.hi[1])))
    if n.integer is not None:
        out.append(Num(integer=not n.integer))
    return out


def _neg_str(s: Str) -> list[Str]:
    out = []
    if s.min_len > 0:
        out.append(Str(max_len=s.min_len - 1))
    if s.max_len is not None:
        out.append(Str(min_len=s.max_len + 1))
    out += [Str(patterns=frozenset({replace(p, negated=not p.negated)})) for p in s.patterns]
    return out


def _neg_arr(a: Arr) -> list[Arr]:
    if a.unique:
        raise NotExpressible("negating uniqueItems needs 'two items are equal'")
    out = []
    if a.min_items > 0:
        out.append(Arr(max_items=a.min_items - 1))
    if a.max_items is not None:
        out.append(Arr(min_items=a.max_items + 1))
    for i, conj in enumerate(a.prefix):
        out += [Arr((TRUE,) * i + (frozenset({r.flip()}),), min_items=i + 1) for r in conj]
    if a.items >= FALSE and len(a.items) == 1:
        out.append(Arr(min_items=len(a.prefix) + 1))
    else:
        start = len(a.prefix)
        out += [Arr(some=frozenset({SomeItems(frozenset({r.flip()}), start)})) for r in a.items]
    for some in sorted(a.some, key=repr):
        if some.at_least != 1 or len(some.value) != 1:
            raise NotExpressible("negating 'at least n items match' needs maxContains")
        fail = frozenset({next(iter(some.value)).flip()})
        out.append(Arr((TRUE,) * some.start, fail))
    return out


def _neg_obj(o: Obj) -> list[Obj]:
    """One alternative per way to fail: a required member missing, a count, a dependency, a
    member whose value fails, or a key propertyNames rejects."""
    out = [without(r) for r in sorted(o.required)]
    out += [Obj(some=frozenset({Some(TRUE, unnamed=frozenset({r}))})) for r in sorted(o.names)]
    if o.min_props > 0:
        out.append(Obj(max_props=o.min_props - 1))
    if o.max_props is not None:
        out.append(Obj(min_props=o.max_props + 1))
    for key, needs in sorted(o.dependent, key=repr):
        out += [replace(without(r), required=frozenset({key})) for r in sorted(needs)]
    for part in o.parts:
        for key, conj in part.props:
            for r in conj:
                flipped = ObjPart(props=((key, frozenset({r.flip()})),))
                out.append(Obj((flipped,), frozenset({key})))
        names = frozenset(k for k, _ in part.props)
        sources = frozenset(src for src, _ in part.patterns)
        fails = [Some(frozenset({r.flip()}), pattern=src) for src, c in part.patterns for r in c]
        if part.additional is not None:
            fails += [Some(frozenset({r.flip()}), None, names, sources) for r in part.additional]
        out += [Obj(some=frozenset({fail})) for fail in fails]
    out += [_neg_some(s) for s in sorted(o.some, key=repr)]
    return out


def _neg_some(s: Some) -> Obj:
    """Every member in the requirement's range fails its value schema."""
    if s.unnamed is not None and not s.value:
        return Obj(names=s.unnamed)  # no key outside propertyNames
    if s.unnamed is not None or len(s.value) != 1:
        raise NotExpressible("negating this 'some member matches' needs a disjunction")
    fail = frozenset({next(iter(s.value)).flip()})
    if s.pattern is not None:
        part = ObjPart(patterns=((s.pattern, fail),))
    else:
        part = ObjPart(
            tuple((k, TRUE) for k in sorted(s.besides)),
            tuple((p, TRUE) for p in sorted(s.besides_patterns)),
            fail,
        )
    return Obj((part,))


def without(key: str) -> Obj:
    """Objects that have no member `key`."""
    return Obj((ObjPart(props=((key, FALSE),)),))


def const_ref(v: Json) -> Ref:
    """A reference to the schema {"enum": [v]} (enum: a keyword of every draft)."""
    return Ref(CONST_POINTER + json.dumps(v, sort_keys=True))


def negate_value(v: Json) -> list[Typed]:
    """Alternatives covering every JSON value except `v`."""
    if v is None:
        return [replace(ALL, null=False)]
    if isinstance(v, bool):
        return [replace(ALL, boolean=frozenset({not v}))]
    if isinstance(v, int | float):
        d = Decimal(repr(v))
        return [replace(ALL, number=Num(hi=(d, True))), Typed(number=Num(lo=(d, True)))]
    if isinstance(v, str):
        return [replace(ALL, string=Str(patterns=frozenset({Pattern(v, "literal", True)})))]
    if isinstance(v, list):
        other = [Arr(min_items=len(v) + 1)] + ([Arr(max_items=len(v) - 1)] if v else [])
        for i, item in enumerate(v):
            other.append(Arr((TRUE,) * i + (frozenset({const_ref(item).flip()}),), min_items=i + 1))
        return [replace(ALL, array=None)] + [Typed(array=a) for a in other]
    keys = frozenset(v)
    changed = [without(k) for k in sorted(keys)] + [Obj(some=frozenset({Some(TRUE, None, keys)}))]
    for k, item in sorted(v.items()):
        flipped = ObjPart(props=((k, frozenset({const_ref(item).flip()})),))
        changed.append(Obj((flipped,), frozenset({k})))
    return [replace(ALL, object=None)] + [Typed(object=o) for o in changed]
