"""Spark: a DataFrame decided on the executors (local[2]) gives decide_frame's answers row by row; the rule book
travels as its files and is checked by content hash.

The Spark tests need Java (CI installs Debian's JRE, .ci/java.sh) and pyspark (the extra `spark`); without
either they are skipped, saying which is missing. They take about a minute, so they run only with
``PASSENDEZORG_SPARK=1`` (``.ci/run`` sets it after the README's test command). One SparkSession serves the
module; it and its JVM are stopped at the end, and the test checks that no JVM or Python worker is left behind.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import shutil
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pl = pytest.importorskip("polars", reason="Spark decisions need the extra `columnar` (polars, pyarrow)")

from passendezorg.cases import read_case_file  # noqa: E402
from passendezorg.errors import CaseError, PassendeZorgError, UsageError  # noqa: E402
from passendezorg.frames import decide_frame  # noqa: E402
from passendezorg.rulebook import RuleBook, load_rules  # noqa: E402
from passendezorg.spark import ArrowDecider, ShippedBook, output_schema  # noqa: E402
from test_columnar import frame_of  # noqa: E402
from test_differential import SHIPPED, SHIPPED_WHY, _case_files  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLAIMS6 = ROOT / "bench" / "claims6"
DAY = dt.date(2024, 1, 1)


def _descendants(pid: int) -> list[tuple[int, str]]:
    """Processes below ``pid`` (from /proc), with their command lines."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    out = []
    for p in parents:
        q = parents.get(p)
        while q and q != pid:
            q = parents.get(q)
        if q == pid:
            out.append((p, commands.get(p, "")))
    return out


