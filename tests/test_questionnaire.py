"""The questionnaire files: loading, checking, show-if, answers, the child presumption."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from intake.questionnaire import (
    DIMENSIONS,
    QuestionnaireError,
    assess,
    available_questionnaires,
    load_catalogue,
    load_questionnaire,
)
from intake.questionnaire.conditions import evaluate, parse_condition

TODAY = dt.date(2025, 6, 15)
CONSENT = {"consent_explained": "yes", "consent": "yes"}

# A small valid questionnaire; broken variants replace one part of it.
MINIMAL = """
id = "mini"
version = "1"
title = "Mini"

[conditions.presumed_child]
any = [
  { question = "under_18", in = ["yes", "not_sure"] },
  { not = { question = "under_18", answered = true } },
]

[[sections]]
id = "first"
title = "First"

[[sections.questions]]
id = "under_18"
type = "single_choice"
text = "Are you under 18?"
choices = [
  { id = "yes", text = "Yes" },
  { id = "no", text = "No" },
  { id = "not_sure", text = "Not sure" },
]

[[sections.questions]]
id = "danger_now"
type = "yes_no_unknown"
text = "Are you in danger now?"
urgent = true

[[sections]]
id = "second"
title = "Second"

[[sections.questions]]
id = "dr1"
type = "yes_no_unknown"
text = "Was the work different from what you were promised?"
indicator = "DR1"
"""


def write(tmp_path, text, name="broken.toml"):
    """Write a questionnaire file and return its path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def with_question(extra: str) -> str:
    """Return MINIMAL with one more question appended to the last section."""
    return MINIMAL + "\n[[sections.questions]]\n" + textwrap.dedent(extra)


@pytest.fixture(scope="module")
def full():
    return load_questionnaire("screening-full")


@pytest.fixture(scope="module")
def short():
    return load_questionnaire("screening-short")


# --- The shipped questionnaires ---------------------------------------------


def test_both_shipped_questionnaires_load(full, short):
    assert {"screening-full", "screening-short"} <= set(available_questionnaires())
    assert "indicators" not in available_questionnaires()
    for q in (full, short):
        assert q.id in ("screening-full", "screening-short")
        assert q.version and q.title
        assert [s.id for s in q.sections][:3] == ["safety", "consent", "about_you"]
        assert [s.id for s in q.sections][-2:] == ["observations", "end"]


def test_loading_is_cached(full):
    assert load_questionnaire("screening-full") is full


def test_full_form_asks_every_indicator_once(full):
    catalogue = load_catalogue()
    asked = [q.indicator for q in full.questions if q.indicator]
    assert len(asked) == len(set(asked))
    assert set(asked) == set(catalogue.indicators)  # the 63 item-bank ids and ACT
    assert len([i for i in catalogue.indicators.values() if i.dimension]) == 63


def test_indicator_questions_are_named_after_their_indicator(full):
    for question in full.questions:
        if question.indicator and question.indicator != "ACT":
            assert question.id == question.indicator.lower()
            assert question.type == "yes_no_unknown"


@pytest.mark.parametrize("child", [False, True], ids=["adult", "child"])
def test_short_form_can_make_every_dimension_positive(short, child):
    catalogue = load_catalogue()
    asked = [q.indicator for q in short.questions if q.indicator and q.indicator != "ACT"]
    assert 16 <= len(asked) <= 23
    for number, name in enumerate(DIMENSIONS, 1):
        in_dimension = [i for i in asked if catalogue.indicators[i].dimension == number]
        assert assess(in_dimension, child=child)["dimensions"][name], name


def test_short_form_asks_every_strong_indicator(short):
    asked = {q.indicator for q in short.questions if q.indicator}
    strong = {i.id for i in load_catalogue().indicators.values() if "strong" in (i.adult, i.child)}
    assert strong <= asked


def test_urgent_questions_come_first(full, short):
    for q in (full, short):
        urgent = [question.id for question in q.questions if question.urgent]
        assert urgent == [
            "danger_now",
            "controller_nearby",
            "urgent_medical",
            "nowhere_to_sleep",
            "dependants_unsafe",
        ]
        assert all(q.question(i).section == "safety" for i in urgent)


