// Canonical JSON (RFC 8785), byte for byte as intake/canonical.py writes it.
//
// The rules are in docs/envelope.md ("Canonical JSON"). JavaScript's own
// JSON.stringify already writes numbers and strings the RFC 8785 way; what
// is added here is the key order (UTF-16 code units: JavaScript's default
// sort), and the refusals the Python writer makes: lone surrogates, NaN and
// the infinities, values that are not JSON, nesting deeper than MAX_DEPTH.

export const MAX_DEPTH = 32; // arrays and objects inside each other; the record is one

export class CanonicalJSONError extends Error {
  name = "CanonicalJSONError"; // written out: the minified bundle renames classes
}

/** Return the canonical JSON of a value as UTF-8 bytes. */
export function canonicalJSON(value) {
  const out = [];
  write(value, 0, out);
  return new TextEncoder().encode(out.join(""));
}

function write(value, depth, out) {
  if (value === null || value === true || value === false) {
    out.push(String(value));
  } else if (typeof value === "string") {
    out.push(quote(value));
  } else if (typeof value === "number") {
    // Every JSON number is a double; so is every JavaScript number.
    if (!Number.isFinite(value)) {
      throw new CanonicalJSONError("NaN and Infinity are not JSON numbers");
    }
    out.push(JSON.stringify(value)); // Number.prototype.toString, and -0 as "0"
  } else if (Array.isArray(value)) {
    checkDepth(depth + 1);
    out.push("[");
    for (let i = 0; i < value.length; i++) {
      if (i) out.push(",");
      write(value[i], depth + 1, out);
    }
    out.push("]");
  } else if (isPlainObject(value)) {
    writeObject(value, depth + 1, out);
  } else {
    throw new CanonicalJSONError(`a ${kindOf(value)} is not a JSON value`);
  }
}

function writeObject(value, depth, out) {
  checkDepth(depth);
  // Default sort compares UTF-16 code units, as RFC 8785 asks.
  const keys = Object.keys(value).sort();
  out.push("{");
  keys.forEach((key, i) => {
    if (i) out.push(",");
    out.push(quote(key), ":");
    write(value[key], depth, out);
  });
  out.push("}");
}

// A Date, a Map or a typed array would come out as something else (a string,
// "{}"): refused, as Python refuses them, rather than silently changed.
function isPlainObject(value) {
  if (typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function kindOf(value) {
  if (typeof value !== "object") return typeof value; // undefined, bigint, function, symbol
  return Object.getPrototypeOf(value)?.constructor?.name || "object";
}

function checkDepth(depth) {
  if (depth > MAX_DEPTH) {
    throw new CanonicalJSONError(`nested deeper than ${MAX_DEPTH} levels`);
  }
}

function quote(text) {
  if (!isWellFormed(text)) {
    // JSON.stringify would write "\ud800": valid JSON, but not Unicode text.
    throw new CanonicalJSONError("a string holds a lone surrogate, which is not Unicode text");
  }
  return JSON.stringify(text); // escapes exactly '"', '\' and U+0000 to U+001F
}

function isWellFormed(text) {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1); // NaN past the end
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return false;
    }
  }
  return true;
}
