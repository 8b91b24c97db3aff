"""Issue 11: the offline interview's texts, in every shipped language, from its catalog.

The browser screens offline with build/texts-<lang>.json (intake.i18n.browser),
one file per supported language (English and every language with a compiled
catalog). Each must hold every text the definition (questionnaires.json) can
show, translated exactly as the node's pages translate it (Python's gettext
on the same catalog): never the English words where the catalog has the
language's. A text missing from a supported language's catalog fails the
build, and nothing is written.

What the definition shows is found here without intake.i18n.browser's own
walk: from the questionnaires' and the catalogue's Python objects (what the
extractor puts in the catalogs) and from every text-bearing field of the
exported JSON.
"""

from __future__ import annotations

import gettext
import hashlib
import json
import os
import shutil
import subprocess

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from intake.field.offline_page import INTERFACE
from intake.i18n import (
    DEFAULT_LOCALE,
    LANGUAGES,
    RTL_LOCALES,
    TRANSLATIONS,
    browser,
    supported_locales,
    text_direction,
)
from intake.i18n.extract import catalogue_texts
from intake.questionnaire import available_questionnaires, load_questionnaire
from intake.questionnaire.assessment import (
    INDICATOR_WITH_STRENGTH,
    REASONS,
    STRENGTH_WORDS,
    URGENT_FALLBACK,
)
from intake.questionnaire.catalogue import CATALOGUE_PATH
from intake.questionnaire.definition import definition

# The fields of questionnaires.json whose strings a page shows.
TEXT_FIELDS = {"title", "description", "intro", "help", "text", "action", "label"}
# A first question and a choice, picked by hand: the Arabic file must say them in Arabic.
PICKED = ("Are you, or is anyone in your family, in danger right now?", "Don't know")


def expected_texts() -> set[str]:
    """Every text the definition shows: what the extractor takes for the catalogs."""
    texts = set()
    for name in available_questionnaires():
        texts |= {text for text, _notes in load_questionnaire(name).text_notes()}
    texts |= set(catalogue_texts(CATALOGUE_PATH))
    texts |= {*REASONS.values(), *STRENGTH_WORDS.values(), INDICATOR_WITH_STRENGTH, URGENT_FALLBACK}
    return texts


def json_texts(value, key=None) -> set[str]:
    """Every string of a text field in the exported definition, and the reasons' templates."""
    if isinstance(value, dict):
        found = set()
        for name, item in value.items():
            if name == "messages":  # the reasons' templates and words, whatever their keys
                found |= set(strings(item))
            else:
                found |= json_texts(item, name)
        return found
    if isinstance(value, list):
        return set().union(*(json_texts(item, key) for item in value)) if value else set()
    return {value} if key in TEXT_FIELDS and isinstance(value, str) and value else set()


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)


class _Absent(gettext.NullTranslations):
    """Answers None where gettext would fall back to the English words."""

    def gettext(self, message):
        return None


def catalog_of(locale: str) -> gettext.NullTranslations:
    """The language's compiled catalog as the node reads it, telling what it lacks."""
    if locale == DEFAULT_LOCALE:
        return gettext.NullTranslations()
    translations = gettext.translation("messages", str(TRANSLATIONS), [locale])
    translations.add_fallback(_Absent())
    return translations


@pytest.fixture(scope="module")
def files():
    """Each supported language's file as the build makes it, and the texts it lacked."""
    return {locale: browser.texts_for(locale) for locale in supported_locales()}


@pytest.fixture(scope="module")
def keyed(files):
    """Each language's definition texts keyed by their English words (browser.by_text)."""
    source = files[DEFAULT_LOCALE][0]
    return {locale: browser.by_text(data, source) for locale, (data, _m) in files.items()}


def test_every_shipped_language_is_built(files):
    compiled = {p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.mo")}
    assert set(files) == {DEFAULT_LOCALE} | (compiled & set(LANGUAGES))
    assert browser.compiled_locales() == supported_locales()


def test_the_build_finds_every_text_of_the_definition():
    found = set(browser.definition_texts())
    assert found == expected_texts()
    assert found == json_texts(definition())


def test_every_file_holds_every_text_of_the_definition_translated(keyed):
    wanted = expected_texts() | json_texts(definition())
    problems = {}
    for locale, texts in keyed.items():
        translations = catalog_of(locale)
        assert set(texts) == wanted, locale
        wrong = []
        for text in sorted(wanted):
            translated = translations.gettext(text)
            if translated is None:
                wrong.append(f"not in the catalog: {text!r}")
            elif texts[text] != translated:
                wrong.append(f"{text!r}: {texts[text]!r}, the catalog says {translated!r}")
        if wrong:
            problems[locale] = wrong[:5] + [f"{len(wrong)} in all"]
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)


