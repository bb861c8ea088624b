"""Scenarios: a named, sourced overlay on the rule book in force, in its own files.

A scenario lives in a folder of its own, ``scenarios/<name>/*.pz`` beside the rules folder (with its own
``data/`` tables and ``cases/``). Its files start with ``scenario <name>`` and hold ordinary declarations and
rules (exceptions to rules in force included) and changes to the rule book in force: new dated values of a
parameter, a table replaced or added to, a rule switched off. The rule book in force plus a scenario is
checked as one rule book by the same checker: ``apply`` turns the changes into the rule book's own items
(a parameter with the scenario's values, a table with the scenario's rows, the rules to switch off), and the
checker sees the result. ``marks`` says, for a decision made under a scenario, which outputs a change of the
scenario decided.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import nodes as n
from .errors import Diagnostic, UsageError
from .program import Program, Scenario, ScenarioChange, SourceInfo, SwitchedOff, instance
from .source import Span

if TYPE_CHECKING:
    from .check import Checker
    from .engines.semantics import Outcome

SCENARIOS_FOLDER = "scenarios"
"""The default folder of scenarios, beside the rules folder."""

ENV = "PASSENDEZORG_SCENARIOS"


def scenarios_folder(rules: str | Path, given: str | Path | None = None) -> Path:
    """Where the scenarios of a rule book are: ``given``, else ``$PASSENDEZORG_SCENARIOS``, else ``scenarios/``
    beside the rules folder (beside the file, for a rule book of one file)."""
    if given is not None:
        return Path(given)
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    rules = Path(rules)
    folder = rules if rules.is_dir() else rules.parent
    if folder.name in ("", ".", ".."):
        folder = folder.resolve()
    return folder.parent / SCENARIOS_FOLDER


def scenario_files(folder: Path) -> list[Path]:
    """The rule files of one scenario (its cases and data are not rule files)."""
    return sorted(p for p in folder.rglob("*.pz") if p.is_file())


@dataclass(frozen=True)
class ScenarioSummary:
    """A scenario found beside a rule book: its name, title and sources, read from its files' headers."""

    name: str
    title: str | None
    sources: tuple[SourceInfo, ...]
    folder: Path


def available(folder: Path) -> list[ScenarioSummary]:
    """The scenarios in ``folder`` (a sub-folder with rule files each), by name; headers only, nothing checked."""
    from .files import MAX_RULE_FILE_BYTES, FileRefused, read_inside
    from .syntax import parse_text

    out: list[ScenarioSummary] = []
    if not folder.is_dir():
        return out
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = scenario_files(sub)
        if not files:
            continue
        title = None
        sources: list[SourceInfo] = []
        for f in files:
            try:  # a regular file inside the scenario's folder, as `check` reads it
                parsed, _ = parse_text(read_inside(f, sub, MAX_RULE_FILE_BYTES).decode("utf-8"), str(f))
            except (FileRefused, UnicodeDecodeError):
                continue
            header = parsed.ruleset if parsed is not None else None
            if header is None or not header.scenario:
                continue
            title = title or header.title
            sources += [SourceInfo(s.name, s.title, None, s.url, s.proposal) for s in header.sources]
        out.append(ScenarioSummary(sub.name, title, tuple(sources), sub))
    return out


def find(folder: Path, name: str) -> Path:
    """The folder of scenario ``name``; UsageError (with the scenarios there, or a did-you-mean) if there is none."""
    from .check import suggest

    sub = folder / name
    if name and "/" not in name and name not in (".", "..") and sub.is_dir() and scenario_files(sub):
        return sub
    names = [s.name for s in available(folder)]
    if not folder.is_dir():
        raise UsageError(f"no scenario `{name}`: there is no folder of scenarios {folder}; give it with "
                         f"--scenarios DIR (or ${ENV})")
    hint = suggest(name, names)
    listed = ", ".join(names) if names else "none"
    raise UsageError(f"no scenario `{name}` in {folder}" + (f"; {hint}" if hint else f" (the scenarios: {listed})"))


# ------------------------------------------------------------------ the overlay


