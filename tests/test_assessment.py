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

# One positive set per dimension, for adults (strengths of the adult list).
D1 = ["DR1", "DR2"]  # 1 strong + 1 medium
D2 = ["CR1", "CR2"]  # 1 strong + 1 medium
D3 = ["RV1", "RV2", "RV3"]  # 3 medium
D4 = ["EX1", "EX2"]  # 1 strong + 1 medium
D5 = ["CD1", "CD2"]  # 2 strong
D6 = ["VD1", "VD2", "VD3"]  # 3 medium


def case(case_id, ids, outcome, positive=(), child=False, urgent=()):
    """Build one row of the decision table; positive lists dimension numbers."""
    return pytest.param(ids, child, urgent, outcome, set(positive), id=case_id)


CASES = [
    # --- Dimension thresholds (adult strengths) ---
    case("threshold-2S", ["CD1", "CD2"], CONSIDER, [5]),
    case("threshold-3S", ["CD1", "CD3", "CD4"], CONSIDER, [5]),
    case("threshold-1S+1M", ["CD1", "CD5"], CONSIDER, [5]),
    case("threshold-1S+1W", ["CD1", "CD15"], CONSIDER, [5]),
    case("threshold-1S+1W-dim1", ["DR1", "DR8"], CONSIDER, [1]),
    case("threshold-3M", ["RV1", "RV2", "RV3"], CONSIDER, [3]),
    case("threshold-3M-dim6", ["VD1", "VD4", "VD5"], CONSIDER, [6]),
    case("threshold-2M+1W", ["RV1", "RV2", "RV15"], CONSIDER, [3]),
    case("threshold-2M+1W-dim4", ["EX2", "EX3", "EX7"], CONSIDER, [4]),
    case("negative-1S-alone", ["CD1"], CONSIDER, []),
    case("negative-weak-only", ["EX7"], NONE, []),
    case("negative-2W", ["VD6", "VD7"], NONE, []),
    case("negative-2W-dim3", ["RV15", "RV16"], NONE, []),
    case("negative-2M-alone", ["RV1", "RV2"], NONE, []),
    case("negative-1M+2W", ["VD1", "VD6", "VD7"], NONE, []),
    case("negative-1M+1W", ["CD5", "CD15"], NONE, []),
    case("negative-thresholds-count-per-dimension", ["RV1", "RV2", "VD6"], NONE, []),
    case("negative-2S-in-two-dimensions", ["DR1", "CR1"], CONSIDER, []),
    # --- Adult combination rule: (1|2|3) and 4 and (5|6) ---
    case("adult-1+4+5", D1 + D4 + D5, REFER, [1, 4, 5]),
    case("adult-1+4+6", D1 + D4 + D6, REFER, [1, 4, 6]),
    case("adult-2+4+5", D2 + D4 + D5, REFER, [2, 4, 5]),
    case("adult-2+4+6", D2 + D4 + D6, REFER, [2, 4, 6]),
    case("adult-3+4+5", D3 + D4 + D5, REFER, [3, 4, 5]),
    case("adult-3+4+6", D3 + D4 + D6, REFER, [3, 4, 6]),
    case("adult-all-six", D1 + D2 + D3 + D4 + D5 + D6, REFER, [1, 2, 3, 4, 5, 6]),
    case("adult-missing-recruitment", D4 + D5 + D6, CONSIDER, [4, 5, 6]),
    case("adult-missing-exploitation", D1 + D2 + D3 + D5 + D6, CONSIDER, [1, 2, 3, 5, 6]),
    case("adult-missing-destination", D1 + D2 + D3 + D4, CONSIDER, [1, 2, 3, 4]),
    case("adult-exploitation-below-threshold", D1 + ["EX1"] + D5, CONSIDER, [1, 5]),
    case("adult-act-counts-only-for-a-child", ["ACT"] + D4 + D5, CONSIDER, [4, 5]),
    case("adult-only-one-dimension", D3, CONSIDER, [3]),
    # --- Child rule: an act and exploitation, no means needed ---
    case("child-act+dim4", ["ACT"] + D4, REFER, [4], child=True),
    case("child-act+dim5", ["ACT", "CD5", "CD6"], REFER, [5], child=True),
    case("child-act+dim4-no-means", ["ACT", "EX1", "EX3"], REFER, [4], child=True),
    case("child-recruitment-dim-instead-of-act", ["CR2", "CR3"] + D4, REFER, [2, 4], child=True),
    case("child-act+dim6-is-not-exploitation", ["ACT"] + D6, CONSIDER, [6], child=True),
    case("child-act-alone-is-strong", ["ACT"], CONSIDER, [], child=True),
    case("child-act+1S-below-threshold", ["ACT", "EX1"], CONSIDER, [], child=True),
    case("child-exploitation-without-act", D4 + D5, CONSIDER, [4, 5], child=True),
    case("child-adult-rule-also-holds", D1 + D4 + D5, REFER, [1, 4, 5], child=True),
    case("child-CR2-strong", ["CR2"], CONSIDER, [], child=True),
    case("adult-CR2-medium", ["CR2"], NONE, []),
    case("child-CR2+CR3-two-strong", ["CR2", "CR3"], CONSIDER, [2], child=True),
    case("adult-CR2+CR3-two-medium", ["CR2", "CR3"], NONE, []),
    case("child-CD5+CD6-two-strong", ["CD5", "CD6"], CONSIDER, [5], child=True),
    case("adult-CD5+CD6-two-medium", ["CD5", "CD6"], NONE, []),
    case("child-CD7+CD8-two-strong", ["CD7", "CD8"], CONSIDER, [5], child=True),
    case("child-DR8-strong", ["DR1", "DR8"], CONSIDER, [1], child=True),
    case("child-weak-becomes-medium", ["VD1", "VD6", "VD7"], CONSIDER, [6], child=True),
    case("child-weak-becomes-medium-dim3", ["RV1", "RV15", "RV16"], CONSIDER, [3], child=True),
    case("child-weak-only-items-2-medium", ["VD6", "VD7"], NONE, [], child=True),
    case("child-nothing", [], NONE, [], child=True),
    # --- Urgent safety answers ---
    case("urgent-alone", [], REFER, [], urgent=["danger_now"]),
    case("urgent-with-weak-only", ["EX7"], REFER, [], urgent=["nowhere_to_sleep"]),
    case("urgent-with-one-dimension", D3, REFER, [3], urgent=["urgent_medical"]),
    case("urgent-child", [], REFER, [], child=True, urgent=["controller_nearby"]),
    case("urgent-unknown-id-still-refers", [], REFER, [], urgent=["some_new_question"]),
    # --- Consider referral and no indicators ---
    case("consider-via-one-positive-dimension", D6, CONSIDER, [6]),
    case("consider-via-a-single-strong", ["CD4"], CONSIDER, []),
    case("none-with-nothing", [], NONE, []),
    case("none-with-weak-only", ["DR8", "RV16", "EX7", "CD15", "VD7"], NONE, []),
]


