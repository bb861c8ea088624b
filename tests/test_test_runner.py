"""`passendezorg test` for CI: text, JSON and JUnit reports, expected failures, and exact comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from junitparser import Error, Failure, JUnitXml, Skipped

from passendezorg import load_rules
from passendezorg.cases import case_from_data
from passendezorg.cli import main
from passendezorg.errors import CaseError
from passendezorg.testing import differences_of, run_tests

BOOK = Path(__file__).resolve().parent / "rulebooks" / "fysio"
RULES = BOOK / "rules"
CASES = BOOK / "cases"

INPUT = ("input:\n  verzekerde: {geboortedatum: 1980-05-01}\n"
         "  behandeling: {datum: 2016-03-01, soort: fysiotherapie, zitting: 3, aandoening: RUG}\n")


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """One case of each outcome: passes, fails, cannot be read, fails as expected, passes while marked to fail."""
    write(tmp_path, "a_pass.yaml", "name: goed\n" + INPUT + "expect:\n  verzekerd: nee\n")
    write(tmp_path, "b_fail.yaml", "name: fout\n" + INPUT + "expect:\n  verzekerd: ja\n  eigen_risico_bedrag: '375.00'\n")
    write(tmp_path, "c_error.yaml", "name: kapot\ninput:\n  behandeling: {zitting: twintig}\n")
    write(tmp_path, "d_xfail.yaml", 'name: bekend\nverwacht_fout: "de regel voor 2016 ontbreekt nog"\n' + INPUT
          + "expect:\n  verzekerd: ja\n")
    write(tmp_path, "e_xpass.yaml", 'name: al opgelost\nxfail: "was a bug"\n' + INPUT + "expect:\n  verzekerd: nee\n")
    return tmp_path


def test_text_report_with_expected_failures(mixed: Path) -> None:
    r = run("test", "--rules", RULES, mixed)
    assert r.exit_code == 1
    out = r.stdout
    assert f"FAIL {mixed / 'b_fail.yaml'} (fout)\n  verzekerd:\n    expected: ja\n    got:      nee" in out
    assert f"ERROR {mixed / 'c_error.yaml'}: input.behandeling.zitting" in out
    assert f"XFAIL {mixed / 'd_xfail.yaml'} (bekend): de regel voor 2016 ontbreekt nog\n  verzekerd:" in out
    assert f"XPASS {mixed / 'e_xpass.yaml'} (al opgelost): passes, but is marked to fail (was a bug)" in out
    assert out.endswith("5 case(s): 1 passed, 1 failed, 1 could not be read, 1 failed as expected, "
                        "1 passed unexpectedly\n")


def test_an_expected_failure_alone_does_not_fail_the_run(mixed: Path) -> None:
    r = run("test", "--rules", RULES, mixed / "a_pass.yaml", mixed / "d_xfail.yaml")
    assert r.exit_code == 0
    assert r.stdout.endswith("2 case(s): 1 passed, 0 failed, 0 could not be read, 1 failed as expected\n")
    assert run("test", "--rules", RULES, mixed / "e_xpass.yaml").exit_code == 1


def test_junit_report_is_read_by_a_junit_parser(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.xml"
    r = run("test", "--rules", RULES, mixed, "--format", "junit", "--out", out)
    assert r.exit_code == 1
    assert "5 case(s)" in r.stderr
    xml = JUnitXml.fromfile(str(out))
    (suite,) = list(xml)
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (5, 2, 1, 1)
    cases = {case.name: case for case in suite}
    assert set(cases) == {"goed", "fout", "kapot", "bekend", "al opgelost"}
    assert cases["goed"].is_passed and cases["goed"].classname.endswith("a_pass")
    (failure,) = cases["fout"].result
    assert isinstance(failure, Failure)
    assert "expected: ja" in (failure.text or "") and "got:      nee" in (failure.text or "")
    (skipped,) = cases["bekend"].result
    assert isinstance(skipped, Skipped) and skipped.message == "expected failure: de regel voor 2016 ontbreekt nog"
    (xpass,) = cases["al opgelost"].result
    assert isinstance(xpass, Failure) and xpass.type == "xpass"
    (error,) = cases["kapot"].result
    assert isinstance(error, Error) and "zitting" in (error.message or "")
    assert all(float(c.time) >= 0 for c in suite)


def test_junit_report_of_a_clean_run_with_coverage() -> None:
    r = run("test", "--rules", RULES, CASES, "--format", "junit", "--coverage")
    assert r.exit_code == 0
    xml = JUnitXml.fromstring(r.stdout)
    (suite,) = list(xml)
    assert suite.tests == len(list(CASES.iterdir())) + 1
    assert suite.failures == suite.errors == suite.skipped == 0
    assert "rule coverage" in {c.name for c in suite}


def test_json_report(mixed: Path) -> None:
    r = run("test", "--rules", RULES, mixed, "--format", "json", "--coverage")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["summary"] == {"cases": 5, "passed": 1, "failed": 1, "errors": 1, "xfailed": 1, "xpassed": 1,
                               "ok": False}
    by_name = {c["name"]: c for c in data["cases"]}
    assert by_name["fout"]["status"] == "failed"
    assert by_name["fout"]["differences"] == [{"field": "verzekerd", "expected": "ja", "got": "nee (rule fysio_volwassene)"}]
    assert by_name["bekend"]["status"] == "xfail" and by_name["bekend"]["reason"] == "de regel voor 2016 ontbreekt nog"
    assert by_name["al opgelost"]["status"] == "xpass"
    assert data["coverage"]["rules"] >= 1 and isinstance(data["coverage"]["never_decided"], list)


def test_an_xfail_mark_needs_a_reason_and_an_expect_block(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="xfail: give the reason"):
        case_from_data({"input": {}, "xfail": True}, "c.yaml")
    write(tmp_path, "no_expect.yaml", 'xfail: "why"\n' + INPUT)
    r = run("test", "--rules", RULES, tmp_path)
    assert r.exit_code == 1
    assert "a case marked to fail needs an `expect` block" in r.stdout


# ---------------------------------------------------------------- exact at the type's precision


def test_a_sub_cent_expectation_is_an_error_naming_the_field(tmp_path: Path) -> None:
    """€ 375,00 is not € 375,0049: an expectation more precise than an amount is a mistake in the case."""
    write(tmp_path, "subcent.yaml", "name: te precies\n" + INPUT.replace("zitting: 3", "zitting: 30")
          .replace("1980-05-01", "2010-05-01") + "expect:\n  eigen_risico_bedrag: 375.0049\n")
    write(tmp_path, "cents.yaml", "name: op de cent\n" + INPUT.replace("1980-05-01", "2010-05-01")
          + "expect:\n  eigen_risico_bedrag: '375.00'\n")
    r = run("test", "--rules", RULES, tmp_path)
    assert r.exit_code == 1
    assert (f"ERROR {tmp_path / 'subcent.yaml'}: expect.eigen_risico_bedrag: 375.0049 is more precise than an "
            "amount can be (whole cents)") in r.stdout
    assert "2 case(s): 1 passed, 0 failed, 1 could not be read" in r.stdout


def test_a_value_expectation_in_a_mapping_is_named_with_its_key(tmp_path: Path) -> None:
    write(tmp_path, "subcent.yaml", INPUT.replace("1980-05-01", "2010-05-01")
          + "expect:\n  eigen_risico_bedrag: {value: '€ 375,001'}\n")
    r = run("test", "--rules", RULES, tmp_path)
    assert "expect.eigen_risico_bedrag.value: € 375,001 is more precise" in r.stdout


EXACT = """
    input d : date
    input x : decimal
    peildatum d
    output half : decimal
      default x / 3
    output day : date
      default d
    output amount : money
      default € 1,25
    """


@pytest.mark.parametrize(
    ("expect", "problems"),
    [
        ({"half": "0.5", "day": "2024-01-31", "amount": "1.25"}, []),
        ({"half": "0.50"}, []),  # the same number: decimals compare as numbers
        ({"half": "0.5000001"}, ["half"]),  # never rounded to what was decided
        ({"amount": "€ 1,250"}, []),  # trailing zeros say nothing more precise
        ({"day": "2024-02-01"}, ["day"]),
    ],
)
def test_values_compare_exactly(make_rules, expect: dict[str, str], problems: list[str]) -> None:  # type: ignore[no-untyped-def]
    book = load_rules(make_rules(EXACT))
    case = case_from_data({"input": {"d": "2024-01-31", "x": "1.5"}, "expect": expect}, "c.yaml")
    decision = book.evaluate(case)
    assert [d.field for d in differences_of(book, decision, case)] == problems


def test_a_date_with_a_time_of_day_is_an_error(make_rules) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    book = load_rules(make_rules(EXACT))
    case = case_from_data({"input": {"d": "2024-01-31", "x": "1"}, "expect": {"day": dt.datetime(2024, 1, 31, 12)}},
                          "c.yaml")
    report = run_tests(book, [case])
    (result,) = report.results
    assert result.status == "error"
    assert result.error == "c.yaml: expect.day: a date has no time of day; write 2024-01-31"
