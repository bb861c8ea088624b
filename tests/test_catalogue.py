"""The rule catalogue: Dutch renderings of conditions, the pages generated from a rule book, the site build.

The rule book in tests/catalogue_book/ is made for these tests: nested exceptions,
validity periods of every form, dated parameters with an unknown period, a table,
a file without a ruleset, and cases of which one has a wrong expectation and one
cannot be read (on purpose: the catalogue must show both).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from passendezorg import load_rules
from passendezorg import nodes as n
from passendezorg.catalogue import DutchRenderer, catalogue_nav, dutch_money, generate_catalogue, ident, parameter_chart
from passendezorg.cli import main
from passendezorg.cli_docs import cli_reference_markdown, register
from passendezorg.rulebook import RuleBook

ROOT = Path(__file__).resolve().parent.parent
BOOK = Path(__file__).resolve().parent / "catalogue_book"


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return load_rules(BOOK / "rules")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, book: RuleBook) -> Path:
    out = tmp_path_factory.mktemp("catalogus")
    generate_catalogue(book, BOOK / "cases", out)
    return out


def plain(markdown: str) -> str:
    """Markdown of the renderer as the reader sees it: without links, tags and escapes."""
    text = re.sub(r"<[^>]+>", "", markdown)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return text.replace("\\", "")


# ---------------------------------------------------------------- conditions in Dutch


def condition(book: RuleBook, rule: str) -> str:
    when = book.program.rules[rule].when
    assert when is not None
    return plain(DutchRenderer(book.program).condition_block(when))


def test_a_condition_reads_as_dutch(book: RuleBook) -> None:
    assert condition(book, "fysio_volwassene") == (
        "de soort van de behandeling is fysiotherapie en de leeftijd is ten minste 18 jaar")


def test_tables_lookups_and_missing_facts_read_as_dutch(book: RuleBook) -> None:
    assert condition(book, "fysio_chronisch_vanaf_21") == (
        "de aandoening van de behandeling staat in de tabel chronische_lijst en de zitting van de behandeling is meer dan 20")
    assert condition(book, "fysio_boven_maximum") == (
        "de zitting van de behandeling is meer dan de kolom maximum van de tabel chronische_lijst voor de aandoening "
        "van de behandeling")
    assert condition(book, "eigen_risico_volwassene") == (
        "de leeftijd is ten minste 18 jaar of de aandoening van de behandeling ontbreekt")
    assert condition(book, "wlz_niet_verzekerd") == (
        "wlz indicatie van de verzekerde is ja en de soort van de behandeling is niet huisartsenzorg")


def test_values_read_as_dutch(book: RuleBook) -> None:
    dutch = DutchRenderer(book.program)
    assert plain(dutch.value(book.program.rules["eigen_risico_volwassene"].value)) == (
        "het kleinste van het eigen risico en de prijs van de behandeling")
    leeftijd = book.program.values["leeftijd"].definition
    assert leeftijd is not None
    assert plain(dutch.value(leeftijd)) == (
        "het aantal hele jaren van de geboortedatum van de verzekerde tot de datum van de behandeling")


def _expr(text: str, book: RuleBook) -> n.Expr:
    """A condition over the test book's names, checked the way the checker checks rules."""
    from passendezorg.check import Checker
    from passendezorg.syntax import parse_text

    source = (BOOK / "rules" / "fysio.pz").read_text(encoding="utf-8")
    source += f'\nregel proef\n  bron "proef"\n  als {text}\n  dan huisarts_vrij = ja\n'
    source += '\nuitvoer huisarts_vrij : janee\n'
    parsed, diags = parse_text(source, str(BOOK / "rules" / "proef.pz"))
    assert parsed is not None and not diags
    program = Checker([parsed], BOOK / "rules").run()
    assert program is not None
    when = program.rules["proef"].when
    assert when is not None
    return when


