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
from intake.questionnaire.conditions import AllOf, AnyOf, Named, Not, evaluate, parse_condition

TODAY = dt.date(2025, 6, 15)
CONSENT = {"consent_explained": "yes", "consent": "yes"}
ADULT = {**CONSENT, "under_18": "no"}

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
        assert q.version.startswith("2.") and q.title
        assert [s.id for s in q.sections][:3] == ["safety", "child_protection", "consent"]
        assert [s.id for s in q.sections][-2:] == ["observations", "end"]


def test_loading_is_cached(full):
    assert load_questionnaire("screening-full") is full


def recorded_by(q) -> list[str]:
    """Every item a questionnaire can record: yes/no questions and choices."""
    found = [x.indicator for x in q.questions if x.indicator]
    return found + [c.indicator for x in q.questions for c in x.choices if c.indicator]


def test_full_form_asks_every_item_of_the_catalogue(full):
    catalogue = load_catalogue()
    assert set(recorded_by(full)) == set(catalogue.indicators)
    on_questions = [x.indicator for x in full.questions if x.indicator]
    assert len(on_questions) == len(set(on_questions))
    ilo = [i for i in catalogue.indicators.values() if i.kind == "indicator"]
    assert len([i for i in ilo if not i.id.startswith("SC")]) == 67


def test_indicator_questions_are_named_after_their_indicator(full):
    for question in full.questions:
        if question.indicator and question.indicator != "ACT":
            assert question.id == question.indicator.lower()
            assert question.type == "yes_no_unknown"


@pytest.mark.parametrize("child", [False, True], ids=["adult", "child"])
def test_short_form_can_make_every_dimension_positive(short, child):
    catalogue = load_catalogue()
    asked = [i for i in set(recorded_by(short)) if catalogue.indicators[i].kind == "indicator"]
    assert 16 <= len(asked) <= 32
    for number, name in enumerate(DIMENSIONS, 1):
        in_dimension = [i for i in asked if catalogue.indicators[i].dimension == number]
        assert assess(in_dimension, child=child)["dimensions"][name], name


def test_short_form_asks_every_strong_indicator(short):
    asked = set(recorded_by(short))
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
            "guardian_present",
        ]
        assert [q.question(i).section for i in urgent] == ["safety"] * 5 + ["child_protection"]


def test_referral_data_maps_to_htcds_fields_and_values(full):
    assert full.question("consent").htcds == "vic_AgreementToManagePersonalData"
    expected = {
        "gender": "prs_Gender",
        "nationality": "prs_Nationality",
        "current_location": "prs_MailingCity",
        "contact_phone": "prs_MobilePhone",
        "recruitment_country": "hte_Country",
        "recruitment_date": "hte_Date",
        "transit_places": "hte_Description",
        "exploitation_country": "hte_Country",
        "recruitment_channel": "vic_MethodOfRecruitment",
        "recruiter_role": "per_RoleInProcess",
        "exploitation_type": "vic_TypeOfLabourExploitation",
    }
    assert {qid: full.question(qid).htcds for qid in expected} == expected
    assert full.question("recruitment_country").htcds_event == "Recruitment"
    assert full.question("transit_places").htcds_event == "Transit"
    assert full.question("exploitation_country").htcds_event == "Exploitation"
    sex = next(c for c in full.question("exploitation_type").choices if c.id == "sex")
    assert (sex.htcds, sex.htcds_value) == ("vic_TypeOfSexExploitation", "Prostitution")
    # The review's findings: deception is a means of control, not a recruitment channel;
    # EX1, EX2 and CD14 are mapped.
    for qid in ("dr1", "dr2", "dr5"):
        assert (full.question(qid).htcds, full.question(qid).htcds_value) == (
            "vic_MethodsOfControl",
            "FalsePromises",
        )
    assert full.question("ex1").htcds_value == "ExcessiveWorkingHours"
    assert full.question("ex2").htcds_value == "TakesEarnings"
    assert full.question("cd14").htcds_value == "TakesEarnings"


def test_every_htcds_value_is_in_its_pick_list(full, short):
    catalogue = load_catalogue()
    for q in (full, short):
        for question in q.questions:
            if question.htcds_value:
                assert question.htcds_value in catalogue.htcds[question.htcds]
            for choice in question.choices:
                if choice.htcds_value:
                    field = choice.htcds or question.htcds
                    assert choice.htcds_value in catalogue.htcds[field]


