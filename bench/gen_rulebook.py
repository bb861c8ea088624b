"""Generate rule books of a given size for the scaling figures of the benchmark.

A book of R rules has up to 10 outputs; each output has rules for every
kind of care (an input with R / 100 choices) and ten age bands, so that a
case concerns about ten rules per output whatever the size of the book.
The rules of one output are disjoint (a kind and an age band), so the
checker has no overlap to warn about and every case has one deciding rule.
"""

from __future__ import annotations

import random
from pathlib import Path


def shape(rules: int) -> tuple[int, int, int]:
    """(outputs, kinds, bands) with outputs * kinds * bands == rules (for 10, 100, 1,000, 10,000 …)."""
    if rules < 100:
        return 1, 1, rules
    outputs = 10
    bands = 10
    kinds = max(1, rules // (outputs * bands))
    return outputs, kinds, bands


def write_rulebook(folder: Path, rules: int) -> Path:
    outputs, kinds, bands = shape(rules)
    folder.mkdir(parents=True, exist_ok=True)
    width = max(1, 100 // bands)
    lines = [
        "language english",
        "ruleset scaling",
        '  title "A generated rule book for the scaling figures"',
        '  source gen "Generated"',
        "",
        "input kind : one of " + ", ".join(f"k{j}" for j in range(kinds)) + ' "Kind of care"',
        'input age : integer "Age"',
        'input amount : integer "Amount in cents"',
        "",
    ]
    for o in range(outputs):
        lines.append(f'output o{o} : integer "Output {o}"')
        lines.append("  default 0")
    lines.append("")
    n = 0
    for o in range(outputs):
        for k in range(kinds):
            for b in range(bands):
                lo, hi = b * width, (b + 1) * width
                cond = f"kind = k{k} and age >= {lo}"
                if b < bands - 1:
                    cond += f" and age < {hi}"
                lines += [
                    f"rule r{n}",
                    f'  source gen "{n}"',
                    f"  when {cond}",
                    f"  then o{o} = amount * {o + 1} + {k * bands + b}",
                    "",
                ]
                n += 1
    path = folder / "book.pz"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def cases(rules: int, count: int, seed: int = 42) -> list[dict[str, object]]:
    _outputs, kinds, _bands = shape(rules)
    rnd = random.Random(seed)
    return [{"kind": f"k{rnd.randrange(kinds)}", "age": rnd.randint(0, 99), "amount": rnd.randint(500, 250_000)}
            for _ in range(count)]


def expected(rules: int, case: dict[str, object]) -> dict[str, tuple[int, str]]:
    """The oracle: for every output, its value and deciding rule."""
    outputs, kinds, bands = shape(rules)
    width = max(1, 100 // bands)
    k = int(str(case["kind"])[1:])
    age = int(case["age"])  # type: ignore[call-overload]
    amount = int(case["amount"])  # type: ignore[call-overload]
    b = min(age // width, bands - 1)
    out = {}
    for o in range(outputs):
        n = (o * kinds + k) * bands + b
        out[f"o{o}"] = (amount * (o + 1) + k * bands + b, f"r{n}")
    return out
