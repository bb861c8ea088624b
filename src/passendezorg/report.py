"""The report of a simulation: JSON, CSV tables (and Parquet), and one self-contained HTML page with charts.

``write_report(sim, out_dir)`` writes:

* ``report.html``: the whole report in one file that works offline and asks
  nothing of the network (styles inline, charts as inline SVG drawn here);
* ``report.json``: everything in the report, amounts as exact strings;
* CSV tables for further analysis: ``totals.csv`` (per output and variant),
  ``breakdown-<field>.csv``, ``rules.csv`` (which rule decided before and after),
  ``yearly.csv`` (persons reaching a yearly maximum, per month), ``sample.csv``;
* with ``parquet=True`` the same tables as Parquet (needs pyarrow).
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import display
from .errors import UsageError
from .explain import Names, render_decision
from .model import Decision, OutputDecision
from .population import require_pyarrow
from .simulate import BASE, Simulation
from .values import to_json

REPORT_FORMAT = "passendezorg.simulation/1"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
COLORS = ("#3949ab", "#e65100", "#00897b", "#8e24aa", "#c62828", "#6d4c41")


def euro(v: Decimal | None) -> str:
    """An amount as the report shows it: € 1.234.567,89 (the one Dutch notation of ``display``, to the cent)."""
    if v is None:
        return "–"
    return display.money(v.quantize(Decimal("0.01")), "nederlands")


def signed_euro(v: Decimal) -> str:
    """A change: `€ +840,00`, `€ -12,50`."""
    text = euro(v)
    return text.replace("€ ", "€ +", 1) if v > 0 else text


def count(n: int) -> str:
    return f"{n:,}".replace(",", ".")


# ------------------------------------------------------------------ JSON


def simulation_json(sim: Simulation) -> dict[str, Any]:
    """Everything in the report as JSON: amounts as exact strings, dates as ISO text."""
    keys = [v.key for v in sim.variants]
    return {
        "format": REPORT_FORMAT,
        "claims_file": sim.source,
        "variants": [{"key": v.key, "title": v.title, "rulebook": v.rulebook,
                      "scenario": None if v.key == BASE else v.key} for v in sim.variants],
        "claims": sim.claims,
        "persons": sim.persons,
        "person_years": sim.person_years,
        "rejected": sim.rejected,
        "rejections": [{"where": w, "error": e} for w, e in sim.rejections],
        "changed": {k: {"claims": sim.changed_claims[k], "persons": sim.changed_persons[k],
                        "rule_only": sim.rule_only[k]} for k in keys[1:]},
        "outputs": {name: {
            "type": o.type,
            **({"totals": {k: str(v) for k, v in o.totals.items()},
                "change": {k: str(o.change(k)) for k in keys[1:]}} if o.money else {}),
            "counts": o.counts,
            "changed_claims": o.changed,
        } for name, o in sim.outputs.items()},
        "breakdowns": {name: [{"value": b.value, "claims": b.claims, "changed": b.changed,
                               "totals": {o: {k: str(v) for k, v in per.items()} for o, per in b.totals.items()}}
                              for b in buckets] for name, buckets in sim.breakdowns.items()},
        "rules": {k: [{"output": r.output, "before": r.before, "after": r.after, "claims": r.claims,
                       "before_total": None if r.before_total is None else str(r.before_total),
                       "after_total": None if r.after_total is None else str(r.after_total)} for r in lst]
                  for k, lst in sim.rules.items()},
        "yearly": [{"input": y.input, "label": y.label, "limit": y.limit, "person_years": y.person_years,
                    "reached": {k: {"total": y.total(k), "by_month": v} for k, v in y.reached.items()},
                    "moved": y.moved} for y in sim.yearly],
        "sample": {k: [{"claim_id": c.claim_id, "insured_id": c.insured_id, "where": c.where,
                        "peildatum": c.peildatum.isoformat(), "changed": c.changed,
                        "in_force": json.loads(c.before.to_json()), "scenario": json.loads(c.after.to_json())}
                       for c in lst] for k, lst in sim.sample.items()},
        "run": {"seconds": round(sim.seconds, 3), "jobs": sim.jobs},
    }


# ------------------------------------------------------------------ tables


def tables(sim: Simulation) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The report's tables: name -> (columns, rows), for CSV and Parquet."""
    keys = [v.key for v in sim.variants]
    out: dict[str, tuple[list[str], list[list[Any]]]] = {}
    rows: list[list[Any]] = []
    for name, o in sim.outputs.items():
        if o.money:
            for k in keys:
                rows.append([name, k, "total", str(o.totals[k]), str(o.change(k)) if k != BASE else "0.00",
                             o.changed.get(k, 0)])
        for k in keys:
            for value, n in o.counts.get(k, {}).items():
                rows.append([name, k, value, n, "", o.changed.get(k, 0)])
    out["totals"] = (["output", "variant", "value", "total_or_claims", "change", "claims_changed"], rows)
    money = [name for name, o in sim.outputs.items() if o.money]
    for field, buckets in sim.breakdowns.items():
        cols = [field, "claims"] + [f"changed_{k}" for k in keys[1:]] + [f"{o}_{k}" for o in money for k in keys]
        brows = [[b.value, b.claims] + [b.changed[k] for k in keys[1:]] + [str(b.totals[o][k]) for o in money
                                                                          for k in keys] for b in buckets]
        out[f"breakdown-{_slug(field)}"] = (cols, brows)
    out["rules"] = (["scenario", "output", "rule_in_force", "rule_scenario", "claims", "total_in_force",
                     "total_scenario"],
                    [[k, r.output, r.before or "", r.after or "", r.claims,
                      "" if r.before_total is None else str(r.before_total),
                      "" if r.after_total is None else str(r.after_total)] for k, lst in sim.rules.items() for r in lst])
    out["yearly"] = (["cap", "variant", "month", "persons_reaching_maximum"],
                     [[y.input, k, m + 1, n] for y in sim.yearly for k, months in y.reached.items()
                      for m, n in enumerate(months)])
    out["sample"] = (["scenario", "claim_id", "insured_id", "where", "peildatum", "changed", "output", "in_force",
                      "scenario_value", "rule_in_force", "rule_scenario"],
                     [[k, c.claim_id, c.insured_id, c.where, c.peildatum.isoformat(), " ".join(c.changed), o,
                       _plain(c.before.outputs[o]), _plain(c.after.outputs[o]), _rule(c.before.outputs[o]),
                       _rule(c.after.outputs[o])] for k, lst in sim.sample.items() for c in lst for o in c.changed])
    return out


