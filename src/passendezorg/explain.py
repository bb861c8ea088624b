"""Renderers for decisions: text for people (in the rule book's language), and why-not.

The text of a decision leads with its answers, then gives for each the chain that decided it: the
rule, and below the facts that rule used, the rule behind every derived value among them, down to
the case's own facts. Outputs that took their default share one line unless ``verbose``. With the
rule book at hand, a fact reads by its description and values by their type (``display``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import click

from . import display
from . import nodes as n
from .engines.interpreter import Evaluation
from .engines.semantics import Outcome
from .format import Formatter
from .model import Decision, OutputDecision, Overridden, Source, WhyNotKind, WhyNotReason
from .program import CheckedRule, Program
from .values import Fail, Unknown, to_json

LABELS = {
    "english": {
        "decision": "Decision", "case": "case", "on": "peildatum", "rulebook": "rule book",
        "rule": "rule", "Rule": "Rule", "source": "source", "because": "because", "facts": "based on",
        "and": "and", "overrides": "takes precedence over", "override": "take precedence over",
        "default": "no rule applies: the default", "defaults": "no rule applies, the default",
        "undetermined": "undetermined", "needs": "to decide, I need", "conflict": "CONFLICT",
        "error": "cannot be computed", "derived": "values used", "why": "Why",
        "also": "also decided by", "scenario": "under scenario", "above": "see above", "below": "see below",
        "not_law": "not the law in force", "changed": "decided by the scenario",
        "switch_off": "rule {} switched off", "k_rule": "rule {} of the scenario",
        "k_parameter": "parameter {}", "k_table": "table {}", "k_value": "via {}", "per": "per record of",
    },
    "nederlands": {
        "decision": "Beslissing", "case": "casus", "on": "peildatum", "rulebook": "regelboek",
        "rule": "regel", "Rule": "Regel", "source": "bron", "because": "omdat", "facts": "op grond van",
        "and": "en", "overrides": "gaat voor", "override": "gaan voor",
        "default": "geen regel van toepassing: de standaard", "defaults": "geen regel van toepassing, de standaard",
        "undetermined": "onbepaald", "needs": "om te beslissen is nodig", "conflict": "CONFLICT",
        "error": "kan niet worden bepaald", "derived": "gebruikte waarden", "why": "Waarom",
        "also": "ook besloten door", "scenario": "onder scenario", "above": "zie boven", "below": "zie onder",
        "not_law": "niet het geldende recht", "changed": "door het scenario",
        "switch_off": "regel {} uitgeschakeld", "k_rule": "regel {} van het scenario",
        "k_parameter": "parameter {}", "k_table": "tabel {}", "k_value": "via {}", "per": "per record van",
    },
}
STEP = "  "
_LOOKUP = re.compile(r"^(?P<table>\w+)\[.*\]\.(?P<column>\w+)$")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def description_lead(text: str) -> str:
    """The lead of a description: up to its first `;` or sentence end outside parentheses (a question keeps `?`).

    Descriptions in a rule book often go on with notes (``…; mag ontbreken``); a decision names a fact
    by what it is, and the catalogue keeps the whole text.
    """
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and ch == ";":
            return _without_note(text[:i].rstrip())
        elif depth == 0 and ch in ".?!" and re.match(r" +[A-Z(]", text[i + 1:]):
            return _without_note(text[:i + 1] if ch == "?" else text[:i])
    return _without_note(text.rstrip("."))


def _without_note(text: str) -> str:
    """``Soort zorg (huisartsenzorg omvat …)`` -> ``Soort zorg``: a closing parenthesis is a note, not the name."""
    if text.endswith(")"):
        depth = 0
        for i in range(len(text) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(text[i], 0)
            if depth == 0:
                head = text[:i].rstrip()
                return head if head else text
    return text


class Names:
    """What the rule book says about a name in a decision: how it reads and of which type its value is."""

    def __init__(self, program: Program | None, language: str) -> None:
        self.program = program
        self.language = language

    def kind(self, name: str) -> str:
        """The type of a fact or value (``money``, ``date``, …), the items' type for a list; ``""`` if unknown."""
        p = self.program
        if p is None:
            return ""
        t: n.TypeRef | None = None
        if name in p.inputs:
            t = p.inputs[name].type
        elif name in p.values:
            t = p.values[name].type
        elif name in p.parameters:
            t = p.parameters[name].type
        else:
            m = _LOOKUP.match(name)
            table = p.tables.get(m.group("table")) if m else None
            if m and table is not None:
                t = table.columns.get(m.group("column"))
        while t is not None and t.kind == "list":
            t = t.item
        return t.kind if t is not None else ""

    def description(self, name: str) -> str | None:
        p = self.program
        if p is None:
            return None
        for where in (p.inputs, p.values, p.parameters):
            decl = where.get(name)
            if decl is not None:
                return decl.description
        return None

    def label(self, name: str) -> str:
        """``Leeftijd van de verzekerde (leeftijd)`` where the rule book describes the name, else the name."""
        text = self.description(name)
        return f"{description_lead(text)} ({name})" if text else name

    def value(self, name: str, v: Any, declared: str | None = None) -> str:
        """``v`` as people read it; ``declared``: the type a decision names (``list of money``) when the rule
        book does not know the name."""
        kind = self.kind(name) or (declared or "").rsplit("list of ", 1)[-1]
        return display.value(v, kind, self.language)

    def fact(self, name: str, v: Any) -> str:
        return f"{self.label(name)} = {self.value(name, v)}"


