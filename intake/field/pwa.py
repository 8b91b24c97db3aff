"""The installable field app: its manifest, its service worker and the offline page.

Registers its views on the field blueprint (see intake.field.views), as
intake.field.handover does.

The service worker keeps the shell of one release in one cache, named from
the app's version and a hash of what it keeps (computed once, at startup):
a new release gets a new cache, and its worker deletes the old one when it
takes over. What the worker keeps it asks for by URLs that name the release
(`?v=`), and the node answers 404 to a URL naming another release, so a page
of one release is never put beside the scripts of another: a worker that
asks a node already upgraded fails to install, whole, and the browser tries
again with the new worker.

Pages are never kept: they show case data, and the drafts stay on the node,
encrypted. The shell is the same for everyone and holds nothing of anyone's:
styles, scripts, icons, whatever the bundler built, the manifest and an
offline page in each language.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from flask import Flask, abort, current_app, g, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _

from intake.field.views import SCREENERS, bp
from intake.i18n import DEFAULT_LOCALE, TRANSLATIONS, supported_locales, text_direction

CACHE_PREFIX = "intake-shell-"
# The shell under static/, besides what the bundler writes to static/build/.
SHELL_FILES = (
    "intake.css",
    "app.js",
    "lock.js",
    "speak.js",
    "icons/icon.svg",
    "icons/icon-192.png",
    "icons/icon-512.png",
)
# What sends the offline interview's queue from the node's own pages (base.html).
WAITING_SCRIPT = "build/waiting.js"
# The templates of the offline page: their text is part of what the worker keeps.
SHELL_TEMPLATES = ("base.html", "field/offline.html")
# The endpoints whose URLs may name a release.
VERSIONED = frozenset({"static", "field.manifest", "field.offline", "field.offline_app"})


@dataclass(frozen=True)
class Shell:
    """One release's app shell: its version, its files and the worker's source."""

    version: str
    files: tuple[str, ...]  # paths under static/
    worker: str
    theme_color: str
    background_color: str

    @property
    def cache(self) -> str:
        """The name of the browser cache that holds this release."""
        return CACHE_PREFIX + self.version


def build_shell(app: Flask) -> Shell:
    """Find the shell's files and hash them, with everything else the worker keeps."""
    static = Path(app.static_folder)
    bundled = sorted(
        path.relative_to(static).as_posix()
        for path in (static / "build").rglob("*")
        if path.is_file() and path.suffix != ".map"
    )
    files = (*SHELL_FILES, *bundled)
    templates = Path(app.root_path) / "templates"
    inputs = [static / name for name in (*files, "sw.js")]
    inputs += [templates / name for name in SHELL_TEMPLATES]
    inputs += sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.mo"))  # the offline pages' text
    inputs.append(Path(__file__))  # the manifest's
    css = (static / "intake.css").read_text("utf-8")
    return Shell(
        version=f"{metadata.version('intake')}-{_digest(inputs, Path(app.root_path))}",
        files=files,
        worker=(static / "sw.js").read_text("utf-8"),
        theme_color=_colour(css, "accent"),
        background_color=_colour(css, "bg"),
    )


def _digest(paths: list[Path], root: Path) -> str:
    """Hash the files' names (relative to the package) and contents."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def _colour(css: str, name: str) -> str:
    """Read a colour of the stylesheet's :root, so the installed app wears the same."""
    match = re.search(rf"--{name}:\s*(#[0-9a-fA-F]{{3,8}})\b", css)
    if match is None:
        raise RuntimeError(f"intake.css defines no --{name} colour for the manifest")
    return match.group(1)


def shell() -> Shell:
    """This app's shell, as found at startup."""
    return current_app.extensions["intake_shell"]


@bp.record_once
def _find_shell_at_startup(state) -> None:
    """Hash the shell once, when the field blueprint joins the app."""
    state.app.extensions["intake_shell"] = build_shell(state.app)


