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

import test_differential as td  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

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
        except CaseError as e:
            lines.append(json.dumps({"error": str(e)}))
            continue
        results = Evaluation(book.program, inputs, day, trace=False).run()
        lines.append(outs.from_outcomes(str(k + 1), results).to_json())
    return lines


def assert_frame_same(book: RuleBook, cases: list[tuple[dict[str, Any], dt.date]]) -> None:
    df = frame_of(book.program, cases)
    got, _report = decide_lines(book, df, case=pl.int_range(1, pl.len() + 1).cast(pl.String))
    want = reference_lines(book, df)
    if got.to_list() != want:
        df.write_parquet("/tmp/fail.parquet")
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


@td.diff_settings(100)
@given(data=st.data())
def test_generated_cases_for_the_shipped_book(shipped: RuleBook, data: st.DataObject) -> None:
    cases = [data.draw(td.case_for(shipped.program, missing=data.draw(st.sampled_from([0.0, 0.05, 0.3]))))
             for _ in range(10)]
    assert_frame_same(shipped, cases)
