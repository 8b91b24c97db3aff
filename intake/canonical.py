"""Canonical JSON: the one byte form of every JSON value Intake seals or signs.

It is RFC 8785 (JSON Canonicalization Scheme), stated in full in
docs/envelope.md so that a browser sealer writes the same bytes: numbers as
ECMAScript writes a double, strings escaped only where JSON requires it,
object keys sorted by UTF-16 code units, no whitespace. Two additions keep
hostile input cheap to refuse: duplicate keys and nesting deeper than
MAX_DEPTH are refused.

A reader parses and writes the value again: bytes that do not come back
identical are not canonical and are refused, so one value has one envelope.
"""

from __future__ import annotations

import json
import math
import re

MAX_SAFE_INTEGER = 2**53 - 1  # up to this every integer is a double (JavaScript's number)
MAX_DEPTH = 32  # arrays and objects inside each other; a screening needs 5

# The C encoder escapes exactly what RFC 8785 escapes: '"', '\' and U+0000 to
# U+001F, the latter as \b \f \n \r \t or \u00xx in lower-case hex.
_quote = json.encoder.encode_basestring
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


class CanonicalJSONError(ValueError):
    """A value cannot be written as canonical JSON, or bytes are not canonical JSON."""


def encode(value) -> bytes:
    """Return the canonical JSON bytes (UTF-8) of a value."""
    out: list[str] = []
    _write(value, 0, out)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:  # only a surrogate code point fails: no Unicode text holds one
        raise CanonicalJSONError(
            "a string holds a lone surrogate, which is not Unicode text"
        ) from None


def decode(raw: bytes):
    """Parse canonical JSON; refuse anything else, even valid JSON in another form."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CanonicalJSONError("not valid JSON (not UTF-8)") from None
    try:
        value = _load(_FAST_DECODER, text)
    except _NotPlain:
        value = None
    else:
        # No number but safe integers, no astral key: there the C encoder writes canonical JSON.
        _check_nesting(value)
        if _PLAIN_ENCODER.encode(value) != text:
            raise CanonicalJSONError("not canonical JSON")
        return value
    value = _load(_DECODER, text)
    if encode(value) != raw:
        raise CanonicalJSONError("not canonical JSON")
    return value


def parse(raw: bytes):
    """Parse JSON given by a person (any spacing), refusing what has no canonical form.

    An integer no double holds exactly is refused rather than rounded: the
    person typed that number, and the sealed record must say the same.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CanonicalJSONError("not valid JSON (not UTF-8)") from None
    value = _load(_EXACT_DECODER, text)
    encode(value)  # lone surrogates, integers a double cannot hold, too deep
    return value


def _load(decoder: json.JSONDecoder, text: str):
    try:
        return decoder.decode(text)
    except (CanonicalJSONError, _NotPlain):
        raise
    except (ValueError, RecursionError):
        raise CanonicalJSONError("not valid JSON") from None


def _check_nesting(value) -> None:
    stack = [(value, 1)] if type(value) in (dict, list) else []
    while stack:
        item, depth = stack.pop()
        for child in item.values() if type(item) is dict else item:
            if type(child) in (dict, list):
                _check_depth(depth + 1)
                stack.append((child, depth + 1))


class _NotPlain(Exception):
    """The text holds a number that is not a safe integer, or an astral key: take the long way."""


def _plain_integer(text: str) -> int:
    value = int(text) if len(text) <= 17 else None
    if value is None or not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise _NotPlain
    return value


def _not_plain(text: str):
    raise _NotPlain


def _plain_object(pairs: list) -> dict:
    value = _object(pairs)
    if len(value) > 1 and _ASTRAL.search("".join(value)):
        raise _NotPlain
    return value


def _object(pairs: list) -> dict:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise CanonicalJSONError("duplicate key in an object")
    return value


def _no_constant(name: str):
    raise CanonicalJSONError(f"{name} is not a JSON number")


def _as_double(text: str):
    # Every JSON number is a double: "295147905179352830000" is one, though no int equals it.
    # Safe integers stay ints, so that Python code reads a count as a count.
    value = int(text) if len(text) <= 17 else None
    if value is not None and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return value
    return float(text)


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_constant=_no_constant, parse_int=_as_double
)
_EXACT_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_no_constant)
_FAST_DECODER = json.JSONDecoder(
    object_pairs_hook=_plain_object,
    parse_constant=_no_constant,
    parse_int=_plain_integer,
    parse_float=_not_plain,
)
_PLAIN_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, check_circular=False
)


def _write(value, depth: int, out: list) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_quote(value))
    elif isinstance(value, int):
        out.append(_integer_text(value))
    elif isinstance(value, float):
        out.append(number(value))
    elif isinstance(value, dict):
        _write_object(value, depth + 1, out)
    elif isinstance(value, (list, tuple)):
        _check_depth(depth + 1)
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, depth + 1, out)
        out.append("]")
    else:
        raise CanonicalJSONError(f"a {type(value).__name__} is not a JSON value")


def _integer_text(value: int) -> str:
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return int.__repr__(value)
    # Larger integers are numbers too, written as their double; one no double equals is refused.
    try:
        double = float(value)
    except OverflowError:
        double = math.inf
    if not math.isfinite(double) or int(double) != value:
        raise CanonicalJSONError("an integer no double can hold exactly (beyond ±2^53)")
    return number(double)


def _write_object(value: dict, depth: int, out: list) -> None:
    _check_depth(depth)
    if not all(isinstance(k, str) for k in value):
        raise CanonicalJSONError("object keys must be strings")
    keys = sorted(value)  # code point order: the same as UTF-16's unless a key is astral
    if _ASTRAL.search("".join(keys)):
        keys.sort(key=_utf16_order)
    out.append("{")
    for i, key in enumerate(keys):
        if i:
            out.append(",")
        out.append(_quote(key))
        out.append(":")
        _write(value[key], depth, out)
    out.append("}")


def _check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CanonicalJSONError(f"nested deeper than {MAX_DEPTH} levels")


def _utf16_order(key: str) -> bytes:
    # RFC 8785 sorts by UTF-16 code units: U+10000 and above sort before U+E000-U+FFFF.
    return key.encode("utf-16-be", "surrogatepass")


def number(value: float) -> str:
    """Write a double as ECMAScript's Number.prototype.toString does (RFC 8785 3.2.2.3)."""
    if not math.isfinite(value):
        raise CanonicalJSONError("NaN and Infinity are not JSON numbers")
    if value == 0:
        return "0"  # -0 too
    digits, n = _shortest_digits(abs(value))
    sign = "-" if value < 0 else ""
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if n > 1 else '-'}{abs(n - 1)}"


def _shortest_digits(value: float) -> tuple[str, int]:
    """Return (digits, n) with value = 0.digits × 10^n, digits the shortest that round-trip."""
    # repr() gives the shortest round-tripping digits, nearest to the value: ECMAScript's choice.
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    all_digits = whole + fraction
    significant = all_digits.lstrip("0")
    n = len(whole) + int(exponent or 0) - (len(all_digits) - len(significant))
    return significant.rstrip("0"), n
