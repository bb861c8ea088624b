"""The checker, as files: good rule files check clean, bad ones give exactly their recorded diagnostics.

Each ``tests/golden/bad/<name>.pz`` (or folder ``<name>/``) has a sibling
``<name>.expected`` holding what ``passendezorg check <name>`` prints when run
from ``tests/golden/bad``. Re-record them with ``pytest --update-goldens`` and
review the diff.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from passendezorg import RuleBookError, check_path, load_rules
from passendezorg.cli import main
from passendezorg.rulebook import check_texts

GOLDEN = Path(__file__).resolve().parent / "golden"
GOOD = GOLDEN / "good"
BAD = GOLDEN / "bad"
SRC = Path(__file__).resolve().parent.parent / "src" / "passendezorg"


def _cases(folder: Path) -> list[Path]:
    files = [p for p in folder.glob("*.pz")]
    dirs = [p for p in folder.iterdir() if p.is_dir() and p.name != "data"]
    return sorted(files + dirs)


def _run_check(folder: Path, name: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(main, ["check", name, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout


# ---------------------------------------------------------------- good files


@pytest.mark.parametrize("path", _cases(GOOD), ids=lambda p: p.name)
def test_good_file_checks_clean(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = check_path(path)
    assert [d.render() for d in report.diagnostics] == []
    assert report.program is not None
    code, out = _run_check(GOOD, path.name, monkeypatch)
    assert code == 0
    assert "0 error(s), 0 warning(s)" in out


# ---------------------------------------------------------------- bad files


@pytest.mark.parametrize("path", _cases(BAD), ids=lambda p: p.name)
def test_bad_file_gives_its_recorded_diagnostics(
    path: Path, monkeypatch: pytest.MonkeyPatch, update_goldens: bool
) -> None:
    code, out = _run_check(BAD, path.name, monkeypatch)
    expected_file = BAD / f"{path.stem if path.is_file() else path.name}.expected"
    if update_goldens:
        expected_file.write_text(out, encoding="utf-8")
    assert expected_file.exists(), f"no {expected_file.name}; record it with --update-goldens"
    assert out == expected_file.read_text(encoding="utf-8")
    errors = int(re.search(r"(\d+) error\(s\)", out).group(1))  # type: ignore[union-attr]
    assert code == (1 if errors else 0)
    assert errors or "warning" in out, "a bad file must give at least one finding"


def test_every_expected_file_has_its_rule_file() -> None:
    names = {p.stem if p.is_file() else p.name for p in _cases(BAD)}
    orphans = sorted(p.name for p in BAD.glob("*.expected") if p.stem not in names)
    assert orphans == []


def _golden_codes() -> set[tuple[str, str]]:
    found = set()
    for p in BAD.glob("*.expected"):
        found |= set(re.findall(r"^\S+:\d+:\d+: (error|warning)\[([\w-]+)\]", p.read_text(encoding="utf-8"), re.M))
    return found


def test_goldens_cover_every_diagnostic_code_of_the_checker() -> None:
    """A new kind of diagnostic in check.py needs a bad golden file too."""
    text = (SRC / "check.py").read_text(encoding="utf-8")
    kinds = {("error" if m.group(1) == "error" else "warning", m.group(2))
             for m in re.finditer(r"self\.(error|warn)\(\s*\"([\w-]+)\"", text)}
    assert len(kinds) >= 15
    kinds.add(("error", "syntax"))
    missing = sorted(kinds - _golden_codes())
    assert missing == []


# The diagnostic kinds LANGUAGE.md names, each with the message that shows it.
LANGUAGE_MD_KINDS = [
    ("syntax_unexpected_token", "error[syntax]"),
    ("syntax_nl_missing_dan", "error[syntax]"),
    ("unknown_name", "hint: did you mean `claim.session`?"),
    ("type_date_vs_integer", "cannot compare a date with an integer"),
    ("type_money_plus_boolean", "cannot apply `+` to an amount of money and a boolean"),
    ("type_not_a_choice", "`massage` is not one of the choices: physio, exercise, gp"),
    ("exception_to_missing_rule", "is an exception to `physio_adlt`, which does not exist"),
    ("exception_to_other_output", "which assigns `covered`"),
    ("exception_cycle", "exceptions form a cycle: a → b → c → a"),
    ("value_cycle", "values depend on each other in a cycle"),
    ("validity_ends_before_start", "rule `r1` ends (2023-12-31) before it starts (2024-01-01)"),
    ("parameter_overlap", "periods of `deductible` overlap"),
    ("duplicate_names", "rule `physio` is declared twice"),
    ("table_file_missing", "table file `data/no_such_file.csv` of table `chronic` cannot be read"),
    ("table_bad_rows", "data/bad_rows.csv, row 3, column `tariff`: expected an amount, got `twelve`"),
    ("table_missing_columns", "data/tariffs.csv: the header has no column `tarif`"),
    ("warning_rule_without_source", "warning[no-source]: rule `many_sessions` has no source"),
    ("warning_overlap", "warning[overlap]: rules `physio_many` and `physio_adult` both decide `covered`"),
]


@pytest.mark.parametrize(("name", "text"), LANGUAGE_MD_KINDS, ids=[k for k, _ in LANGUAGE_MD_KINDS])
def test_each_kind_of_language_md_has_a_golden(name: str, text: str) -> None:
    assert text in (BAD / f"{name}.expected").read_text(encoding="utf-8")


# ---------------------------------------------------------------- the seeded rule book

SEEDED = [
    # (file, line, code, a piece of the message)
    ("seeded/rules.pz", 12, "syntax", "then"),
    ("seeded/rules.pz", 17, "unknown-name", "claim.sesion"),
    ("seeded/rules.pz", 22, "type", "cannot compare a date with an integer"),
    ("seeded/afgeleid.pz", 6, "cycle", "`eigen_deel` uses `vergoed_deel`"),
    ("seeded/rules.pz", 15, "exception", "`physio_adlt`, which does not exist"),
    ("seeded/declarations.pz", 20, "parameter-overlap", "periods of `free_sessions` overlap"),
]


def test_seeded_rule_book_reports_every_mistake_in_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _run_check(BAD, "seeded", monkeypatch, "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["files"] == 3
    errors = [d for d in report["diagnostics"] if d["severity"] == "error"]
    found = [(d["file"], d["line"], d["code"]) for d in errors]
    for file, line, kind, piece in SEEDED:
        assert (file, line, kind) in found, f"{kind} at {file}:{line} not reported; got {found}"
        match = next(d for d in errors if (d["file"], d["line"], d["code"]) == (file, line, kind))
        assert piece in match["message_en"] + (match["hint_en"] or "")
    assert report["errors"] == len(SEEDED) == len(errors)


def test_seeded_rule_book_cannot_be_loaded_and_the_error_lists_everything() -> None:
    with pytest.raises(RuleBookError) as info:
        load_rules(BAD / "seeded")
    assert len(info.value.diagnostics) >= len(SEEDED)
    text = str(info.value)
    assert "the rule book has 6 error(s)" in text
    for _, line, _, _ in SEEDED:
        assert f":{line}:" in text
    assert "Traceback" not in text


# ---------------------------------------------------------------- check --format json and the API


def test_check_json_lists_diagnostics_with_positions_and_hints(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _run_check(BAD, "unknown_name.pz", monkeypatch, "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["files"] == 1
    first = data["diagnostics"][0]
    assert first == {
        "severity": "error", "code": "unknown-name", "message": "unknown name `claim.sesion`",
        "file": "unknown_name.pz", "line": 25, "column": 8, "end_line": 25, "end_column": 20,
        "hint": "did you mean `claim.session`?", "related": [],
        "language": "english", "message_en": "unknown name `claim.sesion`", "hint_en": "did you mean `claim.session`?",
    }
    assert data["errors"] == sum(1 for d in data["diagnostics"] if d["severity"] == "error")


def test_warnings_are_kept_apart_from_errors() -> None:
    report = check_path(BAD / "warning_overlap.pz")
    assert report.errors == []
    assert [d.code for d in report.warnings] == ["overlap"]
    assert report.program is not None
    book = load_rules(BAD / "warning_overlap.pz")
    assert [d.code for d in book.warnings] == ["overlap"]


def test_errors_come_before_warnings_and_in_file_order() -> None:
    report = check_path(BAD / "exception_to_missing_rule.pz")
    assert [d.severity for d in report.diagnostics] == ["error", "warning"]
    report = check_path(BAD / "type_other_errors.pz")
    lines = [d.span.line for d in report.errors]
    assert lines == sorted(lines)


def test_checker_reports_all_errors_not_just_the_first() -> None:
    report = check_path(BAD / "unknown_name.pz")
    assert len(report.errors) == 8
    assert {d.code for d in report.errors} == {"unknown-name", "unknown-source", "type"}


def test_check_of_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "no such rule file or folder" in result.stderr
    assert "Traceback" not in result.output


def test_check_of_a_folder_without_rule_files_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 2
    assert "no rule files" in result.stderr


def test_diagnostic_render_shows_line_caret_and_hint() -> None:
    report = check_path(BAD / "type_date_vs_integer.pz")
    (d,) = report.errors
    text = d.render(report.sources)
    lines = text.splitlines()
    assert lines[0].endswith(":11:8: error[type]: cannot compare a date with an integer")
    assert lines[1] == "  11 |   when claim.date >= 2024"
    caret = lines[2]
    assert caret.index("^") == lines[1].index("claim.date")
    assert caret.count("^") == len("claim.date >= 2024")
    assert lines[3].startswith("  hint: ")
    colored = d.render(report.sources, color=True)
    assert "\x1b[1;31merror\x1b[0m" in colored


def test_did_you_mean_for_a_missing_prefix(make_rules) -> None:  # type: ignore[no-untyped-def]
    root = make_rules(
        """
        input behandeling.datum : date
        input behandeling.zitting : integer
        peildatum behandeling.datum
        output ok : boolean
        rule r
          source "s"
          when zitting > 20
          then ok = true
        """
    )
    (d,) = check_path(root).errors
    assert d.message == "unknown name `zitting`"
    assert d.hint == "did you mean `behandeling.zitting`?"
    assert (d.span.line, d.span.column) == (7, 8)


def test_content_hash_covers_rule_files_and_tables(make_rules) -> None:  # type: ignore[no-untyped-def]
    text = """
        input d : date
        input code : text
        peildatum d
        output known : boolean
          default false
        table codes
          file "codes.csv"
          key code
          column code : text
        rule r
          source "s"
          when code in codes
          then known = true
        """
    a = load_rules(make_rules({"r.pz": text, "codes.csv": "code\nA\n"}))
    b = load_rules(make_rules({"r.pz": text, "codes.csv": "code\nA\n"}))
    c = load_rules(make_rules({"r.pz": text, "codes.csv": "code\nB\n"}))
    d = load_rules(make_rules({"r.pz": text + "\n# a comment\n", "codes.csv": "code\nA\n"}))
    assert a.content_hash == b.content_hash
    assert a.content_hash.startswith("sha256:")
    assert len({a.content_hash, c.content_hash, d.content_hash}) == 3


def test_a_long_condition_is_checked_without_raising(make_rules) -> None:  # type: ignore[no-untyped-def]
    """check_path never raises for a problem in the rules; a generated list of 400 codes joined by `or` is fine."""
    condition = " or ".join(f"code = {i}" for i in range(400))
    root = make_rules(
        "input d : date\ninput code : integer\npeildatum d\noutput listed : boolean\n  default false\n"
        f'rule r\n  source "s"\n  when {condition}\n  then listed = true\n'
    )
    report = check_path(root)
    assert report.errors == []


def test_check_texts_checks_unsaved_texts_with_the_rest_of_the_folder(make_rules) -> None:  # type: ignore[no-untyped-def]
    """An editor's unsaved buffer replaces its file; names declared in the other files still resolve."""
    root = make_rules({
        "decl.pz": "input d : date\npeildatum d\noutput ok : boolean\n  default false\n",
        "rules.pz": 'rule r\n  source "s"\n  when d > 2024-01-01\n  then ok = true\n',
    })
    assert check_path(root).errors == []
    edited = 'rule r\n  source "s"\n  when dd > 2024-01-01\n  then ok = true\n'
    report = check_texts(root, {root / "rules.pz": edited})
    (d,) = report.errors
    assert (d.span.file, d.span.line, d.span.column, d.message) == (str(root / "rules.pz"), 3, 8, "unknown name `dd`")
    assert d.hint == "did you mean `d`?"
    assert report.sources.line(str(root / "rules.pz"), 3) == "  when dd > 2024-01-01"
    assert {f.path for f in report.parsed} == {str(root / "decl.pz"), str(root / "rules.pz")}
    # the file on disk is untouched, and a text given for a file outside the folder changes nothing
    assert check_texts(root, {root.parent / "elsewhere.pz": edited}).errors == []
    # a new file that is not saved yet is checked with the others
    report = check_texts(root, {root / "sub" / "new.pz": "rule s\n  source \"s\"\n  then ok = 1\n"})
    assert [(d.span.file, d.message) for d in report.errors] == [
        (str(root / "sub" / "new.pz"), "the value of `ok` must be a boolean, but this is an integer")]


