"""Regressions of what an attacker or an unlucky operator tried: each one now gets a clean, located error.

A rule file cannot read what lies outside its rule book; no case stops a batch; the checker runs in
linear time; arithmetic out of range is an error of that value, alike in every engine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from passendezorg import load_rules
from passendezorg.batch import evaluate_file
from passendezorg.cli import main
from passendezorg.engines.rete import unavailable_reason
from passendezorg.files import FileRefused, read_inside
from passendezorg.model import CaseFailure
from passendezorg.rulebook import RuleBook, check_path
from passendezorg.syntax import parse_text

needs_durable = pytest.mark.skipif(unavailable_reason() is not None, reason=unavailable_reason() or "")

TABLE_BOOK = """\
language english

input claim.date : date
input claim.code : text
peildatum claim.date

output covered : boolean
  default false

table codes
  file "{file}"
  key code
  column code : text

rule r1
  source "test"
  when claim.code in codes
  then covered = true
"""


def _check(folder: Path) -> str:
    result = CliRunner().invoke(main, ["check", str(folder)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1, result.output
    return result.output


def _first_line(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.readline(200).decode("utf-8", "replace").strip() or None
    except OSError:
        return None


# ---------------------------------------------------------------- 1. table files only from the rule book


@pytest.mark.parametrize("file", ["/etc/passwd", "/proc/self/environ", "../../../../../../../../../etc/passwd",
                                  "/dev/zero", "data/../../outside.csv"])
def test_a_table_file_outside_the_rule_book_is_refused_without_showing_a_byte(
        file: str, make_rules: Callable[..., Path]) -> None:
    folder = make_rules({"rules.pz": TABLE_BOOK.format(file=file)})
    (folder / "data").mkdir()
    (folder.parent / "outside.csv").write_text("code\nsecret-value\n", encoding="utf-8")
    out = _check(folder)
    assert "is not read:" in out and "codes" in out
    assert "secret-value" not in out
    shown = _first_line(file) if file.startswith("/") else None
    if shown:
        assert shown not in out
    assert "root:" not in out and "PATH=" not in out


def test_a_symbolic_link_out_of_the_rule_book_and_a_loop_are_refused(make_rules: Callable[..., Path]) -> None:
    looped = 'table looped\n  file "data/loop.csv"\n  key code\n  column code : text\n'
    folder = make_rules({"rules.pz": TABLE_BOOK.format(file="data/codes.csv") + looped})
    (folder / "data").mkdir()
    outside = folder.parent / "secret.csv"
    outside.write_text("code\nsecret-value\n", encoding="utf-8")
    (folder / "data" / "codes.csv").symlink_to(outside)
    (folder / "data" / "loop.csv").symlink_to(folder / "data" / "loop.csv")
    out = _check(folder)
    assert "lies outside the rule book's folder" in out
    assert "symbolic link that loops" in out
    assert "secret-value" not in out


def test_a_symbolic_link_inside_the_rule_book_is_followed(make_rules: Callable[..., Path]) -> None:
    folder = make_rules({"rules.pz": TABLE_BOOK.format(file="data/codes.csv"), "data/real.csv": "code\nA\n"})
    (folder / "data" / "codes.csv").symlink_to(folder / "data" / "real.csv")
    book = load_rules(folder)
    assert book.evaluate({"claim": {"date": "2024-01-01", "code": "A"}}).outputs["covered"].value is True


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_or_a_folder_is_not_a_table_file(make_rules: Callable[..., Path]) -> None:
    folder = make_rules({"rules.pz": TABLE_BOOK.format(file="data/pipe.csv")})
    (folder / "data").mkdir()
    os.mkfifo(folder / "data" / "pipe.csv")
    began = time.monotonic()
    out = _check(folder)
    assert "not a regular file" in out
    assert time.monotonic() - began < 20  # it did not wait for a writer


def test_a_table_file_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.csv").write_bytes(b"code\n" + b"x\n" * 100)
    with pytest.raises(FileRefused, match="larger than 100 bytes"):
        read_inside(tmp_path / "big.csv", tmp_path, 100)
    assert read_inside(tmp_path / "big.csv", tmp_path, 1000).startswith(b"code")


def test_a_rule_file_that_links_out_of_the_rule_book_is_not_read(make_rules: Callable[..., Path]) -> None:
    folder = make_rules({"rules.pz": TABLE_BOOK.format(file="data/codes.csv"), "data/codes.csv": "code\nA\n"})
    secret = folder.parent / "secret.txt"
    secret.write_text("secret-value = 1\n", encoding="utf-8")
    (folder / "stolen.pz").symlink_to(secret)
    out = _check(folder)
    assert "stolen.pz:1:1: error[file]: the rule file is not read: it lies outside" in out
    assert "secret-value" not in out
    fmt = CliRunner().invoke(main, ["fmt", "--check", str(folder)])
    assert "secret-value" not in fmt.output and fmt.exit_code == 1
    assert secret.read_text(encoding="utf-8") == "secret-value = 1\n"


# ---------------------------------------------------------------- 3. the checker in linear time, literals in range


def test_a_long_comment_line_and_a_syntax_error_are_checked_quickly() -> None:
    text = "taal nederlands\n# " + "a" * 100_000 + "\nregel x\n  als a +\n  dan b = 1\n"
    began = time.monotonic()
    _, diags = parse_text(text, "long.pz")
    assert time.monotonic() - began < 5  # it took more than 30 s when the search for a keyword was quadratic
    assert [(d.span.line, d.message) for d in diags] == [(5, "the expression before `dan` is not complete")]


def test_many_syntax_errors_in_a_large_file_are_each_located() -> None:
    text = "taal nederlands\n" + "".join(f"regel r{i}\n  als a +\n  dan b = 1\n" for i in range(3000))
    began = time.monotonic()
    _, diags = parse_text(text, "many.pz")
    assert time.monotonic() - began < 20
    assert len(diags) == 3000
    assert diags[-1].span.line == 1 + 3 * 2999 + 3


def test_an_integer_literal_of_thousands_of_digits_is_a_diagnostic() -> None:
    _, diags = parse_text("language english\noutput o : integer\n  default " + "9" * 5000 + "\n", "big.pz")
    assert len(diags) == 1 and "is not a valid number (it is out of range" in diags[0].message
    assert diags[0].span.line == 3


def test_exceptions_nested_beyond_the_limit_are_an_error_not_a_crash(make_rules: Callable[..., Path]) -> None:
    rules = ['rule r0\n  source "x"\n  then o = 0']
    rules += [f'rule r{i}\n  source "x"\n  exception to r{i - 1}\n  when c.n > {i}\n  then o = {i}' for i in range(1, 1500)]
    folder = make_rules("language english\ninput c.d : date\ninput c.n : integer\npeildatum c.d\noutput o : integer\n"
                        + "\n".join(rules) + "\n")
    report = check_path(folder)
    assert [d.message for d in report.errors] == [
        "exceptions nest 1500 levels deep below rule `r0`; at most 100 levels are allowed"]


def test_a_long_chain_of_values_checks_and_evaluates(make_rules: Callable[..., Path]) -> None:
    lines = ["language english", "input c.d : date", "input c.n : integer", "peildatum c.d"]
    lines += [f"derived v{i} : integer = v{i - 1} + 1" for i in range(1999, 0, -1)]  # declared last to first
    lines += ["derived v0 : integer = c.n", "output o : integer", 'rule r\n  source "x"\n  then o = v1999']
    book = load_rules(make_rules("\n".join(lines) + "\n"))
    case = {"c": {"d": "2024-01-01", "n": 5}}
    assert book.evaluate(case).outputs["o"].value == 2004
    assert book.decide_many([case])[0].values == {"o": 2004}  # type: ignore[union-attr]


# ---------------------------------------------------------------- 3. arithmetic out of range: an error of that value

OVERFLOW_BOOK = """\
language english

