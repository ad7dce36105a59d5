"""`format` values enforced as whole-string patterns (RFC 3339 dates and times, RFC 4122 UUIDs).

Other formats are annotations in draft 2020-12 (the format-annotation vocabulary) and are
ignored, exactly as a validator without format assertion does.
"""

from __future__ import annotations

_D = "[0-9]"
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
# A leap second is only accepted where it is certain: 23:59:60 in UTC.
TIME = (
    f"(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]{_FRACTION}{_OFFSET}"
    f"|23:59:60{_FRACTION}([zZ]|[+-]00:00))"
)
_HEX = "[0-9a-fA-F]"
UUID = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"

FORMATS: dict[str, str] = {
    "date": DATE,
    "time": TIME,
    "date-time": f"{DATE}[tT]{TIME}",
    "uuid": UUID,
}
