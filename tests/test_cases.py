"""Case files and case facts: typed values, field paths in every error, YAML and JSON alike."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from passendezorg import Case, CaseError, CaseFailure, Decision, load_rules
from passendezorg import nodes as n
from passendezorg.cases import case_from_data, convert, iter_case_paths, read_case_file, typed_inputs
from passendezorg.source import Span

RULES = Path(__file__).resolve().parent / "rulebooks" / "fysio" / "rules"
CASES = RULES.parent / "cases"

INTEGER = n.TypeRef("integer")
MONEY = n.TypeRef("money")
DECIMAL = n.TypeRef("decimal")
KIND = n.TypeRef("enum", ("fysiotherapie", "oefentherapie"))
TEXTS = n.TypeRef("list", item=n.TypeRef("text"))


@pytest.fixture(scope="module")
def book() -> Any:
    return load_rules(RULES)


@pytest.mark.parametrize(
    ("value", "type_", "expected"),
    [
        (True, n.TypeRef("boolean"), True),
        (3, INTEGER, 3),
        (3.0, INTEGER, 3),
        (21.67, MONEY, Decimal("21.67")),
        (0.1, MONEY, Decimal("0.10")),
        ("€ 12,34", MONEY, Decimal("12.34")),
        ("12.3", MONEY, Decimal("12.30")),
        (7, MONEY, Decimal("7.00")),
        ("-5", DECIMAL, Decimal("-5")),
        (-3, INTEGER, -3),
        ("999999999999999999.99", MONEY, Decimal("999999999999999999.99")),
        (10**18 - 1, INTEGER, 10**18 - 1),
        ("12.", DECIMAL, Decimal("12")),
        (1e16, MONEY, Decimal("10000000000000000.00")),
        (0.1, DECIMAL, Decimal("0.1")),
        ("0.65", DECIMAL, Decimal("0.65")),
        ("2024-02-29", n.TypeRef("date"), dt.date(2024, 2, 29)),
        (dt.date(2024, 2, 29), n.TypeRef("date"), dt.date(2024, 2, 29)),
        (dt.datetime(2024, 2, 29, 13, 5), n.TypeRef("date"), dt.date(2024, 2, 29)),
        ("oefentherapie", KIND, "oefentherapie"),
        (["a", "b"], TEXTS, ["a", "b"]),
        ("vrije tekst", n.TypeRef("text"), "vrije tekst"),
        ("ja", n.TypeRef("boolean"), True),
        ("Nee", n.TypeRef("boolean"), False),
        ("false", n.TypeRef("boolean"), False),
    ],
)
def test_facts_are_converted_to_their_declared_type(value: Any, type_: n.TypeRef, expected: Any) -> None:
    got = convert(value, type_, "input.x")
    assert got == expected
    assert type(got) is type(expected)
    if type_.kind == "money":
        assert got.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("value", "type_", "message"),
    [
        ("twintig", INTEGER, 'input.x: expected an integer, got "twintig"'),
        (3.5, INTEGER, "input.x: expected an integer, got 3.5"),
        (True, INTEGER, "input.x: expected an integer, got true"),
        ("misschien", n.TypeRef("boolean"), 'input.x: expected true or false (ja or nee), got "misschien"'),
        ("abc", DECIMAL, 'input.x: expected a number in plain digits, like 12.34, got "abc"'),
        ("NaN", DECIMAL, 'input.x: expected a number in plain digits, like 12.34, got "NaN"'),
        # only plain decimal digits, within the bounds (values.MAX_DIGITS), and no negative amounts
        ("1_000", MONEY, 'input.x: expected an amount like 12.34, got "1_000"'),
        ("\u0661\u0662\u0663", DECIMAL, 'input.x: expected a number in plain digits, like 12.34, got "\u0661\u0662\u0663"'),
        ("1E+999999999", MONEY, 'input.x: expected an amount like 12.34, got "1E+999999999"'),
        ("1e999999", DECIMAL, 'input.x: expected a number in plain digits, like 12.34, got "1e999999"'),
        ("-1e400", MONEY, 'input.x: expected an amount like 12.34, got "-1e400"'),
        (float("-inf"), MONEY, "input.x: the number is not finite, got -inf"),
        (float("nan"), DECIMAL, "input.x: the number is not finite, got nan"),
        ("-5", MONEY, 'input.x: an amount in a case is never negative, got "-5"'),
        (-0.01, MONEY, "input.x: an amount in a case is never negative, got -0.01"),
        ("1000000000000000000", MONEY,
         "input.x: the number is out of range: more than 18 digits before the decimal point, got \"1000000000000000000\""),
        (1e20, DECIMAL, "input.x: the number is out of range: more than 18 digits before the decimal point, got 1e+20"),
        ("0." + "1" * 29, DECIMAL, "input.x: the number has more than 28 digits after the decimal point, got "
                                   '"0.11111111111111111111111111111"'),
        (10**18, INTEGER, "input.x: the number is out of range: an integer has at most 18 digits"),
        (-(10**30), INTEGER, "input.x: the number is out of range: an integer has at most 18 digits"),
        ("9" * 5000, INTEGER, "input.x: the number is out of range: more than 18 digits"),
        ("21", INTEGER, 'input.x: expected an integer, got "21"'),
        ("x" * 100, n.TypeRef("date"), 'input.x: expected a date (YYYY-MM-DD), got "' + "x" * 40 + '…" (100 characters)'),
        ("twaalf euro", MONEY, 'input.x: expected an amount like 12.34, got "twaalf euro"'),
        (False, MONEY, "input.x: expected an amount, got false"),
        (20240101, n.TypeRef("date"), "input.x: expected a date (YYYY-MM-DD), got 20240101"),
        ("01-02-2024", n.TypeRef("date"), 'input.x: expected a date (YYYY-MM-DD), got "01-02-2024"'),
        ("fysio", KIND, 'input.x: expected one of fysiotherapie, oefentherapie, got "fysio"'),
        ("oefentherapi", KIND, 'input.x: expected one of fysiotherapie, oefentherapie, got "oefentherapi"; '
                               "did you mean `oefentherapie`?"),
        ({"a": 1}, n.TypeRef("text"), "input.x: expected a text, got a mapping"),
        ("x", TEXTS, 'input.x: expected a list, got "x"'),
        (["a", 1], TEXTS, "input.x[1]: expected a text, got 1"),
    ],
)
def test_a_fact_that_does_not_fit_names_its_path(value: Any, type_: n.TypeRef, message: str) -> None:
    with pytest.raises(CaseError) as info:
        convert(value, type_, "input.x", fact=True)
    assert str(info.value) == message


def test_nested_and_dotted_facts_are_the_same(book: Any) -> None:
    nested = {"behandeling": {"datum": "2024-03-01", "zitting": 4}}
    dotted = {"behandeling.datum": "2024-03-01", "behandeling.zitting": 4}
    assert book.prepare(nested)[1] == book.prepare(dotted)[1] == {
        "behandeling.datum": dt.date(2024, 3, 1), "behandeling.zitting": 4}


def test_null_facts_and_null_groups_are_missing(book: Any) -> None:
    _, inputs, day = book.prepare({"behandeling": {"datum": "2024-03-01", "zitting": None}, "verzekerde": None})
    assert inputs == {"behandeling.datum": dt.date(2024, 3, 1)}
    assert day == dt.date(2024, 3, 1)


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"behandeling": {"datum": "2024-03-01", "zittingen": 3}},
         "case: input.behandeling.zittingen: not an input of the rule book; did you mean `behandeling.zitting`?"),
        ({"behandeling": {"datum": "2024-03-01", "zitting": "twintig"}},
         'case: input.behandeling.zitting: expected an integer, got "twintig"'),
        ({"verzekerde": {"geboortedatum": "1980-01-01"}},
         "case: input.behandeling.datum: the peildatum is missing: every case is read on this date; "
         "give it, or a date (--on)"),
    ],
)
def test_case_errors_name_the_field(book: Any, facts: dict[str, Any], message: str) -> None:
    with pytest.raises(CaseError) as info:
        book.evaluate(facts)
    assert str(info.value) == message


def test_a_missing_peildatum_is_fine_when_a_date_is_given(book: Any) -> None:
    d = book.evaluate({"verzekerde": {"geboortedatum": "1980-01-01"}}, on=dt.date(2016, 5, 1))
    assert d.peildatum == dt.date(2016, 5, 1)
    assert d.value("eigen_risico_bedrag") == Decimal("375.00")


# ---------------------------------------------------------------- case files


def test_read_yaml_and_json_case_files() -> None:
    y = read_case_file(CASES / "chronisch.yaml")
    assert y.name == "volwassene chronisch, 21e behandeling"
    assert y.input["behandeling"]["zitting"] == 21
    assert y.expect is not None and y.expect["verzekerd"] == {"value": True, "rule": "fysio_chronisch_vanaf_21"}
    assert y.path == str(CASES / "chronisch.yaml")
    j = read_case_file(CASES / "kind.json")
    assert (j.name, j.input["behandeling"]["soort"]) == ("kind", "fysiotherapie")


def test_a_case_without_a_name_is_named_after_its_file(tmp_path: Path) -> None:
    path = tmp_path / "claim-17.yaml"
    path.write_text("input: {}\n", encoding="utf-8")
    assert read_case_file(path).name == "claim-17"
    path.write_text("id: C17\ninput: {}\n", encoding="utf-8")
    assert read_case_file(path).name == "C17"


def test_on_and_peildatum_set_the_date(tmp_path: Path) -> None:
    assert case_from_data({"input": {}, "on": "2024-01-05"}, "c").on == dt.date(2024, 1, 5)
    assert case_from_data({"input": {}, "peildatum": dt.date(2024, 1, 6)}, "c").on == dt.date(2024, 1, 6)
    with pytest.raises(CaseError, match='^c: on: expected a date \\(YYYY-MM-DD\\), got "gisteren"$'):
        case_from_data({"input": {}, "on": "gisteren"}, "c")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "c: a case is a mapping with an `input` block (and optionally `expect`)"),
        ({"expect": {}}, "c: the case has no `input` block"),
        ({"input": [1]}, "c: input: expected a mapping of facts"),
        ({"input": {}, "expect": [1]}, "c: expect: expected a mapping of outputs to expected values"),
        ({"input": {}, "inptu": {}}, "c: inptu: unknown field in a case; a case has `input` and optionally "
                                     "`expect`, `name` (or `id`), `description`, `on` (or `peildatum`) and "
                                     "`xfail`; did you mean `input`?"),
        ({"input": {}, "name": ["a"]}, "c: name: expected a text or a number, got a list"),
        ({"input": {}, "description": 12}, "c: description: expected a text, got 12"),
        ({"input": {}, "peildatum": "1 maart"}, 'c: peildatum: expected a date (YYYY-MM-DD), got "1 maart"'),
    ],
)
def test_malformed_case_data(data: Any, message: str) -> None:
    with pytest.raises(CaseError) as info:
        case_from_data(data, "c")
    assert str(info.value) == message


def test_invalid_yaml_names_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("input:\n  behandeling: {datum: 2024-03-01\n", encoding="utf-8")
    with pytest.raises(CaseError) as info:
        read_case_file(path)
    assert str(info.value).startswith(f"{path}:3:1: not valid YAML: ")


def test_invalid_json_names_the_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"input":\n  {"a": }}', encoding="utf-8")
    with pytest.raises(CaseError) as info:
        read_case_file(path)
    assert str(info.value) == f"{path}:2:9: not valid JSON: Expecting value"


def test_an_impossible_date_in_yaml_is_a_case_error(tmp_path: Path) -> None:
    """YAML would read 2024-02-30 as a date and fail; it must become a CaseError naming the file and the field."""
    path = tmp_path / "feb30.yaml"
    path.write_text("input:\n  behandeling: {datum: 2024-02-30}\n", encoding="utf-8")
    case = read_case_file(path)
    decl = n.InputDecl("behandeling.datum", n.TypeRef("date"), None, Span("feb30.yaml", 1, 1, 1, 1))
    with pytest.raises(CaseError) as info:
        typed_inputs(case.input, {"behandeling.datum": decl}, f"{case.path}: ")
    assert str(info.value).startswith(f"{path}: input.behandeling.datum")
    assert "2024-02-30" in str(info.value)


def test_case_paths_in_a_stable_order(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.json", "sub/c.yml", "notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("input: {}\n", encoding="utf-8")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_case_paths([tmp_path])]
    assert found == ["a.json", "b.yaml", "sub/c.yml"]


def test_evaluate_a_case_object_and_many(book: Any) -> None:
    cases = [read_case_file(p) for p in sorted(CASES.glob("*.yaml"))]
    broken = Case(input={"behandeling": {"datum": "2024-03-01", "zitting": "twintig"}}, name="kapot", path="k.yaml")
    results = list(book.evaluate_many([cases[0], broken, cases[1]]))
    assert [isinstance(r, Decision) for r in results] == [True, False, True]
    assert isinstance(results[1], CaseFailure)
    failure = results[1]
    assert isinstance(failure, CaseFailure)
    assert (failure.case, failure.error) == ("kapot", 'k.yaml: input.behandeling.zitting: expected an integer, got "twintig"')
    assert results[0].case == cases[0].name
    assert results[2].to_json() == book.evaluate(cases[1]).to_json()


@pytest.mark.parametrize("given", ["795.474999", "0.001", 12.345])
def test_an_amount_with_more_than_cents_is_refused_not_rounded(given: object) -> None:
    with pytest.raises(CaseError) as e:
        convert(given, MONEY, "input.declaratie.bedrag")
    assert e.value.where == "input.declaratie.bedrag"
    assert "more digits than an amount in cents" in e.value.message


def test_an_amount_in_cents_may_be_written_with_trailing_zeros_or_a_comma() -> None:
    assert convert("12.500", MONEY, "x") == Decimal("12.50")
    assert convert("€ 12,5", MONEY, "x") == Decimal("12.50")
    assert convert(7, MONEY, "x") == Decimal("7.00")


# ---------------------------------------------------------------- the case schema


def _validator(book: Any) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    from passendezorg.schema import case_schema

    schema = case_schema(book)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _json_form(value: Any) -> Any:
    """Case data as JSON holds it (YAML gives dates as dates)."""
    if isinstance(value, dict):
        return {k: _json_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_form(v) for v in value]
    return value.isoformat() if isinstance(value, dt.date) else value


def test_the_case_schema_accepts_every_shipped_case() -> None:
    import yaml

    root = Path(__file__).resolve().parents[1]
    book = load_rules(root / "rules")
    validator = _validator(book)
    paths = list(iter_case_paths([root / "cases"]))
    assert len(paths) > 100
    for path in paths:
        data = _json_form(yaml.safe_load(path.read_text(encoding="utf-8")))
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors, (path, errors)


@pytest.mark.parametrize("data", [
    {"input": {"behandeling": {"datum": "2024-03-01"}}, "peildatum": "2024-03-01", "id": "c-1"},
    {"input": {"behandeling": {"datum": "2024-03-01"}}, "on": "2024-03-01", "id": 17, "description": "een casus"},
    {"input": {"behandeling.datum": "2024-03-01", "behandeling.zitting": 4}},  # dotted names
    {"input": {"behandeling": {"datum": "2024-03-01", "zitting": None}, "verzekerde": None}},  # null: missing
    {"input": None, "on": "2024-03-01"},
    {"input": {"behandeling": {"datum": "2024-03-01", "zitting": 21.0, "soort": "fysiotherapie"}}, "expect": None},
    {"input": {"behandeling": {"datum": "2024-03-01"}}, "verwacht_fout": "de regel volgt nog"},
])
def test_the_case_schema_accepts_what_the_loader_accepts(book: Any, data: dict[str, Any]) -> None:
    book.prepare(case_from_data(data, "c"), dt.date(2024, 3, 1))  # the loader takes it
    assert list(_validator(book).iter_errors(data)) == []  # and so does the schema


@pytest.mark.parametrize(("word", "amount"), [("Ja", "€ 21,67"), (" nee ", 21.5), ("TRUE", "1000.5"), (False, "12")])
def test_the_case_schema_takes_yes_and_no_as_words_and_amounts_as_text(word: Any, amount: Any) -> None:
    shipped = load_rules(Path(__file__).resolve().parents[1] / "rules")
    data = {"input": {"verzekerde": {"geboortedatum": "1980-01-01", "wlz_indicatie": word},
                      "behandeling": {"datum": "2025-03-01", "gedeclareerd_bedrag": amount}}}
    shipped.prepare(case_from_data(data, "c"))
    assert list(_validator(shipped).iter_errors(data)) == []
    data["input"]["verzekerde"]["wlz_indicatie"] = "misschien"
    with pytest.raises(CaseError):
        shipped.prepare(case_from_data(data, "c"))
    assert list(_validator(shipped).iter_errors(data)) != []


@pytest.mark.parametrize("data", [
    {"input": {"behandeling": {"zitting": "twintig"}}},
    {"input": {"behandeling": {"zitin": 3}}},
    {"input": {"behandeling.zitin": 3}},
    {"input": {"behandeling": {"zitting": "1_000"}}},
    {"input": {"behandeling": {"zitting": "1e3"}}},
    {"input": {}, "naam": "x"},
    {"input": {}, "name": ["x"]},
    {"input": {}, "description": 3},
    {"input": {}, "xfail": " "},
    {"expect": {}},
    {"input": {}, "expect": {"onbekend": 1}},
])
def test_the_case_schema_rejects_what_the_loader_rejects(book: Any, data: dict[str, Any]) -> None:
    with pytest.raises(CaseError):
        case = case_from_data(data, "c")
        book.prepare(case, dt.date(2024, 3, 1))
        if data.get("expect"):
            from passendezorg.testing import compare

            compare(book, book.evaluate(case, dt.date(2024, 3, 1)), case)
    assert list(_validator(book).iter_errors(data)) != []


def test_an_expected_amount_may_be_negative_where_a_fact_may_not() -> None:
    assert convert("-5", MONEY, "expect.x") == Decimal("-5.00")
    with pytest.raises(CaseError, match="never negative"):
        convert(["1", "-5"], n.TypeRef("list", item=MONEY), "input.x", fact=True)


def test_an_amount_up_to_the_bound_stays_exact_and_beyond_it_is_an_error() -> None:
    """18 digits before the point (values.MAX_DIGITS) are read exactly; one more is out of range."""
    assert convert("123456789012345678.56", MONEY, "input.x") == Decimal("123456789012345678.56")
    with pytest.raises(CaseError, match="out of range"):
        convert("1234567890123456789.56", MONEY, "input.x")