input c.date : date
input c.amount : money
input c.count : integer

peildatum c.date

output next_day : date
output far : date
output back : date
output paid : money
output total : integer
output fine : integer

rule r_next
  source "test"
  then next_day = c.date + 1 days

rule r_far
  source "test"
  then far = c.date + 5000 years

rule r_back
  source "test"
  then back = c.date - 3000 years

rule r_paid
  source "test"
  when c.amount > € 0
  then paid = c.amount * c.count

rule r_total
  source "test"
  then total = c.count * c.count

rule r_fine
  source "test"
  when c.date + 1 days > 2024-01-01 and c.count > 3
  then fine = 1
"""

EXPECTED = {
    "next_day": ("error", None, "no date after 9999-12-31 (line 18)"),
    "far": ("error", None, "no date after 9999-12-31 (line 22)"),
    "back": ("value", dt.date(6999, 12, 31), None),
    "paid": ("error", None, "the result is out of range: more than 18 digits before the decimal point"),
    "total": ("error", None, "the result is out of range: more than 18 digits before the decimal point"),
    "fine": ("error", None, "no date after 9999-12-31 (line 39)"),
}
CASE = {"c": {"date": "9999-12-31", "amount": "100000000000000000.00", "count": 1_000_000_000}}


def _outcomes(decision: Any) -> dict[str, tuple[str, Any, str | None]]:
    return {k: (o.status, o.value, o.reason) for k, o in decision.outputs.items()}


def test_date_and_number_overflow_are_errors_of_their_values(make_book: Callable[..., RuleBook]) -> None:
    book = make_book(OVERFLOW_BOOK)
    assert _outcomes(book.evaluate(CASE)) == EXPECTED
    [fast] = book.decide_many([CASE])
    assert not isinstance(fast, CaseFailure)
    assert {k: (fast.status.get(k, "value"), fast.values[k] if k == "back" else None, fast.reason.get(k))
            for k in EXPECTED} == {k: (s, None if v is None else fast.values[k], r) for k, (s, v, r) in EXPECTED.items()}
    assert fast.values["back"] == dt.date(6999, 12, 31)


def test_a_date_before_the_first_one_is_an_error_too(make_book: Callable[..., RuleBook]) -> None:
    book = make_book(OVERFLOW_BOOK)
    decision = book.evaluate({"c": {"date": "2000-01-01", "amount": "1.00", "count": 2}})
    assert decision.outputs["back"].status == "error"
    assert decision.outputs["back"].reason == "no date before 0001-01-01 (line 26)"
    assert (decision.outputs["next_day"].value, decision.outputs["paid"].value, decision.outputs["total"].value) == (
        dt.date(2000, 1, 2), Decimal("2.00"), 4)


@needs_durable
def test_the_rete_engine_gives_the_same_errors(make_book: Callable[..., RuleBook]) -> None:
    book = make_book(OVERFLOW_BOOK)
    assert book.evaluate(CASE, engine="rete").to_json() == book.evaluate(CASE).to_json()


def test_a_batch_file_with_overflowing_cases_decides_every_case(make_rules: Callable[..., Path], tmp_path: Path) -> None:
    book = load_rules(make_rules(OVERFLOW_BOOK))
    src = tmp_path / "cases.jsonl"
    src.write_text("\n".join(json.dumps(CASE) for _ in range(5)) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    report = evaluate_file(book, src, out)
    assert (report.cases, report.failures) == (5, 0)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert all(r["reason"]["far"] == "no date after 9999-12-31 (line 22)" for r in records)


# ---------------------------------------------------------------- 2. every failure reading or typing a case is that case's

V1 = Path(__file__).resolve().parent / "rulebooks_store" / "v1"


def _claim(k: int) -> dict[str, Any]:
    return {"claim_id": f"C-{k}", "insured_id": f"V-{k % 3}",
            "input": {"behandeling": {"datum": "2024-03-01", "soort": "ziekenhuiszorg", "bedrag": f"{100 + k}.00"}}}


def _with(bedrag: str) -> bytes:
    """A claim line whose amount is written as given (raw JSON text)."""
    return (b'{"claim_id": "BAD", "insured_id": "V-9", "input": {"behandeling": {"datum": "2024-03-01", '
            b'"soort": "ziekenhuiszorg", "bedrag": ' + bedrag.encode() + b"}}}")


BAD_LINES: dict[str, bytes] = {
    "exponent": _with('"1E+999999999"'),
    "exponent, small": _with('"1e999999"'),
    "minus exponent": _with('"-1e400"'),
    "digits of 5000": _with("9" * 5000),
    "digits of 5000, quoted": _with('"' + "9" * 5000 + '"'),
    "underscores": _with('"1_000"'),
    "arabic-indic digits": _with('"\u0661\u0660\u0660"'.encode("unicode_escape").decode().replace("\\\\", "\\")),
    "negative": _with('"-100.00"'),
    "infinity": _with("-Infinity"),
    "over the bound": _with('"1000000000000000000"'),
    "nested 3000 deep": _with("[" * 3000 + "]" * 3000),
    "duplicate key": b'{"claim_id": "D", "claim_id": "E", "insured_id": "V-9", "input": {}}',
    "duplicate fact": _with('"10.00", "bedrag": "20.00"'),
    "invalid UTF-8": b'{"claim_id": "U", "insured_id": "V-\xff\xfe", "input": {}}',
    "not JSON": b"{not json",
    "not a mapping": b"[1, 2, 3]",
}


def _claims_file(path: Path) -> tuple[int, list[str]]:
    """60 good claims with every bad line between them; the bad lines' names in file order."""
    lines: list[bytes] = []
    order: list[str] = []
    good = 0
    bad = iter(BAD_LINES.items())
    for k in range(60):
        lines.append(json.dumps(_claim(k)).encode())
        good += 1
        if k % 3 == 1:
            item = next(bad, None)
            if item is not None:
                order.append(item[0])
                lines.append(item[1])
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert len(order) == len(BAD_LINES)
    return good, order


