"""The columnar engine: the same compact decisions as the compiled engine and the interpreter, on frames.

Generated rule books (the generators of test_differential) with generated cases, every case in cases/ with the
shipped rule book, frames of every kind, and rows the plan hands to the compiled engine.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pl = pytest.importorskip("polars", reason="the columnar engine needs the extra `columnar` (polars, pyarrow)")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import test_differential as td  # noqa: E402
import test_groups as tg  # noqa: E402
from passendezorg.batch import _Outputs, compiled  # noqa: E402
from passendezorg.cases import read_case_file, typed_inputs  # noqa: E402
from passendezorg.engines.interpreter import Evaluation  # noqa: E402
from passendezorg.errors import CaseError  # noqa: E402
from passendezorg.frames import decide_frame, decide_lines  # noqa: E402
from passendezorg.program import Program  # noqa: E402
from passendezorg.rulebook import RuleBook, check_path, load_rules  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLAIMS6 = ROOT / "bench" / "claims6"


def dtype_of(t: Any) -> Any:
    k = t.kind
    return {"boolean": pl.Boolean, "integer": pl.Int128, "date": pl.Date, "text": pl.String, "enum": pl.String,
            "money": pl.Decimal(38, 2)}.get(k) or (pl.List(pl.String) if k == "list" else None)


def frame_of(program: Program, cases: list[tuple[dict[str, Any], dt.date]]) -> Any:
    """The cases as a frame: a column per input (dotted names), and `on`, the day each case is read on."""
    cols: dict[str, Any] = {}
    for name, decl in program.inputs.items():
        values = [inputs.get(name) for inputs, _day in cases]
        dtype = dtype_of(decl.type)
        if decl.type.kind == "decimal":
            scale = max([max(-v.as_tuple().exponent, 0) for v in values if v is not None] or [0])  # type: ignore[operator]
            dtype = pl.Decimal(38, min(scale, 30))
        cols[name] = pl.Series(name, values, dtype=dtype)
    cols["on"] = pl.Series("on", [day for _i, day in cases], dtype=pl.Date)
    return pl.DataFrame(cols)


def reference_lines(book: RuleBook, df: Any) -> list[str]:
    """The compiled path's compact line of every row, from the interpreter on the facts the frame holds."""
    outs = _Outputs(compiled(book.program))
    lines = []
    for k, rec in enumerate(df.iter_rows(named=True)):
        day = rec.pop("on")
        facts = {name: v for name, v in rec.items() if v is not None}
        try:
            inputs = typed_inputs(facts, book.program.inputs)
        except CaseError as e:  # a fact no case may give (a negative amount, a number out of range): a failure record
            lines.append(json.dumps({"format": "passendezorg.failure/1", "case": str(k + 1), "line": k + 1,
                                     "error": str(e)}, ensure_ascii=False, separators=(",", ":")))
            continue
        results = Evaluation(book.program, inputs, day, trace=False).run()
        lines.append(outs.from_outcomes(str(k + 1), results).to_json())
    return lines


def assert_frame_same(book: RuleBook, cases: list[tuple[dict[str, Any], dt.date]]) -> None:
    df = frame_of(book.program, cases)
    got, _report = decide_lines(book, df, case=pl.int_range(1, pl.len() + 1).cast(pl.String))
    want = reference_lines(book, df)
    for k, (g, w) in enumerate(zip(got.to_list(), want)):
        assert g == w, f"row {k}: facts {df.row(k, named=True)}\n got  {g}\n want {w}"


@td.diff_settings(60)
@given(data=st.data(), text=td.rule_books())
def test_random_rule_books(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, text: str) -> None:
    folder = tmp_path_factory.mktemp("columnar_books")
    book = _book(text, folder)
    cases = [data.draw(td.case_for(book.program, missing=data.draw(st.sampled_from([0.0, 0.1, 0.4, 0.7]))))
             for _ in range(12)]
    assert_frame_same(book, cases)


_BOOKS: dict[str, RuleBook] = {}


def _book(text: str, folder: Path) -> RuleBook:
    if text not in _BOOKS:
        (folder / "codes.csv").write_text(td.TABLE_CSV, encoding="utf-8")
        (folder / "book.pz").write_text(text, encoding="utf-8")
        report = check_path(folder)
        assert report.program is not None, [d.render(report.sources) for d in report.errors]
        if len(_BOOKS) > 8:
            _BOOKS.clear()
        _BOOKS[text] = RuleBook(report.program)
    return _BOOKS[text]


