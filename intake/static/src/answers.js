// Answers: what was typed for one question, cleaned and checked by its type.
//
// This mirrors intake/questionnaire/answers.py (clean_answer) rule for rule.
// The node is the reference: what the browser keeps offline must be what the
// node would have kept had it been reached, and refused with the same
// message. tests/test_js_answers.py feeds both the same inputs for every
// question of every questionnaire and requires the same outcome; change a
// rule there first, then here. An error is named by its key in answers.MESSAGES,
// which the page shows in the officer's words (offline_page.INTERFACE).

import { isAnswered } from "./questionnaire.js";

const TEXT_LIMITS = { short_text: 200, long_text: 5000 };

// What Python's str.strip() takes away (str.isspace). JavaScript's trim() is
// not the same: it takes U+FEFF too, and leaves U+001C..U+001F and U+0085.
const SPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

// int() and float() read digits with single underscores between them ("1_000").
const DIGITS = "[0-9]+(?:_[0-9]+)*";
const INTEGER = new RegExp(`^[+-]?${DIGITS}$`);
const FLOAT = new RegExp(
  `^[+-]?(?:${DIGITS}(?:\\.(?:${DIGITS})?)?|\\.${DIGITS})(?:[eE][+-]?${DIGITS})?$`,
);
// float() reads these too; each is refused as not finite, as Python refuses it.
const NOT_FINITE = /^[+-]?(?:inf|infinity|nan)$/i;
// int() refuses a string of more digits than this (sys.int_info.default_max_str_digits).
const MAX_INTEGER_DIGITS = 4300;
const DECIMAL = /\p{Nd}/u;
const COUNTRY = /^[A-Z]{2}$/; // ISO 3166-1 alpha-2
const LANGUAGE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/; // BCP 47, simplified

const problem = (name, params = {}) => [null, { name, params }];

/**
 * Return [clean value or null, error {name, params} or null] (answers.clean_answer).
 *
 * `given` is what the form holds: a string or null, or for a multiple choice
 * the list of strings FormData.getAll gives. `today` (YYYY-MM-DD) is the date
 * a bound "today" stands for: the tablet's own day, as the node uses its own.
 */
export function cleanAnswer(question, given, today = localToday()) {
  const raw = rawValue(question, given);
  if (!isAnswered(raw)) return question.required ? problem("required") : [null, null];
  const ids = question.choices.map((c) => c.id);
  if (question.type === "multiple_choice") {
    if (!raw.every((v) => ids.includes(v))) return problem("choices");
    return [ids.filter((id) => raw.includes(id)), null];
  }
  if (Array.isArray(raw)) return problem("single");
  if (question.type === "number") return cleanNumber(question, raw);
  if (question.type === "date") return cleanDate(question, raw, today);
  if (question.type === "country") return cleanCode(raw.toUpperCase(), COUNTRY, "country");
  if (question.type === "language") return cleanCode(languageTag(raw), LANGUAGE, "language");
  if (question.type in TEXT_LIMITS) return cleanText(question, raw);
  return ids.includes(raw) ? [raw, null] : problem("choice");
}

/** Strings stripped, a multiple choice always a list without its empty entries (_raw_value). */
function rawValue(question, given) {
  const value = question.type === "multiple_choice" && typeof given === "string" ? [given] : given;
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === "string" ? strip(v) : v)).filter(isAnswered);
  }
  return typeof value === "string" ? strip(value) : value;
}

/** Python's str.strip(): the string without the whitespace at either end. */
function strip(text) {
  let start = 0;
  let end = text.length;
  while (start < end && SPACE.test(text[start])) start += 1;
  while (end > start && SPACE.test(text[end - 1])) end -= 1;
  return text.slice(start, end);
}

function cleanNumber(question, raw) {
  const text = asciiDigits(raw);
  if (question.integer) {
    const digits = text.replace(/^[+-]/, "").replaceAll("_", "");
    if (!INTEGER.test(text) || digits.length > MAX_INTEGER_DIGITS) return problem("integer");
    // Python's int has no negative zero: "-0" is 0.
    const value = Number(text.replaceAll("_", "")) + 0;
    // Without bounds of its own, a whole number stays one the sealed record can
    // hold exactly (the node's rule). Beyond a double it is infinite here, and so
    // beyond either bound, as Python's int is.
    const bounds = {
      min: question.min ?? -Number.MAX_SAFE_INTEGER,
      max: question.max ?? Number.MAX_SAFE_INTEGER,
    };
    return outOfRange(bounds, value) || [value, null];
  }
  if (!FLOAT.test(text) && !NOT_FINITE.test(text)) return problem("number");
  const value = NOT_FINITE.test(text) ? NaN : Number(text.replaceAll("_", ""));
  if (!Number.isFinite(value)) return problem("number");
  return outOfRange(question, value) || [value, null];
}

function outOfRange(question, value) {
  const { min, max } = question;
  if (min !== null && value < min) return problem("too_small", { min });
  if (max !== null && value > max) return problem("too_large", { max });
  return null;
}

/**
 * Every decimal digit (Unicode's Nd: ١٢, １２) as its ASCII digit, as int() and
 * float() read them. Unicode encodes each script's digits as a run of ten,
 * 0 to 9, so a digit's value is its distance from the start of its run.
 */
function asciiDigits(text) {
  return text.replace(/\p{Nd}/gu, (digit) => {
    const code = digit.codePointAt(0);
    let first = code;
    while (DECIMAL.test(String.fromCodePoint(first - 1))) first -= 1;
    return String((code - first) % 10);
  });
}

function cleanDate(question, raw, today) {
  // date.fromisoformat refuses any digit but ASCII's, and year 0, which Date would take.
  const parts = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(raw);
  const [year, month, day] = parts ? parts.slice(1).map(Number) : [0, 0, 0];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) {
    return problem("date");
  }
  // YYYY-MM-DD strings sort as the dates they name.
  const bound = (b) => (b === "today" ? today : b);
  const low = question.min ? bound(question.min) : null;
  const high = question.max ? bound(question.max) : null;
  if (low && raw < low) return problem("too_early", { min: low });
  if (high && raw > high) return problem("too_late", { max: high });
  return [raw, null];
}

function daysIn(year, month) {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/** A code chosen from a list (country, language): kept if it has the code's form. */
function cleanCode(value, pattern, name) {
  return value && pattern.test(value) ? [value, null] : problem(name);
}

/** The primary subtag lower-cased; as str.partition, "en-" is "en" (_language_tag). */
function languageTag(raw) {
  const at = raw.indexOf("-");
  const primary = at < 0 ? raw : raw.slice(0, at);
  const rest = at < 0 ? "" : raw.slice(at + 1);
  return primary.toLowerCase() + (rest ? `-${rest}` : "");
}

/** Text up to the question's length in code points, as Python counts; short text on one line. */
function cleanText(question, raw) {
  const value = raw.replaceAll("\r\n", "\n");
  const limit = question.max_length || TEXT_LIMITS[question.type];
  if (question.type === "short_text" && value.includes("\n")) return problem("one_line");
  return [...value].length > limit ? problem("too_long", { max: limit }) : [value, null];
}

/** The tablet's date, as date.today() gives the node's: local, not UTC. */
function localToday() {
  const now = new Date();
  const two = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())}`;
}