@dataclass
class Overlay:
    """A scenario applied to the rule book's parsed files: what the checker sees, and what changed."""

    name: str
    folder: Path
    base: list[n.RuleFile]  # the rule book's files, with the scenario's parameter values and table changes
    own: list[n.RuleFile]  # the scenario's files, without its changes (declarations and rules only)
    switched_off: dict[str, dt.date | None] = field(default_factory=dict)
    switches: list[n.SwitchOff] = field(default_factory=list)
    parameter_changes: list[n.ParameterChange] = field(default_factory=list)
    parameter_periods: dict[str, list[tuple[dt.date, dt.date | None]]] = field(default_factory=dict)
    table_changes: list[n.TableChange] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span, hint: str | None = None,
              related: tuple[tuple[str, Span], ...] = ()) -> None:
        self.diagnostics.append(Diagnostic("error", code, message, span, hint, related))

    def warn(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic("warning", code, message, span, hint))


def apply(base: list[n.RuleFile], own: list[n.RuleFile], name: str, folder: Path) -> Overlay:
    """Apply a scenario's changes to the rule book's files: the combined items the checker checks."""
    from .check import suggest

    ov = Overlay(name, folder, [], [])
    params = {i.name: i for f in base for i in f.items if isinstance(i, n.ParameterDecl)}
    tables = {i.name: i for f in base for i in f.items if isinstance(i, n.TableDecl)}
    rules = {i.name: i for f in base for i in f.items if isinstance(i, n.Rule)}
    own_names = {i.name for f in own for i in f.items
                 if isinstance(i, (n.InputDecl, n.DerivedDecl, n.OutputDecl, n.ParameterDecl, n.TableDecl, n.Rule))}
    title: tuple[str, Span] | None = None
    headed = False
    param_changes: dict[str, n.ParameterChange] = {}
    table_changes: dict[str, list[n.TableChange]] = {}
    for f in sorted(own, key=lambda x: x.path):
        header = f.ruleset
        if header is None or not header.scenario:
            where = header.span if header is not None else Span(f.path, 1, 1)
            ov.error("scenario", f"a file of scenario `{name}` must start with `scenario {name}`", where,
                     "write `scenario <name>` (with its title and sources) after the language line")
        else:
            headed = True
            if header.name != name:
                ov.error("scenario", f"this file calls its scenario `{header.name}`, but it is in the folder of "
                         f"scenario `{name}`", header.span, f"write `scenario {name}`, or move the file to the "
                         f"folder {header.name}/")
            if header.title is not None:
                if title is not None and title[0] != header.title:
                    ov.error("scenario", f"scenario `{name}` has two titles", header.span,
                             "give the title once, in one of its files", (("the other title", title[1]),))
                title = title or (header.title, header.span)
        items: list[n.Item] = []
        for item in f.items:
            if isinstance(item, n.ParameterChange):
                if item.name not in params:
                    here = "is declared in this scenario: give its values in its declaration" \
                        if item.name in own_names else "is not a parameter of the rule book in force"
                    ov.error("unknown-name", f"`{item.name}` {here}", item.name_span or item.span,
                             suggest(item.name, params) if item.name not in own_names else None)
                elif item.name in param_changes:
                    ov.error("duplicate", f"parameter `{item.name}` is changed twice", item.span,
                             "give all its new values in one change", (("first changed here",
                                                                        param_changes[item.name].span),))
                else:
                    param_changes[item.name] = item
                    ov.parameter_changes.append(item)
            elif isinstance(item, n.TableChange):
                if item.name not in tables:
                    here = "is declared in this scenario: give its rows in its own file" \
                        if item.name in own_names else "is not a table of the rule book in force"
                    ov.error("unknown-name", f"`{item.name}` {here}", item.name_span or item.span,
                             suggest(item.name, tables) if item.name not in own_names else None)
                else:
                    for word, count in item.clause_count.items():
                        if count > 1:
                            ov.error("scenario", f"the change of table `{item.name}` gives `{word}` twice", item.span)
                    table_changes.setdefault(item.name, []).append(item)
                    ov.table_changes.append(item)
            elif isinstance(item, n.SwitchOff):
                if item.rule not in rules:
                    here = "is a rule of this scenario: leave it out instead of switching it off" \
                        if item.rule in own_names else "is not a rule of the rule book in force"
                    ov.error("unknown-name", f"`{item.rule}` {here}", item.name_span or item.span,
                             suggest(item.rule, rules) if item.rule not in own_names else None)
                elif item.rule in ov.switched_off:
                    ov.error("duplicate", f"rule `{item.rule}` is switched off twice", item.span)
                else:
                    if item.clause_count.get("from", 0) > 1:
                        ov.error("scenario", f"switching rule `{item.rule}` off gives `from` twice", item.span)
                    ov.switched_off[item.rule] = item.start
                    ov.switches.append(item)
                    if not item.sources:
                        ov.warn("no-source", f"switching rule `{item.rule}` off has no source", item.span,
                                "add `source <id> \"<detail>\"`: every change of a scenario is sourced")
            else:
                items.append(item)
        ov.own.append(replace(f, items=tuple(items)))
    for change in ov.table_changes:
        if not change.sources:
            ov.warn("no-source", f"the change of table `{change.name}` has no source", change.span,
                    "add `source <id> \"<detail>\"`: every change of a scenario is sourced")
    if headed and title is None:  # (a file without its header is reported above)
        first = sorted(own, key=lambda x: x.path)[0]
        ov.warn("scenario", f"scenario `{name}` has no title", first.ruleset.span if first.ruleset else
                Span(first.path, 1, 1), "add `title \"…\"` under `scenario`: decisions and the catalogue show it")
    # the rule book's files, with the changes applied to their items
    for f in base:
        items = []
        for item in f.items:
            if isinstance(item, n.ParameterDecl) and item.name in param_changes:
                values = param_changes[item.name].values
                periods = _periods(values)
                ov.parameter_periods[item.name] = periods
                item = replace(item, values=_overlay_values(item.values, periods) + values)
            elif isinstance(item, n.TableDecl) and item.name in table_changes:
                item = replace(item, changes=item.changes + tuple(table_changes[item.name]))
            items.append(item)
        ov.base.append(replace(f, items=tuple(items)))
    return ov


