"""The browser's sealer writes envelope v1 and canonical JSON byte for byte as Python does.

Node runs the very bundle the field app loads (intake/static/build/envelope.js,
built by `make js` from intake/static/src/) with WebCrypto, as a browser
would; the Python reader opens what it seals.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from intake import canonical, crypto, envelope
from intake.workspace.opening import Opener
from tests.conftest import run_intake
from tests.test_canonical import NUMBERS
from tests.workspaces import screening_record

ROOT = Path(__file__).parent.parent
BUNDLE = ROOT / "intake" / "static" / "build" / "envelope.js"
# What the bundle is made of: a bundle older than any of them was not rebuilt.
BUNDLE_INPUTS = [
    ROOT / "intake" / "static" / "src" / "envelope.js",
    ROOT / "intake" / "static" / "src" / "canonical.js",
    ROOT / "intake" / "static" / "src" / "clock.js",
    ROOT / "scripts" / "build-js",
    ROOT / "package-lock.json",
]
NODE = shutil.which("node")
DEVICE = "0123456789abcdef"
ANSWERS = {
    "danger_now": "yes", "controller_nearby": "no", "under_18": "no", "age": 34,
    "consent_explained": "yes", "consent": "yes", "present": ["interpreter_remote"],
    "gender": "woman", "nationality": "ER", "current_location": "ሽረ, ትግራይ",
    "recruitment_country": "ER", "recruitment_date": "2025-01-02",
    "transit_places": "الخرطوم; طرابلس", "exploitation_country": "LY",
    "exploitation_date": "2025-03-04", "recruitment_channel": "online",
    "recruitment_app": "whatsapp", "recruiter_role": ["recruiter", "smuggler"],
    "exploitation_type": ["forced_work"], "labour_sector": "construction",
    "free_to_leave": "no", "leave_consequence": 'ይወቕዑኒ ነይሮም 😢\n"they kept my passport"',
    "dr1": "yes", "dr2": "yes", "cr1": "yes", "ex1": "yes", "ex2": "yes", "cd1": "yes",
    "cd3": "yes", "anything_else": "هل أنت في أمان الآن؟ \u2028\t\x00\x1f\x7f\\/",
}  # fmt: skip
OPTIONS = {
    "kind": "screening",
    "created": "2026-03-14T09:41:07Z",
    "device": DEVICE,
    "questionnaire": "screening-full@2.0.0",
}


@pytest.fixture(scope="module")
def bundle() -> Path:
    """The built bundle: skipped without Node.js (failed under CI), failed when stale."""
    if NODE is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the browser sealer's tests: install Node.js (nodejs npm)")
        pytest.skip("no Node.js here (apt-get install nodejs npm, then `make js`)")
    if not BUNDLE.exists():
        pytest.fail(f"{BUNDLE.relative_to(ROOT)} is missing: run `make js`")
    newer = [p.name for p in BUNDLE_INPUTS if p.stat().st_mtime > BUNDLE.stat().st_mtime]
    if newer:
        pytest.fail(f"the bundle is older than {', '.join(newer)}: run `make js`")
    return BUNDLE


def node_command(script: str) -> list[str]:
    return [NODE, "--input-type=module", "-e", script]


def node_env(bundle: Path) -> dict:
    return {**os.environ, "BUNDLE": bundle.as_uri()}


def run_node(bundle: Path, script: str, data: bytes = b""):
    """Run an ES module script that imports the bundle from $BUNDLE; return its JSON answer."""
    done = subprocess.run(
        node_command(script),
        input=data,
        capture_output=True,
        env=node_env(bundle),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return json.loads(done.stdout)


# Jobs in, answers out: {envelope: hex} or {error: name}. Any fetch throws:
# sealing needs no network (the tablet has none when it seals).
SEAL = r"""
globalThis.fetch = () => { throw new Error("the sealer tried to fetch"); };
const { sealRecord } = await import(process.env.BUNDLE);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const answers = [];
for (const job of JSON.parse(Buffer.concat(chunks).toString("utf8"))) {
  const keys = job.recipients.map((hex) => new Uint8Array(Buffer.from(hex, "hex")));
  try {
    const sealed = await sealRecord(job.record, keys, job.options);
    answers.push({ envelope: Buffer.from(sealed).toString("hex") });
  } catch (e) {
    answers.push({ error: e.name, message: e.message });
  }
}
process.stdout.write(JSON.stringify(answers));
"""


def seal_in_node(bundle: Path, jobs: list[dict]) -> list[dict]:
    """Seal every job in one node process; envelopes come back as bytes."""
    answers = run_node(bundle, SEAL, json.dumps(jobs).encode())
    for answer in answers:
        if "envelope" in answer:
            answer["envelope"] = bytes.fromhex(answer["envelope"])
    return answers


def job(record, keys, **options) -> dict:
    """A sealing job: recipients as the field app gets them, SPKI DER."""
    return {"record": record, "recipients": [der(k) for k in keys], "options": options}


def der(key) -> str:
    public = key.public_key() if hasattr(key, "public_key") else key
    return crypto.spki_der(public).hex()


def key_ids(*keys) -> list[str]:
    return [crypto.key_id(k.public_key()) for k in keys]


@pytest.fixture(scope="module")
def record() -> dict:
    record = screening_record(ANSWERS, device=DEVICE, questionnaire="screening-full", language="ti")
    assert record["answers"]["anything_else"] == ANSWERS["anything_else"]  # answers were kept
    record["assessment"]["score"] = 0.1 + 0.2  # a double with no short decimal form
    return record


@pytest.fixture(scope="module")
def sealed(bundle, record, coordinator_key, second_key) -> bytes:
    [answer] = seal_in_node(bundle, [job(record, [coordinator_key, second_key], **OPTIONS)])
    return answer["envelope"]


# -- what the browser seals, Python opens ----------------------------------


def test_each_recipient_opens_exactly_the_record(sealed, record, coordinator_key, second_key):
    for key in (coordinator_key, second_key):
        opened, record_bytes = Opener(key, crypto.key_id(key.public_key())).open(sealed)
        assert record_bytes == canonical.encode(record)
        assert json.loads(record_bytes) == record
        assert opened.header == {
            **OPTIONS,
            "id": record["id"],
            "recipients": key_ids(coordinator_key, second_key),
        }


def test_intake_open_reads_it(sealed, record, keys, passphrase_file, tmp_path):
    path = tmp_path / "sealed-in-the-browser.env"
    path.write_bytes(sealed)
    header = envelope.parse_envelope(sealed).header
    for key_file in (keys[0], keys[2]):
        done = run_intake(
            "open", "--key", key_file, "--passphrase-file", passphrase_file, "--with-header", path
        )
        assert done.returncode == 0, done.stderr.decode()
        assert json.loads(done.stdout) == {"header": header, "record": record}


def _framing(data: bytes) -> bytes:
    """Return the envelope with its random parts (sealed keys, nonce, ciphertext) zeroed."""
    parsed = envelope.parse_envelope(data)
    out = bytearray(data)
    offset = 16 + len(parsed.header_bytes) + 1
    for stanza in parsed.stanzas:
        offset += 10  # key id and length stay
        out[offset : offset + len(stanza.sealed_key)] = bytes(len(stanza.sealed_key))
        offset += len(stanza.sealed_key)
    out[offset : offset + 12] = bytes(12)
    out[offset + 16 :] = bytes(len(data) - offset - 16)  # the ciphertext, after its length
    return bytes(out)


def test_every_byte_but_the_random_ones_is_what_python_writes(
    sealed, record, coordinator_key, second_key
):
    recipients = [coordinator_key.public_key(), second_key.public_key()]
    ours = envelope.seal_record(record, recipients, **OPTIONS).data
    assert len(sealed) == len(ours)
    assert _framing(sealed) == _framing(ours)
    assert _framing(sealed) != sealed  # the mask did hide something


# -- DESIGN invariant 4, for what the browser seals -----------------------


def test_every_single_byte_change_is_refused(sealed, coordinator_key):
    opener = Opener(coordinator_key, crypto.key_id(coordinator_key.public_key()))
    for i in range(len(sealed)):
        changed = bytearray(sealed)
        changed[i] ^= 0x01
        with pytest.raises(envelope.EnvelopeError):
            opener.open(bytes(changed))


# -- the same refusals and header fields as intake.envelope.seal_record ---

UUID_TEXT = "6f1c2c4e-8f0a-4f43-9b55-2d7f6c1c0e11"
SEALING_CASES = {
    "plain": ({"a": 1}, {}),
    "record-id-uppercase": ({"id": UUID_TEXT.upper()}, {}),
    "record-id-braces": ({"id": "{" + UUID_TEXT + "}"}, {}),
    "record-id-urn": ({"id": "urn:uuid:" + UUID_TEXT}, {}),
    "record-id-hex": ({"id": UUID_TEXT.replace("-", "")}, {}),
    "record-id-given-wins": (
        {"id": UUID_TEXT},
        {"recordId": "1d1f5e02-3c5b-4a4e-9a67-0b0e6f7c2d10"},
    ),
    "questionnaire-200-astral": ({}, {"questionnaire": "😀" * 200}),
    "kind-32": ({}, {"kind": "a" + "_9" * 15 + "z"}),
    "created-leap-day": ({}, {"created": "2028-02-29T23:59:59Z"}),
    "created-year-1": ({}, {"created": "0001-01-01T00:00:00Z"}),
    "refused:array": ([1], {}),
    "refused:string": ("x", {}),
    "refused:null": (None, {}),
    "refused:lone-surrogate": ({"a": "\ud800"}, {}),
    "refused:lone-surrogate-key": ({"\udc00": 1}, {}),
    "refused:too-deep": (
        {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
        {},
    ),
    "refused:record-id-uppercase": ({}, {"recordId": UUID_TEXT.upper()}),
    "refused:record-id-braces": ({}, {"recordId": "{" + UUID_TEXT + "}"}),
    "refused:record-id-number": ({}, {"recordId": 7}),
    "refused:kind-capital": ({}, {"kind": "Screening"}),
    "refused:kind-33": ({}, {"kind": "a" * 33}),
    "refused:kind-newline": ({}, {"kind": "screening\n"}),
    "refused:created-30-february": ({}, {"created": "2026-02-30T12:00:00Z"}),
    "refused:created-hour-24": ({}, {"created": "2026-11-30T24:00:00Z"}),
    "refused:created-second-60": ({}, {"created": "2026-11-30T23:59:60Z"}),
    "refused:created-year-0": ({}, {"created": "0000-01-01T00:00:00Z"}),
    "refused:created-space": ({}, {"created": "2026-11-30 12:00:00Z"}),
    "refused:created-fraction": ({}, {"created": "2026-11-30T12:00:00.000Z"}),
    "refused:created-arabic-digits": ({}, {"created": "٢٠٢٦-11-30T12:00:00Z"}),
    "refused:device-name": ({}, {"device": "someone"}),
    "refused:device-number": ({}, {"device": 7}),
    "refused:device-uppercase": ({}, {"device": DEVICE.upper()}),
    "refused:questionnaire-201": ({}, {"questionnaire": "q" * 201}),
    "refused:questionnaire-number": ({}, {"questionnaire": 1}),
    "refused:questionnaire-surrogate": ({}, {"questionnaire": "\ud800"}),
}
PYTHON_OPTION = {"recordId": "record_id"}


def _python_header(record, keys, options) -> dict | None:
    kwargs = {PYTHON_OPTION.get(k, k): v for k, v in options.items()}
    try:
        sealed = envelope.seal_record(record, [k.public_key() for k in keys], **kwargs)
    except (envelope.RecordError, canonical.CanonicalJSONError):
        return None
    return envelope.parse_envelope(sealed.data).header


def test_node_refuses_and_accepts_what_python_does(bundle, coordinator_key):
    keys = [coordinator_key, coordinator_key]  # one key twice: one stanza
    names = list(SEALING_CASES)
    answers = seal_in_node(bundle, [job(r, keys, **o) for r, o in SEALING_CASES.values()])
    for name, (record, options), answer in zip(names, SEALING_CASES.values(), answers, strict=True):
        python = _python_header(record, keys, options)
        if name.startswith("refused:"):
            assert python is None, name
            assert answer.get("error") == "RecordError", (name, answer)
            continue
        assert "envelope" in answer, (name, answer)
        header = envelope.parse_envelope(answer["envelope"]).header
        assert header["recipients"] == key_ids(coordinator_key)
        if "created" not in options:  # both say "now", a moment apart
            header["created"] = python["created"]
        if "id" not in record and "recordId" not in options:  # a fresh UUID on each side
            assert header["id"][14] == "4" and header["id"] != python["id"]
            header["id"] = python["id"]
        assert header == python, name
        assert Opener(coordinator_key, header["recipients"][0]).open(answer["envelope"])


def test_recipient_keys_are_p256_spki_der_in_their_one_form(bundle, coordinator_key):
    good = bytes.fromhex(der(coordinator_key))
    p384 = der(ec.generate_private_key(ec.SECP384R1()))
    compressed = coordinator_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    off_curve = good[:27] + bytes(range(1, 65))
    recipients = {
        "p-384": [p384],
        "compressed-point": [(good[:26] + compressed).hex()],
        "truncated": [good[:-1].hex()],
        "trailing-byte": [(good + b"\x00").hex()],
        "point-not-on-the-curve": [off_curve.hex()],
        "none": [],
        "seventeen": [der(crypto.new_recipient_key()) for _ in range(17)],
    }
    jobs = [{"record": {}, "recipients": r, "options": {}} for r in recipients.values()]
    answers = seal_in_node(bundle, jobs)
    assert [a.get("error") for a in answers] == ["RecordError"] * len(recipients), answers


# -- canonical JSON: node and Python write the same bytes -----------------

# One node process reads JSON lines and answers each with the hex of its
# canonical JSON, or "refused": many values for one start of node.
CANONICAL = r"""
import { createInterface } from "node:readline";
const { canonicalJSON, CanonicalJSONError } = await import(process.env.BUNDLE);
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  let answer;
  try {
    answer = Buffer.from(canonicalJSON(JSON.parse(line))).toString("hex");
  } catch (e) {
    if (!(e instanceof CanonicalJSONError)) throw e;
    answer = "refused";
  }
  process.stdout.write(answer + "\n");
}
"""


class NodeCanonical:
    """A node process that writes the canonical JSON of each value, one line each way."""

    def __init__(self, bundle: Path):
        self.process = subprocess.Popen(
            node_command(CANONICAL),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=node_env(bundle),
        )

    def encode(self, value) -> bytes | None:
        """Return node's canonical JSON of a value, None if it refused it."""
        self.process.stdin.write(json.dumps(value).encode("ascii") + b"\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        assert answer, "node stopped"
        return None if answer == b"refused" else bytes.fromhex(answer.decode())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.stdout.close()
        assert self.process.wait(timeout=60) == 0


@pytest.fixture(scope="module")
def node_canonical(bundle):
    writer = NodeCanonical(bundle)
    yield writer
    writer.close()


def python_encode(value) -> bytes | None:
    """Return Python's canonical JSON of the value node got, None if refused."""
    # As JSON text, two lone surrogates that make a pair are one character:
    # compare what both sides read from the same text.
    try:
        return canonical.encode(json.loads(json.dumps(value)))
    except canonical.CanonicalJSONError:
        return None


def _nested(depth: int):
    value = {}
    for i in range(depth - 1):
        value = [value] if i % 2 else {"k": value}
    return value


def _corpus() -> list:
    rng = random.Random(8785)  # noqa: S311 - test data, not a secret
    doubles = [struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0] for _ in range(3000)]
    return [
        *(struct.unpack(">d", bytes.fromhex(bits))[0] for bits in NUMBERS),
        *(d for d in doubles if d == d and abs(d) != float("inf")),
        *(rng.randint(-(2**53), 2**53) for _ in range(500)),
        0.1 + 0.2, 1e21, 1e-7, 1e20, 123e-20, -0.0, 2**53, -(2**53), 2**53 - 1,
        {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7},
        {"10": 1, "9": 2, "__proto__": 3, "constructor": 4, "": 5, "toString": [6]},
        '"\\/\b\f\n\r\t\x00\x0f\x1f\x7f\u2028\u2029é😀ሰላም',
        "\ud800", "\udfff", "a\ud83d", "\ude00b", "\ud83d\ude00", {"\ud800": 1}, ["\udc00"],
        _nested(32), _nested(33), [_nested(32)], {"k": _nested(32)},
    ]  # fmt: skip


