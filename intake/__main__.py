"""Run the `intake` command as `python -m intake`."""

from intake.cli import main

main()
