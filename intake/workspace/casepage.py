"""One case, opened for its page: each answer beside its question, in two languages.

The envelope is opened again for each view (its answers are never kept):
one HPKE open, well under a millisecond's worth of a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from intake import canonical
from intake.questionnaire import QuestionnaireError, available_questionnaires, load_questionnaire


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
        languages = self.record.get("languages")
        return languages.get("respondent", "") if isinstance(languages, dict) else ""

    @property
    def assessment(self) -> dict:
        value = self.record.get("assessment")
        return value if isinstance(value, dict) else {}

    @property
    def assessed_differently(self) -> bool:
        now = self.assessment_now
        return now is not None and now.get("outcome") != self.assessment.get("outcome")

    @classmethod
    def open(cls, case, data: bytes, opener) -> CasePage:
        envelope, record_bytes = opener.open(data)
        record = canonical.decode(record_bytes)
        answers = record.get("answers") if isinstance(record.get("answers"), dict) else {}
        questionnaire = _questionnaire_of(record)
        if questionnaire is None:
            return cls(record, envelope.header, [], dict(answers), False, None)
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
        except (ValueError, KeyError, TypeError):
            now = None
        return cls(record, envelope.header, sections, unknown, True, now)


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
