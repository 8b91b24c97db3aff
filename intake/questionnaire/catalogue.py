"""The indicator catalogue: load and check indicators.toml.

Every strength, threshold and combination rule is read from the catalogue, so a
program manager corrects them in data; assessment.py only fixes what they mean.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from .conditions import QuestionnaireError, check_table, load_toml, one_of

CATALOGUE_PATH = Path(__file__).resolve().parent.parent / "questionnaires" / "indicators.toml"

DIMENSIONS = (
    "deceptive_recruitment",
    "coercive_recruitment",
    "recruitment_abuse_of_vulnerability",
    "exploitative_conditions",
    "coercion_at_destination",
    "abuse_of_vulnerability_at_destination",
)
STATUSES = ("checked", "secondary", "unverified")
STRENGTHS = ("strong", "medium", "weak")
# Child lists have no weak tier (INDICATORS.md, "Children").
CHILD_STRENGTHS = ("strong", "medium")
# Upper case, so that `intake assess --indicators dr1` can normalise what it is given.
ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*$")


@dataclass(frozen=True)
class Dimension:
    """One of the six ILO dimensions."""

    number: int
    name: str
    title: str
    status: str


@dataclass(frozen=True)
class Indicator:
    """An indicator, or an act (dimension None), with its strengths."""

    id: str
    dimension: int | None
    adult: str | None
    child: str
    text: str
    status: str
    note: str = ""

    def strength(self, child: bool) -> str | None:
        """Return the strength that applies to an adult or to a child."""
        return self.child if child else self.adult


@dataclass(frozen=True)
class Threshold:
    """A way for a dimension to be positive: minimum counts of disjoint strength sets."""

    label: str
    need: tuple[tuple[int, frozenset[str]], ...]


@dataclass(frozen=True)
class Clause:
    """Holds when any of its dimensions is positive or any of its ids is recorded."""

    label: str
    dimensions: frozenset[int]
    recorded: frozenset[str]


@dataclass(frozen=True)
class Rule:
    """A combination rule: every clause must hold."""

    label: str
    status: str
    clauses: tuple[Clause, ...]


@dataclass(frozen=True, eq=False)
class Catalogue:
    """The parsed indicators.toml."""

    dimensions: tuple[Dimension, ...]
    indicators: Mapping[str, Indicator]
    thresholds: tuple[Threshold, ...]
    adult_rule: Rule
    child_rule: Rule
    consider_strengths: frozenset[str]
    urgent: Mapping[str, tuple[str, tuple[str, ...]]]
    referral_options: Mapping[str, str]
    suggest: Mapping[str, tuple[str, ...]]
    htcds_fields: frozenset[str]
    path: Path


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and check an indicator catalogue (the packaged one by default); cached."""
    path = Path(path or CATALOGUE_PATH).resolve()
    try:
        stat = path.stat()
    except OSError as exc:
        raise QuestionnaireError(f"{path.name}: cannot read the indicator catalogue") from exc
    return _load_catalogue(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _load_catalogue(path: Path, mtime_ns: int, size: int) -> Catalogue:
    """Parse a catalogue file; mtime and size key the cache so edits are seen."""
    return load_toml(path, lambda raw: _parse_catalogue(raw, path))


def _parse_catalogue(raw: Mapping, path: Path) -> Catalogue:
    """Build a Catalogue from parsed TOML."""
    top = {
        "schema",
        "dimensions",
        "indicators",
        "acts",
        "rules",
        "urgent",
        "referral_options",
        "suggest",
        "htcds",
    }
    check_table(raw, "catalogue", top, {"title", "source"})
    options = _parse_options(raw["referral_options"])
    rules = check_table(
        raw["rules"], "rules", {"dimension_positive", "adult", "child", "consider_referral"}
    )
    indicators = _parse_indicators(raw["indicators"], raw["acts"])
    consider = check_table(
        rules["consider_referral"], "rules.consider_referral", {"status", "strengths"}, {"source"}
    )
    one_of(consider["status"], STATUSES, "rules.consider_referral.status")
    htcds = check_table(raw["htcds"], "htcds", {"status", "fields"})
    return Catalogue(
        dimensions=_parse_dimensions(raw["dimensions"]),
        indicators=indicators,
        thresholds=_parse_thresholds(rules["dimension_positive"]),
        adult_rule=_parse_rule(rules["adult"], "rules.adult", indicators),
        child_rule=_parse_rule(rules["child"], "rules.child", indicators),
        consider_strengths=frozenset(
            one_of(s, STRENGTHS, "rules.consider_referral.strengths") for s in consider["strengths"]
        ),
        urgent=_parse_urgent(raw["urgent"], options),
        referral_options=options,
        suggest=_parse_suggest(raw["suggest"], options),
        htcds_fields=frozenset(htcds["fields"]),
        path=path,
    )


def _parse_dimensions(raw: list) -> tuple[Dimension, ...]:
    """Parse the six dimensions and check they match DIMENSIONS, in order."""
    dimensions = []
    for n, item in enumerate(raw, 1):
        where = f"dimensions[{n}]"
        check_table(item, where, {"number", "name", "title", "status"})
        one_of(item["status"], STATUSES, f"{where}.status")
        dimensions.append(Dimension(item["number"], item["name"], item["title"], item["status"]))
    found = tuple((d.number, d.name) for d in dimensions)
    if found != tuple(enumerate(DIMENSIONS, 1)):
        raise QuestionnaireError(f"dimensions must be, in order: {', '.join(DIMENSIONS)}")
    return tuple(dimensions)


def _parse_indicators(raw: Mapping, acts: Mapping) -> Mapping[str, Indicator]:
    """Parse the [indicators.*] and [acts.*] tables."""
    parsed = {}
    for ident, item in raw.items():
        where = f"indicators.{ident}"
        if not ID_PATTERN.match(ident):
            raise QuestionnaireError(f"{where}: an id is upper-case letters and digits, e.g. DR1")
        check_table(item, where, {"dimension", "adult", "child", "text", "status"}, {"note"})
        one_of(item["dimension"], range(1, 7), f"{where}.dimension")
        one_of(item["adult"], STRENGTHS, f"{where}.adult")
        parsed[ident] = _indicator(ident, item, where, item["dimension"], item["adult"])
    for ident, item in acts.items():
        where = f"acts.{ident}"
        if not ID_PATTERN.match(ident):
            raise QuestionnaireError(f"{where}: an id is upper-case letters and digits, e.g. ACT")
        check_table(item, where, {"child", "text", "status"}, {"note"})
        if ident in parsed:
            raise QuestionnaireError(f"{where}: id already used by an indicator")
        parsed[ident] = _indicator(ident, item, where, None, None)
    return MappingProxyType(parsed)


def _indicator(ident: str, item: Mapping, where: str, dimension, adult) -> Indicator:
    """Check the fields common to indicators and acts, and build one."""
    one_of(item["child"], CHILD_STRENGTHS, f"{where}.child")
    one_of(item["status"], STATUSES, f"{where}.status")
    _no_victim(item["text"], f"{where}.text")
    return Indicator(
        ident, dimension, adult, item["child"], item["text"], item["status"], item.get("note", "")
    )


def _no_victim(text: object, where: str) -> None:
    """Refuse catalogue text that would put 'victim' into an assessment."""
    if not isinstance(text, str) or not text.strip():
        raise QuestionnaireError(f"{where}: must be a non-empty string")
    # The competent authority identifies; screening never says "victim" (DESIGN.md).
    if "victim" in text.lower():
        raise QuestionnaireError(f"{where}: must not say 'victim'")


def _parse_thresholds(raw: Mapping) -> tuple[Threshold, ...]:
    """Parse rules.dimension_positive: any_of thresholds with disjoint `of` sets."""
    check_table(raw, "rules.dimension_positive", {"status", "any_of"}, {"source"})
    one_of(raw["status"], STATUSES, "rules.dimension_positive.status")
    thresholds = []
    for n, item in enumerate(raw["any_of"], 1):
        where = f"rules.dimension_positive.any_of[{n}]"
        check_table(item, where, {"label", "need"})
        _no_victim(item["label"], f"{where}.label")
        need, seen = [], set()
        for part in item["need"]:
            check_table(part, f"{where}.need", {"at_least", "of"})
            of = frozenset(one_of(s, STRENGTHS, f"{where}.need.of") for s in part["of"])
            if of & seen or not isinstance(part["at_least"], int) or part["at_least"] < 1:
                raise QuestionnaireError(
                    f"{where}: each need counts at least 1, and `of` sets must not overlap"
                )
            seen |= of
            need.append((part["at_least"], of))
        thresholds.append(Threshold(item["label"], tuple(need)))
    return tuple(thresholds)


def _parse_rule(raw: Mapping, where: str, indicators: Mapping) -> Rule:
    """Parse a combination rule (rules.adult or rules.child)."""
    check_table(raw, where, {"status", "label", "all_of"}, {"source"})
    one_of(raw["status"], STATUSES, f"{where}.status")
    _no_victim(raw["label"], f"{where}.label")
    clauses = []
    for n, item in enumerate(raw["all_of"], 1):
        here = f"{where}.all_of[{n}]"
        check_table(item, here, {"label", "dimensions"}, {"recorded"})
        _no_victim(item["label"], f"{here}.label")
        dims = frozenset(one_of(d, range(1, 7), f"{here}.dimensions") for d in item["dimensions"])
        recorded = frozenset(
            one_of(i, indicators, f"{here}.recorded") for i in item.get("recorded", ())
        )
        clauses.append(Clause(item["label"], dims, recorded))
    return Rule(raw["label"], raw["status"], tuple(clauses))


def _parse_urgent(raw: Mapping, options: Mapping) -> Mapping:
    """Parse [urgent.<question id>]: a label and the referral options it suggests."""
    urgent = {}
    for ident, item in raw.items():
        where = f"urgent.{ident}"
        check_table(item, where, {"label", "referral_options"})
        _no_victim(item["label"], f"{where}.label")
        ids = tuple(
            one_of(o, options, f"{where}.referral_options") for o in item["referral_options"]
        )
        urgent[ident] = (item["label"], ids)
    return MappingProxyType(urgent)


def _parse_options(raw: Mapping) -> Mapping[str, str]:
    """Parse [referral_options.<id>] into {id: English label}, in file order."""
    options = {}
    for ident, item in raw.items():
        check_table(item, f"referral_options.{ident}", {"label"}, {"source"})
        _no_victim(item["label"], f"referral_options.{ident}.label")
        options[ident] = item["label"]
    return MappingProxyType(options)


def _parse_suggest(raw: Mapping, options: Mapping) -> Mapping[str, tuple[str, ...]]:
    """Parse [suggest]: which referral options go with which outcome."""
    keys = {"when_referral", "when_refer_now", "when_child"}
    check_table(raw, "suggest", keys | {"status"})
    one_of(raw["status"], STATUSES, "suggest.status")
    return MappingProxyType(
        {key: tuple(one_of(o, options, f"suggest.{key}") for o in raw[key]) for key in keys}
    )
