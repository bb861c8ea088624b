"""Groups of facts: lists of records in a case, values per record, aggregates over a group.

The interpreter decides them record by record; the compiled and the rete engines decide the rule
book written out for the records of each case (``engines/expand.py``). Hypothesis writes random
rule books with a group, values per record (rules with exceptions and defaults, definitions) and
aggregates with conditions, and random cases with random records (fields left out, the list left
out, no records), and every engine must give the interpreter's decision byte for byte.

PASSENDEZORG_DIFF_EXAMPLES (e.g. 3000) makes the run longer, as for test_differential.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passendezorg.batch import compiled
from passendezorg.cases import case_from_data
from passendezorg.cli import main
from passendezorg.engines.expand import restore, written_out
from passendezorg.engines.interpreter import Evaluation
from passendezorg.engines.rete import ReteEngine, unavailable_reason
from passendezorg.errors import CaseError
from passendezorg.format import format_file
from passendezorg.rulebook import RuleBook, check_path, load_rules
from passendezorg.syntax import parse_text

EXAMPLES = int(os.environ.get("PASSENDEZORG_DIFF_EXAMPLES", "0") or 0)
needs_rete = pytest.mark.skipif(unavailable_reason() is not None, reason=unavailable_reason() or "")


def diff_settings(default: int) -> Any:
    return settings(max_examples=EXAMPLES or default, deadline=None, derandomize=not EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# ---------------------------------------------------------------- random rule books with a group

FIELDS = {"amt": "money", "n": "integer", "kind": "one of alpha, beta", "ok": "boolean", "seen": "date"}
KINDS = ("boolean", "integer", "money", "date")


class Gen:
    """A random, well-typed rule book with the group `item in c.items`: values per item, aggregates."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.per: list[tuple[str, str]] = []  # values per item declared so far
        self.globals: list[tuple[str, str]] = []

    def pick(self, options: list[Any]) -> Any:
        return self.draw(st.sampled_from(options))

    def chance(self, p: float) -> bool:
        return self.draw(st.floats(0, 1)) < p

    def item_condition(self, depth: int = 2) -> str:
        """A condition about one item (and the case)."""
        atoms = ["item.n > 3", "item.n <= 1", "item.kind = alpha", "item.kind != beta", "item.ok", "not item.ok",
                 "item.amt >= € 10", "item.amt < € 2,50", "item.seen < 2024-06-01", "item.n is known",
                 "item.amt is missing", "c.flag", "item.amt > c.limit", "true"]
        atoms += [f"item.{name}" for name, k in self.per if k == "boolean"]
        atoms += [f"item.{name} > 2" for name, k in self.per if k == "integer"]
        atoms += [f"item.{name} >= € 5" for name, k in self.per if k == "money"]
        if depth <= 0 or self.chance(0.5):
            return self.pick(atoms)
        op = self.pick(["and", "or", "not"])
        if op == "not":
            return f"not ({self.item_condition(depth - 1)})"
        return f"({self.item_condition(depth - 1)}) {op} ({self.item_condition(depth - 1)})"

    def item_value(self, kind: str) -> str:
        own = [f"item.{name}" for name, k in self.per if k == kind]
        if kind == "boolean":
            return self.item_condition(1) if self.chance(0.5) else self.pick(["true", "false", "item.ok", *own])
        if kind == "integer":
            return self.pick(["item.n", "item.n + 1", "2", "item.n * 2", "count(c.tags)", *own,
                              f"(item.n if {self.item_condition(1)} else 0)"])
        if kind == "money":
            return self.pick(["item.amt", "item.amt * 2", "€ 7,50", "c.limit", "min(item.amt, c.limit)",
                              "round(item.amt / 3)", "item.amt * 0.3333", *own,
                              f"(item.amt if {self.item_condition(1)} else € 0)"])
        return self.pick(["item.seen", "c.day", "item.seen + 1 month", *own])

    def aggregate(self, kind: str) -> str:
        if kind == "integer" and self.chance(0.25):
            return f"count(item{self.where(True)})"
        func = self.pick(["all", "any"] if kind == "boolean" else ["sum", "minimum", "maximum"] if kind != "date"
                         else ["minimum", "maximum"])
        body = self.item_condition() if kind == "boolean" else self.item_value(kind)
        return f"{func}({body}{self.where('item.' not in body)})"

    def where(self, needed: bool) -> str:
        """The condition of an aggregate: sometimes; always when the body reads no record (it must read one)."""
        condition = self.item_condition()
        if needed and "item." not in condition:
            condition = f"item.ok or ({condition})"
        return f" where {condition}" if needed or self.chance(0.5) else ""

    def global_condition(self) -> str:
        atoms = ["c.flag", "not c.flag", "c.limit > € 3", f"{self.aggregate('boolean')}",
                 f"{self.aggregate('integer')} > 1", f"{self.aggregate('money')} >= c.limit"]
        atoms += [name for name, k in self.globals if k == "boolean"]
        atoms += [f"{name} > 2" for name, k in self.globals if k == "integer"]
        first = self.pick(atoms)
        return first if self.chance(0.6) else f"{first} {self.pick(['and', 'or'])} {self.pick(atoms)}"

    def book(self) -> str:
        out = ["language english", "ruleset grp", '  source src "The source"', "",
               "input c.day : date", "input c.limit : money", "input c.flag : boolean",
               "input c.tags : list of one of alpha, beta", "peildatum c.day", "",
               'group item in c.items "The items"']
        out += [f"  field {name} : {t}" for name, t in FIELDS.items()]
        rule_no = 0
        for i in range(self.draw(st.integers(1, 3))):
            kind = self.pick(list(KINDS))
            name = f"pv{i}"
            if self.chance(0.3):
                out += ["", f"derived {name} per item : {kind} = {self.item_value(kind)}"]
            else:
                word = "output" if self.chance(0.6) else "derived"
                default = f" default {self.item_value(kind)}" if self.chance(0.5) else ""
                out += ["", f"{word} {name} per item : {kind}{default}"]
                mine: list[str] = []
                for _ in range(self.draw(st.integers(1, 3))):
                    rule = f"r{rule_no}"
                    rule_no += 1
                    lines = ["", f'rule {rule} "Rule {rule}"', f'  source src "art. {rule_no}"']
                    if mine and self.chance(0.5):
                        lines.append(f"  exception to {self.pick(mine)}")
                    if self.chance(0.8):
                        lines.append(f"  when {self.item_condition()}")
                    lines.append(f"  then {name} = {self.item_value(kind)}")
                    out += lines
                    mine.append(rule)
            self.per.append((name, kind))
        for i in range(self.draw(st.integers(1, 3))):
            kind = self.pick(list(KINDS))
            name = f"g{i}"
            if self.chance(0.4):
                out += ["", f"derived {name} : {kind} = {self.aggregate(kind)}"]
            else:
                default = " default " + {"boolean": "false", "integer": "0", "money": "€ 0",
                                         "date": "2020-01-01"}[kind] if self.chance(0.4) else ""
                out += ["", f"output {name} : {kind}{default}"]
                for _ in range(self.draw(st.integers(1, 2))):
                    rule = f"r{rule_no}"
                    rule_no += 1
                    out += ["", f'rule {rule} "Rule {rule}"', f'  source src "art. {rule_no}"']
                    if self.chance(0.7):
                        out.append(f"  when {self.global_condition()}")
                    out.append(f"  then {name} = {self.aggregate(kind)}")
            self.globals.append((name, kind))
        return "\n".join(out) + "\n"


