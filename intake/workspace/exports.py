"""The workspace's exports: one definition of the columns, and the CSV, Excel and HTCDS writers.

A case is a record opened on the workspace with its envelope header, the
name of its field post and its status. Every cell is plain text in stable,
documented columns (docs/exports.md, docs/htcds.md); no cell, nor any part
of one a reader could split off at a `;` or a line break, can start a
spreadsheet formula. `intake open --format csv` writes the same columns.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from intake.questionnaire import available_questionnaires, load_catalogue, load_questionnaire

# A cell starting with one of these is a formula to a spreadsheet; the text
# was typed in the field, so it is neutralised before a coordinator opens it.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Where a reader may start a new cell inside ours: Excel splits on ; in
# locales whose list separator it is, a paste splits on tabs and line breaks.
# Each such segment whose first character but spaces is one of FORMULA_START's
# first four gets an apostrophe before that character (docs/exports.md).
_FORMULA_SEGMENT = re.compile(r"(?:^|(?<=[;\t\r\n]))( *)(?=[=+\-@])")
# Its columns come first; the other shipped questionnaires add only the questions it lacks.
FIRST_QUESTIONNAIRE = "screening-full"
# Every fixed column: (what it holds, its values). The order of the export is
# fixed in _layout(); names never change once released (tests/export_columns.txt).
FIXED = {
    "record_id": ("the record's id, made on the field device (envelope header)", "a UUID"),
    "reference": ("the reference the officer wrote on a paper referral", "text"),
    "kind": ("the kind of record (envelope header)", "screening, or another kind"),
    "questionnaire": ("the questionnaire's id", "screening-full, screening-short"),
    "questionnaire_version": ("the questionnaire's version", "e.g. 2.0.0"),
    "created": ("when the record was sealed (envelope header)", "UTC time, ISO 8601"),
    "started": ("when the interview was started", "UTC time, ISO 8601"),
    "finished": ("when the interview was finished", "UTC time, ISO 8601"),
    "device": ("the key id of the field device that sealed the record", "16 hex digits"),
    "field_post": ("the name the workspace knows the device by", "text; empty from intake open"),
    "officer": ("the user name of the officer who screened", "text"),
    "status": ("the case's status on the workspace", "new, in_review, referred, closed; or empty"),
    "respondent_language": ("the language the person was asked in", "a language code"),
    "officer_language": ("the officer's own language", "a language code"),
    "child": ("the person is under 18 or presumed so", "yes, no"),
    "outcome": ("the assessment", "refer_now, consider_referral, no_indicators"),
    "exploitation_list": ("which ILO lists gave the strengths", "labour, sexual"),
    "urgent": ("the urgent needs recorded", "urgent ids, separated by ;"),
    "indicators": ("the items recorded, in the order asked", "catalogue ids, separated by ;"),
    "routes": ("the refer-now routes that held", "route ids, separated by ;"),
    "referral_options": ("the referral options offered", "option ids, separated by ;"),
    "reasons": ("the reasons for the outcome, in English", "one reason per line"),
    "extra_fields": ("fields of the record no other column holds", "a JSON object, or empty"),
    "extra_answers": ("answers to questions no q_ column is for", "a JSON object, or empty"),
}
META = tuple(FIXED)[: tuple(FIXED).index("exploitation_list") + 1]
AFTER_URGENT = ("indicators", "routes", "referral_options", "reasons")
TYPE_VALUES = {
    "yes_no_unknown": "yes, no, unknown",
    "number": "a number",
    "date": "a date, YYYY-MM-DD",
    "country": "an ISO 3166-1 two-letter code",
    "language": "a language code (BCP 47)",
    "short_text": "text",
    "long_text": "text, may hold line breaks",
}


@dataclass(frozen=True)
class Case:
    """A record to export, with its envelope header, field post and workspace status."""

    header: Mapping
    record: Mapping
    device_name: str | None = None
    status: str | None = None


def as_case(case) -> Case:
    """Accept a Case or a dict with the same keys."""
    if isinstance(case, Case):
        return case
    return Case(
        case.get("header") or {}, case["record"], case.get("device_name"), case.get("status")
    )


def neutralise(text: str) -> str:
    """Put an apostrophe before every part of the text a spreadsheet could take for a formula."""
    text = _FORMULA_SEGMENT.sub(r"\1'", text)
    return "'" + text if text.startswith(FORMULA_START) else text


def cell_text(value) -> str:
    """Write a scalar or a list of scalars as plain text: yes/no, lists joined with ;."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ";".join(cell_text(v) for v in value)
    return str(value)


