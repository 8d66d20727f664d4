"""Salesforce-style record IDs: 3-char key prefix + 12-char body + 3-char case-safe suffix.

The body is a base-62 counter whose digits are in ASCII order (0-9, A-Z, a-z), so with a BINARY
collation newer IDs of one object sort after older ones and keyset paging (`Id > :last`) works.
"""

from __future__ import annotations

import re

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")
BODY_LENGTH = 12


def case_safe_suffix(id15: str) -> str:
    """The 3 characters Salesforce appends to a 15-char ID: one per 5-char chunk, bit i set when char i is upper case."""
    out = []
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_SUFFIX_CHARS[bits])
    return "".join(out)


def make_id(key_prefix: str, number: int) -> str:
    """The 18-char ID of the ``number``-th record of an object (``number`` >= 1)."""
    if len(key_prefix) != 3:
        raise ValueError(f"key prefix must be 3 characters: {key_prefix!r}")
    digits = []
    n = number
    while n:
        n, r = divmod(n, 62)
        digits.append(_DIGITS[r])
    body = "".join(reversed(digits)).rjust(BODY_LENGTH, "0")
    if len(body) > BODY_LENGTH:
        raise ValueError("ID space exhausted")
    # A fixed "0" after the prefix mimics the pod/instance characters of real IDs.
    id15 = key_prefix + body
    return id15 + case_safe_suffix(id15)


def is_id_syntax(value: str) -> bool:
    """15 or 18 alphanumerics (what Salesforce accepts where an ID is expected)."""
    return bool(_ID_RE.match(value))


def normalize_id(value: str) -> str | None:
    """The 18-char form of a well-formed 15/18-char ID, None if malformed or the suffix is wrong."""
    if not is_id_syntax(value):
        return None
    id15 = value[:15]
    full = id15 + case_safe_suffix(id15)
    if len(value) == 18 and value[15:].upper() != full[15:]:
        return None
    return full
