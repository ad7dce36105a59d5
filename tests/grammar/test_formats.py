"""Formats are enforced (every invalid example rejected) wherever `format` is an assertion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from grammar import UnsupportedSchemaError, schema_to_gbnf
from tests.grammar.conftest import check

LONG = "a" * 63
EXAMPLES: dict[str, tuple[list[str], list[str]]] = {
    "date": (["2024-02-29", "1999-12-31"], ["2023-02-29", "1999-13-01", "99-01-01"]),
    "time": (["08:30:06.28Z", "23:59:60z", "00:00:00+05:30"], ["08:30:06", "24:00:00Z"]),
    "date-time": (
        ["1963-06-19T08:30:06.283185Z", "2024-02-29t00:00:00-01:00"],
        ["1963-06-19 08:30:06Z", "2023-02-29T00:00:00Z", "1990-12-31T15:59:60-08:00"],
    ),
    "duration": (["P4DT12H30M5S", "P1W", "PT36H", "P1Y2M"], ["P", "PT", "P2W1D", "P1DT", "4D"]),
    "email": (
        ["joe.bloggs@example.com", '"joe bloggs"@example.com', "a@[127.0.0.1]", "x@[IPv6:::1]"],
        ["2962", ".a@example.com", "a.@example.com", "a..b@example.com", "a@b_c.com", "a@"],
    ),
    "hostname": (
        ["www.example.com", "a--b.com", f"{LONG}.com", "localhost"],
        ["-a.com", "a-.com", "host_name", f"{LONG}x.com", "example.", "xn--X", "é.com"],
    ),
    "idn-hostname": (["example.com", "ab-c"], ["Example.com", "ab--c", "-x"]),
    "ipv4": (["192.168.0.1", "0.0.0.0"], ["256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5"]),
    "ipv6": (
        ["::1", "::", "1:2:3:4:5:6:7:8", "::ffff:192.168.0.1", "fe80::1:2"],
        ["12345::", "1:2:3:4:5:6:7:8:9", ":::", "1::2::3", "fe80::1%eth0", "::1.2.3"],
    ),
    "uri": (
        ["http://example.com/a?b=c#d", "urn:isbn:0451450523", "http://[::1]:80/", "mailto:a@b"],
        ["//example.com", "example.com", "http://exa mple.com", "1http://x", "http://%zz"],
    ),
    "uri-reference": (["/a/b?c", "#frag", "../x", "", "http://x"], ["\\a", "a b", "#%"]),
    "iri": (["http://例え.jp/ä", "http://[V1.fe]"], ["/relative", "http://x y"]),
    "iri-reference": (["ä/b", "#ä", "//例え.jp"], ["x y", "#%g0"]),
    "uri-template": (
        ["http://example.com/{id}", "{/path*}{?q,lang}", "a{+var:3}", "plain"],
        ["{", "{}", "{a,}", "{=x}", "{a:0}", "a b"],
    ),
    "uuid": (
        ["123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000"],
        ["123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g"],
    ),
    "json-pointer": (["", "/a/b~0c~1d", "/", "/~01"], ["a", "/~2", "/~"]),
    "relative-json-pointer": (["0", "1/a", "2#", "0/"], ["-1", "01", "/a", "1#/a", ""]),
    "regex": (
        ["", "^[a-z]+$", "(?:a|b)*c{2,}", "x{1,20}", "[^\\]\\-]", "\\d+\\.\\w", "a|"],
        ["(", "[", "[]", "a**", "{3}", "x{5,3}", "(?=a)", "(a)\\1", "^*", "\\e", "[^]"],
    ),
    "host-name": (["example.com"], ["-x.com", "a_b"]),
    "ip-address": (["10.0.0.1"], ["10.0.0.256"]),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_format_is_enforced(name: str, render: Callable[[Any], str]) -> None:
    good, bad = EXAMPLES[name]
    check({"format": name}, [*good, 5, None, ["x"]], bad, render)


def test_format_combines_with_other_string_keywords(render: Callable[[Any], str]) -> None:
    schema = {"type": "string", "format": "ipv4", "pattern": "^10\\.", "maxLength": 9}
    check(schema, ["10.0.0.1", "10.1.2.3"], ["10.0.0.100", "11.0.0.1", 10], render)


def test_unknown_format_is_refused_when_strict(render: Callable[[Any], str]) -> None:
    with pytest.raises(UnsupportedSchemaError) as info:
        schema_to_gbnf({"properties": {"c": {"format": "color"}}})
    assert (info.value.keyword, info.value.pointer) == ("format", "/properties/c")
    check({"format": "color"}, ["red", "#fff", 1], [], render, strict=False)


def test_number_formats_are_annotations(render: Callable[[Any], str]) -> None:
    check({"type": "integer", "format": "int32"}, [0, 2**40], ["0", 1.5], render)
    check({"format": "utc-millisec"}, [1700000000000, "any text"], [], render)
    check({"type": "string", "format": "password"}, ["", "hunter2"], [None], render)


def test_a_length_bound_the_format_already_keeps_is_free(render: Callable[[Any], str]) -> None:
    schema = {"type": "string", "format": "hostname", "maxLength": 255}  # hostnames <= 249
    check(schema, ["example.com"], ["-x", "a" * 64], render)
