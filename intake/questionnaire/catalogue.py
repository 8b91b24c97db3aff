"""The indicator catalogue: load and check indicators.toml.

Every strength, threshold and rule is read from the catalogue, so a program
manager corrects them in data; assessment.py only fixes what they mean. The
catalogue holds every item the rule reads, by kind: ILO indicators, the act,
purposes of exploitation, officer observations and urgent needs.
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
# Child lists have no weak tier (ILO/EC 2009, the two child lists).
CHILD_STRENGTHS = ("strong", "medium")
KINDS = ("act", "purpose", "indicator", "observation", "urgent")
LISTS = ("labour", "sexual")
# Upper case, so that `intake assess --indicators dr1` can normalise what it is given.
ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]*$")
# The catalogue's table for each kind, apart from [indicators].
KIND_TABLES = {"acts": "act", "purposes": "purpose", "observations": "observation"}


@dataclass(frozen=True)
class Dimension:
    """One of the six ILO dimensions."""

    number: int
    name: str
    title: str
    status: str


@dataclass(frozen=True)
class Indicator:
    """An item the rule reads: an ILO indicator (with strengths) or another kind."""

    id: str
    dimension: int | None
    adult: str | None
    child: str | None
    text: str
    status: str
    note: str = ""
    kind: str = "indicator"
    source: str = ""
    sexual_adult: str | None = None
    sexual_child: str | None = None

    def strength(self, child: bool, exploitation: str = "labour") -> str | None:
        """Return the strength for an adult or a child, in the labour or sexual list."""
        if exploitation == "sexual":
            override = self.sexual_child if child else self.sexual_adult
            if override:
                return override
        return self.child if child else self.adult


@dataclass(frozen=True)
class Urgent:
    """An urgent need: the answers that count, a label and the options it adds."""

    id: str
    label: str
    counts: tuple[str, ...]
    referral_options: tuple[str, ...]
    question: str | None
    status: str
    source: str


@dataclass(frozen=True)
class Threshold:
    """A way for a dimension to be positive: minimum counts of disjoint strength sets."""

    label: str
    need: tuple[tuple[int, frozenset[str]], ...]


@dataclass(frozen=True)
class Clause:
    """Holds when any of its tests holds (see indicators.toml, rules.refer_now)."""

    label: str
    dimensions: frozenset[int]
    recorded: frozenset[str]
    kinds: frozenset[str] = frozenset()
    strong_in: frozenset[int] = frozenset()
    any_in: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Rule:
    """A route to "refer now": every clause must hold."""

    label: str
    status: str
    clauses: tuple[Clause, ...]
    id: str = ""
    applies_to: str = "adult"
    source: str = ""


@dataclass(frozen=True, eq=False)
class Catalogue:
    """The parsed indicators.toml."""

    dimensions: tuple[Dimension, ...]
    indicators: Mapping[str, Indicator]  # every item of every kind but urgent
    thresholds: tuple[Threshold, ...]
    routes: tuple[Rule, ...]
    consider_kinds: frozenset[str]
    urgent: Mapping[str, Urgent]
    referral_options: Mapping[str, str]
    option_settings: Mapping[str, str]
    suggest: Mapping[str, tuple[str, ...]]
    htcds: Mapping[str, tuple[str, ...]]
    lists: Mapping[str, str]
    path: Path

    @property
    def htcds_fields(self) -> frozenset[str]:
        """Return the HTCDS field names a question may link to."""
        return frozenset(self.htcds)

    def routes_for(self, child: bool) -> tuple[Rule, ...]:
        """Return the refer-now routes for a child or for an adult."""
        return tuple(r for r in self.routes if r.applies_to == ("child" if child else "adult"))

    def urgent_for_question(self, question_id: str) -> Urgent | None:
        """Return the urgent need a question records, if any."""
        return next((u for u in self.urgent.values() if u.question == question_id), None)

    def items(self) -> list[dict]:
        """List every item the rule reads, as `intake assess --list` prints it."""
        listed = [
            {
                "id": i.id,
                "kind": i.kind,
                "dimension": i.dimension,
                "strength": {"adult": i.adult, "child": i.child} if i.kind == "indicator" else None,
                "source": i.source,
            }
            for i in self.indicators.values()
        ]
        listed += [
            {"id": u.id, "kind": "urgent", "dimension": None, "strength": None, "source": u.source}
            for u in self.urgent.values()
        ]
        return listed


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
    top = {"schema", "dimensions", "lists", "indicators", "acts", "purposes", "observations"}
    top |= {"rules", "urgent", "referral_options", "suggest", "htcds"}
    check_table(raw, "catalogue", top, {"title", "source"})
    if raw["schema"] != 2:
        raise QuestionnaireError("schema must be 2 (this is the version 2 catalogue format)")
    options, option_settings = _parse_options(raw["referral_options"])
    rules = check_table(
        raw["rules"], "rules", {"dimension_positive", "refer_now", "consider_referral"}
    )
    indicators = _parse_items(raw)
    urgent = _parse_urgent(raw["urgent"], options, indicators)
    consider = check_table(
        rules["consider_referral"], "rules.consider_referral", {"status", "kinds"}, {"source"}
    )
    one_of(consider["status"], STATUSES, "rules.consider_referral.status")
    return Catalogue(
        dimensions=_parse_dimensions(raw["dimensions"]),
        indicators=indicators,
        thresholds=_parse_thresholds(rules["dimension_positive"]),
        routes=tuple(
            _parse_rule(item, f"rules.refer_now[{n}]", indicators)
            for n, item in enumerate(rules["refer_now"], 1)
        ),
        consider_kinds=frozenset(
            one_of(k, KINDS, "rules.consider_referral.kinds") for k in consider["kinds"]
        ),
        urgent=urgent,
        referral_options=options,
        option_settings=option_settings,
        suggest=_parse_suggest(raw["suggest"], options),
        htcds=_parse_htcds(raw["htcds"]),
        lists=_parse_lists(raw["lists"]),
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


def _parse_lists(raw: Mapping) -> Mapping[str, str]:
    """Parse [lists.*]: the ILO lists the officer chooses from."""
    lists = {}
    for name, item in raw.items():
        where = f"lists.{name}"
        one_of(name, LISTS, where)
        check_table(item, where, {"label", "status", "source"})
        one_of(item["status"], STATUSES, f"{where}.status")
        lists[name] = item["label"]
    if set(lists) != set(LISTS):
        raise QuestionnaireError(f"[lists] must define {', '.join(LISTS)}")
    return MappingProxyType(lists)


def _parse_items(raw: Mapping) -> Mapping[str, Indicator]:
    """Parse [indicators.*], [acts.*], [purposes.*] and [observations.*]."""
    parsed: dict[str, Indicator] = {}
    for ident, item in raw["indicators"].items():
        where = f"indicators.{ident}"
        _check_id(ident, where, parsed)
        optional = {"note", "sexual_adult", "sexual_child"}
        check_table(
            item, where, {"dimension", "adult", "child", "text", "status", "source"}, optional
        )
        one_of(item["dimension"], range(1, 7), f"{where}.dimension")
        one_of(item["adult"], STRENGTHS, f"{where}.adult")
        one_of(item["child"], CHILD_STRENGTHS, f"{where}.child")
        if "sexual_adult" in item:
            one_of(item["sexual_adult"], STRENGTHS, f"{where}.sexual_adult")
        if "sexual_child" in item:
            one_of(item["sexual_child"], CHILD_STRENGTHS, f"{where}.sexual_child")
        parsed[ident] = _item(ident, item, where, "indicator")
    for table, kind in KIND_TABLES.items():
        for ident, item in raw[table].items():
            where = f"{table}.{ident}"
            _check_id(ident, where, parsed)
            check_table(item, where, {"text", "status", "source"}, {"note"})
            parsed[ident] = _item(ident, item, where, kind)
    return MappingProxyType(parsed)


def _check_id(ident: str, where: str, seen: Mapping) -> None:
    """Check an item id's form, and that no other item has it."""
    if not ID_PATTERN.match(ident):
        raise QuestionnaireError(f"{where}: an id is upper-case letters, digits and _, e.g. DR1")
    if ident in seen:
        raise QuestionnaireError(f"{where}: id already used by another item")