def test_node_writes_what_python_writes_for_a_fixed_corpus(node_canonical):
    corpus = _corpus()
    differ = [v for v in corpus if node_canonical.encode(v) != python_encode(v)]
    assert differ == []
    assert python_encode(_nested(33)) is None and python_encode(_nested(32)) is not None


characters = (
    st.characters() | st.characters(categories=["Cs"]) | st.sampled_from('😀\ufb33\x00\x1f"\\')
)
keys = st.text(characters, max_size=6) | st.sampled_from(["__proto__", "constructor", "10", "9"])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(characters),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=16,
)


@settings(max_examples=600, deadline=None)
@given(value=json_values)
def test_property_node_writes_what_python_writes(node_canonical, value):
    assert node_canonical.encode(value) == python_encode(value)


# Values only JavaScript has: each must be refused, never written as something else.
JAVASCRIPT_ONLY = r"""
const { canonicalJSON, sealRecord } = await import(process.env.BUNDLE);
const cyclic = {}; cyclic.self = cyclic;
const values = {
  undefined: undefined, nan: NaN, infinity: -Infinity, bigint: 1n, date: new Date(0),
  map: new Map(), bytes: new Uint8Array(2), function: () => 1, symbol: Symbol("s"),
  hole: [1, , 3], cyclic, instance: new (class Answer {})(), boxed: new String("x"),
};
const answers = {};
for (const [name, value] of Object.entries(values)) {
  try { canonicalJSON({ value }); answers[name] = "written"; } catch (e) { answers[name] = e.name; }
}
const curve = { name: "ECDH", namedCurve: "P-256" };
const pair = await crypto.subtle.generateKey(curve, true, ["deriveBits"]);
const key = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
try { await sealRecord({ when: new Date(0) }, [key]); } catch (e) { answers.seal = e.name; }
process.stdout.write(JSON.stringify(answers));
"""


def test_values_only_javascript_has_are_refused(bundle):
    answers = run_node(bundle, JAVASCRIPT_ONLY)
    assert answers.pop("seal") == "RecordError"
    assert answers == dict.fromkeys(answers, "CanonicalJSONError")


# -- the bundle itself ----------------------------------------------------

# What would reach for the network or run text as code.
FORBIDDEN = re.compile(
    r"\bfetch\b|XMLHttpRequest|WebSocket|EventSource|sendBeacon|importScripts|\bWorker\b"
    r"|\bimport\s*\(|\beval\b|\bFunction\s*\(|https?://\w|\brequire\s*\("
)


def test_the_bundle_fetches_nothing_and_evaluates_no_text(bundle):
    text = bundle.read_text("utf-8")
    assert FORBIDDEN.findall(text) == []
    assert "sealRecord" in text and "export" in text  # an ES module, the sealer in it