def test_no_english_where_the_catalog_has_the_language(keyed):
    """Most texts differ from English in every language: a file that kept English would not."""
    for locale, texts in keyed.items():
        if locale == DEFAULT_LOCALE:
            continue
        same = [text for text, said in texts.items() if said == text]
        assert len(same) < len(texts) / 10, (locale, same[:10])
        question, choice = (texts[text] for text in PICKED)
        assert question != PICKED[0] and choice != PICKED[1], locale


def test_every_file_holds_the_offline_apps_own_texts_translated(files):
    """The interface strings too: a missing one fails the build (listed here)."""
    missing = {locale: lacked for locale, (_data, lacked) in files.items() if lacked}
    assert not missing, str(browser.MissingTranslationError(missing))
    for locale, (data, _missing) in files.items():
        translations = catalog_of(locale)
        assert data["interface"] == {
            name: translations.gettext(text) for name, text in INTERFACE.items()
        }, locale


def test_each_file_says_its_language_and_direction(files):
    for locale, (data, _missing) in files.items():
        assert data["format"] == browser.FORMAT
        assert (data["locale"], data["lang"]) == (locale, locale.replace("_", "-"))
        assert data["dir"] == text_direction(locale)
    assert {locale for locale, (data, _m) in files.items() if data["dir"] == "rtl"} == (
        RTL_LOCALES & set(files)
    )
    assert files["ar"][0]["dir"] == "rtl" and files["ro"][0]["dir"] == "ltr"


def test_the_built_files_are_the_ones_served(files):
    """What `make js` left in static/build/ is what the catalogs give now (when it ran)."""
    built = TRANSLATIONS.parent / "static" / "build"
    found = sorted(built.glob(f"{browser.PREFIX}*.json"))
    if not found and os.environ.get("CI") != "true":
        pytest.skip("make js has not built the texts here")
    assert [p.name for p in found] == sorted(browser.file_name(code) for code in files)
    for locale, (data, missing) in files.items():
        assert not missing, f"{locale}: the build would have failed"
        assert (built / browser.file_name(locale)).read_text("utf-8") == browser.to_json(data)


# -- The build itself, on catalogs made for the test ---------------------------------


def make_catalogs(folder, locales=("ar", "ro"), leave_out=()):
    """Compile catalogs that translate every text the build needs, but `leave_out`."""
    texts = [*browser.definition_texts(), *INTERFACE.values()]
    for locale in locales:
        catalog = Catalog(locale=locale)
        for text in texts:
            if text not in leave_out:
                catalog.add(text, f"[{locale}] {text}")
        target = folder / locale / "LC_MESSAGES" / "messages.mo"
        target.parent.mkdir(parents=True)
        with open(target, "wb") as f:
            write_mo(f, catalog)


def test_the_build_writes_one_file_per_language(tmp_path):
    make_catalogs(tmp_path / "catalogs")
    out = tmp_path / "out"
    paths = browser.write(out, tmp_path / "catalogs")
    assert [p.name for p in paths] == ["texts-en.json", "texts-ar.json", "texts-ro.json"]
    arabic = json.loads((out / "texts-ar.json").read_text("utf-8"))
    english = json.loads((out / "texts-en.json").read_text("utf-8"))
    assert browser.by_text(arabic, english)[PICKED[0]] == f"[ar] {PICKED[0]}"
    assert arabic["interface"]["next"] == "[ar] Next" and arabic["dir"] == "rtl"
    # The English list is the keys: the definition's texts, once each, in its order.
    assert english["texts"] == browser.definition_texts()
    assert arabic["texts"] == [f"[ar] {text}" for text in english["texts"]]
    # Tied by a digest written by hand here: SHA-256 of the list as compact JSON.
    listed = json.dumps(english["texts"], ensure_ascii=False, separators=(",", ":")) + "\n"
    assert arabic["source"] == english["source"] == hashlib.sha256(listed.encode()).hexdigest()


def test_a_language_built_beside_other_english_texts_is_refused(tmp_path):
    make_catalogs(tmp_path / "catalogs")
    out = tmp_path / "out"
    browser.write(out, tmp_path / "catalogs")
    arabic = json.loads((out / "texts-ar.json").read_text("utf-8"))
    english = json.loads((out / "texts-en.json").read_text("utf-8"))
    moved = {**english, "texts": english["texts"][1:] + english["texts"][:1]}
    moved["source"] = browser.source_digest(moved["texts"])
    with pytest.raises(ValueError, match="not built with these English texts"):
        browser.by_text(arabic, moved)