@pytest.fixture(scope="module")
def shipped() -> RuleBook:
    if td.SHIPPED is None:
        pytest.skip(td.SHIPPED_WHY)
    return td.SHIPPED


def test_every_shipped_case(shipped: RuleBook) -> None:
    """Every case in cases/ with the shipped rule book, as one frame."""
    cases = []
    for path in td._case_files():
        try:
            _case, inputs, day = shipped.prepare(read_case_file(path))
        except CaseError:
            continue
        cases.append((inputs, day))
    assert len(cases) > 100
    assert_frame_same(shipped, cases)


def test_the_plan_decides_the_shipped_cases_itself(shipped: RuleBook) -> None:
    """Amounts, dated tables and parameters in the plan: only a few rows go to the compiled engine (a row that
    would give the plan a different answer is exactly what the differential tests catch)."""
    from passendezorg.frames import run

    cases = []
    for path in td._case_files():
        try:
            _case, inputs, day = shipped.prepare(read_case_file(path))
        except CaseError:
            continue
        cases.append((inputs, day))
    decided = run(shipped, frame_of(shipped.program, cases))
    assert decided.report.rows == len(cases) and decided.report.fallbacks <= len(cases) // 20, decided.report
    assert sum(decided.report.reasons.values()) == decided.report.fallbacks  # every row that left says why


