// The offline interview's words, in every language the node ships.
//
// The build (intake/i18n/browser.py) writes build/texts-<lang>.json from each
// language's compiled catalog: the app's own interface strings by name, and
// every text of the definition (questionnaires.json) in one list whose order
// is the English file's: the English list is the keys, as gettext keys them,
// and each file names the digest of the English list it was built beside
// (its "source"), so a file of another build is refused, never misread. The
// build refuses a catalog that lacks a text, so a supported language never
// falls back to English here. The page names each file's URL (settings.texts,
// naming the release, so that the service worker answers it offline); a file
// is read once per page.
//
// Countries and languages are named by the browser (Intl.DisplayNames), as
// the node's pages name them from Babel's CLDR data.

const FORMAT = 2;
const SOURCE = "en"; // the catalogs' source language: its list is the keys
const loaded = new Map(); // locale -> Promise<Texts>

export const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);

/** A locale as the catalogs spell it (zh_Hans) as a BCP 47 tag (zh-Hans). */
export const tagOf = (locale) => locale.replace("_", "-");

/** One language's texts: its interface strings, the definition's texts, its direction. */
export class Texts {
  /** `data`: a language's file; `keys`: the English file's texts, in the same order. */
  constructor(data, keys) {
    this.locale = data.locale;
    this.lang = data.lang;
    this.dir = data.dir;
    this.interface = data.interface;
    this.texts = new Map(keys.map((key, n) => [key, data.texts[n]]));
    this.gettext = this.gettext.bind(this);
    this.t = this.t.bind(this);
  }

  /** A text of the definition in this language (its own words where none is kept). */
  gettext(text) {
    return text && this.texts.has(text) ? this.texts.get(text) : text;
  }

  /** An interface string with its %(name)s (or %(name)d) values filled in. */
  t(name, params = {}) {
    const text = has(this.interface, name) ? this.interface[name] : name;
    return text.replace(/%\((\w+)\)[sd]/g, (_, key) => String(params[key]));
  }

  /** The attributes that mark an element's text as this language's: lang and dir. */
  get attributes() {
    return { lang: this.lang, dir: this.dir };
  }
}

/** Read (once) the texts of a locale from `urls` (locale -> URL); throws if it has none. */
export function loadTexts(urls, locale) {
  if (!loaded.has(locale)) {
    const reading = Promise.all([readFile(urls, locale), locale === SOURCE ? null : readFile(urls, SOURCE)])
      .then(([data, source]) => {
        const keys = (source || data).texts;
        if (source && (data.source !== source.source || data.texts.length !== keys.length)) {
          throw new Error(`texts-${locale}.json: not built with these English texts`);
        }
        return new Texts(data, keys);
      });
    reading.catch(() => loaded.delete(locale)); // read again next time: perhaps online then
    loaded.set(locale, reading);
  }
  return loaded.get(locale);
}

/** One language's file, checked for its shape. */
async function readFile(urls, locale) {
  if (!has(urls, locale)) throw new Error(`no texts for ${locale}`);
  const response = await fetch(urls[locale]);
  if (!response.ok) throw new Error(`texts-${locale}.json: ${response.status}`);
  const data = await response.json();
  const shaped = data.format === FORMAT && data.locale === locale && Array.isArray(data.texts)
    && data.texts.every((text) => typeof text === "string") && typeof data.source === "string";
  if (!shaped) throw new Error(`texts-${locale}.json: not format ${FORMAT} for ${locale}`);
  return data;
}

/**
 * The browser's names in a locale, or null where it has none for that locale:
 * then it would name things in another language (its own), which is worse
 * than not at all beside the officer's. Chromium knows no Tigrinya, for one.
 */
function displayNames(locale, type) {
  try {
    const tag = tagOf(locale);
    if (!Intl.DisplayNames.supportedLocalesOf([tag]).length) return null;
    return new Intl.DisplayNames([tag], { type, fallback: "none" });
  } catch {
    return null; // a browser without Intl.DisplayNames
  }
}

/** A language named in a language (by default in itself), or null if the browser cannot. */
export function languageName(code, inLocale = code) {
  const name = displayNames(inLocale, "language")?.of(tagOf(code));
  return name && name !== tagOf(code) ? name : null;
}

const regions = new Map();
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** Every two-letter region the browser names in a locale: Map code -> name. */
function regionNames(locale) {
  if (!regions.has(locale)) {
    const names = displayNames(locale, "region");
    const found = new Map();
    for (const a of LETTERS) {
      for (const b of LETTERS) {
        const name = names?.of(a + b);
        if (name && name !== a + b) found.set(a + b, name);
      }
    }
    regions.set(locale, found);
  }
  return regions.get(locale);
}

/** The officer's locale for names, or English where the browser has no names in it. */
function namingLocale(locale) {
  return displayNames(locale, "region") ? locale : "en";
}

/**
 * [code, label] of every country, named in the officer's language and sorted
 * so; when the person's language differs, their name follows ("Eritrea · ኤርትራ"),
 * so that the person can point at their own country (forms.choices_for).
 */
export function countryChoices(officer, respondent = officer) {
  const locale = namingLocale(officer);
  const mine = regionNames(locale);
  const theirs = respondent === officer ? new Map() : regionNames(respondent);
  return [...mine]
    .map(([code, name]) => {
      const other = theirs.get(code);
      return [code, other && other !== name ? `${name} · ${other}` : name];
    })
    .sort((x, y) => x[1].localeCompare(y[1], tagOf(locale)));
}

/** [code, label] of the languages a question of type "language" offers (forms._languages). */
export function languageChoices(officer, respondent = officer, shipped = []) {
  const locale = namingLocale(officer);
  const codes = new Set(shipped);
  for (const a of LETTERS.toLowerCase()) {
    for (const b of LETTERS.toLowerCase()) codes.add(a + b);
  }
  return [...codes]
    .map((code) => [code, languageName(code, locale), respondent === officer ? null : languageName(code, respondent)])
    .filter(([, name]) => name)
    .map(([code, name, other]) => [code, other && other !== name ? `${name} · ${other}` : name])
    .sort((x, y) => x[1].localeCompare(y[1], tagOf(locale)));
}
