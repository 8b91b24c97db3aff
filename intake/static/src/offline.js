// The offline interview: a screening that goes on in the browser while the
// field node cannot be reached, then a sealed envelope queued until it can.
//
// Rendered into templates/field/offline_app.html, whose JSON block gives the
// URLs. The questionnaire, its conditions and the assessment are the node's
// own (questionnaires.json, evaluated by questionnaire.js and assessment.js),
// and its answers are cleaned as the node cleans them (answers.js).
// Drafts and the node's configuration are kept encrypted (store.js); a
// finished record is sealed to the coordinators (envelope.js) and cannot be
// read here again.
//
// Languages, as on the node's screens (templates/field/_question.html): the
// officer reads the app in the page's language; the officer picks the
// person's language when starting, and the person's words are shown large
// (lang and dir of their language), the officer's beneath when they differ.
// Help, actions and the assessment are the officer's alone. Both languages'
// texts come from build/texts-<lang>.json (texts.js), never from English
// when the language has a catalog.

import { cleanAnswer } from "./answers.js";
import { messageText, plainAssessment } from "./assessment.js";
import { utcNow } from "./clock.js";
import { sealRecord } from "./envelope.js";
import {
  assessAnswers,
  checkDefinition,
  effectiveAnswers,
  evaluate,
  forSettings,
  indicatorsFromAnswers,
  isAnswered,
  isChild,
  urgentFlags,
  visibleQuestions,
  visibleSections,
} from "./questionnaire.js";
import { queueSender, sessionToken } from "./queue.js";
import * as store from "./store.js";
import { countryChoices, has, languageChoices, languageName, loadTexts, tagOf } from "./texts.js";

const SETTINGS = readJSON("offline-settings");
const root = document.getElementById("offline-app");
const queueLine = document.getElementById("offline-queue");
const alertLine = document.getElementById("offline-alert");
const RETRY_MS = 30_000;
const DEFAULT_FORM = "screening-short"; // chosen already, as on the start page
const sender = queueSender({ envelopes: SETTINGS.envelopes, page: SETTINGS.page }, reportSending);

// In page memory only: gone on reload, on lock, when the tab closes.
// `officer` and `respondent` are the Texts of the two languages (texts.js);
// `asked`, each questionnaire as asked under the node's settings; `paused`,
// the interview to go back to once unlocked.
const state = {
  key: null,
  config: null,
  definition: null,
  officer: null,
  respondent: null,
  asked: new Map(),
  paused: null,
  screen: null,
  idleTimer: null,
};

function readJSON(id) {
  return JSON.parse(document.getElementById(id).textContent);
}

/** An interface string in the officer's language, its %(name)s values filled in. */
function t(name, params = {}) {
  return state.officer.t(name, params);
}

/** A text of the definition in the officer's language (the node's `tq`). */
function tq(text) {
  return state.officer.gettext(text);
}

/**
 * A text of the definition for the person: in their language, large, and in
 * the officer's beneath it when the two differ (the node's `both`).
 */
