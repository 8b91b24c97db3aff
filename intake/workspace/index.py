"""The case index: every opened case's summary, in memory only, for the list, filters and search.

Built at unlock from the encrypted chunks of the case store and dropped at
lock. 100,000 cases take a few tens of megabytes as slotted objects, and a
filter is one pass over them: no database query ever sees an answer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, fields
from operator import attrgetter

from intake.db.case_store import STATUSES

OUTCOMES = ("refer_now", "consider_referral", "no_indicators")
AGES = ("adult", "child")
PAGE_SIZE = 50
MAX_SEARCH = 200
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}")
# Dates a filter may name: a year beyond these is a typing slip, not a case.
FIRST_YEAR, LAST_YEAR = 1990, 2999
_DEVICE = re.compile(r"[0-9a-f]{16,64}")


_NEWEST = attrgetter("created", "device", "id")


class FilterError(ValueError):
    """A filter value that is not one of the allowed ones."""


class Case:
    """One opened case's summary, its status and its field post."""

    __slots__ = (
        "device",
        "id",
        "created",
        "kind",
        "questionnaire",
        "reference",
        "officer",
        "language",
        "officer_language",
        "child",
        "outcome",
        "dimensions",
        "urgent",
        "text",
        "identifying",
        "status",
        "status_changed",
        "post",
    )

    def __init__(self, s: list, status: tuple[str, str | None], post: str):
        # In casestore.SUMMARY_FIELDS order.
        (self.device, self.id, self.created, self.kind, self.questionnaire, self.reference,
         self.officer, self.language, self.officer_language, self.child, self.outcome,
         dimensions, urgent, self.text, identifying) = s  # fmt: skip
        self.dimensions, self.urgent, self.identifying = (
            tuple(dimensions),
            tuple(urgent),
            tuple(identifying),
        )
        self.status, self.status_changed = status
        self.post = post

    @property
    def key(self) -> tuple[str, str]:
        return (self.device, self.id)

    @property
    def day(self) -> str:
        return self.created[:10]


