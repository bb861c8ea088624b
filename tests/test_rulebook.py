"""The shipped rule book (rules/) as an assessor needs it: clean, sourced at article level, fully exercised.

A source is a document someone can open and read the rule in: an article of a law in a named
version, a standpunt, a ruling, a named page of a secondary source. A bare home page of an insurer,
an institute or a law is not one.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from passendezorg import load_rules
from passendezorg.cases import iter_case_paths, read_case_file
from passendezorg.rulebook import check_path
from passendezorg.testing import run_tests

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
CASES = ROOT / "cases"

NAMES_A_SOURCE = re.compile(r"(art\.|Bzv|Zvw|Regeling|Zorginstituut|HR |ECLI|Kamerbrief|KNGF|polisvoorwaarden|\.nl|"
                            r"Nationale-Nederlanden|De Friesland|secundaire)")
LAW = re.compile(r"^https://wetten\.overheid\.nl/BWBR\d{7}/\d{4}-\d{2}-\d{2}#Artikel[0-9.a-z]+$")


def source_urls() -> list[tuple[str, str, str]]:
    report = check_path(RULES)
    found = []
    for parsed in report.parsed:
        name = Path(parsed.path).name
        for source in parsed.ruleset.sources if parsed.ruleset is not None else ():
            if source.url is not None:
                found.append((name, source.name, source.url))
    return found


def test_the_rule_book_checks_clean() -> None:
    report = check_path(RULES)
    assert [d.render() for d in report.diagnostics] == []


def test_no_home_page_is_a_source() -> None:
    urls = source_urls()
    assert len(urls) > 20
    bad = []
    for file, name, url in urls:
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.path in ("", "/") and not parts.query:
            bad.append(f"{file}: {name}: {url} is a home page")
        elif parts.netloc == "wetten.overheid.nl" and not LAW.match(url):
            bad.append(f"{file}: {name}: {url} does not name the version date and the article")
    assert bad == []


def test_a_bare_home_page_is_caught() -> None:
    """The check itself: what it lets through and what it stops."""
    ok = "https://wetten.overheid.nl/BWBR0018492/2026-01-01#Artikel2.6"
    assert LAW.match(ok)
    for url in ("https://wetten.overheid.nl/BWBR0018492/", "https://wetten.overheid.nl/BWBR0018492/2026-01-01"):
        assert not LAW.match(url)
    assert urlsplit("https://www.zilverenkruis.nl/").path in ("", "/")


def test_every_rule_cites_a_source_and_every_law_source_is_an_article() -> None:
    program = load_rules(RULES).program
    for rule in program.rules.values():
        assert rule.sources, rule.name
    for ruleset in program.rulesets.values():
        for source in ruleset.sources:
            if source.url and "wetten.overheid.nl" in source.url:
                assert "tekst 2026-01-01" in source.title or "tekst van" in source.title, source.name


def test_table_rows_name_their_source() -> None:
    """Every row of a table with a `bron` column says where it comes from."""
    tables = 0
    for path in sorted((RULES / "data").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        if rows and "bron" in rows[0]:
            tables += 1
            assert all(row["bron"].strip() for row in rows), path.name
    assert tables >= 8


@pytest.mark.parametrize("engine", ["interpreter", "rete"])
def test_every_case_passes_and_every_rule_decides_something(engine: str) -> None:
    if engine == "rete":
        pytest.importorskip("durable")
    book = load_rules(RULES)
    cases = [read_case_file(p) for p in iter_case_paths([CASES])]
    report = run_tests(book, cases, engine=engine)
    assert report.messages == []
    assert report.uncovered(book) == []


def test_corrected_cases_name_the_fact_they_rest_on() -> None:
    """A case that corrects an earlier decision says so, and names its source."""
    corrected = []
    for path in iter_case_paths([CASES]):
        if path.suffix not in (".yaml", ".yml"):
            continue
        description = read_case_file(path).description or ""
        if "Gecorrigeerd" in description:
            corrected.append(path.name)
            assert NAMES_A_SOURCE.search(description), path
    assert len(corrected) >= 25


def test_the_catalogue_index_says_what_the_rule_book_covers(tmp_path: Path) -> None:
    from passendezorg.catalogue import catalogue_pages, coverage_section

    pages, _nav = catalogue_pages(load_rules(RULES), None)
    index = pages["index.md"]
    section = index[index.index("## Wat het regelboek dekt"):index.index("## Regelsets")]
    for part in ("Geneesmiddelen", "Medisch-specialistische zorg", "Eigen risico", "Niet-gecontracteerde zorg",
                 "Zintuiglijk gehandicaptenzorg", "wat het (nog) niet kent", "### Jaartellers"):
        assert part in section, part
    # a rule book without the file has no such section; the file's title becomes the heading
    assert coverage_section(tmp_path) == [] and coverage_section(None) == []
    (tmp_path / "DEKKING.md").write_text("# Dekking\n\nAlleen fysiotherapie.\n\n## Niet\n\nDe rest.\n", encoding="utf-8")
    assert coverage_section(tmp_path) == ["## Dekking", "", "Alleen fysiotherapie.", "", "### Niet", "", "De rest.", ""]