function both(text, id = null) {
  const { officer, respondent } = state;
  const theirs = el("span", { class: "resp", id, ...respondent.attributes }, respondent.gettext(text));
  if (respondent.locale === officer.locale) return [theirs];
  return [theirs, el("span", { class: "off", ...officer.attributes }, officer.gettext(text))];
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

function show(...children) {
  state.screen = null; // what an idle lock pauses: set by the interview's screens
  root.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  const heading = root.querySelector("h2");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

/**
 * Say something on the alert line: an error (red) by default; `info` for what
 * is normal offline (the node out of reach), so that it does not read as a fault.
 */
function say(text, { info = false, link = null } = {}) {
  alertLine.replaceChildren(...[text || "", link && " ", link].filter(Boolean));
  alertLine.hidden = !text;
  alertLine.className = info ? "flash info" : "flash error";
}

/** A link to sign in that comes back to this page, where the queue is sent from. */
function signInLink() {
  return el("a", { href: SETTINGS.signin }, t("signin"));
}

// -- Start: the definition, the node's configuration, the password --

async function boot() {
  const reading = Promise.all([fetchDefinition(), fetchConfig()]);
  reading.catch(() => {}); // said when awaited below
  // The officer's words first: every screen, the queue's line included, is in them.
  state.officer = await loadTexts(SETTINGS.texts, SETTINGS.locale);
  window.addEventListener("online", () => sendQueue());
  setInterval(() => sendQueue(), RETRY_MS);
  watchIdle();
  await renderQueue();
  askPersistence();
  if (!globalThis.crypto?.subtle) return show(el("p", {}, t("no_webcrypto")));
  const [definition, config] = await reading;
  state.definition = definition;
  sendQueue();
  showUnlock(config);
}

async function fetchDefinition() {
  const response = await fetch(SETTINGS.definition);
  if (!response.ok) throw new Error(`questionnaires.json: ${response.status}`);
  return checkDefinition(await response.json());
}

/** The node's configuration for this officer, or null offline or signed out. */
async function fetchConfig() {
  try {
    const response = await fetch(SETTINGS.config, { credentials: "same-origin", redirect: "manual" });
    return response.ok ? await response.json() : null;
  } catch {
    return null; // the node cannot be reached
  }
}

/**
 * The password, to open what this tablet keeps. Offline, with more than one
 * officer's keyring here, the name too; with the node in reach, the node
 * says whose session this is.
 */
async function showUnlock(config) {
  const keyrings = await store.storedKeyrings();
  if (!config && !keyrings.length) {
    return show(el("p", {}, t("need_signin")), el("a", { class: "button", href: SETTINGS.signin }, t("signin")));
  }
  const name = !config && keyrings.length > 1
    ? el("input", { type: "text", id: "offline-name", autocomplete: "username", autocapitalize: "none", spellcheck: "false", required: true })
    : null;
  const password = el("input", { type: "password", id: "offline-password", autocomplete: "current-password", required: true });
  const form = el(
    "form",
    { class: "card stack", id: "offline-unlock" },
    el("h2", {}, t("unlock_title")),
    el("p", {}, t("unlock_intro")),
    name && [el("label", { for: "offline-name" }, t("name")), name],
    el("label", { for: "offline-password" }, t("password")),
    password,
    el("button", { type: "submit", class: "button primary" }, t("unlock")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.querySelector("button").disabled = true;
    try {
      await unlock(name ? name.value : null, password.value, config);
      password.value = "";
      say("");
      await afterUnlock();
    } catch (e) {
      if (e instanceof store.WrongPasswordError) say(t("wrong_password"));
      else if (e instanceof RefusedByNode) say(e.message);
      else throw e;
      form.querySelector("button").disabled = false;
    }
  });
  root.dataset.state = "locked";
  show(form);
}

/** The node would not check the password now: too many failures (its words), or out of reach. */
class RefusedByNode extends Error {
  name = "RefusedByNode";
}

/**
 * Open this officer's keyring, or set it up. With the node in reach, a
 * keyring is set up only with the password the node confirms, so that a
 * mistyped one never keys the tablet; and if the node confirms a password
 * the keyring refuses, it was changed since: the keyring is set up again
 * (interviews in progress under the old one no longer open).
 */
async function unlock(name, password, config) {
  state.asked = new Map();
  if (!config) {
    ({ key: state.key, config: state.config } = await store.unlockKeyring(name, password));
    return;
  }
  const confirmed = await nodeConfirms(password);
  if (confirmed === false) throw new store.WrongPasswordError("the node says it is not this officer's password");
  const salt = fromBase64(config.salt);
  const mine = await store.findKeyring(config.user);
  if (mine && store.sameBytes(mine.salt, salt) && mine.iterations === SETTINGS.iterations) {
    try {
      state.key = (await store.unlockKeyring(config.user, password)).key;
      await store.updateConfig(state.key, mine.id, config);
      state.config = config;
      return;
    } catch (e) {
      if (!(e instanceof store.WrongPasswordError) || !confirmed) throw e;
    }
  } else if (!confirmed) {
    throw new RefusedByNode(t("need_signin")); // no keyring is set up with an unchecked password
  }
  state.key = await store.setUpKeyring(config.user, password, salt, SETTINGS.iterations, config);
  state.config = config;
}

/** Ask the node whether this is the signed-in officer's password: true, false, or null when it cannot say. */
async function nodeConfirms(password) {
  let response;
  try {
    response = await sender.post(SETTINGS.password, { body: new URLSearchParams({ password }) });
  } catch {
    return null; // the node went out of reach
  }
  if (response?.status === 429) throw new RefusedByNode((await response.json()).error);
  if (!response?.ok) return null;
  return (await response.json()).matches === true;
}

/** Back to the interview paused by a lock, else home. */
async function afterUnlock() {
  const paused = state.paused;
  state.paused = null;
  if (paused) {
    try {
      const draft = await store.loadDraft(state.key, paused.id);
      await useLanguagesOf(draft);
      return showSection(draft, paused.section);
    } catch (e) {
      // Another officer's password opened the tablet: not theirs to go on with.
      if (!(e instanceof store.UnreadableError)) throw e;
    }
  }
  return showHome();
}

// -- Locking: by hand, or after the node's idle time without use --

/**
 * Forget the key and all it opened, and ask for the password again. The
 * node's session on this tablet is locked too, as the node's Lock does, so
 * that whoever picks the tablet up finds nothing open. The queue needs no
 * key: it stays, and goes once an officer signs in.
 */
async function lock() {
  root.replaceChildren(); // the screen goes at once, before anything is awaited
  Object.assign(state, { key: null, config: null, respondent: null, asked: new Map(), screen: null });
  say("");
  lockNodeSession();
  await showUnlock(null);
}

/** Keep what is valid on the screen in the draft (as Back does), then lock; unlocking comes back to it. */
async function pause({ draft, section, form }) {
  if (form) {
    const { clean } = checkSection(draft, section, form);
    keepAnswers(draft, section, clean);
    draft.section = section.id;
    await store.saveDraft(state.key, draft);
  }
  state.paused = { id: draft.id, section: draft.section };
  await lock();
}

/**
 * Lock after the node's idle time (the same as the node's own screens), and
 * at once when the tablet wakes after it: a sleeping tablet's timers stop.
 */
function watchIdle() {
  const limit = SETTINGS.idle_seconds * 1000;
  if (!limit) return;
  let lastUse = Date.now();
  const expire = () => {
    if (!state.key) return;
    const paused = state.screen;
    (paused ? pause(paused) : lock()).catch((e) => say(`${t("error")}: ${e.message}`));
  };
  const used = () => {
    lastUse = Date.now();
    clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(expire, limit);
  };
  for (const name of ["pointerdown", "keydown", "input", "scroll", "touchstart"]) {
    window.addEventListener(name, used, { passive: true });
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && Date.now() - lastUse >= limit) expire();
  });
  used();
}

