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

Its texts are not in the page: the app reads them, in the officer's language
(the page's) and in the person's, from static/build/texts-<lang>.json, which
the build writes from each language's compiled catalog (intake.i18n.browser):
the questionnaire's texts and INTERFACE below.
"""

from __future__ import annotations

from flask import current_app, g, make_response, render_template, request, url_for
from flask_babel import force_locale, get_locale

from intake.field.pwa import shell
from intake.field.views import bp
from intake.i18n import DEFAULT_LOCALE, supported_locales
from intake.i18n.browser import file_name
from intake.questionnaire.answers import MESSAGES
from intake.questionnaire.messages import N_

# PBKDF2-SHA256 iterations for the offline draft key: OWASP's 2023 floor.
# WebCrypto offers no memory-hard derivation; a tablet takes about a second.
DRAFT_KEY_ITERATIONS = 600_000

# Every text of the offline app's own, by the name offline.js gives it. Marked
# here for the catalogs, translated by the build into each language's texts
# file. Where the node's pages say the same thing, the same words: one
# translation, and the officer meets the same words online and offline.
INTERFACE = {
    "unlock_title": N_("Unlock the offline interview"),
    "unlock_intro": N_(
        "Type your password. It opens the interviews kept on this tablet, encrypted;"
        " it is never stored."
    ),
    "name": N_("Name"),
    "password": N_("Password"),
    "unlock": N_("Unlock"),
    "wrong_password": N_("This password does not open the interviews kept on this tablet."),
    "need_signin": N_(
        "Sign in to the field node once, while it can be reached, before working offline."
    ),
    "signin": N_("Sign in"),
    "no_webcrypto": N_(
        "This browser cannot encrypt here: open the app over https:// or on localhost."
    ),
    "start_title": N_("Start a screening"),
    "form": N_("Form"),
    "respondent_language": N_("The person's language"),
    "start": N_("Start"),
    "drafts_title": N_("Interviews in progress"),
    "resume": N_("Resume"),
    "next": N_("Next"),
    "back": N_("Back"),
    "required_mark": N_("(required)"),
    "you_record": N_("You record"),
    "urgent": N_("Urgent: act on the safety answers before going on."),
    "review_title": N_("Review and finish"),
    "finish": N_("Finish and seal"),
    "finished_title": N_("Screening sealed"),
    "finished_intro": N_(
        "The record is sealed to the coordinators: it cannot be read on this tablet."
        " It is sent when the field node can be reached."
    ),
    "reference": N_("Reference"),
    "another": N_("Start a screening"),
    "outcome": N_("Outcome"),
    "reasons": N_("Why"),
    "referral_options": N_("Referral options to offer"),
    "outcome_no_indicators": N_("No indicators recorded"),
    "outcome_consider_referral": N_("Consider referral"),
    "outcome_refer_now": N_("Refer now"),
    "step": N_("Step %(step)d"),
    # Plural forms are chosen in the script by Intl.PluralRules; "one" and "other" here.
    "queue_one": N_("%(count)s record waits to be sent."),
    "queue_other": N_("%(count)s records wait to be sent."),
    "queue_none": N_("No record waits to be sent."),
    "offline": N_("The field node cannot be reached: the records stay queued on this tablet."),
    "refused": N_(
        "The field node refused record %(reference)s (%(status)s). It stays queued:"
        " tell your supervisor."
    ),
    "signin_again": N_(
        "Sign in to the field node again to send the queued records; they stay queued."
    ),
    "not_persistent": N_(
        "This browser may delete the queued records when space runs low. Install the app"
        " or allow storage, and send the records as soon as the node can be reached."
    ),
    # The answers' messages: the node's own, so the page refuses in the same words.
    **MESSAGES,
    "choose": N_("Choose…"),
    # The forms as the start page names them (templates/field/home.html).
    "form_screening-short": N_("Short form (about 15 minutes)"),
    "form_screening-full": N_("Full form (about 40 minutes)"),
    "error": N_("Something went wrong"),
    # Locking and deleting, in the node's words (templates/base.html, section.html, discard.html).
    "lock": N_("Lock"),
    "pause": N_("Pause and lock"),
    "delete": N_("Delete…"),
    "delete_title": N_("Delete this interview?"),
    "delete_intro": N_(
        "Its answers are deleted for good: nobody can get them back, and nothing goes to"
        " the referral point."
    ),
    "delete_confirm": N_("Delete the interview"),
    "keep": N_("Keep it"),
}


@bp.get("/offline/app")
def offline_app():
    """Serve the shell of the offline interview; the script does the rest.

    In the language `?locale=` names (the service worker keeps one copy per
    language), else the officer's.
    """
    locale = _page_locale()
    with force_locale(locale):
        settings = {
            "iterations": DRAFT_KEY_ITERATIONS,
            "locale": locale,
            "config": _path("offline/config"),
            "envelopes": _path("offline/envelopes"),
            "definition": url_for("static", filename="build/questionnaires.json"),
            "texts": texts_urls(),
            "page": url_for("field.offline_app"),
            "lock": url_for("auth.lock"),
            "password": _path("offline/password"),
            # The node's idle time: the app locks itself after it, as the node's screens do.
            "idle_seconds": current_app.extensions["intake_keyring"].idle_seconds,
            # Back to this page once signed in: it is where the queue is sent from.
            "signin": url_for("auth.signin", next=url_for("field.offline_app")),
        }
        # The app locks itself (offline.js): not the node's lock.js, whose
        # idle lock would leave for the node's sign-in page, offline or not.
        page = render_template("field/offline_app.html", settings=settings, own_lock=True)
        response = make_response(page)
    if g.get("user"):
        response.headers["Cache-Control"] = "no-store"  # it carries this session's CSRF token
    return response


def _page_locale() -> str:
    """The language `?locale=` names (as intake.field.pwa's pages), else the request's."""
    asked = request.args.get("locale")
    return asked if asked in supported_locales() else str(get_locale() or DEFAULT_LOCALE)


def _path(path: str) -> str:
    """A path of the node's offline API (intake.field.offline), under the app's root."""
    return url_for("field.home") + path


def texts_urls() -> dict[str, str]:
    """The URL of each supported language's texts, naming this release.

    Always the release's URL, the one the service worker keeps: the person's
    language is read only when an interview starts, perhaps offline, in a
    page that was opened online.
    """
    version = shell().version
    return {
        code: url_for("static", filename=f"build/{file_name(code)}", v=version)
        for code in supported_locales()
    }