def test_consent_links_to_htcds(full):
    assert full.question("consent").htcds == "vic_AgreementToManagePersonalData"
    assert full.question("dr1").htcds == "vic_MethodOfRecruitment"


def test_no_shipped_text_says_victim(full, short):
    for q in (full, short):
        assert q.texts()
        assert not [t for t in q.texts() if "victim" in t.lower()]


def test_question_lookup(full):
    assert full.question("dr1").indicator == "DR1"
    with pytest.raises(KeyError):
        full.question("nope")


# --- Checking a questionnaire file -----------------------------------------


def test_minimal_file_loads_from_a_path(tmp_path):
    q = load_questionnaire(write(tmp_path, MINIMAL, "mini.toml"))
    assert q.id == "mini" and q.question("dr1").indicator == "DR1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            MINIMAL.replace('"DR1"', '"ZZ9"'), "unknown indicator 'ZZ9'", id="unknown-indicator"
        ),
        pytest.param(
            with_question("""
            id = "later"
            type = "yes_no_unknown"
            text = "Anything?"
            show_if = { question = "missing", equals = "yes" }
            """),
            "show_if refers to unknown question 'missing'",
            id="show-if-missing-question",
        ),
        pytest.param(
            with_question("""
            id = "dr1"
            type = "yes_no_unknown"
            text = "Again?"
            """),
            "duplicate question id 'dr1'",
            id="duplicate-question-id",
        ),
        pytest.param(
            MINIMAL.replace('type = "yes_no_unknown"\ntext = "Are', 'type = "yesno"\ntext = "Are'),
            "unknown type 'yesno'",
            id="unknown-type",
        ),
        pytest.param(
            with_question("""
            id = "pick"
            type = "single_choice"
            text = "Which one?"
            """),
            "needs a non-empty 'choices' list",
            id="choice-without-choices",
        ),
        pytest.param(
            with_question("""
            id = "pick"
            type = "multiple_choice"
            text = "Which ones?"
            choices = []
            """),
            "needs a non-empty 'choices' list",
            id="empty-choices",
        ),
        pytest.param(
            with_question("""
            id = "typo"
            type = "yes_no_unknown"
            text = "Anything?"
            show-if = { question = "dr1", equals = "yes" }
            """),
            "unknown key(s) ['show-if']",
            id="mistyped-key",
        ),
        pytest.param(
            MINIMAL.replace(
                'text = "Are you in danger now?"',
                'text = "Are you in danger now?"\nshow_if = { question = "dr1", equals = "yes" }',
            ),
            "which is not asked before this point",
            id="show-if-reads-a-later-question",
        ),
        pytest.param(
            with_question("""
            id = "odd"
            type = "yes_no_unknown"
            text = "Anything?"
            show_if = { question = "dr1", equals = "maybe" }
            """),
            "'maybe', which is not one of its answers",
            id="show-if-impossible-value",
        ),
        pytest.param(
            with_question("""
            id = "odd"
            type = "yes_no_unknown"
            text = "Anything?"
            show_if = { condition = "nowhere" }
            """),
            "uses condition 'nowhere'",
            id="unknown-named-condition",
        ),
        pytest.param(
            with_question("""
            id = "odd"
            type = "yes_no_unknown"
            text = "Anything?"
            show_if = { question = "dr1" }
            """),
            "exactly one of",
            id="condition-without-operator",
        ),
        pytest.param(
            with_question("""
            id = "odd"
            type = "yes_no_unknown"
            text = "Anything?"
            htcds = "vic_Invented"
            """),
            "unknown HTCDS field 'vic_Invented'",
            id="invented-htcds-field",
        ),
        pytest.param(
            MINIMAL.replace('id = "danger_now"', 'id = "not_in_catalogue"'),
            "no [urgent.not_in_catalogue] entry",
            id="urgent-without-catalogue-entry",
        ),
        pytest.param(
            with_question("""
            id = "pick"
            type = "single_choice"
            text = "Which one?"
            indicator = "DR2"
            choices = [{ id = "a", text = "A" }]
            """),
            "must be yes_no_unknown",
            id="indicator-on-a-choice-question",
        ),
        pytest.param(
            with_question("""
            id = "dr1_again"
            type = "yes_no_unknown"
            text = "Again?"
            indicator = "DR1"
            """),
            "indicator DR1 is already asked",
            id="indicator-asked-twice",
        ),
        pytest.param(
            with_question("""
            id = "howmany"
            type = "number"
            text = "How many?"
            max_length = 3
            """),
            "takes no ['max_length']",
            id="limit-of-the-wrong-type",
        ),
        pytest.param(
            MINIMAL.replace("[conditions.presumed_child]", "[conditions.adult]"),
            "must define 'presumed_child'",
            id="no-child-presumption",
        ),
        pytest.param(
            MINIMAL.replace('id = "mini"', 'id = "mini'), "not valid TOML", id="invalid-toml"
        ),
        pytest.param(
            MINIMAL.replace('title = "Mini"', ""), "missing key(s) ['title']", id="missing-title"
        ),
    ],
)
def test_broken_file_gives_a_clear_error(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path)
    assert str(caught.value).startswith("broken.toml: ")
    assert message in str(caught.value)


