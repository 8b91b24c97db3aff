// The decision rule in the browser: recorded items in, outcome, reasons and options out.
//
// An evaluator only, the twin of intake/questionnaire/assessment.py: every
// strength, threshold, route, urgent need, referral option and reason
// template is read from the catalogue in questionnaires.json, which the
// build writes from Python (intake/questionnaire/definition.py). This file
// fixes only what the rules mean, exactly as assessment.py does, and
// tests/test_js_assessment.py checks that both give the same result on
// every branch. Change a rule in indicators.toml, never here.
//
// Reasons are messages, {template, params}, as Python's Message keeps them:
// a page translates them with messageText(message, gettext); plainAssessment()
// gives the English strings the sealed record and `intake assess` carry.

const OUTCOMES = ["no_indicators", "consider_referral", "refer_now"]; // lowest first

const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);

/**
 * Turn recorded item ids into an outcome, reasons and referral options (assessment.assess).
 *
 * `indicatorIds` may hold any item of the catalogue, urgent ones too; `urgent`
 * holds urgent ids (or urgent question ids) recorded apart; `settings` are the
 * instance's: an option that depends on the country is offered only when its
 * setting is there. Throws on an unknown id or list, as Python raises ValueError.
 */
export function assess(indicatorIds, options, catalogue) {
  const { child = false, urgent = [], exploitation = "labour", settings = null } = options || {};
  if (!has(catalogue.lists, exploitation)) {
    const known = Object.keys(catalogue.lists).join(", ");
    throw new Error(`unknown list '${exploitation}' (expected one of ${known})`);
  }
  const given = strings(indicatorIds, "indicator_ids");
  const ids = recognised(
    given.filter((i) => !has(catalogue.urgent, i)),
    catalogue,
  );
  const urgentIds = urgentIdsOf(
    given.filter((i) => has(catalogue.urgent, i)),
    urgent,
    catalogue,
  );
  const items = catalogue.items;
  const strengths = Object.fromEntries(
    ids.map((i) => [i, strength(items[i], child, exploitation)]),
  );
  const positive = Object.fromEntries(
    catalogue.dimensions.map((d) => [d.number, metThreshold(catalogue, d.number, strengths)]),
  );
  const state = { ids, strengths, positive };
  const routes = catalogue.routes.filter((r) => r.applies_to === (child ? "child" : "adult"));
  const held = routes.filter((r) => r.clauses.every((c) => clauseHolds(c, catalogue, state)));
  let outcome = OUTCOMES[0];
  if (held.length) outcome = OUTCOMES[2];
  else if (ids.some((i) => catalogue.consider_kinds.includes(items[i].kind))) outcome = OUTCOMES[1];
  return {
    outcome,
    dimensions: Object.fromEntries(
      catalogue.dimensions.map((d) => [d.name, Boolean(positive[d.number])]),
    ),
    indicators: ids,
    urgent: urgentIds,
    routes: held.map((r) => r.id),
    list: exploitation,
    reasons: reasons(catalogue, state, routes, held, child, exploitation, urgentIds),
    referral_options: referralOptions(catalogue, outcome, child, urgentIds, settings),
  };
}

/** Return an item's strength for an adult or a child, in the labour or sexual list (strength). */
export function strength(item, child, exploitation = "labour") {
  if (exploitation === "sexual") {
    const override = child ? item.sexual_child : item.sexual_adult;
    if (override) return override;
  }
  return child ? item.child : item.adult;
}

function strings(values, name) {
  if (typeof values === "string" || !values || typeof values[Symbol.iterator] !== "function") {
    throw new TypeError(`${name} must be a list of ids, not a string`);
  }
  return [...values].map(String);
}

function recognised(indicatorIds, catalogue) {
  // Sorted by code point, as Python sorts str (ids are ASCII).
  const ids = [...new Set(indicatorIds)].sort();
  const unknown = ids.filter((i) => !has(catalogue.items, i));
  if (unknown.length) throw new Error(`unknown indicator id(s): ${unknown.join(", ")}`);
  return ids;
}

function urgentIdsOf(listed, urgent, catalogue) {
  // An id the catalogue does not know is kept (fail safe: an urgent answer is never dropped).
  const found = [...listed];
  for (const value of strings(urgent || [], "urgent")) {
    const known = Object.entries(catalogue.urgent).find(([, need]) => need.question === value);
    found.push(known ? known[0] : value.toUpperCase());
  }
  return [...new Set(found)];
}

function metThreshold(catalogue, number, strengths) {
  const counts = {};
  for (const [ident, s] of Object.entries(strengths)) {
    if (catalogue.items[ident].dimension === number && s) counts[s] = (counts[s] || 0) + 1;
  }
  // `of` sets within a threshold are disjoint, so each need counts apart.
  const met = (need) => need.of.reduce((sum, s) => sum + (counts[s] || 0), 0) >= need.at_least;
  return catalogue.thresholds.find((t) => t.need.every(met)) || null;
}

