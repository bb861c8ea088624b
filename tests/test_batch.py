"""Batches: JSON lines and CSV in, one JSON line per case out, in order, on one or more worker processes."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passendezorg.batch import _Evaluator, _Outputs, compiled, evaluate_file, evaluate_many, iter_fast
from passendezorg.cases import iter_case_paths, read_case_file, typed_inputs
from passendezorg.engines.compiled import compile_typer
from passendezorg.engines.interpreter import Evaluation
from passendezorg.errors import CaseError, UsageError
from passendezorg.model import CaseFailure, FastDecision
from passendezorg.rulebook import check_path, load_rules

ROOT = Path(__file__).resolve().parents[1]
BASIC = ROOT / "tests" / "rulebooks_compiled" / "basic"
CLAIMS6 = ROOT / "bench" / "claims6"
DAY = dt.date(2024, 1, 1)

TREATMENTS = ["physio", "smoking_cessation", "gp_consult", "dental", "lab"]


def claims(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    return [{"id": i, "insured_age": rnd.randint(0, 95), "setting": rnd.choice(["gp", "hospital", "home"]),
             "treatment": rnd.choice(TREATMENTS), "belongs_with_gp": rnd.random() < 0.5,
             "chronic_list": rnd.random() < 0.3, "session_no": rnd.randint(1, 40), "digital": rnd.random() < 0.25,
             "amount_cents": rnd.randint(500, 250_000)} for i in range(n)]


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def reference(book: Any, inputs: dict[str, Any], day: dt.date, case: str) -> dict[str, Any]:
    """The compact record of a case, built from the interpreter's outcomes."""
    outs = _Outputs(compiled(book.program))
    return outs.from_outcomes(case, Evaluation(book.program, inputs, day).run()).as_json()


# ------------------------------------------------------------------ JSON lines


def test_jsonl_in_order_with_failures_and_fallbacks(tmp_path: Path) -> None:
    book = load_rules(CLAIMS6)
    good = claims(30)
    lines = [json.dumps(c) for c in good]
    lines[3] = "{not json"
    lines[7] = json.dumps({**good[7], "treatmnt": "physio"})  # misspelt field
    del good[12]["amount_cents"]  # missing: the interpreter decides
    lines[12] = json.dumps(good[12])
    lines[15] = json.dumps({"name": "wrapped", "input": {k: v for k, v in good[15].items() if k != "id"}})
    lines.insert(20, "")
    src = tmp_path / "claims.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    report = evaluate_file(book, src, out, on=DAY)
    records = read_lines(out)
    assert report.cases == len(records) == 30
    assert report.failures == 2 and report.fallbacks == 1
    assert records[3]["format"] == "passendezorg.failure/1" and records[3]["line"] == 4
    assert "not valid JSON" in records[3]["error"]
    assert records[7]["line"] == 8 and records[7]["case"] == "7" and "treatmnt" in records[7]["error"]
    assert records[12]["status"]["tariff"] == "undetermined" and records[12]["needs"]["tariff"] == ["amount_cents"]
    assert records[15]["case"] == "wrapped"
    for k, c in enumerate(good):
        if k in (3, 7):
            continue
        inputs = {key: v for key, v in c.items() if key != "id"}
        expected = reference(book, inputs, DAY, "wrapped" if k == 15 else str(k))
        assert records[k] == expected, k
    assert records[21]["case"] == "21"  # the blank line 21 is skipped, not counted


def test_two_workers_write_the_same_bytes_as_one(tmp_path: Path) -> None:
    book = load_rules(CLAIMS6)
    src = tmp_path / "claims.jsonl"
    rows = [json.dumps(c) for c in claims(3000, seed=5)]
    rows[1234] = "[1, 2"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    r1 = evaluate_file(book, src, one, jobs=1, on=DAY)
    r2 = evaluate_file(book, src, two, jobs=2, on=DAY)
    assert one.read_bytes() == two.read_bytes()
    assert (r1.cases, r1.failures) == (r2.cases, r2.failures) == (3000, 1)
    assert r2.jobs == 2
    assert read_lines(two)[1234]["line"] == 1235
    buf = io.StringIO()  # a text stream without a byte buffer under it
    evaluate_file(book, src, buf, jobs=2, on=DAY)
    assert buf.getvalue().encode("utf-8") == one.read_bytes()


