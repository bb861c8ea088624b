"""The command line, through click's CliRunner: output, exit codes, and errors without a traceback.

Exit codes: 0 success; 1 errors in the rule book, a malformed case or a failed test; 2 usage errors.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from passendezorg.cli import main

BOOK = Path(__file__).resolve().parent / "rulebooks" / "fysio"
RULES = BOOK / "rules"
CASES = BOOK / "cases"
SEEDED = Path(__file__).resolve().parent / "golden" / "bad" / "seeded"

BAD_CASE = """\
input:
  verzekerde: {geboortedatum: 1980-05-01}
  behandeling: {datum: 2024-03-01, soort: fysiotherapie, zitting: twintig}
"""


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    # only SystemExit may end a command: anything else would be a traceback for the user
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def bad_case(tmp_path: Path) -> Path:
    path = tmp_path / "zitting.yaml"
    path.write_text(BAD_CASE, encoding="utf-8")
    return path


# ---------------------------------------------------------------- check


def test_check_clean_rule_book_exits_0() -> None:
    r = run("check", RULES)
    assert r.exit_code == 0
    assert r.stdout == "1 file(s): 0 error(s), 0 warning(s); 3 rules, 2 outputs, 1 parameters, 1 tables\n"


def test_check_rule_book_with_errors_exits_1() -> None:
    r = run("check", SEEDED)
    assert r.exit_code == 1
    assert "3 file(s): 6 error(s), 1 warning(s)" in r.stdout


def test_check_with_only_warnings_exits_0() -> None:
    r = run("check", SEEDED.parent / "warning_overlap.pz")
    assert r.exit_code == 0
    assert "0 error(s), 1 warning(s)" in r.stdout


def test_check_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("check", tmp_path / "missing").exit_code == 2
    assert run("check", RULES, "--format", "yaml").exit_code == 2


def test_check_json_format() -> None:
    r = run("check", RULES, "--format", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == {"files": 1, "errors": 0, "warnings": 0, "diagnostics": []}


def test_check_takes_the_rule_book_from_the_environment() -> None:
    r = run("check", env={"PASSENDEZORG_RULES": str(RULES)})
    assert r.exit_code == 0
    assert "3 rules" in r.stdout


# ---------------------------------------------------------------- evaluate


def test_evaluate_text() -> None:
    r = run("evaluate", "--rules", RULES, CASES / "chronisch.yaml")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0] == "Beslissing — casus volwassene chronisch, 21e behandeling"
    assert lines[1].startswith("peildatum 1 maart 2024 · regelboek sha256:")
    # the answers first, then why
    assert lines[3:8] == ["verzekerd = ja", "eigen_risico_bedrag = € 385,00", "", "Waarom", ""]
    assert '  regel fysio_chronisch_vanaf_21 "Bij een aandoening op de chronische lijst: vergoed vanaf de 21e ' \
           'behandeling"' in lines
    assert "    bron: Besluit zorgverzekering, artikel 2.6, lid 5, bijlage 1 <https://wetten.overheid.nl/BWBR0018492/>" \
           in lines
    assert "    Regel fysio_chronisch_vanaf_21 gaat voor regel fysio_volwassene." in lines
    # facts by their description, the name kept; amounts in the one Dutch format
    assert "    Volgnummer van de behandeling in het kalenderjaar (behandeling.zitting) = 21" in lines
    assert "    eigen_risico = € 385,00" in lines
    assert "\x1b[" not in r.stdout  # no colours when the output is not a terminal


def test_evaluate_text_names_the_inputs_needed() -> None:
    r = run("evaluate", "--rules", RULES, CASES / "onvolledig.yaml")
    assert r.exit_code == 0
    assert ("verzekerd: onbepaald\n  om te beslissen is nodig: Volgnummer van de behandeling in het kalenderjaar "
            "(behandeling.zitting)\n") in r.stdout


def test_evaluate_json_one_case_is_an_object() -> None:
    r = run("evaluate", "--rules", RULES, CASES / "kind.json", "--format", "json")
    assert r.exit_code == 0
    d = json.loads(r.stdout)
    assert d["format"] == "passendezorg.decision/1"
    assert (d["case"], d["peildatum"]) == ("kind", "2016-06-01")
    assert d["outputs"]["verzekerd"]["status"] == "default"
    assert d["outputs"]["verzekerd"]["value"] is True
    assert d["outputs"]["eigen_risico_bedrag"]["value"] == "375.00"
    assert d["outputs"]["eigen_risico_bedrag"]["rule"]["sources"][0]["id"] == "zvw_19"
    assert d["derived"]["leeftijd"]["value"] == 1


def test_evaluate_json_several_cases_is_a_list_in_a_stable_order() -> None:
    r = run("evaluate", "--rules", RULES, CASES, "--format", "json")
    assert r.exit_code == 0
    names = [d["case"] for d in json.loads(r.stdout)]
    assert names == ["volwassene chronisch, 21e behandeling", "kind", "zitting ontbreekt",
                     "volwassene zonder chronische aandoening"]


def test_evaluate_jsonl_gives_one_line_per_case() -> None:
    r = run("evaluate", "--rules", RULES, CASES, "--format", "jsonl")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert len(lines) == 4
    decisions = [json.loads(line) for line in lines]
    assert {d["outputs"]["verzekerd"]["status"] for d in decisions} == {"value", "default", "undetermined"}


def test_evaluate_on_a_date_overrides_the_peildatum() -> None:
    r = run("evaluate", "--rules", RULES, CASES / "kind.json", "--format", "json", "--on", "2017-01-01")
    assert json.loads(r.stdout)["outputs"]["eigen_risico_bedrag"]["value"] == "385.00"
    r = run("evaluate", "--rules", RULES, CASES / "kind.json", "--format", "json", "--on", "2040-01-01")
    o = json.loads(r.stdout)["outputs"]["eigen_risico_bedrag"]
    assert (o["status"], o["reason"]) == ("error", "no value of `eigen_risico` is in force on 2040-01-01")


def test_evaluate_why_not() -> None:
    r = run("evaluate", "--rules", RULES, CASES / "kind.json", "--why-not", "fysio_volwassene")
    assert r.exit_code == 0
    assert r.stdout == (  # the answer only, not the decision around it
        "regel fysio_volwassene is niet van toepassing: de voorwaarde `leeftijd >= 18` is niet waar\n"
        "  met leeftijd = 1\n"
    )


def test_evaluate_why_not_for_several_cases_names_each_case() -> None:
    r = run("evaluate", "--rules", RULES, CASES / "kind.json", CASES / "chronisch.yaml", "--why-not", "fysio_volwassene")
    assert r.exit_code == 0
    assert r.stdout == (
        "kind:\n"
        "regel fysio_volwassene is niet van toepassing: de voorwaarde `leeftijd >= 18` is niet waar\n"
        "  met leeftijd = 1\n"
        "\n"
        "volwassene chronisch, 21e behandeling:\n"
        "regel fysio_volwassene is van toepassing, maar de uitzondering fysio_chronisch_vanaf_21 gaat voor\n"
    )


def test_evaluate_why_not_as_json_gives_the_answer_as_data() -> None:
    r = run("evaluate", "--rules", RULES, CASES / "kind.json", "--why-not", "fysio_volwassene", "--format", "json")
    assert r.exit_code == 0, r.stderr
    one = json.loads(r.stdout)
    assert (one["format"], one["rule"], one["case"]) == ("passendezorg.why-not/1", "fysio_volwassene", "kind")
    assert one["answer"].startswith("regel fysio_volwassene is niet van toepassing")
    assert [(x["kind"], x["condition"], x["facts"]) for x in one["reasons"]] == [
        ("condition_false", "leeftijd >= 18", {"leeftijd": 1})]
    several = [CASES / "kind.json", CASES / "chronisch.yaml"]
    r = run("evaluate", "--rules", RULES, *several, "--why-not", "fysio_volwassene", "--format", "json")
    assert [(a["case"], a["reasons"][0]["kind"], a["reasons"][0]["by"]) for a in json.loads(r.stdout)] == [
        ("kind", "condition_false", []),
        ("volwassene chronisch, 21e behandeling", "overridden", ["fysio_chronisch_vanaf_21"])]
    r = run("evaluate", "--rules", RULES, *several, "--why-not", "fysio_volwassene", "--format", "jsonl")
    assert [json.loads(line)["case"] for line in r.stdout.splitlines()] == ["kind", "volwassene chronisch, 21e behandeling"]


def test_evaluate_why_not_an_unknown_rule_is_a_usage_error() -> None:
    r = run("evaluate", "--rules", RULES, CASES / "kind.json", "--why-not", "fysio_volwasene")
    assert r.exit_code == 2
    assert "no rule named `fysio_volwasene`; did you mean `fysio_volwassene`?" in r.stderr


def test_a_malformed_case_names_the_file_and_field(bad_case: Path) -> None:
    r = run("evaluate", "--rules", RULES, bad_case)
    assert r.exit_code == 1
    assert r.stdout == ""
    assert f'{bad_case}: input.behandeling.zitting: expected an integer, got "twintig"' in r.stderr
    assert r.stderr.count("twintig") == 1


def test_a_bad_case_in_a_batch_is_reported_and_the_others_still_run(bad_case: Path) -> None:
    r = run("evaluate", "--rules", RULES, CASES / "kind.json", bad_case, CASES / "volwassene.yaml",
            "--format", "jsonl")
    assert r.exit_code == 1
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["format"] for x in lines] == ["passendezorg.decision/1", "passendezorg.failure/1",
                                            "passendezorg.decision/1"]
    assert lines[1]["error"] == f'{bad_case}: input.behandeling.zitting: expected an integer, got "twintig"'
    assert lines[1]["index"] == 1 and "line" not in lines[1]  # a case file of its own has no line
    assert lines[2]["outputs"]["verzekerd"]["value"] is False
    assert "1 case(s) could not be evaluated" in r.stderr


def test_evaluate_json_lines_input_with_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "claims.jsonl"
    path.write_text(
        '{"id": "c1", "verzekerde": {"geboortedatum": "1980-05-01"}, "behandeling": {"datum": "2024-03-01", '
        '"soort": "fysiotherapie", "zitting": 2, "aandoening": "X"}}\n'
        "not json\n"
        '{"input": {"behandeling": {"datum": "2024-03-01", "zitin": 3}}}\n\n',
        encoding="utf-8",
    )
    r = run("evaluate", "--rules", RULES, path, "--format", "jsonl")
    assert r.exit_code == 1
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines[0]["case"] == "c1" and lines[0]["outputs"]["verzekerd"]["value"] is False
    assert lines[1]["error"] == f"{path}:2: not valid JSON: Expecting value"
    assert lines[2]["error"] == (f"{path}:3: input.behandeling.zitin: not an input of the rule book; "
                                 "did you mean `behandeling.zitting`?")
    assert [(x.get("index"), x.get("line")) for x in lines[1:]] == [(1, 2), (2, 3)]  # where each failed case is
    assert "2 case(s) could not be evaluated" in r.stderr


@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        ("input: [1\n", ".yaml", "2:1: not valid YAML"),
        ('{"input": ', ".json", "not valid JSON"),
        ("- 1\n- 2\n", ".yaml", "a case is a mapping with an `input` block"),
        ("name: x\n", ".yaml", "the case has no `input` block"),
        ("input: {}\nexpected: {}\n", ".yaml", "expected: unknown field in a case"),
        ("input:\n  behandeling: {datum: 2024-02-30}\n", ".yaml", "2024-02-30"),
        ("input:\n  behandeling: {datum: 2024-03-01, soort: fysio}\n", ".yaml",
         'input.behandeling.soort: expected one of fysiotherapie, oefentherapie, huisartsenzorg, got "fysio"'),
        ("input:\n  verzekerde: {geboortedatum: 1980-05-01}\n", ".yaml",
         "input.behandeling.datum: the peildatum is missing"),
    ],
)
def test_malformed_cases_are_clear_errors(tmp_path: Path, text: str, suffix: str, message: str) -> None:
    path = tmp_path / f"case{suffix}"
    path.write_text(text, encoding="utf-8")
    r = run("evaluate", "--rules", RULES, path)
    assert r.exit_code == 1
    assert message in r.stderr
    assert str(path) in r.stderr


def test_evaluate_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("evaluate", "--rules", RULES, tmp_path / "none.yaml").exit_code == 2
    assert run("evaluate", "--rules", RULES, CASES, "--on", "2024-13-01").exit_code == 2
    assert run("evaluate", "--rules", RULES, CASES, "--format", "xml").exit_code == 2
    assert run("evaluate", "--rules", RULES).exit_code == 2


def test_evaluate_with_a_broken_rule_book_shows_the_errors_once_and_exits_1() -> None:
    r = run("evaluate", "--rules", SEEDED, CASES / "kind.json")
    assert r.exit_code == 1
    assert r.stdout == ""
    assert "the rule book has 6 error(s)" in r.stderr
    assert r.stderr.count("cannot compare a date with an integer") == 1


# ---------------------------------------------------------------- test


def test_test_passes_with_coverage() -> None:
    r = run("test", "--rules", RULES, CASES, "--coverage")
    assert r.exit_code == 0
    assert r.stdout == (
        "4 case(s): 4 passed, 0 failed, 0 could not be read\n"
        "rule coverage: 3 of 3 rules decided something in at least one case (100.0 %)\n"
    )


def test_test_coverage_names_rules_never_decided() -> None:
    r = run("test", "--rules", RULES, CASES / "kind.json", "--coverage")
    assert r.exit_code == 1
    assert "rule coverage: 1 of 3 rules decided something in at least one case (33.3 %)" in r.stdout
    assert r.stdout.endswith(
        f"  never decided: fysio_volwassene ({RULES / 'fysio.pz'}:36:1)\n"
        f"  never decided: fysio_chronisch_vanaf_21 ({RULES / 'fysio.pz'}:44:1)\n"
    )
    assert run("test", "--rules", RULES, CASES / "kind.json").exit_code == 0


def test_test_shows_a_readable_diff_for_a_failing_case(tmp_path: Path) -> None:
    case = tmp_path / "wrong.yaml"
    case.write_text(
        "name: verkeerd verwacht\n"
        "input:\n  verzekerde: {geboortedatum: 1980-05-01}\n"
        "  behandeling: {datum: 2024-03-01, soort: fysiotherapie, zitting: 3, aandoening: RUG}\n"
        "expect:\n  verzekerd: true\n  eigen_risico_bedrag: {value: '385.00', rule: eigen_risico_regel}\n",
        encoding="utf-8",
    )
    r = run("test", "--rules", RULES, case, CASES / "kind.json")
    assert r.exit_code == 1
    assert r.stdout == (
        f"FAIL {case} (verkeerd verwacht)\n"
        "  verzekerd:\n"
        "    expected: ja\n"
        "    got:      nee (rule fysio_volwassene)\n"
        "2 case(s): 1 passed, 1 failed, 0 could not be read\n"
    )


def test_test_reports_a_malformed_case_and_runs_the_others(bad_case: Path) -> None:
    r = run("test", "--rules", RULES, CASES, bad_case)
    assert r.exit_code == 1
    assert f'ERROR {bad_case}: input.behandeling.zitting: expected an integer, got "twintig"' in r.stdout
    assert "5 case(s): 4 passed, 0 failed, 1 could not be read" in r.stdout


def test_test_reports_a_bad_expectation_and_runs_the_others(tmp_path: Path) -> None:
    """A mistake in one case's `expect` block is that case's error; the other cases still run."""
    case = tmp_path / "typo.yaml"
    case.write_text(
        "input:\n  verzekerde: {geboortedatum: 1980-05-01}\n"
        "  behandeling: {datum: 2024-03-01, soort: fysiotherapie, zitting: 3, aandoening: RUG}\n"
        "expect:\n  verzekrd: false\n",
        encoding="utf-8",
    )
    r = run("test", "--rules", RULES, CASES, case)
    assert r.exit_code == 1
    assert "expect.verzekrd" in r.output
    assert "5 case(s): 4 passed, " in r.stdout


def test_a_dutch_rule_book_takes_ja_and_nee_in_expectations(tmp_path: Path) -> None:
    """A Dutch policy author writes `verzekerd: ja`, as the decision itself shows it."""
    case = tmp_path / "ja.yaml"
    case.write_text(
        "input:\n  verzekerde: {geboortedatum: 1980-05-01}\n"
        "  behandeling: {datum: 2024-03-01, soort: fysiotherapie, zitting: 21, aandoening: COPD}\n"
        "expect:\n  verzekerd: ja\n",
        encoding="utf-8",
    )
    r = run("test", "--rules", RULES, case)
    assert r.stdout.endswith("1 case(s): 1 passed, 0 failed, 0 could not be read\n"), r.output
    assert r.exit_code == 0


def test_expectations_of_status_needs_and_conflict() -> None:
    r = run("test", "--rules", RULES, CASES / "onvolledig.yaml")
    assert r.exit_code == 0
    assert r.stdout == "1 case(s): 1 passed, 0 failed, 0 could not be read\n"


# ---------------------------------------------------------------- fmt


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "rules"
    shutil.copytree(RULES, dest)
    return dest


def test_fmt_check_on_formatted_files_exits_0(rules_copy: Path) -> None:
    r = run("fmt", "--check", rules_copy)
    assert r.exit_code == 0
    assert r.stdout == "1 file(s), 0 not formatted\n"


def test_fmt_check_reports_unformatted_files_and_fmt_fixes_them(rules_copy: Path) -> None:
    path = rules_copy / "fysio.pz"
    original = path.read_text(encoding="utf-8")
    messy = original.replace("regel fysio_volwassene\n", "regel    fysio_volwassene   # de hoofdregel\n")
    messy = messy.replace("  als behandeling.soort = fysiotherapie en leeftijd >= 18",
                          "      als (behandeling.soort = fysiotherapie) en (leeftijd >= 18)")
    path.write_text(messy, encoding="utf-8")
    r = run("fmt", "--check", rules_copy)
    assert r.exit_code == 1
    assert r.stdout == f"would reformat {path}\n1 file(s), 1 not formatted\n"
    assert path.read_text(encoding="utf-8") == messy  # --check changes nothing
    r = run("fmt", rules_copy)
    assert r.exit_code == 0
    assert r.stdout == f"reformatted {path}\n"
    fixed = path.read_text(encoding="utf-8")
    assert "  als behandeling.soort = fysiotherapie en leeftijd >= 18\n" in fixed
    assert "# de hoofdregel" in fixed
    assert run("fmt", "--check", rules_copy).exit_code == 0
    assert run("check", rules_copy).exit_code == 0


def test_fmt_leaves_a_file_with_syntax_errors_alone(tmp_path: Path) -> None:
    path = tmp_path / "broken.pz"
    text = "rule r\n  when x >\n  then y = 1\n"
    path.write_text(text, encoding="utf-8")
    r = run("fmt", path)
    assert r.exit_code == 1
    assert "error[syntax]" in r.stderr
    assert path.read_text(encoding="utf-8") == text


# ---------------------------------------------------------------- schema


def test_schema_of_a_case_follows_the_declared_inputs() -> None:
    r = run("schema", "case", "--rules", RULES)
    assert r.exit_code == 0
    s = json.loads(r.stdout)
    props = s["properties"]["input"]["properties"]
    assert [p for p in props if "." not in p] == ["behandeling", "verzekerde"]  # nested by the dotted names
    assert "behandeling.zitting" in props  # or by the name itself
    beh = props["behandeling"]["properties"]
    assert beh["zitting"]["type"] == ["integer", "null"]  # null: a missing fact
    assert beh["soort"]["enum"] == ["fysiotherapie", "oefentherapie", "huisartsenzorg", None]
    assert beh["datum"] == {"type": ["string", "null"], "format": "date",
                            "description": "Datum waarop de zorg is geleverd"}
    assert set(s["properties"]["expect"]["properties"]) == {"verzekerd", "eigen_risico_bedrag", "leeftijd"}
    assert set(s["properties"]) == {"name", "id", "description", "on", "peildatum", "input", "expect", "xfail",
                                    "verwacht_fout"}


def test_schema_of_a_decision_and_both() -> None:
    r = run("schema", "decision")
    assert r.exit_code == 0
    s = json.loads(r.stdout)
    assert s["title"] == "Decision"
    assert {"rulebook", "peildatum", "outputs"} <= set(s["required"])
    r = run("schema", "--rules", RULES)
    assert r.exit_code == 0
    assert set(json.loads(r.stdout)) == {"case", "decision"}


def test_schema_of_a_case_under_a_scenario_has_the_inputs_the_scenario_adds() -> None:
    shipped = str(Path(__file__).resolve().parent.parent / "rules")
    law = json.loads(run("schema", "case", "--rules", shipped).stdout)
    r = run("schema", "case", "--rules", shipped, "--scenario", "bundelprijs_zorgpad")
    assert r.exit_code == 0, r.stderr
    under = json.loads(r.stdout)["properties"]["input"]["properties"]["behandeling"]["properties"]
    assert "zorgpad" in under and "zorgpad" not in law["properties"]["input"]["properties"]["behandeling"]["properties"]
    missing = run("schema", "case", "--rules", shipped, "--scenario", "bundelprijs")
    assert missing.exit_code == 2 and "bundelprijs_zorgpad" in missing.stderr


def test_schema_usage_errors() -> None:
    assert run("schema", "cases").exit_code == 2


def test_version_and_help() -> None:
    r = run("--version")
    assert r.exit_code == 0 and "version" in r.stdout
    r = run("--help")
    assert r.exit_code == 0
    for command in ("check", "evaluate", "test", "fmt", "schema"):
        assert command in r.stdout


def test_schema_of_a_broken_rule_book_exits_1() -> None:
    r = run("schema", "case", "--rules", SEEDED)
    assert r.exit_code == 1
    assert r.stdout == ""
    assert "the rule book has 6 error(s)" in r.stderr


# ---------------------------------------------------------------- batches


def _batch_file(tmp_path: Path, n: int) -> Path:
    """n cases as JSON lines; line 3 is not JSON and line 5 has a fact of the wrong type."""
    lines = []
    for i in range(1, n + 1):
        if i == 3:
            lines.append("{not json")
            continue
        zitting: object = "twintig" if i == 5 else 15 + i % 10
        lines.append(json.dumps({"id": f"c{i}", "verzekerde": {"geboortedatum": "1980-05-01"},
                                 "behandeling": {"datum": "2024-03-01", "soort": "fysiotherapie",
                                                 "zitting": zitting, "aandoening": "COPD"}}))
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_evaluate_a_batch_in_input_order_with_failures_as_records(tmp_path: Path, jobs: str) -> None:
    path = _batch_file(tmp_path, 3000)
    out = tmp_path / "out.jsonl"
    r = run("evaluate", "--rules", RULES, path, "--jobs", jobs, "--out", out)
    assert r.exit_code == 1  # two lines could not be evaluated
    assert "3000 case(s) in " in r.stderr and "2 could not be evaluated" in r.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3000
    assert rows[2]["format"] == "passendezorg.failure/1" and rows[2]["line"] == 3
    assert rows[4]["line"] == 5 and "input.behandeling.zitting" in rows[4]["error"]
    assert [row["case"] for row in rows[:2]] == ["c1", "c2"] and rows[-1]["case"] == "c3000"
    # COPD is on the chronic list: insured from the 21st treatment on
    for i in (1, 6, 20, 2999):
        row = rows[i - 1]
        assert row["values"]["verzekerd"] is ((15 + i % 10) > 20)


def test_a_batch_with_full_decisions(tmp_path: Path) -> None:
    path = _batch_file(tmp_path, 4)
    r = run("evaluate", "--rules", RULES, path, "--jobs", "1", "--format", "jsonl")
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines[0]["format"] == "passendezorg.decision/1"
    assert lines[0]["outputs"]["verzekerd"]["rule"]["name"] == "fysio_volwassene"


def test_batch_mode_refuses_what_does_not_apply(tmp_path: Path) -> None:
    path = _batch_file(tmp_path, 4)
    r = run("evaluate", "--rules", RULES, path, "--jobs", "2", "--why-not", "fysio_volwassene")
    assert r.exit_code == 2 and "--why-not" in r.stderr
    r = run("evaluate", "--rules", RULES, CASES, "--jobs", "2")
    assert r.exit_code == 2 and "one .jsonl or .csv file" in r.stderr


# ---------------------------------------------------------------- engines


def test_the_rete_engine_gives_the_same_decisions_on_the_command_line() -> None:
    from passendezorg.engines import rete

    if not rete.available():
        pytest.skip(f"rete engine not available here: {rete.unavailable_reason()}")
    r = run("test", "--rules", RULES, CASES, "--engine", "rete")
    assert r.exit_code == 0, r.output
    native = run("evaluate", "--rules", RULES, CASES, "--format", "jsonl")
    rete_out = run("evaluate", "--rules", RULES, CASES, "--format", "jsonl", "--engine", "rete")
    assert native.stdout == rete_out.stdout


def test_asking_for_an_unavailable_rete_engine_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from passendezorg.engines import rete

    def refuse() -> None:
        raise rete.EngineUnavailable("the rete engine needs durable-rules, which does not import on this Python; "
                                     + rete.INSTALL_HINT)

    monkeypatch.setattr(rete, "require", refuse)
    r = run("evaluate", "--rules", RULES, CASES, "--engine", "rete")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: the rete engine needs durable-rules")
    assert r.stdout == ""
    assert run("test", "--rules", RULES, CASES).exit_code == 0  # the native engine never needs it


# ---------------------------------------------------------------- streaming


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists() or not hasattr(os, "mkfifo"),
                    reason="reads the memory of a process from /proc, and the cases from a named pipe")
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_evaluate_streams_20000_cases_in_constant_memory(tmp_path: Path, fmt: str) -> None:
    """Decisions come out while the cases still come in, and memory does not grow with the decisions written.

    The cases come through a named pipe that stays open: the first decisions must come out before the input
    ends (a command that collects its output first never answers), then 20,000 cases run through.
    """
    import subprocess
    import sys
    import threading

    src = tmp_path / "cases.jsonl"
    os.mkfifo(src)
    facts = {"verzekerde": {"geboortedatum": "1980-05-01"},
             "behandeling": {"datum": "2024-03-01", "soort": "fysiotherapie", "zitting": 21, "aandoening": "COPD"}}
    total, early = 20_000, 5
    seen_early = threading.Event()
    streamed: list[bool] = []

    def feed() -> None:
        with src.open("w", encoding="utf-8") as fh:
            for k in range(total):
                fh.write(json.dumps({"name": f"c{k}", "input": facts}) + "\n")
                if k == early - 1:
                    fh.flush()
                    streamed.append(seen_early.wait(30))
                    if not streamed[0]:
                        return  # no output while the input is open: the command does not stream
    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    proc = subprocess.Popen([sys.executable, "-m", "passendezorg", "evaluate", str(src), "--rules", str(RULES),
                             "--format", fmt], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    try:
        # a decision is one line of JSON lines; in the array it ends with the line "  }," (or "  }", the last)
        done, rss, last = 0, {}, ""
        for line in proc.stdout:
            last = line
            if line.endswith("}\n") if fmt == "jsonl" else line in ("  },\n", "  }\n"):
                done += 1
                if done == early - 1:  # the array holds back one decision until it knows it is an array
                    seen_early.set()
                if done in (2_000, total):
                    rss[done] = _rss_kb(proc.pid)
        assert streamed == [True], "no decision came out while the cases were still coming in"
        assert proc.wait(60) == 0
        assert done == total and (fmt == "jsonl" or last == "]\n")
        grown = rss[total] - rss[2_000]
        assert grown < 10_000, f"memory grew by {grown} kB over {total - 2_000} decisions"
    finally:
        seen_early.set()
        proc.kill()
        proc.wait()
        proc.stdout.close()
        writer.join(10)


def test_evaluate_json_is_one_document(tmp_path: Path) -> None:
    """One decision is an object, several an array, none an empty array; written as they are made."""
    one = json.loads(run("evaluate", "--rules", RULES, CASES / "kind.json", "--format", "json").stdout)
    assert one["format"] == "passendezorg.decision/1"
    many = run("evaluate", "--rules", RULES, CASES, "--format", "json")
    data = json.loads(many.stdout)
    assert isinstance(data, list) and len(data) > 1
    assert many.stdout == json.dumps(data, indent=2, ensure_ascii=False) + "\n"  # the layout it always had
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": {"x": 1}}\n', encoding="utf-8")
    r = run("evaluate", "--rules", RULES, bad, "--format", "json")
    assert (r.exit_code, r.stdout) == (1, "[]\n")


# ---------------------------------------------------------------- logging


def test_log_level_writes_the_logs_to_standard_error(tmp_path: Path) -> None:
    quiet = run("evaluate", "--rules", RULES, CASES / "kind.json")
    assert quiet.exit_code == 0 and "[passendezorg." not in quiet.stderr  # warnings and up only, by default
    r = run("--log-level", "info", "evaluate", "--rules", RULES, CASES / "kind.json")
    assert r.exit_code == 0
    assert f"info: rule book {RULES} " in r.stderr and "[passendezorg.rulebook]" in r.stderr
    assert r.stdout == quiet.stdout  # the logs never go to the output
    r = run("evaluate", "--rules", RULES, CASES / "kind.json", env={"PASSENDEZORG_LOG_LEVEL": "DEBUG"})
    assert "debug: cache hit: " in r.stderr or "debug: cache stored: " in r.stderr
    r = run("--log-level", "loud", "check", RULES)
    assert r.exit_code == 2 and "loud" in r.stderr


def test_a_batch_logs_its_summary_on_the_command_line(tmp_path: Path) -> None:
    src = tmp_path / "cases.jsonl"
    src.write_text(json.dumps({"input": {"behandeling": {"datum": "2024-03-01", "soort": "fysiotherapie"}}}) + "\n",
                   encoding="utf-8")
    r = run("--log-level", "info", "evaluate", "--rules", RULES, src, "--out", tmp_path / "out.jsonl")
    assert r.exit_code == 0
    assert f"info: batch {src}: 1 case(s) in " in r.stderr and "[passendezorg.batch]" in r.stderr


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    import click

    out = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*path, name))
        else:
            out.append(((*path, name), cmd))
    return out


def test_rules_is_a_folder_in_every_command(tmp_path: Path) -> None:
    """Every --rules is shown as DIR in --help, and a file given for it is a usage error that says so."""
    with_rules = [(path, cmd) for path, cmd in _commands(main) if any("--rules" in p.opts for p in cmd.params)]
    assert {" ".join(path) for path, _ in with_rules} >= {
        "evaluate", "test", "schema", "catalogue", "serve", "claims process", "claims correct", "claims withdraw"}
    a_file = tmp_path / "rules.pz"
    a_file.write_text("taal nederlands\n", encoding="utf-8")
    for path, _cmd in with_rules:
        help_text = run(*path, "--help").stdout
        assert "--rules DIR" in help_text, path
        r = run(*path, "--rules", a_file, *(["x"] if path[-1] in ("evaluate", "process", "correct", "withdraw") else []))
        assert r.exit_code == 2 and "is a file" in r.stderr, (path, r.stderr)
