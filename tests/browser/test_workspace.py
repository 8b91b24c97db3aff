"""The coordinator's workspace in Debian's Chromium, as deployed: `intake serve --tls`, CSRF on.

Issue 9's done-when: sign in, unlock, filter, search, open a case, export
CSV and Excel (they open with csv and openpyxl, every column present), and
the HTCDS export in HTCDS names. Chromium trusts the workspace's own
certificate and nothing else, as in test_https.py. The cases are real
screening records sealed to the coordinator's key and signed by two pinned
devices; expected values are written by hand from the answers below.

Takes the coordinator's guide's screenshots (docs/coordinator.md) when
INTAKE_DOCS_SCREENSHOTS is set (INTAKE_DOCS_SCREENSHOTS=docs/screenshots).
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import pytest

from intake.workspace.exports import export_columns
from tests.browser import (
    LiveServer,
    PageProblems,
    User,
    assert_accessible,
    assert_no_horizontal_scroll,
    watch_page,
)
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, WATCHED, browser_env
from tests.browser.test_https import spki_pin
from tests.canary import describe
from tests.conftest import PASSPHRASE, run_intake
from tests.screening import OFFICER_PASSWORD
from tests.workspaces import Device, make_workspace, screening_record, store_rows

DOCS_SCREENSHOTS = os.environ.get("INTAKE_DOCS_SCREENSHOTS")
SIZES = {**VIEWPORTS, "desktop": {"viewport": {"width": 1280, "height": 860}}}
CANARY = "CANARY-3b9d-workspace-browser"
NORTH, SOUTH = "North crossing", "South port"
INTERPRETER = "Haile Tesfay, interpreter no. 4471"

CONSENT = {"danger_now": "no", "consent_explained": "yes", "consent": "yes"}
TRAFFICKED = {"dr1": "yes", "dr2": "yes", "cr1": "yes", "ex1": "yes", "ex2": "yes", "cd1": "yes"}
WITH_INTERPRETER = {"present": ["interpreter_professional"], "interpreter_id": INTERPRETER}


def adult(age, gender, nationality, country, **more) -> dict:
    """An adult who agreed to the interview, with the profile the duplicate rule compares."""
    profile = {"age": age, "gender": gender, "nationality": nationality}
    return {**CONSENT, "under_18": "no", **profile, "exploitation_country": country, **more}


def child(purpose=None, **more) -> dict:
    """A presumed child with a guardian present (so no urgent flag), and what it was for."""
    acts = {"child_act": "yes", "child_act_purpose": [purpose]} if purpose else {"child_act": "no"}
    return {**CONSENT, "under_18": "yes", "guardian_present": "yes", **acts, **more}


# name: (field post, the person's language, sealed at, answers). No two adults share a
# profile (nationality, gender, country, age within a year): only the phone pair matches.
CASES = {
    "canary": (NORTH, "ti", "2026-11-27T10:15:00Z", adult(29, "woman", "ER", "LY",
        current_location=f"Hostel by the bus station {CANARY}", **TRAFFICKED)),
    "phone-a": (NORTH, "ti", "2026-11-26T08:40:00Z", adult(34, "man", "ER", "SD",
        ex1="yes", cd2="yes", safe_contact="own_phone", contact_phone="+40 712 345 678")),
    "phone-b": (SOUTH, "ro", "2026-11-25T16:05:00Z", adult(23, "woman", "RO", "IT",
        dr1="yes", ex2="yes", safe_contact="own_phone", contact_phone="0712 345 678")),
    "urgent": (SOUTH, "ar", "2026-11-24T21:30:00Z", adult(38, "woman", "SY", "LB",
        danger_now="yes", controller_nearby="yes")),
    "child-work": (NORTH, "ar", "2026-11-23T11:00:00Z", child("work", **WITH_INTERPRETER)),
    "child-begging": (SOUTH, "ti", "2026-11-21T09:20:00Z", child("begging", **WITH_INTERPRETER)),
    "adult-ro": (NORTH, "ro", "2026-11-19T14:45:00Z", adult(52, "man", "RO", "DE", **TRAFFICKED)),
    "child-unsure": (NORTH, "ti", "2026-11-17T07:55:00Z", child(under_18="not_sure")),
    "adult-sd": (SOUTH, "ar", "2026-11-14T13:10:00Z", adult(41, "man", "SD", "LY")),
    "child-sex": (SOUTH, "ar", "2026-11-11T18:25:00Z", child("sex")),
    "adult-eg": (NORTH, "ar", "2026-11-08T10:30:00Z", adult(27, "man", "EG", "LY",
        ex1="yes", cd5="yes")),
    "adult-md": (SOUTH, "ro", "2026-11-04T15:00:00Z", adult(45, "woman", "MD", "PL")),
}  # fmt: skip
# Older routine screenings, so that the list has a second page (50 cases a page).
ROUTINE = 40
HELD = len(CASES) + ROUTINE
CHILDREN = ("child-work", "child-begging", "child-unsure", "child-sex")
# Hand-written from /work/shared/HTCDS.md and docs/htcds.md: names the standard uses.
HTCDS_NAMES = (
    "prs_Gender",
    "prs_Nationality",
    "prs_MobilePhone",
    "vic_TypeOfLabourExploitation",
    "vic_TypeOfSexExploitation",
    "hte_Type",
    "hte_Country",
    "cas_Status",
)
HTCDS_FIELD = re.compile(r"(org|prs|vic|per|hte|cas|intake)_[A-Z][A-Za-z]+")


@dataclass
class Built:
    """The workspace on disk, the references of its named cases, and the served app."""

    folder: Path
    server_tmp: Path
    refs: dict[str, str] = field(default_factory=dict)  # case name -> reference
    ids: dict[str, str] = field(default_factory=dict)  # case name -> record id
    server: LiveServer | None = None


def build_workspace(tmp_path: Path, coordinator_key) -> Built:
    """A workspace holding the cases above and the routine ones, from two pinned devices."""
    inst = make_workspace(tmp_path / "workspace", coordinator_key)
    devices = {NORTH: Device(NORTH), SOUTH: Device(SOUTH)}
    for device in devices.values():
        device.pin(inst)
    recipients = [coordinator_key.public_key()]
    built = Built(inst.path, tmp_path / "server-tmp")
    rows = []
    for name, (post, language, created, answers) in CASES.items():
        device = devices[post]
        officer = "amina.k" if post == NORTH else "petru.v"
        record = screening_record(
            answers, device=device.id, language=language, officer=officer, created=created
        )
        built.refs[name], built.ids[name] = record["reference"], record["id"]
        rows.append(device.seal(record, recipients, created=created))
    for i in range(ROUTINE):
        device = devices[(NORTH, SOUTH)[i % 2]]
        created = f"2026-{6 + i % 5:02d}-{1 + i % 28:02d}T09:{i:02d}:00Z"
        answers = {**CONSENT, "under_18": "no", "age": 19 + i, "nationality": "UA"}
        record = screening_record(
            answers, device=device.id, language=("ar", "ti", "ro")[i % 3], created=created
        )
        rows.append(device.seal(record, recipients, created=created))
    store_rows(inst, rows)
    return built


@pytest.fixture
def workspace(tmp_path, coordinator_key):
    """The workspace, served by `intake serve --tls` on a free loopback port."""
    built = build_workspace(tmp_path, coordinator_key)
    built.server_tmp.mkdir()
    # The server's temporary files land where the canary scan looks (invariant 1).
    env = {"TMPDIR": str(built.server_tmp), "SQLITE_TMPDIR": str(built.server_tmp)}
    server = LiveServer(built.folder, env=env)
    # make_workspace added the coordinator (tests/screening.py's password).
    server.users["coordinator"] = User("coordinator", "coordinator", OFFICER_PASSWORD)
    built.server = server
    try:
        server.start(20, "--tls")
        yield built
    finally:
        server.stop()
        print("intake serve said:\n" + "".join(server.output))  # shown when the test fails


class PinnedBrowser:
    """Chromium that trusts the workspace's certificate, and only it; every page watched."""

    def __init__(self, browser, folder: Path):
        args = [*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={spki_pin(folder)}"]
        self.chromium = browser.browser_type.launch(
            executable_path=CHROMIUM, args=args, env=browser_env()
        )
        self.watched: list[PageProblems] = []

    def open(self, size: str):
        """A page in a new context at a size of SIZES, over HTTPS with the pin only."""
        context = self.chromium.new_context(ignore_https_errors=False, **SIZES[size])
        page = context.new_page()
        self.watched.append(watch_page(page))
        return page

    def problems(self, page) -> PageProblems:
        return next(seen for seen in self.watched if seen.page is page)


@pytest.fixture
def pinned(browser, workspace, request):
    """The pinned Chromium. A console error, uncaught exception or CSP report fails the test."""
    chromium = PinnedBrowser(browser, workspace.folder)
    # conftest's pytest_runtest_call checks the watchers it finds here, as for `page`.
    request.node.stash[WATCHED] = chromium.watched
    yield chromium
    chromium.chromium.close()


def screenshot(page, tmp_path: Path, name: str, start: str | None = None) -> None:
    """Keep a screenshot with the test's files; also in the docs when asked to refresh them.

    The docs get one screen, scrolled so that `start` (a selector) is at its top.
    """
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
    if DOCS_SCREENSHOTS:
        if start:
            page.locator(start).first.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.screenshot(path=str(Path(DOCS_SCREENSHOTS) / f"{name}.png"))
        page.evaluate("window.scrollTo(0, 0)")


def sign_in_and_unlock(built: Built, page) -> None:
    """Sign in as the coordinator and unlock with the key's passphrase; land on the cases."""
    built.server.sign_in(page, "coordinator")
    assert "/unlock" in page.url, f"a locked workspace must ask for the passphrase: {page.url}"
    unlock(page)


def unlock(page) -> None:
    page.fill("#passphrase", PASSPHRASE)
    with page.expect_navigation():
        page.click("form[action$='/unlock'] [type=submit]")
    assert page.url.split("?")[0].endswith("/cases"), page.url


def count_line(page) -> str:
    return page.inner_text("#case-count")


def listed(page) -> list[str]:
    """The references in the case list, in its order."""
    return page.locator("table.case-list tbody td:first-child a").all_inner_texts()


def apply_filters(page, **values) -> None:
    """Set the filter form's fields (selects by value, text by typing) and press Apply."""
    for name, value in values.items():
        if name == "q":
            page.fill("#f-q", value)
        else:
            page.select_option(f"#f-{name}", value)
    with page.expect_navigation():
        page.click("form.filters [type=submit]")


def row_of(page, reference: str):
    return page.locator("table.case-list tbody tr", has=page.get_by_role("link", name=reference))


def download(page, fmt: str, folder: Path) -> Path:
    """Press an export button; keep the file in the test's folder, not Playwright's."""
    with page.expect_download() as caught:
        page.click(f"form[action$='/export'] button[value={fmt}]")
    done = caught.value
    assert done.failure() is None, done.failure()
    path = folder / done.suggested_filename
    done.save_as(path)
    done.delete()
    return path


def test_sign_in_unlock_filter_search_open_export_and_lock(workspace, pinned, tmp_path):
    built = workspace
    refs = built.refs
    page = pinned.open("desktop")

    # Signing in lands on the unlock page: the list waits for the key.
    built.server.sign_in(page, "coordinator")
    assert "/unlock" in page.url
    assert page.get_by_role("heading", level=1).inner_text() == "Unlock the workspace"
    assert "15 minutes" in page.inner_text("main")
    assert_accessible(page)
    screenshot(page, tmp_path, "workspace-unlock-desktop")
    page.fill("#passphrase", "not the passphrase at all")
    with page.expect_navigation():
        page.click("form[action$='/unlock'] [type=submit]")
    assert "does not open" in page.inner_text("main")
    pinned.problems(page).clear()  # the refused unlock's 401, caused on purpose
    unlock(page)

    # The count line and the list, newest first; a second page.
    assert count_line(page) == f"{HELD} cases match · {HELD} cases held"
    assert listed(page)[:3] == [refs["canary"], refs["phone-a"], refs["phone-b"]]
    assert len(listed(page)) == 50
    assert_accessible(page)
    screenshot(page, tmp_path, "workspace-cases-desktop")
    with page.expect_navigation():
        page.click("a[rel=next]")
    assert "Page 2 of 2" in page.inner_text("nav.pager")
    assert len(listed(page)) == HELD - 50
    with page.expect_navigation():
        page.click("a[rel=prev]")
    assert listed(page)[0] == refs["canary"]

    # The phone pair is marked as possible duplicates, and nothing else is.
    tagged = page.locator("table.case-list tbody tr", has_text="Possible duplicate")
    assert sorted(tagged.locator("td:first-child a").all_inner_texts()) == sorted(
        [refs["phone-a"], refs["phone-b"]]
    )
    assert row_of(page, refs["urgent"]).locator(".tag.urgent").count() == 1

    # A filter, then a search within it.
    apply_filters(page, age="child")
    assert count_line(page) == f"4 cases match · {HELD} cases held"
    assert sorted(listed(page)) == sorted(refs[name] for name in CHILDREN)
    apply_filters(page, q="haile")
    assert count_line(page) == f"2 cases match · {HELD} cases held"
    assert listed(page) == [refs["child-work"], refs["child-begging"]]
    assert page.input_value("#f-age") == "child"
    filtered_url = page.url
    # The search text stays out of the address (browser history is on disk).
    assert "age=child" in filtered_url and "search=1" in filtered_url
    assert "haile" not in filtered_url.lower()
    assert page.input_value("#f-q") == "haile"

    # A case: its answers in two languages, the assessment, the origin; a status change.
    with page.expect_navigation():
        page.get_by_role("link", name=refs["child-work"]).click()
    main = page.inner_text("main")
    assert f"Case {refs['child-work']}" in page.get_by_role("heading", level=1).inner_text()
    assessment = page.locator("section.assessment h2").inner_text()
    assert assessment == "Assessment: Refer now", assessment
    origin = page.locator("section.origin").inner_text()
    assert NORTH in origin and "amina.k" in origin and built.ids["child-work"] in origin
    interpreter = page.locator("table.cards tr", has_text="The interpreter's name or ID number")
    assert INTERPRETER in interpreter.locator("td").nth(1).inner_text()
    theirs = interpreter.locator("td[lang=ar]")
    assert theirs.count() == 1, "the answer in the person's language (Arabic) is missing"
    assert re.search("[\u0600-\u06ff]", theirs.inner_text()), theirs.inner_text()
    assert "Work" in main  # child_act_purpose, in the officer's language
    assert page.locator("section.duplicates").count() == 0  # a child: no profile, no phone
    assert_accessible(page)
    screenshot(page, tmp_path, "workspace-case-desktop")
    screenshot(page, tmp_path, "workspace-case-origin-desktop", start="section.origin")
    page.select_option("#status", "in_review")
    with page.expect_navigation():
        page.click("form.status-form [type=submit]")
    assert "Status changed." in page.inner_text("main")
    assert page.input_value("#status") == "in_review"

    # Back to the filtered list: the filter and the search are kept, the status is new.
    page.go_back()
    page.go_back()
    assert page.url == filtered_url
    page.reload()
    assert row_of(page, refs["child-work"]).locator("td").nth(5).inner_text() == "In review"

    # Exports of the filtered cases: the box first, then CSV, Excel and HTCDS.
    understood = page.locator("#understood")
    assert understood.evaluate("box => box.validity.valueMissing")  # no export without it
    understood.check()
    exported = tmp_path / "exports"
    exported.mkdir()
    check_csv(download(page, "csv", exported), built)
    check_xlsx(download(page, "xlsx", exported), built)
    check_htcds(download(page, "htcds", exported), built)

    # The urgent filter; then the duplicates on a case page.
    page.goto(built.server.page_url("cases?urgent=yes"))
    assert count_line(page) == f"1 case matches · {HELD} cases held"
    assert listed(page) == [refs["urgent"]]
    page.goto(built.server.page_url("cases"))
    with page.expect_navigation():
        page.get_by_role("link", name=refs["phone-a"]).click()
    duplicates = page.locator("section.duplicates")
    assert duplicates.count() == 1, "the possible duplicates are not shown"
    assert "nothing is merged" in duplicates.inner_text()
    assert duplicates.get_by_role("link").all_inner_texts() == [refs["phone-b"]]
    assert SOUTH in duplicates.inner_text()
    assert_accessible(page)

    # The devices and origin page names both posts; every record held is a case.
    page.goto(built.server.page_url("devices"))
    devices = page.inner_text("main")
    assert NORTH in devices and SOUTH in devices
    assert "Every record held is a case." in devices
    assert_accessible(page)

    # Lock: signed out, and the cases need the passphrase again.
    with page.expect_navigation():
        page.click("form.lock-form [type=submit]")
    assert "/signin" in page.url
    page.goto(built.server.page_url("cases"))
    assert "/signin" in page.url
    built.server.sign_in(page, "coordinator")
    page.goto(built.server.page_url("cases"))
    assert "/unlock" in page.url, f"after the lock, /cases must ask to unlock again: {page.url}"
    assert page.locator("#passphrase").count() == 1

    # Every unlock, view, change and export went into the audit log, whose chain holds.
    done = run_intake("audit", "verify", "--instance", built.folder)
    assert done.returncode == 0, (done.stdout + done.stderr).decode()
    log = (built.folder / "audit.log").read_text()
    for action in ("unlock_refused", "unlock", "case_view", "status_change", "export", "lock"):
        assert f'"{action}"' in log, f"no {action} in the audit log"

    # No answer reached the workspace's folder or the server's temporary files.
    assert describe(built.folder, CANARY) == []
    assert describe(built.server_tmp, CANARY) == []


def check_csv(path: Path, built: Built) -> None:
    """Every column of the one definition, and exactly the filtered cases."""
    assert path.suffix == ".csv", path
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        assert reader.fieldnames == export_columns()
    by_id = {r["record_id"]: r for r in rows}
    assert sorted(by_id) == sorted([built.ids["child-work"], built.ids["child-begging"]])
    work, begging = by_id[built.ids["child-work"]], by_id[built.ids["child-begging"]]
    assert work["reference"] == built.refs["child-work"]
    assert work["field_post"] == NORTH and begging["field_post"] == SOUTH
    assert work["status"] == "in_review" and begging["status"] == "new"
    assert work["child"] == begging["child"] == "yes"
    assert work["respondent_language"] == "ar" and begging["respondent_language"] == "ti"
    assert work["outcome"] == "refer_now"
    assert work["q_interpreter_id"] == INTERPRETER
    assert work["q_child_act_purpose"] == "work" and begging["q_child_act_purpose"] == "begging"


def check_xlsx(path: Path, built: Built) -> None:
    """The same columns and cases in the workbook's sheet "cases"; "columns" describes each."""
    assert path.suffix == ".xlsx", path
    workbook = openpyxl.load_workbook(path, read_only=True)
    cases = list(workbook["cases"].iter_rows(values_only=True))
    assert list(cases[0]) == export_columns()
    table = [dict(zip(cases[0], row, strict=True)) for row in cases[1:]]
    assert sorted(r["record_id"] for r in table) == sorted(
        [built.ids["child-work"], built.ids["child-begging"]]
    )
    assert {r["field_post"] for r in table} == {NORTH, SOUTH}
    assert {r["q_interpreter_id"] for r in table} == {INTERPRETER}
    described = [row[0] for row in workbook["columns"].iter_rows(min_row=2, values_only=True)]
    assert described == export_columns()
    workbook.close()


def check_htcds(path: Path, built: Built) -> None:
    """A header of HTCDS names; one row per filtered case in the standard's pick-list values."""
    assert path.name.endswith(".htcds.csv"), path
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        header = reader.fieldnames
    for name in HTCDS_NAMES:
        assert name in header, f"{name} is not in the HTCDS header {header}"
    assert all(HTCDS_FIELD.fullmatch(name) for name in header), header
    by_id = {r["intake_RecordId"]: r for r in rows}
    assert sorted(by_id) == sorted([built.ids["child-work"], built.ids["child-begging"]])
    assert by_id[built.ids["child-work"]]["cas_Status"] == "Active"  # in review
    assert by_id[built.ids["child-begging"]]["vic_TypeOfLabourExploitation"] == "Begging"


def test_the_pages_on_a_phone(workspace, pinned, tmp_path):
    """At 360 px: nothing scrolls sideways on the unlock, list, case and devices pages."""
    built = workspace
    page = pinned.open("phone")
    built.server.sign_in(page, "coordinator")
    assert_no_horizontal_scroll(page)
    screenshot(page, tmp_path, "workspace-unlock-phone")
    unlock(page)
    assert_no_horizontal_scroll(page)
    apply_filters(page, age="child")
    assert_no_horizontal_scroll(page)
    assert_accessible(page)
    screenshot(page, tmp_path, "workspace-cases-phone", start="#case-count")
    with page.expect_navigation():
        page.get_by_role("link", name=built.refs["child-work"]).click()
    assert_no_horizontal_scroll(page)
    assert_accessible(page)
    screenshot(page, tmp_path, "workspace-case-phone")
    page.goto(built.server.page_url("devices"))
    assert_no_horizontal_scroll(page)
    assert_accessible(page)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_dashboard(workspace, pinned, tmp_path, size):
    """The dashboard's charts of the held cases, filtered like the list."""
    built = workspace
    page = pinned.open(size)
    sign_in_and_unlock(built, page)
    response = page.goto(built.server.page_url("dashboard"))
    assert response.status == 200, f"/dashboard answered {response.status}"
    assert page.get_by_role("heading", level=1).inner_text() == "Dashboard"
    assert f"{HELD} cases" in page.inner_text("main")
    assert_no_horizontal_scroll(page)
    assert_accessible(page)
    screenshot(page, tmp_path, f"workspace-dashboard-{size}", start="main p[role=status]")
    # Each chart says what it counts where a sighted coordinator reads it, not only in
    # the SVG's <title> (a tooltip and the name a screen reader gives).
    for title in CHART_TITLES:
        shown = page.get_by_text(title, exact=True)
        assert shown.count() and shown.first.is_visible(), f"no visible title {title!r}"
    overlaps = page.evaluate(_OVERLAPPING_TICKS)
    assert not overlaps, f"tick labels run into each other: {overlaps}"
    page.goto(built.server.page_url("dashboard?age=child"))
    assert "4 cases" in page.inner_text("main")


CHART_TITLES = ("Cases by month", "Outcomes", "By field post", "Adults and children", "By status")
# The tick labels under a time chart drawn less than a space apart (or over each other).
_OVERLAPPING_TICKS = """() => {
  const found = [];
  for (const chart of document.querySelectorAll("svg")) {
    const boxes = [...chart.querySelectorAll(".chart-tick")].map((t) =>
      [t.textContent, t.getBoundingClientRect()]);
    boxes.forEach(([a, r], i) => boxes.slice(i + 1).forEach(([b, s]) => {
      const gap = 4;  // CSS pixels: less, and "2026-062026-07" reads as one word
      if (r.left < s.right + gap && s.left < r.right + gap && r.top < s.bottom && s.top < r.bottom)
        found.push(a + " / " + b);
    }));
  }
  return found;
}"""
