"""The coordinator's web app: unlock, the case list with filters and search, a case, exports, lock.

The app is built as `intake serve` builds it (CSRF on); the cases are real
screening records sealed to the coordinator's key and signed by a pinned
device. Expected values are written by hand from the answers given here.
"""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest

from intake import db
from intake.db import case_store as store
from tests.canary import describe
from tests.conftest import PASSPHRASE
from tests.served import CsrfClient, production_app, sign_in
from tests.workspaces import Device, make_workspace, screening_record, store_rows

CANARY = "CANARY-7f3e-workspace"

ADULT = {
    "danger_now": "no",
    "consent_explained": "yes",
    "consent": "yes",
    "under_18": "no",
    "age": 29,
    "gender": "woman",
    "nationality": "ER",
    "current_location": f"Calais camp {CANARY}",
    "exploitation_country": "LY",
}
CHILD = {"danger_now": "yes", "under_18": "yes", "consent_explained": "yes", "consent": "yes"}


@pytest.fixture
def workspace(tmp_path, coordinator_key):
    inst = make_workspace(tmp_path / "workspace", coordinator_key)
    north, south = Device("North crossing"), Device("South port")
    north.pin(inst)
    south.pin(inst)
    recipients = [coordinator_key.public_key()]
    rows = [
        north.seal(screening_record(ADULT, device=north.id, language="ti"), recipients),
        north.seal(screening_record(CHILD, device=north.id, language="ar"), recipients),
        south.seal(screening_record(ADULT, device=south.id, language="ar"), recipients),
    ]
    store_rows(inst, rows)
    return inst, rows, north, south


def _unlocked_client(inst, app=None):
    client = CsrfClient(app or production_app(inst.path))
    sign_in(client, "coordinator")
    response = client.post("/unlock", data={"passphrase": PASSPHRASE})
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def _refs(html: str) -> list[str]:
    return re.findall(r'href="/cases/[0-9a-f]+/[0-9a-f-]+">([0-9A-F]{4}-[0-9A-F]{4})<', html)


def test_cases_wait_for_the_unlock_and_a_wrong_passphrase_is_refused(workspace):
    inst, _rows, _n, _s = workspace
    client = CsrfClient(production_app(inst.path))
    sign_in(client, "coordinator")
    response = client.get("/cases")
    assert response.status_code == 303 and "/unlock" in response.headers["Location"]
    response = client.post("/unlock", data={"passphrase": "not the passphrase at all"})
    assert response.status_code == 401
    assert "does not open" in response.get_data(as_text=True)
    assert client.get("/cases").status_code == 303


def test_unlock_lists_filters_and_searches_the_cases(workspace):
    inst, rows, north, _south = workspace
    client = _unlocked_client(inst)
    html = client.get("/cases").get_data(as_text=True)
    assert "3 cases match" in html
    assert len(_refs(html)) == 3
    html = client.get("/cases?age=child").get_data(as_text=True)
    assert "1 case matches" in html
    html = client.get(f"/cases?post={north.id}").get_data(as_text=True)
    assert "2 cases match" in html
    html = client.get("/cases?language=ti").get_data(as_text=True)
    assert "1 case matches" in html
    html = client.get("/cases?q=calais+camp").get_data(as_text=True)
    assert "2 cases match" in html
    html = client.get("/cases?q=nowhere-to-be-found").get_data(as_text=True)
    assert "0 cases match" in html
    assert client.get("/cases?status=lost").status_code == 400
    assert client.get("/cases?since=2026-13-01").status_code == 400