@pytest.mark.parametrize(("ids", "child", "urgent", "outcome", "positive"), CASES)
def test_decision_table(ids, child, urgent, outcome, positive):
    result = assess(ids, child=child, urgent=urgent)
    assert result["outcome"] == outcome
    assert {n for n, name in enumerate(DIMENSIONS, 1) if result["dimensions"][name]} == positive
    assert result["indicators"] == sorted(set(ids))


def test_the_table_is_large_enough():
    assert len(CASES) >= 40


def test_result_has_exactly_the_documented_shape():
    result = assess(["EX1", "DR1", "EX1"])
    assert list(result) == ["outcome", "dimensions", "indicators", "reasons", "referral_options"]
    assert tuple(result["dimensions"]) == DIMENSIONS
    assert result["indicators"] == ["DR1", "EX1"]
    assert all(isinstance(reason, str) for reason in result["reasons"])


def test_unknown_ids_raise_value_error():
    with pytest.raises(ValueError, match="unknown indicator id.*ZZ1"):
        assess(["DR1", "ZZ1"])
    with pytest.raises(ValueError):
        assess(["dr1"])  # ids are exact; the questionnaire gives them upper-case


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
    assert reasons[-1].startswith("Adult combination rule holds")


def test_reasons_say_what_is_missing():
    reasons = assess(D1 + D5)["reasons"]
    assert reasons[-1] == (
        "Adult combination rule does not hold; missing: exploitative conditions (4)."
    )


def test_reasons_for_urgent_child_and_strong():
    reasons = assess(["CR2"], child=True, urgent=["urgent_medical"])["reasons"]
    assert reasons[0].startswith("Child strengths and the child rule were used")
    assert reasons[1] == "Urgent safety: urgent medical need (answered yes)."
    assert reasons[2] == "Strong indicator recorded: CR2 (strong)."


def test_reasons_for_nothing_and_weak_only():
    assert assess([])["reasons"] == ["No indicators were recorded."]
    assert assess(["EX7"])["reasons"] == [
        "The recorded indicators do not make any dimension positive: EX7 (weak)."
    ]