def test_claims_process_records_every_good_claim_and_rejects_each_bad_one(tmp_path: Path) -> None:
    from test_store_cli import run

    path = tmp_path / "claims.jsonl"
    good, bad = _claims_file(path)
    result = run("claims", "process", path, "--rules", V1, "--db", f"sqlite:///{tmp_path / 'c.db'}", "--format", "json")
    assert result.exit_code == 1, result.output
    summary = json.loads(result.output)
    assert (summary["claims"], summary["recorded"], summary["rejected"]) == (good + len(bad), good, len(bad))
    reasons = [r["reason"] for r in summary["rejections"]]
    assert all(r["where"].startswith(f"{path}:") for r in summary["rejections"])
    assert not any("internal error" in r or "Traceback" in r for r in reasons)
    text = " | ".join(reasons)
    for needle in ("expected an amount like 12.34", "never negative", "out of range", "nests too deeply",
                   "given twice", "not UTF-8", "not valid JSON", "too many digits"):
        assert needle in text, needle


def test_claims_process_with_workers_records_every_good_claim(tmp_path: Path) -> None:
    from test_store_cli import run

    path = tmp_path / "claims.jsonl"
    good, bad = _claims_file(path)
    result = run("claims", "process", path, "--rules", V1, "--db", f"sqlite:///{tmp_path / 'c.db'}", "--format",
                 "json", "--workers", "2")
    summary = json.loads(result.output)
    assert (summary["recorded"], summary["rejected"]) == (good, len(bad)), result.output


