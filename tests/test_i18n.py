"""Every screen in every shipped language: catalogs complete, current, and really used."""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po, write_po

from intake import create_app
from intake.i18n import LANGUAGES, RTL_LOCALES, supported_locales, text_direction
from intake.i18n import catalogs as translate
from tests.conftest import run_intake
from tests.screening import add_user, fill_section, sign_in

OTHER_LANGUAGES = [code for code in LANGUAGES if code != "en"]


def test_thirty_languages_are_shipped():
    assert len(LANGUAGES) == 30 and LANGUAGES[0] == "en"
    assert {"ar", "ti", "ro", "fa", "ps", "ur", "am", "zh_Hans", "my", "km"} <= set(LANGUAGES)


def test_translate_check_passes_for_every_language():
    result = run_intake("translate", "check")
    out = result.stdout.decode()
    assert result.returncode == 0, out
    for code in OTHER_LANGUAGES:
        line = next(line for line in out.splitlines() if line.startswith(f"{code} "))
        assert "100.0% translated" in line and " 0 fuzzy" in line and "placeholders intact" in line


def test_the_template_is_current():
    """Re-extracting changes nothing: no string in the code is missing from the catalogs."""
    assert translate.template_is_current()


@pytest.fixture
def broken_catalogs(tmp_path):
    folder = tmp_path / "translations"
    shutil.copytree(translate.TRANSLATIONS, folder)
    with open(translate.TEMPLATE, "rb") as f:
        template_ids = translate._messages(read_po(f))
    return folder, template_ids


def _edit(folder, locale, change):
    path = translate.po_path(locale, folder)
    with open(path, "rb") as f:
        catalog = read_po(f, locale=locale)
    change(catalog)
    with open(path, "wb") as f:
        write_po(f, catalog)


def _first(catalog, predicate):
    return next(m for m in catalog if m.id and predicate(m))


def test_check_refuses_an_untranslated_message(broken_catalogs):
    folder, ids = broken_catalogs
    assert translate.check("fr", ids, folder).ok

    def blank(catalog):
        _first(catalog, lambda m: isinstance(m.id, str)).string = ""

    _edit(folder, "fr", blank)
    report = translate.check("fr", ids, folder)
    assert not report.ok and report.translated == report.total - 1


def test_check_refuses_a_fuzzy_message(broken_catalogs):
    folder, ids = broken_catalogs
    _edit(folder, "ro", lambda c: _first(c, lambda m: True).flags.add("fuzzy"))
    report = translate.check("ro", ids, folder)
    assert not report.ok and report.fuzzy == 1


def test_check_refuses_a_lost_placeholder(broken_catalogs):
    folder, ids = broken_catalogs

    def lose(catalog):
        message = _first(catalog, lambda m: isinstance(m.id, str) and "%(max)s" in m.id)
        message.string = "no placeholder here"

    _edit(folder, "ti", lose)
    report = translate.check("ti", ids, folder)
    assert not report.ok and report.problems


def test_check_refuses_a_missing_catalog(broken_catalogs):
    folder, ids = broken_catalogs
    shutil.rmtree(folder / "am")
    assert translate.check("am", ids, folder).problems == ["no catalog"]


def test_an_incomplete_catalog_is_never_offered(broken_catalogs):
    """A half-translated language is not compiled (an old .mo goes), so no screen shows it."""
    folder, _ids = broken_catalogs
    mo = translate.po_path("sw", folder).with_suffix(".mo")
    mo.write_bytes(b"an old compiled catalog")
    os.utime(mo, (1, 1))  # older than the catalog edited below
    _edit(folder, "sw", lambda c: setattr(_first(c, lambda m: isinstance(m.id, str)), "string", ""))
    assert translate.compile_catalog("sw", folder) is None
    assert not mo.exists()
    _edit(folder, "sw", lambda c: None)  # unchanged, complete catalogs still compile
    assert translate.compile_catalog("fr", folder) is not None


