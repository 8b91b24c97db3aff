"""The workspace's pages: unlock, the case list, a case, exports, the dashboard, devices.

Only coordinators reach them, and only once their session has unlocked the
private key. Every unlock, case view, status change and export is written
to the audit log before the answer leaves.
"""

from __future__ import annotations

import io
import re

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.exceptions import HTTPException

from intake import auth, crypto
from intake.db import case_store as store
from intake.envelope import utc_now
from intake.instance import InstanceError
from intake.workspace import index as case_index
from intake.workspace.audit import AuditError, AuditLog
from intake.workspace.casestore import StoreError
from intake.workspace.index import Filter, FilterError
from intake.workspace.unlocked import UnlockRefused, Workspace

bp = Blueprint("workspace", __name__)

COORDINATOR = "coordinator"
_PAGE = re.compile(r"[0-9]{1,6}")
EXPORT_FORMATS = {
    "csv": ("text/csv", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "htcds": ("text/csv", "htcds.csv"),
}


@bp.record_once
def _set_up(state) -> None:
    app = state.app
    inst = app.extensions["intake_instance"]
    audit = AuditLog(inst.path)
    workspace = Workspace(inst, app.extensions["intake_keyring"], audit)
    app.extensions["intake_workspace"] = workspace
    app.extensions["intake_audit"] = audit
    app.extensions.setdefault("intake_lock_hooks", []).append(workspace.lock_session)


@bp.context_processor
def _labels() -> dict:
    from babel import Locale
    from flask_babel import get_locale

    from intake.questionnaire.catalogue import load_catalogue

    catalogue = load_catalogue()
    titles = {d.name: d.title for d in catalogue.dimensions}
    urgent = {u.id: u.label for u in catalogue.urgent.values()}
    locale = Locale.parse(str(get_locale() or "en"))

    def language_name(code: str) -> str:
        return locale.languages.get(code.replace("-", "_"), code) if code else _("Not recorded")

    def country_name(code, language: str | None = None) -> str:
        names = Locale.parse(language.replace("-", "_")).territories if language else None
        return (names or locale.territories).get(str(code), str(code))

    return {
        "status_label": lambda s: {
            "new": _("New"),
            "in_review": _("In review"),
            "referred": _("Referred"),
            "closed": _("Closed"),
        }.get(s, s),
        "outcome_label": lambda o: {
            "refer_now": _("Refer now"),
            "consider_referral": _("Consider referral"),
            "no_indicators": _("No indicators recorded"),
        }.get(o, o),
        "age_label": lambda a: _("Child") if a == "child" else _("Adult"),
        "dimension_title": lambda name: _(titles[name]) if name in titles else name,
        "language_name": language_name,
        "country_name": country_name,
        "urgent_label": lambda flag: _(urgent[flag]) if flag in urgent else flag,
    }


def workspace() -> Workspace:
    return current_app.extensions["intake_workspace"]


def audit(action: str, subject: str | None = None, detail: dict | None = None) -> None:
    """Log an action before answering; an action the log cannot take does not happen."""
    try:
        current_app.extensions["intake_audit"].append(g.user.username, action, subject, detail)
    except AuditError:
        abort(
            503,
            description=_(
                "The audit log is damaged, so nothing more can be shown or changed here."
                " Ask the administrator to run intake audit verify (docs/audit.md)."
            ),
        )


def _unlocked() -> Workspace | None:
    """Return the workspace if this session unlocked it, else None."""
    ws = workspace()
    ws.sweep()
    return ws if ws.is_unlocked(session.get("token")) else None


def _needs_unlock():
    return redirect(url_for("workspace.unlock", next=request.full_path.rstrip("?")), 303)


def _filter(ws: Workspace | None = None) -> Filter:
    """Parse the filter of this request; `search=1` stands for the search this session sent."""
    values = request.values.to_dict()
    if ws is not None and values.get("search") == "1" and not values.get("q"):
        values["q"] = ws.remembered_search(session.get("token"))
    try:
        return Filter.parse(values)
    except FilterError as e:
        abort(400, description=_("This filter is not valid: %(reason)s", reason=str(e)))


def _search(endpoint: str):
    """Take a filter form (POST), keep its search text in memory, and show it by address."""
    ws = _unlocked()
    if ws is None:
        return _needs_unlock()
    flt = _filter()
    ws.remember_search(session.get("token"), flt.q)
    return redirect(url_for(endpoint, **flt.link_args()), 303)


@bp.get("/")
@auth.requires_role(COORDINATOR, "admin")
def index():
    """Send a coordinator to the cases; tell anyone else what this node is."""
    if g.user.role == COORDINATOR:
        return redirect(url_for("workspace.cases"), 303)
    return render_template("role.html", role="workspace")


@bp.route("/unlock", methods=["GET", "POST"])
@auth.requires_role(COORDINATOR)
def unlock():
    """Unlock the coordinator's private key with its passphrase (kept in memory only)."""
    target = auth.safe_next(request.values.get("next")) if request.values.get("next") else None
    if request.method == "GET":
        if _unlocked():
            return redirect(target or url_for("workspace.cases"), 303)
        return render_template("workspace/unlock.html", next=request.args.get("next"))
    try:
        workspace().unlock(session["token"], g.user.username, request.form.get("passphrase", ""))
    except InstanceError:
        flash(
            _(
                "This workspace holds no coordinator key yet:"
                " see intake workspace key (docs/coordinator.md)."
            ),
            "error",
        )
        return render_template("workspace/unlock.html"), 409
    except UnlockRefused as refused:
        flash(
            ngettext(
                "Too many failed attempts. Wait %(num)d second, then try again.",
                "Too many failed attempts. Wait %(num)d seconds, then try again.",
                refused.wait,
            ),
            "error",
        )
        return render_template("workspace/unlock.html", next=request.form.get("next")), 429
    except StoreError as e:
        audit("unlock_refused", None, {"reason": "store"})
        flash(
            _(
                "The case store does not open whole: %(reason)s."
                " Nothing was unlocked; run intake workspace rebuild (docs/coordinator.md).",
                reason=str(e),
            ),
            "error",
        )
        return render_template("workspace/unlock.html"), 409
    except (crypto.CryptoError, ValueError):
        audit("unlock_refused")
        flash(_("That passphrase does not open this workspace's key."), "error")
        return render_template("workspace/unlock.html", next=request.form.get("next")), 401
    try:
        audit("unlock")
    except HTTPException:
        workspace().lock_session(session.get("token"))  # not logged: not unlocked
        raise
    return redirect(target or url_for("workspace.cases"), 303)


@bp.get("/cases")
@auth.requires_role(COORDINATOR)
def cases():
    """The case list: filters, search, pages of 50, newest first."""
    ws = _unlocked()
    if ws is None:
        return _needs_unlock()
    flt = _filter(ws)
    number = request.args.get("page", "1")
    if not _PAGE.fullmatch(number):
        abort(400, description=_("The page number must be a whole number."))
    with ws.lock:
        if ws.index is None:  # locked since the check above
            return _needs_unlock()
        selected = ws.index.select(flt)
        shown, pages = case_index.page_of(selected, int(number))
        duplicates = {c.key for c in shown if ws.index.has_duplicates(c)}
        choices = ws.index.choices()
        held = len(ws.index)
    return render_template(
        "workspace/cases.html",
        cases=shown,
        total=len(selected),
        held=held,
        page=min(max(1, int(number)), pages),
        pages=pages,
        flt=flt,
        choices=choices,
        duplicates=duplicates,
        pull=ws.pull_status,
        statuses=store.STATUSES,
        outcomes=case_index.OUTCOMES,
    )


@bp.post("/cases")
@auth.requires_role(COORDINATOR)
def cases_search():
    """Apply the filter form: its search goes to memory, not into the address."""
    return _search("workspace.cases")


@bp.post("/dashboard")
@auth.requires_role(COORDINATOR)
def dashboard_search():
    """Apply the dashboard's filter form, as for the case list."""
    return _search("workspace.dashboard")


@bp.get("/cases/<device>/<record_id>")
@auth.requires_role(COORDINATOR)
def case(device, record_id):
    """One case: every answer beside its question, the assessment, the origin, duplicates."""
    from intake.workspace.casepage import CaseDoesNotOpen, CasePage

    ws = _unlocked()
    if ws is None:
        return _needs_unlock()
    with ws.lock:
        if ws.index is None:
            return _needs_unlock()
        found = ws.index.by_key.get((device, record_id))
        opener = ws.opener
        duplicates = ws.index.possible_duplicates(found) if found else []
    if found is None:
        abort(404)
    pinned = _device_row(device)
    held = store.verified_envelope(auth.database(), device, record_id)
    audit("case_view", f"{device}/{record_id}")
    try:
        page = CasePage.open(found, held, opener, pinned["public_key"] if pinned else None)
    except CaseDoesNotOpen as e:
        return render_template("workspace/case_problem.html", case=found, reason=str(e))
    g.respondent_language = page.respondent_language
    return render_template(
        "workspace/case.html",
        case=found,
        page=page,
        duplicates=duplicates,
        statuses=store.STATUSES,
        device=pinned,
    )


def _device_row(device: str) -> dict | None:
    from intake import db

    return db.pinned_devices(auth.database()).get(device)


@bp.post("/cases/<device>/<record_id>/status")
@auth.requires_role(COORDINATOR)
def set_status(device, record_id):
    """Move a case to new, in review, referred or closed."""
    ws = _unlocked()
    if ws is None:
        return _needs_unlock()
    status = request.form.get("status", "")
    if status not in store.STATUSES:
        abort(400, description=_("Choose one of the statuses offered."))
    # One change at a time, store and list together: two coordinators changing
    # the same case at once would otherwise leave the list showing the first
    # change and the store the second, and the log a "from" already gone.
    with ws.lock:
        if ws.index is None:
            return _needs_unlock()
        found = ws.index.by_key.get((device, record_id))
        if found is None:
            abort(404)
        audit("status_change", f"{device}/{record_id}", {"from": found.status, "to": status})
        now = utc_now()
        changed = store.set_status(auth.database(), device, record_id, status, g.user.username, now)
        if changed is None:
            abort(404)
        ws.index.set_status((device, record_id), status, now)
    flash(_("Status changed."), "status")
    return redirect(url_for("workspace.case", device=device, record_id=record_id), 303)


@bp.post("/export")
@auth.requires_role(COORDINATOR)
def export():
    """Export the filtered cases as CSV, Excel or HTCDS: the one way answers leave in the clear."""
    from intake.workspace import exporting

    ws = _unlocked()
    if ws is None:
        return _needs_unlock()
    flt = _filter()
    fmt = request.form.get("format", "")
    if fmt not in EXPORT_FORMATS:
        abort(400, description=_("Choose CSV, Excel or HTCDS."))
    if request.form.get("understood") != "yes":
        flash(_("Tick the box to confirm that you will protect the exported file."), "error")
        return redirect(url_for("workspace.cases", **flt.link_args()), 303)
    with ws.lock:
        if ws.index is None:
            return _needs_unlock()
        selected = list(ws.index.select(flt))
        opener, generation = ws.opener, ws.generation
    # Logged first: an export the log cannot take does not happen.
    audit("export", None, {"format": fmt, "cases": len(selected), "filter": flt.describe()})
    out = io.BytesIO()
    try:
        _written, skipped = exporting.export(
            auth.database(), opener, selected, fmt, out,
            keep_going=lambda: ws.still_unlocked(generation),
        )  # fmt: skip
    except exporting.Stopped:
        return _needs_unlock()
    if skipped:
        audit("export", None, {"format": fmt, "skipped": skipped, "filter": flt.describe()})
    mimetype, extension = EXPORT_FORMATS[fmt]
    out.seek(0)
    return send_file(
        out,
        mimetype=mimetype,
        as_attachment=True,
        download_name=f"intake-cases-{utc_now()[:10]}.{extension}",
        max_age=0,
    )


@bp.get("/dashboard")
@auth.requires_role(COORDINATOR)
def dashboard():
    """Charts of the filtered cases, drawn on the server."""
    ws = _unlocked()
    if ws is None:
        return _needs_unlock()
    flt = _filter(ws)
    with ws.lock:
        if ws.index is None:
            return _needs_unlock()
        figures = case_index.figures(ws.index.select(flt))
        choices = ws.index.choices()
    return render_template(
        "workspace/dashboard.html",
        figures=figures,
        charts=_charts(figures),
        flt=flt,
        choices=choices,
        statuses=store.STATUSES,
        outcomes=case_index.OUTCOMES,
    )


def _charts(figures) -> list[tuple[str, object]]:
    """Draw the dashboard's charts, each with its title (translated here; shapes in charts)."""
    from flask_babel import get_locale

    from intake.i18n import text_direction
    from intake.workspace import charts

    labels = _labels()
    rtl = text_direction(str(get_locale() or "en")) == "rtl"
    empty = _("No case matches.")

    def bars(title, items, name=lambda k: k):
        drawn = charts.bar_chart(title, [(name(k), n) for k, n in items], rtl=rtl, empty_text=empty)
        return title, drawn

    by_month = _("Cases by month")
    return [
        (by_month, charts.time_chart(by_month, figures.by_month, rtl=rtl, empty_text=empty)),
        bars(_("Outcomes"), figures.outcomes, labels["outcome_label"]),
        bars(_("Dimensions most often positive"), figures.dimensions, labels["dimension_title"]),
        bars(_("By field post"), figures.posts),
        bars(_("By the person's language"), figures.languages, labels["language_name"]),
        bars(_("Adults and children"), figures.ages, labels["age_label"]),
        bars(_("By status"), figures.statuses, labels["status_label"]),
    ]


@bp.get("/devices")
@auth.requires_role(COORDINATOR)
def devices():
    """The devices pinned, and every record that is not a case, with the reason."""
    from intake import db

    ws = _unlocked()
    if ws is None:
        return _needs_unlock()
    database = auth.database()
    return render_template(
        "workspace/devices.html",
        devices=list(db.pinned_devices(database).values()),
        not_cases=db.not_cases(database),
        not_opened=store.not_opened(database),
        pull=ws.pull_status,
    )


@bp.post("/pull")
@auth.requires_role(COORDINATOR)
def pull():
    """Pull from the hub now, in the background."""
    ws = _unlocked()
    if ws is None:
        return _needs_unlock()
    ws.pull_now()
    audit("pull", None, {"requested": "now"})
    flash(_("Pulling from the hub. New cases appear when they are opened."), "status")
    return redirect(url_for("workspace.cases"), 303)