/** Lock the node's session, if this tablet has one (a token to ask with); offline, it ends by itself. */
async function lockNodeSession() {
  sender.forgetToken();
  try {
    const token = await sessionToken(SETTINGS.page);
    if (!token) return; // not signed in
    await fetch(SETTINGS.lock, {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual",
      body: new URLSearchParams({ csrf_token: token }),
    });
  } catch {
    // The node cannot be reached: its session ends after the same idle time.
  }
}

// -- Home: interviews in progress, a new one --

async function showHome() {
  root.dataset.state = "home";
  const drafts = await store.loadDrafts(state.key);
  const forms = questionnaireIds();
  const start = el(
    "form",
    { class: "card stack", id: "offline-start" },
    el("h2", {}, t("start_title")),
    el(
      "fieldset",
      { class: "choices" },
      el("legend", {}, t("form")),
      forms.map((id) =>
        el("label", { class: "choice" }, el("input", { type: "radio", name: "questionnaire", value: id, checked: id === DEFAULT_FORM }), " ", formName(id)),
      ),
    ),
    el("label", { for: "offline-language" }, t("respondent_language")),
    el("select", { id: "offline-language", name: "respondent_language", required: true },
      languages().map(([code, name]) => el("option", { value: code, lang: tagOf(code) }, name))),
    el("button", { type: "submit", class: "button primary" }, t("start")),
  );
  start.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(start);
    const button = start.querySelector("button[type=submit]");
    button.disabled = true;
    startInterview(data.get("questionnaire"), data.get("respondent_language")).catch((e) => failed(e, button));
  });
  const list = drafts.length
    ? el("section", { class: "card" }, el("h2", {}, t("drafts_title")), el("ul", { class: "drafts" }, drafts.map((d) =>
        el("li", {}, draftFacts(d), " ",
          el("button", { type: "button", class: "button", onclick: (e) => resumeInterview(d).catch((x) => failed(x, e.target)) }, t("resume")), " ",
          el("button", { type: "button", class: "button quiet", onclick: () => confirmDelete(d) }, t("delete"))),
      )))
    : null;
  show(start, list, lockButton());
}

