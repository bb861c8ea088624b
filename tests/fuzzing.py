"""Fuzzing: rule texts and cases written as an attacker or an unlucky operator would, and what must hold for each.

What must hold:

- only passendezorg's own errors come out: ``check`` answers with diagnostics, a case is decided or
  is a CaseError, a claim is recorded or rejected; never another exception, never an "internal error";
- nothing runs past a time bound (``time_bound``: a hang is a finding);
- a rule book that passes ``check`` decides every well-formed case, in the interpreter, in the compiled
  engine (``decide_many``: the same values as ``evaluate``) and in the rete engine where it is installed
  (the same decision JSON);
- a batch (``evaluate_file``, JSON lines or CSV, one worker or two; ``claims process``) with bad cases
  decides every good one and reports each bad one.

The generators draw from a ``random.Random``, so a seed reproduces a finding. ``tests/test_fuzz.py``
runs a modest budget on every test run (``$PASSENDEZORG_FUZZ_EXAMPLES`` makes it larger);
``scripts/fuzz.py`` runs the large one and prints a summary.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import re
import signal
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from passendezorg import nodes as n
from passendezorg.errors import CaseError, PassendeZorgError
from passendezorg.keywords import keyword_table
from passendezorg.model import CaseFailure
from passendezorg.program import Program
from passendezorg.rulebook import RuleBook, check_path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "rules"
STORE_BOOK = ROOT / "tests" / "rulebooks_store" / "v1"
SAMPLE_CLAIMS = ROOT / "cases" / "declaraties-2025.jsonl"

# ------------------------------------------------------------------ findings and time bounds


class Hang(Exception):
    """Something ran past its time bound."""


@contextlib.contextmanager
def time_bound(seconds: float, what: str) -> Iterator[None]:
    """Raise Hang in the block once ``seconds`` have passed (on the main thread of a POSIX process; else no bound)."""
    if seconds <= 0 or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"{what} ran past {seconds:g} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Finding:
    kind: str  # crash, hang, internal, wrong (a good case not decided, a bad one not rejected), mismatch
    stage: str
    detail: str
    sample: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.stage}: {self.detail}\n    sample: {self.sample}"


@dataclass
class Tally:
    """Counts of what was run, and the findings (each a failure of what must hold)."""

    counts: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    def count(self, what: str, k: int = 1) -> None:
        self.counts[what] += k

    def find(self, kind: str, stage: str, detail: str, sample: Any) -> None:
        text = sample if isinstance(sample, str) else repr(sample)
        if len(text) > 600:
            text = text[:400] + f" … ({len(text):,} characters) … " + text[-150:]
        self.findings.append(Finding(kind, stage, detail, text))

    def merge(self, other: Tally) -> None:
        self.counts.update(other.counts)
        self.findings.extend(other.findings)

    @contextlib.contextmanager
    def guard(self, stage: str, sample: Any, seconds: float) -> Iterator[None]:
        """Record a hang or an exception that is not passendezorg's own as a finding (and swallow it)."""
        try:
            with time_bound(seconds, stage):
                yield
        except Hang as e:
            self.find("hang", stage, str(e), sample)
        except PassendeZorgError as e:
            self.find("crash", stage, f"unexpected {type(e).__name__}: {e}", sample)
        except Exception as e:  # noqa: BLE001 - exactly what the fuzzer looks for
            tb = traceback.format_exception(type(e), e, e.__traceback__)
            self.find("crash", stage, f"{type(e).__name__}: {str(e)[:300]}\n" + "".join(tb[-4:]), sample)


def _internal(text: str) -> bool:
    return "internal error" in text or "Traceback" in text


# ------------------------------------------------------------------ rule texts

KEYWORDS = sorted({w for lang in ("english", "nederlands") for w in keyword_table(lang).values()})
EXTREME_NUMBERS = ["0", "1", "-1", "7", "999999999999999999", "1000000000000000000", "9" * 4400, "0." + "1" * 30,
                   "0.0000000000000000000000000001", "€ 999999999999999999,99", "€ 9" + "9" * 30, "100 %", "12.5",
                   "€ 0", "00000000000000000000000001"]
EXTREME_DATES = ["9999-12-31", "0001-01-01", "2024-02-29", "2023-02-29", "0000-01-01", "9999-99-99", "2024-01-01"]
DURATIONS = ["1 days", "1 day", "5000 years", "999999999999999999 days", "12 months", "10000 jaar", "1 dagen",
             "9999 years", "120000 months", "3652059 days"]
PATHS = ['"/etc/passwd"', '"/proc/self/environ"', '"../../../../../../etc/passwd"', '"/dev/zero"', '"data"',
         '"data/../../x.csv"', '"data/link.csv"', '"data/t.csv"', '""', '"\\u0000"']
PUNCTUATION = ["(", ")", "[", "]", ",", ".", "=", "==", "+", "-", "*", "/", "<", ">=", "≠", "€", "%", ":", "#",
               '"', "'", "\n", "\t", " ", "\\", "×"]
ODD = ["\x00", "\ufeff", "\u202e", "é", "😀", "\r\n", "\r", '"' + "x" * 2000 + '"', "x" * 3000, "\u0661\u0662"]
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _pool(text: str) -> list[str]:
    names = list({m.group(0) for m in re.finditer(r"[A-Za-z_][\w.]*", text)})[:200] or ["x"]
    return names


