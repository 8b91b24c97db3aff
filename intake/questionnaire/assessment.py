"""The decision rule: turn recorded indicators into an outcome, reasons and referral options.

Every strength, threshold and combination rule is read from the catalogue
(catalogue.py), so a program manager corrects them in data. The code only fixes
what the rules mean: how thresholds are counted, and that an urgent-safety
answer means "refer now".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .catalogue import (
    CATALOGUE_PATH,
    CHILD_STRENGTHS,
    DIMENSIONS,
    ID_PATTERN,
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
    "urgent": N_("Urgent safety: %(label)s (answered yes)."),
    "dimension": N_(
        "%(title)s (dimension %(number)s) is positive: %(indicators)s meet "
        "the threshold '%(threshold)s'."
    ),
    "rule_held": N_("%(rule)s holds: %(parts)s."),
    "rule_missing": N_("%(rule)s does not hold; missing: %(parts)s."),
    "strong": N_("Strong indicator recorded: %(indicators)s."),
    "below": N_("The recorded indicators do not make any dimension positive: %(indicators)s."),
    "none": N_("No indicators were recorded."),
    "adult_act": N_("ACT (the child act) is recorded but counts only for a child."),
}
# Strength words inside reasons, so that they are translated too.
STRENGTH_WORDS = {"strong": N_("strong"), "medium": N_("medium"), "weak": N_("weak")}
INDICATOR_WITH_STRENGTH = N_("%(id)s (%(strength)s)")
URGENT_FALLBACK = N_("an urgent-safety answer (%(id)s)")

# The catalogue's names lived here before catalogue.py was split out; they stay
# importable from this module.
__all__ = [
    "CATALOGUE_PATH",
    "CHILD_STRENGTHS",
    "DIMENSIONS",
    "ID_PATTERN",
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
) -> dict:
    """Turn recorded indicator ids into an outcome, reasons and referral options."""
    catalogue = catalogue or load_catalogue()
    ids = _recognised(indicator_ids, catalogue)
    urgent = list(dict.fromkeys(_strings(urgent or (), "urgent")))
    strengths = {i: catalogue.indicators[i].strength(child) for i in ids}
    positive = {
        d.number: _met_threshold(catalogue, d.number, strengths) for d in catalogue.dimensions
    }
    rule = catalogue.child_rule if child else catalogue.adult_rule
    held = all(_clause_holds(c, positive, ids) for c in rule.clauses)
    strong = [i for i in ids if strengths[i] in catalogue.consider_strengths]
    if urgent or held:
        outcome = "refer_now"
    elif any(positive.values()) or strong:
        outcome = "consider_referral"
    else:
        outcome = "no_indicators"
    return {
        "outcome": outcome,
        "dimensions": {d.name: positive[d.number] is not None for d in catalogue.dimensions},
        "indicators": ids,
        "reasons": _reasons(catalogue, ids, strengths, positive, rule, held, strong, child, urgent),
        "referral_options": _referral_options(catalogue, outcome, child, urgent),
    }


def _strings(values: Iterable[str], name: str) -> list[str]:
    """Refuse a bare string where a list of ids is expected."""
    if isinstance(values, str):
        raise TypeError(f"{name} must be a list of ids, not a string")
    return [str(value) for value in values]


def _recognised(indicator_ids: Iterable[str], catalogue: Catalogue) -> list[str]:
    """Return the sorted unique ids, or raise ValueError naming the unknown ones."""
    ids = sorted(set(_strings(indicator_ids, "indicator_ids")))
    unknown = [i for i in ids if i not in catalogue.indicators]
    if unknown:
        raise ValueError(f"unknown indicator id(s): {', '.join(unknown)}")
    return ids


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


def _clause_holds(clause: Clause, positive: Mapping, ids: list[str]) -> bool:
    """Tell whether a clause of a combination rule holds."""
    return any(positive[d] for d in clause.dimensions) or bool(clause.recorded & set(ids))


def _listed(ids: Iterable[str], strengths: Mapping) -> list:
    """List ids as 'DR1 (strong), DR2 (medium)', each part translatable."""
    return [
        Message(INDICATOR_WITH_STRENGTH, id=i, strength=Message(STRENGTH_WORDS[strengths[i]]))
        if strengths[i]
        else i
        for i in ids
    ]


def _reasons(catalogue, ids, strengths, positive, rule, held, strong, child, urgent) -> list[str]:
    """Explain the outcome: child rule, urgent answers, dimensions, rule, strong ids."""
    reasons = [Message(REASONS["child"])] if child else []
    for ident in urgent:
        known = catalogue.urgent.get(ident)
        label = Message(known[0]) if known else Message(URGENT_FALLBACK, id=ident)
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
    if "ACT" in ids and not child:
        reasons.append(Message(REASONS["adult_act"]))
    if held:
        parts = [Message(c.label) for c in rule.clauses]
        reasons.append(Message(REASONS["rule_held"], rule=Message(rule.label), parts=parts))
    elif any(positive.values()):
        missing = [Message(c.label) for c in rule.clauses if not _clause_holds(c, positive, ids)]
        reasons.append(Message(REASONS["rule_missing"], rule=Message(rule.label), parts=missing))
    elif strong:
        reasons.append(Message(REASONS["strong"], indicators=_listed(strong, strengths)))
    elif ids:
        reasons.append(Message(REASONS["below"], indicators=_listed(ids, strengths)))
    elif not urgent:
        reasons.append(Message(REASONS["none"]))
    return reasons


def _referral_options(catalogue: Catalogue, outcome: str, child: bool, urgent) -> list[str]:
    """Pick the referral options for an outcome, in the catalogue's order."""
    chosen = set()
    if outcome != "no_indicators":
        chosen.update(catalogue.suggest["when_referral"])
    if outcome == "refer_now":
        chosen.update(catalogue.suggest["when_refer_now"])
    if child:
        chosen.update(catalogue.suggest["when_child"])
    for ident in urgent:
        chosen.update(catalogue.urgent.get(ident, ("", ()))[1])
    return [option for option in catalogue.referral_options if option in chosen]
