"""Check a parsed rule book as a whole and build the Program the engines run.

Every finding is collected (nothing stops at the first): names, types,
exceptions, cycles, validity periods, parameter periods, tables, sources.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import nodes as n
from .errors import Diagnostic
from .files import MAX_TABLE_FILE_BYTES, FileRefused, read_inside
from .program import (
    CheckedRule,
    Group,
    Parameter,
    ParamPeriod,
    Program,
    SourceInfo,
    Table,
    TableRow,
    ValueDecl,
    frozen,
)
from .source import Span, cell_spans, undecodable
from .values import parse_date, parse_number, round_money, whole_cents

# ---------------------------------------------------------------- types

BOOLEAN = n.TypeRef("boolean")
INTEGER = n.TypeRef("integer")
DECIMAL = n.TypeRef("decimal")
MONEY = n.TypeRef("money")
DATE = n.TypeRef("date")
TEXT = n.TypeRef("text")
DURATION = n.TypeRef("duration")
ERROR = n.TypeRef("error")  # already reported; silences follow-up errors
PENDING = n.TypeRef("pending")  # a bare name that may be a choice of a `one of` type
TABLE = n.TypeRef("table")

#: function name as written, per language -> canonical name
FUNCTIONS = {
    "english": {
        "age": "age", "year": "year", "min": "min", "max": "max", "round": "round",
        "round_down": "round_down", "abs": "abs", "days_between": "days_between", "count": "count",
        "sum": "sum", "minimum": "minimum", "maximum": "maximum", "all": "all", "any": "any",
        "start_of_month": "start_of_month",
    },
    "nederlands": {
        "leeftijd": "age", "jaar": "year", "min": "min", "max": "max", "afronden": "round",
        "afronden_omlaag": "round_down", "abs": "abs", "dagen_tussen": "days_between", "aantal": "count",
        "som": "sum", "minimum": "minimum", "maximum": "maximum", "alle": "all", "enige": "any",
        "begin_maand": "start_of_month",
    },
}


def is_numeric(t: n.TypeRef) -> bool:
    return t.kind in ("integer", "decimal")


def type_name(t: n.TypeRef) -> str:
    if t.kind == "enum" and len(t.choices) == 1:
        return f"the choice `{t.choices[0]}`"
    return {
        "boolean": "a boolean", "integer": "an integer", "decimal": "a decimal", "money": "an amount of money",
        "date": "a date", "text": "a text", "duration": "a duration", "table": "a table", "tuple": "a tuple",
        "enum": f"a choice ({', '.join(t.choices)})",
        "list": "a list of names that are not declared" if t.item is not None and t.item.kind == "pending"
        else f"a list of {t.item}", "pending": "a name that is not declared",
    }.get(t.kind, t.kind)


def assignable(value: n.TypeRef, target: n.TypeRef) -> bool:
    """Can a value of type ``value`` be stored where ``target`` is declared?"""
    if ERROR in (value, target):
        return True
    if value.kind == target.kind == "enum":
        return set(value.choices) <= set(target.choices)
    if target.kind == "enum" and value.kind == "text":
        return True  # literal texts are checked against the choices where they stand
    if value.kind == "integer" and target.kind == "decimal":
        return True
    if value.kind == target.kind == "list":
        assert value.item is not None and target.item is not None
        return value.item.kind == "error" or assignable(value.item, target.item)
    return value.kind == target.kind


def comparable(a: n.TypeRef, b: n.TypeRef) -> bool:
    if ERROR in (a, b):
        return True
    if is_numeric(a) and is_numeric(b):
        return True
    if a.kind in ("enum", "text") and b.kind in ("enum", "text"):
        return True
    return a.kind == b.kind and a.kind in ("money", "date", "boolean", "text")


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    pool = sorted(set(candidates))
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not close:
        # a missing prefix is a common slip: `zitting` for `behandeling.zitting`
        close = [c for c in pool if c.endswith("." + name)][:1]
    return f"did you mean `{close[0]}`?" if close else None


# ---------------------------------------------------------------- the checker

MAX_EXCEPTION_DEPTH = 100
"""How deeply exceptions may nest (an exception to an exception to …): every engine walks them."""


Related = tuple[tuple[str, Span], ...]


@dataclass
class _Decl:
    kind: str  # input, derived, output, parameter, table, rule, source
    node: Any
    file: n.RuleFile


def depth_first(roots: Iterable[str], edges: Callable[[str], Iterable[str]]) -> Iterator[tuple[str, list[str]]]:
    """A depth-first walk with its own stack, so a chain of any length cannot overflow it.

    Yields ``("done", [node])`` once everything below a node is done (post-order), and ``("cycle", path)``
    for an edge back into the path being walked: ``path`` runs from the node reached again to itself.
    """
    state: dict[str, int] = {}  # 1: on the path, 2: done
    for root in roots:
        if root in state:
            continue
        path = [root]
        state[root] = 1
        stack = [iter(edges(root))]
        while stack:
            c = next(stack[-1], None)
            if c is None:
                done = path.pop()
                stack.pop()
                state[done] = 2
                yield "done", [done]
            elif state.get(c) == 1:
                yield "cycle", path[path.index(c):] + [c]
            elif c not in state:
                state[c] = 1
                path.append(c)
                stack.append(iter(edges(c)))


class Checker:
    """Checks parsed files; ``diagnostics`` collects everything found.

    Under a scenario, ``scenario_files`` are the scenario's own files (checked after the rule book's, so that
    what they add comes later in rule book order), ``scenario_root`` its folder and ``switched_off`` the rules
    in force it switches off (rule -> from which day; None: entirely). The rule book's files then already
    carry the scenario's parameter values and table changes (see ``scenario.py``).
    """

    def __init__(self, files: list[n.RuleFile], base: Path | None = None, *,
                 scenario_files: list[n.RuleFile] | None = None, scenario_root: Path | None = None,
                 scenario_name: str | None = None, switched_off: Mapping[str, dt.date | None] | None = None) -> None:
        self.files = sorted(files, key=lambda f: f.path) + sorted(scenario_files or [], key=lambda f: f.path)
        self.scenario_paths = {f.path for f in scenario_files or []}
        self.scenario_root = scenario_root
        self.scenario_name = scenario_name
        self.switched_off = dict(switched_off or {})
        self.base = base
        self.diagnostics: list[Diagnostic] = []
        self.inputs: dict[str, n.InputDecl] = {}
        self.derived: dict[str, n.DerivedDecl] = {}
        self.outputs: dict[str, n.OutputDecl] = {}
        self.params: dict[str, n.ParameterDecl] = {}
        self.table_decls: dict[str, n.TableDecl] = {}
        self.rules: dict[str, n.Rule] = {}
        self.groups: dict[str, n.GroupDecl] = {}  # record name -> its group
        self._record: str | None = None  # the record the expression being checked is about (a value per record)
        self.rule_file: dict[str, n.RuleFile] = {}
        self.sources: dict[str, n.SourceDef] = {}
        self.rulesets: dict[str, n.Ruleset] = {}
        self.peildatum: n.PeildatumDecl | None = None
        self.tables: dict[str, Table] = {}
        self.table_bytes: dict[str, bytes] = {}
        self.table_texts: dict[str, str] = {}  # table file as shown in diagnostics -> its text, to quote
        self.language = "english"
        self.file_languages: dict[str, str] = {}
        self.reads: dict[str, set[str]] = {}  # rule or value -> values it reads
        # what declarations with a syntax error may have said: no follow-up errors about them,
        # and no warning that they might contradict
        self.unparsed = [u for f in self.files for u in f.unparsed]
        self.unparsed_names = {u.name for u in self.unparsed if u.name is not None}
        self.unparsed_sources = {s for u in self.unparsed for s in u.sources}
        self.unparsed_targets = {t for u in self.unparsed if u.kind == "rule" for t in u.targets}
        self.partial_rules = {u.name for u in self.unparsed if u.kind == "rule" and u.partial and u.name}
        self.partial_values = {u.name for u in self.unparsed if u.kind in ("output", "derived") and u.partial and u.name}
        self.unknown_targets = any(u.kind in ("rule", None) and not u.targets for u in self.unparsed)

    # ------------------------------------------------------------ reporting

    def error(self, code: str, message: str, span: Span, hint: str | None = None, related: Related = ()) -> None:
        self.diagnostics.append(Diagnostic("error", code, message, span, hint, related, self.language_of(span)))

    def warn(self, code: str, message: str, span: Span, hint: str | None = None, related: Related = ()) -> None:
        self.diagnostics.append(Diagnostic("warning", code, message, span, hint, related, self.language_of(span)))

    def language_of(self, span: Span) -> str:
        """The language of the file a diagnostic is about (a table file: of the rule file that names it)."""
        return self.file_languages.get(span.file, self.language)

    # ------------------------------------------------------------ entry

    def run(self) -> Program | None:
        self.collect()
        self.load_tables()
        parameters = self.check_parameters()
        values, checked_rules = self.check_values_and_rules()
        self.check_peildatum()
        exceptions = self.check_exceptions(checked_rules)
        order = self.check_cycles(values, checked_rules)
        self.check_overlaps(values, checked_rules, exceptions)
        self.diagnostics.sort(key=lambda d: (d.span.file, d.span.line, d.span.column, d.code))
        if any(d.severity == "error" for d in self.diagnostics):
            return None
        outputs = tuple(name for name, v in values.items() if v.is_output)
        return Program(
            inputs=frozen(dict(self.inputs)),
            values=frozen(values),
            order=tuple(order),
            outputs=outputs,
            rules=frozen(checked_rules),
            exceptions=frozen(exceptions),
            parameters=frozen(parameters),
            tables=frozen(self.tables),
            peildatum=self.peildatum.name if self.peildatum else None,
            rulesets=frozen(dict(self.rulesets)),
            content_hash="",
            language=self.language,
            groups=frozen({g.path: Group(g.name, g.path, g.description, frozen({f.name: f.type for f in g.fields}),
                                         g.span) for g in self.groups.values()}),
        )

    # ------------------------------------------------------------ declarations

    def collect(self) -> None:
        seen: dict[str, tuple[str, Span]] = {}
        kind_words = {
            n.InputDecl: "input", n.DerivedDecl: "derived value", n.OutputDecl: "output",
            n.ParameterDecl: "parameter", n.TableDecl: "table", n.Rule: "rule", n.GroupDecl: "group",
        }
        for f in self.files:
            self.file_languages[f.path] = f.language
            if f.language == "nederlands":
                self.language = "nederlands"
            if f.ruleset is not None:
                rs = f.ruleset
                if rs.scenario and f.path not in self.scenario_paths:
                    self.error("scenario", f"`{rs.name}` is a scenario: a scenario lives in its own folder "
                               f"(scenarios/{rs.name}/), not in the rule book in force", rs.span,
                               "move this file to scenarios/<name>/ beside the rules folder; the rule book in force "
                               f"states the law only, and `--scenario {rs.name}` applies the scenario when asked")
                if rs.name in self.rulesets:
                    self.error("duplicate", f"ruleset `{rs.name}` is declared twice", rs.span,
                               related=(("first declared here", self.rulesets[rs.name].span),))
                self.rulesets[rs.name] = rs
                for src in rs.sources:
                    if src.name in self.sources:
                        self.error("duplicate", f"source `{src.name}` is declared twice", src.span,
                                   "give each source its own id", (("first declared here", self.sources[src.name].span),))
                    else:
                        self.sources[src.name] = src
            for item in f.items:
                if isinstance(item, (n.ParameterChange, n.TableChange, n.SwitchOff)):
                    self.error("scenario", "a change to the rule book in force belongs in a scenario, not in the "
                               "rule book in force", item.span,
                               "put it in a scenario file (scenarios/<name>/*.pz, starting with `scenario <name>`)")
                    continue
                if isinstance(item, n.PeildatumDecl):
                    if self.peildatum is not None:
                        self.error("duplicate", "the peildatum is declared twice", item.span,
                                   "declare the peildatum once for the whole rule book",
                                   (("first declared here", self.peildatum.span),))
                    else:
                        self.peildatum = item
                    continue
                kind = kind_words[type(item)]
                name = item.name
                if name in seen:
                    other_kind, other_span = seen[name]
                    what = f"{kind} `{name}`" if other_kind == kind else f"`{name}` ({_a(other_kind)} and {_a(kind)})"
                    self.error("duplicate", f"{what} is declared twice", item.span,
                               "rename one of them" if kind == "rule" else "declare each name once in the rule book",
                               (("first declared here", other_span),))
                    continue
                seen[name] = (kind, item.span)
                if isinstance(item, n.InputDecl):
                    self.inputs[name] = item
                elif isinstance(item, n.DerivedDecl):
                    self.derived[name] = item
                elif isinstance(item, n.OutputDecl):
                    self.outputs[name] = item
                elif isinstance(item, n.ParameterDecl):
                    self.params[name] = item
                elif isinstance(item, n.TableDecl):
                    self.table_decls[name] = item
                elif isinstance(item, n.GroupDecl):
                    self.groups[name] = item
                else:
                    self.rules[name] = item
                    self.rule_file[name] = f
            for item in f.items:
                if isinstance(item, (n.InputDecl, n.DerivedDecl, n.OutputDecl, n.ParameterDecl)):
                    self.check_type_decl(item.type, item.span)
        self.check_groups()

    def check_groups(self) -> None:
        """Groups of facts: one group per place in a case, fields declared once, no input in the group's place,
        a value per record of a group that exists and is not named as one of its fields."""
        paths: dict[str, n.GroupDecl] = {}
        for g in self.groups.values():
            if g.path in paths:
                self.error("duplicate", f"two groups are read from `{g.path}`: `{paths[g.path].name}` and `{g.name}`",
                           g.span, "a list of records in a case is one group; give it one name",
                           (("the other group", paths[g.path].span),))
            paths[g.path] = g
            clash = next((i for i in self.inputs if i == g.path or i.startswith(g.path + ".")
                          or g.path.startswith(i + ".")), None)
            if clash is not None:
                self.error("duplicate", f"the group `{g.name}` is read from `{g.path}`, where the case also has the "
                           f"input `{clash}`", g.span, "give the group a place of its own in a case",
                           (("the input", self.inputs[clash].span),))
            prefix = next((i for i in self.inputs if i.split(".")[0] == g.name), None)
            if prefix is not None:
                self.error("duplicate", f"the record `{g.name}` has the name that starts the input `{prefix}`",
                           g.name_span or g.span, f"`{g.name}.…` would read two ways; give the record another name",
                           (("the input", self.inputs[prefix].span),))
            seen: dict[str, n.FieldDecl] = {}
            for f in g.fields:
                if f.name in seen:
                    self.error("duplicate", f"the field `{f.name}` of `{g.name}` is declared twice", f.span,
                               related=(("first declared here", seen[f.name].span),))
                seen[f.name] = f
                self.check_type_decl(f.type, f.span)
        decls: list[n.DerivedDecl | n.OutputDecl] = [*self.derived.values(), *self.outputs.values()]
        for d in decls:
            if d.per is None:
                continue
            group = self.groups.get(d.per)
            if group is None:
                self.error("unknown-name", f"`{d.name}` is decided per `{d.per}`, which is no group", d.name_span or d.span,
                           suggest(d.per, self.groups) or f"declare the group: `group {d.per} in <path in a case>`")
            elif any(f.name == d.name for f in group.fields):
                self.error("duplicate", f"`{d.name}` is a field of `{d.per}` and also a value per `{d.per}`", d.span,
                           f"rename one of them: both would be `{d.per}.{d.name}`")

    def group_of(self, record: str | None) -> str | None:
        """The path of the group whose record is named ``record``."""
        g = self.groups.get(record) if record is not None else None
        return g.path if g is not None else None

    def per_record(self, name: str) -> str | None:
        """The record a derived value or an output is decided per (None: one value for the case)."""
        d = self.derived.get(name) or self.outputs.get(name)
        return d.per if d is not None and d.per in self.groups else None

    def about(self, record: str | None, e: n.Expr, expected: n.TypeRef, owner: str, what: str) -> n.Expr:
        """``typed`` for an expression about one record of a group (None: about the case)."""
        saved, self._record = self._record, record
        try:
            return self.typed(e, expected, owner, what)
        finally:
            self._record = saved

    def check_type_decl(self, t: n.TypeRef, span: Span) -> None:
        if t.kind == "enum" and len(set(t.choices)) != len(t.choices):
            dup = sorted(c for c in t.choices if t.choices.count(c) > 1)[0]
            self.error("type", f"the choice `{dup}` is listed twice", span)

    def check_peildatum(self) -> None:
        p = self.peildatum
        if p is None:
            if self.rules and not any(u.kind in ("peildatum", None) for u in self.unparsed):
                first = self.files[0]
                self.warn("peildatum", "the rule book declares no peildatum", Span(first.path, 1, 1),
                          "declare `peildatum <date input>` so that every case is read on its own date; "
                          "without it every evaluation needs an explicit date (--on)")
            return
        decl = self.inputs.get(p.name)
        if decl is None and p.name in self.unparsed_names:
            return
        if decl is None:
            self.error("unknown-name", f"the peildatum `{p.name}` is not a declared input", p.span,
                       suggest(p.name, [k for k, v in self.inputs.items() if v.type.kind == "date"]))
        elif decl.type.kind != "date":
            self.error("type", f"the peildatum `{p.name}` must be a date input, not {type_name(decl.type)}", p.span)

    # ------------------------------------------------------------ sources

    def resolve_source(self, ref: n.SourceRef) -> SourceInfo | None:
        if ref.source is None:
            return SourceInfo(None, ref.detail or "", None, None)
        src = self.sources.get(ref.source)
        if src is None and ref.source in self.unparsed_sources:
            return None
        if src is None:
            self.error("unknown-source", f"unknown source `{ref.source}`", ref.span,
                       suggest(ref.source, self.sources) or "declare it in the ruleset header: "
                       "`source <id> \"<title>\" url \"…\"`")
            return None
        return SourceInfo(src.name, src.title, ref.detail, src.url, src.proposal)

    def in_force(self, span: Span) -> bool:
        """Does ``span`` point into the rule book in force (not into a scenario's files)?"""
        return span.file not in self.scenario_paths

    def warn_proposal(self, what: str, sources: tuple[SourceInfo, ...], span: Span) -> None:
        """The rule book in force states the law: something resting on proposals only is a warning."""
        if sources and all(s.proposal for s in sources) and self.in_force(span):
            names = ", ".join(f"`{s.id}`" for s in sources)
            self.warn("proposal", f"{what} rests only on a proposal ({names}), but the rule book in force states "
                      "the law", span, "a proposal is no law: move it into a scenario (scenarios/<name>/), which "
                      "applies only when asked for (`--scenario <name>`); or cite the law it rests on")

    # ------------------------------------------------------------ tables

    def load_tables(self) -> None:
        for name, decl in self.table_decls.items():
            table = self.load_table(decl)
            if table is not None:
                self.tables[name] = table

    def load_table(self, decl: n.TableDecl) -> Table | None:
        columns = {c.name: c.type for c in decl.columns}
        table_source = self.table_source(decl)
        for c in decl.columns:
            self.check_type_decl(c.type, c.span)
        ok = True
        for k in decl.keys:
            if k not in columns:
                self.error("table", f"the key `{k}` of table `{decl.name}` is not a declared column", decl.span,
                           f"add `column {k} : text` (or its type) to the table")
                ok = False
        for vc in (decl.valid_from_column, decl.valid_until_column):
            if vc is not None and vc in columns and columns[vc].kind != "date":
                self.error("table", f"the validity column `{vc}` must be a date column", decl.span)
                ok = False
        rel = self.table_name(Path(decl.span.file).parent / decl.file, decl.file)
        rows = self.read_rows(decl, decl.file, decl.span, ok, source=table_source)
        if rows is None:
            return None
        dated = decl.valid_from_column is not None
        for change in decl.changes:  # a scenario's replacement of the rows, or its additions
            if change.file is None:
                self.error("table", f"`{change.name}`: the change names no file", change.span,
                           f"add `{self.kw('file', change.span)} \"data/….csv\"`: the rows, with the table's columns")
                continue
            cited = self.resolve_source(change.sources[0]) if change.sources else table_source
            new = self.read_rows(decl, change.file, change.span, True, scenario=True, source=cited)
            if new is None:
                rows = None
                continue
            if rows is None:
                continue
            rows = _apply_table_change(change.kind, change.start, rows, new)
            dated = dated or change.start is not None or any(
                r.valid_from is not None or r.valid_until is not None for _, r in new)
        if rows is None:
            return None
        grouped: dict[tuple[Any, ...], list[TableRow]] = {}
        for key, row in rows:
            grouped.setdefault(key, []).append(row)
        return Table(decl.name, decl.description, rel, decl.keys, frozen(columns),
                     frozen({k: tuple(sorted(v, key=lambda r: r.valid_from or dt.date.min)) for k, v in grouped.items()}),
                     dated, decl.span, table_source, decl.source_column)

    def table_name(self, path: Path, given: str) -> str:
        """A table file's name in the rule book's files: relative to the rules folder, or to the scenario's folder."""
        for root, prefix in ((self.scenario_root, f"scenarios/{self.scenario_name}/"), (self.base, "")):
            if root is None:
                continue
            try:
                return prefix + path.resolve().relative_to(root.resolve()).as_posix()
            except (ValueError, OSError, RuntimeError):  # RuntimeError: a symbolic link that loops
                continue
        return given

    def read_table_file(self, path: Path, file: str, table: str, span: Span) -> bytes | None:
        """The bytes of a table file: a regular file, of bounded size, inside the rule book's folder (or the
        scenario's); None, with the error, if it is not. A refused file is named, never quoted."""
        folders = [f for f in (self.base, self.scenario_root) if f is not None] or [Path(span.file).parent]
        if Path(file).is_absolute() or Path(file).drive:
            self.error("table", f"table file `{file}` of table `{table}` is not read: it is an absolute path", span,
                       f"name the table file relative to the rule file, inside the rule book's folder {folders[0]}")
            return None
        refused: FileRefused | None = None
        for folder in folders:
            try:
                return read_inside(path, folder, MAX_TABLE_FILE_BYTES)
            except FileRefused as e:
                refused = refused if refused is not None and not refused.missing else e
        assert refused is not None
        if refused.missing:
            self.error("table", f"table file `{file}` of table `{table}` cannot be read", span,
                       f"looked for {path}; table files are named relative to the rule file")
        else:
            self.error("table", f"table file `{file}` of table `{table}` is not read: {refused.reason}", span,
                       f"looked for {path}; a table file is a CSV file inside the rule book's folder {folders[0]}, "
                       "named relative to the rule file")
        return None

    def read_rows(self, decl: n.TableDecl, file: str, span: Span, ok: bool, scenario: bool = False,
                  source: SourceInfo | None = None) -> list[tuple[tuple[Any, ...], TableRow]] | None:
        """The rows of one table file, typed and checked (file, row, column in every error); None if it is bad."""
        columns = {c.name: c.type for c in decl.columns}
        path = Path(span.file).parent / file
        raw = self.read_table_file(path, file, decl.name, span)
        if raw is None:
            return None
        self.table_bytes[self.table_name(path, file)] = raw
        shown = str(path)
        self.file_languages[shown] = self.file_languages.get(span.file, self.language)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            at, self.table_texts[shown] = undecodable(shown, raw, e)
            self.error("table", f"{shown} is not UTF-8 text", at, "save the file as UTF-8",
                       ((f"table `{decl.name}`", span),))
            return None
        self.table_texts[shown] = text
        lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
        sample = lines[0]
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            self.error("table", f"{shown} is empty; it needs a header line", span)
            return None
        except csv.Error as e:
            self.error("table", f"{shown}: the header line is not valid CSV ({e})", span)
            return None
        header_span = Span(shown, 1, 1, 1, len(sample) + 1)
        wanted = [(c.name, c.span if span == decl.span else span) for c in decl.columns] + [
            (c, span) for c in (decl.valid_from_column, decl.valid_until_column, decl.source_column) if c]
        for col, where in wanted:
            if col not in header:
                self.error("table", f"{shown}: the header has no column `{col}`", where,
                           suggest(col, header) or f"the header is: {', '.join(header)}",
                           (("the header of the file", header_span),))
                ok = False
        if not ok:
            return None
        index = {h: i for i, h in enumerate(header)}
        all_types = dict(columns)
        for vc in (decl.valid_from_column, decl.valid_until_column):
            if vc is not None:
                all_types.setdefault(vc, DATE)
        rows: dict[tuple[Any, ...], list[TableRow]] = {}
        out: list[tuple[tuple[Any, ...], TableRow]] = []
        bad = 0
        end = reader.line_num
        for record in _csv_records(reader):
            lineno, end = end + 1, reader.line_num  # a quoted cell may hold line breaks: the row starts here
            if isinstance(record, str):
                self.error("table-row", f"{shown}, row {lineno}: {record}", Span(shown, lineno, 1))
                bad += 1
                continue
            if not any(cell.strip() for cell in record):
                continue
            line = lines[lineno - 1] if lineno <= len(lines) else ""
            row_span = Span(shown, lineno, 1, lineno, len(line) + 1)
            if len(record) != len(header):
                self.error("table-row", f"{shown}, row {lineno}: has {len(record)} cells, the header has {len(header)}",
                           row_span)
                bad += 1
                continue
            cells = cell_spans(line, delimiter) if lineno == end else []
            values: dict[str, Any] = {}
            row_ok = True
            for col, t in all_types.items():
                cell = record[index[col]].strip()
                try:
                    values[col] = parse_cell(cell, t)
                except ValueError as e:
                    first, after = cells[index[col]] if len(cells) == len(record) else (1, len(line) + 1)
                    self.error("table-row", f"{shown}, row {lineno}, column `{col}`: {e}",
                               Span(shown, lineno, first, lineno, after))
                    row_ok = False
            if not row_ok:
                bad += 1
                continue
            key = tuple(values[k] for k in decl.keys)
            if any(k is None for k in key):
                self.error("table-row", f"{shown}, row {lineno}: the key is empty", row_span)
                continue
            vf = values.get(decl.valid_from_column) if decl.valid_from_column else None
            vu = values.get(decl.valid_until_column) if decl.valid_until_column else None
            if vf is not None and vu is not None and vu < vf:
                self.error("validity", f"{shown}, row {lineno}: the period ends ({vu}) before it starts ({vf})",
                           row_span)
                continue
            row_source = source
            if decl.source_column is not None:
                cell = record[index[decl.source_column]].strip()
                if cell:
                    row_source = SourceInfo(source.id, source.title, ", ".join(x for x in (source.detail, cell) if x),
                                            source.url, source.proposal) if source is not None \
                        else SourceInfo(None, cell, None, None)
            row = TableRow(frozen({c: values[c] for c in columns}), vf, vu, lineno, scenario, row_source)
            for other in rows.get(key, []):
                if _overlap(vf, vu, other.valid_from, other.valid_until):
                    keytext = ", ".join(str(k) for k in key)
                    self.error("table-row", f"{shown}, row {lineno}: key ({keytext}) is already in force in this "
                               f"period (row {other.line})", row_span,
                               "give the rows periods that do not overlap" if decl.valid_from_column else
                               "each key may stand in the table once; add validity columns for dated rows",
                               (("the other row", Span(shown, other.line, 1, other.line, len(lines[other.line - 1]) + 1)),))
                    row_ok = False
            if row_ok:
                rows.setdefault(key, []).append(row)
                out.append((key, row))
        if bad:
            return None
        return out

    def table_source(self, decl: n.TableDecl) -> SourceInfo | None:
        """The source a table cites for every row (at most one)."""
        if len(decl.sources) > 1:
            self.error("table", f"table `{decl.name}` cites more than one source", decl.sources[1].span,
                       "cite the table's source once; give each row its own detail with a source column "
                       f"(`{self.kw('source', decl.span)} {self.kw('column', decl.span)} <column>`)")
        return self.resolve_source(decl.sources[0]) if decl.sources else None

    # ------------------------------------------------------------ parameters

    def check_parameters(self) -> dict[str, Parameter]:
        out: dict[str, Parameter] = {}
        for name, p in self.params.items():
            periods = []
            if not p.values:
                self.error("parameter", f"parameter `{name}` has no values", p.span,
                           "add `from <date> = <value>`; write `unknown` where no value is known")
            for v in p.values:
                if v.end is not None and v.end < v.start:
                    self.error("validity", f"this period of `{name}` ends ({v.end}) before it starts ({v.start})",
                               v.span)
                value = None
                if isinstance(v.value, n.ListLit):
                    value = self.list_value(name, v.value, p.type)
                elif v.value is not None:
                    lit = self.settle(v.value, p.type) if v.value.kind == "enum" else v.value
                    lt = self.literal_type(lit) if isinstance(lit, n.Literal) else ERROR
                    if not assignable(lt, p.type):
                        self.error("type", f"`{name}` is {type_name(p.type)}, but this value is {type_name(lt)}",
                                   v.value.span)
                    elif isinstance(lit, n.Literal):
                        value = self.coerce(lit.value, p.type)
                src = self.resolve_source(v.source) if v.source is not None else None
                if src is not None:
                    self.warn_proposal(f"this value of `{name}`", (src,), v.span)
                if v.source is None and v.value is not None:
                    self.warn("no-source", f"this value of `{name}` has no source", v.span,
                              "add `source <id> \"<detail>\"` so that every figure can be traced")
                periods.append(ParamPeriod(v.start, v.end, value, src))
            ordered = sorted(zip(periods, p.values), key=lambda pv: pv[0].start)
            for (a, an), (b, bn) in zip(ordered, ordered[1:]):
                if a.end is None or a.end >= b.start:
                    if a.end is None:
                        # an open period runs until the next one starts
                        continue
                    self.error("parameter-overlap",
                               f"periods of `{name}` overlap: {a.start}–{a.end} and from {b.start}", bn.span,
                               "end the earlier period before the later one starts", (("the earlier period", an.span),))
            # open periods end the day before the next starts
            final = []
            for i, (per, _) in enumerate(ordered):
                end = per.end
                if end is None and i + 1 < len(ordered):
                    following = ordered[i + 1][0].start  # two values may start on the first day there is
                    end = following - dt.timedelta(days=1) if following > dt.date.min else following
                final.append(ParamPeriod(per.start, end, per.value, per.source))
            dupes = [b for a, b in zip(ordered, ordered[1:]) if a[0].start == b[0].start]
            for _, bn in dupes:
                self.error("parameter-overlap", f"two values of `{name}` start on {bn.start}", bn.span)
            out[name] = Parameter(name, p.type, p.description, tuple(final), p.span)
        return out

    def list_value(self, name: str, lit: n.ListLit, t: n.TypeRef) -> list[Any] | None:
        """A parameter's list value, written out item by item (a list of values, or of choices)."""
        if t.kind != "list" or t.item is None:
            self.error("type", f"`{name}` is {type_name(t)}, but this value is a list", lit.span)
            return None
        out = []
        for item in lit.items:
            if isinstance(item, n.Var) and len(item.parts) == 1 and t.item.kind == "enum":
                item = self.settle(item, t.item)
            if not isinstance(item, n.Literal):
                self.error("type", f"a value of `{name}` is written out: a list of values, not a computation",
                           item.span, "write each item as a value: [€ 10, € 20], [\"A1\", \"B2\"], [a, b]")
                return None
            it = self.literal_type(item)
            if item.kind == "text" and t.item.kind == "enum":
                if item.value not in t.item.choices:
                    self.not_a_choice(str(item.value), t.item, item.span)
            elif not assignable(it, t.item):
                self.error("type", f"the items of `{name}` are {type_name(t.item)}, but this is {type_name(it)}",
                           item.span, _conversion_hint(it, t.item))
                return None
            out.append(self.coerce(item.value, t.item))
        return out

    @staticmethod
    def coerce(value: Any, t: n.TypeRef) -> Any:
        if t.kind == "decimal" and isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value)
        return value

    # ------------------------------------------------------------ values and rules

    def check_values_and_rules(self) -> tuple[dict[str, ValueDecl], dict[str, CheckedRule]]:
        assigned: dict[str, list[str]] = {}
        checked: dict[str, CheckedRule] = {}
        for order, (name, rule) in enumerate(self.rules.items()):
            cr = self.check_rule(rule, order)
            if cr is not None:
                checked[name] = cr
                assigned.setdefault(cr.target, []).append(name)
        values: dict[str, ValueDecl] = {}
        decls: list[n.DerivedDecl | n.OutputDecl] = [*self.derived.values(), *self.outputs.values()]
        decls.sort(key=lambda d: (d.span.file, d.span.line))
        for d in decls:
            self.reads[d.name] = set()
            definition = default = None
            per = self.per_record(d.name)
            if isinstance(d, n.DerivedDecl) and d.definition is not None:
                definition = self.about(per, d.definition, d.type, d.name, f"the definition of `{d.name}`")
                if assigned.get(d.name):
                    first = self.rules[assigned[d.name][0]]
                    self.error("definition", f"`{d.name}` has a definition and is also assigned by rule `{first.name}`",
                               first.target_span or first.span,
                               "either define it with `= …` or assign it with rules, not both",
                               (("the definition", d.span),))
            if d.default is not None:
                default = self.about(per, d.default, d.type, d.name, f"the default of `{d.name}`")
            rules = tuple(assigned.get(d.name, ()))
            roots = tuple(r for r in rules if not checked[r].exception_to)
            sources: tuple[SourceInfo, ...] = ()
            if isinstance(d, n.DerivedDecl) and d.sources:
                if d.definition is None and d.name not in self.partial_values:  # not one whose `=` did not parse
                    self.error("no-source", f"`{d.name}` cites a source but has no definition", d.sources[0].span,
                               "a source on a derived value cites its definition (`= …`); rules that assign it cite "
                               "their own sources")
                sources = tuple(x for x in (self.resolve_source(r) for r in d.sources) if x is not None)
            if definition is None and not rules and default is None and not self.may_be_decided_elsewhere(d.name):
                self.warn("never-decided", f"no rule decides `{d.name}` and it has no default", d.span,
                          f"add a rule with `{self.kw('then', d.span)} {d.name} = …` or a `{self.kw('default', d.span)}`")
            values[d.name] = ValueDecl(d.name, d.type, d.description, isinstance(d, n.OutputDecl),
                                       definition, default, rules, roots, d.span, sources, self.group_of(per))
        return values, checked

    def check_rule(self, rule: n.Rule, order: int) -> CheckedRule | None:
        self.reads[rule.name] = set()
        counts = rule.clause_count
        for clause, word in (("when", "when"), ("then", "then"), ("because", "because"), ("valid_from", "valid from"),
                             ("valid_until", "valid until")):
            if counts.get(clause, 0) > 1:
                hint = f"combine conditions with `{self.kw('and', rule.span)}`; a rule assigns one value"
                self.error("rule", f"rule `{rule.name}` has more than one `{self.kw(word, rule.span)}`", rule.span,
                           hint if clause != "because" else None)
        if counts.get("valid_from", 0) and counts.get("valid_until", 0) > 1:
            pass
        if rule.valid_from and rule.valid_until and rule.valid_until < rule.valid_from:
            self.error("validity", f"rule `{rule.name}` ends ({rule.valid_until}) before it starts ({rule.valid_from})",
                       rule.span, "check the dates of `valid from` and `until`")
        sources = tuple(s for s in (self.resolve_source(r) for r in rule.sources) if s is not None)
        if len(sources) == len(rule.sources):
            self.warn_proposal(f"rule `{rule.name}`", sources, rule.span)
        partial = rule.name in self.partial_rules
        if not rule.sources and not partial:
            self.warn("no-source", f"rule `{rule.name}` has no source", rule.span,
                      f"add `{self.kw('source', rule.span)} <id> \"<article>\"` so that every decision can be traced")
        if (rule.target is None or rule.value is None) and partial:
            if rule.when is not None:
                self.typed(rule.when, BOOLEAN, rule.name, "the condition")
            return None
        if rule.target is None or rule.value is None:
            self.error("rule", f"rule `{rule.name}` has no `{self.kw('then', rule.span)}`", rule.span,
                       f"say what the rule decides: `{self.kw('then', rule.span)} <output> = <value>`")
            return None
        target_span = rule.target_span or rule.span
        target_type: n.TypeRef | None = None
        if rule.target in self.outputs:
            target_type = self.outputs[rule.target].type
        elif rule.target in self.derived:
            target_type = self.derived[rule.target].type
        else:
            if rule.target in self.inputs:
                self.error("assign-input", f"rule `{rule.name}` assigns the input `{rule.target}`", target_span,
                           "inputs come from the case; declare an output or derived value to assign")
            elif rule.target in self.params:
                self.error("assign-input", f"rule `{rule.name}` assigns the parameter `{rule.target}`", target_span,
                           "parameters take their dated values; declare an output or derived value to assign")
            elif rule.target in self.unparsed_names:
                pass  # declared where the syntax error is
            else:
                self.error("unknown-name", f"`{rule.target}` is not a declared output or derived value", target_span,
                           suggest(rule.target, [*self.outputs, *self.derived])
                           or f"declare it: `{self.kw('output', rule.span)} {rule.target} : <type>`")
        when = None
        per = self.per_record(rule.target)
        if rule.when is not None:
            when = self.about(per, rule.when, BOOLEAN, rule.name, "the condition")
        value = self.about(per, rule.value, target_type or ERROR, rule.name, f"the value of `{rule.target}`")
        if target_type is None:
            return None
        rs = self.rule_file[rule.name].ruleset
        valid_from, valid_until = rule.valid_from, rule.valid_until
        if rule.name in self.switched_off:  # a scenario switches this rule in force off (from a day, or entirely)
            off = self.switched_off[rule.name]
            if off is None or off <= (valid_from or dt.date.min):
                valid_from, valid_until = dt.date.max, dt.date.min  # never in force
            else:
                valid_until = min(valid_until or dt.date.max, off - dt.timedelta(days=1))
        return CheckedRule(
            rule.name, rule.title, sources, valid_from, valid_until,
            rule.exception_to, rule.target, when, value, rule.because,
            rs.name if rs else None, rule.span, order,
        )

    def kw(self, english: str, where: Span | None = None) -> str:
        """A keyword in the language of the file ``where`` points into (else of the rule book)."""
        language = self.file_languages.get(where.file, self.language) if where is not None else self.language
        if language == "english":
            return english
        return {
            "source": "bron", "then": "dan", "when": "als", "because": "omdat", "valid from": "geldig vanaf",
            "valid until": "geldig tot en met", "output": "uitvoer", "exception to": "uitzondering op",
            "default": "standaard", "and": "en", "or": "of", "file": "bestand", "column": "kolom", "per": "per",
            "derived": "afgeleid", "where": "waarvoor",
        }.get(english, english)

    def may_be_decided_elsewhere(self, name: str) -> bool:
        """A rule with a syntax error may decide ``name``: say nothing about what decides it."""
        return name in self.unparsed_targets or self.unknown_targets or name in self.partial_values

    def unsure_rules(self) -> set[str]:
        """Rules read without a broken clause, and exceptions (at any depth) to a rule with a syntax error:
        whether they can both apply with another rule is not known."""
        unsure = set(self.partial_rules)
        lost = self.unparsed_names - set(self.rules)
        for name, rule in self.rules.items():
            seen: set[str] = set()
            todo = list(rule.exception_to)
            while todo:
                parent = todo.pop()
                if parent in seen:
                    continue
                seen.add(parent)
                if parent in lost or parent in self.partial_rules:
                    unsure.add(name)
                    break
                if parent in self.rules:
                    todo.extend(self.rules[parent].exception_to)
        return unsure

    # ------------------------------------------------------------ exceptions, cycles, overlaps

    def check_exceptions(self, rules: dict[str, CheckedRule]) -> dict[str, tuple[str, ...]]:
        children: dict[str, list[str]] = {name: [] for name in rules}
        for name, rule in self.rules.items():
            for parent, span in zip(rule.exception_to, rule.exception_spans):
                if parent == name:
                    self.error("exception", f"rule `{name}` is an exception to itself", span)
                elif parent not in self.rules and parent in self.unparsed_names:
                    pass  # the rule with a syntax error
                elif parent not in self.rules:
                    self.error("exception", f"rule `{name}` is an exception to `{parent}`, which does not exist", span,
                               suggest(parent, self.rules))
                elif None in (self.rules[parent].target, rule.target) and \
                        {name, parent} & self.partial_rules:
                    pass  # what one of them decides was in its broken clause
                elif self.rules[parent].target != rule.target:
                    self.error("exception",
                               f"rule `{name}` assigns `{rule.target}` but is an exception to `{parent}`, which "
                               f"assigns `{self.rules[parent].target}`", span,
                               "an exception must decide the same output as the rule it overrides",
                               (("the other rule", self.rules[parent].span),))
                elif parent in children and name in rules:
                    children[parent].append(name)
        # cycles among exceptions, and how deep they nest
        height: dict[str, int] = {}  # how many levels of exceptions a rule has below it, itself included
        cyclic = False
        for event, path in depth_first(children, lambda r: children.get(r, ())):
            if event == "done":
                done = path[0]
                height[done] = 1 + max((height.get(k, 0) for k in children.get(done, ())), default=0)
            else:
                cyclic = True
                self.error("cycle", "exceptions form a cycle: " + " → ".join(path), self.rules[path[-1]].span)
        deepest = max(height, key=lambda r: (height[r], -rules[r].order), default=None)
        if not cyclic and deepest is not None and height[deepest] > MAX_EXCEPTION_DEPTH:
            self.error("exception", f"exceptions nest {height[deepest]} levels deep below rule `{deepest}`; at most "
                       f"{MAX_EXCEPTION_DEPTH} levels are allowed", rules[deepest].span,
                       "make some of them exceptions to the same rule, or give them conditions that exclude each other")
        return {k: tuple(sorted(v, key=lambda x: rules[x].order)) for k, v in children.items()}

    def check_cycles(self, values: dict[str, ValueDecl], rules: dict[str, CheckedRule]) -> list[str]:
        deps: dict[str, set[str]] = {v: set(self.reads.get(v, ())) for v in values}
        via: dict[tuple[str, str], str] = {}
        for name, r in rules.items():
            for used in self.reads.get(name, ()):
                if used in values:
                    deps[r.target].add(used)
                    via.setdefault((r.target, used), name)
        order: list[str] = []
        reported: set[frozenset[str]] = set()
        roots = sorted(values, key=lambda x: (values[x].span.file, values[x].span.line))
        for event, cyc in depth_first(roots, lambda v: sorted(d for d in deps.get(v, ()) if d in values)):
            if event == "done":
                order.append(cyc[0])
                continue
            key = frozenset(cyc)
            if key not in reported:
                reported.add(key)
                steps = []
                for a, b in zip(cyc, cyc[1:]):
                    rule = via.get((a, b))
                    steps.append(f"`{a}` uses `{b}`" + (f" (rule `{rule}`)" if rule else " (its definition)"))
                first_rule = via.get((cyc[0], cyc[1]))
                span = rules[first_rule].span if first_rule else values[cyc[0]].span
                self.error("cycle", "values depend on each other in a cycle: " + "; ".join(steps), span,
                           "a value cannot depend on itself; break the cycle")
        return order

    def check_overlaps(self, values: dict[str, ValueDecl], rules: dict[str, CheckedRule],
                       children: dict[str, tuple[str, ...]]) -> None:
        related: dict[str, set[str]] = {}
        for r in rules:
            # ancestors and descendants through exceptions are related
            related[r] = set()

        def descendants(r: str, acc: set[str]) -> set[str]:
            todo = list(children.get(r, ()))
            while todo:
                c = todo.pop()
                if c not in acc:
                    acc.add(c)
                    todo.extend(children.get(c, ()))
            return acc

        for r in rules:
            for d in descendants(r, set()):
                related[r].add(d)
                related.setdefault(d, set()).add(r)
        unsure = self.unsure_rules()
        for v in values.values():
            names = [r for r in v.rules if r in rules and r not in unsure]
            for i, a in enumerate(names):
                for b in names[i + 1:]:
                    if b in related.get(a, ()):
                        continue
                    ra, rb = rules[a], rules[b]
                    if not _overlap(ra.valid_from, ra.valid_until, rb.valid_from, rb.valid_until):
                        continue
                    if isinstance(ra.value, n.Literal) and isinstance(rb.value, n.Literal) and \
                            ra.value.value == rb.value.value:
                        continue
                    if disjoint(ra.when, rb.when):
                        continue
                    self.warn("overlap",
                              f"rules `{a}` and `{b}` both decide `{v.name}`, can both apply, and are not related "
                              "by an exception", rb.span,
                              f"if both apply the answer is a conflict; make one an exception to the other "
                              f"(`{self.kw('exception to', rb.span)} {a}`) or add a condition that excludes the other",
                              (("the other rule", ra.span),))

    # ------------------------------------------------------------ expressions

    def typed(self, e: n.Expr, expected: n.TypeRef, owner: str, what: str) -> n.Expr:
        """Check ``e`` where a value of type ``expected`` is needed; return the resolved expression."""
        self._owner = owner
        r, t = self.expr(e)
        if t.kind == "pending":
            r = self.settle(r, expected)
            t = self.type_of_settled(r, expected)
        if t.kind == "list" and t.item is not None and t.item.kind == "pending" and isinstance(r, n.ListLit) \
                and expected.kind == "list" and expected.item is not None:
            # a list of bare names: choices of the list's type
            r = n.ListLit(tuple(self.settle(i, expected.item) if isinstance(i, (n.Var, n.Conditional)) else i
                                for i in r.items), r.span)
            settled = [self.type_of_settled(i, expected.item) for i in r.items]
            t = n.TypeRef("list", item=settled[0] if settled and all(x == settled[0] for x in settled) else
                          (n.TypeRef("enum", tuple(dict.fromkeys(c for x in settled for c in x.choices)))
                           if all(x.kind == "enum" for x in settled) else ERROR))
        if t.kind == "enum" and expected.kind == "enum":
            bad = [c for c in t.choices if c not in expected.choices]
            if bad and isinstance(r, n.Literal):
                self.not_a_choice(bad[0], expected, r.span)
                return r
        if t.kind == "text" and expected.kind == "enum" and isinstance(r, n.Literal):
            if r.value not in expected.choices:
                self.not_a_choice(str(r.value), expected, r.span)
            return n.Literal(r.value, "enum", r.span, r.text)
        if not assignable(t, expected):
            self.error("type", f"{what} must be {type_name(expected)}, but this is {type_name(t)}", _span(e),
                       _conversion_hint(t, expected))
        return r

    def not_a_choice(self, value: str, t: n.TypeRef, span: Span) -> None:
        self.error("type", f"`{value}` is not one of the choices: {', '.join(t.choices)}", span,
                   suggest(value, t.choices))

    def type_of_settled(self, r: n.Expr, expected: n.TypeRef) -> n.TypeRef:
        if isinstance(r, n.Literal) and r.kind == "enum":
            return n.TypeRef("enum", (str(r.value),))
        if isinstance(r, n.Conditional):
            return unify(self.type_of_settled(r.then, expected), self.type_of_settled(r.otherwise, expected)) or ERROR
        return ERROR

    def settle(self, e: n.Expr, context: n.TypeRef) -> n.Expr:
        """Resolve a bare name that was not a declared name, using the type it stands against."""
        if isinstance(e, n.Conditional):  # both values were bare names
            then, otherwise = self.settle(e.then, context), self.settle(e.otherwise, context)
            return n.Conditional(then, e.condition, otherwise, e.span, context.kind)
        if isinstance(e, n.Literal) and e.kind == "enum":
            e = n.Var((str(e.value),), e.span)
        if not isinstance(e, n.Var):
            return e
        word = e.parts[0]
        if context.kind == "enum":
            if word in context.choices:
                return n.Literal(word, "enum", e.span, word)
            self.error("type", f"`{word}` is not a declared name, nor one of the choices: {', '.join(context.choices)}",
                       e.span, suggest(word, [*context.choices, *self.names()]))
            return n.Literal(word, "enum", e.span, word)
        if context.kind == "list" and context.item is not None and context.item.kind == "enum":
            return self.settle(e, context.item)
        if context.kind == "error":
            return e  # what it stands against is already reported: it may be a choice of it
        self.unknown_name(e)
        return e

    def names(self) -> list[str]:
        return [*self.inputs, *self.derived, *self.outputs, *self.params, *self.table_decls]

    def unresolved(self, e: n.Expr) -> None:
        """Report the bare names in ``e`` that nothing resolved (a name, or both values of a conditional value)."""
        if isinstance(e, n.Conditional):
            self.unresolved(e.then)
            self.unresolved(e.otherwise)
        elif isinstance(e, n.Var):
            self.unknown_name(e)

    def unknown_name(self, e: n.Var) -> None:
        name = e.name
        choices = {c for d in self.inputs.values() for c in _choices(d.type)}
        hint = suggest(name, self.names()) or suggest(name, choices)
        self.error("unknown-name", f"unknown name `{name}`", e.span, hint)

    def read(self, name: str) -> None:
        self.reads.setdefault(self._owner, set()).add(name)

    def expr(self, e: n.Expr) -> tuple[n.Expr, n.TypeRef]:
        if isinstance(e, n.Literal):
            return e, self.literal_type(e)
        if isinstance(e, n.Var):
            return self.var(e)
        if isinstance(e, n.Unary):
            r, t = self.finished(e.operand)
            if e.op == "not":
                if t.kind not in ("boolean", "error"):
                    self.error("type", f"`not` needs a boolean, but this is {type_name(t)}", _span(e.operand))
                return n.Unary("not", r, e.span), BOOLEAN
            if not (is_numeric(t) or t.kind in ("money", "error")):
                self.error("type", f"`{e.op}` needs a number or an amount, but this is {type_name(t)}", _span(e.operand))
                return n.Unary(e.op, r, e.span), ERROR
            return n.Unary(e.op, r, e.span), t
        if isinstance(e, n.Binary):
            return self.binary(e)
        if isinstance(e, n.IsKnown):
            r, _t = self.finished(e.operand)
            if not _refers_to_data(r):
                self.error("type", "`is known` / `is missing` applies to an input, a value, a parameter or a "
                           "table look-up", e.span)
            return n.IsKnown(r, e.negated, e.span), BOOLEAN
        if isinstance(e, n.Call):
            return self.call(e)
        if isinstance(e, n.Lookup):
            return self.lookup(e)
        if isinstance(e, n.ListLit):
            items = [self.expr(i) for i in e.items]
            known = [t for _, t in items if t.kind not in ("pending", "error")]
            item_t = known[0] if known else (PENDING if items else ERROR)
            for (ri, ti) in items:
                if ti.kind not in ("pending", "error") and not comparable(ti, item_t):
                    self.error("type", f"a list holds values of one type; this is {type_name(ti)}, "
                               f"the first is {type_name(item_t)}", _span(ri))
            if item_t.kind == "enum":
                item_t = n.TypeRef("enum", tuple(sorted({c for _, t in items if t.kind == 'enum' for c in t.choices})))
            return n.ListLit(tuple(r for r, _ in items), e.span), n.TypeRef("list", item=item_t)
        if isinstance(e, n.TupleLit):
            items = [self.finished(i) for i in e.items]
            return n.TupleLit(tuple(r for r, _ in items), e.span), n.TypeRef("tuple")
        if isinstance(e, n.Conditional):
            return self.conditional(e)
        raise AssertionError(e)  # pragma: no cover

    def conditional(self, e: n.Conditional) -> tuple[n.Expr, n.TypeRef]:
        """``a if c else b``: a condition, and two values of one type (a bare choice takes the other's type)."""
        cr, ct = self.finished(e.condition)
        if ct.kind not in ("boolean", "error"):
            self.error("type", f"the condition of a conditional value must be a condition, but this is {type_name(ct)}",
                       _span(cr), "compare it with something to make a condition")
        a, at = self.expr(e.then)
        b, bt = self.expr(e.otherwise)
        if at.kind == "pending" and bt.kind == "pending":
            return n.Conditional(a, cr, b, e.span), PENDING
        if at.kind == "pending":
            a, at = self.settle(a, bt), self.settled_type(a, bt)
        if bt.kind == "pending":
            b, bt = self.settle(b, at), self.settled_type(b, at)
        self.check_choice_literal(a, at, b, bt)
        t = unify(at, bt)
        if t is None:
            self.error("type", f"a conditional value gives values of one type, but this is {type_name(at)} "
                       f"and the other is {type_name(bt)}", e.span, _conversion_hint(bt, at))
            t = ERROR
        return n.Conditional(a, cr, b, e.span, t.kind), t

    def finished(self, e: n.Expr) -> tuple[n.Expr, n.TypeRef]:
        r, t = self.expr(e)
        if t.kind == "pending":
            self.unresolved(r)
            return r, ERROR
        return r, t

    @staticmethod
    def literal_type(e: n.Literal) -> n.TypeRef:
        if e.kind == "enum":
            return n.TypeRef("enum", (str(e.value),))
        return n.TypeRef(e.kind)

    def var(self, e: n.Var) -> tuple[n.Expr, n.TypeRef]:
        name = e.name
        if len(e.parts) == 2 and e.parts[0] in self.groups:
            return self.record_var(e)
        per = self.per_record(name)
        if per is not None:
            self.error("group", f"`{name}` is decided per `{per}`: one value for each record, not one for the case",
                       e.span, f"write `{per}.{name}` in a value per `{per}` or in an aggregate: "
                       f"`{self.agg('sum', e.span)}({per}.{name})`")
            return e, ERROR
        if len(e.parts) == 1 and e.parts[0] in self.groups:
            rec = e.parts[0]
            self.error("group", f"`{rec}` is one record of `{self.groups[rec].path}`, not a value", e.span,
                       f"read one of its fields (`{rec}.<field>`), or count the records: "
                       f"`{self.agg('count', e.span)}({rec})`")
            return e, ERROR
        if name in self.inputs:
            self.read(name)
            return n.Ref("input", name, e.span), self.inputs[name].type
        if name in self.derived or name in self.outputs:
            self.read(name)
            decl = self.derived.get(name) or self.outputs[name]
            return n.Ref("value", name, e.span), decl.type
        if name in self.params:
            return n.Ref("param", name, e.span), self.params[name].type
        if name in self.table_decls:
            return n.Ref("table", name, e.span), TABLE
        if name in self.unparsed_names:
            return e, ERROR  # declared where the syntax error is: its type is not known
        if len(e.parts) == 1:
            return e, PENDING
        self.unknown_name(e)
        return e, ERROR

    def agg(self, english: str, where: Span | None = None) -> str:
        """An aggregate's name in the language of the file ``where`` points into."""
        language = self.file_languages.get(where.file, self.language) if where is not None else self.language
        return next(w for w, c in FUNCTIONS[language].items() if c == english)

    def record_var(self, e: n.Var) -> tuple[n.Expr, n.TypeRef]:
        """``person.income`` (a field) or ``person.age`` (a value per person): about the record being decided."""
        rec, field = e.parts
        group = self.groups[rec]
        if self._record != rec:
            message = f"`{e.name}` is read from each record of `{group.path}`; there is no one `{rec}` here" \
                if self._record is None else f"`{e.name}` is read from each record of `{group.path}`; here each " \
                f"`{self._record}` is at hand, not one `{rec}`"
            self.error("group", message, e.span,
                       f"use it in a value per `{rec}` (`{self.kw('derived', e.span)} <name> {self.kw('per', e.span)} "
                       f"{rec} : …`) or in an aggregate such as `{self.agg('sum', e.span)}({e.name})`")
            return e, ERROR
        for f in group.fields:
            if f.name == field:
                return n.Ref("field", e.name, e.span, group.path), f.type
        if self.per_record(field) == rec:
            self.read(field)
            decl = self.derived.get(field) or self.outputs[field]
            return n.Ref("value", field, e.span, group.path, rec), decl.type
        if field in self.unparsed_names:
            return e, ERROR
        names = [f.name for f in group.fields] + [d for d in [*self.derived, *self.outputs]
                                                   if self.per_record(d) == rec]
        self.error("unknown-name", f"`{rec}` has no field or value `{field}`", e.span,
                   suggest(field, names) or f"the fields of `{rec}` are: {', '.join(f.name for f in group.fields)}")
        return e, ERROR

    def aggregate(self, e: n.Call, canonical: str) -> tuple[n.Expr, n.TypeRef]:
        """``sum(person.income where person.age >= 18)``: an aggregate over the records of one group."""
        arg = e.args[0] if len(e.args) == 1 else None
        records = sorted({v.parts[0] for x in (*e.args, *((e.where,) if e.where is not None else ()))
                          for v in _vars(x) if v.parts[0] in self.groups})
        if arg is None or not records:
            if e.where is not None or canonical != "count":
                groups = ", ".join(sorted(self.groups))
                self.error("group", f"`{e.func}` is taken over the records of a group, one expression per record",
                           e.span, f"write for instance `{e.func}(<record>.<field>)`; the records are: {groups}"
                           if self.groups else f"write for instance `{e.func}(<record>.<field>)`; declare a group "
                           "first: `group <record> in <path in a case>`")
                for a in e.args:
                    self.finished(a)
                return e, ERROR
        if len(records) > 1:
            self.error("group", f"`{e.func}` is taken over one group, but this reads `{records[0]}` and `{records[1]}`",
                       e.span, "name the aggregate over one group as a value first, and use that")
            return e, ERROR
        rec = records[0]
        if self._record is not None:
            self.error("group", f"an aggregate over `{rec}` cannot be taken inside a value per `{self._record}` or "
                       "inside another aggregate", e.span,
                       f"name it first: `{self.kw('derived', e.span)} <name> : … = {e.func}(…)`, and use the name")
            return e, ERROR
        assert arg is not None
        path = self.groups[rec].path
        saved, self._record = self._record, rec
        try:
            condition = None
            if e.where is not None:
                condition, ct = self.finished(e.where)
                if ct.kind not in ("boolean", "error"):
                    self.error("type", f"the condition of `{e.func}` must be a condition, but this is {type_name(ct)}",
                               _span(condition), "compare it with something to make a condition")
            if canonical == "count":
                if not (isinstance(arg, n.Var) and arg.parts == (rec,)):
                    self.error("group", f"`{e.func}` counts records: write `{e.func}({rec})`, or "
                               f"`{e.func}({rec} {self.kw('where', e.span)} …)` to count those for which a condition "
                               "holds", _span(arg))
                return n.Aggregate("count", rec, None, condition, e.span, path, "integer"), INTEGER
            body, t = self.finished(arg)
        finally:
            self._record = saved
        wanted = {"sum": (("integer", "decimal", "money"), "a number or an amount"),
                  "minimum": (("integer", "decimal", "money", "date"), "a number, an amount or a date"),
                  "maximum": (("integer", "decimal", "money", "date"), "a number, an amount or a date"),
                  "all": (("boolean",), "a condition"), "any": (("boolean",), "a condition")}[canonical]
        if t.kind not in wanted[0] + ("error",):
            self.error("type", f"`{e.func}` takes {wanted[1]} per record, but this is {type_name(t)}", _span(body))
            t = ERROR
        result = BOOLEAN if canonical in ("all", "any") else t
        return n.Aggregate(canonical, rec, body, condition, e.span, path, result.kind), result

    def binary(self, e: n.Binary) -> tuple[n.Expr, n.TypeRef]:
        op = e.op
        if op in ("and", "or"):
            lr, lt = self.finished(e.left)
            rr, rt = self.finished(e.right)
            for r, t in ((lr, lt), (rr, rt)):
                if t.kind not in ("boolean", "error"):
                    self.error("type", f"`{self.kw(op, e.span)}` joins conditions, but this is {type_name(t)}", _span(r),
                               "compare it with something to make a condition")
            return n.Binary(op, lr, rr, e.span), BOOLEAN
        lr, lt = self.expr(e.left)
        rr, rt = self.expr(e.right)
        if op in ("=", "!=", "<", "<=", ">", ">="):
            if lt.kind == "pending" and rt.kind == "pending":
                self.unresolved(lr)
                self.unresolved(rr)
                return n.Binary(op, lr, rr, e.span), BOOLEAN
            if lt.kind == "pending":
                lr, lt = self.settle(lr, rt), self.settled_type(lr, rt)
            if rt.kind == "pending":
                rr, rt = self.settle(rr, lt), self.settled_type(rr, lt)
            self.check_choice_literal(lr, lt, rr, rt)
            if not comparable(lt, rt):
                self.error("type", f"cannot compare {type_name(lt)} with {type_name(rt)}", e.span,
                           _conversion_hint(rt, lt))
            elif op not in ("=", "!=") and (lt.kind in ("boolean", "enum", "text", "list") or
                                            rt.kind in ("boolean", "enum", "text")):
                self.error("type", f"`{op}` needs numbers, amounts or dates; use `=` or `!=` for "
                           f"{type_name(lt)}", e.span)
            return n.Binary(op, lr, rr, e.span), BOOLEAN
        if op in ("in", "notin"):
            if rt.kind == "pending":
                self.unresolved(rr)
                return n.Binary(op, lr, rr, e.span), BOOLEAN
            if rt.kind == "table":
                assert isinstance(rr, n.Ref)
                decl = self.table_decls[rr.name]
                key_types = [next((c.type for c in decl.columns if c.name == k), ERROR) for k in decl.keys]
                if isinstance(lr, n.TupleLit):
                    if len(lr.items) != len(key_types):
                        self.error("type", f"table `{rr.name}` has a key of {len(key_types)} column(s) "
                                   f"({', '.join(decl.keys)}), not {len(lr.items)}", e.span)
                elif len(key_types) != 1:
                    self.error("type", f"table `{rr.name}` has a key of {len(key_types)} columns "
                               f"({', '.join(decl.keys)}); write ({', '.join(decl.keys)}) in {rr.name}", e.span)
                else:
                    if lt.kind == "pending":
                        lr, lt = self.settle(lr, key_types[0]), key_types[0]
                    if not comparable(lt, key_types[0]):
                        self.error("type", f"the key of table `{rr.name}` is {type_name(key_types[0])}, "
                                   f"but this is {type_name(lt)}", _span(lr))
                return n.Binary(op, lr, rr, e.span), BOOLEAN
            if rt.kind == "list":
                assert rt.item is not None
                item = rt.item
                if lt.kind == "pending":
                    lr, lt = self.settle(lr, item), self.settled_type(lr, item)
                if item.kind == "pending" and isinstance(rr, n.ListLit):
                    rr = n.ListLit(tuple(self.settle(i, lt) for i in rr.items), rr.span)
                    item = lt
                elif isinstance(rr, n.ListLit) and lt.kind == "enum":
                    rr = n.ListLit(tuple(self.settle(i, lt) if isinstance(i, n.Var) else i for i in rr.items), rr.span)
                    for i in rr.items:
                        if isinstance(i, n.Literal) and i.kind in ("enum", "text") and i.value not in lt.choices:
                            self.not_a_choice(str(i.value), lt, i.span)
                if not comparable(lt, item) and item.kind != "pending":
                    self.error("type", f"cannot look for {type_name(lt)} in {type_name(rt)}", e.span)
                return n.Binary(op, lr, rr, e.span), BOOLEAN
            if lt.kind != "error" and rt.kind != "error":
                self.error("type", f"`in` needs a list or a table on its right, but this is {type_name(rt)}",
                           _span(rr))
            return n.Binary(op, lr, rr, e.span), BOOLEAN
        # arithmetic
        if lt.kind == "pending":
            self.unresolved(lr)
            lt = ERROR
        if rt.kind == "pending":
            self.unresolved(rr)
            rt = ERROR
        result = arith_type(op, lt, rt)
        if result is None:
            hint = _conversion_hint(lt, rt)
            if op in ("+", "-") and lt.kind == "date" and rt.kind == "integer":
                dutch = self.file_languages.get(e.span.file, self.language) == "nederlands"
                unit, others = ("dagen", "maanden, jaar") if dutch else ("days", "months, years")
                shown = f"{rr.value} {unit}" if isinstance(rr, n.Literal) else f"… {unit}"
                hint = f"a date moves by a duration: write `{shown}` (or {others})"
            self.error("type", f"cannot apply `{op}` to {type_name(lt)} and {type_name(rt)}", e.span, hint)
            result = ERROR
        return n.Binary(op, lr, rr, e.span), result

    def settled_type(self, e: n.Expr, context: n.TypeRef) -> n.TypeRef:
        if isinstance(e, n.Conditional):
            return unify(self.settled_type(e.then, context), self.settled_type(e.otherwise, context)) or ERROR
        if isinstance(e, n.Var) and context.kind == "enum":
            return n.TypeRef("enum", (e.parts[0],)) if e.parts[0] in context.choices else ERROR
        return ERROR

    def check_choice_literal(self, lr: n.Expr, lt: n.TypeRef, rr: n.Expr, rt: n.TypeRef) -> None:
        for lit, other in ((lr, rt), (rr, lt)):
            if isinstance(lit, n.Literal) and lit.kind == "text" and other.kind == "enum":
                if lit.value not in other.choices:
                    self.not_a_choice(str(lit.value), other, lit.span)

    def call(self, e: n.Call) -> tuple[n.Expr, n.TypeRef]:
        table = FUNCTIONS.get(self.language, FUNCTIONS["english"])
        canonical = table.get(e.func) or FUNCTIONS["english"].get(e.func)
        if canonical is None:
            self.error("unknown-name", f"unknown function `{e.func}`", e.span,
                       suggest(e.func, table) or "the functions are: " + ", ".join(sorted(table)))
            for a in e.args:
                self.finished(a)
            return e, ERROR
        if canonical in n.AGGREGATES and (canonical != "count" or e.where is not None or any(
                v.parts[0] in self.groups for a in e.args for v in _vars(a))):
            return self.aggregate(e, canonical)
        if e.where is not None:
            self.error("group", f"`{self.kw('where', e.span)}` gives the condition of an aggregate over a group "
                       f"(sum, count, minimum, maximum, all, any); `{e.func}` is none", e.span)
            return e, ERROR
        args = [self.finished(a) for a in e.args]
        call = n.Call(canonical, tuple(r for r, _ in args), e.span)
        types = [t for _, t in args]

        def need(count: int) -> bool:
            if len(args) != count:
                self.error("type", f"`{e.func}` takes {count} argument(s), not {len(args)}", e.span)
                return False
            return True

        def want(i: int, kinds: tuple[str, ...], words: str) -> None:
            if types[i].kind not in kinds + ("error",):
                self.error("type", f"argument {i + 1} of `{e.func}` must be {words}, but this is "
                           f"{type_name(types[i])}", _span(args[i][0]))

        if canonical == "age":
            if need(2):
                want(0, ("date",), "a date")
                want(1, ("date",), "a date")
            return call, INTEGER
        if canonical == "days_between":
            if need(2):
                want(0, ("date",), "a date")
                want(1, ("date",), "a date")
            return call, INTEGER
        if canonical == "year":
            if need(1):
                want(0, ("date",), "a date")
            return call, INTEGER
        if canonical == "start_of_month":
            if need(1):
                want(0, ("date",), "a date")
            return call, DATE
        if canonical == "count":
            if need(1):
                want(0, ("list",), "a list")
            return call, INTEGER
        if canonical in ("round", "round_down"):
            if need(1):
                want(0, ("money", "decimal", "integer"), "an amount or a number")
                t = types[0]
                if t.kind == "money":
                    return n.Call(canonical + "_money", call.args, e.span, e.unit, e.mode), MONEY
                if e.unit is not None and t.kind != "error":
                    self.error("type", f"only an amount is rounded to cents or whole euros; this is {type_name(t)}, "
                               "which is rounded to a whole number", e.span,
                               "leave out the unit, or round an amount (€)")
                return n.Call(canonical, call.args, e.span, None, e.mode), t if t.kind == "error" else INTEGER
            return call, ERROR
        if canonical == "abs":
            if need(1):
                want(0, ("money", "decimal", "integer"), "an amount or a number")
                return call, types[0]
            return call, ERROR
        # min, max
        if len(args) < 2:
            self.error("type", f"`{e.func}` takes two or more arguments", e.span)
            return call, ERROR
        result = types[0]
        for i, t in enumerate(types[1:], start=1):
            if t.kind == "error" or result.kind == "error":
                result = ERROR
            elif is_numeric(t) and is_numeric(result):
                result = DECIMAL if "decimal" in (t.kind, result.kind) else INTEGER
            elif t.kind != result.kind or t.kind not in ("money", "date", "integer", "decimal"):
                self.error("type", f"`{e.func}` compares values of one kind; argument {i + 1} is {type_name(t)}, "
                           f"argument 1 is {type_name(types[0])}", _span(args[i][0]))
                result = ERROR
        return call, result

    def lookup(self, e: n.Lookup) -> tuple[n.Expr, n.TypeRef]:
        decl = self.table_decls.get(e.table)
        keys = [self.expr(k) for k in e.keys]
        if decl is None:
            if e.table not in self.unparsed_names:
                self.error("unknown-name", f"unknown table `{e.table}`", e.span, suggest(e.table, self.table_decls))
            return e, ERROR
        cols = {c.name: c.type for c in decl.columns}
        if len(keys) != len(decl.keys):
            self.error("type", f"table `{e.table}` has a key of {len(decl.keys)} column(s) ({', '.join(decl.keys)}), "
                       f"not {len(keys)}", e.span)
        resolved = []
        for (r, t), kname in zip(keys, decl.keys):
            kt = cols.get(kname, ERROR)
            if t.kind == "pending":
                r = self.settle(r, kt)
                t = kt
            elif not comparable(t, kt):
                self.error("type", f"the key `{kname}` of table `{e.table}` is {type_name(kt)}, but this is "
                           f"{type_name(t)}", _span(r))
            resolved.append(r)
        if e.column not in cols:
            self.error("unknown-name", f"table `{e.table}` has no column `{e.column}`", e.span,
                       suggest(e.column, cols) or f"its columns are: {', '.join(cols)}")
            return e, ERROR
        return n.Lookup(e.table, tuple(resolved), e.column, e.span), cols[e.column]


