"""Issue 8.10: an enrolment code is taken however people type what they read.

Codes are written in Crockford's base32 alphabet, which has no O, I, L or U;
typed O is read as 0, I or L as 1, in any case, with spaces or hyphens.
The code below is stored the way codes have always been stored (the SHA-256
of its 16 upper-case characters), so codes handed out earlier stay valid.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from intake import crypto, db
from intake.hub.enrolment import EnrolmentError, enrol, new_code
from tests.hubs import make_hub

ISSUED = "D08F-9YGY-V1SR-795Y"  # as printed by `intake hub enroll-code`


@pytest.fixture
def hub_db(tmp_path, coordinator_key):
    inst, _app = make_hub(tmp_path, coordinator_key)
    database = db.open_database(inst.path)
    yield database
    database.close()


def _issue(database, code: str = ISSUED) -> None:
    stored = hashlib.sha256(code.replace("-", "").encode()).hexdigest()
    db.add_enrol_code(database, stored, "Crossing 7", "2026-11-30T12:00:00Z", time.time() + 3600)


def _key() -> str:
    return crypto.raw_public_key(crypto.new_device_key()).hex()


@pytest.mark.parametrize(
    "typed",
    [
        "D08F-9YGY-V1SR-795Y",
        "DO8F-9YGY-V1SR-795Y",  # O for 0
        "DO8F-9YGY-VISR-795Y",  # and I for 1
        "do8f-9ygy-vlsr-795y",  # lower case, l for 1
        "D08F 9YGY V1SR 795Y",  # spaces instead of hyphens
        " d 0 8 f 9ygyv1sr795y ",
        "D08F\u20139YGY\u2013V1SR\u2013795Y",  # a phone's en dashes
    ],
)
def test_a_mistyped_code_is_read_as_issued(hub_db, typed):
    _issue(hub_db)
    _device, name = enrol(hub_db, typed, _key())
    assert name == "Crossing 7"


@pytest.mark.parametrize(
    "typed", ["D08F-9YGY-V1SR-795", "D08F-9YGY-V1SR-795Z", "D08F-9YGY-V7SR-795Y"]
)
def test_a_different_code_is_still_refused(hub_db, typed):
    _issue(hub_db)
    with pytest.raises(EnrolmentError, match="wrong"):
        enrol(hub_db, typed, _key())


def test_new_codes_never_hold_an_ambiguous_character(hub_db):
    seen = set()
    for _ in range(200):
        code = new_code(hub_db, "x")
        assert len(code) == 19 and code[4::5] == "---"
        seen |= set(code.replace("-", ""))
    assert seen <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert not seen & set("ILOU")


def test_a_fresh_code_typed_with_look_alikes_enrols(hub_db):
    code = new_code(hub_db, "Crossing 9")
    typed = code.lower().replace("0", "o").replace("1", "l").replace("-", " ")
    assert enrol(hub_db, typed, _key())[1] == "Crossing 9"
