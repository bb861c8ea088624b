"""Fuzz passendezorg at volume and print what was run and what was found.

    python scripts/fuzz.py --rule-texts 100000 --cases 10000

Each rule text (a shipped rule file mutated, or a generated rule book with every bound within reach)
goes through ``check``; the rule books that pass get well-formed and malformed cases through
``evaluate`` (the interpreter), ``decide_many`` (the compiled engine, every third book), a batch file
now and then (``evaluate_file``: JSON lines and CSV, one worker or two) and case files (YAML, JSON);
a sample of the well-formed cases goes through the rete engine as well where it is installed (it is
slow: ``--rete-every``). Then ``--cases`` malformed claims, with as many well-formed ones, go through
``claims process`` (one worker and two, SQLite). What must hold is in ``tests/fuzzing.py``; every
failure of it is a finding, printed with its seed. Exits 1 if there is any finding.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import fuzzing as F  # noqa: E402

CLAIMS_PER_RUN = 200  # malformed claims per run of claims process (with as many well-formed ones)


def _rule_texts(args: tuple[int, int, int, int, int]) -> F.Tally:
    first, last, rete_every, batch_every, compiled_every = args
    tally = F.Tally()
    shipped = F.shipped_files()
    with tempfile.TemporaryDirectory(prefix="passendezorg-fuzz-") as tmp:
        for seed in range(first, last):
            F.fuzz_step(seed, Path(tmp), tally, F.Limits(), shipped, rete_every=rete_every, batch_every=batch_every,
                        compiled_every=compiled_every)
    return tally


def _claims(args: tuple[int, int]) -> F.Tally:
    run, bad = args
    tally = F.Tally()
    with tempfile.TemporaryDirectory(prefix="passendezorg-fuzz-") as tmp:
        lines, good = F.claim_lines(random.Random(run), bad, bad, start=run * 10 * CLAIMS_PER_RUN)
        F.run_claims(lines, good, Path(tmp), tally, F.Limits(batch_s=600), workers=1 + run % 2)
    return tally


def _task(task: tuple[str, tuple[int, ...]]) -> F.Tally:
    kind, args = task
    return _rule_texts(args) if kind == "rule texts" else _claims(args)  # type: ignore[arg-type]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rule-texts", type=int, default=100_000, help="rule texts to check (default 100,000)")
    p.add_argument("--cases", type=int, default=10_000, help="malformed claims for claims process (default 10,000); "
                   "the rule texts bring their own malformed cases besides")
    p.add_argument("--seed", type=int, default=0, help="the first seed (a finding names its seed)")
    p.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    p.add_argument("--rete-every", type=int, default=100,
                   help="the well-formed cases of every Nth rule book also through the rete engine (0: none)")
    p.add_argument("--batch-every", type=int, default=20, help="a batch file and case files for every Nth rule book")
    args = p.parse_args()

    from passendezorg.engines.rete import unavailable_reason

    rete_every = args.rete_every if unavailable_reason() is None else 0
    began = time.perf_counter()
    step = 500
    chunks = [(a, min(a + step, args.seed + args.rule_texts), rete_every, args.batch_every, 3)
              for a in range(args.seed, args.seed + args.rule_texts, step)]
    runs = [(args.seed + k, min(CLAIMS_PER_RUN, args.cases - k * CLAIMS_PER_RUN))
            for k in range((args.cases + CLAIMS_PER_RUN - 1) // CLAIMS_PER_RUN)]
    total = F.Tally()
    done = claims_done = 0
    from passendezorg.workers import Pool, WorkerFailure

    tasks: list[tuple[str, tuple[int, ...]]] = [("rule texts", c) for c in chunks] + [("claims", r) for r in runs]
    # workers that may start processes of their own (batches on two workers, the rete engine's worker)
    with Pool(_task, max(1, args.jobs)) as pool:
        for (kind, task), tally in zip(tasks, pool.map(tasks, ahead=1)):
            if isinstance(tally, WorkerFailure):  # a crash of a whole worker is a finding too
                print(f"\n{kind} {task}: {tally}", file=sys.stderr, flush=True)
                total.find("worker", kind, f"the worker failed: {tally}", task)
                continue
            for finding in tally.findings:  # as soon as they are found: a long run need not end to be read
                print(f"\n{finding}", file=sys.stderr, flush=True)
            total.merge(tally)
            if kind == "rule texts":
                done += 1
                what = f"{min(done * step, args.rule_texts):,} of {args.rule_texts:,} rule texts"
            else:
                claims_done += task[1]
                what = f"{claims_done:,} of {args.cases:,} malformed claims"
            print(f"\r{what}, {len(total.findings)} finding(s), {time.perf_counter() - began:.0f} s", end="",
                  file=sys.stderr, flush=True)
    print(file=sys.stderr)
    if unavailable_reason() is not None:
        print(f"(the rete engine is not installed here: {unavailable_reason()})")
    print(F.summary(total, time.perf_counter() - began))
    return 1 if total.findings else 0


if __name__ == "__main__":
    sys.exit(main())
