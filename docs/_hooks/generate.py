"""mkdocs hook: generate the rule catalogue, the command line reference and an example simulation report at build time.

Nothing generated is written into docs/: on every build (and every reload of
`mkdocs serve`) the hook checks the rule book, evaluates the example cases, and
adds the catalogue's pages under catalogus/, the page reference/cli.md and an
example report of `passendezorg simulate` (guide/simulation-example/: a generated
population under two shipped scenarios) to the site in memory; the
`catalogus/index.md` entry of the nav in mkdocs.yml is replaced by the catalogue's
own navigation. So `mkdocs build --strict` alone builds the
whole site, and the catalogue cannot drift from the rule book.

The rule book and the cases are read from rules/ and cases/ next to mkdocs.yml,
or from the folders in $PASSENDEZORG_RULES and $PASSENDEZORG_CASES; the scenarios
(a page each, under catalogus/scenarios/) from scenarios/ beside the rules folder, or
from $PASSENDEZORG_SCENARIOS.

The site is English (mkdocs.yml: `language: en`); a page whose metadata names
another language (the catalogue's pages say `lang: nl`) gets that language on its
`<html>` element, so that browsers, screen readers and hyphenation read it as Dutch.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files, InclusionLevel

CATALOGUE = "catalogus"
CLI_REFERENCE = "reference/cli.md"
SIMULATION_EXAMPLE = "guide/simulation-example"
EXAMPLE_SCENARIOS = ("eigen_risico_150_per_behandeling", "digitale_zorg")
EXAMPLE_PERSONS = 400

_pages: dict[str, str] = {}
_static: dict[str, str] = {}


def _prefix(entry: Any) -> Any:
    if isinstance(entry, str):
        return f"{CATALOGUE}/{entry}"
    if isinstance(entry, list):
        return [_prefix(e) for e in entry]
    if isinstance(entry, dict):
        return {k: _prefix(v) for k, v in entry.items()}
    return entry


def _replace(nav: list[Any], section: list[Any]) -> bool:
    for i, entry in enumerate(nav):
        if isinstance(entry, dict):
            for title, value in entry.items():
                if value == f"{CATALOGUE}/index.md":
                    nav[i] = {title: section}
                    return True
                if isinstance(value, list) and _replace(value, section):
                    return True
    return False


def _folder(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value) if value else default


def on_config(config: Any) -> Any:
    try:
        from passendezorg.catalogue import catalogue_pages
        from passendezorg.cli import main
        from passendezorg.cli_docs import cli_reference_markdown
        from passendezorg.errors import PassendeZorgError
        from passendezorg.rulebook import load_rules
    except ImportError as e:
        raise PluginError(f"passendezorg is not installed in this Python ({e}): "
                          "pip install -e '.[docs]', then run mkdocs from that environment") from None

    root = Path(config["config_file_path"]).resolve().parent
    rules = _folder("PASSENDEZORG_RULES", root / "rules")
    cases = _folder("PASSENDEZORG_CASES", root / "cases")
    try:
        book = load_rules(rules)
        pages, nav = catalogue_pages(book, cases if cases.is_dir() else None)
    except PassendeZorgError as e:
        raise PluginError(f"the rule catalogue cannot be generated from {rules}:\n{e}") from None
    _pages.clear()
    _pages.update({f"{CATALOGUE}/{rel}": text for rel, text in pages.items()})
    _pages[CLI_REFERENCE] = cli_reference_markdown(main)
    _static.clear()
    _static.update(_simulation_example(book, rules))
    if config.get("nav") and not _replace(config["nav"], _prefix(nav)):
        raise PluginError(f"mkdocs.yml: the nav has no entry `{CATALOGUE}/index.md` to put the catalogue in")
    return config


def _simulation_example(book: Any, rules: Path) -> dict[str, str]:
    """The example report the simulation guide links to: a generated population under two shipped scenarios."""
    import json

    from passendezorg.errors import PassendeZorgError
    from passendezorg.population import generate
    from passendezorg.report import render_html, simulation_json
    from passendezorg.simulate import simulate

    try:
        names = {s.name for s in book.scenarios()}
    except PassendeZorgError:  # no folder of scenarios beside this rule book
        names = set()
    missing = [s for s in EXAMPLE_SCENARIOS if s not in names]
    if missing:
        note = (f"<!doctype html><html lang=en><meta charset=utf-8><title>No example report</title><p>No example "
                f"report: the rule book in {rules} has no scenario {', '.join(missing)}.</p></html>\n")
        return {f"{SIMULATION_EXAMPLE}/report.html": note}
    try:
        sim = simulate(book, generate(book, EXAMPLE_PERSONS, seed=1), list(EXAMPLE_SCENARIOS), jobs=1, sample=6)
    except PassendeZorgError as e:
        raise PluginError(f"the example simulation cannot be made from {rules}:\n{e}") from None
    data = simulation_json(sim)
    data["run"] = {}  # the time it took is not part of the page: the same book gives the same bytes
    sim.seconds = 0.0
    return {f"{SIMULATION_EXAMPLE}/report.html": render_html(sim),
            f"{SIMULATION_EXAMPLE}/report.json": json.dumps(data, indent=2, ensure_ascii=False) + "\n"}


def on_files(files: Files, config: Any) -> Files:
    # generated pages win over files of the same name in docs/ (from an earlier `passendezorg catalogue --out`)
    for file in list(files):
        if file.src_uri in _pages or file.src_uri.startswith(f"{CATALOGUE}/"):
            files.remove(file)
    for uri, text in sorted(_pages.items()):
        # the pages of the cases are linked from the case index, not listed in the navigation
        case_page = uri.startswith(f"{CATALOGUE}/casussen/") and uri != f"{CATALOGUE}/casussen/index.md"
        inclusion = InclusionLevel.NOT_IN_NAV if case_page else InclusionLevel.UNDEFINED
        files.append(File.generated(config, uri, content=text, inclusion=inclusion))
    for uri, text in sorted(_static.items()):
        files.append(File.generated(config, uri, content=text))
    return files


_HTML_LANG = re.compile(r'<html lang="[^"]*"')


def on_post_page(output: str, page: Any, config: Any) -> str:
    """A page that says its language in its metadata (`lang: nl`: the catalogue) gets it on its `<html>`."""
    lang = page.meta.get("lang")
    if not lang:
        return output
    return _HTML_LANG.sub(f'<html lang="{lang}"', output, count=1)