@settings(max_examples=td.examples(60), deadline=None, derandomize=not td.EXAMPLES,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_cases_for_the_shipped_book(shipped: RuleBook, data: st.DataObject) -> None:
    cases = [data.draw(td.case_for(shipped.program, missing=data.draw(st.sampled_from([0.0, 0.05, 0.3]))))
             for _ in range(4)]
    assert_frame_same(shipped, cases)


# ---------------------------------------------------------------- files and the command line


def _claims_file(tmp_path: Path, n: int = 3000) -> Path:
    import random

    rnd = random.Random(7)
    rows = []
    for i in range(n):
        c = {"id": i, "insured_age": rnd.randint(0, 95), "setting": rnd.choice(["gp", "hospital", "home"]),
             "treatment": rnd.choice(["physio", "dental", "lab", "smoking_cessation"]),
             "belongs_with_gp": rnd.random() < 0.5, "chronic_list": rnd.random() < 0.3,
             "session_no": rnd.randint(1, 40), "digital": rnd.random() < 0.25, "amount_cents": rnd.randint(500, 9000)}
        if i % 97 == 0:
            del c["amount_cents"]  # missing: undetermined, with the input it needs
        rows.append(json.dumps(c))
    rows[5] = "{not json"
    rows[9] = json.dumps({"id": 9, "treatmnt": "physio"})  # misspelt: a failure record
    rows[11] = json.dumps({"id": 11, "session_no": "twenty"})  # wrong type: a failure record
    src = tmp_path / "claims.jsonl"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return src


def test_json_lines_byte_for_byte_as_the_compiled_path(tmp_path: Path) -> None:
    from passendezorg.batch import evaluate_file
    from passendezorg.columnar_files import evaluate_columnar

    book = load_rules(CLAIMS6)
    src = _claims_file(tmp_path)
    ref, got = tmp_path / "ref.jsonl", tmp_path / "got.jsonl"
    evaluate_file(book, src, ref, jobs=1, on=dt.date(2024, 1, 1))
    report, _s = evaluate_columnar(book, src, got, on=dt.date(2024, 1, 1))
    assert got.read_bytes() == ref.read_bytes()
    assert report.rows == 3000 and report.failures == 3


def test_parquet_in_parquet_and_json_lines_out(tmp_path: Path) -> None:
    from passendezorg.batch import evaluate_file
    from passendezorg.columnar_files import evaluate_columnar

    book = load_rules(CLAIMS6)
    src = _claims_file(tmp_path)
    good = [line for line in src.read_text(encoding="utf-8").splitlines() if line.startswith('{"id"')
            and "treatmnt" not in line and "twenty" not in line]
    clean = tmp_path / "clean.jsonl"
    clean.write_text("\n".join(good) + "\n", encoding="utf-8")
    pq = tmp_path / "claims.parquet"
    pl.read_ndjson(clean).write_parquet(pq)
    ref, got = tmp_path / "ref.jsonl", tmp_path / "got.jsonl"
    evaluate_file(book, clean, ref, jobs=1, on=dt.date(2024, 1, 1))
    evaluate_columnar(book, pq, got, on=dt.date(2024, 1, 1))
    assert got.read_bytes() == ref.read_bytes()
    out = tmp_path / "out.parquet"
    evaluate_columnar(book, pq, out, on=dt.date(2024, 1, 1))
    frame = pl.read_parquet(out)
    first = json.loads(ref.read_text(encoding="utf-8").splitlines()[0])
    assert frame["case"][0] == first["case"] and frame["tariff"][0] == first["values"]["tariff"]
    assert frame["insured.rule"][0] == first["rules"]["insured"]


def test_decide_frame_gives_the_kind_it_takes() -> None:
    import pyarrow as pa

    pd = pytest.importorskip("pandas")
    book = load_rules(CLAIMS6)
    facts = {"insured_age": [30, 10], "setting": ["gp", "hospital"], "treatment": ["physio", "physio"],
             "belongs_with_gp": [True, True], "chronic_list": [False, True], "session_no": [3, None],
             "digital": [False, True], "amount_cents": [4000, 4000]}
    df = pl.DataFrame(facts)
    out = decide_frame(book, df, on=dt.date(2024, 1, 1))
    assert isinstance(out, pl.DataFrame)
    assert out["insured"].to_list() == [False, None] and out["insured.rule"].to_list() == ["R1", None]
    assert out["insured.status"][1] == "undetermined" and out["insured.needs"][1].to_list() == ["session_no"]
    assert out["tariff"].to_list() == [4000, 1000] and out["tariff.rule"].to_list() == [None, "R6"]
    assert isinstance(decide_frame(book, df.to_arrow(), on=dt.date(2024, 1, 1)), pa.Table)
    as_pandas = decide_frame(book, df.to_pandas(), on=dt.date(2024, 1, 1))
    assert isinstance(as_pandas, pd.DataFrame) and list(as_pandas["insured.rule"])[0] == "R1"


def test_an_unknown_column_is_named() -> None:
    from passendezorg.errors import UsageError

    book = load_rules(CLAIMS6)
    with pytest.raises(UsageError, match="`insured_agе`"):
        decide_frame(book, pl.DataFrame({"insured_agе": [3]}), on=dt.date(2024, 1, 1))


def test_amounts_stay_exact(tmp_path: Path) -> None:
    """Money in Decimal columns, rounded once to the cent, half up; never a float on the way."""
    from conftest import write_files

    write_files(tmp_path, {"r.pz": """
        language english
        ruleset money
          source s "S"
        input c.amount : money
        input c.day : date
        peildatum c.day
        output share : money
        output refund : money
        rule r1 "a third"
          source s "1"
          then share = c.amount * 0.335
        rule r2 "a third back"
          source s "2"
          then refund = c.amount * -0.335
        """})
    book = load_rules(tmp_path)
    df = pl.DataFrame({"c.amount": [Decimal("0.10"), Decimal("100.01"), Decimal("0.01")],
                       "c.day": [dt.date(2024, 1, 1)] * 3}, schema={"c.amount": pl.Decimal(38, 2), "c.day": pl.Date})
    out = decide_frame(book, df)
    assert out["share"].to_list() == [Decimal("0.03"), Decimal("33.50"), Decimal("0.00")]
    assert out["refund"].to_list() == [Decimal("-0.03"), Decimal("-33.50"), Decimal("-0.00")]


def test_rows_that_leave_the_plan_say_why(tmp_path: Path) -> None:
    """A row the plan does not decide exactly is decided by the compiled engine, and the report (of
    ``decide_frame`` and of ``evaluate --engine columnar``) says which value and why."""
    from click.testing import CliRunner

    from conftest import write_files
    from passendezorg.cli import main
    from passendezorg.frames import FrameReport

    write_files(tmp_path / "rules", {"r.pz": """
        language english
        ruleset money
          source s "S"
        input c.amount : money
        input c.day : date
        peildatum c.day
        output refund : money
        rule r2 "a third back"
          source s "2"
          then refund = c.amount * -0.335
        """})
    book = load_rules(tmp_path / "rules")
    df = pl.DataFrame({"c.amount": [Decimal("100.01"), Decimal("0.01")], "c.day": [dt.date(2024, 1, 1)] * 2},
                      schema={"c.amount": pl.Decimal(38, 2), "c.day": pl.Date})
    report = FrameReport()
    out = decide_frame(book, df, report=report)
    assert out["refund"].to_list() == [Decimal("-33.50"), Decimal("-0.00")]  # -0.00: Decimal keeps the sign
    assert report.rows == 2 and report.fallbacks == 1
    assert report.reasons == {"`refund`: a negative zero after rounding": 1}
    df.write_parquet(tmp_path / "cases.parquet")
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path / "cases.parquet"), "--rules", str(tmp_path / "rules"),
                                       "--engine", "columnar", "--out", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    assert "1 decided one by one by the compiled engine (1 × `refund`: a negative zero after rounding)" in result.output