/** An interview in progress, as the home list names it: reference, start (UTC), the person's language. */
function draftFacts(draft) {
  const code = draft.languages.respondent;
  return [`${reference(draft.id)} · ${draft.started} · `, el("span", { lang: tagOf(code) }, nameOfLanguage(code))];
}

function lockButton() {
  return el("div", { class: "actions" },
    el("button", { type: "button", class: "button quiet", id: "offline-lock", onclick: () => lock() }, t("lock")));
}

/** As the node's Delete…: say what goes, for good, and let the officer keep it. */
function confirmDelete(draft) {
  root.dataset.state = "delete";
  const remove = async (event) => {
    event.target.disabled = true;
    await store.deleteDraft(draft.id);
    await showHome();
  };
  show(
    el("h2", {}, t("delete_title")),
    el("p", {}, t("delete_intro")),
    el("section", { class: "card" }, el("p", {}, draftFacts(draft))),
    el("div", { class: "actions" },
      el("button", { type: "button", class: "button danger", id: "offline-delete", onclick: (e) => remove(e).catch((x) => failed(x, e.target)) }, t("delete_confirm")),
      el("button", { type: "button", class: "button primary", onclick: () => showHome() }, t("keep"))),
  );
}

/** A form's name as the start page gives it, else its title. */
function formName(id) {
  const named = `form_${id}`;
  return t(named) !== named ? t(named) : tq(state.definition.questionnaires[id].title);
}

function questionnaireIds() {
  const known = Object.keys(state.definition.questionnaires);
  const offered = (state.config.questionnaires || []).map((q) => (typeof q === "string" ? q : q.id));
  const both = offered.filter((id) => known.includes(id));
  return both.length ? both : known;
}

/**
 * [code, name] of the languages an interview can be held in: the node's
 * (config.languages), of those this release has texts for; each named in
 * itself by the browser, as the node names them (i18n.language_names).
 */
function languages() {
  const shipped = Object.keys(SETTINGS.texts);
  const offered = (state.config.languages || shipped).map((entry) =>
    Array.isArray(entry) ? entry : typeof entry === "string" ? [entry, entry] : [entry.code, entry.name],
  );
  return offered
    .filter(([code]) => shipped.includes(code))
    .map(([code, name]) => [code, languageName(code) || name]);
}

/** A language's name in itself (the node's config names it too, should the browser not). */
function nameOfLanguage(code) {
  const known = (state.config.languages || []).find((entry) => Array.isArray(entry) && entry[0] === code);
  return languageName(code) || (known ? known[1] : code);
}

