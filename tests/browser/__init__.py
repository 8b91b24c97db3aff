"""Helpers for the browser tests; the fixtures that use them are in conftest.py.

Import them in a test module with `from tests.browser import assert_accessible, ...`.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import run_intake

# What axe-core reports at these impacts blocks someone from using the page.
BLOCKING_IMPACTS = ("serious", "critical")


def assert_accessible(page, impacts=BLOCKING_IMPACTS, context=None) -> dict:
    """Run axe-core on the page; fail listing every violation at the given impacts."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context=context).response
    blocking = [v for v in results["violations"] if v["impact"] in impacts]
    assert not blocking, f"axe-core on {page.url}:\n" + "\n".join(map(describe_violation, blocking))
    return results


def describe_violation(violation: dict) -> str:
    """One violation as a few readable lines: rule, impact, help link, offending elements."""
    lines = [f"- {violation['id']} ({violation['impact']}): {violation['help']}"]
    lines.append(f"  {violation['helpUrl']}")
    for node in violation["nodes"][:5]:
        lines.append(f"  at {' '.join(map(str, node['target']))}: {node['html'][:160]}")
        lines.append(f"     {node.get('failureSummary', '').replace(chr(10), ' ')}")
    return "\n".join(lines)


# The elements sticking out past the right edge, to name them when the check fails.
_LAYOUT_SCRIPT = """() => {
  const inner = window.innerWidth;
  const wide = [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > inner + 0.5)
    .slice(0, 5)
    .map((e) => e.outerHTML.slice(0, 120));
  return {scroll: document.documentElement.scrollWidth, inner, wide};
}"""


def assert_no_horizontal_scroll(page) -> None:
    """Fail if the page is wider than the screen, naming what sticks out."""
    layout = page.evaluate(_LAYOUT_SCRIPT)
    screen = page.viewport_size["width"]
    # On a phone a page without <meta name=viewport> lays out 980 px wide and
    # then nothing scrolls: catch that before comparing widths.
    assert layout["inner"] <= screen, (
        f"{page.url} lays out {layout['inner']} px wide on a {screen} px screen"
        " (is <meta name=viewport content='width=device-width'> missing?)"
    )
    assert layout["scroll"] <= layout["inner"], (
        f"{page.url} scrolls sideways at {screen} px: {layout['scroll']} px wide; sticking out:\n"
        + "\n".join(layout["wide"])
    )


# Runs in every document before the page's own scripts; Playwright adds it
# through the DevTools protocol, so the page's CSP does not block it.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__intakeReportCspViolation({
    directive: e.effectiveDirective, blocked: e.blockedURI,
    source: e.sourceFile, line: e.lineNumber, sample: e.sample,
  });
});
"""


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions and CSP violations seen on one page."""

    page: object
    problems: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        """Fail listing every problem seen so far."""
        assert not self.problems, f"problems on {self.page.url}:\n" + "\n".join(self.problems)

    def clear(self) -> None:
        """Forget the problems seen so far (for a test that causes them on purpose)."""
        self.problems.clear()