@st.composite
def rule_books(draw: st.DrawFn) -> str:
    return Gen(draw).book()


def field_value(kind: str) -> st.SearchStrategy[Any]:
    if kind == "money":
        return st.sampled_from(["0.00", "2.49", "2.50", "10.00", "7.25", "3.00", "123.45"])
    if kind == "integer":
        return st.integers(-1, 6)
    if kind == "boolean":
        return st.booleans()
    if kind == "date":
        return st.sampled_from(["2024-05-31", "2024-06-01", "2023-12-31", "2024-02-29"])
    return st.sampled_from(["alpha", "beta"])


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """Case data: a few items, some fields left out (or null), sometimes no list or an empty one."""
    missing = draw(st.sampled_from([0.0, 0.15, 0.4]))
    facts: dict[str, Any] = {"day": "2024-06-01"}
    for name, value in (("limit", field_value("money")), ("flag", st.booleans()),
                        ("tags", st.lists(st.sampled_from(["alpha", "beta"]), max_size=2))):
        if draw(st.floats(0, 1)) >= missing:
            facts[name] = draw(value)
    if draw(st.floats(0, 1)) >= min(missing, 0.2):
        items = []
        for _ in range(draw(st.integers(0, 4))):
            record: dict[str, Any] = {}
            for field, t in FIELDS.items():
                if draw(st.floats(0, 1)) >= missing:
                    record[field] = draw(field_value("enum" if t.startswith("one of") else t))
            items.append(record)
        facts["items"] = items
    return {"input": {"c": facts}}


