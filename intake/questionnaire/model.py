"""Questionnaires as data: the loaded questionnaire, and what it answers about itself.

A questionnaire decides what is shown given the answers so far, cleans a
section's answers (answers.py) and turns a whole interview into an assessment.
loader.py reads and checks a file into these classes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .answers import (
    COUNTRY_PATTERN,
    DATE_PATTERN,
    LANGUAGE_PATTERN,
    MESSAGES,
    TEXT_LIMITS,
    clean_answer,
)
from .assessment import assess
from .catalogue import Catalogue
from .conditions import Condition, evaluate

# The named condition that decides the child flow (CoE Art. 10 presumption).
CHILD_CONDITION = "presumed_child"
# The named condition, optional, under which the ILO sexual-exploitation lists
# give the strengths (else the labour lists).
SEXUAL_LIST_CONDITION = "sexual_list"

# Names that lived here before answers.py and loader.py were split out; they
# stay importable from this module.
__all__ = [
    "CHILD_CONDITION",
    "COUNTRY_PATTERN",
    "DATE_PATTERN",
    "LANGUAGE_PATTERN",
    "MESSAGES",
    "TEXT_LIMITS",
    "Choice",
    "Question",
    "Questionnaire",
    "Section",
    "clean_answer",
]


@dataclass(frozen=True)
class Choice:
    """One answer a choice question offers; choosing it may record an item."""

    id: str
    text: str
    indicator: str | None = None
    htcds_value: str | None = None
    translator_note: str = ""
    htcds: str | None = None  # a field other than the question's, for this choice


@dataclass(frozen=True)
class Question:
    """One question, or one item the officer records without asking."""

    id: str
    type: str
    text: str
    help: str = ""
    required: bool = False
    choices: tuple[Choice, ...] = ()
    show_if: Condition | None = None
    indicator: str | None = None
    htcds: str | None = None
    urgent: bool = False
    audience: str = "respondent"
    # About violence or sex: the respondent view offers no read-aloud for it
    # unless the officer turned that on at hand-over (others may be in earshot).
    sensitive: bool = False
    min: object = None
    max: object = None
    integer: bool = True
    max_length: int | None = None
    section: str = ""
    # Version 2: what the respondent view and the officer view each show.
    read_aloud: bool = True
    translator_note: str = ""
    action: str = ""
    action_when: tuple[str, ...] = ()
    htcds_value: str | None = None
    htcds_event: str | None = None
    requires_setting: str | None = None

    @property
    def choice_ids(self) -> tuple[str, ...]:
        """Return the ids of the choices, in order."""
        return tuple(choice.id for choice in self.choices)

    @property
    def respondent_texts(self) -> list[str]:
        """Return what the respondent view shows: the question and its answers, nothing else."""
        if self.audience != "respondent":
            return []
        return [self.text, *(choice.text for choice in self.choices)]

    def action_due(self, answer) -> bool:
        """Tell whether a saved answer calls for the officer's action (one of `action_when`).

        A multiple-choice answer calls for it when any of its choices does.
        """
        if not self.action or answer is None:
            return False
        chosen = answer if isinstance(answer, list | tuple) else [answer]
        return any(str(value) in self.action_when for value in chosen)

    @property
    def officer_texts(self) -> list[str]:
        """Return what only the officer sees: help, the action to take, recorded items."""
        texts = [self.help, self.action]
        if self.audience == "officer":
            texts += [self.text, *(choice.text for choice in self.choices)]
        return [text for text in texts if text]

    def applies(self, settings: Mapping | None) -> bool:
        """Tell whether the question applies here: its required setting, if any, is set."""
        return not self.requires_setting or bool((settings or {}).get(self.requires_setting))

    def recorded_items(self, answer) -> list[str]:
        """Return the items an answer to this question records."""
        if self.indicator and answer == "yes":
            return [self.indicator]
        chosen = answer if isinstance(answer, list | tuple) else (answer,)
        return [c.indicator for c in self.choices if c.indicator and c.id in chosen]


@dataclass(frozen=True)
class Section:
    """A screen of the interview."""

    id: str
    title: str
    intro: str
    questions: tuple[Question, ...]
    show_if: Condition | None = None
    help: str = ""
    conditions: Mapping = field(default_factory=dict, repr=False, compare=False)

    def is_visible(self, answers: Mapping) -> bool:
        """Tell whether this section is shown, given the answers so far."""
        return evaluate(self.show_if, answers, self.conditions)

    def visible_questions(self, answers: Mapping) -> list[Question]:
        """Return the questions shown; a hidden question's answer never opens a later one."""
        context, shown = dict(answers), []
        for question in self.questions:
            if evaluate(question.show_if, context, self.conditions):
                shown.append(question)
            else:
                # A hidden question's stale answer must not decide what follows.
                context.pop(question.id, None)
        return shown


