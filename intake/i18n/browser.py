"""Each language's texts for the browser's offline interview, from its compiled catalog.

The offline interview (intake/static/src/offline.js) shows the questionnaire
without the node, so it cannot ask the node to translate: the build writes,
for every supported language, one file with every text of the definition
(questionnaires.json: titles, intros, questions, help, choices, officer's
actions, the reasons' templates and the catalogue's labels) and the offline
app's own interface strings (intake.field.offline_page.INTERFACE), each
translated by that language's compiled catalog (.mo), as the node's pages
translate them:

    python -m intake.i18n.browser OUT_DIR

writes OUT_DIR/texts-<lang>.json (and removes the texts of a language no
longer supported). A text that a supported language's catalog does not hold
fails the build, and nothing is written: gettext would show it in English,
and the person would meet English in the middle of their language. English
is the catalogs' source: its file holds the texts as they are.

Run after `intake translate compile`: a catalog edited since it was compiled
fails the build too, rather than ship the texts of the old one.
"""

from __future__ import annotations

import gettext
import hashlib
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from intake.i18n import DEFAULT_LOCALE, LANGUAGES, TRANSLATIONS, text_direction

FORMAT = 2  # bump when the shape below changes; texts.js refuses another
PREFIX = "texts-"
DOMAIN = "messages"


class MissingTranslationError(Exception):
    """A supported language's catalog lacks texts the browser shows (or is stale)."""

    def __init__(self, missing: Mapping[str, list[str]]):
        self.missing = dict(missing)
        # Languages that lack the same texts (a new string lacks in all) are said once.
        by_gap: dict[tuple[str, ...], list[str]] = {}
        for locale, texts in self.missing.items():
            by_gap.setdefault(tuple(texts), []).append(locale)
        lines = []
        for texts, locales in by_gap.items():
            lines.append(f"{', '.join(locales)}: {len(texts)} missing:")
            lines += [f"    {text!r}" for text in texts[:20]]
            if len(texts) > 20:
                lines.append(f"    and {len(texts) - 20} more")
        super().__init__(
            "texts the offline interview shows are not in these catalogs (run"
            " `intake translate extract`, `intake translate update`, translate them, then"
            " `intake translate compile`):\n  " + "\n  ".join(lines)
        )


def file_name(locale: str) -> str:
    """The name of a language's text file: texts-ar.json, texts-zh_Hans.json."""
    return f"{PREFIX}{locale}.json"


def mo_path(locale: str, folder: Path = TRANSLATIONS) -> Path:
    return folder / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"


def compiled_locales(folder: Path = TRANSLATIONS) -> list[str]:
    """The shipped languages with a compiled catalog, English first (i18n.supported_locales)."""
    return [code for code in LANGUAGES if code == DEFAULT_LOCALE or mo_path(code, folder).exists()]


# -- What the browser shows ---------------------------------------------------------


def definition_texts(data: Mapping | None = None) -> list[str]:
    """Every text of the definition (questionnaires.json) that a page shows, once, in order."""
    if data is None:
        from intake.questionnaire.definition import definition

        data = definition()
    found: dict[str, None] = {}

    def add(*texts) -> None:
        for text in texts:
            if text:
                found.setdefault(text, None)

    for questionnaire in data["questionnaires"].values():
        add(questionnaire["title"], questionnaire["description"])
        for section in questionnaire["sections"]:
            add(section["title"], section["intro"], section["help"])
            for question in section["questions"]:
                add(question["text"], question["help"], question["action"])
                add(*(choice["text"] for choice in question["choices"]))
    catalogue = data["catalogue"]
    add(*(d["title"] for d in catalogue["dimensions"]))
    add(*(t["label"] for t in catalogue["thresholds"]))
    for route in catalogue["routes"]:
        add(route["label"], *(clause["label"] for clause in route["clauses"]))
    add(*(need["label"] for need in catalogue["urgent"].values()))
    add(*(option["label"] for option in catalogue["referral_options"]))
    messages = catalogue["messages"]
    add(*messages["reasons"].values(), *messages["strength_words"].values())
    add(messages["indicator_with_strength"], messages["urgent_fallback"])
    return list(found)


def interface_texts() -> dict[str, str]:
    """The offline app's own strings, by name, in English (the msgids)."""
    from intake.field.offline_page import INTERFACE

    return dict(INTERFACE)


# -- Translating --------------------------------------------------------------------