def test_a_text_missing_from_a_catalog_fails_the_build_and_writes_nothing(tmp_path):
    make_catalogs(tmp_path / "catalogs", leave_out={PICKED[0], INTERFACE["unlock"]})
    with pytest.raises(browser.MissingTranslationError) as refused:
        browser.write(tmp_path / "out", tmp_path / "catalogs")
    assert refused.value.missing == {
        "ar": [INTERFACE["unlock"], PICKED[0]],
        "ro": [INTERFACE["unlock"], PICKED[0]],
    }
    assert PICKED[0] in str(refused.value) and "ar, ro" in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_a_catalog_changed_since_it_was_compiled_fails_the_build(tmp_path):
    make_catalogs(tmp_path / "catalogs", locales=("ro",))
    mo = tmp_path / "catalogs" / "ro" / "LC_MESSAGES" / "messages.mo"
    po = mo.with_suffix(".po")
    po.write_text("# edited after compiling\n", "utf-8")
    os.utime(po, ns=(mo.stat().st_mtime_ns + 10**9,) * 2)
    with pytest.raises(browser.MissingTranslationError, match="changed since it was compiled"):
        browser.write(tmp_path / "out", tmp_path / "catalogs")


def test_the_texts_of_a_language_no_longer_supported_are_removed(tmp_path):
    make_catalogs(tmp_path / "catalogs")
    out = tmp_path / "out"
    browser.write(out, tmp_path / "catalogs")
    kept = (out / "texts-ro.json").stat().st_mtime_ns
    shutil.rmtree(tmp_path / "catalogs" / "ar")
    (out / "questionnaires.json").write_text("{}\n", "utf-8")  # not the build's: left alone
    browser.write(out, tmp_path / "catalogs")
    assert sorted(p.name for p in out.iterdir()) == [
        "questionnaires.json",
        "texts-en.json",
        "texts-ro.json",
    ]
    assert (out / "texts-ro.json").stat().st_mtime_ns == kept  # the same bytes: not rewritten


def test_the_command_line(tmp_path, capsys):
    catalogs = tmp_path / "catalogs"
    make_catalogs(catalogs, leave_out={PICKED[1]})
    assert browser.main([], catalogs) == 2
    assert browser.main([str(tmp_path / "out")], catalogs) == 1
    assert repr(PICKED[1]) in capsys.readouterr().err
    shutil.rmtree(catalogs)
    make_catalogs(catalogs)
    assert browser.main([str(tmp_path / "out")], catalogs) == 0
    assert "3 text files" in capsys.readouterr().out


# -- The browser's reader (intake/static/src/texts.js), in node ----------------------

TEXTS_READER = r"""
import { readFileSync } from "node:fs";
import { loadTexts } from "./texts.js";

const files = JSON.parse(readFileSync(process.argv[2], "utf8"));
globalThis.fetch = async (url) => ({ ok: true, status: 200, json: async () => files[url] });
const urls = Object.fromEntries(Object.keys(files).map((url) => [url.split(".")[0], url]));
const out = {};
for (const [locale, text] of JSON.parse(process.argv[3])) {
  try {
    out[locale] = (await loadTexts(urls, locale)).gettext(text);
  } catch (e) {
    out[locale] = `refused: ${e.message}`;
  }
}
console.log(JSON.stringify(out));
"""


def test_the_browser_pairs_each_language_with_the_english_it_was_built_beside(tmp_path):
    from tests.test_js_assessment import _node

    node = _node()
    make_catalogs(tmp_path / "catalogs")
    out = tmp_path / "out"
    browser.write(out, tmp_path / "catalogs")
    read = {p.stem.removeprefix("texts-"): json.loads(p.read_text("utf-8")) for p in out.iterdir()}
    stale = {**read["ro"], "source": browser.source_digest(["another", "build"])}
    short = {**read["ar"], "locale": "fa", "texts": read["ar"]["texts"][:-1]}
    files = {"en.json": read["en"], "ar.json": read["ar"], "ro.json": stale, "fa.json": short}
    (tmp_path / "files.json").write_text(json.dumps(files), "utf-8")
    shutil.copy(TRANSLATIONS.parent / "static" / "src" / "texts.js", tmp_path / "texts.js")
    (tmp_path / "reader.mjs").write_text(TEXTS_READER, "utf-8")
    asked = [[locale, PICKED[0]] for locale in ("en", "ar", "ro", "fa")]
    done = subprocess.run(
        [node, "reader.mjs", "files.json", json.dumps(asked)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert said["en"] == PICKED[0]
    assert said["ar"] == f"[ar] {PICKED[0]}"
    assert said["ro"] == "refused: texts-ro.json: not built with these English texts"
    assert said["fa"] == "refused: texts-fa.json: not built with these English texts"