def test_check_texts_on_one_file_and_on_a_folder_of_unsaved_files(tmp_path: Path) -> None:
    one = tmp_path / "one.pz"
    report = check_texts(one, {one: "output x : integer\n  default 1\n"})
    assert report.errors == [] and report.files == 1
    folder = tmp_path / "book"
    folder.mkdir()
    report = check_texts(folder, {folder / "a.pz": "output x : integer\n  default true\n"})
    assert [d.message for d in report.errors] == ["the default of `x` must be an integer, but this is a boolean"]


# ---------------------------------------------------------------- after a syntax error


def test_after_a_syntax_error_the_file_and_the_others_are_still_checked(make_rules) -> None:  # type: ignore[no-untyped-def]
    root = make_rules({
        "a.pz": """
            input claim.date : date
            input claim.session : integer
            peildatum claim.date
            output covered : boolean
              default false
            parameter limit : integer
              from 2020-01-01 = 2O  source "s"
            rule r1
              source "s"
              when claim.sesion > limit
              then covered = true
              becuase "why"
            """,
        "b.pz": """
            rule r2
              source "s"
              when claim.date > 3
              then covered = true
            """,
    })
    report = check_path(root)
    found = [(Path(d.span.file).name, d.span.line, d.code) for d in report.errors]
    assert found == [("a.pz", 7, "syntax"), ("a.pz", 10, "unknown-name"), ("a.pz", 12, "syntax"),
                     ("b.pz", 3, "type")]
    # `limit` is declared where the syntax error is: no "unknown name" for it; and no warnings built on what was lost
    assert report.warnings == []


