"""One case, opened for its page: each answer beside its question, in two languages.

The envelope is opened again for each view (its answers are never kept):
one HPKE open, well under a millisecond's worth of a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from babel import Locale, UnknownLocaleError

from intake import canonical
from intake.batch import BatchError, verify_record_signature
from intake.envelope import EnvelopeError
from intake.questionnaire import QuestionnaireError, available_questionnaires, load_questionnaire

_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}")


class CaseDoesNotOpen(Exception):
    """The envelope held under a case no longer opens as that case's record."""


def open_checked(case, held: tuple | None, opener, device_key: str | None) -> tuple[dict, dict]:
    """Open a case's envelope again; return (header, record) once it proves to be that case's.

    `held` is (envelope, record signature) as stored; `device_key` the pinned
    key (hex) of the case's device. The store on disk may have been changed
    since the pull: the signature is checked again, and the envelope must
    carry the case's own device and id.
    """
    if held is None:
        raise CaseDoesNotOpen("its envelope is no longer held here")
    data, signature = held
    if signature is not None and device_key:
        try:
            verify_record_signature(bytes.fromhex(device_key), data, signature)
        except (BatchError, ValueError):
            raise CaseDoesNotOpen("its device's signature no longer verifies") from None
    try:
        envelope, record_bytes = opener.open(data)
        record = canonical.decode(record_bytes)
    except (EnvelopeError, canonical.CanonicalJSONError, ValueError) as e:
        raise CaseDoesNotOpen(str(e)[:200]) from None
    if (envelope.header["device"], envelope.header["id"]) != (case.device, case.id):
        raise CaseDoesNotOpen("the envelope held under this case is another record's")
    if not isinstance(record, dict):
        raise CaseDoesNotOpen("the record is not a JSON object")
    return envelope.header, record


@dataclass
class Answer:
    """One answered question: the texts to translate, and the value as recorded."""

    question: str  # English text: the template translates it into each language
    value: object
    labels: list[str]  # English texts of the chosen options, when it is a choice
    kind: str
    audience: str
    urgent: bool = False


@dataclass
class Section:
    title: str
    answers: list[Answer] = field(default_factory=list)


@dataclass
class CasePage:
    """Everything the case page shows of one opened record."""

    record: dict
    header: dict
    sections: list[Section]
    unknown_answers: dict  # answers to questions this release's questionnaire lacks
    questionnaire_known: bool
    assessment_now: dict | None  # the same answers under this release's rules

    @property
    def respondent_language(self) -> str:
        """The person's language, if it is one the page can be drawn in (else "")."""
        languages = self.record.get("languages")
        code = languages.get("respondent") if isinstance(languages, dict) else None
        if not isinstance(code, str) or not _LANGUAGE.fullmatch(code):
            return ""
        try:
            Locale.parse(code.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            return ""
        return code

    @property
    def assessment(self) -> dict:
        value = self.record.get("assessment")
        return value if isinstance(value, dict) else {}

    # What the page shows of the sealed assessment: only values of the shape
    # they should have (a device signed them; that makes them its, not sound).

    @property
    def outcome(self) -> str:
        value = self.assessment.get("outcome")
        return value if isinstance(value, str) else ""

    @property
    def dimensions(self) -> dict:
        value = self.assessment.get("dimensions")
        if not isinstance(value, dict):
            return {}
        return {str(k): v is True for k, v in value.items()}

    @property
    def urgent_flags(self) -> list[str]:
        return _strings(self.record.get("urgent"))

    @property
    def reasons(self) -> list:
        now = self.assessment_now
        if now is not None and not self.assessed_differently:
            return list(now["reasons"])  # the same rules: messages the page can translate
        return _strings(self.assessment.get("reasons"))

    @property
    def referral_options(self) -> list[str]:
        return _strings(self.assessment.get("referral_options"))

    @property
    def started(self) -> str:
        value = self.record.get("started")
        return value if isinstance(value, str) else ""

    @property
    def assessed_differently(self) -> bool:
        now = self.assessment_now
        return now is not None and now.get("outcome") != self.outcome

    @classmethod
    def open(cls, case, held: tuple | None, opener, device_key: str | None) -> CasePage:
        """Open a case for its page (raises CaseDoesNotOpen)."""
        header, record = open_checked(case, held, opener, device_key)
        answers = record.get("answers") if isinstance(record.get("answers"), dict) else {}
        questionnaire = _questionnaire_of(record)
        if questionnaire is None:
            return cls(record, header, [], dict(answers), False, None)
        sections, seen = [], set()
        for section in questionnaire.sections:
            shown = Section(section.title)
            for question in section.questions:
                if question.id not in answers:
                    continue
                seen.add(question.id)
                value = answers[question.id]
                shown.answers.append(
                    Answer(
                        question.text,
                        value,
                        _labels(question, value),
                        question.type,
                        question.audience,
                        question.urgent and value == "yes",
                    )
                )
            if shown.answers:
                sections.append(shown)
        unknown = {k: v for k, v in answers.items() if k not in seen}
        try:
            now = questionnaire.assess(answers)
        except (ValueError, KeyError, TypeError, AttributeError):
            now = None
        return cls(record, header, sections, unknown, True, now)


def _strings(value) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _questionnaire_of(record: dict):
    meta = record.get("questionnaire")
    name = meta.get("id") if isinstance(meta, dict) else None
    if name not in available_questionnaires():
        return None
    try:
        return load_questionnaire(name)
    except QuestionnaireError:
        return None


def _labels(question, value) -> list[str]:
    """Return the English texts of the chosen options (countries and languages stay codes)."""
    if not question.choices:
        return []
    texts = {c.id: c.text for c in question.choices}
    chosen = value if isinstance(value, list) else [value]
    return [texts.get(str(v), str(v)) for v in chosen]
