"""The node's side of the browser's offline queue: what the browser seals to, and its envelopes.

Registers its views on the field blueprint (see intake.field.views), as
intake.field.handover does.

A tablet that loses the node seals each finished screening in the browser
(static/src/envelope.js, format v1) and sends it here when the node is back.
The node holds no private key, so it cannot open what it is sent: it checks
the framing and the header strictly, as the hub and the workspace would, and
what only they can check it leaves to them.

Threat note: anyone signed in as an officer could post an envelope sealed
with made-up answers; that is no more than the screening form lets them do.
What the node cannot see is a changed byte in the sealed keys, the nonce or
the ciphertext, or in a header field that stays well formed (another record
id, another time): the header is the ciphertext's associated data, so the
workspace refuses such an envelope when it opens it. The device's signature
is added at sync, over the envelope's exact bytes, as for a record sealed on
the node: it vouches that this node took the envelope in, not for its inside.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta

from flask import abort, current_app, g, jsonify, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge

from intake import accounts, auth, crypto, db, envelope, errors
from intake.batch import MAX_ENVELOPE_LENGTH
from intake.db.outbox import CONFLICT, STORED, take_envelope
from intake.field.views import SCREENERS, bp
from intake.i18n import interview_languages
from intake.questionnaire import available_questionnaires, load_catalogue, load_questionnaire

OCTETS = "application/octet-stream"
KIND = "screening"
# A tablet's clock may run ahead of the node's; a day covers a wrong time zone.
CLOCK_SKEW = timedelta(days=1)
# Keeps the browser's draft-key salt apart from the node's (same random salt, another use).
SALT_LABEL = b"intake-offline-draft-salt-v1\x00"
JSON_ENDPOINTS = frozenset(
    {"field.offline_config", "field.offline_envelopes", "field.offline_password"}
)


class RefusedEnvelopeError(Exception):
    """An envelope sent from the browser is not one this node may keep; nothing was stored."""


def _instance():
    return current_app.extensions["intake_instance"]


def _recipients() -> list:
    """This node's recipient keys, one per key id, in the order the node seals to them."""
    by_id = {}
    for key in _instance().recipient_keys():
        by_id.setdefault(crypto.key_id(key), key)
    return list(by_id.values())


def shipped_questionnaires() -> dict[str, str]:
    """Return `id@version` of each questionnaire this node ships, by name."""
    found = {}
    for name in available_questionnaires():
        questionnaire = load_questionnaire(name)
        found[name] = f"{questionnaire.id}@{questionnaire.version}"
    return found


def draft_salt(user_id: str) -> bytes:
    """Return the salt of this user's offline draft key: random per user, stable, kept here.

    Derived from the random salt of the node's own draft key (users.draft_kdf),
    which never changes, so nothing new is stored; hashed with a label so that
    the browser never sees, nor reuses, the node's own salt.
    """
    user = db.user_by_id(auth.database(), user_id)
    if user is None:
        abort(403)  # disabled since this request began
    node_salt = bytes.fromhex(json.loads(user["draft_kdf"])["salt"])
    return hashlib.sha256(SALT_LABEL + node_salt).digest()[:16]


def screening_settings() -> dict:
    """The instance's settings the screening reads, no other.

    The browser asks and assesses as the node does: the questions that need
    a setting (Questionnaire.for_settings: the reflection period, the
    hotline, the national referral mechanism) and the country's referral
    options (Questionnaire.assess). Without them it would never ask or offer
    what this country has.
    """
    wanted = set(load_catalogue().option_settings.values())
    for name in available_questionnaires():
        wanted |= {q.requires_setting for q in load_questionnaire(name).questions}
    settings = _instance().settings
    return {name: settings[name] for name in sorted(wanted - {None}) if name in settings}