@dataclass(frozen=True, eq=False)
class Layout:
    """The columns, and the questionnaires and catalogue they come from."""

    columns: tuple[str, ...]
    questions: Mapping  # question id -> the first questionnaire's Question of that id
    questionnaires: Mapping  # id -> Questionnaire
    catalogue: object


def layout() -> Layout:
    """Return the layout of the shipped questionnaires (cached while they are unchanged)."""
    names = sorted(available_questionnaires(), key=lambda n: (n != FIRST_QUESTIONNAIRE, n))
    return _layout(tuple(load_questionnaire(n) for n in names), load_catalogue())


@functools.lru_cache(maxsize=4)
def _layout(questionnaires: tuple, catalogue) -> Layout:
    questions: dict = {}
    for questionnaire in questionnaires:
        for question in questionnaire.questions:
            questions.setdefault(question.id, question)
    columns = [*META, *(f"dim_{d.name}" for d in catalogue.dimensions), "urgent"]
    columns += [f"urgent_{u.lower()}" for u in catalogue.urgent]
    columns += [*AFTER_URGENT, *(f"q_{q}" for q in questions), "extra_fields", "extra_answers"]
    by_id = {q.id: q for q in questionnaires}
    return Layout(tuple(columns), questions, by_id, catalogue)


def export_columns() -> list[str]:
    """Return the export's column names, in order (docs/exports.md)."""
    return list(layout().columns)


def column_descriptions() -> list[tuple[str, str, str]]:
    """Return (column, what it holds, its values) for every column, in order."""
    shape = layout()
    known = dict(FIXED)
    for d in shape.catalogue.dimensions:
        known[f"dim_{d.name}"] = (f"dimension {d.number} positive: {d.title}", "yes, no")
    for u in shape.catalogue.urgent.values():
        known[f"urgent_{u.id.lower()}"] = (f"urgent need {u.id} recorded: {u.label}", "yes, no")
    for q in shape.questions.values():
        known[f"q_{q.id}"] = (f"answer to: {q.text}", _question_values(q, shape))
    return [(name, *known[name]) for name in shape.columns]


def _question_values(question, shape: Layout) -> str:
    """Say what a q_ column may hold: the choice ids of every questionnaire, or the type's form."""
    if question.type not in ("single_choice", "multiple_choice"):
        return TYPE_VALUES.get(question.type, "text")
    ids = [c for q in shape.questionnaires.values() for c in _choice_ids(q, question.id)]
    listed = ", ".join(dict.fromkeys(ids))
    return f"one of {listed}" if question.type == "single_choice" else f"any of {listed}, by ;"


def _choice_ids(questionnaire, question_id: str) -> tuple[str, ...]:
    try:
        return questionnaire.question(question_id).choice_ids
    except KeyError:
        return ()


class _Fields:
    """A record's fields taken one by one; what is left or misshapen stays in `rest`."""

    def __init__(self, values):
        self.rest = dict(values) if isinstance(values, Mapping) else {}

    def take(self, key: str, kinds=(str,)):
        value = self.rest.get(key)
        if value is None or isinstance(value, kinds):
            self.rest.pop(key, None)
            return value
        return None  # misshapen: kept whole for extra_fields rather than half-written

    def take_ids(self, key: str) -> list | None:
        value = self.rest.get(key)
        if isinstance(value, list) and all(_is_scalar(v) for v in value):
            return self.rest.pop(key)
        return self.take(key, ())

    def take_same(self, key: str, expected) -> str | None:
        """Take a field the header repeats (id, kind, device); keep it if the two differ."""
        value = self.take(key, (str,))
        if value is not None and expected not in (None, value):
            self.rest[key] = value
        return value if expected is None else expected

    def nested(self, key: str) -> _Fields:
        return _Fields(self.take(key, (dict,)))

    def put_back(self, key: str, inner: _Fields) -> None:
        if inner.rest:
            self.rest[key] = inner.rest


def _is_scalar(value) -> bool:
    return isinstance(value, str | int | float | bool)


def _json(values: Mapping) -> str:
    return json.dumps(values, ensure_ascii=False, sort_keys=True) if values else ""


