"""The apps as `intake serve` builds them, and clients that use them as a browser would.

The CSRF and role tests (STYLE habit 9) and the import-isolation walk use the
production configuration: no TESTING, no WTF_CSRF_ENABLED override. Clients
therefore send the CSRF token each form carries, read from the page itself.

No module here imports `intake.workspace`: the isolation walk runs this code
inside a field or hub process and then looks at sys.modules.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import io
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from unittest import mock

from intake import crypto, db, envelope, instance
from intake.batch import write_batch
from intake.hub.enrolment import enrol, new_code
from tests.screening import OFFICER_PASSWORD, add_user, fill_section

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
DRAFT_URL = re.compile(r"/screening/([0-9a-f-]{36})/")
# The roles of people; the hub's machine routes also meet a "device".
PEOPLE = ("officer", "ngo", "coordinator", "admin")
QUESTIONNAIRE = "screening-short"
FIRST_SECTION = "safety"
SCREENING = "/screening/<uuid:draft_id>"
CASE = "/cases/<device>/<record_id>"
SESSIONS = ("out", *PEOPLE)
HUB_SESSIONS = (*SESSIONS, "device")
SIGNIN = "302 to /signin"
OWN = "<this session's own CSRF token>"  # the default of post(token=...)


def production_app(instance_path: Path):
    """Return the app exactly as `intake serve --instance PATH` builds it (plain HTTP)."""
    from click.testing import CliRunner

    from intake.commands import serve

    built = {}

    def capture(app, *_args):
        built["app"] = app  # instead of serving it

    with contextlib.ExitStack() as patches:
        patches.enter_context(mock.patch.object(serve, "_serve_plain", capture))
        if instance.load(instance_path).role == "field":
            # Not started: the app is the same; the loop would sync in the background.
            patches.enter_context(mock.patch("intake.field.background.start_background_sync"))
        result = CliRunner().invoke(
            serve.serve_command,
            ["--instance", str(instance_path), "--port", "0"],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    return built["app"]


def node_with_users(folder: Path, role: str, recipients: list):
    """Create an instance of the role with one user per role, each named after it."""
    inst = instance.create(folder, role, recipients)
    for user_role in PEOPLE:
        add_user(inst, user_role, user_role)
    return inst


class CsrfClient:
    """A Flask test client that puts the session's CSRF token into every form it posts."""

    def __init__(self, app):
        self.client = app.test_client()

    def token(self) -> str:
        """Read the CSRF token of this session from the sign-in page's form."""
        return TOKEN.search(self.get("/signin").get_data(as_text=True)).group(1)

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url, data=None, token: str | None = OWN, **kwargs):
        """POST a form with this session's token (OWN), another one, or none (None)."""
        data = dict(data or {})
        if token is OWN:
            token = self.token()
        if token is not None:
            data["csrf_token"] = token
        return self.client.post(url, data=data, **kwargs)

    def open(self, url, method, **kwargs):
        if method == "POST":
            return self.post(url, **kwargs)
        return self.client.open(url, method=method, **kwargs)


def sign_in(client, name: str, password: str = OFFICER_PASSWORD):
    """Sign in through the form (with its token); fail unless it worked."""
    response = client.post("/signin", data={"username": name, "password": password})
    assert response.status_code == 302, (name, response.status_code)
    return client


def start_draft(client) -> str:
    """Start an interview as the signed-in screener; return its draft id."""
    response = client.post(
        "/screening/start", data={"questionnaire": QUESTIONNAIRE, "respondent_language": "en"}
    )
    assert response.status_code == 303, response.status_code
    return DRAFT_URL.search(response.headers["Location"]).group(1)


def answer_every_section(client, draft_id: str, text: str = "answer") -> None:
    """Answer every shown screen of a draft, up to the review (not finished)."""
    from intake.questionnaire import load_questionnaire

    questionnaire = load_questionnaire(QUESTIONNAIRE)
    location = f"/screening/{draft_id}/{FIRST_SECTION}"
    answers: dict = {}
    overrides = {"under_18": "no"}
    while "/review" not in location:
        section_id = location.rstrip("/").rsplit("/", 1)[1]
        form = fill_section(questionnaire, section_id, answers, overrides, text, False)
        answers.update({k: v for k, v in form.items() if k != "_shown"})
        response = client.post(location, data={**form, "action": "next"})
        assert response.status_code == 303, (section_id, response.status_code)
        location = response.headers["Location"]


class LiveClient:
    """The same interface over real HTTP to a running `intake serve` (cookies kept)."""

    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/")
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def token(self) -> str:
        return TOKEN.search(self.get("/signin").get_data(as_text=True)).group(1)

    def get(self, url):
        request = urllib.request.Request(self.base + url)  # noqa: S310 - http://127.0.0.1 only
        return self._send(request)

    def post(self, url, data=None, token: str | None = OWN):
        data = dict(data or {})
        if token is OWN:
            token = self.token()
        if token is not None:
            data["csrf_token"] = token
        body = urllib.parse.urlencode(data, doseq=True).encode()
        request = urllib.request.Request(self.base + url, data=body, method="POST")  # noqa: S310
        return self._send(request)

    def _send(self, request):
        try:
            with self.opener.open(request, timeout=30) as answer:
                return _Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as answer:
            return _Response(answer.code, answer.headers, answer.read())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the tests look at each redirect themselves


