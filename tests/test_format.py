"""`passendezorg fmt`: one canonical text per rule file, that reads back to the same tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passendezorg import check_path
from passendezorg import nodes as n
from passendezorg.format import format_expr, format_file
from passendezorg.syntax import parse_text

TESTS = Path(__file__).resolve().parent
RULE_FILES = sorted((TESTS / "golden" / "good").rglob("*.pz")) + sorted((TESTS / "rulebooks").rglob("*.pz"))


def parse(text: str, path: str = "f.pz") -> n.RuleFile:
    f, diags = parse_text(text, path)
    assert [d.message for d in diags] == []
    assert f is not None
    return f


def fmt(text: str) -> str:
    return format_file(parse(text))


MESSY_ENGLISH = """\
# Physiotherapy
ruleset   physio
  source bzv "Besluit zorgverzekering"   url "https://example.org"
  title "Physio"
input claim.kind:one of physio,exercise   "Kind of care"
input claim.date : date
peildatum claim.date
output covered : boolean   default false
parameter limit : integer
  from 2012-01-01 =20 source bzv "lid 5"   # the free sessions
  from 2030-01-01 = unknown
rule chronic "Chronic"
  because "on the list"
  then covered = true
  when (claim.kind = physio) and (claim.date >= 2012-01-01) and not(claim.date > 2030-01-01)
  valid from 2012-01-01 until 2029-12-31
  source bzv "lid 5"
  exception to adult
"""

CANONICAL_ENGLISH = """\
language english
# Physiotherapy

ruleset physio
  title "Physio"
  source bzv "Besluit zorgverzekering"
    url "https://example.org"

input claim.kind : one of physio, exercise "Kind of care"
input claim.date : date

peildatum claim.date

output covered : boolean
  default false

parameter limit : integer
  from 2012-01-01 = 20  source bzv "lid 5"  # the free sessions
  from 2030-01-01 = unknown

rule chronic
  "Chronic"
  exception to adult
  source bzv "lid 5"
  valid from 2012-01-01 until 2029-12-31
  when claim.kind = physio and claim.date >= 2012-01-01 and not claim.date > 2030-01-01
  then covered = true
  because "on the list"
"""


def test_canonical_english() -> None:
    assert fmt(MESSY_ENGLISH) == CANONICAL_ENGLISH
    assert parse(CANONICAL_ENGLISH).items == parse(MESSY_ENGLISH).items


MESSY_DUTCH = """\
taal nederlands
invoer   behandeling.datum : datum
invoer behandeling.bedrag : bedrag
peildatum behandeling.datum
uitvoer vergoeding : bedrag
  standaard €0
regel vergoed
  bron "lid 1"
  geldig   vanaf 2020-01-01 tot  en  met 2020-12-31
  als behandeling.bedrag ≥ € 10.5 en behandeling.datum ≠ 2020-02-29
  dan vergoeding = afronden(behandeling.bedrag × 80 %) + € 1,5
"""

CANONICAL_DUTCH = """\
taal nederlands

invoer behandeling.datum : datum
invoer behandeling.bedrag : bedrag

peildatum behandeling.datum

uitvoer vergoeding : bedrag
  standaard € 0,00

regel vergoed
  bron "lid 1"
  geldig vanaf 2020-01-01 tot en met 2020-12-31
  als behandeling.bedrag >= € 10,50 en behandeling.datum != 2020-02-29
  dan vergoeding = afronden(behandeling.bedrag * 80 %) + € 1,50