def mutate(text: str, rnd: random.Random) -> str:
    """A shipped rule file, changed the way a careless edit, a bad merge or an attacker would."""
    names = _pool(text)
    for _ in range(rnd.randint(1, 4)):
        kind = rnd.randrange(12)
        lines = text.split("\n")
        if kind == 0 and text:  # a token replaced
            tokens = list(_TOKEN.finditer(text))
            if tokens:
                m = rnd.choice(tokens)
                text = text[:m.start()] + _piece(rnd, names) + text[m.end():]
        elif kind == 1 and len(lines) > 1:  # lines deleted
            a = rnd.randrange(len(lines))
            del lines[a:a + rnd.randint(1, 6)]
            text = "\n".join(lines)
        elif kind == 2 and lines:  # a block duplicated
            a = rnd.randrange(len(lines))
            block = lines[a:a + rnd.randint(1, 12)]
            at = rnd.randrange(len(lines) + 1)
            text = "\n".join(lines[:at] + block + lines[at:])
        elif kind == 3 and len(lines) > 1:  # lines swapped
            a, b = rnd.randrange(len(lines)), rnd.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
            text = "\n".join(lines)
        elif kind == 4:  # something inserted
            at = rnd.randrange(len(text) + 1)
            text = text[:at] + _piece(rnd, names) + text[at:]
        elif kind == 5:  # cut short
            text = text[:rnd.randrange(len(text) + 1)]
        elif kind == 6:  # numbers and dates made extreme
            text = re.sub(r"\b\d+([.,]\d+)?\b", lambda m: rnd.choice(EXTREME_NUMBERS) if rnd.random() < 0.3
                          else m.group(0), text)
            text = re.sub(r"\b\d{4}-\d{2}-\d{2}\b", lambda m: rnd.choice(EXTREME_DATES) if rnd.random() < 0.3
                          else m.group(0), text)
        elif kind == 7:  # a table that names a file outside the rule book
            text += (f"\ntabel t{rnd.randrange(99)}\n  bestand {rnd.choice(PATHS)}\n  sleutel code\n"
                     "  kolom code : tekst\n")
        elif kind == 8:  # deep nesting
            depth = rnd.choice([50, 99, 100, 101, 150, 400])
            inner = rnd.choice(names)
            at = rnd.randrange(len(text) + 1)
            text = text[:at] + "(" * depth + inner + ")" * depth + text[at:]
        elif kind == 9:  # a date made to overflow
            text = re.sub(r"\b(\d+) (dagen|maanden|jaar|jaren|days|months|years)\b",
                          lambda m: rnd.choice(DURATIONS), text)
        elif kind == 10 and lines:  # indentation changed
            a = rnd.randrange(len(lines))
            lines[a] = rnd.choice(["", " ", "\t", "        "]) + lines[a].lstrip()
            text = "\n".join(lines)
        else:  # odd characters
            at = rnd.randrange(len(text) + 1)
            text = text[:at] + rnd.choice(ODD) + text[at:]
    return text


def _piece(rnd: random.Random, names: list[str]) -> str:
    group = rnd.randrange(7)
    if group == 0:
        return f" {rnd.choice(KEYWORDS)} "
    if group == 1:
        return rnd.choice(EXTREME_NUMBERS)
    if group == 2:
        return rnd.choice(EXTREME_DATES)
    if group == 3:
        return rnd.choice(PUNCTUATION)
    if group == 4:
        return f" {rnd.choice(DURATIONS)} "
    if group == 5:
        return rnd.choice(ODD)
    return f" {rnd.choice(names)} "


# ------------------------------------------------------------------ generated rule books (most of them pass check)

CHOICES = ("alpha", "beta", "gamma")
INPUTS = {
    "c.day": "date", "c.born": "date", "c.n": "integer", "c.m": "integer", "c.amt": "money", "c.dec": "decimal",
    "c.flag": "boolean", "c.kind": "one of alpha, beta, gamma", "c.text": "text", "c.tags": "list of text",
    "c.nums": "list of integer",
}
TABLE_CSV = "code,points,amount,start,end\nA,3,12.50,2000-01-01,\nB,,999999999999999999.99,0001-01-01,9999-12-31\n" \
            "C,-999999999999999999,0,2020-01-01,2020-12-31\n"


TABLE_KEYS = ["c.text", '"A"', '"B"', '"C"']