def test_shipped_cases_as_json_lines_byte_for_byte_also_under_a_scenario(shipped: RuleBook, tmp_path: Path) -> None:
    """Every sample case as a JSON line (nested facts, amounts as text): the same bytes as the compiled path,
    under the law in force and under a scenario (whose name every line carries)."""
    from passendezorg.batch import evaluate_file
    from passendezorg.columnar_files import evaluate_columnar

    lines = []
    for k, path in enumerate(td._case_files()):
        case = read_case_file(path)
        lines.append(json.dumps({"id": case.name or str(k), **case.input}, default=str, ensure_ascii=False))
    src = tmp_path / "cases.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for book in (shipped, shipped.with_scenario("eerstelijnstarief")):
        ref, got = tmp_path / "ref.jsonl", tmp_path / "got.jsonl"
        evaluate_file(book, src, ref, jobs=1)
        report, _s = evaluate_columnar(book, src, got)
        assert got.read_bytes() == ref.read_bytes()
        assert report.rows == len(lines)
    assert '"scenario":"eerstelijnstarief"}' in got.read_text(encoding="utf-8").splitlines()[0]


def test_membership_of_a_value_that_is_never_known(tmp_path: Path) -> None:
    """`v in [a, a]` where `v` has no rule at all: undetermined in the plan as in the compiled engine
    (a generated rule book once gave the plan `None | None`)."""
    book = _book("""language english
input c.day : date
input c.kind : one of alpha, beta
peildatum c.day
output v1 : one of alpha, beta
output o : boolean
  default false
rule r2 "member"
  source "s"
  when v1 in [alpha, alpha]
  then o = true
""", tmp_path)
    assert_frame_same(book, [({"c.day": dt.date(2025, 1, 1), "c.kind": k}, None) for k in ("alpha", "beta", None)])


# ---------------------------------------------------------------- groups of facts


def grouped_reference(book: RuleBook, cases: list[dict[str, Any]]) -> list[str]:
    """The compact line of every case from the interpreter: on the rule book written out for the case's shape
    (whose outcomes are the interpreter's on the rule book itself: test_groups), put under the rule book's outputs."""
    from passendezorg.batch import regroup
    from passendezorg.cases import case_from_data
    from passendezorg.engines.expand import restore, written_out

    lines = []
    for k, data in enumerate(cases):
        _case, inputs, day = book.prepare(case_from_data(data, "c"))
        written = written_out(book.program, inputs)
        outcomes = restore(Evaluation(written, inputs, day, trace=False).run())
        d = _Outputs(compiled(written)).from_outcomes(str(k + 1), outcomes)
        lines.append(regroup(book.program, d, inputs).to_json())
    return lines


def grouped_frame(cases: list[dict[str, Any]]) -> Any:
    """Case data with lists of records as a frame: the group as a list of structs (``c.items``)."""
    from passendezorg.frames import flatten

    return flatten(pl.from_dicts([c["input"] for c in cases], infer_schema_length=None))


@td.diff_settings(25)
@given(data=st.data(), text=tg.rule_books())
def test_random_rule_books_with_groups(data: st.DataObject, text: str, tmp_path_factory: pytest.TempPathFactory
                                       ) -> None:
    """Generated rule books with groups of facts (values per record, aggregates with conditions, records and
    fields left out) and generated cases: every line of the columnar engine the interpreter's."""
    book = tg.book_of(text, tmp_path_factory.mktemp("grouped"))
    cases = [data.draw(tg.cases()) for _ in range(8)]
    df = grouped_frame(cases)
    got, report = decide_lines(book, df, case=pl.int_range(1, pl.len() + 1).cast(pl.String))
    want = grouped_reference(book, cases)
    for k, (g, w) in enumerate(zip(got.to_list(), want)):
        assert g == w, f"row {k}: facts {cases[k]}\n got  {g}\n want {w}\n{text}"
    assert report.rows == len(cases)


