"""The rete engine: availability, the formulas and encodings it compiles to, the network, isolation."""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passendezorg.cases import read_case_file
from passendezorg.engines import rete
from passendezorg.engines.interpreter import Evaluation
from passendezorg.engines.rete import (
    FALSE,
    MAX_CONNECTIVES,
    TRUE,
    EngineCrash,
    EngineFault,
    EngineUnavailable,
    Formula,
    ReteEngine,
    _Network,
    _Operand,
    all_of,
    any_of,
    connectives,
    neg,
    split,
    to_durable,
    unavailable_reason,
)
from passendezorg.errors import CaseError, PassendeZorgError
from passendezorg.rulebook import RuleBook, load_rules
from passendezorg.testing import compare

HERE = Path(__file__).resolve().parent
BOOK = HERE / "rulebooks_rete" / "drempel"
CASES = sorted((HERE / "rulebooks_rete" / "drempel_cases").glob("*.yaml"))

needs_durable = pytest.mark.skipif(unavailable_reason() is not None, reason=unavailable_reason() or "")


# ---------------------------------------------------------------- availability


@pytest.fixture
def no_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rete, "_CORE", None)


def test_python_313_is_refused_with_a_reason(no_core: None, monkeypatch: pytest.MonkeyPatch) -> None:
    program = load_rules(BOOK).program
    monkeypatch.setattr(sys, "version_info", (3, 13, 1, "final", 0))
    with pytest.raises(EngineUnavailable) as e:
        ReteEngine(program)
    text = str(e.value)
    assert "does not import on Python 3.13+" in text
    assert "the interpreter" in text and "pip install 'passendezorg[rete]'" in text
    assert e.value.exit_code == 2 and isinstance(e.value, PassendeZorgError)
    assert unavailable_reason() == text


def test_missing_durable_rules_is_refused_with_what_to_do(no_core: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 11, 7, "final", 0))  # a Python it supports, whatever runs the test
    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> Any:
        if name == "durable_rules_engine":
            raise ModuleNotFoundError("No module named 'durable_rules_engine'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(EngineUnavailable, match="not installed; install it with pip install 'passendezorg\\[rete\\]'"):
        ReteEngine(load_rules(BOOK).program)


def test_a_broken_core_is_refused(no_core: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 12, 1, "final", 0))
    def fake(name: str, package: str | None = None) -> Any:
        raise ImportError("undefined symbol: PyEval_CallObject")

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(EngineUnavailable, match="does not import here .undefined symbol: PyEval_CallObject"):
        ReteEngine(load_rules(BOOK).program)


# ---------------------------------------------------------------- formulas

FIELDS = ("a", "b", "c")


def formulas(depth: int = 4) -> st.SearchStrategy[Formula]:
    leaf = st.builds(lambda op, f, v: (op, f, v), st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]),
                     st.sampled_from(FIELDS), st.integers(0, 3))
    return st.recursive(
        st.one_of(leaf, st.just(TRUE), st.just(FALSE)),
        lambda kids: st.one_of(st.lists(kids, min_size=1, max_size=4).map(lambda xs: all_of(*xs)),
                               st.lists(kids, min_size=1, max_size=4).map(lambda xs: any_of(*xs))),
        max_leaves=24,
    )


def holds(f: Formula, fact: dict[str, int]) -> bool:
    tag = f[0]
    if f == TRUE:
        return True
    if f == FALSE:
        return False
    if tag == "and":
        return all(holds(x, fact) for x in f[1])
    if tag == "or":
        return any(holds(x, fact) for x in f[1])
    v, c = fact[f[1]], f[2]
    return {"eq": v == c, "ne": v != c, "lt": v < c, "le": v <= c, "gt": v > c, "ge": v >= c}[tag]


facts = st.fixed_dictionaries({name: st.integers(-1, 4) for name in FIELDS})


@given(formulas(), facts)
def test_negation_is_the_complement(f: Formula, fact: dict[str, int]) -> None:
    assert holds(neg(f), fact) is not holds(f, fact)
    assert holds(neg(neg(f)), fact) is holds(f, fact)


