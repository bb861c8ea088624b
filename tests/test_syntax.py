"""The parser: rule file text to nodes with spans, in both keyword sets, and syntax errors in plain words."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from passendezorg import nodes as n
from passendezorg.source import Span
from passendezorg.syntax import detect_language, keyword_table, parse_text

ROOT = Path(__file__).resolve().parent.parent


def parse_ok(text: str) -> n.RuleFile:
    f, diags = parse_text(text, "f.pz")
    assert [d.message for d in diags] == []
    assert f is not None
    return f


def only_rule(f: n.RuleFile) -> n.Rule:
    rules = [i for i in f.items if isinstance(i, n.Rule)]
    assert len(rules) == 1
    return rules[0]


# ---------------------------------------------------------------- languages


@pytest.mark.parametrize(
    ("first_line", "language"),
    [
        ("", "english"),
        ("# a comment\n", "english"),
        ("language english\n", "english"),
        ("language en\n", "english"),
        ("taal nederlands\n", "nederlands"),
        ("taal nl\n", "nederlands"),
        ("# opmerking\n\n  taal   Nederlands\n", "nederlands"),
        ("language klingon\n", None),
    ],
)
def test_detect_language(first_line: str, language: str | None) -> None:
    assert detect_language(first_line + "input a : date\n") == language


def test_keyword_tables_have_the_same_terminals() -> None:
    en, nl = keyword_table("english"), keyword_table("nederlands")
    assert set(en) == set(nl)
    assert en["KW_EXCEPTION_TO"] == "exception to"
    assert nl["KW_EXCEPTION_TO"] == "uitzondering op"
    assert nl["KW_VALID_UNTIL"] == "geldig tot en met"
    assert nl["KW_INTEGER"] == "geheel getal"
    assert nl["KW_YEARS"] == "jaar"
    assert en["KW_DAYS"] == "days"


ENGLISH_RULE = """\
language english
ruleset physio
  title "Physiotherapy"
  source bzv "Besluit zorgverzekering" url "https://example.org/bzv"

input claim.kind : one of physio, exercise
input claim.date : date
output covered : boolean "Covered?"
  default false

rule physio_chronic
  "Chronic conditions"
  exception to physio_adult
  source bzv "article 2.6, paragraph 5"
  valid from 2012-01-01 until 2024-12-31
  when claim.kind = physio and not (claim.date < 2013-01-01)
  then covered = true
  because "it is on the list"
"""

DUTCH_RULE = """\
taal nederlands
regelset fysio
  titel "Fysiotherapie"
  bron bzv "Besluit zorgverzekering" url "https://example.org/bzv"

invoer behandeling.soort : een van fysiotherapie, oefentherapie
invoer behandeling.datum : datum
uitvoer verzekerd : janee "Verzekerd?"
  standaard nee

regel fysio_chronisch
  "Chronische aandoeningen"
  uitzondering op fysio_volwassene
  bron bzv "artikel 2.6, lid 5"
  geldig vanaf 2012-01-01 tot en met 2024-12-31
  als behandeling.soort = fysiotherapie en niet (behandeling.datum < 2013-01-01)
  dan verzekerd = ja
  omdat "het staat op de lijst"
