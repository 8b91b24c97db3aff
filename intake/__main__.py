"""Run the `intake` command as `python -m intake`."""

from intake.commands import main

main()