@given(formulas(), facts, st.integers(0, 3))
def test_split_keeps_the_meaning_within_the_limit(f: Formula, fact: dict[str, int], limit: int) -> None:
    parts = split(f, limit, most=10**6)
    assert all(connectives(p) <= max(limit, 1) for p in parts)
    assert any(holds(p, fact) for p in parts) == holds(f, fact)


@needs_durable
@settings(max_examples=150, deadline=None)
@given(formulas(), st.lists(facts, min_size=1, max_size=6))
def test_the_network_matches_formulas_like_python(f: Formula, cases: list[dict[str, int]]) -> None:
    """durable-rules decides every compiled pattern the way the formula says (the patterns the engine uses)."""
    rules: dict[str, Any] = {"seen~0": {"all": [{"m": to_durable(TRUE)}]}}
    for m, part in enumerate(split(f)):
        rules[f"f~{m}"] = {"all": [{"m": to_durable(part)}]}
    net = _Network(f"formula_test_{next(counter)}", rules)
    try:
        for i, fact in enumerate(cases):
            fired = net.fire({"sid": "0", "one": 1, "n": i, **fact})
            assert "seen" in fired
            assert ("f" in fired) == holds(f, fact), (f, fact)
    finally:
        net.close()


counter = iter(range(10**9))


@needs_durable
def test_a_fact_no_rule_matches_is_a_fault_not_an_exception() -> None:
    net = _Network(f"unmatched_{next(counter)}", {"r~0": {"all": [{"m": {"a": 1}}]}})
    try:
        with pytest.raises(EngineFault, match="did not handle the fact"):
            net.fire({"sid": "0", "a": 2})
        assert net.fire({"sid": "0", "a": 1}) == {"r"}
        assert net.fire({"sid": "0", "a": 1}) == {"r"}  # retracted after each case: never "already seen"
    finally:
        net.close()


def test_formulas_over_the_limit_are_split() -> None:
    f: Formula = ("eq", "a", 0)
    for i in range(2 * MAX_CONNECTIVES):
        f = any_of(f, ("eq", "b", i)) if i % 2 else all_of(f, ("ne", "c", i))
    assert connectives(f) > MAX_CONNECTIVES
    assert all(connectives(p) <= MAX_CONNECTIVES for p in split(f))


# ---------------------------------------------------------------- exact encodings

OPS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
       "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b}

numbers = st.one_of(st.integers(-(10**20), 10**20), st.integers(-50, 50),
                    st.decimals(min_value=-(10**18), max_value=10**18, allow_nan=False, allow_infinity=False,
                                places=4),
                    st.decimals(min_value=-100, max_value=100, allow_nan=False, allow_infinity=False, places=2))


@given(numbers, st.one_of(st.integers(-1000, 1000), st.decimals(-1000, 1000, places=2)), st.sampled_from(list(OPS)))
def test_numbers_compare_exactly_after_encoding(value: int | Decimal, constant: int | Decimal, op: str) -> None:
    places = max(0, -constant.as_tuple().exponent) if isinstance(constant, Decimal) else 0  # type: ignore[operator]
    operand = _Operand(0, None, "num", places)  # type: ignore[arg-type]
    encoded = operand.constant(constant, {})
    assert encoded is not None
    assert OPS[op](operand.encode(value, {}), encoded) == OPS[op](value, constant)


def test_texts_dates_and_booleans_encode_exactly() -> None:
    codes = {"alpha": 1, 'quo"te': 2}
    text = _Operand(0, None, "code")  # type: ignore[arg-type]
    assert text.encode('quo"te', codes) == text.constant('quo"te', codes) == 2
    assert text.encode("anything else", codes) == 0 != text.constant("alpha", codes)
    day = _Operand(1, None, "date")  # type: ignore[arg-type]
    assert day.encode(dt.date(2024, 1, 2), codes) > day.constant(dt.date(2024, 1, 1), codes)  # type: ignore[operator]
    flag = _Operand(2, None, "bool")  # type: ignore[arg-type]
    assert flag.encode(True, codes) == flag.constant(True, codes) != flag.encode(False, codes)


