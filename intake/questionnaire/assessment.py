"""The decision rule, version 2: turn recorded items into an outcome, reasons and options.

Every strength, threshold and route is read from the catalogue (catalogue.py),
so a program manager corrects them in data. The code only fixes what the rules
mean: how thresholds are counted, that a route holds when all its clauses do,
that anything recorded below "refer now" gives "consider referral", and that
urgent needs are their own block and never change the trafficking outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .catalogue import (
    CATALOGUE_PATH,
    CHILD_STRENGTHS,
    DIMENSIONS,
    ID_PATTERN,
    KINDS,
    LISTS,
    STATUSES,
    STRENGTHS,
    Catalogue,
    Clause,
    Dimension,
    Indicator,
    Rule,
    Threshold,
    load_catalogue,
)
from .messages import N_, Message

OUTCOMES = ("no_indicators", "consider_referral", "refer_now")  # lowest first

# Every English sentence the assessment writes, in one place for translation.
# Named placeholders only. Never "victim": screening does not identify.
REASONS = {
    "child": N_(
        "Child strengths and the child rule were used: the person is under 18, "
        "or their age is uncertain and a child is presumed."
    ),
    "sexual": N_("The ILO lists for sexual exploitation were used."),
    "urgent": N_(
        "Urgent need: %(label)s. Act on it first; it does not change the screening outcome."
    ),
    "dimension": N_(
        "%(title)s (dimension %(number)s) is positive: %(indicators)s meet "
        "the threshold '%(threshold)s'."
    ),
    "rule_held": N_("%(rule)s holds: %(parts)s."),
    "rule_missing": N_("%(rule)s does not hold; missing: %(parts)s."),
    "recorded": N_("Recorded, below what a referral now needs: %(indicators)s."),
    "none": N_("No indicators were recorded."),
}
# Strength words inside reasons, so that they are translated too.
STRENGTH_WORDS = {"strong": N_("strong"), "medium": N_("medium"), "weak": N_("weak")}
INDICATOR_WITH_STRENGTH = N_("%(id)s (%(strength)s)")
URGENT_FALLBACK = N_("an urgent need (%(id)s)")

__all__ = [
    "CATALOGUE_PATH",
    "CHILD_STRENGTHS",
    "DIMENSIONS",
    "ID_PATTERN",
    "KINDS",
    "LISTS",
    "OUTCOMES",
    "REASONS",
    "STATUSES",
    "STRENGTHS",
    "Catalogue",
    "Clause",
    "Dimension",
    "Indicator",
    "Rule",
    "Threshold",
    "assess",
    "load_catalogue",
]


def assess(
    indicator_ids: Iterable[str],
    child: bool = False,
    urgent: Iterable[str] = (),
    catalogue: Catalogue | None = None,
    exploitation: str = "labour",
    settings: Mapping | None = None,
) -> dict:
    """Turn recorded item ids into an outcome, reasons and referral options.

    `indicator_ids` may hold any item of the catalogue, urgent ones too;
    `urgent` holds urgent ids (or urgent question ids) recorded apart.
    `settings` are the instance's settings: referral options that depend on
    the country are offered only when their setting is there.
    """
    catalogue = catalogue or load_catalogue()
    if exploitation not in LISTS:
        raise ValueError(f"unknown list {exploitation!r} (expected one of {', '.join(LISTS)})")
    given = _strings(indicator_ids, "indicator_ids")
    ids = _recognised([i for i in given if i not in catalogue.urgent], catalogue)
    urgent = _urgent_ids([i for i in given if i in catalogue.urgent], urgent, catalogue)
    items = catalogue.indicators
    strengths = {i: items[i].strength(child, exploitation) for i in ids}
    positive = {
        d.number: _met_threshold(catalogue, d.number, strengths) for d in catalogue.dimensions
    }
    state = (ids, strengths, positive)
    routes = catalogue.routes_for(child)
    held = [r for r in routes if all(_clause_holds(c, catalogue, state) for c in r.clauses)]
    if held:
        outcome = "refer_now"
    elif any(items[i].kind in catalogue.consider_kinds for i in ids):
        outcome = "consider_referral"
    else:
        outcome = "no_indicators"
    return {
        "outcome": outcome,
        "dimensions": {d.name: positive[d.number] is not None for d in catalogue.dimensions},
        "indicators": ids,
        "urgent": urgent,
        "routes": [r.id for r in held],
        "list": exploitation,
        "reasons": _reasons(catalogue, state, routes, held, child, exploitation, urgent),
        "referral_options": _referral_options(catalogue, outcome, child, urgent, settings),
    }


def _strings(values: Iterable[str], name: str) -> list[str]:
    """Refuse a bare string where a list of ids is expected."""
    if isinstance(values, str):
        raise TypeError(f"{name} must be a list of ids, not a string")
    return [str(value) for value in values]


def _recognised(indicator_ids: Iterable[str], catalogue: Catalogue) -> list[str]:
    """Return the sorted unique ids, or raise ValueError naming the unknown ones."""
    ids = sorted(set(indicator_ids))
    unknown = [i for i in ids if i not in catalogue.indicators]
    if unknown:
        raise ValueError(f"unknown indicator id(s): {', '.join(unknown)}")
    return ids


def _urgent_ids(listed: list[str], urgent: Iterable[str], catalogue: Catalogue) -> list[str]:
    """Return urgent ids in order, once each; a question id maps to its urgent id.

    An id the catalogue does not know is kept (fail safe: an urgent answer is
    never dropped); it is reported with a generic label.
    """
    found = list(listed)
    for value in _strings(urgent or (), "urgent"):
        known = catalogue.urgent_for_question(value)
        found.append(known.id if known else value.upper())
    return list(dict.fromkeys(found))


def _met_threshold(catalogue: Catalogue, number: int, strengths: Mapping) -> Threshold | None:
    """Return the first threshold the dimension's indicators meet, or None."""
    counts: dict[str, int] = {}
    for ident, strength in strengths.items():
        if catalogue.indicators[ident].dimension == number and strength:
            counts[strength] = counts.get(strength, 0) + 1
    for threshold in catalogue.thresholds:
        # `of` sets within a threshold are disjoint, so each need counts apart.
        if all(sum(counts.get(s, 0) for s in of) >= n for n, of in threshold.need):
            return threshold
    return None


