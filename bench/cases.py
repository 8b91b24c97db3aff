"""The coordinator's case list at scale: unlock to first page, later pages, filters, memory.

Fills a workspace with realistic screening records (random answers to the
short questionnaire, assessed by it, sealed to the coordinator's key with
the real key-file cost, signed by pinned devices), opens them once into the
encrypted case store (the first unlock's work, timed apart), then, in a
fresh process holding only the web app as `intake serve` builds it, times:
unlock to the first page of the case list, later pages, filters and search,
and the process's peak memory. Targets: first page under 2 s after unlock;
later pages and filters under 200 ms; memory under 500 MB.

Usage: python bench/cases.py [--records 100000]
(also run by bench/workspace.py after the pull figures)
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from intake import crypto, db, envelope, instance  # noqa: E402
from intake.questionnaire import load_questionnaire  # noqa: E402

PASSPHRASE = "bench passphrase for the coordinator"
COUNTRIES = ("ER", "SY", "RO", "NG", "AF", "VN", "UA", "SD", "ET", "AL")
LANGUAGES = ("ar", "ti", "ro", "en", "fr", "fa", "uk", "am")
POSTS = ("North crossing", "South port", "Airport", "Train station", "Night shelter")


def _answers(q, rng: random.Random) -> dict:
    """Random answers to every question, kept where the questionnaire would show them."""
    answers = {}
    for question in q.questions:
        if rng.random() < 0.15:
            continue
        if question.type == "country":
            answers[question.id] = rng.choice(COUNTRIES)
        elif question.type == "number":
            answers[question.id] = rng.randint(12, 60)
        elif question.type == "date":
            answers[question.id] = f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"
        elif question.type in ("short_text", "long_text"):
            answers[question.id] = f"text {rng.randint(0, 10**6)} ሰላም"
        elif question.type == "multiple_choice" and question.choices:
            answers[question.id] = sorted(
                {c.id for c in rng.sample(question.choices, k=min(2, len(question.choices)))}
            )
        elif question.choices:
            answers[question.id] = rng.choice(question.choice_ids)
    answers["consent_explained"] = answers["consent"] = "yes"
    return q.effective_answers(answers)


def fill(folder: Path, records: int, seed: int = 7) -> tuple[instance.Instance, object]:
    """Make a workspace holding `records` verified, pinned, realistic screenings."""
    key = crypto.new_recipient_key()
    ws = instance.create(folder, "workspace", [key.public_key()])
    instance.add_coordinator_key(ws.path, crypto.private_key_pem(key, PASSPHRASE))
    rng = random.Random(seed)  # noqa: S311 - sample data, not a secret
    q = load_questionnaire("screening-short")
    devices = [(crypto.new_device_key(), name) for name in POSTS]
    database = db.open_database(ws.path)
    for device_key, name in devices:
        db.pin_device(
            database,
            {
                "device": crypto.key_id(device_key.public_key()),
                "name": name,
                "enrolled": envelope.utc_now(),
                "public_key": crypto.raw_public_key(device_key).hex(),
                "fingerprint": crypto.fingerprint(device_key.public_key()),
                "pinned_at": envelope.utc_now(),
                "revoked": None,
                "state": "pinned",
            },
        )
    rows = []
    for n in range(records):
        device_key, _name = devices[n % len(devices)]
        device = crypto.key_id(device_key.public_key())
        answers = _answers(q, rng)
        created = f"2026-{1 + n * 11 // records:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00Z"
        record = {
            "id": None,
            "kind": "screening",
            "questionnaire": {"id": q.id, "version": q.version},
            "languages": {"respondent": rng.choice(LANGUAGES), "officer": "en"},
            "officer": f"officer{n % 40}",
            "device": device,
            "answers": answers,
            "child": q.is_child(answers),
            "urgent": q.urgent_flags(answers),
            "assessment": {
                k: [str(r) for r in v] if k == "reasons" else v
                for k, v in q.assess(answers).items()
            },
        }
        sealed = envelope.seal_record(
            record, [key.public_key()], kind="screening", created=created, device=device,
            questionnaire=f"{q.id}@{q.version}",
        )  # fmt: skip
        rows.append(
            {
                "device": device, "id": sealed.record_id, "kind": "screening",
                "created": created, "envelope": sealed.data,
                "signature": crypto.sign_record(device_key, sealed.data), "source": "hub",
                "received": envelope.utc_now(), "origin": "verified", "reason": None,
            }
        )  # fmt: skip
        if len(rows) == 5000:
            db.store_pulled(database, rows)
            rows = []
    db.store_pulled(database, rows)
    database.close()
    return ws, key


def open_once(ws, key) -> float:
    """Open every record into the case store (what the first unlock does); return seconds."""
    from intake.workspace.opening import Opener
    from intake.workspace.unlocked import open_store

    database = db.open_database(ws.path)
    started = time.perf_counter()
    open_store(database, Opener(key, crypto.key_id(key.public_key())))
    elapsed = time.perf_counter() - started
    database.close()
    return elapsed


def probe(instance_path: str) -> dict:
    """In this process: the app as served, a coordinator signs in, unlocks, pages and filters."""
    from intake.accounts import create_user
    from tests.served import CsrfClient, production_app

    inst = instance.load(instance_path)
    database = db.open_database(inst.path)
    create_user(database, "coordinator", "coordinator", "coordinator password 1")
    database.close()
    app = production_app(inst.path)
    client = CsrfClient(app)
    response = client.post(
        "/signin", data={"username": "coordinator", "password": "coordinator password 1"}
    )
    assert response.status_code == 302, response.status_code
    started = time.perf_counter()
    response = client.post("/unlock", data={"passphrase": PASSPHRASE})
    assert response.status_code == 303, response.status_code
    first = client.get("/cases")
    first_page = time.perf_counter() - started
    html = first.get_data(as_text=True)
    held = int(re.search(r"([\d,]+) cases held", html).group(1).replace(",", ""))

    def timed(url: str) -> float:
        t = time.perf_counter()
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        return time.perf_counter() - t

    pages = [timed(f"/cases?page={p}") for p in (2, 3, 50, 500, 1000, 1999)]
    device = re.search(r'<option value="([0-9a-f]{16})"', html).group(1)
    filters = {
        "child": timed("/cases?age=child"),
        "urgent": timed("/cases?urgent=yes"),
        "outcome": timed("/cases?outcome=refer_now"),
        "post": timed(f"/cases?post={device}"),
        "language": timed("/cases?language=ti"),
        "dates": timed("/cases?since=2026-03-01&until=2026-04-30"),
        "search": timed("/cases?q=text+12345"),
        "combined": timed("/cases?age=adult&outcome=consider_referral&language=ar&q=ሰላም"),
        "status": timed("/cases?status=new&page=3"),
    }
    dashboard = timed("/dashboard")
    return {
        "held": held,
        "first_page_after_unlock_s": first_page,
        "later_page_ms": {"median": statistics.median(pages) * 1000, "max": max(pages) * 1000},
        "filter_ms": {k: v * 1000 for k, v in filters.items()},
        "dashboard_ms": dashboard * 1000,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run(records: int, keep: str | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="intake-bench-cases-") as tmp:
        folder = Path(keep) if keep else Path(tmp) / "ws"
        t = time.perf_counter()
        ws, key = fill(folder, records)
        filled = time.perf_counter() - t
        opened = open_once(ws, key)
        out = subprocess.run(
            [sys.executable, __file__, "--probe", str(ws.path)],
            capture_output=True, text=True,
        )  # fmt: skip
        if out.returncode != 0:
            raise SystemExit(f"the probe failed:\n{out.stderr}")
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        size = sum(p.stat().st_size for p in ws.path.rglob("*") if p.is_file())
    figures.update(
        records=records,
        fill_s=filled,
        first_open_s=opened,
        first_open_rate=records / opened,
        workspace_mb=size / 2**20,
    )
    return figures


def report(f: dict) -> None:
    print(f"case store: {f['records']:,} records ({f['workspace_mb']:.0f} MB on disk)")
    print(
        f"  first opening into the store: {f['first_open_s']:.1f} s"
        f" ({f['first_open_rate']:,.0f} records/s, once per record)"
    )
    print(f"  unlock to first page of the case list: {f['first_page_after_unlock_s']:.2f} s"
          " (target < 2 s; includes the key file's scrypt)")  # fmt: skip
    print(f"  later pages: median {f['later_page_ms']['median']:.0f} ms,"
          f" max {f['later_page_ms']['max']:.0f} ms (target < 200 ms)")  # fmt: skip
    worst = max(f["filter_ms"].values())
    detail = ", ".join(f"{k} {v:.0f}" for k, v in f["filter_ms"].items())
    print(f"  filters and search: max {worst:.0f} ms (target < 200 ms): {detail}")
    print(f"  dashboard: {f['dashboard_ms']:.0f} ms")
    print(f"  peak memory of the web process: {f['peak_rss_mb']:.0f} MB (target < 500 MB)")
    print(f"  cases listed: {f['held']:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--keep", help="Keep the filled workspace in this (new) folder.")
    parser.add_argument("--probe", help="Only time the web app on this filled workspace.")
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe)))
        return
    report(run(args.records, args.keep))


if __name__ == "__main__":
    main()
