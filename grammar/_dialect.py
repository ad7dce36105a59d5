"""Which JSON Schema draft a document is written in, from its root `$schema`.

Real schemas are often draft-04/06/07; their keywords keep their own meaning: draft-04 `id`
and boolean `exclusiveMinimum`/`exclusiveMaximum`, `$id: "#name"` anchors before 2019-09, and
`$ref` hiding its sibling keywords up to draft-07. Without `$schema`, draft 2020-12 applies,
except that `format` stays an assertion (see `format_asserts`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from grammar._ir import Json

_DRAFT = re.compile(r"json-schema\.org/(?:draft-0?(\d+)|draft/(\d{4})-\d\d)/")


@dataclass(frozen=True)
class Dialect:
    draft: int  # 4 (also 3 and 5), 6, 7, 2019 or 2020
    declared: bool = False  # named by `$schema`

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
    def format_asserts(self) -> bool:
        """`format` asserts unless the schema declares 2019-09 or 2020-12, whose default
        (format-annotation) vocabulary makes it an annotation."""
        return not (self.declared and self.draft >= 2019)


def dialect_of(schema: Json) -> Dialect:
    """The draft named by the root `$schema` (2020-12 when absent or not a known draft)."""
    uri = schema.get("$schema") if isinstance(schema, dict) else None
    found = _DRAFT.search(uri) if isinstance(uri, str) else None
    if found is None:
        return Dialect(2020)
    number = int(found.group(1) or found.group(2))
    return Dialect(4 if number <= 5 else number if number in (6, 7, 2019) else 2020, True)
