"""Workspace from hub: connect once with a coordinator token, then pull page by page.

Resumable and idempotent: each page is stored with the cursor after it in
one transaction, so a pull cut anywhere starts again where it stopped, and
a second pull finds nothing new. Every record's origin is checked here, by
the workspace, with the device keys it pinned (see `origin`).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from intake import crypto, db, http, instance
from intake.envelope import utc_now
from intake.page import SIGNATURE_LENGTH, PageError, PageHead, entry_spans, read_head
from intake.workspace import origin

PAGE_LIMIT = 5_000
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
    if url.startswith("https://") and not pin:
        raise PullError(
            "an https:// hub needs --fingerprint: its certificate's SHA-256 fingerprint,"
            " from the hub's administrator (intake serve --tls prints it)"
        )
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

    With `jobs` > 1, worker processes read and check whole pages (Ed25519
    verification is most of the work) while this process fetches the next
    pages and stores the checked ones, in order, each with its cursor.
    """
    inst.require_role("workspace")
    # Forked before the database is opened: the workers never hold it.
    pool = multiprocessing.get_context("fork").Pool(jobs) if jobs > 1 else None
    database = db.open_database(inst.path)
    try:
        url, token, pin = _connection_of(inst, database)
        report = PullReport()
        report.pinning = origin.pin_devices(database, fetch_devices(url, token, pin))
        pinned = db.pinned_devices(database)

        def fetch(after: str) -> _Fetched:
            body = _get(url, f"/api/v1/envelopes?after={after}&limit={limit}", token, pin)[1]
            with _page_after(after):
                head = read_head(body, after)
            return _Fetched(after, body, head, _judge(pool, body, after, pinned))

        # Pages in flight: one being checked per worker and one waiting, so
        # no worker waits while a page is fetched or stored.
        depth = jobs + 1 if pool is not None else 1
        for page in _in_order(fetch, db.get_pull_state(database, "cursor") or "0", depth):
            rows = _rows(page, report)
            report.count(db.store_pulled(database, rows, {"cursor": page.head.next}), len(rows))
            progress(report)
        return report
    finally:
        if pool is not None:
            pool.terminate()  # after a refused page, the pages behind it are not wanted
            pool.join()
        database.close()


@dataclass
class _Fetched:
    """A page fetched, its header checked, its entries being checked; not yet stored."""

    after: str
    body: bytes
    head: PageHead
    judging: object  # its .get() answers _judge_page(body, after, ...)


@contextlib.contextmanager
def _page_after(after: str) -> Iterator[None]:
    try:
        yield
    except PageError as e:
        raise PullError(f"the hub's page after {after}: {e}") from None


def _in_order(fetch: Callable[[str], _Fetched], after: str, depth: int) -> Iterator[_Fetched]:
    """Yield the pages after the cursor in order, fetching up to `depth` ahead.

    A fetch that fails is raised after the pages fetched before it, so that
    they are stored and the next pull starts after them.
    """
    pending: deque[_Fetched] = deque()
    more, failure = True, None
    while more or pending:
        if more and len(pending) < depth:
            try:
                page = fetch(after)
            except PullError as e:
                more, failure = False, e
                continue
            pending.append(page)
            after, more = page.head.next, page.head.more
            continue
        yield pending.popleft()
    if failure is not None:
        raise failure


def _judge_page(body: bytes, after: str, pinned: dict) -> list[tuple]:
    """Read a page strictly and judge each record's origin; return compact answers.

    Run in a worker: each entry comes back as (device, start, end, signature
    start, judgement), the envelope bytes staying in the page the main
    process holds. The judgement is None for an envelope with no header, or
    (id, kind, created, origin, reason).
    """
    judged = []
    for device, start, end, signature in entry_spans(body, read_head(body, after)):
        envelope = body[start:end]
        signed = body[signature : signature + SIGNATURE_LENGTH] if signature is not None else None
        row = origin.check_record(device, envelope, signed, pinned)
        verdict = None if row is None else tuple(row[c] for c in _VERDICT)
        judged.append((device, start, end, signature, verdict))
    return judged


_VERDICT = ("id", "kind", "created", "origin", "reason")


class _Done:
    """An answer already computed, read like a worker's."""

    def __init__(self, compute: Callable[[], list[tuple]]):
        try:
            self.value, self.error = compute(), None
        except PageError as e:
            self.value, self.error = None, e

    def get(self) -> list[tuple]:
        if self.error is not None:
            raise self.error
        return self.value


def _judge(pool, body: bytes, after: str, pinned: dict):
    """Start checking a page: in a worker if there are any, else now."""
    if pool is None:
        return _Done(lambda: _judge_page(body, after, pinned))
    return pool.apply_async(_judge_page, (body, after, pinned))


def _rows(page: _Fetched, report: PullReport) -> list[dict]:
    """Wait for a page's judgement; return its rows for the store."""
    with _page_after(page.after):
        judged = page.judging.get()
    received, body, rows = utc_now(), page.body, []
    for device, start, end, signature, verdict in judged:
        if verdict is None:
            # No header, so no id to keep it under: reported, never a case.
            report.refused += 1
            report.refusals.append(
                {"device": device, "id": "?", "reason": "not a well-formed envelope"}
            )
            continue
        record_id, kind, created, state, reason = verdict
        rows.append(
            {
                "device": device,
                "id": record_id,
                "kind": kind,
                "created": created,
                "envelope": body[start:end],
                "signature": (
                    body[signature : signature + SIGNATURE_LENGTH]
                    if signature is not None
                    else None
                ),
                "source": "hub",
                "received": received,
                "origin": state,
                "reason": reason,
            }
        )
    return rows
