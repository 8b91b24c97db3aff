"""Issue 11: the browser cleans every answer as the node does.

The offline interview cleans what is typed with intake/static/src/answers.js,
which mirrors intake/questionnaire/answers.py by hand: these rules are code,
not data the definition could carry. Every question of every questionnaire,
as written and as required, and questions of the kinds the files do not use
yet (a language, a number with a fraction, dates from today or unbounded),
gets the same raw input on both sides: hand-written edge cases per type and a
seeded sample. The node is the reference. Both must keep the same value, as
the sealed record writes it (canonical JSON, where 3 and 3.0 are one number),
or refuse it with the same message and the same values in it.

The inputs go through one node process, JSON lines in and out, as in
tests/test_js_assessment.py, whose helpers this uses. Without node the test
skips, except under CI=true.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from intake import canonical
from intake.field.offline_page import INTERFACE
from intake.questionnaire import Choice, Question, available_questionnaires, load_questionnaire
from intake.questionnaire.answers import TEXT_LIMITS, clean_answer
from intake.questionnaire.definition import _question
from tests.test_js_assessment import _differences, _node, results_of

SRC = Path(__file__).parent.parent / "intake" / "static" / "src"
MODULES = ("answers.js", "questionnaire.js", "assessment.js")
QUESTIONS_FILE = "questions.json"

# The name answers.js gives each refusal, and the English message the node
# gives for it (answers.MESSAGES): written here by hand, so that neither side
# is read to check the other.
TEMPLATES = {
    "required": "Please answer this question.",
    "choice": "Choose one of the answers shown.",
    "choices": "Choose only from the answers shown.",
    "single": "Give one answer only.",
    "integer": "Enter a whole number.",
    "number": "Enter a number.",
    "too_small": "Enter a number of at least %(min)s.",
    "too_large": "Enter a number of at most %(max)s.",
    "date": "Enter a date as year-month-day, for example 2024-03-31.",
    "too_early": "Enter a date on or after %(min)s.",
    "too_late": "Enter a date on or before %(max)s.",
    "country": "Choose a country from the list.",
    "language": "Choose a language from the list.",
    "too_long": "Shorten this answer to at most %(max)s characters.",
    "one_line": "Write this answer on one line.",
}

# Today as the node's clock gives it, and a leap day, for bounds of "today".
TODAYS = (dt.date.today(), dt.date(2024, 2, 29))

RUNNER = r"""
import { readFileSync } from "node:fs";
import { cleanAnswer } from "./answers.js";