class BookGen:
    """A random, mostly well-typed rule book in English, with the extremes of every bound within reach."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.values: list[tuple[str, str]] = []
        self.table = rnd.random() < 0.5

    def pick(self, options: list[Any]) -> Any:
        return self.rnd.choice(options)

    def chance(self, p: float) -> bool:
        return self.rnd.random() < p

    def refs(self, kind: str) -> list[str]:
        return [name for name, t in self.values if t == kind]

    def int_literal(self) -> str:
        return self.pick(["0", "1", "2", "3", "20", "100", "999999999999999999", "500000000000000000", "365"])

    def one(self, options: list[Callable[[], str]]) -> str:
        """One of the options, built only once chosen (building all of them would grow exponentially)."""
        return self.rnd.choice(options)()

    def integer(self, depth: int = 2) -> str:
        if depth <= 0 or self.chance(0.4):
            return self.pick(["c.n", "c.m", self.int_literal(), "p_int", *self.refs("integer")])
        d = depth - 1
        i, dec, day = (lambda: self.integer(d)), (lambda: self.decimal(d)), (lambda: self.date(d))
        options: list[Callable[[], str]] = [
            lambda: f"{i()} + {i()}", lambda: f"{i()} - {i()}", lambda: f"{i()} * {i()}", lambda: f"-({i()})",
            lambda: f"abs({i()})", lambda: f"age(c.born, {day()})", lambda: f"year({day()})", lambda: "count(c.tags)",
            lambda: "count(c.nums)", lambda: f"days_between({day()}, {day()})", lambda: f"round({dec()})",
            lambda: f"round_down({dec()} * 1.5)", lambda: f"min({i()}, {i()})", lambda: f"max({i()}, {i()})",
            lambda: f"({i()})"]
        if self.table:
            options.append(lambda: f"t[{self.pick(TABLE_KEYS)}].points")
        return self.one(options)

    def decimal(self, depth: int = 2) -> str:
        if depth <= 0 or self.chance(0.4):
            return self.pick(["c.dec", self.pick(["0.5", "1.25", "0.0000000000000000000000000001",
                                                  "999999999999999999.9", "80 %", "0.1"]), *self.refs("decimal")])
        d = depth - 1
        i, dec, m = (lambda: self.integer(d)), (lambda: self.decimal(d)), (lambda: self.money(d))
        return self.one([lambda: f"{dec()} * {dec()}", lambda: f"{dec()} + {i()}", lambda: f"{dec()} / {dec()}",
                         lambda: f"{i()} / {i()}", lambda: f"{m()} / {m()}", lambda: f"-{dec()}"])

    def money(self, depth: int = 2) -> str:
        if depth <= 0 or self.chance(0.4):
            return self.pick(["c.amt", self.pick(["€ 0", "€ 12,50", "€ 385", "€ 999999999999999999,99", "€ 0,01"]),
                              "p_amt", *self.refs("money")])
        d = depth - 1
        i, dec, m = (lambda: self.integer(d)), (lambda: self.decimal(d)), (lambda: self.money(d))
        options: list[Callable[[], str]] = [
            lambda: f"{m()} + {m()}", lambda: f"{m()} - {m()}", lambda: f"{m()} * {i()}", lambda: f"{m()} * {dec()}",
            lambda: f"max({m()}, € 0)", lambda: f"min({m()}, {m()})", lambda: f"-{m()}"]
        if self.table:
            options.append(lambda: f"t[{self.pick(TABLE_KEYS)}].amount")
        return self.one(options)

    def date(self, depth: int = 1) -> str:
        if depth <= 0 or self.chance(0.4):
            return self.pick(["c.day", "c.born", self.pick(EXTREME_DATES[:3] + ["2024-01-01", "1990-06-15"]),
                              *self.refs("date")])
        if self.chance(0.2):
            return f"start_of_month({self.date(depth - 1)})"
        return f"{self.date(depth - 1)} {self.pick(['+', '-'])} {self.pick(DURATIONS[:2] + DURATIONS[3:5] + DURATIONS[7:])}"

    def boolean(self, depth: int = 2) -> str:
        if depth <= 0 or self.chance(0.4):
            atoms: list[Callable[[], str]] = [
                lambda: f"{self.integer(1)} {self.pick(['<', '<=', '>', '>=', '=', '!='])} {self.integer(1)}",
                lambda: f"{self.money(1)} > {self.money(1)}", lambda: f"{self.date(1)} <= {self.date(1)}",
                lambda: "c.flag", lambda: f"c.kind = {self.pick(CHOICES)}",
                lambda: f"c.kind in [{', '.join(self.rnd.sample(CHOICES, 2))}]",
                lambda: f"{self.pick(['c.n', 'c.amt', 'c.day', 'c.text'])} is {self.pick(['known', 'missing'])}",
                lambda: '"x" in c.tags', lambda: f"{self.integer(1)} in c.nums",
                lambda: f"{self.decimal(1)} >= 0.5", *[(lambda r=r: r) for r in self.refs("boolean")]]
            if self.table:
                atoms.append(lambda: f"c.text {self.pick(['in', 'not in'])} t")
            return self.one(atoms)
        d = depth - 1
        b = lambda: self.boolean(d)  # noqa: E731
        return self.one([lambda: f"{b()} and {b()}", lambda: f"{b()} or {b()}", lambda: f"not ({b()})",
                         lambda: f"({b()})"])

    def expr(self, kind: str) -> str:
        text = {"integer": self.integer, "decimal": self.decimal, "money": self.money, "date": self.date,
                "boolean": self.boolean}[kind]() if kind != "enum" else self.pick([*CHOICES, "c.kind"])
        if self.chance(0.02):  # nested close to the limit (100 levels), or just past it
            depth = self.pick([60, 90, 97, 98, 101])
            text = "(" * depth + text + ")" * depth
        return text

    def book(self) -> tuple[str, dict[str, str]]:
        out = ["language english", ""]
        out += [f"input {name} : {t}" for name, t in INPUTS.items()]
        out += ["", "peildatum c.day" if self.chance(0.9) else "", ""]
        out += ["parameter p_int : integer", f"  from 2000-01-01 = {self.int_literal()}", '    source "x"',
                f"  from {self.pick(['2020-01-01', '9999-12-31'])} = unknown"]
        out += ["parameter p_amt : money", "  from 0001-01-01 = € 385", '    source "x"']
        files = {}
        if self.table:
            out += ["table t", '  file "data/t.csv"', "  key code", "  column code : text",
                    "  column points : integer", "  column amount : money", "  valid from column start until column end"]
            files["data/t.csv"] = TABLE_CSV
        out.append("")
        kinds = ["integer", "decimal", "money", "date", "boolean", "enum"]
        for i in range(self.rnd.randint(1, 7)):
            kind = self.pick(kinds)
            type_text = "one of alpha, beta, gamma" if kind == "enum" else kind
            name = f"v{i}"
            role = "output" if self.chance(0.6) else "derived"
            if self.chance(0.3):
                out.append(f"{role} {name} : {type_text}" if role == "output" else f"derived {name} : {type_text}")
                if role == "output":
                    out.append(f"  default {self.expr(kind)}")
                    self.values.append((name, kind))
                    continue
                out[-1] += f" = {self.expr(kind)}"
                self.values.append((name, kind))
                continue
            out.append(f"{role} {name} : {type_text}")
            if self.chance(0.3):
                out.append(f"  default {self.expr(kind)}")
            rules = []
            for j in range(self.rnd.randint(1, 4)):
                rule = f"r{i}_{j}"
                lines = [f"rule {rule}", '  source "x"']
                if rules and self.chance(0.4):
                    lines.append(f"  exception to {self.pick(rules)}")
                if self.chance(0.2):
                    lines.append(f"  valid from {self.pick(EXTREME_DATES[:3] + ['2020-01-01'])}")
                if self.chance(0.8):
                    lines.append(f"  when {self.boolean()}")
                lines.append(f"  then {name} = {self.expr(kind)}")
                rules.append(rule)
                out += lines + [""]
            if self.chance(0.03):  # a long chain of exceptions: at or just beyond the limit
                depth = self.pick([99, 100, 101])
                for j in range(depth):
                    parent = rules[-1]
                    rule = f"r{i}_x{j}"
                    out += [f"rule {rule}", '  source "x"', f"  exception to {parent}", f"  when c.n > {j}",
                            f"  then {name} = {self.expr(kind)}", ""]
                    rules.append(rule)
            self.values.append((name, kind))
        return "\n".join(out) + "\n", files


# ------------------------------------------------------------------ cases: well-formed and malformed

BAD_AMOUNTS = ['"0.005"', '"1_000"', '"1E+999999999"', '"1e999999"', '"-1e400"', '"-5.00"', '"\\u0661\\u0662\\u0663"', '"NaN"',
               '"12,34,56"', '"€€5"', '"1000000000000000000"', '"0x10"', '" "', '""', "1e999999", "-1e400", "-5",
               "10000000000000000000", "-0.01", "Infinity", "NaN", "true", "[]", "{}"]
BAD_INTEGERS = ['"12"', "12.5", "true", "10000000000000000000", "-10000000000000000000", "9" * 5000, "1e400",
                '"1_000"', '"x"', "[1]"]
BAD_DECIMALS = ['"1_0"', '"1e5"', "Infinity", "1e400", "10000000000000000000", '"abc"', "false", '"0.' + "1" * 30 + '"']
BAD_DATES = ['"2024-02-30"', '"9999-13-01"', "20240101", '""', '"2024-1-1"', "true", '"10000-01-01"']
BAD_ANY = {"enum": ['"zzz"', "5", "[]"], "boolean": ['"maybe"', "2", "[]"], "text": ["5", "[]", "{}", "true"],
           "list": ['"x"', '[1, {"a": 1}]', "5", "{}"]}


def _value(kind: str, item: str | None, rnd: random.Random) -> Any:
    if kind == "boolean":
        return rnd.choice([True, False, "ja", "nee", "true"])
    if kind == "integer":
        return rnd.choice([0, 1, -1, 3, 21, 365, rnd.randint(-1000, 1000), 10**18 - 1, -(10**18) + 1,
                           rnd.randint(-(10**18) + 1, 10**18 - 1)])
    if kind == "decimal":
        return rnd.choice(["0.5", 0.25, "999999999999999999.9", "-3.75", "0.0000000000000000000000000001", 7, "12."])
    if kind == "money":
        return rnd.choice(["12.50", "0", 385, "€ 12,34", "999999999999999999.99", 0.1, "0.05", "7.100",
                           str(rnd.randint(0, 10**6)) + ".99"])
    if kind == "date":
        return rnd.choice(["2024-03-01", "9999-12-31", "0001-01-01", "2024-02-29", "1980-05-01",
                           (dt.date(1900, 1, 1) + dt.timedelta(days=rnd.randrange(60000))).isoformat()])
    if kind == "text":
        return rnd.choice(["A", "B", "C", "", "é\"x", "😀", "x" * 500, "\u0000", "line\nbreak"])
    if kind == "enum":
        assert item is not None
        return rnd.choice(item.split(", "))
    raise AssertionError(kind)


def _kind(t: n.TypeRef) -> tuple[str, str | None]:
    if t.kind == "enum":
        return "enum", ", ".join(t.choices)
    if t.kind == "list":
        assert t.item is not None
        return "list", _kind(t.item)[0] + ("|" + ", ".join(t.item.choices) if t.item.kind == "enum" else "")
    return t.kind, None


def good_facts(program: Program, rnd: random.Random) -> dict[str, Any]:
    """Facts that fit the rule book's inputs (some left out); nested by the dots of their names."""
    facts: dict[str, Any] = {}
    for name, decl in program.inputs.items():
        if name != program.peildatum and rnd.random() < 0.2:
            continue
        kind, item = _kind(decl.type)
        if kind == "list":
            assert item is not None
            inner, _, choices = item.partition("|")
            if inner == "list":
                continue  # a list of lists: left out
            value: Any = [_value(inner, choices or None, rnd) for _ in range(rnd.randint(0, 3))]
        else:
            value = _value(kind, item, rnd)
        node = facts
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return facts


