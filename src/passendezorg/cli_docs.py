"""The `catalogue` command, and the CLI reference page generated from the click commands themselves.

``register(group)`` adds the command to a click group (the main CLI calls it);
``python -m passendezorg.cli_docs`` runs the same command on its own.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import click

from .cli_options import rules_option
from .errors import PassendeZorgError

DEFAULT_OUT = Path("docs") / "catalogus"


@click.command("catalogue")
@rules_option()
@click.option("--cases", "cases_dir", type=click.Path(path_type=Path),
              help="folder of example cases to evaluate and link (default: ./cases, if it exists)")
@click.option("--out", "out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True,
              help="folder to write the catalogue pages to")
@click.option("--cli-reference", "cli_reference", type=click.Path(path_type=Path), metavar="FILE",
              help="also write the command line reference (Markdown) to FILE")
@click.option("--scenarios", "scenarios_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="the folder of scenarios, a page each (default: $PASSENDEZORG_SCENARIOS, else scenarios/ beside "
                   "the rules folder)")
def catalogue(rules_dir: Path | None, cases_dir: Path | None, out: Path, cli_reference: Path | None,
              scenarios_dir: Path | None) -> None:
    """Generate the rule catalogue, Markdown pages in Dutch for mkdocs-material, from the checked rule book.

    The documentation site's build (mkdocs build) generates the catalogue by itself;
    this command writes the same pages to a folder, e.g. for another site. Each scenario
    of the rule book gets a page of its own.
    """
    from .catalogue import generate_catalogue
    from .errors import UsageError
    from .rulebook import load_rules

    rules = rules_dir or Path(os.environ.get("PASSENDEZORG_RULES") or "rules")
    book = load_rules(rules, scenarios=scenarios_dir)
    if cases_dir is not None and not cases_dir.is_dir():
        raise UsageError(f"{cases_dir}: no such folder of cases")
    cases = cases_dir if cases_dir is not None else (Path("cases") if Path("cases").is_dir() else None)
    pages = generate_catalogue(book, cases, out)
    click.echo(f"wrote {len(pages)} catalogue page(s) to {out}")
    if cli_reference is not None:
        root = click.get_current_context().find_root().command  # the whole command line this command is part of
        assert isinstance(root, click.Group)
        cli_reference.parent.mkdir(parents=True, exist_ok=True)
        cli_reference.write_text(cli_reference_markdown(root), encoding="utf-8")
        click.echo(f"wrote the command line reference to {cli_reference}")


def register(group: click.Group) -> None:
    """Add the `catalogue` command to a click group."""
    group.add_command(catalogue)


# ---------------------------------------------------------------- the CLI reference


def cli_reference_markdown(group: click.Group, prog: str = "passendezorg") -> str:
    """A Markdown page for every command of a click group: usage, description, arguments and options."""
    ctx = click.Context(group, info_name=prog)
    lines = [
        "<!-- generated from the click commands by `passendezorg catalogue --cli-reference`; do not edit -->",
        "",
        "# Command line reference",
        "",
        _doc(group.help),
        "",
        "```text",
        group.get_usage(ctx),
        "```",
        "",
        "Exit codes: `0` success; `1` the work failed (the rule book has errors, a case is malformed, a test "
        "failed, a claim was rejected: the message says what); `2` a usage error.",
    ]
    lines += _params(group, ctx)
    lines += _commands(group, ctx, [], 2)
    return "\n".join(lines).rstrip() + "\n"


def _commands(group: click.Group, ctx: click.Context, path: list[str], level: int) -> list[str]:
    """Every command of a group, and of its subgroups one heading level deeper."""
    lines: list[str] = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        sub = click.Context(cmd, info_name=name, parent=ctx)
        title = " ".join([*path, name])
        lines += ["", f"{'#' * level} {title}", "", _doc(cmd.help), "", "```text", cmd.get_usage(sub), "```"]
        lines += _params(cmd, sub)
        if isinstance(cmd, click.Group):
            lines += _commands(cmd, sub, [*path, name], min(level + 1, 6))
    return lines


def _doc(text: str | None) -> str:
    """A command's help as Markdown: up to click's ``\\f`` cut, dedented, without click's ``\\b`` markers."""
    text = inspect.cleandoc(click.unstyle(text or "").split("\f")[0])
    return "\n".join(line for line in text.splitlines() if line.strip() != "\b").strip()


def _params(cmd: click.Command, ctx: click.Context) -> list[str]:
    args = [p for p in cmd.params if isinstance(p, click.Argument)]
    opts = [p for p in cmd.params if isinstance(p, click.Option) and not p.hidden]
    out: list[str] = []
    if args:
        out += ["", "| Argument | Takes | Required |", "| --- | --- | --- |"]
        for a in args:
            many = " …" if a.nargs == -1 else ""
            takes = ", ".join(a.type.choices) if isinstance(a.type, click.Choice) else a.type.name
            out.append(f"| `{a.human_readable_name}`{many} | {_cell(str(takes))} | {'yes' if a.required else 'no'} |")
    if opts:
        out += ["", "| Option | Description |", "| --- | --- |"]
        for o in opts:
            record = o.get_help_record(ctx)
            if record is None:
                continue
            names, help_text = record
            out.append(f"| `{_cell(names)}` | {_cell(click.unstyle(help_text))} |")
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> None:  # pragma: no cover - `python -m passendezorg.cli_docs`
    try:
        catalogue.main(prog_name="passendezorg catalogue", standalone_mode=True)
    except PassendeZorgError as e:
        click.echo(f"error: {e}", err=True)
        raise SystemExit(e.exit_code) from None


if __name__ == "__main__":  # pragma: no cover
    main()