def _item(ident: str, item: Mapping, where: str, kind: str) -> Indicator:
    """Check the fields common to every kind, and build the item."""
    one_of(item["status"], STATUSES, f"{where}.status")
    _no_victim(item["text"], f"{where}.text")
    _no_victim(item["source"], f"{where}.source", allow_victim=True)
    return Indicator(
        id=ident,
        dimension=item.get("dimension"),
        adult=item.get("adult"),
        child=item.get("child"),
        text=item["text"],
        status=item["status"],
        note=item.get("note", ""),
        kind=kind,
        source=item["source"],
        sexual_adult=item.get("sexual_adult"),
        sexual_child=item.get("sexual_child"),
    )


def _no_victim(text: object, where: str, allow_victim: bool = False) -> None:
    """Refuse empty text, and catalogue text that would put 'victim' into an assessment."""
    if not isinstance(text, str) or not text.strip():
        raise QuestionnaireError(f"{where}: must be a non-empty string")
    # The competent authority identifies; screening never says "victim" (DESIGN.md).
    if not allow_victim and "victim" in text.lower():
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
    """Parse one route of rules.refer_now."""
    check_table(raw, where, {"id", "applies_to", "status", "label", "all_of"}, {"source"})
    one_of(raw["status"], STATUSES, f"{where}.status")
    one_of(raw["applies_to"], ("adult", "child"), f"{where}.applies_to")
    _no_victim(raw["label"], f"{where}.label")
    clauses = []
    for n, item in enumerate(raw["all_of"], 1):
        here = f"{where}.all_of[{n}]"
        tests = {"dimensions", "recorded", "kinds", "strong_in", "any_in"}
        check_table(item, here, {"label"}, tests)
        if not tests & set(item):
            raise QuestionnaireError(f"{here}: a clause needs at least one of {sorted(tests)}")
        _no_victim(item["label"], f"{here}.label")

        def numbers(key, here=here, item=item):
            return frozenset(one_of(d, range(1, 7), f"{here}.{key}") for d in item.get(key, ()))

        clauses.append(
            Clause(
                label=item["label"],
                dimensions=numbers("dimensions"),
                recorded=frozenset(
                    one_of(i, indicators, f"{here}.recorded") for i in item.get("recorded", ())
                ),
                kinds=frozenset(one_of(k, KINDS, f"{here}.kinds") for k in item.get("kinds", ())),
                strong_in=numbers("strong_in"),
                any_in=numbers("any_in"),
            )
        )
    return Rule(
        raw["label"],
        raw["status"],
        tuple(clauses),
        raw["id"],
        raw["applies_to"],
        raw.get("source", ""),
    )


