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
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from intake import auth, crypto, db
from intake.accounts import ROLES
from intake.field import interview
from intake.field.forms import choices_for, form_values_for
from intake.i18n import interview_languages
from intake.questionnaire import available_questionnaires

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
            drafts=db.drafts_for_user(database, g.user.user_id, time.time()),
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


def _load(draft_id) -> interview.Draft:
    try:
        draft = interview.load(auth.database(), g.user, str(draft_id))
    except interview.DraftError:
        raise _Gone from None
    g.respondent_language = draft.data["languages"]["respondent"]
    return draft


def _render_section(draft, section, values, errors, status=200):
    sections = draft.sections()
    ids = [s.id for s in sections]
    return render_template(
        "field/section.html",
        draft=draft,
        section=section,
        questions=section.visible_questions({**draft.answers, **values}),
        values=values,
        errors=errors,
        step=ids.index(section.id) + 1 if section.id in ids else 1,
        steps=len(ids),
        choices_for=choices_for,
        urgent=draft.questionnaire.urgent_flags(draft.answers),
    ), status


@bp.route("/screening/<uuid:draft_id>/<section_id>", methods=["GET", "POST"])
@auth.requires_role(*SCREENERS)
def section(draft_id, section_id):
    """Show one screen of the interview, or record its answers and move on."""
    draft = _load(draft_id)
    try:
        current = draft.questionnaire.section(section_id)
    except KeyError:
        abort(404)
    if request.method == "GET":
        return _show_section(draft, current)
    action = request.form.get("action", "next")
    clean, errors = draft.questionnaire.validate_answers(section_id, request.form, draft.answers)
    draft.record_section(section_id, clean)
    # A refused screen comes back through a redirect, its values kept in the
    # encrypted draft: the browser keeps the body of a POST it showed a page
    # for in its session history, on disk, beyond the interview.
    draft.data["refused"] = _refused(current, request.form) if errors and action == "next" else None
    interview.save(auth.database(), g.user, draft)
    if action == "pause":
        return auth.lock_session()
    previous, following = draft.neighbours(section_id)
    if action == "back":
        target = previous or section_id
        return redirect(url_for("field.section", draft_id=draft.id, section_id=target), 303)
    if errors:
        return redirect(url_for("field.section", draft_id=draft.id, section_id=section_id), 303)
    if _revealed(current, draft.answers):
        # An answer opened a follow-up on this screen: show it before moving on.
        return redirect(url_for("field.section", draft_id=draft.id, section_id=section_id), 303)
    if following:
        return redirect(url_for("field.section", draft_id=draft.id, section_id=following), 303)
    return redirect(url_for("field.review", draft_id=draft.id), 303)


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


def _revealed(section, answers) -> bool:
    """Tell whether the answers show questions that were not on the submitted screen."""
    shown = set(request.form.getlist("_shown"))
    return any(q.id not in shown for q in section.visible_questions(answers))


@bp.get("/screening/<uuid:draft_id>/resume")
@auth.requires_role(*SCREENERS)
def resume(draft_id):
    """Go back to the screen where the interview was left."""
    draft = _load(draft_id)
    shown = [s.id for s in draft.sections()]
    target = draft.data.get("section") if draft.data.get("section") in shown else shown[0]
    return redirect(url_for("field.section", draft_id=draft.id, section_id=target), 303)


@bp.get("/screening/<uuid:draft_id>/review")
@auth.requires_role(*SCREENERS)
def review(draft_id):
    """Show the assessment before the interview is sealed."""
    draft = _load(draft_id)
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
    draft = _load(draft_id)
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
    # Rendered once, from memory: there is no URL that shows it again.
    return render_template(
        "field/finished.html",
        assessment=record["assessment"],
        reference=interview.reference(record["id"]),
        child=record["child"],
    )


@bp.post("/screening/<uuid:draft_id>/discard")
@auth.requires_role(*SCREENERS)
def discard(draft_id):
    """Delete an interview that will not be finished."""
    if db.delete_draft(auth.database(), str(draft_id), g.user.user_id):
        flash(_("The interview was deleted."), "info")
    return redirect(url_for("field.home"), 303)