@pytest.mark.parametrize("name", ["../indicators", "indicators", "a/b", "", "Screening"])
def test_a_name_cannot_escape_the_questionnaire_folder(name):
    with pytest.raises(QuestionnaireError):
        load_questionnaire(name)


def test_a_missing_questionnaire_is_named():
    with pytest.raises(QuestionnaireError, match="no-such-form"):
        load_questionnaire("no-such-form")


# --- Show-if ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "answers", "expected"),
    [
        ({"question": "a", "equals": "yes"}, {"a": "yes"}, True),
        ({"question": "a", "equals": "yes"}, {"a": "no"}, False),
        ({"question": "a", "equals": "yes"}, {}, False),
        ({"question": "a", "in": ["yes", "unknown"]}, {"a": "unknown"}, True),
        ({"question": "a", "in": ["yes", "unknown"]}, {"a": "no"}, False),
        ({"question": "m", "in": ["x", "y"]}, {"m": ["z", "y"]}, True),
        ({"question": "m", "contains": "x"}, {"m": ["x"]}, True),
        ({"question": "m", "contains": "x"}, {"m": []}, False),
        ({"question": "a", "answered": True}, {"a": "no"}, True),
        ({"question": "a", "answered": True}, {"a": ""}, False),
        ({"question": "a", "answered": False}, {}, True),
        ({"question": "n", "less_than": 18}, {"n": 17}, True),
        ({"question": "n", "less_than": 18}, {"n": 18}, False),
        ({"question": "n", "less_than": 18}, {"n": "17"}, False),
        ({"question": "n", "at_least": 18}, {"n": 18}, True),
        (
            {"all": [{"question": "a", "equals": "yes"}, {"question": "b", "equals": "yes"}]},
            {"a": "yes", "b": "yes"},
            True,
        ),
        (
            {"all": [{"question": "a", "equals": "yes"}, {"question": "b", "equals": "yes"}]},
            {"a": "yes", "b": "no"},
            False,
        ),
        (
            {"any": [{"question": "a", "equals": "yes"}, {"question": "b", "equals": "yes"}]},
            {"a": "no", "b": "yes"},
            True,
        ),
        (
            {"any": [{"question": "a", "equals": "yes"}, {"question": "b", "equals": "yes"}]},
            {},
            False,
        ),
        ({"not": {"question": "a", "equals": "yes"}}, {}, True),
        ({"not": {"question": "a", "equals": "yes"}}, {"a": "yes"}, False),
        ({"condition": "is_yes"}, {"a": "yes"}, True),
    ],
)
def test_show_if_evaluation(condition, answers, expected):
    named = {"is_yes": parse_condition({"question": "a", "equals": "yes"}, "test")}
    assert evaluate(parse_condition(condition, "test"), answers, named) is expected


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"all": []},
        {"all": [{"question": "a", "equals": "y"}], "any": []},
        {"question": "a", "equals": "y", "in": ["y"]},
        {"question": "a", "less_than": "18"},
        {"question": "a", "answered": "yes"},
        {"eval": "__import__('os')"},
        "a == 'yes'",
    ],
)
def test_malformed_conditions_are_refused(raw):
    with pytest.raises(QuestionnaireError):
        parse_condition(raw, "test")


def test_without_consent_only_observations_and_end_are_shown(full):
    sections = full.visible_sections({"consent_explained": "yes", "consent": "no"})
    assert [s.id for s in sections] == ["safety", "consent", "observations", "end"]
    assert len(full.visible_sections(CONSENT)) == len(full.sections)