def test_no_shipped_text_says_victim(full, short):
    for q in (full, short):
        assert q.texts()
        assert not [t for t in q.texts() if "victim" in t.lower()]


def test_harmful_wording_is_gone(full, short):
    for q in (full, short):
        for text in q.texts():
            assert "rehearsed" not in text.lower()
            assert "sex work" not in text.lower()


def test_question_lookup(full):
    assert full.question("dr1").indicator == "DR1"
    with pytest.raises(KeyError):
        full.question("nope")


# --- Respondent view, officer view ------------------------------------------


def test_respondent_and_officer_texts_are_apart(full):
    danger = full.question("danger_now")
    assert danger.respondent_texts == [
        "Are you, or is anyone in your family, in danger right now?",
        "Yes",
        "No",
        "Don't know",
    ]
    assert any(
        "Do not let the person leave with their companions" in t for t in danger.officer_texts
    )
    assert danger.action_when == ("yes", "unknown")
    respondent = {t for x in full.questions for t in x.respondent_texts}
    officer_only = {t for x in full.questions for t in x.officer_texts} - respondent
    assert "Tick what you noticed." in officer_only
    assert not [t for t in respondent if "companions" in t or "supervisor" in t]
    assert full.question("observations").respondent_texts == []


def test_read_aloud_is_off_for_violence_and_sex(full):
    sensitive = {x.id for x in full.questions if x.sensitive}
    assert {"cr1", "cr2", "cr3", "cd4", "cd5", "cd7", "child_act_purpose", "exploitation_type"} <= (
        sensitive
    )
    for question in full.questions:
        if question.sensitive or question.audience == "officer":
            assert not question.read_aloud, question.id
        else:
            assert question.read_aloud, question.id


def test_key_words_carry_a_translator_note(full):
    notes = dict(full.text_notes())
    assert "neutral" in notes["Are you under 18?"][0]
    assert "physical harm" in notes[full.question("danger_now").text][0]
    assert "past or now" in notes[full.question("cr4").text][0]
    assert "introduce" in notes[full.question("wants_referral").text][0]
    assert "'Recruited'" in notes[full.question("recruitment_country").text][0]
    married = next(c for c in full.question("child_act_purpose").choices if c.id == "marriage")
    assert "forced or arranged marriage" in notes[married.text][0]


def test_extraction_emits_the_translator_notes(full):
    from intake.i18n.extract import TRANSLATOR_NOTE, extract_questionnaire

    with open(full.path, "rb") as f:
        found = {m: c for _line, _f, m, c in extract_questionnaire(f, (), (), {})}
    assert found["Are you under 18?"][0] == TRANSLATOR_NOTE
    assert "neutral" in found["Are you under 18?"][1]


def test_rights_come_before_papers_and_crimes(full):
    order = [s.id for s in full.sections]
    assert order.index("rights") < order.index("recruitment") < order.index("control")
    assert "punished" in full.section("rights").intro
    assert "punished" in full.section("child").intro
    assert full.question("reflection_period_explained").requires_setting == (
        "reflection_period_days"
    )
    assert full.question("hotline_given").requires_setting == "hotline_number"
    assert not full.question("hotline_given").applies({})
    assert full.question("hotline_given").applies({"hotline_number": "116 000"})
    assert full.question("danger_now").applies(None)


# --- The child path ------------------------------------------------------------


def _tests(condition, named):
    if condition is None:
        return []
    if isinstance(condition, AllOf | AnyOf):
        return [t for item in condition.items for t in _tests(item, named)]
    if isinstance(condition, Not):
        return _tests(condition.item, named)
    if isinstance(condition, Named):
        return _tests(named[condition.name], named)
    return [condition]


def _compared(q) -> dict:
    """Return {question id: the values some condition compares it with}."""
    conditions = [s.show_if for s in q.sections] + [x.show_if for x in q.questions]
    found: dict = {}
    for condition in conditions + list(q.conditions.values()):
        for test in _tests(condition, q.conditions):
            values = test.value if isinstance(test.value, tuple) else (test.value,)
            found.setdefault(test.question, set()).update(
                v for v in values if not isinstance(v, bool)
            )
    return found


def _answers_to_try(question, compared) -> list:
    """Every answer that can change what follows: each compared value, another, none."""
    if question.id not in compared:
        return [None]
    values = compared[question.id]
    if question.type == "number":
        return [None, *sorted({v - 1 for v in values} | set(values))]
    used = [c for c in question.choice_ids if c in values]
    others = [c for c in question.choice_ids if c not in values][:1]
    if question.type == "multiple_choice":
        return [None, list(question.choice_ids), *([c] for c in used + others)]
    return [None, *used, *others]


