"""Options that several command modules share (cli, cli_claims, cli_docs, cli_serve)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

RULES_DIR = click.Path(file_okay=False, path_type=Path)
"""A rule book folder: ``--help`` shows it as DIR, and a file given instead is a usage error."""


def rules_option(help_text: str = "rule book folder (default: ./rules or $PASSENDEZORG_RULES)") -> Callable[[F], F]:
    """The ``--rules DIR`` option, as ``rules_dir`` (a Path, or None when it is not given)."""
    return click.option("--rules", "rules_dir", type=RULES_DIR, metavar="DIR", help=help_text)
