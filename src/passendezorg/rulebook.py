"""The front door: load and check a rule book, then evaluate cases on it."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import engines
from . import nodes as n
from .cases import Case, case_from_data, name_of, typed_inputs
from .check import Checker, content_hash
from .engines.interpreter import Evaluation
from .engines.semantics import Outcome, needed_reason
from .errors import CaseError, Diagnostic, PassendeZorgError, RuleBookError, UsageError, internal_error
from .files import MAX_RULE_FILE_BYTES, MAX_TABLE_FILE_BYTES, FileRefused, read_inside
from .model import (
    CaseFailure,
    ConflictEntry,
    Decision,
    FastDecision,
    OutputDecision,
    Overridden,
    RuleRef,
    ScenarioChangeRef,
    ScenarioRef,
    Source,
    WhyNot,
    WhyNotReason,
)
from .program import CheckedRule, Program, Scenario, SourceInfo, instance, split_instance
from .source import SourceRegistry, Span, undecodable
from .values import to_json, typed_json, typed_value

if TYPE_CHECKING:
    from .decisions import CompiledDecisions
    from .scenario import ScenarioSummary

RULE_SUFFIX = ".pz"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckReport:
    """What `check` finds: every diagnostic, and the program when there are no errors.

    ``parsed`` holds the parsed rule files (also when there are errors), for tools that
    look up names in them, such as the language server.
    """

    diagnostics: list[Diagnostic]
    program: Program | None
    sources: SourceRegistry
    files: int
    parsed: tuple[n.RuleFile, ...] = field(default=())

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


def rule_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UsageError(f"{path}: no such rule file or folder")
    files = sorted(p for p in path.rglob(f"*{RULE_SUFFIX}") if p.is_file())
    if not files:
        raise UsageError(f"{path}: no rule files (*{RULE_SUFFIX}) found")
    return files


def check_path(path: str | Path, *, scenario: str | Path | None = None) -> CheckReport:
    """Parse and check every rule file under ``path``; never raises for problems in the rules.

    With ``scenario`` (the folder of a scenario, ``scenarios/<name>``), the rule book in force plus that
    scenario is checked as one rule book: a rule book of its own, with its own content hash.
    """
    return check_texts(path, scenario=scenario)


def check_texts(path: str | Path, texts: Mapping[str | Path, str] | None = None, *,
                scenario: str | Path | None = None) -> CheckReport:
    """``check_path``, with the text of some rule files given instead of read from disk.

    An editor checks the whole rule book as the author types: ``texts`` maps a rule
    file's path to its unsaved text. A given ``.pz`` file inside the folder that is not
    on disk yet is checked too; given files outside it are ignored.
    """
    from .syntax import detect_language, parse_text  # lark: only when rule files are parsed

    root = Path(path)
    base = root if root.is_dir() else root.parent
    given = {Path(p).resolve(): text for p, text in (texts or {}).items()}
    if root.is_dir():
        inside = base.resolve()
        unsaved = [base / p.relative_to(inside) for p in given if p.suffix == RULE_SUFFIX and inside in p.parents
                   and not p.is_file()]
        saved = rule_files(root) if not unsaved or any(root.rglob(f"*{RULE_SUFFIX}")) else []
        files = sorted(saved + unsaved)
    else:
        files = [root] if root.resolve() in given else rule_files(root)
    registry = SourceRegistry()
    diagnostics: list[Diagnostic] = []
    raw: dict[str, bytes] = {}

    def parse(paths: list[Path], folder: Path, prefix: str) -> list[n.RuleFile]:
        parsed: list[n.RuleFile] = []
        for f in paths:
            text_given = given.get(f.resolve())
            shown = str(f)
            try:  # a rule file is a regular file inside its folder, of bounded size
                data = text_given.encode("utf-8") if text_given is not None else read_inside(
                    f, folder if root.is_dir() or folder != base else f.resolve().parent, MAX_RULE_FILE_BYTES)
            except FileRefused as e:
                diagnostics.append(Diagnostic("error", "file", f"the rule file is not read: {e.reason}",
                                              Span(shown, 1, 1), "a rule file is a regular file inside the rule "
                                              "book's folder"))
                continue
            raw[prefix + f.relative_to(folder).as_posix()] = data
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as e:
                where, replaced = undecodable(shown, data, e)
                registry.add(shown, replaced)
                diagnostics.append(Diagnostic("error", "syntax", f"the file is not UTF-8 text ({e.reason})", where,
                                              "save the file as UTF-8",
                                              language=detect_language(replaced) or "english"))
                continue
            registry.add(shown, text)
            rule_file, diags = parse_text(text, shown)
            diagnostics.extend(diags)
            if rule_file is not None:
                parsed.append(rule_file)
        return parsed

    parsed = parse(files, base, "")
    own: list[n.RuleFile] = []
    overlay = None
    if scenario is None:
        checker = Checker(parsed, base)
        program = checker.run()
        count = len(files)
    else:
        from . import scenario as sc

        folder = Path(scenario)
        name = folder.name
        own_paths = sc.scenario_files(folder)
        if not own_paths:
            raise UsageError(f"{folder}: no scenario rule files (*{RULE_SUFFIX}) found")
        own = parse(own_paths, folder, f"scenarios/{name}/")
        overlay = sc.apply(parsed, own, name, folder)
        languages = {f.path: f.language for f in [*parsed, *own]}  # a scenario's findings in its files' language
        diagnostics.extend(replace(d, language=languages.get(d.span.file, d.language)) for d in overlay.diagnostics)
        checker = Checker(overlay.base, base, scenario_files=overlay.own, scenario_root=folder, scenario_name=name,
                          switched_off=overlay.switched_off)
        program = checker.run()
        info = sc.describe(overlay, checker, [str(p) for p in own_paths])
        count = len(files) + len(own_paths)
    diagnostics.extend(checker.diagnostics)
    for name, table_text in checker.table_texts.items():
        registry.add(name, table_text)
    for name, data in checker.table_bytes.items():
        raw[name] = data
    if any(d.severity == "error" for d in diagnostics):
        program = None
    if program is not None:
        program = replace(program, content_hash=content_hash(raw), files=dict(raw), root=str(base))
        if overlay is not None:
            program = replace(program, scenario=info)
    diagnostics.sort(key=lambda d: (d.severity != "error", d.span.file, d.span.line, d.span.column))
    return CheckReport(diagnostics, program, registry, count, tuple(parsed) + tuple(own))


ENGINES = engines.ENGINES + tuple(engines.ALIASES)
"""The names ``engine=`` and ``--engine`` accept (``native`` is the older name of the interpreter)."""


def check_engine(engine: str) -> None:
    """A known engine that can run here; UsageError or EngineUnavailable (why, and what to do) if not."""
    engines.require(engine)


def load_rules(path: str | Path, *, cache: bool = False, scenarios: str | Path | None = None) -> RuleBook:
    """Load and check a rule book; raise RuleBookError listing every error if it has any.

    With ``cache=True`` the checked rule book is kept between runs, keyed by the content hash of
    its rule and table files (in ``$PASSENDEZORG_CACHE`` or ``~/.cache/passendezorg``), so an
    unchanged rule book loads without being parsed and checked again.

    The book is the law in force. Its scenarios are in ``scenarios`` (default: ``$PASSENDEZORG_SCENARIOS``,
    else the folder ``scenarios/`` beside the rules folder); ``book.with_scenario(name)`` applies one.
    """
    if cache:
        return load_cached(path, scenarios=scenarios)
    began = time.perf_counter()
    report = check_path(path)
    if report.program is None:
        log.info("rule book %s: %d error(s) in %d file(s)", path, len(report.errors), report.files)
        raise RuleBookError(report.diagnostics, report.sources)
    _log_loaded(path, report, time.perf_counter() - began)
    return RuleBook(report.program, report.warnings, path=path, scenarios=scenarios)


def _log_loaded(path: str | Path, report: CheckReport, seconds: float) -> None:
    assert report.program is not None
    p = report.program
    log.info("rule book %s checked in %.2f s: %d file(s), %d rules, %d outputs, %d warning(s) (%s)", path, seconds,
             report.files, len(p.rules), len(p.outputs), len(report.warnings), p.content_hash)


_UNDER_LOCK = threading.Lock()


class RuleBook:
    """A checked rule book. Immutable: safe to share between threads and to evaluate any number of cases.

    A rule book states the law in force (``scenario`` is None), or the law in force under one scenario
    (``with_scenario``): a proposal or reform applied on request, with its own content hash.
    """

    def __init__(self, program: Program, warnings: list[Diagnostic] | None = None, *,
                 path: str | Path | None = None, scenarios: str | Path | None = None, cache: bool = False) -> None:
        self.program = program
        self.warnings = list(warnings or [])
        self.path = Path(path) if path is not None else (Path(program.root) if program.root else None)
        self._scenarios = Path(scenarios) if scenarios is not None else None
        self._cache = cache
        self._rule_refs: dict[str, RuleRef] = {}
        self._under: dict[str, RuleBook] = {}
        self._decisions: CompiledDecisions | None = None
        self._typer: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = None

    @property
    def content_hash(self) -> str:
        return self.program.content_hash

    # ------------------------------------------------------------ scenarios

    @property
    def scenario(self) -> Scenario | None:
        """The scenario this rule book is under (name, title, sources and what it changes); None: the law in force."""
        return self.program.scenario

    @property
    def scenarios_folder(self) -> Path:
        """Where this rule book's scenarios are (see ``load_rules``)."""
        from .scenario import scenarios_folder

        if self.path is None:
            raise UsageError("this rule book was not loaded from a folder; give the scenarios with --scenarios DIR")
        return scenarios_folder(self.path, self._scenarios)

    def scenarios(self) -> list[ScenarioSummary]:
        """The scenarios available for this rule book, by name (read from their headers; nothing is checked)."""
        from .scenario import available

        if self.path is None:
            return []
        return available(self.scenarios_folder)

    def with_scenario(self, name: str) -> RuleBook:
        """The law in force under scenario ``name``: a new immutable rule book with its own content hash.

        The scenario is checked with the rule book as one (RuleBookError lists its errors); an unknown
        name is a UsageError naming the scenarios there. The result is kept: asking again costs nothing.
        """
        from .scenario import find

        if self.scenario is not None:
            raise UsageError(f"this rule book is already under scenario `{self.scenario.name}`; a scenario applies "
                             "to the law in force (ask the rule book in force for it)")
        with _UNDER_LOCK:
            found = self._under.get(name)
        if found is not None:
            return found
        if self.path is None:
            raise UsageError("this rule book was not loaded from a folder, so it has no scenarios")
        folder = find(self.scenarios_folder, name)
        if self._cache:
            book = load_cached(self.path, scenarios=self._scenarios, scenario=folder)
        else:
            report = check_path(self.path, scenario=folder)
            if report.program is None:
                raise RuleBookError(report.diagnostics, report.sources)
            book = RuleBook(report.program, report.warnings, path=self.path, scenarios=self._scenarios)
        changed = [f for f, data in self.program.files.items() if book.program.files.get(f) != data]
        if changed:
            raise PassendeZorgError(f"the rule book changed since it was loaded ({changed[0]}); load it again")
        with _UNDER_LOCK:
            return self._under.setdefault(name, book)

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.program.outputs

    # ------------------------------------------------------------ evaluation

    def prepare(self, case: Case | Mapping[str, Any], on: dt.date | None = None) -> tuple[Case, dict[str, Any], dt.date]:
        """Validate a case: typed inputs and the date it is read on. CaseError if malformed."""
        if not isinstance(case, Case):
            if not isinstance(case, Mapping):
                raise CaseError("case", f"a case is a mapping of facts (or a Case), not {type(case).__name__}")
            data = dict(case)
            case = case_from_data(data if "input" in data else {"input": data}, "case")
        where = f"{case.path}: " if case.path else ""
        groups = self.program.groups
        found = None
        if not groups:  # a case with groups of facts is typed by typed_inputs
            typer = self._typer
            if typer is None:
                from .engines.compiled import compile_typer

                typer = self._typer = compile_typer(self.program)
            # the generated typer takes what typed_inputs takes and gives the same; anything else: typed_inputs
            # says what is wrong, and where
            found = typer(case.input)
        inputs = found if found is not None else typed_inputs(case.input, self.program.inputs, where, groups)
        day = on or case.on
        if day is None:
            p = self.program.peildatum
            if p is None:
                raise CaseError(case.path or "case", "the rule book declares no peildatum; give a date (--on)")
            if p not in inputs:
                raise CaseError(f"{where}input.{p}" if where else p,
                                "the peildatum is missing: every case is read on this date; give it, or a date (--on)")
            day = inputs[p]
        return case, inputs, day

    def evaluate(self, case: Case | Mapping[str, Any], on: dt.date | None = None, *,
                 engine: str = engines.DEFAULT) -> Decision:
        """Evaluate one case and return the reasoned decision. CaseError if the case is malformed.

        The compiled engine (the default) decides it in generated code that records what the explanation
        needs; ``engine="interpreter"`` asks the reference interpreter (identical decisions, byte for byte).
        ``engine="rete"`` matches the conditions in the durable-rules network instead (the
        optional rete back end; identical decisions); EngineUnavailable says why it cannot run.
        """
        case, inputs, day = self.prepare(case, on)
        if engines.canonical(engine) == "compiled" and not self.program.groups:
            return self.compiled_decisions().decision(inputs, day, case.name)
        return self.decision(self._run(inputs, day, engine), day, case.name, inputs)

    def compiled_decisions(self) -> CompiledDecisions:
        """The explained decisions of this rule book from compiled code (built on first use, then kept)."""
        found = self._decisions
        if found is None:
            from .decisions import CompiledDecisions

            explainer = engines.get(self.program, "compiled").explainer  # type: ignore[attr-defined]
            found = self._decisions = CompiledDecisions(self, explainer)
        return found

    def _run(self, inputs: dict[str, Any], day: dt.date, engine: str) -> dict[str, Outcome]:
        return engines.get(self.program, engine).outcomes(inputs, day)

    def evaluate_many(
        self, cases: Iterable[Case | Mapping[str, Any]], on: dt.date | None = None, *, engine: str = engines.DEFAULT
    ) -> Iterator[Decision | CaseFailure]:
        """Evaluate cases in order; a malformed case yields a CaseFailure and the rest go on."""
        check_engine(engine)
        for index, case in enumerate(cases):
            try:
                yield self.evaluate(case, on, engine=engine)
            except PassendeZorgError as e:
                yield CaseFailure(case=name_of(case), index=index, error=str(e))
            except Exception as e:  # noqa: BLE001 - one case must not stop the others
                yield CaseFailure(case=name_of(case), index=index,
                                  error=internal_error(case.path if isinstance(case, Case) else None, e))

    def decide_many(
        self, cases: Iterable[Case | Mapping[str, Any]], *, jobs: int = 1, on: dt.date | None = None
    ) -> list[FastDecision | CaseFailure]:
        """The fast path for volume: per case its output values and deciding rules, in input order.

        Runs the compiled rule book; a value the compiled code cannot decide (a missing input,
        an error, a conflict) is decided by the interpreter, so the answers are the same as
        ``evaluate`` gives. ``jobs`` worker processes (0: one per core) share the work. The full
        explanation of any case is ``evaluate(case)``. A malformed case gives a CaseFailure.
        """
        from .batch import evaluate_many

        return evaluate_many(self, cases, jobs=jobs, on=on)

    def outcomes(self, case: Case | Mapping[str, Any], on: dt.date | None = None, *,
                 engine: str = engines.DEFAULT) -> dict[str, Outcome]:
        """The raw outcomes of every value (for tools that need more than the decision)."""
        case, inputs, day = self.prepare(case, on)
        return self._run(inputs, day, engine)

    # ------------------------------------------------------------ decisions

    def rule_ref(self, name: str) -> RuleRef:
        ref = self._rule_refs.get(name)
        if ref is None:
            r = self.program.rules[name]
            ref = RuleRef(
                name=r.name, title=r.title, ruleset=r.ruleset,
                sources=[_source(s) for s in r.sources],
                because=r.because, file=self.program.relative(r.span.file), line=r.span.line,
            )
            self._rule_refs[name] = ref
        return ref

    def _json(self, value: Any, t: n.TypeRef) -> Any:
        return typed_json(value, t.kind, t.item.kind if t.item is not None else None)

    def _value(self, value: Any, t: n.TypeRef) -> Any:
        return typed_value(value, t.kind, t.item.kind if t.item is not None else None)

    def _fact_json(self, name: str, value: Any) -> Any:
        decl = self.program.values.get(name)
        return self._json(value, decl.type) if decl is not None else to_json(value)

    def output_decision(self, name: str, o: Outcome, changes: list[tuple[str, str]] | None = None) -> OutputDecision:
        decl = self.program.values[name]
        return OutputDecision(
            status=o.status,  # type: ignore[arg-type]
            value=self._value(o.value, decl.type) if o.known else None,
            type=str(decl.type),
            rule=self.rule_ref(o.rule) if o.rule else None,
            concurring=list(o.concurring),
            facts={k: self._fact_json(k, v) for k, v in sorted(o.facts.items())},
            overridden=[Overridden(rule=self.rule_ref(r), by=by) for r, by in o.overridden],
            conflict=[ConflictEntry(rule=self.rule_ref(r), value=self._value(v, decl.type)) for r, v in o.conflict],
            needs=list(o.needs),
            reason=o.reason,
            scenario_changes=None if changes is None else [ScenarioChangeRef(kind=k, name=v)  # type: ignore[arg-type]
                                                           for k, v in changes],
            sources=[_source(s) for s in decl.sources],
            fact_sources={k: [_source(s) for s in o.sources[k]] for k in sorted(o.sources)},
        )

    def per_record_decision(self, name: str, group: str, results: Mapping[str, Outcome],
                            inputs: Mapping[str, Any] | None, marks: Mapping[str, list[tuple[str, str]]] | None
                            ) -> OutputDecision:
        """A value per record: each record's decision in ``records``, and the value as the list of theirs.

        Its status is ``value`` when every record has one; otherwise the worst of the records' (an error, a
        conflict, undetermined), with the inputs every record needs and the first record's reason. A case
        that does not give the list leaves it undetermined, needing the list."""
        decl = self.program.values[name]
        count = None
        if inputs is not None:
            count = self.program.records(inputs, group)
        else:  # the records the outcomes hold
            count = sum(1 for k in results if (p := split_instance(k)) is not None and p[0] == group and p[2] == name)
        if count is None:
            return OutputDecision(status="undetermined", type=str(decl.type), per=group, records=[], needs=[group],
                                  reason=needed_reason([group]), sources=[_source(s) for s in decl.sources])
        records = []
        for i in range(count):
            key = instance(group, i, name)
            records.append(self.output_decision(name, results[key],
                                                None if marks is None else marks.get(key, [])))
        statuses = {r.status for r in records}
        status = next((s for s in ("error", "conflict", "undetermined") if s in statuses), "value")
        reason = next((f"{instance(group, i, name)}: {r.reason}" for i, r in enumerate(records)
                       if r.status == status and r.reason), None) if status != "value" else None
        return OutputDecision(
            status=status,  # type: ignore[arg-type]
            value=[r.value for r in records] if status == "value" else None, type=str(decl.type), per=group,
            records=records, needs=sorted({x for r in records for x in r.needs}), reason=reason,
            sources=[_source(s) for s in decl.sources])

    def decision(self, results: Mapping[str, Outcome], day: dt.date, case: str | None,
                 inputs: Mapping[str, Any] | None = None) -> Decision:
        """The decision from every value's outcome. Under a scenario it needs the case's typed ``inputs``: it
        says which outputs a change of the scenario decided (see ``scenario.marks``)."""
        values = self.program.values
        sc = self.scenario
        marks: dict[str, list[tuple[str, str]]] = {}
        if sc is not None:
            if inputs is None:
                raise ValueError("a decision under a scenario needs the case's inputs")
            from .scenario import marks as scenario_marks

            marks = scenario_marks(self.program, results, inputs, day)

        def one(name: str) -> OutputDecision:
            group = values[name].group
            if group is not None:
                return self.per_record_decision(name, group, results, inputs, marks if sc is not None else None)
            return self.output_decision(name, results[name], marks.get(name, []) if sc is not None else None)

        outputs = {o: one(o) for o in self.program.outputs}
        derived = {v: one(v) for v in self.program.order
                   if not values[v].is_output and (v in results or values[v].group is not None)}
        ref = None
        if sc is not None:
            ref = ScenarioRef(name=sc.name, title=sc.title, sources=[
                Source(id=s.id, title=s.title, detail=s.detail, url=s.url) for s in sc.sources])
        return Decision(case=case, rulebook=self.content_hash, peildatum=day, outputs=outputs,
                        derived=dict(sorted(derived.items())), scenario=ref)

    # ------------------------------------------------------------ why not

    def why_not(self, rule: str, case: Case | Mapping[str, Any], on: dt.date | None = None) -> str:
        """Why a rule did not decide: not in force, a failing condition (with the values), or overridden."""
        return self.why_not_answer(rule, case, on).answer

    def why_not_answer(self, rule: str, case: Case | Mapping[str, Any], on: dt.date | None = None) -> WhyNot:
        """``why_not`` as data: the answer's text and, for the case or for each record of a rule per record,
        which answer it is (``kind``), the condition, the facts it read, what it needs, and the exceptions that
        took precedence."""
        from .explain import why_not

        if rule not in self.program.rules:
            from .check import suggest

            hint = suggest(rule, self.program.rules)
            raise UsageError(f"no rule named `{rule}`" + (f"; {hint}" if hint else ""))
        case, inputs, day = self.prepare(case, on)
        ev = Evaluation(self.program, inputs, day)
        results = ev.run()
        checked = self.program.rules[rule]
        group = self.program.values[checked.target].group
        if group is None:
            reasons = [why_not(self.program, ev, results, checked)]
            return WhyNot(rule=rule, case=case.name, peildatum=day, answer=reasons[0].text, reasons=reasons)
        # a rule per record: why not, for each record
        count = self.program.records(inputs, group)
        if count is None:
            text = (f"regel {rule} beslist per record van `{group}`, en de casus geeft `{group}` niet"
                    if self.program.language == "nederlands" else
                    f"rule {rule} decides for each record of `{group}`, and the case does not give `{group}`")
            return WhyNot(rule=rule, case=case.name, peildatum=day, answer=text,
                          reasons=[WhyNotReason(kind="no_records", text=text)])
        reasons = []
        for i in range(count):
            ev.at = {group: i}
            reasons.append(why_not(self.program, ev, results, checked, instance(group, i, checked.target), i))
        ev.at = {}
        return WhyNot(rule=rule, case=case.name, peildatum=day, reasons=reasons,
                      answer="\n".join(f"[{r.record}] {r.text}" for r in reasons))

    def rule(self, name: str) -> CheckedRule:
        return self.program.rules[name]


