"""The rule catalogue: a checked rule book as Markdown pages for mkdocs-material, in Dutch.

The catalogue is generated from the checked :class:`~passendezorg.program.Program`,
so it cannot drift from the rules: every rule with its condition in readable
Dutch, its outcome, sources, validity and exceptions; a page per output with
the exception tree as a mermaid diagram; parameters with their dated values
and a chart drawn here as inline SVG; tables; and the example cases, evaluated,
with the rules they exercise. The output is deterministic: the same rule book
and cases give the same bytes (no dates of generation, no network).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape as html_escape
from pathlib import Path
from typing import Any

from . import display
from . import nodes as n
from .cases import Case, iter_case_paths, read_case_file
from .errors import PassendeZorgError
from .explain import reason_text, with_dates
from .model import Decision
from .program import CheckedRule, Parameter, Program, SourceInfo, Table, ValueDecl
from .rulebook import RuleBook

MARKER = "<!-- gegenereerd door passendezorg catalogue: niet met de hand bewerken -->"
FRONT_MATTER = ("---", "lang: nl", "---")
"""Every page says that it is Dutch (mkdocs reads it as the page's metadata; the site's hook gives the page
``<html lang="nl">``)."""
WIDE = ("hide:", "  - toc")
"""The metadata of a page whose diagram and tables need the width of the page's table of contents."""
NAV_FILE = ".nav.json"
NO_RULESET = "overige-regels"
MAX_TABLE_ROWS = 15
MAX_CASES_INLINE = 12

TYPE_WORDS = {"boolean": "ja/nee", "integer": "geheel getal", "decimal": "decimaal getal", "money": "bedrag",
              "date": "datum", "text": "tekst"}

# Nouns that take `het` (the head of a Dutch compound is its last part: eigen_risico_bedrag -> het bedrag).
HET_WORDS = (
    "aantal", "adres", "advies", "bedrag", "begin", "besluit", "budget", "consult", "contract", "deel",
    "document", "domein", "einde", "geslacht", "getal", "gewicht", "inkomen", "jaar", "kenmerk", "kind",
    "kwartaal", "label", "land", "lid", "maximum", "middel", "minimum", "moment", "nummer", "onderhoud",
    "oordeel", "pakket", "percentage", "plafond", "plan", "profiel", "recht", "resultaat", "risico", "saldo",
    "tarief", "tijdstip", "tijdvak", "totaal", "traject", "type", "uur", "verblijf", "verbruik", "vervoer",
    "verzoek", "ziekenhuis",
)


# ---------------------------------------------------------------- small Dutch helpers


def dutch_date(d: dt.date) -> str:
    """A date the catalogue's way: the one date format of the Dutch rule book (``display``)."""
    return display.date(d, "nederlands")


def dutch_number(v: Decimal | int) -> str:
    """A number with a decimal comma and thousands dots (counts and parameter values, not years)."""
    return display.number(v, "nederlands", grouped=True)


def dutch_money(v: Decimal) -> str:
    """An amount the one way of the Dutch rule book (``display``): € 1.234,56."""
    return display.money(v, "nederlands")


PLURALS = {
    "regel": "regels", "regelset": "regelsets", "uitvoerwaarde": "uitvoerwaarden", "waarde": "waarden",
    "parameter": "parameters", "tabel": "tabellen", "casus": "casussen", "voorbeeldcasus": "voorbeeldcasussen",
    "periode": "perioden", "rij": "rijen", "gegeven": "gegevens", "bron": "bronnen", "afwijking": "afwijkingen",
}
"""The plurals of the nouns the catalogue counts (Dutch plurals follow no rule simple enough to guess them)."""


def plural(noun: str) -> str:
    """The plural of a Dutch noun of the catalogue: regel -> regels, tabel -> tabellen, casus -> casussen."""
    if noun in PLURALS:
        return PLURALS[noun]
    head, _, last = noun.rpartition(" ")
    if head and last in PLURALS:  # `afgeleide waarde`: the last word takes the plural
        return f"{head} {PLURALS[last]}"
    raise ValueError(f"no plural known for `{noun}`: add it to PLURALS")


def count(n: int, noun: str, zero: str = "geen") -> str:
    """A number with its noun in the right number: 1 regel, 9 regels, geen regels (``zero``: the word for 0)."""
    if n == 0:
        return f"{zero} {plural(noun)}" if zero else f"0 {plural(noun)}"
    return f"{dutch_number(n)} {noun if n == 1 else plural(noun)}"


def title_from(description: str | None, fallback: str) -> str:
    """A page title: the declaration's description (its first letter a capital, without a final full stop),
    or else ``fallback``."""
    text = (description or "").strip().rstrip(".").strip()
    if not text:
        return fallback
    return text[0].upper() + text[1:]


def words(name: str) -> str:
    """An identifier as words: ``eigen_risico`` -> ``eigen risico``."""
    return name.replace("_", " ")


# Words that are the head of a name when they come first: `aantal_personen` is *het* aantal personen.
HEAD_FIRST = ("aantal", "totaal", "maximum", "minimum", "percentage", "bedrag", "oordeel")


def article(noun: str) -> str:
    """The Dutch article of a noun phrase made from an identifier: the head decides, mostly the last word."""
    phrase = noun.lower().split(" per ")[0].split()  # `bijdrage per uur`: the head comes before `per`
    if not phrase:
        return "de"
    head = phrase[0] if len(phrase) > 1 and phrase[0] in HEAD_FIRST else phrase[-1]
    if head.endswith(("je", "ment", "isme")) or any(head.endswith(w) for w in HET_WORDS):
        return "het"
    return "de"


def ident(name: str) -> str:
    """A name as code that may break after its underscores and dots (a long name in a narrow table column)."""
    return "<code>" + re.sub(r"([_.])", r"\1<wbr>", html_escape(name, quote=False)) + "</code>"


def md(text: str) -> str:
    """Text safe to put in Markdown (inline), with no markup of its own."""
    return re.sub(r"([\\`*_{}\[\]<>|#])", r"\\\1", text).replace("\n", " ")


def attr(text: str) -> str:
    return html_escape(text, quote=True)


def validity_text(start: dt.date | None, end: dt.date | None) -> str:
    if start and end:
        return f"van {dutch_date(start)} tot en met {dutch_date(end)}"
    if start:
        return f"vanaf {dutch_date(start)}"
    if end:
        return f"tot en met {dutch_date(end)}"
    return "altijd (geen geldigheidsperiode)"


def type_text(t: n.TypeRef) -> str:
    if t.kind == "enum":
        return "een van " + DutchRenderer.enumerate(list(t.choices), "of")
    if t.kind == "list" and t.item is not None:
        return "lijst van " + type_text(t.item)
    return TYPE_WORDS.get(t.kind, t.kind)


def source_md(s: SourceInfo) -> str:
    text = md(s.as_text())
    return f"[{text}]({s.url})" if s.url else text


# ---------------------------------------------------------------- conditions in Dutch


Linker = Callable[[str, str], "str | None"]  # (kind, name) -> relative link or None


_CALL_WORDING = {
    ("age", 2): "het aantal hele jaren van {0} tot {1}",
    ("year", 1): "het jaar van {0}",
    ("start_of_month", 1): "de eerste dag van de maand van {0}",
    ("days_between", 2): "het aantal dagen van {0} tot {1}",
    ("count", 1): "het aantal in {0}",
    ("abs", 1): "de absolute waarde van {0}",
}
"""How a function call reads in the catalogue, by function and number of arguments."""

ROUNDING_WORDS = {"half_up": "", "half_even": "half naar even ", "down": "naar beneden ", "up": "naar boven ",
                  "towards_zero": "naar nul toe "}
"""How a rounding mode reads before `afgerond` (half up is plain rounding: *afgerond*)."""


