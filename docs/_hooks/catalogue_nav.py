"""mkdocs hook: put the generated rule catalogue's pages into the site navigation.

`passendezorg catalogue` writes the catalogue's navigation next to its pages
(docs/catalogus/.nav.json); this hook replaces the `catalogus/index.md` entry
of the nav in mkdocs.yml with it, so every ruleset, output, parameter, table
and case page appears in the navigation without listing them by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

CATALOGUE = "catalogus"


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


def on_config(config: Any) -> Any:
    from passendezorg.catalogue import catalogue_nav

    out = Path(config["docs_dir"]) / CATALOGUE
    if not (out / "index.md").exists():
        raise PluginError(f"the rule catalogue is not generated in {out}: build the site with "
                          "scripts/build_docs.sh (or run `passendezorg catalogue` first)")
    if config.get("nav"):
        _replace(config["nav"], _prefix(catalogue_nav(out)))
    return config
