"""Babel extractors: the questionnaire files' texts go through the same catalogs.

Registered in pyproject.toml under `babel.extractors`; babel.cfg maps
`intake/questionnaires/*.toml` to them. A questionnaire yields exactly the
texts it shows (`Questionnaire.text_notes()`), each with the general note
and, for key words, the questionnaire's own `translator_note` (what the
question is for, and the wrong senses to avoid); the indicator catalogue
yields the labels that reasons and referral options show.
"""

from __future__ import annotations

from pathlib import Path

from intake.questionnaire import load_catalogue, load_questionnaire
from intake.questionnaire.catalogue import CATALOGUE_PATH

TRANSLATOR_NOTE = "Questionnaire text: plain words a frightened person can follow."


def catalogue_texts(path: Path) -> list[str]:
    """Return the labels of the indicator catalogue that pages show."""
    catalogue = load_catalogue(path)
    texts = [d.title for d in catalogue.dimensions]
    texts += [t.label for t in catalogue.thresholds]
    for rule in catalogue.routes:
        texts += [rule.label, *(clause.label for clause in rule.clauses)]
    texts += [need.label for need in catalogue.urgent.values()]
    texts += list(catalogue.referral_options.values())
    return list(dict.fromkeys(texts))


def _line_of(source: str, text: str) -> int:
    """Return the line where a text first appears (1 when it is split across lines)."""
    at = source.find(text)
    return source.count("\n", 0, at) + 1 if at >= 0 else 1


def extract_questionnaire(fileobj, keywords, comment_tags, options):
    """Yield (line, funcname, message, comments) for every text of a questionnaire file."""
    path = Path(fileobj.name)
    source = fileobj.read().decode("utf-8")
    if path.resolve() == CATALOGUE_PATH.resolve():
        notes = [(text, ()) for text in catalogue_texts(path)]
        note = "Indicator catalogue label."
    else:
        notes, note = load_questionnaire(path).text_notes(), TRANSLATOR_NOTE
    for text, own in notes:
        yield _line_of(source, text), None, text, [note, *own]
