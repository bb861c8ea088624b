#!/usr/bin/env python3
"""The passendezorg benchmark: every figure of the throughput issue, in one run, every answer checked.

Run from the repository root::

    python bench/run.py            # every figure, at sizes that take a few minutes on 2 cores
    python bench/run.py --full     # the issue's sizes: 1,000,000 claims in the batches and the case scaling
    python bench/run.py --quick    # a smoke run (about a minute)

Sections: the claims6 yardstick in memory (hand-written Python, the compiled
engine, the interpreter, the rete engine when it runs here), the shipped rule
book and its cases, batches from a JSON-lines file on 1 and 2 worker
processes, a simulation of 1,000,000 claims of a generated population under the
rule book in force and two scenarios, the start-up time of the command line on
one case, and how the cost grows with the size of the rule book and the number
of cases.

Throughput is the median of several runs after a warm-up, in CPU time of the
process (cases per second per core) and, beside it, in wall time. Every
answer of every engine is compared with an independent oracle (claims6, the
generated books) or with the reference interpreter (the shipped book); the
script exits with status 1 if any answer differs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from claims import Answer, generate, hand_written, oracle, write_claims  # noqa: E402
from gen_rulebook import cases as scaling_cases  # noqa: E402
from gen_rulebook import expected as scaling_expected  # noqa: E402
from gen_rulebook import write_rulebook  # noqa: E402

from passendezorg.cache import cache_dir  # noqa: E402
from passendezorg.engines.compiled import CompiledProgram, compile_program  # noqa: E402
from passendezorg.engines.interpreter import Evaluation  # noqa: E402
from passendezorg.engines.semantics import Outcome  # noqa: E402
from passendezorg.rulebook import load_cached, load_rules  # noqa: E402

DAY = dt.date(2024, 1, 1)
PROBLEMS: list[str] = []
RESULTS: dict[str, Any] = {}


# ------------------------------------------------------------------ helpers


def say(text: str = "") -> None:
    print(text, flush=True)


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f}" if seconds > 0 else f"{'-':>12}"


def timed(fn: Callable[[], Any], n: int, runs: int, warmup: int = 1) -> tuple[float, float]:
    """Median CPU seconds and median wall seconds of ``runs`` runs of ``fn`` after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    cpu, wall = [], []
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