def good_case(program: Program, rnd: random.Random, name: str) -> dict[str, Any]:
    case: dict[str, Any] = {"id": name, "input": good_facts(program, rnd)}
    if program.peildatum is None:
        case["on"] = "2024-06-01"
    return case


def bad_case_line(program: Program, rnd: random.Random, name: str) -> tuple[str, bytes]:
    """A JSON line of a case that must be rejected, and what is wrong with it."""
    case = good_case(program, rnd, name)
    text = json.dumps(case, ensure_ascii=False)
    leaves = [(k, d.type) for k, d in program.inputs.items()]
    options: list[str] = ["unknown", "duplicate", "utf8", "deep", "notjson", "array", "bigint"]
    by_kind = {_kind(t)[0]: k for k, t in leaves}
    options += [f"type:{kind}" for kind in by_kind]
    if program.peildatum is not None:
        options.append("no peildatum")
    what = rnd.choice(options)

    def with_fact(name_: str, raw: str) -> bytes:
        value = json.dumps("\0MARK\0")
        facts = dict(case)
        facts["input"] = json.loads(json.dumps(case["input"]))
        node = facts["input"]
        parts = name_.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                return b'{"input": 5}'
        node[parts[-1]] = "\0MARK\0"
        return json.dumps(facts, ensure_ascii=False).replace(value, raw).encode()

    if what == "unknown":
        case["input"]["zz_unknown"] = 1
        return what, json.dumps(case).encode()
    if what == "duplicate":
        return what, text.replace('{"id": ', '{"id": "dup", "id": ', 1).encode()
    if what == "utf8":
        return what, text.encode().replace(b'"id": "', b'"id": "\xff\xfe', 1)
    if what == "deep":
        return what, ('{"id": "deep", "input": {"c": ' + "[" * 3000 + "]" * 3000 + "}}").encode()
    if what == "notjson":
        return what, rnd.choice([b"{", b"[1, 2", b"nul", b'{"input": }', b"\x00\x01", b"'single'"])
    if what == "array":
        return what, b"[1, 2, 3]"
    if what == "bigint":
        k, _ = rnd.choice(leaves) if leaves else ("c.n", None)
        return what, with_fact(k, "9" * 5000)
    if what == "no peildatum":
        assert program.peildatum is not None
        node = case["input"]
        parts = program.peildatum.split(".")
        for part in parts[:-1]:
            node = node.get(part, {})
        node.pop(parts[-1], None)
        return what, json.dumps(case).encode()
    kind = what.split(":", 1)[1]
    pool = {"money": BAD_AMOUNTS, "integer": BAD_INTEGERS, "decimal": BAD_DECIMALS, "date": BAD_DATES}.get(kind) \
        or BAD_ANY[kind]
    return what, with_fact(by_kind[kind], rnd.choice(pool))