def test_consent_needs_the_explanation_too(full):
    answers = {"consent_explained": "no", "consent": "yes"}
    assert "about_you" not in [s.id for s in full.visible_sections(answers)]


def test_answers_behind_a_refused_consent_do_not_count(full):
    answers = {
        "consent_explained": "yes",
        "consent": "no",
        "under_18": "no",
        "dr1": "yes",
        "ex1": "yes",
        "cd1": "yes",
    }
    assert full.indicators_from_answers(answers) == []
    assert full.indicators_from_answers({**answers, "consent": "yes"}) == ["DR1", "EX1", "CD1"]


def test_child_only_questions_follow_the_presumption(full):
    about = full.section("about_you")
    adult = {**CONSENT, "under_18": "no"}
    assert "child_act" not in [q.id for q in about.visible_questions(adult)]
    assert "child_act" in [q.id for q in about.visible_questions({**adult, "age": 15})]
    shown = about.visible_questions({**CONSENT, "under_18": "not_sure", "child_act": "yes"})
    assert [q.id for q in shown][-2:] == ["child_act", "child_act_purpose"]


def test_a_hidden_answer_does_not_open_a_follow_up(full):
    about = full.section("about_you")
    shown = about.visible_questions({**CONSENT, "under_18": "no", "child_act": "yes"})
    assert "child_act_purpose" not in [q.id for q in shown]


# --- The child presumption ---------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "child"),
    [
        ({"under_18": "yes"}, True),
        ({"under_18": "not_sure"}, True),
        ({}, True),  # age unknown: presume a child (CoE Art. 10)
        ({"under_18": "no"}, False),
        ({"under_18": "no", **CONSENT, "age": 16}, True),
        ({"under_18": "no", **CONSENT, "age": 30}, False),
        ({"under_18": "no", "consent": "no", "age": 16}, False),  # age not asked without consent
    ],
)
def test_is_child(full, answers, child):
    assert full.is_child(answers) is child


def test_urgent_flags(full):
    answers = {"danger_now": "yes", "urgent_medical": "unknown", "nowhere_to_sleep": "yes"}
    assert full.urgent_flags(answers) == ["danger_now", "nowhere_to_sleep"]
    assert full.urgent_flags({"danger_now": "no"}) == []


def test_whole_interview_assessment(full):
    answers = {
        **CONSENT,
        "under_18": "no",
        "dr1": "yes",
        "dr2": "yes",
        "ex1": "yes",
        "ex2": "yes",
        "cd1": "yes",
        "cd3": "yes",
        "urgent_medical": "yes",
    }
    result = full.assess(answers)
    assert result["outcome"] == "refer_now"
    assert "emergency_medical" in result["referral_options"]


def test_child_act_counts_for_a_child(full):
    answers = {**CONSENT, "under_18": "yes", "child_act": "yes", "ex1": "yes", "ex2": "yes"}
    assert full.indicators_from_answers(answers) == ["ACT", "EX1", "EX2"]
    assert full.assess(answers)["outcome"] == "refer_now"


# --- Answers ----------------------------------------------------------------------


def validate(q, section, values, answers=CONSENT):
    """Validate one section's values on a fixed date."""
    return q.validate_answers(section, values, answers, today=TODAY)


@pytest.mark.parametrize(
    ("section", "question", "value", "clean"),
    [
        ("safety", "danger_now", "yes", "yes"),
        ("safety", "danger_now", " unknown ", "unknown"),
        ("safety", "under_18", "not_sure", "not_sure"),
        ("safety", "preferred_language", "AR", "ar"),
        ("safety", "preferred_language", "pt-BR", "pt-BR"),
        ("about_you", "age", "17", 17),
        ("about_you", "age", 0, 0),
        ("about_you", "journey_start_country", "ng", "NG"),
        ("about_you", "arrival_date", "2025-06-15", "2025-06-15"),
        (
            "observations",
            "observations",
            ["few_belongings", "someone_answers"],
            ["someone_answers", "few_belongings"],
        ),
        ("observations", "observations", "rehearsed_story", ["rehearsed_story"]),
        ("observations", "observation_note", "line one\r\nline two", "line one\nline two"),
    ],
)
def test_valid_answers_are_cleaned(full, section, question, value, clean):
    answers, errors = validate(full, section, {question: value})
    assert errors.get(question) is None
    assert answers[question] == clean