@dataclass(frozen=True)
class Filter:
    """What the coordinator narrowed the list to; every value checked against what may be."""

    status: str = ""
    since: str = ""
    until: str = ""
    post: str = ""
    outcome: str = ""
    language: str = ""
    age: str = ""
    urgent: str = ""
    q: str = ""

    @classmethod
    def parse(cls, values) -> Filter:
        """Build a filter from query arguments (or CLI options); refuse any value out of place."""
        raw = {f.name: (values.get(f.name) or "").strip() for f in fields(cls)}
        _one_of(raw["status"], STATUSES, "status")
        _one_of(raw["outcome"], OUTCOMES, "outcome")
        _one_of(raw["age"], AGES, "age")
        _one_of(raw["urgent"], ("yes",), "urgent")
        for name in ("since", "until"):
            if raw[name]:
                _date(raw[name], name)
        if raw["post"] and not _DEVICE.fullmatch(raw["post"]):
            raise FilterError("post: not a device id")
        if raw["language"] and not _LANGUAGE.fullmatch(raw["language"]):
            raise FilterError("language: not a language code")
        if len(raw["q"]) > MAX_SEARCH or not raw["q"].isprintable():
            raise FilterError(f"q: at most {MAX_SEARCH} printable characters")
        return cls(**raw)

    def as_args(self) -> dict[str, str]:
        """Return the filter's non-empty values (for links and forms)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def link_args(self) -> dict[str, str]:
        """Return the values for a link: the search text never goes into an address.

        An address lands in the browser's history, on disk, in the clear; a
        search may be a name or a phone number. A link says `search=1`
        instead, and the server fills in the search this session remembered.
        """
        args = self.as_args()
        if args.pop("q", None):
            args["search"] = "1"
        return args

    def describe(self) -> str:
        """Describe the filter for the audit log, without the search text (it may be a name)."""
        args = {k: v for k, v in self.as_args().items() if k != "q"}
        if self.q:
            args["q"] = "(search)"
        # Every value is short and checked; all of them together still fit an audit entry.
        return ";".join(f"{k}={v}" for k, v in args.items())[:200] or "all"

    def matches(self, case: Case) -> bool:
        """Tell whether one case passes the filter, search included."""
        return bool(self.narrow([case]))

    def narrow(self, cases: list[Case]) -> list[Case]:
        """Keep the cases that pass, in order: one tight pass per condition set.

        A pass per condition, each a comprehension with its value bound
        locally, runs several times faster over 100,000 cases than one
        method call per case.
        """
        if self.status:
            status = self.status
            cases = [c for c in cases if c.status == status]
        if self.since:
            since = self.since  # "YYYY-MM-DD" sorts before any time on that day
            cases = [c for c in cases if c.created >= since]
        if self.until:
            before = (dt.date.fromisoformat(self.until) + dt.timedelta(days=1)).isoformat()
            cases = [c for c in cases if c.created < before]
        if self.post:
            post = self.post
            cases = [c for c in cases if c.device == post]
        if self.outcome:
            outcome = self.outcome
            cases = [c for c in cases if c.outcome == outcome]
        if self.language:
            language = self.language
            cases = [c for c in cases if c.language == language]
        if self.age:
            child = self.age == "child"
            cases = [c for c in cases if c.child is child]
        if self.urgent:
            cases = [c for c in cases if c.urgent]
        for term in self.q.casefold().split():
            cases = [c for c in cases if term in c.text]
        return cases


def _one_of(value: str, allowed, name: str) -> None:
    if value and value not in allowed:
        raise FilterError(f"{name}: one of {', '.join(allowed)}")


def _date(value: str, name: str) -> None:
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{name}: a date as YYYY-MM-DD") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise FilterError(f"{name}: a date between {FIRST_YEAR} and {LAST_YEAR}")


class CaseIndex:
    """Every opened case, newest first, with the buckets that find possible duplicates."""

    def __init__(self):
        self.cases: list[Case] = []
        self.by_key: dict[tuple[str, str], Case] = {}
        self._phones: dict[str, list[Case]] = defaultdict(list)
        self._profiles: dict[tuple, list[Case]] = defaultdict(list)
        self._choices: dict | None = None

    def __len__(self) -> int:
        return len(self.cases)

    def add(self, summaries, statuses: dict, posts: dict[str, str]) -> int:
        """Add summaries not already held; return how many were new.

        `statuses` need only hold the cases whose status is not "new".
        """
        added = []
        new = ("new", None)
        for s in summaries:
            key = (s[0], s[1])
            if key in self.by_key:
                continue
            case = Case(s, statuses.get(key, new), posts.get(s[0]) or s[0][:12])
            self.by_key[key] = case
            added.append(case)
            self._remember(case)
        if added:
            self.cases.extend(added)
            # Newest first; equal times in a stable, meaningful order.
            self.cases.sort(key=_NEWEST, reverse=True)
            self._choices = None
        return len(added)

    def _remember(self, case: Case) -> None:
        phone, nationality, gender, age, country = case.identifying
        if phone:
            self._phones[phone].append(case)
        if nationality and gender and country and age is not None:
            self._profiles[(nationality, gender, country, age)].append(case)

    def set_status(self, key: tuple[str, str], status: str, when: str) -> None:
        case = self.by_key.get(key)
        if case is not None:
            case.status, case.status_changed = status, when

    def select(self, flt: Filter) -> list[Case]:
        """Return the cases the filter and search keep, newest first."""
        return flt.narrow(self.cases)

    def possible_duplicates(self, case: Case) -> list[Case]:
        """Return other cases that may be the same person: the same phone, or the same profile.

        A profile is nationality, gender, country of exploitation and an age
        within a year. Nothing is merged: the coordinator decides.
        """
        found: dict[tuple[str, str], Case] = {}
        phone, nationality, gender, age, country = case.identifying
        if phone:
            found.update((c.key, c) for c in self._phones.get(phone, ()))
        if nationality and gender and country and age is not None:
            for near in (age - 1, age, age + 1):
                found.update(
                    (c.key, c) for c in self._profiles.get((nationality, gender, country, near), ())
                )
        found.pop(case.key, None)
        return sorted(found.values(), key=lambda c: c.created, reverse=True)

    def has_duplicates(self, case: Case) -> bool:
        phone, nationality, gender, age, country = case.identifying
        if phone and len(self._phones.get(phone, ())) > 1:
            return True
        if nationality and gender and country and age is not None:
            near = sum(
                len(self._profiles.get((nationality, gender, country, a), ()))
                for a in (age - 1, age, age + 1)
            )
            return near > 1
        return False

    def choices(self) -> dict[str, list]:
        """Return what the filters can offer: the field posts and languages present."""
        if self._choices is None:  # one pass over every case: kept until cases are added
            posts = {c.device: c.post for c in self.cases}
            self._choices = {
                "posts": sorted(posts.items(), key=lambda p: p[1].casefold()),
                "languages": sorted({c.language for c in self.cases if c.language}),
            }
        return self._choices


def page_of(cases: list[Case], number: int, size: int = PAGE_SIZE) -> tuple[list[Case], int]:
    """Return one page (numbered from 1) and the number of pages."""
    pages = max(1, -(-len(cases) // size))
    number = min(max(1, number), pages)
    return cases[(number - 1) * size : number * size], pages


@dataclass
class Figures:
    """What the dashboard draws, for the cases a filter keeps."""

    total: int
    by_month: list[tuple[str, int]]
    outcomes: list[tuple[str, int]]
    dimensions: list[tuple[str, int]]
    posts: list[tuple[str, int]]
    languages: list[tuple[str, int]]
    ages: list[tuple[str, int]]
    statuses: list[tuple[str, int]]
    urgent: int


def figures(cases: list[Case]) -> Figures:
    """Count the cases by month, outcome, positive dimension, post, language, age and status."""
    outcomes = Counter(c.outcome for c in cases)
    children = sum(1 for c in cases if c.child)
    ages = {"adult": len(cases) - children, "child": children}
    statuses = Counter(c.status for c in cases)
    return Figures(
        total=len(cases),
        by_month=sorted(Counter(c.created[:7] for c in cases).items()),
        outcomes=[(o, outcomes[o]) for o in OUTCOMES if outcomes[o]],
        dimensions=Counter(d for c in cases for d in c.dimensions).most_common(),
        posts=Counter(c.post for c in cases).most_common(),
        languages=Counter(c.language or "?" for c in cases).most_common(),
        ages=[(a, ages[a]) for a in AGES if ages[a]],
        statuses=[(s, statuses[s]) for s in STATUSES if statuses[s]],
        urgent=sum(1 for c in cases if c.urgent),
    )