/** Read the texts of the draft's person's language; the officer's if this release has none. */
async function useLanguagesOf(draft) {
  const code = draft.languages.respondent;
  state.respondent = has(SETTINGS.texts, code) ? await loadTexts(SETTINGS.texts, code) : state.officer;
}

/** Say what went wrong (the person's texts could not be read, say) and let the officer try again. */
function failed(error, button) {
  say(`${t("error")}: ${error.message}`);
  button.disabled = false;
}

async function resumeInterview(draft) {
  await useLanguagesOf(draft);
  showSection(draft, draft.section);
}

async function startInterview(questionnaireId, respondentLanguage) {
  const questionnaire = state.definition.questionnaires[questionnaireId];
  const draft = {
    id: crypto.randomUUID(),
    questionnaire: questionnaire.id,
    version: questionnaire.version,
    languages: { respondent: respondentLanguage, officer: SETTINGS.locale },
    started: utcNow(),
    answers: {},
    section: null,
  };
  await useLanguagesOf(draft);
  await store.saveDraft(state.key, draft);
  showSection(draft, visibleSections(questionnaire, {})[0].id);
}

// -- A screen of the interview --

/** The draft's questionnaire as the node asks it, under its settings (Questionnaire.for_settings). */
function questionnaireOf(draft) {
  const id = draft.questionnaire;
  if (!state.asked.has(id)) {
    state.asked.set(id, forSettings(state.definition.questionnaires[id], state.config.settings || null));
  }
  return state.asked.get(id);
}

function showSection(draft, sectionId) {
  const questionnaire = questionnaireOf(draft);
  const shown = visibleSections(questionnaire, draft.answers);
  const section = shown.find((s) => s.id === sectionId) || shown[0];
  const at = shown.indexOf(section);
  root.dataset.state = "section";
  root.dataset.section = section.id;
  const urgent = urgentFlags(questionnaire, draft.answers, state.definition.catalogue).length;
  // As templates/field/section.html: the urgent notice, the title and intro in
  // both languages, the officer's help, then the questions.
  const heading = [
    urgent ? el("p", { class: "flash urgent", role: "alert" }, t("urgent")) : null,
    el("h2", {}, both(section.title)),
    el("p", { class: "note" }, t("step", { step: at + 1 })),
    section.intro ? el("p", { class: "intro" }, both(section.intro)) : null,
    section.help ? el("p", { class: "help officer-help" }, tq(section.help)) : null,
  ];
  const form = el(
    "form",
    // No autofill history: the browser would keep typed answers in its profile, in the clear.
    { class: "interview", id: "offline-section", novalidate: true, autocomplete: "off" },
    section.questions.map((q) => questionField(q, draft.answers[q.id])),
    el(
      "div",
      { class: "actions" },
      el("button", { type: "submit", class: "button primary", name: "action", value: "next" }, t("next")),
      el("button", { type: "button", class: "button", id: "offline-back" }, t("back")),
      el("button", { type: "button", class: "button quiet", id: "offline-pause" }, t("pause")),
    ),
  );
  const others = otherAnswers(questionnaire, section, draft.answers);
  const refresh = () => {
    const current = { ...others, ...readSection(questionnaire, section, form, others).clean };
    showOnly(questionnaire, section, form, current);
    showActions(section, form, current);
  };
  form.addEventListener("change", refresh);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    leaveSection(draft, section, form, +1);
  });
  form.querySelector("#offline-back").addEventListener("click", () => leaveSection(draft, section, form, -1));
  form.querySelector("#offline-pause").addEventListener("click", () => pause({ draft, section, form }));
  show(heading, form);
  state.screen = { draft, section, form };
  refresh();
}