def _periods(values: Iterable[n.ParamValue]) -> list[tuple[dt.date, dt.date | None]]:
    """The periods the scenario's values hold: each to its own end, or to the next value's start, or on."""
    ordered = sorted(values, key=lambda v: v.start)
    out = []
    for i, v in enumerate(ordered):
        end = v.end
        if end is None and i + 1 < len(ordered):
            end = max(ordered[i + 1].start - dt.timedelta(days=1), v.start)
        out.append((v.start, end))
    return out


def _overlay_values(values: tuple[n.ParamValue, ...], holes: list[tuple[dt.date, dt.date | None]]
                    ) -> tuple[n.ParamValue, ...]:
    """The rule book's values outside the periods the scenario sets (a value across such a period is split)."""
    ordered = sorted(values, key=lambda v: v.start)
    out: list[n.ParamValue] = []
    for i, v in enumerate(ordered):
        end = v.end
        if end is None and i + 1 < len(ordered) and ordered[i + 1].start > v.start:
            end = ordered[i + 1].start - dt.timedelta(days=1)
        pieces: list[tuple[dt.date, dt.date | None]] = [(v.start, end)]
        for lo, hi in holes:
            nxt: list[tuple[dt.date, dt.date | None]] = []
            for a, b in pieces:
                if (hi is not None and hi < a) or (b is not None and lo > b):
                    nxt.append((a, b))
                    continue
                if a < lo:
                    nxt.append((a, lo - dt.timedelta(days=1)))
                if hi is not None and (b is None or hi < b):
                    nxt.append((hi + dt.timedelta(days=1), b))
            pieces = nxt
        out += [replace(v, start=a, end=b) for a, b in pieces]
    return tuple(out)