@pytest.mark.parametrize(("source", "dutch"), [
    ("behandeling.soort in [fysiotherapie, oefentherapie]",
     "de soort van de behandeling is fysiotherapie of oefentherapie"),
    ("behandeling.soort niet in [fysiotherapie, oefentherapie]",
     "de soort van de behandeling is noch fysiotherapie, noch oefentherapie"),
    ("behandeling.aandoening niet in chronische_lijst",
     "de aandoening van de behandeling staat niet in de tabel chronische_lijst"),
    ("behandeling.zitting is bekend", "de zitting van de behandeling is bekend"),
    ("niet (behandeling.zitting is bekend)", "de zitting van de behandeling ontbreekt"),
    ("niet verzekerde.wlz_indicatie", "wlz indicatie van de verzekerde is nee"),
    ("behandeling.datum < 2024-01-01", "de datum van de behandeling ligt vóór 1 januari 2024"),
    ("behandeling.datum >= verzekerde.geboortedatum + 18 jaar",
     "de datum van de behandeling ligt op of na 18 jaar na de geboortedatum van de verzekerde"),
    ("behandeling.datum < begin_maand(verzekerde.geboortedatum + 18 jaar) + 1 maand",
     "de datum van de behandeling ligt vóór 1 maand na de eerste dag van de maand van 18 jaar na de geboortedatum "
     "van de verzekerde"),
    ("behandeling.prijs * 80 % > € 1234,5",
     "de prijs van de behandeling maal 80 % is meer dan € 1.234,50"),
    ("behandeling.zitting <= 9 of behandeling.zitting != 12",
     "de zitting van de behandeling is ten hoogste 9 of de zitting van de behandeling is niet 12"),
    ("behandeling.aandoening = \"COPD\"", "de aandoening van de behandeling is “COPD”"),
])
def test_expressions_read_as_dutch(book: RuleBook, source: str, dutch: str) -> None:
    assert plain(DutchRenderer(book.program).condition_block(_expr(source, book))) == dutch


def test_long_conditions_become_lists(book: RuleBook) -> None:
    e = _expr("behandeling.zitting > 1 en (behandeling.zitting > 2 of leeftijd < 4) en "
              "(behandeling.zitting > 3 of leeftijd < 5 of leeftijd > 80)", book)
    text = plain(DutchRenderer(book.program).condition_block(e))
    assert text.splitlines() == [
        "alle volgende voorwaarden gelden:",
        "",
        "- de zitting van de behandeling is meer dan 1",
        "- de zitting van de behandeling is meer dan 2 of de leeftijd is lager dan 4 jaar",
        "- ten minste één van de volgende voorwaarden geldt:",
        "",
        "    - de zitting van de behandeling is meer dan 3",
        "    - de leeftijd is lager dan 5 jaar",
        "    - de leeftijd is hoger dan 80 jaar",
    ]


@pytest.mark.parametrize(("name", "expected"), [
    ("behandeling.aantal_personen", "het aantal personen van de behandeling"),
    ("kraamzorg_eigen_bijdrage_per_uur", "de kraamzorg eigen bijdrage per uur"),
    ("eigen_risico_bedrag", "het eigen risico bedrag"),
    ("wmo_abonnementstarief", "het wmo abonnementstarief"),
    ("behandeling.oordeel_beoordelaar", "het oordeel beoordelaar van de behandeling"),
    ("copd_klasse", "de copd klasse"),
])
def test_dutch_articles(book: RuleBook, name: str, expected: str) -> None:
    assert DutchRenderer(book.program).noun(name) == expected


def test_dutch_money() -> None:
    from decimal import Decimal

    assert dutch_money(Decimal("385")) == "€ 385,00"
    assert dutch_money(Decimal("1234567.5")) == "€ 1.234.567,50"
    assert dutch_money(Decimal("-12.3")) == "€ -12,30"  # the sign with the number, as in a decision


# ---------------------------------------------------------------- pages


