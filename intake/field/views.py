"""Field device pages: the home screen per role, and the screening interview."""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from intake import auth, crypto, db
from intake.accounts import ROLES
from intake.field import interview, respondent
from intake.field.forms import choices_for, form_values_for
from intake.field.interview import OFFICER, RESPONDENT
from intake.i18n import interview_languages, language_names
from intake.questionnaire import available_questionnaires
from intake.questionnaire.answers import MESSAGES

bp = Blueprint("field", __name__)

SCREENERS = ("officer", "ngo")


def _instance():
    return current_app.extensions["intake_instance"]


def _draft_hours() -> int:
    return int(_instance().settings.get("draft_hours", interview.DEFAULT_DRAFT_HOURS))


def _device_status() -> dict:
    inst = _instance()
    database = auth.database()
    return {
        "device_id": inst.device_id(),
        "waiting": db.count_pending(database),
        "hub": db.get_sync_state(database, "hub_url"),
        "last_sync": db.get_sync_state(database, "last_sync"),
        "recipients": [
            {"key_id": crypto.key_id(k), "fingerprint": crypto.fingerprint(k)}
            for k in inst.recipient_keys()
        ],
    }


@bp.get("/")
@auth.requires_role(*ROLES)
def home():
    """Show each role its start screen."""
    if g.user.role in SCREENERS:
        database = auth.database()
        db.purge_expired_drafts(database, time.time())
        return render_template(
            "field/home.html",
            drafts=interview.summaries(database, g.user, time.time()),
            language_name=dict(language_names()),
            sealed=_sealed_today(),
            questionnaires=available_questionnaires(),
            languages=interview_languages(),
            status=_device_status(),
        )
    if g.user.role == "admin":
        return render_template(
            "field/admin.html", status=_device_status(), users=db.list_users(auth.database())
        )
    return render_template("field/coordinator.html")


@bp.post("/screening/start")
@auth.requires_role(*SCREENERS)
def start():
    """Open a new interview in the chosen questionnaire and languages."""
    name = request.form.get("questionnaire", "")
    languages = {code for code, _name in interview_languages()}
    respondent = request.form.get("respondent_language", "")
    if name not in available_questionnaires() or respondent not in languages:
        flash(_("Choose a form and the person's language."), "error")
        return redirect(url_for("field.home")), 303
    officer = str(get_locale() or "en")
    draft = interview.start(
        auth.database(),
        g.user,
        name,
        {"respondent": respondent, "officer": officer},
        _draft_hours(),
        _instance().settings,
    )
    first = draft.sections()[0].id
    return redirect(url_for("field.section", draft_id=draft.id, section_id=first), 303)


class _Gone(Exception):
    """The interview asked for is not open (any more) for this officer."""


@bp.errorhandler(_Gone)
def _gone(_error):
    # Back after "Finish and seal" (or a deleted, expired or other officer's
    # interview) lands here: home, with a notice, never the answers or an error.
    flash(_("That interview is no longer open: it was sealed, deleted or it expired."), "info")
    return redirect(url_for("field.home"), 303)


def load_draft(draft_id) -> interview.Draft:
    """Open this officer's draft for the request, or answer as if it did not exist."""
    try:
        draft = interview.load(auth.database(), g.user, str(draft_id), _instance().settings)
    except interview.DraftError:
        raise _Gone from None
    g.respondent_language = draft.data["languages"]["respondent"]
    return draft


def _render_section(draft, section, values, errors, status=200):
    if draft.mode == RESPONDENT:
        return _render_for_respondent(draft, section, values, errors, status)
    shown = section.visible_questions({**draft.answers, **values})
    urgent = draft.questionnaire.urgent_flags(draft.answers)
    # The urgent notice opens in full when it is new (raised on this screen,
    # or while the person held the tablet); afterwards it stays one line.
    new_urgent = urgent and urgent != draft.data.get("urgent_seen")
    if urgent != draft.data.get("urgent_seen"):
        draft.data["urgent_seen"] = urgent
        interview.save(auth.database(), g.user, draft)
    return render_template(
        "field/section.html",
        draft=draft,
        section=section,
        questions=shown,
        values=values,
        errors=errors,
        progress=draft.progress(section.id),
        added=_added(draft, shown),
        choices_for=choices_for,
        date_hint=MESSAGES["date"],
        urgent=urgent,
        new_urgent=new_urgent,
        child=draft.child_presumed(),
        # The officer's action under a question, once the saved answer calls for it.
        actions={q.id: q.action for q in shown if q.action_due(draft.answers.get(q.id))},
    ), status


