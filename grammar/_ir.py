"""The normal form schemas compile through: per JSON type constraints, unions, and lazy children.

A schema normalises to a `Union` of alternatives; each alternative is a `Values` (a finite set of
JSON values) or a `Typed` (the allowed types, each with its constraints). Subschemas at child
positions (array items, property values) stay lazy as a `Conj`, a conjunction of `Ref`s to
document pointers, possibly negated, so deep or recursive schemas are never expanded eagerly.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Hashable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias

Json: TypeAlias = "bool | int | float | str | list[Json] | dict[str, Json] | None"
Bound = tuple[Decimal, bool] | None  # (value, exclusive)
FALSE_POINTER = "\x00false"
TRUE_POINTER = "\x00true"
CONST_POINTER = "\x00const:"  # followed by a JSON value: the schema {"enum": [value]}


@dataclass(frozen=True, order=True)
class Ref:
    pointer: str
    negated: bool = False

    def flip(self) -> Ref:
        return Ref(self.pointer, not self.negated)


Conj = frozenset[Ref]
TRUE: Conj = frozenset()
FALSE: Conj = frozenset({Ref(FALSE_POINTER)})


@dataclass(frozen=True)
class Num:
    lo: Bound = None
    hi: Bound = None
    integer: bool | None = None  # True: integers only, False: non-integers only
    multiples: frozenset[Decimal] = frozenset()  # multipleOf values
    not_multiples: frozenset[Decimal] = frozenset()  # values it is not a multiple of


@dataclass(frozen=True)
class Pattern:
    source: str
    kind: str  # "search" (JSON Schema pattern), "full" (formats) or "literal"
    negated: bool = False


@dataclass(frozen=True)
class Str:
    min_len: int = 0
    max_len: int | None = None
    patterns: frozenset[Pattern] = frozenset()


@dataclass(frozen=True)
class SomeItems:
    """At least `at_least` items from index `start` on match `value` (contains)."""

    value: Conj
    start: int = 0
    at_least: int = 1


@dataclass(frozen=True)
class Arr:
    prefix: tuple[Conj, ...] = ()
    items: Conj = TRUE
    min_items: int = 0
    max_items: int | None = None
    some: frozenset[SomeItems] = frozenset()
    unique: bool = False  # uniqueItems


@dataclass(frozen=True)
class ObjPart:
    """One schema's properties/patternProperties/additionalProperties (None: keyword absent)."""

    props: tuple[tuple[str, Conj], ...] = ()
    patterns: tuple[tuple[str, Conj], ...] = ()
    additional: Conj | None = None


@dataclass(frozen=True)
class Some:
    """Some member whose key is in range has a value matching `value`. In range: keys
    matching `pattern` (any when None) other than `besides` and keys matching
    `besides_patterns`, and, when `unnamed` is set, only keys that schema rejects."""

    value: Conj
    pattern: str | None = None
    besides: frozenset[str] = frozenset()
    besides_patterns: frozenset[str] = frozenset()
    unnamed: Conj | None = None


@dataclass(frozen=True)
class Obj:
    """Object constraints; `parts` keep schema order, which is the order members are written."""

    parts: tuple[ObjPart, ...] = ()
    required: frozenset[str] = frozenset()
    names: Conj = TRUE  # propertyNames
    min_props: int = 0
    max_props: int | None = None
    dependent: frozenset[tuple[str, frozenset[str]]] = frozenset()  # key -> keys it requires
    some: frozenset[Some] = frozenset()
    order: tuple[str, ...] = ()  # the order `required` lists its names in, first seen first


@dataclass(frozen=True)
class Typed:
    null: bool = False
    boolean: frozenset[bool] = frozenset()
    number: Num | None = None
    string: Str | None = None
    array: Arr | None = None
    object: Obj | None = None


@dataclass(frozen=True)
class Values:
    """A finite set of JSON values, held as canonical JSON text so it can be hashed."""

    texts: tuple[str, ...] = field(default=())

    @staticmethod
    def of(values: list[Json]) -> Values:
        unique = {json_key(v): v for v in reversed(values)}  # the first of equal values
        return Values(tuple(json.dumps(v, sort_keys=True) for v in reversed(unique.values())))

    def decoded(self) -> list[Json]:
        return [json.loads(t) for t in self.texts]

    @functools.cached_property
    def keys(self) -> frozenset[Hashable]:
        return frozenset(json_key(v) for v in self.decoded())


Alt = Typed | Values
Union = tuple[Alt, ...]
ALL = Typed(True, frozenset({True, False}), Num(), Str(), Arr(), Obj())
NOTHING = Typed()


def only(
    *,
    number: Num | None = None,
    string: Str | None = None,
    array: Arr | None = None,
    object: Obj | None = None,
) -> Typed:
    """ALL with the given per-type constraints (e.g. only(string=Str(min_len=2)))."""
    return Typed(
        ALL.null,
        ALL.boolean,
        number or ALL.number,
        string or ALL.string,
        array or ALL.array,
        object or ALL.object,
    )