def test_a_page_for_every_ruleset_output_parameter_table_and_case(site: Path, book: RuleBook) -> None:
    p = book.program
    for rs in p.rulesets:
        assert (site / "regelsets" / f"{rs}.md").exists()
    assert (site / "overige-regels.md").exists()  # the rules of a file without a ruleset
    for name in p.outputs:
        assert (site / "uitvoer" / f"{name}.md").exists()
    assert (site / "afgeleid" / "leeftijd.md").exists()
    for name in p.parameters:
        assert (site / "parameters" / f"{name}.md").exists()
    for name in p.tables:
        assert (site / "tabellen" / f"{name}.md").exists()
    for case in ("chronisch_21", "verkeerde_verwachting", "kapot", "index"):
        assert (site / "casussen" / f"{case}.md").exists()


def test_every_rule_appears_with_its_title_source_and_validity(site: Path, book: RuleBook) -> None:
    for rule in book.program.rules.values():
        page = (site / ("overige-regels.md" if rule.ruleset is None else f"regelsets/{rule.ruleset}.md")).read_text()
        section = page[page.index(f"{{#regel-{rule.name}}}"):]
        section = section[: section.find("\n### ")] if "\n### " in section else section
        assert rule.title is not None and rule.title in page
        for s in rule.sources:
            assert (f"]({s.url})" in section) if s.url else (s.title in section)
        assert "- **Geldig:** " in section
    text = (site / "regelsets" / "fysiotherapie.md").read_text()
    assert "- **Geldig:** vanaf 1 januari 2012" in text
    assert "- **Geldig:** van 1 januari 2020 tot en met 31 december 2030" in text
    assert "- **Geldig:** tot en met 31 december 2040" in text
    assert "- **Geldig:** altijd (geen geldigheidsperiode)" in text


def test_the_project_rule_book_in_full() -> None:
    """The catalogue of the shipped rule book: a page per ruleset, every rule with its source and validity."""
    from passendezorg.catalogue import catalogue_pages

    book = load_rules(ROOT / "rules")
    pages, _nav = catalogue_pages(book, ROOT / "cases")
    for name in book.program.rulesets:
        assert f"regelsets/{name}.md" in pages
    for rule in book.program.rules.values():
        page = pages["overige-regels.md" if rule.ruleset is None else f"regelsets/{rule.ruleset}.md"]
        section = page[page.index(f"{{#regel-{rule.name}}}"):]
        section = section[: section.find("\n### ")] if "\n### " in section else section
        assert "- **Geldig:** " in section and "- **Bron:** " in section, rule.name
        for src in rule.sources:
            assert (f"]({src.url})" in section) if src.url else (md_plain(src.title) in section), rule.name
    for name in book.program.outputs:
        assert f"uitvoer/{name}.md" in pages
    cases = pages["casussen/index.md"]
    assert "kan niet worden doorgerekend" not in cases and "wijkt af" not in cases


