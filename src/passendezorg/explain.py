"""Renderers for decisions: text for people (in the rule book's language), and why-not."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import click

from . import nodes as n
from .engines.interpreter import Evaluation
from .engines.semantics import Outcome
from .format import Formatter
from .model import Decision, OutputDecision
from .program import CheckedRule, Program
from .values import Fail, Unknown, money_text, to_json

LABELS = {
    "english": {
        "decision": "Decision", "case": "case", "on": "peildatum", "rulebook": "rule book",
        "rule": "rule", "source": "source", "because": "because", "facts": "based on",
        "overrides": "overrides", "exception": "exception", "default": "no rule applies: the default",
        "undetermined": "undetermined", "needs": "to decide, I need", "conflict": "CONFLICT",
        "error": "cannot be computed", "yes": "yes", "no": "no", "derived": "values used",
        "also": "also decided by", "nothing": "(none)", "scenario": "under scenario",
        "not_law": "not the law in force", "changed": "decided by the scenario",
        "switch_off": "rule {} switched off", "k_rule": "rule {} of the scenario",
        "k_parameter": "parameter {}", "k_table": "table {}", "k_value": "via {}", "source of": "source of",
        "per": "per record of",
    },
    "nederlands": {
        "decision": "Beslissing", "case": "casus", "on": "peildatum", "rulebook": "regelboek",
        "rule": "regel", "source": "bron", "because": "omdat", "facts": "op grond van",
        "overrides": "gaat voor", "exception": "uitzondering", "default": "geen regel van toepassing: de standaard",
        "undetermined": "onbepaald", "needs": "om te beslissen is nodig", "conflict": "CONFLICT",
        "error": "kan niet worden bepaald", "yes": "ja", "no": "nee", "derived": "gebruikte waarden",
        "also": "ook besloten door", "nothing": "(geen)", "scenario": "onder scenario",
        "not_law": "niet het geldende recht", "changed": "door het scenario",
        "switch_off": "regel {} uitgeschakeld", "k_rule": "regel {} van het scenario",
        "k_parameter": "parameter {}", "k_table": "tabel {}", "k_value": "via {}", "source of": "bron van",
        "per": "per record van",
    },
}


def show_value(v: Any, type_: str, language: str) -> str:
    lab = LABELS[language]
    v = to_json(v)  # a Python value (Decimal, date) reads as its JSON text
    if v is None:
        return lab["nothing"]
    if isinstance(v, bool):
        return lab["yes"] if v else lab["no"]
    if type_ == "money":
        text = money_text(Decimal(str(v)))
        return "€ " + (text.replace(".", ",") if language == "nederlands" else text)
    if isinstance(v, list):
        return "[" + ", ".join(show_value(x, "", language) for x in v) + "]"
    return str(v)


def _fact_value(v: Any, language: str) -> str:
    return show_value(v, "", language)


def render_decision(d: Decision, language: str = "english", color: bool = False, verbose: bool = False) -> str:
    lab = LABELS[language]

    def style(text: str, **kw: Any) -> str:
        return str(click.style(text, **kw)) if color else text

    out = []
    head = f"{lab['decision']}"
    if d.case:
        head += f" — {lab['case']} {d.case}"
    out.append(style(head, bold=True))
    if d.scenario is not None:
        title = f" — {d.scenario.title}" if d.scenario.title else ""
        out.append(style(f"{lab['scenario']} {d.scenario.name}{title} ({lab['not_law']})", fg="magenta", bold=True))
    out.append(f"{lab['on']} {d.peildatum.isoformat()} · {lab['rulebook']} {d.rulebook[:19]}…")
    for name, o in d.outputs.items():
        out.append("")
        out.extend(_render_output(name, o, lab, language, style))
    if verbose and d.derived:
        out.append("")
        out.append(style(lab["derived"], bold=True))
        for name, o in d.derived.items():
            out.extend("  " + line for line in _render_output(name, o, lab, language, style))
    return "\n".join(out)


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


def _render_output(name: str, o: OutputDecision, lab: dict[str, str], language: str, style: Any) -> list[str]:
    if o.records is not None:  # a value per record: the list, then each record as it was decided
        head = f"{style(name, bold=True)} ({lab['per']} {o.per})"
        lines: list[str]
        if o.status == "value":
            listed = "[" + ", ".join(show_value(v, o.type, language) for v in o.value or []) + "]"
            lines = [f"{head} = {style(listed, fg='green', bold=True)}"]
        else:
            word = lab["undetermined"] if o.status == "undetermined" else lab[o.status]
            lines = [f"{head}: {style(word, fg='yellow' if o.status == 'undetermined' else 'red', bold=True)}"]
            if not o.records and o.needs:
                lines.append(f"  {lab['needs']}: {', '.join(o.needs)}")
        for i, record in enumerate(o.records):
            lines.extend("  " + line for line in _render_output(f"[{i}]", record, lab, language, style))
        return lines
    lines = []
    if o.status in ("value", "default"):
        lines.append(f"{style(name, bold=True)} = {style(show_value(o.value, o.type, language), fg='green', bold=True)}")
    elif o.status == "undetermined":
        lines.append(f"{style(name, bold=True)}: {style(lab['undetermined'], fg='yellow', bold=True)}")
        if o.needs:
            lines.append(f"  {lab['needs']}: {', '.join(o.needs)}")
        elif o.reason:
            lines.append(f"  {reason_text(o.reason, language)}")
    elif o.status == "conflict":
        lines.append(f"{style(name, bold=True)}: {style(lab['conflict'], fg='red', bold=True)}")
        for c in o.conflict:
            src = "; ".join(_source_text(s) for s in c.rule.sources)
            lines.append(f"  {lab['rule']} {c.rule.name} → {show_value(c.value, o.type, language)}"
                         + (f"  ({src})" if src else ""))
    else:
        lines.append(f"{style(name, bold=True)}: {style(lab['error'], fg='red', bold=True)}")
        lines.append(f"  {reason_text(o.reason or '', language)}")
    if o.status == "default":
        lines.append(f"  {lab['default']}")
    if o.rule is not None:
        title = f' "{o.rule.title}"' if o.rule.title else ""
        lines.append(f"  {lab['rule']} {o.rule.name}{title}")
        for s in o.rule.sources:
            lines.append(f"  {lab['source']}: {_source_text(s)}")
        if o.rule.because:
            lines.append(f"  {lab['because']}: {o.rule.because}")
    if o.rule is None:
        for s in o.sources:
            lines.append(f"  {lab['source']}: {_source_text(s)}")
    if o.facts and o.status in ("value", "default"):
        facts = ", ".join(f"{k} = {_fact_value(v, language)}" for k, v in o.facts.items())
        lines.append(f"  {lab['facts']}: {facts}")
        for k, cited in o.fact_sources.items():
            lines.append(f"  {lab['source of']} {k}: {'; '.join(_source_text(s) for s in cited)}")
    for ov in o.overridden:
        lines.append(f"  {lab['overrides']}: {ov.rule.name} ({lab['exception']} {ov.by})")
    if o.concurring:
        lines.append(f"  {lab['also']}: {', '.join(o.concurring)}")
    if o.scenario_changes:
        shown = [lab["switch_off" if c.kind == "switch_off" else f"k_{c.kind}"].format(c.name)
                 for c in o.scenario_changes]
        lines.append(style(f"  {lab['changed']}: {', '.join(shown)}", fg="magenta"))
    return lines


def _source_text(s: Any) -> str:
    text = str(s.title)
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


def why_not(program: Program, ev: Evaluation, results: dict[str, Outcome], rule: CheckedRule,
            target: str | None = None) -> str:
    """Why ``rule`` did not decide its value (``target``: the value of one record, for a rule per record)."""
    lang = program.language
    fmt = Formatter(lang)
    day = ev.day.isoformat()
    nl = lang == "nederlands"
    off = program.scenario.switched_off.get(rule.name) if program.scenario is not None else None
    if off is not None and off.would_be_in_force(ev.day):
        name = program.scenario.name if program.scenario is not None else ""
        since = f" vanaf {off.start}" if nl and off.start else f" from {off.start}" if off.start else ""
        return (f"regel {rule.name} is uitgeschakeld door scenario {name}{since}" if nl else
                f"rule {rule.name} is switched off by scenario {name}{since}")
    if not rule.valid_on(ev.day):
        period = f"{rule.valid_from or '…'} – {rule.valid_until or '…'}"
        return (f"regel {rule.name} is niet van kracht op {day} (geldig {period})" if nl else
                f"rule {rule.name} is not in force on {day} (valid {period})")
    if rule.when is not None:
        for part in _conjuncts(rule.when):
            facts: dict[str, Any] = {}
            v = ev.ev(part, facts)
            if v is True:
                continue
            used = ", ".join(f"{k} = {show_value(x, '', lang)}" for k, x in sorted(facts.items()))
            text = fmt.expr(part)
            if v is False:
                return (f"regel {rule.name} is niet van toepassing: de voorwaarde `{text}` is niet waar"
                        if nl else f"rule {rule.name} does not apply: the condition `{text}` is false") + (
                    f"\n  {'met' if nl else 'with'} {used}" if used else "")
            if isinstance(v, Unknown):
                needs = ", ".join(sorted(v.needs))
                return (f"regel {rule.name}: de voorwaarde `{text}` kan niet worden bepaald; nodig: {needs}" if nl
                        else f"rule {rule.name}: the condition `{text}` cannot be decided; it needs: {needs}")
            if isinstance(v, Fail):
                return (f"regel {rule.name}: de voorwaarde `{text}` kan niet worden berekend: {reason_text(v.reason, lang)}" if nl
                        else f"rule {rule.name}: the condition `{text}` cannot be computed: {v.reason}")
    o = results[target or rule.target]
    for r, by in o.overridden:
        if r == rule.name:
            return (f"regel {rule.name} is van toepassing, maar de uitzondering {by} gaat voor" if nl else
                    f"rule {rule.name} applies, but the exception {by} overrides it")
    if o.rule == rule.name:
        return (f"regel {rule.name} is van toepassing en besliste {rule.target}" if nl else
                f"rule {rule.name} applies and decided {rule.target}")
    if rule.name in o.concurring:
        return (f"regel {rule.name} is van toepassing en geeft dezelfde waarde als {o.rule}" if nl else
                f"rule {rule.name} applies and agrees with {o.rule}")
    if o.status == "conflict":
        return (f"regel {rule.name} is van toepassing en staat in conflict met andere regels" if nl else
                f"rule {rule.name} applies and is in conflict with other rules")
    return (f"regel {rule.name} is van toepassing; {rule.target} is {o.status}" if nl else
            f"rule {rule.name} applies; {rule.target} is {o.status}")
