"""Issue 11: the browser's questionnaire and assessment agree with Python's on every branch.

The browser screens offline with intake/static/src/questionnaire.js and
assessment.js, which evaluate the definition Python exports
(intake/questionnaire/definition.py) and hold no rule of their own. Every
case below goes through one node process (JSON lines in, JSON lines out) and
through Python, and the two must give the same shown sections and questions,
kept answers, recorded items, child flag, urgent needs, ILO list and the whole
assessment, reasons as messages and as English text.

The branches are the step counter's (tests/test_respondent_view.py): base
scenarios varied one condition-read question at a time, and a seeded sample
of full combinations; each is run as given and with every other question
answered at random, with and without the country's settings. The decision
table of tests/test_assessment.py and a seeded sample of item sets exercise
the rule directly. Without node the test skips, except under CI=true.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from intake.questionnaire import (
    assess,
    available_questionnaires,
    load_catalogue,
    load_questionnaire,
)
from intake.questionnaire.definition import FILE_NAME, FORMAT, definition, to_json, write
from intake.questionnaire.messages import Message
from tests.test_assessment import CASES, COUNTRY
from tests.test_respondent_view import _branch_values, _branches

ROOT = Path(__file__).parent.parent
SRC = ROOT / "intake" / "static" / "src"
MODULES = ("questionnaire.js", "assessment.js")
SETTINGS = (None, COUNTRY)
# Settings whose values Python and JavaScript judge differently unless the
# script mirrors Python's truth (empty string, zero, empty list).
EDGE_SETTINGS = (
    {"hotline_number": "", "reflection_period_days": 0},
    {"hotline_number": [], "reflection_period_days": {}},
    {"hotline_number": "116 000"},
)

RUNNER = r"""
import { readFileSync } from "node:fs";
import * as q from "./questionnaire.js";
import * as a from "./assessment.js";

const definition = JSON.parse(readFileSync(process.argv[2], "utf8"));
const catalogue = definition.catalogue;

function interview(c) {
  const form = definition.questionnaires[c.questionnaire];
  const [first, ...others] = c.settings;
  const facts = {
    child: q.isChild(form, c.answers),
    urgent: q.urgentFlags(form, c.answers, catalogue),
    exploitation: q.exploitationList(form, c.answers),
  };
  const indicators = q.indicatorsFromAnswers(form, c.answers);
  // The whole interview assessed once; under other settings, only the options may differ.
  const assessments = [
    q.assessAnswers(form, c.answers, first, catalogue),
    ...others.map((settings) => a.assess(indicators, { ...facts, settings }, catalogue)),
  ];
  return {
    visible_sections: q.visibleSections(form, c.answers).map((s) => s.id),
    visible_questions: Object.fromEntries(
      form.sections.map((s) => [s.id, q.visibleQuestions(form, s, c.answers).map((x) => x.id)]),
    ),
    effective_answers: Object.entries(q.effectiveAnswers(form, c.answers)),
    indicators,
    child: facts.child,
    urgent: facts.urgent,
    list: facts.exploitation,
    applies: c.settings.map((s) =>
      q.questions(form).filter((x) => q.questionApplies(x, s)).map((x) => x.id),
    ),
    // The questionnaire as asked under each settings, and what it shows of these answers.
    asked: c.settings.map((s) => {
      const asked = q.forSettings(form, s);
      const shown = (x) => q.visibleQuestions(asked, x, c.answers).map((y) => y.id);
      return asked.sections.map((x) => [x.id, shown(x)]);
    }),
    assessments,
    plain: assessments.map(a.plainAssessment),
  };
}

function rule(c) {
  const options = { child: c.child, urgent: c.urgent, exploitation: c.exploitation };
  const assessment = a.assess(c.ids, { ...options, settings: c.settings }, catalogue);
  return { assessment, plain: a.plainAssessment(assessment) };
}

function format() {
  let refused = false;
  try {
    q.checkDefinition({ ...definition, format: q.FORMAT + 1 });
  } catch {
    refused = true;
  }
  return { format: q.checkDefinition(definition).format, refused };
}

