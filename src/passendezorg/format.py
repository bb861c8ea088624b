"""Canonical formatting of rule files (``passendezorg fmt``) and of expressions in messages."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from . import display
from . import nodes as n
from .keywords import keyword_table

TYPE_WORDS = {
    "english": {"boolean": "boolean", "integer": "integer", "decimal": "decimal", "money": "money", "date": "date",
                "text": "text"},
    "nederlands": {"boolean": "janee", "integer": "geheel getal", "decimal": "decimaal", "money": "bedrag",
                   "date": "datum", "text": "tekst"},
}
UNITS = {
    "english": {"days": ("day", "days"), "months": ("month", "months"), "years": ("year", "years")},
    "nederlands": {"days": ("dag", "dagen"), "months": ("maand", "maanden"), "years": ("jaar", "jaren")},
}
CANONICAL_FUNCS = {
    "english": {"age": "age", "year": "year", "round": "round", "round_money": "round", "round_down": "round_down",
                "round_down_money": "round_down", "days_between": "days_between", "count": "count", "sum": "sum",
                "minimum": "minimum", "maximum": "maximum", "all": "all", "any": "any",
                "start_of_month": "start_of_month"},
    "nederlands": {"age": "leeftijd", "year": "jaar", "round": "afronden", "round_money": "afronden",
                   "round_down": "afronden_omlaag", "round_down_money": "afronden_omlaag",
                   "days_between": "dagen_tussen", "count": "aantal", "sum": "som", "minimum": "minimum",
                   "maximum": "maximum", "all": "alle", "any": "enige", "start_of_month": "begin_maand"},
}
ROUND_UNIT_KEYWORDS = {"cents": "KW_TO_CENTS", "euros": "KW_TO_EUROS"}
ROUND_MODE_KEYWORDS = {"half_up": "KW_HALF_UP", "half_even": "KW_HALF_EVEN", "down": "KW_DOWN", "up": "KW_UP",
                       "towards_zero": "KW_TOWARDS_ZERO"}
PREC = {"or": 1, "and": 2, "not": 3, "=": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4, "in": 4, "notin": 4,
        "+": 5, "-": 5, "*": 6, "/": 6}
WIDTH = 96


class Formatter:
    def __init__(self, language: str) -> None:
        self.language = language
        self.kw = keyword_table(language)

    def k(self, terminal: str) -> str:
        return self.kw[terminal]

    # ------------------------------------------------------------ values

    def money(self, v: Decimal) -> str:
        """An amount as a rule file writes it: the one amount format (``display``), `€ 1.234,56` in Dutch."""
        return display.money(v, self.language)

    def literal(self, e: n.Literal) -> str:
        v = e.value
        if e.kind == "boolean":
            return self.k("KW_TRUE") if v else self.k("KW_FALSE")
        if e.kind == "money":
            assert isinstance(v, Decimal)
            return self.money(v)
        if e.kind == "text":
            return string(str(v))
        if e.kind == "date":
            assert isinstance(v, dt.date)
            return v.isoformat()
        if e.kind == "duration":
            assert isinstance(v, n.Duration)
            one, many = UNITS[self.language][v.unit]
            return f"{v.amount} {one if v.amount == 1 else many}"
        if e.kind == "decimal" and e.text.rstrip().endswith("%"):
            assert isinstance(v, Decimal)
            pct = (v * 100).normalize()
            return f"{pct:f} %"
        if e.kind == "decimal":
            assert isinstance(v, Decimal)
            text = f"{v:f}"
            return text if "." in text else text + ".0"
        return str(v)

    def type(self, t: n.TypeRef) -> str:
        if t.kind == "enum":
            return f"{self.k('KW_ONE_OF')} " + ", ".join(t.choices)
        if t.kind == "list":
            assert t.item is not None
            return f"{self.k('KW_LIST_OF')} {self.type(t.item)}"
        return TYPE_WORDS[self.language][t.kind]

    # ------------------------------------------------------------ expressions

    def expr(self, e: n.Expr | n.CheckedExpr, need: int = 0) -> str:
        text, prec = self._expr(e)
        return f"({text})" if prec < need else text

    def _expr(self, e: n.Expr | n.CheckedExpr) -> tuple[str, int]:
        if isinstance(e, n.Literal):
            if e.kind == "enum":
                return str(e.value), 9
            text = self.literal(e)
            if e.kind in ("integer", "decimal", "money") and text.lstrip("€ ").startswith("-"):
                return text, 7
            return text, 9
        if isinstance(e, n.Var):
            return e.name, 9
        if isinstance(e, n.Ref):
            return (f"{e.record}.{e.name}" if e.record is not None else e.name), 9
        if isinstance(e, n.Call):
            name = CANONICAL_FUNCS[self.language].get(e.func, e.func)
            args = [self.expr(a, 1) for a in e.args]
            if e.unit is not None or e.mode is not None:
                name = self.k("KW_ROUND")
                if e.unit is not None:
                    args.append(self.k(ROUND_UNIT_KEYWORDS[e.unit]))
                if e.mode is not None:
                    args.append(self.k(ROUND_MODE_KEYWORDS[e.mode]))
            if e.where is not None:
                args[-1] += f" {self.k('KW_WHERE')} {self.expr(e.where)}"
            return f"{name}({', '.join(args)})", 9
        if isinstance(e, n.Aggregate):
            name = CANONICAL_FUNCS[self.language].get(e.func, e.func)
            arg = self.expr(e.body, 1) if e.body is not None else e.record
            if e.condition is not None:
                arg += f" {self.k('KW_WHERE')} {self.expr(e.condition)}"
            return f"{name}({arg})", 9
        if isinstance(e, n.Lookup):
            return f"{e.table}[{', '.join(self.expr(a, 1) for a in e.keys)}].{e.column}", 9
        if isinstance(e, n.ListLit):
            return "[" + ", ".join(self.expr(a, 1) for a in e.items) + "]", 9
        if isinstance(e, n.TupleLit):
            return "(" + ", ".join(self.expr(a, 1) for a in e.items) + ")", 9
        if isinstance(e, n.Conditional):
            comma = "," if self.language == "nederlands" else ""
            return (f"{self.expr(e.then, 1)} {self.k('KW_IF')} {self.expr(e.condition, 1)}{comma} "
                    f"{self.k('KW_ELSE')} {self.expr(e.otherwise)}", 0)
        if isinstance(e, n.Unary):
            if e.op == "not":
                return f"{self.k('KW_NOT')} {self.expr(e.operand, 3)}", 3
            return f"{e.op}{self.expr(e.operand, 7)}", 7
        if isinstance(e, n.IsKnown):
            word = self.k("KW_IS_MISSING") if e.negated else self.k("KW_IS_KNOWN")
            return f"{self.expr(e.operand, 5)} {word}", 4
        assert isinstance(e, n.Binary)
        p = PREC[e.op]
        word = {"and": self.k("KW_AND"), "or": self.k("KW_OR"), "in": self.k("KW_IN"),
                "notin": self.k("KW_NOT_IN")}.get(e.op, e.op)
        if p == 4:
            return f"{self.expr(e.left, 5)} {word} {self.expr(e.right, 5)}", 4
        if e.op in ("and", "or"):  # associative: the parser reads a chain flat, so no brackets on either side
            return f"{self.expr(e.left, p)} {word} {self.expr(e.right, p)}", p
        return f"{self.expr(e.left, p)} {word} {self.expr(e.right, p + 1)}", p

    # ------------------------------------------------------------ long conditions

    def lay(self, e: n.Expr, need: int, col: int, indent: int) -> list[Line]:
        """``e`` laid out from column ``col``: long `and`/`or` chains are broken before the operator.

        The first line is the text after the prefix that ends at ``col``; the others are whole
        lines. A chain keeps the line breaks its author made (where the lines fit) and is broken
        before every operator when it does not fit; ``indent`` is where the clause's own lines start.
        """
        if isinstance(e, n.Binary) and e.op in ("and", "or"):
            return self.lay_chain(e, need, col, indent)
        if isinstance(e, n.Unary) and e.op == "not" and need <= PREC["not"]:
            word = f"{self.k('KW_NOT')} "
            inner = self.lay(e.operand, PREC["not"], col + len(word), indent)
            return [Line(word + inner[0].text, *_lines_of(e, inner[0])), *inner[1:]]
        return [Line(self.expr(e, need), *_source_lines(e))]

    def lay_chain(self, e: n.Binary, need: int, col: int, indent: int) -> list[Line]:
        op = e.op
        p = PREC[op]
        parens = p < need
        parts: list[n.Expr] = []

        def collect(x: n.Expr) -> None:
            if isinstance(x, n.Binary) and x.op == op:
                collect(x.left)
                collect(x.right)
            else:
                parts.append(x)

        collect(e)
        flat = self.expr(e, need)
        author = {i for i in range(1, len(parts)) if _broken_between(parts[i - 1], parts[i])}
        if not author and col + len(flat) <= WIDTH:
            return [Line(flat, *_source_lines(e))]
        start = col + (1 if parens else 0)
        cont = start if parens else indent + 4
        word = self.k("KW_AND") if op == "and" else self.k("KW_OR")
        everywhere = set(range(1, len(parts)))
        for breaks in (author, everywhere):
            lines = self._chain_lines(parts, breaks, p + 1, start, cont, word)
            if parens:
                lines[0] = Line("(" + lines[0].text, lines[0].first, lines[0].last)
                lines[-1] = Line(lines[-1].text + ")", lines[-1].first, lines[-1].last)
            if breaks == everywhere or _fits(lines, col):
                return lines
        raise AssertionError("unreachable")  # pragma: no cover

    def _chain_lines(self, parts: list[n.Expr], breaks: set[int], need: int, start: int, cont: int,
                     word: str) -> list[Line]:
        out: list[Line] = []
        for i, part in enumerate(parts):
            if i == 0:
                out.extend(self.lay(part, need, start, cont))
            elif i in breaks:
                prefix = " " * cont + f"{word} "
                sub = self.lay(part, need, len(prefix), cont)
                out.append(Line(prefix + sub[0].text, sub[0].first, sub[0].last))
                out.extend(sub[1:])
            else:
                last = out[-1]
                width = (start if len(out) == 1 else 0) + len(last.text) + len(word) + 2
                sub = self.lay(part, need, width, cont)
                out[-1] = Line(f"{last.text} {word} {sub[0].text}", *_merge(last, sub[0]))
                out.extend(sub[1:])
        return out

    def condition(self, e: n.Expr, indent: str) -> str:
        """A condition after `when` (as text), broken before `and` / `or` when it is long."""
        prefix = f"{indent}{self.k('KW_WHEN')} "
        return "\n".join(line.text for line in self.lay(e, 0, len(prefix), len(indent)))

    def clause(self, prefix: str, e: n.Expr, indent: int = 2) -> list[Line]:
        """A clause that ends in an expression: ``prefix`` (with its indentation) and the expression laid out."""
        lines = self.lay(e, 0, len(prefix), indent)
        return [Line(prefix + lines[0].text, lines[0].first, lines[0].last), *lines[1:]]

    # ------------------------------------------------------------ files

    def source(self, s: n.SourceRef) -> str:
        if s.source is None:
            return f"{self.k('KW_SOURCE')} {string(s.detail or '')}"
        return f"{self.k('KW_SOURCE')} {s.source}" + (f" {string(s.detail)}" if s.detail is not None else "")

    def file(self, f: n.RuleFile) -> str:
        out: list[str] = [f"{self.k('KW_LANGUAGE')} {self.language}"]
        comments = sorted(f.comments, key=lambda c: (c.line, c.column))
        ci = 0

        def before(line: int) -> list[n.Comment]:
            nonlocal ci
            taken = []
            while ci < len(comments) and comments[ci].line < line:
                taken.append(comments[ci])
                ci += 1
            return taken

        def within(first: int, last: int) -> list[n.Comment]:
            """The comments inside lines first..last, and the indented ones on the lines right after them."""
            nonlocal ci
            taken = []
            while ci < len(comments) and (first <= comments[ci].line <= last or (
                    comments[ci].line == last + 1 and comments[ci].column > 1)):
                last = max(last, comments[ci].line)
                taken.append(comments[ci])
                ci += 1
            return taken

        if f.ruleset is not None:
            rs = f.ruleset
            out.extend(c.text.rstrip() for c in before(rs.span.line))
            out.append("")
            out.extend(_place(self.ruleset_lines(rs), within(rs.span.line, rs.span.end_line)))
        previous: type | None = None
        for item in f.items:
            blank = not (isinstance(item, n.InputDecl) and previous is n.InputDecl)
            if blank:
                out.append("")
            leading = [c.text.rstrip() for c in before(item.span.line)]
            if leading and not blank:
                out.append("")
            out.extend(leading)
            out.extend(_place(self.item_lines(item), within(item.span.line, item.span.end_line)))
            previous = type(item)
        if ci < len(comments) and out[-1] != "":
            out.append("")
        while ci < len(comments):
            out.append(comments[ci].text.rstrip())
            ci += 1
        return "\n".join(out).rstrip() + "\n"

    def ruleset_lines(self, rs: n.Ruleset) -> list[Line]:
        lines = [Line(f"{self.k('KW_SCENARIO' if rs.scenario else 'KW_RULESET')} {rs.name}", *_at(rs.span.line))]
        if rs.title is not None:
            lines.append(Line(f"  {self.k('KW_TITLE')} {string(rs.title)}", *_at(rs.clause_lines.get("title"))))
        for s in rs.sources:
            mark = f" {self.k('KW_PROPOSAL')}" if s.proposal else ""
            lines.append(Line(f"  {self.k('KW_SOURCE')} {s.name} {string(s.title)}{mark}", *_at(s.span.line)))
            if s.url is not None:
                lines.append(Line(f"    {self.k('KW_URL')} {string(s.url)}", *_at(s.span.end_line)))
        return lines

    def item(self, item: n.Item) -> str:
        return "\n".join(line.text for line in self.item_lines(item))

    def item_lines(self, item: n.Item) -> list[Line]:
        """An item's lines, each with the source lines it holds (for the comments around them)."""
        head = _at(item.span.line)
        if isinstance(item, n.InputDecl):
            return [Line(f"{self.k('KW_INPUT')} {item.name} : {self.type(item.type)}" + _desc(item.description), *head)]
        if isinstance(item, (n.DerivedDecl, n.OutputDecl)):
            word = self.k("KW_DERIVED") if isinstance(item, n.DerivedDecl) else self.k("KW_OUTPUT")
            per = f" {self.k('KW_PER')} {item.per}" if item.per is not None else ""
            lines = [Line(f"{word} {item.name}{per} : {self.type(item.type)}" + _desc(item.description), *head)]
            if isinstance(item, n.DerivedDecl) and item.definition is not None:
                lines += self.clause("  = ", item.definition)
            if item.default is not None:
                lines += self.clause(f"  {self.k('KW_DEFAULT')} ", item.default)
            if isinstance(item, n.DerivedDecl):
                lines += [Line("  " + self.source(s), *_at(s.span.line, s.span.end_line)) for s in item.sources]
            return lines
        if isinstance(item, n.PeildatumDecl):
            return [Line(f"{self.k('KW_PEILDATUM')} {item.name}", *head)]
        if isinstance(item, n.ParameterDecl):
            lines = [Line(f"{self.k('KW_PARAMETER')} {item.name} : {self.type(item.type)}" + _desc(item.description),
                          *head)]
            return lines + self.param_values(item.values)
        if isinstance(item, n.ParameterChange):
            return [Line(f"{self.k('KW_CHANGE')} {self.k('KW_PARAMETER')} {item.name}", *head),
                    *self.param_values(item.values)]
        if isinstance(item, n.TableChange):
            word = self.k("KW_REPLACE") if item.kind == "replace" else self.k("KW_ADD_TO")
            lines = [Line(f"{word} {self.k('KW_TABLE')} {item.name}" + _desc(item.description), *head)]
            if item.start is not None:
                lines.append(Line(f"  {self.k('KW_FROM')} {item.start.isoformat()}"))
            if item.file is not None:
                lines.append(Line(f"  {self.k('KW_FILE')} {string(item.file)}"))
            lines += [Line("  " + self.source(s), *_at(s.span.line, s.span.end_line)) for s in item.sources]
            return lines
        if isinstance(item, n.SwitchOff):
            line = f"{self.k('KW_SWITCH')} {self.k('KW_RULE')} {item.rule} {self.k('KW_OFF')}"
            if item.start is not None:
                line += f" {self.k('KW_FROM')} {item.start.isoformat()}"
            return [Line(line, *head)] + [Line("  " + self.source(s), *_at(s.span.line, s.span.end_line))
                                          for s in item.sources]
        if isinstance(item, n.TableDecl):
            at = item.clause_lines
            lines = [Line(f"{self.k('KW_TABLE')} {item.name}" + _desc(item.description), *head),
                     Line(f"  {self.k('KW_FILE')} {string(item.file)}", *_at(at.get("file"))),
                     Line(f"  {self.k('KW_KEY')} {', '.join(item.keys)}", *_at(at.get("key")))]
            for c in item.columns:
                lines.append(Line(f"  {self.k('KW_COLUMN')} {c.name} : {self.type(c.type)}", *_at(c.span.line)))
            if item.valid_from_column is not None:
                line = f"  {self.k('KW_VALID_FROM')} {self.k('KW_COLUMN')} {item.valid_from_column}"
                if item.valid_until_column is not None:
                    line += f" {self.k('KW_UNTIL')} {self.k('KW_COLUMN')} {item.valid_until_column}"
                lines.append(Line(line, *_at(at.get("validity"))))
            lines += [Line("  " + self.source(s), *_at(s.span.line, s.span.end_line)) for s in item.sources]
            if item.source_column is not None:
                lines.append(Line(f"  {self.k('KW_SOURCE')} {self.k('KW_COLUMN')} {item.source_column}"))
            return lines
        if isinstance(item, n.GroupDecl):
            lines = [Line(f"{self.k('KW_GROUP')} {item.name} {self.k('KW_IN')} {item.path}" + _desc(item.description),
                          *_at(item.span.line))]
            return lines + [Line(f"  {self.k('KW_FIELD')} {f.name} : {self.type(f.type)}" + _desc(f.description),
                                 *_at(f.span.line)) for f in item.fields]
        assert isinstance(item, n.Rule)
        return self.rule_lines(item)

    def param_values(self, values: tuple[n.ParamValue, ...]) -> list[Line]:
        lines = []
        for v in values:
            line = f"  {self.k('KW_FROM')} {v.start.isoformat()}"
            if v.end is not None:
                line += f" {self.k('KW_UNTIL')} {v.end.isoformat()}"
            line += " = " + (self.expr(v.value) if v.value is not None else self.k("KW_UNKNOWN"))
            if v.source is not None:
                line += "  " + self.source(v.source)
            lines.append(Line(line, *_at(v.span.line, v.span.end_line)))
        return lines

    def rule(self, r: n.Rule) -> str:
        return "\n".join(line.text for line in self.rule_lines(r))

    def rule_lines(self, r: n.Rule) -> list[Line]:
        at = r.clause_lines
        lines = [Line(f"{self.k('KW_RULE')} {r.name}", *_at(r.span.line))]
        if r.title is not None:
            lines.append(Line(f"  {string(r.title)}", *_at(at.get("desc"))))
        for name, span in zip(r.exception_to, r.exception_spans or (None,) * len(r.exception_to)):
            lines.append(Line(f"  {self.k('KW_EXCEPTION_TO')} {name}", *_at(span.line if span else None)))
        for s in r.sources:
            lines.append(Line("  " + self.source(s), *_at(s.span.line, s.span.end_line)))
        if r.valid_from is not None:
            line = f"  {self.k('KW_VALID_FROM')} {r.valid_from.isoformat()}"
            if r.valid_until is not None:
                line += f" {self.k('KW_UNTIL')} {r.valid_until.isoformat()}"
            lines.append(Line(line, *_at(at.get("valid_from"))))
        elif r.valid_until is not None:
            lines.append(Line(f"  {self.k('KW_VALID_UNTIL')} {r.valid_until.isoformat()}", *_at(at.get("valid_until"))))
        if r.when is not None:
            lines += self.clause(f"  {self.k('KW_WHEN')} ", r.when)
        if r.target is not None and r.value is not None:
            target = r.target_span.line if r.target_span is not None else None
            then = self.clause(f"  {self.k('KW_THEN')} {r.target} = ", r.value)
            lines += [Line(then[0].text, *_merge(Line("", *_at(target)), then[0])), *then[1:]]
        if r.because is not None:
            lines.append(Line(f"  {self.k('KW_BECAUSE')} {string(r.because)}", *_at(at.get("because"))))
        return lines