"""


@pytest.mark.parametrize("text", [ENGLISH_RULE, DUTCH_RULE], ids=["english", "nederlands"])
def test_both_keyword_sets_give_the_same_structure(text: str) -> None:
    f = parse_ok(text)
    assert f.ruleset is not None
    assert f.ruleset.title in ("Physiotherapy", "Fysiotherapie")
    (src,) = f.ruleset.sources
    assert (src.name, src.url) == ("bzv", "https://example.org/bzv")
    inputs = [i for i in f.items if isinstance(i, n.InputDecl)]
    assert [i.type.kind for i in inputs] == ["enum", "date"]
    assert len(inputs[0].type.choices) == 2
    out = next(i for i in f.items if isinstance(i, n.OutputDecl))
    assert out.type == n.TypeRef("boolean")
    assert isinstance(out.default, n.Literal) and out.default.value is False
    r = only_rule(f)
    assert r.exception_to in (("physio_adult",), ("fysio_volwassene",))
    assert (r.valid_from, r.valid_until) == (dt.date(2012, 1, 1), dt.date(2024, 12, 31))
    assert r.sources[0].source == "bzv"
    assert r.sources[0].detail is not None and r.sources[0].detail.endswith("5")
    assert isinstance(r.when, n.Binary) and r.when.op == "and"
    assert isinstance(r.when.right, n.Unary) and r.when.right.op == "not"
    assert isinstance(r.value, n.Literal) and r.value.value is True
    assert r.because is not None
    # spans: the rule starts on line 11; the exception name stands on line 13, column 16 / 19
    assert (r.span.line, r.span.column) == (11, 1)
    assert r.exception_spans[0].line == 13
    assert r.target_span is not None and r.target_span.line == 17


def test_the_two_languages_parse_to_equal_trees_up_to_names() -> None:
    en = only_rule(parse_ok(ENGLISH_RULE))
    nl = only_rule(parse_ok(DUTCH_RULE))
    assert (en.valid_from, en.valid_until) == (nl.valid_from, nl.valid_until)
    assert type(en.when) is type(nl.when)
    assert en.clause_count == nl.clause_count


def test_multiword_keywords_allow_any_spaces() -> None:
    r = only_rule(parse_ok("taal nederlands\nregel r\n  geldig   vanaf 2020-01-01 tot\ten   met 2020-02-01\n  dan x = 1\n"))
    assert (r.valid_from, r.valid_until) == (dt.date(2020, 1, 1), dt.date(2020, 2, 1))


def test_valid_until_alone() -> None:
    r = only_rule(parse_ok("rule r\n  valid until 2020-02-01\n  then x = 1\n"))
    assert (r.valid_from, r.valid_until) == (None, dt.date(2020, 2, 1))


# ---------------------------------------------------------------- literals and operators


def value_of(expr_text: str, language: str = "english") -> n.Expr:
    head = "taal nederlands\nregel r dan x = " if language == "nederlands" else "rule r then x = "
    r = only_rule(parse_ok(head + expr_text + "\n"))
    assert r.value is not None
    return r.value


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("12", "integer", 12),
        ("0.8", "decimal", Decimal("0.8")),
        ("25 %", "decimal", Decimal("0.25")),
        ("12.5%", "decimal", Decimal("0.125")),
        ("€ 12,34", "money", Decimal("12.34")),
        ("€12.3", "money", Decimal("12.30")),
        ("€ 7", "money", Decimal("7.00")),
        ("2024-02-29", "date", dt.date(2024, 2, 29)),
        ('"a \\"quoted\\" word\\n"', "text", 'a "quoted" word\n'),
        ("true", "boolean", True),
        ("false", "boolean", False),
        ("30 days", "duration", n.Duration(30, "days")),
        ("1 month", "duration", n.Duration(1, "months")),
        ("2 years", "duration", n.Duration(2, "years")),
    ],
)
def test_literals(text: str, kind: str, value: object) -> None:
    lit = value_of(text)
    assert isinstance(lit, n.Literal)
    assert (lit.kind, lit.value) == (kind, value)
    if kind == "money":
        assert isinstance(lit.value, Decimal) and lit.value.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("ja", "boolean", True),
        ("nee", "boolean", False),
        ("3 dagen", "duration", n.Duration(3, "days")),
        ("1 dag", "duration", n.Duration(1, "days")),
        ("6 maanden", "duration", n.Duration(6, "months")),
        ("1 jaar", "duration", n.Duration(1, "years")),
        ("2 jaren", "duration", n.Duration(2, "years")),
    ],
)
def test_dutch_literals(text: str, kind: str, value: object) -> None:
    lit = value_of(text, "nederlands")
    assert isinstance(lit, n.Literal)
    assert (lit.kind, lit.value) == (kind, value)


def test_precedence_and_unicode_operators() -> None:
    e = value_of("a or b and not c = 1 + 2 * 3")
    assert isinstance(e, n.Binary) and e.op == "or"
    right = e.right
    assert isinstance(right, n.Binary) and right.op == "and"
    neg = right.right
    assert isinstance(neg, n.Unary) and neg.op == "not"
    cmp_ = neg.operand
    assert isinstance(cmp_, n.Binary) and cmp_.op == "="
    total = cmp_.right
    assert isinstance(total, n.Binary) and total.op == "+"
    assert isinstance(total.right, n.Binary) and total.right.op == "*"
    for sym, op in (("≠", "!="), ("≤", "<="), ("≥", ">="), ("!=", "!=")):
        e = value_of(f"a {sym} 1")
        assert isinstance(e, n.Binary) and e.op == op
    e = value_of("2 × 3")
    assert isinstance(e, n.Binary) and e.op == "*"
    e = value_of("10 - 2 - 3")
    assert isinstance(e, n.Binary) and isinstance(e.left, n.Binary)  # left-associative


def test_membership_known_lookup_and_calls() -> None:
    e = value_of("x in [a, b] and y not in t and z is known and w is missing")
    parts: list[n.Expr] = []

    def flatten(x: n.Expr) -> None:  # `and` chains are read flat and built balanced
        if isinstance(x, n.Binary) and x.op == "and":
            flatten(x.left)
            flatten(x.right)
        else:
            parts.append(x)

    flatten(e)
    assert [type(p).__name__ for p in parts] == ["Binary", "Binary", "IsKnown", "IsKnown"]
    assert parts[0].op == "in" and isinstance(parts[0].right, n.ListLit)  # type: ignore[union-attr]
    assert parts[1].op == "notin"  # type: ignore[union-attr]
    assert (parts[2].negated, parts[3].negated) == (False, True)  # type: ignore[union-attr]
    e = value_of("(a, b) in t")
    assert isinstance(e, n.Binary) and isinstance(e.left, n.TupleLit)
    e = value_of("tariffs[claim.code, 2].amount")
    assert isinstance(e, n.Lookup) and (e.table, e.column, len(e.keys)) == ("tariffs", "amount", 2)
    e = value_of("age(p.birth, claim.date)")
    assert isinstance(e, n.Call) and e.func == "age" and len(e.args) == 2
    e = value_of("niet x niet in y", "nederlands")
    assert isinstance(e, n.Unary) and isinstance(e.operand, n.Binary) and e.operand.op == "notin"
    e = value_of("x ontbreekt", "nederlands")
    assert isinstance(e, n.IsKnown) and e.negated


def test_parameter_values_and_unknown() -> None:
    f = parse_ok(
        "parameter p : money\n"
        "  from 2016-01-01 until 2016-12-31 = € 375,00  source zvw \"lid 1\"\n"
        "  from 2017-01-01 = € 385.00  source \"free text\"\n"
        "  from 2030-01-01 = unknown\n"
    )
    (p,) = f.items
    assert isinstance(p, n.ParameterDecl)
    a, b, c = p.values
    assert (a.start, a.end) == (dt.date(2016, 1, 1), dt.date(2016, 12, 31))
    assert a.value is not None and a.value.value == Decimal("375.00")
    assert a.source is not None and (a.source.source, a.source.detail) == ("zvw", "lid 1")
    assert b.source is not None and (b.source.source, b.source.detail) == (None, "free text")
    assert c.value is None and c.end is None


def test_table_declaration() -> None:
    f = parse_ok(
        'table t "desc"\n  file "data/t.csv"\n  key a, b\n  column a : text\n  column b : integer\n'
        "  column c : list of money\n  valid from column s until column e\n"
    )
    (t,) = f.items
    assert isinstance(t, n.TableDecl)
    assert (t.file, t.keys, t.valid_from_column, t.valid_until_column) == ("data/t.csv", ("a", "b"), "s", "e")
    assert t.columns[2].type == n.TypeRef("list", item=n.TypeRef("money"))


def _at(text: str, span: object) -> str:
    assert isinstance(span, Span) and span.line == span.end_line
    return text.splitlines()[span.line - 1][span.column - 1:span.end_column - 1]


@pytest.mark.parametrize("path", sorted((ROOT / "rules").glob("*.pz")), ids=lambda p: p.name)
def test_every_declared_name_has_the_span_of_the_name(path: Path) -> None:
    """Editors go to a name by its span: on the shipped rule book, each name span covers exactly the name."""
    text = path.read_text(encoding="utf-8")
    f = parse_ok(text)
    seen = 0
    if f.ruleset is not None:
        assert _at(text, f.ruleset.name_span) == f.ruleset.name
        for s in f.ruleset.sources:
            assert _at(text, s.name_span) == s.name
            seen += 1
    for item in f.items:
        assert _at(text, item.name_span) == item.name
        seen += 1
        sources = item.sources if isinstance(item, n.Rule) else \
            [v.source for v in item.values if v.source] if isinstance(item, n.ParameterDecl) else []
        for ref in sources:
            if ref.source is not None:
                assert _at(text, ref.name_span) == ref.source
            else:
                assert ref.name_span is None
        if isinstance(item, n.TableDecl):
            assert [_at(text, c.name_span) for c in item.columns] == [c.name for c in item.columns]
    assert seen > 0


def test_name_spans_in_a_recovered_file_and_in_english() -> None:
    """After a syntax error the rest is read item by item; the names keep their places."""
    text = "input a.b : date\noutput x : integer\nrule r\n  when = \nrule s\n  exception to r\n  then x = 1\n"
    f, diags = parse_text(text, "f.pz")
    assert diags and f is not None
    names = {i.name: i.name_span for i in f.items}
    assert set(names) == {"a.b", "x", "s"}
    assert (names["a.b"].line, names["a.b"].column, names["a.b"].end_column) == (1, 7, 10)
    assert (names["s"].line, names["s"].column) == (5, 6)


def test_comments_are_kept_and_hash_in_a_text_is_not_a_comment() -> None:
    f = parse_ok('# top\ninput a : text "no # comment here"  # trailing\n')
    assert [(c.line, c.column, c.text) for c in f.comments] == [(1, 1, "# top"), (2, 37, "# trailing")]
    (decl,) = f.items
    assert isinstance(decl, n.InputDecl) and decl.description == "no # comment here"


def test_crlf_line_endings_and_bom() -> None:
    f = parse_ok("input a : date\r\noutput b : integer\r\n")
    assert [i.span.line for i in f.items] == [1, 2]


# ---------------------------------------------------------------- syntax errors


def errors_of(text: str) -> list[tuple[int, int, str]]:
    f, diags = parse_text(text, "f.pz")
    assert all(d.code == "syntax" and d.severity == "error" for d in diags)
    return [(d.span.line, d.span.column, d.message) for d in diags]


def test_an_error_names_line_column_and_what_was_expected() -> None:
    ((line, col, msg),) = errors_of("input a : date\ninput b : number\n")
    assert (line, col) == (2, 11)
    assert msg.startswith("unexpected `number`; expected one of ")
    assert "`integer`" in msg and "`one of`" in msg


def test_every_syntax_error_of_a_file_in_one_run() -> None:
    text = "input a : date\ninput b : number\noutput c : boolean\nrule r\n  then c = = 1\nrule s\n  then c = 'x'\n"
    found = errors_of(text)
    assert [(line, col) for line, col, _ in found] == [(2, 11), (5, 12), (7, 12)]
    f, _ = parse_text(text, "f.pz")
    assert f is not None
    # the good items are still read, so the checker can go on with them; a rule is read without its broken clause
    assert [type(i).__name__ for i in f.items] == ["InputDecl", "OutputDecl", "Rule", "Rule"]
    assert [(u.kind, u.name, u.partial) for u in f.unparsed] == [
        ("input", "b", False), ("rule", "r", True), ("rule", "s", True)]
    assert [u.targets for u in f.unparsed] == [(), ("c",), ("c",)]


def test_invalid_date() -> None:
    ((line, col, msg),) = errors_of("rule r\n  valid from 2023-02-29\n  then x = 1\n")
    assert (line, col) == (2, 14)
    assert msg.startswith("`2023-02-29` is not a valid date")


def test_unknown_language_is_reported_on_its_word() -> None:
    f, diags = parse_text("\n# x\nlanguage frysk\ninput a : date\n", "f.pz")
    assert f is None
    ((d),) = diags
    assert (d.span.line, d.span.column, d.message) == (3, 10, "unknown language `frysk`")
    assert d.hint == "write `language english` or `taal nederlands` on the first line"


def test_english_keyword_in_a_dutch_file() -> None:
    ((line, col, msg),) = errors_of("taal nederlands\nregel r\n  when x = 1\n  dan y = 2\n")
    assert (line, col) == (3, 3)
    assert "`when`" in msg


def test_unexpected_keyword_after_a_source_text_is_reported_where_it_stands() -> None:
    """A keyword that follows a quoted text must not be blamed on the keyword before the text.

    `bron "toets"` is a complete clause; the mistake is the English `when` on line 4.
    """
    ((line, col, msg),) = errors_of('taal nederlands\nregel r1\n  bron "toets"\n  when x > 1\n  dan y = ja\n')
    assert (line, col) == (4, 3), msg
    assert "`when`" in msg


def test_a_missing_value_before_a_keyword_points_at_the_keyword() -> None:
    ((line, col, msg),) = errors_of("rule r\n  when x >\n  then y = 1\n")
    assert (line, col) == (3, 3)
    assert msg == "the expression before `then` is not complete"


def test_end_of_file() -> None:
    ((line, col, msg),) = errors_of("rule r\n  then y =\n\n\n")
    assert (line, col) == (2, 11)
    assert msg.startswith("the file ends too early")


@pytest.mark.parametrize(
    ("snippet", "hint"),
    [
        ("x = 'a'", 'texts are written in double quotes: "…"'),
        ("x == 1", "compare with a single `=`"),
        ("x > 1 && y", "write `and`, `or` and `not` as words"),
        ("x > 1 || y", "write `and`, `or` and `not` as words"),
    ],
)
def test_hints_for_common_slips(snippet: str, hint: str) -> None:
    f, diags = parse_text(f"rule r\n  when {snippet}\n  then y = 1\n", "f.pz")
    assert [d.hint for d in diags] == [hint]


def test_dutch_hint_uses_dutch_words() -> None:
    _, diags = parse_text("taal nederlands\nregel r\n  als x > 1 && y\n  dan z = 1\n", "f.pz")
    assert [d.hint for d in diags] == ["write `en`, `of` and `niet` as words"]


def test_a_long_or_chain_is_read_flat_and_shallow() -> None:
    e = value_of(" or ".join(f"c = {i}" for i in range(1000)))
    depth, todo = 0, [(e, 1)]
    while todo:
        x, d = todo.pop()
        depth = max(depth, d)
        if isinstance(x, n.Binary) and x.op == "or":
            todo += [(x.left, d + 1), (x.right, d + 1)]
    assert depth <= 12


def test_a_long_expression_does_not_break_the_parser() -> None:
    """parse_text never raises: a long sum (a generated rule file may have one) is parsed or reported."""
    text = "rule r\n  then x = " + " + ".join(["1"] * 1200) + "\n"
    f, diags = parse_text(text, "f.pz")
    assert [(d.span.line, "nests more than" in d.message) for d in diags] == [(2, True)]


def test_a_second_ruleset_in_one_file_is_reported_where_it_stands() -> None:
    """The mistake is the second `ruleset` on line 4, not the complete `title "Claims"` clause before it."""
    ((line, col, msg),) = errors_of('ruleset claims\n  title "Claims"\n\nruleset other\n  title "Other"\n')
    assert (line, col) == (4, 1), msg
    assert "`ruleset`" in msg or "`other`" in msg


def test_a_type_keyword_that_ends_a_declaration_is_not_blamed() -> None:
    """`bedrag` legitimately ends the declaration; the mistake is the `bron` line after it."""
    ((line, col, msg),) = errors_of('taal nederlands\nparameter prijs : bedrag\n  bron "s"\n  vanaf 2025-01-01 = 1\n')
    assert (line, col) == (3, 3), msg
    assert msg.startswith("unexpected `bron`")


# ---------------------------------------------------------------- keyword slips and reading on after an error


@pytest.mark.parametrize(
    ("text", "line", "hint"),
    [
        ('taal nederlands\nregel r\n  dan x = 1\n  omdt "reden"\n', 4, "did you mean `omdat`?"),
        ("taal nederlands\nregel r\n  als a > 1\n  dna x = 1\n", 4, "did you mean `dan`?"),
        ("taal nederlands\nregel r\n  geldig vnaf 2020-01-01\n  dan x = 1\n", 3, "did you mean `geldig vanaf`?"),
        ("taal nederlands\nregel r\n  dan x = 1\nregle s\n  dan x = 2\n", 4, "did you mean `regel`?"),
        ('rule r\n  then x = 1\n  becuase "why"\n', 3, "did you mean `because`?"),
        ("rule r\n  wehn a > 1\n  then x = 1\n", 2, "did you mean `when`?"),
        ("taal nederlands\nregel r\n  when a > 1\n  dan x = 1\n", 3,
         "`when` is an English keyword; this file is in Dutch (`taal nederlands`): write `als`"),
        ("rule r\n  als a > 1\n  then x = 1\n", 2, "`als` is a Dutch keyword; this file is in English: write `when`"),
    ],
)
def test_a_misspelt_keyword_gets_the_keyword_of_the_files_language(text: str, line: int, hint: str) -> None:
    _, diags = parse_text(text, "f.pz")
    assert [(d.span.line, d.hint) for d in diags] == [(line, hint)]
    assert "expected one of" not in diags[0].message


def test_a_name_that_is_not_close_to_a_keyword_gets_the_list_of_what_may_follow() -> None:
    ((_, _, msg),) = errors_of("rule r\n  then x = 1\n  zzzzzz\n")
    assert msg.startswith("unexpected `zzzzzz`; expected one of ")


def test_after_a_misspelt_keyword_the_rest_of_the_declaration_is_read() -> None:
    text = "taal nederlands\nregel r\n  als a > 1\n  dna x = 1\n  omdt \"x\"\n  geldig vanaf 2023-02-30\n"
    assert [line for line, _, _ in errors_of(text)] == [4, 5, 6]
    f, _ = parse_text(text, "f.pz")
    assert f is not None
    (rule,) = f.items
    assert isinstance(rule, n.Rule) and rule.target == "x"
    (u,) = f.unparsed
    assert (u.kind, u.name, u.targets, u.partial) == ("rule", "r", ("x",), True)


def test_a_broken_clause_is_left_out_and_the_next_clauses_are_read() -> None:
    text = "rule r\n  when a >\n  then x = = 1\n  because 'x'\n"
    assert [(line, col) for line, col, _ in errors_of(text)] == [(3, 3), (3, 12), (4, 11)]


def test_a_declaration_that_cannot_be_read_still_gives_its_kind_name_and_target() -> None:
    text = "taal nederlands\ninvoer a : nummer\nregel r1 r2\n  dan uitkomst = 1\n"
    f, diags = parse_text(text, "f.pz")
    assert f is not None and f.items == ()
    assert [(u.kind, u.name, u.targets, u.partial) for u in f.unparsed] == [
        ("input", "a", (), False), ("rule", "r1", ("uitkomst",), False)]
    assert [d.span.line for d in diags] == [2, 3]


def test_the_end_of_a_declaration_is_reported_where_the_next_one_starts() -> None:
    ((line, col, msg),) = errors_of("rule r\n  then y =\nrule s\n  then y = 2\n")
    assert (line, col, msg) == (3, 1, "the expression before `rule` is not complete")


def test_a_value_keyword_before_a_misspelt_keyword_is_not_blamed() -> None:
    """`ja` ends the value; the mistake is `omdt` on the next line."""
    _, diags = parse_text('taal nederlands\nregel r\n  dan x = ja\n  omdt "x"\n', "f.pz")
    assert [(d.span.line, d.message, d.hint) for d in diags] == [(4, "unexpected `omdt`", "did you mean `omdat`?")]


def test_a_condition_that_goes_on_into_a_broken_line_is_left_out_with_it() -> None:
    """`… en` at the end of a line reads the next line as part of the condition: both go, and no follow-up
    errors come of it; the clauses after them are still read."""
    text = 'taal nederlands\nregel r\n  bron "s"\n  als a > 0 en\n  dna x = ja\n  omdt "x"\n'
    assert [(line, col) for line, col, _ in errors_of(text)] == [(5, 7), (6, 3)]
