"""An interview in progress: an encrypted draft, then a sealed record.

Everything the person says lives either in a draft, encrypted under a key
derived from the officer's password (DESIGN invariant 3), or, once finished,
in an envelope sealed to the coordinators (invariants 1 and 2). Nothing in
this module writes an answer anywhere in the clear.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from intake import crypto, db, envelope
from intake.accounts import SignedIn
from intake.questionnaire import Questionnaire, assess, load_questionnaire
from intake.questionnaire.conditions import referenced_questions
from intake.questionnaire.model import CHILD_CONDITION

DEFAULT_DRAFT_HOURS = 72
# Who holds the tablet: the officer (everything) or the person (questions only).
OFFICER, RESPONDENT = "officer", "respondent"


class DraftError(Exception):
    """A draft cannot be found, opened or used by this officer."""


@dataclass
class Draft:
    """An open interview: its questionnaire and what has been recorded so far."""

    id: str
    questionnaire: Questionnaire
    created: str
    expires: float
    data: dict = field(default_factory=dict)

    @property
    def answers(self) -> dict:
        return self.data["answers"]

    def sections(self) -> list:
        """Return the sections shown, given the answers so far."""
        return self.questionnaire.visible_sections(self.answers)

    def neighbours(self, section_id: str) -> tuple[str | None, str | None]:
        """Return the ids of the shown sections before and after this one."""
        ids = [s.id for s in self.sections()]
        if section_id not in ids:
            return None, ids[0] if ids else None
        at = ids.index(section_id)
        return (ids[at - 1] if at else None, ids[at + 1] if at + 1 < len(ids) else None)

    @property
    def mode(self) -> str:
        """Return who holds the tablet: OFFICER or RESPONDENT."""
        return self.data.get("mode", OFFICER)

    def progress(self, section_id: str) -> dict:
        """Return the step shown for a section, and how far through the form it is.

        The step counts the screens shown so far, and the bar places the
        screen among all the form's sections: going forward neither ever goes
        down, whatever an answer opens or closes. A total over the current
        branch would ("Step 2 of 4", then "Step 3 of 11" once consent opens
        the questions).
        """
        shown = [s.id for s in self.sections()]
        every = [s.id for s in self.questionnaire.sections]
        step = shown.index(section_id) + 1 if section_id in shown else 1
        return {"step": step, "position": every.index(section_id) + 1, "total": len(every)}

    def child_presumed(self) -> bool:
        """Tell whether an answer makes the person a child, or presumed one (age uncertain).

        Before any age question is answered the rule presumes a child too;
        the notice waits for an answer, so that it means something.
        """
        questionnaire = self.questionnaire
        condition = questionnaire.conditions[CHILD_CONDITION]
        asked = referenced_questions(condition, questionnaire.conditions)
        return any(q in self.answers for q in asked) and questionnaire.is_child(self.answers)

    def summary(self) -> dict:
        """Return what the officer's list of drafts shows: no answer, only where it stands."""
        shown = [s.id for s in self.sections()]
        section = self.data.get("reached")
        section = section if section in shown else self.data.get("section")
        return {
            "id": self.id,
            "created": self.created,
            "saved": self.data.get("saved"),
            "step": self.progress(section)["step"] if section in shown else None,
            "section": self.questionnaire.section(section).title if section in shown else None,
            "respondent_language": self.data["languages"]["respondent"],
            "reference": reference(self.id),
            "expires": self.expires,
        }

    def record_section(self, section_id: str, clean: dict) -> None:
        """Replace one section's answers with the cleaned ones."""
        own = {q.id for q in self.questionnaire.section(section_id).questions}
        for question_id in own:
            self.answers.pop(question_id, None)
        self.answers.update(clean)
        self.data["section"] = section_id


def _context(draft_id: str, user_id: str) -> bytes:
    # Binds the ciphertext to its draft and owner: a draft copied to another
    # row or officer does not open.
    return f"intake-draft-v1:{draft_id}:{user_id}".encode()