def describe(ov: Overlay, checker: Checker, files: Iterable[str]) -> Scenario:
    """What the scenario is and changes, with its sources resolved (an unknown source is reported)."""

    def sources(refs: Iterable[n.SourceRef]) -> tuple[SourceInfo, ...]:
        """Sources the checker has not read yet (of a table change, a rule switched off): an unknown one is reported."""
        return tuple(s for s in (checker.resolve_source(r) for r in refs) if s is not None)

    def known(refs: Iterable[n.SourceRef]) -> tuple[SourceInfo, ...]:
        """Sources the checker has read already (of a parameter value, a rule): reported there if unknown."""
        out = []
        for r in refs:
            src = checker.sources.get(r.source) if r.source is not None else None
            if r.source is None:
                out.append(SourceInfo(None, r.detail or "", None, None))
            elif src is not None:
                out.append(SourceInfo(src.name, src.title, r.detail, src.url, src.proposal))
        return tuple(out)

    headers = [f.ruleset for f in sorted(ov.own, key=lambda x: x.path) if f.ruleset is not None and f.ruleset.scenario]
    title = next((h.title for h in headers if h.title is not None), None)
    header_sources = tuple(SourceInfo(s.name, s.title, None, s.url, s.proposal) for h in headers for s in h.sources)
    changes: list[ScenarioChange] = []
    for pc in ov.parameter_changes:
        refs = [v.source for v in pc.values if v.source is not None]
        changes.append(ScenarioChange("parameter", pc.name, min(v.start for v in pc.values), known(refs), pc.span))
    tables: dict[str, list[tuple[str, dt.date | None]]] = {}
    for tc in ov.table_changes:
        tables.setdefault(tc.name, []).append((tc.kind, tc.start))
        file = tc.file
        if file is not None:
            try:
                file = (Path(tc.span.file).parent / file).resolve().relative_to(ov.folder.resolve()).as_posix()
            except (ValueError, OSError, RuntimeError):  # RuntimeError: a symbolic link that loops
                pass
        changes.append(ScenarioChange(tc.kind, tc.name, tc.start, sources(tc.sources), tc.span, file))
    switched: dict[str, SwitchedOff] = {}
    for so in ov.switches:
        rule = checker.rules[so.rule]
        switched[so.rule] = SwitchedOff(so.start, rule.valid_from, rule.valid_until)
        changes.append(ScenarioChange("switch_off", so.rule, so.start, sources(so.sources), so.span))
    own_rules: list[str] = []
    declared: list[tuple[str, str]] = []
    kinds = {n.InputDecl: "input", n.DerivedDecl: "derived", n.OutputDecl: "output", n.ParameterDecl: "parameter",
             n.TableDecl: "table"}
    for f in ov.own:
        for item in f.items:
            if isinstance(item, n.Rule):
                own_rules.append(item.name)
                changes.append(ScenarioChange("rule", item.name, item.valid_from, known(item.sources), item.span,
                                              exception_to=item.exception_to))
            elif type(item) in kinds:
                assert isinstance(item, (n.InputDecl, n.DerivedDecl, n.OutputDecl, n.ParameterDecl, n.TableDecl))
                declared.append((kinds[type(item)], item.name))
    return Scenario(
        name=ov.name, title=title, sources=header_sources, folder=str(ov.folder), files=tuple(files),
        rules=frozenset(own_rules), declared=tuple(declared), switched_off=_frozen(switched),
        parameters=_frozen({k: tuple(v) for k, v in ov.parameter_periods.items()}),
        tables=_frozen({k: tuple(v) for k, v in tables.items()}),
        changes=tuple(sorted(changes, key=lambda c: (c.span.file, c.span.line, c.span.column))),
    )


def _frozen(d: dict[Any, Any]) -> Mapping[Any, Any]:
    from types import MappingProxyType

    return MappingProxyType(d)


# ------------------------------------------------------------------ which outputs a change decided


def marks(program: Program, results: Mapping[str, Outcome], inputs: Mapping[str, Any], day: dt.date
          ) -> dict[str, list[tuple[str, str]]]:
    """Per value, the changes of the scenario that decided it: a list of (kind, name), empty if none did.

    A value is marked when, on this case and date:

    - the rule that decided it, or a rule that concurred, is a rule of the scenario (``rule``);
    - a rule in force that the scenario switched off would have decided it: it is in force on the date under the
      rule book in force, its condition holds, and no exception to it applies (``switch_off``);
    - what decided it -- the deciding rule's condition and value, the definition, or the default -- or the
      condition of a rule for it that did not apply (false), used a parameter value the scenario sets on that
      date (``parameter``), a table row the scenario added or replaced, or a table the scenario replaced
      (``table``), or a value that is itself marked (``value``);
    - it has no value (undetermined, conflict, error) and a rule of the scenario was in play (in force, its
      condition not false), or the rules in play used a change as above.
    """
    if program.scenario is None:
        return {}
    return _Marker(program, results, inputs, day).run()