# ------------------------------------------------------------------ running a rule text


@dataclass
class Limits:
    check_s: float = 30.0
    case_s: float = 20.0
    batch_s: float = 120.0


def check_text(files: dict[str, str | bytes], folder: Path, tally: Tally, limits: Limits) -> RuleBook | None:
    """Check a rule book written to ``folder``; its RuleBook if it passes, else None. Findings go to ``tally``."""
    if folder.exists():  # the files of the last rule text go (its folders may stay: they hold no rule file)
        for old in folder.rglob("*"):
            if old.is_file() or old.is_symlink():
                old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogateescape")
    tally.count("rule texts")
    book = None
    sample = next(iter(files.values()))
    with tally.guard("check", sample, limits.check_s):
        report = check_path(folder)
        for d in report.diagnostics:
            if d.span.line < 0 or not d.message:
                tally.find("wrong", "check", f"a diagnostic without a place or a message: {d}", sample)
            if _internal(d.message):
                tally.find("internal", "check", d.message, sample)
        if report.program is not None:
            tally.count("rule texts that pass check")
            book = RuleBook(report.program, report.warnings)
        elif not report.errors:
            tally.find("wrong", "check", "no program and no error", sample)
    return book


def run_cases(book: RuleBook, rnd: random.Random, tally: Tally, limits: Limits, sample: str, good: int = 4,
              bad: int = 4, rete: bool = False, compiled: bool = True) -> list[tuple[bool, bytes]]:
    """Evaluate well-formed and malformed cases on a rule book that passes check; the lines, for a batch."""
    program = book.program
    lines: list[tuple[bool, bytes]] = []
    cases = [good_case(program, rnd, f"g{k}") for k in range(good)]
    for case in cases:
        tally.count("cases")
        tally.count("well-formed cases")
        with tally.guard("evaluate (native)", (sample, case), limits.case_s):
            try:
                decision = book.evaluate(case)
            except CaseError as e:
                tally.find("wrong", "evaluate (native)", f"a well-formed case was rejected: {e}", (sample, case))
                continue
            for o in [*decision.outputs.values(), *decision.derived.values()]:
                if o.reason and _internal(o.reason):
                    tally.find("internal", "evaluate (native)", o.reason, (sample, case))
            if rete:
                tally.count("cases through rete")
                other = book.evaluate(case, engine="rete")
                if other.to_json() != decision.to_json():
                    tally.find("mismatch", "evaluate (rete)", "the rete engine decided otherwise", (sample, case))
        lines.append((True, json.dumps(case, ensure_ascii=False).encode()))
    for k in range(bad):
        what, raw = bad_case_line(program, rnd, f"b{k}")
        tally.count("cases")
        tally.count(f"malformed cases: {what}")
        with tally.guard("evaluate (malformed)", (sample, raw), limits.case_s):
            try:
                data = json.loads(raw.decode("utf-8"))
            except (ValueError, RecursionError):
                data = None
            if isinstance(data, dict) and "input" in data and what not in ("duplicate", "deep", "bigint"):
                try:
                    book.evaluate(data["input"] if "on" not in data else data)
                except CaseError:
                    pass
                else:
                    tally.find("wrong", "evaluate (malformed)", f"a malformed case ({what}) was decided", (sample, raw))
        lines.append((False, raw))
    if not compiled:
        return lines
    # the compiled engine: the same values as the interpreter
    items: list[Any] = [*cases]
    tally.count("rule books through the compiled engine")
    with tally.guard("decide_many", sample, limits.batch_s):
        results = book.decide_many(items)
        for case, fast in zip(cases, results):
            if isinstance(fast, CaseFailure):
                tally.find("wrong", "decide_many", f"a well-formed case failed: {fast.error}", (sample, case))
                continue
            decision = book.evaluate(case)
            want = {k: (o.status, o.value) for k, o in decision.outputs.items()}
            got = {k: (fast.status.get(k, "value"), fast.values[k]) for k in fast.values}
            want = {k: (s, v if s in ("value", "default") else None) for k, (s, v) in want.items()}
            if got != want:
                tally.find("mismatch", "decide_many", f"compiled {got} != interpreted {want}", (sample, case))
    return lines