def walk_as_child(q) -> list[list[str]]:
    """Walk every branch a presumed child can take; return the questions shown on each."""
    compared, named = _compared(q), q.conditions
    flat = [(s, x) for s in q.sections for x in s.questions]
    paths: list = []

    def go(at, answers, shown):
        kept = q.effective_answers(answers)
        while at < len(flat):
            section, question = flat[at]
            if section.id != "safety" and not evaluate(named["presumed_child"], kept, named):
                return  # an adult: another walk
            if evaluate(section.show_if, kept, named) and evaluate(question.show_if, kept, named):
                break
            at += 1
        if at == len(flat):
            paths.append(shown)
            return
        question = flat[at][1]
        for value in _answers_to_try(question, compared):
            following = answers if value is None else {**answers, question.id: value}
            go(at + 1, following, [*shown, question.id])

    go(0, {}, [])
    return paths


@pytest.mark.parametrize("name", ["screening-full", "screening-short"])
def test_a_presumed_child_reaches_the_end_in_at_most_15_questions(name):
    q = load_questionnaire(name)
    paths = walk_as_child(q)
    assert len(paths) > 100  # every branch: age, consent, interpreter, act, purpose...
    longest = max(paths, key=len)
    assert len(longest) <= 15, longest
    for shown in paths:
        assert "guardian_present" in shown  # from the moment a child is presumed
        assert not {"dr1", "cd1", "ex1", "exploitation_type", "wants_referral"} & set(shown)


def test_the_child_path_is_safety_act_purpose_stop(full):
    answers = {"under_18": "not_sure", **CONSENT, "child_act": "yes"}
    shown = [s.id for s in full.visible_sections(answers)]
    assert shown == ["safety", "child_protection", "consent", "child", "observations"]


# --- Dimensions 3 and 6 count a vulnerability only when it was abused -----------


def test_a_vulnerability_counts_only_when_abused(full):
    situations = {"rv_situations": ["family_crisis", "no_money", "trust"]}
    assert full.indicators_from_answers({**ADULT, "rv_used": "no", **situations}) == []
    assert full.indicators_from_answers({**ADULT, "rv_used": "yes", **situations}) == [
        "RV1",
        "RV6",
        "RV7",
    ]
    one_fact = {**ADULT, "rv_used": "yes", "rv_situations": ["past"], "vd_used": "no"}
    assert full.indicators_from_answers({**one_fact, "vd_situations": ["past"]}) == ["RV8"]


