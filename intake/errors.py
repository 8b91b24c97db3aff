"""Error pages: in the officer's language, in the app's own look, each leading home.

A tired officer who lands on an error must see what happened in words they
read and a way back to the start, never a bare English page. The hub's
machine interface (/api/) keeps its plain answers for the devices.
"""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import lazy_gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

# Status: (title, what happened and what to do). Other 4xx read as 400, 5xx as 500.
PAGES = {
    400: (
        lazy_gettext("The request was not understood"),
        lazy_gettext("Something in what was sent could not be used. Go back and try again."),
    ),
    403: (lazy_gettext("Not allowed"), lazy_gettext("Your account cannot open this page.")),
    404: (lazy_gettext("Page not found"), lazy_gettext("There is no page at this address.")),
    405: (lazy_gettext("Not allowed"), lazy_gettext("This page cannot be opened this way.")),
    413: (
        lazy_gettext("Too large"),
        lazy_gettext("What was sent is larger than this server accepts."),
    ),
    500: (
        lazy_gettext("Something went wrong"),
        lazy_gettext(
            "The page could not be shown. Try again; if it happens again, tell your administrator."
        ),
    ),
}
EXPIRED_FORM = (
    lazy_gettext("The form has expired"),
    lazy_gettext(
        "The form was open too long or did not come from this site."
        " Go back, reload the page and try again."
    ),
)


def init_app(app: Flask) -> None:
    """Answer every HTTP error (and any unexpected failure, as a 500) with an error page."""
    app.register_error_handler(HTTPException, error_page)


def error_page(error: HTTPException):
    """Render the error page for this error, keeping its status code."""
    if request.path.startswith("/api/"):
        return error
    if isinstance(error, CSRFError):
        title, message = EXPIRED_FORM
    else:
        title, message = PAGES.get(error.code) or PAGES[400 if error.code < 500 else 500]
    page = render_template("error.html", title=title, message=message, code=error.code)
    return page, error.code, _allowed_methods(error)


def _allowed_methods(error: HTTPException) -> dict:
    """Keep the Allow header a 405 must carry."""
    return {k: v for k, v in error.get_headers() if k == "Allow"}