def case_row(case, shape: Layout | None = None) -> list[str]:
    """Return a case's cells, aligned to export_columns(), neutralised."""
    shape = shape or layout()
    case = as_case(case)
    if not isinstance(case.record, Mapping):
        raise TypeError("a record is a JSON object")
    header = case.header if isinstance(case.header, Mapping) else {}
    fields = _Fields(case.record)
    cells = _meta(header, fields, case)
    cells.update(_figures(fields, shape))
    extra_answers = {}
    answers = fields.nested("answers")
    for question_id, value in answers.rest.items():
        known = question_id in shape.questions
        if known and (_is_scalar(value) or isinstance(value, list) and all(map(_is_scalar, value))):
            cells[f"q_{question_id}"] = cell_text(value)
        else:
            extra_answers[question_id] = value
    cells["extra_fields"] = _json(fields.rest)
    cells["extra_answers"] = _json(extra_answers)
    return [neutralise(cells.get(name) or "") for name in shape.columns]


def _meta(header: Mapping, fields: _Fields, case: Case) -> dict:
    named = fields.nested("questionnaire")
    from_header = str(header.get("questionnaire") or "").partition("@")
    languages = fields.nested("languages")
    cells = {
        "record_id": fields.take_same("id", header.get("id")),
        "reference": fields.take("reference"),
        "kind": fields.take_same("kind", header.get("kind")),
        "questionnaire": named.take("id") or from_header[0],
        "questionnaire_version": named.take("version") or from_header[2],
        "created": header.get("created"),
        "started": fields.take("started"),
        "finished": fields.take("finished"),
        "device": fields.take_same("device", header.get("device")),
        "field_post": case.device_name,
        "officer": fields.take("officer"),
        "status": case.status,
        "respondent_language": languages.take("respondent"),
        "officer_language": languages.take("officer"),
        "child": fields.take("child", (bool,)),
    }
    fields.put_back("questionnaire", named)
    fields.put_back("languages", languages)
    return {name: cell_text(value) for name, value in cells.items()}


def _figures(fields: _Fields, shape: Layout) -> dict:
    assessment = fields.nested("assessment")
    dimensions = assessment.nested("dimensions")
    urgent = fields.take_ids("urgent")
    indicators = fields.take_ids("indicators")
    cells = {
        "outcome": assessment.take("outcome"),
        "exploitation_list": assessment.take("list"),
        "urgent": urgent,
        "indicators": indicators,
        "routes": assessment.take_ids("routes"),
        "referral_options": assessment.take_ids("referral_options"),
    }
    for d in shape.catalogue.dimensions:
        cells[f"dim_{d.name}"] = dimensions.take(d.name, (bool,))
    for ident in shape.catalogue.urgent:
        cells[f"urgent_{ident.lower()}"] = None if urgent is None else ident in urgent
    text = {name: cell_text(value) for name, value in cells.items()}
    text["reasons"] = "\n".join(map(cell_text, assessment.take_ids("reasons") or ()))
    assessment.take_ids("urgent")  # both repeat the record's own, sorted
    assessment.take_ids("indicators")
    assessment.put_back("dimensions", dimensions)
    fields.put_back("assessment", assessment)
    return text


def _text_out(out: BinaryIO, bom: bool):
    """Wrap a binary stream for the csv module; a BOM tells Excel the file is UTF-8."""
    encoding = "utf-8-sig" if bom else "utf-8"
    return io.TextIOWrapper(out, encoding=encoding, newline="", write_through=True)


class CsvCases:
    """Write cases as CSV rows one at a time, in constant memory; the header row first."""

    def __init__(self, out: BinaryIO, bom: bool = False):
        self.text = _text_out(out, bom)
        # Every field quoted: unquoted, a ; in a cell splits it where ; is Excel's separator.
        self.rows = csv.writer(self.text, quoting=csv.QUOTE_ALL)
        self.shape = layout()
        self.started = False

    def start(self) -> None:
        """Write the header row, once."""
        if not self.started:
            self.rows.writerow(self.shape.columns)
            self.started = True

    def write(self, case) -> None:
        """Write one case's row."""
        self.start()
        self.rows.writerow(case_row(case, self.shape))

    def flush(self) -> None:
        self.text.flush()

    def close(self) -> None:
        """Flush and hand the binary stream back, open."""
        self.flush()
        self.text.detach()


def write_csv(out: BinaryIO, cases: Iterable, bom: bool = False) -> None:
    """Write the cases as CSV (UTF-8), header row first even when there are none."""
    writer = CsvCases(out, bom)
    writer.start()
    for case in cases:
        writer.write(case)
    writer.close()