def start(
    database,
    user: SignedIn,
    questionnaire_id: str,
    languages: dict,
    hours: int,
    settings: Mapping | None = None,
) -> Draft:
    """Open a new draft for this officer, asked as the instance's `settings` say."""
    questionnaire = load_questionnaire(questionnaire_id).for_settings(settings)
    now = time.time()
    draft = Draft(
        id=str(uuid.uuid4()),
        questionnaire=questionnaire,
        created=envelope.utc_now(),
        expires=now + hours * 3600,
        data={
            "questionnaire": questionnaire.id,
            "version": questionnaire.version,
            "languages": languages,
            "answers": {},
            "section": None,
        },
    )
    save(database, user, draft)
    return draft


def save(database, user: SignedIn, draft: Draft) -> None:
    """Encrypt and store the draft under the officer's key."""
    draft.data["saved"] = envelope.utc_now()
    plaintext = json.dumps(draft.data, ensure_ascii=False).encode("utf-8")
    sealed = crypto.seal_draft(user.draft_key, _context(draft.id, user.user_id), plaintext)
    db.save_draft(
        database,
        draft.id,
        user.user_id,
        draft.questionnaire.id,
        draft.created,
        draft.expires,
        sealed,
    )


def load(database, user: SignedIn, draft_id: str, settings: Mapping | None = None) -> Draft:
    """Open one of this officer's unexpired drafts, asked as the instance's `settings` say."""
    row = db.draft_for_user(database, draft_id, user.user_id, time.time())
    if row is None:
        raise DraftError("no such draft")
    try:
        plaintext = crypto.open_draft(
            user.draft_key, _context(row["id"], user.user_id), row["sealed"]
        )
    except crypto.AuthenticationError:
        raise DraftError("this draft does not open with your key") from None
    data = json.loads(plaintext)
    return Draft(
        id=row["id"],
        questionnaire=load_questionnaire(data["questionnaire"]).for_settings(settings),
        created=row["created"],
        expires=row["expires"],
        data=data,
    )


def summaries(database, user: SignedIn, now: float) -> list[dict]:
    """Return a summary of each of this officer's open drafts, newest first."""
    found = []
    for row in db.drafts_for_user(database, user.user_id, now):
        try:
            found.append(load(database, user, row["id"]).summary())
        except DraftError:
            continue  # not this key's (cannot happen for a signed-in owner): not listed
    return found


def record_of(draft: Draft, user: SignedIn, device_id: str, settings=None) -> dict:
    """Build the record to seal: answers, indicators, assessment, languages, times, officer."""
    questionnaire = draft.questionnaire
    answers = questionnaire.effective_answers(draft.answers)
    indicators = questionnaire.indicators_from_answers(answers)
    child = questionnaire.is_child(answers)
    urgent = questionnaire.urgent_flags(answers)
    assessment = assess(
        indicators,
        child=child,
        urgent=urgent,
        catalogue=questionnaire.catalogue,
        exploitation=questionnaire.exploitation_list(answers),
        settings=settings,
    )
    return {
        "id": draft.id,
        # What the officer wrote on a paper referral: the coordinator finds the case by it.
        "reference": reference(draft.id),
        "kind": "screening",
        "questionnaire": {"id": questionnaire.id, "version": questionnaire.version},
        "languages": draft.data["languages"],
        "started": draft.created,
        "finished": envelope.utc_now(),
        "officer": user.username,
        "device": device_id,
        "answers": answers,
        "indicators": indicators,
        "child": child,
        "urgent": urgent,
        "assessment": assessment,
    }


def finish(
    database, user: SignedIn, draft: Draft, recipients: list, device_id: str, settings=None
) -> dict:
    """Seal the interview into the outbox and delete its draft; return the record.

    `settings` (the instance's) decide which country-dependent referral
    options the assessment may offer (a reflection period, a hotline).
    """
    record = record_of(draft, user, device_id, settings)
    sealed = envelope.seal_record(
        record,
        recipients,
        kind="screening",
        record_id=draft.id,
        device=device_id,
        questionnaire=f"{draft.questionnaire.id}@{draft.questionnaire.version}",
    )
    if not db.finish_draft(database, draft.id, user.user_id, sealed):
        raise DraftError("this interview was finished already")
    return record


def reference(record_id: str) -> str:
    """Return the short reference an officer can read out or write down."""
    digits = record_id.replace("-", "")[:8].upper()
    return f"{digits[:4]}-{digits[4:]}"