def test_constants_that_cannot_be_encoded_exactly_are_refused() -> None:
    operand = _Operand(0, None, "num", 0)  # type: ignore[arg-type]
    assert operand.constant(Decimal("0.5"), {}) is None  # more places than the operand keeps
    assert operand.constant(2**60, {}) is None  # beyond what the core compares exactly


# ---------------------------------------------------------------- the engine on a rule book


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return load_rules(BOOK)


@pytest.fixture(scope="module")
def engine(book: RuleBook) -> Iterator[ReteEngine]:
    if unavailable_reason() is not None:
        pytest.skip(unavailable_reason() or "")
    with ReteEngine(book.program) as e:
        yield e


@needs_durable
@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_fixture_cases_pass_and_equal_the_native_engine(book: RuleBook, engine: ReteEngine, path: Path) -> None:
    case, inputs, day = book.prepare(read_case_file(path))
    decision = book.decision(engine.run(inputs, day), day, case.name)
    assert compare(book, decision, case) == []
    native = book.decision(Evaluation(book.program, inputs, day).run(), day, case.name)
    assert decision.to_json() == native.to_json()


@needs_durable
def test_conditions_are_matched_in_the_network(book: RuleBook, engine: ReteEngine) -> None:
    """Operand comparisons are network tests; and the network, not the interpreter, decides the rule."""
    network = engine.network("vergoed")
    assert network is not None
    text = str(network)
    assert "'$gte'" in text or "'$lt'" in text  # leeftijd < 12 is a test on a posted operand
    assert engine.network("leeftijd") is None  # a definition has no rules to match
    case, inputs, day = book.prepare(read_case_file(CASES[0]))
    assert engine.run(inputs, day)["vergoed"].rule == "basis"

    stratum = engine._strata["vergoed"]
    real = stratum.network.fire

    def without_basis(fact: dict[str, Any]) -> set[str]:
        fired = real(fact)
        key = next(p.key for p in stratum.plans if p.name == "basis")
        return (fired - {f"{key}t"}) | {f"{key}f"}

    stratum.network.fire = without_basis  # type: ignore[method-assign]
    try:
        o = engine.run(inputs, day)["vergoed"]
    finally:
        stratum.network.fire = real  # type: ignore[method-assign]
    assert o.status != "value" or o.rule != "basis"


@needs_durable
def test_an_inconsistent_network_answer_fails_the_case(book: RuleBook, engine: ReteEngine) -> None:
    stratum = engine._strata["vergoed"]
    real = stratum.network.fire
    key = stratum.plans[0].key
    stratum.network.fire = lambda fact: real(fact) | {f"{key}t", f"{key}f"}  # type: ignore[method-assign]
    try:
        case, inputs, day = book.prepare(read_case_file(CASES[0]))
        with pytest.raises(EngineFault, match="inconsistent answer") as e:
            engine.run(inputs, day)
        assert isinstance(e.value, CaseError)  # one case fails; a batch goes on
    finally:
        stratum.network.fire = real  # type: ignore[method-assign]
    assert engine.run(inputs, day)["vergoed"].rule == "basis"


@needs_durable
def test_outcomes_rete_for_one_case(book: RuleBook) -> None:
    case, inputs, day = book.prepare(read_case_file(CASES[2]))
    assert rete.outcomes_rete(book.program, inputs, day) == Evaluation(book.program, inputs, day).run()


# ---------------------------------------------------------------- isolation

MAGIC_CRASH = "CRASH-THE-CORE"
MAGIC_HANG = "HANG-THE-CORE"


@pytest.fixture
def fragile(book: RuleBook, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReteEngine]:
    """An engine whose worker crashes (a real segmentation fault) or hangs on marked cases.

    The worker is forked after the patch, so only the worker misbehaves.
    """
    if unavailable_reason() is not None:
        pytest.skip(unavailable_reason() or "")
    real = rete._Stratum.match

    def match(self: Any, ev: Any, counter: Any) -> Any:
        code = ev.inputs.get("aanvraag.code")
        if code == MAGIC_CRASH:
            import ctypes
            import faulthandler

            faulthandler.disable()  # the test runner's traceback dump would only be noise here
            ctypes.string_at(0)  # reads address 0: SIGSEGV, as a fault in the C core would
        if code == MAGIC_HANG:
            import time

            time.sleep(3600)
        return real(self, ev, counter)

    monkeypatch.setattr(rete._Stratum, "match", match)
    with ReteEngine(book.program) as e:
        yield e