function otherAnswers(questionnaire, section, answers) {
  const own = new Set(section.questions.map((q) => q.id));
  const kept = effectiveAnswers(questionnaire, answers);
  return Object.fromEntries(Object.entries(kept).filter(([id]) => !own.has(id)));
}

function showOnly(questionnaire, section, form, context) {
  const shown = new Set(visibleQuestions(questionnaire, section, context).map((q) => q.id));
  for (const question of section.questions) {
    form.querySelector(`#q-${CSS.escape(question.id)}`).hidden = !shown.has(question.id);
  }
}

/** Show the officer's action under each answer that calls for it, as it is given. */
function showActions(section, form, answers) {
  for (const question of section.questions) {
    const action = question.action && form.querySelector(`#action-${CSS.escape(question.id)}`);
    if (action) action.hidden = !actionDue(question, answers[question.id]);
  }
}

/**
 * One question, as templates/field/_question.html shows it to the officer:
 * the person's words (and the officer's beneath), or, for what the officer
 * records, the officer's alone; help and the action due in the officer's.
 */
function questionField(question, answer) {
  const id = `f-${question.id}`;
  const mine = question.audience === "officer";
  const help = question.help ? el("p", { class: "help", id: `${id}-help` }, tq(question.help)) : null;
  const error = el("p", { class: "error", id: `${id}-error`, hidden: true });
  const described = [help && `${id}-help`, `${id}-error`].filter(Boolean).join(" ");
  const title = mine
    ? [el("span", { class: "badge" }, t("you_record")), " ", tq(question.text)]
    : both(question.text, `text-${question.id}`);
  const required = question.required ? el("span", { class: "req" }, t("required_mark")) : null;
  // Kept in the screen, shown as soon as an answer calls for it (showActions).
  const action = question.action
    ? el("p", { class: "flash urgent officer-action", role: "alert", id: `action-${question.id}`, hidden: !actionDue(question, answer) }, tq(question.action))
    : null;
  const choices = ["yes_no_unknown", "single_choice", "multiple_choice"].includes(question.type);
  const row = question.type === "yes_no_unknown" || (question.type === "single_choice" && question.choices.length <= 3);
  const classes = ["question", choices && row && "compact", mine && "officer-only"].filter(Boolean).join(" ");
  const wrap = (...control) => el("div", { class: classes, id: `q-${question.id}` }, ...control, action);
  if (choices) {
    const type = question.type === "multiple_choice" ? "checkbox" : "radio";
    const chosen = Array.isArray(answer) ? answer : [answer];
    return wrap(el("fieldset", { class: "choices", "aria-describedby": described },
      el("legend", {}, required, title), help, error,
      el("div", { class: row ? "options row" : "options" }, question.choices.map((c) => el("label", { class: "choice" },
        el("input", { type, name: question.id, value: c.id, checked: chosen.includes(c.id), autocomplete: "off" }), " ",
        el("span", {}, mine ? tq(c.text) : both(c.text))))),
    ));
  }
  const common = { id, name: question.id, "aria-describedby": described, autocomplete: "off" };
  let control;
  if (question.type === "long_text") {
    control = el("textarea", { ...common, rows: 4 });
    control.value = answer ?? "";
  } else if (question.type === "country" || question.type === "language") {
    const named = question.type === "country"
      ? countryChoices(state.officer.locale, state.respondent.locale)
      : languageChoices(state.officer.locale, state.respondent.locale, Object.keys(SETTINGS.texts).map(tagOf));
    control = el("select", common, el("option", { value: "" }, t("choose")),
      named.map(([code, name]) => el("option", { value: code, selected: code === answer }, name)));
  } else {
    const type = { number: "number", date: "date" }[question.type] || "text";
    control = el("input", { ...common, type, step: question.type === "number" && !question.integer ? "any" : null });
    control.value = answer ?? "";
  }
  return wrap(el("label", { for: id }, title, required && " ", required), help, error, control);
}

