"""The field role: screening and referral forms on a device that holds no private key."""

from flask import Blueprint

bp = Blueprint("field", __name__)

from intake.field import views  # noqa: E402,F401 - registers the routes on bp
