"""`intake serve`: the instance's web app behind a real WSGI server.

waitress serves both plain HTTP (a field node on the tablet itself, or on
127.0.0.1) and HTTPS (`--tls`, for a hub or a field node serving tablets
over Wi-Fi), every request under a deadline; for HTTPS a TLS front in the
same process relays to it (see `serving`).
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
from pathlib import Path

import click

from intake.commands.common import fail, instance_option, load_instance


@click.command("serve")
@instance_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port (0: a free one).")
@click.option("--threads", default=4, show_default=True, type=int, help="Worker threads.")
@click.option("--tls", is_flag=True, help="Serve HTTPS with this instance's own certificate.")
def serve_command(instance_dir, host, port, threads, tls) -> None:
    """Serve this instance's web app (a field node also syncs with its hub in the background)."""
    from intake import create_app

    inst = load_instance(instance_dir)
    config = {"INSTANCE_PATH": str(inst.path), "SESSION_COOKIE_SECURE": tls}
    try:
        app = create_app(config)
    except RuntimeError as e:
        fail(str(e))
    if inst.role == "field":
        from intake.field.background import start_background_sync

        start_background_sync(inst)
    if tls:
        _serve_tls(app, inst, host, port, threads)
    else:
        _serve_plain(app, inst, host, port, threads)


def _request_seconds(inst) -> float:
    from intake.commands.serving import REQUEST_SECONDS

    return float(inst.settings.get("request_timeout_seconds", REQUEST_SECONDS))


def _serve_plain(app, inst, host, port, threads) -> None:
    from intake.commands import serving

    server = serving.create_server(
        app, _request_seconds(inst), host=host, port=port, threads=threads
    )
    click.echo(
        f"Serving the {inst.role} app of {inst.path} on http://{host}:{server.effective_port}/"
    )
    server.run()


def _serve_tls(app, inst, host, port, threads) -> None:
    from intake import crypto
    from intake.commands import serving
    from intake.tls import certificate_fingerprint, ensure_certificate

    cert, key, new = ensure_certificate(inst.path)
    fingerprint = certificate_fingerprint(cert)
    # waitress listens only on a socket in a folder of this user's own; the
    # front is the one way in, so every request on it came over TLS.
    folder = Path(tempfile.mkdtemp(prefix="intake-serve-"))
    try:
        socket_path = folder / "http.sock"
        server = serving.create_server(
            app,
            _request_seconds(inst),
            unix_socket=str(socket_path),
            unix_socket_perms="600",
            url_scheme="https",
            threads=threads,
        )
        # Stopped with SIGTERM, still remove the socket's folder.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        front = serving.TLSFront(serving.tls_context(cert, key), socket_path)
        try:
            bound = front.start(host, port)
        except OSError as e:
            fail(f"cannot listen on {host}:{port}: {e.strerror}")
        click.echo(f"{'Created' if new else 'Using'} the TLS certificate {cert}")
        click.echo(f"Certificate fingerprint: {crypto.format_fingerprint(fingerprint)}")
        click.echo(_fingerprint_hint(inst.role, fingerprint))
        click.echo(f"Serving the {inst.role} app of {inst.path} on https://{host}:{bound}/")
        server.run()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _fingerprint_hint(role: str, fingerprint: str) -> str:
    """Say who needs the fingerprint: devices enrolling with a hub, or the tablets of a post."""
    if role == "hub":
        return f"  give it with each enrolment code: intake enroll --fingerprint {fingerprint} ..."
    if role == "workspace":
        return (
            "  coordinators: trust this certificate once and compare its fingerprint"
            " (docs/coordinator.md, section 3)"
        )
    return (
        "  tablets: trust this certificate once and compare its fingerprint"
        " (docs/administrator.md, section 2)"
    )
