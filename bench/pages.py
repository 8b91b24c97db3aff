"""Server time and weight of every screen of the screening.

Prints, per screen, the median and 95th percentile of the app's time to
answer (1,000 requests each, through the WSGI app in this process, so the
figure is the server's work, not the network's) and the bytes the screen
sends: the HTML plus every stylesheet and script it loads.

Usage: python bench/pages.py [--requests 1000] [--form screening-full]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from intake import create_app, crypto, instance  # noqa: E402
from tests.screening import add_user, fill_section, sign_in  # noqa: E402

ASSET = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def timings(client, url: str, n: int) -> tuple[float, float, int]:
    """Return median and p95 milliseconds of n GETs, and the HTML's bytes."""
    samples, size = [], 0
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        size = len(response.data)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], size


def asset_bytes(client, html: str) -> int:
    """Return the bytes of the stylesheets and scripts a page loads."""
    total = 0
    for path in set(ASSET.findall(html)):
        response = client.get(path)
        total += len(response.data)
        response.close()
    return total


def screens(client, form: str, lang: str) -> list[tuple[str, str]]:
    """Walk a whole interview; return (name, url) of every screen an officer sees."""
    from intake.questionnaire import load_questionnaire

    questionnaire = load_questionnaire(form)
    found = [("home", "/")]
    response = client.post(
        "/screening/start", data={"questionnaire": form, "respondent_language": "en"}
    )
    location, answers = response.headers["Location"], {}
    while "/review" not in location:
        section_id = location.rsplit("/", 1)[1]
        found.append((f"section {section_id}", location))
        data = fill_section(questionnaire, section_id, answers, {"under_18": "no"}, "text", False)
        answers.update({k: v for k, v in data.items() if k != "_shown"})
        location = client.post(location, data={**data, "action": "next"}).headers["Location"]
    found.append(("review", location))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--form", default="screening-full")
    parser.add_argument("--lang", default="en", help="officer's and respondent's language")
    args = parser.parse_args()
    from intake.i18n import supported_locales

    assert args.lang in supported_locales(), f"{args.lang} has no compiled catalog"
    with tempfile.TemporaryDirectory() as tmp:
        key = crypto.new_recipient_key()
        inst = instance.create(Path(tmp) / "field", "field", [key.public_key()])
        add_user(inst, "bench", "officer")
        app = create_app(
            {"INSTANCE_PATH": str(inst.path), "TESTING": True, "WTF_CSRF_ENABLED": False}
        )
        client = app.test_client()
        signin = timings(client, f"/signin?lang={args.lang}", args.requests)
        signin_assets = asset_bytes(client, client.get("/signin").get_data(as_text=True))
        sign_in(client, "bench")
        client.get(f"/?lang={args.lang}")
        rows = [("sign-in", *signin, signin_assets)]
        for name, url in screens(client, args.form, args.lang):
            median, p95, html = timings(client, url, args.requests)
            assets = asset_bytes(client, client.get(url).get_data(as_text=True))
            rows.append((name, median, p95, html, assets))
    languages = len(supported_locales())
    print(
        f"{args.form} in {args.lang!r} ({languages} languages loaded): server time per screen"
        f" over {args.requests} requests; bytes sent"
    )
    print(
        f"{'screen':<28}{'median ms':>10}{'p95 ms':>9}{'HTML B':>9}{'CSS+JS B':>10}{'total KB':>10}"
    )
    for name, median, p95, html, assets in rows:
        total = (html + assets) / 1024
        print(f"{name:<28}{median:>10.2f}{p95:>9.2f}{html:>9}{assets:>10}{total:>10.1f}")
    worst = max(r[1] for r in rows)
    heaviest = max(r[3] + r[4] for r in rows) / 1024
    print(f"worst median {worst:.2f} ms; heaviest screen {heaviest:.1f} KB")


if __name__ == "__main__":
    main()