def _parse_urgent(raw: Mapping, options: Mapping, indicators: Mapping) -> Mapping[str, Urgent]:
    """Parse [urgent.<ID>]: the answers that count, a label and the options it suggests."""
    urgent = {}
    for ident, item in raw.items():
        where = f"urgent.{ident}"
        _check_id(ident, where, indicators)
        keys = {"label", "counts", "referral_options", "status", "source"}
        check_table(item, where, keys, {"question"})
        _no_victim(item["label"], f"{where}.label")
        one_of(item["status"], STATUSES, f"{where}.status")
        counts = tuple(
            one_of(a, ("yes", "no", "unknown"), f"{where}.counts") for a in item["counts"]
        )
        ids = tuple(
            one_of(o, options, f"{where}.referral_options") for o in item["referral_options"]
        )
        question = item.get("question")
        urgent[ident] = Urgent(
            ident, item["label"], counts, ids, question, item["status"], item["source"]
        )
    return MappingProxyType(urgent)


def _parse_options(raw: Mapping) -> tuple[Mapping[str, str], Mapping[str, str]]:
    """Parse [referral_options.<id>] into {id: English label} and {id: required setting}."""
    options, settings = {}, {}
    for ident, item in raw.items():
        check_table(item, f"referral_options.{ident}", {"label"}, {"source", "requires_setting"})
        _no_victim(item["label"], f"referral_options.{ident}.label")
        options[ident] = item["label"]
        if "requires_setting" in item:
            settings[ident] = item["requires_setting"]
    return MappingProxyType(options), MappingProxyType(settings)


def _parse_suggest(raw: Mapping, options: Mapping) -> Mapping[str, tuple[str, ...]]:
    """Parse [suggest]: which referral options go with which outcome."""
    keys = {"when_referral", "when_refer_now", "when_child"}
    check_table(raw, "suggest", keys | {"status"})
    one_of(raw["status"], STATUSES, "suggest.status")
    return MappingProxyType(
        {key: tuple(one_of(o, options, f"suggest.{key}") for o in raw[key]) for key in keys}
    )


def _parse_htcds(raw: Mapping) -> Mapping[str, tuple[str, ...]]:
    """Parse [htcds]: field names and, for pick-lists, their allowed values."""
    check_table(raw, "htcds", {"status", "fields"})
    one_of(raw["status"], STATUSES, "htcds.status")
    fields = check_table(raw["fields"], "htcds.fields", set(), raw["fields"].keys())
    return MappingProxyType({name: tuple(values) for name, values in fields.items()})
