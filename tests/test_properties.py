"""Properties that hold for every input, checked with hypothesis.

- `fmt` then parse gives back the same tree (rule files generated from a strategy of their own, both languages);
- parse_text never raises, whatever it is given: strings from the grammar itself (from_lark), random text, bytes;
- evaluation is deterministic: the same case twice, the rule files read in another order, another process.

Example counts are kept modest so that the file runs in a few seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import string
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

import passendezorg.rulebook as rulebook_module
from passendezorg import CaseFailure, load_rules
from passendezorg import nodes as n
from passendezorg.check import FUNCTIONS
from passendezorg.format import format_file
from passendezorg.rulebook import RuleBook, check_path
from passendezorg.source import Span
from passendezorg.syntax import grammar_text, keyword_table, parse_text

TESTS = Path(__file__).resolve().parent
SPLIT = TESTS / "rulebooks" / "claims"
LANGUAGES = ("english", "nederlands")
SP = Span("gen.pz", 0, 0)

FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- a strategy for rule files

RESERVED = {w for lang in LANGUAGES for v in keyword_table(lang).values() for w in v.split()}
RESERVED |= {"day", "month", "year", "dagen", "maanden", "jaren", "dag", "maand", "jaar"}
RESERVED |= {name for table in FUNCTIONS.values() for name in table} | {"round_money", "round_down_money"}

names = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(string.ascii_lowercase),
    st.text(alphabet=string.ascii_lowercase + string.digits + "_", max_size=7),
).filter(lambda s: s not in RESERVED)
dotted = st.lists(names, min_size=1, max_size=3).map(lambda parts: ".".join(parts))
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
dates = st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31))
cents = st.integers(min_value=0, max_value=10**9).map(lambda c: (Decimal(c) / 100).quantize(Decimal("0.01")))
amounts = st.one_of(cents, st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False))
decimals = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False)
percents = st.integers(min_value=0, max_value=1000).map(lambda p: Decimal(p) / 100)


LITERALS: st.SearchStrategy[n.Literal] = st.one_of(
    st.integers(min_value=0, max_value=10**12).map(lambda v: n.Literal(v, "integer", SP)),
    decimals.map(lambda v: n.Literal(v, "decimal", SP)),
    percents.map(lambda v: n.Literal(v, "decimal", SP, "x %")),
    amounts.map(lambda v: n.Literal(v, "money", SP)),
    dates.map(lambda v: n.Literal(v, "date", SP)),
    texts.map(lambda v: n.Literal(v, "text", SP)),
    st.booleans().map(lambda v: n.Literal(v, "boolean", SP)),
    st.builds(n.Duration, st.integers(min_value=0, max_value=400), st.sampled_from(["days", "months", "years"]))
    .map(lambda v: n.Literal(v, "duration", SP)),
)
VARIABLES = st.lists(names, min_size=1, max_size=3).map(lambda parts: n.Var(tuple(parts), SP))
BINARY_OPS = ["or", "and", "=", "!=", "<", "<=", ">", ">=", "in", "notin", "+", "-", "*", "/"]


def _extend(inner: st.SearchStrategy[n.Expr]) -> st.SearchStrategy[n.Expr]:
    return st.one_of(
        st.builds(n.Binary, st.sampled_from(BINARY_OPS), inner, inner, st.just(SP)),
        st.builds(n.Unary, st.sampled_from(["not", "-", "+"]), inner, st.just(SP)),
        st.builds(n.IsKnown, inner, st.booleans(), st.just(SP)),
        st.builds(n.Call, names, st.lists(inner, max_size=3).map(tuple), st.just(SP)),
        st.builds(lambda f, a, w: n.Call(f, (a,), SP, where=w), names, inner, inner),  # an aggregate's condition
        st.builds(n.Lookup, names, st.lists(inner, min_size=1, max_size=2).map(tuple), names, st.just(SP)),
        st.builds(n.ListLit, st.lists(inner, max_size=3).map(tuple), st.just(SP)),
        st.builds(n.TupleLit, st.lists(inner, min_size=2, max_size=3).map(tuple), st.just(SP)),
        st.builds(n.Conditional, inner, inner, inner, st.just(SP)),
    )


def _canonical(e: n.Expr) -> n.Expr:
    """`and`/`or` chains in the shape the parser gives them: `fmt` writes a chain flat (the operators are
    associative), and the parser reads a flat chain as a balanced tree."""
    from dataclasses import replace

    if isinstance(e, n.Binary) and e.op in ("and", "or"):
        parts: list[n.Expr] = []
        todo: list[n.Expr] = [e]
        while todo:
            x = todo.pop()
            if isinstance(x, n.Binary) and x.op == e.op:
                todo += [x.right, x.left]
            else:
                parts.append(_canonical(x))

        def balanced(items: list[n.Expr]) -> n.Expr:
            if len(items) == 1:
                return items[0]
            mid = len(items) // 2
            return n.Binary(e.op, balanced(items[:mid]), balanced(items[mid:]), SP)

        return balanced(parts)
    if isinstance(e, n.Binary):
        return replace(e, left=_canonical(e.left), right=_canonical(e.right))
    if isinstance(e, (n.Unary, n.IsKnown)):
        return replace(e, operand=_canonical(e.operand))
    if isinstance(e, n.Call):
        return replace(e, args=tuple(_canonical(a) for a in e.args),
                       where=None if e.where is None else _canonical(e.where))
    if isinstance(e, n.Lookup):
        return replace(e, keys=tuple(_canonical(a) for a in e.keys))
    if isinstance(e, (n.ListLit, n.TupleLit)):
        return replace(e, items=tuple(_canonical(a) for a in e.items))
    return e


EXPRESSIONS: st.SearchStrategy[n.Expr] = st.recursive(
    st.one_of(LITERALS, VARIABLES), _extend, max_leaves=10).map(_canonical)
TYPES: st.SearchStrategy[n.TypeRef] = st.recursive(
    st.one_of(
        st.sampled_from(n.SIMPLE_TYPES).map(n.TypeRef),
        st.lists(names, min_size=1, max_size=4, unique=True).map(lambda c: n.TypeRef("enum", tuple(c))),
    ),
    lambda t: t.map(lambda i: n.TypeRef("list", item=i)),
    max_leaves=3,
)


descriptions = st.none() | texts
source_refs = st.one_of(
    st.builds(n.SourceRef, names, st.none() | texts, st.just(SP)),
    st.builds(n.SourceRef, st.none(), texts, st.just(SP)),
)


@st.composite
def param_values(draw: st.DrawFn) -> n.ParamValue:
    start = draw(dates)
    end = draw(st.none() | dates)
    value = draw(st.none() | LITERALS | names.map(lambda v: n.Literal(v, "enum", SP, v))
                 | st.lists(LITERALS | VARIABLES.filter(lambda v: len(v.parts) == 1), max_size=3)
                 .map(lambda items: n.ListLit(tuple(items), SP)))
    return n.ParamValue(start, end, value, draw(st.none() | source_refs), SP)


@st.composite
def rules(draw: st.DrawFn) -> n.Rule:
    validity = draw(st.sampled_from(["none", "from", "from-until", "until"]))
    start = draw(dates) if validity in ("from", "from-until") else None
    end = draw(dates) if validity in ("from-until", "until") else None
    assigns = draw(st.booleans())
    return n.Rule(
        name=draw(names),
        title=draw(descriptions),
        sources=tuple(draw(st.lists(source_refs, max_size=2))),
        valid_from=start,
        valid_until=end,
        exception_to=tuple(draw(st.lists(names, max_size=2))),
        when=draw(st.none() | EXPRESSIONS),
        target=draw(names) if assigns else None,
        value=draw(EXPRESSIONS) if assigns else None,
        because=draw(st.none() | texts),
        span=SP,
    )


@st.composite
def tables(draw: st.DrawFn) -> n.TableDecl:
    valid_from = draw(st.none() | names)
    return n.TableDecl(
        draw(names), draw(descriptions), draw(texts), tuple(draw(st.lists(names, min_size=1, max_size=2))),
        tuple(draw(st.lists(st.builds(n.Column, names, TYPES, st.just(SP)), max_size=3))),
        valid_from, draw(st.none() | names) if valid_from is not None else None, SP,
        sources=tuple(draw(st.lists(source_refs, max_size=2))), source_column=draw(st.none() | names),
    )


ITEMS: st.SearchStrategy[n.Item] = st.one_of(
    st.builds(n.InputDecl, dotted, TYPES, descriptions, st.just(SP)),
    st.builds(n.DerivedDecl, names, TYPES, descriptions, st.none() | EXPRESSIONS, st.none() | EXPRESSIONS, st.just(SP),
              sources=st.lists(source_refs, max_size=2).map(tuple), per=st.none() | names),
    st.builds(n.OutputDecl, names, TYPES, descriptions, st.none() | EXPRESSIONS, st.just(SP), per=st.none() | names),
    st.builds(n.GroupDecl, names, dotted, descriptions,
              st.lists(st.builds(n.FieldDecl, names, TYPES, descriptions, st.just(SP)), max_size=3).map(tuple),
              st.just(SP)),
    st.builds(n.PeildatumDecl, dotted, st.just(SP)),
    st.builds(n.ParameterDecl, names, TYPES, descriptions, st.lists(param_values(), max_size=3).map(tuple), st.just(SP)),
    tables(),
    rules(),
)


rulesets = st.none() | st.builds(
    n.Ruleset, names, descriptions,
    st.lists(st.builds(n.SourceDef, names, texts, st.none() | texts, st.just(SP)), max_size=3).map(tuple),
    st.just(SP),
)


@st.composite
def rule_files(draw: st.DrawFn) -> n.RuleFile:
    return n.RuleFile("gen.pz", draw(st.sampled_from(LANGUAGES)), draw(rulesets), tuple(draw(st.lists(ITEMS, max_size=6))))


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_files())
def test_fmt_then_parse_gives_the_same_tree(tree: n.RuleFile) -> None:
    text = format_file(tree)
    parsed, diagnostics = parse_text(text, "gen.pz")
    assert [d.message for d in diagnostics] == [], text
    assert parsed is not None
    assert parsed.language == tree.language
    assert parsed.ruleset == tree.ruleset
    assert parsed.items == tree.items, text
    # and formatting is stable: the canonical text formats to itself
    assert format_file(parsed) == text


@FAST
@given(EXPRESSIONS, st.sampled_from(LANGUAGES))
def test_an_expression_keeps_its_shape_through_fmt(expr: n.Expr, language: str) -> None:
    rule = n.Rule("r", None, (), None, None, (), expr, "x", expr, None, SP)
    tree = n.RuleFile("gen.pz", language, None, (rule,))
    parsed, diagnostics = parse_text(format_file(tree), "gen.pz")
    assert diagnostics == []
    assert parsed is not None
    (back,) = parsed.items
    assert isinstance(back, n.Rule)
    assert back.when == expr
    assert back.value == expr


@FAST
@given(EXPRESSIONS, st.sampled_from(LANGUAGES), st.sampled_from([None, "cents", "euros"]),
       st.sampled_from([None, "half_up", "half_even", "down", "up", "towards_zero"]))
def test_a_rounding_keeps_its_shape_through_fmt(expr: n.Expr, language: str, unit: str | None, mode: str | None) -> None:
    rounding = n.Call(keyword_table(language)["KW_ROUND"], (expr,), SP, unit, mode)
    value = n.Binary("+", rounding, n.Conditional(rounding, expr, expr, SP), SP)
    rule = n.Rule("r", None, (), None, None, (), None, "x", value, None, SP)
    text = format_file(n.RuleFile("gen.pz", language, None, (rule,)))
    parsed, diagnostics = parse_text(text, "gen.pz")
    assert diagnostics == [], text
    assert parsed is not None
    (back,) = parsed.items
    assert isinstance(back, n.Rule) and back.value == value, text


# ---------------------------------------------------------------- parse_text never raises


def _assert_only_syntax_diagnostics(text: str) -> None:
    parsed, diagnostics = parse_text(text, "any.pz")
    for d in diagnostics:
        assert d.severity == "error" and d.code == "syntax"
        assert d.span.file == "any.pz"
        assert d.span.line >= 1 and d.span.column >= 1
        assert d.message
    if parsed is None:
        assert diagnostics


def _spaced(words: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(words).map(lambda w: f" {w} ")


def _grammar_strings(language: str, spaced: bool) -> st.SearchStrategy[str]:
    # a parser of its own: one read back from the parser cache does not keep the grammar from_lark walks
    parser = Lark(grammar_text(language), parser="lalr", lexer="contextual")
    explicit: dict[str, st.SearchStrategy[str]] = {}
    if spaced:
        # whole words with spaces around them, so that consecutive tokens stay apart
        for terminal, word in keyword_table(language).items():
            explicit[terminal] = st.just(f" {word} ")
        explicit["NAME"] = names.map(lambda s: f" {s} ")
        explicit["INT"] = st.integers(min_value=0, max_value=999).map(lambda i: f" {i} ")
        explicit["DECIMAL"] = _spaced(["0.5", "12.25"])
        explicit["PERCENT"] = _spaced(["25 %", "7.5%"])
        explicit["MONEY"] = _spaced(["€ 12,34", "€5", "€ 0.50", "€ 1.234,56", "€ 2.112,–", "€ 0,0325"])
        explicit["DATE"] = dates.map(lambda d: f" {d.isoformat()} ")
        explicit["STRING"] = texts.map(lambda s: ' "' + s.replace("\\", "").replace('"', "").replace("\n", "") + '" ')
        explicit["COMMENT"] = st.just(" # note\n")
    return from_lark(parser, start="start", explicit=explicit)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("spaced", [False, True], ids=["raw", "spaced"])
def test_strings_from_the_grammar_never_make_the_parser_raise(language: str, spaced: bool) -> None:
    prefix = "" if language == "english" else "taal nederlands\n"

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(_grammar_strings(language, spaced))
    def check(text: str) -> None:
        _assert_only_syntax_diagnostics(prefix + text)
        parsed, diagnostics = parse_text(prefix + text, "any.pz")
        if spaced and not diagnostics and parsed is not None:
            again, more = parse_text(format_file(parsed), "any.pz")
            assert more == []
            assert again is not None and again.items == parsed.items

    check()


@FAST
@given(st.text(max_size=300))
def test_random_text_never_makes_the_parser_raise(text: str) -> None:
    _assert_only_syntax_diagnostics(text)


SNIPPETS = ["rule ", "when ", "then ", "regel ", "als ", "dan ", "input ", "invoer ", "output ", " = ", " and ", " en ",
            "(", ")", "[", "]", "€ 1,5", "2024-02-30", "2024-01-01", '"x"', "'", "\n", "# c\n", "taal nederlands\n",
            "language english\n", " in ", "x.y", ", ", ":", " integer", " one of ", "valid from ", "exception to "]


@FAST
@given(st.lists(st.sampled_from(SNIPPETS) | st.text(max_size=3), max_size=40).map("".join))
def test_random_token_soup_never_makes_the_parser_raise(text: str) -> None:
    _assert_only_syntax_diagnostics(text)


@FAST
@given(st.binary(max_size=200))
def test_random_bytes_never_make_the_parser_raise(data: bytes) -> None:
    _assert_only_syntax_diagnostics(data.decode("utf-8", errors="replace"))
    _assert_only_syntax_diagnostics(data.decode("latin-1"))


@settings(max_examples=15, deadline=None, database=None)
@given(st.binary(max_size=120))
def test_a_rule_file_of_random_bytes_is_checked_without_raising(data: bytes) -> None:
    import tempfile

    from passendezorg import check_path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.pz"
        path.write_bytes(data)
        report = check_path(tmp)
        assert all(d.span.line >= 0 for d in report.diagnostics)
        if report.program is None:
            assert report.errors


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_files())
def test_the_checker_never_raises_on_a_rule_file(tree: n.RuleFile) -> None:
    """Whatever a (parseable) rule file says, `check` answers with diagnostics, never with an exception."""
    import tempfile

    from passendezorg import check_path

    items = tuple(
        n.TableDecl(i.name, i.description, "t.csv", i.keys, i.columns, i.valid_from_column, i.valid_until_column, SP,
                    sources=i.sources, source_column=i.source_column)
        if isinstance(i, n.TableDecl) else i
        for i in tree.items
    )
    text = format_file(n.RuleFile(tree.path, tree.language, tree.ruleset, items))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rules.pz").write_text(text, encoding="utf-8")
        (Path(tmp) / "t.csv").write_text("a,b,c\n1,2,3\n", encoding="utf-8")
        report = check_path(tmp)
    assert (report.program is None) == bool(report.errors)
    for d in report.diagnostics:
        assert d.message and d.code


# ---------------------------------------------------------------- determinism

BIRTH = st.dates(min_value=dt.date(1920, 1, 1), max_value=dt.date(2020, 12, 31))
DAY = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2031, 12, 31))


@st.composite
def claims(draw: st.DrawFn) -> dict[str, Any]:
    """A case for tests/rulebooks/claims, with any of its facts left out."""
    facts: dict[str, Any] = {
        "insured.birth_date": draw(BIRTH).isoformat(),
        "claim.date": draw(DAY).isoformat(),
        "claim.kind": draw(st.sampled_from(["physio", "exercise", "gp"])),
        "claim.session": draw(st.integers(min_value=0, max_value=80)),
        "claim.condition": draw(st.sampled_from(["COPD", "RA", "NONE"])),
        "claim.amount": str(draw(cents.filter(lambda c: c < 10_000))),
        "claim.share": str(draw(st.decimals(min_value=0, max_value=1, places=2))),
        "claim.referred": draw(st.booleans()),
    }
    keep = draw(st.lists(st.sampled_from(sorted(facts)), unique=True))
    kept = {k: v for k, v in facts.items() if k in keep or k == "claim.date"}
    nested: dict[str, Any] = {}
    for key, value in kept.items():
        head, tail = key.split(".")
        nested.setdefault(head, {})[tail] = value
    return nested


@pytest.fixture(scope="module")
def books() -> tuple[Any, Any]:
    normal = load_rules(SPLIT)
    files = rulebook_module.rule_files(SPLIT)
    assert len(files) >= 3
    original = rulebook_module.rule_files
    try:
        rulebook_module.rule_files = lambda path: list(reversed(original(path)))  # type: ignore[assignment]
        reordered = load_rules(SPLIT)
    finally:
        rulebook_module.rule_files = original  # type: ignore[assignment]
    return normal, reordered


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=claims())
def test_evaluation_is_deterministic(books: tuple[Any, Any], case: dict[str, Any]) -> None:
    normal, reordered = books
    first = normal.evaluate(case).to_json()
    assert normal.evaluate(case).to_json() == first
    assert reordered.evaluate(case).to_json() == first
    (batch,) = list(normal.evaluate_many([case]))
    assert batch.to_json() == first
    decoded = json.loads(first)
    assert decoded["rulebook"] == normal.content_hash == reordered.content_hash
    for output in decoded["outputs"].values():
        assert output["status"] in ("value", "default", "undetermined", "conflict", "error")
        if output["status"] == "undetermined" and output["needs"]:
            assert output["needs"] == sorted(output["needs"])


def test_the_rule_book_reads_its_files_in_a_different_order_alike(books: tuple[Any, Any]) -> None:
    normal, reordered = books
    assert normal.program.order == reordered.program.order
    assert list(normal.program.rules) == list(reordered.program.rules)
    assert normal.outputs == reordered.outputs


SCRIPT = """
import sys
from passendezorg import load_rules
book = load_rules(sys.argv[1])
for case in {cases!r}:
    print(book.evaluate(case).to_json())
