"""Canonical JSON (RFC 8785): the byte form a browser sealer must reproduce exactly."""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake import canonical
from intake.canonical import CanonicalJSONError

# RFC 8785 appendix B: IEEE 754 bit patterns and how ECMAScript writes them.
NUMBERS = {
    "0000000000000000": "0",
    "8000000000000000": "0",
    "0000000000000001": "5e-324",
    "8000000000000001": "-5e-324",
    "7fefffffffffffff": "1.7976931348623157e+308",
    "ffefffffffffffff": "-1.7976931348623157e+308",
    "4340000000000000": "9007199254740992",
    "c340000000000000": "-9007199254740992",
    "4430000000000000": "295147905179352830000",
    "44b52d02c7e14af5": "9.999999999999997e+22",
    "44b52d02c7e14af6": "1e+23",
    "44b52d02c7e14af7": "1.0000000000000001e+23",
    "444b1ae4d6e2ef4e": "999999999999999700000",
    "444b1ae4d6e2ef4f": "999999999999999900000",
    "444b1ae4d6e2ef50": "1e+21",
    "3eb0c6f7a0b5ed8c": "9.999999999999997e-7",
    "3eb0c6f7a0b5ed8d": "0.000001",
    "41b3de4355555553": "333333333.3333332",
    "41b3de4355555554": "333333333.33333325",
    "41b3de4355555555": "333333333.3333333",
    "41b3de4355555556": "333333333.3333334",
    "41b3de4355555557": "333333333.33333343",
    "becbf647612f3696": "-0.0000033333333333333333",
    "43143ff3c1cb0959": "1424953923781206.2",
}


@pytest.mark.parametrize("bits, text", NUMBERS.items())
def test_numbers_are_written_as_rfc_8785_appendix_b(bits, text):
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical.encode(value) == text.encode()
    assert canonical.encode(canonical.decode(text.encode())) == text.encode()


def test_keys_sort_by_utf16_code_units_as_rfc_8785_3_2_3():
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    encoded = canonical.encode({k: i for i, k in enumerate(keys)})
    order = [k for k, _ in json.loads(encoded, object_pairs_hook=list)]
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_strings_escape_only_what_json_requires():
    text = '"\\/\b\f\n\r\t\x00\x0f\x1f\x7f\u2028é😀ሰላም'
    expected = '"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u000f\\u001f\x7f\u2028é😀ሰላም"'
    assert canonical.encode(text) == expected.encode("utf-8")


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        "\ud800",
        {"\udc00": 1},
        2**53 + 1,
        10**400,
        {1: "a"},
        b"bytes",
        {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
    ],
    ids=["nan", "inf", "surrogate", "surrogate-key", "2^53+1", "huge", "int-key", "bytes", "deep"],
)
def test_values_without_a_canonical_form_are_refused(value):
    with pytest.raises(CanonicalJSONError):
        canonical.encode(value)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b'{"a":1,"a":1}',
        b'{"a":1} ',
        b' {"a":1}',
        b'{"a":1}\n',
        b'{"b":1,"a":1}',
        b'{"a" :1}',
        b'"\\/"',
        b'"\\u00e9"',
        b'"\\u001F"',
        b'"\\u000a"',
        b'"\\ud83d\\ude00"',
        b'"\\ud800"',
        b"1.0",
        b"1E3",
        b"1e3",
        b"-0",
        b"0.10",
        b"1e21",
        b"NaN",
        b"9007199254740993",
        b"\xef\xbb\xbf{}",
        b'"\xed\xa0\x80"',
        b'"\xc0\xaf"',
    ],
)
def test_decode_refuses_every_other_form(raw):
    with pytest.raises(CanonicalJSONError):
        canonical.decode(raw)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=16,
)


@settings(max_examples=400, deadline=None)
@given(value=json_values)
def test_property_encoding_reparses_and_reencodes_identically(value):
    encoded = canonical.encode(value)
    assert b"\n" not in encoded
    assert canonical.encode(canonical.decode(encoded)) == encoded
    # A reader that takes every number as a double (JavaScript's) gets the same value back.
    assert canonical.encode(json.loads(encoded, parse_int=float)) == encoded


