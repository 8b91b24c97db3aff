"""The HTCDS export: IOM's Human Trafficking Case Data Standard field names and pick-lists.

Only fields the questionnaires map (their `htcds`, `htcds_value` and
`htcds_event` keys) are written; docs/htcds.md lists them and what does not map.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import BinaryIO

from intake.workspace.exports import (
    Layout,
    _is_scalar,
    _text_out,
    as_case,
    cell_text,
    layout,
    neutralise,
)

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
    rows = csv.writer(text, quoting=csv.QUOTE_ALL)  # as the CSV export: a ; never splits a cell
    rows.writerow(HTCDS_COLUMNS)
    shape = layout()
    for case in cases:
        rows.writerow(htcds_row(case, shape))
    text.flush()
    text.detach()