def test_the_project_scenarios_have_a_page_each() -> None:
    """A page per scenario: not law, its sources, what it changes against which rules in force, its cases."""
    from passendezorg.catalogue import catalogue_pages

    book = load_rules(ROOT / "rules")
    pages, nav = catalogue_pages(book, ROOT / "cases")
    names = [s.name for s in book.scenarios()]
    assert names and {"Scenario's": [{"Overzicht": "scenarios/index.md"}, *[{n: f"scenarios/{n}.md"} for n in names]]} \
        in nav
    for s in book.scenarios():
        page = pages[f"scenarios/{s.name}.md"]
        assert '!!! warning "Geen geldend recht"' in page and "## Wat het verandert" in page
        assert "## Casussen" in page and "wijkt af" not in page and "kan niet worden doorgerekend" not in page
        for src in s.sources:
            assert md_plain(src.title) in page, (s.name, src.title)
        assert f"[{ident(s.name)}](scenarios/{s.name}.md)" in pages["index.md"]
    first_line = pages["scenarios/eerstelijnstarief.md"]
    assert "uitzondering op [Het tarief is het bedrag dat de zorgaanbieder in rekening brengt " \
           "(`tarief_gedeclareerd`)](../regelsets/tarieven.md#regel-tarief_gedeclareerd)" in first_line
    assert "`tarief` = **€ 24,85** (regel tarief\\_eerstelijnstarief van het scenario)" in first_line
    tariffs = pages["regelsets/tarieven.md"]
    assert "[eerstelijnstarief](../scenarios/eerstelijnstarief.md) maakt er een uitzondering op " \
           "(`tarief_eerstelijnstarief`)" in tariffs.split("- **In scenario's (geen geldend recht):** ")[1]
    plan = pages["scenarios/eigen_risico_165.md"]
    assert "| 1 januari 2027 | — | **€ 165,00** |" in plan and "| 1 januari 2019 | 31 december 2026 | € 385,00 |" in plan
    assert "De tabel van het scenario heeft geen rijen." in pages["scenarios/zorg_zonder_bewezen_waarde.md"]
    # every link between the pages resolves, anchors included
    anchors = {path: set(re.findall(r"\{#([^}]+)\}", text)) | set(re.findall(r'id="([^"]+)"', text))
               for path, text in pages.items()}
    for path, text in pages.items():
        if not path.startswith("scenarios/") and path not in ("index.md", "regelsets/tarieven.md"):
            continue
        here = Path(path).parent
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith("http"):
                continue
            link, _, anchor = target.partition("#")
            resolved = _norm((here / link).as_posix()) if link else path
            assert resolved in anchors, f"{path}: broken link {target}"
            if anchor:
                assert anchor in anchors[resolved], f"{path}: no anchor {target}"


def md_plain(text: str) -> str:
    from passendezorg.catalogue import md

    return md(text)


def test_exceptions_both_ways_and_the_cases_that_exercise_a_rule(site: Path) -> None:
    text = (site / "regelsets" / "fysiotherapie.md").read_text()
    chronic = text[text.index("{#regel-fysio_chronisch_vanaf_21}"):text.index("{#regel-fysio_boven_maximum}")]
    assert "- **Uitzondering op:** [Fysiotherapie vanaf 18 jaar" in chronic
    assert "(#regel-fysio_volwassene)" in chronic
    assert "- **Uitzonderingen hierop:** [Niet boven het maximum" in chronic
    assert "[volwassene chronisch 21](../casussen/chronisch_21.md)" in chronic
    maximum = text[text.index("{#regel-fysio_boven_maximum}"):text.index("{#regel-wlz_niet_verzekerd}")]
    assert "- **Casussen waarin deze regel beslist:** geen" in maximum


def test_output_page_draws_the_exception_tree(site: Path, book: RuleBook) -> None:
    text = (site / "uitvoer" / "verzekerd.md").read_text()
    diagram = text[text.index("```mermaid"):]
    diagram = diagram[: diagram.index("\n```\n")]
    rules = book.program.values["verzekerd"].rules
    ids = {name: re.search(rf'(r\d+)\["<b>{name.replace("_", "_<wbr>")}</b>', diagram).group(1)  # type: ignore[union-attr]
           for name in rules}
    for name in rules:  # every box holds the rule's whole title: mermaid wraps it, nothing is cut short
        title = book.program.rules[name].title
        assert title is not None and f'</b><br/>{title}"]' in diagram
    assert "…" not in diagram
    assert f"out --> {ids['fysio_volwassene']}" in diagram
    assert f"out --> {ids['wlz_niet_verzekerd']}" in diagram
    assert f"{ids['fysio_volwassene']} -->|uitzondering| {ids['fysio_chronisch_vanaf_21']}" in diagram
    assert f"{ids['fysio_chronisch_vanaf_21']} -->|uitzondering| {ids['fysio_boven_maximum']}" in diagram
    assert 'out -.->|standaard| dflt("ja")' in diagram
    for name in rules:
        assert f"#regel-{name})" in text  # the table under the diagram links every rule