def run_batch(book: RuleBook, lines: list[tuple[bool, bytes]], folder: Path, tally: Tally, limits: Limits,
              sample: str, jobs: int = 1) -> None:
    """``evaluate_file`` on the lines: every good one decided, every bad one a failure record."""
    from passendezorg.batch import evaluate_file

    src = folder / "cases.jsonl"
    src.write_bytes(b"\n".join(raw for _, raw in lines) + b"\n")
    out = folder / "out.jsonl"
    tally.count("batches")
    with tally.guard(f"evaluate_file (jobs={jobs})", sample, limits.batch_s):
        report = evaluate_file(book, src, out, jobs=jobs)
        good = sum(1 for ok, _ in lines if ok)
        records = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        decided = [r for r in records if "error" not in r]
        failed = [r for r in records if "error" in r]
        if (len(decided), len(failed)) != (good, len(lines) - good) or report.failures != len(failed):
            tally.find("wrong", "evaluate_file", f"{len(decided)} decided and {len(failed)} failed of {good} good "
                       f"and {len(lines) - good} bad lines", sample)
        for r in failed:
            if _internal(r["error"]):
                tally.find("internal", "evaluate_file", r["error"], sample)


# ------------------------------------------------------------------ case files (YAML, JSON) and CSV batches

YAML_BAD = [
    ("not UTF-8", lambda text: text.encode() + b"\n# \xff\xfe\n"),
    ("nested 3000 deep", lambda text: (text + "\n  zz: " + "[" * 3000 + "]" * 3000 + "\n").encode()),
    ("key given twice", lambda text: text.replace("input:", "input: {}\ninput:", 1).encode()),
    ("tab indentation", lambda text: (text.replace("\n  ", "\n\t", 1) if "\n  " in text  # a case with no nested facts:
                                      else text + "zz:\n\tzy: 1\n").encode()),  # a nested key indented by a tab
    ("unknown field", lambda text: (text + "zz_unknown: 1\n").encode()),
    ("alias bomb", lambda text: (text + "\nzz: &a [x, x, x, x, x, x, x, x, x, x]\nzy: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                                 "zx: [*b, *b, *b, *b, *b, *b, *b, *b]\n").encode()),
    ("5000 digits", lambda text: (text + "zz: " + "9" * 5000 + "\n").encode()),
    ("a list", lambda text: b"- 1\n- 2\n"),
    ("two documents", lambda text: (text + "---\n" + text).encode()),
    ("python tag", lambda text: (text + "zz: !!python/object/apply:os.system ['true']\n").encode()),
    ("binary", lambda text: b"\x00\x01\x02" + text.encode()),
]


def case_file(program: Program, rnd: random.Random) -> tuple[str, str, bytes, bool]:
    """A case file: (what, suffix, content, whether it is well-formed)."""
    import yaml

    case = good_case(program, rnd, "f")
    case.pop("id")
    if rnd.random() < 0.5:
        suffix = ".json"
        if rnd.random() < 0.3:
            return "well-formed", suffix, json.dumps(case, ensure_ascii=False).encode(), True
        what, raw = bad_case_line(program, rnd, "f")
        return what, suffix, raw, False
    suffix = ".yaml"
    text = yaml.safe_dump(case, allow_unicode=True)
    if rnd.random() < 0.3:
        return "well-formed", suffix, text.encode(), True
    if rnd.random() < 0.5:
        what, raw = bad_case_line(program, rnd, "f")  # JSON is YAML too
        if what in ("duplicate", "deep", "utf8", "notjson", "array", "unknown", "no peildatum") \
                or what.startswith("type:"):  # (5000 digits in YAML are a text: a number only to JSON)
            return f"yaml {what}", suffix, raw, False
    what, make = rnd.choice(YAML_BAD)
    return f"yaml {what}", suffix, make(text), False


def run_case_files(book: RuleBook, rnd: random.Random, folder: Path, tally: Tally, limits: Limits, count: int) -> None:
    """Case files through read_case_file and evaluate: well-formed ones decided, the others a CaseError."""
    from passendezorg.cases import read_case_file

    folder.mkdir(parents=True, exist_ok=True)
    for k in range(count):
        what, suffix, content, good = case_file(book.program, rnd)
        path = folder / f"case{k}{suffix}"
        path.write_bytes(content)
        tally.count("cases")
        tally.count("case files")
        tally.count("well-formed cases" if good else f"malformed cases: file {what}")
        with tally.guard("evaluate (case file)", (what, content), limits.case_s):
            try:
                book.evaluate(read_case_file(path))
            except CaseError as e:
                if good:
                    tally.find("wrong", "evaluate (case file)", f"a well-formed case file was rejected: {e}", content)
                if _internal(str(e)):
                    tally.find("internal", "evaluate (case file)", str(e), content)
                if not str(e).startswith(str(path)):
                    tally.find("wrong", "evaluate (case file)", f"the error does not name the file: {e}", content)
            else:
                if not good:
                    tally.find("wrong", "evaluate (case file)", f"a malformed case file ({what}) was decided", content)
        path.unlink()


def _cell(kind: str, value: Any) -> str:
    if isinstance(value, bool):
        return "ja" if value else "nee"
    return str(value)


CSV_BAD = ["cells", "amount", "integer", "date", "utf8", "long cell", "quote"]


def csv_batch(program: Program, rnd: random.Random, good: int, bad: int) -> tuple[bytes, int, int] | None:
    """A CSV file of cases (id, the inputs that are not lists, and `on` without a peildatum); None if the rule
    book has no such inputs."""
    columns = [(k, _kind(d.type)) for k, d in program.inputs.items() if d.type.kind != "list"]
    if not columns:
        return None
    header = ["id", *[k for k, _ in columns]] + (["on"] if program.peildatum is None else [])
    rows: list[tuple[bool, bytes]] = []
    for k in range(good):
        cells = [f"g{k}"]
        for name, (kind, item) in columns:
            if name != program.peildatum and rnd.random() < 0.2:
                cells.append("")
                continue
            v = _value(kind, item, rnd)
            if kind == "text":
                v = str(v).replace("\n", " ").replace("\x00", "")
            cells.append(_cell(kind, v))
        if program.peildatum is None:
            cells.append("2024-06-01")
        rows.append((True, _csv_line(cells)))
    kinds = {kind for _, (kind, _item) in columns}
    open_quote: bytes | None = None
    for k in range(bad):
        cells = [f"b{k}", *["" for _ in columns]] + (["2024-06-01"] if program.peildatum is None else [])
        if program.peildatum is not None:
            cells[1 + [c for c, _ in columns].index(program.peildatum)] = "2024-03-01"
        what = rnd.choice(CSV_BAD)
        if what == "amount" and "money" in kinds:
            j = 1 + [t[0] for _, t in columns].index("money")
            cells[j] = rnd.choice(["1_000", "-5", "1E+999999999", "\u0661\u0662", "1000000000000000000", "NaN", "0.005"])
        elif what == "integer" and "integer" in kinds:
            j = 1 + [t[0] for _, t in columns].index("integer")
            cells[j] = rnd.choice(["x", "1.5", "1_000", "9" * 5000, "10000000000000000000"])
        elif what == "date" and "date" in kinds:
            j = 1 + [t[0] for _, t in columns].index("date")
            cells[j] = rnd.choice(["2024-02-30", "9999-13-01", "20240101"])
        elif what == "utf8":
            rows.append((False, _csv_line(cells).replace(b"b", b"b\xff", 1)))
            continue
        elif what == "long cell":
            cells[0] = "x" * 200_000
        elif what == "quote":  # a quote left open: the record runs to the end of the file, one failure
            open_quote = open_quote or _csv_line(cells)[:-1] + b'"\n'
            continue
        else:
            cells.append("extra")
        rows.append((False, _csv_line(cells)))
    rnd.shuffle(rows)
    if open_quote is not None:  # last, for a quoted cell may span lines
        rows.append((False, open_quote))
    return (_csv_line(header) + b"".join(r + b"" for _, r in rows), good, len(rows) - good)


def _csv_line(cells: list[str]) -> bytes:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue().encode("utf-8")


def run_csv_batch(book: RuleBook, rnd: random.Random, folder: Path, tally: Tally, limits: Limits, sample: str,
                  good: int = 4, bad: int = 4) -> None:
    """``evaluate_file`` on a CSV file: every good row decided, every bad one a failure record."""
    from passendezorg.batch import evaluate_file

    made = csv_batch(book.program, rnd, good, bad)
    if made is None:
        return
    content, n_good, n_bad = made
    src = folder / "cases.csv"
    src.write_bytes(content)
    out = folder / "out.jsonl"
    tally.count("batches")
    tally.count("cases", n_good + n_bad)
    tally.count("well-formed cases", n_good)
    tally.count("malformed cases: csv row", n_bad)
    with tally.guard("evaluate_file (csv)", sample, limits.batch_s):
        report = evaluate_file(book, src, out)
        records = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        failed = [r for r in records if "error" in r]
        if (len(records) - len(failed), len(failed)) != (n_good, n_bad) or report.failures != len(failed):
            tally.find("wrong", "evaluate_file (csv)", f"{len(records) - len(failed)} decided and {len(failed)} "
                       f"failed of {n_good} good and {n_bad} bad rows: "
                       + "; ".join(r["error"] for r in failed[:4]), content.decode("utf-8", "replace")[:2000])
        for r in failed:
            if _internal(r["error"]):
                tally.find("internal", "evaluate_file (csv)", r["error"], sample)


# ------------------------------------------------------------------ claims


def claim_lines(rnd: random.Random, good: int, bad: int, start: int = 0) -> tuple[list[bytes], int]:
    """Claims for the store's test rule book (v1): well-formed ones (always decidable) and malformed ones."""
    out: list[bytes] = []
    for k in range(good):
        bedrag = rnd.choice(["12.50", 0, 385, "999999.99", "0.01", "€ 12,34"])
        out.append(json.dumps({"claim_id": f"G-{start + k}", "insured_id": f"V-{rnd.randrange(5)}", "input": {
            "behandeling": {"datum": rnd.choice(["2024-03-01", "2025-01-01", "9999-12-31", "2016-01-01"]),
                            "soort": rnd.choice(["ziekenhuiszorg", "fysiotherapie", "huisartsenzorg"]),
                            "bedrag": bedrag}}}).encode())
    for k in range(bad):
        cid = f"B-{start + k}"
        kind = rnd.randrange(10)
        head = f'{{"claim_id": "{cid}", "insured_id": "V-1", "input": '
        if kind < 4:
            line = (head + '{"behandeling": {"datum": "2024-03-01", "soort": "ziekenhuiszorg", "bedrag": '
                    + rnd.choice(BAD_AMOUNTS) + "}}}").encode()
        elif kind == 4:
            line = f'{{"claim_id": "{cid}", "claim_id": "X", "insured_id": "V-1", "input": {{}}}}'.encode()
        elif kind == 5:
            line = f'{{"claim_id": "{cid}", "insured_id": "V-\xff", "input": {{}}}}'.encode("latin-1")
        elif kind == 6:
            line = (head + '{"behandeling": ' + "[" * 3000 + "]" * 3000 + "}}").encode()
        elif kind == 7:
            line = (head + '{"behandeling": {"datum": ' + rnd.choice(BAD_DATES) + "}}}").encode()
        elif kind == 8:
            line = rnd.choice([b"{", b"[]", b'{"claim_id": true}', b'{"claim_id": "x", "insured_id": "y"}'])
        else:
            line = (head + '{"behandeling": {"datum": "2024-03-01", "soort": "ziekenhuiszorg", "bedrag": "1.00", '
                    '"zz": 1}}}').encode()
        out.append(line)
    rnd.shuffle(out)
    return out, good


def run_claims(lines: list[bytes], good: int, folder: Path, tally: Tally, limits: Limits, workers: int = 1) -> None:
    """``claims process`` on the lines: every good claim recorded, every bad one rejected with its line."""
    from passendezorg.cli_claims import run_batch as process

    src = folder / "claims.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    db = folder / "claims.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    tally.count("claims", len(lines))
    tally.count("claims batches")
    names = {"used_input": "verzekerde.eigen_risico_verbruikt", "deduction_output": "eigen_risico_inhouding",
             "payout_output": "vergoeding"}
    with tally.guard(f"claims process (workers={workers})", lines[:3], limits.batch_s):
        summary = process(src, STORE_BOOK, f"sqlite:///{db}", workers, names)
        if (summary.recorded + summary.unchanged, len(summary.rejected)) != (good, len(lines) - good):
            wrongly = [f"{r.claim_id}: {r.reason}" for r in summary.rejected if (r.claim_id or "").startswith("G-")]
            tally.find("wrong", "claims process", f"{summary.recorded} recorded and {len(summary.rejected)} rejected "
                       f"of {good} good and {len(lines) - good} bad claims: " + "; ".join(wrongly[:5]), lines[:5])
        for r in summary.rejected:
            if _internal(str(r.reason)) or not (r.where or "").startswith(str(src)):
                tally.find("internal", "claims process", f"{r.where}: {r.reason}", lines[:3])


# ------------------------------------------------------------------ one step of the large run


def shipped_files() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(SHIPPED.glob("*.pz"))}


def rule_text(rnd: random.Random, shipped: dict[str, str]) -> tuple[str, dict[str, str | bytes]]:
    """One rule text to check: a mutated shipped file (alone, or now and then with the whole book), or a
    generated book."""
    roll = rnd.random()
    if roll < 0.45:
        name = rnd.choice(sorted(shipped))
        return "mutated shipped file", {name: mutate(shipped[name], rnd)}
    if roll < 0.46:
        name = rnd.choice(sorted(shipped))
        files: dict[str, str | bytes] = dict(shipped)
        files[name] = mutate(shipped[name], rnd)
        for p in (SHIPPED / "data").glob("*"):
            files[f"data/{p.name}"] = p.read_bytes()
        return "mutated shipped book", files
    text, extra = BookGen(rnd).book()
    if rnd.random() < 0.3:
        text = mutate(text, rnd) if rnd.random() < 0.5 else text
    return "generated book", {"book.pz": text, **extra}


def fuzz_step(seed: int, folder: Path, tally: Tally, limits: Limits, shipped: dict[str, str],
              rete_every: int = 0, batch_every: int = 5, compiled_every: int = 1, good: int = 4, bad: int = 4) -> None:
    """Check one rule text; if it passes, evaluate cases on it (and now and then a batch, and the rete engine)."""
    rnd = random.Random(seed)
    kind, files = rule_text(rnd, shipped)
    tally.count(f"rule texts: {kind}")
    book = check_text(files, folder / "book", tally, limits)
    if book is None:
        return
    sample = f"seed {seed}: " + str(next(iter(files.values())))
    rete = bool(rete_every) and seed % rete_every == 0
    lines = run_cases(book, rnd, tally, limits, sample, good, bad, rete, seed % compiled_every == 0)
    if batch_every and seed % batch_every == 0:
        run_batch(book, lines, folder, tally, limits, sample, jobs=2 if seed % (batch_every * 7) == 0 else 1)
        run_csv_batch(book, rnd, folder, tally, limits, sample)
        run_case_files(book, rnd, folder / "files", tally, limits, 4)


def summary(tally: Tally, seconds: float) -> str:
    c = tally.counts
    kinds = Counter(f.kind for f in tally.findings)
    malformed = sum(v for k, v in c.items() if k.startswith("malformed cases: "))
    lines = [
        f"rule texts          {c['rule texts']:>9,}  ({c['rule texts that pass check']:,} pass check; "
        + ", ".join(f"{v:,} {k.split(': ', 1)[1]}" for k, v in sorted(c.items()) if k.startswith("rule texts: ")) + ")",
        f"cases               {c['cases']:>9,}  ({c['well-formed cases']:,} well-formed, {malformed:,} malformed; "
        f"{c['cases through rete']:,} well-formed through rete as well)",
        f"batches             {c['batches']:>9,}  (evaluate_file)",
        f"claims              {c['claims']:>9,}  (in {c['claims batches']:,} runs of claims process)",
        f"crashes             {kinds['crash']:>9,}",
        f"hangs               {kinds['hang']:>9,}",
        f"internal errors     {kinds['internal']:>9,}",
        f"wrong answers       {kinds['wrong']:>9,}",
        f"engine mismatches   {kinds['mismatch']:>9,}",
        f"time                {seconds:>9.1f} s",
    ]
    for f in tally.findings[:20]:
        lines.append(str(f))
    return "\n".join(lines)


def failures(tally: Tally) -> list[Finding]:
    return list(tally.findings)


Check = Callable[[Tally], None]
