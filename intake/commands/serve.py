"""`intake serve`: the instance's web app behind a real WSGI server.

Plain HTTP (a field node on the tablet itself, or on 127.0.0.1) is served by
waitress. HTTPS (`--tls`, for a hub or a field node serving tablets over
Wi-Fi) by cheroot, whose TLS comes from Python's ssl module; waitress has
no TLS of its own.
"""

from __future__ import annotations

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


def _serve_plain(app, inst, host, port, threads) -> None:
    import waitress

    server = waitress.create_server(app, host=host, port=port, threads=threads)
    click.echo(
        f"Serving the {inst.role} app of {inst.path} on http://{host}:{server.effective_port}/"
    )
    server.run()


def _serve_tls(app, inst, host, port, threads) -> None:
    from cheroot import wsgi
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    from intake import crypto
    from intake.tls import certificate_fingerprint, ensure_certificate

    cert, key, new = ensure_certificate(inst.path)
    fingerprint = certificate_fingerprint(cert)
    server = wsgi.Server((host, port), app, numthreads=threads)
    server.ssl_adapter = BuiltinSSLAdapter(str(cert), str(key))
    server.prepare()
    bound = server.bind_addr[1]
    click.echo(f"{'Created' if new else 'Using'} the TLS certificate {cert}")
    click.echo(f"Certificate fingerprint: {crypto.format_fingerprint(fingerprint)}")
    click.echo(f"  give it with each enrolment code: intake enroll --fingerprint {fingerprint} ...")
    click.echo(f"Serving the {inst.role} app of {inst.path} on https://{host}:{bound}/")
    server.serve()
