"""The unlocked workspace: the private key, the store key and the case index, in memory.

One per web process, shared by the sessions that unlocked it. Each session
proves the passphrase itself; when the last of them locks (sign-out, the
lock button, 15 idle minutes) the key, the store key and the index are
dropped. While unlocked, a background thread pulls from the hub every
interval and opens what came into the index.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

from intake import crypto, db
from intake.db import case_store as store
from intake.envelope import utc_now
from intake.workspace import casestore
from intake.workspace.audit import AuditError
from intake.workspace.index import CaseIndex
from intake.workspace.opening import Opener

SWEEP_SECONDS = 20
# Records opened before the unlock answers; more are opened in the background
# (about 5,000 a second on one core), the case list showing how many wait.
OPEN_AT_UNLOCK = 2000


@dataclass
class PullStatus:
    """What the last background pull did, for the page to show."""

    last_attempt: str | None = None
    last_success: str | None = None
    last_error: str | None = None
    summary: str | None = None
    opening: int = 0  # records waiting to be opened into the index


class Workspace:
    """The unlocked state of one workspace, for one web process."""

    def __init__(self, inst, keyring, audit_log=None):
        self.inst = inst
        self.keyring = keyring
        self.audit_log = audit_log
        self.lock = threading.RLock()
        self.sessions: dict[str, str] = {}  # session token -> username
        self.opener: Opener | None = None
        self.key: bytes | None = None
        self.index: CaseIndex | None = None
        self.loaded_chunk = 0
        self.pull_status = PullStatus()
        self._wake = threading.Event()
        self._threads_started = False
        self._opening = threading.Lock()
        self.generation = 0
        self.throttle = Throttle()
        # Each session's last search text: in memory only, never in an address.
        self.searches: dict[str, str] = {}

    # -- unlocking and locking ----------------------------------------

    def unlock(self, token: str, username: str, passphrase: str) -> None:
        """Unlock for one session with the key's passphrase.

        Raises crypto errors for a wrong passphrase, UnlockRefused after too
        many, StoreError for a store that does not open whole. The key file is
        opened even when another session already unlocked: each session
        proves the passphrase itself. Nothing is kept unless all went well.
        """
        self.throttle.check(username)
        try:
            opener = Opener.from_file(self.inst.coordinator_key_path(), passphrase)
        except (crypto.CryptoError, ValueError):
            self.throttle.failed(username)
            raise
        self.throttle.succeeded(username)
        with self.lock:
            if self.opener is None:
                key, index, last = _load_whole(self.inst, opener)
                self.opener, self.key, self.index, self.loaded_chunk = opener, key, index, last
                self.generation += 1
            self.sessions[token] = username
            self._start_threads()
        try:
            if self.waiting() <= OPEN_AT_UNLOCK:
                self.open_waiting()  # a few: the first page shows them at once
        except casestore.StoreError as e:
            self.pull_status.last_error = str(e)
        self._wake.set()  # many: opened in the background, the page says how many wait

    def waiting(self) -> int:
        """Count the verified records not yet opened into the store."""
        database = db.open_database(self.inst.path)
        try:
            return store.count_unopened(database)
        finally:
            database.close()

    def is_unlocked(self, token: str | None) -> bool:
        with self.lock:
            return token is not None and token in self.sessions and self.opener is not None

    def lock_session(self, token: str | None) -> bool:
        """Lock one session, and drop everything if it was the last; tell if it was unlocked."""
        with self.lock:
            username = self.sessions.pop(token, None) if token else None
            self.searches.pop(token, None)
            if not self.sessions:
                self._drop()
        if username and self.audit_log is not None:
            try:
                self.audit_log.append(username, "lock")
            except AuditError as e:  # locked all the same: a lock never fails
                print(f"workspace lock not logged: {e}", file=sys.stderr, flush=True)
        return username is not None

    def remember_search(self, token: str | None, text: str) -> None:
        """Keep a session's search text (it may be a name: it stays out of addresses)."""
        with self.lock:
            if token in self.sessions:
                self.searches[token] = text

    def remembered_search(self, token: str | None) -> str:
        with self.lock:
            return self.searches.get(token, "")

    def still_unlocked(self, generation: int) -> bool:
        """Tell whether the unlock of this generation still holds (no lock since)."""
        return self.generation == generation and self.opener is not None

    def sweep(self) -> None:
        """Lock the sessions the key ring has forgotten (idle, signed out)."""
        now = time.time()
        with self.lock:
            gone = [t for t in self.sessions if not self.keyring.is_alive(t, now)]
        for token in gone:
            self.lock_session(token)

    def _drop(self) -> None:
        self.searches.clear()
        self.opener = self.key = self.index = None
        self.loaded_chunk = 0
        self.generation += 1  # whatever still holds the old key stops at its next check

    # -- the index --------------------------------------------------------

    def _load_new_chunks(self, database) -> int:
        """Add the chunks stored since the last load to the index (under self.lock)."""
        added, self.loaded_chunk = load_index(database, self.key, self.index, self.loaded_chunk)
        return added

    def open_waiting(self) -> int:
        """Open the verified envelopes not yet in the store, and add them to the index."""
        with self._opening:  # one opener at a time; the index stays readable meanwhile
            with self.lock:
                opener, key, generation = self.opener, self.key, self.generation
            if opener is None:
                return 0
            database = db.open_database(self.inst.path)
            try:
                self.pull_status.opening = store.count_unopened(database)

                def progress(report):
                    self.pull_status.opening = max(
                        0, self.pull_status.opening - casestore.OPEN_BATCH
                    )

                try:
                    casestore.ingest(
                        database, opener, key, self.text_questions(), progress,
                        keep_going=lambda: self.still_unlocked(generation),
                    )  # fmt: skip
                except casestore.Stopped:
                    return 0  # locked meanwhile: the key opens nothing more
                finally:
                    self.pull_status.opening = 0
                with self.lock:
                    if self.still_unlocked(generation):
                        return self._load_new_chunks(database)
                return 0
            finally:
                database.close()

    @staticmethod
    def text_questions() -> frozenset[str]:
        return text_questions()

    # -- background pulling ------------------------------------------------

    def pull_now(self) -> None:
        """Ask the background thread to pull at once."""
        self._wake.set()

    def _start_threads(self) -> None:
        if self._threads_started:
            return
        self._threads_started = True
        threading.Thread(target=self._pull_loop, name="intake-pull", daemon=True).start()
        threading.Thread(target=self._sweep_loop, name="intake-lock", daemon=True).start()

    def _sweep_loop(self) -> None:
        while True:
            time.sleep(SWEEP_SECONDS)
            try:
                self.sweep()
            except Exception as e:  # noqa: BLE001 - locking must outlive any one failure
                print(f"workspace lock sweep failed: {e}", file=sys.stderr, flush=True)

    def _pull_loop(self) -> None:
        interval = float(self.inst.settings.get("pull_interval_seconds", 300))
        while True:
            self._wake.wait(interval)
            self._wake.clear()
            if self.opener is None:
                continue  # locked: nothing is pulled or opened until someone unlocks
            try:
                self._pull_once()
                self.open_waiting()
            except Exception as e:  # noqa: BLE001 - the loop must outlive any one failure
                print(f"background pull failed: {type(e).__name__}: {e}", file=sys.stderr)

    def _pull_once(self) -> None:
        from intake.workspace.pulling import PullError, pull

        database = db.open_database(self.inst.path)
        try:
            connected = db.get_pull_state(database, "hub_url")
        finally:
            database.close()
        if not connected:
            return
        self.pull_status.last_attempt = utc_now()
        try:
            report = pull(self.inst)
        except PullError as e:
            self.pull_status.last_error = str(e)
            return
        self.pull_status.last_success = utc_now()
        self.pull_status.last_error = None
        self.pull_status.summary = report.summary()
        if self.audit_log is not None:
            for d in report.pinning.new:
                self.audit_log.append("system", "device_pinned", d["device"])
            for d in report.pinning.key_changed:
                self.audit_log.append("system", "device_key_changed", d["device"])
            if report.new:
                self.audit_log.append("system", "pull", None, {"new": report.new})


