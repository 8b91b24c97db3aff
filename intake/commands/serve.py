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
@click.option(
    "--tls-name",
    "tls_names",
    multiple=True,
    metavar="NAME",
    help="Another name or address tablets use for this node, put in a new certificate"
    " (--host's address is put in already; repeat for more).",
)
def serve_command(instance_dir, host, port, threads, tls, tls_names) -> None:
    """Serve this instance's web app (a field node also syncs with its hub in the background)."""
    from intake import create_app

    if tls_names and not tls:
        fail("--tls-name names the addresses of a certificate: it goes with --tls")
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
        _serve_tls(app, inst, host, port, threads, [host, *tls_names])
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


def _serve_tls(app, inst, host, port, threads, names) -> None:
    from intake import crypto
    from intake.commands import serving
    from intake.tls import certificate_fingerprint, ensure_certificate, node_names

    cert, key, new = ensure_certificate(inst.path, node_names(names))
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
        for line in _browser_hints(inst, cert, names):
            click.echo(line)
        click.echo(f"Serving the {inst.role} app of {inst.path} on https://{host}:{bound}/")
        server.run()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _browser_hints(inst, cert: Path, names: list[str]) -> list[str]:
    """What a browser needs to trust this node: its authority, at a name the certificate holds."""
    from intake import crypto
    from intake.tls import authority_path, certificate_fingerprint, names_missing, served_names

    authority = authority_path(inst.path)
    if not authority.exists():
        return [
            "  This certificate was made by an earlier release: browsers on tablets cannot"
            " install it. To make one they can, stop, move the tls folder aside and serve"
            " again (the fingerprint changes: docs/administrator.md, section 2)."
        ]
    lines = [
        f"Browsers trust this node once its authority is installed: {authority}",
        f"  authority fingerprint: {crypto.format_fingerprint(certificate_fingerprint(authority))}",
        f"  open this node at one of: {', '.join(served_names(cert))}",
    ]
    missing = names_missing(cert, names)
    if missing:
        lines.append(
            f"  Warning: the certificate does not name {', '.join(missing)}: browsers refuse"
            " it there. To add it: stop, move the tls folder aside, serve again with"
            " --tls-name (the fingerprint changes: docs/administrator.md, section 2)."
        )
    return lines


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
        "  tablets: trust this node once: install its authority and compare that"
        " fingerprint (docs/administrator.md, section 2)"
    )