_BOOKS: dict[str, RuleBook] = {}


def book_of(text: str, folder: Path) -> RuleBook:
    if text not in _BOOKS:
        path = folder / f"book{len(os.listdir(folder))}"
        path.mkdir()
        (path / "book.pz").write_text(text, encoding="utf-8")
        report = check_path(path)
        errors = [d.render(report.sources) for d in report.errors]
        assert report.program is not None, "the generator wrote a rule book with errors:\n" + "\n".join(errors) + \
            "\n\n" + text
        _BOOKS[text] = RuleBook(report.program)
    return _BOOKS[text]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("group_books")
    _BOOKS.clear()


def decision_json(book: RuleBook, outcomes: Any, inputs: dict[str, Any], day: dt.date) -> str:
    return book.decision(outcomes, day, "c", inputs).to_json()


def assert_compiled_same(book: RuleBook, inputs: dict[str, Any], day: dt.date) -> None:
    """The compiled engine on the written-out rule book: every value, status and deciding rule the interpreter's,
    and what it decided in three-valued logic with the interpreter's needs and reasons, without the interpreter."""
    written = written_out(book.program, inputs)
    cp = compiled(written)  # once per shape of case
    fast = cp.run(inputs, day)
    assert fast is not None
    reference = Evaluation(written, inputs, day, trace=False).run()
    for k, (name, status, value, rule) in enumerate(zip(cp.names, fast.statuses, fast.values, fast.rules)):
        o = reference[name]
        want = o.value if o.known else None
        assert (status, rule, type(value), repr(value)) == (o.status, o.rule, type(want), repr(want)), (name, inputs)
        d = fast.decided.get(k)
        if d is not None:
            assert (d.needs, d.reason, d.conflict, d.overridden) == (o.needs, o.reason, o.conflict, o.overridden)
    assert fast[3] is None or fast[3].ev is None, f"the interpreter decided a value: {inputs!r}"


@diff_settings(30)
@given(data=st.data(), text=rule_books())
def test_random_groups_written_out_and_compiled(folder: Path, data: st.DataObject, text: str) -> None:
    """The interpreter's decision per record equals the written-out rule book's, and the compiled engine's."""
    book = book_of(text, folder)
    for _ in range(5):
        case = case_from_data(data.draw(cases()), "c")
        _, inputs, day = book.prepare(case)
        reference = decision_json(book, Evaluation(book.program, inputs, day).run(), inputs, day)
        written = written_out(book.program, inputs)
        assert decision_json(book, restore(Evaluation(written, inputs, day).run()), inputs, day) == reference, \
            (text, inputs)
        assert_compiled_same(book, inputs, day)
        fast = next(iter(book.decide_many([case])))
        full = json.loads(reference)["outputs"]
        for name, o in full.items():  # the compact answer of a batch: the same values (lists per record)
            assert fast.as_json()["values"][name] == o["value"], (name, inputs)
            if o.get("records"):
                assert fast.record_rules[name] == [r["rule"]["name"] if r["rule"] else None for r in o["records"]]