def test_parameter_page_has_dated_values_and_a_chart(site: Path, book: RuleBook) -> None:
    text = (site / "parameters" / "eigen_risico.md").read_text()
    assert "| 1 januari 2014 | 31 december 2014 | € 360,00 | [Zorgverzekeringswet, artikel 19, bedrag 2014]" in text
    assert "| 1 januari 2027 | — | *onbekend* | — |" in text
    svg = text[text.index("<svg"):text.index("</svg>") + 6]
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}circle")) == 3  # one point for each known value
    labels = [t.text for t in root.iter(f"{ns}text")]
    assert "€ 385,00" in labels and "onbekend" in labels and "2016" in labels
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch


def test_chart_only_for_numbers_with_a_known_value(book: RuleBook) -> None:
    from dataclasses import replace

    param = book.program.parameters["eigen_risico"]
    assert parameter_chart(replace(param, type=n.TypeRef("text"))) is None
    unknown = tuple(replace(p, value=None) for p in param.periods)
    assert parameter_chart(replace(param, periods=unknown)) is None
    chart = parameter_chart(book.program.parameters["zittingen_kind"])
    assert chart is not None and ">18</text>" in chart


def test_table_page(site: Path) -> None:
    text = (site / "tabellen" / "chronische_lijst.md").read_text()
    assert "- **Bestand:** `data/chronisch.csv`" in text
    assert "- **Rijen:** 2" in text
    assert "| COPD | Chronische obstructieve longziekte | 60 |" in text
    assert "(`fysio_chronisch_vanaf_21`)](../regelsets/fysiotherapie.md#regel-fysio_chronisch_vanaf_21)" in text


def test_case_pages_show_decisions_expectations_and_errors(site: Path) -> None:
    index = (site / "casussen" / "index.md").read_text()
    assert "| klopt |" in index and "| 1 afwijking |" in index and "| kan niet worden doorgerekend |" in index
    good = (site / "casussen" / "chronisch_21.md").read_text()
    assert "Peildatum: **1 maart 2024**" in good
    assert "| [<code>verzekerd</code>](../uitvoer/verzekerd.md) | **ja** | [Bij een aandoening" in good
    assert "| **€ 385,00** |" in good
    assert "- voor `verzekerd`: [Bij een aandoening" in good  # the exception that went before the rule it overrode
    wrong = (site / "casussen" / "verkeerde_verwachting.md").read_text()
    assert "De uitkomst wijkt af van de verwachting" in wrong
    broken = (site / "casussen" / "kapot.md").read_text()
    assert "Deze casus kan niet worden doorgerekend" in broken and "expected one of" in broken


def test_navigation_lists_every_page(site: Path) -> None:
    nav = catalogue_nav(site)

    def paths(entry: object) -> list[str]:
        if isinstance(entry, str):
            return [entry]
        if isinstance(entry, list):
            return [p for e in entry for p in paths(e)]
        if isinstance(entry, dict):
            return [p for v in entry.values() for p in paths(v)]
        return []

    listed = set(paths(nav))
    written = {p.relative_to(site).as_posix() for p in site.rglob("*.md")}
    cases = {p for p in written if p.startswith("casussen/") and p != "casussen/index.md"}
    assert cases, "the test book has cases"
    assert listed == written - cases
    # the case pages are reached from the case index instead
    index = (site / "casussen" / "index.md").read_text(encoding="utf-8")
    for page in cases:
        assert f"](../{page})" in index


def test_links_between_pages_resolve(site: Path) -> None:
    anchors: dict[str, set[str]] = {}
    for page in site.rglob("*.md"):
        anchors[page.relative_to(site).as_posix()] = set(re.findall(r"\{#([^}]+)\}", page.read_text()))
    for page in site.rglob("*.md"):
        here = page.relative_to(site).parent
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if target.startswith("http"):
                continue
            path, _, anchor = target.partition("#")
            resolved = _norm((here / path).as_posix()) if path else page.relative_to(site).as_posix()
            assert resolved in anchors, f"{page.name}: broken link {target}"
            if anchor:
                assert anchor in anchors[resolved], f"{page.name}: no anchor {target}"