"""


def test_canonical_dutch() -> None:
    assert fmt(MESSY_DUTCH) == CANONICAL_DUTCH
    assert parse(CANONICAL_DUTCH).items == parse(MESSY_DUTCH).items


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: str(p.relative_to(TESTS)))
def test_fmt_is_idempotent_and_keeps_the_tree(path: Path) -> None:
    original = parse(path.read_text(encoding="utf-8"), str(path))
    once = format_file(original)
    again = parse(once, str(path))
    assert again.ruleset == original.ruleset
    assert again.items == original.items
    assert format_file(again) == once
    # every comment survives, in order
    assert [c.text.rstrip() for c in again.comments] == [c.text.rstrip() for c in original.comments]


@pytest.mark.parametrize("folder", [TESTS / "rulebooks" / "fysio" / "rules", TESTS / "rulebooks" / "claims"])
def test_test_rule_books_are_formatted_canonically(folder: Path) -> None:
    for path in sorted(folder.rglob("*.pz")):
        text = path.read_text(encoding="utf-8")
        assert fmt(text) == text, path


def test_a_formatted_rule_book_checks_the_same(tmp_path: Path) -> None:
    source = TESTS / "golden" / "good" / "english_full.pz"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "chronic.csv").write_bytes((source.parent / "data" / "chronic.csv").read_bytes())
    (tmp_path / "english_full.pz").write_text(fmt(source.read_text(encoding="utf-8")), encoding="utf-8")
    before, after = check_path(source), check_path(tmp_path / "english_full.pz")
    assert before.diagnostics == after.diagnostics == []
    assert before.program is not None and after.program is not None
    assert list(before.program.rules) == list(after.program.rules)
    assert before.program.order == after.program.order


def expr_of(text: str, language: str = "english") -> n.Expr:
    head = "taal nederlands\nregel r dan x = " if language == "nederlands" else "rule r then x = "
    (rule,) = parse(head + text + "\n").items
    assert isinstance(rule, n.Rule) and rule.value is not None
    return rule.value


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("(a + b) * c", "(a + b) * c"),
        ("a + (b * c)", "a + b * c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a - b) - c", "a - b - c"),
        ("a / (b / c)", "a / (b / c)"),
        ("not (a and b)", "not (a and b)"),
        ("(not a) and b", "not a and b"),
        ("(a or b) and c", "(a or b) and c"),
        ("a or (b and c)", "a or b and c"),
        ("-(a + b)", "-(a + b)"),
        ("- a", "-a"),
        ("(a = b) = c", "(a = b) = c"),
        ("a = (not b)", "a = (not b)"),
        ("(a + 1) is known", "a + 1 is known"),
        ("(a is known) = b", "(a is known) = b"),
        ("x   in[1,2 ,3]", "x in [1, 2, 3]"),
        ("(a,b)   not in t", "(a, b) not in t"),
        ("t[ a , b ] . c", "t[a, b].c"),
        ("max( a,b )", "max(a, b)"),
        ("1 days + 2 month + 1 years", "1 day + 2 months + 1 year"),
        ("2 × 3 ≤ 7", "2 * 3 <= 7"),
        ("0.50", "0.50"),
        ("3.0", "3.0"),
        ("25 %", "25 %"),
        ("12.5%", "12.5 %"),
        ("€ 3", "€ 3.00"),
        ('"say \\"hi\\"\\n"', '"say \\"hi\\"\\n"'),
    ],
)
def test_expressions_are_written_with_the_parentheses_they_need(written: str, canonical: str) -> None:
    e = expr_of(written)
    assert format_expr(e) == canonical
    assert expr_of(canonical) == e


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("ja en niet nee", "ja en niet nee"),
        ("1 dagen + 2 maand + 1 jaren", "1 dag + 2 maanden + 1 jaar"),
        ("€ 3.5", "€ 3,50"),
        ("x niet in [a]", "x niet in [a]"),
        ("x ontbreekt of y is bekend", "x ontbreekt of y is bekend"),
        ("leeftijd(a, b) + afronden_omlaag(c)", "leeftijd(a, b) + afronden_omlaag(c)"),
    ],
)
def test_dutch_expressions(written: str, canonical: str) -> None:
    assert format_expr(expr_of(written, "nederlands"), "nederlands") == canonical


def test_functions_are_written_in_the_language_of_the_file() -> None:
    text = "taal nederlands\nregel r\n  dan x = age(a, b) + round(c)\n"
    assert fmt(text).splitlines()[-1] == "  dan x = leeftijd(a, b) + afronden(c)"


def test_long_conditions_are_broken_before_each_and() -> None:
    condition = " and ".join(f"claim.session_{i} > {i}" for i in range(8))
    out = fmt(f"rule r\n  when {condition}\n  then x = 1\n")
    lines = out.splitlines()
    start = lines.index("  when claim.session_0 > 0")
    assert lines[start + 1: start + 8] == [f"      and claim.session_{i} > {i}" for i in range(1, 8)]
    assert all(len(line) <= 96 for line in lines)
    assert parse(out).items == parse(f"rule r\n  when {condition}\n  then x = 1\n").items


def test_a_short_condition_stays_on_one_line() -> None:
    assert fmt("rule r\n  when a and b or c\n  then x = 1\n").splitlines()[-2] == "  when a and b or c"


# ---------------------------------------------------------------- golden files: wrapping and comments

FMT_GOLDEN = TESTS / "golden" / "fmt"


@pytest.mark.parametrize("path", sorted(FMT_GOLDEN.glob("*.pz")), ids=lambda p: p.name)
def test_fmt_golden(path: Path, update_goldens: bool) -> None:
    """Each tests/golden/fmt/<name>.pz formats to <name>.expected (re-record with --update-goldens)."""
    source = path.read_text(encoding="utf-8")
    original = parse(source, str(path))
    out = format_file(original)
    expected = path.with_suffix(".expected")
    if update_goldens:
        expected.write_text(out, encoding="utf-8")
    assert out == expected.read_text(encoding="utf-8")
    again = parse(out, str(path))
    assert again.items == original.items and again.ruleset == original.ruleset
    assert format_file(again) == out
    assert [c.text.rstrip() for c in again.comments] == [c.text.rstrip() for c in original.comments]
    assert all(len(line) <= 96 for line in out.splitlines() if "#" not in line)


def test_a_hand_wrapped_condition_keeps_its_breaks() -> None:
    out = (FMT_GOLDEN / "wrap_hand.expected").read_text(encoding="utf-8")
    assert ("  als behandeling.soort = fysiotherapie\n      en verzekerde.chronisch = ja\n"
            "      en behandeling.zitting > 20\n") in out
    assert "  als behandeling.soort = oefentherapie\n      en (behandeling.zitting <= 9\n" in out


def test_a_long_nested_condition_is_wrapped_inside_its_brackets() -> None:
    out = (FMT_GOLDEN / "wrap_long.expected").read_text(encoding="utf-8")
    assert max(len(line) for line in out.splitlines()) <= 96
    assert "      and (insured.chronic = true\n           or insured.condition in" in out
    assert "  when claim.kind = exercise and claim.session <= 9\n" in out  # short: one line


def test_comments_stay_where_they_were() -> None:
    out = (FMT_GOLDEN / "comments.expected").read_text(encoding="utf-8")
    rule = out[out.index("regel chronisch"):]
    for inside in ("  # vanaf wanneer\n  geldig vanaf", "als behandeling.soort = fysiotherapie  # alleen fysiotherapie\n",
                   "en behandeling.zitting > vrije_zittingen  # na de vrije zittingen\n",
                   "      # de datum telt ook\n      en behandeling.datum", "  # wat de regel beslist\n  dan vergoed",
                   "dan vergoed = ja  # vergoed\n", '  "Chronische aandoening"  # titel uit de polis\n'):
        assert inside in rule, inside
    assert "# De hoofdregel\nregel chronisch" in out
    assert "  vanaf 2012-01-01 = 20  bron bzv \"lid 5\"  # de chronische lijst\n  # een nieuwe waarde" in out
    assert "  # de code van de aandoening\n  kolom code : tekst" in out


@settings(max_examples=60, deadline=None, database=None)
@given(st.data())
def test_comments_anywhere_survive_fmt(data: st.DataObject) -> None:
    """Comments put on any line of a real rule file, after its code or on a line of their own, all survive
    `fmt`, none swallows code, and the result formats to itself."""
    path = data.draw(st.sampled_from(RULE_FILES), label="file")
    lines = path.read_text(encoding="utf-8").split("\n")
    spots = data.draw(st.lists(st.tuples(st.integers(0, len(lines) - 1), st.booleans()), max_size=8), label="spots")
    for number, (index, trailing) in enumerate(sorted(spots, reverse=True)):
        text = f"# note {number}"
        if trailing and lines[index].strip():
            lines[index] += f"  {text}"
        else:
            lines.insert(index, "  " * data.draw(st.integers(0, 3), label="indent") + text)
    original = parse("\n".join(lines), str(path))
    out = format_file(original)
    again = parse(out, str(path))
    assert again.items == original.items and again.ruleset == original.ruleset
    assert sorted(c.text for c in again.comments) == sorted(c.text.rstrip() for c in original.comments)
    assert format_file(again) == out