def with_dates(text: str, language: str) -> str:
    """The ISO dates in an engine's reason written out (``2024-06-01`` -> ``1 juni 2024``)."""
    def one(m: re.Match[str]) -> str:
        import datetime as dt

        try:
            return display.date(dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))), language)
        except ValueError:
            return m.group(0)

    return _ISO_DATE.sub(one, text)


Style = Callable[..., str]


def render_decision(d: Decision, language: str | None = None, color: bool = False, verbose: bool = False,
                    program: Program | None = None) -> str:
    """A decision as text: the answers first, then why each; ``program``: the rule book that made it.

    Without ``program`` (a stored decision whose rule book is gone) facts read by their names and
    values by their JSON type.
    """
    lang = language or (program.language if program is not None else "english")
    return _Renderer(d, lang, color, verbose, program).text()


class _Renderer:
    def __init__(self, d: Decision, language: str, color: bool, verbose: bool, program: Program | None) -> None:
        self.d = d
        self.language = language
        self.lab = LABELS[language]
        self.color = color
        self.verbose = verbose
        self.program = program
        self.names = Names(program, language)
        self.current = ""  # the answer whose chain is being written
        self.explained: set[str] = set()  # the derived values whose chain is written: later ones refer to it

    def style(self, text: str, **kw: Any) -> str:
        return str(click.style(text, **kw)) if self.color else text

    def summarised(self, o: OutputDecision) -> bool:
        """An output shown only in the one line of defaults: it took its default, and no scenario change did that."""
        return not self.verbose and o.status == "default" and not o.scenario_changes

    def text(self) -> str:
        d, lab = self.d, self.lab
        head = lab["decision"] + (f" — {lab['case']} {d.case}" if d.case else "")
        out = [self.style(head, bold=True)]
        if d.scenario is not None:
            title = f" — {d.scenario.title}" if d.scenario.title else ""
            out.append(self.style(f"{lab['scenario']} {d.scenario.name}{title} ({lab['not_law']})",
                                  fg="magenta", bold=True))
        out.append(f"{lab['on']} {display.date(d.peildatum, self.language)} · {lab['rulebook']} {d.rulebook[:19]}…")
        out.append("")
        shown = [name for name, o in d.outputs.items() if not self.summarised(o)]
        out.extend(self.answer(name, d.outputs[name]) for name in shown)
        defaults = [f"{name} = {self.names.value(name, o.value, o.type)}"
                    for name, o in d.outputs.items() if self.summarised(o)]
        if defaults:
            out.append(f"{lab['defaults']}: " + ", ".join(defaults))
        if shown:
            out += ["", self.style(lab["why"], bold=True)]
        for name in shown:
            out.append("")
            out.extend(self.output(name, d.outputs[name], shown))
        if self.verbose and d.derived:
            out += ["", self.style(lab["derived"], bold=True)]
            for name, o in d.derived.items():
                out.extend(STEP + line for line in self.output(name, o, shown, set(d.derived)))
        return "\n".join(out)

    def answer(self, name: str, o: OutputDecision) -> str:
        lab = self.lab
        if o.records is not None:  # a value per record: the values of the records as a list
            head = f"{self.style(name, bold=True)} ({lab['per']} {o.per})"
            if o.status == "value":
                listed = "[" + ", ".join(self.names.value(name, v, o.type) for v in o.value or []) + "]"
                return f"{head} = {self.style(listed, fg='green', bold=True)}"
            word, colour = {"undetermined": ("undetermined", "yellow"), "conflict": ("conflict", "red")}.get(
                o.status, ("error", "red"))
            return f"{head}: {self.style(lab[word], fg=colour, bold=True)}"
        if o.status in ("value", "default"):
            value = self.names.value(name, o.value, o.type)
            return f"{self.style(name, bold=True)} = {self.style(value, fg='green', bold=True)}"
        word, colour = {"undetermined": ("undetermined", "yellow"), "conflict": ("conflict", "red")}.get(
            o.status, ("error", "red"))
        return f"{self.style(name, bold=True)}: {self.style(lab[word], fg=colour, bold=True)}"

    def output(self, name: str, o: OutputDecision, shown: list[str], expanded: set[str] | None = None) -> list[str]:
        """An answer and the chain that decided it (``expanded``: derived values not to explain again)."""
        self.current = name
        return [self.answer(name, o)] + self.reasons(name, o, STEP, self.explained if expanded is None else expanded,
                                                     shown)

    def reasons(self, name: str, o: OutputDecision, indent: str, seen: set[str], shown: list[str]) -> list[str]:
        """Why a value is what it is: its rule and the facts it used, each derived fact with its own reasons."""
        lab, lang = self.lab, self.language
        lines: list[str] = []
        if o.records is not None:  # each record as it was decided, with its own reasons
            if not o.records and o.status == "undetermined" and o.needs:
                lines.append(f"{indent}{lab['needs']}: {', '.join(self.names.label(x) for x in o.needs)}")
            for i, record in enumerate(o.records):
                lines.append(indent + self.answer(f"[{i}]", record))
                lines.extend(self.reasons(name, record, indent + STEP, seen, shown))
            return lines
        if o.status == "undetermined":
            if o.needs:
                lines.append(f"{indent}{lab['needs']}: {', '.join(self.names.label(x) for x in o.needs)}")
            elif o.reason:
                lines.append(f"{indent}{with_dates(reason_text(o.reason, lang), lang)}")
        elif o.status == "conflict":
            for c in o.conflict:
                src = "; ".join(source_text(s) for s in c.rule.sources)
                lines.append(f"{indent}{lab['rule']} {c.rule.name} → {self.names.value(name, c.value, o.type)}"
                             + (f"  ({src})" if src else ""))
        elif o.status == "error":
            lines.append(f"{indent}{with_dates(reason_text(o.reason or '', lang), lang)}")
        if o.status == "default":
            lines.append(f"{indent}{lab['default']}")
        if o.rule is not None:
            title = f' "{o.rule.title}"' if o.rule.title else ""
            lines.append(f"{indent}{lab['rule']} {o.rule.name}{title}")
            if o.rule.because:
                lines.append(f"{indent}{STEP}{lab['because']}: {o.rule.because}")
            for s in o.rule.sources:
                lines.append(f"{indent}{STEP}{lab['source']}: {source_text(s, not self.verbose)}")
        if o.rule is None:  # a value with a definition: what the definition cites
            lines.extend(f"{indent}{lab['source']}: {source_text(s, not self.verbose)}" for s in o.sources)
        lines.extend(indent + STEP + sentence for sentence in self.precedence(o))
        if o.concurring:
            lines.append(f"{indent}{lab['also']}: {', '.join(o.concurring)}")
        if o.scenario_changes:
            changes = [lab["switch_off" if c.kind == "switch_off" else f"k_{c.kind}"].format(c.name)
                       for c in o.scenario_changes]
            lines.append(self.style(f"{indent}{lab['changed']}: {', '.join(changes)}", fg="magenta"))
        if o.facts and o.status in ("value", "default"):
            lines.append(f"{indent}{lab['facts']}:")
            for fact, v in o.facts.items():
                lines.extend(self.fact(fact, v, o.fact_sources.get(fact, []), indent + STEP, seen, shown))
        return lines

    def fact(self, name: str, v: Any, cited: list[Source], indent: str, seen: set[str], shown: list[str]) -> list[str]:
        """A fact the rule used, with the source of its value (a parameter's, a table row's); a derived value
        with the chain behind it (once in a decision)."""
        line = f"{indent}{self.names.fact(name, v)}"
        sources = [f"{indent}{STEP}{self.lab['source']}: {source_text(s, not self.verbose)}" for s in cited]
        if name in self.d.outputs:
            if name in shown and self.current in shown:  # an answer of its own: its chain is there
                line += f" ({self.lab['above'] if shown.index(name) < shown.index(self.current) else self.lab['below']})"
            return [line] + sources
        derived = self.d.derived.get(name)
        if derived is None:
            return [line] + sources
        if name in seen:  # explained before, in this answer or an earlier one
            return [line + (f" ({self.lab['above']})" if name in self.explained else "")]
        seen.add(name)
        if derived.rule is None and derived.sources:  # its definition's sources follow with its reasons
            sources = []
        return [line] + sources + self.reasons(name, derived, indent + STEP, seen, shown)

    def precedence(self, o: OutputDecision) -> list[str]:
        """`Regel X gaat voor regel Y en regel Z.`: every exception that overrode a rule, one sentence per group."""
        groups: dict[tuple[str, ...], list[str]] = {}
        for ov in o.overridden:
            groups.setdefault(self.overriding(ov, o), []).append(ov.rule.name)
        lab = self.lab
        out = []
        for by, rules in groups.items():
            subject = self.enumerate([f"{lab['rule']} {r}" for r in by])
            objects = self.enumerate([f"{lab['rule']} {r}" for r in rules])
            verb = lab["overrides"] if len(by) == 1 else lab["override"]
            out.append(f"{subject[0].upper()}{subject[1:]} {verb} {objects}.")
        return out

    def overriding(self, ov: Overridden, o: OutputDecision) -> tuple[str, ...]:
        winners = ([o.rule.name] if o.rule is not None else []) + o.concurring + [c.rule.name for c in o.conflict]
        return overriding_exceptions(self.program, ov.rule.name, winners, ov.by)

    def enumerate(self, items: list[str]) -> str:
        if len(items) <= 1:
            return "".join(items)
        return ", ".join(items[:-1]) + f" {self.lab['and']} {items[-1]}"


