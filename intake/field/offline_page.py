"""The offline interview: the page the browser app (static/src/offline.js) renders into.

Registers its view on the field blueprint (see intake.field.views), as
intake.field.handover does.

The page is the same for everyone and holds nothing of anyone's, so that the
service worker may keep it (without cookies) and show it while the field node
cannot be reached: the officer, the device, the recipients' keys and the
questionnaires come from GET /offline/config, and what the officer types is
kept only in the browser's IndexedDB, encrypted under a key derived from
their password, or sealed to the coordinators. The one exception is the CSRF
token, written only for a signed-in officer (and then the page is never
stored); the page kept by the worker has none, and the app reads a fresh one
from the node before it sends.
"""

from __future__ import annotations

from flask import g, make_response, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from intake.field.views import bp

# PBKDF2-SHA256 iterations for the offline draft key: OWASP's 2023 floor.
# WebCrypto offers no memory-hard derivation; a tablet takes about a second.
DRAFT_KEY_ITERATIONS = 600_000


@bp.get("/offline/app")
def offline_app():
    """Serve the shell of the offline interview; the script does the rest."""
    settings = {
        "iterations": DRAFT_KEY_ITERATIONS,
        "locale": str(get_locale() or "en"),
        "config": _path("offline/config"),
        "envelopes": _path("offline/envelopes"),
        "definition": url_for("static", filename="build/questionnaires.json"),
        "page": url_for("field.offline_app"),
        "signin": url_for("auth.signin"),
    }
    response = make_response(
        render_template("field/offline_app.html", settings=settings, texts=texts())
    )
    if g.get("user"):
        response.headers["Cache-Control"] = "no-store"  # it carries this session's CSRF token
    return response


def _path(path: str) -> str:
    """A path of the node's offline API (intake.field.offline), under the app's root."""
    return url_for("field.home") + path


def texts() -> dict[str, str]:
    """Every text the offline app shows, translated here so that the catalogs hold them."""
    return {
        "loading": _("Opening the offline interview…"),
        "unlock_title": _("Unlock the offline interview"),
        "unlock_intro": _(
            "Type your password. It opens the interviews kept on this tablet, encrypted;"
            " it is never stored."
        ),
        "password": _("Password"),
        "unlock": _("Unlock"),
        "wrong_password": _("This password does not open the interviews kept on this tablet."),
        "need_signin": _(
            "Sign in to the field node once, while it can be reached, before working offline."
        ),
        "signin": _("Sign in"),
        "no_webcrypto": _(
            "This browser cannot encrypt here: open the app over https:// or on localhost."
        ),
        "start_title": _("Start a screening"),
        "form": _("Form"),
        "respondent_language": _("The person's language"),
        "start": _("Start"),
        "drafts_title": _("Interviews in progress"),
        "resume": _("Resume"),
        "next": _("Next"),
        "back": _("Back"),
        "review_title": _("Review"),
        "finish": _("Finish and seal"),
        "finished_title": _("Screening sealed"),
        "finished_intro": _(
            "The record is sealed to the coordinators: it cannot be read on this tablet."
            " It is sent when the field node can be reached."
        ),
        "reference": _("Reference"),
        "another": _("Start another screening"),
        "outcome": _("Outcome"),
        "reasons": _("Reasons"),
        "outcome_no_indicators": _("No indicators recorded"),
        "outcome_consider_referral": _("Consider a referral"),
        "outcome_refer_now": _("Refer now"),
        "step": _("Step %(step)s"),
        # Plural forms are chosen in the script by Intl.PluralRules; "one" and "other" here.
        "queue_one": _("%(count)s record waits to be sent."),
        "queue_other": _("%(count)s records wait to be sent."),
        "queue_none": _("No record waits to be sent."),
        "send_now": _("Send now"),
        "sent": _("Sent to the field node."),
        "offline": _("The field node cannot be reached: the records stay queued on this tablet."),
        "refused": _(
            "The field node refused record %(reference)s (%(status)s). It stays queued:"
            " tell your supervisor."
        ),
        "signin_again": _(
            "Sign in to the field node again to send the queued records; they stay queued."
        ),
        "not_persistent": _(
            "This browser may delete the queued records when space runs low. Install the app"
            " or allow storage, and send the records as soon as the node can be reached."
        ),
        "required": _("Please answer this question."),
        "choice": _("Choose one of the answers shown."),
        "integer": _("Enter a whole number."),
        "number": _("Enter a number."),
        "date": _("Enter a date as year-month-day, for example 2024-03-31."),
        "too_long": _("Shorten this answer to at most %(max)s characters."),
        "one_line": _("Write this answer on one line."),
        "too_small": _("Enter a number of at least %(min)s."),
        "too_large": _("Enter a number of at most %(max)s."),
        "choose_country": _("Choose a country"),
        "error": _("Something went wrong: %(message)s"),
    }