def _cases_file(path: Path) -> tuple[int, int]:
    """The claims as JSON-lines cases (flat facts with an id): the good ones and the bad ones."""
    good, _ = _claims_file(path)
    lines = []
    for raw in path.read_bytes().splitlines():
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            lines.append(raw)
            continue
        if isinstance(data, dict) and "input" in data and data.get("claim_id", "").startswith("C-"):
            lines.append(json.dumps({"id": data["claim_id"], **data["input"]}).encode())
        else:
            lines.append(raw.replace(b'"claim_id"', b'"id"', 1).replace(b', "insured_id": "V-9"', b""))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return good, len(lines) - good


@pytest.mark.parametrize("jobs", [None, 1, 2])
def test_evaluate_a_json_lines_file_decides_every_good_case(tmp_path: Path, jobs: int | None) -> None:
    path = tmp_path / "cases.jsonl"
    good, bad = _cases_file(path)
    args = ["evaluate", str(path), "--rules", str(V1), "--format", "jsonl"]
    if jobs is not None:
        args += ["--jobs", str(jobs), "--out", str(tmp_path / "out.jsonl")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    text = (tmp_path / "out.jsonl").read_text(encoding="utf-8") if jobs is not None else result.stdout
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    decided = [r for r in records if "outputs" in r]
    failed = [r for r in records if "error" in r]
    assert (len(decided), len(failed)) == (good, bad)
    assert not any("internal error" in r["error"] for r in failed)
    assert f"{bad} " in result.stderr


def test_evaluate_a_folder_decides_every_good_case_file(tmp_path: Path) -> None:
    good = "input:\n  behandeling: {datum: 2024-03-01, soort: ziekenhuiszorg, bedrag: '12.50'}\n"
    files: dict[str, bytes] = {
        "a-good.yaml": good.encode(),
        "b-not-utf8.yaml": good.encode().replace(b"12.50", b"12.50\xff"),
        "c-deep.yaml": b"input:\n  behandeling: " + b"[" * 3000 + b"]" * 3000 + b"\n",
        "d-deep.json": b'{"input": {"behandeling": ' + b"[" * 3000 + b"]" * 3000 + b"}}",
        "e-bigint.json": b'{"input": {"behandeling": {"bedrag": ' + b"9" * 5000 + b"}}}",
        "f-bigint.yaml": b"input:\n  behandeling: {bedrag: " + b"9" * 5000 + b"}\n",
        "g-dup.json": b'{"input": {"behandeling": {"datum": "2024-03-01", "datum": "2024-03-02"}}}',
        "h-dup.yaml": b"input:\n  behandeling:\n    datum: 2024-03-01\n    datum: 2024-03-02\n",
        "i-exponent.yaml": good.replace("'12.50'", "'1E+999999999'").encode(),
        "j-negative.yaml": good.replace("'12.50'", "'-12.50'").encode(),
        "k-underscore.yaml": good.replace("'12.50'", "1_000").encode(),
        "z-good.json": json.dumps({"input": {"behandeling": {"datum": "2024-03-01", "soort": "huisartsenzorg",
                                                             "bedrag": 20}}}).encode(),
    }
    folder = tmp_path / "cases"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    result = CliRunner().invoke(main, ["evaluate", str(folder), "--rules", str(V1), "--format", "jsonl"])
    assert result.exit_code == 1
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len([r for r in records if "outputs" in r]) == 2
    errors = [r["error"] for r in records if "error" in r]
    assert len(errors) == 10
    assert "10 case(s) could not be evaluated" in result.stderr
    expected = {
        "b-not-utf8.yaml:2:": "not UTF-8 text", "c-deep.yaml": "nests too deeply", "d-deep.json": "nests too deeply",
        "e-bigint.json": "too many digits", "f-bigint.yaml": "out of range", "g-dup.json:1:": "given twice",
        "h-dup.yaml:4:": "given twice", "i-exponent.yaml": "expected an amount like 12.34", "j-negative.yaml":
        "never negative", "k-underscore.yaml": "expected an amount like 12.34",
    }
    for where, what in expected.items():
        assert any(where in e and what in e for e in errors), (where, what, errors)


def test_the_library_batch_calls_report_each_bad_case_and_decide_the_rest(tmp_path: Path) -> None:
    book = load_rules(V1)
    good = {"behandeling": {"datum": "2024-03-01", "soort": "ziekenhuiszorg", "bedrag": "12.50"}}
    bad: list[Any] = [
        {"behandeling": {"datum": "2024-03-01", "bedrag": "1E+999999999"}},
        {"behandeling": {"datum": "2024-03-01", "bedrag": 10**5000}},
        {"behandeling": {"datum": "2024-03-01", "bedrag": "-5"}},
        {"behandeling": {"datum": "9999-12-31", "bedrag": float("inf")}},
        [1, 2, 3],
        "not a case",
        None,
    ]
    cases = [good, *bad, good]
    for results in (list(book.evaluate_many(cases)), book.decide_many(cases), book.decide_many(cases * 600, jobs=2)):
        assert len(results) % len(cases) == 0
        for k, r in enumerate(results):
            assert isinstance(r, CaseFailure) == (k % len(cases) not in (0, len(cases) - 1)), (k, r)
    src = tmp_path / "cases.jsonl"
    good_lines = [json.dumps({"id": k, **good}) for k in range(50)]
    bad_lines = [json.dumps(b) for b in bad if isinstance(b, (list, str))] + [
        '{"behandeling": {"datum": "2024-03-01", "bedrag": "1E+999999999"}}',
        '{"behandeling": {"datum": "2024-03-01", "bedrag": ' + "9" * 5000 + "}}",
        '{"behandeling": {"datum": "2024-03-01", "bedrag": -Infinity}}',
        '{"behandeling": {"datum": "2024-03-01", "datum": "2024-03-02"}}',
        '{"behandeling": ' + "[" * 3000 + "]" * 3000 + "}",
    ]
    src.write_text("\n".join(good_lines[:25] + bad_lines + good_lines[25:]) + "\n", encoding="utf-8")
    report = evaluate_file(book, src, tmp_path / "out.jsonl")
    assert (report.cases, report.failures) == (50 + len(bad_lines), len(bad_lines))
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r.get("line") for r in records if "error" in r] == list(range(26, 26 + len(bad_lines)))
    assert not any("internal error" in r["error"] for r in records if "error" in r)