def _inputs(book: RuleBook, code: str) -> tuple[dict[str, Any], dt.date]:
    _case, inputs, day = book.prepare(read_case_file(CASES[0]))
    return {**inputs, "aanvraag.code": code}, day


@needs_durable
def test_a_crash_of_the_core_fails_one_case_and_the_batch_goes_on(book: RuleBook, fragile: ReteEngine) -> None:
    good = _inputs(book, "X")
    results = list(fragile.run_batch([good, _inputs(book, MAGIC_CRASH), good]))
    assert isinstance(results[1], EngineCrash)
    assert "crashed on this case (killed by SIGSEGV)" in str(results[1])
    native = Evaluation(book.program, *good).run()
    assert results[0] == native and results[2] == native


@needs_durable
def test_a_hang_fails_one_case_and_the_batch_goes_on(book: RuleBook, fragile: ReteEngine) -> None:
    good = _inputs(book, "X")
    results = list(fragile.run_batch([_inputs(book, MAGIC_HANG), good], timeout=1.0))
    assert isinstance(results[0], EngineCrash) and "did not answer within 1 s" in str(results[0])
    assert results[1] == Evaluation(book.program, *good).run()


@needs_durable
def test_faults_in_the_worker_come_back_as_case_errors(book: RuleBook, engine: ReteEngine) -> None:
    inputs, day = _inputs(book, "X")
    inputs["aanvraag.bedrag"] = "not an amount"  # a malformed case that bypassed validation
    with pytest.raises(EngineFault, match="AttributeError"):
        engine.run_isolated(inputs, day)
    assert engine.run_isolated(*_inputs(book, "H1")) == Evaluation(book.program, *_inputs(book, "H1")).run()


# ---------------------------------------------------------------- large conditions and strata


def test_split_gives_up_before_it_grows_exponentially() -> None:
    f: Formula = all_of(*(any_of(("eq", "a", i), ("eq", "b", i)) for i in range(40)))
    with pytest.raises(rete._TooBig):
        split(f)


def _large_book(folder: Path, chain: int, rules: int) -> RuleBook:
    atoms = [["c.n > {i}", "c.kind = alpha", "c.n * 2 < {i}", "c.n <= p_limit", "c.m is missing"][i % 5].format(i=i)
             for i in range(chain)]
    lines = ["language english", "ruleset large", '  title "Large"', '  source src "Source" url "https://example.org/"',
             "", "input c.day : date", "input c.n : integer", "input c.m : integer",
             "input c.kind : one of alpha, beta", "peildatum c.day", "", "parameter p_limit : integer",
             '  from 2019-01-01 = 10 source src "a"', "  from 2021-01-01 = unknown", "",
             "output big : boolean", "output many : integer", "",
             'rule or_chain "A long or chain"', '  source src "a"', f"  when {' or '.join(atoms)}", "  then big = true",
             "", 'rule and_chain "A long and chain"', '  source src "a"', "  exception to or_chain",
             f"  when {' and '.join(atoms)}", "  then big = false", ""]
    for i in range(rules):
        lines += [f'rule m{i} "Many {i}"', '  source src "a"', f"  when c.n = {i} or c.m > {i} and c.kind = beta",
                  f"  then many = {i}", ""]
    (folder / "large.pz").write_text("\n".join(lines), encoding="utf-8")
    return load_rules(folder)