class DutchRenderer:
    """Renders checked expressions as readable Dutch Markdown.

    ``link(kind, name)`` gives the relative link of a value, parameter or table
    page (or None); inputs are shown as words with their technical name on hover.
    """

    def __init__(self, program: Program, link: Linker | None = None) -> None:
        self.p = program
        self.link = link or (lambda kind, name: None)

    # ------------------------------------------------------------ names

    def type_of(self, e: n.Expr) -> str | None:
        """The kind of an expression where it is easily known (for choosing words)."""
        if isinstance(e, n.Literal):
            return e.kind
        if isinstance(e, n.Aggregate):
            return e.kind
        if isinstance(e, n.Ref) and e.kind == "field":
            group = self.p.groups.get(e.group or "")
            field = group.fields.get(e.field) if group is not None else None
            return field.kind if field is not None else None
        if isinstance(e, n.Ref):
            if e.kind == "input" and e.name in self.p.inputs:
                return self.p.inputs[e.name].type.kind
            if e.kind == "value" and e.name in self.p.values:
                return self.p.values[e.name].type.kind
            if e.kind == "param" and e.name in self.p.parameters:
                return self.p.parameters[e.name].type.kind
            return None
        if isinstance(e, n.Lookup):
            t = self.p.tables.get(e.table)
            col = t.columns.get(e.column) if t else None
            return col.kind if col else None
        if isinstance(e, n.Binary) and e.op in ("+", "-"):
            left = self.type_of(e.left)
            if left == "date":
                return "date" if self.type_of(e.right) == "duration" else "integer"
            return left
        if isinstance(e, n.Binary):
            return "boolean" if e.op in ("and", "or", "=", "!=", "<", "<=", ">", ">=", "in", "notin") else None
        if isinstance(e, n.Conditional):
            return self.type_of(e.then) or self.type_of(e.otherwise)
        if isinstance(e, n.Call):
            if e.func in ("age", "year", "days_between", "count", "round", "round_down"):
                return "integer"
            if e.func in ("round_money", "round_down_money"):
                return "money"
            if e.func == "start_of_month":
                return "date"
            if e.func in ("min", "max", "abs") and e.args:
                return self.type_of(e.args[0])
        if isinstance(e, (n.Unary, n.IsKnown)):
            return "boolean" if isinstance(e, n.IsKnown) or e.op == "not" else self.type_of(e.operand)
        return None

    def noun(self, name: str, boolean: bool = False) -> str:
        """A dotted name as a Dutch noun phrase: ``behandeling.soort`` -> ``de soort van de behandeling``.

        A yes/no value is named without an article (``verzekerde.wlz_indicatie`` -> ``wlz indicatie van de
        verzekerde``): such names are mostly adjectives or participles.
        """
        parts = [words(p) for p in reversed(name.split("."))]
        phrases = [p if boolean and i == 0 else f"{article(p)} {p}" for i, p in enumerate(parts)]
        return " van ".join(phrases)

    def name(self, e: n.Ref) -> str:
        if e.kind == "field":  # a field of the record at hand: `het inkomen van de persoon`
            shown = self.noun(e.name, self.type_of(e) == "boolean")
            return f'<abbr title="{attr(f"{e.group}[…].{e.field}")}">{md(shown)}</abbr>'
        if e.kind == "input":
            decl = self.p.inputs.get(e.name)
            shown = self.noun(e.name, decl is not None and decl.type.kind == "boolean")
            title = e.name + (f": {decl.description}" if decl is not None and decl.description else "")
            return f'<abbr title="{attr(title)}">{md(shown)}</abbr>'
        if e.kind == "value":
            value = self.p.values.get(e.name)
            named = f"{e.record}.{e.name}" if e.record is not None else e.name  # of the record at hand
            shown = self.noun(named, value is not None and value.type.kind == "boolean")
            return self._linked(shown, self.link("value", e.name))
        if e.kind == "param":
            param = self.p.parameters.get(e.name)
            shown = self.noun(e.name, param is not None and param.type.kind == "boolean")
            return self._linked(shown, self.link("param", e.name))
        return self.table_ref(e.name)

    def table_ref(self, name: str) -> str:
        """A table by its name (a name, not words: ``de tabel copd_maxima``), with its description on hover."""
        href = self.link("table", name)
        t = self.p.tables.get(name)
        hover = f' "{attr(t.description)}"' if t is not None and t.description else ""
        return f"de tabel [{ident(name)}]({href}{hover})" if href else f"de tabel {ident(name)}"

    @staticmethod
    def _linked(text: str, href: str | None) -> str:
        return f"[{md(text)}]({href})" if href else md(text)

    # ------------------------------------------------------------ values

    def literal(self, e: n.Literal) -> str:
        v = e.value
        if e.kind == "boolean":
            return "ja" if v else "nee"
        if e.kind == "money":
            assert isinstance(v, Decimal)
            return dutch_money(v)
        if e.kind == "date":
            assert isinstance(v, dt.date)
            return dutch_date(v)
        if e.kind == "text":
            return f"“{md(str(v))}”"
        if e.kind == "enum":
            return md(words(str(v)))
        if e.kind == "duration":
            assert isinstance(v, n.Duration)
            one, many = {"days": ("dag", "dagen"), "months": ("maand", "maanden"), "years": ("jaar", "jaar")}[v.unit]
            return f"{v.amount} {one if v.amount == 1 else many}"
        if e.kind == "decimal" and e.text.rstrip().endswith("%"):
            assert isinstance(v, Decimal)
            return f"{dutch_number((v * 100).normalize())} %"
        if e.kind in ("integer", "decimal"):
            assert isinstance(v, (int, Decimal))
            return dutch_number(v)
        return md(str(v))

    def value(self, e: n.Expr, need: int = 0) -> str:
        """An expression that computes a value (not a condition)."""
        text, prec = self._value(e)
        return f"({text})" if prec < need else text

    def _value(self, e: n.Expr) -> tuple[str, int]:
        if isinstance(e, n.Literal):
            return self.literal(e), 9
        if isinstance(e, n.Ref):
            return self.name(e), 9
        if isinstance(e, n.Var):  # only in unchecked trees
            return md(self.noun(e.name)), 9
        if isinstance(e, n.Lookup):
            keys = " en ".join(self.value(k, 5) for k in e.keys)
            return f"de kolom {ident(e.column)} van {self.table_ref(e.table)} voor {keys}", 8
        if isinstance(e, n.Call):
            return self.call(e), 8
        if isinstance(e, n.Aggregate):
            return self.aggregate(e), 8
        if isinstance(e, n.ListLit):
            return self.enumerate([self.value(i, 5) for i in e.items], "en"), 8
        if isinstance(e, n.TupleLit):
            return "de combinatie " + self.enumerate([self.value(i, 5) for i in e.items], "en"), 8
        if isinstance(e, n.Unary):
            if e.op == "not":
                return self.condition_inline(e), 3
            if e.op == "-":
                return f"min {self.value(e.operand, 7)}", 7
            return self.value(e.operand, 7), 7
        if isinstance(e, n.IsKnown):
            return self.condition_inline(e), 4
        if isinstance(e, n.Conditional):
            return (f"{self.value(e.then, 1)} als {self.condition_inline(e.condition)}, en anders "
                    f"{self.value(e.otherwise)}"), 0
        assert isinstance(e, n.Binary)
        if e.op in ("+", "-") and self.type_of(e.right) == "duration":
            when = "na" if e.op == "+" else "vóór"
            return f"{self.value(e.right, 9)} {when} {self.value(e.left, 5)}", 5
        if e.op in ("+", "-", "*", "/"):
            word = {"+": "plus", "-": "min", "*": "maal", "/": "gedeeld door"}[e.op]
            p = 5 if e.op in ("+", "-") else 6
            return f"{self.value(e.left, p)} {word} {self.value(e.right, p + 1)}", p
        return self.condition_inline(e), 4 if e.op not in ("and", "or") else 1

    def call(self, e: n.Call) -> str:
        a = [self.value(x, 5) for x in e.args]
        f = e.func
        if f in ("round", "round_down", "round_money", "round_down_money") and len(a) == 1:
            mode = e.mode or ("down" if f.startswith("round_down") else "half_up")
            unit = "een heel getal" if f in ("round", "round_down") else \
                "hele euro's" if e.unit == "euros" else "hele centen"
            return f"{a[0]}, {ROUNDING_WORDS[mode]}afgerond op {unit}"
        if f in ("min", "max"):
            return f"het {'kleinste' if f == 'min' else 'grootste'} van " + self.enumerate(a, "en")
        wording = _CALL_WORDING.get((f, len(a)))
        if wording is not None:
            return wording.format(*a)
        return f"{md(f)}({', '.join(a)})"

    def aggregate(self, e: n.Aggregate) -> str:
        """An aggregate over the records of a group, in Dutch: ``de som van het inkomen van de persoon, over de
        records van `huishouden.personen` waarvoor …``."""
        records = f"records van {ident(e.group)}"
        if e.condition is not None:
            records += f" waarvoor {self.condition_inline(e.condition)}"
        if e.func == "count":
            return f"het aantal {records}"
        records = "de " + records
        assert e.body is not None
        if e.func == "all":
            return f"voor elk van {records} geldt dat {self.condition_inline(e.body)}"
        if e.func == "any":
            return f"voor ten minste één van {records} geldt dat {self.condition_inline(e.body)}"
        word = {"sum": "de som", "minimum": "het kleinste", "maximum": "het grootste"}[e.func]
        return f"{word} van {self.value(e.body, 5)}, over {records}"

    @staticmethod
    def enumerate(items: list[str], last: str) -> str:
        if len(items) <= 1:
            return "".join(items)
        return ", ".join(items[:-1]) + f" {last} " + items[-1]

    # ------------------------------------------------------------ conditions

    def is_age(self, e: n.Expr) -> bool:
        if isinstance(e, n.Call):
            return e.func == "age"
        if isinstance(e, n.Ref):
            last = e.name.split(".")[-1].lower()
            return "leeftijd" in last or last == "age"
        return False

    def condition_inline(self, e: n.Expr) -> str:
        """A condition as one Dutch sentence part."""
        if isinstance(e, n.Binary) and e.op in ("and", "or"):
            op = e.op
            parts = self._flatten(e, op)
            rendered = []
            for part in parts:
                text = self.condition_inline(part)
                if isinstance(part, n.Binary) and part.op in ("and", "or"):
                    text = f"({text})"
                rendered.append(text)
            return self.enumerate(rendered, "en" if op == "and" else "of")
        if isinstance(e, n.Unary) and e.op == "not":
            inner = e.operand
            if isinstance(inner, n.IsKnown):
                return self.condition_inline(n.IsKnown(inner.operand, not inner.negated, inner.span))
            if self.type_of(inner) == "boolean" and isinstance(inner, (n.Ref, n.Lookup)):
                return f"{self.value(inner)} is nee"
            return f"het is niet zo dat {self.condition_inline(inner)}"
        if isinstance(e, n.IsKnown):
            return f"{self.value(e.operand, 5)} {'ontbreekt' if e.negated else 'is bekend'}"
        if isinstance(e, n.Binary) and e.op in ("=", "!=", "<", "<=", ">", ">="):
            return self.comparison(e)
        if isinstance(e, n.Binary) and e.op in ("in", "notin"):
            return self.membership(e)
        if isinstance(e, n.Literal) and e.kind == "boolean":
            return "altijd" if e.value else "nooit"
        if isinstance(e, n.Aggregate) and e.func in ("all", "any"):
            return self.aggregate(e)
        return f"{self.value(e, 5)} is ja"

    def comparison(self, e: n.Binary) -> str:
        left, right = self.value(e.left, 5), self.value(e.right, 5)
        op = e.op
        kind = self.type_of(e.left) or self.type_of(e.right)
        if op == "=":
            return f"{left} is {right}"
        if op == "!=":
            return f"{left} is niet {right}"
        if self.is_age(e.left):
            # an age is not young or old: it is lower or higher, in years
            years = f"{right} jaar" if isinstance(e.right, n.Literal) and e.right.kind == "integer" else right
            return {"<": f"{left} is lager dan {years}", "<=": f"{left} is ten hoogste {years}",
                    ">": f"{left} is hoger dan {years}", ">=": f"{left} is ten minste {years}"}[op]
        if kind == "date":
            return {"<": f"{left} ligt vóór {right}", "<=": f"{left} ligt op of vóór {right}",
                    ">": f"{left} ligt na {right}", ">=": f"{left} ligt op of na {right}"}[op]
        return {"<": f"{left} is minder dan {right}", "<=": f"{left} is ten hoogste {right}",
                ">": f"{left} is meer dan {right}", ">=": f"{left} is ten minste {right}"}[op]

    def membership(self, e: n.Binary) -> str:
        negated = e.op == "notin"
        right = e.right
        if isinstance(e.left, n.TupleLit):
            left = "de combinatie van " + self.enumerate([self.value(i, 5) for i in e.left.items], "en")
        else:
            left = self.value(e.left, 5)
        if isinstance(right, n.Ref) and right.kind == "table":
            return f"{left} staat {'niet ' if negated else ''}in {self.name(right)}"
        if isinstance(right, n.ListLit):
            items = [self.value(i, 5) for i in right.items]
            if negated:
                if len(items) == 1:
                    return f"{left} is niet {items[0]}"
                return f"{left} is " + ", ".join(f"noch {i}" for i in items)
            if len(items) == 1:
                return f"{left} is {items[0]}"
            return f"{left} is {self.enumerate(items, 'of')}"
        return f"{left} komt {'niet ' if negated else ''}voor in {self.value(right, 5)}"

    @staticmethod
    def _flatten(e: n.Expr, op: str) -> list[n.Expr]:
        if isinstance(e, n.Binary) and e.op == op:
            return DutchRenderer._flatten(e.left, op) + DutchRenderer._flatten(e.right, op)
        return [e]

    def condition_block(self, e: n.Expr, indent: str = "") -> str:
        """A condition as Markdown: short ones inline, longer `and`/`or` chains as (nested) bullet lists."""
        if isinstance(e, n.Binary) and e.op in ("and", "or"):
            parts = self._flatten(e, e.op)
            nested = any(isinstance(x, n.Binary) and x.op in ("and", "or") for x in parts)
            if len(parts) >= 3 or nested:
                head = "alle volgende voorwaarden gelden:" if e.op == "and" else \
                    "ten minste één van de volgende voorwaarden geldt:"
                lines = [head, ""]
                for part in parts:
                    lines.append(f"{indent}- " + self.condition_block(part, indent + "    "))
                return "\n".join(lines)
        return self.condition_inline(e)