# --- Referral options --------------------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "child", "urgent", "options"),
    [
        pytest.param([], False, (), [], id="none-adult"),
        pytest.param([], True, (), ["child_protection"], id="none-child"),
        pytest.param(["CD1"], False, (), ["specialist_identification"], id="consider"),
        pytest.param(
            D1 + D4 + D5,
            False,
            (),
            ["specialist_identification", "reflection_period"],
            id="refer-now",
        ),
        pytest.param(
            [],
            False,
            ["urgent_medical"],
            ["specialist_identification", "emergency_medical", "reflection_period"],
            id="urgent-medical",
        ),
        pytest.param(
            [],
            False,
            ["danger_now"],
            ["specialist_identification", "safe_accommodation", "reflection_period"],
            id="danger",
        ),
        pytest.param(
            [],
            False,
            ["nowhere_to_sleep"],
            ["specialist_identification", "safe_accommodation", "reflection_period"],
            id="nowhere-to-sleep",
        ),
        pytest.param(
            ["ACT"],
            True,
            (),
            ["specialist_identification", "child_protection"],
            id="child-consider",
        ),
    ],
)
def test_referral_options(ids, child, urgent, options):
    assert assess(ids, child=child, urgent=urgent)["referral_options"] == options


def test_every_referral_option_has_a_label():
    catalogue = load_catalogue()
    assert "specialist_identification" in catalogue.referral_options
    assert all(catalogue.referral_options.values())


# --- Rules are data -------------------------------------------------------------------


def edited_catalogue(tmp_path, old, new):
    """Load a copy of indicators.toml with one edit, as a program manager would make it."""
    text = CATALOGUE_PATH.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "indicators.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return load_catalogue(path)


def test_a_strength_is_changed_in_data(tmp_path):
    assert assess(["CD7", "CD5"])["outcome"] == NONE
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
    ],
)
def test_a_broken_catalogue_gives_a_clear_error(tmp_path, old, new, message):
    with pytest.raises(QuestionnaireError) as caught:
        edited_catalogue(tmp_path, old, new)
    assert str(caught.value).startswith("indicators.toml: ")
    assert message in str(caught.value)


def test_catalogue_holds_the_item_bank():
    catalogue = load_catalogue()
    by_dimension = {}
    for indicator in catalogue.indicators.values():
        by_dimension.setdefault(indicator.dimension, []).append(indicator)
    assert {d: len(items) for d, items in by_dimension.items()} == {
        1: 8,
        2: 10,
        3: 16,
        4: 7,
        5: 15,
        6: 7,
        None: 1,
    }
    child_strong = {i.id for i in catalogue.indicators.values() if i.child == "strong"}
    assert child_strong == {
        "DR1",
        "DR8",
        "CR1",
        "CR2",
        "CR3",
        "CR4",
        "EX1",
        "ACT",
        *(f"CD{n}" for n in range(1, 9)),
    }
    assert catalogue.indicators["EX1"].note and catalogue.indicators["CD7"].note


# --- Properties ----------------------------------------------------------------------

ALL_IDS = sorted(load_catalogue().indicators)
id_sets = st.sets(st.sampled_from(ALL_IDS))
urgents = st.lists(st.sampled_from(["danger_now", "urgent_medical", "unspecified"]), max_size=2)


@settings(database=None, max_examples=300, deadline=None)
@given(base=id_sets, extra=id_sets, child=st.booleans(), urgent=urgents)
def test_adding_an_indicator_never_lowers_the_outcome(base, extra, child, urgent):
    before = assess(base, child=child, urgent=urgent)
    after = assess(base | extra, child=child, urgent=urgent)
    assert OUTCOMES.index(after["outcome"]) >= OUTCOMES.index(before["outcome"])
    assert all(after["dimensions"][d] for d in DIMENSIONS if before["dimensions"][d])
    assert set(before["referral_options"]) <= set(after["referral_options"])


@settings(database=None, max_examples=300, deadline=None)
@given(ids=id_sets, child=st.booleans(), urgent=urgents)
def test_no_reason_says_victim(ids, child, urgent):
    result = assess(ids, child=child, urgent=urgent)
    assert result["reasons"]
    assert not [r for r in result["reasons"] if "victim" in r.lower()]


# --- The command ---------------------------------------------------------------------


def test_command_prints_the_assessment_as_json():
    result = CliRunner().invoke(assess_command, ["--indicators", "DR1, ex1,EX2,CD1,CD2"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == assess(["DR1", "EX1", "EX2", "CD1", "CD2"])


def test_command_child_and_urgent_flags():
    result = CliRunner().invoke(assess_command, ["--child", "--urgent", "--indicators", ""])
    assert result.exit_code == 0
    output = json.loads(result.stdout)
    assert output["outcome"] == REFER
    assert "child_protection" in output["referral_options"]


def test_command_without_indicators():
    result = CliRunner().invoke(assess_command, [])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["outcome"] == NONE


def test_command_rejects_unknown_ids_in_one_line():
    result = CliRunner().invoke(assess_command, ["--indicators", "DR1,XX9"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "Error: unknown indicator id(s): XX9\n"


def test_command_has_help():
    assert assess_command.name == "assess"
    assert "--indicators" in CliRunner().invoke(assess_command, ["--help"]).stdout