@dataclass(frozen=True)
class Line:
    """A line of formatted text, and the first and last line of the source it holds (None: not known)."""

    text: str
    first: int | None = None
    last: int | None = None


def _at(first: int | None, last: int | None = None) -> tuple[int | None, int | None]:
    if not first:
        return None, None
    return first, max(last or first, first)


def _source_lines(e: n.Expr) -> tuple[int | None, int | None]:
    return _at(e.span.line, e.span.end_line)


def _merge(a: Line, b: Line) -> tuple[int | None, int | None]:
    firsts = [x for x in (a.first, b.first) if x is not None]
    lasts = [x for x in (a.last, b.last) if x is not None]
    return (min(firsts) if firsts else None), (max(lasts) if lasts else None)


def _lines_of(e: n.Expr, inner: Line) -> tuple[int | None, int | None]:
    return _merge(Line("", *_source_lines(e)), inner)


def _broken_between(a: n.Expr, b: n.Expr) -> bool:
    """Did the author start ``b`` on a later line than the one ``a`` ends on?"""
    return a.span.end_line > 0 and b.span.line > a.span.end_line and a.span.file == b.span.file


def _fits(lines: list[Line], col: int) -> bool:
    return all((col if i == 0 else 0) + len(line.text) <= WIDTH for i, line in enumerate(lines))