/** Whether the saved answer calls for the officer's action (Question.action_due). */
function actionDue(question, answer) {
  if (!question.action || answer === null || answer === undefined) return false;
  const chosen = Array.isArray(answer) ? answer : [answer];
  return chosen.some((value) => question.action_when.includes(String(value)));
}

/** Read and clean the shown questions of a section, as Questionnaire.validate_answers does. */
function readSection(questionnaire, section, form, others) {
  const data = new FormData(form);
  const clean = {};
  const errors = {};
  for (const question of section.questions) {
    if (!evaluate(question.show_if, { ...others, ...clean }, questionnaire.conditions)) continue;
    const raw = question.type === "multiple_choice" ? data.getAll(question.id) : data.get(question.id);
    const [value, error] = cleanAnswer(question, raw);
    if (error) errors[question.id] = error;
    else if (value !== null) clean[question.id] = value;
  }
  return { clean, errors };
}

/** Read the screen's answers, and show what is wrong beside each question. */
function checkSection(draft, section, form) {
  const questionnaire = questionnaireOf(draft);
  const { clean, errors } = readSection(questionnaire, section, form, otherAnswers(questionnaire, section, draft.answers));
  for (const question of section.questions) {
    const message = errors[question.id];
    const box = form.querySelector(`#f-${CSS.escape(question.id)}-error`);
    box.textContent = message ? t(message.name, message.params) : "";
    box.hidden = !message;
    form.querySelector(`#q-${CSS.escape(question.id)}`).classList.toggle("has-error", Boolean(message));
  }
  return { clean, errors };
}

/** The screen's valid answers in place of its earlier ones: nothing typed is lost, nothing wrong is kept. */
function keepAnswers(draft, section, clean) {
  for (const question of section.questions) delete draft.answers[question.id];
  Object.assign(draft.answers, clean);
}

async function leaveSection(draft, section, form, direction) {
  const questionnaire = questionnaireOf(draft);
  const { clean, errors } = checkSection(draft, section, form);
  if (direction > 0 && Object.keys(errors).length) {
    return form.querySelector(".has-error input, .has-error select, .has-error textarea")?.focus();
  }
  keepAnswers(draft, section, clean); // Back too keeps what is valid
  const shown = visibleSections(questionnaire, draft.answers).map((s) => s.id);
  const next = shown[shown.indexOf(section.id) + direction];
  draft.section = next || section.id;
  await store.saveDraft(state.key, draft);
  if (next) return showSection(draft, next);
  return direction > 0 ? showReview(draft) : showHome();
}

// -- Review and finish --

function showReview(draft) {
  const questionnaire = questionnaireOf(draft);
  const assessment = assessAnswers(questionnaire, draft.answers, state.config.settings || null, state.definition.catalogue);
  root.dataset.state = "review";
  const finish = el("button", { type: "button", class: "button primary", id: "offline-finish" }, t("finish"));
  finish.addEventListener("click", async () => {
    finish.disabled = true;
    const missing = firstIncomplete(questionnaire, draft.answers);
    if (missing) return showSection(draft, missing);
    await finishInterview(draft);
  });
  const back = el("button", { type: "button", class: "button" }, t("back"));
  back.addEventListener("click", () => showSection(draft, draft.section));
  const pauseButton = el("button", { type: "button", class: "button quiet", id: "offline-pause", onclick: () => pause({ draft }) }, t("pause"));
  const options = state.definition.catalogue.referral_options.filter((o) => assessment.referral_options.includes(o.id));
  show(
    el("h2", {}, t("review_title")),
    el("section", { class: "card assessment" },
      el("p", {}, `${t("outcome")}: `, el("strong", {}, t(`outcome_${assessment.outcome}`))),
      el("h3", {}, t("reasons")),
      el("ul", {}, assessment.reasons.map((r) => el("li", {}, messageText(r, tq)))),
      options.length ? [el("h3", {}, t("referral_options")), el("ul", {}, options.map((o) => el("li", {}, tq(o.label))))] : null),
    el("div", { class: "actions" }, finish, back, pauseButton),
  );
  state.screen = { draft };
}

