"""The hub's pages for people: its administrator's view of devices and batches."""

from flask import Blueprint, redirect, render_template, url_for

from intake import auth, db
from intake.auth import public, requires_role

bp = Blueprint("hub", __name__)


@bp.get("/")
@public
def index():
    """Send administrators to the device list, everyone else to sign in."""
    return redirect(url_for("hub.admin"))


@bp.get("/admin")
@requires_role("admin")
def admin():
    """List enrolled devices and the latest batches received."""
    database = auth.database()
    return render_template(
        "hub/admin.html",
        devices=db.list_devices(database),
        batches=db.recent_batches(database),
        held=db.count_envelopes(database),
    )