function clauseHolds(clause, catalogue, { ids, strengths, positive }) {
  const items = catalogue.items;
  return (
    clause.dimensions.some((d) => Boolean(positive[d])) ||
    ids.some((i) => clause.recorded.includes(i)) ||
    ids.some((i) => clause.kinds.includes(items[i].kind)) ||
    ids.some((i) => clause.strong_in.includes(items[i].dimension) && strengths[i] === "strong") ||
    ids.some((i) => clause.any_in.includes(items[i].dimension))
  );
}

/** Make a message: an English template and its named values (messages.Message). */
export function message(template, params = {}) {
  return { template, params };
}

function listed(ids, strengths, texts) {
  return ids.map((i) =>
    strengths[i]
      ? message(texts.indicator_with_strength, {
          id: i,
          strength: message(texts.strength_words[strengths[i]]),
        })
      : i,
  );
}

function reasons(catalogue, state, routes, held, child, exploitation, urgent) {
  const { ids, strengths, positive } = state;
  const texts = catalogue.messages;
  const found = child ? [message(texts.reasons.child)] : [];
  if (exploitation === "sexual") found.push(message(texts.reasons.sexual));
  for (const ident of urgent) {
    const known = catalogue.urgent[ident];
    const label = known ? message(known.label) : message(texts.urgent_fallback, { id: ident });
    found.push(message(texts.reasons.urgent, { label }));
  }
  for (const dim of catalogue.dimensions) {
    if (!positive[dim.number]) continue;
    const members = ids.filter((i) => catalogue.items[i].dimension === dim.number);
    found.push(
      message(texts.reasons.dimension, {
        title: message(dim.title),
        number: dim.number,
        indicators: listed(members, strengths, texts),
        threshold: message(positive[dim.number].label),
      }),
    );
  }
  for (const route of held) {
    const parts = route.clauses.map((c) => message(c.label));
    found.push(message(texts.reasons.rule_held, { rule: message(route.label), parts }));
  }
  const anyPositive = Object.values(positive).some(Boolean);
  if (!held.length && anyPositive && routes.length) {
    // The first route is the combination rule: say what it still lacks.
    const first = routes[0];
    const missing = first.clauses
      .filter((c) => !clauseHolds(c, catalogue, state))
      .map((c) => message(c.label));
    found.push(message(texts.reasons.rule_missing, { rule: message(first.label), parts: missing }));
  }
  if (!held.length && ids.length) {
    found.push(message(texts.reasons.recorded, { indicators: listed(ids, strengths, texts) }));
  }
  if (!ids.length) found.push(message(texts.reasons.none));
  return found;
}

function referralOptions(catalogue, outcome, child, urgent, settings) {
  const chosen = new Set();
  const add = (ids) => ids.forEach((id) => chosen.add(id));
  if (outcome !== "no_indicators") add(catalogue.suggest.when_referral);
  if (outcome === "refer_now") add(catalogue.suggest.when_refer_now);
  if (child) add(catalogue.suggest.when_child);
  for (const ident of urgent) add(catalogue.urgent[ident]?.referral_options || []);
  const given = settings || {};
  return catalogue.referral_options
    .filter((o) => chosen.has(o.id))
    .filter((o) => !o.requires_setting || pyTruthy(given[o.requires_setting]))
    .map((o) => o.id);
}

/** Translate a message (or plain text) with gettext, values included (messages.translate). */
export function messageText(value, gettext = (text) => text) {
  if (typeof value === "string") return value ? gettext(value) : value;
  if (typeof value !== "object" || value === null) return String(value);
  const params = value.params || {};
  const template = gettext(value.template);
  if (!Object.keys(params).length) return template;
  const text = (v) => {
    if (Array.isArray(v)) return v.map((item) => messageText(item, gettext)).join(", ");
    if (v !== null && typeof v === "object") return messageText(v, gettext);
    return String(v); // an id or a number: not translated
  };
  return template.replace(/%(?:\((\w+)\)s|%)/g, (whole, name) => {
    if (name === undefined) return "%";
    if (!has(params, name)) throw new Error(`no value for %(${name})s in ${template}`);
    return text(params[name]);
  });
}

/** Return the assessment with its reasons as English text: what a sealed record holds. */
export function plainAssessment(assessment) {
  return { ...assessment, reasons: assessment.reasons.map((r) => messageText(r)) };
}

// -- Python's comparisons on JSON values, which the rules were written in. --

/** Python's ==: true == 1, 1 == 1.0, lists and objects compared by value. */
export function pyEquals(a, b) {
  const numeric = (v) => typeof v === "number" || typeof v === "boolean";
  if (numeric(a) && numeric(b)) return Number(a) === Number(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((v, n) => pyEquals(v, b[n]))
    );
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((k) => has(b, k) && pyEquals(a[k], b[k]))
    );
  }
  return a === b;
}

/** Python's `value in values` for a list. */
export function pyIn(value, values) {
  return values.some((v) => pyEquals(value, v));
}

/** Python's truth value of a JSON value: empty lists and objects are false too. */
export function pyTruthy(value) {
  if (Array.isArray(value)) return value.length > 0;
  if (value !== null && typeof value === "object") return Object.keys(value).length > 0;
  return Boolean(value);
}
