"""The command line: click commands that compose the library. Errors are shown once, without a traceback.

Exit codes: 0 success; 1 the rule book has errors, a case is malformed, or a test failed; 2 usage error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from .cases import Case, JsonProblem, case_from_record, iter_case_paths, json_lines, read_case_file
from .cli_options import rules_option
from .errors import CaseError, PassendeZorgError, UsageError, internal_error
from .explain import render_decision
from .files import MAX_RULE_FILE_BYTES, FileRefused, read_inside
from .logs import ENV_LOG_LEVEL, LOG_LEVELS, log_to_stderr
from .model import CaseFailure, Decision
from .program import Scenario
from .rulebook import ENGINES, CheckReport, RuleBook, check_engine, check_path, load_rules, rule_files
from .values import parse_date

DEFAULT_RULES = "rules"

ENGINE_OPTION = click.option(
    "--engine", type=click.Choice(ENGINES), default="compiled", show_default=True,
    help="compiled: the rule book as generated Python, explained decisions identical to the interpreter's (the "
         "default); interpreter: the reference engine (`native` is its older name); rete: conditions "
         "matched by durable-rules (optional extra `rete`, Python 3.11 and 3.12); columnar: a file of cases "
         "(.parquet, .arrow, .csv, .jsonl) as a Polars plan (optional extra `columnar`)")


def _rules_dir(rules: str | Path | None) -> Path:
    return Path(rules or os.environ.get("PASSENDEZORG_RULES") or DEFAULT_RULES)


SCENARIO_OPTION = click.option(
    "--scenario", "scenario", metavar="NAME",
    help="under this scenario (a proposal or reform, scenarios/NAME/) instead of the law in force")
SCENARIOS_OPTION = click.option(
    "--scenarios", "scenarios_dir", type=click.Path(path_type=Path), metavar="DIR",
    help="the folder of scenarios (default: $PASSENDEZORG_SCENARIOS, else scenarios/ beside the rules folder)")


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError:
        raise click.BadParameter(f"expected a date YYYY-MM-DD, got {value!r}") from None


def _color() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


class Group(click.Group):
    """Shows passendezorg's own errors once, with their exit code, and no traceback; a cache it cannot trust as
    one line on standard error (never fatal: the command goes on without it)."""

    def invoke(self, ctx: click.Context) -> Any:
        from .cache import CacheWarning

        shown = warnings.showwarning

        def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, CacheWarning):
                click.echo(f"warning: {message}", err=True)
            else:
                shown(message, category, *args, **kwargs)

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", CacheWarning)
                warnings.showwarning = show
                return super().invoke(ctx)
        except PassendeZorgError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(e.exit_code)
        except BrokenPipeError:  # pragma: no cover - `| head`
            sys.stderr.close()
            ctx.exit(0)


@click.group(cls=Group)
@click.version_option(package_name="passendezorg")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), envvar=ENV_LOG_LEVEL,
              show_envvar=True, default="warning", show_default=True,
              help="write log records from this level on to standard error: rule books loaded (and the cache), "
                   "batch summaries, worker failures (serve has its own, in JSON)")
def main(log_level: str) -> None:
    """passendezorg — rules of the Dutch basic health insurance, checked and explained."""
    log_to_stderr(log_level)


# ---------------------------------------------------------------- check


@main.command()
@click.argument("rules_dir", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: every diagnostic with its start and end (line, column), in the file's language and in English")
@click.option("--strict", is_flag=True, help="warnings fail the check too (exit 1), e.g. in CI")
@SCENARIO_OPTION
@click.option("--all-scenarios", "all_scenarios", is_flag=True, help="also check every scenario of the rule book")
@SCENARIOS_OPTION
def check(rules_dir: str | None, fmt: str, strict: bool, scenario: str | None, all_scenarios: bool,
          scenarios_dir: Path | None) -> None:
    """Check a rule book before anything runs: every error and warning, in one run.

    Messages are in the language of the file they are about (`taal nederlands`: Dutch).

    With --scenario, the rule book in force plus that scenario is checked as one rule book, and what the
    scenario brings (its errors and warnings, new conflicts and overlaps) is shown; --all-scenarios checks
    the rule book and then each of its scenarios.
    """
    rules = _rules_dir(rules_dir)
    if scenario is not None and all_scenarios:
        raise UsageError("give --scenario NAME or --all-scenarios, not both")
    report = check_path(rules)
    if scenario is None and not all_scenarios:
        _show_check(report, fmt)
        sys.exit(1 if report.errors or (strict and report.warnings) else 0)
    from .scenario import available, find, scenarios_folder

    folder = scenarios_folder(rules, scenarios_dir)
    if all_scenarios:
        names = [s.name for s in available(folder)]
        folders = [folder / name for name in names]
    else:
        assert scenario is not None
        folders = [find(folder, scenario)]
    results = [(f.name, _scenario_report(report, check_path(rules, scenario=f))) for f in folders]
    failed = bool(report.errors) or any(r.errors for _, r in results) or (
        strict and (bool(report.warnings) or any(r.warnings for _, r in results)))
    if fmt == "json":
        data: dict[str, Any] = _check_json(report) if all_scenarios else {}
        listed = [{"scenario": name, **_check_json(r)} for name, r in results]
        if all_scenarios:
            data["scenarios"] = listed
        else:
            data = listed[0]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        if all_scenarios:
            _show_check(report, "text")
            if not results:
                click.echo(f"no scenarios in {folder}")
        for name, r in results:
            if all_scenarios:
                click.echo()
            _show_check(r, "text", f"scenario {name}: ")
    sys.exit(1 if failed else 0)


def _scenario_report(base: CheckReport, combined: CheckReport) -> CheckReport:
    """What a scenario brings: the findings of the rule book with the scenario that the rule book alone has not.

    An error of the rule book in force stays (the scenario cannot be checked without it)."""
    known = {d for d in base.diagnostics if d.severity == "warning"}
    own = [d for d in combined.diagnostics if d not in known]
    files = combined.files - base.files
    return CheckReport(own, combined.program, combined.sources, files)


def _check_json(report: CheckReport) -> dict[str, Any]:
    return {
        "files": report.files,
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "diagnostics": [d.as_dict() for d in report.diagnostics],
    }


def _show_check(report: CheckReport, fmt: str, prefix: str = "") -> None:
    if fmt == "json":
        click.echo(json.dumps(_check_json(report), indent=2, ensure_ascii=False))
        return
    color = _color()
    for d in report.diagnostics:
        click.echo(d.render(report.sources, color=color))
        click.echo()
    summary = f"{prefix}{report.files} file(s): {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    p = report.program
    if p is not None and p.scenario is None:
        summary += (f"; {len(p.rules)} rules, {len(p.outputs)} outputs, {len(p.parameters)} parameters, "
                    f"{len(p.tables)} tables")
    elif p is not None and p.scenario is not None:
        summary += "; " + _changes_text(p.scenario)
    click.echo(summary)


def _changes_text(sc: Scenario) -> str:
    """What a scenario changes, counted: `2 rule(s) added, 1 switched off, 1 parameter(s) and 0 table(s) changed`."""
    tables = len(sc.tables)
    return (f"{len(sc.rules)} rule(s) added, {len(sc.switched_off)} switched off, {len(sc.parameters)} "
            f"parameter(s) and {tables} table(s) changed, {len(sc.declared)} declaration(s) added")


# ---------------------------------------------------------------- evaluate


def _iter_cases(paths: list[Path]) -> Iterator[Case | CaseError]:
    """Every case under the paths; a malformed one comes as a CaseError so the rest still run."""
    for item, _line in _iter_cases_at(paths):
        yield item


def _iter_cases_at(paths: list[Path]) -> Iterator[tuple[Case | CaseError, int | None]]:
    """Every case under the paths, with its line in a JSON-lines file (None for a case file of its own)."""
    for p in iter_case_paths(paths):
        if not p.exists():
            raise UsageError(f"{p}: no such case file or folder")
        if p.suffix == ".jsonl":
            for lineno, data in json_lines(p):
                where = f"{p}:{lineno}"
                if isinstance(data, JsonProblem):
                    yield CaseError(where, data.message), lineno
                    continue
                try:
                    yield case_from_record(data, where, default_name=f"{p.stem}:{lineno}"), lineno
                except CaseError as e:
                    yield e, lineno
            continue
        try:
            yield read_case_file(p), None
        except CaseError as e:
            yield e, None


@main.command()
@click.argument("cases", nargs=-1, required=True, type=click.Path(path_type=Path))
@rules_option()
@click.option("--format", "fmt", type=click.Choice(["text", "json", "jsonl"]), default="text", show_default=True)
@click.option("--on", "on", callback=_date, help="evaluate on this date instead of each case's peildatum")
@click.option("--why-not", "why_not", metavar="RULE",
              help="only explain why RULE did not decide (with --format json or jsonl: as data, per case)")
@click.option("--verbose", "-v", is_flag=True,
              help="show every output (also those that took their default) and every derived value")
@ENGINE_OPTION
@click.option("--jobs", "-j", type=click.IntRange(0, 256), metavar="N",
              help="batch mode for one .jsonl or .csv file: N worker processes (0: one per core)")
@click.option("--out", "out", type=click.Path(path_type=Path), metavar="FILE",
              help="batch mode: write the results (JSON lines, in input order) to FILE instead of standard output")
@SCENARIO_OPTION
@SCENARIOS_OPTION
@click.option("--output-format", "output_format", type=click.Choice(["jsonl", "parquet", "arrow", "csv"]),
              help="--engine columnar: the format of --out (by default from its suffix)")
def evaluate(cases: tuple[Path, ...], rules_dir: Path | None, fmt: str, on: dt.date | None, why_not: str | None,
             verbose: bool, engine: str, jobs: int | None, out: Path | None, scenario: str | None,
             scenarios_dir: Path | None, output_format: str | None) -> None:
    """Evaluate case files (YAML, JSON, or JSON lines) and show the reasoned decisions.

    A large .jsonl or .csv file of cases is a batch: with --jobs or --out (and always for
    .csv) each case gives one compact JSON line (its values and deciding rules; with
    --format jsonl the full decision), in input order, evaluated on every core asked for.
    """
    check_engine(engine)
    if engine == "columnar":
        _evaluate_columnar(cases, rules_dir, fmt, on, why_not, verbose, out, output_format, scenario, scenarios_dir)
        return
    if output_format is not None:
        raise UsageError("--output-format is for --engine columnar")
    if jobs is not None or out is not None or any(p.suffix == ".csv" for p in cases):
        if engine == "rete":
            raise UsageError("batch mode runs the compiled engine; leave out --engine rete")
        _evaluate_batch(cases, rules_dir, fmt, on, why_not, verbose, jobs, out, scenario, scenarios_dir)
        return
    book = _load(rules_dir, scenario, scenarios_dir)
    failed = 0
    first = True
    named = len(cases) > 1 or cases[0].is_dir() or cases[0].suffix == ".jsonl"  # answers of several cases
    document = _JsonDocument() if fmt == "json" else None
    for index, (item, line) in enumerate(_iter_cases_at(list(cases))):
        if isinstance(item, CaseError):
            failed += 1
            _emit_failure(CaseFailure(case=None, index=index, line=line, error=str(item)), fmt)
            continue
        try:
            if why_not:  # the answer is all that was asked
                answer = book.why_not_answer(why_not, item, on)
                if fmt == "text":
                    click.echo(("" if first else "\n") + (f"{item.name}:\n" if named and item.name else "")
                               + answer.answer)
                    first = False
                elif document is not None:
                    document.add(answer.to_json())
                else:
                    click.echo(answer.to_json())
                    sys.stdout.flush()
                continue
            decision = book.evaluate(item, on, engine=engine)
        except CaseError as e:
            failed += 1
            _emit_failure(CaseFailure(case=item.name, index=index, line=line, error=str(e)), fmt)
            continue
        except PassendeZorgError:
            raise
        except Exception as e:  # noqa: BLE001 - one case must not stop the others
            failed += 1
            _emit_failure(CaseFailure(case=item.name, error=internal_error(item.path or item.name, e)), fmt)
            continue
        if fmt == "jsonl":
            click.echo(decision.to_json())
            sys.stdout.flush()  # each decision as soon as it is made
        elif document is not None:
            document.add(decision.to_json())
        else:
            if not first:
                click.echo("\n" + "─" * 60 + "\n")
            first = False
            click.echo(render_decision(decision, color=_color(), verbose=verbose, program=book.program))
    if document is not None:
        document.close()
    if failed:
        click.echo(f"{failed} case(s) could not be evaluated", err=True)
        sys.exit(1)


class _JsonDocument:
    """Decisions written as one JSON document while they are made: one decision as an object, more as an
    array (the first is held until the second comes). Each decision is written as soon as it is known, and
    none is kept, so any number of cases runs in the same memory."""

    def __init__(self) -> None:
        self.first: str | None = None
        self.count = 0

    def add(self, decision_json: str) -> None:
        text = json.dumps(json.loads(decision_json), indent=2, ensure_ascii=False)
        if self.count == 0:
            self.first = text
        else:
            if self.count == 1:
                assert self.first is not None
                click.echo("[\n" + _indent(self.first), nl=False)
                self.first = None
            click.echo(",\n" + _indent(text), nl=False)
            sys.stdout.flush()
        self.count += 1

    def close(self) -> None:
        click.echo(self.first if self.first is not None else "[]" if self.count == 0 else "\n]")


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.split("\n"))


def _evaluate_batch(cases: tuple[Path, ...], rules_dir: Path | None, fmt: str, on: dt.date | None,
                    why_not: str | None, verbose: bool, jobs: int | None, out: Path | None, scenario: str | None,
                    scenarios_dir: Path | None) -> None:
    from .batch import evaluate_file

    if len(cases) != 1 or cases[0].suffix not in (".jsonl", ".csv"):
        raise UsageError("batch mode (--jobs, --out, or a .csv file) takes one .jsonl or .csv file of cases")
    if why_not or verbose or fmt == "json":
        raise UsageError("batch mode writes JSON lines: --why-not, --verbose and --format json do not apply; "
                         "use --format jsonl for full decisions")
    book = _load(rules_dir, scenario, scenarios_dir)
    report = evaluate_file(book, cases[0], out, jobs=1 if jobs is None else jobs, explain=fmt == "jsonl", on=on)
    rate = report.cases / report.seconds if report.seconds > 0 else 0.0
    click.echo(f"{report.cases} case(s) in {report.seconds:.2f} s ({rate:,.0f} cases/s, {report.jobs} worker(s))"
               + (f"; {report.failures} could not be evaluated (see their failure records)" if report.failures else ""),
               err=True)
    if report.failures:
        sys.exit(1)


def _evaluate_columnar(cases: tuple[Path, ...], rules_dir: Path | None, fmt: str, on: dt.date | None,
                       why_not: str | None, verbose: bool, out: Path | None, output_format: str | None,
                       scenario: str | None, scenarios_dir: Path | None) -> None:
    from .columnar_files import evaluate_columnar

    if len(cases) != 1:
        raise UsageError("--engine columnar takes one file of cases (.parquet, .arrow, .csv or .jsonl)")
    if why_not or verbose or fmt != "text":
        raise UsageError("--engine columnar writes compact results: --why-not, --verbose and --format do not apply")
    book = _load(rules_dir, scenario, scenarios_dir)
    report, seconds = evaluate_columnar(book, cases[0], out, fmt_out=output_format, on=on)
    rate = report.rows / seconds if seconds > 0 else 0.0
    click.echo(f"{report.rows} case(s) in {seconds:.2f} s ({rate:,.0f} cases/s, columnar engine); "
               f"{report.fallbacks} decided one by one by the compiled engine"
               + (f" ({report.summary()})" if report.reasons else "")
               + (f"; {report.failures} could not be evaluated (see their failure records)" if report.failures else ""),
               err=True)
    if report.failures:
        sys.exit(1)


def _load(rules_dir: Path | None, scenario: str | None = None, scenarios_dir: Path | None = None) -> RuleBook:
    """The checked rule book (under ``scenario`` if one is asked for), from the cache when its files have not
    changed."""
    book = load_rules(_rules_dir(rules_dir), cache=True, scenarios=scenarios_dir)
    return book.with_scenario(scenario) if scenario is not None else book


def _emit_failure(f: CaseFailure, fmt: str) -> None:
    if fmt == "jsonl":
        click.echo(f.to_json())
    click.echo(f"error: {f.error}", err=True)


# ---------------------------------------------------------------- test


@main.command()
@click.argument("cases", nargs=-1, type=click.Path(path_type=Path))
@rules_option()
@click.option("--coverage", is_flag=True, help="report which rules decided something in at least one case "
              "(under a scenario: the rules the scenario adds)")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True,
              help="json: every case with its status and differences; junit: JUnit XML for CI servers")
@click.option("--out", "out", type=click.Path(path_type=Path), metavar="FILE",
              help="write the report to FILE instead of standard output")
@ENGINE_OPTION
@SCENARIO_OPTION
@SCENARIOS_OPTION
def test(cases: tuple[Path, ...], rules_dir: Path | None, coverage: bool, fmt: str, out: Path | None, engine: str,
         scenario: str | None, scenarios_dir: Path | None) -> None:
    """Run the cases' `expect` blocks against the rule book and show a diff for each failure.

    Without CASES: the cases/ folder, or with --scenario the scenario's own cases (scenarios/NAME/cases/).
    A case marked `xfail: "reason"` (or `verwacht_fout:`) is expected to fail: it is reported
    as an expected failure, and fails the run when it passes. Exit 1 when a case fails, cannot
    be read, or passes while marked to fail (and with --coverage, when a rule never decided).
    """
    from .testing import run_tests

    check_engine(engine)
    book = _load(rules_dir, scenario, scenarios_dir)
    if not cases and book.scenario is not None:
        cases = (Path(book.scenario.folder) / "cases",)
    report = run_tests(book, list(_iter_cases(list(cases) or [Path("cases")])), engine)
    if fmt == "json":
        text = json.dumps(report.to_json(book if coverage else None), indent=2, ensure_ascii=False)
    elif fmt == "junit":
        text = report.to_junit(book if coverage else None).rstrip("\n")
    else:
        lines = report.lines(_color() and out is None)
        if coverage:
            lines.append(report.coverage_text(book))
        text = "\n".join(lines)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(report.summary(), err=True)
    else:
        click.echo(text)
    ok = report.ok and (not coverage or report.uncovered(book) == [])
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------- scenarios


@main.command("scenarios")
@rules_option()
@SCENARIOS_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def scenarios_cmd(rules_dir: Path | None, scenarios_dir: Path | None, fmt: str) -> None:
    """List the scenarios of the rule book: proposals and reforms that apply only when asked for (--scenario NAME)."""
    from .scenario import available, scenarios_folder

    folder = scenarios_folder(_rules_dir(rules_dir), scenarios_dir)
    found = available(folder)
    if fmt == "json":
        click.echo(json.dumps([{"name": s.name, "title": s.title, "folder": str(s.folder),
                                "sources": [{"id": x.id, "title": x.title, "url": x.url, "proposal": x.proposal}
                                            for x in s.sources]} for s in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo(f"no scenarios in {folder}")
        return
    for s in found:
        click.echo(f"{s.name}: {s.title or '(no title)'}")
        for x in s.sources:
            click.echo(f"  {'proposal' if x.proposal else 'source'}: {x.title}" + (f" <{x.url}>" if x.url else ""))


# ---------------------------------------------------------------- fmt


@main.command("fmt")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--check", "check_only", is_flag=True, help="only report files that are not formatted")
def fmt_cmd(paths: tuple[Path, ...], check_only: bool) -> None:
    """Format rule files canonically (in place), or check that they are."""
    from .format import format_file
    from .syntax import parse_text

    files = [(f, p if p.is_dir() else f.resolve().parent) for p in (paths or (Path(DEFAULT_RULES),))
             for f in rule_files(p)]
    unformatted = 0
    broken = 0
    for f, folder in files:
        try:
            text = read_inside(f, folder, MAX_RULE_FILE_BYTES).decode("utf-8")
        except (FileRefused, UnicodeDecodeError) as e:
            broken += 1
            why = e.reason if isinstance(e, FileRefused) else f"it is not UTF-8 text ({e.reason})"
            click.echo(f"{f}: error: the rule file is not read: {why}", err=True)
            continue
        parsed, diags = parse_text(text, str(f))
        if diags or parsed is None:
            broken += 1
            for d in diags:
                click.echo(d.render(), err=True)
            continue
        new = format_file(parsed)
        if new != text:
            unformatted += 1
            if check_only:
                click.echo(f"would reformat {f}")
            else:
                f.write_text(new, encoding="utf-8")
                click.echo(f"reformatted {f}")
    if check_only:
        click.echo(f"{len(files)} file(s), {unformatted} not formatted")
    sys.exit(1 if broken or (check_only and unformatted) else 0)


# ---------------------------------------------------------------- schema


@main.command()
@click.argument("which", type=click.Choice(["case", "decision", "both"]), default="both")
@rules_option()
@SCENARIO_OPTION
@SCENARIOS_OPTION
def schema(which: str, rules_dir: Path | None, scenario: str | None, scenarios_dir: Path | None) -> None:
    """Print the JSON Schemas of a case (from the rule book's inputs; under a scenario, with the inputs the
    scenario adds) and of a decision."""
    from .schema import case_schema

    out: dict[str, Any] = {}
    if which in ("case", "both"):
        out["case"] = case_schema(_load(rules_dir, scenario, scenarios_dir))
    if which in ("decision", "both"):
        out["decision"] = Decision.model_json_schema()
    click.echo(json.dumps(out if which == "both" else out[which], indent=2, ensure_ascii=False))


# ---------------------------------------------------------------- lsp


@main.command("lsp")
@click.option("--tcp", "tcp", metavar="HOST:PORT",
              help="listen on a TCP address (such as 127.0.0.1:2087) instead of standard input and output")
def lsp_cmd(tcp: str | None) -> None:
    """Run the language server that editors start: diagnostics as you type, hover, go to definition,
    references, completion and formatting of rule files.

    It needs the `lsp` extra: pip install "passendezorg[lsp]".
    """
    address = None
    if tcp is not None:
        host, sep, port = tcp.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"--tcp takes HOST:PORT, such as 127.0.0.1:2087, not {tcp!r}")
        address = (host.strip("[]"), int(port))
    try:
        from .lsp import serve
    except ImportError as e:
        raise UsageError(f"the language server needs the `lsp` extra ({e.name or 'pygls'} is not installed): "
                         'pip install "passendezorg[lsp]"') from None
    serve(address)


from .cli_claims import register as _register_claims  # noqa: E402 - the commands need `main` defined
from .cli_docs import register as _register_docs  # noqa: E402
from .cli_serve import register as _register_serve  # noqa: E402
from .cli_simulate import register as _register_simulate  # noqa: E402

_register_claims(main)
_register_docs(main)
_register_serve(main)
_register_simulate(main)


def run() -> None:  # pragma: no cover - console entry
    main()


__all__ = ["main", "RuleBook"]
