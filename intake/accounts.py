"""Accounts: who may sign in, with what role, and how repeated failures are slowed.

Pure logic over `intake.db`; the web side (sessions, locking) is `intake.auth`.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import uuid
from dataclasses import dataclass

from intake import crypto, db
from intake.envelope import utc_now

ROLES = ("officer", "ngo", "coordinator", "admin")
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")
PASSWORD_MIN_LENGTH = 10
# Failed sign-ins: the first few are free (typos on a tablet keyboard); then
# each attempt must wait twice as long as the last; then the name is locked.
FREE_FAILURES = 3
LOCK_AFTER = 8
LOCK_SECONDS = 15 * 60
MAX_WAIT_SECONDS = 60


class AccountError(Exception):
    """A user cannot be created as asked."""


class SignInRefused(Exception):
    """A sign-in is refused; `wait` says how many seconds before trying again."""

    def __init__(self, reason: str, wait: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


@dataclass(frozen=True)
class SignedIn:
    """A user who has just proved their password, with their draft key."""

    user_id: str
    username: str
    role: str
    draft_key: bytes


def create_user(database, username: str, role: str, password: str, parameters=None) -> dict:
    """Create a user with an Argon2id password hash and a draft-key salt."""
    if not USERNAME.fullmatch(username):
        raise AccountError("user names are 2-32 lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(f"passwords need at least {PASSWORD_MIN_LENGTH} characters")
    parameters = parameters or crypto.ARGON2_PARAMETERS
    user = {
        "id": str(uuid.uuid4()),
        "username": username,
        "role": role,
        "password": crypto.hash_password(password, parameters),
        "draft_kdf": json.dumps(crypto.new_draft_kdf(parameters)),
        "created": utc_now(),
        "disabled": 0,
    }
    try:
        db.add_user(database, user)
    except db.DuplicateUserError:
        raise AccountError(f"a user named {username!r} exists already") from None
    return user


@functools.cache
def _decoy_hash() -> str:
    return crypto.hash_password(secrets.token_hex(16))


def _check_not_throttled(database, username: str, now: float) -> None:
    state = db.sign_in_failures(database, username)
    if state["locked_until"] > now:
        raise SignInRefused("locked", int(state["locked_until"] - now) + 1)
    extra = state["failures"] - FREE_FAILURES
    if extra >= 0:
        wait_until = state["last_failure"] + min(2**extra, MAX_WAIT_SECONDS)
        if wait_until > now:
            raise SignInRefused("wait", int(wait_until - now) + 1)


def _fail(database, username: str, now: float) -> SignInRefused:
    failures = db.sign_in_failures(database, username)["failures"] + 1
    locked_until = now + LOCK_SECONDS if failures >= LOCK_AFTER else 0.0
    db.record_sign_in_failure(database, username, now, locked_until)
    if locked_until:
        return SignInRefused("locked", LOCK_SECONDS)
    return SignInRefused("wrong")


def authenticate(database, username: str, password: str, now: float) -> SignedIn:
    """Check a password, slowing and then refusing repeated failures.

    An unknown name fails exactly like a wrong password, and is throttled
    the same way, so that the form does not tell which names exist.
    """
    username = username.strip().lower()[:64]
    _check_not_throttled(database, username, now)
    user = db.user_by_name(database, username)
    # An unknown name costs the same Argon2id work, so timing does not tell either.
    phc = user["password"] if user else _decoy_hash()
    if not crypto.verify_password(password, phc) or user is None:
        raise _fail(database, username, now)
    db.clear_sign_in_failures(database, username)
    draft_key = crypto.derive_draft_key(password, json.loads(user["draft_kdf"]))
    return SignedIn(user["id"], user["username"], user["role"], draft_key)
