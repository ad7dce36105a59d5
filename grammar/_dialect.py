"""Which JSON Schema draft a document is written in, from its root `$schema`.

Real schemas are often draft-04/06/07 and their keywords keep that draft's meaning: draft-04
`id`, boolean `exclusiveMinimum`/`exclusiveMaximum` and integers without a fraction (`1.0`
is not one); `$id: "#name"` anchors before 2019-09; `$ref` hiding its siblings up to
draft-07. A keyword is an assertion only in the drafts that define it (`if` from draft-07,
`dependencies` up to draft-07...), as validators such as `jsonschema` treat it; elsewhere it
is an unknown keyword, which JSON Schema ignores. Without `$schema`, draft 2020-12 applies.

`format` asserts (see grammar/_formats.py) unless the root `$schema` names draft 2019-09 or
2020-12, whose default format-annotation vocabulary makes it an annotation: drafts 04-07 let
validators assert formats, and schemas without `$schema` (what API clients send) get them
asserted as OpenAI structured outputs do. `formats_assert` gives the rule to answer checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from grammar._ir import Json

_DRAFT = re.compile(r"json-schema\.org/(?:draft-0?(\d+)|draft/(\d{4})-\d\d)/")
_DRAFT4 = frozenset(
    {
        "$ref",
        "additionalItems",
        "additionalProperties",
        "allOf",
        "anyOf",
        "dependencies",
        "enum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "format",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "not",
        "oneOf",
        "pattern",
        "patternProperties",
        "properties",
        "required",
        "type",
        "uniqueItems",
    }
)
_DRAFT6 = _DRAFT4 | {"const", "contains", "propertyNames"}
_DRAFT7 = _DRAFT6 | {"if"}
_DRAFT2019 = (_DRAFT7 - {"dependencies"}) | {
    "$recursiveRef",
    "dependentRequired",
    "dependentSchemas",
    "maxContains",
    "minContains",
    "unevaluatedItems",
    "unevaluatedProperties",
}
_DRAFT2020 = (_DRAFT2019 - {"$recursiveRef", "additionalItems"}) | {"$dynamicRef", "prefixItems"}
_VOCABULARY = {4: _DRAFT4, 6: _DRAFT6, 7: _DRAFT7, 2019: _DRAFT2019, 2020: _DRAFT2020}
KEYWORDS = frozenset().union(*_VOCABULARY.values())


@dataclass(frozen=True)
class Dialect:
    draft: int  # 4 (also 3 and 5), 6, 7, 2019 or 2020
    declared: bool = False  # the root `$schema` names this draft

    @property
    def id_keyword(self) -> str:
        return "id" if self.draft <= 4 else "$id"

    @property
    def anchors_in_id(self) -> bool:
        """Whether `$id: "#name"` (draft-04 `id`) names a plain-name anchor."""
        return self.draft < 2019

    @property
    def ref_hides_siblings(self) -> bool:
        return self.draft <= 7

    @property
    def zero_fraction_integers(self) -> bool:
        """Whether `1.0` is an integer (from draft-06 on)."""
        return self.draft >= 6

    @property
    def formats_assert(self) -> bool:
        """Whether `format` is an assertion: not when 2019-09 or 2020-12 is declared."""
        return not (self.declared and self.draft >= 2019)

    def asserts(self, keyword: str) -> bool:
        """Whether `keyword` is an assertion or applicator of this draft."""
        return keyword in _VOCABULARY[self.draft]


def dialect_of(schema: Json) -> Dialect:
    """The draft named by the root `$schema` (2020-12 when absent or not a known draft)."""
    uri = schema.get("$schema") if isinstance(schema, dict) else None
    found = _DRAFT.search(uri) if isinstance(uri, str) else None
    if found is None:
        return Dialect(2020)
    number = int(found.group(1) or found.group(2))
    return Dialect(4 if number <= 5 else number if number in (6, 7, 2019) else 2020, True)


def formats_assert(schema: Json) -> bool:
    """Whether `schema`'s `format` keywords are assertions (see the module docstring)."""
    return dialect_of(schema).formats_assert
