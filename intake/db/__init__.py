"""Storage: the one package that talks to SQLite.

Field devices will carry old databases for years, so the schema only ever
changes through numbered migrations (`schema.py`). Every table keeps sealed
envelopes or metadata, never an answer in the clear (DESIGN invariant 1).
Views and commands call these functions; none of them writes SQL.
"""

from intake.db.accounts import (
    DuplicateUserError,
    add_user,
    clear_sign_in_failures,
    list_users,
    record_sign_in_failure,
    set_user_disabled,
    sign_in_failures,
    user_by_id,
    user_by_name,
)
from intake.db.drafts import (
    delete_draft,
    draft_for_user,
    drafts_for_user,
    finish_draft,
    purge_expired_drafts,
    save_draft,
)
from intake.db.hub import (
    add_enrol_code,
    count_envelopes,
    device,
    enrol_device,
    envelope_ids,
    get_sync_state,
    list_devices,
    recent_batches,
    revoke_device,
    set_sync_state,
    store_batch,
    use_enrol_code,
)
from intake.db.outbox import (
    acknowledge,
    add_to_outbox,
    count_pending,
    last_export,
    outbox_summary,
    pending_chunk,
    pending_envelopes,
    purge_acknowledged,
    record_export,
    record_hub_answers,
    refused_records,
)
from intake.db.schema import DATABASE_NAME, connect, migrations, open_database

__all__ = [
    "acknowledge",
    "add_enrol_code",
    "count_envelopes",
    "device",
    "enrol_device",
    "envelope_ids",
    "get_sync_state",
    "list_devices",
    "pending_chunk",
    "purge_acknowledged",
    "record_hub_answers",
    "refused_records",
    "recent_batches",
    "revoke_device",
    "set_sync_state",
    "store_batch",
    "use_enrol_code",
    "DATABASE_NAME",
    "DuplicateUserError",
    "add_to_outbox",
    "add_user",
    "clear_sign_in_failures",
    "connect",
    "count_pending",
    "delete_draft",
    "draft_for_user",
    "drafts_for_user",
    "finish_draft",
    "last_export",
    "list_users",
    "migrations",
    "open_database",
    "outbox_summary",
    "pending_envelopes",
    "purge_expired_drafts",
    "record_export",
    "record_sign_in_failure",
    "save_draft",
    "set_user_disabled",
    "sign_in_failures",
    "user_by_id",
    "user_by_name",
]