def test_no_never_decided_warning_when_a_broken_rule_decides_the_value(make_rules) -> None:  # type: ignore[no-untyped-def]
    root = make_rules("""
        input d : date
        peildatum d
        output tariff : money
        output other : money
        rule r1
          source "s"
          when d >
          then tariff = € 1,00
        """)
    report = check_path(root)
    assert [d.code for d in report.errors] == ["syntax"]
    assert [(d.code, d.message) for d in report.warnings] == [
        ("never-decided", "no rule decides `other` and it has no default")]


def test_no_warnings_on_what_an_unreadable_rule_may_decide(make_rules) -> None:  # type: ignore[no-untyped-def]
    root = make_rules("""
        input d : date
        output tariff : money
        rule r1 r2
          source "s"
          then tariff = € 1,00
        rulez r3
          then oops
        """)
    report = check_path(root)
    assert [(d.span.line, d.code) for d in report.errors] == [(3, "syntax"), (6, "syntax"), (7, "syntax")]
    assert report.errors[1].hint == "did you mean `rule`?"
    # `tariff` may be decided by the rules that could not be read; that no peildatum is declared is sure
    assert [d.code for d in report.warnings] == ["peildatum"]


def test_references_to_broken_declarations_give_no_follow_up_errors(make_rules) -> None:  # type: ignore[no-untyped-def]
    root = make_rules("""
        ruleset claims
          source zvw "Zorgverzekeringswet" url
        input d : date
        input kind : one of a, b,
        peildatum d
        output tariff : money
        table prices
          file "prices.csv"
          key code code
        rule base
          source zvw "art 1"
          when kind = a and prices[kind].amount > € 0,00
          then tariff = € 1,00 +
        rule special
          exception to base
          source zvw "art 2"
          when kind = b
          then tariff = € 2,00
        """)
    report = check_path(root)
    assert {d.code for d in report.errors} == {"syntax"}, [d.render() for d in report.errors]
    assert report.warnings == []


