"""Field device pages."""

from __future__ import annotations

from flask import current_app, render_template

from intake import crypto, db
from intake.field import bp


def _instance():
    return current_app.extensions["intake_instance"]


@bp.get("/")
def status():
    """Show the device, who its records are sealed to, and how many wait for the hub."""
    inst = _instance()
    database = db.open_database(inst.path)
    try:
        waiting = db.count_pending(database)
    finally:
        database.close()
    recipients = [
        {"key_id": crypto.key_id(k), "fingerprint": crypto.fingerprint(k)}
        for k in inst.recipient_keys()
    ]
    return render_template(
        "field/status.html", device_id=inst.device_id(), recipients=recipients, waiting=waiting
    )