@needs_rete
@diff_settings(15)
@given(data=st.data(), text=rule_books())
def test_random_groups_on_the_rete_engine(folder: Path, data: st.DataObject, text: str) -> None:
    book = book_of(text, folder)
    for _ in range(4):
        _, inputs, day = book.prepare(case_from_data(data.draw(cases()), "c"))
        reference = decision_json(book, Evaluation(book.program, inputs, day).run(), inputs, day)
        with ReteEngine(written_out(book.program, inputs)) as engine:
            assert decision_json(book, restore(engine.run(inputs, day)), inputs, day) == reference, (text, inputs)


# ---------------------------------------------------------------- the semantics, by hand

HOUSEHOLD = """language english
ruleset h
  source s "S"
group person in household.persons
  field income : money
  field partner : boolean
input day : date
peildatum day
derived total : money = sum(person.income)
derived partnered : boolean = any(person.partner)
derived all_partnered : boolean = all(person.partner)
derived lowest : money = minimum(person.income where not person.partner)
derived counted : integer = count(person where person.income > € 100)
derived rich per person : boolean = person.income > € 1000
derived rich_ones : integer = count(person where person.rich)
"""


@pytest.fixture(scope="module")
def household(tmp_path_factory: pytest.TempPathFactory) -> RuleBook:
    path = tmp_path_factory.mktemp("household")
    (path / "h.pz").write_text(HOUSEHOLD, encoding="utf-8")
    return load_rules(path)


def decide(book: RuleBook, persons: list[dict[str, Any]] | None, engine: str = "interpreter") -> dict[str, Any]:
    facts: dict[str, Any] = {"day": "2025-01-01"}
    if persons is not None:
        facts["household"] = {"persons": persons}
    d = book.evaluate({"input": facts}, engine=engine)
    return {name: (o.status, o.value, o.needs) for name, o in d.derived.items()}


def test_known_records_decide_an_aggregate_that_needs_a_missing_field(household: RuleBook) -> None:
    got = decide(household, [{"income": 50, "partner": True}, {"income": 2000}])
    assert got["partnered"] == ("value", True, [])  # one partner is enough
    assert got["all_partnered"] == ("undetermined", None, ["household.persons[1].partner"])
    assert got["total"] == ("value", Decimal("2050.00"), [])
    assert got["lowest"] == ("undetermined", None, ["household.persons[1].partner"])
    assert got["counted"] == ("undetermined", None, ["household.persons[1].partner"]) or \
        got["counted"][0] == "value"
    got = decide(household, [{"income": 50, "partner": False}, {"partner": False}])
    assert got["total"] == ("undetermined", None, ["household.persons[1].income"])
    assert got["all_partnered"] == ("value", False, [])  # one without a partner is enough
    assert got["rich"][0] == "undetermined" and got["rich"][2] == ["household.persons[1].income"]
    got = decide(household, [{"income": 50, "partner": False}, {"income": 80}])
    assert got["lowest"] == ("value", Decimal("50.00"), [])  # the other one, were it counted, is not lower


def test_no_list_and_an_empty_list(household: RuleBook) -> None:
    got = decide(household, None)
    assert got["total"] == ("undetermined", None, ["household.persons"])
    assert got["rich"] == ("undetermined", None, ["household.persons"])
    got = decide(household, [])
    assert got["total"][:2] == ("value", Decimal("0.00"))
    assert got["partnered"][:2] == ("value", False) and got["all_partnered"][:2] == ("value", True)
    assert got["counted"][:2] == ("value", 0) and got["rich"][:2] == ("value", [])
    assert got["lowest"][0] == "error"


