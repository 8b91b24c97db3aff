"""`intake serve`: the instance's web app behind waitress, a real WSGI server."""

from __future__ import annotations

import click

from intake.cli import fail, instance_option, load_instance


@click.command("serve")
@instance_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port (0: a free one).")
@click.option("--threads", default=4, show_default=True, type=int, help="Worker threads.")
def serve_command(instance_dir, host, port, threads) -> None:
    """Serve this instance's web app."""
    import waitress

    from intake import create_app

    inst = load_instance(instance_dir)
    try:
        app = create_app({"INSTANCE_PATH": str(inst.path)})
    except RuntimeError as e:
        fail(str(e))
    server = waitress.create_server(app, host=host, port=port, threads=threads)
    click.echo(
        f"Serving the {inst.role} app of {inst.path} on http://{host}:{server.effective_port}/"
    )
    server.run()
