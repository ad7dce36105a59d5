"""Index a schema document: every subschema by JSON pointer, every `$id` and `$anchor` by URI.

`$ref` values resolve against the base URI in scope (RFC 3986), then through an `$id`/`$anchor`
or a JSON pointer (with `~0`, `~1` and percent-decoding). Only references inside the document
resolve: fetching remote schemas is out of scope, so those raise UnsupportedSchemaError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

from grammar._errors import UnsupportedSchemaError

DEFAULT_BASE = "https://grammar.invalid/schema.json"
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
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

    schemas: dict[str, Any] = field(default_factory=dict)
    bases: dict[str, str] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)  # absolute URI (no fragment) -> ptr

    def add(self, pointer: str, schema: Any, base: str) -> None:
        self.schemas[pointer] = schema
        self.bases[pointer] = base

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
            self.add(path, node, self.bases.get(root, DEFAULT_BASE))
        return path


def index(schema: Any) -> Document:
    """Walk the document iteratively (no recursion limit on deep schemas)."""
    doc = Document()
    stack: list[tuple[str, Any, str]] = [("", schema, DEFAULT_BASE)]
    doc.resources[DEFAULT_BASE] = ""
    while stack:
        pointer, node, base = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("$id"), str):
                base = urljoin(base, node["$id"]).partition("#")[0]
                doc.resources.setdefault(base, pointer)
            if isinstance(node.get("$anchor"), str):
                doc.resources[f"{base}#{node['$anchor']}"] = pointer
            stack.extend(_children(pointer, node, base))
        doc.add(pointer, node, base)
    return doc


def _children(pointer: str, node: dict[str, Any], base: str) -> list[tuple[str, Any, str]]:
    out = []
    for key in _SCHEMA_MAPS:
        if isinstance(node.get(key), dict):
            for name, sub in node[key].items():
                out.append((f"{pointer}/{key}/{escape_token(name)}", sub, base))
    for key in _SCHEMA_VALUES:
        if isinstance(node.get(key), dict | bool):
            out.append((f"{pointer}/{key}", node[key], base))
    for key in _SCHEMA_LISTS:
        if isinstance(node.get(key), list):
            out.extend((f"{pointer}/{key}/{i}", sub, base) for i, sub in enumerate(node[key]))
    return out
