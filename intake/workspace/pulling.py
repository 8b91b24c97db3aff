"""Workspace from hub: connect once with a coordinator token, then pull page by page.

Resumable and idempotent: each page is stored with the cursor after it in
one transaction, so a pull cut anywhere starts again where it stopped, and
a second pull finds nothing new. Every record's origin is checked here, by
the workspace, with the device keys it pinned (see `origin`).
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass, field

from intake import crypto, db, http, instance
from intake.envelope import utc_now
from intake.page import PageError, read_page
from intake.workspace import origin

PAGE_LIMIT = 5_000
JUDGE_CHUNK = 500
TOKEN_FILE = "hub.token"  # noqa: S105 - a file name, not a secret


class PullError(Exception):
    """The hub could not be reached, refused the token, or answered nonsense."""


@dataclass
class PullReport:
    """What one pull brought."""

    new: int = 0
    verified: int = 0
    unverifiable: int = 0
    refused: int = 0
    already: int = 0
    pinning: origin.Pinning = field(default_factory=origin.Pinning)
    refusals: list[dict] = field(default_factory=list)

    def count(self, rows: list[dict], seen: int) -> None:
        """Add a stored page's new rows, out of `seen` envelopes handed out."""
        self.new += len(rows)
        self.already += seen - len(rows)
        for row in rows:
            setattr(self, row["origin"], getattr(self, row["origin"]) + 1)
            if row["origin"] == origin.REFUSED:
                self.refusals.append(row)

    def summary(self) -> str:
        return (
            f"pulled {self.new} new ({self.verified} verified, {self.unverifiable} unverifiable,"
            f" {self.refused} refused); {self.already} already here"
        )


def _get(url: str, path: str, token: str, pin: str | None) -> tuple[str, bytes]:
    try:
        status, content_type, body = http.request(
            url, "GET", path, None, {"Authorization": f"Bearer {token}"}, pin
        )
    except http.HttpError as e:
        raise PullError(str(e)) from None
    if status == 401:
        raise PullError("the hub refused the token (revoked, or not this hub's)")
    if status != 200:
        raise PullError(f"the hub answered {status} to {path}")
    return content_type, body


def fetch_devices(url: str, token: str, pin: str | None) -> list[dict]:
    """Fetch the hub's device list, checked for shape."""
    _type, body = _get(url, "/api/v1/devices", token, pin)
    try:
        return origin.check_device_list(json.loads(body))
    except (ValueError, RecursionError, origin.DeviceListError) as e:
        raise PullError(f"the hub's device list: {e}") from None


def connect(inst: instance.Instance, url: str, token: str, pin: str | None) -> list[dict]:
    """Check the hub answers this token (over the pinned certificate); remember both."""
    inst.require_role("workspace")
    pin = http.normalise_fingerprint(pin) if pin else None
    devices = fetch_devices(url, token, pin)
    database = db.open_database(inst.path)
    try:
        crypto.write_private_file(inst.path / TOKEN_FILE, token.encode("utf-8"))
        state = {"hub_url": url, "hub_pin": pin or ""}
        if db.get_pull_state(database, "hub_url") != url:
            state["cursor"] = "0"  # another hub numbers its envelopes its own way
        db.store_pulled(database, [], state)
    finally:
        database.close()
    return devices


def _connection_of(inst: instance.Instance, database) -> tuple[str, str, str | None]:
    url = db.get_pull_state(database, "hub_url")
    token_file = inst.path / TOKEN_FILE
    if not url or not token_file.exists():
        raise PullError("this workspace is not connected to a hub (run: intake connect)")
    token = token_file.read_text("utf-8").strip()
    return url, token, db.get_pull_state(database, "hub_pin") or None


def pull(
    inst: instance.Instance,
    progress: Callable[[PullReport], None] = lambda _r: None,
    limit: int = PAGE_LIMIT,
    jobs: int = 1,
) -> PullReport:
    """Pin new devices, then fetch and store every page after the stored cursor.

    With `jobs` > 1, worker processes check the signatures of one page
    while the next is being fetched (Ed25519 verification is most of the work).
    """
    inst.require_role("workspace")
    database = db.open_database(inst.path)
    pool = multiprocessing.get_context("fork").Pool(jobs) if jobs > 1 else None
    try:
        url, token, pin = _connection_of(inst, database)
        report = PullReport()
        report.pinning = origin.pin_devices(database, fetch_devices(url, token, pin))
        pinned = db.pinned_devices(database)

        def fetch(after: str):
            _type, body = _get(url, f"/api/v1/envelopes?after={after}&limit={limit}", token, pin)
            try:
                return read_page(body, after)
            except PageError as e:
                raise PullError(f"the hub's page after {after}: {e}") from None

        page = fetch(db.get_pull_state(database, "cursor") or "0")
        while True:
            judging = _judge_async(pool, page.entries, pinned)
            following = fetch(page.next) if page.more else None
            rows = _collect(judging, report)
            report.count(db.store_pulled(database, rows, {"cursor": page.next}), len(rows))
            progress(report)
            if following is None:
                return report
            page = following
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        database.close()


def _judge_chunk(entries: list, pinned: dict) -> list[tuple]:
    return [
        (e.device, origin.check_record(e.device, e.envelope, e.signature, pinned)) for e in entries
    ]


def _judge_async(pool, entries: list, pinned: dict) -> list:
    """Start checking a page's records: in the workers if there are any, else now."""
    if pool is None:
        return [_judge_chunk(entries, pinned)]
    chunks = [entries[i : i + JUDGE_CHUNK] for i in range(0, len(entries), JUDGE_CHUNK)]
    return [pool.apply_async(_judge_chunk, (chunk, pinned)) for chunk in chunks]


def _collect(judging: list, report: PullReport) -> list[dict]:
    received, rows = utc_now(), []
    for part in judging:
        for device, row in part if isinstance(part, list) else part.get():
            if row is None:
                # No header, so no id to keep it under: reported, never a case.
                report.refused += 1
                report.refusals.append(
                    {"device": device, "id": "?", "reason": "not a well-formed envelope"}
                )
                continue
            rows.append({**row, "source": "hub", "received": received})
    return rows