# ---------------------------------------------------------------- cases


@dataclass
class CaseResult:
    """A case from the cases folder, evaluated on the rule book."""

    slug: str
    path: Path
    shown: str  # the path as shown to readers, relative to the cases folder
    text: str
    case: Case | None = None
    decision: Decision | None = None
    error: str | None = None
    problems: list[str] | None = None  # None: the case has no expectations
    rules: set[str] = field(default_factory=set)

    @property
    def title(self) -> str:
        return self.case.name if self.case is not None and self.case.name else self.path.stem


def evaluate_cases(book: RuleBook, cases_dir: Path) -> list[CaseResult]:
    """Every YAML/JSON case under ``cases_dir``, evaluated; a malformed case is kept with its error."""
    from .testing import compare

    results: list[CaseResult] = []
    used: set[str] = set()
    for path in iter_case_paths([cases_dir]):
        rel = path.relative_to(cases_dir)
        base = re.sub(r"[^\w]+", "-", rel.with_suffix("").as_posix()).strip("-").lower() or "casus"
        slug, i = base, 2
        while slug in used:
            slug, i = f"{base}-{i}", i + 1
        used.add(slug)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            results.append(CaseResult(slug, path, rel.as_posix(), "", error=f"kan niet worden gelezen: {e}"))
            continue
        r = CaseResult(slug, path, rel.as_posix(), text)
        results.append(r)
        try:
            r.case = read_case_file(path)
            r.decision = book.evaluate(r.case, engine="interpreter")  # a few cases: compiling costs more
        except PassendeZorgError as e:
            r.error = str(e)
            continue
        for o in [*r.decision.outputs.values(), *r.decision.derived.values()]:
            if o.rule is not None:
                r.rules.add(o.rule.name)
            r.rules.update(o.concurring)
        if r.case.expect:
            try:
                r.problems = compare(book, r.decision, r.case)
            except PassendeZorgError as e:
                r.problems = [f"de verwachting kan niet worden gelezen: {e}"]
    return results


# ---------------------------------------------------------------- the SVG chart


def _nice_step(span: float) -> float:
    raw = span / 4 if span > 0 else 1.0
    mag = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1.0
    if raw < 1:
        mag = 1.0
        while mag > raw:
            mag /= 10
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def parameter_chart(param: Parameter) -> str | None:
    """An inline SVG step chart of a numeric or money parameter over time; None if there is nothing to draw."""
    kind = param.type.kind
    if kind not in ("integer", "decimal", "money") or not param.periods:
        return None
    known = [p for p in param.periods if p.value is not None]
    if not known:
        return None

    def label(v: Any) -> str:
        if kind == "money":
            return dutch_money(Decimal(v))
        return dutch_number(v if isinstance(v, int) else Decimal(v))

    periods = list(param.periods)
    start = periods[0].start
    end_points = [p.end + dt.timedelta(days=1) if p.end else p.start for p in periods]
    last = max(end_points)
    if periods[-1].end is None:
        last = max(last, dt.date(periods[-1].start.year + 1, 12, 31) + dt.timedelta(days=1))
    start = dt.date(start.year, 1, 1)
    last = dt.date(last.year + (0 if (last.month, last.day) == (1, 1) else 1), 1, 1)
    values = [float(p.value) for p in known]
    lo = min(0.0, min(values))
    hi = max(values)
    if hi <= lo:
        hi = lo + 1.0
    step = _nice_step(hi - lo)
    top = step * (int(hi / step) + 1) if hi > 0 else 0.0
    bottom = -step * (int(-lo / step) + (1 if lo < 0 else 0)) if lo < 0 else 0.0

    width, height = 680, 260
    left, right, top_m, bottom_m = 86, 20, 30, 34
    plot_w, plot_h = width - left - right, height - top_m - bottom_m
    days = (last - start).days or 1

    def x(d: dt.date) -> float:
        return left + plot_w * (d - start).days / days

    def y(v: float) -> float:
        return top_m + plot_h * (top - v) / ((top - bottom) or 1.0)

    title = f"Verloop van {param.name}"
    out = [f'<svg class="pz-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="{attr(title)}" width="100%" style="max-width:{width}px">',
           f"<title>{attr(title)}</title>"]
    # horizontal grid with value labels
    v = bottom
    while v <= top + step / 1000:
        yy = y(v)
        out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{width - right}" y2="{yy:.1f}" '
                   f'stroke="currentColor" stroke-opacity="0.15"/>')
        shown: Any = Decimal(str(round(v, 6))).normalize()
        if kind == "integer" and shown == shown.to_integral_value():
            shown = int(shown)
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" '
                   f'fill="currentColor">{attr(label(shown))}</text>')
        v += step
    # year ticks on the x axis
    years = list(range(start.year, last.year + 1))
    every = 1 if len(years) <= 12 else (2 if len(years) <= 24 else 5)
    for year in years:
        xx = x(dt.date(year, 1, 1))
        out.append(f'<line x1="{xx:.1f}" y1="{top_m + plot_h}" x2="{xx:.1f}" y2="{top_m + plot_h + 4}" '
                   f'stroke="currentColor" stroke-opacity="0.5"/>')
        if year % every == 0 and year < last.year:
            out.append(f'<text x="{xx + 2:.1f}" y="{height - 12}" font-size="11" fill="currentColor">{year}</text>')
    out.append(f'<line x1="{left}" y1="{top_m + plot_h}" x2="{width - right}" y2="{top_m + plot_h}" '
               f'stroke="currentColor" stroke-opacity="0.5"/>')
    # the periods: a step line, a dot at each start, the value above it; unknown periods as a hatched band
    previous: tuple[float, float] | None = None
    labels: list[tuple[float, float, str]] = []
    for p, end in zip(periods, end_points):
        x0 = x(p.start)
        x1 = x(end if p.end else last)
        if p.value is None:
            out.append(f'<rect x="{x0:.1f}" y="{top_m}" width="{max(x1 - x0, 1):.1f}" height="{plot_h}" '
                       f'fill="currentColor" fill-opacity="0.07"/>')
            out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{top_m + 14}" text-anchor="middle" font-size="11" '
                       f'fill="currentColor" fill-opacity="0.7">onbekend</text>')
            previous = None
            continue
        yy = y(float(p.value))
        if previous is not None and abs(previous[0] - x0) < 0.5:
            out.append(f'<line x1="{x0:.1f}" y1="{previous[1]:.1f}" x2="{x0:.1f}" y2="{yy:.1f}" '
                       f'style="stroke:var(--md-accent-fg-color,#526cfe)" stroke-width="1.5" '
                       f'stroke-dasharray="3 3"/>')
        out.append(f'<line x1="{x0:.1f}" y1="{yy:.1f}" x2="{x1:.1f}" y2="{yy:.1f}" '
                   f'style="stroke:var(--md-primary-fg-color,#4051b5)" stroke-width="3"/>')
        out.append(f'<circle cx="{x0:.1f}" cy="{yy:.1f}" r="3.5" style="fill:var(--md-primary-fg-color,#4051b5)">'
                   f'<title>{attr(dutch_date(p.start))}: {attr(label(p.value))}</title></circle>')
        labels.append((x0, yy, label(p.value)))
        previous = (x1, yy) if p.end else None
    # the values above their lines, the latest first; one too close to a later one is left to its tooltip
    placed: list[float] = []
    for x0, yy, text in reversed(labels):
        if all(abs(x0 - other) >= 8 * len(text) for other in placed):
            placed.append(x0)
            out.append(f'<text x="{x0 + 4:.1f}" y="{yy - 7:.1f}" font-size="11" fill="currentColor">'
                       f'{attr(text)}</text>')
    out.append("</svg>")
    return "\n".join(out)