@pytest.mark.parametrize(
    ("section", "question", "value", "message"),
    [
        ("safety", "danger_now", "maybe", "Choose one of the answers shown."),
        ("safety", "danger_now", ["yes", "no"], "Give one answer only."),
        ("safety", "interviewer_gender", "other", "Choose one of the answers shown."),
        ("safety", "preferred_language", "not a language", "Choose a language from the list."),
        ("about_you", "age", "seventeen", "Enter a whole number."),
        ("about_you", "age", "17.5", "Enter a whole number."),
        ("about_you", "age", True, "Enter a whole number."),
        ("about_you", "age", "-1", "Enter a number of at least 0."),
        ("about_you", "age", "121", "Enter a number of at most 120."),
        ("about_you", "journey_start_country", "Nigeria", "Choose a country from the list."),
        (
            "about_you",
            "arrival_date",
            "15/06/2025",
            "Enter a date as year-month-day, for example 2024-03-31.",
        ),
        (
            "about_you",
            "arrival_date",
            "2025-02-30",
            "Enter a date as year-month-day, for example 2024-03-31.",
        ),
        ("about_you", "arrival_date", "2025-06-16", "Enter a date on or before 2025-06-15."),
        ("about_you", "arrival_date", "1949-12-31", "Enter a date on or after 1950-01-01."),
        (
            "observations",
            "observations",
            ["few_belongings", "made_up"],
            "Choose only from the answers shown.",
        ),
        (
            "observations",
            "observation_note",
            "x" * 2001,
            "Shorten this answer to at most 2000 characters.",
        ),
    ],
)
def test_invalid_answers_get_a_plain_message(full, section, question, value, message):
    answers, errors = validate(full, section, {question: value})
    assert errors[question] == message
    assert question not in answers


def test_required_questions_must_be_answered(full):
    answers, errors = validate(full, "safety", {"danger_now": "no"})
    assert answers == {"danger_now": "no"}
    assert set(errors) == {
        "controller_nearby",
        "urgent_medical",
        "nowhere_to_sleep",
        "dependants_unsafe",
        "under_18",
    }
    assert set(errors.values()) == {"Please answer this question."}


def test_optional_questions_may_be_skipped(full):
    answers, errors = validate(full, "work", {"ex1": "", "ex2": "no"})
    assert (answers, errors) == ({"ex2": "no"}, {})


def test_short_text_stays_on_one_line(tmp_path):
    q = load_questionnaire(
        write(
            tmp_path,
            with_question("""
        id = "name"
        type = "short_text"
        text = "What should I call you?"
        max_length = 10
        """),
            "text.toml",
        )
    )
    assert validate(q, "second", {"name": "Ana"})[0] == {"name": "Ana"}
    assert validate(q, "second", {"name": "a\nb"})[1] == {"name": "Write this answer on one line."}
    assert validate(q, "second", {"name": "x" * 11})[1] == {
        "name": "Shorten this answer to at most 10 characters."
    }


def test_hidden_questions_are_not_validated_or_kept(full):
    adult = {**CONSENT, "under_18": "no"}
    answers, errors = validate(full, "about_you", {"child_act": "yes", "age": "x"}, adult)
    assert "child_act" not in answers and errors == {"age": "Enter a whole number."}
    answers, _ = validate(
        full,
        "about_you",
        {"child_act": "yes", "child_act_purpose": "sex"},
        {**CONSENT, "under_18": "yes"},
    )
    assert answers == {"child_act": "yes", "child_act_purpose": ["sex"]}


def test_a_hidden_section_accepts_nothing(full):
    answers, errors = validate(full, "work", {"ex1": "yes"}, {"consent": "no"})
    assert (answers, errors) == ({}, {})


def test_form_values_may_be_a_multidict(full):
    class MultiDict(dict):
        def getlist(self, key):
            return ["few_belongings", "clothing"] if key == "observations" else []

    answers, _ = validate(full, "observations", MultiDict(observations="few_belongings"))
    assert answers["observations"] == ["clothing", "few_belongings"]
