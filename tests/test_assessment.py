"""The decision rule: every clause for adults and children, referral options, the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.commands.assess import assess_command
from intake.questionnaire import (
    DIMENSIONS,
    OUTCOMES,
    QuestionnaireError,
    assess,
    load_catalogue,
)
from intake.questionnaire.assessment import CATALOGUE_PATH

REFER, CONSIDER, NONE = "refer_now", "consider_referral", "no_indicators"

# One positive set per dimension, for adults (strengths of the adult labour list).
D1 = ["DR1", "DR2"]  # 1 strong + 1 medium
D2 = ["CR1", "CR2"]  # 1 strong + 1 medium
D3 = ["RV1", "RV2", "RV3"]  # 3 medium
D4 = ["EX1", "EX2"]  # 1 strong + 1 medium
D5 = ["CD1", "CD2"]  # 2 strong
D6 = ["VD1", "VD2", "VD4"]  # 3 medium


def case(case_id, ids, outcome, positive=(), child=False, urgent=(), exploitation="labour"):
    """Build one row of the decision table; positive lists dimension numbers."""
    return pytest.param(ids, child, urgent, exploitation, outcome, set(positive), id=case_id)


# Expected outcomes written by hand from the rule in docs/questionnaire.md.
CASES = [
    # --- The four cases of issue 10 ---
    case(
        "issue-child-act-and-purpose-of-forced-crime", ["ACT", "PURPOSE_CRIME"], REFER, child=True
    ),
    case("issue-adult-transit-deceived-documents-debt", ["DR1", "CD1", "CD2"], REFER, [5]),
    case("issue-nowhere-to-sleep-alone", ["NOWHERE_TO_SLEEP"], NONE),
    case("issue-two-medium-coercive-recruitment", ["CR2", "CR3"], CONSIDER),
    # --- Dimension thresholds (adult strengths); anything recorded: consider ---
    case("threshold-2S", ["CD1", "CD2"], CONSIDER, [5]),
    case("threshold-3S", ["CD1", "CD3", "CD4"], CONSIDER, [5]),
    case("threshold-1S+1M", ["CD1", "CD5"], CONSIDER, [5]),
    case("threshold-1S+1W", ["CD1", "CD15"], CONSIDER, [5]),
    case("threshold-1S+1W-dim1", ["DR1", "DR8"], CONSIDER, [1]),
    case("threshold-3M", ["RV1", "RV2", "RV3"], CONSIDER, [3]),
    case("threshold-3M-dim6", ["VD1", "VD4", "VD5"], CONSIDER, [6]),
    case("threshold-2M+1W", ["RV1", "RV2", "RV15"], CONSIDER, [3]),
    case("threshold-2M+1W-dim4", ["EX2", "EX3", "EX7"], CONSIDER, [4]),
    case("below-1S-alone", ["CD1"], CONSIDER),
    case("below-weak-only", ["EX7"], CONSIDER),
    case("below-2W", ["VD6", "VD7"], CONSIDER),
    case("below-2M-alone", ["RV1", "RV2"], CONSIDER),
    case("below-1M+2W", ["VD1", "VD6", "VD7"], CONSIDER),
    case("below-thresholds-count-per-dimension", ["RV1", "RV2", "VD6"], CONSIDER),
    case("below-2S-in-two-dimensions", ["DR1", "CR1"], CONSIDER),
    # --- Adults, route 1: the ILO combination (1|2|3) and 4 and (5|6) ---
    case("adult-1+4+5", D1 + D4 + D5, REFER, [1, 4, 5]),
    case("adult-1+4+6", D1 + D4 + D6, REFER, [1, 4, 6]),
    case("adult-2+4+5", D2 + D4 + D5, REFER, [2, 4, 5]),
    case("adult-2+4+6", D2 + D4 + D6, REFER, [2, 4, 6]),
    case("adult-3+4+5", D3 + D4 + D5, REFER, [3, 4, 5]),
    case("adult-3+4+6", D3 + D4 + D6, REFER, [3, 4, 6]),
    case("adult-all-six", D1 + D2 + D3 + D4 + D5 + D6, REFER, [1, 2, 3, 4, 5, 6]),
    case("adult-missing-recruitment", D4 + D5 + D6, CONSIDER, [4, 5, 6]),
    case("adult-missing-destination", D1 + D2 + D3 + D4, CONSIDER, [1, 2, 3, 4]),
    case("adult-only-one-dimension", D3, CONSIDER, [3]),
    case("adult-dependency-is-not-control", D3 + D6, CONSIDER, [3, 6]),
    # --- Adults, routes 2 and 3: before exploitation (Palermo Art. 3(a) "purpose") ---
    case("adult-no-exploitation-yet-control", D1 + D2 + D3 + D5 + D6, REFER, [1, 2, 3, 5, 6]),
    case("adult-deceived-and-confined", D1 + ["CD3"], REFER, [1]),
    case("adult-transit-papers-debt-watched", ["DR1", "CR4", "CR5", "CR6"], REFER, [2]),
    case("adult-transit-strong-deception-papers", ["DR1", "CR5"], REFER),
    case("adult-deceived-medium-only-no-means", ["DR2", "CR5", "CR4"], CONSIDER),
    case("adult-deceived-about-pay-passport-debt", ["DR2", "CD1", "CD2"], REFER, [5]),
    case("adult-papers-in-transit-then-coercion", ["CR5", "CD1", "CD3"], REFER, [5]),
    case("adult-coercion-one-strong-only", ["DR2", "CD1"], CONSIDER),
    case("adult-control-without-means", ["CD1", "CD2", "CD3"], CONSIDER, [5]),
    case("adult-deceived-for-sexual-exploitation", ["DR1", "PURPOSE_SEX"], REFER, [], False),
    case("adult-abused-vulnerability-forced-crime", D3 + ["CD6"], REFER, [3]),
    case("adult-purpose-without-means", ["PURPOSE_LABOUR"], CONSIDER),
    case("adult-medium-deception-and-purpose", ["DR2", "PURPOSE_SCAM"], CONSIDER),
    case("adult-act-alone", ["ACT"], CONSIDER),
    case("adult-scam-resale-and-deception", ["DR1", "SC1"], REFER),
    # --- Children: the act and a purpose or sign of exploitation; no means ---
    case("child-act+crime-sign", ["ACT", "CD6"], REFER, child=True),
    case("child-act+begging", ["ACT", "PURPOSE_BEGGING"], REFER, child=True),
    case("child-act+dim4", ["ACT"] + D4, REFER, [4], child=True),
    case("child-act+dim5", ["ACT", "CD5", "CD6"], REFER, [5], child=True),
    case("child-act+one-sign-of-work", ["ACT", "EX7"], REFER, child=True),
    case("child-sold-for-marriage", ["CR3", "PURPOSE_MARRIAGE"], REFER, child=True),
    case("child-recruitment-dim-instead-of-act", ["CR2", "CR3"] + D4, REFER, [2, 4], child=True),
    case("child-adult-rule-also-holds", D1 + D4 + D5, REFER, [1, 4, 5], child=True),
    case("child-act+dim6-is-not-exploitation", ["ACT"] + D6, CONSIDER, [6], child=True),
    case("child-act-alone", ["ACT"], CONSIDER, child=True),
    case("child-purpose-without-act", ["PURPOSE_SEX"], CONSIDER, child=True),
    case("child-exploitation-without-act", D4 + D5, CONSIDER, [4, 5], child=True),
    case("child-CR2-strong", ["CR2"], CONSIDER, child=True),
    case("child-CR2+CR3-two-strong", ["CR2", "CR3"], CONSIDER, [2], child=True),
    case("child-CD5+CD6-two-strong", ["CD5", "CD6"], CONSIDER, [5], child=True),
    case("adult-CD5+CD6-two-medium", ["CD5", "CD6"], CONSIDER),
    case("child-DR8-strong", ["DR1", "DR8"], CONSIDER, [1], child=True),
    case("child-weak-becomes-medium", ["VD1", "VD6", "VD7"], CONSIDER, [6], child=True),
    case("child-weak-becomes-medium-dim3", ["RV1", "RV15", "RV16"], CONSIDER, [3], child=True),
    case("child-nothing", [], NONE, child=True),
    # --- Urgent needs: their own block, never the outcome ---
    case("urgent-danger-alone", [], NONE, urgent=["DANGER_NOW"]),
    case("urgent-by-question-id", [], NONE, urgent=["nowhere_to_sleep"]),
    case("urgent-with-weak-only", ["EX7"], CONSIDER, urgent=["URGENT_MEDICAL"]),
    case("urgent-with-one-dimension", D3, CONSIDER, [3], urgent=["URGENT_MEDICAL"]),
    case("urgent-child-alone", [], NONE, child=True, urgent=["CHILD_ALONE"]),
    case("urgent-with-refer-now", D1 + D4 + D5, REFER, [1, 4, 5], urgent=["DANGER_NOW"]),
    case("urgent-unknown-id-kept", [], NONE, urgent=["some_new_question"]),
    # --- Officer observations: recorded, so at least consider ---
    case("observation-controlled-group", ["OBS_CONTROLLED_GROUP"], CONSIDER),
    case("observation-child", ["OBS_ADULT_FOUND_CHILD"], CONSIDER, child=True),
    case("observation-never-makes-refer-now", ["OBS_SOMEONE_ANSWERS"] + D1, CONSIDER, [1]),
    # --- The lists: labour or sexual exploitation ---
    case("labour-CD7+CD5-below", ["CD7", "CD5"], CONSIDER),
    case("sexual-CD7-strong", ["CD7", "CD5"], CONSIDER, [5], exploitation="sexual"),
    case("labour-EX1-strong", ["EX1", "EX2"], CONSIDER, [4]),
    case("sexual-EX1-medium", ["EX1", "EX2"], CONSIDER, exploitation="sexual"),
    case("sexual-child-hazardous-strong", ["EX8", "EX2"], CONSIDER, [4], True, (), "sexual"),
    # --- Nothing recorded ---
    case("none-with-nothing", [], NONE),
]


@pytest.mark.parametrize(("ids", "child", "urgent", "exploitation", "outcome", "positive"), CASES)
def test_decision_table(ids, child, urgent, exploitation, outcome, positive):
    result = assess(ids, child=child, urgent=urgent, exploitation=exploitation)
    assert result["outcome"] == outcome
    assert {n for n, name in enumerate(DIMENSIONS, 1) if result["dimensions"][name]} == positive
    kinds = load_catalogue().urgent
    assert result["indicators"] == sorted({i for i in ids if i not in kinds})


def test_the_table_is_large_enough():
    assert len(CASES) >= 60


def test_urgent_needs_are_listed_apart():
    result = assess(["NOWHERE_TO_SLEEP", "DR1"], urgent=["danger_now"])
    assert result["urgent"] == ["NOWHERE_TO_SLEEP", "DANGER_NOW"]
    assert result["indicators"] == ["DR1"]
    assert result["outcome"] == CONSIDER
    assert assess([], urgent=["some_new_question"])["urgent"] == ["SOME_NEW_QUESTION"]


def test_routes_say_which_rule_held():
    assert assess(["ACT", "PURPOSE_CRIME"], child=True)["routes"] == ["child_purpose"]
    assert assess(["DR1", "CD1", "CD2"])["routes"] == [
        "before_exploitation_control",
        "before_exploitation_coercion",
    ]
    assert assess(["DR1", "CR5"])["routes"] == ["before_exploitation_control"]
    assert assess(D1 + D4 + D5)["routes"][0] == "ilo_combination"


def test_result_has_exactly_the_documented_shape():
    result = assess(["EX1", "DR1", "EX1"])
    assert list(result) == [
        "outcome",
        "dimensions",
        "indicators",
        "urgent",
        "routes",
        "list",
        "reasons",
        "referral_options",
    ]
    assert tuple(result["dimensions"]) == DIMENSIONS
    assert result["indicators"] == ["DR1", "EX1"]
    assert all(isinstance(reason, str) for reason in result["reasons"])


def test_unknown_ids_raise_value_error():
    with pytest.raises(ValueError, match="unknown indicator id.*ZZ1"):
        assess(["DR1", "ZZ1"])
    with pytest.raises(ValueError):
        assess(["dr1"])  # ids are exact; the questionnaire gives them upper-case
    with pytest.raises(ValueError, match="unknown list"):
        assess(["DR1"], exploitation="organs")


def test_a_bare_string_is_refused():
    with pytest.raises(TypeError):
        assess("DR1")


# --- Reasons --------------------------------------------------------------------


def test_reasons_name_dimensions_indicators_and_the_rule():
    reasons = assess(D1 + D4 + D5)["reasons"]
    assert reasons[0] == (
        "Deceptive recruitment (dimension 1) is positive: DR1 (strong), "
        "DR2 (medium) meet the threshold 'one strong and at least one "
        "medium or weak'."
    )
    assert (
        "Coercion at destination (dimension 5) is positive: CD1 (strong), CD2 (strong)"
        in reasons[2]
    )
    assert reasons[3].startswith("ILO combination rule holds")


def test_reasons_say_what_is_missing():
    reasons = assess(D4 + D5)["reasons"]
    assert reasons[-2] == (
        "ILO combination rule does not hold; missing: a recruitment dimension (1, 2 or 3)."
    )
    assert reasons[-1].startswith("Recorded, below what a referral now needs: ")


def test_reasons_for_urgent_child_and_below():
    reasons = assess(["CR2"], child=True, urgent=["URGENT_MEDICAL"])["reasons"]
    assert reasons[0].startswith("Child strengths and the child rule were used")
    assert reasons[1] == (
        "Urgent need: urgent medical need. Act on it first; it does not change the "
        "screening outcome."
    )
    assert reasons[2] == "Recorded, below what a referral now needs: CR2 (strong)."


def test_reasons_for_nothing_and_weak_only():
    assert assess([])["reasons"] == ["No indicators were recorded."]
    assert assess(["EX7"])["reasons"] == ["Recorded, below what a referral now needs: EX7 (weak)."]
    assert assess(["OBS_INJURIES"])["reasons"] == [
        "Recorded, below what a referral now needs: OBS_INJURIES."
    ]


# --- Referral options --------------------------------------------------------------

COUNTRY = {"reflection_period_days": 30, "hotline_number": "+00 000 000", "nrm_name": "NRM"}


@pytest.mark.parametrize(
    ("ids", "child", "urgent", "settings", "options"),
    [
        pytest.param([], False, (), None, [], id="none-adult"),
        pytest.param([], True, (), None, ["child_protection"], id="none-child"),
        pytest.param(["CD1"], False, (), None, ["specialist_identification"], id="consider"),
        pytest.param(
            ["CD1"],
            False,
            (),
            COUNTRY,
            ["specialist_identification", "national_hotline"],
            id="consider-with-a-hotline",
        ),
        pytest.param(
            D1 + D4 + D5,
            False,
            (),
            None,
            ["specialist_identification", "legal_advice"],
            id="refer-now-no-reflection-period-unless-set",
        ),
        pytest.param(
            D1 + D4 + D5,
            False,
            (),
            COUNTRY,
            ["specialist_identification", "national_hotline", "legal_advice", "reflection_period"],
            id="refer-now-where-the-country-has-them",
        ),
        pytest.param([], False, ["URGENT_MEDICAL"], COUNTRY, ["emergency_medical"], id="medical"),
        pytest.param([], False, ["DANGER_NOW"], None, ["safe_accommodation"], id="danger"),
        pytest.param(
            [], False, ["NOWHERE_TO_SLEEP"], COUNTRY, ["safe_accommodation"], id="no-reflection"
        ),
        pytest.param(
            ["ACT"],
            True,
            (),
            None,
            ["specialist_identification", "child_protection"],
            id="child-consider",
        ),
    ],
)
def test_referral_options(ids, child, urgent, settings, options):
    result = assess(ids, child=child, urgent=urgent, settings=settings)
    assert result["referral_options"] == options


def test_every_referral_option_has_a_label():
    catalogue = load_catalogue()
    assert "specialist_identification" in catalogue.referral_options
    assert all(catalogue.referral_options.values())
    assert catalogue.option_settings == {
        "national_hotline": "hotline_number",
        "reflection_period": "reflection_period_days",
    }


# --- Rules are data -------------------------------------------------------------------


def edited_catalogue(tmp_path, old, new):
    """Load a copy of indicators.toml with one edit, as a program manager would make it."""
    text = CATALOGUE_PATH.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "indicators.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return load_catalogue(path)


def test_a_strength_is_changed_in_data(tmp_path):
    assert not assess(["CD7", "CD5"])["dimensions"]["coercion_at_destination"]
    catalogue = edited_catalogue(
        tmp_path,
        '[indicators.CD7]\ndimension = 5\nadult = "medium"',
        '[indicators.CD7]\ndimension = 5\nadult = "strong"',
    )
    assert assess(["CD7", "CD5"], catalogue=catalogue)["dimensions"]["coercion_at_destination"]


def test_a_rule_is_changed_in_data(tmp_path):
    assert assess(["ACT"] + D6, child=True)["outcome"] == CONSIDER
    catalogue = edited_catalogue(tmp_path, "dimensions = [4, 5]", "dimensions = [4, 5, 6]")
    assert assess(["ACT"] + D6, child=True, catalogue=catalogue)["outcome"] == REFER


def test_present_control_is_changed_in_data(tmp_path):
    assert assess(["DR1", "OBS_CONTROLLED_GROUP"])["outcome"] == CONSIDER
    catalogue = edited_catalogue(
        tmp_path, 'recorded = ["CR4", ', 'recorded = ["OBS_CONTROLLED_GROUP", "CR4", '
    )
    assert assess(["DR1", "OBS_CONTROLLED_GROUP"], catalogue=catalogue)["outcome"] == REFER


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            'adult = "weak"', 'adult = "weakish"', "'weakish' is not one of", id="unknown-strength"
        ),
        pytest.param(
            '[indicators.EX7]\ndimension = 4\nadult = "weak"\nchild = "medium"',
            '[indicators.EX7]\ndimension = 4\nadult = "weak"\nchild = "weak"',
            "indicators.EX7.child: 'weak' is not one of strong, medium",
            id="no-weak-tier-for-children",
        ),
        pytest.param(
            'of = ["medium", "weak"]',
            'of = ["strong", "weak"]',
            "must not overlap",
            id="overlapping-threshold",
        ),
        pytest.param(
            'label = "Safe accommodation"',
            'label = "Safe accommodation for victims"',
            "must not say 'victim'",
            id="victim-in-a-label",
        ),
        pytest.param(
            'status = "secondary"',
            'status = "probably"',
            "'probably' is not one of",
            id="unknown-status",
        ),
        pytest.param(
            "[rules.consider_referral]",
            "[rules.consider]",
            "missing key(s) ['consider_referral']",
            id="mistyped-rule",
        ),
        pytest.param(
            'referral_options = ["emergency_medical"]',
            'referral_options = ["ambulance"]',
            "'ambulance' is not one of",
            id="unknown-referral-option",
        ),
        pytest.param(
            'name = "coercive_recruitment"',
            'name = "coercion"',
            "dimensions must be, in order",
            id="renamed-dimension",
        ),
        pytest.param(
            'applies_to = "child"',
            'applies_to = "children"',
            "'children' is not one of adult, child",
            id="route-for-whom",
        ),
        pytest.param(
            'kinds = ["purpose"]\nrecorded',
            'kinds = ["purposes"]\nrecorded',
            "'purposes' is not one of",
            id="unknown-kind",
        ),
        pytest.param(
            'counts = ["yes", "unknown"]',
            'counts = ["yes", "maybe"]',
            "'maybe' is not one of",
            id="urgent-answer",
        ),
        pytest.param(
            "[purposes.PURPOSE_SEX]",
            "[purposes.DR1]",
            "id already used",
            id="one-id-two-kinds",
        ),
    ],
)
def test_a_broken_catalogue_gives_a_clear_error(tmp_path, old, new, message):
    with pytest.raises(QuestionnaireError) as caught:
        edited_catalogue(tmp_path, old, new)
    assert str(caught.value).startswith("indicators.toml: ")
    assert message in str(caught.value)


def test_catalogue_holds_the_ilo_adult_labour_list():
    catalogue = load_catalogue()
    ilo = [i for i in catalogue.indicators.values() if i.kind == "indicator" and i.id[:2] != "SC"]
    by_dimension = {}
    for indicator in ilo:
        by_dimension.setdefault(indicator.dimension, []).append(indicator.id)
    # ILO/EC 2009, adult labour list: 10 + 10 + 16 + 9 + 15 + 7 = 67.
    assert {d: len(items) for d, items in by_dimension.items()} == {
        1: 10,
        2: 10,
        3: 16,
        4: 9,
        5: 15,
        6: 7,
    }
    assert "RV4" not in catalogue.indicators and "VD3" not in catalogue.indicators
    assert {"DR9", "DR10", "RV17", "EX8", "EX9", "VD8"} <= set(catalogue.indicators)
    child_strong = {i.id for i in ilo if i.child == "strong"}
    assert child_strong == {
        "DR1",
        "DR8",
        "CR1",
        "CR2",
        "CR3",
        "CR4",
        "EX1",
        *(f"CD{n}" for n in range(1, 9)),
    }
    assert catalogue.indicators["EX1"].note and catalogue.indicators["CD7"].note
    assert catalogue.indicators["CD7"].strength(False, "sexual") == "strong"
    assert catalogue.indicators["EX1"].strength(False, "sexual") == "medium"


def test_every_item_has_a_kind_a_status_and_a_source():
    catalogue = load_catalogue()
    items = catalogue.items()
    assert {i["kind"] for i in items} == {"act", "purpose", "indicator", "observation", "urgent"}
    for item in items:
        assert set(item) == {"id", "kind", "dimension", "strength", "source"}
        assert item["source"]
        if item["kind"] == "indicator":
            assert 1 <= item["dimension"] <= 6
            assert item["strength"]["adult"] in ("strong", "medium", "weak")
            assert item["strength"]["child"] in ("strong", "medium")
        else:
            assert item["dimension"] is None and item["strength"] is None
    for indicator in catalogue.indicators.values():
        assert indicator.status in ("checked", "secondary", "unverified")


# --- Properties ----------------------------------------------------------------------

ALL_IDS = sorted(item["id"] for item in load_catalogue().items())
id_sets = st.sets(st.sampled_from(ALL_IDS))
urgents = st.lists(st.sampled_from(["DANGER_NOW", "urgent_medical", "UNSPECIFIED"]), max_size=2)
lists = st.sampled_from(["labour", "sexual"])


@settings(database=None, max_examples=300, deadline=None)
@given(base=id_sets, extra=id_sets, child=st.booleans(), urgent=urgents, listed=lists)
def test_adding_an_indicator_never_lowers_the_outcome(base, extra, child, urgent, listed):
    before = assess(base, child=child, urgent=urgent, exploitation=listed)
    after = assess(base | extra, child=child, urgent=urgent, exploitation=listed)
    assert OUTCOMES.index(after["outcome"]) >= OUTCOMES.index(before["outcome"])
    assert all(after["dimensions"][d] for d in DIMENSIONS if before["dimensions"][d])
    assert set(before["referral_options"]) <= set(after["referral_options"])


@settings(database=None, max_examples=300, deadline=None)
@given(ids=id_sets, child=st.booleans(), urgent=urgents)
def test_no_reason_says_victim(ids, child, urgent):
    result = assess(ids, child=child, urgent=urgent)
    assert result["reasons"]
    assert not [r for r in result["reasons"] if "victim" in r.lower()]


@settings(database=None, max_examples=300, deadline=None)
@given(ids=id_sets, child=st.booleans(), urgent=urgents)
def test_urgent_needs_never_change_the_outcome(ids, child, urgent):
    plain = [i for i in ids if i not in load_catalogue().urgent]
    with_urgent = assess(ids, child=child, urgent=urgent)
    assert with_urgent["outcome"] == assess(plain, child=child)["outcome"]
    assert with_urgent["dimensions"] == assess(plain, child=child)["dimensions"]


@settings(database=None, max_examples=300, deadline=None)
@given(ids=id_sets, child=st.booleans())
def test_no_indicators_only_when_nothing_was_recorded(ids, child):
    recorded = [i for i in ids if i not in load_catalogue().urgent]
    assert (assess(ids, child=child)["outcome"] == NONE) == (not recorded)


# --- The command ---------------------------------------------------------------------


def run(*args):
    result = CliRunner().invoke(assess_command, list(args))
    return result, (json.loads(result.stdout) if result.exit_code == 0 else None)


def test_command_prints_the_assessment_as_json():
    result, output = run("--indicators", "DR1, ex1,EX2,CD1,CD2")
    assert result.exit_code == 0
    assert output == assess(["DR1", "EX1", "EX2", "CD1", "CD2"])


def test_command_lists_every_item_the_rule_reads():
    result, output = run("--list")
    assert result.exit_code == 0
    assert output == load_catalogue().items()
    ids = [item["id"] for item in output]
    assert len(ids) == len(set(ids))
    for item in output:
        accepted, _ = run("--indicators", item["id"].lower())
        assert accepted.exit_code == 0, item["id"]


@pytest.mark.parametrize(
    ("args", "outcome", "urgent"),
    [
        pytest.param(["--child", "--indicators", "ACT,PURPOSE_CRIME"], REFER, [], id="child-crime"),
        pytest.param(["--indicators", "DR1,CD1,CD2"], REFER, [], id="adult-transit"),
        pytest.param(
            ["--indicators", "NOWHERE_TO_SLEEP"], NONE, ["NOWHERE_TO_SLEEP"], id="sleep-alone"
        ),
        pytest.param(["--indicators", "CR2,CR3"], CONSIDER, [], id="two-medium-coercive"),
        pytest.param(["--urgent"], NONE, ["UNSPECIFIED"], id="urgent-flag"),
        pytest.param(
            ["--exploitation", "sexual", "--indicators", "CD7,CD5,DR1"], REFER, [], id="sexual"
        ),
    ],
)
def test_command_cases(args, outcome, urgent):
    result, output = run(*args)
    assert result.exit_code == 0, result.output
    assert output["outcome"] == outcome
    assert output["urgent"] == urgent
    assert tuple(output["dimensions"]) == DIMENSIONS


def test_command_child_and_urgent_flags():
    result, output = run("--child", "--urgent", "--indicators", "")
    assert result.exit_code == 0
    assert output["outcome"] == NONE and output["urgent"] == ["UNSPECIFIED"]
    assert "child_protection" in output["referral_options"]


def test_command_without_indicators():
    result, output = run()
    assert result.exit_code == 0
    assert output["outcome"] == NONE


def test_command_rejects_unknown_ids_in_one_line():
    result = CliRunner().invoke(assess_command, ["--indicators", "DR1,XX9"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "Error: unknown indicator id(s): XX9\n"


def test_command_has_help():
    assert assess_command.name == "assess"
    help_text = CliRunner().invoke(assess_command, ["--help"]).stdout
    assert "--indicators" in help_text and "--list" in help_text and "--child" in help_text


def test_the_docs_cite_every_item_and_route():
    """docs/questionnaire.md documents the rule: every item, route and source named there."""
    text = (CATALOGUE_PATH.parents[2] / "docs" / "questionnaire.md").read_text(encoding="utf-8")
    catalogue = load_catalogue()
    for item in catalogue.items():
        assert item["id"].split("_")[0] in text, item["id"]
    for indicator in catalogue.indicators.values():
        if indicator.kind == "indicator":
            assert f"| {indicator.id} |" in text, indicator.id
    for route in catalogue.routes:
        assert f"`{route.id}`" in text, route.id
    for source in ("ILO/EC 2009", "Palermo", "Art. 3", "CoE", "Art. 4", "Art. 10", "Art. 13"):
        assert source in text
    for source in ("Art. 26", "UNODC", "Vera TVIT", "HTCDS"):
        assert source in text
