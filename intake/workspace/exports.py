"""The workspace's exports: one definition of the columns, and the CSV, Excel and HTCDS writers.

A case is a record opened on the workspace with its envelope header, the
name of its field post and its status. Every cell is plain text in stable,
documented columns (docs/exports.md, docs/htcds.md); no cell can start a
spreadsheet formula. `intake open --format csv` writes the same columns.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from intake.questionnaire import available_questionnaires, load_catalogue, load_questionnaire

# A cell starting with one of these is a formula to a spreadsheet; the text
# was typed in the field, so it is neutralised before a coordinator opens it.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
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
HTCDS_COLUMNS = (
    "intake_RecordId",  # Intake's own two, so that a row can be traced back: not HTCDS fields
    "intake_Reference",
    *("prs_Gender", "prs_Nationality", "prs_MobilePhone", "prs_MailingCity"),
    *("vic_AgreementToManagePersonalData", "vic_RecruitmentWebsitesAndApps"),
    *("vic_MethodOfRecruitment", "vic_MethodsOfControl", "vic_TypeOfLabourExploitation"),
    *("vic_TypeOfSexExploitation", "vic_Vulnerabilities", "per_RoleInProcess"),
    *("hte_Type", "hte_Country", "hte_Date", "hte_Description", "cas_Status"),
)
HTCDS_EVENTS = ("Recruitment", "Transit", "Exploitation")
HTCDS_CHECKBOX = {"vic_AgreementToManagePersonalData": {"yes": "true", "no": "false"}}
# "referred": the coordinator follows the referral to its outcome, the case stays open.
CAS_STATUS = {"new": "Active", "in_review": "Active", "referred": "FollowUp", "closed": "Closed"}


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
    """Prefix text a spreadsheet would take for a formula with an apostrophe."""
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
        self.rows = csv.writer(self.text)
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


def htcds_row(case, shape: Layout | None = None) -> list[str]:
    """Return a case's cells in HTCDS_COLUMNS: the fields its answers feed (docs/htcds.md)."""
    shape = shape or layout()
    case = as_case(case)
    record = case.record if isinstance(case.record, Mapping) else {}
    header = case.header if isinstance(case.header, Mapping) else {}
    cells: dict[str, list[str]] = {}
    events: dict[str, dict[str, str]] = {}
    named = record.get("questionnaire")
    questionnaire = shape.questionnaires.get(named.get("id")) if isinstance(named, dict) else None
    answers = record.get("answers") if isinstance(record.get("answers"), dict) else {}
    for question in questionnaire.questions if questionnaire else ():
        answer = answers.get(question.id)
        if not (_is_scalar(answer) or isinstance(answer, list)):
            continue  # unanswered, or not an answer's shape
        if question.htcds_event:
            events.setdefault(question.htcds_event, {})[question.htcds] = cell_text(answer)
        for field, value in _htcds_values(question, answer, shape.catalogue.htcds):
            cells.setdefault(field, []).append(value)
    text = {
        field: _join_htcds(values, shape.catalogue.htcds.get(field))
        for field, values in cells.items()
    }
    text.update(_htcds_events(events))
    text["intake_RecordId"] = cell_text(header.get("id") or record.get("id"))
    text["intake_Reference"] = cell_text(record.get("reference"))
    text["cas_Status"] = CAS_STATUS.get(case.status, "")
    return [neutralise(text.get(name, "")) for name in HTCDS_COLUMNS]


def _htcds_values(question, answer, picklists: Mapping) -> list[tuple[str, str]]:
    """Return the (field, value) pairs an answer feeds; a pick-list field takes only its values."""
    if question.htcds_event:
        return []
    if question.type == "yes_no_unknown" and question.htcds_value:
        return [(question.htcds, question.htcds_value)] if answer == "yes" else []
    if not question.choices:
        return [(question.htcds, cell_text(answer))] if question.htcds else []
    chosen = answer if isinstance(answer, list) else [answer]
    found = []
    for choice in question.choices:
        field = choice.htcds or question.htcds
        if choice.id not in chosen or not field:
            continue
        if field in HTCDS_CHECKBOX:
            value = HTCDS_CHECKBOX[field].get(choice.id)
        else:
            value = choice.htcds_value or (None if picklists.get(field) else choice.id)
        if value is not None:
            found.append((field, value))
    return found