@bp.get("/offline/config")
@auth.requires_role(*SCREENERS)
def offline_config():
    """Tell the browser what to seal to and with: device, recipients, forms, languages, salt."""
    body = {
        "device": _instance().device_id(),
        "recipients": [
            base64.b64encode(crypto.spki_der(key)).decode("ascii") for key in _recipients()
        ],
        "questionnaires": list(shipped_questionnaires()),
        "languages": [list(pair) for pair in interview_languages()],
        "user": g.user.username,
        "salt": base64.b64encode(draft_salt(g.user.user_id)).decode("ascii"),
        "settings": screening_settings(),
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def check_envelope(data: bytes, now: datetime | None = None) -> envelope.SealedRecord:
    """Check an envelope from the browser as strictly as the node can; return it ready to keep.

    RefusedEnvelopeError names the first rule it breaks.
    """
    if len(data) > MAX_ENVELOPE_LENGTH:
        raise RefusedEnvelopeError("the envelope is larger than format v1 allows")
    try:
        header = envelope.parse_envelope(data).header
    except envelope.EnvelopeError as e:
        raise RefusedEnvelopeError(f"not a well-formed envelope: {e}") from None
    if header["kind"] != KIND:
        raise RefusedEnvelopeError(f"the envelope's kind is {header['kind']!r}, not {KIND!r}")
    if header["device"] != _instance().device_id():
        raise RefusedEnvelopeError("the envelope names another device than this field node")
    if header["questionnaire"] not in shipped_questionnaires().values():
        raise RefusedEnvelopeError("the envelope names a questionnaire this node does not ship")
    if set(header["recipients"]) != {crypto.key_id(key) for key in _recipients()}:
        raise RefusedEnvelopeError(
            "the envelope is not sealed to exactly this node's recipient keys"
            " (fetch /offline/config again)"
        )
    created = datetime.fromisoformat(header["created"])
    if created > (now or datetime.now(UTC)) + CLOCK_SKEW:
        raise RefusedEnvelopeError("the envelope was created more than a day in the future")
    return envelope.SealedRecord(header["id"], header["kind"], header["created"], data)


def _refuse(message: str, status: int = 400, **more):
    return jsonify({"error": message, **more}), status


@bp.post("/offline/envelopes")
@auth.requires_role(*SCREENERS)
def offline_envelopes():
    """Keep one envelope sealed in the browser in the outbox, once, like a record sealed here.

    201 stored; 200 already held (the same bytes); 409 another envelope (or
    another user's open interview) holds this record id; 400 refused, with
    `"retry": true` when only the CSRF token was wrong; 413 too large. The
    CSRF token comes in X-CSRFToken.
    """
    if request.mimetype != OCTETS:
        return _refuse(f"send one envelope as {OCTETS}")
    try:
        sealed = check_envelope(request.get_data(cache=False))
    except RefusedEnvelopeError as e:
        return _refuse(str(e))
    # The browser may have finished an interview begun here: its draft goes with it.
    outcome = take_envelope(auth.database(), sealed, g.user.user_id)
    if outcome == CONFLICT:
        return _refuse("another envelope is held under this record id", 409, id=sealed.record_id)
    stored = outcome == STORED
    return jsonify({"stored": stored, "id": sealed.record_id}), 201 if stored else 200


@bp.post("/offline/password")
@auth.requires_role(*SCREENERS)
def offline_password():
    """Tell the browser whether a password is the signed-in officer's, before it keys a tablet.

    The browser derives the offline interview's key from the password. A
    password mistyped when a tablet is first prepared would key it for good,
    and the real one would never open it again; so the browser asks here
    first. A wrong password counts as a failed sign-in, with the same throttle
    and lock, so that nobody guesses here what the sign-in page would stop.
    200 {"matches": true|false}; 429 with the sign-in page's words when
    throttled; 400 without a password.
    """
    password = request.form.get("password")
    if not password:
        return _refuse("send the password as the form field 'password'")
    try:
        accounts.authenticate(auth.database(), g.user.username, password, time.time())
    except accounts.SignInRefused as refused:
        if refused.reason == "wrong":
            return jsonify({"matches": False})
        return _refuse(auth.refusal_message(refused), 429, wait=refused.wait)
    return jsonify({"matches": True})


@bp.errorhandler(CSRFError)
def _csrf_refused(error):
    # Not a verdict on the envelope: the browser keeps it and sends it again
    # with a fresh token (after signing in again if its session ended).
    if request.endpoint not in JSON_ENDPOINTS:
        return errors.error_page(error)
    return _refuse(f"the CSRF token is missing or wrong: {error.description}", retry=True)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error):
    # 413, as `intake serve` itself answers a body over the limit before the app sees it.
    if request.endpoint not in JSON_ENDPOINTS:
        return errors.error_page(error)
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return _refuse(f"the envelope is larger than this node accepts ({limit} bytes)", 413)