def _plain(o: OutputDecision) -> str:
    return str(to_json(o.value)) if o.status in ("value", "default") else f"({o.status})"


def _rule(o: OutputDecision) -> str:
    return o.rule.name if o.rule else ""


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def write_report(sim: Simulation, out: str | Path, *, parquet: bool = False) -> list[Path]:
    """Write the HTML, JSON and CSV (and with ``parquet``, Parquet) report into folder ``out``; the files written."""
    folder = Path(out)
    if parquet:
        require_pyarrow("Parquet output")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{folder}: cannot make the report folder ({e.strerror or e})") from None
    written = []
    path = folder / "report.json"
    path.write_text(json.dumps(simulation_json(sim), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(path)
    path = folder / "report.html"
    path.write_text(render_html(sim), encoding="utf-8")
    written.append(path)
    for name, (cols, rows) in tables(sim).items():
        path = folder / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(cols)
            writer.writerows(rows)
        written.append(path)
        if parquet:
            written.append(_parquet(folder / f"{name}.parquet", cols, rows))
    return written


def _parquet(path: Path, cols: list[str], rows: list[list[Any]]) -> Path:
    pa = require_pyarrow("Parquet output")
    import pyarrow.parquet as pq

    data = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    fields = []
    for c in cols:
        values = [v for v in data[c] if v != "" and v is not None]
        if values and all(isinstance(v, int) for v in values):
            fields.append((c, pa.int64()))
            data[c] = [None if v == "" else v for v in data[c]]
        elif values and all(isinstance(v, str) and re.fullmatch(r"-?\d+\.\d+", v) for v in values):
            fields.append((c, pa.decimal128(24, max(len(v.split(".")[1]) for v in values))))
            data[c] = [None if v in ("", None) else Decimal(v) for v in data[c]]
        else:
            fields.append((c, pa.string()))
            data[c] = [None if v is None else str(v) for v in data[c]]
    schema = pa.schema(fields)
    pq.write_table(pa.Table.from_pydict(data, schema=schema), str(path))
    return path


# ------------------------------------------------------------------ HTML


def render_html(sim: Simulation) -> str:
    """The report as one HTML page: styles inline, charts as inline SVG, no script and no request off the page."""
    return _Html(sim).page()


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


class _Html:
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.keys = [v.key for v in sim.variants]
        self.titles = {v.key: v.title for v in sim.variants}
        self.language = sim.variants[0].book.program.language
        self.names = Names(sim.variants[0].book.program, self.language)
        self.programs = {v.rulebook: v.book.program for v in sim.variants}  # each decision read by its rule book
        self.charts = 0

    def name(self, key: str) -> str:
        """How tables and charts name a rule book: the law in force, or the scenario's name (its title is in the
        table of rule books at the top)."""
        return "law in force" if key == BASE else key

    def heading(self, key: str) -> str:
        name, title = self.name(key), self.titles[key]
        return name if title == name else f"{name}: {title}"

    def color(self, key: str) -> str:
        return COLORS[self.keys.index(key) % len(COLORS)]

    def page(self) -> str:
        sim = self.sim
        parts = [self.head(), "<body><main>", self.intro(), self.totals(), self.yearly(), self.breakdowns(),
                 self.rules(), self.sample(), self.rejections(), "</main></body></html>\n"]
        del sim
        return "\n".join(p for p in parts if p)

    def head(self) -> str:
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Simulation: {esc(", ".join(self.titles[k] for k in self.keys[1:]))}</title>
<style>{STYLE}</style></head>"""

    def legend(self, keys: Sequence[str]) -> str:
        return "<p class='pz-legend'>" + "".join(
            f"<span><i style='background:{self.color(k)}'></i>{esc(self.name(k))}</span>" for k in keys) + "</p>"

    def intro(self) -> str:
        sim = self.sim
        rows = "".join(
            f"<tr><td><i class='pz-dot' style='background:{self.color(v.key)}'></i>{esc(v.title)}</td>"
            f"<td><code>{esc(v.key)}</code></td><td><code>{esc(v.rulebook[:19])}…</code></td>"
            + (f"<td>{count(sim.changed_claims[v.key])}</td><td>{count(sim.changed_persons[v.key])}</td>"
               f"<td>{count(sim.rule_only[v.key])}</td>" if v.key != BASE else "<td>–</td><td>–</td><td>–</td>")
            + "</tr>" for v in sim.variants)
        run = f" Run: {sim.seconds:.1f} s on {sim.jobs} worker(s)." if sim.seconds else ""
        rejected = (f" {count(sim.rejected)} claim(s) could not be read and were left out "
                    "(<a href='#rejections'>see below</a>)." if sim.rejected else "")
        return f"""<h1>What the proposals would do</h1>
<p class="pz-lead">{count(sim.claims)} claims of {count(sim.persons)} insured persons from <code>{esc(sim.source)}</code>,
each decided under the law in force and under every scenario; each person's claims replayed in date order, so
that the eigen risico and the other yearly caps carry from one claim to the next as in claim processing.{rejected}</p>
<table class="pz-table" id="variants"><thead><tr><th>rule book</th><th>key</th><th>content hash</th>
<th>claims changed</th><th>persons changed</th><th>only another rule</th></tr></thead><tbody>{rows}</tbody></table>
<p class="pz-note">A claim changed when a scenario gives any output another value (or status). "Only another rule":
the same values, decided by another rule.{run}</p>"""

    # ---------------------------------------------------------- totals

    def totals(self) -> str:
        sim = self.sim
        money = [o for o in sim.outputs.values() if o.money]
        rows = []
        for o in sim.outputs.values():
            if o.money:
                cells = "".join(f"<td class='num'>{euro(o.totals[k])}{self.undecided(o.counts.get(k, {}))}</td>"
                                for k in self.keys)
                change = "".join(f"<td class='num'>{signed_euro(o.change(k))}</td>" for k in self.keys[1:])
            else:
                cells = "".join(f"<td>{self.counts_text(o.counts.get(k, {}))}</td>" for k in self.keys)
                change = "".join("<td></td>" for _ in self.keys[1:])
            changed = "".join(f"<td class='num'>{count(o.changed.get(k, 0))}</td>" for k in self.keys[1:])
            rows.append(f"<tr><th><code>{esc(o.name)}</code></th>{cells}{change}{changed}</tr>")
        head = ("<th>output</th>" + "".join(f"<th>{esc(self.name(k))}</th>" for k in self.keys)
                + "".join(f"<th>change: {esc(self.name(k))}</th>" for k in self.keys[1:])
                + "".join(f"<th>claims changed: {esc(self.name(k))}</th>" for k in self.keys[1:]))
        moved = [o for o in money if any(o.change(k) for k in self.keys[1:])]
        chart = self.change_chart("Change in the total of each amount", [(o.name, {k: o.change(k) for k in self.keys[1:]})
                                                                        for o in moved]) if moved else \
            "<p>No scenario changes any amount.</p>"
        return f"""<h2 id="totals">Totals per output</h2>
{chart}
<div class="pz-scroll"><table class="pz-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>
<p class="pz-note">Amounts are exact sums of the decided amounts; an output that could not be decided for a claim
(a missing fact, a value not in force) is counted under its status instead.</p>"""

    @staticmethod
    def undecided(counts: dict[str, int]) -> str:
        """Under an amount: the claims for which it could not be decided, by status."""
        if not counts:
            return ""
        return "<div class='pz-undecided'>" + ", ".join(f"{count(n)} {esc(status)}" for status, n in counts.items()) \
            + " not decided</div>"

    def counts_text(self, counts: dict[str, int]) -> str:
        return "<br>".join(f"<span title='{esc(v)}'>{esc(self.short(v) if v else '(empty)')}</span>: {count(n)}"
                           for v, n in sorted(counts.items(), key=lambda kv: -kv[1])[:6])

    @staticmethod
    def short(text: str, size: int = 48) -> str:
        return text if len(text) <= size else text[:size - 1] + "…"

    # ---------------------------------------------------------- yearly maxima

    def yearly(self) -> str:
        sim = self.sim
        out = []
        for y in sim.yearly:
            rows = "".join(
                f"<tr><td><i class='pz-dot' style='background:{self.color(k)}'></i>{esc(self.name(k))}</td>"
                f"<td class='num'>{count(y.total(k))}</td>"
                f"<td class='num'>{self.pct(y.total(k), y.person_years)}</td>"
                + (f"<td class='num'>{self.median_month(y.reached[k])}</td>")
                + ("".join(f"<td class='num'>{count(y.moved[k][m])}</td>" for m in
                           ("only_in_force", "only_scenario", "earlier", "later")) if k != BASE
                   else "<td>–</td>" * 4) + "</tr>" for k in self.keys)
            chart = self.line_chart(f"Persons who reached the yearly {y.label}, by month",
                                    {k: self.cumulative(y.reached[k]) for k in self.keys}, y.person_years)
            out.append(f"""<h2 id="yearly-{esc(_slug(y.input))}">Who reaches the yearly {esc(y.label)}, and when</h2>
<p>Of {count(y.person_years)} person-years with claims, how many used up the year's maximum (<code>{esc(y.limit)}</code>)
of <code>{esc(y.input)}</code>, and in which month they reached it.</p>
{chart}
<table class="pz-table"><thead><tr><th>rule book</th><th>person-years reaching it</th><th>share</th>
<th>median month</th><th>only in force</th><th>only under the scenario</th><th>earlier</th><th>later</th></tr></thead>
<tbody>{rows}</tbody></table>""")
        return "\n".join(out)

    @staticmethod
    def cumulative(months: list[int]) -> list[int]:
        out, total = [], 0
        for n in months:
            total += n
            out.append(total)
        return out

    @staticmethod
    def pct(n: int, total: int) -> str:
        return f"{100 * n / total:.1f} %".replace(".", ",") if total else "–"

    @staticmethod
    def median_month(months: list[int]) -> str:
        total = sum(months)
        if not total:
            return "–"
        acc = 0
        for m, n in enumerate(months):
            acc += n
            if acc * 2 >= total:
                return MONTHS[m]
        return MONTHS[-1]  # pragma: no cover

    # ---------------------------------------------------------- breakdowns

    def breakdowns(self) -> str:
        sim = self.sim
        money = [o.name for o in sim.outputs.values() if o.money]
        if not sim.breakdowns:
            return ""
        main = "vergoeding" if "vergoeding" in money else (money[-1] if money else None)
        out = ["<h2 id='breakdowns'>Breakdowns</h2>"]
        for fname, buckets in sim.breakdowns.items():
            shown = buckets[:40]
            chart = ""
            if main is not None:
                moved = [(b.value, {k: b.totals[main][k] - b.totals[main][BASE] for k in self.keys[1:]}) for b in buckets]
                moved = sorted((m for m in moved if any(m[1].values())),
                               key=lambda m: -max(abs(v) for v in m[1].values()))[:15]
                chart = self.change_chart(f"Change in {main} by {fname}", moved) if moved else \
                    f"<p>No scenario changes {esc(main)} for any value of {esc(fname)}.</p>"
            head = (f"<th>{esc(fname)}</th><th>claims</th>"
                    + "".join(f"<th>changed: {esc(self.name(k))}</th>" for k in self.keys[1:])
                    + "".join(f"<th>{esc(o)}: {esc(self.name(k))}</th>" for o in money for k in self.keys))
            rows = "".join(
                f"<tr><th>{esc(b.value)}</th><td class='num'>{count(b.claims)}</td>"
                + "".join(f"<td class='num'>{count(b.changed[k])}</td>" for k in self.keys[1:])
                + "".join(f"<td class='num'>{euro(b.totals[o][k])}</td>" for o in money for k in self.keys)
                + "</tr>" for b in shown)
            more = f"<p class='pz-note'>{len(buckets) - len(shown)} more values in the CSV table.</p>" \
                if len(buckets) > len(shown) else ""
            out.append(f"""<h3 id="by-{esc(_slug(fname))}">By {esc(fname)}</h3>
{chart}
<div class="pz-scroll"><table class="pz-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>{more}""")
        return "\n".join(out)

    # ---------------------------------------------------------- rules

    def rules(self) -> str:
        sim = self.sim
        out = ["<h2 id='rules'>The rules responsible</h2>",
               "<p>For the claims a scenario changed: which rule decided each changed output under the law in force, "
               "and which under the scenario, with the number of claims and the amounts before and after.</p>"]
        for k in self.keys[1:]:
            lst = sim.rules[k]
            rows = "".join(
                f"<tr><td><code>{esc(r.output)}</code></td><td>{self.rule_cell(r.before)}</td>"
                f"<td>{self.rule_cell(r.after)}</td><td class='num'>{count(r.claims)}</td>"
                f"<td class='num'>{euro(r.before_total) if r.before_total is not None else ''}</td>"
                f"<td class='num'>{euro(r.after_total) if r.after_total is not None else ''}</td></tr>"
                for r in lst[:60])
            out.append(f"""<h3>{esc(self.heading(k))}</h3>
<div class="pz-scroll"><table class="pz-table"><thead><tr><th>output</th><th>rule in force</th><th>rule under the
scenario</th><th>claims</th><th>amount in force</th><th>amount under the scenario</th></tr></thead>
<tbody>{rows or "<tr><td colspan='6'>no claim changed</td></tr>"}</tbody></table></div>""")
        return "\n".join(out)

    @staticmethod
    def rule_cell(name: str | None) -> str:
        return f"<code>{esc(name)}</code>" if name else "<span class='pz-muted'>(no rule: default or not decided)</span>"

    # ---------------------------------------------------------- sample

    def sample(self) -> str:
        sim = self.sim
        out = ["<h2 id='sample'>Changed claims, explained side by side</h2>",
               "<p>A sample of the claims each scenario changed (the same claims across scenarios where they "
               "change), each decided again with its full explanation: under the law in force on the left, under "
               "the scenario on the right, with the eigen risico the person had used by then under each.</p>"]
        for k in self.keys[1:]:
            items = sim.sample[k]
            out.append(f"<h3>{esc(self.heading(k))}</h3>")
            if not items:
                out.append("<p>No claim changed.</p>")
            for c in items:
                day = display.date(c.peildatum, self.language)
                out.append(f"""<section class="pz-sample" id="sample-{esc(_slug(k))}-{esc(_slug(c.claim_id))}">
<h4>claim <code>{esc(c.claim_id)}</code> · insured <code>{esc(c.insured_id)}</code> · {esc(day)}
· <span class="pz-muted">{esc(c.where)}</span></h4>
<p>changed: {", ".join(f"<code>{esc(o)}</code>" for o in c.changed)}</p>
<div class="pz-sides">{self.side(self.titles[BASE], c.before, c.used_before, c.changed)}
{self.side(self.heading(k), c.after, c.used_after, c.changed)}</div></section>""")
        return "\n".join(out)

    def side(self, title: str, d: Decision, used: dict[str, Decimal], changed: list[str]) -> str:
        rows = []
        for name, o in d.outputs.items():
            rule = o.rule
            detail = ""
            if name in changed and rule is not None:
                source = "; ".join(s.title + (f", {s.detail}" if s.detail else "") for s in rule.sources)
                facts = ", ".join(f"{k} = {self.names.value(k, v)}" for k, v in o.facts.items())
                changes = getattr(o, "scenario_changes", None) or []  # under a scenario: what of it decided
                by = ", ".join(f"{c.kind} {c.name}" for c in changes)
                detail = (f"<div class='pz-rule-title'>{esc(rule.title or '')}</div>"
                          + (f"<div class='pz-scenario'>decided by the scenario's {esc(by)}</div>" if by else "")
                          + (f"<div class='pz-src'>{esc(source)}</div>" if source else "")
                          + (f"<div class='pz-facts'>{esc(facts)}</div>" if facts else ""))
            rows.append(f"<tr{' class=pz-changed' if name in changed else ''}><th><code>{esc(name)}</code></th>"
                        f"<td class='num'>{esc(self.value_text(o))}</td>"
                        f"<td>{f'<code>{esc(rule.name)}</code>' if rule else ''}{detail}</td></tr>")
        inputs = self.sim.variants[0].book.program.inputs
        state = ", ".join(f"<code>{esc(k)}</code> = "
                          f"{esc(euro(v) if k in inputs and inputs[k].type.kind == 'money' else format(v, 'f'))}"
                          for k, v in used.items())
        text = render_decision(d, program=self.programs.get(d.rulebook))
        return f"""<div class="pz-side"><h5>{esc(title)}</h5>
<p class="pz-state">used so far this year: {state or "–"}</p>
<table class="pz-table pz-compact"><colgroup><col class="pz-c1"><col class="pz-c2"><col></colgroup>
<tbody>{"".join(rows)}</tbody></table>
<details><summary>the full explanation</summary><pre>{esc(text)}</pre></details></div>"""

    def value_text(self, o: OutputDecision) -> str:
        if o.status not in ("value", "default"):
            return f"({o.status})"
        if o.type == "money" and o.value is not None:
            return euro(Decimal(str(o.value)))
        return display.value(o.value, o.type, self.language)

    def rejections(self) -> str:
        sim = self.sim
        if not sim.rejected:
            return ""
        rows = "".join(f"<tr><td><code>{esc(w)}</code></td><td>{esc(e)}</td></tr>" for w, e in sim.rejections)
        more = f"<p class='pz-note'>and {sim.rejected - len(sim.rejections)} more</p>" \
            if sim.rejected > len(sim.rejections) else ""
        return f"""<h2 id="rejections">Claims that could not be read</h2>
<table class="pz-table"><tbody>{rows}</tbody></table>{more}"""

    # ---------------------------------------------------------- charts (inline SVG)

    def chart_id(self) -> str:
        self.charts += 1
        return f"pz-chart-{self.charts}"

    def bar_chart(self, title: str, groups: list[tuple[str, dict[str, Decimal]]], money: bool) -> str:
        """Grouped vertical bars: one group per label, one bar per variant."""
        width, height, left, bottom, top = 760, 280, 96, 56, 16
        values = [v for _, per in groups for v in per.values()]
        hi = max([Decimal(0), *values])
        lo = min([Decimal(0), *values])
        span = (hi - lo) or Decimal(1)
        plot_h = height - bottom - top
        n = max(1, len(groups))
        group_w = (width - left - 8) / n
        bar_w = max(2.0, min(28.0, group_w * 0.8 / max(1, len(self.keys))))

        def y(v: Decimal) -> float:
            return top + float((hi - v) / span) * plot_h

        parts = [self.axis(left, width, y, lo, hi, money)]
        for g, (label, per) in enumerate(groups):
            x0 = left + g * group_w + (group_w - bar_w * len(self.keys)) / 2
            for i, k in enumerate(self.keys):
                v = per.get(k, Decimal(0))
                y0, y1 = sorted((y(v), y(Decimal(0))))
                parts.append(f"<rect class='pz-bar' x='{x0 + i * bar_w:.1f}' y='{y0:.1f}' width='{bar_w - 1:.1f}' "
                             f"height='{max(0.5, y1 - y0):.1f}' fill='{self.color(k)}'>"
                             f"<title>{esc(label)} · {esc(self.name(k))}: {esc(euro(v) if money else v)}</title></rect>")
            parts.append(f"<text x='{left + (g + 0.5) * group_w:.1f}' y='{height - bottom + 16}' "
                         f"text-anchor='middle' class='pz-label'>{esc(label[:18])}</text>")
        return self.figure(title, width, height, parts, self.keys)

    def change_chart(self, title: str, rows: list[tuple[str, dict[str, Decimal]]]) -> str:
        """Horizontal bars around zero: the change per value of a field, one bar per scenario."""
        scen = self.keys[1:]
        row_h = 12 * len(scen) + 10
        width, labels, pad = 860, 200, 110
        left, right = labels + pad, pad
        height = 24 + row_h * max(1, len(rows))
        values = [v for _, per in rows for v in per.values()]
        hi = max([Decimal(0), *values])
        lo = min([Decimal(0), *values])
        span = (hi - lo) or Decimal(1)
        plot_w = width - left - right

        def x(v: Decimal) -> float:
            return left + float((v - lo) / span) * plot_w

        zero = x(Decimal(0))
        parts = [f"<line x1='{zero:.1f}' x2='{zero:.1f}' y1='8' y2='{height - 8}' class='pz-axis'/>"]
        for r, (label, per) in enumerate(rows):
            y0 = 16 + r * row_h
            parts.append(f"<text x='{labels - 8}' y='{y0 + row_h / 2:.1f}' text-anchor='end' "
                         f"class='pz-label'>{esc(self.short(label, 30))}</text>")
            for i, k in enumerate(scen):
                v = per.get(k, Decimal(0))
                a, b = sorted((x(v), zero))
                parts.append(f"<rect class='pz-bar' x='{a:.1f}' y='{y0 + i * 12:.1f}' width='{max(0.5, b - a):.1f}' "
                             f"height='10' fill='{self.color(k)}'><title>{esc(label)} · {esc(self.name(k))}: "
                             f"{esc(signed_euro(v))}</title></rect>")
                parts.append(f"<text x='{max(a, b) + 4 if v >= 0 else a - 4:.1f}' y='{y0 + i * 12 + 9:.1f}' "
                             f"text-anchor='{'start' if v >= 0 else 'end'}' class='pz-value'>{esc(signed_euro(v))}</text>")
        return self.figure(title, width, height, parts, scen)

    def line_chart(self, title: str, series: dict[str, list[int]], total: int) -> str:
        """Cumulative persons per month, one line per variant."""
        width, height, left, bottom, top = 760, 260, 64, 40, 16
        hi = max([1, *(max(v) for v in series.values() if v)])
        plot_w, plot_h = width - left - 16, height - bottom - top

        def pt(m: int, v: int) -> str:
            return f"{left + m * plot_w / 11:.1f},{top + (1 - v / hi) * plot_h:.1f}"

        parts = []
        for frac in (0, 0.25, 0.5, 0.75, 1):
            yy = top + (1 - frac) * plot_h
            parts.append(f"<line x1='{left}' x2='{width - 16}' y1='{yy:.1f}' y2='{yy:.1f}' class='pz-grid'/>"
                         f"<text x='{left - 6}' y='{yy + 4:.1f}' text-anchor='end' class='pz-label'>"
                         f"{count(round(hi * frac))}</text>")
        for m, name in enumerate(MONTHS):
            parts.append(f"<text x='{left + m * plot_w / 11:.1f}' y='{height - bottom + 16}' text-anchor='middle' "
                         f"class='pz-label'>{name}</text>")
        for k, values in series.items():
            points = " ".join(pt(m, v) for m, v in enumerate(values))
            parts.append(f"<polyline class='pz-line' points='{points}' fill='none' stroke='{self.color(k)}' "
                         f"stroke-width='2.5'><title>{esc(self.name(k))}: {count(values[-1] if values else 0)} "
                         f"of {count(total)} by December</title></polyline>")
        return self.figure(title, width, height, parts, list(series))

    def axis(self, left: int, width: int, y: Any, lo: Decimal, hi: Decimal, money: bool) -> str:
        parts = []
        for frac in (0, 0.25, 0.5, 0.75, 1):
            v = lo + (hi - lo) * Decimal(str(frac))
            yy = y(v)
            label = euro(v).split(",")[0] if money else count(int(v))
            parts.append(f"<line x1='{left}' x2='{width - 8}' y1='{yy:.1f}' y2='{yy:.1f}' class='pz-grid'/>"
                         f"<text x='{left - 6}' y='{yy + 4:.1f}' text-anchor='end' class='pz-label'>{esc(label)}</text>")
        return "".join(parts)

    def figure(self, title: str, width: int, height: int, parts: list[str], keys: Sequence[str]) -> str:
        ident = self.chart_id()
        return (f"<figure class='pz-figure'><svg class='pz-chart' id='{ident}' role='img' "
                f"aria-labelledby='{ident}-t' viewBox='0 0 {width} {height}' width='{width}' height='{height}' "
                f"xmlns='http://www.w3.org/2000/svg'><title id='{ident}-t'>{esc(title)}</title>{''.join(parts)}</svg>"
                f"<figcaption>{esc(title)}</figcaption>{self.legend(keys)}</figure>")


STYLE = """
:root { color-scheme: light; --ink: #1f2333; --muted: #6b7080; --line: #d9dbe3; --soft: #f4f5f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 28px; margin: 8px 0 8px; } h2 { margin-top: 40px; border-bottom: 2px solid var(--line); }
h3 { margin-top: 28px; } h4 { margin: 0 0 4px; font-size: 15px; } h5 { margin: 0 0 6px; font-size: 14px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--soft); padding: 0 3px; border-radius: 3px; }
.pz-lead { font-size: 16px; } .pz-note, .pz-muted { color: var(--muted); font-size: 13px; }
.pz-table { border-collapse: collapse; margin: 8px 0; font-size: 13.5px; }
.pz-table th, .pz-table td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
.pz-table thead th { background: var(--soft); font-weight: 600; }
.pz-table td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.pz-scroll { overflow-x: auto; }
.pz-dot, .pz-legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
.pz-legend span { margin-right: 18px; font-size: 13px; }
.pz-figure { margin: 12px 0 20px; } .pz-figure figcaption { font-weight: 600; font-size: 14px; }
.pz-chart { max-width: 100%; height: auto; background: #fff; }
.pz-chart .pz-label { font-size: 11px; fill: var(--muted); } .pz-chart .pz-value { font-size: 10px; fill: var(--ink); }
.pz-chart .pz-grid { stroke: #eceef3; } .pz-chart .pz-axis { stroke: #9a9fb0; }
.pz-sample { border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; margin: 14px 0; }
.pz-sides { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
.pz-side { min-width: 0; } .pz-side pre { white-space: pre-wrap; font-size: 12px; background: var(--soft); padding: 8px; }
.pz-compact { table-layout: fixed; width: 100%; } .pz-compact th, .pz-compact td { padding: 2px 6px; overflow-wrap: anywhere; }
.pz-compact col.pz-c1 { width: 40%; } .pz-compact col.pz-c2 { width: 14%; }
.pz-scenario { color: #e65100; font-size: 12px; }
.pz-undecided { color: #b71c1c; font-size: 12px; white-space: normal; }
tr.pz-changed { background: #fff4e0; }
.pz-src, .pz-facts, .pz-state { color: var(--muted); font-size: 12px; }
.pz-rule-title { font-size: 12.5px; }
@media (max-width: 800px) { .pz-sides { grid-template-columns: 1fr; } }
"""
