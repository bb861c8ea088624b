"""Decisions beyond one machine: a Spark DataFrame decided by the columnar engine on every executor.

``decide_spark(df, book)`` runs ``decide_frame`` (frames.py) on each Arrow
batch of a Spark DataFrame through ``mapInArrow``: the same answers, and the
same columns, as ``decide_frame`` and the Parquet output of
``evaluate FILE --engine columnar`` give on one machine. A group of facts is
an array of structs (one per record); an output per record comes back as an
array, with its records' deciding rules in ``o.rules``.

The rule book does not travel as Python objects. It travels as what it is
made of — the bytes of its rule and table files (a scenario's too) and its
content hash — in a Spark broadcast; each executor's Python process rebuilds
and checks it once, keeps it by content hash, and refuses files whose hash is
not the one the driver checked. The same ``ShippedBook`` and ``ArrowDecider``
work without Spark: with Ray's ``map_batches``, Dask's ``map_partitions`` or
any other engine that hands Python a batch of Arrow data.

Needs the extra ``spark`` (pyspark) for ``decide_spark``; ``ArrowDecider``
needs only the extra ``columnar``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import polars as pl
import pyarrow as pa

from .errors import PassendeZorgError, RuleBookError, UsageError
from .frames import SPECIAL, check_columns, decide_frame
from .program import Program
from .rulebook import RuleBook, check_path

# ------------------------------------------------------------------ the rule book as its files


_BOOKS: dict[str, RuleBook] = {}
_BOOKS_LOCK = threading.Lock()


class ShippedBook:
    """A checked rule book as the bytes of its files and its content hash: small to send to other machines, and
    rebuilt and checked there once per process (``book()``), kept by content hash."""

    def __init__(self, files: Mapping[str, bytes], content_hash: str, scenario: str | None = None) -> None:
        self.files = dict(files)
        self.content_hash = content_hash
        self.scenario = scenario

    @classmethod
    def of(cls, book: RuleBook) -> ShippedBook:
        """The files of a loaded rule book (under its scenario, if it is under one)."""
        program = book.program
        if not program.files:
            raise UsageError("this rule book has no files to ship (it was not loaded from a folder); "
                             "load it with load_rules(FOLDER)")
        return cls(program.files, program.content_hash, program.scenario.name if program.scenario else None)

    def book(self) -> RuleBook:
        """The rule book, checked in this process the first time and kept by its content hash."""
        with _BOOKS_LOCK:
            found = _BOOKS.get(self.content_hash)
            if found is None:
                found = self._rebuild()
                if len(_BOOKS) >= 8:
                    _BOOKS.clear()
                _BOOKS[self.content_hash] = found
            return found

    def _rebuild(self) -> RuleBook:
        prefix = f"scenarios/{self.scenario}/" if self.scenario is not None else None
        with tempfile.TemporaryDirectory(prefix="passendezorg-book-") as tmp:
            rules = Path(tmp) / "rules"
            scenarios = Path(tmp) / "scenarios"
            rules.mkdir()
            for name, data in self.files.items():
                rel = PurePosixPath(name)
                if rel.is_absolute() or ".." in rel.parts or not rel.parts:
                    raise PassendeZorgError(f"the shipped rule book names a file outside its folder: {name}")
                if prefix is not None and name.startswith(prefix):
                    dest = scenarios / self.scenario / name[len(prefix):]  # type: ignore[operator]
                else:
                    dest = rules / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
            report = check_path(rules, scenario=scenarios / self.scenario if self.scenario is not None else None)
        if report.program is None:
            raise RuleBookError(report.diagnostics, report.sources)
        if report.program.content_hash != self.content_hash:
            raise PassendeZorgError(f"the shipped rule book does not have the content hash it was sent with "
                                    f"({report.program.content_hash}, not {self.content_hash}): its files changed "
                                    "on the way, or name files outside the rules folder")
        return RuleBook(report.program, report.warnings)


# ------------------------------------------------------------------ Arrow batches in, Arrow batches out


def output_schema(program: Program) -> pa.Schema:
    """The Arrow schema of the decisions of a rule book, the same for every batch: ``case``, per output ``o`` its
    value, ``o.rule``, ``o.status``, ``o.needs`` and ``o.reason``, ``failure`` (and ``scenario`` under one).

    A value is typed by the output's type: booleans, integers (int64), amounts (decimal(38, 2)), dates, texts;
    a decimal that is not an amount is its exact text (as the JSON lines write it)."""
    fields = [pa.field("case", pa.string())]
    for o in program.outputs:
        per_record = program.values[o].group is not None  # a list: its value per record of the group
        t = _arrow_type(program.values[o].type)
        fields.append(pa.field(o, pa.list_(t) if per_record else t))
        fields.append(pa.field(f"{o}.rule", pa.string()))
        fields.append(pa.field(f"{o}.status", pa.string()))
        fields.append(pa.field(f"{o}.needs", pa.list_(pa.string())))
        fields.append(pa.field(f"{o}.reason", pa.string()))
        if per_record:
            fields.append(pa.field(f"{o}.rules", pa.list_(pa.string())))
    fields.append(pa.field("failure", pa.string()))
    if program.scenario is not None:
        fields.append(pa.field("scenario", pa.string()))
    return pa.schema(fields)


def _arrow_type(t: Any) -> pa.DataType:
    kind = t.kind
    if kind == "boolean":
        return pa.bool_()
    if kind == "integer":
        return pa.int64()
    if kind == "money":
        return pa.decimal128(38, 2)
    if kind == "date":
        return pa.date32()
    if kind == "list":
        return pa.list_(pa.string())
    return pa.string()  # text, one of, and decimals as exact text


def _conform(out: pl.DataFrame, program: Program) -> pl.DataFrame:
    """The decisions of one batch in the types of ``output_schema`` (Polars infers some of them per batch)."""
    casts = []
    for o in program.outputs:
        kind = program.values[o].type.kind
        col = pl.col(o)
        dtype = out.schema[o]
        if program.values[o].group is not None:  # per record: a list (records_frame gives it typed)
            if out.schema[f"{o}.needs"] != pl.List(pl.String):
                casts.append(pl.col(f"{o}.needs").cast(pl.List(pl.String)))
            continue
        if kind == "decimal" and dtype != pl.String:
            casts.append(col.cast(pl.String))
        elif kind == "list" and dtype != pl.List(pl.String):
            casts.append(col.cast(pl.List(pl.String)))
        elif kind == "money" and dtype != pl.Decimal(38, 2):
            casts.append(col.cast(pl.Decimal(38, 2)))
        elif kind == "date" and dtype != pl.Date:
            casts.append(col.cast(pl.Date))
        if out.schema[f"{o}.needs"] != pl.List(pl.String):
            casts.append(pl.col(f"{o}.needs").cast(pl.List(pl.String)))
    return out.with_columns(casts) if casts else out


class ArrowDecider:
    """``decide_frame`` as a function of Arrow data: a table or a record batch in, a table out (the columns of
    ``output_schema``, after the ``keep`` columns of the input as they are).

    It pickles as the rule book's files and content hash (see ShippedBook), so it can be handed to any engine
    that runs Python on batches of Arrow data on other processes or machines::

        decider = ArrowDecider(book)
        dataset.map_batches(decider, batch_format="pyarrow")      # Ray
    """

    def __init__(self, book: RuleBook | ShippedBook, *, on: dt.date | None = None, keep: Sequence[str] = ()) -> None:
        self.shipped = book if isinstance(book, ShippedBook) else ShippedBook.of(book)
        self.on = on
        self.keep = tuple(keep)

    def __call__(self, data: pa.Table | pa.RecordBatch) -> pa.Table:
        book = self.shipped.book()
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        missing = [c for c in self.keep if c not in table.column_names]
        if missing:
            raise UsageError(f"column `{missing[0]}` to keep is not in the data")
        program = book.program
        groups = {name.split(".")[0] for name in [*program.inputs, *program.groups]}
        carried = [c for c in self.keep if c not in program.inputs and c not in SPECIAL and c not in groups]
        facts = table.drop_columns(carried) if carried else table  # an input or id kept is a fact as well
        frame = pl.from_arrow(facts)
        assert isinstance(frame, pl.DataFrame)
        if frame.width == 0:
            frame = pl.DataFrame({"id": pl.Series([None] * table.num_rows, dtype=pl.String)})
        out = _conform(decide_frame(book, frame, on=self.on), book.program).to_arrow()
        schema = output_schema(book.program)
        out = out.select(schema.names).cast(schema)
        for k, name in enumerate(self.keep):
            out = out.add_column(k, table.schema.field(name), table.column(name))
        return out

    def batches(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Each batch decided: the function ``mapInArrow`` takes."""
        for batch in batches:
            if batch.num_rows:
                yield from self(batch).to_batches()