@needs_rete
def test_the_rete_engine_decides_groups_as_the_interpreter(household: RuleBook) -> None:
    for persons in (None, [], [{"income": 50, "partner": True}, {"income": 2000}], [{"partner": False}]):
        facts: dict[str, Any] = {"day": "2025-01-01"}
        if persons is not None:
            facts["household"] = {"persons": persons}
        assert household.evaluate({"input": facts}, engine="rete").to_json() == \
            household.evaluate({"input": facts}).to_json()


# ---------------------------------------------------------------- cases, the schema, the checker


def test_a_bad_field_of_a_record_is_named_with_its_index(household: RuleBook) -> None:
    facts = {"day": "2025-01-01", "household": {"persons": [{"income": 5}, {"income": 5, "incme": 7}]}}
    with pytest.raises(CaseError) as e:
        household.prepare({"input": facts})
    assert e.value.where.endswith("input.household.persons[1].incme")
    assert "did you mean `income`" in e.value.message
    facts = {"day": "2025-01-01", "household": {"persons": [{"income": 5}, {"income": "lots"}]}}
    with pytest.raises(CaseError) as e:
        household.prepare({"input": facts})
    assert e.value.where.endswith("input.household.persons[1].income")
    with pytest.raises(CaseError, match="expected a list of records"):
        household.prepare({"input": {"day": "2025-01-01", "household": {"persons": {"income": 5}}}})


def test_the_case_schema_describes_lists_of_records(household: RuleBook) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from passendezorg.schema import case_schema

    validator = jsonschema.Draft202012Validator(case_schema(household))
    good = {"input": {"day": "2025-01-01", "household": {"persons": [{"income": "21.50", "partner": True},
                                                                     {"income": None}, None]}}}
    household.prepare(good)
    assert list(validator.iter_errors(good)) == []
    bad = {"input": {"day": "2025-01-01", "household": {"persons": [{"incme": 1}]}}}
    assert list(validator.iter_errors(bad)) != []


CHECKED = """language english
ruleset g
  source s "S"
group person in household.persons
  field income : money
  field born : date
input day : date
peildatum day
derived age per person : integer = age(person.born, day)
"""


@pytest.mark.parametrize(("text", "message"), [
    ("derived x : money = sum(person.incme)", "`person` has no field or value `incme`"),
    ("derived x : money = person.income", "`person.income` is read from each record of `household.persons`"),
    ("derived x : integer = age", "`age` is decided per `person`"),
    ("derived x per person : money = sum(person.income)", "an aggregate over `person` cannot be taken inside"),
    ("derived x : money = sum(person.born)", "`sum` takes a number or an amount per record, but this is a date"),
    ("derived x : boolean = any(person.income)", "`any` takes a condition per record"),
    ("derived x : integer = count(person where person.income)", "the condition of `count` must be a condition"),
    ("derived x : integer = count(person.income)", "`count` counts records"),
    ("derived x per persn : integer = 1", "`x` is decided per `persn`, which is no group"),
    ("derived x : integer = person", "`person` is one record of `household.persons`, not a value"),
    ("derived x : money = sum(day)", "`sum` is taken over the records of a group"),
    ("derived x : integer = abs(1 where true)", "gives the condition of an aggregate"),
])
def test_the_checker_catches_misuse_of_groups(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "g.pz").write_text(CHECKED + text + "\n", encoding="utf-8")
    report = check_path(tmp_path)
    messages = [d.message for d in report.errors]
    assert any(message in m for m in messages), messages


def test_a_dutch_file_gets_its_messages_in_dutch(tmp_path: Path) -> None:
    text = ("taal nederlands\nregelset g\n  bron s \"S\"\ngroep persoon in huishouden.personen\n"
            "  veld inkomen : bedrag\ninvoer dag : datum\npeildatum dag\nafgeleid x : bedrag = som(persoon.inkomn)\n")
    (tmp_path / "g.pz").write_text(text, encoding="utf-8")
    report = check_path(tmp_path)
    shown = "\n".join(d.render(report.sources) for d in report.errors)
    assert "`persoon` heeft geen veld of waarde `inkomn`" in shown
    assert "bedoelt u `inkomen`?" in shown


