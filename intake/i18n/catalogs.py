"""Message catalogs: extract, update, compile and check, on Babel's own API.

The template (messages.pot) holds every interface string and every text of
the questionnaires and the indicator catalogue. `check` is what CI relies on:
for each shipped language, every message translated, none fuzzy, every
placeholder kept, and the template current with the code.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po  # noqa: F401 - read_po used by the CLI

from intake.i18n import DEFAULT_LOCALE, LANGUAGES, TRANSLATIONS, review_states

ROOT = Path(__file__).resolve().parents[2]
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


def po_path(locale: str, folder: Path = TRANSLATIONS) -> Path:
    return folder / locale / "LC_MESSAGES" / "messages.po"


def read_catalog(locale: str, folder: Path = TRANSLATIONS) -> Catalog:
    with open(po_path(locale, folder), "rb") as f:
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


def compile_catalog(locale: str, folder: Path = TRANSLATIONS) -> Path | None:
    """Compile a complete catalog to the .mo file gettext reads; None if it has gaps.

    A language with any untranslated or fuzzy message is not compiled (and an
    old .mo is removed), so it is never offered: an officer never meets a
    half-translated screen.
    """
    source = po_path(locale, folder)
    target = source.with_suffix(".mo")
    if target.exists() and target.stat().st_mtime_ns >= source.stat().st_mtime_ns:
        return target
    catalog = read_catalog(locale, folder)
    if any(m.id and (m.fuzzy or not _translated(m)) for m in catalog):
        target.unlink(missing_ok=True)
        return None
    partial = target.with_suffix(".mo.partial")
    with open(partial, "wb") as f:
        write_mo(f, catalog, use_fuzzy=False)
    partial.replace(target)
    return target


def compile_all() -> dict[str, Path | None]:
    """Compile every shipped language that has a catalog; None marks one left out."""
    return {c: compile_catalog(c) for c in shipped_locales() if po_path(c).exists()}


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


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def placeholder_problems(message) -> list[str]:
    """Say where a translation loses, invents or breaks a named placeholder.

    Babel's own check lets a translation drop every placeholder; a lost
    %(max)s would tell an officer "at most characters", so this one does not.
    The count in a plural form (%(num)d) may be left out where the language
    says "one record" in words.
    """
    ids = message.id if isinstance(message.id, tuple) else (message.id,)
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    wanted = set(_PLACEHOLDER.findall(ids[-1]))
    problems = []
    for form in strings:
        found = set(_PLACEHOLDER.findall(form))
        optional = {"num"} if len(ids) > 1 else set()
        if found - wanted:
            problems.append(f"unknown placeholder {sorted(found - wanted)}")
        if wanted - found - optional:
            problems.append(f"lost placeholder {sorted(wanted - found - optional)}")
        try:
            form % {name: 1 for name in wanted}
        except (KeyError, ValueError, TypeError) as e:
            problems.append(f"broken placeholder ({e})")
    return problems


def _translated(message) -> bool:
    if isinstance(message.id, tuple | list):
        return all(message.string)
    return bool(message.string)


def check(locale: str, template_ids: set, folder: Path = TRANSLATIONS) -> Report:
    """Check one language against the template: complete, not fuzzy, placeholders kept."""
    report = Report(locale)
    if not po_path(locale, folder).exists():
        report.problems.append("no catalog")
        return report
    catalog = read_catalog(locale, folder)
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
        errors = [str(e) for e in message.check(catalog)]
        if _translated(message):
            errors += placeholder_problems(message)
        for error in errors:
            report.problems.append(f"{message.id!r}: {error}"[:160])
    return report


def shipped_locales() -> list[str]:
    """Return every shipped language but English (whose catalog is the template)."""
    return [code for code in LANGUAGES if code != DEFAULT_LOCALE]
