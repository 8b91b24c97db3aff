"""The field node's background sync: push the outbox whenever the hub is reachable."""

from __future__ import annotations

import sys
import threading

from intake import db
from intake.envelope import utc_now
from intake.field import sync


def start_background_sync(inst) -> None:
    """Push the outbox to the hub whenever it is reachable, every interval."""
    interval = float(inst.settings.get("sync_interval_seconds", 60))

    def loop() -> None:
        while True:
            try:
                database = db.open_database(inst.path)
                enrolled = db.get_sync_state(database, "hub_url")
                database.close()
                if enrolled:
                    sync.sync(inst, retries=0)
            except sync.SyncError as e:
                _remember_failure(inst, str(e))
            except Exception as e:  # noqa: BLE001 - the loop must outlive any one failure
                print(
                    f"background sync failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True
                )
            threading.Event().wait(interval)

    threading.Thread(target=loop, name="intake-sync", daemon=True).start()


def _remember_failure(inst, message: str) -> None:
    database = db.open_database(inst.path)
    db.set_sync_state(database, "last_failure", f"{utc_now()} {message}")
    database.close()
