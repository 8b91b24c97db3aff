"""The workspace's pages. They do not import the opening code: it is loaded
only when a coordinator opens records.
"""

from flask import Blueprint, render_template

from intake.auth import public

bp = Blueprint("workspace", __name__)


@bp.get("/")
@public
def index():
    """Say what this node is."""
    return render_template("role.html", role="workspace")
