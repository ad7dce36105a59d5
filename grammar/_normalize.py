"""Pass 1: schema -> normal form (`_ir.Union`), one method per keyword.

Keywords that constrain the same instance (`$ref`, `allOf`, `anyOf`, `oneOf`, `not`, `if`) are
merged here, exactly: intersections distribute over unions, `oneOf` keeps only values matching
one branch, and a keyword constrains only the types it applies to. Child schemas stay lazy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

from grammar import _budget, _ir
from grammar._dfa import Dfa, RegexError, literal
from grammar._dialect import KEYWORDS
from grammar._errors import UnsupportedSchemaError
from grammar._formats import ANNOTATIONS, FORMATS
from grammar._ir import ALL, FALSE, TRUE, Alt, Conj, Json, Num, Obj, Pattern, Ref, Str, Typed, Union
from grammar._negate import NotExpressible, negate_typed, negate_value, without
from grammar._regex import compile_pattern
from grammar._resolve import Document, escape_token

MAX_ALTERNATIVES = 256
MAX_APPLICATOR_DEPTH = 64
_TYPES: dict[str, Typed] = {
    "null": Typed(null=True),
    "boolean": Typed(boolean=frozenset({True, False})),
    "integer": Typed(number=Num(integer=True)),
    "number": Typed(number=Num()),
    "string": Typed(string=Str()),
    "array": Typed(array=_ir.Arr()),
    "object": Typed(object=Obj()),
}
# Assertions with no exact grammar: refused when strict, dropped (a documented superset) if not.
_UNSUPPORTED = {
    "maxContains": "'at most n items match'",
    "unevaluatedItems": "evaluation tracking",
    "unevaluatedProperties": "evaluation tracking",
    "$dynamicRef": "dynamic scoping",
    "$recursiveRef": "dynamic scoping",
}
_BOUNDS = (("minimum", "exclusiveMinimum", True), ("maximum", "exclusiveMaximum", False))

Handler = Callable[[dict[str, Json], str], Union | None]


def _number(value: Json, keyword: str, ptr: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnsupportedSchemaError(keyword, ptr, "must be a number")
    return Decimal(repr(value))


def _count(schema: dict[str, Json], keyword: str, ptr: str) -> int | None:
    value = schema.get(keyword)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise UnsupportedSchemaError(keyword, ptr, "must be a non-negative integer")
    return int(value)


def _table(schema: dict[str, Json], keyword: str, ptr: str) -> dict[str, Json]:
    """The keyword's value, which must be an object ({} when absent)."""
    value = schema.get(keyword, {})
    if not isinstance(value, dict):
        raise UnsupportedSchemaError(keyword, ptr, "must be an object")
    return value


def _names(value: Json, keyword: str, ptr: str) -> tuple[str, ...]:
    """A list of property names, in order, each once."""
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise UnsupportedSchemaError(keyword, ptr, "must be an array of strings")
    return tuple(dict.fromkeys(n for n in value if isinstance(n, str)))


_KINDS = frozenset({"null", "boolean", "number", "string", "array", "object"})


def _kind(v: Json) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    return "string" if isinstance(v, str) else "array" if isinstance(v, list) else "object"


class ReferenceCycle(UnsupportedSchemaError):
    """A schema reached again before any instance step (`$ref` to itself, directly or not)."""


class TooManyAlternatives(Exception):
    """Intersecting unions multiplied their alternatives past MAX_ALTERNATIVES."""


def and_unions(
    a: Union, b: Union, accepts: Callable[[Alt, Json], bool], empty: Callable[[Alt], bool]
) -> Union:
    """Both unions at once. Past MAX_ALTERNATIVES (up to 4 times as many), alternatives that
    `empty` proves empty are dropped first: conditions on one member's value (`if` on a
    discriminator) multiply into alternatives whose member must match two constants."""
    both: list[Alt] = []
    for x in a:
        _budget.check()
        both += [_and_alt(x, y, accepts) for y in b]
    out = _ir.prune(both)
    if MAX_ALTERNATIVES < len(out) <= 4 * MAX_ALTERNATIVES:
        out = tuple(alt for alt in out if not empty(alt))
    if len(out) > MAX_ALTERNATIVES:
        raise TooManyAlternatives(f"more than {MAX_ALTERNATIVES} alternatives after merging")
    return out


