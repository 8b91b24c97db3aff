"""Messages that stay English in data and JSON, and are translated when shown.

An error or a reason is a `Message`: a str (its English text, so JSON output,
the sealed record and tests see plain English) that also keeps its template
and named values, so that a page can translate the template through gettext
and fill in the values, themselves translated when they are messages too.
"""

from __future__ import annotations

from collections.abc import Callable


def N_(text: str) -> str:  # noqa: N802 - the conventional gettext no-op marker
    """Mark a string for extraction into the catalogs without translating it here."""
    return text


class Message(str):
    """An English message that remembers its gettext template and named values."""

    template: str
    params: dict

    def __new__(cls, template: str, **params) -> Message:
        text = template % {k: _english(v) for k, v in params.items()} if params else template
        message = super().__new__(cls, text)
        message.template, message.params = template, params
        return message


def _english(value) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return value


def translate(message, gettext: Callable[[str], str]) -> str:
    """Translate a message (or plain text) with gettext, values included."""
    if not isinstance(message, Message):
        return gettext(message) if message else message
    if not message.params:
        return gettext(message.template)
    values = {}
    for key, value in message.params.items():
        if isinstance(value, list | tuple):
            values[key] = ", ".join(translate(v, gettext) for v in value)
        elif isinstance(value, Message):
            values[key] = translate(value, gettext)
        else:
            values[key] = value
    return gettext(message.template) % values