def text_questions() -> frozenset[str]:
    """Return the ids of the questions whose typed answers the search looks into."""
    from intake.questionnaire import available_questionnaires, load_questionnaire

    return frozenset(
        q.id
        for name in available_questionnaires()
        for q in load_questionnaire(name).questions
        if q.type in ("short_text", "long_text")
    )


def load_index(database, key: bytes, index: CaseIndex, after: int = 0) -> tuple[int, int]:
    """Add the summaries of the chunks after `after` to the index; return (added, last chunk)."""
    posts = {d: row["name"] for d, row in db.pinned_devices(database).items()}
    statuses = store.statuses(database)
    summaries, last = [], after
    for number, chunk in casestore.load_summaries(database, key, after):
        summaries += chunk
        last = number
    return index.add(summaries, statuses, posts), last


def open_store(database, opener: Opener) -> CaseIndex:
    """Open everything waiting and load the whole index (the command line's unlock)."""
    key = casestore.store_key(database, opener)
    casestore.ingest(database, opener, key, text_questions())
    index = CaseIndex()
    load_index(database, key, index)
    casestore.check_complete(database, len(index))
    return index


def _load_whole(inst, opener: Opener) -> tuple[bytes, CaseIndex, int]:
    """Derive the store key and load every chunk; refuse a store that is not whole."""
    database = db.open_database(inst.path)
    try:
        key = casestore.store_key(database, opener)
        index = CaseIndex()
        _added, last = load_index(database, key, index)
        casestore.check_complete(database, len(index))
        return key, index, last
    finally:
        database.close()


class UnlockRefused(Exception):
    """Too many wrong passphrases: wait this many seconds."""

    def __init__(self, wait: int):
        super().__init__(f"too many wrong passphrases: wait {wait} s")
        self.wait = wait


class Throttle:
    """Slow down guesses of the key's passphrase, as sign-in does for passwords.

    After 3 wrong passphrases a name waits 1, 2, 4... seconds between
    attempts; after 8 it waits 15 minutes. Kept in memory: a restart, which
    an attacker holding a session cannot cause, starts over.
    """

    FREE, LOCK_AFTER, LOCK_SECONDS = 3, 8, 15 * 60

    def __init__(self):
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def check(self, username: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            count, last = self._failures.get(username, (0, 0.0))
        if count < self.FREE:
            return
        wait = self.LOCK_SECONDS if count >= self.LOCK_AFTER else 2 ** (count - self.FREE)
        if now - last < wait:
            raise UnlockRefused(int(wait - (now - last)) + 1)

    def failed(self, username: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            count, _last = self._failures.get(username, (0, 0.0))
            self._failures[username] = (count + 1, now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)