def _norm(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return "/".join(parts)


def test_generation_is_deterministic_and_clears_only_its_own_pages(tmp_path: Path, book: RuleBook) -> None:
    out = tmp_path / "cat"
    first = {p: p.read_bytes() for p in generate_catalogue(book, BOOK / "cases", out)}
    own = out / "notities.md"
    own.write_text("# mijn eigen pagina\n", encoding="utf-8")
    stale = out / "regelsets" / "vervallen.md"
    stale.write_text((out / "index.md").read_text(encoding="utf-8"), encoding="utf-8")
    second = {p: p.read_bytes() for p in generate_catalogue(book, BOOK / "cases", out)}
    assert first == second
    assert own.exists() and not stale.exists()


# ---------------------------------------------------------------- the command and the CLI reference


def test_catalogue_command(tmp_path: Path) -> None:
    ref = tmp_path / "cli.md"
    result = CliRunner().invoke(main, ["catalogue", "--rules", str(BOOK / "rules"), "--cases", str(BOOK / "cases"),
                                       "--out", str(tmp_path / "cat"), "--cli-reference", str(ref)])
    assert result.exit_code == 0, result.output
    assert "wrote 16 catalogue page(s)" in result.output
    assert ref.exists() and "## evaluate" in ref.read_text(encoding="utf-8")


def test_catalogue_command_reports_a_broken_rule_book(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "x.pz").write_text("taal nederlands\nregel r\n  dan onbekend = 1\n", encoding="utf-8")
    group = type(main)(name="proef")
    register(group)
    result = CliRunner().invoke(group, ["catalogue", "--rules", str(rules), "--out", str(tmp_path / "cat")])
    assert result.exit_code == 1
    assert "error" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "cat").exists()


def test_cli_reference_lists_every_command_and_option() -> None:
    text = cli_reference_markdown(main)
    for name, cmd in main.commands.items():
        assert f"\n## {name}\n" in text
        for param in cmd.params:
            if getattr(param, "hidden", False):
                continue
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert opt in text, f"{name}: {opt} missing from the reference"


def test_cli_reference_of_a_group_with_subcommands() -> None:
    """The reference of a group built here from the registering functions: nested groups, dedented help."""
    import click

    from passendezorg.cli_claims import register as register_claims

    group = click.Group("passendezorg", help="The command line.")
    register(group)
    register_claims(group)
    text = cli_reference_markdown(group)
    headings = [line for line in text.splitlines() if line.startswith("#")]
    for expected in ("## catalogue", "## claims", "### claims process", "### claims correct", "### claims withdraw",
                     "## receipts", "### receipts show", "## ledger"):
        assert expected in headings, f"{expected} missing: {headings}"
    assert "`--rules DIR`" in text and "`--cli-reference FILE`" in text
    # help text is dedented: no line outside a fence is indented enough to become a code block
    outside = re.sub(r"```.*?```", "", text, flags=re.S)
    assert not [line for line in outside.splitlines() if line.startswith("    ")]
    assert "\f" not in text and "\b" not in text


