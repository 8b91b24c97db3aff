"""The hub role: stores envelopes it cannot open and hands them to coordinators."""

from flask import Blueprint, render_template

bp = Blueprint("hub", __name__)


@bp.get("/")
def index():
    """Say what this node is."""
    return render_template("role.html", role="hub")
