"""The compiled engine agrees with the reference interpreter, and rule data cannot become code."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passendezorg import nodes as n
from passendezorg.engines.compiled import CompiledProgram, audit, compile_program
from passendezorg.engines.interpreter import Evaluation
from passendezorg.program import Program
from passendezorg.rulebook import check_path, load_cached, load_rules

ROOT = Path(__file__).resolve().parents[1]
BOOKS = ROOT / "tests" / "rulebooks_compiled"


def _book_paths() -> list[Path]:
    paths = [BOOKS / "basic", BOOKS / "dated", BOOKS / "exceptions", ROOT / "bench" / "claims6"]
    shipped = ROOT / "rules"
    if shipped.is_dir() and any(shipped.rglob("*.pz")) and check_path(shipped).program is not None:
        paths.append(shipped)
    return paths


_compiled: dict[Path, CompiledProgram] = {}


def compiled(path: Path) -> CompiledProgram:
    if path not in _compiled:
        _compiled[path] = compile_program(load_rules(path).program)
    return _compiled[path]


# ------------------------------------------------------------------ comparing


def same(a: Any, b: Any) -> bool:
    """Equal, of the same type, and written the same (Decimal('1.0') is not Decimal('1.00'))."""
    return type(a) is type(b) and a == b and repr(a) == repr(b)


def check_agreement(cp: CompiledProgram, inputs: dict[str, Any], day: dt.date) -> bool:
    """Assert that every value of the fast result is what the interpreter says; True if the generated code
    decided every value (False: the interpreter decided some of them, or the whole case)."""
    fast = cp.run(inputs, day)
    if fast is None:
        return False
    reference = Evaluation(cp.program, inputs, day).run()
    decided = fast.decided
    for k, (name, status, value, rule) in enumerate(zip(cp.names, fast.statuses, fast.values, fast.rules)):
        o = reference[name]
        assert (status, rule) == (o.status, o.rule), (name, inputs, day, (status, value, rule), o)
        assert same(value, o.value if o.known else None), (name, inputs, day, value, o.value)
        if k in decided:
            d = decided[k]
            assert (d.needs, d.reason, d.conflict) == (o.needs, o.reason, o.conflict), (name, inputs, d, o)
        else:
            assert status in ("value", "default") or (status == "undetermined" and not o.needs), (name, o)
    return not decided


def interpreted(cp: CompiledProgram, inputs: dict[str, Any], day: dt.date) -> set[str]:
    """The values the interpreter decided for the generated code (all of them if the case left the fast path)."""
    fast = cp.run(inputs, day)
    if fast is None:
        return set(cp.names)
    return {cp.names[k] for k in fast.decided}


# ------------------------------------------------------------------ random cases


def _literals(p: Program) -> list[Any]:
    found: list[Any] = []

    def walk(e: Any) -> None:
        if isinstance(e, n.Literal):
            found.append(e.value)
        elif isinstance(e, (n.Binary,)):
            walk(e.left)
            walk(e.right)
        elif isinstance(e, (n.Unary, n.IsKnown)):
            walk(e.operand)
        elif isinstance(e, (n.ListLit, n.TupleLit)):
            for x in e.items:
                walk(x)
        elif isinstance(e, n.Call):
            for x in e.args:
                walk(x)
        elif isinstance(e, n.Lookup):
            for x in e.keys:
                walk(x)

    for r in p.rules.values():
        walk(r.when)
        walk(r.value)
        found.extend(d for d in (r.valid_from, r.valid_until) if d is not None)
    for v in p.values.values():
        walk(v.definition)
        walk(v.default)
    for par in p.parameters.values():
        for per in par.periods:
            found.extend(d for d in (per.start, per.end) if d is not None)
    for t in p.tables.values():
        for key, rows in t.rows.items():
            found.extend(key)
            for row in rows:
                found.extend(d for d in (row.valid_from, row.valid_until) if d is not None)
    return found


def input_strategy(p: Program, t: n.TypeRef, lits: list[Any]) -> st.SearchStrategy[Any]:
    k = t.kind
    ints = sorted({x + d for x in lits if type(x) is int for d in (-1, 0, 1)} | {0, 1})
    dates = sorted({x + dt.timedelta(days=d) for x in lits if type(x) is dt.date for d in (-1, 0, 1)})
    if k == "boolean":
        return st.booleans()
    if k == "integer":
        return st.one_of(st.sampled_from(ints), st.integers(-50, 50), st.integers(-10**30, 10**30))
    if k == "money":
        return st.one_of(st.sampled_from([x for x in lits if isinstance(x, Decimal)] or [Decimal("1.00")]),
                         st.integers(-10**7, 10**7).map(lambda c: (Decimal(c) / 100).quantize(Decimal("0.01"))))
    if k == "decimal":
        return st.one_of(st.integers(-1000, 1000).map(lambda c: Decimal(c) / 10),
                         st.sampled_from([Decimal(0), Decimal("0.1"), Decimal("2.50")]))
    if k == "date":
        span = st.dates(dt.date(1930, 1, 1), dt.date(2030, 12, 31))
        return st.one_of(st.sampled_from(dates), span) if dates else span
    if k == "text":
        texts = sorted({x for x in lits if type(x) is str} | {"", "zzz"})
        return st.one_of(st.sampled_from(texts), st.text(max_size=3))
    if k == "enum":
        return st.sampled_from(t.choices)
    if k == "list":
        assert t.item is not None
        return st.lists(input_strategy(p, t.item, lits), max_size=4)
    raise AssertionError(k)


@st.composite
def cases(draw: st.DrawFn, cp: CompiledProgram, present: float) -> tuple[dict[str, Any], dt.date]:
    p = cp.program
    lits = _literals(p)
    inputs: dict[str, Any] = {}
    for name, decl in p.inputs.items():
        if draw(st.floats(0, 1)) < present:
            inputs[name] = draw(input_strategy(p, decl.type, lits))
    day = inputs.get(p.peildatum) if p.peildatum else None
    if day is None:
        day = draw(input_strategy(p, n.TypeRef("date"), lits))
    return inputs, day


@pytest.mark.parametrize("path", _book_paths(), ids=lambda p: p.name)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_agrees_with_interpreter(path: Path, data: st.DataObject) -> None:
    cp = compiled(path)
    present = data.draw(st.sampled_from([1.0, 1.0, 0.9, 0.6]))
    inputs, day = data.draw(cases(cp, present))
    check_agreement(cp, inputs, day)


@pytest.mark.parametrize("path", _book_paths(), ids=lambda p: p.name)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_three_valued_blocks_decide_cases_with_inputs_left_out(path: Path, data: st.DataObject) -> None:
    """A case leaves random inputs out: the values the two-valued blocks cannot decide (undetermined with the
    inputs they need, errors, conflicts) are the interpreter's, and the three-valued blocks decide them alone."""
    cp = compiled(path)
    inputs, day = data.draw(cases(cp, data.draw(st.floats(0.2, 0.95))))
    fast = cp.run(inputs, day)
    if fast is None:
        # the fast path gives up only where the interpreter itself fails (amounts beyond decimal precision)
        with pytest.raises(ArithmeticError):
            Evaluation(cp.program, inputs, day).run()
        return
    check_agreement(cp, inputs, day)
    assert fast[3] is None or fast[3].ev is None, ("the interpreter decided a value", inputs, day)