_DUTCH_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(a), b) for a, b in (
    (r"^no value of `(?P<n>[^`]+)` is in force on (?P<d>\S+)$", "op {d} geldt er geen waarde voor `{n}`"),
    (r"^table `(?P<t>[^`]+)` has no row for (?P<k>.+?) in force on (?P<d>\S+)$",
     "tabel `{t}` heeft geen rij voor {k} die geldt op {d}"),
    (r"^table `(?P<t>[^`]+)` has no row for (?P<k>.+)$", "tabel `{t}` heeft geen rij voor {k}"),
    (r"^no value is known in `(?P<t>[^`]+)` for (?P<k>.+), column `(?P<c>[^`]+)`, on (?P<d>\S+)$",
     "in tabel `{t}` is voor {k} geen waarde bekend in kolom `{c}` op {d}"),
    (r"^division by zero at line (?P<l>\d+)$", "deling door nul op regel {l}"),
    (r"^no date after 9999-12-31 \(line (?P<l>\d+)\)$", "er is geen datum na 9999-12-31 (regel {l})"),
    (r"^no date before 0001-01-01 \(line (?P<l>\d+)\)$", "er is geen datum vóór 0001-01-01 (regel {l})"),
    (r"^the result is out of range: more than (?P<n>\d+) digits before the decimal point \(line (?P<l>\d+)\)$",
     "de uitkomst valt buiten het bereik: meer dan {n} cijfers voor de komma (regel {l})"),
    (r"^the result is out of range: more than (?P<n>\d+) digits before the decimal point$",
     "de uitkomst valt buiten het bereik: meer dan {n} cijfers voor de komma"),
    (r"^`(?P<n>[^`]+)` has a conflict$", "`{n}` heeft een conflict"),
    (r"^`(?P<n>[^`]+)` cannot be computed$", "`{n}` kan niet worden berekend"),
    (r"^no rule applies and there is no default$", "geen regel is van toepassing en er is geen standaardwaarde"),
    (r"^it depends on values that are not known$", "het hangt af van waarden die niet bekend zijn"),
))