def _place(lines: list[Line], comments: list[n.Comment]) -> list[str]:
    """The lines of an item with the comments inside it where they were.

    A comment after code stays at the end of the line that holds that code; a comment on a
    line of its own goes before the line that followed it, indented like that line.
    """
    out = [line.text for line in lines]
    before: dict[int, list[str]] = {}
    after: list[str] = []
    for c in comments:
        text = c.text.rstrip()
        if c.trailing:
            holder = next((i for i, line in enumerate(lines)
                           if line.first is not None and line.last is not None and line.first <= c.line <= line.last
                           and "#" not in _code(out[i])), None)
            if holder is not None:
                out[holder] += f"  {text}"
                continue
        following = next((i for i, line in enumerate(lines) if line.first is not None and line.first > c.line), None)
        if following is None:
            after.append("  " + text)
        else:
            indent = lines[following].text[: len(lines[following].text) - len(lines[following].text.lstrip())]
            before.setdefault(following, []).append(indent + text)
    placed = []
    for i, text in enumerate(out):
        placed.extend(before.get(i, []))
        placed.append(text)
    return placed + after


def _code(line: str) -> str:
    """A line without its quoted texts (a `#` in a text is not a comment)."""
    return re.sub(r'"([^"\\\n]|\\.)*"', "", line)


def string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _desc(d: str | None) -> str:
    return f" {string(d)}" if d is not None else ""


def format_file(f: n.RuleFile) -> str:
    """The canonical text of a parsed rule file."""
    return Formatter(f.language).file(f)


def format_expr(e: n.Expr | n.CheckedExpr, language: str = "english") -> str:
    return Formatter(language).expr(e)