# ---------------------------------------------------------------- the catalogue

#: the file in a rule book's folder that says which parts of the package it covers, shown on the index page
COVERAGE_FILE = "DEKKING.md"


def coverage_section(rules_dir: Path | None) -> list[str]:
    """The rule book's own overview of what it covers (DEKKING.md beside the rule files), as a section of the
    index: its title becomes the section heading and its headings move one level down."""
    path = rules_dir / COVERAGE_FILE if rules_dir is not None else None
    if path is None or not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    title = "Wat het regelboek dekt"
    if lines and lines[0].startswith("# "):
        title, lines = lines[0][2:].strip(), lines[1:]
    return [f"## {title}", *("#" + line if line.startswith("#") else line for line in lines), ""]


class Catalogue:
    """Writes the pages; one method per kind of page."""

    def __init__(self, book: RuleBook, cases: list[CaseResult], scenarios: list[RuleBook] | None = None) -> None:
        self.book = book
        self.p = book.program
        self.cases = cases
        self.scenarios = [s for s in scenarios or [] if s.scenario is not None]
        self.pages: dict[str, str] = {}  # relative path -> Markdown
        self.rules_by_set: dict[str | None, list[CheckedRule]] = {}
        for r in self.p.rules.values():
            self.rules_by_set.setdefault(r.ruleset, []).append(r)
        self.cases_of_rule: dict[str, list[CaseResult]] = {}
        for c in cases:
            for rule in sorted(c.rules):
                self.cases_of_rule.setdefault(rule, []).append(c)
        self.readers = self._readers()

    # ------------------------------------------------------------ links

    def ruleset_page(self, ruleset: str | None) -> str:
        return f"regelsets/{ruleset}.md" if ruleset is not None else f"{NO_RULESET}.md"

    def value_page(self, name: str) -> str:
        return f"{'uitvoer' if self.p.values[name].is_output else 'afgeleid'}/{name}.md"

    @staticmethod
    def rel(target: str, here: str) -> str:
        """The link from page ``here`` to ``target`` (both relative to the catalogue root)."""
        depth = here.count("/")
        return "../" * depth + target

    def rule_link(self, name: str, here: str) -> str:
        r = self.p.rules[name]
        page = self.ruleset_page(r.ruleset)
        anchor = f"#regel-{name}"
        return anchor if page == here else self.rel(page, here) + anchor

    def linker(self, here: str) -> Linker:
        def link(kind: str, name: str) -> str | None:
            if kind == "value" and name in self.p.values:
                return self.rel(self.value_page(name), here)
            if kind == "param" and name in self.p.parameters:
                return self.rel(f"parameters/{name}.md", here)
            if kind == "table" and name in self.p.tables:
                return self.rel(f"tabellen/{name}.md", here)
            return None

        return link

    def renderer(self, here: str) -> DutchRenderer:
        return DutchRenderer(self.p, self.linker(here))

    def rule_ref_md(self, name: str, here: str) -> str:
        r = self.p.rules[name]
        label = f"{md(r.title)} (`{name}`)" if r.title else f"`{name}`"
        return f"[{label}]({self.rule_link(name, here)})"

    def rule_cell_md(self, name: str, here: str) -> str:
        """A link to a rule for a table cell: its title, with its name on a line of its own."""
        r = self.p.rules[name]
        label = f"{md(r.title)}<br>{ident(name)}" if r.title else ident(name)
        return f"[{label}]({self.rule_link(name, here)})"

    def case_link(self, c: CaseResult, here: str) -> str:
        return f"[{md(c.title)}]({self.rel(f'casussen/{c.slug}.md', here)})"

    # ------------------------------------------------------------ who reads what

    def _readers(self) -> dict[tuple[str, str], list[str]]:
        """(kind, name) -> the rules and values that read it, in rule book order."""
        out: dict[tuple[str, str], list[str]] = {}

        def walk(e: n.Expr | None, owner: str) -> None:
            if e is None:
                return
            for ref in refs(e):
                users = out.setdefault(ref, [])
                if owner not in users:
                    users.append(owner)

        for r in self.p.rules.values():
            walk(r.when, r.name)
            walk(r.value, r.name)
        for v in self.p.values.values():
            walk(v.definition, f"={v.name}")
            walk(v.default, f"={v.name}")
        return out

    def users_md(self, kind: str, name: str, here: str) -> list[str]:
        lines = []
        for user in self.readers.get((kind, name), []):
            if user.startswith("="):
                value = user[1:]
                lines.append(f"- de definitie van [`{value}`]({self.rel(self.value_page(value), here)})")
            else:
                lines.append(f"- {self.rule_ref_md(user, here)}")
        return lines

    # ------------------------------------------------------------ pages

    def build(self) -> dict[str, str]:
        self.index()
        for rs in self.rules_by_set:
            self.ruleset(rs)
        for name in self.p.rulesets:
            if name not in self.rules_by_set:
                self.ruleset(name)
        for name in self.p.values:
            self.value(name)
        for name in self.p.parameters:
            self.parameter(name)
        for name in self.p.tables:
            self.table(name)
        self.inputs()
        self.case_index()
        for c in self.cases:
            self.case(c)
        return self.pages

    def put(self, path: str, title: str, body: list[str], *, wide: bool = False) -> None:
        """A page: its metadata (Dutch, its title; ``wide``: without the table of contents beside it), its title
        as the heading (``title`` is plain text) and its body."""
        meta = [*FRONT_MATTER[:-1], f"title: {json.dumps(title, ensure_ascii=False)}", *(WIDE if wide else ()),
                FRONT_MATTER[-1]]
        self.pages[path] = "\n".join([*meta, MARKER, "", f"# {md(title)}", "", *body]).rstrip() + "\n"

    def ruleset_title(self, rs: str | None) -> str:
        if rs is None:
            return "Regels zonder regelset"
        decl = self.p.rulesets.get(rs)
        return decl.title if decl is not None and decl.title else rs

    def nav(self) -> list[Any]:
        """The catalogue's part of the site navigation (paths relative to the catalogue root): every page but the cases'."""
        rulesets = [{self.ruleset_title(rs): self.ruleset_page(rs)} for rs in self._ruleset_order()]
        outputs = [{name: self.value_page(name)} for name in self.p.outputs]
        derived = [{name: self.value_page(name)} for name, v in self.p.values.items() if not v.is_output]
        nav: list[Any] = ["index.md"]
        if rulesets:
            nav.append({"Regelsets": rulesets})
        if outputs:
            nav.append({"Uitvoer": outputs})
        if derived:
            nav.append({"Afgeleide waarden": derived})
        if self.p.parameters:
            nav.append({"Parameters": [{name: f"parameters/{name}.md"} for name in self.p.parameters]})
        if self.p.tables:
            nav.append({"Tabellen": [{name: f"tabellen/{name}.md"} for name in self.p.tables]})
        nav.append({"Invoer": "invoer.md"})
        if self.scenarios:
            listed: list[Any] = [{"Overzicht": "scenarios/index.md"}]
            listed += [{s.scenario.name: scenario_page(s.scenario.name)} for s in self.scenarios if s.scenario]
            nav.append({"Scenario's": listed})
        # the case pages are reached from the case index, not the navigation: a rule book can have hundreds of
        # cases, and every page of the site carries the whole navigation
        nav.append({"Casussen": "casussen/index.md"})
        return nav

    def _ruleset_order(self) -> list[str | None]:
        order: list[str | None] = list(self.p.rulesets)
        if None in self.rules_by_set:
            order.append(None)
        return order

    def index(self) -> None:
        here = "index.md"
        p = self.p
        body = [
            "Deze catalogus beschrijft alle regels van het regelboek: wat ze zeggen, sinds wanneer ze gelden, "
            "op welke bron ze berusten en welke uitzonderingen er zijn. Hij wordt gemaakt uit het gecontroleerde "
            "regelboek zelf en kan daarom niet afwijken van de regels die worden toegepast.",
            "",
            f"Regelboek `{p.content_hash}` · " + " · ".join([
                count(len(p.rules), "regel", "0"), count(len(p.outputs), "uitvoerwaarde", "0"),
                count(len(p.parameters), "parameter", "0"), count(len(p.tables), "tabel", "0"),
                count(len(self.cases), "casus", "0")]),
            "",
            *coverage_section(self.book.path),
            "## Regelsets",
            "",
            '<div class="pz-rule-table" markdown>',
            "",
            "| Regelset | Regels | Bronnen |",
            "| --- | ---: | --- |",
        ]
        for rs in self._ruleset_order():
            rules = self.rules_by_set.get(rs, [])
            decl = p.rulesets.get(rs) if rs is not None else None
            sources = "<br>".join(md(s.title) for s in decl.sources) if decl is not None else ""
            name = f"<br>{ident(rs)}" if rs is not None else ""
            body.append(f"| [{md(self.ruleset_title(rs))}{name}]({self.ruleset_page(rs)}) | {len(rules)} | "
                        f"{sources or '—'} |")
        body += ["", "</div>"]
        body += ["", "## Uitvoer", "", "Wat het regelboek voor een casus beslist.", "",
                 "| Uitvoer | Type | Omschrijving | Regels |", "| --- | --- | --- | ---: |"]
        for name in p.outputs:
            v = p.values[name]
            body.append(f"| [{ident(name)}]({self.value_page(name)}) | {md(type_text(v.type))} | "
                        f"{md(v.description or '')} | {len(v.rules)} |")
        derived = [v for v in p.values.values() if not v.is_output]
        if derived:
            body += ["", "## Afgeleide waarden", "", "Tussenwaarden die regels gebruiken.", "",
                     "| Waarde | Type | Omschrijving | Bepaald door |", "| --- | --- | --- | --- |"]
            for v in derived:
                how = "de definitie" if v.definition is not None else count(len(v.rules), "regel")
                body.append(f"| [{ident(v.name)}]({self.value_page(v.name)}) | {md(type_text(v.type))} | "
                            f"{md(v.description or '')} | {how} |")
        if p.parameters:
            body += ["", "## Parameters", "", "Bedragen en getallen die per periode gelden.", "",
                     "| Parameter | Type | Omschrijving | Perioden |", "| --- | --- | --- | ---: |"]
            for prm in p.parameters.values():
                body.append(f"| [{ident(prm.name)}](parameters/{prm.name}.md) | {md(type_text(prm.type))} | "
                            f"{md(prm.description or '')} | {len(prm.periods)} |")
        if p.tables:
            body += ["", "## Tabellen", "", "| Tabel | Omschrijving | Bestand | Rijen |", "| --- | --- | --- | ---: |"]
            for t in p.tables.values():
                body.append(f"| [{ident(t.name)}](tabellen/{t.name}.md) | {md(t.description or '')} | `{t.file}` | "
                            f"{_row_count(t)} |")
        if self.scenarios:
            body += ["", "## Scenario's", "",
                     "Voorstellen en plannen, geen geldend recht: een beslissing gebruikt een scenario alleen als "
                     "erom wordt gevraagd. Zie het [overzicht](scenarios/index.md).", "",
                     "| Scenario | Titel | Wijzigingen |", "| --- | --- | ---: |"]
            for s in self.scenarios:
                sc = s.scenario
                assert sc is not None
                body.append(f"| [{ident(sc.name)}]({scenario_page(sc.name)}) | {md(sc.title or '')} | {len(sc.changes)} |")
        body += ["", "## Invoer en casussen", "",
                 f"- [Invoer](invoer.md): {count(len(p.inputs), 'gegeven')} die een casus kan bevatten.",
                 f"- [Casussen](casussen/index.md): {count(len(self.cases), 'voorbeeldcasus')}, doorgerekend met "
                 f"dit regelboek."]
        self.put(here, "Catalogus van de regels", body)

    def ruleset(self, rs: str | None) -> None:
        here = self.ruleset_page(rs)
        decl = self.p.rulesets.get(rs) if rs is not None else None
        rules = self.rules_by_set.get(rs, [])
        body: list[str] = []
        if rs is not None:
            body.append(f"Regelset `{rs}` · {count(len(rules), 'regel')}")
        else:
            body.append("Regels uit bestanden zonder regelset.")
        if decl is not None and decl.sources:
            body += ["", "## Bronnen", ""]
            for s in decl.sources:
                title = md(s.title)
                body.append(f"- `{s.name}`: " + (f"[{title}]({s.url})" if s.url else title))
        targets = sorted({r.target for r in rules}, key=lambda t: list(self.p.values).index(t))
        if targets:
            verb = "Deze regel bepaalt " if len(rules) == 1 else "Deze regels bepalen "
            body += ["", verb + DutchRenderer.enumerate(
                [f"[`{t}`]({self.rel(self.value_page(t), here)})" for t in targets], "en") + "."]
        body += ["", "## Regels"]
        for r in rules:
            body += [""] + self.rule_section(r, here)
        if not rules:
            body += ["", "Deze regelset bevat geen regels."]
        self.put(here, self.ruleset_title(rs), body)

    def rule_section(self, r: CheckedRule, here: str) -> list[str]:
        dutch = self.renderer(here)
        title = md(r.title) if r.title else f"Regel {md(r.name)}"
        file = Path(r.span.file).name
        lines = [f"### {title} {{#regel-{r.name}}}", "", f"`{r.name}` · {md(file)}, regelnummer {r.span.line}", ""]
        target = f"[`{r.target}`]({self.rel(self.value_page(r.target), here)})"
        outcome = f"is {target} **{dutch.value(r.value)}**."
        if r.when is None:
            lines.append(f"**Zonder voorwaarde** {outcome}")
        else:
            cond = dutch.condition_block(r.when)
            if "\n" in cond:
                lines += [f"**Als** {cond}", "", f"**Dan** {outcome}"]
            else:
                lines.append(f"**Als** {cond},  \n**dan** {outcome}")
        if r.because:
            lines += ["", f"**Omdat:** {md(r.because)}"]
        lines.append("")
        lines.append(f"- **Geldig:** {validity_text(r.valid_from, r.valid_until)}")
        touched = self.touched_by(r.name, here)
        if touched:
            lines.append(f"- **In scenario's (geen geldend recht):** {touched}")
        if r.sources:
            for s in r.sources:
                lines.append(f"- **Bron:** {source_md(s)}")
        else:
            lines.append("- **Bron:** geen bron opgegeven")
        if r.exception_to:
            lines.append("- **Uitzondering op:** " + DutchRenderer.enumerate(
                [self.rule_ref_md(x, here) for x in r.exception_to], "en")
                + " (deze regel gaat voor als beide van toepassing zijn)")
        kids = self.p.exceptions.get(r.name, ())
        if kids:
            lines.append("- **Uitzonderingen hierop:** " + DutchRenderer.enumerate(
                [self.rule_ref_md(x, here) for x in kids], "en"))
        cases = self.cases_of_rule.get(r.name, [])
        if cases:
            links = [self.case_link(c, here) for c in cases[:MAX_CASES_INLINE]]
            more = len(cases) - MAX_CASES_INLINE
            if more > 0:
                shown = ", ".join(links) + f" en nog {more} (zie [Casussen]({self.rel('casussen/index.md', here)}))"
            else:
                shown = DutchRenderer.enumerate(links, "en")
            lines.append(f"- **Casussen waarin deze regel beslist:** {shown}")
        else:
            lines.append("- **Casussen waarin deze regel beslist:** geen")
        text = self.rule_text(r)
        if text:
            lines += ["", '??? note "Regeltekst"', "", "    ```pz"]
            lines += [f"    {line}".rstrip() for line in text.splitlines()]
            lines += ["    ```"]
        return lines

    def touched_by(self, rule: str, here: str) -> str:
        """The scenarios that switch this rule off or make an exception to it, as links."""
        out = []
        for s in self.scenarios:
            sc = s.scenario
            assert sc is not None
            link = f"[{md(sc.name)}]({self.rel(scenario_page(sc.name), here)})"
            off = sc.switched_off.get(rule)
            if off is not None:
                out.append(f"{link} schakelt haar uit" + (f" vanaf {dutch_date(off.start)}" if off.start else ""))
            kids = [c.name for c in sc.changes if c.kind == "rule" and rule in c.exception_to]
            if kids:
                out.append(f"{link} maakt er een uitzondering op ({', '.join(f'`{k}`' for k in kids)})")
        return "; ".join(out)

    def rule_text(self, r: CheckedRule) -> str | None:
        """The rule as written in its file."""
        shown = Path(r.span.file).as_posix()
        data = None
        for key, content in self.p.files.items():
            k = Path(key).as_posix()
            if shown == k or shown.endswith("/" + k):
                data = content
                break
        if data is None:
            try:
                data = Path(r.span.file).read_bytes()
            except OSError:
                return None
        lines = data.decode("utf-8", errors="replace").splitlines()
        end = r.span.end_line or r.span.line
        return "\n".join(lines[r.span.line - 1:end]).rstrip()

    def value(self, name: str) -> None:
        v = self.p.values[name]
        here = self.value_page(name)
        dutch = self.renderer(here)
        kind = "Uitvoer" if v.is_output else "Afgeleide waarde"
        body = []
        body.append(f"- **{kind}:** `{name}`")
        body.append(f"- **Type:** {md(type_text(v.type))}")
        if v.default is not None:
            body.append(f"- **Standaard:** {dutch.value(v.default)}, als geen regel van toepassing is")
        elif v.definition is None:
            body.append("- **Standaard:** geen; als geen regel van toepassing is, is de uitkomst onbepaald")
        if v.definition is not None:
            body += ["", "## Definitie", "", f"`{name}` is {dutch.value(v.definition)}."]
            if v.sources:
                body += [""] + [f"- **Bron:** {source_md(s)}" for s in v.sources]
        if v.rules:
            body += ["", "## Regels", "",
                     "Elke regel hieronder kan deze waarde bepalen. Een uitzondering gaat voor op de regel waarop "
                     "zij een uitzondering is, als beide van toepassing zijn. Twee regels die niet via een "
                     "uitzondering verbonden zijn en verschillende waarden geven, leveren een conflict op.", ""]
            body += self.exception_diagram(v)
            body += ["", '<div class="pz-rule-table" markdown>', "",
                     "| Regel | Uitkomst | Geldig | Bron |", "| --- | --- | --- | --- |"]
            for rname in v.rules:
                r = self.p.rules[rname]
                sources = "; ".join(source_md(s) for s in r.sources) or "—"
                rule = self.rule_cell_md(rname, here)
                if r.exception_to:
                    rule += "<br>uitzondering op " + DutchRenderer.enumerate(
                        [f"[{ident(x)}]({self.rule_link(x, here)})" for x in r.exception_to], "en")
                valid = validity_text(r.valid_from, r.valid_until) if r.valid_from or r.valid_until else "altijd"
                body.append(f"| {rule} | {dutch.value(r.value)} | {valid} | {sources} |")
            body += ["", "</div>"]
        elif v.definition is None:
            body += ["", "Geen regel bepaalt deze waarde."]
        users = self.users_md("value", name, here)
        if users:
            body += ["", "## Gebruikt door", ""] + users
        cases = [c for c in self.cases if c.decision is not None]
        if cases:
            rows = []
            for c in cases:
                assert c.decision is not None
                o = c.decision.outputs.get(name) or c.decision.derived.get(name)
                if o is None:
                    continue
                rule = self.rule_cell_md(o.rule.name, here) if o.rule is not None and o.rule.name in self.p.rules \
                    else "—"
                rows.append(f"| {self.case_link(c, here)} | {_outcome_text(o, v.type)} | {rule} |")
            if rows:
                table = ["| Casus | Uitkomst | Regel |", "| --- | --- | --- |", *rows]
                body += ["", "## In de casussen", ""]
                if len(rows) > MAX_CASES_INLINE:  # a long list folds away
                    body += [f'??? example "De uitkomst in {count(len(rows), "casus")}"', ""]
                    body += [f"    {line}" for line in table]
                else:
                    body += table
        self.put(here, title_from(v.description, f"{kind} {name}"), body, wide=True)

    def exception_diagram(self, v: ValueDecl) -> list[str]:
        """The rules of a value as a mermaid tree: the value, its root rules, and their exceptions next to them.

        Every box holds its whole text (mermaid wraps it; nothing is cut short). A tree with more than two rules
        side by side at some level is drawn from left to right, so that it grows down the page, not past it.
        """
        ids = {r: f"r{i}" for i, r in enumerate(v.rules)}
        direction = "LR" if _widest_level(v, self.p.exceptions) > 2 else "TB"
        lines = ["```mermaid", f"flowchart {direction}"]
        lines.append(f'    out(["{_mermaid_text(v.name)}"])')
        for rname in v.rules:
            r = self.p.rules[rname]
            label = "<b>" + _mermaid_text(rname).replace("_", "_<wbr>") + "</b>"  # a long name wraps too
            if r.title:
                label += "<br/>" + _mermaid_text(r.title)
            lines.append(f'    {ids[rname]}["{label}"]')
        for root in v.roots:
            lines.append(f"    out --> {ids[root]}")
        for rname in v.rules:
            for kid in self.p.exceptions.get(rname, ()):
                if kid in ids:
                    lines.append(f"    {ids[rname]} -->|uitzondering| {ids[kid]}")
        if v.default is not None:
            default = re.sub(r"<[^>]+>", "", DutchRenderer(self.p).value(v.default)).replace("\\", "")
            lines.append(f'    out -.->|standaard| dflt("{_mermaid_text(default)}")')
        lines.append("```")
        lines += ["", "Een pijl *uitzondering* van regel A naar regel B betekent: B is een uitzondering op A en "
                  "gaat voor als beide van toepassing zijn."]
        return lines

    def parameter(self, name: str) -> None:
        prm = self.p.parameters[name]
        here = f"parameters/{name}.md"
        body = [f"- **Parameter:** `{name}`", f"- **Type:** {md(type_text(prm.type))}", "",
                 "## Waarden", "", "Op de peildatum van een casus geldt de waarde van de periode waarin die datum valt. "
                 "Valt de datum in geen enkele periode, of is de waarde onbekend, dan kan wat ervan afhangt niet "
                 "worden bepaald.", "",
                 "| Vanaf | Tot en met | Waarde | Bron |", "| --- | --- | --- | --- |"]
        for p in prm.periods:
            value = _show_param(p.value, prm.type) if p.value is not None else "*onbekend*"
            src = source_md(p.source) if p.source is not None else "—"
            body.append(f"| {dutch_date(p.start)} | {dutch_date(p.end) if p.end else '—'} | {value} | {src} |")
        chart = parameter_chart(prm)
        if chart is not None:
            body += ["", "## Verloop", "", '<div class="pz-chart-box">', chart, "</div>"]
        users = self.users_md("param", name, here)
        if users:
            body += ["", "## Gebruikt door", ""] + users
        self.put(here, title_from(prm.description, f"Parameter {name}"), body)

    def table(self, name: str) -> None:
        t = self.p.tables[name]
        here = f"tabellen/{name}.md"
        body = [f"- **Tabel:** `{name}`", f"- **Bestand:** `{t.file}`",
                f"- **Sleutel:** {DutchRenderer.enumerate([f'`{k}`' for k in t.keys], 'en')}",
                f"- **Rijen:** {_row_count(t)}"]
        if t.dated:
            body.append("- **Gedateerd:** elke rij geldt in een eigen periode; een casus leest de rij die op de "
                        "peildatum geldt")
        if t.source is not None:
            body.append(f"- **Bron:** {source_md(t.source)}" + (" (elke rij)" if t.source_column is None else ""))
        if t.source_column is not None:
            body.append(f"- **Bron per rij:** kolom `{md(t.source_column)}`")
        body += ["", "## Kolommen", "", "| Kolom | Type | Sleutel |", "| --- | --- | --- |"]
        for col, typ in t.columns.items():
            body.append(f"| {ident(col)} | {md(type_text(typ))} | {'ja' if col in t.keys else ''} |")
        rows = sorted((row for group in t.rows.values() for row in group), key=lambda row: row.line)
        if rows:
            cols = list(t.columns)
            shown = rows[:MAX_TABLE_ROWS]
            intro = f"De eerste {len(shown)} van de {len(rows)} rijen" if len(rows) > len(shown) else \
                ("De rij" if len(rows) == 1 else "Alle rijen")
            cited = t.source_column is not None
            head = [ident(c) for c in cols] + (["Geldig"] if t.dated else []) + (["Bron"] if cited else [])
            body += ["", "## Rijen", "", f"{intro}, in de volgorde van het bestand. Een lege cel is een onbekende "
                     "waarde: wat ervan afhangt, kan niet worden bepaald." if any(
                         row.values.get(c) is None for row in shown for c in cols) else
                     f"{intro}, in de volgorde van het bestand.", "",
                     "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
            for row in shown:
                cells = [_cell(row.values.get(c), t.columns[c]) for c in cols]
                if t.dated:
                    cells.append(validity_text(row.valid_from, row.valid_until))
                if cited:
                    cells.append(source_md(row.source) if row.source is not None else "—")
                body.append("| " + " | ".join(cells) + " |")
        users = self.users_md("table", name, here)
        if users:
            body += ["", "## Gebruikt door", ""] + users
        self.put(here, title_from(t.description, f"Tabel {name}"), body, wide=True)

    def inputs(self) -> None:
        here = "invoer.md"
        body = ["De gegevens die een casus kan bevatten. Een casus mag gegevens weglaten; een voorwaarde die een "
                "ontbrekend gegeven nodig heeft, is dan onbekend en de uitkomst die ervan afhangt is onbepaald.", ""]
        if self.p.peildatum:
            body += [f"De peildatum is `{self.p.peildatum}`: op die datum worden regels, parameters en tabellen "
                     "gelezen.", ""]
        body += ["| Invoer | Type | Omschrijving | Gebruikt door |", "| --- | --- | --- | --- |"]
        for name, decl in self.p.inputs.items():
            users = self.readers.get(("input", name), [])
            shown = ", ".join(f"[{ident(u)}]({self.rule_link(u, here)})" if not u.startswith("=") else
                              f"[{ident(u[1:])}]({self.value_page(u[1:])})" for u in users)
            body.append(f"| {ident(name)} | {md(type_text(decl.type))} | {md(decl.description or '')} | {shown} |")
        self.put(here, "Invoer", body)

    def case_index(self) -> None:
        here = "casussen/index.md"
        body = ["Voorbeeldcasussen uit de map met casussen, doorgerekend met dit regelboek. In een casus beslist een "
                "regel als die regel een waarde van de beslissing bepaalt.", ""]
        if not self.cases:
            body.append("Er zijn geen casussen.")
        else:
            body += ["| Casus | Bestand | Peildatum | Verwachting | Beslissende regels |",
                     "| --- | --- | --- | --- | ---: |"]
            for c in self.cases:
                day = dutch_date(c.decision.peildatum) if c.decision is not None else "—"
                body.append(f"| {self.case_link(c, here)} | `{c.shown}` | {day} | {_expect_text(c)} | "
                            f"{len(c.rules)} |")
        self.put(here, "Casussen", body)

    def case(self, c: CaseResult) -> None:
        here = f"casussen/{c.slug}.md"
        body = ["[← Alle casussen](index.md)", "", f"Bestand: `{c.shown}`", ""]
        if c.case is not None and c.case.description:
            body += [md(c.case.description), ""]
        if c.error is not None:
            body += ['!!! failure "Deze casus kan niet worden doorgerekend"', "", f"    {md(c.error)}", ""]
        d = c.decision
        if d is not None:
            body += [f"Peildatum: **{dutch_date(d.peildatum)}**", "", f"Verwachting: {_expect_text(c)}", ""]
            if c.problems:
                body += ['!!! warning "De uitkomst wijkt af van de verwachting"', "", "    ```text"]
                body += [f"    {line}" for p in c.problems for line in p.splitlines()]
                body += ["    ```", ""]
            body += ["## Beslissing", "", '<div class="pz-decision" markdown>', "",
                     "| Uitvoer | Uitkomst | Regel | Bron |", "| --- | --- | --- | --- |"]
            for name, o in d.outputs.items():
                decl = self.p.values[name]
                rule = self.rule_cell_md(o.rule.name, here) if o.rule is not None and o.rule.name in self.p.rules \
                    else "—"
                src = "; ".join(source_md(SourceInfo(s.id, s.title, s.detail, s.url)) for s in o.rule.sources) \
                    if o.rule is not None else "—"
                body.append(f"| [{ident(name)}]({self.rel(self.value_page(name), here)}) | {_outcome_text(o, decl.type)} "
                            f"| {rule} | {src or '—'} |")
            body += ["", "</div>"]
            overridden = [(name, ov) for name, o in [*d.outputs.items(), *d.derived.items()] for ov in o.overridden]
            if overridden:
                body += ["", "Uitzonderingen die voorgingen:", ""]
                for name, ov in overridden:
                    if ov.rule.name in self.p.rules and ov.by in self.p.rules:
                        body.append(f"- voor `{name}`: {self.rule_ref_md(ov.by, here)} gaat voor op "
                                    f"{self.rule_ref_md(ov.rule.name, here)}")
            if d.derived:
                body += ["", "## Tussenwaarden", "", "| Waarde | Uitkomst | Regel |", "| --- | --- | --- |"]
                for name, o in d.derived.items():
                    decl = self.p.values[name]
                    rule = self.rule_cell_md(o.rule.name, here) if o.rule is not None and \
                        o.rule.name in self.p.rules else ("de definitie" if decl.definition is not None else "—")
                    body.append(f"| [{ident(name)}]({self.rel(self.value_page(name), here)}) | "
                                f"{_outcome_text(o, decl.type)} | {rule} |")
        lang = "json" if c.path.suffix == ".json" else "yaml"
        body += ["", "## Het bestand", "", f"```{lang}", c.text.rstrip(), "```"]
        self.put(here, f"Casus: {c.title}", body, wide=True)


# ---------------------------------------------------------------- scenarios

CHANGE_WORDS = {"rule": "regel toegevoegd", "switch_off": "regel uitgeschakeld", "parameter": "parameter gewijzigd",
                "replace": "tabel vervangen", "add": "tabel aangevuld"}
DECLARED_WORDS = {"input": "invoer", "derived": "afgeleide waarde", "output": "uitvoer", "parameter": "parameter",
                  "table": "tabel"}
MARK_WORDS = {"rule": "regel {} van het scenario", "switch_off": "regel {} uitgeschakeld", "parameter": "parameter {}",
              "table": "tabel {}", "value": "via {}"}


def scenario_page(name: str) -> str:
    return f"scenarios/{name}.md"


class ScenarioPages:
    """A page per scenario: what it changes, against which rules in force, with its sources and cases.

    Links to what the rule book in force has go to its pages; what the scenario declares itself is shown on
    the scenario's page.
    """

    def __init__(self, cat: Catalogue) -> None:
        self.cat = cat
        self.base = cat.p

    def build(self) -> dict[str, str]:
        for book in self.cat.scenarios:
            self.page(book)
        self.index()
        return self.cat.pages

    def index(self) -> None:
        here = "scenarios/index.md"
        body = ["Een scenario is een voorstel, een plan of een experiment: een overlay op het regelboek, in eigen "
                "bestanden (`scenarios/<naam>/`). Het is **geen geldend recht**: een beslissing gebruikt een "
                "scenario alleen als erom wordt gevraagd (`passendezorg evaluate --scenario <naam>`), en zegt dan "
                "bovenaan onder welk scenario zij is genomen en welke uitkomsten een wijziging van het scenario "
                "bepaalde.", "", "| Scenario | Titel | Bronnen | Wijzigingen | Casussen |",
                "| --- | --- | --- | ---: | ---: |"]
        for book in self.cat.scenarios:
            sc = book.scenario
            assert sc is not None
            sources = "<br>".join(md(s.title) + (" (voorstel)" if s.proposal else "") for s in sc.sources)
            cases = len(list(iter_case_paths([Path(sc.folder) / "cases"]))) if (Path(sc.folder) / "cases").is_dir() \
                else 0
            body.append(f"| [{ident(sc.name)}]({self.cat.rel(scenario_page(sc.name), here)}) | {md(sc.title or '')} | "
                        f"{sources or '—'} | {len(sc.changes)} | {cases} |")
        self.cat.put(here, "Scenario's", body)

    def linker(self, book: RuleBook, here: str) -> Linker:
        base = self.cat.linker(here)
        own = {name: f"#{k}-{name}" for k, name in book.scenario.declared} if book.scenario is not None else {}

        def link(kind: str, name: str) -> str | None:
            return own.get(name) or base(kind, name)

        return link

    def rule_ref(self, book: RuleBook, name: str, here: str) -> str:
        sc = book.scenario
        assert sc is not None
        if name in sc.rules:
            r = book.program.rules[name]
            return f"[{md(r.title) if r.title else f'`{name}`'}](#regel-{name})"
        return self.cat.rule_ref_md(name, here)

    def page(self, book: RuleBook) -> None:
        sc = book.scenario
        assert sc is not None
        here = scenario_page(sc.name)
        p = book.program
        dutch = DutchRenderer(p, self.linker(book, here))
        body = ['!!! warning "Geen geldend recht"', "",
                f"    Dit scenario is een voorstel of plan. Een beslissing gebruikt het alleen als erom wordt "
                f"gevraagd: `passendezorg evaluate --scenario {sc.name} …`, `book.with_scenario(\"{sc.name}\")`.",
                "", f"Scenario `{sc.name}` · regelboek met dit scenario `{p.content_hash}` · "
                f"bestanden: {', '.join(f'`{Path(f).name}`' for f in sc.files)}"]
        if sc.sources:
            body += ["", "## Bronnen", ""]
            for s in sc.sources:
                body.append(f"- `{s.id}`: {source_md(s)}" + (" — **voorstel**" if s.proposal else ""))
        body += ["", "## Wat het verandert", "", "| Wijziging | Wat | Vanaf | Bron |", "| --- | --- | --- | --- |"]
        for c in sc.changes:
            if c.kind == "rule":
                what = self.rule_ref(book, c.name, here)
                if c.exception_to:
                    what += " — uitzondering op " + DutchRenderer.enumerate(
                        [self.cat.rule_ref_md(x, here) if x in self.base.rules else self.rule_ref(book, x, here)
                         for x in c.exception_to], "en")
            elif c.kind == "switch_off":
                what = self.cat.rule_ref_md(c.name, here)
            elif c.kind == "parameter":
                what = f"[`{c.name}`]({self.cat.rel(f'parameters/{c.name}.md', here)}) (zie [hieronder](#parameter-{c.name}))"
            else:
                what = f"[`{c.name}`]({self.cat.rel(f'tabellen/{c.name}.md', here)})" + \
                    (f", bestand `{c.file}`" if c.file else "")
            since = dutch_date(c.start) if c.start else "altijd"
            src = "; ".join(source_md(s) for s in c.sources) or "—"
            body.append(f"| {CHANGE_WORDS[c.kind]} | {what} | {since} | {src} |")
        if sc.declared:
            body += ["", "Het scenario voegt ook toe: " + DutchRenderer.enumerate(
                [f"{DECLARED_WORDS[k]} [`{name}`](#{k}-{name})" for k, name in sc.declared], "en") + "."]
        touched = self.touched(book, here)
        if touched:
            body += ["", "## Regels van het geldende recht die het raakt", ""] + touched
        own_rules = [r for r in p.rules.values() if r.name in sc.rules]
        if own_rules:
            body += ["", "## Regels van het scenario"]
            for r in own_rules:
                body += [""] + self.rule_section(book, r, dutch, here)
        body += self.values(book, dutch, here)
        body += self.cases(book, here)
        self.cat.put(here, f"Scenario: {sc.title or sc.name}", body, wide=True)

    def touched(self, book: RuleBook, here: str) -> list[str]:
        """The rules in force a scenario overrides, switches off, or whose changed parameters and tables they read."""
        sc = book.scenario
        assert sc is not None
        lines = []
        for c in sc.changes:
            if c.kind == "rule":
                for x in c.exception_to:
                    if x in self.base.rules:
                        lines.append(f"- {self.cat.rule_ref_md(x, here)}: de regel {self.rule_ref(book, c.name, here)}"
                                     " van het scenario gaat erop voor")
            elif c.kind == "switch_off":
                since = f" vanaf {dutch_date(c.start)}" if c.start else ""
                lines.append(f"- {self.cat.rule_ref_md(c.name, here)}: uitgeschakeld{since}")
            else:
                kind, word = ("param", "parameter") if c.kind == "parameter" else ("table", "tabel")
                for user in self.cat.readers.get((kind, c.name), []):
                    if not user.startswith("="):
                        lines.append(f"- {self.cat.rule_ref_md(user, here)}: leest {word} `{c.name}`, die het "
                                     "scenario wijzigt")
        return list(dict.fromkeys(lines))

    def rule_section(self, book: RuleBook, r: CheckedRule, dutch: DutchRenderer, here: str) -> list[str]:
        title = md(r.title) if r.title else f"Regel {md(r.name)}"
        lines = [f"### {title} {{#regel-{r.name}}}", "", f"`{r.name}` · {md(Path(r.span.file).name)}, "
                 f"regelnummer {r.span.line}", ""]
        target = dutch.link("value", r.target)
        target_md = f"[`{r.target}`]({target})" if target else f"`{r.target}`"
        outcome = f"is {target_md} **{dutch.value(r.value)}**."
        if r.when is None:
            lines.append(f"**Zonder voorwaarde** {outcome}")
        else:
            cond = dutch.condition_block(r.when)
            lines += [f"**Als** {cond}", "", f"**Dan** {outcome}"] if "\n" in cond else \
                [f"**Als** {cond},  \n**dan** {outcome}"]
        if r.because:
            lines += ["", f"**Omdat:** {md(r.because)}"]
        lines += ["", f"- **Geldig:** {validity_text(r.valid_from, r.valid_until)}"]
        lines += [f"- **Bron:** {source_md(s)}" + (" (voorstel)" if s.proposal else "") for s in r.sources] or \
            ["- **Bron:** geen bron opgegeven"]
        if r.exception_to:
            lines.append("- **Uitzondering op:** " + DutchRenderer.enumerate([
                self.cat.rule_ref_md(x, here) if x in self.base.rules else self.rule_ref(book, x, here)
                for x in r.exception_to], "en"))
        text = Catalogue(book, []).rule_text(r)
        if text:
            lines += ["", '??? note "Regeltekst"', "", "    ```pz"]
            lines += [f"    {line}".rstrip() for line in text.splitlines()]
            lines += ["    ```"]
        return lines

    def values(self, book: RuleBook, dutch: DutchRenderer, here: str) -> list[str]:
        """The parameters the scenario changes (its periods), and what it declares itself."""
        sc = book.scenario
        assert sc is not None
        p = book.program
        out: list[str] = []
        changed = [c.name for c in sc.changes if c.kind == "parameter"]
        own_params = [name for kind, name in sc.declared if kind == "parameter"]
        if changed or own_params:
            out += ["", "## Parameters"]
        for name in [*changed, *own_params]:
            prm = p.parameters[name]
            anchor = f"parameter-{name}"
            out += ["", f"### {md(name)} {{#{anchor}}}", ""]
            if name in changed:
                out += ["Met het scenario gelden deze waarden; de perioden met een bron van het scenario zijn zijn "
                        "wijziging, de andere komen uit het regelboek.", ""]
            elif prm.description:
                out += [f"> {md(prm.description)}", ""]
            out += ["| Vanaf | Tot en met | Waarde | Bron |", "| --- | --- | --- | --- |"]
            for per in prm.periods:
                value = _show_param(per.value, prm.type) if per.value is not None else "*onbekend*"
                src = source_md(per.source) if per.source is not None else "—"
                if name in changed and sc.sets_parameter(name, per.start):
                    value = f"**{value}**"
                out.append(f"| {dutch_date(per.start)} | {dutch_date(per.end) if per.end else '—'} | {value} | {src} |")
        own_tables = [name for kind, name in sc.declared if kind == "table"]
        changed_tables = list(dict.fromkeys(c.name for c in sc.changes if c.kind in ("replace", "add")))
        if own_tables or changed_tables:
            out += ["", "## Tabellen"]
        for name in [*changed_tables, *own_tables]:
            table = p.tables[name]
            out += ["", f"### {md(name)} {{#table-{name}}}", ""]
            if table.description:
                out += [f"> {md(table.description)}", ""]
            rows = sorted((r for group in table.rows.values() for r in group), key=lambda r: (not r.scenario, r.line))
            rows = [r for r in rows if r.scenario or name in own_tables]
            if not rows:
                out.append("De tabel van het scenario heeft geen rijen.")
                continue
            cols = list(table.columns)
            shown = rows[:MAX_TABLE_ROWS]
            intro = f"De eerste {len(shown)} van de {len(rows)} rijen" if len(rows) > len(shown) else \
                ("De rij" if len(rows) == 1 else "De rijen")
            out += [f"{intro} van het scenario"
                    + (", met de periode waarin elke rij geldt" if table.dated else "") + ".", "",
                    "| " + " | ".join(ident(c) for c in cols) + (" | Geldig |" if table.dated else " |"),
                    "|" + " --- |" * (len(cols) + (1 if table.dated else 0))]
            for row in shown:
                cells = [_cell(row.values.get(c), table.columns[c]) for c in cols]
                if table.dated:
                    cells.append(validity_text(row.valid_from, row.valid_until))
                out.append("| " + " | ".join(cells) + " |")
        own_values = [(k, name) for k, name in sc.declared if k in ("input", "derived", "output")]
        if own_values:
            out += ["", "## Nieuwe invoer en waarden", "", "| Naam | Soort | Type | Omschrijving |",
                    "| --- | --- | --- | --- |"]
            for kind, name in own_values:
                decl: Any = p.inputs[name] if kind == "input" else p.values[name]
                out.append(f"| <span id=\"{kind}-{name}\"></span>`{name}` | {DECLARED_WORDS[kind]} | "
                           f"{md(type_text(decl.type))} | {md(decl.description or '')} |")
        return out

    def cases(self, book: RuleBook, here: str) -> list[str]:
        sc = book.scenario
        assert sc is not None
        folder = Path(sc.folder) / "cases"
        results = evaluate_cases(book, folder) if folder.is_dir() else []
        out = ["", "## Casussen", ""]
        if not results:
            return out + ["Dit scenario heeft geen casussen."]
        out += [f"De casussen in `scenarios/{sc.name}/cases/`, doorgerekend onder het scenario "
                f"(`passendezorg test --scenario {sc.name}`). De laatste kolom noemt de uitkomsten die een "
                "wijziging van het scenario bepaalde.", "",
                "| Casus | Peildatum | Verwachting | Door het scenario bepaald |", "| --- | --- | --- | --- |"]
        for c in results:
            day = dutch_date(c.decision.peildatum) if c.decision is not None else "—"
            marked = []
            if c.decision is not None:
                for name, o in c.decision.outputs.items():
                    if o.scenario_changes:
                        decl = book.program.values[name]
                        why = ", ".join(MARK_WORDS[m.kind].format(m.name) for m in o.scenario_changes)
                        marked.append(f"`{name}` = {_outcome_text(o, decl.type)} ({md(why)})")
            out.append(f"| {md(c.title)}<br>`{c.shown}` | {day} | {_expect_text(c)} | "
                       f"{'<br>'.join(marked) or '—'} |")
        return out


# ---------------------------------------------------------------- helpers for pages


def refs(e: n.Expr) -> Iterable[tuple[str, str]]:
    """Every name an expression reads: (kind, name) with kind input, value, param or table."""
    if isinstance(e, n.Ref):
        yield (e.kind, e.name)
    elif isinstance(e, n.Lookup):
        yield ("table", e.table)
    for child in n.children(e):
        yield from refs(child)


def _row_count(t: Table) -> int:
    return sum(len(rows) for rows in t.rows.values())


def _cell(v: Any, t: n.TypeRef) -> str:
    if v is None:
        return "*onbekend*"
    return _show_param(v, t)


def _show_param(v: Any, t: n.TypeRef) -> str:
    if t.kind == "money":
        return dutch_money(Decimal(v))
    if t.kind == "boolean":
        return "ja" if v else "nee"
    if t.kind == "date":
        return dutch_date(v)
    if t.kind in ("integer", "decimal") and not isinstance(v, bool):
        return dutch_number(v)
    if isinstance(v, list):
        return ", ".join(md(str(x)) for x in v)
    return md(str(v))


def _outcome_text(o: Any, t: n.TypeRef) -> str:
    """The outcome of a value in a decision, in Dutch: the value (bold), or why there is none."""
    if o.status in ("value", "default"):
        if o.value is None:
            shown = "geen waarde"
        elif o.value == "" and t.kind == "text":
            shown = "een lege tekst"
        else:
            shown = f"**{_show_param(o.value, t)}**"
        return shown + (" (standaard)" if o.status == "default" else "")
    if o.status == "undetermined":
        if not o.needs:
            return "onbepaald"
        verb = "is" if len(o.needs) == 1 else "zijn"
        return f"onbepaald: nodig {verb} " + DutchRenderer.enumerate([ident(x) for x in o.needs], "en")
    if o.status == "conflict":
        return "conflict tussen " + DutchRenderer.enumerate([ident(c.rule.name) for c in o.conflict], "en")
    return f"kan niet worden bepaald: {_reason_md(with_dates(reason_text(o.reason or '', 'nederlands'), 'nederlands'))}"


def _reason_md(text: str) -> str:
    """A reason as Markdown: its `names` as names (that may break in a narrow column), the rest as text."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: no names to find
        return md(text)
    return "".join(ident(part) if k % 2 else md(part) for k, part in enumerate(parts))


def _expect_text(c: CaseResult) -> str:
    if c.error is not None:
        return "kan niet worden doorgerekend"
    if c.problems is None:
        return "niet opgegeven"
    return "klopt" if not c.problems else count(len(c.problems), "afwijking")


def _mermaid_text(text: str) -> str:
    return (text.replace("&", "#amp;").replace("#", "#35;").replace("#35;amp;", "#amp;").replace('"', "#quot;")
            .replace("<", "#lt;").replace(">", "#gt;"))


def _widest_level(v: ValueDecl, exceptions: Mapping[str, Sequence[str]]) -> int:
    """The most rules side by side in the exception tree of a value (its roots, their exceptions, …)."""
    ids = set(v.rules)
    level: list[str] = list(v.roots)
    seen: set[str] = set()
    widest = 0
    while level:
        widest = max(widest, len(level))
        seen.update(level)
        level = [k for r in level for k in exceptions.get(r, ()) if k in ids and k not in seen]
    return widest


# ---------------------------------------------------------------- entry


def generate_catalogue(book: RuleBook, cases_dir: Path | None, out: Path) -> list[Path]:
    """Write the catalogue for ``book`` (and the cases under ``cases_dir``) into ``out``; return the pages written.

    Pages left from an earlier run are removed first; a file in ``out`` that the
    catalogue did not write is left alone.
    """
    pages, nav = catalogue_pages(book, cases_dir)
    _clear(out)
    written = []
    for rel, text in sorted(pages.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    (out / NAV_FILE).write_text(json.dumps(nav, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return written


def catalogue_pages(book: RuleBook, cases_dir: Path | None) -> tuple[dict[str, str], list[Any]]:
    """The catalogue for ``book`` in memory: (page path relative to the catalogue -> Markdown, navigation).

    The navigation is a list in the form of mkdocs' ``nav``, with paths relative to the catalogue. The
    scenarios of the rule book (``book.scenarios()``) each get a page, with their own cases.
    """
    cases = evaluate_cases(book, cases_dir) if cases_dir is not None and cases_dir.is_dir() else []
    scenarios = [book.with_scenario(s.name) for s in book.scenarios()] if book.scenario is None else []
    cat = Catalogue(book, cases, scenarios)
    pages = cat.build()
    if scenarios:
        ScenarioPages(cat).build()
    return pages, cat.nav()


def _clear(out: Path) -> None:
    if not out.exists():
        return
    for path in sorted(out.rglob("*.md")):
        try:
            head = path.read_text(encoding="utf-8").split("\n", 12)[:12]  # the marker follows the metadata
        except (OSError, UnicodeDecodeError):
            continue
        if MARKER in head:
            path.unlink()
    nav = out / NAV_FILE
    if nav.exists():
        nav.unlink()
    for d in sorted((p for p in out.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(d.iterdir()):
            shutil.rmtree(d)


def catalogue_nav(out: Path) -> list[Any]:
    """The navigation written with the catalogue in ``out`` (for the mkdocs hook)."""
    data: list[Any] = json.loads((out / NAV_FILE).read_text(encoding="utf-8"))
    return data


__all__ = ["DutchRenderer", "generate_catalogue", "catalogue_pages", "catalogue_nav", "parameter_chart", "evaluate_cases"]
