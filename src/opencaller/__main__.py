"""``python -m opencaller`` runs the command-line interface."""

from opencaller.cli import main

main()