class _Response:
    """The few parts of a Flask test response that the screening helpers read."""

    def __init__(self, status: int, headers, body: bytes):
        self.status_code, self.headers, self.data = status, headers, body

    def get_data(self, as_text: bool = False):
        return self.data.decode() if as_text else self.data


# A valid form for each POST route: what an allowed user's browser would send.
FORMS = {
    "/signin": {"username": "officer", "password": OFFICER_PASSWORD},
    "/screening/start": {"questionnaire": QUESTIONNAIRE, "respondent_language": "en"},
    f"{SCREENING}/<section_id>": {"action": "back"},
}


class Node:
    """One role's app, with a user per role, a standing draft and (hub) an enrolled device."""

    def __init__(self, tmp_path, role: str, coordinator_key):
        self.role = role
        self.coordinator_key = coordinator_key
        self.inst = node_with_users(tmp_path / role, role, [coordinator_key.public_key()])
        self.app = production_app(self.inst.path)
        self.field = None
        if role == "field":
            officer = sign_in(CsrfClient(self.app), "officer")
            self.officers_draft = start_draft(officer)
        if role == "workspace":
            # The coordinator's key, so that an unlock can be asked for (and refused).
            instance.add_coordinator_key(
                self.inst.path, crypto.private_key_pem(coordinator_key, "x" * 12, log2_n=10)
            )
        if role == "hub":
            self.field = instance.create(
                tmp_path / "device", "field", [coordinator_key.public_key()]
            )
            database = db.open_database(self.inst.path)
            enrol(database, new_code(database, "Crossing 7"), self._device_key_hex(self.field))
            database.close()

    @staticmethod
    def _device_key_hex(field) -> str:
        return crypto.raw_public_key(field.device_key()).hex()

    def client(self, session: str) -> CsrfClient:
        client = CsrfClient(self.app)
        if session in PEOPLE:
            sign_in(client, session)
        return client

    def url(self, rule: str, client: CsrfClient, session: str) -> str:
        """Fill the rule's variables: a screener's own fresh draft, else the officer's."""
        if "<uuid:draft_id>" in rule:
            draft = start_draft(client) if session in ("officer", "ngo") else self.officers_draft
            rule = rule.replace("<uuid:draft_id>", draft)
        rule = rule.replace("<device>", "0" * 16).replace("<record_id>", str(uuid.UUID(int=1)))
        return rule.replace("<section_id>", FIRST_SECTION).replace("<path:filename>", "intake.css")

    def device_request(self, rule: str, method: str) -> dict:
        """What an enrolled field device sends to a machine route."""
        if method != "POST" or not rule.startswith("/api/"):
            return {}
        if rule == "/api/v1/enroll":
            database = db.open_database(self.inst.path)
            code = new_code(database, "Crossing 8")
            database.close()
            newcomer = instance.create(
                self.inst.path.parent / f"newcomer-{code[:6]}",
                "field",
                [self.coordinator_key.public_key()],
            )
            body = {"code": code, "public_key": self._device_key_hex(newcomer)}
            return {"json": body}
        sealed = envelope.seal_record(
            {"x": 1}, self.field.recipient_keys(), kind="screening", device=self.field.device_id()
        )
        out = io.BytesIO()
        write_batch(out, [sealed.data], 1, self.field.device_key())
        return {"data": out.getvalue(), "content_type": "application/octet-stream"}

    def ask(self, rule: str, method: str, session: str):
        """Send one request of the matrix; return its outcome as the table writes it."""
        if session == "device":
            client = CsrfClient(self.app)
            kwargs = self.device_request(rule, method)
            url = self.url(rule, client, session)
            response = client.client.open(url, method=method, **kwargs)
        else:
            client = self.client(session)
            url = self.url(rule, client, session)
            if method == "POST":
                response = client.post(url, data=FORMS.get(rule, {}))
            else:
                response = client.open(url, method)
        response.close()
        location = response.headers.get("Location", "")
        if response.status_code == 302 and location.startswith("/signin"):
            return SIGNIN
        return response.status_code


def every_rule(app) -> set[tuple[str, str]]:
    """Every (rule, method) of the app: its own methods, and GET and POST whatever it says."""
    pairs = set()
    for rule in app.url_map.iter_rules():
        for method in (rule.methods - {"HEAD", "OPTIONS"}) | {"GET", "POST"}:
            pairs.add((rule.rule, method))
    return pairs


def walk_every_route(node) -> int:
    """Ask every route with every method as every session; finish a screening; count requests.

    For the import-isolation check: whatever a signed-in person or a device
    can make the app run, it has run once by the end of this.
    """
    asked = 0
    sessions = HUB_SESSIONS if node.role == "hub" else SESSIONS
    for rule, method in sorted(every_rule(node.app)):
        for session in sessions:
            outcome = node.ask(rule, method, session)
            assert outcome == SIGNIN or outcome < 500, (rule, method, session, outcome)
            asked += 1
    if node.role == "field":
        for screener in ("officer", "ngo"):
            client = sign_in(CsrfClient(node.app), screener)
            draft = start_draft(client)
            answer_every_section(client, draft)
            assert client.get(f"/screening/{draft}/review").status_code == 200
            assert client.post(f"/screening/{draft}/finish").status_code == 200
            asked += 1
    return asked


def database_dump(instance_path: Path) -> list[str]:
    """Return every row of every table of the instance's database, as SQL."""
    database = db.open_database(instance_path)
    try:
        return list(database.conn.iterdump())
    finally:
        database.close()
