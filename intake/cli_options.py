"""Options shared by commands defined in several modules."""

import click

# Commands that need no instance (keys, open, assess, translate) still accept
# --instance, so that scripts can pass it to every command alike.
unused_instance_option = click.option(
    "--instance", hidden=True, expose_value=False, type=click.Path(file_okay=False)
)