def test_right_to_left_languages():
    for code in LANGUAGES:
        assert text_direction(code) == ("rtl" if code in RTL_LOCALES else "ltr")
    assert {"ar", "fa", "ps", "ur"} <= RTL_LOCALES


# -- every screen, every language, no English left ------------------------


class _Text(HTMLParser):
    """Collect the text a person sees: text nodes outside script and style."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style", "code")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style", "code") and self._skip > 0

    def handle_data(self, data):
        text = " ".join(data.split())
        if text and not self._skip:
            self.texts.append(text)


def visible_texts(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.texts


def _pattern(msgid: str) -> re.Pattern:
    """A pattern matching the English message with its placeholders filled in."""
    parts = re.split(r"%\(\w+\)[sd]", " ".join(msgid.split()))
    return re.compile(".+?".join(re.escape(p) for p in parts))


@pytest.fixture(scope="module")
def english_leftovers():
    """Per language: patterns of English messages whose translation differs."""
    found = {}
    for code in OTHER_LANGUAGES:
        patterns = []
        if translate.po_path(code).exists():
            for message in translate.read_catalog(code):
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                for msgid in ids:
                    words = re.sub(r"%\(\w+\)[sd]", "", msgid)
                    # Only messages with words of their own: "%(id)s (%(strength)s)" would
                    # match any text in brackets, such as a language's own name.
                    if msgid not in strings and sum(c.isalpha() for c in words) >= 3:
                        patterns.append((msgid, _pattern(msgid)))
        found[code] = patterns
    return found


def _screens(client, code):
    """Yield (name, html) of every screen of a full screening held in one language."""
    yield "home", client.get("/").get_data(as_text=True)
    from intake.questionnaire import load_questionnaire

    questionnaire = load_questionnaire("screening-full")
    response = client.post(
        "/screening/start",
        data={"questionnaire": "screening-full", "respondent_language": code},
    )
    location, answers = response.headers["Location"], {}
    while "/review" not in location:
        page = client.get(location).get_data(as_text=True)
        yield location.rsplit("/", 1)[1], page
        section = location.rsplit("/", 1)[1]
        client.post(location, data={"action": "next"})
        errors = client.get(location).get_data(as_text=True)
        if "has-error" in errors:  # only screens with required questions have errors
            yield f"{section} with errors", errors
        form = fill_section(
            questionnaire, section, answers, {"under_18": "no", "dr1": "yes"}, "x", False
        )
        answers.update({k: v for k, v in form.items() if k != "_shown"})
        location = client.post(location, data={**form, "action": "next"}).headers["Location"]
    yield "review", client.get(location).get_data(as_text=True)
    draft = location.split("/")[-2]
    yield "finished", client.post(f"/screening/{draft}/finish").get_data(as_text=True)


@pytest.mark.parametrize("code", OTHER_LANGUAGES)
def test_every_screen_renders_with_no_english_left(code, field_instance, english_leftovers):
    assert code in supported_locales(), f"{code} has no complete compiled catalog"
    add_user(field_instance, "amina", "officer")
    app = create_app(
        {"INSTANCE_PATH": str(field_instance.path), "TESTING": True, "WTF_CSRF_ENABLED": False}
    )
    client = app.test_client()
    signin = client.get(f"/signin?lang={code}").get_data(as_text=True)
    html_lang = code.replace("_", "-")
    assert f'<html lang="{html_lang}" dir="{text_direction(code)}">' in signin
    sign_in(client, "amina")
    client.get(f"/?lang={code}")  # signing in starts a new session: choose again
    screens = [("signin", signin), *_screens(client, code)]
    assert len(screens) >= 15
    leftovers = []
    for name, html in screens:
        assert f'<html lang="{html_lang}"' in html, name
        for text in visible_texts(html):
            for _msgid, pattern in english_leftovers[code]:
                if pattern.fullmatch(text):
                    leftovers.append(f"{name}: {text!r}")
    assert not leftovers, "\n".join(leftovers[:20])