# ---------------------------------------------------------------- the site


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """mkdocs build --strict on the project's docs, the catalogue and CLI reference generated by the build hook."""
    pytest.importorskip("material", reason="mkdocs-material is not installed (pip install -e '.[docs]')")
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs, ignore=shutil.ignore_patterns("catalogus"))
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    before = sorted(p.relative_to(docs) for p in docs.rglob("*") if "__pycache__" not in p.parts)
    env = {"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin",
           "PASSENDEZORG_RULES": str(BOOK / "rules"), "PASSENDEZORG_CASES": str(BOOK / "cases")}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    site = tmp_path / "site"
    page = (site / "catalogus" / "uitvoer" / "verzekerd" / "index.html").read_text()
    assert 'class="pz-diagram"' in page and "assets/javascripts/diagrams.js" in page
    assert (site / "assets" / "javascripts" / "mermaid.min.js").is_file()  # loaded by diagrams.js where needed
    assert "unpkg.com" not in page and "fonts.googleapis.com" not in page
    assert '<html lang="nl"' in page  # the catalogue is Dutch, the rest of the site English
    assert '<html lang="en"' in (site / "guide" / "tutorial" / "index.html").read_text()
    assert (site / "catalogus" / "regelsets" / "fysiotherapie" / "index.html").exists()
    assert (site / "catalogus" / "casussen" / "chronisch_21" / "index.html").exists()
    cli = (site / "reference" / "cli" / "index.html").read_text()
    assert "catalogue" in cli and "--rules" in cli
    # the catalogue's navigation is in the site's
    assert 'href="../../regelsets/fysiotherapie/"' in page
    index = json.loads((site / "search" / "search_index.json").read_text())
    assert any("fysio_volwassene" in d["text"] or "fysio_volwassene" in d.get("title", "") for d in index["docs"])
    # nothing generated is left in docs/
    after = sorted(p.relative_to(docs) for p in docs.rglob("*") if "__pycache__" not in p.parts)
    assert after == before


def test_the_site_build_reports_a_broken_rule_book(tmp_path: Path) -> None:
    pytest.importorskip("material", reason="mkdocs-material is not installed (pip install -e '.[docs]')")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "x.pz").write_text("taal nederlands\nregel r\n  dan onbekend = 1\n", encoding="utf-8")
    shutil.copytree(ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("catalogus"))
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    env = {"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin", "PASSENDEZORG_RULES": str(rules)}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.returncode != 0
    assert "the rule catalogue cannot be generated" in result.stderr and "x.pz:3" in result.stderr
    assert "Traceback" not in result.stderr


def test_wide_trees_grow_down_the_page_and_every_page_is_dutch(site: Path, book: RuleBook) -> None:
    """A tree with more than two rules side by side is drawn from left to right; a narrow one from the top."""
    from passendezorg.catalogue import MARKER

    for name, v in book.program.values.items():
        if not v.rules:
            continue
        text = (site / ("uitvoer" if v.is_output else "afgeleid") / f"{name}.md").read_text(encoding="utf-8")
        widest = max(len(v.roots), max((len(book.program.exceptions.get(r, ())) for r in v.rules), default=0))
        assert ("flowchart LR" if widest > 2 else "flowchart TB") in text, name
        assert re.match(r'---\nlang: nl\ntitle: "[^\n]+"\nhide:\n  - toc\n---\n', text), name  # room for the tree
        assert MARKER in text.split("\n# ", 1)[0], name
    for page in site.rglob("*.md"):
        assert page.read_text(encoding="utf-8").startswith("---\nlang: nl\n"), page


# ---------------------------------------------------------------- Dutch as it is written


def test_counts_take_the_singular_or_the_plural() -> None:
    from passendezorg.catalogue import count, plural

    assert [count(n, "regel") for n in (0, 1, 9, 1200)] == ["geen regels", "1 regel", "9 regels", "1.200 regels"]
    assert (count(1, "tabel"), count(2, "tabel"), count(2, "casus"), count(3, "periode")) == (
        "1 tabel", "2 tabellen", "2 casussen", "3 perioden")
    assert count(0, "casus", zero="0") == "0 casussen"
    assert plural("afgeleide waarde") == "afgeleide waarden"
    with pytest.raises(ValueError, match="add it to PLURALS"):
        plural("kat")


def test_no_page_reads_as_generated(site: Path) -> None:
    """No "regel(s)", nothing cut short with an ellipsis, no counted noun in the wrong number."""
    for page in site.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        assert "(s)" not in text, page
        assert "…" not in text, page
        assert not re.search(r"(?<![\d.,])1 (regels|tabellen|casussen|perioden|rijen|bronnen)\b", text), page
        assert not re.search(r"\b([02-9]|\d\d+) (regel|tabel|casus|periode)\b(?![a-z])", text), page


