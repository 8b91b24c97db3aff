"""Finding a canary answer in files, however it was written down (invariant 1).

Every canary scan uses `files_holding`: a leak in SQLite, a log, a temporary
file or a cache is found whether it was written as raw UTF-8, UTF-16 or
UTF-32, base64 (any of its three alignments, standard or URL-safe, wrapped or
not), hex, URL-encoding, JSON or Python \\u escapes, HTML character
references, or inside a gzip or zlib stream. SQLite stores text as it is
given, so these are the forms a leak would take.
"""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.parse
import zlib
from pathlib import Path

# zlib's two header bytes (no preset dictionary, any level) and gzip's magic.
_ZLIB_HEADERS = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")
_GZIP_MAGIC = b"\x1f\x8b\x08"
_MAX_INFLATED = 16 * 1024 * 1024


def _base64_forms(raw: bytes) -> list[bytes]:
    """The base64 text of `raw` at each of its three alignments within a longer string."""
    forms = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        # Keep only the characters that depend on the canary alone.
        start = 4 if offset else 0
        end = 4 * ((offset + len(raw)) // 3)
        forms.append(encoded[start:end])
    return forms


def encodings_of(needle: str) -> dict[str, bytes]:
    """Return every written form of the needle that a scan looks for, by name."""
    raw = needle.encode("utf-8")
    forms = {
        "utf-8": raw,
        "utf-16-le": needle.encode("utf-16-le"),
        "utf-16-be": needle.encode("utf-16-be"),
        "utf-32-le": needle.encode("utf-32-le"),
        "utf-32-be": needle.encode("utf-32-be"),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "url": urllib.parse.quote(needle, safe="").encode(),
        "url-lower": urllib.parse.quote(needle, safe="").lower().encode(),
        "url-plus": urllib.parse.quote_plus(needle).encode(),
        "json": json.dumps(needle).strip('"').encode(),
        "json-upper": json.dumps(needle).strip('"').encode().replace(b"\\u", b"\\U"),
        "python-escape": needle.encode("unicode_escape"),
        "html-decimal": "".join(f"&#{ord(c)};" for c in needle).encode(),
        "html-hex": "".join(f"&#x{ord(c):x};" for c in needle).encode(),
    }
    for i, form in enumerate(_base64_forms(raw)):
        forms[f"base64/{i}"] = form
        forms[f"base64url/{i}"] = form.replace(b"+", b"-").replace(b"/", b"_")
    # Where escapes are written in upper-case hex (\\u12AB), say so too.
    forms["json-upper-hex"] = "".join(
        c if ord(c) < 128 else f"\\u{ord(c):04X}" for c in needle
    ).encode()
    return {name: form for name, form in forms.items() if form}


def _inflated(data: bytes) -> list[bytes]:
    """Return the contents of every zlib or gzip stream that starts somewhere in data."""
    found = []
    starts = []
    for header in (*_ZLIB_HEADERS, _GZIP_MAGIC):
        at = data.find(header)
        while at != -1:
            starts.append((at, header == _GZIP_MAGIC))
            at = data.find(header, at + 1)
    view = memoryview(data)  # no copy per candidate: random bytes hold many "headers"
    for at, gzip in starts:
        wbits = 31 if gzip else 15
        with contextlib.suppress(zlib.error):
            # Random bytes fail within the first few; only a real stream is inflated whole.
            zlib.decompressobj(wbits).decompress(view[at : at + 4096])
            found.append(zlib.decompressobj(wbits).decompress(view[at:], _MAX_INFLATED))
    return [f for f in found if f]


def holds(data: bytes, needle: str) -> str | None:
    """Return the name of the form in which data holds the needle, or None."""
    forms = encodings_of(needle)
    unwrapped = data.replace(b"\r", b"").replace(b"\n", b"")
    for name, form in forms.items():
        if form in data or (name.startswith("base64") and form in unwrapped):
            return name
    for inner in _inflated(data):
        for name, form in forms.items():
            if form in inner:
                return f"compressed {name}"
    return None


def files_holding(folder: Path, needle: str) -> list[Path]:
    """Return every file under folder that holds the needle in any of its written forms."""
    hits = []
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and not path.is_symlink() and holds(path.read_bytes(), needle):
            hits.append(path)
    return hits


def describe(folder: Path, needle: str) -> list[str]:
    """Name each file holding the needle and the form it was found in (for failure messages)."""
    return [f"{p} ({holds(p.read_bytes(), needle)})" for p in files_holding(folder, needle)]
