"""The hub's machine interface: enrolment and batches, authenticated by device keys.

These routes take no cookie and no CSRF token: a browser session cannot
reach them by accident, and every batch carries its device's signature.
"""

from __future__ import annotations

from flask import current_app, jsonify, request

from intake import auth, crypto
from intake.envelope import strict_json
from intake.hub import recipients as hub_recipients
from intake.hub.enrolment import EnrolmentError, enrol
from intake.hub.receiving import BatchRefused, receive_batch
from intake.hub.views import bp
from intake.security import csrf


def device_api(view):
    """Mark a view authenticated by a device signature or code, not a session."""
    view.allowed_roles = "device"
    return csrf.exempt(view)


def _instance():
    return current_app.extensions["intake_instance"]


def _error(message: str, status: int):
    return jsonify({"error": message}), status


@bp.post("/api/v1/enroll")
@device_api
def api_enroll():
    """Register a device's signing key with a one-time code; answer the hub's public keys.

    The answer carries the coordinators' keys (installed only on a confirmed
    fingerprint) and the hub's receipt key, which the device pins to check
    the receipts of batches carried by hand.
    """
    try:
        body = strict_json(request.get_data(cache=False)[:4096])
    except ValueError:
        body = None
    if not isinstance(body, dict) or not all(
        isinstance(body.get(k), str) for k in ("code", "public_key")
    ):
        return _error("send JSON with 'code' and 'public_key' (hex)", 400)
    try:
        device_id, name = enrol(auth.database(), body["code"][:64], body["public_key"][:128])
    except EnrolmentError as e:
        return _error(str(e), 403)
    recipients = [
        {
            "key_id": crypto.key_id(key),
            "fingerprint": crypto.fingerprint(key),
            "pem": crypto.public_key_pem(key).decode(),
        }
        for key in _instance().recipient_keys()
    ]
    receipt_key = crypto.raw_public_key(_instance().receipt_key()).hex()
    return jsonify(
        {
            "device": device_id,
            "name": name,
            "recipients": recipients,
            "receipt_key": receipt_key,
            # The same keys, signed: what the device checks its keys against at every sync.
            "recipient_list": hub_recipients.signed_list(_instance()).decode("ascii"),
        }
    )


@bp.get("/api/v1/recipients")
@device_api
def api_recipients():
    """Answer the full recipient list, signed with the hub's receipt key.

    Devices fetch it at every sync. It holds only public keys, so it needs no
    credential; its signature, checked with the key each device pinned at
    enrolment, is what makes it the hub's word.
    """
    return current_app.response_class(
        hub_recipients.signed_list(_instance()), mimetype="text/plain"
    )


@bp.post("/api/v1/batches")
@device_api
def api_batches():
    """Take a signed batch; answer record by record."""
    if request.mimetype != "application/octet-stream":
        return _error("send the batch as application/octet-stream", 415)
    try:
        receipt = receive_batch(
            auth.database(), request.stream, _instance().recipient_ids(), "http"
        )
    except BatchRefused as refused:
        return _error(refused.reason, refused.status)
    return jsonify(receipt.as_json())


from intake.hub import coordinators  # noqa: E402, F401 - registers the coordinator routes
