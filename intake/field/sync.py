"""Field to hub: enrol once, then push signed batches until the outbox is empty.

Nothing is lost and nothing doubled however a sync is cut: every record
keeps its UUID, the hub stores by it, and the field forgets a record only
after the hub has said it holds it. A cut connection just means the same
records are sent again, and the hub answers "duplicate" for those it had.
A record the hub refuses stays in the outbox, to be sent again next time.
"""

from __future__ import annotations

import io
import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from intake import crypto, db, http, instance
from intake.batch import write_batch
from intake.envelope import utc_now
from intake.field import recipients

CHUNK = 500


class SyncError(Exception):
    """The hub could not be reached (worth retrying), or refused what was sent (not)."""

    def __init__(self, message: str, retry: bool = False):
        super().__init__(message)
        self.retry = retry


@dataclass
class SyncReport:
    """What one sync achieved."""

    sent: int = 0
    stored: int = 0
    duplicate: int = 0
    rejected: int = 0
    pending: int = 0
    attention: int = 0  # pending records the hub refused last time it was asked
    recipients: recipients.ListReport | None = None  # what the hub's key list changed


def post(url: str, path: str, body: bytes, content_type: str, pin: str | None = None) -> dict:
    """POST to the hub; return its JSON answer, or raise SyncError with its reason."""
    try:
        status, _type, payload = http.request(
            url, "POST", path, body, {"Content-Type": content_type}, pin
        )
    except http.HttpError as e:
        raise SyncError(str(e), retry=e.retry) from None
    try:
        answer = json.loads(payload)
    except ValueError:
        raise SyncError(f"the hub answered {status} without JSON", retry=True) from None
    if status != 200:
        message = answer.get("error", f"the hub answered {status}")
        raise SyncError(message, retry=status >= 500)
    return answer


def enrol(inst: instance.Instance, hub_url: str, code: str, pin: str | None) -> dict:
    """Register this device with the hub; return its answer with the offered keys parsed.

    The recipient keys the hub offers are NOT installed here: a key sealed to
    reads every later record, so each must first be confirmed against a
    fingerprint the coordinators give out of band (`accept_recipients`).
    """
    inst.require_role("field")
    public_key = crypto.raw_public_key(inst.device_key()).hex()
    body = json.dumps({"code": code, "public_key": public_key}).encode()
    answer = post(hub_url, "/api/v1/enroll", body, "application/json", pin)
    offered = []
    for recipient in answer.get("recipients", []):
        try:
            offered.append(crypto.parse_recipient_public_key(recipient["pem"].encode()))
        except (crypto.KeyFileError, KeyError, TypeError, AttributeError):
            raise SyncError("the hub offered a key that is not a P-256 public key") from None
    answer["offered"] = offered
    receipt_key = _receipt_key(answer)
    database = db.open_database(inst.path)
    db.set_sync_state(database, "hub_url", hub_url)
    db.set_sync_state(database, "hub_pin", pin or "")
    # Pinned here, from the hub whose certificate was just checked: receipts
    # of hand-carried batches must be signed by it (intake outbox ack).
    db.set_sync_state(database, "hub_receipt_key", receipt_key)
    database.close()
    pinned = crypto.receipt_public_key(bytes.fromhex(receipt_key)) if receipt_key else None
    answer["receipt_key_id"] = crypto.key_id(pinned) if pinned else None
    return answer


def _receipt_key(answer: dict) -> str:
    """Return the hub's receipt key from its enrolment answer ("" from a hub without one)."""
    offered = answer.get("receipt_key")
    if offered is None:
        return ""
    try:
        crypto.receipt_public_key(bytes.fromhex(offered))
    except (ValueError, TypeError, crypto.AuthenticationError):
        raise SyncError("the hub offered a receipt key that is not an Ed25519 public key") from None
    return offered.lower()


normalise_fingerprint = http.normalise_fingerprint


def accept_recipients(inst: instance.Instance, offered: list, confirm) -> tuple[list, list]:
    """Install the offered keys that `confirm(key)` approves; return (installed, refused)."""
    existing = inst.recipient_ids()
    installed, refused = [], []
    for key in offered:
        if crypto.key_id(key) in existing:
            continue
        if confirm(key):
            instance.add_recipient(inst.path, key)
            installed.append(key)
        else:
            refused.append(key)
    return installed, refused