# ------------------------------------------------------------------ Spark


class _SparkTask:
    """What every executor runs: the batches of a partition, their columns named back (Spark cannot hand dotted
    names to a function), decided with the rule book from the broadcast."""

    def __init__(self, shipped: Any, names: list[str], on: dt.date | None, keep: tuple[str, ...]) -> None:
        self.shipped = shipped  # a Broadcast of a ShippedBook, or the ShippedBook itself (Spark Connect)
        self.names = names
        self.on = on
        self.keep = keep

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        shipped = self.shipped if isinstance(self.shipped, ShippedBook) else self.shipped.value
        decider = ArrowDecider(shipped, on=self.on, keep=self.keep)
        for batch in batches:
            if batch.num_rows:
                yield from decider(pa.RecordBatch.from_arrays(batch.columns, names=self.names)).to_batches()


def _flat_names(schema: Any, prefix: str = "") -> list[str]:
    from pyspark.sql.types import StructType

    out = []
    for f in schema.fields:
        if isinstance(f.dataType, StructType):
            out.extend(_flat_names(f.dataType, f"{prefix}{f.name}."))
        else:
            out.append(prefix + f.name)
    return out


def _spark_type(t: pa.DataType) -> Any:
    from pyspark.sql import types as st

    if pa.types.is_boolean(t):
        return st.BooleanType()
    if pa.types.is_int64(t):
        return st.LongType()
    if pa.types.is_decimal(t):
        return st.DecimalType(t.precision, t.scale)
    if pa.types.is_date32(t):
        return st.DateType()
    if pa.types.is_list(t):
        return st.ArrayType(_spark_type(t.value_type))
    return st.StringType()