"""


def test_evaluation_gives_the_same_bytes_in_another_process() -> None:
    """Set and dict order must not leak into a decision: two processes with different hash seeds agree."""
    rnd = random.Random(7)
    cases = []
    for i in range(12):
        case: dict[str, Any] = {"claim": {"date": f"20{rnd.randint(15, 31)}-0{rnd.randint(1, 9)}-1{i % 10}",
                                          "kind": rnd.choice(["physio", "exercise", "gp"])}}
        if i % 3:
            case["claim"]["session"] = rnd.randint(0, 70)
            case["claim"]["condition"] = rnd.choice(["COPD", "RA", "X"])
        if i % 4:
            case["insured"] = {"birth_date": f"19{rnd.randint(40, 99)}-0{rnd.randint(1, 9)}-2{i % 8}"}
        if i % 2:
            case["claim"].update(amount=f"{rnd.randint(1, 500)}.{rnd.randint(10, 99)}", share="0.65", referred=True)
        cases.append(case)
    outputs = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT.format(cases=cases), str(SPLIT)],
            capture_output=True, text=True, env=env, check=True,
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == len(cases)
    statuses = {o["status"] for line in outputs[0].splitlines() for o in json.loads(line)["outputs"].values()}
    assert {"value", "undetermined"} <= statuses


def test_names_strategy_avoids_every_keyword() -> None:
    assert {"and", "en", "of", "ja", "nee", "days", "jaar", "age", "leeftijd"} <= RESERVED
    assert all(c in string.ascii_lowercase + string.digits + "_" for c in "".join(RESERVED) if c not in "_'")


# ---------------------------------------------------------------- naming an intermediate amount


@dataclass(frozen=True, eq=False)
class Part:
    """A generated expression of a known type: its text is its parts, with sub-expressions in between."""

    type: str  # money, decimal, integer, boolean
    parts: tuple[Any, ...]

    def text(self, names: dict[int, str]) -> str:
        if id(self) in names:
            return names[id(self)]
        return "".join(p if isinstance(p, str) else p.text(names) for p in self.parts)

    def walk(self) -> Any:
        yield self
        for p in self.parts:
            if isinstance(p, Part):
                yield from p.walk()


def _leaf(t: str, text: str) -> Part:
    return Part(t, (text,))


@st.composite
def typed_expressions(draw: st.DrawFn, t: str, depth: int = 3) -> Part:
    """An expression of type ``t`` over the inputs of NAMING_BOOK, fully parenthesised."""
    leaves = {
        "money": ["c.a", "c.b", "€ 12,34", "€ 0,0325", "€ 1.234,56", "p_amount"],
        "decimal": ["c.r", "0.0325", "1.5", "p_rate", "33 %"],
        "integer": ["c.n", "3", "7"],
        "boolean": ["c.flag", "c.a > € 10", "c.r < 0.5", "c.n >= 3"],
    }[t]
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        return _leaf(t, draw(st.sampled_from(leaves)))
    sub = lambda u: typed_expressions(u, depth - 1)  # noqa: E731
    form = draw(st.integers(0, 7))
    if t == "money":
        if form == 0:
            return Part(t, ("(", draw(sub("money")), draw(st.sampled_from([" + ", " - "])), draw(sub("money")), ")"))
        if form == 1:
            return Part(t, ("(", draw(sub("money")), " * ", draw(sub(draw(st.sampled_from(["decimal", "integer"])))),
                            ")"))
        if form == 2:
            return Part(t, ("(", draw(sub("money")), " / ", draw(st.sampled_from(["3", "7", "1.07", "0.3"])), ")"))
        if form == 3:
            option = draw(st.sampled_from(["", ", to whole euros", ", down", ", to cents, half even",
                                           ", to whole euros, towards zero", ", up"]))
            return Part(t, ("round(", draw(sub("money")), option + ")"))
        if form == 4:
            return Part(t, (draw(st.sampled_from(["min(", "max("])), draw(sub("money")), ", ", draw(sub("money")), ")"))
        if form == 5:
            return Part(t, ("(", draw(sub("money")), " if ", draw(sub("boolean")), " else ", draw(sub("money")), ")"))
        return Part(t, ("(", draw(sub("money")), " * ", draw(sub("decimal")), " / ", draw(sub("integer")), ")"))
    if t == "decimal":
        if form < 3:
            return Part(t, ("(", draw(sub("decimal")), draw(st.sampled_from([" + ", " - ", " * "])),
                            draw(sub(draw(st.sampled_from(["decimal", "integer"])))), ")"))
        if form < 5:
            return Part(t, ("(", draw(sub("money")), " / ", draw(sub("money")), ")"))
        return Part(t, ("(", draw(sub("decimal")), " / ", draw(st.sampled_from(["3", "1.1", "0.07"])), ")"))
    if t == "integer":
        if form < 4:
            return Part(t, ("(", draw(sub("integer")), draw(st.sampled_from([" + ", " - ", " * "])),
                            draw(sub("integer")), ")"))
        return Part(t, (draw(st.sampled_from(["round(", "round_down("])), draw(sub("decimal")), ")"))
    if form < 4:
        return Part(t, ("(", draw(sub("money")), draw(st.sampled_from([" < ", " >= ", " = "])), draw(sub("money")),
                        ")"))
    return _leaf(t, draw(st.sampled_from(leaves)))


NAMING_HEAD = """language english