def _batch_of(chunk: list[tuple[str, str, bytes]], device_key) -> bytes:
    out = io.BytesIO()
    write_batch(out, (envelope for _id, _created, envelope in chunk), len(chunk), device_key)
    return out.getvalue()


def _results_for(answer: dict, sent: set[str]) -> list[dict]:
    """Keep the well-formed answers about records that were sent."""
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise SyncError("the hub's answer has no per-record results", retry=True)
    return [
        r
        for r in results
        if isinstance(r, dict)
        and isinstance(r.get("id"), str)
        and r["id"] in sent
        and isinstance(r.get("status"), str)
    ]


def _push_chunk(database, inst, url: str, pin: str | None, report: SyncReport, after):
    """Send the oldest records not yet sent in this pass; return where it stopped, or None."""
    chunk = db.pending_chunk(database, CHUNK, after)
    if not chunk:
        return None
    answer = post(
        url, "/api/v1/batches", _batch_of(chunk, inst.device_key()), "application/octet-stream", pin
    )
    results = _results_for(answer, {record_id for record_id, _, _ in chunk})
    keep = float(inst.settings.get("retention_hours", 0)) > 0
    db.record_hub_answers(database, results, utc_now(), keep)
    report.sent += len(chunk)
    for result in results:
        if result["status"] == "stored":
            report.stored += 1
        elif result["status"] == "duplicate":
            report.duplicate += 1
        else:
            report.rejected += 1
    last_id, last_created, _ = chunk[-1]
    return last_created, last_id


def _purge_kept(database, inst: instance.Instance) -> None:
    """Delete acknowledged records kept past the retention setting."""
    hours = float(inst.settings.get("retention_hours", 0))
    if hours > 0:
        cutoff = datetime.now(UTC) - timedelta(hours=hours)
        db.purge_acknowledged(database, cutoff.strftime("%Y-%m-%dT%H:%M:%SZ"))


def backoff(attempt: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Seconds to wait before retry `attempt`: exponential, with full jitter."""
    return random.uniform(0, min(cap, base * 2**attempt))  # noqa: S311 - timing, not secrets


def refresh_recipients(inst: instance.Instance, url: str, pin: str | None):
    """Fetch the hub's signed recipient list and follow it; never fails the sync.

    Records are delivered first: a list that cannot be had or is refused
    leaves this device's keys as they were, and says why in one line.
    """
    try:
        status, _type, payload = http.request(url, "GET", "/api/v1/recipients", None, {}, pin)
    except http.HttpError as e:
        return recipients.ListReport(warning=f"the hub's recipient list could not be fetched: {e}")
    if status == 404:
        return recipients.ListReport(
            warning="the hub sends no recipient list (an older version): keys unchanged here"
        )
    if status != 200:
        return recipients.ListReport(
            warning=f"the hub answered {status} for its recipient list: keys unchanged here"
        )
    return recipients.apply_list(inst, payload)


def sync(inst: instance.Instance, retries: int = 5, sleep=time.sleep) -> SyncReport:
    """Push every unsent record to the hub, retrying with backoff; resume where it stopped."""
    database = db.open_database(inst.path)
    try:
        url = db.get_sync_state(database, "hub_url")
        if not url:
            raise SyncError("this device is not enrolled with a hub (run: intake enroll)")
        pin = db.get_sync_state(database, "hub_pin") or None
        report, attempt, after = SyncReport(), 0, None
        while True:
            try:
                after = _push_chunk(database, inst, url, pin, report, after)
                if after is None:
                    break
                attempt = 0
            except SyncError as e:
                if not e.retry or attempt >= retries:
                    raise
                sleep(backoff(attempt))
                attempt += 1
        db.set_sync_state(database, "last_sync", utc_now())
        _purge_kept(database, inst)
        report.recipients = refresh_recipients(inst, url, pin)
        summary = db.outbox_summary(database)
        report.pending, report.attention = summary["pending"], summary["attention"]
        return report
    finally:
        database.close()
