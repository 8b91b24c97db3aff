"""Template helpers shared by every role's pages."""

from __future__ import annotations

from datetime import UTC, datetime

from babel.dates import format_skeleton, format_time
from flask import Flask, current_app
from flask_babel import get_locale, get_timezone, lazy_gettext

from intake.questionnaire import load_catalogue
from intake.questionnaire.messages import translate

ROLE_NAMES = {
    "officer": lazy_gettext("Officer"),
    "ngo": lazy_gettext("NGO worker"),
    "coordinator": lazy_gettext("Coordinator"),
    "admin": lazy_gettext("Administrator"),
}


def _readable(moment: datetime) -> str:
    """Format a moment in the page's locale, the month by name.

    Not the locale's numeric "short" form: for English that is the US
    month/day/year, which an officer elsewhere reads as day/month.
    """
    locale, zone = get_locale(), get_timezone()
    day = format_skeleton("yMMMd", moment, tzinfo=zone, locale=locale)
    hour = format_time(moment, "short", tzinfo=zone, locale=locale)
    return locale.datetime_formats["medium"].format(hour, day)


def format_datetime_utc(stamp: str) -> str:
    """Format a header timestamp (UTC, RFC 3339) in the page's locale and time zone.

    A time not in that form (a record's own field, from a device) is shown as
    it was written, never an error page.
    """
    try:
        moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return str(stamp)
    return _readable(moment)


def format_timestamp(seconds: float) -> str:
    """Format a Unix time in the page's locale."""
    return _readable(datetime.fromtimestamp(seconds, UTC))


def referral_label(option: str) -> str:
    """Return the translated label of a referral option."""
    from flask_babel import gettext

    return gettext(load_catalogue().referral_options.get(option, option))


def tr(message) -> str:
    """Translate an error or reason message into the page's language."""
    from flask_babel import gettext

    return translate(message, gettext)


def init_app(app: Flask) -> None:
    """Make the helpers available in every template."""
    app.jinja_env.globals.update(
        format_datetime_utc=format_datetime_utc,
        format_timestamp=format_timestamp,
        referral_label=referral_label,
        tr=tr,
        role_names=ROLE_NAMES,
    )

    @app.context_processor
    def idle():
        return {"idle_seconds": current_app.extensions["intake_keyring"].idle_seconds}
