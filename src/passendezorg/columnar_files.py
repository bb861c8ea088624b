"""Files through the columnar engine: Parquet, Arrow IPC (Feather), CSV and JSON lines in; the same formats out.

``evaluate_columnar(book, in_path, out)`` reads the file in slices, decides
each slice with the columnar engine (frames.py) and writes, in input order:

* JSON lines: the compiled path's compact line per case, byte for byte what
  ``evaluate FILE --jobs 1 --out`` writes for the same input (failure records
  included: every line the plan does not take as it is goes the compiled
  path's own way);
* Parquet, Arrow IPC or CSV: the frame ``decide_frame`` gives (per output its
  value, rule, status, needed inputs and reason; CSV writes the needed inputs
  as one text, comma-separated).

The output format is the ``--out`` file's suffix, or ``fmt_out``.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import polars as pl

from .errors import UsageError
from .frames import FrameReport, check_columns, decide_lines, flatten, output_frame, records_frame, run

FORMATS = ("jsonl", "parquet", "arrow", "csv")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet",
            ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow", ".csv": "csv"}
SLICE_ROWS = 1 << 19
SLICE_BYTES = 64 << 20


def file_format(path: Path, fmt: str | None, what: str) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise UsageError(f"unknown {what} format `{fmt}`; use one of: {', '.join(FORMATS)}")
        return fmt
    found = SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise UsageError(f"{path}: cannot tell the format from the name; use .parquet, .arrow, .csv or .jsonl "
                         f"(or --{'output' if what == 'output' else 'input'}-format)")
    return found


def evaluate_columnar(book: Any, in_path: str | Path, out: str | Path | None = None, *, fmt_in: str | None = None,
                      fmt_out: str | None = None, on: dt.date | None = None) -> tuple[FrameReport, float]:
    """Decide every case of a file with the columnar engine and write the results (see the module text)."""
    src = Path(in_path)
    if not src.is_file():
        raise UsageError(f"{src}: no such file")
    form = file_format(src, fmt_in, "input")
    dest = Path(out) if out is not None else None
    out_form = fmt_out or (file_format(dest, None, "output") if dest is not None else "jsonl")
    if out_form not in FORMATS:
        raise UsageError(f"unknown output format `{out_form}`; use one of: {', '.join(FORMATS)}")
    if dest is None and out_form != "jsonl":
        raise UsageError(f"{out_form} goes to a file: give --out FILE")
    if form == "csv" and book.program.groups:
        path = sorted(book.program.groups)[0]
        raise UsageError(f"{src}: a CSV file cannot hold the records of the group `{path}` (a list of records per "
                         "case), which the rule book's cases need; give the cases as Parquet, Arrow or JSON lines")
    began = time.perf_counter()
    report = FrameReport()
    if out_form == "jsonl":
        stream: IO[bytes]
        if dest is None:
            sys.stdout.flush()
            stream = sys.stdout.buffer
        else:
            try:
                stream = open(dest, "wb")  # noqa: SIM115 - closed below
            except OSError as e:
                raise UsageError(f"{dest}: cannot write the results there ({e.strerror or e})") from None
        try:
            for lines, rep in _json_slices(book, src, form, on):
                report.add(rep)
                if len(lines):  # the column in one write: a line never holds a raw line break or needs quoting
                    pl.DataFrame({"l": lines}).write_csv(stream, include_header=False, quote_style="never")
            stream.flush()
        finally:
            if dest is not None:
                stream.close()
        return report, time.perf_counter() - began
    assert dest is not None
    frames = []
    for frame, rep in _frame_slices(book, src, form, on):
        report.add(rep)
        frames.append(frame)
    result = pl.concat(frames) if frames else pl.DataFrame()
    try:
        if out_form == "parquet":
            result.write_parquet(dest, compression="lz4")  # a third faster to write than zstd, a larger file
        elif out_form == "arrow":
            result.write_ipc(dest)
        else:
            lists = [c for c, t in result.schema.items() if isinstance(t, pl.List)]  # needs, values per record
            result.with_columns([pl.col(c).list.eval(pl.element().cast(pl.String)).list.join(",")
                                 for c in lists]).write_csv(dest)
    except OSError as e:
        raise UsageError(f"{dest}: cannot write the results there ({e.strerror or e})") from None
    return report, time.perf_counter() - began


# ------------------------------------------------------------------ reading


def _read_table(src: Path, form: str) -> Iterator[pl.DataFrame]:
    """Slices of a Parquet or Arrow IPC file."""
    try:
        lf = pl.scan_parquet(src) if form == "parquet" else pl.scan_ipc(src)
        total = lf.select(pl.len()).collect().item()
        for start in range(0, max(total, 1), SLICE_ROWS):
            yield lf.slice(start, SLICE_ROWS).collect()
    except (pl.exceptions.PolarsError, OSError) as e:
        raise UsageError(f"{src}: cannot read it as {form}: {e}") from None


def _case_of(df: pl.DataFrame, program: Any, offset: int) -> pl.Expr:
    """The case name of each row: its id (or name), else its number from 1."""
    id_col = next((c for c in ("id", "name") if c in df.columns and c not in program.inputs), None)
    number = (pl.int_range(pl.len(), dtype=pl.Int64) + offset + 1).cast(pl.String)
    if id_col is None:
        return number
    return pl.coalesce(pl.col(id_col).cast(pl.String), number)


def _frame_slices(book: Any, src: Path, form: str, on: dt.date | None) -> Iterator[tuple[pl.DataFrame, FrameReport]]:
    if form in ("parquet", "arrow"):
        offset = 0
        for raw in _read_table(src, form):
            df = flatten(raw)
            check_columns(book.program, df.columns)
            if book.program.groups:
                lines, rep = decide_lines(book, df, on, _case_of(df, book.program, offset))
                offset += df.height
                yield records_frame(book, lines), rep
                continue
            decided = run(book, df, on, _case_of(df, book.program, offset))
            offset += df.height
            yield output_frame(book, decided), decided.report
        return
    # CSV and JSON lines: the compact lines (each line the way the compiled path reads it), as a frame
    for lines, rep in _json_slices(book, src, form, on):
        yield records_frame(book, lines), rep


def _json_slices(book: Any, src: Path, form: str, on: dt.date | None) -> Iterator[tuple[pl.Series, FrameReport]]:
    """The compact JSON lines of the cases of a file, slice by slice."""
    if form in ("parquet", "arrow"):
        offset = 0
        for raw in _read_table(src, form):
            df = flatten(raw)
            check_columns(book.program, df.columns)
            lines, rep = decide_lines(book, df, on, _case_of(df, book.program, offset))
            offset += df.height
            yield lines, rep
        return
    if form == "csv":
        yield from _csv_lines(book, src, on)
        return
    yield from _jsonl_lines(book, src, on)


def _csv_lines(book: Any, src: Path, on: dt.date | None) -> Iterator[tuple[pl.Series, FrameReport]]:
    """CSV: each line as the compiled path reads it (its cell syntax, delimiter and failure records are its own)."""
    from .batch import evaluate_file

    buf = io.StringIO()
    rep = evaluate_file(book, src, buf, jobs=1, on=on, progress=False)
    text = buf.getvalue()
    lines = text.split("\n")[:-1] if text else []
    yield pl.Series("line", lines, dtype=pl.String), FrameReport(rep.cases, rep.cases - rep.failures, rep.failures)


def _jsonl_lines(book: Any, src: Path, on: dt.date | None) -> Iterator[tuple[pl.Series, FrameReport]]:
    """JSON lines in slices: Polars reads a slice of flat facts, the plan decides it; every line Polars cannot read
    as it is, or whose facts the plan does not take as they are, goes the compiled path's own way."""
    from .batch import line_decider

    program = book.program
    slow = line_decider(book, src, on)
    groups = {name.split(".")[0] for name in [*program.inputs, *program.groups]}
    lineno = 0
    with src.open("rb") as fh:
        while True:
            chunk = fh.read(SLICE_BYTES)
            if not chunk:
                break
            if not chunk.endswith(b"\n"):
                chunk += fh.readline()
            raw_lines = chunk.split(b"\n")
            if raw_lines and raw_lines[-1] == b"":
                raw_lines.pop()
            first = lineno + 1
            lineno += len(raw_lines)
            numbers = list(range(first, first + len(raw_lines)))
            df = _read_json_slice(chunk, raw_lines)
            if df is None:
                out, rep = [], FrameReport()
                for raw, k in zip(raw_lines, numbers):
                    if raw.isspace() or not raw:
                        continue
                    text = slow(raw, k)
                    out.append(text)
                    rep.rows += 1
                    rep.fallbacks += 1
                    if '"passendezorg.failure/1"' in text[:40]:
                        rep.failures += 1
                    else:
                        rep.note("a slice of lines Polars does not read as objects of facts")
                yield pl.Series("line", out, dtype=pl.String), rep
                continue
            # lines with facts the plan does not read (unknown fields, another form of case) go the slow way
            unknown = [c for c in df.columns if c != "id" and c not in groups and c not in program.inputs]
            flat = flatten(df.drop(unknown))
            extra = [c for c in flat.columns if c != "id" and c not in program.inputs and c not in program.groups]
            odd_mask = pl.any_horizontal([pl.col(c).is_not_null() for c in unknown] +
                                         [pl.col(c).is_not_null() for c in extra]) if unknown or extra else pl.lit(False)
            if "id" in flat.columns and flat.schema["id"] not in (pl.Int64, pl.String):
                odd_mask = pl.lit(True)
            odd = df.select(odd_mask.alias("odd")).get_column("odd").to_list() if unknown or extra or \
                "id" in flat.columns and flat.schema["id"] not in (pl.Int64, pl.String) else []
            flat = flat.drop(extra)
            number = pl.Series(numbers, dtype=pl.Int64).cast(pl.String)
            case = pl.lit(number) if "id" not in flat.columns else pl.coalesce(pl.col("id").cast(pl.String),
                                                                                 pl.lit(number))
            lines, rep = decide_lines(book, flat, on, case, numbers,
                                      slow=lambda k, raw_lines=raw_lines, numbers=numbers: slow(raw_lines[k],  # type: ignore[misc]
                                                                                                numbers[k]))
            if odd and any(odd):
                idx = [k for k, o in enumerate(odd) if o]
                redo = [slow(raw_lines[k], numbers[k]) for k in idx]
                lines = lines.scatter(pl.Series(idx, dtype=pl.Int64), pl.Series(redo, dtype=pl.String))
                rep.fallbacks += len(idx)
                rep.note("facts the plan does not read (a field that is no input, another form of case)", len(idx))
            yield lines, rep


def _read_json_slice(chunk: bytes, raw_lines: list[bytes]) -> pl.DataFrame | None:
    """A slice of JSON lines as a frame, or None when Polars does not read every line as one object."""
    if any(not x.strip() for x in raw_lines):
        return None
    try:
        df = pl.read_ndjson(io.BytesIO(chunk), infer_schema_length=None)
    except Exception:  # noqa: BLE001 - anything Polars does not read goes line by line
        return None
    if df.height != len(raw_lines):
        return None
    return df