# ---------------------------------------------------------------- 5. databases: a clear error that says what to do


def _store_error(url: str) -> str:
    from passendezorg.store import Store, StoreError

    with pytest.raises(StoreError) as info:
        store = Store(url)
        try:
            store.counts()
        finally:
            store.close()
    return str(info.value)


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100, encoding="utf-8")
    assert _store_error(f"sqlite:///{path}") == (
        f"{path} is not a SQLite database (or it is encrypted): passendezorg keeps its store in a SQLite file of its "
        "own; give the path of that file, or a new file name")


def test_a_damaged_database_says_to_restore_it(tmp_path: Path) -> None:
    from passendezorg.store import Store

    path = tmp_path / "claims.db"
    Store(f"sqlite:///{path}").close()
    data = bytearray(path.read_bytes())
    for i in range(200, len(data), 7):
        data[i] = 0xAB
    path.write_bytes(bytes(data))
    message = _store_error(f"sqlite:///{path}")
    assert message.startswith(f"the database {path} is damaged (SQLite: database disk image is malformed)")
    assert "Restore it from a backup" in message


def test_a_folder_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    if os.name == "posix" and os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
    elif os.path.isdir("/proc"):
        folder = Path("/proc")  # no one, not even root, makes a file here
    else:
        pytest.skip("no folder here that cannot be written")
    message = _store_error(f"sqlite:///{folder / 'claims.db'}")
    assert message.startswith(f"cannot open the database {folder / 'claims.db'}: SQLite could not open or create it")
    assert f"Make sure the folder {folder} exists and is writable" in message


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="the holder of a lock is told on Linux")
def test_a_lock_held_too_long_names_the_process_that_holds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    from passendezorg.store import Store, StoreError

    path = tmp_path / "claims.db"
    Store(f"sqlite:///{path}").close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
         "c.execute('BEGIN IMMEDIATE'); print('holding', flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True)
    store: Store | None = None
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        monkeypatch.setenv("PASSENDEZORG_DB_TIMEOUT", "0.5")
        began = time.monotonic()
        with pytest.raises(StoreError) as info:
            store = Store(f"sqlite:///{path}")
            with store.transaction():
                pass
        assert time.monotonic() - began < 30
        message = str(info.value)
        assert message.startswith(f"the database {path} is locked by another writer for longer than 0.5 s; "
                                  f"it is held by process {holder.pid} (")
        assert "$PASSENDEZORG_DB_TIMEOUT sets how many seconds to wait" in message
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
        if store is not None:
            store.close()


