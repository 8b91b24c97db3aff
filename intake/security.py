"""Headers and protections every page gets, whatever the role (DESIGN invariant 6)."""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

# No inline script or style anywhere: an injected tag cannot run.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def init_app(app: Flask) -> None:
    """Turn on CSRF protection, the security headers and the session cookie's guard."""
    csrf.init_app(app)
    app.session_interface = OwnSiteSessionInterface()
    app.before_request(return_to_own_site)
    app.after_request(_security_headers)


def _from_another_site() -> bool:
    # Fetch metadata: Chromium, Firefox and Safari say where a request comes from.
    return request.headers.get("Sec-Fetch-Site") == "cross-site"


class OwnSiteSessionInterface(SecureCookieSessionInterface):
    """The session cookie, never set nor deleted in answer to another site's request.

    The cookie is SameSite=Strict, so the browser withholds it when the officer
    follows a link from another site (a bookmark page, a chat message, a
    `?lang=` link). The app then sees no session, and anything that writes one
    (the sign-in form's CSRF token, a language choice) would replace the
    officer's cookie with a new one: signed out by a link.
    """

    def save_session(self, app, session, response) -> None:
        if _from_another_site():
            return
        super().save_session(app, session, response)


def return_to_own_site():
    """Answer a link followed from another site with a page that reloads itself.

    The reload comes from this site, so the browser sends the SameSite=Strict
    cookie with it and the officer lands where the link pointed, still signed
    in. Only the cookie's absence is answered this way; the page itself holds
    nothing and sets nothing.
    """
    cookie = current_app.config["SESSION_COOKIE_NAME"]
    if (
        request.method in ("GET", "HEAD")
        and _from_another_site()
        and request.headers.get("Sec-Fetch-Mode") == "navigate"
        and cookie not in request.cookies
    ):
        return render_template("reload.html")
    return None


def _security_headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Same-origin, not no-referrer: Flask-WTF's CSRF check over HTTPS needs a
    # Referer from this origin, and other sites still get none.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if not response.cache_control.public and not request.path.startswith("/static/"):
        # Pages may show case metadata: keep them out of shared and disk caches.
        response.headers["Cache-Control"] = "no-store"
    return response
