// Seal a finished record in the browser as envelope format v1, the same
// bytes intake/envelope.py writes (docs/envelope.md is the specification).
//
// Threat note: the tablet may be lost or seized. Once sealed, the record is
// readable only with a recipient's private key, which never comes near a
// browser; the content key lives in this function's memory and nowhere else.
// Every primitive comes from WebCrypto, HPKE from the npm package @hpke/core
// (on WebCrypto too); nothing cryptographic is written here.

import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from "@hpke/core";

import { CanonicalJSONError, canonicalJSON } from "./canonical.js";
import { utcNow } from "./clock.js";

export { CanonicalJSONError, canonicalJSON };

const MAGIC = [0x49, 0x4e, 0x54, 0x41, 0x4b, 0x45]; // "INTAKE"
const TYPE_ENVELOPE = 0x45; // "E"
const VERSION = 1;
const KEM_ID = 0x0010; // DHKEM(P-256, HKDF-SHA256)
const KDF_ID = 0x0001; // HKDF-SHA256
const AEAD_ID = 0x0002; // AES-256-GCM
const PAD_BLOCK = 512;
const MAX_HEADER_LENGTH = 4096;
const MAX_RECIPIENTS = 16;
const MAX_RECORD_LENGTH = 4 * 1024 * 1024; // padded plaintext
const MAX_TEXT_LENGTH = 200;
const SEALED_KEY_LENGTH = 65 + 32 + 16; // enc, content key, tag
const INFO_LABEL = new TextEncoder().encode("intake-envelope-v1\0");
// The one SPKI DER form of a P-256 key with an uncompressed point (docs/envelope.md,
// "Recipient lists"): the key id is a digest of these bytes, so no other form is taken.
const P256_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
  0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
]);
const P256_SPKI_LENGTH = P256_SPKI_PREFIX.length + 64;

const KIND = /^[a-z][a-z0-9_]{0,31}$/;
const KEY_ID = /^[0-9a-f]{16}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CREATED = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$/;

// Names written out: the minified bundle renames classes.
export class EnvelopeError extends Error {
  name = "EnvelopeError";
}

/** The record, a recipient key or a header field is not acceptable: nothing was sealed. */
export class RecordError extends EnvelopeError {
  name = "RecordError";
}

/** This browser cannot seal: no WebCrypto (not a secure context). */
export class NoWebCryptoError extends EnvelopeError {
  name = "NoWebCryptoError";
}

/**
 * Seal a record (a JSON object) to 1-16 recipients; return the envelope's bytes.
 *
 * `recipients` are P-256 public keys as SubjectPublicKeyInfo DER (Uint8Array).
 * Header fields as intake.envelope.seal_record takes them: `kind` ("record"),
 * `recordId` (else the record's own `id` when it is a UUID, else a fresh one),
 * `created` (else now, UTC), `device` (a device id, or null), `questionnaire`
 * ("screening-full@1", or null).
 */
export async function sealRecord(
  record,
  recipients,
  { kind = "record", recordId = null, created = null, device = null, questionnaire = null } = {},
) {
  const subtle = webCrypto().subtle;
  if (!isObject(record)) throw new RecordError("a record must be a JSON object");
  if (!Array.isArray(recipients) || recipients.length < 1 || recipients.length > MAX_RECIPIENTS) {
    throw new RecordError(`seal to between 1 and ${MAX_RECIPIENTS} recipients`);
  }
  // One stanza per key: a key listed twice is sealed to once.
  const byId = new Map();
  for (const der of recipients) {
    const id = await keyId(der);
    if (!byId.has(id)) byId.set(id, der);
  }
  let plaintext;
  try {
    plaintext = pad(canonicalJSON(record));
  } catch (e) {
    if (!(e instanceof CanonicalJSONError)) throw e;
    throw new RecordError(`the record cannot be written as canonical JSON: ${e.message}`);
  }
  if (plaintext.length > MAX_RECORD_LENGTH) throw new RecordError("record too large to seal");
  const header = {
    created: created || utcNow(),
    device,
    id: recordId || recordUuid(record),
    kind,
    questionnaire,
    recipients: [...byId.keys()],
  };
  const headerBytes = headerJSON(header);
  if (headerBytes.length > MAX_HEADER_LENGTH) throw new RecordError("envelope header too long");
  const head = concat([prefix(headerBytes.length), headerBytes]);
  const info = concat([INFO_LABEL, new Uint8Array(await subtle.digest("SHA-256", head))]);

  const contentKey = webCrypto().getRandomValues(new Uint8Array(32));
  try {
    const parts = [head, Uint8Array.of(byId.size)];
    for (const [id, der] of byId) {
      const sealed = await sealKey(contentKey, der, info);
      parts.push(hexBytes(id), uint16(sealed.length), sealed);
    }
    const associatedData = concat(parts);
    const nonce = webCrypto().getRandomValues(new Uint8Array(12));
    const key = await subtle.importKey("raw", contentKey, "AES-GCM", false, ["encrypt"]);
    const ciphertext = new Uint8Array(
      await subtle.encrypt(
        { name: "AES-GCM", iv: nonce, additionalData: associatedData, tagLength: 128 },
        key,
        plaintext,
      ),
    );
    return concat([associatedData, nonce, uint32(ciphertext.length), ciphertext]);
  } finally {
    contentKey.fill(0); // WebCrypto and HPKE hold their own copies; this one is ours to clear
  }
}