@bp.app_context_processor
def _shell_in_templates() -> dict:
    """Let base.html link the manifest and app.js, in the field app only.

    `sends_waiting`: whether the page sends what the offline interview queued
    on the tablet (static/src/waiting.js): for those who screen, signed in
    (only they may send), except on the offline interview itself, which
    sends its queue, and while the person holds the tablet.
    """
    user = g.get("user")
    built = WAITING_SCRIPT in shell().files  # not without Node.js (`make js`): no 404 on each page
    return {"shell": shell(), "sends_waiting": built and bool(user) and user.role in SCREENERS}


@bp.before_app_request
def _one_release_per_url():
    """Refuse a shell URL of another release; link a request of this one by this one's URLs."""
    wanted = request.args.get("v")
    if wanted is None or request.endpoint not in VERSIONED:
        return
    if wanted != shell().version:
        abort(404)
    g.shell_links = True


@bp.app_url_defaults
def _release_in_shell_links(endpoint: str, values: dict) -> None:
    """Add `?v=` to the shell's links, in a response to a URL that named this release."""
    if g.get("shell_links") and endpoint in VERSIONED:
        values.setdefault("v", shell().version)


def _asked_locale() -> str:
    """The language `?locale=` names, else the request's.

    Not `?lang=`: that is the language picker's, which remembers the choice
    in the session; these pages change nothing.
    """
    asked = request.args.get("locale")
    return asked if asked in supported_locales() else str(get_locale() or DEFAULT_LOCALE)


@bp.get("/manifest.webmanifest")
def manifest():
    """Describe the installable app, in the language `?locale=` names (the page's)."""
    locale = _asked_locale()
    with force_locale(locale):
        description = _("Screening and referral forms for officers and NGO workers.")
    home = url_for("field.home")
    app_shell = shell()
    body = {
        "id": home,
        "name": "Intake",
        "short_name": "Intake",
        "description": description,
        "lang": locale.replace("_", "-"),
        "dir": text_direction(locale),
        "start_url": home,
        "scope": home,
        "display": "standalone",
        "theme_color": app_shell.theme_color,
        "background_color": app_shell.background_color,
        "icons": [
            _icon("icon.svg", "any", "image/svg+xml", "any"),
            _icon("icon-192.png", "192x192", "image/png", "any"),
            _icon("icon-512.png", "512x512", "image/png", "any"),
            _icon("icon-512.png", "512x512", "image/png", "maskable"),
        ],
    }
    return current_app.response_class(
        json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json"
    )


def _icon(name: str, sizes: str, kind: str, purpose: str) -> dict:
    """One icon of the manifest."""
    src = url_for("static", filename=f"icons/{name}")
    return {"src": src, "sizes": sizes, "type": kind, "purpose": purpose}


@bp.get("/sw.js")
def service_worker():
    """Serve the service worker from the site's root, so that its scope is the whole app.

    What it keeps is written above its source: the release's cache, the
    URLs to pre-cache and the offline page of each language, all naming the
    release. A new release changes these bytes, which is what makes the
    browser install the worker again.
    """
    app_shell = shell()
    version, locales = app_shell.version, supported_locales()
    precache = [url_for("static", filename=name, v=version) for name in app_shell.files]
    precache += [url_for("field.manifest", locale=code, v=version) for code in locales]
    offline = {
        code.replace("_", "-"): url_for("field.offline", locale=code, v=version) for code in locales
    }
    # The offline interview's page, kept as fetched without a session (no
    # token, no name): what it needs from the session it asks for online.
    app = {
        code.replace("_", "-"): url_for("field.offline_app", locale=code, v=version)
        for code in locales
    }
    config = {
        "cache": app_shell.cache,
        "prefix": CACHE_PREFIX,
        "precache": precache,
        "offline": offline,
        "app": app,
        "app_path": url_for("field.offline_app"),
        "language": DEFAULT_LOCALE,
    }
    body = f"const SHELL = {json.dumps(config, sort_keys=True)};\n{app_shell.worker}"
    return current_app.response_class(body, mimetype="text/javascript")


@bp.get("/offline")
def offline():
    """The page the service worker shows when the field node cannot be reached."""
    with force_locale(_asked_locale()):
        return render_template("field/offline.html")
