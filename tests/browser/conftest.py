"""Browser tests: Debian's Chromium, driven by Playwright, against the real `intake serve`.

Every test under tests/browser/ gets the `browser` marker. Without
/usr/bin/chromium they are skipped, with the command that installs it, except
under CI=true, where they fail: CI must never pass without running them.
Under CI=true no browser test may be skipped for any reason (a missing
browser or Playwright, a failing `intake` command, a skip in a fixture or at
import): `pytest_runtest_makereport` and `pytest_make_collect_report` below
turn each such skip into a failure.

Fixtures:
- `browser` (session): Chromium, headless.
- `viewport`: "phone" then "tablet" (the test runs once for each; see VIEWPORTS).
- `page`: a page in a new browser context at `viewport`.
- `page_at(viewport="phone", **context_options)`: open more pages, e.g. at one
  viewport only, or with `locale="ar"`.
- `live_server` (per test): a fresh field instance in tmp_path, served on a
  free port of 127.0.0.1; see tests.browser.LiveServer.

Every page opened through `page` or `page_at` is watched: a console error, an
uncaught exception or a Content-Security-Policy violation fails the test.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import pytest

from tests.browser import LiveServer, check, watch_page
from tests.conftest import PASSPHRASE, run_intake

# Debian's build; CHROME_PATH (Lighthouse reads it too) points elsewhere.
CHROMIUM = Path(os.environ.get("CHROME_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORTS = {
    "phone": {
        "viewport": {"width": 360, "height": 740},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
    "tablet": {"viewport": {"width": 800, "height": 1280}},
}
HERE = Path(__file__).parent
INSTALL_SCRIPT = HERE.parents[1] / "scripts" / "install-browser-deps"
# Chromium writes profiles, caches and an NSS database under $HOME: keep them in the run's tree.
CACHE = HERE.parents[1] / ".cache" / "browser"
WATCHED = pytest.StashKey[list]()


@functools.cache
def install_hint() -> str:
    """The apt-get command that installs what the browser tests need."""
    packages = re.search(r"^PACKAGES=\((.*)\)$", INSTALL_SCRIPT.read_text(), re.M).group(1)
    sudo = "" if os.geteuid() == 0 else "sudo "
    return (
        f"{sudo}apt-get update && {sudo}DEBIAN_FRONTEND=noninteractive"
        f" apt-get install -y --no-install-recommends {packages}"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def skip_or_fail(message: str):
    """Outside CI: skip, saying how to install what is missing. Under CI=true: fail."""
    if in_ci():
        pytest.fail(f"CI must run the browser tests: {message}", pytrace=False)
    pytest.skip(f"{message}; install with: {install_hint()} && .venv/bin/pip install -e '.[test]'")


def pytest_runtest_setup(item):
    if item.get_closest_marker("browser") is None or os.access(CHROMIUM, os.X_OK):
        return
    skip_or_fail(f"{CHROMIUM} is missing")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a browser test that was skipped, by whatever means, has failed."""
    report = yield
    if in_ci() and report.skipped and not hasattr(report, "wasxfail") and HERE in item.path.parents:
        report.outcome = "failed"
        report.longrepr = f"CI must run the browser tests, but {item.nodeid} was skipped: " + (
            str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        )
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    """Under CI=true a browser test module skipped at import (importorskip...) has failed."""
    report = yield
    if in_ci() and report.skipped and HERE in Path(str(collector.path)).parents:
        report.outcome = "failed"
        report.longrepr = f"CI must run the browser tests, but {collector.nodeid} was skipped"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail a test that passed if one of its pages logged an error or broke the CSP."""
    result = yield
    for seen in item.stash.get(WATCHED, []):
        seen.assert_clean()
    return result


def browser_env() -> dict:
    """The environment for Chromium: HOME, XDG folders and TMPDIR inside .cache/browser."""
    folders = {name: CACHE / name.lower() for name in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    folders["TMPDIR"] = CACHE / "tmp"
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return {**os.environ, **{name: str(folder) for name, folder in folders.items()}}


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        skip_or_fail(f"Playwright cannot be imported ({e})")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=browser_env()
        )
        yield browser
        browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request) -> str:
    return request.param


@pytest.fixture
def page_at(browser, request):
    """Open a watched page in a new context: page_at("phone", locale="ar")."""
    contexts = []
    request.node.stash[WATCHED] = []

    def open_page(viewport: str = "phone", **context_options):
        context = browser.new_context(**VIEWPORTS[viewport], **context_options)
        contexts.append(context)
        page = context.new_page()
        request.node.stash[WATCHED].append(watch_page(page))
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(page_at, viewport):
    return page_at(viewport)


@pytest.fixture(scope="session")
def coordinator_keys(tmp_path_factory) -> Path:
    """A coordinator key pair made by `intake keys new`; return its folder."""
    folder = tmp_path_factory.mktemp("browser")
    passphrase_file = folder / "passphrase.txt"
    passphrase_file.write_text(PASSPHRASE + "\n")
    keys = folder / "keys"
    check(run_intake("keys", "new", "--out", keys, "--passphrase-file", passphrase_file))
    return keys


def field_server(tmp_path, coordinator_keys) -> LiveServer:
    """A new field instance, sealing to `coordinator_keys`, ready to serve (not started)."""
    instance = tmp_path / "field"
    pub = coordinator_keys / "coordinator.pub"
    check(run_intake("init", "--instance", instance, "--role", "field", "--to", pub))
    # The server's temporary files land where the canary scans look (invariant 1).
    server_tmp = tmp_path / "server-tmp"
    server_tmp.mkdir()
    env = {"TMPDIR": str(server_tmp), "SQLITE_TMPDIR": str(server_tmp)}
    return LiveServer(instance, env=env)


@pytest.fixture
def live_server(tmp_path, coordinator_keys):
    """A new field instance, sealing to `coordinator_keys`, served by `intake serve`."""
    server = field_server(tmp_path, coordinator_keys)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        print("intake serve said:\n" + "".join(server.output))  # shown when the test fails