def test_claims_process_on_a_broken_database_exits_with_the_reason(tmp_path: Path) -> None:
    from test_store_cli import run

    path = tmp_path / "claims.jsonl"
    path.write_text(json.dumps(_claim(1)) + "\n", encoding="utf-8")
    db = tmp_path / "notes.db"
    db.write_text("not a database\n" * 100, encoding="utf-8")
    result = run("claims", "process", path, "--rules", V1, "--db", str(db))
    assert result.exit_code == 1
    assert result.output.strip() == (f"error: {db} is not a SQLite database (or it is encrypted): passendezorg keeps its "
                                     "store in a SQLite file of its own; give the path of that file, or a new file name")


def test_dates_are_written_yyyy_mm_dd_only_and_the_fast_lane_types_them() -> None:
    from passendezorg.cases import convert
    from passendezorg.engines.compiled import compile_typer
    from passendezorg.errors import CaseError
    from passendezorg.nodes import TypeRef

    for text in ("20240101", "2024-W01-1", "2024-1-1", "\u0662\u0660\u0662\u0664-01-01"):
        with pytest.raises(CaseError, match="expected a date"):
            convert(text, TypeRef("date"), "input.d", fact=True)
    typer = compile_typer(load_rules(V1).program)
    assert typer({"behandeling": {"datum": "2024-03-01"}}) == {"behandeling.datum": __import__("datetime").date(2024, 3, 1)}
    assert typer({"behandeling": {"datum": "20240301"}}) is None  # the slow lane says what is wrong


