"""Benchmark grammar conversion: a 200-property nested schema, cold and cached.

Run: .venv/bin/python bench/grammar_bench.py   (prints milliseconds; targets < 50 ms and < 0.1 ms)
"""

from __future__ import annotations

import json
import statistics
import time

import grammar

_TYPES = [
    {"type": "string", "maxLength": 64},
    {"type": "integer", "minimum": 0, "maximum": 1000},
    {"type": "number"},
    {"type": "boolean"},
    {"enum": ["red", "green", "blue"]},
    {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    {"type": "string", "format": "date-time"},
    {"anyOf": [{"type": "string"}, {"type": "null"}]},
]


def big_schema(n: int = 200) -> dict:
    """n properties over 20 nested objects of 10, mixing the common keyword kinds."""
    groups = {}
    for g in range(n // 10):
        props = {f"field_{g}_{i}": _TYPES[(g + i) % len(_TYPES)] for i in range(10)}
        groups[f"group_{g}"] = {
            "type": "object",
            "properties": props,
            "required": list(props)[:5],
            "additionalProperties": False,
        }
    return {"type": "object", "properties": groups, "required": list(groups)}


def timed(fn, repeat: int, clock=time.perf_counter) -> list[float]:
    out = []
    for _ in range(repeat):
        start = clock()
        fn()
        out.append((clock() - start) * 1000)
    return out


def main() -> None:
    schema = big_schema()
    text = json.dumps(schema)
    cold = timed(lambda: grammar.schema_to_gbnf(schema), 20)
    cold_cpu = timed(lambda: grammar.schema_to_gbnf(schema), 20, time.process_time)
    grammar.schema_to_gbnf_cached(text)
    cached = timed(lambda: grammar.schema_to_gbnf_cached(text), 10_000)
    size = len(grammar.schema_to_gbnf(schema))
    print(f"schema: 200 properties in 20 nested objects; grammar {size} bytes")
    print(f"convert (cold)  median {statistics.median(cold):8.3f} ms   max {max(cold):8.3f} ms")
    print(f"convert (cold, CPU time) median {statistics.median(cold_cpu):8.3f} ms")
    print(
        f"convert (cached) median {statistics.median(cached):8.4f} ms   max {max(cached):8.4f} ms"
    )


if __name__ == "__main__":
    main()