def test_the_list_follows_the_officer_or_the_purpose(full):
    assert full.exploitation_list(ADULT) == "labour"
    sex = {**ADULT, "exploitation_type": ["sex"]}
    assert full.exploitation_list(sex) == "sexual"
    assert full.exploitation_list({**sex, "ilo_list": "labour"}) == "labour"
    assert full.exploitation_list({**ADULT, "ilo_list": "sexual"}) == "sexual"
    child = {"under_18": "yes", **CONSENT, "child_act": "yes", "child_act_purpose": ["sex"]}
    assert full.exploitation_list(child) == "sexual"
    assert full.assess({**ADULT, "ilo_list": "sexual", "cd7": "yes", "cd5": "yes"})["list"] == (
        "sexual"
    )


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
            "no [urgent.*] entry with question = 'not_in_catalogue'",
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
            with_question("""
            id = "pick"
            type = "single_choice"
            text = "Which one?"
            choices = [{ id = "a", text = "A", indicator = "ZZ9" }]
            """),
            "unknown indicator 'ZZ9'",
            id="unknown-item-on-a-choice",
        ),
        pytest.param(
            with_question("""
            id = "cd1"
            type = "yes_no_unknown"
            text = "Papers?"
            htcds = "vic_MethodsOfControl"
            htcds_value = "TakesPassports"
            """),
            "'TakesPassports' is not a value of HTCDS vic_MethodsOfControl",
            id="htcds-value-not-in-pick-list",
        ),
        pytest.param(
            with_question("""
            id = "noted"
            type = "long_text"
            text = "What you saw."
            audience = "officer"
            read_aloud = true
            """),
            "never on officer items",
            id="officer-item-read-aloud",
        ),
        pytest.param(
            with_question("""
            id = "odd"
            type = "yes_no_unknown"
            text = "Anything?"
            action_when = ["yes"]
            """),
            "'action_when' needs an 'action'",
            id="action-when-without-action",
        ),
        pytest.param(
            with_question("""
            id = "where"
            type = "country"
            text = "Where?"
            htcds = "hte_Country"
            """),
            "an hte_ field needs 'htcds_event'",
            id="event-field-without-event",
        ),
        pytest.param(
            with_question("""
            id = "pick"
            type = "multiple_choice"
            text = "Which ones?"
            choices = [
              { id = "a", text = "A", indicator = "DR1" },
            ]
            """),
            "indicator DR1 is already asked",
            id="item-on-a-question-and-a-choice",
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
    sections = full.visible_sections(
        {"under_18": "no", "consent_explained": "yes", "consent": "no"}
    )
    assert [s.id for s in sections] == ["safety", "consent", "observations", "end"]
    hidden_for_an_adult = {"child_protection", "child"}
    assert len(full.visible_sections(ADULT)) == len(full.sections) - len(hidden_for_an_adult)


def test_consent_needs_the_explanation_too(full):
    answers = {"under_18": "no", "consent_explained": "no", "consent": "yes"}
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
    assert not full.section("child").is_visible(full.effective_answers(ADULT))
    assert full.visible_sections({**ADULT, "age": 15})[1].id == "child_protection"
    shown = full.section("child").visible_questions(
        {**CONSENT, "under_18": "not_sure", "child_act": "yes"}
    )
    assert [q.id for q in shown] == ["child_act", "child_act_purpose"]


def test_a_hidden_answer_does_not_open_a_follow_up(full):
    child = full.section("child")
    shown = child.visible_questions({**CONSENT, "under_18": "yes", "child_act": "no"})
    assert "child_act_purpose" not in [q.id for q in shown]
    assert (
        full.indicators_from_answers({**ADULT, "child_act": "yes", "child_act_purpose": ["crime"]})
        == []
    )


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
        ({"under_18": "no", "consent": "no", "age": 16}, True),  # asked before consent
        ({"under_18": "yes", "age": 30}, True),  # age is asked only after a "no"
    ],
)
def test_is_child(full, answers, child):
    assert full.is_child(answers) is child


def test_urgent_flags(full):
    answers = {"danger_now": "yes", "urgent_medical": "unknown", "nowhere_to_sleep": "yes"}
    assert full.urgent_flags(answers) == ["DANGER_NOW", "NOWHERE_TO_SLEEP"]
    assert full.urgent_flags({"danger_now": "no"}) == []
    # "Don't know" to danger or to a controller nearby counts as urgent.
    unsure = {"danger_now": "unknown", "controller_nearby": "unknown", "urgent_medical": "unknown"}
    assert full.urgent_flags(unsure) == ["DANGER_NOW", "CONTROLLER_NEARBY"]
    child = {"under_18": "yes", "guardian_present": "no"}
    assert full.urgent_flags(child) == ["CHILD_ALONE"]
    assert full.urgent_flags({"under_18": "no", "guardian_present": "no"}) == []


def test_urgent_needs_do_not_change_the_outcome(full):
    answers = {**ADULT, "nowhere_to_sleep": "yes"}
    result = full.assess(answers)
    assert result["outcome"] == "no_indicators"
    assert result["urgent"] == ["NOWHERE_TO_SLEEP"]
    assert result["referral_options"] == ["safe_accommodation"]


def test_whole_interview_assessment(full):
    answers = {
        **ADULT,
        "dr1": "yes",
        "dr2": "yes",
        "ex1": "yes",
        "ex2": "yes",
        "cd1": "yes",
        "cd3": "yes",
        "urgent_medical": "yes",
    }
    result = full.assess(answers, settings={"reflection_period_days": 90})
    assert result["outcome"] == "refer_now"
    assert "emergency_medical" in result["referral_options"]
    assert "reflection_period" in result["referral_options"]
    assert "reflection_period" not in full.assess(answers)["referral_options"]


def test_adult_in_transit_is_referred_before_exploitation(full):
    answers = {**ADULT, "dr1": "yes", "cr4": "yes", "cr5": "yes", "cr6": "yes"}
    assert full.assess(answers)["outcome"] == "refer_now"


def test_child_act_and_purpose_refer_now(full):
    answers = {**CONSENT, "under_18": "yes", "child_act": "yes", "child_act_purpose": ["crime"]}
    assert full.indicators_from_answers(answers) == ["ACT", "PURPOSE_CRIME"]
    result = full.assess(answers)
    assert result["outcome"] == "refer_now"
    assert "child_protection" in result["referral_options"]


