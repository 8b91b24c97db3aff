"""The hub's coordinator interface: device keys and envelopes, for a bearer token.

A workspace pulls with a token that the hub's administrator made (`intake
hub tokens new`). The hub keeps only its SHA-256: a copy of the database
opens no door. What the hub hands out proves nothing on the hub's word:
the workspace pins each device's key and checks every record signature
itself, so a hub taken over can withhold records but not invent one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import Response, jsonify, request

from intake import auth, db
from intake.envelope import utc_now
from intake.hub.views import bp
from intake.page import is_cursor, write_page
from intake.security import csrf

TOKEN_PREFIX = "intake-token-"  # noqa: S105 - a label, not a secret
PAGE_LIMIT = 5_000
# A page stops growing past this many bytes of envelopes (at least one goes).
PAGE_BYTES = 8 * 1024 * 1024


def token_hash(token: str) -> str:
    """Return the hex SHA-256 of a token: what the hub stores instead of it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(database, name: str) -> str | None:
    """Make a coordinator token; return it (shown once), or None if the name is taken."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token if db.add_token(database, token_hash(token), name, utc_now()) else None


def token_is_valid(database, token: str) -> bool:
    """Tell whether a token is one of the hub's unrevoked tokens, in constant time."""
    presented = token_hash(token)
    valid = False
    # Every stored hash is compared, all the way: the time taken says nothing
    # about which one, or how much of one, matched.
    for stored, revoked in db.token_hashes(database):
        if hmac.compare_digest(presented, stored) and revoked is None:
            valid = True
    return valid


def coordinator_api(view):
    """Mark a view authenticated by a coordinator token, not a session (no cookie, no CSRF)."""
    view.allowed_roles = "coordinator token"
    return csrf.exempt(view)


def _refused():
    response = jsonify({"error": "a valid coordinator token is needed (intake connect)"})
    response.headers["WWW-Authenticate"] = "Bearer"
    return response, 401


def _authorised() -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme == "Bearer" and bool(token) and token_is_valid(auth.database(), token.strip())


@bp.get("/api/v1/devices")
@coordinator_api
def api_devices():
    """List every device the hub enrolled, with its public key, revoked ones too."""
    if not _authorised():
        return _refused()
    return jsonify(
        [
            {
                "device": d["id"],
                "name": d["name"],
                "enrolled": d["enrolled"],
                "revoked": d["revoked"],
                "public_key": d["public_key"],
            }
            for d in db.list_devices(auth.database())
        ]
    )


def _page_arguments() -> tuple[int, int] | None:
    after, limit = request.args.get("after", "0"), request.args.get("limit", str(PAGE_LIMIT))
    if not is_cursor(after) or not is_cursor(limit) or int(limit) == 0:
        return None
    return int(after), min(int(limit), PAGE_LIMIT)


@bp.get("/api/v1/envelopes")
@coordinator_api
def api_envelopes():
    """Hand out a page of envelopes stored after the cursor `after`, in the order stored."""
    if not _authorised():
        return _refused()
    arguments = _page_arguments()
    if arguments is None:
        return jsonify({"error": "after and limit are non-negative integers (limit > 0)"}), 400
    after, limit = arguments
    rows = db.envelope_page(auth.database(), after, limit + 1)
    entries, size = [], 0
    for row in rows[:limit]:
        if entries and size + len(row["envelope"]) > PAGE_BYTES:
            break
        entries.append((row["device"], row["envelope"], row["signature"]))
        size += len(row["envelope"])
    more = len(entries) < len(rows)
    next_cursor = str(rows[len(entries) - 1]["seq"]) if entries else str(after)
    body = write_page(entries, next_cursor, more)
    return Response(body, mimetype="application/octet-stream")