def test_format_keeps_groups_values_per_record_and_aggregates() -> None:
    text = CHECKED + ("output n : integer\nrule r \"R\"\n  source s \"1\"\n"
                      "  then n = count(person where person.age >= 18 and person.income > € 10)\n")
    tree, errors = parse_text(text, "g.pz")
    assert not errors and tree is not None
    formatted = format_file(tree)
    again, errors = parse_text(formatted, "g.pz")
    assert not errors and again is not None and format_file(again) == formatted
    assert "group person in household.persons" in formatted and "derived age per person : integer" in formatted
    assert "count(person where person.age >= 18 and person.income > € 10.00)" in formatted


def test_text_and_json_show_values_per_record(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "h.pz").write_text(HOUSEHOLD, encoding="utf-8")
    case = tmp_path / "c.yaml"
    case.write_text("input:\n  day: 2025-01-01\n  household:\n    persons:\n      - {income: 2000, partner: true}\n"
                    "      - {income: 10}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", "--rules", str(rules), "-v", str(case)])
    assert result.exit_code == 0, result.output
    assert "rich (per record of household.persons) = [yes, no]" in result.output
    assert "[0] = yes" in result.output and "household.persons[0].income = 2000.00" in result.output
    result = CliRunner().invoke(main, ["evaluate", "--rules", str(rules), "--format", "json", str(case)])
    rich = json.loads(result.output)["derived"]["rich"]
    assert rich["per"] == "household.persons" and rich["value"] == [True, False]
    assert [r["facts"] for r in rich["records"]] == [{"household.persons[0].income": "2000.00"},
                                                       {"household.persons[1].income": "10.00"}]


def test_naming_a_per_record_intermediate_changes_nothing(tmp_path: Path) -> None:
    """An aggregate of an expression per record, or of a value per record that names it: the same answers."""
    inline = CHECKED + "output t : money\nrule r \"R\"\n  source s \"1\"\n  then t = sum(person.income * 0.3333)\n"
    named = CHECKED + ("derived share per person : money = person.income * 0.3333\n"
                       "output t : money\nrule r \"R\"\n  source s \"1\"\n  then t = sum(person.share)\n")
    books = []
    for i, text in enumerate((inline, named)):
        (tmp_path / str(i)).mkdir()
        (tmp_path / str(i) / "g.pz").write_text(text, encoding="utf-8")
        books.append(load_rules(tmp_path / str(i)))
    facts = {"day": "2025-01-01", "household": {"persons": [{"income": "10.01"}, {"income": "20.02"}, {}]}}
    for persons in (facts["household"]["persons"][:2], facts["household"]["persons"]):
        case = {"input": {**facts, "household": {"persons": persons}}}
        a, b = (bk.evaluate(case).outputs["t"] for bk in books)
        assert (a.status, a.value, a.needs) == (b.status, b.value, b.needs)


def test_a_scenario_marks_the_records_it_decided(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "c.pz").write_text(
        'language english\nruleset c\n  source s "S"\ngroup line in claim.lines\n  field amount : money\n'
        "input day : date\npeildatum day\noutput paid per line : money\n  default € 0\n"
        'rule paid_all "All"\n  source s "1"\n  then paid = line.amount\n', encoding="utf-8")
    (tmp_path / "scenarios" / "half").mkdir(parents=True)
    (tmp_path / "scenarios" / "half" / "half.pz").write_text(
        'language english\nscenario half\n  source p "A plan"\nrule paid_half "Half above 100"\n  source p "1"\n'
        "  exception to paid_all\n  when line.amount > € 100\n  then paid = line.amount / 2\n", encoding="utf-8")
    book = load_rules(tmp_path / "rules").with_scenario("half")
    d = book.evaluate({"input": {"day": "2025-01-01", "claim": {"lines": [{"amount": 50}, {"amount": 300}]}}})
    paid = d.outputs["paid"]
    assert paid.value == [Decimal("50.00"), Decimal("150.00")]
    assert paid.records is not None
    assert [[(c.kind, c.name) for c in r.scenario_changes or []] for r in paid.records] == \
        [[], [("rule", "paid_half")]]