def timed_together(fns: list[Callable[[], Any]], runs: int, warmup: int = 1) -> list[tuple[float, float]]:
    """Like ``timed`` for several functions, their runs interleaved: a burst of load elsewhere on the machine
    falls on all of them alike, so their ratio holds even when the absolute figures move."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    cpu: list[list[float]] = [[] for _ in fns]
    wall: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for k, fn in enumerate(fns):
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            cpu[k].append(time.process_time() - c0)
            wall[k].append(time.perf_counter() - w0)
    return [(statistics.median(c), statistics.median(w)) for c, w in zip(cpu, wall)]


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory in MB: of this process (its own address space: the high-water mark since it started,
    which getrusage would mix with the parent's memory at the fork), or the largest of its waited-for children."""
    if who == resource.RUSAGE_SELF:
        try:
            with open("/proc/self/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
    return resource.getrusage(who).ru_maxrss / 1024


def check(label: str, got: Iterable[Any], want: Iterable[Any]) -> int:
    wrong = 0
    total = 0
    first = None
    for k, (g, w) in enumerate(zip(got, want)):
        total += 1
        if g != w:
            wrong += 1
            if first is None:
                first = (k, g, w)
    if wrong:
        PROBLEMS.append(f"{label}: {wrong} of {total} answers differ from the oracle; first: case {first[0]}: "  # type: ignore[index]
                        f"got {first[1]}, expected {first[2]}")  # type: ignore[index]
    return total


# ------------------------------------------------------------------ claims6 in memory


def claims6_answers_compiled(cp: CompiledProgram) -> Callable[[dict[str, Any]], Answer]:
    k = {name: i for i, name in enumerate(cp.names)}
    ins, base, tar, ded = k["insured"], k["base_tariff"], k["tariff"], k["deductible_applies"]
    run = cp.run

    def answer(c: dict[str, Any]) -> Answer:
        fast = run(c, DAY)
        if fast is None:
            return outcome_answer(Evaluation(cp.program, _facts(c), DAY, trace=False).run())
        v, r = fast[0], fast[1]
        return v[ins], v[tar], v[ded], r[ins], r[base], r[ded], r[tar]  # type: ignore[return-value]

    return answer


def outcome_answer(o: dict[str, Outcome]) -> Answer:
    return (o["insured"].value, o["tariff"].value, o["deductible_applies"].value, o["insured"].rule,  # type: ignore[return-value]
            o["base_tariff"].rule, o["deductible_applies"].rule, o["tariff"].rule)


def _facts(c: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in c.items() if k != "id"}


def section_claims6(n: int, runs: int, seed: int) -> None:
    say(f"== claims6 yardstick: {n:,} claims in memory (seed {seed}), one process, median of {runs} runs ==")
    book = load_rules(HERE / "claims6")
    program = book.program
    t0 = time.perf_counter()
    cp = compile_program(program)
    compile_s = time.perf_counter() - t0
    claims = list(generate(n, seed))
    gc.collect()
    gc.freeze()
    rss_loaded = peak_rss_mb()
    expected = [oracle(c) for c in claims]

    # every answer of every engine against the oracle (outside the timed runs)
    check("hand-written Python", map(hand_written, claims), expected)
    answer = claims6_answers_compiled(cp)
    check("compiled engine", map(answer, claims), expected)
    fallbacks = sum(1 for c in claims if (cp.run(c, DAY) or (0, 0, 0, 1))[3] is not None)
    if fallbacks:
        PROBLEMS.append(f"claims6: the interpreter had to decide values of {fallbacks} complete claims")

    run = cp.run

    def hand_pass() -> None:
        f = hand_written
        for c in claims:
            f(c)

    def compiled_pass() -> None:
        r, d = run, DAY
        for c in claims:
            r(c, d)

    rows: list[tuple[str, int, float, float, str]] = []
    (hand_cpu, hand_wall), (compiled_cpu, compiled_wall) = timed_together([hand_pass, compiled_pass], runs)
    rows.append(("hand-written Python if/else", n, hand_cpu, hand_wall, "checked"))
    rows.append(("compiled engine", n, compiled_cpu, compiled_wall, "checked"))

    m = min(n, 3000 if runs <= 3 else 10000)
    sub = [_facts(c) for c in claims[:m]]
    got = [outcome_answer(Evaluation(program, c, DAY, trace=False).run()) for c in sub]
    check("interpreter", got, expected[:m])

    def interp_pass() -> None:
        for c in sub:
            Evaluation(program, c, DAY, trace=False).run()

    cpu, wall = timed(interp_pass, m, max(1, runs // 2))
    rows.append(("reference interpreter", m, cpu, wall, "checked"))

    rete_note = _rete_rows(program, claims, expected, rows, runs)

    say(f"{'engine':<34}{'claims':>10}{'claims/s CPU':>14}{'claims/s wall':>15}   answers")
    for label, count, c, w, note in rows:
        say(f"{label:<34}{count:>10,}{rate(count, c):>14}{rate(count, w):>15}   {note}")
    if rete_note:
        say(rete_note)
    ratio = hand_cpu / compiled_cpu if compiled_cpu else 0.0  # the compiled engine's speed as a share of hand-written
    say(f"compiled / hand-written, same run, runs interleaved: {100 * ratio:.0f} % "
        f"(target >= 25 %: {'met' if ratio >= 0.25 else 'missed'})")
    target("claims6 kernel: compiled / hand-written Python, same run", f"{100 * ratio:.0f} % ({n / compiled_cpu:,.0f}"
           f" vs {n / hand_cpu:,.0f}/s)", ">= 25 %", ratio >= 0.25)
    say(f"compile time {compile_s * 1000:.0f} ms; RSS with {n:,} claims loaded {rss_loaded:.0f} MB")
    tracemalloc.start()
    compiled_pass()
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    say(f"memory allocated at peak during one compiled pass (tracemalloc): {peak / 1024:.0f} KiB; "
        f"peak RSS of this process so far: {peak_rss_mb():.0f} MB")
    gc.unfreeze()
    RESULTS["claims6"] = {
        "claims": n, "rows": [{"engine": r[0], "claims": r[1], "cpu_s": r[2], "wall_s": r[3]} for r in rows],
        "compiled_vs_hand": ratio, "fallbacks": fallbacks, "tracemalloc_peak_kib": peak / 1024,
    }
    say()


def _rete() -> tuple[Any, str]:
    """The rete module when its engine can run here, else None and why it is not measured."""
    try:
        from passendezorg.engines import rete
    except Exception as e:  # noqa: BLE001 - any failure to import is reported, not raised
        return None, f"rete engine: not measured (passendezorg.engines.rete does not import: {type(e).__name__}: {e})"
    reason = rete.unavailable_reason()
    if reason is not None:
        return None, f"rete engine: not measured ({reason})"
    return rete, ""


def _rete_rows(program: Any, claims: list[dict[str, Any]], expected: list[Answer],
               rows: list[tuple[str, int, float, float, str]], runs: int) -> str | None:
    rete, why_not = _rete()
    if rete is None:
        return why_not
    m = min(len(claims), 1000 if runs <= 3 else 3000)
    sub = [_facts(c) for c in claims[:m]]
    with rete.ReteEngine(program) as engine:
        got = [outcome_answer(engine.run(c, DAY)) for c in sub]
        check("rete engine", got, expected[:m])

        def rete_pass() -> None:
            for c in sub:
                engine.run(c, DAY)

        cpu, wall = timed(rete_pass, m, max(1, runs // 2))
    rows.append(("rete engine (durable-rules)", m, cpu, wall, "checked"))
    return None


# ------------------------------------------------------------------ the shipped rule book


def section_shipped(runs: int) -> None:
    rules, cases_dir = ROOT / "rules", ROOT / "cases"
    if not rules.is_dir() or not cases_dir.is_dir():
        say("== shipped rule book: not measured (no rules/ or cases/ folder) ==\n")
        return
    from passendezorg.cases import iter_case_paths, read_case_file

    book = load_rules(rules)
    program = book.program
    cp = compile_program(program)
    prepared = []
    skipped = 0
    for p in iter_case_paths([cases_dir]):
        try:
            _case, inputs, day = book.prepare(read_case_file(p))
        except Exception:  # noqa: BLE001 - a malformed case file is not part of the figure
            skipped += 1
            continue
        prepared.append((inputs, day))
    say(f"== shipped rule book: {len(program.rules)} rules, {len(program.values)} values; {len(prepared)} cases "
        f"from cases/{f' ({skipped} skipped)' if skipped else ''} ==")
    # every value of every case: the compiled engine against the interpreter (status, value, deciding rule;
    # needed inputs and reasons where the interpreter decided a value for the generated code)
    whole = 0
    partly: list[int] = []
    interpreted = 0  # cases in which the interpreter had to decide a value the three-valued blocks could not
    for inputs, day in prepared:
        res = cp.run(inputs, day)
        ref = Evaluation(program, inputs, day, trace=False).run()
        if res is None:
            PROBLEMS.append(f"shipped book: the compiled engine gave no result on {day}")
            continue
        decided = res.decided
        if decided:
            partly.append(len(decided))
            interpreted += res[3].ev is not None
        else:
            whole += 1
        for k, (name, s, v, r) in enumerate(zip(cp.names, res.statuses, res.values, res.rules)):
            o = ref[name]
            want_v = o.value if o.known else None
            d = decided.get(k)
            extra_ok = d is None or (d.needs, d.reason) == (o.needs, o.reason)
            if (s, r) != (o.status, o.rule) or type(v) is not type(want_v) or repr(v) != repr(want_v) or not extra_ok:
                PROBLEMS.append(f"shipped book: {name} differs from the interpreter: {(s, v, r)} vs "
                                f"{(o.status, o.value, o.rule)}")
    fast_cases = [(i, d) for i, d in prepared if not cp.run(i, d).decided]  # type: ignore[union-attr]
    reps = max(1, 20000 // max(1, len(prepared)))

    def all_cases() -> None:
        ev = cp.evaluate
        for _ in range(reps):
            for i, d in prepared:
                ev(i, d)

    def fast_only() -> None:
        r = cp.run
        for _ in range(reps * 3):
            for i, d in fast_cases:
                r(i, d)

    def interpreter() -> None:
        for i, d in prepared:
            Evaluation(program, i, d, trace=False).run()

    n_all, n_fast = reps * len(prepared), reps * 3 * len(fast_cases)
    c_all, w_all = timed(all_cases, n_all, runs)
    c_fast, w_fast = timed(fast_only, n_fast, runs)
    c_int, w_int = timed(interpreter, len(prepared), max(1, runs // 2))
    rete_row = _rete_shipped(program, prepared, max(1, runs // 2))
    say(f"{'':<58}{'cases/s CPU':>14}{'cases/s wall':>15}")
    say(f"{'all cases (compiled; three-valued blocks where needed)':<58}{rate(n_all, c_all):>14}{rate(n_all, w_all):>15}")
    say(f"{f'the {len(fast_cases)} cases the generated code decides entirely':<58}{rate(n_fast, c_fast):>14}"
        f"{rate(n_fast, w_fast):>15}")
    say(f"{'reference interpreter, all cases':<58}{rate(len(prepared), c_int):>14}{rate(len(prepared), w_int):>15}")
    if isinstance(rete_row, tuple):
        say(f"{'rete engine, all cases':<58}{rate(len(prepared), rete_row[0]):>14}{rate(len(prepared), rete_row[1]):>15}")
    else:
        say(rete_row)
    share = 100 * whole / len(prepared) if prepared else 0
    mean_interp = statistics.mean(partly) if partly else 0
    say(f"the two-valued blocks decided every value of {whole} of {len(prepared)} cases ({share:.0f} %); in the "
        f"other {len(partly)} (a missing input, an error, a conflict) the three-valued blocks decided {mean_interp:.1f} "
        f"of {len(cp.names)} values on average, and the interpreter was needed in {interpreted} cases. Every value "
        "of every case agrees with the interpreter.")
    per_core = n_all / c_all
    say(f"target >= 100,000 cases/s per core: all cases {per_core:,.0f} ({'met' if per_core >= 100_000 else 'missed'}); "
        f"cases decided entirely by the generated code {n_fast / c_fast:,.0f} "
        f"({'met' if n_fast / c_fast >= 100_000 else 'missed'})")
    RESULTS["shipped"] = {"cases": len(prepared), "whole": whole, "all_per_s_cpu": n_all / c_all,
                          "fast_per_s_cpu": n_fast / c_fast, "interpreter_per_s_cpu": len(prepared) / c_int}
    say()


# ------------------------------------------------------------------ the paths an insurer calls


TARGETS: list[tuple[str, str, str, bool | None]] = []  # (what, measured, target, met: None when not shown here)


def target(what: str, measured: str, goal: str, met: bool | None) -> None:
    TARGETS.append((what, measured, goal, met))


def _shipped_case_data() -> list[dict[str, Any]]:
    """Every valid case file of cases/ as the data a user passes (``{"input": {...}, "name": ...}``, nested facts as
    the YAML has them), in file order."""
    import yaml

    from passendezorg.cases import iter_case_paths, read_case_file

    book = load_rules(ROOT / "rules")
    out = []
    for p in iter_case_paths([ROOT / "cases"]):
        try:
            case = read_case_file(p)
            book.prepare(case)
        except Exception:  # noqa: BLE001 - a malformed case file (on purpose) is not part of the figure
            continue
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
        data = {"input": raw["input"], "name": case.name}
        for key in ("on", "peildatum"):
            if key in raw:
                data[key] = raw[key] if isinstance(raw[key], str) else raw[key].isoformat()
        out.append(data)
    return out


def section_paths(runs: int, claims_n: int, tmp: Path) -> None:
    """RuleBook.evaluate (explained), decide_many, and claims process: what a user calls, results kept."""
    rules = ROOT / "rules"
    if not rules.is_dir() or not (ROOT / "cases").is_dir():
        say("== the insurer's paths: not measured (no rules/ or cases/ folder) ==\n")
        return
    from passendezorg.cases import Case

    book = load_rules(rules)
    data = _shipped_case_data()
    cases = [Case(input=d["input"], name=d["name"]) if "on" not in d else
             Case(input=d["input"], name=d["name"], on=dt.date.fromisoformat(d["on"])) for d in data]
    say(f"== the insurer's paths: the shipped book ({len(book.program.rules)} rules, {len(book.program.values)} "
        f"values), its {len(cases)} cases as a user passes them ==")
    # every answer checked first: the compiled decision's JSON is the interpreter's, byte for byte
    interpreted = [book.evaluate(c, engine="interpreter") for c in cases]
    want_json = [d.to_json() for d in interpreted]
    wrong = sum(1 for c, w in zip(cases, want_json) if book.evaluate(c).to_json() != w)
    if wrong:
        PROBLEMS.append(f"evaluate: {wrong} of {len(cases)} compiled decisions differ from the interpreter's JSON")

    def explained() -> None:
        for c in cases:
            book.evaluate(c)

    def explained_json() -> None:
        for c in cases:
            book.evaluate(c).to_json()

    def interpreter() -> None:
        for c in cases:
            book.evaluate(c, engine="interpreter").to_json()

    n = len(cases)
    c_ex, w_ex = timed(explained, n, runs)
    c_js, w_js = timed(explained_json, n, runs)
    c_in, w_in = timed(interpreter, n, max(1, runs // 3))
    say(f"{'':<62}{'cases/s CPU':>14}{'cases/s wall':>15}")
    say(f"{'RuleBook.evaluate, the explained Decision (compiled)':<62}{rate(n, c_ex):>14}{rate(n, w_ex):>15}")
    say(f"{'RuleBook.evaluate + Decision.to_json (compiled)':<62}{rate(n, c_js):>14}{rate(n, w_js):>15}")
    say(f"{'RuleBook.evaluate + to_json, engine=interpreter':<62}{rate(n, c_in):>14}{rate(n, w_in):>15}")
    say(f"every decision's JSON is the interpreter's, byte for byte ({n - wrong} of {n}); compiled / interpreter: "
        f"{c_in / c_js:.1f}x with the JSON")
    target("RuleBook.evaluate, explained, shipped book (cases/s/core)", f"{n / c_ex:,.0f} ({n / c_js:,.0f} with "
           "to_json)", ">= 20,000", n / c_ex >= 20_000)

    # decide_many: the facts as a user passes them, every result kept
    reps = max(1, 20_000 // max(1, len(data)))
    batch = data * reps
    results: list[Any] = []

    def many() -> None:
        results.append(book.decide_many(batch))
        if len(results) > 1:
            results.pop(0)

    c_dm, w_dm = timed(many, len(batch), runs)
    outputs = book.program.outputs
    got = []
    for r in results[-1][:len(data)]:
        got.append((tuple(repr(r.values[o]) for o in outputs), tuple(r.rules[o] for o in outputs)))
    want = []
    for d in interpreted:
        want.append((tuple(repr(d.outputs[o].value) for o in outputs), tuple(d.outputs[o].rule.name
                                                                             if d.outputs[o].rule else None
                                                                             for o in outputs)))
    checked = check("decide_many against the interpreter", got, want)
    say(f"{'decide_many, all cases, results kept (' + str(len(batch)) + ' cases)':<62}{rate(len(batch), c_dm):>14}"
        f"{rate(len(batch), w_dm):>15}")
    say(f"{checked} cases' output values and deciding rules checked against the interpreter")
    target("decide_many, all shipped cases (cases/s/core)", f"{len(batch) / c_dm:,.0f}", ">= 100,000",
           len(batch) / c_dm >= 100_000)

    # claims process: decision, receipt and ledger in SQLite, end to end, one process
    section_claims(book, claims_n, tmp)
    RESULTS["paths"] = {"cases": n, "evaluate_per_s_cpu": n / c_ex, "evaluate_json_per_s_cpu": n / c_js,
                        "interpreter_per_s_cpu": n / c_in, "decide_many_per_s_cpu": len(batch) / c_dm}
    say()


def section_claims(book: Any, n: int, tmp: Path) -> None:
    from store_bench import claims as seeded_claims

    from passendezorg.cases import Case
    from passendezorg.cli_claims import run_batch
    from passendezorg.store import Store, cents

    batch = seeded_claims(n, max(1, n // 10), shipped=True)
    path = tmp / "claims-process.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in batch), encoding="utf-8")
    db = tmp / "claims.db"
    url = f"sqlite:///{db}"
    names = {"used_input": "verzekerde.eigen_risico_verbruikt", "deduction_output": "eigen_risico_inhouding",
             "payout_output": "vergoeding"}
    # the fixed cost of a run (checking the rule book, compiling it, opening the database): one claim alone
    one = tmp / "claims-one.jsonl"
    one.write_text(json.dumps({**batch[0], "claim_id": "X-1"}) + "\n", encoding="utf-8")
    w1 = time.perf_counter()
    run_batch(one, ROOT / "rules", f"sqlite:///{tmp / 'one.db'}", 1, names)
    fixed = time.perf_counter() - w1
    c0, w0 = time.process_time(), time.perf_counter()
    summary = run_batch(path, ROOT / "rules", url, 1, names)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    if summary.recorded != n:
        PROBLEMS.append(f"claims process: {summary.recorded} of {n} claims recorded ({summary.lines()})")
    # every receipt checked: its decision made again by the interpreter from its stored facts gives the same JSON,
    # and the ledger holds exactly the receipts' deductions
    store = Store(url)
    wrong = deducted = 0
    try:
        receipts = [r for r in (store.receipt(i) for i in range(1, n + 1)) if r is not None]
        for r in receipts:
            again = book.evaluate(Case(r.input, r.claim_id), engine="interpreter").to_json()
            wrong += again != r.explanation
            deducted += cents(r.deduction)
        ledger = int(sum(store.totals().values()) * 100)
        problems = store.check_integrity()
    finally:
        store.close()
    if len(receipts) != n or problems:
        PROBLEMS.append(f"claims process: {len(receipts)} receipts for {n} claims; integrity: {problems[:3]}")
    if wrong:
        PROBLEMS.append(f"claims process: {wrong} of {n} receipts differ from the interpreter's decision")
    if ledger != deducted:
        PROBLEMS.append(f"claims process: the ledger holds {ledger} cents, the receipts deduct {deducted}")
    say(f"{'claims process, SQLite, 1 process (' + format(n, ',') + ' claims)':<62}{rate(n, cpu):>14}"
        f"{rate(n, wall):>15}")
    say(f"{'  the same, less the fixed cost of a run (' + format(fixed, '.2f') + ' s wall)':<62}{'':>14}"
        f"{rate(n, wall - fixed):>15}")
    say(f"every receipt's decision equals the interpreter's for its stored facts ({n - wrong} of {n}); the ledger "
        f"equals the receipts' deductions ({ledger / 100:,.2f})")
    target("claims process, SQLite, one core (claims/s wall)", f"{n / wall:,.0f} (CPU {n / cpu:,.0f})", ">= 5,000",
           n / wall >= 5_000)
    RESULTS["claims"] = {"claims": n, "per_s_wall": n / wall, "per_s_cpu": n / cpu, "fixed_s": fixed}


def _rete_shipped(program: Any, prepared: list[tuple[Any, dt.date]], runs: int) -> tuple[float, float] | str:
    """Median CPU and wall seconds of the rete engine on all cases (checked against the interpreter), or why not."""
    rete, why_not = _rete()
    if rete is None:
        return why_not
    try:
        engine = rete.ReteEngine(program)
    except Exception as e:  # noqa: BLE001 - the figure is left out, with the reason
        return f"rete engine: not measured (building the network failed: {type(e).__name__}: {e})"
    with engine:
        wrong = 0
        for i, d in prepared:
            got = engine.run(i, d)
            ref = Evaluation(program, i, d, trace=False).run()
            wrong += any((got[k].status, got[k].rule, repr(got[k].value)) != (o.status, o.rule, repr(o.value))
                         for k, o in ref.items())
        if wrong:
            PROBLEMS.append(f"rete engine: {wrong} of {len(prepared)} shipped cases differ from the interpreter")

        def rete_pass() -> None:
            for i, d in prepared:
                engine.run(i, d)

        return timed(rete_pass, len(prepared), runs)


# ------------------------------------------------------------------ batches


def batch_child(src: str, out: str, jobs: int) -> None:
    """Run one batch in this (fresh) process and print its figures as JSON: peak RSS is this batch's alone."""
    from passendezorg.batch import evaluate_file

    book = load_rules(HERE / "claims6")
    t0 = time.perf_counter()
    c0 = time.process_time()
    report = evaluate_file(book, src, out, jobs=jobs, on=DAY, progress=False)
    wall = time.perf_counter() - t0
    me_cpu = time.process_time() - c0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"wall": wall, "cases": report.cases, "failures": report.failures,
                      "fallbacks": report.fallbacks, "rss_self_mb": peak_rss_mb(),
                      "rss_children_mb": peak_rss_mb(resource.RUSAGE_CHILDREN),
                      "cpu_self": me_cpu, "cpu_children": kids.ru_utime + kids.ru_stime}))


def section_batches(n: int, seed: int, tmp: Path) -> None:
    say(f"== batches: {n:,} claims from a JSON-lines file, compact results to a file ==")
    src = tmp / "claims.jsonl"
    t0 = time.perf_counter()
    write_claims(src, n, seed)
    say(f"generated {src.stat().st_size / 1e6:.0f} MB of claims in {time.perf_counter() - t0:.1f} s")
    figures = {}
    for jobs in (1, 2):
        out = tmp / f"out{jobs}.jsonl"
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--batch-child", str(src), str(out),
                               str(jobs)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            PROBLEMS.append(f"batch with --jobs {jobs} failed: {proc.stderr.strip()[-500:]}")
            return
        figures[jobs] = json.loads(proc.stdout.strip().splitlines()[-1])
    digests = {j: hashlib.sha256((tmp / f"out{j}.jsonl").read_bytes()).hexdigest() for j in (1, 2)}
    if digests[1] != digests[2]:
        PROBLEMS.append("batch: the output of --jobs 2 differs from --jobs 1")
    checked = _check_batch_output(tmp / "out2.jsonl", n, seed)
    say(f"{'jobs':<6}{'seconds':>9}{'claims/s':>12}{'peak RSS parent':>17}{'peak RSS worker':>17}")
    for jobs, f in figures.items():
        say(f"{jobs:<6}{f['wall']:>9.2f}{rate(f['cases'], f['wall']):>12}{f['rss_self_mb']:>14.0f} MB"
            f"{(f['rss_children_mb'] if jobs > 1 else 0):>14.0f} MB")
    speedup = figures[1]["wall"] / figures[2]["wall"]
    # what the speed-up would be with both cores free: the work of each of the two workers, side by side
    f1, f2 = figures[1], figures[2]
    free = (f1["cpu_self"]) / (f2["cpu_children"] / 2 + f2["cpu_self"]) if f2["cpu_children"] else 0.0
    say(f"CPU time of the batch: {f1['cpu_self']:.2f} s in one process; {f2['cpu_children']:.2f} s in 2 workers + "
        f"{f2['cpu_self']:.2f} s in the parent (ranges, copying the output) -> {free:.2f}x if both cores were free")
    say(f"speed-up on 2 workers (wall): {speedup:.2f}x (target >= 1.7x on 2 cores); outputs identical; "
        f"{checked:,} answers checked against the oracle; failures {figures[2]['failures']}, "
        f"fallbacks {figures[2]['fallbacks']}")
    say(f"(this machine has {os.cpu_count()} cores; load average now "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    RESULTS["batches"] = {"claims": n, "figures": figures, "speedup": speedup, "speedup_if_free": free}
    target(f"evaluate --jobs 2 / --jobs 1, {n:,} claims, file to file (wall)", f"{speedup:.2f}x (CPU {free:.2f}x)",
           ">= 1.7x", speedup >= 1.7)
    say()


def _check_batch_output(path: Path, n: int, seed: int) -> int:
    def answers() -> Iterable[Answer]:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                v, r = rec["values"], rec["rules"]
                yield (v["insured"], v["tariff"], v["deductible_applies"], r["insured"], None, r["deductible_applies"],
                       r["tariff"])  # type: ignore[misc]

    def want() -> Iterable[Answer]:
        for c in generate(n, seed):
            a = oracle(c)
            yield a[:4] + (None,) + a[5:]  # the base tariff is a derived value, not in the compact output

    return check("batch output", answers(), want())


# ------------------------------------------------------------------ the columnar engine, file to file


CLAIMS6_SCHEMA = {"id": "Int64", "insured_age": "Int64", "setting": "String", "treatment": "String",
                  "belongs_with_gp": "Boolean", "chronic_list": "Boolean", "session_no": "Int64", "digital": "Boolean",
                  "amount_cents": "Int64"}


def polars_kernel(lf: Any) -> Any:
    """The claims6 rules written by hand as Polars expressions: the peer of the columnar engine."""
    import polars as pl

    c = pl.col
    physio, adult = c("treatment") == "physio", c("insured_age") >= 18
    r_ins = (pl.when(~physio).then(pl.lit("R0")).when(adult & ~c("chronic_list")).then(pl.lit("R1"))
             .when(adult & (c("session_no") <= 20)).then(pl.lit("R2")).when(adult).then(pl.lit("R2b"))
             .when(c("session_no") <= 18).then(pl.lit("R3")).otherwise(pl.lit("R3b")))
    first_line = (c("setting") == "hospital") & c("belongs_with_gp")
    base = pl.when(first_line).then(pl.lit(1250, pl.Int64)).otherwise(c("amount_cents"))
    no_ded = (c("setting") == "gp") | ~adult | (c("treatment") == "smoking_cessation")
    return lf.select(
        c("id").cast(pl.String).alias("case"), r_ins.is_in(["R0", "R2b", "R3"]).alias("insured"),
        pl.when(c("digital")).then(base * 4 // 5).otherwise(base).alias("tariff"), (~no_ded).alias("deductible_applies"),
        r_ins.alias("insured.rule"), pl.when(c("digital")).then(pl.lit("R6")).alias("tariff.rule"),
        pl.when(no_ded).then(pl.lit("R5")).alias("deductible_applies.rule"))


def polars_kernel_lines(df: Any) -> Any:
    """The compact JSON line of each decision, as the engine writes it, by hand."""
    import polars as pl

    c = pl.col
    js = {k: pl.when(c(k)).then(pl.lit("true")).otherwise(pl.lit("false")) for k in ("insured", "deductible_applies")}
    quoted = {k: pl.concat_str([pl.lit('"'), c(k), pl.lit('"')]).fill_null("null")
              for k in ("insured.rule", "tariff.rule", "deductible_applies.rule")}
    status = (pl.when(c("tariff.rule").is_null() & c("deductible_applies.rule").is_null())
              .then(pl.lit(',"status":{"tariff":"default","deductible_applies":"default"}'))
              .when(c("tariff.rule").is_null()).then(pl.lit(',"status":{"tariff":"default"}'))
              .when(c("deductible_applies.rule").is_null()).then(pl.lit(',"status":{"deductible_applies":"default"}'))
              .otherwise(pl.lit("")))
    return df.select(pl.concat_str([
        pl.lit('{"case":"'), c("case"), pl.lit('","values":{"insured":'), js["insured"], pl.lit(',"tariff":'),
        c("tariff").cast(pl.String), pl.lit(',"deductible_applies":'), js["deductible_applies"],
        pl.lit('},"rules":{"insured":'), quoted["insured.rule"], pl.lit(',"tariff":'), quoted["tariff.rule"],
        pl.lit(',"deductible_applies":'), quoted["deductible_applies.rule"], pl.lit("}"), status, pl.lit("}")]).alias("l"))


def columnar_child(src_jsonl: str, src_parquet: str, out_dir: str, runs: int, shipped_rows: int) -> None:
    """The columnar figures in this process (its Polars threads fixed by POLARS_MAX_THREADS before the import)."""
    import polars as pl

    from passendezorg.columnar_files import evaluate_columnar
    from passendezorg.frames import decide_frame

    out = Path(out_dir)
    threads = os.environ.get("POLARS_MAX_THREADS", "")
    book = load_rules(HERE / "claims6")
    schema = {k: getattr(pl, t) for k, t in CLAIMS6_SCHEMA.items()}

    def engine_pq() -> None:
        evaluate_columnar(book, src_parquet, out / f"engine{threads}.parquet", on=DAY)

    def engine_jl() -> None:
        evaluate_columnar(book, src_jsonl, out / f"engine{threads}.jsonl", on=DAY)

    def peer_pq() -> None:
        polars_kernel(pl.scan_parquet(src_parquet)).collect().write_parquet(out / f"peer{threads}.parquet",
                                                                            compression="lz4")

    def peer_jl() -> None:
        lines = polars_kernel_lines(polars_kernel(pl.read_ndjson(src_jsonl, schema=schema).lazy()).collect())
        with open(out / f"peer{threads}.jsonl", "wb") as fh:
            lines.write_csv(fh, include_header=False, quote_style="never")

    figures: dict[str, Any] = {}
    for name, fn in (("engine_parquet", engine_pq), ("peer_parquet", peer_pq), ("engine_jsonl", engine_jl),
                     ("peer_jsonl", peer_jl)):
        cpu, wall = timed(fn, 0, runs)
        figures[name] = {"cpu": cpu, "wall": wall}
    if shipped_rows:
        rules = ROOT / "rules"
        from passendezorg.cases import iter_case_paths, read_case_file

        shipped = load_rules(rules)
        facts: dict[str, list[Any]] = {name: [] for name in shipped.program.inputs}
        days = []
        for p in iter_case_paths([ROOT / "cases"]):
            try:
                _case, inputs, day = shipped.prepare(read_case_file(p))
            except Exception:  # noqa: BLE001 - a malformed case file is not part of the figure
                continue
            for name in facts:
                facts[name].append(inputs.get(name))
            days.append(day)
        types = {"integer": pl.Int64, "money": pl.Decimal(38, 2), "boolean": pl.Boolean, "date": pl.Date}
        base = pl.DataFrame({**{n: pl.Series(n, v, dtype=types.get(shipped.program.inputs[n].type.kind, pl.String)
                                             if shipped.program.inputs[n].type.kind != "decimal" else None,
                                             strict=False)
                                for n, v in facts.items()}, "on": pl.Series("on", days, dtype=pl.Date)})
        big = pl.concat([base] * max(1, shipped_rows // base.height))
        result: list[Any] = []
        from passendezorg.frames import FrameReport

        def shipped_pass() -> None:
            report = FrameReport()
            result[:] = [decide_frame(shipped, big, report=report), report]

        cpu, wall = timed(shipped_pass, 0, max(1, runs // 2))
        report = result[1]
        figures["shipped"] = {"cpu": cpu, "wall": wall, "rows": big.height, "cases": base.height,
                              "fallbacks": report.fallbacks, "reasons": report.summary() if report.reasons else ""}
        decide_frame(shipped, base).write_parquet(out / f"shipped-base{threads}.parquet")
        result[0].head(base.height * 2).write_parquet(out / f"shipped-big{threads}.parquet")
    print(json.dumps(figures))


def _check_columnar_outputs(tmp: Path, n: int, seed: int, threads: str) -> None:
    """Every answer of the engine and of the peer, file to file, against the oracle; JSON lines byte for byte."""
    import polars as pl

    want = [oracle(c) for c in generate(n, seed)]
    expect = pl.DataFrame({"insured": [a[0] for a in want], "tariff": [a[1] for a in want],
                           "deductible_applies": [a[2] for a in want], "insured.rule": [a[3] for a in want],
                           "deductible_applies.rule": [a[5] for a in want], "tariff.rule": [a[6] for a in want]},
                          schema_overrides={"deductible_applies.rule": pl.String, "tariff.rule": pl.String})
    for who in ("engine", "peer"):
        got = pl.read_parquet(tmp / f"{who}{threads}.parquet").select(expect.columns)
        check(f"columnar {who}, Parquet out ({threads} thread(s))", got.iter_rows(), expect.iter_rows())
    engine_lines = (tmp / f"engine{threads}.jsonl").read_bytes()
    if engine_lines != (tmp / f"peer{threads}.jsonl").read_bytes():
        PROBLEMS.append(f"columnar: the engine's JSON lines differ from the hand-written Polars lines ({threads})")
    decoded = pl.read_ndjson(tmp / f"engine{threads}.jsonl")
    got_lines = decoded.select(pl.col("values").struct.field("insured"), pl.col("values").struct.field("tariff"),
                               pl.col("values").struct.field("deductible_applies"),
                               pl.col("rules").struct.field("insured").alias("insured.rule"),
                               pl.col("rules").struct.field("deductible_applies").alias("deductible_applies.rule"),
                               pl.col("rules").struct.field("tariff").alias("tariff.rule"))
    check(f"columnar engine, JSON lines out ({threads} thread(s))", got_lines.iter_rows(), expect.iter_rows())


def _check_shipped_columnar(tmp: Path, threads: str) -> None:
    """The shipped cases through the columnar engine against the interpreter; the replicated frame row by row."""
    import polars as pl

    from passendezorg.batch import FastDecision, iter_fast

    base = pl.read_parquet(tmp / f"shipped-base{threads}.parquet")
    big = pl.read_parquet(tmp / f"shipped-big{threads}.parquet")
    if not big.equals(pl.concat([base, base]).head(big.height)):
        PROBLEMS.append("columnar, shipped book: the replicated frame does not repeat the answers of the cases")
    book = load_rules(ROOT / "rules")
    from passendezorg.cases import iter_case_paths, read_case_file

    cases = []
    for p in iter_case_paths([ROOT / "cases"]):
        try:
            cases.append(book.prepare(read_case_file(p))[0])
        except Exception:  # noqa: BLE001
            continue
    wrong = 0
    for row, ref in zip(base.iter_rows(named=True), iter_fast(book, cases)):
        assert isinstance(ref, FastDecision)
        for o in book.program.outputs:
            if (row[o], row[f"{o}.rule"], row[f"{o}.status"]) != (ref.values[o], ref.rules[o], ref.status.get(o, "value")):
                wrong += 1
                break
    if wrong:
        PROBLEMS.append(f"columnar, shipped book: {wrong} of {len(cases)} cases differ from the compiled engine")


def section_columnar(n: int, seed: int, runs: int, tmp: Path, shipped_rows: int) -> None:
    say(f"== columnar engine, file to file: claims6, {n:,} claims; the shipped book, {shipped_rows:,} cases ==")
    try:
        import polars as pl
    except ImportError:
        say('not measured: the columnar engine needs the extra `columnar` (pip install "passendezorg[columnar]")\n')
        return
    src = tmp / "columnar-claims.jsonl"
    write_claims(src, n, seed)
    pq = tmp / "columnar-claims.parquet"
    pl.read_ndjson(src).write_parquet(pq)
    del pl
    results = {}
    for threads in ("1", "2"):
        env = {**os.environ, "POLARS_MAX_THREADS": threads}
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--columnar-child", str(src), str(pq),
                               str(tmp), str(runs), str(shipped_rows if threads == "1" else 0)],
                              capture_output=True, text=True, check=False, env=env)
        if proc.returncode != 0:
            PROBLEMS.append(f"columnar ({threads} thread(s)) failed: {proc.stderr.strip()[-800:]}")
            return
        results[threads] = json.loads(proc.stdout.strip().splitlines()[-1])
        _check_columnar_outputs(tmp, n, seed, threads)
    _check_shipped_columnar(tmp, "1")
    one, two = results["1"], results["2"]
    say(f"{'':<44}{'1 core: claims/s CPU':>22}{'wall':>12}{'2 cores: wall':>15}   target (1 core)")
    rows = [("claims6 Parquet -> Parquet, columnar engine", "engine_parquet", 2_000_000),
            ("claims6 Parquet -> Parquet, Polars by hand", "peer_parquet", None),
            ("claims6 JSON lines -> JSON lines, columnar", "engine_jsonl", 2_000_000),
            ("claims6 JSON lines -> JSON lines, Polars by hand", "peer_jsonl", None)]
    for label, key, target in rows:
        speed = n / one[key]["cpu"]
        note = "" if target is None else f">= {target / 1e6:.0f} M: {'met' if speed >= target else 'missed'}"
        say(f"{label:<44}{rate(n, one[key]['cpu']):>22}{rate(n, one[key]['wall']):>12}{rate(n, two[key]['wall']):>15}   "
            f"{note}")
    sh = one["shipped"]
    speed = sh["rows"] / sh["cpu"]
    label = f"shipped book, {sh['cases']} cases x {sh['rows'] // sh['cases']:,}, decide_frame"
    say(f"{label:<44}"
        f"{rate(sh['rows'], sh['cpu']):>22}{rate(sh['rows'], sh['wall']):>12}{'':>15}   "
        f">= 500,000: {'met' if speed >= 500_000 else 'missed'}")
    say(f"  of its {sh['rows']:,} rows, {sh['fallbacks']:,} decided one by one by the compiled engine"
        + (f" ({sh['reasons']})" if sh["reasons"] else ""))
    say("engine / Polars by hand, 1 core: Parquet "
        f"{100 * one['peer_parquet']['cpu'] / one['engine_parquet']['cpu']:.0f} %, JSON lines "
        f"{100 * one['peer_jsonl']['cpu'] / one['engine_jsonl']['cpu']:.0f} % (every answer of both checked against "
        "the oracle; the JSON lines of both are the same bytes; the shipped cases against the compiled engine)")
    RESULTS["columnar"] = {"claims": n, "one_thread": one, "two_threads": two}
    say()


# ------------------------------------------------------------------ simulation


SIMULATION_SCENARIOS = ("eigen_risico_150_per_behandeling", "digitale_zorg")
"""The shipped scenarios the simulation is measured with, when the rule book has scenarios."""

def simulation_child(src: str, jobs: int) -> None:
    """Run one simulation in this (fresh) process and print its figures as JSON: peak RSS is this run's alone."""
    from passendezorg.simulate import simulate

    book = load_rules(ROOT / "rules", cache=True)
    scenarios = list(SIMULATION_SCENARIOS)
    t0 = time.perf_counter()
    c0 = time.process_time()
    sim = simulate(book, src, scenarios, jobs=jobs, progress=False)
    wall = time.perf_counter() - t0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"wall": wall, "claims": sim.claims, "persons": sim.persons, "rejected": sim.rejected,
                      "changed": sim.changed_claims, "jobs": sim.jobs,
                      "sample": sum(len(v) for v in sim.sample.values()),
                      "rss_self_mb": peak_rss_mb(), "rss_children_mb": peak_rss_mb(resource.RUSAGE_CHILDREN),
                      "cpu_self": time.process_time() - c0, "cpu_children": kids.ru_utime + kids.ru_stime,
                      "load": os.getloadavg()}))


def section_simulation(n: int, seed: int, tmp: Path) -> None:
    from passendezorg.population import generate as population
    from passendezorg.population import plan
    from passendezorg.population import write_claims as write_population

    say(f"== simulation: {n:,} claims decided under the rule book in force and two scenarios, "
        "each person replayed in date order ==")
    book = load_rules(ROOT / "rules", cache=True)
    missing = sorted(set(SIMULATION_SCENARIOS) - {s.name for s in book.scenarios()})
    if missing:
        PROBLEMS.append(f"simulation: the rule book has no scenario {', '.join(missing)}")
        return
    sample = sum(1 for _ in population(book, 2000, seed))
    src = tmp / "population.jsonl"
    t0 = time.perf_counter()
    persons: set[str] = set()

    def claims() -> Iterable[dict[str, Any]]:
        """At least n claims: whole persons, drawn until there are enough (10 % more persons than estimated)."""
        count = 0
        for c in population(book, round(n * 2000 / sample * 1.1) + 1, seed):
            if count >= n and c["insured_id"] not in persons:
                return
            persons.add(c["insured_id"])
            count += 1
            yield c

    written = write_population(claims(), src, book.program, plan(book).columns)
    say(f"generated a population of {len(persons):,} persons with {written:,} claims "
        f"({src.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--simulation-child", str(src), "0"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        PROBLEMS.append(f"simulation failed: {proc.stderr.strip()[-500:]}")
        return
    f = json.loads(proc.stdout.strip().splitlines()[-1])
    if f["claims"] != written or f["rejected"]:
        PROBLEMS.append(f"simulation: {f['claims']:,} claims decided of {written:,}, {f['rejected']} rejected")
    if not all(f["changed"].values()):
        PROBLEMS.append(f"simulation: a scenario changed no claim ({f['changed']})")
    rss = max(f["rss_self_mb"], f["rss_children_mb"])
    per_claim = (f["cpu_self"] + f["cpu_children"]) / max(1, f["claims"]) * 1e6
    free = f["cpu_self"] + f["cpu_children"] / max(1, f["jobs"])
    say(f"scenarios: {', '.join(SIMULATION_SCENARIOS)} (shipped); {f['jobs']} worker process(es)")
    say(f"wall {f['wall']:.1f} s for {f['claims']:,} claims of {f['persons']:,} persons under 3 rule books "
        f"(target < 60 s: {'met' if f['wall'] < 60 else 'missed'})")
    say(f"peak RSS: parent {f['rss_self_mb']:.0f} MB, largest worker {f['rss_children_mb']:.0f} MB "
        f"(target < 1 GB: {'met' if rss < 1024 else 'missed'})")
    say(f"CPU time: {f['cpu_children']:.1f} s in the workers + {f['cpu_self']:.1f} s in the parent = {per_claim:.0f} us "
        f"per claim for all three rule books; with every core free about {free:.0f} s wall")
    say(f"claims changed: {', '.join(f'{k} {v:,}' for k, v in f['changed'].items())}; {f['sample']} changed claims "
        f"explained; load average during the run {', '.join(f'{x:.1f}' for x in f['load'])} on "
        f"{os.cpu_count()} cores")
    RESULTS["simulation"] = {"claims": f["claims"], "persons": f["persons"], "figures": f,
                             "generated_s": time.perf_counter() - t0}
    say()


# ------------------------------------------------------------------ start-up


def section_startup(tmp: Path) -> None:
    say("== start-up: `passendezorg evaluate` on one case ==")
    rules = ROOT / "rules"
    case = next(iter(sorted((ROOT / "cases").rglob("*.yaml"))), None) if (ROOT / "cases").is_dir() else None
    if not rules.is_dir() or case is None:
        rules = HERE / "claims6"
        case = tmp / "one-case.yaml"
        c = next(generate(1, 1))
        case.write_text("on: 2024-01-01\ninput:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in c.items()
                                                                 if k != "id"), encoding="utf-8")
    exe = Path(sys.executable).parent / "passendezorg"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from passendezorg.cli import main; main()"]
    cmd += ["evaluate", "--rules", str(rules), str(case)]
    cache = tmp / "startup-cache"  # the CLI's own cache of parsers and checked rule books, empty at first
    env = {**os.environ, "PASSENDEZORG_CACHE": str(cache)}
    walls = []
    for _ in range(6):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT, env=env)
        walls.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            PROBLEMS.append(f"start-up: the command failed: {proc.stderr.strip()[-300:]}")
            return
    cold, warm = walls[0], statistics.median(walls[1:])

    def wall_of(code: str) -> float:
        times = []
        for _ in range(4):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    bare = wall_of("pass")
    # the steps inside one fresh process, timed there: importing the CLI, checking the book, reading it from the cache
    steps_code = (
        "import json, time\nt0 = time.perf_counter()\nimport passendezorg.cli\nt1 = time.perf_counter()\n"
        "from pathlib import Path\nfrom passendezorg.rulebook import load_rules\n"
        "from passendezorg.rulebook import load_cached\nfrom passendezorg.engines.compiled import compile_program\n"
        f"load_rules({str(rules)!r})\nt2 = time.perf_counter()\n"
        f"book = load_cached({str(rules)!r}, Path({str(cache)!r}))\nt3 = time.perf_counter()\n"
        "compile_program(book.program)\nt4 = time.perf_counter()\n"
        "print(json.dumps([t1 - t0, t2 - t1, t3 - t2, t4 - t3]))\n")
    steps = []
    for _ in range(4):
        out = subprocess.run([sys.executable, "-c", steps_code], check=True, cwd=ROOT, capture_output=True, text=True,
                             env=env)
        steps.append(json.loads(out.stdout.strip().splitlines()[-1]))
    imp, chk, cached, comp = (statistics.median(x[k] for x in steps) for k in range(4))
    shown = rules.relative_to(ROOT) if rules.is_relative_to(ROOT) else rules
    say(f"`passendezorg evaluate --rules {shown} {case.name}`: {warm:.2f} s wall with the rule book from the CLI's "
        f"content-hash cache (median of 5; target < 0.5 s: {'met' if warm < 0.5 else 'missed'}); "
        f"{cold:.2f} s the first time (parser and rule book built, then cached)")
    say(f"  Python itself {bare:.2f} s; then, timed inside the process: importing passendezorg.cli {imp:.2f} s; "
        f"parsing and checking the rule book {chk:.2f} s, or {cached:.3f} s from the cache; compiling it {comp:.3f} s")
    RESULTS["startup"] = {"cli_s": warm, "cli_first_s": cold, "python_s": bare, "import_s": imp, "check_s": chk,
                          "cached_s": cached, "compile_s": comp}
    say()


# ------------------------------------------------------------------ scaling


def section_scaling(sizes: list[int], per_size: int, case_counts: list[int], runs: int, tmp: Path,
                    cache: Path | None) -> None:
    say(f"== scaling with the size of the rule book: generated books, {per_size:,} cases each ==")
    if cache is not None:
        say(f"(checked books are kept in {cache} by content hash: a `check s` well under the first run's is a cache hit;"
            " --no-cache checks them every time)")
    say(f"{'rules':>7}{'check s':>9}{'compile s':>11}{'cases/s CPU':>13}{'us/case':>9}")
    rows = []
    for size in sizes:
        folder = tmp / f"book{size}"
        write_rulebook(folder, size)
        t0 = time.perf_counter()
        book = load_cached(folder, cache) if cache is not None else load_rules(folder)
        check_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cp = compile_program(book.program)
        compile_s = time.perf_counter() - t0
        cs = scaling_cases(size, per_size)
        index = {name: k for k, name in enumerate(cp.names)}

        def answers(cp: CompiledProgram = cp, index: dict[str, int] = index,
                    cs: list[dict[str, Any]] = cs) -> Iterable[dict[str, tuple[int, str]]]:
            for c in cs:
                fast = cp.run(c, DAY)
                if fast is None:
                    yield {"fell back": (0, "")}
                    continue
                yield {name: (fast[0][k], fast[1][k]) for name, k in index.items()}

        check(f"generated book of {size} rules", answers(), (scaling_expected(size, c) for c in cs))

        def one_pass(run: Any = cp.run, cs: list[dict[str, Any]] = cs) -> None:
            for c in cs:
                run(c, DAY)

        cpu, _wall = timed(one_pass, per_size, runs)
        say(f"{size:>7,}{check_s:>9.2f}{compile_s:>11.2f}{rate(per_size, cpu):>13}{cpu / per_size * 1e6:>9.2f}")
        rows.append({"rules": size, "check_s": check_s, "compile_s": compile_s, "per_s_cpu": per_size / cpu})
    say("(each case concerns 10 rules per output whatever the size: the rest are skipped by dispatch on the kind)")
    say()
    say("== scaling with the number of cases: claims6, compiled engine, in memory ==")
    say(f"{'cases':>10}{'seconds CPU':>13}{'claims/s CPU':>14}{'us/claim':>10}")
    book = load_rules(HERE / "claims6")
    cp = compile_program(book.program)
    crow = []
    for count in case_counts:
        claims = list(generate(count, 11))
        gc.collect()
        gc.freeze()

        def one(claims: list[dict[str, Any]] = claims, run: Any = cp.run) -> None:
            for c in claims:
                run(c, DAY)

        cpu, _wall = timed(one, count, runs if count <= 100_000 else 1)
        gc.unfreeze()
        del claims
        gc.collect()
        say(f"{count:>10,}{cpu:>13.3f}{rate(count, cpu):>14}{cpu / count * 1e6:>10.2f}")
        crow.append({"cases": count, "cpu_s": cpu})
    RESULTS["scaling"] = {"rules": rows, "cases": crow}
    say()


# ------------------------------------------------------------------ main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a fast smoke run: fewer claims, smaller books, fewer runs")
    ap.add_argument("--full", action="store_true",
                    help="the issue's sizes: 1,000,000 claims in the batches and 1,000,000 in the case scaling")
    ap.add_argument("--claims", type=int, help="claims in memory for the yardstick (default 100,000; quick 20,000)")
    ap.add_argument("--batch", type=int, help="claims in the batch file (default 200,000; quick 50,000; full 1,000,000)")
    ap.add_argument("--max-cases", type=int,
                    help="cap on the case counts of the scaling (10k, 100k, 1M; default 100,000; full 1,000,000)")
    ap.add_argument("--rules", type=int, action="append", metavar="N",
                    help="rule book sizes for the scaling (repeatable; default 10, 100, 1,000, 10,000; quick up to 1,000)")
    ap.add_argument("--no-cache", action="store_true",
                    help="check the generated books every time (the first check of 10,000 rules takes about a minute)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--only", choices=["claims6", "shipped", "paths", "batches", "columnar", "simulation", "startup",
                                       "scaling"], action="append", help="run only these sections (repeatable)")
    ap.add_argument("--batch-child", nargs=3, metavar=("SRC", "OUT", "JOBS"), help=argparse.SUPPRESS)
    ap.add_argument("--columnar-child", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--claims-process", type=int,
                    help="claims through `claims process` (default 10,000; quick 2,000; full 50,000)")
    ap.add_argument("--columnar", type=int, help="claims in the columnar files (default 1,000,000; quick 200,000)")
    ap.add_argument("--simulation", type=int,
                    help="claims in the simulation (default 1,000,000: the issue's figure; quick 100,000)")
    ap.add_argument("--simulation-child", nargs=2, metavar=("SRC", "JOBS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.columnar_child:
        a, b, c, d, e = args.columnar_child
        columnar_child(a, b, c, int(d), int(e))
        return 0
    if args.batch_child:
        src, out, jobs = args.batch_child
        batch_child(src, out, int(jobs))
        return 0
    if args.simulation_child:
        src, jobs = args.simulation_child
        simulation_child(src, int(jobs))
        return 0
    quick = args.quick
    runs = 3 if quick else 7
    only = set(args.only or ["claims6", "shipped", "paths", "batches", "columnar", "simulation", "startup",
                             "scaling"])
    label = " (quick)" if quick else " (full)" if args.full else ""
    say(f"passendezorg benchmark{label}: Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    say()
    tmp = Path(tempfile.mkdtemp(prefix="passendezorg-bench-"))
    began = time.perf_counter()
    try:
        if "claims6" in only:
            section_claims6(args.claims or (20_000 if quick else 100_000), runs, args.seed)
        if "shipped" in only:
            section_shipped(runs)
        if "paths" in only:
            section_paths(runs, args.claims_process or (2_000 if quick else 50_000 if args.full else 10_000), tmp)
        if "batches" in only:
            section_batches(args.batch or (50_000 if quick else 1_000_000 if args.full else 200_000), args.seed, tmp)
        if "columnar" in only:
            section_columnar(args.columnar or (200_000 if quick else 1_000_000), args.seed, 3, tmp,
                             100_000 if quick else 500_000)
        if "simulation" in only:
            section_simulation(args.simulation or (100_000 if quick else 1_000_000), args.seed, tmp)
        if "startup" in only:
            section_startup(tmp)
        if "scaling" in only:
            cap = args.max_cases or (10_000 if quick else 1_000_000 if args.full else 100_000)
            counts = [c for c in (10_000, 100_000, 1_000_000) if c <= cap] or [cap]
            sizes = args.rules or ([10, 100, 1000] if quick else [10, 100, 1000, 10000])
            cache = None if args.no_cache else cache_dir() / "bench"
            section_scaling(sorted(sizes), 5_000 if quick else 20_000, counts, 3 if quick else 5, tmp, cache)
        if TARGETS:
            say("== targets ==")
            for what, measured, goal, met in TARGETS:
                verdict = "met" if met else "not shown here" if met is None else "MISSED"
                say(f"{what:<58} {measured:>26}   target {goal:<12} {verdict}")
            RESULTS["targets"] = TARGETS
            say()
        say(f"benchmark time {time.perf_counter() - began:.0f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=2, default=str), encoding="utf-8")
    if PROBLEMS:
        say("PROBLEMS:")
        for p in PROBLEMS:
            say(f"  {p}")
        return 1
    say("every answer checked: all agree with the oracle or the interpreter")
    return 0


if __name__ == "__main__":
    sys.exit(main())