def test_files_with_groups_of_facts_as_the_compiled_path(tmp_path: Path) -> None:
    """Lists of records in Parquet (an array of structs) and in JSON lines (nested objects): the same lines as
    ``evaluate FILE`` writes; a CSV file, which cannot hold records, is refused naming the group."""
    from passendezorg.batch import evaluate_file
    from passendezorg.columnar_files import evaluate_columnar
    from passendezorg.errors import UsageError
    from test_spark import CLAIM_LINES

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "lines.pz").write_text(CLAIM_LINES, encoding="utf-8")
    book = load_rules(tmp_path / "rules")
    records = [[{"code": "consult", "amount": "30.00"}, {"code": "scan", "amount": "120.00"}],
               [{"code": "test"}], [], None, [{"code": "consult", "amount": "12.35"}] * 3,
               [{"code": "xray", "amount": "1.00"}]]  # not one of the codes: a failure record
    rows = [{"id": str(k), "claim": {"day": "2024-03-01", **({"lines": r} if r is not None else {})}}
            for k, r in enumerate(records * 5)]
    src = tmp_path / "claims.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    ref, got = tmp_path / "ref.jsonl", tmp_path / "got.jsonl"
    evaluate_file(book, src, ref, jobs=1)
    report, _s = evaluate_columnar(book, src, got)
    assert got.read_bytes() == ref.read_bytes()
    assert report.rows == 30 and report.failures == 5 and report.fallbacks == 0, report
    pq = tmp_path / "claims.parquet"
    pl.DataFrame([r for r in rows if r["claim"].get("lines") != records[-1]]).write_parquet(pq)
    clean = tmp_path / "clean.jsonl"
    clean.write_text("\n".join(json.dumps(r) for r in rows if r["claim"].get("lines") != records[-1]) + "\n",
                     encoding="utf-8")
    evaluate_file(book, clean, ref, jobs=1)
    report, _s = evaluate_columnar(book, pq, got)
    assert got.read_bytes() == ref.read_bytes() and report.fallbacks == 0
    out = tmp_path / "out.parquet"
    evaluate_columnar(book, pq, out)
    assert pl.read_parquet(out)["refund"][4].to_list() == [Decimal("11.12")] * 3
    csv = tmp_path / "claims.csv"
    csv.write_text("id,claim.day\n1,2024-03-01\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"CSV file cannot hold the records of the group `claim\.lines`"):
        evaluate_columnar(book, csv, got)


QUOTIENTS = """language english
input c.a : money
input c.b : integer
input c.k : integer
input c.day : date
peildatum c.day
derived q : decimal
output whole : integer
output rest_is_half : boolean
output above : boolean
output shifted : integer
output paid : money
output low : money
output exact_share : decimal
rule share "a share"
  source "s"
  when c.b != 7
  then q = c.a / € 1.00 * c.k / c.b
rule seventh "a seventh"
  source "s"
  when c.b = 7
  then q = c.a / € 7.00
rule rounded "rounded"
  source "s"
  then whole = round(q)
rule half "exactly half"
  source "s"
  then rest_is_half = q - round_down(q) = 0.5
rule is_above "above"
  source "s"
  then above = 1 - q < c.k / 3
rule shift "shifted"
  source "s"
  then shifted = round(-(q + c.k) * 2, half even)
rule pay "paid"
  source "s"
  then paid = c.a * c.k / c.b
rule lower "the lower"
  source "s"
  then low = min(q * € 1.00, c.a) if q > 2 else c.a / 4
rule eighth "a share that may end"
  source "s"
  then exact_share = c.a / € 8.00
"""


@settings(max_examples=td.examples(40), deadline=None, derandomize=not td.EXAMPLES,
          suppress_health_check=list(HealthCheck))
@given(rows=st.lists(st.tuples(st.sampled_from(["0.00", "0.01", "7.50", "385.00", "123.45", "1000000.00"]),
                               st.sampled_from([0, 1, 3, 7, 365, 366, -4]), st.integers(-3, 400),
                               st.booleans()), min_size=1, max_size=12))
def test_quotients_as_the_interpreter(tmp_path_factory: pytest.TempPathFactory,
                                      rows: list[tuple[str, int, int, bool]]) -> None:
    """A quotient held as its dividend and divisor: rounded, compared, added to, stored as an amount, in a
    conditional value and in min, on the edges (a zero divisor, an exact half, a negative zero, a value held
    as a quotient): the interpreter's answers."""
    book = _book(QUOTIENTS, tmp_path_factory.mktemp("quotients"))
    cases = [({"c.a": Decimal(a), "c.b": b, "c.k": k, "c.day": dt.date(2025, 1, 1)} if full else
              {"c.a": Decimal(a), "c.k": k, "c.day": dt.date(2025, 1, 1)}, dt.date(2025, 1, 1))
             for a, b, k, full in rows]
    assert_frame_same(book, cases)