@needs_durable
@pytest.mark.parametrize("chain", [12, 40, 300])
def test_long_chains_and_many_rules_equal_the_native_engine(tmp_path: Path, chain: int) -> None:
    """Flat chains of any length compile (in the network while they fit), and a stratum whose rules
    could match more than durable-rules allows on one fact is spread over several rulesets."""
    book = _large_book(tmp_path, chain, 70)
    with ReteEngine(book.program) as engine:
        many = engine._strata["many"]
        assert len(many.network.handles) > 1
        assert not many.computed  # every condition of `many` is matched in the network
        big = engine._strata["big"]
        if chain <= 12:
            assert all(not isinstance(e, rete.n.Binary) or e.op not in ("and", "or") for e in big.computed)
        cases: list[dict[str, Any]] = [{}, {"c.n": 3}, {"c.n": 3, "c.m": 1, "c.kind": "beta"}, {"c.n": -5, "c.kind": "beta"},
                                       {"c.n": 500, "c.m": 2, "c.kind": "alpha"}, {"c.n": 11, "c.kind": "alpha"}]
        for inputs in cases:
            for day in (dt.date(2020, 5, 1), dt.date(2022, 5, 1)):
                inputs = {**inputs, "c.day": day}
                native = book.decision(Evaluation(book.program, inputs, day).run(), day, "c")
                assert book.decision(engine.run(inputs, day), day, "c").to_json() == native.to_json(), inputs


# ---------------------------------------------------------------- the public calls


def test_available_and_require_say_why(no_core: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 13, 0, "final", 0))
    assert rete.available() is False
    with pytest.raises(EngineUnavailable, match="Python 3.13"):
        rete.require()
    with pytest.raises(EngineUnavailable):
        rete.evaluate(load_rules(BOOK).program, {}, dt.date(2024, 1, 1))


def test_without_durable_rules_a_fresh_interpreter_gets_a_clear_error() -> None:
    """The real import path: durable_rules_engine cannot be imported at all."""
    import subprocess

    code = ("import sys; sys.modules['durable_rules_engine'] = None\n"
            "from passendezorg import load_rules\nfrom passendezorg.engines import rete\n"
            "assert not rete.available()\n"
            "try:\n"
            f"    rete.evaluate(load_rules({str(BOOK)!r}).program, {{}}, None)\n"
            "except rete.EngineUnavailable as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    if sys.version_info >= (3, 13):
        assert "does not import on Python 3.13+" in out.stdout
    else:
        assert "durable-rules, which is not installed" in out.stdout
        assert "pip install 'passendezorg[rete]'" in out.stdout and "the interpreter" in out.stdout


@needs_durable
def test_evaluate_equals_the_native_engine_in_and_out_of_a_worker(book: RuleBook) -> None:
    engine = rete.engine_for(book.program)
    assert rete.engine_for(book.program) is engine and rete.available()
    for path in CASES:
        _case, inputs, day = book.prepare(read_case_file(path))
        native = Evaluation(book.program, inputs, day).run()
        assert rete.evaluate(book.program, inputs, day) == native
        assert rete.evaluate(book.program, inputs, day, isolated=False) == native


@needs_durable
def test_a_killed_worker_fails_its_case_and_the_next_case_gets_a_new_one(book: RuleBook,
                                                                         fragile: ReteEngine) -> None:
    import os
    import signal
    import threading

    good = _inputs(book, "X")
    assert fragile.run_isolated(*good) == Evaluation(book.program, *good).run()
    pid = fragile.worker_pid
    assert pid is not None
    # the worker hangs on this case; kill it from outside while it works
    threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(EngineCrash, match="crashed on this case .killed by SIGKILL"):
        fragile.run_isolated(*_inputs(book, MAGIC_HANG), timeout=60)
    assert fragile.run_isolated(*good) == Evaluation(book.program, *good).run()
    assert fragile.worker_pid is not None and fragile.worker_pid != pid


@needs_durable
def test_engine_for_keeps_the_most_recent_engines_and_closes_older_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rete, "MAX_ENGINES", 1)
    first, second = load_rules(BOOK), load_rules(BOOK)
    _case, inputs, day = first.prepare(read_case_file(CASES[0]))
    native = Evaluation(first.program, inputs, day).run()
    old = rete.engine_for(first.program)
    assert rete.evaluate(second.program, inputs, day, isolated=False) == native
    assert old.closed and rete.engine_for(second.program) is not old
    with pytest.raises(rete.EngineClosed, match="has been closed"):
        old.run(inputs, day)
    assert rete.evaluate(first.program, inputs, day, isolated=False) == native  # built again