const cases = { interview, rule, format };
const out = [];
for (const line of readFileSync(0, "utf8").split("\n")) {
  if (!line) continue;
  const c = JSON.parse(line);
  try {
    out.push(JSON.stringify(cases[c.kind](c)));
  } catch (error) {
    out.push(JSON.stringify({ error: error.message }));
  }
}
process.stdout.write(out.join("\n") + "\n");
"""


def _node() -> str:
    """Return node's path; skip without it, but fail under CI, which must run this."""
    node = shutil.which("node")
    if node is None:
        message = "node is not installed (apt-get install nodejs)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser's agreement test: {message}", pytrace=False)
        pytest.skip(message)
    return node


def start_node(directory: Path, cases: list[dict]) -> subprocess.Popen:
    """Start one node process on every case; it works while Python computes its side."""
    node_path = _node()
    for name in MODULES:
        shutil.copy(SRC / name, directory / name)
    # The modules are plain ES modules: this makes node load them as such.
    (directory / "package.json").write_text('{"type": "module"}\n')
    (directory / "runner.js").write_text(RUNNER)
    with (directory / "stderr.txt").open("w") as errors:
        node = subprocess.Popen(
            [node_path, "runner.js", str(directory / FILE_NAME)],
            cwd=directory,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    # The runner reads all its input before it writes a line, so this cannot deadlock;
    # if node ends early, results_of() reports what it said.
    with contextlib.suppress(BrokenPipeError):
        node.stdin.write("".join(json.dumps(c) + "\n" for c in cases))
        node.stdin.close()
    return node


def results_of(node: subprocess.Popen, directory: Path, count: int) -> list[dict]:
    """Wait for node and return its answer to each case, in order."""
    output = node.stdout.read()
    node.stdout.close()
    errors = (directory / "stderr.txt").read_text()[-3000:]
    assert node.wait(timeout=120) == 0, errors
    results = [json.loads(line) for line in output.splitlines()]
    assert len(results) == count, errors
    return results


# -- What Python says ---------------------------------------------------------------


def message_data(value):
    """Return a Message as {template, params}, recursively, as the script returns it."""
    if isinstance(value, Message):
        return {"template": value.template, "params": message_data(value.params)}
    if isinstance(value, dict):
        return {key: message_data(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [message_data(v) for v in value]
    return value


def python_interview(case: dict) -> dict:
    form, answers = load_questionnaire(case["questionnaire"]), case["answers"]
    facts = {
        "child": form.is_child(answers),
        "urgent": form.urgent_flags(answers),
        "exploitation": form.exploitation_list(answers),
    }
    indicators = form.indicators_from_answers(answers)
    # What Questionnaire.assess does, without finding the same facts again per settings.
    assessments = [
        assess(indicators, catalogue=form.catalogue, settings=settings, **facts)
        for settings in case["settings"]
    ]
    return {
        "visible_sections": [s.id for s in form.visible_sections(answers)],
        "visible_questions": {
            s.id: [q.id for q in s.visible_questions(answers)] for s in form.sections
        },
        "effective_answers": [[k, v] for k, v in form.effective_answers(answers).items()],
        "indicators": indicators,
        "child": facts["child"],
        "urgent": facts["urgent"],
        "list": facts["exploitation"],
        "applies": [[q.id for q in form.questions if q.applies(s)] for s in case["settings"]],
        "asked": [
            [
                [x.id, [y.id for y in x.visible_questions(answers)]]
                for x in form.for_settings(s).sections
            ]
            for s in case["settings"]
        ],
        "assessments": message_data(assessments),
        # What the sealed record and `intake assess` hold: the reasons in English.
        "plain": json.loads(json.dumps(assessments)),
    }


def python_rule(case: dict) -> dict:
    try:
        assessment = assess(
            case["ids"],
            child=case["child"],
            urgent=case["urgent"],
            exploitation=case["exploitation"],
            settings=case["settings"],
        )
    except ValueError as exc:
        return {"error": str(exc)}
    return {"assessment": message_data(assessment), "plain": json.loads(json.dumps(assessment))}


def python_format(_case: dict) -> dict:
    # The script reads this file's format, and refuses any other.
    return {"format": FORMAT, "refused": True}


# -- The cases ----------------------------------------------------------------------


def _random_answer(question, rng: random.Random):
    """Return an answer a form could hold for any question; None leaves it out."""
    if question.type == "multiple_choice":
        return [c for c in question.choice_ids if rng.random() < 0.3] or None
    if question.choices:
        return rng.choice([None, *question.choice_ids])
    return rng.choice(
        {
            "number": [None, 0, 12, 17, 18, 40],
            "date": [None, "2024-03-31"],
            "country": [None, "NG"],
            "language": [None, "ti"],
        }.get(question.type, [None, "x"])
    )


def _filled(form, branch: dict, rng: random.Random) -> dict:
    """Answer every question the branch leaves open, yes more or less often."""
    answers, density = dict(branch), rng.random()
    for question in form.questions:
        if question.id in branch:
            continue
        if question.type == "yes_no_unknown":
            value = rng.choice(["no", "unknown", None]) if rng.random() > density else "yes"
        else:
            value = _random_answer(question, rng)
        if value is not None:
            answers[question.id] = value
    return answers


def interview_cases() -> list[dict]:
    """Every branch of both questionnaires, as given and filled, under each of SETTINGS."""
    rng = random.Random(11)  # noqa: S311 - a reproducible sample, not a secret
    cases = []
    for name in available_questionnaires():
        form = load_questionnaire(name)
        for branch in _branches(_branch_values(form)):
            for answers in (branch, _filled(form, branch, rng)):
                cases.append(
                    {"kind": "interview", "questionnaire": name, "answers": answers}
                    | {"settings": list(SETTINGS)}
                )
    return cases


def rule_cases() -> list[dict]:
    """The decision table, a seeded sample of item sets, odd settings and refused input."""
    cases = []
    for param in CASES:
        ids, child, urgent, exploitation = param.values[:4]
        for settings in SETTINGS:
            cases.append(_rule_case(ids, child, list(urgent), exploitation, settings))
    catalogue = load_catalogue()
    every = [i["id"] for i in catalogue.items()]
    urgent_values = [*catalogue.urgent, "danger_now", "urgent_medical", "UNSPECIFIED"]
    rng = random.Random(1111)  # noqa: S311 - a reproducible sample, not a secret
    for _ in range(600):
        density = rng.choice([0.02, 0.05, 0.1, 0.3])
        ids = [i for i in every if rng.random() < density]
        rng.shuffle(ids)
        urgent = rng.sample(urgent_values, rng.choice([0, 0, 1, 2]))
        settings = rng.choice([*SETTINGS, *EDGE_SETTINGS])
        cases.append(
            _rule_case(ids, rng.random() < 0.4, urgent, rng.choice(["labour", "sexual"]), settings)
        )
    cases.append(_rule_case(["DR1", "NOT_AN_ITEM", "ALSO_NOT"], False, [], "labour", None))
    cases.append(_rule_case(["DR1"], False, [], "domestic", None))
    return cases


def _rule_case(ids, child, urgent, exploitation, settings) -> dict:
    return {
        "kind": "rule",
        "ids": list(ids),
        "child": child,
        "urgent": urgent,
        "exploitation": exploitation,
        "settings": settings,
    }


@pytest.fixture(scope="module")
def agreement(tmp_path_factory):
    """Run every case through node once; return (case, browser's, Python's) triples."""
    directory = tmp_path_factory.mktemp("browser")
    write(directory)
    cases = [{"kind": "format"}, *interview_cases(), *rule_cases()]
    node = start_node(directory, cases)
    expected = {"interview": python_interview, "rule": python_rule, "format": python_format}
    try:
        python = [expected[c["kind"]](c) for c in cases]
        browser = results_of(node, directory, len(cases))
    finally:
        node.kill()  # only when something failed before it ended
    return list(zip(cases, browser, python, strict=True))


def _first_difference(browser, python, path: str = "") -> str | None:
    """Return where two JSON values first differ, and both values there."""
    if isinstance(python, dict) and isinstance(browser, dict) and browser.keys() == python.keys():
        found = (_first_difference(browser[k], python[k], f"{path}.{k}") for k in python)
        return next((f for f in found if f), None)
    if isinstance(python, list) and isinstance(browser, list) and len(browser) == len(python):
        pairs = enumerate(zip(browser, python, strict=True))
        found = (_first_difference(b, p, f"{path}[{n}]") for n, (b, p) in pairs)
        return next((f for f in found if f), None)
    if browser == python and type(browser) is type(python):
        return None
    shown = {"browser": browser, "python": python}
    return f"{path or 'result'}: " + ", ".join(
        f"{side} {json.dumps(value)[:300]}" for side, value in shown.items()
    )


def _differences(triples) -> list[str]:
    """Describe each case on which the browser and Python disagree."""
    found = []
    for case, browser, python in triples:
        difference = _first_difference(browser, python)
        if difference:
            found.append(f"{difference}\n  for {json.dumps(case)[:800]}")
    return found


# -- The tests ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["screening-short", "screening-full"])
def test_the_browser_runs_every_branch_of_the_interview_as_python(agreement, name):
    triples = [t for t in agreement if t[0].get("questionnaire") == name]
    assert len(triples) > 1500
    differences = _differences(triples)
    assert not differences, f"{len(differences)} of {len(triples)} cases differ:\n" + "\n".join(
        differences[:5]
    )
    # The branches reach every outcome, both lists, children and adults, and
    # every section both shown and hidden: the agreement covers them all.
    results = [python for _case, _browser, python in triples]
    assessments = [a for r in results for a in r["assessments"]]
    assert {a["outcome"] for a in assessments} == {
        "no_indicators",
        "consider_referral",
        "refer_now",
    }
    assert {r["list"] for r in results} == {"labour", "sexual"}
    assert {r["child"] for r in results} == {True, False}
    sections = {s.id for s in load_questionnaire(name).sections}
    assert set().union(*(r["visible_sections"] for r in results)) == sections
    conditional = {s.id for s in load_questionnaire(name).sections if s.show_if}
    assert conditional and all(
        any(s not in r["visible_sections"] for r in results) for s in conditional
    )
    held = set().union(*(a["routes"] for a in assessments))
    assert {r.applies_to for r in load_catalogue().routes if r.id in held} == {"adult", "child"}


def test_the_browser_applies_the_decision_rule_as_python(agreement):
    triples = [t for t in agreement if t[0]["kind"] == "rule"]
    differences = _differences(triples)
    assert not differences, f"{len(differences)} of {len(triples)} cases differ:\n" + "\n".join(
        differences[:5]
    )
    assert sum("error" in python for _case, _browser, python in triples) == 2
    # Every route, threshold and referral option the rule can give is given somewhere.
    results = [python["assessment"] for _case, _browser, python in triples if "error" not in python]
    catalogue = load_catalogue()
    assert set().union(*(r["routes"] for r in results)) == {r.id for r in catalogue.routes}
    met = {
        reason["params"]["threshold"]["template"]
        for r in results
        for reason in r["reasons"]
        if "threshold" in reason["params"]
    }
    assert met == {t.label for t in catalogue.thresholds}
    suggested = {o for options in catalogue.suggest.values() for o in options}
    suggested |= {o for need in catalogue.urgent.values() for o in need.referral_options}
    assert set().union(*(r["referral_options"] for r in results)) == suggested


def test_the_browser_reads_this_definitions_format_only(agreement):
    case, browser, python = agreement[0]
    assert case["kind"] == "format" and browser == python


def test_the_definition_is_written_the_same_every_time(tmp_path):
    first = write(tmp_path / "one").read_bytes()
    assert first == write(tmp_path / "two").read_bytes()
    assert first.decode() == to_json(definition())
    data = json.loads(first)
    assert list(data["questionnaires"]) == available_questionnaires()
    question = data["questionnaires"]["screening-full"]["sections"][0]["questions"][0]
    assert {"id", "type", "show_if", "choices", "urgent", "required", "audience"} <= set(question)


def test_the_build_writes_the_definition_with_one_command(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "intake.questionnaire.definition", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / FILE_NAME).read_text(encoding="utf-8"))["format"] == 1
    usage = subprocess.run(
        [sys.executable, "-m", "intake.questionnaire.definition"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert usage.returncode == 2 and "usage:" in usage.stderr
