"""The hub role: stores envelopes it cannot open and hands them to coordinators."""

from flask import Blueprint, render_template

from intake.auth import public

bp = Blueprint("hub", __name__)


@bp.get("/")
@public
def index():
    """Say what this node is."""
    return render_template("role.html", role="hub")


from intake.hub import api  # noqa: E402,F401 - registers the API routes on bp
