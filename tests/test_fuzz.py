"""Fuzzing, on every test run with a modest budget: rule texts and cases written to break passendezorg.

Only passendezorg's own errors may come out, nothing may run past its time bound, a rule book that
passes ``check`` decides every well-formed case (in every engine alike), and a batch with bad cases
decides every good one. The generators and what is checked are in ``tests/fuzzing.py``.

``PASSENDEZORG_FUZZ_EXAMPLES=N`` runs N examples in each test instead of the small default;
``python scripts/fuzz.py`` runs hundreds of thousands (see SECURITY.md).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

import fuzzing as F
from passendezorg import load_rules
from passendezorg.engines.rete import unavailable_reason
from passendezorg.keywords import keyword_table
from passendezorg.syntax import grammar_text

LARGE = int(os.environ.get("PASSENDEZORG_FUZZ_EXAMPLES", "0"))
LIMITS = F.Limits(check_s=30, case_s=30, batch_s=180)


def examples(default: int) -> int:
    return LARGE or default


def _no_findings(tally: F.Tally) -> None:
    assert not tally.findings, "\n\n".join(str(f) for f in tally.findings[:10])


@pytest.fixture(scope="module")
def shipped() -> dict[str, str]:
    return F.shipped_files()


# ---------------------------------------------------------------- rule texts: mutated and generated


def test_mutated_and_generated_rule_texts(tmp_path: Path, shipped: dict[str, str]) -> None:
    """Seeds 0 … N: each a mutated shipped file or a generated book; check, then cases on what passes."""
    tally = F.Tally()
    rete = unavailable_reason() is None
    for seed in range(examples(60)):
        F.fuzz_step(seed, tmp_path, tally, LIMITS, shipped, rete_every=20 if rete else 0, batch_every=10,
                    compiled_every=3)
    _no_findings(tally)
    assert tally.counts["rule texts that pass check"] >= examples(60) // 5
    assert tally.counts["rule texts: mutated shipped file"] and tally.counts["rule texts: generated book"]


@settings(max_examples=examples(25), deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(min_value=0, max_value=2**31))
def test_any_seed(tmp_path_factory: pytest.TempPathFactory, seed: int) -> None:
    """Random seeds, so that each run tries new rule texts (a finding names its seed)."""
    tally = F.Tally()
    F.fuzz_step(seed, tmp_path_factory.mktemp("seed"), tally, LIMITS, F.shipped_files(), batch_every=4,
                compiled_every=2)
    _no_findings(tally)


# ---------------------------------------------------------------- the grammar, with every bound within reach


def _extreme_grammar_strings(language: str) -> st.SearchStrategy[str]:
    parser = Lark(grammar_text(language), parser="lalr", lexer="contextual")
    explicit: dict[str, st.SearchStrategy[str]] = {}
    for terminal, word in keyword_table(language).items():
        explicit[terminal] = st.just(f" {word} ")

    def spaced(values: list[str]) -> st.SearchStrategy[str]:
        return st.sampled_from(values).map(lambda v: f" {v} ")

    explicit["NAME"] = spaced(["c", "x", "y", "t", "code", "r1", "r2", "o", "alpha", "c.day", "age", "count", "min",
                                 "start_of_month"])
    explicit["INT"] = spaced(["0", "1", "7", "999999999999999999", "1000000000000000000", "9" * 4400, "5000"])
    explicit["DECIMAL"] = spaced(["0.5", "0." + "1" * 30, "999999999999999999.5", "12.25"])
    explicit["PERCENT"] = spaced(["25 %", "7.5%", "99999999999999999999 %"])
    explicit["MONEY"] = spaced(["€ 12,34", "€5", "€ 999999999999999999,99", "€ 1" + "0" * 20])
    explicit["DATE"] = spaced(["9999-12-31", "0001-01-01", "2024-02-29", "2023-02-29", "0000-00-00"])
    explicit["STRING"] = spaced(['"x"', '"/etc/passwd"', '"../../../proc/self/environ"', '"data/t.csv"', '""'])
    explicit["COMMENT"] = st.just(" # " + "a" * 200 + "\n")
    return from_lark(parser, start="start", explicit=explicit)


@pytest.mark.parametrize("language", ["english", "nederlands"])
def test_texts_from_the_grammar_with_extreme_values(language: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    prefix = "" if language == "english" else "taal nederlands\n"

    @settings(max_examples=examples(20), deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(_extreme_grammar_strings(language), st.integers(0, 2**31))
    def run(text: str, seed: int) -> None:
        tally = F.Tally()
        folder = tmp_path_factory.mktemp("grammar")
        book = F.check_text({"book.pz": prefix + text, "data/t.csv": "code\nx\n"}, folder / "book", tally, LIMITS)
        if book is not None:
            F.run_cases(book, random.Random(seed), tally, LIMITS, text, good=3, bad=3)
        _no_findings(tally)

    run()


# ---------------------------------------------------------------- malformed cases on the shipped rule book


def test_malformed_case_files_on_the_shipped_rule_book(tmp_path: Path) -> None:
    tally = F.Tally()
    book = load_rules(F.SHIPPED)
    F.run_case_files(book, random.Random(7), tmp_path, tally, LIMITS, examples(80))
    _no_findings(tally)
    assert sum(v for k, v in tally.counts.items() if k.startswith("malformed cases: ")) >= examples(80) // 2


def test_a_batch_with_bad_cases_decides_every_good_one(tmp_path: Path) -> None:
    """The shipped rule book; JSON lines and CSV; one worker and two."""
    tally = F.Tally()
    book = load_rules(F.SHIPPED)
    rnd = random.Random(11)
    lines = F.run_cases(book, rnd, tally, LIMITS, "shipped", good=examples(30), bad=examples(30), compiled=False)
    F.run_batch(book, lines, tmp_path, tally, LIMITS, "shipped", jobs=1)
    F.run_batch(book, lines * 80, tmp_path, tally, LIMITS, "shipped", jobs=2)  # large enough to use both workers
    F.run_csv_batch(book, rnd, tmp_path, tally, LIMITS, "shipped", good=examples(20), bad=examples(20))
    _no_findings(tally)


def test_claims_process_with_bad_claims_records_every_good_one(tmp_path: Path) -> None:
    tally = F.Tally()
    for workers in (1, 2):
        lines, good = F.claim_lines(random.Random(workers), examples(40), examples(40), start=1000 * workers)
        F.run_claims(lines, good, tmp_path, tally, LIMITS, workers=workers)
    _no_findings(tally)
    assert tally.counts["claims"] == 4 * examples(40)


def test_the_fuzzer_finds_what_it_looks_for(tmp_path: Path) -> None:
    """A fuzzer that cannot fail proves nothing: a batch that loses a case, and a crash, are findings."""
    tally = F.Tally()
    book = load_rules(F.STORE_BOOK)
    case = {"id": "x", "input": {"behandeling": {"datum": "2024-03-01", "bedrag": "1.00"}}}
    F.run_batch(book, [(True, json.dumps(case).encode()), (True, b"{not json")], tmp_path, tally, LIMITS, "x")
    with tally.guard("a stage", "sample", 5):
        raise KeyError("boom")
    assert [f.kind for f in tally.findings] == ["wrong", "crash"]