def test_a_case_shows_its_answers_origin_and_possible_duplicates(workspace):
    inst, rows, north, south = workspace
    client = _unlocked_client(inst)
    response = client.get(f"/cases/{south.id}/{rows[2]['id']}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "South port" in html and CANARY in html
    assert "Possible duplicates" in html  # same nationality, gender, country and age
    assert rows[0]["id"] in html
    assert client.get(f"/cases/{south.id}/{rows[0]['id']}").status_code == 404


def test_a_status_change_is_kept(workspace):
    inst, rows, north, _south = workspace
    client = _unlocked_client(inst)
    url = f"/cases/{north.id}/{rows[1]['id']}"
    assert client.post(f"{url}/status", data={"status": "referred"}).status_code == 303
    assert client.post(f"{url}/status", data={"status": "lost"}).status_code == 400
    database = db.open_database(inst.path)
    assert store.statuses(database)[(north.id, rows[1]["id"])][0] == "referred"
    database.close()
    html = client.get("/cases?status=referred").get_data(as_text=True)
    assert "1 case matches" in html


def test_exports_open_with_csv_and_openpyxl(workspace):
    inst, rows, _north, _south = workspace
    client = _unlocked_client(inst)
    refused = client.post("/export", data={"format": "csv"})
    assert refused.status_code == 303  # the box "I will protect the exported file" not ticked
    response = client.post("/export", data={"format": "csv", "understood": "yes", "age": "adult"})
    assert response.status_code == 200
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert sorted(r["record_id"] for r in table) == sorted([rows[0]["id"], rows[2]["id"]])
    response = client.post("/export", data={"format": "xlsx", "understood": "yes"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 4  # the header and three cases
    response = client.post("/export", data={"format": "htcds", "understood": "yes"})
    assert response.status_code == 200


def test_no_answer_reaches_the_workspace_folder_after_unlock_views_and_lock(workspace):
    inst, rows, north, south = workspace
    client = _unlocked_client(inst)
    client.get("/cases?q=calais")
    client.get(f"/cases/{south.id}/{rows[2]['id']}")
    client.get("/dashboard")
    client.post("/lock")
    assert client.get("/cases").status_code in (302, 303)
    assert describe(inst.path, CANARY) == []


def test_the_server_keeps_every_response_in_memory(workspace):
    """waitress spills a response past `outbuf_overflow` to a temporary file: answers in
    the clear on disk. Past the high watermark it pauses the app instead, so the
    overflow must lie beyond it (with room for one write of the app)."""
    from intake.commands.serving import create_server

    inst, _rows, _n, _s = workspace
    server = create_server(production_app(inst.path), 30, host="127.0.0.1", port=0)
    try:
        adj = server.adj
        assert adj.outbuf_overflow >= adj.outbuf_high_watermark + 64 * 1024 * 1024
        assert adj.inbuf_overflow > 1024 * 1024  # a form of answers, too, stays in memory
    finally:
        server.close()


def test_a_search_never_goes_into_an_address(workspace):
    """Addresses land in the browser's history on disk; a search may be a name or a phone."""
    inst, _rows, _north, _south = workspace
    client = _unlocked_client(inst)
    response = client.post("/cases", data={"q": "calais camp", "age": "adult"})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "calais" not in location.lower() and "search=1" in location and "age=adult" in location
    html = client.get(location).get_data(as_text=True)
    assert "2 cases match" in html and 'value="calais camp"' in html
    assert "calais" not in "".join(re.findall(r'href="([^"]*)"', html)).lower()
    other = _unlocked_client(inst)  # another session: its own search, none yet
    assert "3 cases match" in other.get("/cases?search=1").get_data(as_text=True)
    assert "2 cases match" in client.get("/cases?search=1").get_data(as_text=True)


def test_two_status_changes_at_once_leave_the_list_as_the_store(workspace, monkeypatch):
    """Two coordinators change one case's status at the same moment: the list ends as the store.

    The first change is held between its write to the store and its update of
    the case list (the window two requests meet in), while the second is made.
    """
    import threading

    inst, rows, north, _south = workspace
    app = production_app(inst.path)  # one workspace, two coordinators' sessions
    first, second = _unlocked_client(inst, app), _unlocked_client(inst, app)
    url = f"/cases/{north.id}/{rows[0]['id']}/status"
    real = store.set_status
    first_wrote, second_tried = threading.Event(), threading.Event()

    def held(database, device, record_id, status, by, now):
        changed = real(database, device, record_id, status, by, now)
        if status == "referred":  # the first change
            first_wrote.set()
            second_tried.wait(10)
        return changed

    monkeypatch.setattr(store, "set_status", held)
    answers = {}

    def change(client, status):
        answers[status] = client.post(url, data={"status": status}).status_code

    one = threading.Thread(target=change, args=(first, "referred"))
    one.start()
    assert first_wrote.wait(10)
    two = threading.Thread(target=change, args=(second, "closed"))
    two.start()
    two.join(1)  # the second waits for the first, or (the bug) finishes meanwhile
    second_tried.set()
    one.join(10)
    two.join(10)
    assert answers == {"referred": 303, "closed": 303}
    database = db.open_database(inst.path)
    assert store.statuses(database)[(north.id, rows[0]["id"])][0] == "closed"
    database.close()
    html = first.get("/cases?status=closed").get_data(as_text=True)
    assert "1 case matches" in html  # the list says what the store says