def test_a_yaml_case_nested_deeply_is_refused_before_it_is_read(tmp_path: Path) -> None:
    from passendezorg.cases import read_case_file
    from passendezorg.errors import CaseError

    path = tmp_path / "deep.yaml"
    path.write_text("input: {a: " + "[" * 100_000 + "]" * 100_000 + "}\n", encoding="utf-8")
    began = time.monotonic()
    with pytest.raises(CaseError, match="nests too deeply"):
        read_case_file(path)
    assert time.monotonic() - began < 5


# ---------------------------------------------------------------- 4. caches safe by construction

POISON_MARK = "passendezorg-poisoned"


class _Poison:
    """A pickle that runs code when it is loaded: what an attacker would plant in a cache."""

    def __init__(self, mark: Path) -> None:
        self.mark = mark

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.mark}",))


def _poison(mark: Path) -> bytes:
    import pickle

    return pickle.dumps(_Poison(mark))


def _entries(cache: Path, prefix: str) -> list[Path]:
    return sorted(cache.glob(f"{prefix}-*.pzc"))


def test_a_poisoned_rule_book_entry_does_not_run(tmp_path: Path) -> None:
    from passendezorg import cache as cache_module
    from passendezorg.cache import MAGIC, CacheWarning
    from passendezorg.rulebook import load_cached

    cache = tmp_path / "cache"
    first = load_cached(V1, cache)
    [entry] = _entries(cache, "rulebook")
    mark = tmp_path / POISON_MARK
    for planted in (_poison(mark), MAGIC + b"\0" * 32 + _poison(mark), MAGIC + os.urandom(32) + _poison(mark)):
        entry.write_bytes(planted)  # unsigned, and signed with a key that is not this user's
        with pytest.warns(CacheWarning, match="does not carry your passendezorg's signature"):
            book = load_cached(V1, cache)
        assert not mark.exists(), "a planted entry ran code"
        assert book.content_hash == first.content_hash
        cache_module._warned.clear()  # each planted entry warns again
    assert load_cached(V1, cache).content_hash == first.content_hash  # rebuilt and signed again: no warning


