"""Intake: one package, three roles (field, hub, workspace), chosen by the instance."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from intake import instance as instance_module

if TYPE_CHECKING:
    from flask import Flask

DEFAULT_SECRET = "dev"  # noqa: S105 - the value create_app refuses outside tests


def create_app(test_config: dict | None = None) -> Flask:
    """Create the web app of one instance; refuse to start misconfigured."""
    from flask import Flask  # imported here: the command line need not load Flask

    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=DEFAULT_SECRET,
        INSTANCE_PATH=os.environ.get("INTAKE_INSTANCE", instance_module.DEFAULT_INSTANCE),
        MAX_CONTENT_LENGTH=1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        WTF_CSRF_TIME_LIMIT=None,  # the session lifetime bounds it instead
    )
    if test_config:
        app.config.from_mapping(test_config)
    _register_cli(app)
    try:
        inst = instance_module.load(app.config["INSTANCE_PATH"])
    except instance_module.InstanceError as e:
        if test_config is None and not os.path.exists(app.config["INSTANCE_PATH"]):
            return _not_set_up(app, str(e))  # lets `flask --app intake init` run
        raise RuntimeError(str(e)) from None
    _configure(app, inst)
    return app


def _register_cli(app: Flask) -> None:
    from intake.commands import main

    for command in main.commands.values():
        app.cli.add_command(command)


def _not_set_up(app: Flask, reason: str) -> Flask:
    """Serve nothing but a 503 from a folder that is not an instance yet."""

    @app.before_request
    def refuse():
        return f"Intake is not set up: {reason}\n", 503, {"Content-Type": "text/plain"}

    return app


def _configure(app: Flask, inst: instance_module.Instance) -> None:
    from intake import auth, errors, security, templating
    from intake.i18n import init_i18n

    app.config.setdefault("INTAKE_ROLE", inst.role)
    if app.config["SECRET_KEY"] == DEFAULT_SECRET:
        app.config["SECRET_KEY"] = inst.secret_key
    if not app.testing and app.config["SECRET_KEY"] == DEFAULT_SECRET:
        raise RuntimeError("refusing to start with the default secret key")
    app.extensions["intake_instance"] = inst
    app.extensions["intake_keyring"] = auth.KeyRing(
        app.config.get("IDLE_SECONDS", auth.IDLE_SECONDS)
    )
    security.init_app(app)
    init_i18n(app)
    templating.init_app(app)
    errors.init_app(app)
    app.before_request(auth.load_user)
    app.teardown_appcontext(auth.close_database)
    app.register_blueprint(auth.bp)
    _register_role(app, inst)


def _register_role(app: Flask, inst: instance_module.Instance) -> None:
    """Mount only the blueprints of this instance's role."""
    if inst.role == "field":
        if not app.testing and not list(inst.recipients_dir.glob("*.pub")):
            raise RuntimeError("refusing to start a field app without a recipient public key")
        # Each registers its views on views.bp: hand-over and take-back; the installable app.
        from intake.field import (  # noqa: F401 - imported to register their routes
            handover,
            offline_api,
            offline_page,
            pwa,
        )

        bp = handover.bp
    elif inst.role == "hub":
        from intake.hub import api  # registers the API routes on the hub's blueprint

        bp = api.bp

        # Batches of a few thousand sealed records; the stream is read as it comes.
        app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    else:
        from intake.workspace.views import bp
    app.register_blueprint(bp)
