"""The installable field app as the node serves it: manifest, icons, worker, and its weight.

The browser tests (tests/browser/test_offline_shell.py) show the worker at
work; these check what a browser needs to install the app at all, and the
issue's budget: the whole app's scripts and styles under 100 KB compressed.
"""

from __future__ import annotations

import gzip
import json
import re
import struct

import pytest

from intake import create_app
from intake.field.pwa import shell

BUDGET = 100_000  # bytes, gzip: issue 11, "Small and fast"


@pytest.fixture
def app(field_instance):
    return create_app({"INSTANCE_PATH": str(field_instance.path), "TESTING": True})


def fetch(client, url: str):
    """GET `url` and close the response (a static file's stays open otherwise)."""
    with client.get(url) as response:
        response.get_data()
        return response


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_manifest_makes_the_app_installable(app):
    client = app.test_client()
    response = client.get("/manifest.webmanifest?locale=ar")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = json.loads(response.data)
    assert manifest["name"] == manifest["short_name"] == "Intake"
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == manifest["scope"] == "/"
    assert (manifest["lang"], manifest["dir"]) == ("ar", "rtl")
    assert re.fullmatch(r"#[0-9a-fA-F]{3,8}", manifest["theme_color"])
    sizes = {}
    for icon in manifest["icons"]:
        got = fetch(client, icon["src"])
        assert got.status_code == 200, icon
        assert got.mimetype == icon["type"], icon
        if icon["type"] == "image/png":
            width, height = _png_size(got.data)
            sizes[icon["sizes"]] = f"{width}x{height}"
    # Chrome installs an app with a 192 and a 512 pixel icon.
    assert sizes == {"192x192": "192x192", "512x512": "512x512"}
    assert any(icon["purpose"] == "maskable" for icon in manifest["icons"])


def test_the_worker_is_served_from_the_root_and_names_one_release(app):
    client = app.test_client()
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    config = json.loads(response.text.split("\n", 1)[0].removeprefix("const SHELL = ")[:-1])
    with app.app_context():
        version = shell().version
    assert config["cache"] == "intake-shell-" + version
    urls = config["precache"] + list(config["offline"].values()) + list(config["app"].values())
    assert urls and all(url.endswith(f"v={version}") for url in urls)
    for url in urls:
        assert fetch(client, url).status_code == 200, url
    # Every supported language's offline page and offline app, Arabic and Tigrinya among them.
    assert {"ar", "ti", "ro"} <= set(config["offline"]) and {"ar", "ti", "ro"} <= set(config["app"])


def test_the_app_s_scripts_and_styles_weigh_under_100_kb_compressed(app):
    client = app.test_client()
    with app.app_context():
        files = shell().files
    weighed = [name for name in files if name.endswith((".js", ".css"))]
    assert "intake.css" in weighed and "build/offline.js" in weighed
    assert "build/envelope.js" in weighed
    weight = {"sw.js": len(gzip.compress(client.get("/sw.js").data, 9))}
    for name in weighed:
        weight[name] = len(gzip.compress(fetch(client, f"/static/{name}").data, 9))
    total = sum(weight.values())
    print(f"scripts and styles: {total} bytes gzipped", weight)
    assert total < BUDGET, weight