def unify(a: n.TypeRef, b: n.TypeRef) -> n.TypeRef | None:
    """The one type of two values that may stand in the same place (the values of a conditional value), or None."""
    if a.kind == "error" or b.kind == "error":
        return ERROR
    if is_numeric(a) and is_numeric(b):
        return DECIMAL if "decimal" in (a.kind, b.kind) else INTEGER
    if a.kind == b.kind == "enum":
        return n.TypeRef("enum", tuple(dict.fromkeys(a.choices + b.choices)))
    if {a.kind, b.kind} == {"enum", "text"}:
        return a if a.kind == "enum" else b  # a text literal beside a choice is checked as a choice
    if a.kind == b.kind == "list":
        assert a.item is not None and b.item is not None
        if a.item.kind in ("pending", "error"):
            return b
        if b.item.kind in ("pending", "error"):
            return a
        item = unify(a.item, b.item)
        return n.TypeRef("list", item=item) if item is not None else None
    if a.kind == b.kind and a.kind in ("money", "date", "boolean", "text", "duration"):
        return a
    return None


def arith_type(op: str, a: n.TypeRef, b: n.TypeRef) -> n.TypeRef | None:
    if ERROR in (a, b):
        return ERROR
    ka, kb = a.kind, b.kind
    if op in ("+", "-"):
        if is_numeric(a) and is_numeric(b):
            return INTEGER if ka == kb == "integer" else DECIMAL
        if ka == kb == "money":
            return MONEY
        if ka == "date" and kb == "duration":
            return DATE
        if op == "-" and ka == kb == "date":
            return INTEGER
        if op == "+" and ka == "duration" and kb == "date":
            return DATE
        return None
    if op == "*":
        if is_numeric(a) and is_numeric(b):
            return INTEGER if ka == kb == "integer" else DECIMAL
        if (ka == "money" and is_numeric(b)) or (is_numeric(a) and kb == "money"):
            return MONEY
        return None
    if op == "/":
        if is_numeric(a) and is_numeric(b):
            return DECIMAL
        if ka == "money" and is_numeric(b):
            return MONEY
        if ka == kb == "money":
            return DECIMAL
        return None
    return None


