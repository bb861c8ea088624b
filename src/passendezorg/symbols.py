"""The names of a rule book for editors: where each is declared, where it is used, and what to say about it.

Built from the parsed files (``CheckReport.parsed``), so it works while the rule book
still has errors: a name that resolves is found, one that does not is left alone (the
checker reports it). The language server (``passendezorg.lsp``) turns what is here into
the editor's protocol; nothing here knows that protocol.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from . import nodes as n
from .check import FUNCTIONS
from .format import Formatter
from .keywords import keyword_patterns, keyword_table
from .source import Span

__all__ = ["Completion", "Occurrence", "Symbol", "SymbolIndex", "completions", "keyword_words"]

Declaration = (n.InputDecl | n.DerivedDecl | n.OutputDecl | n.ParameterDecl | n.TableDecl | n.Rule | n.SourceDef
               | n.GroupDecl)

KINDS: dict[type, str] = {
    n.InputDecl: "input", n.DerivedDecl: "derived", n.OutputDecl: "output", n.ParameterDecl: "parameter",
    n.TableDecl: "table", n.Rule: "rule", n.SourceDef: "source", n.GroupDecl: "group",
}
#: the keyword that declares each kind, to name the kind in the file's own language
KIND_KEYWORDS = {
    "input": "KW_INPUT", "derived": "KW_DERIVED", "output": "KW_OUTPUT", "parameter": "KW_PARAMETER",
    "table": "KW_TABLE", "rule": "KW_RULE", "source": "KW_SOURCE", "group": "KW_GROUP",
}
LABELS = {
    "english": {
        "declared": "declared in", "decided_by": "Decided by", "no_rule": "No rule decides it.",
        "sources": "Sources", "period": "period", "value": "value", "source": "source", "today": "In force today",
        "none_today": "No value is in force today", "exceptions": "Exceptions to it", "cited": "Cited {count} time(s).",
    },
    "nederlands": {
        "declared": "gedeclareerd in", "decided_by": "Bepaald door", "no_rule": "Geen regel bepaalt deze waarde.",
        "sources": "Bronnen", "period": "periode", "value": "waarde", "source": "bron", "today": "Vandaag van kracht",
        "none_today": "Vandaag is geen waarde van kracht", "exceptions": "Uitzonderingen hierop",
        "cited": "{count} keer aangehaald.",
    },
}


@dataclass(frozen=True)
class Symbol:
    """A declared name: what it is, where its name stands, and the declaration itself."""

    name: str
    kind: str  # input, derived, output, parameter, table, rule, source
    span: Span  # the name in its declaration
    node: Declaration
    file: n.RuleFile


@dataclass(frozen=True)
class Occurrence:
    """A name where it stands in a file: its declaration or a use of it."""

    symbol: Symbol
    span: Span
    declaration: bool


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # keyword, function, choice, or a Symbol kind
    detail: str


class SymbolIndex:
    """Every declaration and every resolved use of a name, over all files of a rule book."""

    def __init__(self, files: Iterable[n.RuleFile]) -> None:
        self.files = {f.path: f for f in files}
        self.names: dict[str, Symbol] = {}  # inputs, values, parameters, tables and rules share one namespace
        self.sources: dict[str, Symbol] = {}
        for f in self.files.values():
            if f.ruleset is not None:
                for src in f.ruleset.sources:
                    self._declare(self.sources, src, f)
            for item in f.items:
                if not isinstance(item, (n.PeildatumDecl, n.ParameterChange, n.TableChange, n.SwitchOff)):
                    self._declare(self.names, item, f)
        self.occurrences: dict[str, list[Occurrence]] = {}
        for f in self.files.values():
            found = sorted(self._occurrences(f), key=lambda o: (o.span.line, o.span.column))
            self.occurrences[f.path] = found

    @staticmethod
    def _declare(table: dict[str, Symbol], node: Declaration, f: n.RuleFile) -> None:
        if node.name not in table and node.name_span is not None:  # a duplicate is the checker's to report
            table[node.name] = Symbol(node.name, KINDS[type(node)], node.name_span, node, f)

    # ------------------------------------------------------------ finding the names

    def _use(self, name: str, span: Span | None, kinds: tuple[str, ...] | None = None) -> Iterator[Occurrence]:
        symbol = self.names.get(name)
        if symbol is not None and span is not None and (kinds is None or symbol.kind in kinds):
            yield Occurrence(symbol, span, False)

    def _occurrences(self, f: n.RuleFile) -> Iterator[Occurrence]:
        if f.ruleset is not None:
            for src in f.ruleset.sources:
                symbol = self.sources.get(src.name)
                if symbol is not None and src.name_span is not None:
                    yield Occurrence(symbol, src.name_span, symbol.node is src)
        for item in f.items:
            if isinstance(item, n.PeildatumDecl):
                yield from self._use(item.name, item.name_span, ("input",))
                continue
            if isinstance(item, n.ParameterChange):  # a scenario's change names what it changes
                yield from self._use(item.name, item.name_span, ("parameter",))
                yield from self._citations(v.source for v in item.values)
                continue
            if isinstance(item, n.TableChange):
                yield from self._use(item.name, item.name_span, ("table",))
                yield from self._citations(item.sources)
                continue
            if isinstance(item, n.SwitchOff):
                yield from self._use(item.rule, item.name_span, ("rule",))
                yield from self._citations(item.sources)
                continue
            symbol = self.names.get(item.name)
            if symbol is not None and item.name_span is not None:
                yield Occurrence(symbol, item.name_span, symbol.node is item)
            if isinstance(item, n.DerivedDecl):
                yield from self._expressions(item.definition, item.default)
            elif isinstance(item, n.OutputDecl):
                yield from self._expressions(item.default)
            elif isinstance(item, n.ParameterDecl):
                yield from self._citations(v.source for v in item.values)
            elif isinstance(item, n.Rule):
                yield from self._citations(item.sources)
                for parent, span in zip(item.exception_to, item.exception_spans):
                    yield from self._use(parent, span, ("rule",))
                if item.target is not None:
                    yield from self._use(item.target, item.target_span, ("derived", "output", "input", "parameter"))
                yield from self._expressions(item.when, item.value)

    def _citations(self, refs: Iterable[n.SourceRef | None]) -> Iterator[Occurrence]:
        for ref in refs:
            if ref is not None and ref.source is not None and ref.name_span is not None:
                symbol = self.sources.get(ref.source)
                if symbol is not None:
                    yield Occurrence(symbol, ref.name_span, False)

    def _expressions(self, *exprs: n.Expr | None) -> Iterator[Occurrence]:
        stack = [e for e in exprs if e is not None]
        while stack:
            e = stack.pop()
            if isinstance(e, n.Var):
                yield from self._use(e.name, e.span, ("input", "derived", "output", "parameter", "table"))
            elif isinstance(e, n.Lookup):
                s = e.span
                yield from self._use(e.table, Span(s.file, s.line, s.column, s.line, s.column + len(e.table)), ("table",))
                stack.extend(e.keys)
            elif isinstance(e, n.Call):
                stack.extend(e.args)
            elif isinstance(e, (n.ListLit, n.TupleLit)):
                stack.extend(e.items)
            elif isinstance(e, (n.Unary, n.IsKnown)):
                stack.append(e.operand)
            elif isinstance(e, n.Binary):
                stack.extend((e.left, e.right))

    # ------------------------------------------------------------ questions an editor asks

    def at(self, path: str, line: int, column: int) -> Occurrence | None:
        """The name at a place (1-based line and column); a cursor just after a name also finds it."""
        best = None
        for o in self.occurrences.get(path, ()):
            s = o.span
            if s.line == line and s.column <= column <= s.end_column:
                if column < s.end_column:
                    return o
                best = o
        return best

    def references(self, symbol: Symbol, include_declaration: bool = True) -> list[Occurrence]:
        """Every place the name stands, in file order."""
        return [o for path in sorted(self.occurrences) for o in self.occurrences[path]
                if o.symbol is symbol and (include_declaration or not o.declaration)]

    def declarations_in(self, path: str) -> list[Symbol]:
        """The names declared in one file, in file order (for an outline)."""
        own = [s for s in (*self.names.values(), *self.sources.values()) if s.file.path == path]
        return sorted(own, key=lambda s: (s.span.line, s.span.column))

    def rules_deciding(self, name: str) -> list[n.Rule]:
        return [s.node for s in self.names.values() if isinstance(s.node, n.Rule) and s.node.target == name]

    def exceptions_to(self, rule: str) -> list[n.Rule]:
        return [s.node for s in self.names.values() if isinstance(s.node, n.Rule) and rule in s.node.exception_to]

    # ------------------------------------------------------------ hover

    def hover(self, symbol: Symbol, language: str, today: dt.date | None = None, relative: str | None = None) -> str:
        """Markdown about a name, in the reader's language: what it is, its declaration, description and sources.

        A parameter shows its periods and the value in force ``today``; a rule its title, validity,
        the rule it is an exception to and its own exceptions; a value the rules that decide it.
        ``relative`` names the declaring file as the reader knows it.
        """
        words = LABELS.get(language, LABELS["english"])
        kind_word = keyword_table(language)[KIND_KEYWORDS[symbol.kind]]
        node = symbol.node
        fmt = Formatter(symbol.file.language)
        where = f"{relative or symbol.file.path}:{symbol.span.line}"
        out = [f"**{kind_word}** `{symbol.name}` — {words['declared']} `{where}`", ""]
        if isinstance(node, n.SourceDef):
            out.append(f"[{_md(node.title)}]({node.url})" if node.url else _md(node.title))
            count = len(self.references(symbol, include_declaration=False))
            out += ["", words["cited"].format(count=count)]
            return "\n".join(out).rstrip() + "\n"
        title = node.title if isinstance(node, n.Rule) else node.description
        if title:
            out += [f"*{_md(title)}*", ""]
        shown = replace(node, values=()) if isinstance(node, n.ParameterDecl) else node  # the periods follow as a table
        out += ["```pz", fmt.item(shown), "```"]
        if isinstance(node, (n.DerivedDecl, n.OutputDecl)):
            rules = self.rules_deciding(node.name)
            if rules:
                out += ["", f"{words['decided_by']}: " + ", ".join(f"`{r.name}`" for r in rules)]
            elif not (isinstance(node, n.DerivedDecl) and node.definition is not None):
                out += ["", words["no_rule"]]
        if isinstance(node, n.Rule):
            kids = self.exceptions_to(node.name)
            if kids:
                out += ["", f"{words['exceptions']}: " + ", ".join(f"`{r.name}`" for r in kids)]
            out += self._sources_md(node.sources, words)
        if isinstance(node, n.ParameterDecl):
            out += self._periods_md(node, fmt, words, today or dt.date.today())
        return "\n".join(out).rstrip() + "\n"

    def _source_md(self, ref: n.SourceRef) -> str:
        if ref.source is None:
            return _md(ref.detail or "")
        symbol = self.sources.get(ref.source)
        if symbol is None or not isinstance(symbol.node, n.SourceDef):
            text = f"`{ref.source}`"
        else:
            src = symbol.node
            text = f"[{_md(src.title)}]({src.url})" if src.url else _md(src.title)
        return text + (f", {_md(ref.detail)}" if ref.detail else "")

    def _sources_md(self, refs: Iterable[n.SourceRef], words: dict[str, str]) -> list[str]:
        lines = [f"- {self._source_md(r)}" for r in refs]
        return ["", f"{words['sources']}:", *lines] if lines else []

    def _periods_md(self, p: n.ParameterDecl, fmt: Formatter, words: dict[str, str], today: dt.date) -> list[str]:
        unknown = fmt.k("KW_UNKNOWN")
        rows = ["", f"| {words['period']} | {words['value']} | {words['source']} |", "| --- | --- | --- |"]
        ordered = sorted(p.values, key=lambda v: v.start)
        for v in ordered:
            period = f"{fmt.k('KW_FROM')} {v.start.isoformat()}"
            if v.end is not None:
                period += f" {fmt.k('KW_UNTIL')} {v.end.isoformat()}"
            value = fmt.expr(v.value) if v.value is not None else unknown
            source = self._source_md(v.source) if v.source is not None else ""
            rows.append(f"| {period} | {_cell(value)} | {_cell(source)} |")
        current = in_force(ordered, today)
        if current is None or current.value is None:
            rows += ["", f"{words['none_today']} ({today.isoformat()})"]
        else:
            rows += ["", f"**{words['today']}** ({today.isoformat()}): `{fmt.expr(current.value)}`"]
        return rows


def in_force(values: list[n.ParamValue], day: dt.date) -> n.ParamValue | None:
    """The period of a parameter in force on ``day``: the latest that has started and not ended.

    A period without an end runs until the next one starts, as the checker reads it.
    """
    started = [v for v in sorted(values, key=lambda v: v.start) if v.start <= day]
    if not started or (started[-1].end is not None and started[-1].end < day):
        return None
    return started[-1]


def _md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------- completion


def keyword_words(language: str) -> list[str]:
    """Every form of every keyword of a language, as written (``dag`` and ``dagen``), longest first."""
    words: set[str] = set()
    for pattern in keyword_patterns(language).values():
        text = pattern.replace(r"\b", "").replace("[ \\t]+", " ")
        forms = [""]
        for m in re.finditer(r"\((\w+(?:\|\w+)*)\)(\?)?|(\w)(\?)|([^()?]+?)(?=\(|\w\?|$)", text):
            if m.group(1) is not None:  # (a|b) or (x)?
                options = m.group(1).split("|") + ([""] if m.group(2) else [])
            elif m.group(3) is not None:  # s?
                options = [m.group(3), ""]
            else:
                options = [m.group(5)]
            forms = [f + o for f in forms for o in options]
        words.update(forms)
    return sorted(words, key=lambda w: (-len(w), w))


_PREFIX = re.compile(r"[\w.]*$")


def completions(index: SymbolIndex, language: str, before: str) -> tuple[str, list[Completion]]:
    """What may be typed at a place, given the text of the line before the cursor.

    Returns the prefix being completed (a dotted name counts as one word) and the
    candidates: after `exception to` the rules, after `then` the values, after `source`
    the sources; elsewhere the keywords of the file's own language, the functions and
    every declared name.
    """
    prefix = _PREFIX.search(before)
    typed = prefix.group(0) if prefix else ""
    head = before[: len(before) - len(typed)]
    kw = keyword_table(language)

    def ends_with(terminal: str) -> bool:
        pattern = keyword_patterns(language)[terminal]
        return re.search(rf"(?<![\w.]){pattern}[ \t]+$", head) is not None

    def names(*kinds: str) -> list[Completion]:
        return [Completion(s.name, s.kind, _detail(s)) for s in index.names.values() if s.kind in kinds]

    if ends_with("KW_EXCEPTION_TO"):
        return typed, names("rule")
    if ends_with("KW_THEN"):
        return typed, names("derived", "output")
    if ends_with("KW_SOURCE"):
        return typed, [Completion(s.name, "source", _detail(s)) for s in index.sources.values()]
    if ends_with("KW_PEILDATUM"):
        return typed, names("input")
    out = names("input", "derived", "output", "parameter", "table")
    if "." not in typed:
        out += [Completion(word, "keyword", "") for word in keyword_words(language)]
        out += [Completion(f, "function", f"function ({FUNCTIONS['english'][f]})" if language == "english"
                           else f"functie ({FUNCTIONS[language][f]})")
                for f in FUNCTIONS.get(language, FUNCTIONS["english"])]
        choices = sorted({c for s in index.names.values() if isinstance(s.node, (n.InputDecl, n.DerivedDecl,
                          n.OutputDecl, n.ParameterDecl)) for c in _choices(s.node.type)})
        out += [Completion(c, "choice", kw["KW_ONE_OF"]) for c in choices]
    return typed, out


def _choices(t: n.TypeRef) -> tuple[str, ...]:
    if t.kind == "enum":
        return t.choices
    return _choices(t.item) if t.kind == "list" and t.item is not None else ()


def _detail(s: Symbol) -> str:
    node = s.node
    if isinstance(node, (n.InputDecl, n.DerivedDecl, n.OutputDecl, n.ParameterDecl)):
        return Formatter(s.file.language).type(node.type)
    if isinstance(node, n.Rule):
        return node.title or ""
    if isinstance(node, n.TableDecl):
        return node.description or ""
    if isinstance(node, n.SourceDef):
        return node.title
    return ""