def test_output_to_a_stream_and_explanations(tmp_path: Path) -> None:
    book = load_rules(CLAIMS6)
    src = tmp_path / "claims.jsonl"
    src.write_text("\n".join(json.dumps(c) for c in claims(5)) + "\n", encoding="utf-8")
    buf = io.StringIO()
    evaluate_file(book, src, buf, on=DAY, explain=True)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 5
    for c, line in zip(claims(5), lines):
        facts = {k: v for k, v in c.items() if k != "id"}
        assert line == book.evaluate({"input": facts, "id": c["id"]}, DAY).to_json()


def test_progress_only_when_asked_or_on_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = load_rules(CLAIMS6)
    src = tmp_path / "claims.jsonl"
    src.write_text("\n".join(json.dumps(c) for c in claims(50)) + "\n", encoding="utf-8")
    evaluate_file(book, src, tmp_path / "a.jsonl", on=DAY)
    assert capsys.readouterr().err == ""
    evaluate_file(book, src, tmp_path / "b.jsonl", on=DAY, progress=True)
    assert "100.0 %" in capsys.readouterr().err


def test_nested_facts_and_the_peildatum(tmp_path: Path) -> None:
    book = load_rules(BASIC)
    facts = {"person": {"birth": "1990-02-03"}, "claim": {"date": "2024-05-01", "kind": "gp", "sessions": 12,
             "amount": "120.50", "factor": 1.5, "code": "COPD", "digital": False, "tags": ["a", "b"]}}
    no_date = {"person": {"birth": "1990-02-03"}, "claim": {"kind": "gp"}}
    src = tmp_path / "cases.jsonl"
    src.write_text("\n".join([json.dumps({"id": "n1", **facts}), json.dumps({"input": facts, "on": "2019-01-01"}),
                              json.dumps(no_date)]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    report = evaluate_file(book, src, out)
    records = read_lines(out)
    assert report.failures == 1 and records[2]["line"] == 3 and "peildatum" in records[2]["error"]
    for rec, day, name in ((records[0], dt.date(2024, 5, 1), "n1"), (records[1], dt.date(2019, 1, 1), "2")):
        _case, inputs, _day = book.prepare({"input": facts})
        assert rec == reference(book, inputs, day, name)


# ------------------------------------------------------------------ CSV


def test_csv_cases(tmp_path: Path) -> None:
    book = load_rules(CLAIMS6)
    cs = claims(40, seed=9)
    cols = [k for k in cs[0] if k != "id"]
    rows = ["id," + ",".join(cols)]
    for k, c in enumerate(cs):
        cells = {**c, "treatment": "fysio"} if k == 4 else c  # not a choice: a failure on line 6
        cells = {**c, "amount_cents": ""} if k == 8 else cells  # no amount: the interpreter decides
        rows.append(",".join([str(c["id"])] + [str(cells[key]).lower() if isinstance(cells[key], bool)
                                               else str(cells[key]) for key in cols]))
    src = tmp_path / "claims.csv"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    report = evaluate_file(book, src, out, on=DAY)
    records = read_lines(out)
    assert report.cases == 40 and report.failures == 1 and report.fallbacks == 1
    assert records[4]["line"] == 6 and "treatment" in records[4]["error"]
    for k, c in enumerate(cs):
        if k == 4:
            continue
        inputs = {key: v for key, v in c.items() if key != "id"}
        if k == 8:
            del inputs["amount_cents"]
        assert records[k] == reference(book, inputs, DAY, str(k)), k
    two = tmp_path / "two.jsonl"
    evaluate_file(book, src, two, on=DAY, jobs=2)
    assert two.read_bytes() == out.read_bytes()


def test_csv_header_must_name_inputs(tmp_path: Path) -> None:
    book = load_rules(CLAIMS6)
    src = tmp_path / "bad.csv"
    src.write_text("id,insured_agee\n1,4\n", encoding="utf-8")
    with pytest.raises(UsageError, match="did you mean `insured_age`"):
        evaluate_file(book, src, tmp_path / "out.jsonl", on=DAY)
    with pytest.raises(UsageError, match="format"):
        evaluate_file(book, src.rename(tmp_path / "bad.txt"), tmp_path / "out.jsonl", on=DAY)
    with pytest.raises(UsageError, match="no such file"):
        evaluate_file(book, tmp_path / "absent.jsonl", tmp_path / "out.jsonl", on=DAY)
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(claims(1)[0]) + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match="cannot write"):
        evaluate_file(book, good, tmp_path / "no" / "such" / "folder" / "out.jsonl", on=DAY)


NOTES = """
input day : date
input note : text
input count : integer
peildatum day
output echo : text
output double : integer
rule say_note
  source "s"
  then echo = note
rule twice
  source "s"
  then double = count * 2
"""


def _notes_csv(n: int) -> tuple[str, list[str]]:
    """A CSV file whose notes hold line breaks (LF and CRLF), commas and quotes, written by the csv module."""
    import csv as csv_module

    notes = []
    buf = io.StringIO()
    writer = csv_module.writer(buf, lineterminator="\n")
    writer.writerow(["id", "day", "note", "count"])
    for k in range(n):
        note = [f"note {k}", f"line two of {k}\nline three, with a comma", f'a "quoted" word {k}',
                f"crlf {k}\r\nafter", f"plain {k}"][k % 5] + "-" + "x" * (k % 17)
        notes.append(note)
        writer.writerow([f"c{k}", "2024-03-01", note, k])
    return buf.getvalue(), notes


def test_csv_quoted_cells_with_line_breaks_on_one_and_two_workers(make_book: Any, tmp_path: Path) -> None:
    """A quoted cell with line breaks is one cell of one case; a worker's range never starts inside one."""
    book = make_book(NOTES)
    text, notes = _notes_csv(3000)
    assert len(text) > 1 << 16  # large enough for the parallel path
    src = tmp_path / "notes.csv"
    src.write_bytes(text.encode("utf-8"))
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    r1 = evaluate_file(book, src, one, jobs=1)
    r2 = evaluate_file(book, src, two, jobs=2)
    assert one.read_bytes() == two.read_bytes()
    assert (r1.cases, r1.failures, r2.cases, r2.failures, r2.jobs) == (3000, 0, 3000, 0, 2)
    records = read_lines(one)
    assert [r["values"]["echo"] for r in records] == notes
    assert [r["case"] for r in records] == [f"c{k}" for k in range(3000)]
    assert records[7]["values"]["double"] == 14
    # the full decisions too
    full = tmp_path / "full.jsonl"
    evaluate_file(book, src, full, jobs=2, explain=True)
    assert [json.loads(line)["outputs"]["echo"]["value"] for line in full.read_text(encoding="utf-8").splitlines()] \
        == notes


def test_csv_records_keep_their_line_numbers_and_a_bad_quote_is_one_failure(make_book: Any, tmp_path: Path) -> None:
    book = make_book(NOTES)
    src = tmp_path / "notes.csv"
    src.write_text('id,day,note,count\n'
                   'a,2024-03-01,"two\nlines",1\n'            # lines 2-3
                   'b,2024-03-01,plain,x\n'                     # line 4: not an integer
                   'c,2024-03-01,"three\nlines\nhere",3\n'    # lines 5-7
                   'd,2024-03-01,ab"c,4\n'                      # line 8: a stray quote: runs on to the next quote
                   'e,2024-03-01,after,5\n'
                   'f,2024-03-01,y"z,6\n'                       # its quote closes it at line 10
                   'g,2024-03-01,last,7\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    report = evaluate_file(book, src, out)
    records = read_lines(out)
    assert [r.get("line") for r in records] == [None, 4, None, 8, None]
    assert records[0]["values"]["echo"] == "two\nlines" and records[2]["values"]["echo"] == "three\nlines\nhere"
    assert records[1]["case"] == "b" and "count" in records[1]["error"]
    assert records[3]["case"] == "d" and "lines 8–10 were read as one record" in records[3]["error"]
    assert records[4]["case"] == "g"
    assert (report.cases, report.failures) == (5, 2)
    # an unclosed quote at the end of the file
    src.write_text('id,day,note,count\na,2024-03-01,ok,1\nb,2024-03-01,"open\nnever closed,2\n', encoding="utf-8")
    evaluate_file(book, src, out)
    records = read_lines(out)
    assert records[0]["values"]["echo"] == "ok"
    assert records[1]["line"] == 3 and "not valid CSV" in records[1]["error"] and "lines 3–4" in records[1]["error"]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(st.text(alphabet='ab ,"\n\r', max_size=12), min_size=2, max_size=2),
                     min_size=1, max_size=40),
       pieces=st.integers(min_value=2, max_value=9))
