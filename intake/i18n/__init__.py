"""Languages: locale negotiation in one place.

Catalogs live under intake/translations/; every user-facing string goes
through gettext so that a new language is a catalog, not a code change.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from flask import Flask, g, request, session
from flask_babel import Babel

babel = Babel()

DEFAULT_LOCALE = "en"
TRANSLATIONS = Path(__file__).parent.parent / "translations"
REVIEW_FILE = TRANSLATIONS / "review.toml"
# The languages Intake ships, English first: the languages of people met at
# Europe's borders and in its shelters, and of the officers who meet them.
LANGUAGES = (
    "en", "ar", "fa", "ps", "ur", "ti", "am", "so", "sw", "ha", "fr", "es", "pt", "ro", "bg",
    "hu", "sq", "uk", "ru", "zh_Hans", "vi", "th", "km", "my", "fil", "id", "bn", "hi", "ne", "tr",
)  # fmt: skip
# Right-to-left scripts among them.
RTL_LOCALES = {"ar", "fa", "ps", "ur", "he"}


@functools.cache
def supported_locales() -> list[str]:
    """Return the shipped languages that have a compiled catalog, English first."""
    compiled = {p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.mo")}
    return [code for code in LANGUAGES if code == DEFAULT_LOCALE or code in compiled]


@functools.cache
def review_states() -> dict[str, dict]:
    """Return each language's review state from translations/review.toml."""
    try:
        return tomllib.loads(REVIEW_FILE.read_text("utf-8"))["languages"]
    except FileNotFoundError:
        return {}


def is_reviewed(locale: str) -> bool:
    """Tell whether a native speaker has reviewed this language's catalog."""
    return locale == DEFAULT_LOCALE or review_states().get(locale, {}).get("state") == "reviewed"


@functools.cache
def language_names() -> list[tuple[str, str]]:
    """Return (code, name in its own script) for every supported language."""
    from babel import Locale

    return [(code, Locale.parse(code).get_display_name(code)) for code in supported_locales()]


def select_locale() -> str:
    """Choose the officer's interface language for this request.

    In order: an explicit choice (`?lang=` from the language picker, then
    remembered in the session), the session's earlier choice, the browser's
    Accept-Language, English. Only shipped languages with a compiled catalog
    are ever chosen. The respondent's language is separate: it belongs to the
    interview (see `in_respondent`), not to the officer's session.
    """
    supported = supported_locales()
    chosen = request.args.get("lang")
    if chosen in supported:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in supported:
        return session["lang"]
    return request.accept_languages.best_match(supported) or DEFAULT_LOCALE


def interview_languages() -> list[tuple[str, str]]:
    """Return the languages an interview can be held in, each named in its own script."""
    return language_names()


def text_direction(locale: str) -> str:
    """Return 'rtl' for right-to-left languages, else 'ltr'."""
    return "rtl" if locale.split("_")[0] in RTL_LOCALES else "ltr"


def in_officer(text: str) -> str:
    """Translate questionnaire text into the officer's language, as plain text.

    Jinja's `_()` marks a translation as safe HTML; questionnaire text comes
    from data files and catalogs, so it goes through this and is escaped.
    """
    from flask_babel import gettext

    return str(gettext(text))


def in_respondent(text: str) -> str:
    """Translate questionnaire text into the respondent's language of this interview."""
    from flask_babel import force_locale, get_locale, gettext

    language = g.get("respondent_language")
    if not language or language == str(get_locale()):
        return gettext(text)
    with force_locale(language):
        return gettext(text)


def init_i18n(app: Flask) -> None:
    """Bind Flask-Babel and expose the page and respondent languages to templates."""
    from flask_babel import get_locale

    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["in_respondent"] = in_respondent
    app.jinja_env.globals["tq"] = in_officer

    @app.context_processor
    def page_language():
        locale = str(get_locale() or DEFAULT_LOCALE)
        respondent = g.get("respondent_language") or locale
        unreviewed = [code for code in dict.fromkeys((locale, respondent)) if not is_reviewed(code)]
        # The notice about an unchecked translation opens once per language
        # and session, then stays folded: on a phone it took a third of the screen.
        seen = session.get("notice_seen", [])
        notice_seen = all(code in seen for code in unreviewed)
        if unreviewed and not notice_seen:
            session["notice_seen"] = sorted({*seen, *unreviewed})
        return {
            "notice_seen": notice_seen,
            "languages": language_names(),
            "page_locale": locale,
            "unreviewed": unreviewed,
            "page_lang": locale.replace("_", "-"),
            "page_dir": text_direction(locale),
            "resp_lang": respondent.replace("_", "-"),
            "resp_dir": text_direction(respondent),
            "show_officer": respondent != locale,
        }