@pytest.mark.parametrize("path", _book_paths(), ids=lambda p: p.name)
def test_fast_path_decides_most_complete_cases(path: Path) -> None:
    """With every input given, the fast path should rarely hand over to the interpreter."""
    cp = compiled(path)
    p = cp.program
    lits = _literals(p)
    rnd = random.Random(7)
    decided = 0
    total = 300
    for _ in range(total):
        inputs = {name: _pick(rnd, decl.type, lits) for name, decl in p.inputs.items()}
        day = inputs[p.peildatum] if p.peildatum else dt.date(2024, 1, 1)
        decided += check_agreement(cp, inputs, day)
    assert decided >= total // 3, f"only {decided} of {total} cases took the fast path"


def _pick(rnd: random.Random, t: n.TypeRef, lits: list[Any]) -> Any:
    k = t.kind
    if k == "boolean":
        return rnd.random() < 0.5
    if k == "integer":
        ints = [x for x in lits if type(x) is int] + [0, 1, 5, 20, 30]
        return rnd.choice(ints) + rnd.choice((-1, 0, 1))
    if k == "money":
        return (Decimal(rnd.randint(0, 200000)) / 100).quantize(Decimal("0.01"))
    if k == "decimal":
        return Decimal(rnd.randint(1, 100)) / 10
    if k == "date":
        return dt.date(2015, 1, 1) + dt.timedelta(days=rnd.randint(0, 365 * 12))
    if k == "text":
        return rnd.choice(sorted({x for x in lits if type(x) is str} | {"other"}))
    if k == "enum":
        return rnd.choice(t.choices)
    if k == "list":
        assert t.item is not None
        return [_pick(rnd, t.item, lits) for _ in range(rnd.randint(0, 3))]
    raise AssertionError(k)