def decide_spark(df: Any, book: RuleBook, *, on: dt.date | None = None, keep: Sequence[str] = ()) -> Any:
    """Decide every row of a Spark DataFrame with the columnar engine on the executors; a Spark DataFrame out.

    The columns are the rule book's inputs (dotted names or struct columns), and optionally ``id`` (or ``name``)
    and ``on`` (or ``peildatum``), as for ``decide_frame``; ``keep`` names input columns to carry over into the
    result unchanged (a claim number to join on, say). The result has the columns of ``output_schema``. The
    rule book goes to the executors as its files and content hash (a broadcast) and is checked there once per
    Python process.
    """
    from pyspark.sql import types as st

    keep = tuple(keep)
    names = list(df.columns)
    for c in keep:
        if c not in names:
            raise UsageError(f"column `{c}` to keep is not in the DataFrame")
    program = book.program
    groups = {name.split(".")[0] for name in [*program.inputs, *program.groups]}
    carried = {c for c in keep if c not in program.inputs and c not in SPECIAL and c not in groups}
    check_columns(program, [n for n in _flat_names(df.schema) if n.split(".")[0] not in carried and n not in carried])
    shipped = ShippedBook.of(book)
    try:
        carrier: Any = df.sparkSession.sparkContext.broadcast(shipped)
    except Exception:  # noqa: BLE001 - Spark Connect has no broadcast: the files go with each task instead
        carrier = shipped
    kept = {f.name: f for f in df.schema.fields}
    schema = st.StructType([kept[c] for c in keep] + [st.StructField(f.name, _spark_type(f.type), True)
                                                      for f in output_schema(book.program)])
    renamed = df.toDF(*[f"c{k}" for k in range(len(names))])  # dotted names do not reach the function otherwise
    task = _SparkTask(carrier, names, on, keep)
    with warnings.catch_warnings():
        # pyspark warns about the pandas version when a function maps Arrow batches; no pandas is used here
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        return renamed.mapInArrow(task, schema)


__all__ = ["ArrowDecider", "ShippedBook", "decide_spark", "output_schema"]