def _spark_processes() -> list[tuple[int, str]]:
    return [(p, c) for p, c in _descendants(os.getpid()) if "java" in c or "pyspark" in c]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    if os.environ.get("PASSENDEZORG_SPARK") != "1":
        pytest.skip("the Spark tests start a JVM and take about a minute: set PASSENDEZORG_SPARK=1 to run them "
                    "(.ci/run does)")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java: no `java` on PATH (CI installs Debian's default-jre-headless: .ci/java.sh)")
    pytest.importorskip("pyspark", reason='Spark decisions need pyspark: pip install "passendezorg[spark]"')
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable  # the executors run this interpreter, with passendezorg
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (SparkSession.builder.master("local[2]").appName("passendezorg-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.execution.arrow.maxRecordsPerBatch", "700")  # several batches per partition
               .config("spark.driver.memory", "512m").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    gateway = session.sparkContext._gateway
    try:
        yield session
    finally:
        session.stop()
        proc = getattr(gateway, "proc", None)
        gateway.shutdown()
        if proc is not None:  # the JVM ends when its standard input closes
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=60)
        SparkContext._gateway = None
        SparkContext._jvm = None
    left = _spark_processes()
    assert not left, f"Spark left processes running: {left}"


pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")


def _spark_frame(spark: Any, df: Any) -> Any:
    """A Spark DataFrame of a Polars frame (integers as int64: Spark has no 128-bit integers)."""
    df = df.with_columns([pl.col(c).cast(pl.Int64) for c, t in df.schema.items() if t == pl.Int128])
    return spark.createDataFrame(df.to_arrow())


def _same_rows(got: Any, want: Any) -> None:
    assert got.columns == want.columns
    assert got.height == want.height
    for k, (g, w) in enumerate(zip(got.iter_rows(named=True), want.iter_rows(named=True))):
        assert g == w, f"row {k}:\n spark        {g}\n decide_frame {w}"


def _claims(n: int) -> Any:
    import random

    rnd = random.Random(14)
    rows = []
    for i in range(n):
        rows.append({"id": i, "insured_age": rnd.randint(0, 95), "setting": rnd.choice(["gp", "hospital", "home"]),
                     "treatment": rnd.choice(["physio", "dental", "lab", "smoking_cessation"]),
                     "belongs_with_gp": rnd.random() < 0.5, "chronic_list": rnd.random() < 0.3,
                     "session_no": None if i % 89 == 0 else rnd.randint(1, 40), "digital": rnd.random() < 0.25,
                     "amount_cents": None if i % 97 == 0 else rnd.randint(500, 250_000)})
    return pl.DataFrame(rows)


def test_claims_on_the_executors_as_decide_frame(spark: Any) -> None:
    from passendezorg.spark import decide_spark

    book = load_rules(CLAIMS6)
    claims = _claims(4000)
    out = decide_spark(_spark_frame(spark, claims), book, on=DAY, keep=["id"])
    assert out.columns == ["id", *output_schema(book.program).names]
    got = pl.from_arrow(out.toArrow()).sort("id")
    assert got["id"].to_list() == claims["id"].to_list()
    want = decide_frame(book, claims, on=DAY)
    _same_rows(got.drop("id"), want)
    assert got.filter(pl.col("tariff.status") == "undetermined")["tariff.needs"].to_list()[0] == ["amount_cents"]


def _shipped_cases(book: RuleBook) -> Any:
    cases = []
    for path in _case_files():
        try:
            _case, inputs, day = book.prepare(read_case_file(path))
        except CaseError:
            continue
        cases.append((inputs, day))
    frame = frame_of(book.program, cases)
    return frame.with_columns(pl.int_range(pl.len()).alias("id"))


def test_shipped_book_and_a_scenario_on_the_executors(spark: Any) -> None:
    """Every sample case, with dotted names, dates and amounts; under the law in force and under a scenario, whose
    files travel with it."""
    from passendezorg.spark import decide_spark

    if SHIPPED is None:
        pytest.skip(SHIPPED_WHY)
    frame = _shipped_cases(SHIPPED)
    sdf = _spark_frame(spark, frame)
    for book in (SHIPPED, SHIPPED.with_scenario("eerstelijnstarief")):
        got = pl.from_arrow(decide_spark(sdf, book).toArrow()).sort(pl.col("case").cast(pl.Int64))
        want = decide_frame(book, frame)
        # a decimal that is not an amount travels as its exact text (its scale differs per batch)
        texts = [o for o in book.program.outputs if book.program.values[o].type.kind == "decimal"]
        assert texts, "the shipped book has a decimal output, so this checks how one travels"
        want = want.with_columns([pl.col(o).cast(pl.Utf8) for o in texts])
        _same_rows(got, want)
    assert got["scenario"].unique().to_list() == ["eerstelijnstarief"]


def test_a_misspelt_column_is_named_before_anything_runs(spark: Any) -> None:
    from passendezorg.spark import decide_spark

    book = load_rules(CLAIMS6)
    sdf = _spark_frame(spark, _claims(3).rename({"setting": "settng"}))
    with pytest.raises(UsageError, match="`settng`"):
        decide_spark(sdf, book, on=DAY)
    with pytest.raises(UsageError, match="`claim_no`"):
        decide_spark(sdf, book, on=DAY, keep=["claim_no"])


# ---------------------------------------------------------------- without Spark: the book as files, the Arrow function


def test_the_book_travels_as_its_files_and_is_checked_once_per_process() -> None:
    book = load_rules(ROOT / "rules") if (ROOT / "rules").is_dir() else load_rules(CLAIMS6)
    shipped = ShippedBook.of(book)
    again = pickle.loads(pickle.dumps(shipped))
    rebuilt = again.book()
    assert rebuilt.content_hash == book.content_hash and rebuilt is not book
    assert ShippedBook.of(book).book() is rebuilt  # kept by content hash
    first = sorted(shipped.files)[0]
    changed = {**shipped.files, first: b"# changed\n" + shipped.files[first]}
    with pytest.raises(PassendeZorgError, match="content hash"):  # files that are not the ones the hash names
        ShippedBook(changed, "sha256:" + "0" * 64).book()
    with pytest.raises(PassendeZorgError, match="outside"):
        ShippedBook({"../x.pz": b""}, "sha256:0").book()


def test_the_arrow_function_pickles_small_and_decides_as_decide_frame() -> None:
    book = load_rules(CLAIMS6)
    claims = _claims(500)
    decider = pickle.loads(pickle.dumps(ArrowDecider(book, on=DAY, keep=["id"])))
    assert len(pickle.dumps(decider)) < 20_000
    got = pl.from_arrow(decider(claims.to_arrow()))
    assert got.schema["tariff"] == pl.Int64 and got["id"].to_list() == claims["id"].to_list()
    _same_rows(got.drop("id"), decide_frame(book, claims, on=DAY))
    batches = list(decider.batches(claims.to_arrow().to_batches(max_chunksize=128)))
    assert sum(b.num_rows for b in batches) == 500


CLAIM_LINES = """language english
ruleset lines
  source s "S"
group line in claim.lines
  field code : one of consult, test, scan
  field amount : money
input claim.day : date
peildatum claim.day
derived covered per line : boolean = line.code != scan
output total : money
output refund per line : money
output any_scan : boolean
rule t "the covered lines' total"
  source s "1"
  then total = sum(line.amount where line.covered)
rule r "a line's refund"
  source s "2"
  when line.covered
  then refund = line.amount * 0.9
rule a "a scan among the lines"
  source s "3"
  then any_scan = any(line.code = scan)
"""


def _lines_book(tmp_path: Path) -> tuple[RuleBook, Any]:
    (tmp_path / "lines.pz").write_text(CLAIM_LINES, encoding="utf-8")
    book = load_rules(tmp_path)
    records = [[{"code": "consult", "amount": "30.00"}, {"code": "scan", "amount": "120.00"}],
               [{"code": "test", "amount": None}], [], None, [{"code": "consult", "amount": "12.35"}] * 3]
    frame = pl.DataFrame({"id": list(range(len(records) * 60)), "claim.day": [DAY] * (len(records) * 60),
                          "claim.lines": records * 60})
    return book, frame


def test_the_arrow_function_decides_groups_of_facts_as_decide_frame(tmp_path: Path) -> None:
    """Lists of records (an array of structs per row) through the Arrow function: an output per record comes
    back as a list, as decide_frame gives it."""
    book, frame = _lines_book(tmp_path)
    got = pl.from_arrow(ArrowDecider(book, keep=["id"])(frame.to_arrow()))
    assert got.columns == ["id", *output_schema(book.program).names]
    assert got["total"][0] == Decimal("30.00") and got["refund.rules"][0].to_list() == ["r", None]
    assert got["refund"][0] is None and got["refund.status"][0] == "undetermined"  # a line no rule decides
    assert got["refund"][4].to_list() == [Decimal("11.12")] * 3  # 11.115 to the cent, half up
    assert got["total.needs"][1].to_list() == ["claim.lines[0].amount"] and got["any_scan"][2] is False
    assert got["total.needs"][3].to_list() == ["claim.lines"] and got["refund"][2].to_list() == []
    _same_rows(got.drop("id"), decide_frame(book, frame))


def test_groups_of_facts_on_the_executors(spark: Any, tmp_path: Path) -> None:
    from passendezorg.spark import decide_spark

    book, frame = _lines_book(tmp_path)
    out = decide_spark(spark.createDataFrame(frame.to_arrow()), book, keep=["id"])
    got = pl.from_arrow(out.toArrow()).sort("id")
    _same_rows(got.drop("id"), decide_frame(book, frame))