def _source(s: SourceInfo) -> Source:
    return Source(id=s.id, title=s.title, detail=s.detail, url=s.url)


# ------------------------------------------------------------------ the cache of checked rule books

CACHE_FORMAT = "4"
"""Changes whenever what the cache stores changes shape; part of every entry's key."""


def _mappingproxy(d: dict[Any, Any]) -> Mapping[Any, Any]:
    from types import MappingProxyType

    return MappingProxyType(d)


def _mappingproxy_reduce(m: Any) -> tuple[Any, tuple[dict[Any, Any]]]:
    return _mappingproxy, (dict(m),)


def load_cached(path: str | Path, directory: Path | None = None, *, scenarios: str | Path | None = None,
                scenario: Path | None = None) -> RuleBook:
    """Load and check a rule book, reusing the checked result of an earlier run with the same files.

    The key is a hash of every rule file's name and bytes (the scenario's too, with ``scenario``, the folder
    of a scenario); the entry also records the hash of every table file, so a changed table invalidates it.
    Raises RuleBookError like ``load_rules``. The cache lives in ``$PASSENDEZORG_CACHE`` or
    ``~/.cache/passendezorg``; an entry is unpickled only from a private folder and only with this
    user's signature (see ``cache.py``): a cache that cannot be trusted is passed by, with a warning.
    """
    import copyreg
    import hashlib
    import io
    import pickle
    import sys
    from types import MappingProxyType

    from .cache import read_entry, write_entry
    from .version import __version__

    root = Path(path)
    files = rule_files(root)
    base = root if root.is_dir() else root.parent
    listed = [(f.relative_to(base).as_posix(), f) for f in files]
    if scenario is not None:
        from .scenario import scenario_files

        listed += [(f"scenarios/{scenario.name}/{f.relative_to(scenario).as_posix()}", f)
                   for f in scenario_files(scenario)]
    h = hashlib.sha256()
    h.update(f"{CACHE_FORMAT}\0{sys.version}\0{__version__}\0".encode())
    if scenario is not None:  # a scenario's record names its folder (its cases are found there)
        h.update(f"{scenario}\0{scenario.resolve()}\0".encode())
    readable = True
    for name, f in listed:
        try:
            h.update(name.encode("utf-8") + b"\0" + read_inside(f, f.resolve().parent, MAX_RULE_FILE_BYTES) + b"\0")
        except FileRefused:  # `check` says why it is not read
            readable = False
            break
    entry = f"rulebook-{h.hexdigest()}.pzc"

    def book(program: Program, warnings: list[Diagnostic]) -> RuleBook:
        return RuleBook(program, warnings, path=path, scenarios=scenarios, cache=True)

    began = time.perf_counter()
    payload = read_entry(entry, directory) if readable else None
    if payload is not None:  # written and signed by this user's passendezorg: safe to unpickle
        try:
            tables, program, warnings = pickle.loads(payload)
            if all(_file_digest(Path(name)) == digest for name, digest in tables.items()):
                log.info("rule book %s from the cache in %.3f s (%s)", path, time.perf_counter() - began,
                         program.content_hash)
                log.debug("cache hit: %s", entry)
                return book(program, warnings)
            log.info("cache miss for rule book %s: a table changed since %s", path, entry)
        except Exception as e:  # noqa: BLE001 - a stale entry or one of another version is rebuilt
            log.info("cache miss for rule book %s: the entry %s cannot be read (%s)", path, entry,
                     type(e).__name__)
    else:
        log.info("cache miss for rule book %s: not checked before (%s)", path, entry)
    report = check_path(root, scenario=scenario)
    if report.program is None:
        log.info("rule book %s: %d error(s) in %d file(s)", path, len(report.errors), report.files)
        raise RuleBookError(report.diagnostics, report.sources)
    _log_loaded(path, report, time.perf_counter() - began)
    program = report.program
    rule_names = {name for name, _ in listed}
    prefix = f"scenarios/{scenario.name}/" if scenario is not None else None

    def where_is(name: str) -> Path:
        if prefix is not None and scenario is not None and name.startswith(prefix):
            return (scenario / name[len(prefix):]).resolve()
        return (base / name).resolve()

    tables = {str(where_is(name)): hashlib.sha256(data).hexdigest()
              for name, data in program.files.items() if name not in rule_names}
    try:
        out = io.BytesIO()
        pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = {**copyreg.dispatch_table, MappingProxyType: _mappingproxy_reduce}
        pickler.dump((tables, program, report.warnings))
        if readable:
            write_entry(entry, out.getvalue(), directory)
            log.debug("cache stored: %s", entry)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as e:
        log.warning("the checked rule book %s cannot be kept in the cache (%s); the next run checks it again",
                    path, e)
    return book(program, report.warnings)


def _file_digest(path: Path) -> str | None:
    import hashlib

    try:
        return hashlib.sha256(read_inside(path, path.parent, MAX_TABLE_FILE_BYTES)).hexdigest()
    except FileRefused:
        return None