def reason_text(reason: str, language: str) -> str:
    """An engine's reason in the reader's language (the decision's JSON keeps the English text)."""
    if language != "nederlands":
        return reason
    for pattern, dutch in _DUTCH_REASONS:
        m = pattern.match(reason)
        if m:
            return dutch.format(**m.groupdict())
    return reason


def source_text(s: Any, compact: bool = False) -> str:
    """A source on one line: its title, the detail (article, paragraph) and its address.

    ``compact``: a title ``Zorgverzekeringswet art. 11: de zorgplicht, …`` with an address shows its
    head only (``Zorgverzekeringswet art. 11, lid 3 <…>``); the address leads to the rest.
    """
    text = str(s.title)
    if compact and s.url and ": " in text:
        text = text.split(": ", 1)[0]
    if s.detail:
        text += f", {s.detail}"
    if s.url:
        text += f" <{s.url}>"
    return text


# ---------------------------------------------------------------- why not


def _conjuncts(e: n.Expr) -> list[n.Expr]:
    if isinstance(e, n.Binary) and e.op == "and":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def overriding_exceptions(program: Program | None, rule: str, winners: Iterable[str], by: str) -> tuple[str, ...]:
    """The exceptions that overrode ``rule``: among the rules that won, those below it, at any depth.

    An outcome names one of them (``by``); the rule book knows the others.
    """
    if program is None:
        return (by,)
    below: set[str] = set()
    todo = [rule]
    while todo:
        for e in program.exceptions.get(todo.pop(), ()):
            if e not in below:
                below.add(e)
                todo.append(e)
    found = tuple(dict.fromkeys(w for w in winners if w in below))
    return found if by in found else (by,) + found