def test_a_real_unknown_name_is_still_reported_after_a_syntax_error(make_rules) -> None:  # type: ignore[no-untyped-def]
    root = make_rules("""
        input d : date
        input kind : one of a, b,
        peildatum d
        output tariff : money
          default € 0,00
        rule r
          source "s"
          when knd > 3
          then tariff = € 1,00
        """)
    report = check_path(root)
    assert [(d.code, d.message) for d in report.errors] == [
        ("syntax", report.errors[0].message), ("unknown-name", "unknown name `knd`")]


# ---------------------------------------------------------------- every diagnostic shows where


@pytest.mark.parametrize("path", _cases(BAD), ids=lambda p: p.name)
def test_every_diagnostic_quotes_its_line_with_a_caret(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Table cells and undecodable files included: file, line, column, the source line and a caret."""
    monkeypatch.chdir(BAD)
    report = check_path(path.name)
    assert report.diagnostics
    for d in report.diagnostics:
        assert d.span.line >= 1 and d.span.column >= 1, d.render()
        excerpt = report.sources.excerpt(d.span)
        assert excerpt, f"no source line for {d.render()}"
        line, caret = excerpt.splitlines()
        assert line.startswith(f"{d.span.line:>4} | ")
        assert caret.strip(" \t").startswith("^")


def test_a_bad_table_cell_is_underlined_where_it_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    report = check_path("table_bad_rows.pz")
    d = next(d for d in report.errors if "`twelve`" in d.message)
    assert (d.span.file, d.span.line, d.span.column, d.span.end_column) == ("data/bad_rows.csv", 3, 4, 10)
    assert d.render(report.sources).splitlines()[1:] == ["   3 | A2,twelve,9,physio,2020-01-01,",
                                                         "          ^^^^^^"]


def test_cells_of_quoted_and_multi_line_rows_are_found(make_rules) -> None:  # type: ignore[no-untyped-def]
    root = make_rules({
        "r.pz": """
            input d : date
            peildatum d
            output o : integer
              default 1
            table t
              file "t.csv"
              key code
              column code : text
              column n : integer
            """,
        "t.csv": 'code;note;n\n"a;b";"two\nlines";x\n c ; "q""uote" ; y \n',
    })
    report = check_path(root)
    found = [(d.span.line, d.span.column, d.span.end_column) for d in report.errors]
    # a row over two lines is reported on its first line; the cell of a one-line row where it stands
    assert found == [(2, 1, 11), (4, 18, 19)]


def test_strict_check_fails_on_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _run_check(BAD, "warning_overlap.pz", monkeypatch)
    assert code == 0 and "0 error(s), 1 warning(s)" in out
    code, strict_out = _run_check(BAD, "warning_overlap.pz", monkeypatch, "--strict")
    assert code == 1 and strict_out == out
    code, _ = _run_check(GOOD, "minimal.pz", monkeypatch, "--strict")
    assert code == 0


def test_golden_errors_after_a_syntax_error_come_in_the_same_run() -> None:
    out = (BAD / "syntax_then_checks.expected").read_text(encoding="utf-8")
    kinds = re.findall(r"^syntax_then_checks\.pz:(\d+):\d+: error\[([\w-]+)\]", out, re.M)
    assert kinds == [("11", "syntax"), ("15", "unknown-name"), ("17", "syntax"), ("22", "syntax"), ("26", "type")]
    assert "`limit`" not in out  # declared where the first syntax error is: no follow-up error
    assert "warning" not in out.replace("0 warning(s)", "")  # nor a warning that the broken rules would contradict
    assert "hint: did you mean `because`?" in out


def test_golden_keyword_typo_in_a_dutch_file() -> None:
    out = (BAD / "syntax_nl_keyword_typo.expected").read_text(encoding="utf-8")
    assert "error[syntax]: `omdt` is hier niet verwacht" in out
    assert "tip: bedoelt u `omdat`?" in out
    assert "tip: bedoelt u `geldig vanaf`?" in out


def test_start_of_month_is_checked_like_every_function(make_rules) -> None:  # type: ignore[no-untyped-def]
    """Its arity, the type of its argument, a misspelt name, in the file's language; it gives a date."""
    root = make_rules(
        """
        taal nederlands
        invoer d : datum
        invoer n : geheel getal
        peildatum d
        uitvoer a : datum
        uitvoer b : datum
        uitvoer c : datum
        uitvoer e : geheel getal
        regel r1
          bron "s"
          dan a = begin_maand(d, d)
        regel r2
          bron "s"
          dan b = begin_maand(n)
        regel r3
          bron "s"
          dan c = begin_maan(d) + 1 maand
        regel r4
          bron "s"
          dan e = begin_maand(d)
        """
    )
    errors = check_path(root).errors
    shown = [(d.span.line, d.shown("nederlands")[0], d.shown("nederlands")[1]) for d in errors]
    assert shown == [
        (11, "`begin_maand` heeft 1 argument(en), niet 2", None),
        (14, "argument 1 van `begin_maand` moet een datum zijn, maar dit is een geheel getal", None),
        (17, "onbekende functie `begin_maan`", "bedoelt u `begin_maand`?"),
        (20, "de waarde van `e` moet een geheel getal zijn, maar dit is een datum", None),
    ], shown