const questions = JSON.parse(readFileSync(process.argv[2], "utf8"));
// Python's splitlines() ends a line at these too, which JSON leaves as they are.
const escape = (text) =>
  text.replace(/[\x85\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
const out = [];
for (const line of readFileSync(0, "utf8").split("\n")) {
  if (!line) continue;
  const c = JSON.parse(line);
  try {
    const [value, error] = cleanAnswer(questions[c.question], c.given, c.today);
    // JSON would write an infinite or missing number as null: such a value is wrong here.
    if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`kept ${value}`);
    out.push(escape(JSON.stringify(error ? { value, error } : { value })));
  } catch (error) {
    out.push(JSON.stringify({ threw: String(error) }));
  }
}
process.stdout.write(out.join("\n") + "\n");
"""


# -- The questions ------------------------------------------------------------------


def _extra_questions() -> dict[str, Question]:
    """Questions of kinds and limits the packaged files do not use (yet)."""
    yes_no = tuple(Choice(id=c, text=c.title()) for c in ("yes", "no", "unknown"))

    def question(ident: str, qtype: str, **fields) -> Question:
        return Question(id=ident, type=qtype, text=f"Extra {ident}?", **fields)

    found = [
        question("language", "language"),
        question("language_required", "language", required=True),
        question("whole", "number", min=-5, max=5),
        question("fraction", "number", integer=False, min=-1.5, max=2.5),
        question("fraction_open", "number", integer=False),
        question("date_open", "date"),
        question("date_from_today", "date", min="today"),
        question("date_required", "date", required=True, min="2000-01-01", max="2030-12-31"),
        question("short_default", "short_text"),
        question("short_three", "short_text", max_length=3),
        question("long_default", "long_text"),
        question("yes_no_required", "yes_no_unknown", choices=yes_no, required=True),
    ]
    return {f"extra/{q.id}": q for q in found}


def all_questions() -> dict[str, Question]:
    """Every question of every questionnaire, as written and as required, and the extras."""
    questions = {}
    for name in available_questionnaires():
        for q in load_questionnaire(name).questions:
            questions[f"{name}/{q.id}"] = q
            if not q.required:
                questions[f"{name}/{q.id}/required"] = dataclasses.replace(q, required=True)
    return questions | _extra_questions()


# -- The inputs, by type ------------------------------------------------------------

# Blank as Python's str.strip() sees it, or not: U+FEFF and U+200B are not space
# to Python; U+001C and U+0085 are, though JavaScript's trim() keeps them.
BLANKS = [None, "", " ", "\t\r\n", "\u00a0\u3000", "\x1c\x1f", "\x85", "\ufeff", "\u200b"]


def _around(text: str) -> list[str]:
    """The text with space of every kind about it."""
    return [
        text,
        f"  {text} ",
        f"\t{text}\r\n",
        f"\u3000{text}\u2029",
        f"\x1c{text}\x85",
        f"\ufeff{text}",
        f"{text}\u200b",
    ]


def _choice_inputs(q: Question) -> list:
    ids = list(q.choice_ids)
    junk = ["maybe", "0", "yes", "no", "unknown", "__proto__", "constructor", "toString"]
    return [*ids, *_around(ids[0]), ids[0].upper(), ids[0] + "x", " ".join(ids[:2]), *junk]


def _multiple_inputs(q: Question) -> list:
    ids = list(q.choice_ids)
    first, last = ids[0], ids[-1]
    return [
        [],
        [""],
        [" ", "\t", "\x85"],
        *([i] for i in ids),
        ids,
        ids[::-1],
        [first, first],
        [last, first, last],
        [first, f" {first} "],
        [first, "\x1c" + last],
        [first, ""],
        [first, "\ufeff"],
        [first, "nope"],
        ["nope"],
        [first.upper()],
        ["\ufeff" + first],
        ["__proto__"],
    ]


NUMBERS = [
    *_around("12"),
    "0",
    "+3",
    "-0",
    "+0",
    "-1",
    "00012",
    "1e3",
    "1E2",
    "1.5",
    "1.0",
    "1.",
    ".5",
    "-.5",
    ".",
    "1.5e1",
    "0x10",
    "0b1",
    "0o7",
    "١٢",  # Arabic-Indic digits: int() reads them
    "١٢٠",
    "١٢١",
    "۱۲",  # Persian digits
    "１２",  # fullwidth
    "𝟏𝟐",  # mathematical bold, outside the BMP
    "߁߂",  # N'Ko
    "١.٥",
    "٣e١",
    "1٢",
    "12abc",
    "abc",
    "1 2",
    "1,5",
    "1_000",
    "1_2",
    "1__2",
    "_12",
    "12_",
    "+_1",
    "1_2.5_0",
    "1e1_0",
    "1_e1",
    "1._5",
    "++1",
    "+-1",
    "--1",
    "-",
    "+",
    "e",
    "1e",
    "1e+",
    "NaN",
    "nan",
    "-nan",
    "Infinity",
    "-Infinity",
    "inf",
    "-INF",
    "iNfInItY",
    "infinit",
    "1e400",
    "-1e400",
    "1e308",
    "1.7976931348623157e308",
    "1e-400",
    "-0.0",
    "2.5",
    "2.5000000000000001",
    "2.50001",
    "-1.5",
    "-1.5000001",
    "5",
    "6",
    "-5",
    "-6",
    "120",
    "121",
    "120.0",
    "119.9999",
    "9007199254740993",
    "99999999999999999999",
    "-99999999999999999999",
    "1" + "0" * 300,
    "-1" + "0" * 300,
    "1" + "0" * 400,  # beyond a double: a whole number still, too large
    "-1" + "0" * 400,
    "9007199254740991",  # the largest whole number a record holds exactly
    "9007199254740992",
    "-9007199254740991",
    "-9007199254740992",
    # int() reads at most 4300 digits (leading zeros and all), float() any number.
    "0" * 4299 + "7",
    "0" * 4300 + "7",
    "-" + "0" * 4300 + "7",
    "0_" * 4299 + "7",
    "0_" * 4300 + "7",
    "٠" * 4300 + "٧",  # Arabic-Indic zeros count as digits too
]


def _date_inputs(today: dt.date) -> list[str]:
    day = dt.timedelta(days=1)
    around_today = [today, today + day, today - day, today + 400 * day]
    return [
        *(d.isoformat() for d in around_today),
        *_around("2024-01-01"),
        "2024-02-29",
        "2023-02-29",
        "2024-02-30",
        "2024-04-31",
        "2024-06-31",
        "2024-12-31",
        "2024-2-3",
        "2024-02-3",
        "2024-1-01",
        "2024-01-01T00:00",
        "2024-01-01 00:00",
        "2024-01-01Z",
        "20240101",
        "2024-W01-1",
        "2024-001",
        "2024-13-01",
        "2024-00-10",
        "2024-01-00",
        "2024-01-32",
        "0000-01-01",
        "0001-01-01",
        "9999-12-31",
        "10000-01-01",
        "1949-12-31",
        "1950-01-01",
        "1999-12-31",
        "2030-12-31",
        "2031-01-01",
        "1900-02-29",
        "2000-02-29",
        "2100-02-29",
        "٢٠٢٤-٠١-٠١",  # Python's \d matches these; date.fromisoformat does not
        "２０２４-０１-０１",
        "2024/01/01",
        "01-01-2024",
        "31.03.2024",
        "+2024-01-01",
        "-2024-01-01",
        "abcd-ef-gh",
    ]


COUNTRIES = [
    *_around("gb"),
    "GB",
    "Gb",
    "ng",
    "NG",
    "ZZ",
    "GBR",
    "g1",
    "12",
    "G",
    "g b",
    "g-b",
    "ß",  # upper-cases to SS, in Python as in JavaScript
    "ﬁ",  # FI
    "ſt",  # ST
    "ıt",  # IT
    "ǳ",
    "ĳ",
    "éu",
    "\u212ab",  # KELVIN SIGN: upper-case already, not K
]

LANGUAGES = [
    *_around("EN-gb"),
    "en",
    "EN",
    "En-Gb",
    "ar",
    "AR",
    "ti",
    "tir",
    "fil",
    "zh-Hans-CN",
    "zh-hans",
    "x",
    "abcd",
    "e1",
    "en_GB",
    "en-",  # str.partition drops the empty rest: "en"
    "EN-",
    "-en",
    "en--gb",
    "en-gb-",
    "en-g",
    "en-12345678",
    "en-123456789",
    "en-ß",
    "en gb",
    "\u212aa",  # KELVIN SIGN lower-cases to k: "ka"
    "İt",
]


def _text_inputs(q: Question) -> list[str]:
    limit = q.max_length or TEXT_LIMITS[q.type]
    return [
        *_around("x"),
        "a\r\nb",
        "a\nb",
        "a\rb",
        "a\u2028b",
        "a\x85b",
        "a\r\n",
        "\r\nx\r\n",
        "line one\nline two\r\nline three",
        "x" * limit,
        "x" * (limit + 1),
        " " + "x" * limit + " ",
        "\x85" + "x" * limit + "\x1c",
        "\ufeff" + "x" * (limit - 1),
        "\ufeff" + "x" * limit,
        "😀" * limit,  # one code point each, two UTF-16 units
        "😀" * (limit + 1),
        "😀" * (limit - 1) + "x",
        "e\u0301" * (limit // 2),  # combining accents count, as Python counts them
        "e\u0301" * (limit // 2) + "e",
        "x" * (limit - 2) + "\r\n" + "x",  # at the limit once CRLF is one line feed
        "x" * (limit - 1) + "\r\n" + "x",
        "\x00",
        "<script>alert(1)</script>",
        "١٢",
    ]


def _hand_inputs(q: Question, today: dt.date) -> list:
    """Edge cases for the question's type; the blanks for every question."""
    if q.type == "multiple_choice":
        return _multiple_inputs(q)
    by_type = {
        "number": lambda: NUMBERS,
        "date": lambda: _date_inputs(today),
        "country": lambda: COUNTRIES,
        "language": lambda: LANGUAGES,
        "short_text": lambda: _text_inputs(q),
        "long_text": lambda: _text_inputs(q),
    }
    return [*BLANKS, *by_type.get(q.type, lambda: _choice_inputs(q))()]


# The seeded sample draws on these: digits and signs of every kind, space and
# line breaks of every kind, letters, an emoji, hyphens and underscores.
PIECES = [
    *"0123456789",
    *"+-._eE",
    "١",
    "٥",
    "１",
    "𝟗",
    " ",
    "\t",
    "\u00a0",
    "\ufeff",
    "\x85",
    "\x1c",
    "\n",
    "\r\n",
    "\r",
    "a",
    "Z",
    "ß",
    "😀",
    "inf",
    "nan",
    "_",
]
TEXT_PIECES = ["x", "é", "e\u0301", "😀", " ", "\u00a0", "\ufeff", "\x85", "\n", "\r\n", "\r"]


def _random_input(q: Question, today: dt.date, rng: random.Random):
    """One input a form could send, more often near what the question accepts."""
    if q.type == "multiple_choice":
        pool = [*q.choice_ids, *q.choice_ids, "", " ", "x", q.choice_ids[0].upper()]
        return [rng.choice(pool) for _ in range(rng.randint(0, 4))]
    if q.type == "date":
        year = rng.choice([0, 1, 1949, 1950, 2000, 2024, today.year, today.year + 1, 9999])
        month, day = rng.randint(0, 13), rng.randint(0, 32)
        text = rng.choice(["{:04d}-{:02d}-{:02d}", "{}-{}-{}", " {:04d}-{:02d}-{:02d}\n"])
        return text.format(year, month, day)
    if q.type in ("short_text", "long_text"):
        limit = q.max_length or TEXT_LIMITS[q.type]
        size = rng.choice([rng.randint(0, 6), limit - 1, limit, limit + 1])
        return "".join(rng.choice(TEXT_PIECES) for _ in range(size))
    starts = {"country": ["G", "n", "gb"], "language": ["en", "Ar-", "ti-ER"]}
    starts["number"] = ["1", "-", "+0", "١"]
    text = rng.choice(starts.get(q.type, q.choice_ids)) if rng.random() < 0.7 else ""
    return text + "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 5)))


SAMPLE_PER_QUESTION = 30


def cases_for(key: str, q: Question, rng: random.Random) -> list[dict]:
    """Every input for one question, under each day that can change its outcome."""
    todays = TODAYS if q.type == "date" else TODAYS[:1]
    cases = []
    for today in todays:
        given = [*_hand_inputs(q, today)]
        given += [_random_input(q, today, rng) for _ in range(SAMPLE_PER_QUESTION)]
        cases += [_case(key, g, today) for g in given]
    # As a plain mapping may hold them: a list for one answer, one string for several.
    if q.type == "multiple_choice":
        plain = [q.choice_ids[0], f" {q.choice_ids[-1]} ", "nope", "", "\x85"]
    else:
        plain = [[], [""], [" ", "\x85"], [q.choice_ids[0] if q.choices else "12"], ["a", "b"]]
    cases += [_case(key, g, todays[0], form="mapping") for g in plain]
    return cases


def _case(key: str, given, today: dt.date, form: str = "form") -> dict:
    return {"question": key, "given": given, "today": today.isoformat(), "form": form}


# -- Both sides' outcomes, as the record and the page see them -------------------------


def form_values(q: Question, case: dict):
    """What the node reads the answer from: the posted form, or a plain mapping."""
    given = case["given"]
    if case["form"] == "mapping":
        return {q.id: given}
    if q.type == "multiple_choice":
        return MultiDict([(q.id, value) for value in given])
    return MultiDict() if given is None else MultiDict({q.id: given})


def _sealed(value) -> str:
    """A value as the sealed record writes it (canonical JSON: 3 and 3.0 alike)."""
    return canonical.encode(value).decode()


def python_outcome(q: Question, case: dict) -> dict:
    try:
        value, error = clean_answer(q, form_values(q, case), dt.date.fromisoformat(case["today"]))
    except Exception as exc:  # reported as a difference, with the case
        return {"raised": repr(exc)[:200]}
    if error is not None:
        found = {"template": error.template, "params": _sealed(error.params)}
        return {"value": _sealed(value), "error": found}
    return {"value": _sealed(value)}


def browser_outcome(result: dict) -> dict:
    """The script's [value, {name, params}] as the node's: its name read in TEMPLATES."""
    if "threw" in result:
        return result
    if "error" in result:
        error = result["error"]
        template = TEMPLATES.get(error["name"], f"not in TEMPLATES: {error['name']}")
        found = {"template": template, "params": _sealed(error["params"])}
        return {"value": _sealed(result["value"]), "error": found}
    return {"value": _sealed(result["value"])}


def start_node(directory: Path, questions: dict[str, Question], cases: list[dict]):
    """Start one node process on every case (as tests/test_js_assessment.py does)."""
    node_path = _node()
    for name in MODULES:
        shutil.copy(SRC / name, directory / name)
    (directory / "package.json").write_text('{"type": "module"}\n')
    (directory / "runner.js").write_text(RUNNER)
    table = {key: _question(q) for key, q in questions.items()}
    (directory / QUESTIONS_FILE).write_text(json.dumps(table), encoding="utf-8")
    with (directory / "stderr.txt").open("w") as errors:
        node = subprocess.Popen(
            [node_path, "runner.js", QUESTIONS_FILE],
            cwd=directory,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            encoding="utf-8",
        )
    # The runner reads all its input before it writes a line: no deadlock.
    with contextlib.suppress(BrokenPipeError):
        node.stdin.write("".join(json.dumps(c) + "\n" for c in cases))
        node.stdin.close()
    return node


@pytest.fixture(scope="module")
def agreement(tmp_path_factory):
    """Run every case through node once; return (case, browser's, Python's) triples."""
    directory = tmp_path_factory.mktemp("answers")
    questions = all_questions()
    rng = random.Random(1111)  # noqa: S311 - a reproducible sample, not a secret
    cases = [c for key, q in questions.items() for c in cases_for(key, q, rng)]
    node = start_node(directory, questions, cases)
    try:
        python = [python_outcome(questions[c["question"]], c) for c in cases]
        browser = [browser_outcome(r) for r in results_of(node, directory, len(cases))]
    finally:
        node.kill()  # only when something failed before it ended
    return list(zip(cases, browser, python, strict=True))


# -- The tests ----------------------------------------------------------------------


def test_the_browser_cleans_every_answer_as_the_node(agreement):
    differences = _differences(agreement)
    assert not differences, f"{len(differences)} of {len(agreement)} cases differ:\n" + (
        "\n".join(differences[:8])
    )


def test_the_inputs_reach_every_question_and_every_message(agreement):
    asked = {case["question"] for case, _browser, _python in agreement}
    for name in available_questionnaires():
        assert {f"{name}/{q.id}" for q in load_questionnaire(name).questions} <= asked
    kept = {c["question"] for c, _b, p in agreement if "error" not in p and p["value"] != "null"}
    assert kept == asked, f"never an answer kept: {sorted(asked - kept)}"
    refused = {c["question"] for c, _b, p in agreement if "error" in p}
    assert refused == asked
    said = {p["error"]["template"] for _c, _b, p in agreement if "error" in p}
    assert said == set(TEMPLATES.values())


# The page shows a refusal by its name in the officer's words (offline_page.INTERFACE),
# in the node's own words for it.


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_the_page_says_each_refusal_in_the_nodes_words(name):
    assert INTERFACE.get(name) == TEMPLATES[name]


# Two inputs the node once got wrong, and the browser with it: a whole number too
# large for a double crashed it (OverflowError), and an unbounded one beyond 2**53
# was kept though the sealed record cannot hold it.


def test_the_node_refuses_a_whole_number_beyond_a_double():
    age = load_questionnaire("screening-full").question("age")
    value, error = clean_answer(age, {"age": "1" + "0" * 400}, TODAYS[0])
    assert value is None and error.template == TEMPLATES["too_large"]


def test_the_node_keeps_only_whole_numbers_the_record_can_hold():
    count = Question(id="count", type="number", text="How many?", integer=True)
    value, error = clean_answer(count, {"count": "9007199254740993"}, TODAYS[0])
    assert value is None and error.template == TEMPLATES["too_large"]
    assert error.params == {"max": 9007199254740991}
    value, error = clean_answer(count, {"count": "9007199254740991"}, TODAYS[0])
    assert error is None and _sealed(value) == "9007199254740991"