def test_why_not_a_rule_per_record_says_it_for_each_record(tmp_path: Path) -> None:
    (tmp_path / "g.pz").write_text(CHECKED + 'output old per person : boolean\n  default false\nrule old_age "Old"\n'
                                   '  source s "1"\n  when person.age >= 65\n  then old = true\n', encoding="utf-8")
    book = load_rules(tmp_path)
    persons = [{"born": "1950-01-01"}, {"born": "1990-01-01"}, {}]
    text = book.why_not("old_age", {"input": {"day": "2025-01-01", "household": {"persons": persons}}})
    assert text.splitlines()[0] == "[0] rule old_age applies and decided old"
    assert "[1] rule old_age does not apply: the condition `person.age >= 65` is false" in text
    assert "[2] rule old_age: the condition `person.age >= 65` cannot be decided; it needs: " \
        "household.persons[2].born" in text
    assert "does not give `household.persons`" in book.why_not("old_age", {"input": {"day": "2025-01-01"}})
    answer = book.why_not_answer("old_age", {"input": {"day": "2025-01-01", "household": {"persons": persons}}})
    assert answer.answer == text
    assert [(r.record, r.kind) for r in answer.reasons] == [
        (0, "decided"), (1, "condition_false"), (2, "condition_undetermined")]
    assert answer.reasons[2].needs == ["household.persons[2].born"]
    assert book.why_not_answer("old_age", {"input": {"day": "2025-01-01"}}).reasons[0].kind == "no_records"


# ---------------------------------------------------------------- the examples of the language reference, every engine


def _group_examples() -> list[tuple[str, str, list[str]]]:
    """(line, rule file, case texts) of the language reference's examples of groups, per keyword set."""
    from test_docs_examples import language_examples

    found = []
    for example in language_examples():
        for variant in example.variants:
            if not any(line.lstrip().startswith(("group ", "groep ")) for line in variant.body.splitlines()):
                continue
            language = "nederlands" if variant.body.lstrip().startswith("taal") else "english"
            cases = [c.body for c in example.cases
                     if not c.title.startswith(("Case (English)", "Case (Nederlands)"))
                     or c.title.lower().startswith(f"case ({language}")]
            found.append((f"language.md:{variant.line}", variant.body, cases))
    return found


@pytest.mark.parametrize(("line", "rules", "cases"), _group_examples(), ids=[x[0] for x in _group_examples()])
def test_the_reference_examples_of_groups_on_every_engine(tmp_path: Path, line: str, rules: str,
                                                          cases: list[str]) -> None:
    """The household and the claim of language.md: the rete engine's decisions are the interpreter's, the compiled
    engine's compact answers carry the same values and rules, and every case's expectations hold on each."""
    from passendezorg.cases import load_yaml
    from passendezorg.testing import compare

    assert cases, line
    (tmp_path / "example.pz").write_text(rules, encoding="utf-8")
    book = load_rules(tmp_path)
    for text in cases:
        case = case_from_data(load_yaml(text), line)
        reference = book.evaluate(case)
        assert compare(book, reference, case) == [], (line, text)
        fast = next(iter(book.decide_many([case])))
        for name, o in reference.outputs.items():
            assert fast.values[name] == o.value, (line, name)
            if o.records:
                assert fast.record_rules[name] == [r.rule.name if r.rule else None for r in o.records]
            else:
                assert fast.rules[name] == (o.rule.name if o.rule else None)
        if unavailable_reason() is None:
            on_rete = book.evaluate(case, engine="rete")
            assert on_rete.to_json() == reference.to_json(), (line, text)