@dataclass(frozen=True, eq=False)
class Questionnaire:
    """A loaded, checked questionnaire."""

    id: str
    version: str
    title: str
    description: str
    language: str
    sections: tuple[Section, ...]
    conditions: Mapping
    catalogue: Catalogue = field(repr=False)
    path: Path = field(repr=False)

    @property
    def questions(self) -> list[Question]:
        """Return every question, in order."""
        return [q for section in self.sections for q in section.questions]

    def question(self, question_id: str) -> Question:
        """Return a question by id, or raise KeyError."""
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(f"{self.id}: no question {question_id!r}")

    def section(self, section_id: str) -> Section:
        """Return a section by id, or raise KeyError."""
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(f"{self.id}: no section {section_id!r}")

    def for_settings(self, settings: Mapping | None) -> Questionnaire:
        """Return the questionnaire as asked here: without the questions whose setting is unset.

        "I gave the person the national hotline number" has no place where
        the instance names no hotline (`requires_setting`); such a question is
        neither shown, nor read from a form, nor kept in a record. The
        browser's offline interview does the same (questionnaire.js
        forSettings), tested to agree.
        """
        sections = tuple(
            replace(s, questions=tuple(q for q in s.questions if q.applies(settings)))
            for s in self.sections
        )
        return replace(self, sections=sections)

    def effective_answers(self, answers: Mapping) -> dict:
        """Keep only the answers to questions that are shown, given earlier answers."""
        kept: dict = {}
        for section in self.sections:
            if not section.is_visible(kept):
                continue
            for question in section.questions:
                if question.id in answers and evaluate(question.show_if, kept, self.conditions):
                    kept[question.id] = answers[question.id]
        return kept

    def visible_sections(self, answers: Mapping) -> list[Section]:
        """Return the sections shown, given the answers so far."""
        kept = self.effective_answers(answers)
        return [section for section in self.sections if section.is_visible(kept)]

    def validate_answers(
        self,
        section_id: str,
        form_values: Mapping,
        answers: Mapping | None = None,
        today: dt.date | None = None,
    ) -> tuple[dict, dict]:
        """Clean one section's form values; return (answers, {question_id: message}).

        `answers` holds the other sections' answers, which decide what is shown.
        The clean answers hold the shown, answered questions of this section
        only: store them in place of the section's previous answers.
        """
        section = self.section(section_id)
        own = {q.id for q in section.questions}
        context = {k: v for k, v in self.effective_answers(answers or {}).items() if k not in own}
        clean, errors = {}, {}
        if not section.is_visible(context):
            return clean, errors
        for question in section.questions:
            if not evaluate(question.show_if, {**context, **clean}, self.conditions):
                continue
            value, error = clean_answer(question, form_values, today or dt.date.today())
            if error:
                errors[question.id] = error
            elif value is not None:
                clean[question.id] = value
        return clean, errors

    def indicators_from_answers(self, answers: Mapping) -> list[str]:
        """Return the items recorded by shown questions: a yes, or a chosen choice."""
        kept = self.effective_answers(answers)
        found = [i for q in self.questions if q.id in kept for i in q.recorded_items(kept[q.id])]
        return list(dict.fromkeys(found))

    def exploitation_list(self, answers: Mapping) -> str:
        """Return which ILO lists apply: "sexual" when the sexual_list condition holds."""
        condition = self.conditions.get(SEXUAL_LIST_CONDITION)
        if condition is None:
            return "labour"
        kept = self.effective_answers(answers)
        return "sexual" if evaluate(condition, kept, self.conditions) else "labour"

    def is_child(self, answers: Mapping) -> bool:
        """Tell whether the person is under 18 or presumed so (age uncertain, CoE Art. 10)."""
        return evaluate(
            self.conditions[CHILD_CONDITION], self.effective_answers(answers), self.conditions
        )

    def urgent_flags(self, answers: Mapping) -> list[str]:
        """Return the urgent ids recorded: each urgent question's counting answers.

        "Don't know" to danger or to a controller nearby counts (the catalogue
        says which answers count for each urgent need).
        """
        kept = self.effective_answers(answers)
        flags = []
        for q in self.questions:
            need = self.catalogue.urgent_for_question(q.id) if q.urgent else None
            if need and q.id in kept and kept[q.id] in need.counts:
                flags.append(need.id)
        return flags

    def assess(self, answers: Mapping, settings: Mapping | None = None) -> dict:
        """Assess a whole interview's answers with this questionnaire's catalogue."""
        return assess(
            self.indicators_from_answers(answers),
            child=self.is_child(answers),
            urgent=self.urgent_flags(answers),
            catalogue=self.catalogue,
            exploitation=self.exploitation_list(answers),
            settings=settings,
        )

    def texts(self) -> list[str]:
        """Return every translatable string of the questionnaire, for catalog extraction."""
        return [text for text, _notes in self.text_notes()]

    def text_notes(self) -> list[tuple[str, tuple[str, ...]]]:
        """Return every translatable string with its translator notes, in order."""
        found: dict[str, list[str]] = {}

        def add(text: str, note: str = "") -> None:
            if text:
                notes = found.setdefault(text, [])
                if note and note not in notes:
                    notes.append(note)

        add(self.title)
        add(self.description)
        for section in self.sections:
            for text in (section.title, section.intro, section.help):
                add(text)
            for q in section.questions:
                add(q.text, q.translator_note)
                add(q.help)
                add(q.action)
                for choice in q.choices:
                    add(choice.text, choice.translator_note)
        return [(text, tuple(notes)) for text, notes in found.items()]
