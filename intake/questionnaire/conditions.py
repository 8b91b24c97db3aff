"""Show-if conditions: parse them from questionnaire data, check them, evaluate them.

A condition is a small tree of TOML tables, never an expression string, so a
questionnaire file can describe when a question is shown but can never run code
(DESIGN.md: "structured, never eval"). The error class and the table checks
that both data files (questionnaires and indicators.toml) share live here too,
at the bottom of the package.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

YES_NO_UNKNOWN = ("yes", "no", "unknown")
LEAF_OPERATORS = ("equals", "in", "contains", "answered", "less_than", "at_least")
COMBINATORS = ("all", "any", "not", "condition")


class QuestionnaireError(ValueError):
    """A questionnaire or indicator file is malformed or inconsistent."""


def load_toml(path: Path, build: Callable):
    """Read a TOML file and build from it; every error names the file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise QuestionnaireError(f"{path.name}: not valid TOML: {exc}") from exc
    try:
        return build(raw)
    except QuestionnaireError as exc:
        raise QuestionnaireError(f"{path.name}: {exc}") from None
    except (TypeError, AttributeError, KeyError) as exc:
        # A value of the wrong shape that no specific check caught.
        raise QuestionnaireError(f"{path.name}: malformed data ({exc!r})") from None


def check_table(raw: object, where: str, required: set, optional: Iterable = ()) -> Mapping:
    """Reject a non-table, a missing key or an unknown (perhaps mistyped) key."""
    if not isinstance(raw, Mapping):
        raise QuestionnaireError(f"{where}: expected a table")
    missing = sorted(set(required) - set(raw))
    unknown = sorted(set(raw) - set(required) - set(optional))
    if missing:
        raise QuestionnaireError(f"{where}: missing key(s) {missing}")
    if unknown:
        raise QuestionnaireError(f"{where}: unknown key(s) {unknown}")
    return raw


def one_of(value: object, allowed: Iterable, where: str):
    """Return the value if it is one of the allowed ones, else raise."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise QuestionnaireError(f"{where}: {value!r} is not one of {', '.join(map(str, allowed))}")
    return value


@dataclass(frozen=True)
class Test:
    """A leaf: compare the answer to one question."""

    question: str
    operator: str
    value: object


@dataclass(frozen=True)
class AllOf:
    """True when every item is true."""

    items: tuple


@dataclass(frozen=True)
class AnyOf:
    """True when at least one item is true."""

    items: tuple


@dataclass(frozen=True)
class Not:
    """True when its item is false."""

    item: object


@dataclass(frozen=True)
class Named:
    """A reference to a condition defined once under [conditions]."""

    name: str


Condition = Test | AllOf | AnyOf | Not | Named


def parse_condition(raw: object, where: str) -> Condition:
    """Turn a TOML table into a condition tree, or raise QuestionnaireError."""
    if not isinstance(raw, Mapping) or not raw:
        raise QuestionnaireError(f"{where}: a condition must be a non-empty table")
    keys = set(raw)
    combinators = keys & set(COMBINATORS)
    if combinators:
        if len(keys) != 1:
            raise QuestionnaireError(
                f"{where}: {sorted(combinators)[0]!r} must be the only key of its table, "
                f"got {sorted(keys)}"
            )
        return _parse_combinator(next(iter(keys)), raw, where)
    return _parse_test(raw, where)


def _parse_combinator(key: str, raw: Mapping, where: str) -> Condition:
    """Parse an all/any/not/condition table."""
    value = raw[key]
    if key == "not":
        return Not(parse_condition(value, f"{where}.not"))
    if key == "condition":
        if not isinstance(value, str):
            raise QuestionnaireError(f"{where}: 'condition' must name a condition")
        return Named(value)
    if not isinstance(value, list) or not value:
        raise QuestionnaireError(f"{where}: {key!r} needs a non-empty list of conditions")
    items = tuple(parse_condition(item, f"{where}.{key}[{n}]") for n, item in enumerate(value))
    return AllOf(items) if key == "all" else AnyOf(items)


def _parse_test(raw: Mapping, where: str) -> Test:
    """Parse a {question = ..., <operator> = ...} table."""
    question = raw.get("question")
    operators = [key for key in raw if key in LEAF_OPERATORS]
    unknown = sorted(set(raw) - {"question", *LEAF_OPERATORS})
    if unknown:
        raise QuestionnaireError(f"{where}: unknown condition key(s) {unknown}")
    if not isinstance(question, str) or len(operators) != 1:
        raise QuestionnaireError(
            f"{where}: a condition needs 'question' and exactly one of "
            f"{', '.join(LEAF_OPERATORS)} (or one of {', '.join(COMBINATORS)})"
        )
    operator = operators[0]
    value = raw[operator]
    _check_operand(operator, value, where)
    if operator == "in":
        value = tuple(value)
    return Test(question, operator, value)


def _check_operand(operator: str, value: object, where: str) -> None:
    """Reject an operand of the wrong kind for its operator."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    expected = {
        "equals": isinstance(value, str | int | float | bool),
        "in": isinstance(value, list) and bool(value),
        "contains": isinstance(value, str),
        "answered": isinstance(value, bool),
        "less_than": is_number,
        "at_least": is_number,
    }
    if not expected[operator]:
        raise QuestionnaireError(
            f"{where}: {operator!r} has an operand of the wrong kind: {value!r}"
        )