def test_pages_are_titled_by_their_descriptions(site: Path, book: RuleBook) -> None:
    p = book.program
    v = p.values["verzekerd"]
    assert v.description
    assert (site / "uitvoer" / "verzekerd.md").read_text(encoding="utf-8").split("\n# ", 1)[1].startswith(
        v.description.rstrip(".") + "\n")
    for name, prm in p.parameters.items():
        title = (site / "parameters" / f"{name}.md").read_text(encoding="utf-8").split("\n# ", 1)[1].split("\n")[0]
        assert title == md_plain(prm.description.rstrip(".") if prm.description else f"Parameter {name}"), name
    for name, t in p.tables.items():
        title = (site / "tabellen" / f"{name}.md").read_text(encoding="utf-8").split("\n# ", 1)[1].split("\n")[0]
        assert title == md_plain(t.description.rstrip(".") if t.description else f"Tabel {name}"), name


def test_outcomes_and_reasons_read_as_dutch() -> None:
    from types import SimpleNamespace

    from passendezorg.catalogue import _outcome_text

    def o(**kw: object) -> SimpleNamespace:
        base: dict[str, object] = {"status": "value", "value": None, "needs": [], "conflict": [], "reason": None}
        return SimpleNamespace(**{**base, **kw})

    text = n.TypeRef("text")
    assert _outcome_text(o(status="default", value=""), text) == "een lege tekst (standaard)"
    assert plain(_outcome_text(o(status="undetermined", needs=["a.b"]), text)) == "onbepaald: nodig is a.b"
    assert plain(_outcome_text(o(status="undetermined", needs=["a", "b", "c"]), text)) == (
        "onbepaald: nodig zijn a, b en c")
    rule = SimpleNamespace(rule=SimpleNamespace(name="r1"))
    assert plain(_outcome_text(o(status="conflict", conflict=[rule, SimpleNamespace(rule=SimpleNamespace(name="r2"))]),
                               text)) == "conflict tussen r1 en r2"
    reason = "no value of `eigen_risico` is in force on 2030-01-01"
    assert "in force" not in plain(_outcome_text(o(status="error", reason=reason), text))
    assert plain(_outcome_text(o(status="error", reason=reason), text)).startswith("kan niet worden bepaald: ")


def test_a_dated_table_shows_when_each_row_holds(make_rules: Any) -> None:
    from passendezorg.catalogue import catalogue_pages

    rules = make_rules({
        "t.pz": """
            taal nederlands
            invoer dag : datum
            invoer code : tekst
            peildatum dag
            tabel tarieven "Tarieven per code en periode"
              bestand "t.csv"
              sleutel code
              kolom code : tekst
              kolom bedrag : bedrag
              geldig vanaf kolom geldig_vanaf tot en met kolom geldig_tot_en_met
            uitvoer prijs : bedrag
            regel r
              bron "s"
              dan prijs = tarieven[code].bedrag
            """,
        "t.csv": "code,bedrag,geldig_vanaf,geldig_tot_en_met\nA,,2020-01-01,2020-12-31\nA,10.00,2021-01-01,\n",
    })
    pages, _ = catalogue_pages(load_rules(rules), None)
    page = pages["tabellen/tarieven.md"]
    assert "\n# Tarieven per code en periode\n" in page
    assert "| A | *onbekend* | van 1 januari 2020 tot en met 31 december 2020 |" in page
    assert "| A | € 10,00 | vanaf 1 januari 2021 |" in page
    assert "Een lege cel is een onbekende waarde" in page


def test_every_page_has_its_title_in_its_metadata(site: Path) -> None:
    """The site names a page (its tab, its search result) by the title of its metadata, the same as its heading."""
    import yaml

    for page in site.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        meta = yaml.safe_load(text.split("---\n", 2)[1])
        heading = text.split("\n# ", 1)[1].split("\n", 1)[0]
        assert meta["lang"] == "nl" and meta["title"], page
        assert md_plain(meta["title"]) == heading, page
