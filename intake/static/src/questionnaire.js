// The questionnaire in the browser: what is shown, what is kept, what is recorded.
//
// An evaluator only. Every question, condition and item comes from
// questionnaires.json, which `python -m intake.questionnaire.definition`
// writes from the Python objects (intake/questionnaire/definition.py); each
// function here mirrors the one named beside it in intake/questionnaire/
// (model.py, conditions.py), and tests/test_js_assessment.py checks that
// both agree on every branch. Change a rule in the TOML files, never here.

import { assess, pyEquals, pyIn, pyTruthy } from "./assessment.js";

// The shape of questionnaires.json this script reads (definition.FORMAT).
export const FORMAT = 1;

// The leaf operators conditions.py knows (LEAF_OPERATORS).
const OPERATORS = ["equals", "in", "contains", "answered", "less_than", "at_least"];

const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);

/** Return the parsed questionnaires.json, or throw if it has a shape this script does not read. */
export function checkDefinition(definition) {
  if (!definition || definition.format !== FORMAT) {
    const found = definition?.format;
    throw new Error(`questionnaires.json has format ${found}; this script reads ${FORMAT}`);
  }
  return definition;
}

/** Tell whether a stored answer counts as given (conditions.is_answered). */
export function isAnswered(value) {
  return (
    value !== null &&
    value !== undefined &&
    value !== "" &&
    !(Array.isArray(value) && value.length === 0)
  );
}

/** Evaluate a condition against {questionId: answer}; none means shown (conditions.evaluate). */
export function evaluate(condition, answers, named) {
  if (condition === null || condition === undefined) return true;
  if (has(condition, "all")) return condition.all.every((c) => evaluate(c, answers, named));
  if (has(condition, "any")) return condition.any.some((c) => evaluate(c, answers, named));
  if (has(condition, "not")) return !evaluate(condition.not, answers, named);
  if (has(condition, "condition")) {
    if (!has(named, condition.condition)) {
      throw new Error(`unknown condition ${condition.condition}`);
    }
    return evaluate(named[condition.condition], answers, named);
  }
  const answer = has(answers, condition.question) ? answers[condition.question] : null;
  return evaluateTest(condition, answer);
}

function evaluateTest(test, answer) {
  const operator = OPERATORS.find((key) => has(test, key));
  if (operator === undefined) throw new Error(`not a condition: ${JSON.stringify(test)}`);
  const operand = test[operator];
  if (operator === "answered") return isAnswered(answer) === operand;
  if (!isAnswered(answer)) return false;
  const values = Array.isArray(answer) ? answer : [answer];
  if (operator === "equals") return pyEquals(answer, operand);
  // For a multiple-choice answer, "in" holds when any chosen id is listed.
  if (operator === "in") return values.some((value) => pyIn(value, operand));
  if (operator === "contains") return pyIn(operand, values);
  if (typeof answer !== "number") return false;
  return operator === "less_than" ? answer < operand : answer >= operand;
}

const everyQuestion = new WeakMap();

/** Return every question, in order (Questionnaire.questions). */
export function questions(questionnaire) {
  if (!everyQuestion.has(questionnaire)) {
    everyQuestion.set(questionnaire, questionnaire.sections.flatMap((s) => s.questions));
  }
  return everyQuestion.get(questionnaire);
}

/** Keep only the answers to questions that are shown, given earlier answers (effective_answers). */
export function effectiveAnswers(questionnaire, answers) {
  const named = questionnaire.conditions;
  const kept = {};
  for (const section of questionnaire.sections) {
    if (!evaluate(section.show_if, kept, named)) continue;
    for (const question of section.questions) {
      if (has(answers, question.id) && evaluate(question.show_if, kept, named)) {
        kept[question.id] = answers[question.id];
      }
    }
  }
  return kept;
}

/** Return the sections shown, given the answers so far (visible_sections). */
export function visibleSections(questionnaire, answers) {
  const kept = effectiveAnswers(questionnaire, answers);
  return questionnaire.sections.filter((s) => evaluate(s.show_if, kept, questionnaire.conditions));
}