def _conversion_hint(have: n.TypeRef, want: n.TypeRef) -> str | None:
    if have.kind in ("integer", "decimal") and want.kind == "money":
        return "write amounts with a euro sign: € 12,34"
    if have.kind == "money" and is_numeric(want):
        return "an amount is not a plain number; compare it with an amount (€ …)"
    if have.kind == "text" and want.kind == "date":
        return "write dates as 2024-01-01, without quotes"
    if have.kind == "integer" and want.kind == "date":
        return "compare a date with a date (2024-01-01), or use year(…) to compare years"
    return None


def _choices(t: n.TypeRef) -> tuple[str, ...]:
    if t.kind == "enum":
        return t.choices
    if t.kind == "list" and t.item is not None:
        return _choices(t.item)
    return ()


def _refers_to_data(e: n.Expr) -> bool:
    return isinstance(e, (n.Ref, n.Lookup)) and not (isinstance(e, n.Ref) and e.kind == "table")


def _vars(e: n.Expr) -> list[n.Var]:
    """The names as written in an expression, at any depth."""
    found: list[n.Var] = []
    todo = [e]
    while todo:
        x = todo.pop()
        if isinstance(x, n.Var):
            found.append(x)
        todo.extend(n.children(x))
    return found


def _span(e: n.Expr) -> Span:
    return e.span