# ------------------------------------------------------------------ specific cases


def test_claims6_answers() -> None:
    cp = compiled(ROOT / "bench" / "claims6")
    claim = {"insured_age": 40, "setting": "hospital", "treatment": "physio", "belongs_with_gp": True,
             "chronic_list": True, "session_no": 25, "digital": True, "amount_cents": 3000}
    fast = cp.run(claim, dt.date(2024, 1, 1))
    assert fast is not None
    got = cp.outcomes_of(fast)
    assert got["insured"] == ("value", True, "R2b")
    assert got["base_tariff"] == ("value", 1250, "R4")
    assert got["tariff"] == ("value", 1000, "R6")
    assert got["deductible_applies"] == ("default", True, None)
    assert cp.dispatch_input == "treatment"


def test_missing_input_falls_back_and_interpreter_decides() -> None:
    cp = compiled(ROOT / "bench" / "claims6")
    claim = {"insured_age": 40, "setting": "gp", "treatment": "dental", "belongs_with_gp": False,
             "chronic_list": False, "session_no": 2, "digital": False}  # no amount_cents
    day = dt.date(2024, 1, 1)
    # the values that read the missing amount (and the tariff that reads them) go to the interpreter; the rest stay
    assert interpreted(cp, claim, day) == {"base_tariff", "tariff"}
    assert not check_agreement(cp, claim, day)
    fast = cp.run(claim, day)
    assert fast is not None
    outcomes = {cp.names[k]: o for k, o in fast.decided.items()}
    assert outcomes["base_tariff"].status == "undetermined"
    assert outcomes["base_tariff"].needs == ["amount_cents"]
    assert outcomes["tariff"].status == "undetermined"
    assert cp.outcomes_of(fast)["insured"] == ("value", True, "R0")
    assert cp.outcomes_of(fast)["deductible_applies"] == ("value", False, "R5")