def json_key(v: Json) -> Hashable:
    """A hashable form equal for values JSON Schema calls equal: 1 == 1.0, but true != 1."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return (type(v).__name__, v)
    if isinstance(v, int | float):
        return ("number", Decimal(repr(v)))
    if isinstance(v, list):
        return ("array", tuple(json_key(x) for x in v))
    return ("object", frozenset((k, json_key(x)) for k, x in v.items()))


# ---------------------------------------------------------------- intersection


def _max_lo(a: Bound, b: Bound) -> Bound:
    if a is None or b is None:
        return a or b
    if a[0] != b[0]:
        return a if a[0] > b[0] else b
    return (a[0], a[1] or b[1])


def _min_hi(a: Bound, b: Bound) -> Bound:
    if a is None or b is None:
        return a or b
    if a[0] != b[0]:
        return a if a[0] < b[0] else b
    return (a[0], a[1] or b[1])


def _and_num(a: Num | None, b: Num | None) -> Num | None:
    if a is None or b is None:
        return None
    if a.integer is not None and b.integer is not None and a.integer != b.integer:
        return None
    integer = a.integer if a.integer is not None else b.integer
    return Num(
        _max_lo(a.lo, b.lo),
        _min_hi(a.hi, b.hi),
        integer,
        a.multiples | b.multiples,
        a.not_multiples | b.not_multiples,
    )


def _and_str(a: Str | None, b: Str | None) -> Str | None:
    if a is None or b is None:
        return None
    hi = _min_count(a.max_len, b.max_len)
    return Str(max(a.min_len, b.min_len), hi, a.patterns | b.patterns)


def _and_arr(a: Arr | None, b: Arr | None) -> Arr | None:
    if a is None or b is None:
        return None
    n = max(len(a.prefix), len(b.prefix))
    prefix = tuple(
        (a.prefix[i] if i < len(a.prefix) else a.items)
        | (b.prefix[i] if i < len(b.prefix) else b.items)
        for i in range(n)
    )
    hi = _min_count(a.max_items, b.max_items)
    return Arr(
        prefix,
        a.items | b.items,
        max(a.min_items, b.min_items),
        hi,
        a.some | b.some,
        a.unique or b.unique,
    )


def _and_obj(a: Obj | None, b: Obj | None) -> Obj | None:
    if a is None or b is None:
        return None
    return Obj(
        a.parts + tuple(p for p in b.parts if p not in a.parts),
        a.required | b.required,
        a.names | b.names,
        max(a.min_props, b.min_props),
        _min_count(a.max_props, b.max_props),
        a.dependent | b.dependent,
        a.some | b.some,
        a.order + tuple(k for k in b.order if k not in a.order),
    )


def _min_count(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def and_typed(a: Typed, b: Typed) -> Typed:
    return Typed(
        a.null and b.null,
        a.boolean & b.boolean,
        _and_num(a.number, b.number),
        _and_str(a.string, b.string),
        _and_arr(a.array, b.array),
        _and_obj(a.object, b.object),
    )


# ---------------------------------------------------------------- shallow emptiness


def num_empty(n: Num) -> bool:
    if n.lo is not None and n.hi is not None:
        if n.lo[0] > n.hi[0] or (n.lo[0] == n.hi[0] and (n.lo[1] or n.hi[1])):
            return True
        if n.integer:
            lo = n.lo[0].to_integral_value(rounding="ROUND_CEILING")
            lo += 1 if n.lo[1] and lo == n.lo[0] else 0
            hi = n.hi[0].to_integral_value(rounding="ROUND_FLOOR")
            hi -= 1 if n.hi[1] and hi == n.hi[0] else 0
            return lo > hi
        if n.integer is False and n.lo[0] == n.hi[0]:
            return True
    return n.integer is False and any(m == m.to_integral_value() for m in n.multiples)


def typed_empty(t: Typed) -> bool:
    """True when no value can match, judged without looking into child schemas."""
    return not (
        t.null
        or t.boolean
        or (t.number is not None and not num_empty(t.number))
        or (
            t.string is not None
            and not (t.string.max_len is not None and t.string.min_len > t.string.max_len)
        )
        or (t.array is not None and not _arr_empty(t.array))
        or (t.object is not None and not _obj_empty(t.object))
    )


def _arr_empty(a: Arr) -> bool:
    top = a.max_items
    if a.items >= FALSE:
        top = len(a.prefix) if top is None else min(top, len(a.prefix))
    if top is not None and a.min_items > top:
        return True
    return any(c >= FALSE for c in a.prefix[: a.min_items])


def _obj_empty(o: Obj) -> bool:
    return o.max_props is not None and o.min_props > o.max_props


def prune(alts: list[Alt]) -> Union:
    """Drop shallowly empty alternatives and duplicates, keeping order."""
    kept = (a for a in alts if (a.texts if isinstance(a, Values) else not typed_empty(a)))
    return tuple(dict.fromkeys(kept))