def test_officer_observations_count(full):
    answers = {**ADULT, "observations": ["controlled_group"]}
    assert full.indicators_from_answers(answers) == ["OBS_CONTROLLED_GROUP"]
    assert full.assess(answers)["outcome"] == "consider_referral"


# --- Answers ----------------------------------------------------------------------


def validate(q, section, values, answers=ADULT):
    """Validate one section's values on a fixed date."""
    return q.validate_answers(section, values, answers, today=TODAY)


@pytest.mark.parametrize(
    ("section", "question", "value", "clean"),
    [
        ("safety", "danger_now", "yes", "yes"),
        ("safety", "danger_now", " unknown ", "unknown"),
        ("safety", "under_18", "not_sure", "not_sure"),
        ("safety", "age", "17", 17),
        ("safety", "age", 0, 0),
        ("about_you", "nationality", "ng", "NG"),
        ("places", "recruitment_date", "2025-06-15", "2025-06-15"),
        (
            "observations",
            "observations",
            ["few_belongings", "someone_answers"],
            ["someone_answers", "few_belongings"],
        ),
        ("observations", "observations", "controlled_group", ["controlled_group"]),
        ("observations", "observation_note", "line one\r\nline two", "line one\nline two"),
    ],
)
def test_valid_answers_are_cleaned(full, section, question, value, clean):
    answers, errors = validate(full, section, {"under_18": "no", question: value})
    assert errors.get(question) is None
    assert answers[question] == clean


@pytest.mark.parametrize(
    ("section", "question", "value", "message"),
    [
        ("safety", "danger_now", "maybe", "Choose one of the answers shown."),
        ("safety", "danger_now", ["yes", "no"], "Give one answer only."),
        ("consent", "interviewer_gender", "other", "Choose one of the answers shown."),
        ("safety", "age", "seventeen", "Enter a whole number."),
        ("safety", "age", "17.5", "Enter a whole number."),
        ("safety", "age", True, "Enter a whole number."),
        ("safety", "age", "-1", "Enter a number of at least 0."),
        ("safety", "age", "121", "Enter a number of at most 120."),
        ("about_you", "nationality", "Nigeria", "Choose a country from the list."),
        (
            "places",
            "recruitment_date",
            "15/06/2025",
            "Enter a date as year-month-day, for example 2024-03-31.",
        ),
        (
            "places",
            "recruitment_date",
            "2025-02-30",
            "Enter a date as year-month-day, for example 2024-03-31.",
        ),
        ("places", "recruitment_date", "2025-06-16", "Enter a date on or before 2025-06-15."),
        ("places", "recruitment_date", "1949-12-31", "Enter a date on or after 1950-01-01."),
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
    answers, errors = validate(full, section, {"under_18": "no", question: value})
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
    answers, errors = validate(full, "child", {"child_act": "yes"}, ADULT)
    assert (answers, errors) == ({}, {})
    answers, errors = validate(full, "safety", {"under_18": "yes", "age": "x"}, {})
    assert "age" not in answers and "age" not in errors
    answers, _ = validate(
        full,
        "child",
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


def test_a_question_whose_setting_is_unset_is_not_asked(full):
    gated = {"reflection_period_explained", "hotline_given", "nrm_explained"}
    rights = {q.id for q in full.section("rights").questions}
    assert gated <= rights
    bare = full.for_settings({})
    assert {q.id for q in bare.section("rights").questions} == rights - gated
    assert not gated & {q.id for q in bare.questions}
    # An answer to a question not asked is not kept, nor read from a form.
    assert "hotline_given" not in bare.effective_answers({"hotline_given": "yes"})
    clean, errors = bare.validate_answers("rights", {"hotline_given": "yes"})
    assert "hotline_given" not in clean and not errors
    hotline = full.for_settings({"hotline_number": "116 000"})
    asked = {q.id for q in hotline.questions}
    assert "hotline_given" in asked
    assert "reflection_period_explained" not in asked and "nrm_explained" not in asked
    every = {"reflection_period_days": 30, "hotline_number": "116 000", "nrm_name": "NRM"}
    assert [q.id for q in full.for_settings(every).questions] == [q.id for q in full.questions]
    # The loaded questionnaire itself is left whole (it is cached, and shared).
    assert gated <= {q.id for q in full.questions}
