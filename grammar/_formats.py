"""`format` values as whole-string regular expressions, from the grammars of their RFCs.

Each pattern accepts exactly the format or, where the exact language is too costly for a
grammar, a documented subset of it (never a superset):

- date, time, date-time, duration: RFC 3339 section 5.6 and appendix A (leap seconds only
  as 23:59:60 in UTC; durations with whole numbers, as in the ABNF);
- hostname: RFC 1123 labels (letters, digits, inner hyphens, 1-63 characters) but no A-labels
  (`--` in positions 3-4); the 253 character limit on the whole name holds by construction:
  the first label may have 63 characters, at most six more may follow, each of at most 30;
- idn-hostname: the same with lowercase ASCII letters only (valid IDNA2008 U-labels);
- email, idn-email: RFC 5321 `Mailbox`: a dot-string or quoted local part, `@`, a hostname
  as above or an IPv4 or IPv6 address literal;
- ipv4: dotted quad without leading zeros (RFC 3986 `IPv4address`); ipv6: RFC 4291 text form
  (RFC 3986 `IPv6address`, no zone id);
- uri, uri-reference: RFC 3986; iri, iri-reference: RFC 3987; uri-template: RFC 6570 levels
  1-4 (no reserved operators);
- uuid: RFC 4122 hyphenated; json-pointer, relative-json-pointer: RFC 6901 and its draft;
- regex: ECMA-262 patterns that Python's `re` also compiles, without lookarounds,
  backreferences or named groups, and at most MAX_GROUP_DEPTH nested groups;
- host-name and ip-address: draft-03's names of hostname and ipv4.
Formats that describe non-strings (OpenAPI's registry: int32, double...) or only hint at a
user interface (password) assert nothing about strings: ANNOTATIONS. Any other format is unknown.
Formats assert unless the root `$schema` declares draft 2019-09 or 2020-12, where `format` is an
annotation by default (grammar/_dialect.py, `grammar.formats_assert`).
"""

from __future__ import annotations

_D = "[0-9]"
_HEX = "[0-9a-fA-F]"

# ---------------------------------------------------------------- RFC 3339
_YEAR = f"{_D}{{4}}"
_LEAP_YEAR = f"({_D}{{2}}(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)"
_MONTH_DAY = (
    "((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])"
    "|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    "|02-(0[1-9]|1[0-9]|2[0-8]))"
)
DATE = f"({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_OFFSET = "([zZ]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
_FRACTION = f"(\\.{_D}+)?"
TIME = (
    f"(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]{_FRACTION}{_OFFSET}"
    f"|23:59:60{_FRACTION}([zZ]|[+-]00:00))"
)
_N = f"{_D}+"
_DUR_TIME = f"T({_N}H({_N}M({_N}S)?)?|{_N}M({_N}S)?|{_N}S)"
_DUR_DATE = f"({_N}D|{_N}M({_N}D)?|{_N}Y({_N}M({_N}D)?)?)({_DUR_TIME})?"
DURATION = f"P({_DUR_DATE}|{_DUR_TIME}|{_N}W)"

# ---------------------------------------------------------------- RFC 1123, IDNA2008


def _label(top: int, ld: str) -> str:
    """A label of 1 to `top` letters/digits (`ld`) and inner hyphens, without the `--` in
    positions 3-4 that marks an A-label (whose Punycode a grammar cannot check)."""
    ldh = ld[:-1] + "-]"
    short = f"{ld}({ldh}{{0,2}}{ld})?"
    return f"({short}|{ld}{ldh}({ld}{ldh}|-{ld}){ldh}{{0,{top - 5}}}{ld})"


def _hostname(ld: str) -> str:
    return f"{_label(63, ld)}(\\.{_label(30, ld)}){{0,6}}"


HOSTNAME = _hostname("[a-zA-Z0-9]")
IDN_HOSTNAME = _hostname("[a-z0-9]")

# ---------------------------------------------------------------- RFC 3986
_DEC_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])"
IPV4 = f"{_DEC_OCTET}(\\.{_DEC_OCTET}){{3}}"
_H16 = f"{_HEX}{{1,4}}"
_LS32 = f"({_H16}:{_H16}|{IPV4})"