class _Marker:
    """Goes through the values in dependency order, so that a value's mark is known before a value uses it."""

    def __init__(self, program: Program, results: Mapping[str, Outcome], inputs: Mapping[str, Any],
                 day: dt.date) -> None:
        from .engines.interpreter import Evaluation

        assert program.scenario is not None
        self.p = program
        self.sc = program.scenario
        self.results = results
        self.day = day
        self.ev = Evaluation(program, inputs, day)
        self.ev.results.update(results)
        self.rendered = _rendered_keys(program)
        self.out: dict[str, list[tuple[str, str]]] = {}

    def run(self) -> dict[str, list[tuple[str, str]]]:
        for name in self.p.order:
            group = self.p.values[name].group
            if group is not None:  # a value per record: each record, with its record at hand
                for i in range(self.p.records(self.ev.inputs, group) or 0):
                    key = instance(group, i, name)
                    if key in self.results:
                        self.ev.at = {group: i}
                        self.out[key] = self.value(name, self.results[key])
                        self.ev.at = {}
            elif name in self.results:
                self.out[name] = self.value(name, self.results[name])
        return self.out

    def value(self, name: str, o: Outcome) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        decl = self.p.values[name]
        rules = self.p.rules
        if o.known:
            deciding = [o.rule, *o.concurring]
            for d in deciding:
                if d is not None and d in self.sc.rules:
                    _note(found, "rule", d)
            self.used(o.facts, found)
            for rname in decl.rules:  # a rule that a change kept from applying
                r = rules[rname]
                if rname in deciding or r.when is None or not r.valid_on(self.day):
                    continue
                facts: dict[str, Any] = {}
                if self.ev.ev(r.when, facts) is False:
                    self.used(facts, found)
        else:
            self.used(o.facts, found)
            for rname in decl.rules:  # the rules in play
                r = rules[rname]
                if not r.valid_on(self.day):
                    continue
                facts = {}
                cond = True if r.when is None else self.ev.ev(r.when, facts)
                if cond is False:
                    continue
                if rname in self.sc.rules:
                    _note(found, "rule", rname)
                if cond is True:
                    self.ev.ev(r.value, facts)
                self.used(facts, found)
        for rname, off in self.sc.switched_off.items():
            r = rules[rname]
            if r.target == name and off.would_be_in_force(self.day) and _applies(self.ev, r.when) and \
                    not _overridden(self.ev, self.p, rname, self.day):
                _note(found, "switch_off", rname)
        return found

    def used(self, facts: Mapping[str, Any], found: list[tuple[str, str]]) -> None:
        """Note the changes among the facts a rule, definition or default used."""
        p = self.p
        for key in facts:
            if key in p.parameters:
                if self.sc.sets_parameter(key, self.day):
                    _note(found, "parameter", key)
            elif key in p.values or key in self.out:  # a value, or a value per record of one record
                if self.out.get(key):
                    _note(found, "value", key)
            elif key not in p.inputs:
                table = _table_of(key, p, self.rendered, self.sc, self.day)
                if table is not None:
                    _note(found, "table", table)


def _note(found: list[tuple[str, str]], kind: str, name: str) -> None:
    if (kind, name) not in found:
        found.append((kind, name))


def _applies(ev: Any, when: n.Expr | None) -> bool:
    return when is None or ev.ev(when, {}) is True


def _overridden(ev: Any, program: Program, rule: str, day: dt.date) -> bool:
    """Does an exception to ``rule`` (at any depth) apply on ``day``?"""
    for kid in program.exceptions.get(rule, ()):
        r = program.rules[kid]
        if (r.valid_on(day) and _applies(ev, r.when)) or _overridden(ev, program, kid, day):
            return True
    return False


def _rendered_keys(program: Program) -> dict[str, dict[str, Any]]:
    """For each table a scenario changed: its keys as the interpreter writes them in facts -> the key."""
    sc = program.scenario
    if sc is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name in sc.tables:
        table = program.tables.get(name)
        if table is not None:
            out[name] = {", ".join(str(k) for k in key): key for key in table.rows}
    return out


def _table_of(fact: str, program: Program, rendered: Mapping[str, Mapping[str, Any]], sc: Scenario,
              day: dt.date) -> str | None:
    """The changed table a fact read, if the row (or its absence) it read is the scenario's."""
    for name, keys in rendered.items():
        text: str | None = None
        if fact.endswith(f" in {name}"):
            text = fact[: -len(f" in {name}")]
        elif fact.startswith(f"{name}[") and "]." in fact:
            text = fact[len(name) + 1: fact.rindex("].")]
        if text is None:
            continue
        if sc.replaces_table(name, day):
            return name
        key = keys.get(text)
        if key is not None:
            row = program.tables[name].row_on(key, day)
            if row is not None and row.scenario:
                return name
    return None