class _NotInCatalog(gettext.NullTranslations):
    """The fallback that gettext would answer with English: here it says what is missing."""

    def gettext(self, message: str) -> str:
        raise KeyError(message)


def catalog(locale: str, folder: Path = TRANSLATIONS) -> gettext.NullTranslations:
    """A language's compiled catalog; English is the source, its texts are their own."""
    if locale == DEFAULT_LOCALE:
        return gettext.NullTranslations()
    mo = mo_path(locale, folder)
    po = mo.with_suffix(".po")
    if po.exists() and po.stat().st_mtime_ns > mo.stat().st_mtime_ns:
        raise MissingTranslationError({locale: [f"{po} changed since it was compiled"]})
    with open(mo, "rb") as f:
        translations = gettext.GNUTranslations(f)
    translations.add_fallback(_NotInCatalog())
    return translations


def texts_for(
    locale: str,
    folder: Path = TRANSLATIONS,
    texts: Iterable[str] | None = None,
    interface: Mapping[str, str] | None = None,
) -> tuple[dict, list[str]]:
    """Return a language's file as data, and the texts its catalog does not hold."""
    texts = definition_texts() if texts is None else list(texts)
    interface = interface_texts() if interface is None else interface
    translations = catalog(locale, folder)
    missing: list[str] = []

    def translate(text: str) -> str:
        try:
            return translations.gettext(text)
        except KeyError:
            missing.append(text)
            return text

    # The definition's texts by position, not keyed by their English words: the
    # English file's list is the keys (texts.js pairs the two), which nearly
    # halves what a tablet downloads for thirty languages. The digest of that
    # list ties each file to the English one it was built beside.
    data = {
        "format": FORMAT,
        "locale": locale,
        "lang": locale.replace("_", "-"),
        "dir": text_direction(locale),
        "interface": {name: translate(text) for name, text in interface.items()},
        "source": source_digest(texts),
        "texts": [translate(text) for text in texts],
    }
    return data, list(dict.fromkeys(missing))


def source_digest(texts: list[str]) -> str:
    """SHA-256 (hex) of the English texts in their order, as to_json writes the list."""
    return hashlib.sha256(to_json(list(texts)).encode("utf-8")).hexdigest()


def by_text(data: Mapping, source: Mapping) -> dict[str, str]:
    """A language's definition texts keyed by their English words (`source`: the English file)."""
    if data["source"] != source["source"] or len(data["texts"]) != len(source["texts"]):
        raise ValueError(f"texts of {data['locale']} were not built with these English texts")
    return dict(zip(source["texts"], data["texts"], strict=True))


def build(folder: Path = TRANSLATIONS, locales: Iterable[str] | None = None) -> dict[str, dict]:
    """Return every supported language's file; MissingTranslationError if any lacks a text."""
    texts, interface = definition_texts(), interface_texts()
    built, missing = {}, {}
    for locale in compiled_locales(folder) if locales is None else locales:
        try:
            built[locale], gaps = texts_for(locale, folder, texts, interface)
        except MissingTranslationError as stale:
            gaps = stale.missing[locale]
        if gaps:
            missing[locale] = gaps
    if missing:
        raise MissingTranslationError(missing)
    return built


def to_json(data: Mapping) -> str:
    """Serialise deterministically and compactly; the same catalogs give the same bytes."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


def write(out_dir: str | Path, folder: Path = TRANSLATIONS) -> list[Path]:
    """Write OUT_DIR/texts-<lang>.json for every supported language; return their paths.

    Everything is checked before anything is written. A file whose bytes are
    unchanged is left alone; the texts of a language no longer supported are
    removed, so that the service worker never keeps them.
    """
    out = Path(out_dir)
    built = build(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for locale, data in built.items():
        path = out / file_name(locale)
        body = to_json(data)
        if not path.exists() or path.read_text("utf-8") != body:
            partial = path.with_suffix(".json.partial")
            partial.write_text(body, encoding="utf-8")
            partial.replace(path)
        written.append(path)
    for old in out.glob(f"{PREFIX}*.json"):
        if old not in written:
            old.unlink()
    return written


def main(argv: list[str] | None = None, folder: Path = TRANSLATIONS) -> int:
    """Write the text files into the directory named on the command line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m intake.i18n.browser OUT_DIR", file=sys.stderr)
        return 2
    try:
        paths = write(args[0], folder)
    except MissingTranslationError as e:
        print(f"intake.i18n.browser: {e}", file=sys.stderr)
        return 1
    print(f"{len(paths)} text files in {args[0]}: {', '.join(p.name for p in paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