def watch_page(page) -> PageProblems:
    """Start recording the page's console errors, uncaught exceptions and CSP violations."""
    seen = PageProblems(page)

    def on_console(message):
        if message.type == "error" and not _implicit_favicon(message):
            seen.problems.append(f"console error: {message.text} ({message.location})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.problems.append(f"uncaught: {error}"))
    page.expose_binding(
        "__intakeReportCspViolation",
        lambda _source, v: seen.problems.append(f"CSP violation: {json.dumps(v)}"),
    )
    page.add_init_script(_CSP_LISTENER)
    return seen


def _implicit_favicon(message) -> bool:
    """Whether this is the 404 of the /favicon.ico that Chromium asks for by itself."""
    # Chromium asks for it even when no page links an icon: no page is to blame.
    return message.location.get("url", "").endswith("/favicon.ico") and "404" in message.text


@dataclass
class User:
    name: str
    role: str
    password: str


_SERVING = re.compile(r"^Serving the \w+ app of .* on (https?://127\.0\.0\.1:\d+/)$")


@dataclass
class LiveServer:
    """A field instance in a temporary folder, served by the real `intake serve`."""

    instance: Path
    process: subprocess.Popen | None = None
    url: str = ""
    output: list[str] = field(default_factory=list)
    users: dict[str, User] = field(default_factory=dict)
    reader: threading.Thread | None = None
    # Extra environment for `intake serve`, e.g. TMPDIR pointed at a folder a test scans.
    env: dict[str, str] = field(default_factory=dict)

    def start(self, timeout: float = 20, *extra: str) -> None:
        """Start `intake serve` on a free loopback port and wait until it prints its URL."""
        command = [sys.executable, "-m", "intake", "serve", "--instance", str(self.instance)]
        command += ["--host", "127.0.0.1", "--port", "0", *extra]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**_env(), **self.env},
        )
        lines: queue.Queue = queue.Queue()
        self.reader = threading.Thread(target=self._read_output, args=(lines,), daemon=True)
        self.reader.start()
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                raise RuntimeError(f"intake serve printed no URL in {timeout} s") from None
            if line is None:
                raise RuntimeError("intake serve stopped:\n" + "".join(self.output))
            if match := _SERVING.match(line.strip()):
                self.url = match.group(1)
                return

    def _read_output(self, lines: queue.Queue) -> None:
        """Keep the server's output (so its pipe never fills) and pass each line on."""
        for line in self.process.stdout:
            self.output.append(line)
            lines.put(line)
        lines.put(None)

    def stop(self) -> None:
        """Stop the server: politely, then for sure."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=10)
        self.process.stdout.close()

    def page_url(self, path: str = "") -> str:
        """The absolute URL of a path on this server."""
        return self.url + path.lstrip("/")

    def user(self, role: str = "officer") -> User:
        """A user with this role (also its name), added with `intake users add` on first use."""
        if role not in self.users:
            if not users_command_exists():
                message = "`intake users add` does not work: nobody can sign in"
                if os.environ.get("CI") == "true":
                    pytest.fail(f"CI must run the browser tests: {message}", pytrace=False)
                pytest.skip(message)
            password = f"{role} password for the browser tests"
            password_file = self.instance.parent / f"{role}.password"
            password_file.write_text(password + "\n")
            self.intake("users", "add", role, "--role", role, "--password-file", password_file)
            self.users[role] = User(role, role, password)
        return self.users[role]

    def sign_in(self, page, role: str = "officer") -> User:
        """Sign in on /signin as the user with this role; return that user."""
        user = self.user(role)
        page.goto(self.page_url("signin"))
        page.fill("input[name=username]", user.name)
        page.fill("input[name=password]", user.password)
        with page.expect_navigation():
            page.click("form[action$='/signin'] [type=submit]")
        # Signed in means the app's own mark of a session (the Lock form), not merely a
        # page without a password field: an error page has none either.
        assert "/signin" not in page.url, f"{role} could not sign in: {page.url}"
        assert page.locator("form.lock-form").count() == 1, f"{role} could not sign in"
        return user

    def intake(self, *args) -> str:
        """Run an `intake` command on this instance; fail with its output; return stdout."""
        done = run_intake(*args, env={"INTAKE_INSTANCE": str(self.instance)})
        check(done)
        return done.stdout.decode()


def check(done: subprocess.CompletedProcess) -> None:
    """Fail with the command's output unless it succeeded."""
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, f"{' '.join(map(str, done.args))}:\n{output}"


@functools.cache
def users_command_exists() -> bool:
    """Whether this version of `intake` has the `users` commands."""
    return run_intake("users", "--help").returncode == 0


def _env() -> dict:
    """The environment for `intake serve`: unbuffered, without the caller's INTAKE_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    return {**env, "PYTHONUNBUFFERED": "1"}