def _render_for_respondent(draft, section, values, errors, status):
    """Render a screen for the person: their language only, their questions only."""
    shown = respondent.questions_for(section, {**draft.answers, **values})
    # The whole page in the person's language, buttons and messages included.
    with force_locale(draft.data["languages"]["respondent"]):
        return render_template(
            "field/respond.html",
            draft=draft,
            section=section,
            questions=shown,
            values=values,
            errors={k: v for k, v in errors.items() if k in {q.id for q in shown}},
            progress=draft.progress(section.id),
            added=_added(draft, shown),
            choices_for=choices_for,
            date_hint=MESSAGES["date"],
            read_sensitive=draft.data.get("read_sensitive", False),
            respondent_view=True,
        ), status


def _added(draft, shown) -> list:
    """Return the shown questions that the last Next opened on this screen (said once)."""
    added = draft.data.pop("added", None)
    if not added:
        return []
    interview.save(auth.database(), g.user, draft)
    return [q for q in shown if q.id in added]


@bp.route("/screening/<uuid:draft_id>/<section_id>", methods=["GET", "POST"])
@auth.requires_role(*SCREENERS)
def section(draft_id, section_id):
    """Show one screen of the interview, or record its answers and move on."""
    draft = load_draft(draft_id)
    try:
        current = draft.questionnaire.section(section_id)
    except KeyError:
        abort(404)
    if request.method == "GET":
        if draft.mode == RESPONDENT and not respondent.questions_for(current, draft.answers):
            return respondent_goes_on(draft, respondent.first_screen(draft, section_id))
        return _show_section(draft, current)
    action = request.form.get("action", "next")
    form = request.form
    if draft.mode == RESPONDENT:
        form = respondent.form_with_officer_answers(current, draft.answers, request.form)
    clean, errors = draft.questionnaire.validate_answers(section_id, form, draft.answers)
    if draft.mode == RESPONDENT:
        # The officer's own required questions are asked after take-back.
        officer = {q.id for q in current.questions if q.audience == "officer"}
        errors = {k: v for k, v in errors.items() if k not in officer}
    draft.record_section(section_id, clean)
    # A refused screen comes back through a redirect, its values kept in the
    # encrypted draft: the browser keeps the body of a POST it showed a page
    # for in its session history, on disk, beyond the interview.
    draft.data["refused"] = _refused(current, form) if errors and action == "next" else None
    if action == "next" and not errors:  # how far it got, for the list of drafts
        draft.data["reached"] = draft.neighbours(section_id)[1] or section_id
    interview.save(auth.database(), g.user, draft)
    return _after_post(draft, current, action, errors)


def _after_post(draft, current, action, errors):
    """Answer a screen's button: where the interview goes next."""
    here = url_for("field.section", draft_id=draft.id, section_id=current.id)
    if action == "pause" and draft.mode == OFFICER:
        return auth.lock_session()
    if action == "handover" and draft.mode == OFFICER:
        return redirect(url_for("field.hand_over", draft_id=draft.id, section=current.id), 303)
    if action == "giveback" and draft.mode == RESPONDENT:
        return redirect(url_for("field.take_back", draft_id=draft.id), 303)
    if action == "back":
        if draft.mode == RESPONDENT:
            target = respondent.previous_screen(draft, current.id)
        else:
            target = draft.neighbours(current.id)[0] or current.id
        return redirect(url_for("field.section", draft_id=draft.id, section_id=target), 303)
    if errors:
        return redirect(here, 303)
    revealed = _revealed(draft, current)
    if revealed:
        # An answer opened a follow-up on this screen: show it, say so, and
        # put the focus on it, before moving on.
        draft.data["added"] = revealed
        interview.save(auth.database(), g.user, draft)
        return redirect(here, 303)
    if draft.mode == RESPONDENT:
        return respondent_goes_on(draft, respondent.next_screen(draft, current.id))
    following = draft.neighbours(current.id)[1]
    if following:
        return redirect(url_for("field.section", draft_id=draft.id, section_id=following), 303)
    return redirect(url_for("field.review", draft_id=draft.id), 303)


def respondent_goes_on(draft, target):
    """Take the person to their next screen, or to the screen that asks for the tablet back.

    Saves the draft: finding the screen notes the officer's screens passed on the way.
    """
    if not target:
        draft.data["handed_back"] = True
    interview.save(auth.database(), g.user, draft)
    if target:
        return redirect(url_for("field.section", draft_id=draft.id, section_id=target), 303)
    return redirect(url_for("field.hand_back", draft_id=draft.id), 303)


def _show_section(draft, current):
    """Render a screen: what was refused on it last time with its errors, else the answers."""
    refused = draft.data.get("refused")
    if not refused or refused["section"] != current.id:
        return _render_section(draft, current, form_values_for(current, draft.answers), {})
    form = MultiDict(refused["values"])
    _clean, errors = draft.questionnaire.validate_answers(current.id, form, draft.answers)
    values = form_values_for(current, draft.answers, form)
    return _render_section(draft, current, values, errors)