@pytest.mark.parametrize("path", _book_paths(), ids=lambda p: p.name)
def test_interpreter_decides_when_a_three_valued_block_fails(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last resort: should a three-valued block fail, the interpreter decides the value, with the same answer."""
    import passendezorg.engines.compiled as compiler

    def failing(*_args: Any) -> Any:
        raise RuntimeError("a three-valued block that fails")

    monkeypatch.setattr(compiler._TriGen, "resolvers", lambda self, fns: ("", {}))
    monkeypatch.setattr(compiler, "_definition", lambda decl, fns: failing)
    cp = compile_program(load_rules(path).program)
    p = cp.program
    lits = _literals(p)
    rnd = random.Random(11)
    used = 0
    for _ in range(60):
        inputs = {name: _pick(rnd, decl.type, lits) for name, decl in p.inputs.items() if rnd.random() < 0.7}
        day = inputs.get(p.peildatum) if p.peildatum else None
        day = day or dt.date(2024, 1, 1)
        check_agreement(cp, inputs, day)
        fast = cp.run(inputs, day)
        used += fast is not None and fast[3] is not None and fast[3].ev is not None
    assert used, "no case needed the interpreter"


def test_conflict_falls_back() -> None:
    cp = compiled(BOOKS / "basic")
    inputs = {"person.birth": dt.date(1990, 1, 1), "claim.date": dt.date(2024, 5, 1), "claim.kind": "other",
              "claim.sessions": 3, "claim.amount": Decimal("10.00"), "claim.factor": Decimal("1.5"),
              "claim.code": "COPD", "claim.digital": True, "claim.tags": []}
    assert "label" in interpreted(cp, inputs, dt.date(2024, 5, 1))
    assert not check_agreement(cp, inputs, dt.date(2024, 5, 1))
    assert Evaluation(cp.program, inputs, dt.date(2024, 5, 1)).run()["label"].status == "conflict"
    inputs["claim.digital"] = False
    assert check_agreement(cp, inputs, dt.date(2024, 5, 1))


def test_parameter_without_value_and_dated_rows() -> None:
    cp = compiled(BOOKS / "dated")
    base = {"zorg.soort": "fysio", "zorg.regio": 1, "zorg.aantal": 10, "zorg.bedrag": Decimal("100.00")}
    for day, fast in ((dt.date(2024, 3, 1), True), (dt.date(2027, 3, 1), False), (dt.date(2019, 6, 1), True)):
        inputs = {**base, "zorg.datum": day}
        assert check_agreement(cp, inputs, day) == fast
    got = cp.outcomes_of(cp.run({**base, "zorg.datum": dt.date(2024, 3, 1)}, dt.date(2024, 3, 1)))  # type: ignore[arg-type]
    assert got["risico"] == ("value", Decimal("400.00"), "risico_regel")
    assert got["tarief"] == ("value", Decimal("35.00"), "tarief_regel")
    assert got["kosten"] == ("value", Decimal("90.00"), "kosten_regel")
    # an empty cell: `is bekend` is false, the look-up itself leaves the fast path
    inputs = {**base, "zorg.regio": 2, "zorg.datum": dt.date(2024, 3, 1)}
    assert interpreted(cp, inputs, dt.date(2024, 3, 1))
    assert not check_agreement(cp, inputs, dt.date(2024, 3, 1))
    assert Evaluation(cp.program, inputs, dt.date(2024, 3, 1)).run()["bekend"].value is False


def test_division_by_zero_falls_back() -> None:
    cp = compiled(BOOKS / "basic")
    inputs = {"person.birth": dt.date(1990, 1, 1), "claim.date": dt.date(2024, 5, 1), "claim.kind": "gp",
              "claim.sessions": 0, "claim.amount": Decimal("10.00"), "claim.factor": Decimal("1.5"),
              "claim.code": "none", "claim.digital": False, "claim.tags": ["b"]}
    assert "ratio" in interpreted(cp, inputs, dt.date(2024, 5, 1))
    assert not check_agreement(cp, inputs, dt.date(2024, 5, 1))
    assert Evaluation(cp.program, inputs, dt.date(2024, 5, 1)).run()["ratio"].status == "error"


def test_exceptions_without_dispatch_agree() -> None:
    """The same answers with and without dispatch on a discriminating input."""
    program = load_rules(BOOKS / "exceptions").program
    plain = compile_program(program, dispatch=False)
    fast = compiled(BOOKS / "exceptions")
    assert plain.dispatch_input is None and fast.dispatch_input == "kind"
    rnd = random.Random(3)
    for _ in range(400):
        inputs = {"day": dt.date(2018, 1, 1) + dt.timedelta(days=rnd.randint(0, 2500)), "kind": rnd.choice("abcde"),
                  "level": rnd.randint(-1, 10), "flag": rnd.random() < 0.5,
                  "code": rnd.choice(["Z", "P1", "P2", "P5", "Q"])}
        a, b = plain.run(inputs, inputs["day"]), fast.run(inputs, inputs["day"])
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert a.values == b.values and a.rules == b.rules
        check_agreement(plain, inputs, inputs["day"])


# ------------------------------------------------------------------ rule data is not code

EVIL = "\\\"); import os; os.system('touch {marker}') #"


def _evil_book(tmp: Path, marker: Path) -> Path:
    evil = EVIL.format(marker=marker)
    book = tmp / "book"
    (book / "data").mkdir(parents=True)
    (book / "evil.pz").write_text(f'''language english
ruleset __import__
  title "{evil}"
  source os "{evil}" url "{evil}"

input __builtins__ : one of __class__, os, system, v0 "{evil}"
input i : text "{evil}"
input _bail : integer "{evil}"

output _run : text "{evil}"
  default "{evil}"
output S : text "{evil}"
output v0 : boolean "{evil}"
  default false

table exec "{evil}"
  file "data/exec.csv"
  key code
  column code : text
  column note : text

rule __import__ "{evil}"
  source os "{evil}"
  when __builtins__ = os and i = "{evil}"
  then _run = "{evil}"
  because "{evil}"

rule eval "{evil}"
  exception to __import__
  source os "{evil}"
  when _bail > 3 and i in exec
  then _run = exec[i].note
  because "{evil}"

rule r0 "{evil}"
  source os "{evil}"
  when __builtins__ in [__class__, system] or i = "\\u2028\\n"
  then S = "{evil}"

rule v1 "{evil}"
  source os "{evil}"
  when i is known and __builtins__ != system
  then v0 = true
''', encoding="utf-8")
    cell = evil.replace('\\"', '"').replace('"', '""')  # the text as the rules read it, quoted for CSV
    (book / "data" / "exec.csv").write_text(f'code,note\n"{cell}","{cell}"\nplain,"{cell}\n2"\n', encoding="utf-8")
    return book


def test_injection_through_rule_data_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = _evil_book(tmp_path, marker)
    report = check_path(path)
    assert report.program is not None, [d.message for d in report.errors]
    program = report.program
    cp = compile_program(program)
    evil = EVIL.format(marker=marker).replace('\\"', '"')
    assert not marker.exists()
    assert "import" not in cp.source.replace("'__import__'", "").replace(repr(evil), "")
    cases = [
        {"__builtins__": "os", "i": evil, "_bail": 1},
        {"__builtins__": "os", "i": evil, "_bail": 5},
        {"__builtins__": "system", "i": "plain", "_bail": 9},
        {"__builtins__": "v0", "i": "\u2028\n", "_bail": 0},
        {"__builtins__": "__class__"},
        {"i": "x"},
    ]
    for inputs in cases:
        check_agreement(cp, inputs, dt.date(2024, 1, 1))
    got = cp.run(cases[0], dt.date(2024, 1, 1))
    assert got is not None and cp.outcomes_of(got)["_run"] == ("value", evil, "__import__")
    got = cp.run(cases[1], dt.date(2024, 1, 1))
    assert got is not None and cp.outcomes_of(got)["_run"] == ("value", evil, "eval")
    assert cp.outcomes_of(got)["v0"] == ("value", True, "v1")
    assert not marker.exists()


@pytest.mark.parametrize("source", [
    "import os\ndef _run(i, day):\n    return None\n",
    "def _run(i, day):\n    return __import__('os')\n",
    "def _run(i, day):\n    return i.__class__\n",
    "def _run(i, day):\n    return open('x')\n",
    "def _run(i, day):\n    return (lambda: 0).__globals__\n",
    "def other(i, day):\n    return 1\n",
    "def _run(i, day):\n    return b'x'\n",
])
def test_audit_refuses_code_that_does_more_than_compute(source: str) -> None:
    with pytest.raises(AssertionError):
        audit(source, [])


def test_generated_source_is_audited_and_readable() -> None:
    cp = compiled(BOOKS / "basic")
    audit(cp.source, [])  # constants and tables are generated names
    assert cp.source.startswith("def _run(i, day):")
    assert "'cov_gp_listed'" in cp.source


# ------------------------------------------------------------------ cache


def test_cache_reuses_the_checked_book_and_notices_changed_tables(tmp_path: Path) -> None:
    import shutil

    book = tmp_path / "book"
    shutil.copytree(BOOKS / "dated", book)
    cache = tmp_path / "cache"
    first = load_cached(book, cache)
    assert len(list(cache.glob("rulebook-*.pzc"))) == 1
    second = load_cached(book, cache)
    assert second.content_hash == first.content_hash
    assert second.program.tables["tarieven"].rows == first.program.tables["tarieven"].rows
    cp = compile_program(second.program)
    inputs = {"zorg.soort": "fysio", "zorg.regio": 1, "zorg.aantal": 10, "zorg.bedrag": Decimal("100.00"),
              "zorg.datum": dt.date(2024, 3, 1)}
    assert check_agreement(cp, inputs, dt.date(2024, 3, 1))
    table = book / "data" / "tarieven.csv"
    table.write_text(table.read_text(encoding="utf-8").replace('"35,00"', '"36,00"'), encoding="utf-8")
    third = load_cached(book, cache)
    assert third.content_hash != first.content_hash
    got = compile_program(third.program).run(inputs, dt.date(2024, 3, 1))
    assert got is not None and got.values[list(third.program.order).index("tarief")] == Decimal("36.00")
