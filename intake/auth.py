"""Signing in, locking and roles on the web side.

A signed-in session's draft key lives only in this process's memory (the
KeyRing), never in the cookie or on disk: locking, 15 idle minutes or a
restart forget it, and the officer's password is needed to open drafts again.
"""

from __future__ import annotations

import functools
import re
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext

from intake import accounts, db

bp = Blueprint("auth", __name__)

IDLE_SECONDS = 15 * 60
# Session keys that outlive a sign-in (and so a lock): nothing secret, no answer.
KEPT_ACROSS_SIGN_IN = ("lang", "notice_seen", "sealed")


@dataclass
class _Entry:
    user: accounts.SignedIn
    last_seen: float


class KeyRing:
    """Signed-in sessions and their draft keys, in memory only."""

    def __init__(self, idle_seconds: int = IDLE_SECONDS):
        self.idle_seconds = idle_seconds
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def add(self, user: accounts.SignedIn, now: float) -> str:
        """Remember a signed-in user; return the session token for the cookie."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._forget_idle(now)
            self._entries[token] = _Entry(user, now)
        return token

    def touch(self, token: str, now: float) -> accounts.SignedIn | None:
        """Return the session's user if it is still unlocked, and mark it used."""
        with self._lock:
            self._forget_idle(now)
            entry = self._entries.get(token)
            if entry is None:
                return None
            entry.last_seen = now
            return entry.user

    def is_alive(self, token: str, now: float) -> bool:
        """Tell whether a session is still signed in, without counting this as its use."""
        with self._lock:
            self._forget_idle(now)
            return token in self._entries

    def drop(self, token: str | None) -> None:
        """Forget a session and its draft key."""
        with self._lock:
            self._entries.pop(token, None)

    def _forget_idle(self, now: float) -> None:
        idle = [t for t, e in self._entries.items() if now - e.last_seen > self.idle_seconds]
        for token in idle:
            del self._entries[token]


def keyring() -> KeyRing:
    return current_app.extensions["intake_keyring"]


def database():
    """Return this request's database connection."""
    if "db" not in g:
        g.db = db.open_database(current_app.extensions["intake_instance"].path)
    return g.db


def close_database(_exc=None) -> None:
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


def load_user() -> None:
    """Find the signed-in user of this request, if the session is still unlocked."""
    g.user = None
    token = session.get("token")
    if token:
        g.user = keyring().touch(token, time.time())
        if g.user is None:
            _forget(session.pop("token", None))  # idle: what a role kept for it goes too
            g.locked = True
        elif not _still_allowed(g.user):
            # Disabled (or removed) since signing in: the session ends at its next request.
            _forget(session.pop("token", None))
            g.user = None


def _still_allowed(user: accounts.SignedIn) -> bool:
    """Tell whether the account is still enabled, with the same role (one indexed query)."""
    row = db.user_by_id(database(), user.user_id)
    return row is not None and row["role"] == user.role


def requires_role(*roles: str):
    """Let only signed-in users of the given roles reach a view (invariant 7)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if g.get("user") is None:
                return redirect(url_for("auth.signin", next=request.path))
            if g.user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles
        return wrapped

    return decorator


def public(view):
    """Mark a view that needs no sign-in (the role matrix test reads the mark)."""
    view.allowed_roles = "public"
    return view


# A path on this site and nothing else: one "/" then path and query characters
# of RFC 3986. No second "/" or "\" first (browsers read "//host" and "/\host"
# as another site), no backslash, space, control character or scheme anywhere.
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*")


def safe_next(target: str | None) -> str:
    """Return the local path to go to after sign-in; anything else goes home."""
    if not target or not _LOCAL_PATH.fullmatch(target):
        return "/"
    # Decoded, it must still be a plain local path: "/%2F%2Fevil" is refused too,
    # in case anything on the way (a proxy, a browser quirk) decodes it.
    decoded = unquote(unquote(target))
    if decoded.startswith(("//", "/\\")) or "\\" in decoded or not decoded.isprintable():
        return "/"
    return target


def refusal_message(refused: accounts.SignInRefused) -> str:
    """The sign-in page's words for a refused password (also the offline unlock's)."""
    if refused.reason == "locked":
        minutes = max(1, refused.wait // 60)
        return ngettext(
            "Too many failed attempts. Sign-in for this name is locked for %(num)d minute.",
            "Too many failed attempts. Sign-in for this name is locked for %(num)d minutes.",
            minutes,
        )
    if refused.reason == "wait":
        return ngettext(
            "Too many failed attempts. Wait %(num)d second, then try again.",
            "Too many failed attempts. Wait %(num)d seconds, then try again.",
            refused.wait,
        )
    return _("That name and password do not match.")


@bp.route("/signin", methods=["GET", "POST"])
@public
def signin():
    """Sign in with a name and password."""
    if request.method == "GET":
        locked = request.args.get("locked") or g.get("locked")
        return render_template("auth/signin.html", locked=locked, next=request.args.get("next"))
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    try:
        user = accounts.authenticate(database(), username, password, time.time())
    except accounts.SignInRefused as refused:
        flash(refusal_message(refused), "error")
        return render_template("auth/signin.html", username=username[:64]), 401
    # A new session for the signed-in officer; what is not secret stays: the
    # language chosen, the translation notice seen, today's sealed references.
    kept = {key: session[key] for key in KEPT_ACROSS_SIGN_IN if key in session}
    _forget(session.get("token"))
    session.clear()
    session.update(kept)
    session["token"] = keyring().add(user, time.time())
    db.purge_expired_drafts(database(), time.time())
    return redirect(safe_next(request.form.get("next")))


def _forget(token: str | None) -> None:
    """Forget a session: its draft key, and whatever a role keeps for it (a workspace's key)."""
    keyring().drop(token)
    for hook in current_app.extensions.get("intake_lock_hooks", ()):
        hook(token)


def lock_session():
    """Forget this session's draft key and return the redirect to the sign-in page."""
    _forget(session.pop("token", None))
    return redirect(url_for("auth.signin", locked=1), 303)


@bp.post("/lock")
@public
def lock():
    """Lock at once: forget the draft key; the password opens it again."""
    return lock_session()