def _refused(section, form) -> dict:
    """Keep what a refused screen sent (for the encrypted draft), to show it again."""
    values = {q.id: form.getlist(q.id) for q in section.questions if q.id in form}
    return {"section": section.id, "values": values}


def _revealed(draft, section) -> list[str]:
    """Return the ids of questions the answers show that were not on the submitted screen."""
    shown = set(request.form.getlist("_shown"))
    if draft.mode == RESPONDENT:
        now = respondent.questions_for(section, draft.answers)
    else:
        now = section.visible_questions(draft.answers)
    return [q.id for q in now if q.id not in shown]


@bp.get("/screening/<uuid:draft_id>/resume")
@auth.requires_role(*SCREENERS)
def resume(draft_id):
    """Go back to the screen where the interview was left."""
    draft = load_draft(draft_id)
    # Only the officer resumes (from the home screen): the officer view.
    draft.data["mode"] = OFFICER
    interview.save(auth.database(), g.user, draft)
    shown = [s.id for s in draft.sections()]
    target = draft.data.get("section") if draft.data.get("section") in shown else shown[0]
    return redirect(url_for("field.section", draft_id=draft.id, section_id=target), 303)


@bp.get("/screening/<uuid:draft_id>/review")
@auth.requires_role(*SCREENERS)
def review(draft_id):
    """Show the assessment before the interview is sealed."""
    draft = load_draft(draft_id)
    if draft.mode == RESPONDENT:  # never the assessment on the person's screen
        return redirect(url_for("field.hand_back", draft_id=draft.id), 303)
    missing = _first_incomplete(draft)
    return render_template(
        "field/review.html",
        draft=draft,
        assessment=draft.questionnaire.assess(draft.answers, _instance().settings),
        missing=missing,
        last=draft.sections()[-1].id,
    )


def _first_incomplete(draft) -> str | None:
    """Return the first shown section with a required question unanswered."""
    for shown in draft.sections():
        _clean, errors = draft.questionnaire.validate_answers(
            shown.id, form_values_for(shown, draft.answers), draft.answers
        )
        if errors:
            return shown.id
    return None


@bp.post("/screening/<uuid:draft_id>/finish")
@auth.requires_role(*SCREENERS)
def finish(draft_id):
    """Seal the interview into the outbox; the device can never show it again."""
    draft = load_draft(draft_id)
    if draft.mode == RESPONDENT:
        return redirect(url_for("field.hand_back", draft_id=draft.id), 303)
    missing = _first_incomplete(draft)
    if missing:
        flash(_("Some required questions are not answered yet."), "error")
        return redirect(url_for("field.section", draft_id=draft.id, section_id=missing), 303)
    inst = _instance()
    try:
        record = interview.finish(
            auth.database(),
            g.user,
            draft,
            inst.recipient_keys(),
            inst.device_id(),
            inst.settings,
        )
    except interview.DraftError:
        raise _Gone from None  # finished a moment ago, from another tab
    _remember_sealed(record["reference"], record["finished"])
    # Rendered once, from memory: there is no URL that shows it again.
    return render_template(
        "field/finished.html",
        assessment=record["assessment"],
        reference=record["reference"],
        finished=record["finished"],
        child=record["child"],
    )


def _remember_sealed(reference: str, finished: str) -> None:
    """Keep the reference (never an answer) for the home screen's list of today's."""
    kept = [item for item in _sealed_today() if item["reference"] != reference]
    session["sealed"] = {
        "user": g.user.user_id,
        "day": finished[:10],
        "items": [{"reference": reference, "time": finished}, *kept][:20],
    }


def _sealed_today() -> list[dict]:
    """Return the references this officer sealed today in this browser, newest first."""
    kept = session.get("sealed") or {}
    today = time.strftime("%Y-%m-%d", time.gmtime())
    if kept.get("user") != g.user.user_id or kept.get("day") != today:
        return []
    return kept.get("items", [])


@bp.route("/screening/<uuid:draft_id>/discard", methods=["GET", "POST"])
@auth.requires_role(*SCREENERS)
def discard(draft_id):
    """Ask before deleting an interview that will not be finished; then delete it."""
    if request.method == "GET":
        draft = load_draft(draft_id)
        return render_template(
            "field/discard.html", draft=draft.summary(), language_name=dict(language_names())
        )
    if db.delete_draft(auth.database(), str(draft_id), g.user.user_id):
        flash(_("The interview was deleted."), "info")
    return redirect(url_for("field.home"), 303)