input c.day : date
input c.a : money
input c.b : money
input c.r : decimal
input c.n : integer
input c.flag : boolean

peildatum c.day

parameter p_amount : money
  from 2020-01-01 = € 1.250,0125 source "Example"
parameter p_rate : decimal
  from 2020-01-01 = 0.0925 source "Example"
"""
TYPE_WORDS = {"money": "money", "decimal": "decimal", "integer": "integer"}


def naming_book(outputs: list[tuple[str, Part, Part | None]], names: dict[int, str]) -> str:
    out = [NAMING_HEAD]
    for node_id, name in names.items():
        node = next(p for _, e, c in outputs for root in (e, c) if root is not None for p in root.walk()
                    if id(p) == node_id)
        out.append(f"derived {name} : {TYPE_WORDS[node.type]} = {node.text({})}\n")
    for k, (t, e, cond) in enumerate(outputs):
        out.append(f"output o{k} : {TYPE_WORDS[t]}\n")
        out.append(f"rule r{k}\n  source \"Example\"\n" + (f"  when {cond.text(names)}\n" if cond else "")
                   + f"  then o{k} = {e.text(names)}\n")
    return "\n".join(out)


@st.composite
def naming_cases(draw: st.DrawFn) -> dict[str, Any]:
    amounts = st.one_of(cents.filter(lambda c: c < 10**6), st.sampled_from([Decimal("0.00"), Decimal("12.34")]))
    facts: dict[str, Any] = {"day": "2024-05-01", "a": str(draw(amounts)), "b": str(draw(amounts)),
                             "r": str(draw(st.decimals(min_value=-5, max_value=5, places=4))),
                             "n": draw(st.integers(-20, 200)), "flag": draw(st.booleans())}
    for key in draw(st.lists(st.sampled_from(["a", "b", "r", "n", "flag"]), max_size=2, unique=True)):
        del facts[key]  # a missing fact: the outputs it decides are undetermined, alike in both books
    return {"c": facts}


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_naming_an_intermediate_amount_never_changes_an_output(data: st.DataObject, tmp_path_factory: Any) -> None:
    """Give a sub-expression its own derived value (as a policy author names a legal term): no output changes,
    on the interpreter and on the compiled engine. Amounts are exact until an output or a rule rounds them."""
    outputs = []
    for _ in range(data.draw(st.integers(1, 3))):
        t = data.draw(st.sampled_from(["money", "money", "decimal", "integer"]))
        cond = data.draw(typed_expressions("boolean", 2)) if data.draw(st.booleans()) else None
        outputs.append((t, data.draw(typed_expressions(t)), cond))
    inner = [p for _, e, c in outputs for root in (e, c) if root is not None for p in root.walk()
             if p.type != "boolean" and len(p.parts) > 1]
    if not inner:
        inner = [p for _, e, _ in outputs for p in e.walk() if p.type != "boolean"]
    chosen = data.draw(st.lists(st.sampled_from(inner), min_size=1, max_size=2, unique_by=id))
    names = {id(p): f"named{k}" for k, p in enumerate(chosen)}
    # a node inside another chosen node is named inside that one's definition too
    books = []
    for variant in ({}, names):
        folder = tmp_path_factory.mktemp("naming")
        (folder / "book.pz").write_text(naming_book(outputs, variant), encoding="utf-8")
        report = check_path(folder)
        assert report.program is not None, [d.message for d in report.diagnostics] + [naming_book(outputs, variant)]
        books.append(RuleBook(report.program))
    cases = [data.draw(naming_cases()) for _ in range(4)]
    plain, named = books

    def shown(book: RuleBook, case: dict[str, Any]) -> dict[str, Any]:
        d = book.evaluate(case)
        return {k: (o.status, o.value, o.needs) for k, o in d.outputs.items()}

    for case in cases:
        assert shown(named, case) == shown(plain, case), naming_book(outputs, names)
    fast_plain = plain.decide_many(cases)
    fast_named = named.decide_many(cases)
    for a, b in zip(fast_plain, fast_named):
        assert not isinstance(a, CaseFailure) and not isinstance(b, CaseFailure)
        assert a.values == b.values and a.status == b.status and a.needs == b.needs