def test_a_poisoned_parser_entry_does_not_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    cache = tmp_path / "cache"
    env = {**os.environ, "PASSENDEZORG_CACHE": str(cache)}
    build = "from passendezorg.syntax import parser_for; parser_for('english'); parser_for('nederlands')"
    subprocess.run([sys.executable, "-c", build], env=env, check=True, capture_output=True)
    entries = _entries(cache, "parser")
    assert len(entries) == 2
    mark = tmp_path / POISON_MARK
    for entry in entries:
        entry.write_bytes(_poison(mark))
    out = subprocess.run([sys.executable, "-c", build + "; print('parsed')"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "parsed"
    assert "does not carry your passendezorg's signature" in out.stderr
    assert not mark.exists(), "a planted parser ran code"


@pytest.mark.skipif(os.name != "posix", reason="owners and modes are POSIX")
def test_a_cache_folder_others_can_write_is_not_used(tmp_path: Path) -> None:
    from passendezorg.cache import CacheWarning
    from passendezorg.rulebook import load_cached

    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o777)
    mark = tmp_path / POISON_MARK
    (cache / "key").write_bytes(b"k" * 32)  # planted: a key the attacker knows
    with pytest.warns(CacheWarning, match="can be written by other users.*chmod 700"):
        book = load_cached(V1, cache)
    assert book.evaluate({"behandeling": {"datum": "2024-03-01", "soort": "fysiotherapie", "bedrag": "10.00"}})
    assert _entries(cache, "rulebook") == [] and not mark.exists()  # neither read nor written


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_cache_folder_of_another_user_is_not_used(tmp_path: Path) -> None:
    from passendezorg.cache import CacheWarning
    from passendezorg.rulebook import load_cached

    cache = tmp_path / "theirs"
    cache.mkdir(mode=0o700)
    os.chown(cache, 54321, 54321)
    with pytest.warns(CacheWarning, match="belongs to another user"):
        load_cached(V1, cache)
    assert _entries(cache, "rulebook") == []


@pytest.mark.skipif(os.name != "posix", reason="owners and modes are POSIX")
def test_the_cache_is_written_private_and_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    import stat as st

    from passendezorg import cache as cache_module
    from passendezorg.cache import CacheWarning
    from passendezorg.rulebook import load_cached

    cache = tmp_path / "new" / "cache"
    load_cached(V1, cache)
    assert st.S_IMODE(cache.stat().st_mode) == 0o700
    for f in cache.iterdir():
        assert st.S_IMODE(f.stat().st_mode) == 0o600, f
    assert not [f for f in cache.iterdir() if f.name.endswith(".tmp")]
    (cache / "key").chmod(0o644)
    cache_module._warned.clear()
    with pytest.warns(CacheWarning, match="can be read by other users"):
        load_cached(V1, cache)


def test_the_command_line_says_once_that_it_goes_on_without_the_cache(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from passendezorg import cache as cache_module

    cache = tmp_path / "shared"
    cache.mkdir()
    cache.chmod(0o777)
    monkeypatch.setenv("PASSENDEZORG_CACHE", str(cache))
    cache_module._warned.clear()
    case = tmp_path / "case.yaml"
    case.write_text("input:\n  behandeling: {datum: 2024-03-01, soort: fysiotherapie, bedrag: '10.00'}\n",
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", str(case), "--rules", str(V1)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "can be written by other users" in warnings[0]


def test_a_rule_file_larger_than_the_limit_is_refused_with_a_clear_error(make_rules: Callable[..., Path],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import passendezorg.rulebook as rulebook

    folder = make_rules({"rules.pz": TABLE_BOOK.format(file="data/codes.csv"), "data/codes.csv": "code\nA\n"})
    monkeypatch.setattr(rulebook, "MAX_RULE_FILE_BYTES", 100)
    report = check_path(folder)
    size = (folder / "rules.pz").stat().st_size
    assert [d.message for d in report.errors] == [f"the rule file is not read: it is larger than 100 bytes ({size:,} bytes)"]
    assert report.errors[0].span.line == 1


def test_two_values_from_the_first_day_there_is_are_an_error_not_a_crash(tmp_path: Path) -> None:
    """Found by the fuzzing command: the period of a value that another value follows on 0001-01-01."""
    from passendezorg.rulebook import check_texts

    text = ('language english\ninput c.day : date\npeildatum c.day\nparameter p : integer\n'
            '  from 0001-01-01 = 1\n    source "x"\n  from 0001-01-01 = 2\n    source "y"\n'
            'output o : integer\nrule r "p"\n  source "z"\n  then o = p\n')
    report = check_texts(tmp_path, {tmp_path / "rules.pz": text})
    assert report.program is None
    assert any("two values of `p` start on 0001-01-01" in d.message for d in report.errors), report.errors
