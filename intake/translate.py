"""Message catalogs: extract, update, compile and check, on Babel's own API.

The template (messages.pot) holds every interface string and every text of
the questionnaires and the indicator catalogue. `check` is what CI relies on:
for each shipped language, every message translated, none fuzzy, every
placeholder kept, and the template current with the code.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po  # noqa: F401 - read_po used by the CLI

from intake.i18n import DEFAULT_LOCALE, LANGUAGES, TRANSLATIONS, review_states

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = TRANSLATIONS / "messages.pot"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}


def extract() -> Catalog:
    """Extract every translatable string of the package into a fresh catalog."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    catalog = Catalog(project="Intake", msgid_bugs_address="", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _serialise(catalog: Catalog, **options) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, omit_header=False, no_location=True, sort_output=True, **options)
    return out.getvalue()


def _messages(catalog: Catalog) -> set:
    return {(m.id if isinstance(m.id, str) else tuple(m.id), m.context) for m in catalog if m.id}


def template_is_current() -> bool:
    """Tell whether messages.pot holds exactly what the code would extract now."""
    if not TEMPLATE.exists():
        return False
    with open(TEMPLATE, "rb") as f:
        return _messages(read_po(f)) == _messages(extract())


def write_template() -> bool:
    """Write messages.pot if what the code holds changed; return whether it did."""
    if template_is_current():
        return False
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    TEMPLATE.write_bytes(_serialise(extract()))
    return True


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def read_catalog(locale: str) -> Catalog:
    with open(po_path(locale), "rb") as f:
        return read_po(f, locale=locale)


def update(locale: str) -> None:
    """Bring a language's catalog in line with the template, creating it if needed."""
    with open(TEMPLATE, "rb") as f:
        template = read_po(f)
    path = po_path(locale)
    if path.exists():
        catalog = read_catalog(locale)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
    else:
        catalog = Catalog(locale=locale, project="Intake", charset="utf-8")
        catalog.update(template)
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_serialise(catalog, width=100))


def compile_catalog(locale: str) -> Path:
    """Compile a language's catalog to the .mo file gettext reads."""
    catalog = read_catalog(locale)
    target = po_path(locale).with_suffix(".mo")
    with open(target, "wb") as f:
        write_mo(f, catalog, use_fuzzy=False)
    return target


@dataclass
class Report:
    """How complete and sound one language's catalog is."""

    locale: str
    total: int = 0
    translated: int = 0
    fuzzy: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.translated == self.total and not self.fuzzy

    def line(self) -> str:
        percent = 100 * self.translated / self.total if self.total else 0
        state = review_states().get(self.locale, {}).get("state", "unreviewed")
        placeholders = "placeholders intact" if not self.problems else "PROBLEMS"
        return (
            f"{self.locale:<8}{percent:6.1f}% translated ({self.translated}/{self.total}),"
            f" {self.fuzzy} fuzzy, {placeholders}, {state}"
        )


def _translated(message) -> bool:
    if isinstance(message.id, tuple | list):
        return all(message.string)
    return bool(message.string)


def check(locale: str, template_ids: set) -> Report:
    """Check one language against the template: complete, not fuzzy, placeholders kept."""
    report = Report(locale)
    if not po_path(locale).exists():
        report.problems.append("no catalog")
        return report
    catalog = read_catalog(locale)
    ids = _messages(catalog)
    for missing in sorted(template_ids - ids, key=str)[:5]:
        report.problems.append(f"missing message: {missing[0]!r}"[:120])
    for stale in sorted(ids - template_ids, key=str)[:5]:
        report.problems.append(f"stale message: {stale[0]!r}"[:120])
    for message in catalog:
        if not message.id:
            continue
        report.total += 1
        report.fuzzy += message.fuzzy
        report.translated += _translated(message) and not message.fuzzy
        for error in message.check(catalog):
            report.problems.append(f"{message.id!r}: {error}"[:160])
    return report


def shipped_locales() -> list[str]:
    """Return every shipped language but English (whose catalog is the template)."""
    return [code for code in LANGUAGES if code != DEFAULT_LOCALE]
