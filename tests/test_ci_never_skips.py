"""CI must run the browser tests: under CI=true a browser test that cannot run fails.

Outside CI a missing Chromium skips them, saying how to install it; `.ci/run`
sets CI=true itself, so that `make test` there can never pass without them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
A_BROWSER_TEST = "tests/browser/test_smoke.py::test_first_page"


def _run_without_chromium(tmp_path, ci: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "CHROME_PATH")}
    env["CHROME_PATH"] = str(tmp_path / "no-chromium-here")
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", A_BROWSER_TEST]
        + [f"--basetemp={tmp_path / 'run'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ci_script_sets_ci_before_running_the_tests():
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "export CI=true" in lines
    assert lines.index("export CI=true") < lines.index("make test")


@pytest.mark.parametrize("ci", [True, False])
def test_a_missing_browser_fails_under_ci_and_skips_with_a_hint_outside(tmp_path, ci):
    done = _run_without_chromium(tmp_path, ci)
    if ci:
        assert done.returncode == 1, done.stdout[-2000:]
        assert "CI must run the browser tests" in done.stdout
    else:
        assert done.returncode == 0, done.stdout[-2000:]
        assert "SKIPPED" in done.stdout and "apt-get install" in done.stdout