def _clause_holds(clause: Clause, catalogue: Catalogue, state) -> bool:
    """Tell whether a clause of a route holds."""
    ids, strengths, positive = state
    items = catalogue.indicators
    return (
        any(positive[d] for d in clause.dimensions)
        or bool(clause.recorded & set(ids))
        or any(items[i].kind in clause.kinds for i in ids)
        or any(items[i].dimension in clause.strong_in and strengths[i] == "strong" for i in ids)
        or any(items[i].dimension in clause.any_in for i in ids)
    )


def _listed(ids: Iterable[str], strengths: Mapping) -> list:
    """List ids as 'DR1 (strong), DR2 (medium)', each part translatable."""
    return [
        Message(INDICATOR_WITH_STRENGTH, id=i, strength=Message(STRENGTH_WORDS[strengths[i]]))
        if strengths.get(i)
        else i
        for i in ids
    ]


def _reasons(catalogue, state, routes, held, child, exploitation, urgent) -> list[str]:
    """Explain the outcome: child rule, urgent needs, dimensions, routes, what is recorded."""
    ids, strengths, positive = state
    reasons = [Message(REASONS["child"])] if child else []
    if exploitation == "sexual":
        reasons.append(Message(REASONS["sexual"]))
    for ident in urgent:
        known = catalogue.urgent.get(ident)
        label = Message(known.label) if known else Message(URGENT_FALLBACK, id=ident)
        reasons.append(Message(REASONS["urgent"], label=label))
    for dim in catalogue.dimensions:
        if positive[dim.number]:
            members = [i for i in ids if catalogue.indicators[i].dimension == dim.number]
            reasons.append(
                Message(
                    REASONS["dimension"],
                    title=Message(dim.title),
                    number=dim.number,
                    indicators=_listed(members, strengths),
                    threshold=Message(positive[dim.number].label),
                )
            )
    for route in held:
        parts = [Message(c.label) for c in route.clauses]
        reasons.append(Message(REASONS["rule_held"], rule=Message(route.label), parts=parts))
    if not held and any(positive.values()) and routes:
        # The first route is the combination rule: say what it still lacks.
        first = routes[0]
        missing = [
            Message(c.label) for c in first.clauses if not _clause_holds(c, catalogue, state)
        ]
        reasons.append(Message(REASONS["rule_missing"], rule=Message(first.label), parts=missing))
    if not held and ids:
        reasons.append(Message(REASONS["recorded"], indicators=_listed(ids, strengths)))
    if not ids:
        reasons.append(Message(REASONS["none"]))
    return reasons


def _referral_options(catalogue: Catalogue, outcome, child, urgent, settings) -> list[str]:
    """Pick the referral options, in the catalogue's order, that apply in this country."""
    chosen = set()
    if outcome != "no_indicators":
        chosen.update(catalogue.suggest["when_referral"])
    if outcome == "refer_now":
        chosen.update(catalogue.suggest["when_refer_now"])
    if child:
        chosen.update(catalogue.suggest["when_child"])
    for ident in urgent:
        known = catalogue.urgent.get(ident)
        chosen.update(known.referral_options if known else ())
    settings = settings or {}
    return [
        option
        for option in catalogue.referral_options
        if option in chosen
        and (
            option not in catalogue.option_settings
            or settings.get(catalogue.option_settings[option])
        )
    ]