/** Return a recipient key's id: the first 16 hex digits of SHA-256 over its SPKI DER. */
export async function keyId(der) {
  checkRecipientKey(der);
  const digest = new Uint8Array(await webCrypto().subtle.digest("SHA-256", der));
  return toHex(digest.subarray(0, 8));
}

/** Pad to a multiple of PAD_BLOCK (ISO/IEC 7816-4: 0x80, then zeros). */
export function pad(plaintext) {
  const padded = new Uint8Array((Math.floor(plaintext.length / PAD_BLOCK) + 1) * PAD_BLOCK);
  padded.set(plaintext);
  padded[plaintext.length] = 0x80;
  return padded;
}

const suite = new CipherSuite({
  kem: new DhkemP256HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});

// HPKE base mode, one shot, empty aad: SealBase(pkR, info, "", K) = enc || ct.
async function sealKey(contentKey, der, info) {
  let recipientPublicKey;
  try {
    // The raw point; WebCrypto refuses a point that is not on the curve.
    recipientPublicKey = await suite.kem.deserializePublicKey(der.slice(P256_SPKI_PREFIX.length - 1));
  } catch {
    throw new RecordError("a recipient key is not a P-256 public key");
  }
  const { ct, enc } = await suite.seal({ recipientPublicKey, info }, contentKey);
  const sealed = concat([new Uint8Array(enc), new Uint8Array(ct)]);
  if (sealed.length !== SEALED_KEY_LENGTH) throw new EnvelopeError("HPKE gave a sealed key of another length");
  return sealed;
}

function checkRecipientKey(der) {
  const ok =
    der instanceof Uint8Array &&
    der.length === P256_SPKI_LENGTH &&
    P256_SPKI_PREFIX.every((byte, i) => der[i] === byte);
  if (!ok) {
    throw new RecordError("a recipient key must be P-256 SubjectPublicKeyInfo DER, point uncompressed");
  }
}

// The header's canonical JSON, checked first by the rules of
// intake.envelope.parse_header: never write what a reader refuses.
function headerJSON(h) {
  const fields = [
    ["id", typeof h.id === "string" && UUID.test(h.id)],
    ["kind", typeof h.kind === "string" && KIND.test(h.kind)],
    ["created", isUtcTime(h.created)],
    ["device", h.device === null || (typeof h.device === "string" && KEY_ID.test(h.device))],
    ["questionnaire", h.questionnaire === null || isShortText(h.questionnaire)],
  ];
  const wrong = fields.filter(([, ok]) => !ok).map(([name]) => name);
  if (wrong.length) throw new RecordError(`the header to seal has a wrong ${wrong.join(", ")}`);
  try {
    return canonicalJSON(h);
  } catch (e) {
    if (!(e instanceof CanonicalJSONError)) throw e;
    throw new RecordError(`the header to seal cannot be written: ${e.message}`);
  }
}

function isShortText(value) {
  // Code points, as Python counts; canonical JSON refuses a lone surrogate later.
  return typeof value === "string" && [...value].length <= MAX_TEXT_LENGTH;
}

function isUtcTime(value) {
  if (typeof value !== "string" || !CREATED.test(value) || value.startsWith("0000")) {
    return false;
  }
  // The pattern fixed the form; a date that rolls over (30 February, hour 24) comes back changed.
  const time = Date.parse(value);
  return !Number.isNaN(time) && new Date(time).toISOString() === value.replace("Z", ".000Z");
}


// As intake.envelope.record_uuid: the record's own UUID (in the forms Python's
// uuid.UUID reads: any case, braces, urn:uuid:, no hyphens) if it has one, else a fresh one.
function recordUuid(record) {
  const given = record.id;
  if (typeof given === "string") {
    const digits = given
      .replaceAll("urn:", "")
      .replaceAll("uuid:", "")
      .replace(/^[{}]+|[{}]+$/g, "")
      .replaceAll("-", "");
    if (/^[0-9a-fA-F]{32}$/.test(digits)) return uuidText(digits.toLowerCase());
  }
  const bytes = webCrypto().getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
  return uuidText(toHex(bytes));
}

function uuidText(hex) {
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
}

function prefix(headerLength) {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC);
  bytes[6] = TYPE_ENVELOPE;
  bytes[7] = VERSION;
  view.setUint16(8, KEM_ID);
  view.setUint16(10, KDF_ID);
  view.setUint16(12, AEAD_ID);
  view.setUint16(14, headerLength);
  return bytes;
}

function webCrypto() {
  const crypto = globalThis.crypto;
  if (!crypto?.subtle) {
    throw new NoWebCryptoError("WebCrypto is missing: open the app over https:// or on localhost");
  }
  return crypto;
}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function uint16(n) {
  return Uint8Array.of(n >> 8, n & 0xff);
}

function uint32(n) {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, n);
  return bytes;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function hexBytes(hex) {
  return Uint8Array.from(hex.match(/../g), (pair) => parseInt(pair, 16));
}