def _reordered(value: dict) -> bytes:
    keys = list(json.loads(canonical.encode(value), object_pairs_hook=lambda p: [k for k, _ in p]))
    parts = [canonical.encode(k) + b":" + canonical.encode(value[k]) for k in reversed(keys)]
    return b"{" + b",".join(parts) + b"}"


@settings(max_examples=300, deadline=None)
@given(
    value=json_values,
    where=st.integers(0, 10**6),
    space=st.sampled_from([b" ", b"\n", b"\t", b"\r", b"  "]),
)
def test_property_whitespace_anywhere_is_refused(value, where, space):
    encoded = canonical.encode(value)
    # Whitespace is allowed between tokens only: next to a structural character, or at the ends.
    boundaries = [0, len(encoded)] + [
        i + 1 for i, c in enumerate(encoded) if c in b"{}[],:" and not _in_string(encoded, i)
    ]
    at = boundaries[where % len(boundaries)]
    with pytest.raises(CanonicalJSONError):
        canonical.decode(encoded[:at] + space + encoded[at:])


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(st.text(max_size=6), json_values, min_size=2, max_size=5))
def test_property_keys_in_another_order_are_refused(value):
    assert json.loads(_reordered(value)) == json.loads(canonical.encode(value))
    with pytest.raises(CanonicalJSONError):
        canonical.decode(_reordered(value))


def _in_string(encoded: bytes, index: int) -> bool:
    inside = escaped = False
    for c in encoded[:index]:
        if escaped:
            escaped = False
        elif c == ord("\\"):
            escaped = True
        elif c == ord('"'):
            inside = not inside
    return inside


JAVASCRIPT_CANONICAL = r"""
const canon = (v) =>
  v === null || typeof v !== "object" ? JSON.stringify(v)
  : Array.isArray(v) ? "[" + v.map(canon).join(",") + "]"
  : "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const lines = input.split("\n").filter((l) => l.length);
  process.stdout.write(lines.map((l) => canon(JSON.parse(l))).join("\n") + "\n");
});
"""


@pytest.mark.skipif(
    shutil.which("node") is None and os.environ.get("CI") != "true",
    reason="no JavaScript engine here (CI=true fails instead: the browser sealer needs this)",
)
def test_javascript_writes_the_same_bytes():
    """What a browser sealer would write (JSON.stringify, keys sorted by code unit) matches."""
    rng = random.Random(8785)  # noqa: S311 - test data, not a secret
    alphabet = ["a", "Z", "é", "\u20ac", "\ufb33", "\U0001f600", "\x00", "\x1f", "\x7f", '"', "\\"]

    def text():
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4)))

    def number():
        bits = rng.getrandbits(64)
        value = struct.unpack(">d", bits.to_bytes(8, "big"))[0]
        if value != value or value in (float("inf"), float("-inf")):
            return rng.randint(-(2**53) + 1, 2**53 - 1)
        return rng.choice([value, rng.uniform(-1e6, 1e6), round(rng.uniform(-100, 100), 2)])

    samples = [
        {text(): number(), text(): [number(), text(), None, True], "k": {text(): number()}}
        for _ in range(2000)
    ]
    ours = b"\n".join(canonical.encode(s) for s in samples) + b"\n"
    result = subprocess.run(
        ["node", "-e", JAVASCRIPT_CANONICAL], input=ours, capture_output=True, check=True
    )
    assert result.stdout == ours


def test_decode_sorts_astral_keys_by_utf16_too():
    """Code point order puts U+FB33 first; UTF-16 puts the emoji (a surrogate pair) first."""
    value = {"\U0001f600": 1, "\ufb33": 2}
    assert canonical.decode('{"\U0001f600":1,"\ufb33":2}'.encode()) == value
    with pytest.raises(CanonicalJSONError, match="not canonical"):
        canonical.decode('{"\ufb33":2,"\U0001f600":1}'.encode())
    assert canonical.decode(b'{"a":1.5,"b":[2]}') == {"a": 1.5, "b": [2]}  # the long way
    with pytest.raises(CanonicalJSONError, match="deeper"):
        canonical.decode(b"[" * 33 + b"]" * 33)
    assert canonical.decode(b"[" * 32 + b"]" * 32)
