"""Languages: locale negotiation in one place.

Catalogs live under intake/translations/; every user-facing string goes
through gettext so that a new language is a catalog, not a code change.
"""

from __future__ import annotations

from flask import Flask, g, request, session
from flask_babel import Babel

babel = Babel()

DEFAULT_LOCALE = "en"
# Right-to-left scripts among the languages Intake is used in.
RTL_LOCALES = {"ar", "fa", "ps", "ur", "he"}


def supported_locales() -> list[str]:
    """Return the interface languages that have a catalog, English first."""
    from pathlib import Path

    folder = Path(__file__).parent / "translations"
    found = sorted(p.name for p in folder.glob("*") if (p / "LC_MESSAGES").is_dir())
    return [DEFAULT_LOCALE, *[code for code in found if code != DEFAULT_LOCALE]]


def select_locale() -> str:
    """Choose the interface language: explicit choice, then session, then browser, then default."""
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
    from babel import Locale

    return [(code, Locale.parse(code).get_display_name(code)) for code in supported_locales()]


def text_direction(locale: str) -> str:
    """Return 'rtl' for right-to-left languages, else 'ltr'."""
    return "rtl" if locale.split("_")[0] in RTL_LOCALES else "ltr"


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

    @app.context_processor
    def page_language():
        locale = str(get_locale() or DEFAULT_LOCALE)
        respondent = g.get("respondent_language") or locale
        return {
            "page_lang": locale.replace("_", "-"),
            "page_dir": text_direction(locale),
            "resp_lang": respondent.replace("_", "-"),
            "resp_dir": text_direction(respondent),
            "show_officer": respondent != locale,
        }