function firstIncomplete(questionnaire, answers) {
  for (const section of visibleSections(questionnaire, answers)) {
    const context = effectiveAnswers(questionnaire, answers);
    const missing = visibleQuestions(questionnaire, section, context).some((q) => q.required && !isAnswered(context[q.id]));
    if (missing) return section.id;
  }
  return null;
}

/** Build the record as intake.field.interview.record_of does. */
function recordOf(draft) {
  const questionnaire = questionnaireOf(draft);
  const catalogue = state.definition.catalogue;
  const answers = effectiveAnswers(questionnaire, draft.answers);
  const assessment = assessAnswers(questionnaire, answers, state.config.settings || null, catalogue);
  return {
    id: draft.id,
    reference: reference(draft.id),
    kind: "screening",
    questionnaire: { id: questionnaire.id, version: questionnaire.version },
    languages: draft.languages,
    started: draft.started,
    finished: utcNow(),
    officer: username(state.config.user),
    device: state.config.device,
    answers,
    indicators: indicatorsFromAnswers(questionnaire, answers),
    child: isChild(questionnaire, answers),
    urgent: urgentFlags(questionnaire, answers, catalogue),
    assessment: plainAssessment(assessment),
  };
}

async function finishInterview(draft) {
  const record = recordOf(draft);
  const envelope = await sealRecord(record, state.config.recipients.map(fromBase64), {
    kind: "screening",
    recordId: draft.id,
    device: state.config.device,
    questionnaire: `${record.questionnaire.id}@${record.questionnaire.version}`,
  });
  const item = { id: draft.id, reference: record.reference, envelope, queued: record.finished, refused: null };
  await store.queueEnvelope(item, draft.id);
  root.dataset.state = "finished";
  const another = el("button", { type: "button", class: "button primary" }, t("another"));
  another.addEventListener("click", () => showHome());
  show(
    el("h2", {}, t("finished_title")),
    el("p", {}, t("finished_intro")),
    el("p", { class: "reference" }, `${t("reference")}: `, el("strong", {}, record.reference)),
    el("div", { class: "actions" }, another),
    lockButton(),
  );
  await renderQueue();
  sendQueue();
}

// -- The queue --

async function renderQueue() {
  const items = await store.queued();
  const count = items.length;
  const form = new Intl.PluralRules(document.documentElement.lang || "en").select(count);
  queueLine.textContent = count ? t(form === "one" ? "queue_one" : "queue_other", { count }) : t("queue_none");
  queueLine.dataset.count = String(count);
  return items;
}

/** Send every queued envelope (queue.js), then count what is left. */
async function sendQueue() {
  try {
    await sender.send();
  } finally {
    await renderQueue();
  }
}

/** How the sending goes, on the alert line. */
function reportSending(what, details) {
  if (what === "sent") say("");
  else if (what === "offline") say(t("offline"), { info: true });
  else if (what === "signin") say(t("signin_again"), { link: signInLink() });
  else if (what === "refused") say(t("refused", details));
}

async function askPersistence() {
  const storage = navigator.storage;
  if (!storage?.persist) return;
  if ((await storage.persisted()) || (await storage.persist())) return;
  const note = el("p", { class: "flash notice", id: "offline-persist", role: "note" }, t("not_persistent"));
  queueLine.after(note);
}

// -- Small helpers --

function reference(id) {
  const digits = id.replaceAll("-", "").slice(0, 8).toUpperCase();
  return `${digits.slice(0, 4)}-${digits.slice(4)}`;
}

function username(user) {
  return typeof user === "object" && user !== null ? user.username || user.name : user;
}


function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

boot().catch((error) => {
  say(`${state.officer ? t("error") : "Error"}: ${error.message}`);
  throw error;
});
