"""Index a schema document: every subschema by JSON pointer, every `$id` and anchor by URI.

`$ref` values resolve against the base URI in scope (RFC 3986), then through an `$id`/`$anchor`
or a JSON pointer (with `~0`, `~1` and percent-decoding). A pointer may lead anywhere in the
document, also into keywords that are not schema locations; what it reaches is indexed then.
Only references inside the document resolve: fetching remote schemas is out of scope, so those
raise UnsupportedSchemaError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urldefrag, urljoin

from grammar._dialect import Dialect
from grammar._errors import UnsupportedSchemaError
from grammar._ir import Json

DEFAULT_BASE = "https://grammar.invalid/schema.json"
_SCHEMA_MAPS = (
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "dependencies",
)
_SCHEMA_VALUES = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
)
_SCHEMA_LISTS = ("prefixItems", "allOf", "anyOf", "oneOf", "items")


def escape_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@dataclass
class Document:
    """Subschemas by pointer, with the base URI in scope at each, and URIs to pointers."""

    dialect: Dialect
    schemas: dict[str, Json] = field(default_factory=dict)
    bases: dict[str, str] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)  # absolute URI (no fragment) -> ptr

    def resolve(self, pointer: str, ref: str) -> str:
        """The pointer `ref` (found in the schema at `pointer`) refers to."""
        base = self.bases[pointer]
        target = base.partition("#")[0] + ref if ref.startswith("#") else urljoin(base, ref)
        uri, fragment = urldefrag(target)
        if fragment and not fragment.startswith("/"):
            found = self.resources.get(f"{uri}#{fragment}")
            if found is None:
                raise UnsupportedSchemaError("$ref", pointer, f"unknown anchor {ref!r}")
            return found
        root = self.resources.get(uri)
        if root is None:
            raise UnsupportedSchemaError(
                "$ref", pointer, f"{ref!r} is not in this document (remote schemas are not fetched)"
            )
        return self._walk(root, unquote(fragment), pointer, ref)

    def _walk(self, root: str, fragment: str, pointer: str, ref: str) -> str:
        node, path = self.schemas[root], root
        for raw in fragment.split("/")[1:] if fragment else []:
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise UnsupportedSchemaError("$ref", pointer, f"{ref!r} points nowhere")
            path = f"{path}/{escape_token(token)}"
        if path not in self.schemas:
            self.add_tree(path, node, self.bases[root])
        return path

    def add_tree(self, pointer: str, schema: Json, base: str) -> None:
        """Index `schema` at `pointer` and every subschema under it (iteratively)."""
        stack: list[tuple[str, Json, str]] = [(pointer, schema, base)]
        while stack:
            ptr, node, scope = stack.pop()
            if isinstance(node, dict):
                scope = self._identify(ptr, node, scope)
                stack.extend(_children(ptr, node, scope))
            self.schemas.setdefault(ptr, node)
            self.bases.setdefault(ptr, scope)

    def _identify(self, pointer: str, node: dict[str, Json], base: str) -> str:
        """Register the node's `$id` (or draft-04 `id`) and anchors; return its base URI."""
        ident = node.get(self.dialect.id_keyword)
        if isinstance(ident, str) and ident.startswith("#"):
            if self.dialect.anchors_in_id and len(ident) > 1:
                self.resources.setdefault(f"{base}#{ident[1:]}", pointer)
        elif isinstance(ident, str):
            base = urljoin(base, ident).partition("#")[0]
            self.resources.setdefault(base, pointer)
        if isinstance(node.get("$anchor"), str):
            self.resources.setdefault(f"{base}#{node['$anchor']}", pointer)
        return base


def index(schema: Json, dialect: Dialect) -> Document:
    """Index a whole document."""
    doc = Document(dialect)
    doc.resources[DEFAULT_BASE] = ""
    doc.add_tree("", schema, DEFAULT_BASE)
    return doc


def _children(pointer: str, node: dict[str, Json], base: str) -> list[tuple[str, Json, str]]:
    out = []
    for key in _SCHEMA_MAPS:
        table = node.get(key)
        if isinstance(table, dict):
            for name, sub in table.items():
                if key != "dependencies" or isinstance(sub, dict | bool):
                    out.append((f"{pointer}/{key}/{escape_token(name)}", sub, base))
    for key in _SCHEMA_VALUES:
        if isinstance(node.get(key), dict | bool):
            out.append((f"{pointer}/{key}", node[key], base))
    for key in _SCHEMA_LISTS:
        subs = node.get(key)
        if isinstance(subs, list):
            out.extend((f"{pointer}/{key}/{i}", sub, base) for i, sub in enumerate(subs))
    return out