def _and_alt(x: Alt, y: Alt, accepts: Callable[[Alt, Json], bool]) -> Alt:
    if isinstance(x, _ir.Values):
        return _ir.Values.of([v for v in x.decoded() if accepts(y, v)])
    if isinstance(y, _ir.Values):
        return _ir.Values.of([v for v in y.decoded() if accepts(x, v)])
    return _ir.and_typed(x, y)


class Normalizer:
    """Normalises the schemas of one document; results are cached per pointer."""

    def __init__(self, doc: Document, strict: bool) -> None:
        self.doc = doc
        self.strict = strict
        self._schemas: dict[str, Union] = {}
        self._conjs: dict[Conj, Union] = {}
        self._active: list[str] = []
        self._proving = False  # inside _surely_empty, which does not nest
        self._handlers = self._build_dispatch()

    def _build_dispatch(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {
            "type": self._kw_type,
            "enum": self._kw_enum,
            "const": self._kw_const,
            "minimum": self._kw_bounds,
            "maximum": self._kw_bounds,
            "exclusiveMinimum": self._kw_bounds,
            "exclusiveMaximum": self._kw_bounds,
            "multipleOf": self._kw_multiple_of,
            "minLength": self._kw_length,
            "maxLength": self._kw_length,
            "pattern": self._kw_pattern,
            "format": self._kw_format,
            "prefixItems": self._kw_items,
            "items": self._kw_items,
            "additionalItems": self._kw_items,
            "minItems": self._kw_item_count,
            "maxItems": self._kw_item_count,
            "contains": self._kw_contains,
            "uniqueItems": self._kw_unique_items,
            "minContains": self._kw_contains,
            "properties": self._kw_members,
            "patternProperties": self._kw_members,
            "additionalProperties": self._kw_members,
            "required": self._kw_required,
            "propertyNames": self._kw_property_names,
            "minProperties": self._kw_member_count,
            "maxProperties": self._kw_member_count,
            "dependencies": self._kw_dependencies,
            "dependentRequired": self._kw_dependencies,
            "dependentSchemas": self._kw_dependencies,
            "$ref": self._kw_ref,
            "allOf": self._kw_all_of,
            "anyOf": self._kw_any_of,
            "oneOf": self._kw_one_of,
            "not": self._kw_not,
            "if": self._kw_conditional,
        }
        missing = KEYWORDS - table.keys() - _UNSUPPORTED.keys()
        if missing:
            raise TypeError(f"keywords with neither a handler nor a refusal: {sorted(missing)}")
        return table

    # ------------------------------------------------------------ entry points

    def conj(self, conj: Conj) -> Union:
        """The normal form of a conjunction of (possibly negated) subschemas."""
        if conj not in self._conjs:
            result: Union = (ALL,)
            for ref in sorted(conj):
                part = self.ref(ref)
                try:
                    result = self.and_(result, part)
                except TooManyAlternatives as exc:  # schemas applying to one value at once
                    raise UnsupportedSchemaError("allOf", ref.pointer, str(exc)) from exc
            self._conjs[conj] = result
        return self._conjs[conj]

    def ref(self, ref: Ref) -> Union:
        base = self.schema(ref.pointer)
        if not ref.negated:
            return base
        try:
            return self.negate(base, ref.pointer, "not")
        except TooManyAlternatives as exc:
            raise UnsupportedSchemaError("not", ref.pointer, str(exc)) from exc

    def schema(self, ptr: str) -> Union:
        if ptr in self._schemas:
            return self._schemas[ptr]
        if ptr in self._active:
            raise ReferenceCycle("$ref", ptr, "reference cycle without an instance step")
        if len(self._active) > MAX_APPLICATOR_DEPTH:
            raise UnsupportedSchemaError("allOf", ptr, "applicators nested too deeply")
        self._active.append(ptr)
        try:
            result = self._schema(self._lookup(ptr), ptr)
        finally:
            self._active.pop()
        self._schemas[ptr] = result
        return result

    def _lookup(self, ptr: str) -> Json:
        if ptr == _ir.FALSE_POINTER:
            return False
        if ptr == _ir.TRUE_POINTER:
            return True
        if ptr.startswith(_ir.CONST_POINTER):
            return {"enum": [json.loads(ptr.removeprefix(_ir.CONST_POINTER))]}
        return self.doc.schemas[ptr]

    def _schema(self, schema: Json, ptr: str) -> Union:
        if schema is True:
            return (ALL,)
        if schema is False:
            return ()
        if not isinstance(schema, dict):
            raise UnsupportedSchemaError("", ptr, "a schema must be an object or a boolean")
        result: Union = (ALL,)
        done: set[Handler] = set()
        dialect = self.doc.dialect
        hides = "$ref" in schema and dialect.ref_hides_siblings
        for keyword in ["$ref"] if hides else schema:
            if not dialect.asserts(keyword):
                continue  # an annotation, or a keyword of another draft
            _budget.at(keyword, ptr)
            if keyword in _UNSUPPORTED:
                self._refuse(keyword, ptr, _UNSUPPORTED[keyword])
                continue
            handler = self._handlers[keyword]
            if handler in done:
                continue
            done.add(handler)
            try:
                part = handler(schema, ptr)
                result = result if part is None else self.and_(result, part)
            except TooManyAlternatives as exc:
                raise UnsupportedSchemaError(keyword, ptr, str(exc)) from exc
        return result

    # ------------------------------------------------------------ union algebra

    def and_(self, a: Union, b: Union) -> Union:
        return and_unions(a, b, self.accepts, self._surely_empty)

    def _surely_empty(self, alt: Alt) -> bool:
        """Whether `alt` is provably empty, looking one level into its required members
        (whose own alternatives are not pruned so: the work stays linear)."""
        if self._proving:
            return False
        self._proving = True
        try:
            return self.alt_empty(alt, 1)
        except (UnsupportedSchemaError, TooManyAlternatives):  # a member refused: not a proof
            _budget.check()  # unless the budget ran out
            return False
        finally:
            self._proving = False

    def negate(self, union: Union, ptr: str, keyword: str) -> Union:
        result: Union = (ALL,)
        try:
            for alt in union:
                if isinstance(alt, _ir.Values):
                    for v in alt.decoded():
                        result = self.and_(result, tuple(negate_value(v)))
                else:
                    result = self.and_(result, tuple(negate_typed(alt)))
        except NotExpressible as exc:
            if self.strict:
                raise UnsupportedSchemaError(keyword, ptr, str(exc)) from exc
            return (ALL,)
        return result

    # ------------------------------------------------------------ instance checks (enum/const)

    def accepts(self, alt: Alt, v: Json) -> bool:
        """Whether the JSON value `v` matches the alternative `alt`."""
        if isinstance(alt, _ir.Values):
            return _ir.json_key(v) in alt.keys
        if v is None:
            return alt.null
        if isinstance(v, bool):
            return v in alt.boolean
        if isinstance(v, int | float):
            whole = None if self.doc.dialect.zero_fraction_integers else isinstance(v, int)
            return alt.number is not None and _num_accepts(alt.number, Decimal(repr(v)), whole)
        if isinstance(v, str):
            return alt.string is not None and _str_accepts(alt.string, v)
        if isinstance(v, list):
            return alt.array is not None and self._arr_accepts(alt.array, v)
        return alt.object is not None and self._obj_accepts(alt.object, v)

    def accepts_conj(self, conj: Conj, v: Json) -> bool:
        return any(self.accepts(alt, v) for alt in self.conj(conj))

    def _arr_accepts(self, a: _ir.Arr, v: list[Json]) -> bool:
        if len(v) < a.min_items or (a.max_items is not None and len(v) > a.max_items):
            return False
        for some in a.some:
            if sum(self.accepts_conj(some.value, x) for x in v[some.start :]) < some.at_least:
                return False
        if a.unique and len({_ir.json_key(x) for x in v}) < len(v):
            return False
        return all(
            self.accepts_conj(a.prefix[i] if i < len(a.prefix) else a.items, item)
            for i, item in enumerate(v)
        )

    def _obj_accepts(self, o: Obj, v: dict[str, Json]) -> bool:
        if not o.required <= v.keys() or len(v) < o.min_props:
            return False
        if o.max_props is not None and len(v) > o.max_props:
            return False
        if any(key in v and not needs <= v.keys() for key, needs in o.dependent):
            return False
        if not all(self.accepts_conj(o.names, key) for key in v):
            return False
        return all(
            self.accepts_conj(conj_for_key(part, key), item)
            for part in o.parts
            for key, item in v.items()
        )

    # ------------------------------------------------------------ keywords

    def _kw_type(self, schema: dict[str, Json], ptr: str) -> Union:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        alt = Typed()
        for name in names:
            if not isinstance(name, str) or name not in _TYPES:
                raise UnsupportedSchemaError("type", ptr, f"unknown type {name!r}")
            t = _TYPES[name]
            number = alt.number
            if t.number is not None:
                number = t.number if number is None or number == t.number else Num()
            alt = Typed(
                alt.null or t.null,
                alt.boolean | t.boolean,
                number,
                alt.string or t.string,
                alt.array or t.array,
                alt.object or t.object,
            )
        return (alt,)

    def _kw_enum(self, schema: dict[str, Json], ptr: str) -> Union:
        if not isinstance(schema["enum"], list):
            raise UnsupportedSchemaError("enum", ptr, "must be an array")
        return _ir.prune([_ir.Values.of(schema["enum"])])

    def _kw_const(self, schema: dict[str, Json], ptr: str) -> Union:
        return (_ir.Values.of([schema["const"]]),)

    def _kw_bounds(self, schema: dict[str, Json], ptr: str) -> Union:
        lo: _ir.Bound = None
        hi: _ir.Bound = None
        for plain, strict, is_lower in _BOUNDS:
            flag = schema.get(strict)
            bounds = [(plain, flag is True)] if plain in schema else []
            if strict in schema and not isinstance(flag, bool):  # a boolean: draft-04's flag
                bounds.append((strict, True))
            for keyword, exclusive in bounds:
                bound = (_number(schema[keyword], keyword, ptr), exclusive)
                lo, hi = (_ir._max_lo(lo, bound), hi) if is_lower else (lo, _ir._min_hi(hi, bound))
        return (_ir.only(number=Num(lo, hi)),)

    def _kw_multiple_of(self, schema: dict[str, Json], ptr: str) -> Union:
        value = _number(schema["multipleOf"], "multipleOf", ptr)
        if value <= 0:
            raise UnsupportedSchemaError("multipleOf", ptr, "must be greater than 0")
        return (_ir.only(number=Num(multiples=frozenset({value}))),)

    def _kw_length(self, schema: dict[str, Json], ptr: str) -> Union:
        lo = _count(schema, "minLength", ptr) or 0
        return (_ir.only(string=Str(lo, _count(schema, "maxLength", ptr))),)

    def _kw_pattern(self, schema: dict[str, Json], ptr: str) -> Union | None:
        pattern = self._checked_pattern(schema["pattern"], "pattern", ptr)
        if pattern is None:
            return None
        return (_ir.only(string=Str(patterns=frozenset({Pattern(pattern, "search")}))),)

    def _checked_pattern(self, pattern: Json, keyword: str, ptr: str) -> str | None:
        if not isinstance(pattern, str):
            raise UnsupportedSchemaError(keyword, ptr, "must be a string")
        try:
            compile_pattern(pattern)
        except RegexError as exc:
            if self.strict:
                raise UnsupportedSchemaError(keyword, ptr, str(exc)) from exc
            return None
        return pattern

    def _kw_format(self, schema: dict[str, Json], ptr: str) -> Union | None:
        name = schema["format"]
        if not isinstance(name, str):
            raise UnsupportedSchemaError("format", ptr, "must be a string")
        if name in ANNOTATIONS or not self.doc.dialect.formats_assert:
            return None
        regex = FORMATS.get(name)
        if regex is None:
            if self.strict:
                raise UnsupportedSchemaError("format", ptr, f"unknown format {name!r}")
            return None
        return (_ir.only(string=Str(patterns=frozenset({Pattern(regex, "full")}))),)

    def _kw_items(self, schema: dict[str, Json], ptr: str) -> Union:
        items = schema.get("items")
        if isinstance(items, list):  # draft 2019 and older: items array + additionalItems
            prefix = tuple(frozenset({Ref(f"{ptr}/items/{i}")}) for i in range(len(items)))
            rest = (
                frozenset({Ref(f"{ptr}/additionalItems")}) if "additionalItems" in schema else TRUE
            )
        else:
            prefix_items = (
                schema.get("prefixItems", []) if self.doc.dialect.asserts("prefixItems") else []
            )
            if not isinstance(prefix_items, list):
                raise UnsupportedSchemaError("prefixItems", ptr, "must be an array")
            count = len(prefix_items)
            prefix = tuple(frozenset({Ref(f"{ptr}/prefixItems/{i}")}) for i in range(count))
            rest = frozenset({Ref(f"{ptr}/items")}) if "items" in schema else TRUE
        return (_ir.only(array=_ir.Arr(prefix, rest)),)

    def _kw_item_count(self, schema: dict[str, Json], ptr: str) -> Union:
        lo = _count(schema, "minItems", ptr) or 0
        return (_ir.only(array=_ir.Arr(min_items=lo, max_items=_count(schema, "maxItems", ptr))),)

    def _kw_unique_items(self, schema: dict[str, Json], ptr: str) -> Union | None:
        if schema["uniqueItems"] is not True:
            return None
        return (_ir.only(array=_ir.Arr(unique=True)),)

    def _kw_contains(self, schema: dict[str, Json], ptr: str) -> Union | None:
        if "contains" not in schema:
            return None  # minContains without contains
        least = _count(schema, "minContains", ptr) if self.doc.dialect.asserts("minContains") else 1
        if least == 0:
            return None
        some = _ir.SomeItems(frozenset({Ref(f"{ptr}/contains")}), 0, 1 if least is None else least)
        return (_ir.only(array=_ir.Arr(some=frozenset({some}))),)

    def _kw_members(self, schema: dict[str, Json], ptr: str) -> Union:
        props = tuple(
            (name, frozenset({Ref(f"{ptr}/properties/{escape_token(name)}")}))
            for name in _table(schema, "properties", ptr)
        )
        patterns = []
        for source in _table(schema, "patternProperties", ptr):
            if self._checked_pattern(source, "patternProperties", ptr) is None:
                raise UnsupportedSchemaError("patternProperties", ptr, f"pattern {source!r}")
            patterns.append(
                (source, frozenset({Ref(f"{ptr}/patternProperties/{escape_token(source)}")}))
            )
        extra = (
            frozenset({Ref(f"{ptr}/additionalProperties")})
            if "additionalProperties" in schema
            else None
        )
        part = _ir.ObjPart(props, tuple(patterns), extra)
        return (_ir.only(object=Obj((part,))),)

    def _kw_required(self, schema: dict[str, Json], ptr: str) -> Union:
        names = _names(schema["required"], "required", ptr)
        return (_ir.only(object=Obj(required=frozenset(names), order=names)),)

    def _kw_property_names(self, schema: dict[str, Json], ptr: str) -> Union:
        return (_ir.only(object=Obj(names=frozenset({Ref(f"{ptr}/propertyNames")}))),)

    def _kw_member_count(self, schema: dict[str, Json], ptr: str) -> Union:
        lo = _count(schema, "minProperties", ptr) or 0
        return (_ir.only(object=Obj(min_props=lo, max_props=_count(schema, "maxProperties", ptr))),)

    def _kw_dependencies(self, schema: dict[str, Json], ptr: str) -> Union:
        """`dependentRequired`, `dependentSchemas` and draft-07 `dependencies` (either form)."""
        result: Union = (ALL,)
        needs: list[tuple[str, frozenset[str]]] = []
        for keyword in ("dependencies", "dependentRequired", "dependentSchemas"):
            if not self.doc.dialect.asserts(keyword):
                continue
            for key, dep in _table(schema, keyword, ptr).items():
                if isinstance(dep, list) and keyword != "dependentSchemas":
                    needs += [(key, frozenset(_names(dep, keyword, ptr)))] if dep else []
                elif isinstance(dep, dict | bool) and keyword != "dependentRequired":
                    then = self.schema(f"{ptr}/{keyword}/{escape_token(key)}")
                    result = self.and_(result, self._if_member(key, then))
                else:
                    raise UnsupportedSchemaError(keyword, ptr, f"bad dependency for {key!r}")
        return self.and_(result, (_ir.only(object=Obj(dependent=frozenset(needs))),))

    def _if_member(self, key: str, then: Union) -> Union:
        """Objects with member `key` match `then`; every other value passes."""
        present = self.and_((Typed(object=Obj(required=frozenset({key}))),), then)
        return _ir.prune([_ir.only(object=without(key)), *present])

    def _refuse(self, keyword: str, ptr: str, what: str) -> None:
        """Raise for an assertion no grammar can express; when not strict, drop it instead."""
        if self.strict:
            raise UnsupportedSchemaError(keyword, ptr, f"a grammar cannot express {what}")

    def _kw_ref(self, schema: dict[str, Json], ptr: str) -> Union:
        if not isinstance(schema["$ref"], str):
            raise UnsupportedSchemaError("$ref", ptr, "must be a string")
        return self.schema(self.doc.resolve(ptr, schema["$ref"]))

    def _subschemas(self, schema: dict[str, Json], keyword: str, ptr: str) -> list[Union]:
        subs = schema[keyword]
        if not isinstance(subs, list) or not subs:
            raise UnsupportedSchemaError(keyword, ptr, "must be a non-empty array")
        return [self.schema(f"{ptr}/{keyword}/{i}") for i in range(len(subs))]

    def _kw_all_of(self, schema: dict[str, Json], ptr: str) -> Union:
        result: Union = (ALL,)
        for sub in self._subschemas(schema, "allOf", ptr):
            result = self.and_(result, sub)
        return result

    def _kw_any_of(self, schema: dict[str, Json], ptr: str) -> Union:
        return _ir.prune([alt for sub in self._subschemas(schema, "anyOf", ptr) for alt in sub])

    def _kw_one_of(self, schema: dict[str, Json], ptr: str) -> Union:
        # A sibling `type` narrows every branch first (exactly one branch of S and B_i matches
        # iff the value is in S and exactly one B_i matches), often making them disjoint.
        context = self._kw_type(schema, ptr) if "type" in schema else (ALL,)
        subs = self._subschemas(schema, "oneOf", ptr)
        branches = [b for b in (self.and_(context, sub) for sub in subs) if b]
        # B_i excludes every B_j it is disjoint from already: only overlapping ones are negated.
        overlaps = {
            (i, j)
            for i, a in enumerate(branches)
            for j, b in enumerate(branches)
            if i < j and not self._disjoint(a, b)
        }
        out: list[_ir.Alt] = []
        for i, branch in enumerate(branches):
            result = branch
            for j, other in enumerate(branches):
                if (min(i, j), max(i, j)) in overlaps:
                    negated = self.negate(other, ptr, "oneOf")
                    if negated == (ALL,) and not self.strict:
                        continue
                    # drop contradictions (a member both required and absent...) as they arise
                    both = self.and_(result, negated)
                    result = tuple(alt for alt in both if not self.alt_empty(alt, 1))
            out.extend(result)
        return _ir.prune(out)

    def _disjoint(self, a: Union, b: Union) -> bool:
        return all(self.alt_empty(alt, 2) for alt in self.and_(a, b))

    def _kw_not(self, schema: dict[str, Json], ptr: str) -> Union:
        return self.negate(self.schema(f"{ptr}/not"), ptr, "not")

    def _kw_conditional(self, schema: dict[str, Json], ptr: str) -> Union | None:
        if "then" not in schema and "else" not in schema:
            return None
        cond = self.schema(f"{ptr}/if")
        then = self.schema(f"{ptr}/then") if "then" in schema else (ALL,)
        other = self.schema(f"{ptr}/else") if "else" in schema else (ALL,)
        return _ir.prune([*self.and_(cond, then), *self.and_(self.negate(cond, ptr, "if"), other)])

    # ------------------------------------------------------------ emptiness (bounded depth)

    def conj_empty(self, conj: Conj, depth: int) -> bool:
        """True only when provably no value matches (looking `depth` levels into children)."""
        try:
            union = self.conj(conj)
        except ReferenceCycle:  # a child of a schema being normalised: compare types only
            kinds = [self._kinds(r.pointer, set()) for r in conj if not r.negated]
            return not frozenset(_KINDS).intersection(*kinds)
        return all(self.alt_empty(alt, depth) for alt in union)

    def _kinds(self, ptr: str, path: set[str]) -> frozenset[str]:
        """The JSON types a schema's values can have, read from the schema alone (a superset,
        safe on schemas still being normalised; `path` holds the pointers being read)."""
        schema = self._lookup(ptr)
        if schema is False:
            return frozenset()
        if not isinstance(schema, dict) or ptr in path:
            return _KINDS
        path.add(ptr)
        kinds = _KINDS
        declared = schema.get("type")
        if isinstance(declared, str | list):
            names = declared if isinstance(declared, list) else [declared]
            kinds = frozenset("number" if n == "integer" else str(n) for n in names)
        values = schema.get("enum", [schema["const"]] if "const" in schema else None)
        if isinstance(values, list):
            kinds &= frozenset(map(_kind, values))
        ref = schema.get("$ref")
        if isinstance(ref, str):
            kinds &= self._kinds(self.doc.resolve(ptr, ref), path)
        for keyword in ("anyOf", "oneOf"):
            subs = schema.get(keyword)
            if isinstance(subs, list):
                branches = [self._kinds(f"{ptr}/{keyword}/{i}", path) for i in range(len(subs))]
                kinds &= frozenset().union(*branches)
        path.discard(ptr)
        return kinds

    def alt_empty(self, alt: Alt, depth: int) -> bool:
        if isinstance(alt, _ir.Values):
            return not alt.texts
        if _ir.typed_empty(alt):
            return True
        if depth <= 0:
            return False
        others = Typed(alt.null, alt.boolean, alt.number, alt.string)
        if not _ir.typed_empty(others):
            return False
        array_ok = alt.array is not None and not any(
            self.conj_empty(c, depth - 1) for c in alt.array.prefix[: alt.array.min_items]
        )
        object_ok = alt.object is not None and not any(
            self.conj_empty(key_conj(alt.object, key), depth - 1) for key in alt.object.required
        )
        return not (array_ok or object_ok)


def key_conj(o: Obj, key: str) -> Conj:
    """What the value of member `key` must match under every part of `o`."""
    conj: Conj = TRUE
    for part in o.parts:
        conj |= conj_for_key(part, key)
    return conj


def conj_for_key(part: _ir.ObjPart, key: str) -> Conj:
    conj: Conj = TRUE
    named = False
    for name, c in part.props:
        if name == key:
            conj |= c
            named = True
    matched = [c for source, c in part.patterns if compile_pattern(source).matches(key)]
    for c in matched:
        conj |= c
    if not named and not matched and part.additional is not None:
        conj |= part.additional
    return conj


def _num_accepts(n: Num, d: Decimal, whole: bool | None) -> bool:
    """Whether `d` is in `n`; `whole` says if it is an integer where that is not its value
    alone (draft-04: `1.0` is not)."""
    is_integer = d == d.to_integral_value() if whole is None else whole
    if n.integer is not None and is_integer != n.integer:
        return False
    if not all(_is_multiple(d, m) for m in n.multiples):
        return False
    if any(_is_multiple(d, m) for m in n.not_multiples):
        return False
    if n.lo is not None and (d < n.lo[0] or (n.lo[1] and d == n.lo[0])):
        return False
    return not (n.hi is not None and (d > n.hi[0] or (n.hi[1] and d == n.hi[0])))


def _is_multiple(d: Decimal, m: Decimal) -> bool:
    """Exactly, in integers (Decimal's % gives up on quotients past its precision)."""
    places = max(0, -int(d.as_tuple().exponent), -int(m.as_tuple().exponent))
    return int(d.scaleb(places)) % int(m.scaleb(places)) == 0


def _str_accepts(s: Str, v: str) -> bool:
    if len(v) < s.min_len or (s.max_len is not None and len(v) > s.max_len):
        return False
    return all(pattern_dfa(p).matches(v) != p.negated for p in s.patterns)


def pattern_dfa(p: Pattern) -> Dfa:
    """The automaton of a pattern, ignoring its negation flag."""
    if p.kind == "literal":
        return literal(p.source)
    return compile_pattern(p.source, search=p.kind == "search")


__all__ = ["FALSE", "Normalizer", "conj_for_key", "key_conj", "pattern_dfa"]