def _h16s(n: int) -> str:
    """Up to n groups `h16` joined by colons, or nothing."""
    return f"({_H16}(:{_H16}){{0,{n - 1}}})?" if n else ""


IPV6 = "|".join(
    [
        f"({_H16}:){{6}}{_LS32}",
        f"::({_H16}:){{5}}{_LS32}",
        f"{_h16s(1)}::({_H16}:){{4}}{_LS32}",
        f"{_h16s(2)}::({_H16}:){{3}}{_LS32}",
        f"{_h16s(3)}::({_H16}:){{2}}{_LS32}",
        f"{_h16s(4)}::{_H16}:{_LS32}",
        f"{_h16s(5)}::{_LS32}",
        f"{_h16s(6)}::{_H16}",
        f"{_h16s(7)}::",
    ]
)
_SUB_DELIMS = "!$&'()*+,;="
_PCT = f"%{_HEX}{{2}}"
# RFC 3987 `ucschar`, also allowed in IRIs wherever an unreserved character is
_UCSCHAR = (
    "\\u00A0-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFEF\\u{10000}-\\u{1FFFD}\\u{20000}-\\u{2FFFD}"
    "\\u{30000}-\\u{3FFFD}\\u{40000}-\\u{4FFFD}\\u{50000}-\\u{5FFFD}\\u{60000}-\\u{6FFFD}"
    "\\u{70000}-\\u{7FFFD}\\u{80000}-\\u{8FFFD}\\u{90000}-\\u{9FFFD}\\u{A0000}-\\u{AFFFD}"
    "\\u{B0000}-\\u{BFFFD}\\u{C0000}-\\u{CFFFD}\\u{D0000}-\\u{DFFFD}\\u{E1000}-\\u{EFFFD}"
)
_IPRIVATE = "\\uE000-\\uF8FF\\u{F0000}-\\u{FFFFD}\\u{100000}-\\u{10FFFD}"


def _uri(iri: bool, reference: bool) -> str:
    """RFC 3986 `URI` (or `URI-reference`); RFC 3987's IRI forms when `iri`."""
    extra = _UCSCHAR if iri else ""
    unreserved = f"a-zA-Z0-9\\-._~{extra}"
    pchar = f"([{unreserved}{_SUB_DELIMS}:@]|{_PCT})"
    segment_nz_nc = f"([{unreserved}{_SUB_DELIMS}@]|{_PCT})+"
    query = f"([{unreserved}{_SUB_DELIMS}:@/?{_IPRIVATE if iri else ''}]|{_PCT})*"
    fragment = f"([{unreserved}{_SUB_DELIMS}:@/?]|{_PCT})*"
    ip_literal = f"\\[({IPV6}|[vV]{_HEX}+\\.[{unreserved}{_SUB_DELIMS}:]+)\\]"
    reg_name = f"([{unreserved}{_SUB_DELIMS}]|{_PCT})*"
    userinfo = f"([{unreserved}{_SUB_DELIMS}:]|{_PCT})*"
    authority = f"({userinfo}@)?({ip_literal}|{reg_name})(:{_D}*)?"
    abempty = f"(/{pchar}*)*"
    absolute = f"/({pchar}+(/{pchar}*)*)?"
    rootless = f"{pchar}+(/{pchar}*)*"
    tail = f"(\\?{query})?(#{fragment})?"
    absolute_uri = (
        f"[a-zA-Z][a-zA-Z0-9+\\-.]*:(//{authority}{abempty}|{absolute}|{rootless}|){tail}"
    )
    if not reference:
        return absolute_uri
    noscheme = f"{segment_nz_nc}(/{pchar}*)*"
    relative = f"(//{authority}{abempty}|{absolute}|{noscheme}|){tail}"
    return f"{absolute_uri}|{relative}"