def is_answered(value: object) -> bool:
    """Tell whether a stored answer counts as given."""
    return value is not None and value != "" and value != [] and value != ()


def evaluate(condition: Condition | None, answers: Mapping, named: Mapping) -> bool:
    """Evaluate a condition against {question_id: answer}; no condition means shown."""
    if condition is None:
        return True
    if isinstance(condition, AllOf):
        return all(evaluate(item, answers, named) for item in condition.items)
    if isinstance(condition, AnyOf):
        return any(evaluate(item, answers, named) for item in condition.items)
    if isinstance(condition, Not):
        return not evaluate(condition.item, answers, named)
    if isinstance(condition, Named):
        return evaluate(named[condition.name], answers, named)
    return _evaluate_test(condition, answers.get(condition.question))


def _evaluate_test(test: Test, answer: object) -> bool:
    """Evaluate one leaf; an unanswered question satisfies only answered = false."""
    if test.operator == "answered":
        return is_answered(answer) == test.value
    if not is_answered(answer):
        return False
    values = answer if isinstance(answer, list | tuple) else (answer,)
    if test.operator == "equals":
        return answer == test.value
    if test.operator == "in":
        # For a multiple-choice answer, "in" holds when any chosen id is listed.
        return any(value in test.value for value in values)
    if test.operator == "contains":
        return test.value in values
    if isinstance(answer, bool) or not isinstance(answer, int | float):
        return False
    if test.operator == "less_than":
        return answer < test.value
    return answer >= test.value


def referenced_questions(condition: Condition | None, named: Mapping) -> set[str]:
    """Return the ids of every question a condition reads, through named conditions."""
    if condition is None:
        return set()
    if isinstance(condition, AllOf | AnyOf):
        return set().union(*(referenced_questions(item, named) for item in condition.items))
    if isinstance(condition, Not):
        return referenced_questions(condition.item, named)
    if isinstance(condition, Named):
        return referenced_questions(named.get(condition.name), named)
    return {condition.question}


def check_condition(
    condition: Condition, questions: Mapping, earlier: set[str] | None, named: Mapping, where: str
) -> None:
    """Check that a condition reads known, earlier questions with values they can have.

    `earlier` is the set of question ids asked before the place the condition is
    used (None: any question may be read). A show-if may only read earlier
    answers, so the form can be filled in order and no cycle can arise.
    """
    for test in _tests(condition, named, where):
        question = questions.get(test.question)
        if question is None:
            raise QuestionnaireError(
                f"{where}: show_if refers to unknown question {test.question!r}"
            )
        if earlier is not None and test.question not in earlier:
            raise QuestionnaireError(
                f"{where}: show_if refers to question {test.question!r}, which is not asked "
                "before this point; a condition can only read earlier answers"
            )
        _check_test_value(test, question, where)


def _tests(condition: Condition, named: Mapping, where: str) -> list[Test]:
    """List the leaves of a condition, expanding named conditions."""
    if isinstance(condition, AllOf | AnyOf):
        return [test for item in condition.items for test in _tests(item, named, where)]
    if isinstance(condition, Not):
        return _tests(condition.item, named, where)
    if isinstance(condition, Named):
        if condition.name not in named:
            raise QuestionnaireError(
                f"{where}: show_if uses condition {condition.name!r}, "
                "which is not defined (earlier) under [conditions]"
            )
        return _tests(named[condition.name], named, where)
    return [condition]


def _check_test_value(test: Test, question, where: str) -> None:
    """Check an operator and its operand against the type of the question read."""
    name = test.question
    if test.operator in ("less_than", "at_least") and question.type != "number":
        raise QuestionnaireError(
            f"{where}: {test.operator!r} needs a number question; {name!r} is {question.type}"
        )
    if test.operator == "contains" and question.type != "multiple_choice":
        raise QuestionnaireError(
            f"{where}: 'contains' needs a multiple_choice question; {name!r} is {question.type}"
        )
    if test.operator == "equals" and question.type == "multiple_choice":
        raise QuestionnaireError(
            f"{where}: {name!r} is multiple_choice: use 'contains' or 'in', not 'equals'"
        )
    allowed = question.choice_ids
    if not allowed or test.operator not in ("equals", "in", "contains"):
        return
    values = test.value if isinstance(test.value, tuple) else (test.value,)
    for value in values:
        if value not in allowed:
            raise QuestionnaireError(
                f"{where}: show_if compares question {name!r} with {value!r}, "
                f"which is not one of its answers ({', '.join(allowed)})"
            )
