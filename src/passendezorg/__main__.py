"""`python -m passendezorg`: the command line, for when the `passendezorg` script is not on the PATH."""

from .cli import main

main()