# ---------------------------------------------------------------- RFC 6570, 6901
_VARCHAR = f"([a-zA-Z0-9_]|{_PCT})"
_VARSPEC = f"{_VARCHAR}(\\.?{_VARCHAR})*(:[1-9][0-9]{{0,3}}|\\*)?"
_LITERAL = f"[!#$&(-;=?-\\[\\]_a-z~{_UCSCHAR}{_IPRIVATE}]|{_PCT}"
URI_TEMPLATE = f"({_LITERAL}|\\{{[+#./;?&]?{_VARSPEC}(,{_VARSPEC})*\\}})*"
JSON_POINTER = "(/([^/~]|~[01])*)*"
RELATIVE_JSON_POINTER = f"(0|[1-9][0-9]*)(#|{JSON_POINTER})"

# ---------------------------------------------------------------- RFC 5321
_ATEXT = "[a-zA-Z0-9!#$%&'*+\\-/=?^_`{|}~]"
_QUOTED = '"([ !#-\\[\\]-~]|\\\\[ -~])*"'
_ADDRESS_LITERAL = f"\\[({IPV4}|IPv6:({IPV6}))\\]"
EMAIL = f"({_ATEXT}+(\\.{_ATEXT}+)*|{_QUOTED})@({HOSTNAME}|{_ADDRESS_LITERAL})"

UUID = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"

# ---------------------------------------------------------------- ECMA-262 patterns (regex)
# A subset valid in ECMA-262 and in Python's `re` alike: no lookaround, backreference, named
# group or flag; character classes of single characters, escapes and the ranges below; counts
# whose lower bound has one digit; at most MAX_GROUP_DEPTH nested groups (a regular language
# cannot count brackets).
MAX_GROUP_DEPTH = 3
_LIT = r"[^\\^$.*+?()[\]{}|]"
_ESC = r"\\([dDwWsSnrtfv0]|[ -/:-@[-`{-~])"
_ITEM = r"([^\\\][\-^|&~]|\\([bdDwWsSnrtfv0]|[ -/:-@[-`{-~])|a-z|A-Z|0-9|a-f|A-F)"
_CLASS = rf"\[\^?{_ITEM}+\]"


def _counts() -> str:
    """`{n}`, `{n,}`, and `{n,m}` with a one-digit n <= m, without leading zeros."""
    n = "(0|[1-9][0-9]*)"
    pairs = "|".join(f"{a},([{a}-9]|[1-9][0-9]+)" for a in range(10))
    return rf"\{{({n}|{n},|{pairs})\}}"


_QUANT = rf"([*+?]|{_counts()})\??"


def _regex_format(depth: int) -> str:
    group = rf"|\((\?:)?{_regex_format(depth - 1)}\)" if depth else ""
    return rf"(({_LIT}|{_ESC}|\.|{_CLASS}{group})({_QUANT})?|[$^|]|\\[bB])*"


REGEX = _regex_format(MAX_GROUP_DEPTH)

FORMATS: dict[str, str] = {
    "date": DATE,
    "time": TIME,
    "date-time": f"{DATE}[tT]{TIME}",
    "duration": DURATION,
    "email": EMAIL,
    "idn-email": EMAIL,
    "hostname": HOSTNAME,
    "idn-hostname": IDN_HOSTNAME,
    "ipv4": IPV4,
    "ipv6": IPV6,
    "uri": _uri(iri=False, reference=False),
    "uri-reference": _uri(iri=False, reference=True),
    "iri": _uri(iri=True, reference=False),
    "iri-reference": _uri(iri=True, reference=True),
    "uri-template": URI_TEMPLATE,
    "uuid": UUID,
    "json-pointer": JSON_POINTER,
    "relative-json-pointer": RELATIVE_JSON_POINTER,
    "regex": REGEX,
    "host-name": HOSTNAME,  # draft-03 names
    "ip-address": IPV4,
}

# https://spec.openapis.org/registry/format/: formats of numbers, and string formats that
# constrain nothing a grammar can see (any octets, a UI hint).
ANNOTATIONS = frozenset(
    {
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float",
        "double",
        "decimal",
        "decimal128",
        "binary",
        "password",
        "utc-millisec",  # draft-03: milliseconds since the epoch, a number
    }
)
