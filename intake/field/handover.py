"""Hand-over and take-back: the tablet goes to the person, and comes back to the officer.

Registers its views on the field blueprint (see intake.field.views). The
person's screens themselves are the interview's (views.section), rendered as
the respondent view while the draft's mode says the person holds the tablet.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from intake import auth
from intake.field import interview, respondent
from intake.field.interview import OFFICER, RESPONDENT
from intake.field.views import SCREENERS, bp, load_draft, respondent_goes_on
from intake.i18n import language_names


@bp.route("/screening/<uuid:draft_id>/hand-over", methods=["GET", "POST"])
@auth.requires_role(*SCREENERS)
def hand_over(draft_id):
    """Explain the hand-over to the officer; then give the person the respondent view."""
    draft = load_draft(draft_id)
    shown = [s.id for s in draft.sections()]
    start = request.values.get("section")
    start = start if start in shown else draft.data.get("section") or shown[0]
    if request.method == "GET":
        language = draft.data["languages"]["respondent"]
        return render_template(
            "field/hand_over.html",
            draft=draft,
            section=start,
            language_label=dict(language_names()).get(language, language),
        )
    draft.data["mode"] = RESPONDENT
    draft.data["read_sensitive"] = request.form.get("read_sensitive") == "yes"
    draft.data.pop("handed_back", None)
    return respondent_goes_on(draft, respondent.first_screen(draft, start))


@bp.get("/screening/<uuid:draft_id>/hand-back")
@auth.requires_role(*SCREENERS)
def hand_back(draft_id):
    """Ask the person, in their language, to give the tablet back to the officer."""
    draft = load_draft(draft_id)
    if draft.mode != RESPONDENT:
        return redirect(url_for("field.resume", draft_id=draft.id), 303)
    with force_locale(draft.data["languages"]["respondent"]):
        return render_template("field/hand_back.html", draft=draft, respondent_view=True)


@bp.route("/screening/<uuid:draft_id>/take-back", methods=["GET", "POST"])
@auth.requires_role(*SCREENERS)
def take_back(draft_id):
    """Ask the officer to confirm they hold the tablet again; then the officer view."""
    draft = load_draft(draft_id)
    if draft.mode != RESPONDENT:
        return redirect(url_for("field.resume", draft_id=draft.id), 303)
    if request.method == "GET":
        return render_template("field/take_back.html", draft=draft, respondent_view=True)
    draft.data["mode"] = OFFICER
    target = respondent.take_back_screen(draft)
    interview.save(auth.database(), g.user, draft)
    flash(_("You have the tablet again: this is the officer view."), "info")
    if target is None:
        return redirect(url_for("field.review", draft_id=draft.id), 303)
    return redirect(url_for("field.section", draft_id=draft.id, section_id=target), 303)
