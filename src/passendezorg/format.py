"""Canonical formatting of rule files (``passendezorg fmt``) and of expressions in messages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

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
                "round_down_money": "round_down", "days_between": "days_between", "count": "count"},
    "nederlands": {"age": "leeftijd", "year": "jaar", "round": "afronden", "round_money": "afronden",
                   "round_down": "afronden_omlaag", "round_down_money": "afronden_omlaag",
                   "days_between": "dagen_tussen", "count": "aantal"},
}
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
        text = f"{v:.2f}"
        return "€ " + (text.replace(".", ",") if self.language == "nederlands" else text)

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
            return e.name, 9
        if isinstance(e, n.Call):
            name = CANONICAL_FUNCS[self.language].get(e.func, e.func)
            return f"{name}({', '.join(self.expr(a) for a in e.args)})", 9
        if isinstance(e, n.Lookup):
            return f"{e.table}[{', '.join(self.expr(a) for a in e.keys)}].{e.column}", 9
        if isinstance(e, n.ListLit):
            return "[" + ", ".join(self.expr(a) for a in e.items) + "]", 9
        if isinstance(e, n.TupleLit):
            return "(" + ", ".join(self.expr(a) for a in e.items) + ")", 9
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

    def condition(self, e: n.Expr, indent: str) -> str:
        """A condition, broken before each top-level `and` / `or` when it is long."""
        flat = self.expr(e)
        if len(flat) + len(indent) + 6 <= WIDTH or not (isinstance(e, n.Binary) and e.op in ("and", "or")):
            return flat
        op = e.op
        parts: list[n.Expr] = []

        def collect(x: n.Expr) -> None:
            if isinstance(x, n.Binary) and x.op == op:
                collect(x.left)
                collect(x.right)
            else:
                parts.append(x)

        collect(e)
        word = self.k("KW_AND") if op == "and" else self.k("KW_OR")
        need = PREC[op] + 1
        first = self.expr(parts[0], PREC[op])
        rest = [f"\n{indent}    {word} {self.expr(p, need)}" for p in parts[1:]]
        return first + "".join(rest)

    # ------------------------------------------------------------ files

    def source(self, s: n.SourceRef) -> str:
        if s.source is None:
            return f"{self.k('KW_SOURCE')} {string(s.detail or '')}"
        return f"{self.k('KW_SOURCE')} {s.source}" + (f" {string(s.detail)}" if s.detail is not None else "")

    def file(self, f: n.RuleFile) -> str:
        out: list[str] = [f"{self.k('KW_LANGUAGE')} {self.language}"]
        comments = sorted(f.comments, key=lambda c: (c.line, c.column))
        ci = 0

        def flush(before_line: int) -> None:
            nonlocal ci
            while ci < len(comments) and comments[ci].line < before_line:
                out.append(comments[ci].text.rstrip())
                ci += 1

        if f.ruleset is not None:
            rs = f.ruleset
            flush(rs.span.end_line + 1)
            out.append("")
            out.append(f"{self.k('KW_SCENARIO' if rs.scenario else 'KW_RULESET')} {rs.name}")
            if rs.title is not None:
                out.append(f"  {self.k('KW_TITLE')} {string(rs.title)}")
            for s in rs.sources:
                mark = f" {self.k('KW_PROPOSAL')}" if s.proposal else ""
                out.append(f"  {self.k('KW_SOURCE')} {s.name} {string(s.title)}{mark}")
                if s.url is not None:
                    out.append(f"    {self.k('KW_URL')} {string(s.url)}")
        previous: type | None = None
        for item in f.items:
            blank = not (isinstance(item, n.InputDecl) and previous is n.InputDecl)
            if blank:
                out.append("")
            start = len(out)
            flush(item.span.end_line + 1)
            if len(out) > start and not blank:
                out.insert(start, "")
            out.append(self.item(item))
            previous = type(item)
        while ci < len(comments):
            out.append(comments[ci].text.rstrip())
            ci += 1
        return "\n".join(out).rstrip() + "\n"

    def item(self, item: n.Item) -> str:
        if isinstance(item, n.InputDecl):
            return f"{self.k('KW_INPUT')} {item.name} : {self.type(item.type)}" + _desc(item.description)
        if isinstance(item, n.DerivedDecl):
            lines = [f"{self.k('KW_DERIVED')} {item.name} : {self.type(item.type)}" + _desc(item.description)]
            if item.definition is not None:
                lines.append(f"  = {self.expr(item.definition)}")
            if item.default is not None:
                lines.append(f"  {self.k('KW_DEFAULT')} {self.expr(item.default)}")
            return "\n".join(lines)
        if isinstance(item, n.OutputDecl):
            lines = [f"{self.k('KW_OUTPUT')} {item.name} : {self.type(item.type)}" + _desc(item.description)]
            if item.default is not None:
                lines.append(f"  {self.k('KW_DEFAULT')} {self.expr(item.default)}")
            return "\n".join(lines)
        if isinstance(item, n.PeildatumDecl):
            return f"{self.k('KW_PEILDATUM')} {item.name}"
        if isinstance(item, n.ParameterDecl):
            lines = [f"{self.k('KW_PARAMETER')} {item.name} : {self.type(item.type)}" + _desc(item.description)]
            return "\n".join(lines + self.param_values(item.values))
        if isinstance(item, n.ParameterChange):
            lines = [f"{self.k('KW_CHANGE')} {self.k('KW_PARAMETER')} {item.name}"]
            return "\n".join(lines + self.param_values(item.values))
        if isinstance(item, n.TableChange):
            word = self.k("KW_REPLACE") if item.kind == "replace" else self.k("KW_ADD_TO")
            lines = [f"{word} {self.k('KW_TABLE')} {item.name}" + _desc(item.description)]
            if item.start is not None:
                lines.append(f"  {self.k('KW_FROM')} {item.start.isoformat()}")
            if item.file is not None:
                lines.append(f"  {self.k('KW_FILE')} {string(item.file)}")
            lines += ["  " + self.source(s) for s in item.sources]
            return "\n".join(lines)
        if isinstance(item, n.SwitchOff):
            line = f"{self.k('KW_SWITCH')} {self.k('KW_RULE')} {item.rule} {self.k('KW_OFF')}"
            if item.start is not None:
                line += f" {self.k('KW_FROM')} {item.start.isoformat()}"
            return "\n".join([line] + ["  " + self.source(s) for s in item.sources])
        if isinstance(item, n.TableDecl):
            lines = [f"{self.k('KW_TABLE')} {item.name}" + _desc(item.description),
                     f"  {self.k('KW_FILE')} {string(item.file)}",
                     f"  {self.k('KW_KEY')} {', '.join(item.keys)}"]
            for c in item.columns:
                lines.append(f"  {self.k('KW_COLUMN')} {c.name} : {self.type(c.type)}")
            if item.valid_from_column is not None:
                line = f"  {self.k('KW_VALID_FROM')} {self.k('KW_COLUMN')} {item.valid_from_column}"
                if item.valid_until_column is not None:
                    line += f" {self.k('KW_UNTIL')} {self.k('KW_COLUMN')} {item.valid_until_column}"
                lines.append(line)
            return "\n".join(lines)
        assert isinstance(item, n.Rule)
        return self.rule(item)

    def param_values(self, values: tuple[n.ParamValue, ...]) -> list[str]:
        lines = []
        for v in values:
            line = f"  {self.k('KW_FROM')} {v.start.isoformat()}"
            if v.end is not None:
                line += f" {self.k('KW_UNTIL')} {v.end.isoformat()}"
            line += " = " + (self.expr(v.value) if v.value is not None else self.k("KW_UNKNOWN"))
            if v.source is not None:
                line += "  " + self.source(v.source)
            lines.append(line)
        return lines

    def rule(self, r: n.Rule) -> str:
        lines = [f"{self.k('KW_RULE')} {r.name}"]
        if r.title is not None:
            lines.append(f"  {string(r.title)}")
        for name in r.exception_to:
            lines.append(f"  {self.k('KW_EXCEPTION_TO')} {name}")
        for s in r.sources:
            lines.append("  " + self.source(s))
        if r.valid_from is not None:
            line = f"  {self.k('KW_VALID_FROM')} {r.valid_from.isoformat()}"
            if r.valid_until is not None:
                line += f" {self.k('KW_UNTIL')} {r.valid_until.isoformat()}"
            lines.append(line)
        elif r.valid_until is not None:
            lines.append(f"  {self.k('KW_VALID_UNTIL')} {r.valid_until.isoformat()}")
        if r.when is not None:
            lines.append(f"  {self.k('KW_WHEN')} {self.condition(r.when, '  ')}")
        if r.target is not None and r.value is not None:
            lines.append(f"  {self.k('KW_THEN')} {r.target} = {self.expr(r.value)}")
        if r.because is not None:
            lines.append(f"  {self.k('KW_BECAUSE')} {string(r.because)}")
        return "\n".join(lines)


def string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _desc(d: str | None) -> str:
    return f" {string(d)}" if d is not None else ""


def format_file(f: n.RuleFile) -> str:
    """The canonical text of a parsed rule file."""
    return Formatter(f.language).file(f)


def format_expr(e: n.Expr | n.CheckedExpr, language: str = "english") -> str:
    return Formatter(language).expr(e)