/**
 * Return a section's questions shown (Section.visible_questions): a hidden
 * question's answer never opens a later one.
 */
export function visibleQuestions(questionnaire, section, answers) {
  let context = answers;
  const shown = [];
  for (const question of section.questions) {
    if (evaluate(question.show_if, context, questionnaire.conditions)) {
      shown.push(question);
    } else if (has(context, question.id)) {
      // A hidden question's stale answer must not decide what follows.
      if (context === answers) context = { ...answers };
      delete context[question.id];
    }
  }
  return shown;
}

/** Tell whether a question applies here: its required setting, if any, is set (applies). */
export function questionApplies(question, settings) {
  return !question.requires_setting || pyTruthy((settings || {})[question.requires_setting]);
}

/**
 * The questionnaire as asked here: without the questions whose setting is
 * unset (Questionnaire.for_settings), so that they are neither shown, nor
 * read, nor kept.
 */
export function forSettings(questionnaire, settings) {
  const sections = questionnaire.sections.map((section) => ({
    ...section,
    questions: section.questions.filter((question) => questionApplies(question, settings)),
  }));
  return { ...questionnaire, sections };
}

/** Return the items an answer to one question records (Question.recorded_items). */
export function recordedItems(question, answer) {
  if (question.indicator && pyEquals(answer, "yes")) return [question.indicator];
  const chosen = Array.isArray(answer) ? answer : [answer];
  return question.choices
    .filter((choice) => choice.indicator && pyIn(choice.id, chosen))
    .map((choice) => choice.indicator);
}

/** Return the items shown questions record: a yes, a chosen choice (indicators_from_answers). */
export function indicatorsFromAnswers(questionnaire, answers) {
  const kept = effectiveAnswers(questionnaire, answers);
  const found = questions(questionnaire)
    .filter((q) => has(kept, q.id))
    .flatMap((q) => recordedItems(q, kept[q.id]));
  return [...new Set(found)];
}

/** Return which ILO lists apply, "sexual" or "labour" (exploitation_list). */
export function exploitationList(questionnaire, answers) {
  const name = questionnaire.sexual_list_condition;
  if (!name) return "labour";
  const kept = effectiveAnswers(questionnaire, answers);
  const named = questionnaire.conditions;
  return evaluate(named[name], kept, named) ? "sexual" : "labour";
}

/** Tell whether the person is under 18 or presumed so, age uncertain (is_child). */
export function isChild(questionnaire, answers) {
  const named = questionnaire.conditions;
  const kept = effectiveAnswers(questionnaire, answers);
  return evaluate(named[questionnaire.child_condition], kept, named);
}

/** Return the urgent need a question records, if any (Catalogue.urgent_for_question). */
export function urgentForQuestion(catalogue, questionId) {
  const found = Object.entries(catalogue.urgent).find(([, need]) => need.question === questionId);
  return found ? { id: found[0], ...found[1] } : null;
}

/** Return the urgent ids recorded: each urgent question's counting answers (urgent_flags). */
export function urgentFlags(questionnaire, answers, catalogue) {
  const kept = effectiveAnswers(questionnaire, answers);
  const flags = [];
  for (const question of questions(questionnaire)) {
    const need = question.urgent ? urgentForQuestion(catalogue, question.id) : null;
    if (need && has(kept, question.id) && pyIn(kept[question.id], need.counts)) {
      flags.push(need.id);
    }
  }
  return flags;
}

/** Assess a whole interview's answers (Questionnaire.assess); settings are the instance's. */
export function assessAnswers(questionnaire, answers, settings, catalogue) {
  return assess(
    indicatorsFromAnswers(questionnaire, answers),
    {
      child: isChild(questionnaire, answers),
      urgent: urgentFlags(questionnaire, answers, catalogue),
      exploitation: exploitationList(questionnaire, answers),
      settings,
    },
    catalogue,
  );
}