def _overlap(a0: dt.date | None, a1: dt.date | None, b0: dt.date | None, b1: dt.date | None) -> bool:
    lo = max(a0 or dt.date.min, b0 or dt.date.min)
    hi = min(a1 or dt.date.max, b1 or dt.date.max)
    return lo <= hi


def _apply_table_change(kind: str, start: dt.date | None, rows: list[tuple[tuple[Any, ...], TableRow]],
                        new: list[tuple[tuple[Any, ...], TableRow]]) -> list[tuple[tuple[Any, ...], TableRow]]:
    """A scenario's rows over the rule book's: ``replace`` ends every row at ``start`` (or drops it); ``add``
    cuts a row away only where a new row with the same key holds. New rows hold from ``start`` at the earliest."""
    from dataclasses import replace as _replace

    if start is not None:
        new = [(k, _replace(r, valid_from=max(r.valid_from or start, start))) for k, r in new
               if r.valid_until is None or r.valid_until >= start]
    if kind == "replace":
        everything: list[tuple[dt.date | None, dt.date | None]] = [(start, None)]
        kept = [(k, piece) for k, r in rows for piece in _cut(r, everything)]
    else:
        covered: dict[tuple[Any, ...], list[tuple[dt.date | None, dt.date | None]]] = {}
        for k, r in new:
            covered.setdefault(k, []).append((r.valid_from, r.valid_until))
        kept = [(k, piece) for k, r in rows for piece in (_cut(r, covered[k]) if k in covered else [r])]
    return kept + new


