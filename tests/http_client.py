"""A small HTTP client for tests against a real `intake serve`: cookies, CSRF, no redirects.

Each `WebClient` is one person's browser: its own cookie, the CSRF token of
the last page it was shown, a fresh connection per request (as a tablet on
flaky Wi-Fi would make), and every response's status counted.
"""

from __future__ import annotations

import http.client
import re
import ssl
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


def connection(url: str, timeout: float) -> http.client.HTTPConnection:
    """Open an HTTP(S) connection to the server at `url`; its certificate is not checked."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        # An instance's certificate is self-signed; pinning has tests of its own.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=context
        )
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


@dataclass
class WebClient:
    """One browser talking to a live server at `url` (http:// or https://)."""

    url: str
    timeout: float = 30
    cookies: dict[str, str] = field(default_factory=dict)
    csrf_token: str = ""
    statuses: Counter = field(default_factory=Counter)

    def request(self, method: str, path: str, body: bytes | None = None, headers=None) -> Response:
        """Send one request; keep its cookies, CSRF token and status."""
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        # Flask-WTF checks the Referer of HTTPS form posts against the host.
        headers.setdefault("Referer", urllib.parse.urljoin(self.url, path))
        conn = connection(self.url, self.timeout)
        try:
            conn.request(method, "/" + path.lstrip("/"), body, headers)
            raw = conn.getresponse()
            headers = {k.lower(): v for k, v in raw.getheaders()}
            response = Response(raw.status, headers, raw.read())
            cookies = raw.headers.get_all("Set-Cookie") or []
        finally:
            conn.close()
        self.statuses[response.status] += 1
        for cookie in cookies:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        if match := _CSRF_FIELD.search(response.text):
            self.csrf_token = match.group(1)
        return response

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, form: dict) -> Response:
        """Post a form (lists become repeated fields), with the CSRF token last shown."""
        data = {"csrf_token": self.csrf_token, **form}
        body = urllib.parse.urlencode(data, doseq=True).encode()
        content_type = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.request("POST", path, body, content_type)

    def sign_in(self, username: str, password: str) -> Response:
        """Open the sign-in page (for its CSRF token), then sign in."""
        self.get("/signin")
        return self.post("/signin", {"username": username, "password": password})