def _join_htcds(values: list[str], picklist) -> str:
    """Join several values of one field with ;, once each, in the pick-list's order."""
    unique = list(dict.fromkeys(values))
    if picklist:
        unique.sort(key=lambda v: picklist.index(v) if v in picklist else len(picklist))
    return ";".join(unique)


def _htcds_events(events: Mapping) -> dict[str, str]:
    """Flatten the events into aligned lists: the n-th value of each hte_ column is one event's."""
    held = [(kind, events[kind]) for kind in HTCDS_EVENTS if kind in events]
    # The separator is ; so a ; inside a value would shift the alignment: it becomes a comma.
    cells = {"hte_Type": ";".join(kind for kind, _values in held)}
    for name in ("hte_Country", "hte_Date", "hte_Description"):
        cells[name] = ";".join(v.get(name, "").replace(";", ",") for _k, v in held) if held else ""
    return cells


def write_htcds(out: BinaryIO, cases: Iterable, bom: bool = False) -> None:
    """Write the cases as CSV in HTCDS field names and pick-list values (docs/htcds.md)."""
    text = _text_out(out, bom)
    rows = csv.writer(text)
    rows.writerow(HTCDS_COLUMNS)
    shape = layout()
    for case in cases:
        rows.writerow(htcds_row(case, shape))
    text.flush()
    text.detach()


# Excel cannot hold more in a cell, nor these control characters at all.
XLSX_CELL_LIMIT = 32767
XLSX_CUT_MARK = "…[cut]"


def _xlsx_text(text: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    if len(text) > XLSX_CELL_LIMIT:
        text = text[: XLSX_CELL_LIMIT - len(XLSX_CUT_MARK)] + XLSX_CUT_MARK
    return text


def write_xlsx(out, cases: Iterable) -> None:
    """Write the cases to an Excel workbook: sheet "cases", and sheet "columns" describing them.

    `out` is a binary stream or a path. Every cell is text; none is a formula.
    """
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    shape = layout()
    described = [("column", "holds", "values"), *column_descriptions()]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        rows = (case_row(case, shape) for case in cases)
        _stream_sheet(archive, workbook.create_sheet("cases"), 1, shape.columns, rows)
        _stream_sheet(archive, workbook.create_sheet("columns"), 2, described[0], described[1:])
        _written_sheets_writer(workbook, archive).save()


def _stream_sheet(archive, sheet, number: int, header, rows) -> None:
    """Write a sheet's XML straight into the archive, row by row.

    openpyxl would first write each sheet, in the clear, to a temporary file:
    the opened answers would then sit on disk (and stay there after a crash),
    which the workspace never allows. Here they go only where `out` is.
    """
    from openpyxl.worksheet._writer import WorksheetWriter

    sheet._id = number  # openpyxl names the part by it: xl/worksheets/sheet<number>.xml
    sheet.freeze_panes = "A2"
    with archive.open(sheet.path[1:], "w", force_zip64=True) as part:
        sheet._writer = WorksheetWriter(sheet, out=part)
        sheet._writer.write_top()
        try:
            sheet.append([_header_cell(sheet, name) for name in header])
            for row in rows:
                sheet.append([_xlsx_text(neutralise(value)) for value in row])
        finally:
            sheet.close()  # also on an error: openpyxl must not write to the part once closed


def _header_cell(sheet, name: str):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    cell = WriteOnlyCell(sheet, value=_xlsx_text(name))
    cell.font = Font(bold=True)
    return cell


def _written_sheets_writer(workbook, archive):
    """Return openpyxl's writer for the rest of the workbook, the sheets being written already."""
    from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
    from openpyxl.writer.excel import ExcelWriter

    class WrittenSheets(ExcelWriter):
        def write_worksheet(self, ws):
            ws._drawing = SpreadsheetDrawing()
            ws._drawing.charts, ws._drawing.images = ws._charts, ws._images
            ws._rels = ws._writer._rels
            self.manifest.append(ws)

    return WrittenSheets(workbook, archive)