def _cut(row: TableRow, holes: list[tuple[dt.date | None, dt.date | None]]) -> list[TableRow]:
    """The parts of a row's period outside every hole (None: without a bound)."""
    from dataclasses import replace as _replace

    pieces = [(row.valid_from or dt.date.min, row.valid_until or dt.date.max)]
    for lo, hi in holes:
        lo, hi = lo or dt.date.min, hi or dt.date.max
        nxt = []
        for a, b in pieces:
            if hi < a or lo > b:
                nxt.append((a, b))
                continue
            if a < lo:
                nxt.append((a, lo - dt.timedelta(days=1)))
            if hi < b:
                nxt.append((hi + dt.timedelta(days=1), b))
        pieces = nxt
    return [_replace(row, valid_from=None if a == dt.date.min else a, valid_until=None if b == dt.date.max else b)
            for a, b in pieces]


def _csv_records(reader: Any) -> Iterator[list[str] | str]:
    """The records of a CSV reader; a record the csv module cannot read comes as the text of its error."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as e:  # a cell longer than the csv module reads, a NUL character
            yield f"not valid CSV ({e})"


def parse_cell(cell: str, t: n.TypeRef, *, case: bool = False) -> Any:
    """A CSV cell as a typed value; an empty cell is None (no value).

    Numbers are plain digits within the bounds of every value (values.MAX_DIGITS);
    in a ``case`` (not a table of the rule book) an amount is never negative.
    An amount keeps every digit written (a table's amount may be more precise than a cent); in a
    case more digits than cents is an error, never rounded away.
    """
    if cell == "":
        return None
    k = t.kind
    shown = cell if len(cell) <= 40 else cell[:30] + "…"
    if k == "text":
        return cell
    if k == "enum":
        if cell not in t.choices:
            raise ValueError(f"`{shown}` is not one of: {', '.join(t.choices)}")
        return cell
    if k == "integer":
        try:
            return parse_number(cell, "integer")
        except ValueError as e:
            if str(e).startswith("expected"):
                raise ValueError(f"expected a whole number, got `{shown}`") from None
            raise ValueError(f"{e}, got `{shown}`") from None
    if k in ("decimal", "money"):
        text = cell.strip().removeprefix("€").strip().replace(",", ".")
        try:
            value = Decimal(parse_number(text, k))
        except ValueError as e:
            if str(e).startswith("expected"):
                raise ValueError(f"expected {'an amount' if k == 'money' else 'a number'}, got `{shown}`") from None
            raise ValueError(f"{e}, got `{shown}`") from None
        if case and k == "money" and value < 0:
            raise ValueError(f"an amount in a case is never negative, got `{shown}`")
        if k == "money":
            if case and not whole_cents(value):
                raise ValueError(f"`{shown}` has more digits than an amount in cents; amounts are never rounded here")
            return value if value.as_tuple().exponent <= -2 else round_money(value)  # type: ignore[operator]
        return value
    if k == "date":
        try:
            return parse_date(cell)
        except ValueError:
            raise ValueError(f"expected a date (YYYY-MM-DD), got `{shown}`") from None
    if k == "boolean":
        low = cell.lower()
        if low in ("true", "ja", "yes", "1", "waar"):
            return True
        if low in ("false", "nee", "no", "0", "onwaar"):
            return False
        raise ValueError(f"expected ja/nee (true/false), got `{shown}`")
    raise ValueError(f"columns of type {t} are not supported")


# ---------------------------------------------------------------- disjointness (for the overlap warning)


def _atoms(e: n.Expr | None) -> list[tuple[str, str, Any]] | None:
    """The conjuncts of a condition as (name, op, constant); None if it is not a plain conjunction."""
    if e is None:
        return []
    if isinstance(e, n.Binary) and e.op == "and":
        a, b = _atoms(e.left), _atoms(e.right)
        return (a or []) + (b or [])
    if isinstance(e, n.Binary) and e.op in ("=", "!=", "<", "<=", ">", ">=", "in", "notin"):
        key = _atom_key(e.left)
        if key is not None:
            if isinstance(e.right, n.Literal):
                return [(key, e.op, e.right.value)]
            if isinstance(e.right, n.ListLit) and all(isinstance(i, n.Literal) for i in e.right.items):
                return [(key, e.op, frozenset(i.value for i in e.right.items))]  # type: ignore[union-attr]
        return []
    if isinstance(e, n.Ref):
        return [(e.name, "=", True)]
    if isinstance(e, n.Unary) and e.op == "not" and isinstance(e.operand, n.Ref):
        return [(e.operand.name, "=", False)]
    return []


def _a(word: str) -> str:
    """`a rule`, `an output`."""
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _atom_key(e: n.Expr) -> str | None:
    if isinstance(e, n.Ref):
        return e.name
    if isinstance(e, n.Lookup):
        keys = [k.name if isinstance(k, n.Ref) else repr(k.value) if isinstance(k, n.Literal) else None for k in e.keys]
        if any(k is None for k in keys):
            return None
        return f"{e.table}[{', '.join(k for k in keys if k is not None)}].{e.column}"
    return None


def disjoint(a: n.Expr | None, b: n.Expr | None) -> bool:
    """True when the two conditions provably cannot both be true."""
    atoms = (_atoms(a) or []) + (_atoms(b) or [])
    by_name: dict[str, list[tuple[str, Any]]] = {}
    for name, op, value in atoms:
        by_name.setdefault(name, []).append((op, value))
    for constraints in by_name.values():
        if not _satisfiable(constraints):
            return True
    return False


def _satisfiable(constraints: list[tuple[str, Any]]) -> bool:
    allowed: set[Any] | None = None
    banned: set[Any] = set()
    lo: tuple[Any, bool] | None = None  # (bound, inclusive)
    hi: tuple[Any, bool] | None = None
    try:
        for op, v in constraints:
            if op == "=":
                allowed = {v} if allowed is None else allowed & {v}
            elif op == "in":
                allowed = set(v) if allowed is None else allowed & set(v)
            elif op == "!=":
                banned.add(v)
            elif op == "notin":
                banned |= set(v)
            elif op in (">", ">="):
                inc = op == ">="
                if lo is None or v > lo[0] or (v == lo[0] and not inc):
                    lo = (v, inc)
            elif op in ("<", "<="):
                inc = op == "<="
                if hi is None or v < hi[0] or (v == hi[0] and not inc):
                    hi = (v, inc)
        if lo is not None and hi is not None:
            if lo[0] > hi[0] or (lo[0] == hi[0] and not (lo[1] and hi[1])):
                return False
            if isinstance(lo[0], int) and isinstance(hi[0], int) and not isinstance(lo[0], bool):
                low = lo[0] if lo[1] else lo[0] + 1
                high = hi[0] if hi[1] else hi[0] - 1
                if low > high:
                    return False
        if allowed is not None:
            ok = set()
            for v in allowed - banned:
                if lo is not None and (v < lo[0] or (v == lo[0] and not lo[1])):
                    continue
                if hi is not None and (v > hi[0] or (v == hi[0] and not hi[1])):
                    continue
                ok.add(v)
            return bool(ok)
    except TypeError:
        return True
    return True


# ---------------------------------------------------------------- front door


def content_hash(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode("utf-8") + b"\0" + files[name] + b"\0")
    return "sha256:" + h.hexdigest()
