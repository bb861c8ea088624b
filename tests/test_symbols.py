"""The symbol index that editors ask: names, their places, hover text and completion, without the protocol."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from passendezorg import nodes as n
from passendezorg.keywords import keyword_table
from passendezorg.rulebook import check_path, check_texts
from passendezorg.symbols import SymbolIndex, completions, in_force, keyword_words
from passendezorg.syntax import parse_text

ROOT = Path(__file__).resolve().parent.parent


def test_every_place_the_index_knows_holds_the_name() -> None:
    """On the shipped rule book, the text at every occurrence is the name (and every declaration is found)."""
    report = check_path(ROOT / "rules")
    index = SymbolIndex(report.parsed)
    texts = {f.path: Path(f.path).read_text(encoding="utf-8").splitlines() for f in report.parsed}
    count = 0
    for path, found in index.occurrences.items():
        for o in found:
            s = o.span
            assert texts[path][s.line - 1][s.column - 1:s.end_column - 1] == o.symbol.name, (path, s)
            count += 1
    declared = {o.symbol.name for found in index.occurrences.values() for o in found if o.declaration}
    assert declared == set(index.names) | set(index.sources)
    program = report.program
    assert program is not None
    assert set(program.rules) | set(program.inputs) | set(program.values) | set(program.parameters) | \
        set(program.tables) <= set(index.names)
    assert count > 500


def test_a_file_with_a_syntax_error_keeps_its_other_names(tmp_path: Path) -> None:
    book = tmp_path / "b"
    book.mkdir()
    text = "input d : date\noutput x : integer\n  default 1\nrule r\n  when = \nrule s\n  exception to r\n  then x = 2\n"
    report = check_texts(book, {book / "a.pz": text})
    assert report.errors
    index = SymbolIndex(report.parsed)
    assert set(index.names) == {"d", "x", "s"}
    # `then x` refers to the output, and `exception to r` to a rule that does not parse: not found
    at_x = index.at(str(book / "a.pz"), 8, 8)
    assert at_x is not None and at_x.symbol.name == "x" and not at_x.declaration
    assert index.at(str(book / "a.pz"), 7, 16) is None


def test_keyword_words_cover_every_form() -> None:
    dutch = keyword_words("nederlands")
    assert {"dag", "dagen", "maand", "maanden", "jaar", "jaren", "geldig tot en met", "uitzondering op"} <= set(dutch)
    assert {"day", "days", "month", "months", "year", "years", "exception to"} <= set(keyword_words("english"))
    for language in ("english", "nederlands"):
        assert set(keyword_table(language).values()) <= set(keyword_words(language))
    assert dutch.index("niet in") < dutch.index("niet")  # longest first


def _values(text: str) -> list[n.ParamValue]:
    parsed, errors = parse_text(text)
    assert parsed is not None and not errors
    (p,) = parsed.items
    assert isinstance(p, n.ParameterDecl)
    return list(p.values)


@pytest.mark.parametrize(("day", "expected"), [
    ("2023-12-31", None), ("2024-01-01", 1), ("2024-12-31", 1), ("2025-01-01", 2), ("2025-06-30", 2),
    ("2025-07-01", None), ("2026-01-01", 3), ("2030-01-01", 3),
])
def test_the_period_in_force(day: str, expected: int | None) -> None:
    values = _values("parameter p : integer\n  from 2026-01-01 = 3\n  from 2024-01-01 = 1\n"
                     "  from 2025-01-01 until 2025-06-30 = 2\n")
    found = in_force(values, dt.date.fromisoformat(day))
    assert (found.value.value if found is not None and found.value is not None else None) == expected


def test_hover_in_english_names_the_periods_and_the_value_in_force(make_rules) -> None:  # type: ignore[no-untyped-def]
    root = make_rules(
        'ruleset r\n  source zvw "Zorgverzekeringswet"\n    url "https://wetten.overheid.nl/BWBR0018450/"\n'
        'parameter fee : money "The fee"\n  from 2024-01-01 = € 12.50  source zvw "art. 1"\n'
        "  from 2025-01-01 = unknown\n"
    )
    index = SymbolIndex(check_path(root).parsed)
    text = index.hover(index.names["fee"], "english", today=dt.date(2024, 5, 1))
    assert text.startswith("**parameter** `fee` — declared in `")
    assert "*The fee*" in text
    assert "| from 2024-01-01 | € 12.50 | [Zorgverzekeringswet](https://wetten.overheid.nl/BWBR0018450/), art. 1 |" in text
    assert "| from 2025-01-01 | unknown |  |" in text
    assert "**In force today** (2024-05-01): `€ 12.50`" in text
    later = index.hover(index.names["fee"], "english", today=dt.date(2025, 5, 1))
    assert "No value is in force today (2025-05-01)" in later
    source = index.hover(index.sources["zvw"], "nederlands")
    assert "[Zorgverzekeringswet](https://wetten.overheid.nl/BWBR0018450/)" in source and "1 keer aangehaald" in source


def test_completion_after_a_keyword_narrows_to_what_may_stand_there(make_rules) -> None:  # type: ignore[no-untyped-def]
    root = make_rules(
        'ruleset r\n  source zvw "Zvw"\ninput d : date\ninput kind : one of a, b\npeildatum d\n'
        'derived v : integer\n  = 1\noutput x : integer\n  default 1\nrule first\n  source zvw\n  then x = 2\n'
    )
    index = SymbolIndex(check_path(root).parsed)

    def labels(before: str) -> tuple[str, set[str]]:
        typed, found = completions(index, "english", before)
        return typed, {c.label for c in found}

    assert labels("  exception to fi") == ("fi", {"first"})
    assert labels("  then ") == ("", {"v", "x"})
    assert labels("  source ") == ("", {"zvw"})
    typed, anywhere = labels("  when kind = ")
    assert typed == "" and {"a", "b", "d", "kind", "when", "is known", "age", "year"} <= anywhere
    assert "first" not in anywhere and "als" not in anywhere
    assert labels("  when ki.") == ("ki.", {"d", "kind", "v", "x"})  # a dotted name: names only