def test_csv_ranges_start_where_the_csv_module_starts_a_record(rows: list[list[str]], pieces: int) -> None:
    import csv as csv_module
    import tempfile

    from passendezorg.batch import line_ranges

    starts = {}
    data = b""
    line = 1
    for row in rows:
        buf = io.StringIO()
        csv_module.writer(buf, lineterminator="\n").writerow(row)
        starts[len(data)] = line
        text = buf.getvalue().encode("utf-8")
        data += text
        line += text.count(b"\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        path.write_bytes(data)
        ranges = line_ranges(path, 0, len(data), pieces, quoted=True)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
    for (a, b, first), nxt in zip(ranges, ranges[1:] + [(len(data), 0, 0)]):
        assert a in starts and starts[a] == first
        assert b == nxt[0]


# ------------------------------------------------------------------ in process


def test_iter_fast_matches_the_interpreter() -> None:
    book = load_rules(CLAIMS6)
    cs = claims(200, seed=3)
    cs[10] = {k: v for k, v in cs[10].items() if k != "digital"}
    cs[11] = {**cs[11], "insured_age": "old"}
    got = list(iter_fast(book, ({"input": {k: v for k, v in c.items() if k != "id"}} for c in cs), DAY))
    assert len(got) == 200
    assert isinstance(got[11], CaseFailure) and "insured_age" in got[11].error
    for c, d in zip(cs, got):
        if isinstance(d, CaseFailure):
            continue
        assert isinstance(d, FastDecision)
        facts = {k: v for k, v in c.items() if k != "id"}
        assert d.as_json() == reference(book, facts, DAY, None)  # type: ignore[arg-type]
    assert not got[10].fast and got[0].fast  # type: ignore[union-attr]


def test_evaluate_many_on_two_workers_gives_what_one_gives() -> None:
    book = load_rules(CLAIMS6)
    cs: list[dict[str, Any]] = [{"input": {k: v for k, v in c.items() if k != "id"}, "name": str(c["id"])}
                                for c in claims(6000, seed=5)]
    del cs[100]["input"]["amount_cents"]  # the interpreter decides the tariffs
    cs[4500]["input"]["session_no"] = "many"  # malformed: a failure in its place
    one = evaluate_many(book, cs, on=DAY)
    two = evaluate_many(book, iter(cs), jobs=2, on=DAY)
    assert len(one) == len(two) == 6000
    assert [x.model_dump() if isinstance(x, CaseFailure) else x.as_json() for x in one] == \
        [x.model_dump() if isinstance(x, CaseFailure) else x.as_json() for x in two]
    assert isinstance(two[4500], CaseFailure) and "session_no" in two[4500].error
    assert isinstance(two[100], FastDecision) and not two[100].fast and two[100].status["tariff"] == "undetermined"
    assert [x.case for x in two[:3]] == ["0", "1", "2"]


def _shipped_cases() -> list[Path]:
    rules = ROOT / "rules"
    if not (rules.is_dir() and (ROOT / "cases").is_dir()) or check_path(rules).program is None:
        return []
    return list(iter_case_paths([ROOT / "cases"]))


def test_shipped_cases_through_the_typer_and_the_fast_path() -> None:
    paths = _shipped_cases()
    if not paths:
        pytest.skip("no shipped rule book and cases")
    book = load_rules(ROOT / "rules")
    typed = compile_typer(book.program)
    ev = _Evaluator(book)
    fast = 0
    for p in paths:
        case = read_case_file(p)
        _c, inputs, day = book.prepare(case)
        assert typed(case.input) == inputs
        decided = ev.decide({"input": dict(case.input), "name": case.name}, None, str(p))
        assert isinstance(decided, FastDecision)
        assert decided.as_json() == reference(book, inputs, day, case.name)  # type: ignore[arg-type]
        fast += decided.fast
    assert fast >= len(paths) // 3


# ------------------------------------------------------------------ the compiled typer


_ANY_FACT = st.one_of(st.none(), st.booleans(), st.integers(-3, 30), st.floats(allow_nan=False, width=16),
                      st.sampled_from(["2024-05-01", "1990-02-30", "gp", "physio", "COPD", "12,50", "€ 3", "x"]),
                      st.lists(st.sampled_from(["a", "b", "z"]), max_size=3))


@settings(max_examples=300, deadline=None)
@given(person=st.dictionaries(st.sampled_from(["birth", "brith"]), _ANY_FACT, max_size=2),
       claim=st.dictionaries(st.sampled_from(["date", "kind", "sessions", "amount", "factor", "code", "digital",
                                              "tags", "extra"]), _ANY_FACT, max_size=9),
       top=st.sampled_from(["dict", "none", "missing", "scalar"]))
def test_typer_gives_what_typed_inputs_gives(person: dict[str, Any], claim: dict[str, Any], top: str) -> None:
    program = _basic_program()
    facts: dict[str, Any] = {"claim": claim}
    facts["person"] = {"dict": person, "none": None, "scalar": 3}.get(top, person) if top != "missing" else None
    if top == "missing":
        del facts["person"]
    typed = compile_typer(program)(facts)
    try:
        expected = typed_inputs(facts, program.inputs)
    except CaseError:
        assert typed is None
        return
    if typed is not None:
        assert typed == expected
        assert all(type(typed[k]) is type(expected[k]) for k in typed)


_BASIC: list[Any] = []


def _basic_program() -> Any:
    if not _BASIC:
        _BASIC.append(load_rules(BASIC).program)
    return _BASIC[0]


def test_the_library_fast_path_agrees_with_full_decisions() -> None:
    """RuleBook.decide_many (compiled, on two workers) gives the values and deciding rules that evaluate gives."""
    import passendezorg

    book = passendezorg.load_rules(ROOT / "rules", cache=True)
    shipped = [read_case_file(p) for p in iter_case_paths([ROOT / "cases"])]
    count = len(shipped)
    cases = shipped * 25  # > 4096: the workers run
    fast = book.decide_many(cases, jobs=2)
    assert len(fast) == len(cases)
    for case, got in list(zip(cases, fast))[:count]:
        assert isinstance(got, passendezorg.FastDecision)
        full = book.evaluate(case)
        for name, o in full.outputs.items():
            assert got.rules[name] == (o.rule.name if o.rule else None), (case.path, name)
            if o.status == "value":
                assert got.values[name] == o.value, (case.path, name)  # one Python type in both
                assert type(got.values[name]) is type(o.value), (case.path, name)
            else:
                assert got.status.get(name) == o.status, (case.path, name)
    assert [d.as_json() for d in fast[:count]] == [d.as_json() for d in fast[count:2 * count]]  # deterministic