def why_not(program: Program, ev: Evaluation, results: dict[str, Outcome], rule: CheckedRule,
            target: str | None = None, record: int | None = None) -> WhyNotReason:
    """Why ``rule`` did not decide, in the rule book's language: one answer, with the facts it rests on
    (``target``: the value of one record, the ``record``-th, for a rule per record)."""
    lang = program.language
    fmt = Formatter(lang)
    names = Names(program, lang)
    lab = LABELS[lang]
    day = display.date(ev.day, lang)
    nl = lang == "nederlands"

    def reason(kind: WhyNotKind, text: str, **kw: Any) -> WhyNotReason:
        return WhyNotReason(record=record, kind=kind, text=text, **kw)

    off = program.scenario.switched_off.get(rule.name) if program.scenario is not None else None
    if off is not None and off.would_be_in_force(ev.day):
        name = program.scenario.name if program.scenario is not None else ""
        start = display.date(off.start, lang) if off.start else ""
        since = f" vanaf {start}" if nl and start else f" from {start}" if start else ""
        return reason("switched_off", f"regel {rule.name} is uitgeschakeld door scenario {name}{since}" if nl else
                      f"rule {rule.name} is switched off by scenario {name}{since}")
    if not rule.valid_on(ev.day):
        first = display.date(rule.valid_from, lang) if rule.valid_from else "…"
        last = display.date(rule.valid_until, lang) if rule.valid_until else "…"
        period = f"{first} – {last}"
        return reason("not_in_force", f"regel {rule.name} is niet van kracht op {day} (geldig {period})" if nl else
                      f"rule {rule.name} is not in force on {day} (valid {period})")
    if rule.when is not None:
        for part in _conjuncts(rule.when):
            facts: dict[str, Any] = {}
            v = ev.ev(part, facts)
            if v is True:
                continue
            read = {k: to_json(x) for k, x in sorted(facts.items())}
            used = ", ".join(names.fact(k, x) for k, x in sorted(facts.items()))
            text = fmt.expr(part)
            if v is False:
                return reason("condition_false", (
                    f"regel {rule.name} is niet van toepassing: de voorwaarde `{text}` is niet waar"
                    if nl else f"rule {rule.name} does not apply: the condition `{text}` is false") + (
                    f"\n  {'met' if nl else 'with'} {used}" if used else ""), condition=text, facts=read)
            if isinstance(v, Unknown):
                needs = ", ".join(names.label(x) for x in sorted(v.needs))
                return reason("condition_undetermined",
                              f"regel {rule.name}: de voorwaarde `{text}` kan niet worden bepaald; nodig: {needs}"
                              if nl else
                              f"rule {rule.name}: the condition `{text}` cannot be decided; it needs: {needs}",
                              condition=text, facts=read, needs=sorted(v.needs))
            if isinstance(v, Fail):
                detail = with_dates(reason_text(v.reason, lang), lang)
                return reason("condition_error",
                              f"regel {rule.name}: de voorwaarde `{text}` kan niet worden berekend: {detail}" if nl
                              else f"rule {rule.name}: the condition `{text}` cannot be computed: {detail}",
                              condition=text, facts=read, detail=detail)
    o = results[target or rule.target]
    for r, by in o.overridden:
        if r == rule.name:
            won = overriding_exceptions(program, r, ([o.rule] if o.rule else []) + o.concurring
                                        + [w for w, _v in o.conflict], by)
            listed = ", ".join(won[:-1]) + f" {lab['and']} {won[-1]}" if len(won) > 1 else won[0]
            if nl:
                text = (f"regel {rule.name} is van toepassing, maar de uitzondering {listed} gaat voor"
                        if len(won) == 1 else
                        f"regel {rule.name} is van toepassing, maar de uitzonderingen {listed} gaan voor")
            else:
                text = (f"rule {rule.name} applies, but the exception {listed} takes precedence over it"
                        if len(won) == 1 else
                        f"rule {rule.name} applies, but the exceptions {listed} take precedence over it")
            return reason("overridden", text, by=list(won))
    if o.rule == rule.name:
        return reason("decided", f"regel {rule.name} is van toepassing en besliste {rule.target}" if nl else
                      f"rule {rule.name} applies and decided {rule.target}")
    if rule.name in o.concurring:
        return reason("agrees", f"regel {rule.name} is van toepassing en geeft dezelfde waarde als {o.rule}" if nl
                      else f"rule {rule.name} applies and agrees with {o.rule}", by=[o.rule] if o.rule else [])
    if o.status == "conflict":
        return reason("conflict", f"regel {rule.name} is van toepassing en staat in conflict met andere regels" if nl
                      else f"rule {rule.name} applies and is in conflict with other rules",
                      by=[w for w, _v in o.conflict if w != rule.name])
    state = f"{lab['error']}" if o.status == "error" else f"is {lab.get(o.status, o.status)}"
    return reason("not_decided", f"regel {rule.name} is van toepassing; {rule.target} {state}" if nl else
                  f"rule {rule.name} applies; {rule.target} {state}", detail=o.status)
