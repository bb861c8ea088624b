"""The claims6 yardstick in the project: the seeded claim generator and an independent oracle.

``generate(n, seed)`` gives exactly the claims of the shared yardstick's
generator (the same logic, the same random calls, in the same order), so the
same N and seed always give the same claims, here and in other engines'
benchmarks; ``write_claims`` writes them as the same JSON lines.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TREATMENTS = [
    "physio", "smoking_cessation", "gp_consult", "dental", "mental_health",
    "dietician", "speech_therapy", "occupational_therapy", "podiatry", "maternity",
    "ambulance", "pharmacy", "lab", "radiology", "surgery", "rehab", "dialysis",
    "ophthalmology", "hearing_aids", "vaccination",
]
SETTINGS = ["gp", "hospital", "home"]

Answer = tuple[bool, int, bool, str, str, str | None, str | None]
"""insured, tariff (cents), deductible_applies, and the deciding rules: insured, base tariff, deductible, tariff."""


def generate(n: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    rnd = random.Random(seed)
    others = TREATMENTS[1:]
    for i in range(n):
        treatment = "physio" if rnd.random() < 0.35 else rnd.choice(others)
        yield {
            "id": i,
            "insured_age": rnd.randint(0, 95),
            "setting": rnd.choice(SETTINGS),
            "treatment": treatment,
            "belongs_with_gp": rnd.random() < 0.5,
            "chronic_list": rnd.random() < 0.3,
            "session_no": rnd.randint(1, 40),
            "digital": rnd.random() < 0.25,
            "amount_cents": rnd.randint(500, 250_000),
        }


def write_claims(path: Path, n: int, seed: int = 42) -> None:
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        for claim in generate(n, seed):
            out.write(json.dumps(claim) + "\n")


def oracle(c: dict[str, Any]) -> Answer:
    """The answer the yardstick's table gives, written out rule by rule as plainly as possible."""
    physio = c["treatment"] == "physio"
    adult = c["insured_age"] >= 18
    # R0-R3b: exactly one decides whether the care is insured
    if not physio:
        insured, r_insured = True, "R0"
    elif adult and not c["chronic_list"]:
        insured, r_insured = False, "R1"
    elif adult and c["session_no"] <= 20:
        insured, r_insured = False, "R2"
    elif adult:
        insured, r_insured = True, "R2b"
    elif c["session_no"] <= 18:
        insured, r_insured = True, "R3"
    else:
        insured, r_insured = False, "R3b"
    # R4 / R4b: the base tariff
    if c["setting"] == "hospital" and c["belongs_with_gp"]:
        base, r_base = 1250, "R4"
    else:
        base, r_base = c["amount_cents"], "R4b"
    # R5: no deductible (default: it applies, and no rule decides)
    if c["setting"] == "gp" or c["insured_age"] < 18 or c["treatment"] == "smoking_cessation":
        deductible, r_deductible = False, "R5"
    else:
        deductible, r_deductible = True, None
    # R6: digital care at 80 %, rounded down to the cent (otherwise the base tariff, by default)
    if c["digital"]:
        tariff, r_tariff = base * 4 // 5, "R6"
    else:
        tariff, r_tariff = base, None
    return insured, tariff, deductible, r_insured, r_base, r_deductible, r_tariff


def hand_written(c: dict[str, Any]) -> Answer:
    """The same rules as fast if/else Python: the yardstick's upper bound."""
    t = c["treatment"]
    age = c["insured_age"]
    if t == "physio":
        if age >= 18:
            if not c["chronic_list"]:
                ins, r1 = False, "R1"
            elif c["session_no"] <= 20:
                ins, r1 = False, "R2"
            else:
                ins, r1 = True, "R2b"
        elif c["session_no"] <= 18:
            ins, r1 = True, "R3"
        else:
            ins, r1 = False, "R3b"
    else:
        ins, r1 = True, "R0"
    setting = c["setting"]
    if setting == "hospital" and c["belongs_with_gp"]:
        base, r4 = 1250, "R4"
    else:
        base, r4 = c["amount_cents"], "R4b"
    if setting == "gp" or age < 18 or t == "smoking_cessation":
        ded, r5 = False, "R5"
    else:
        ded, r5 = True, None
    if c["digital"]:
        return ins, base * 4 // 5, ded, r1, r4, r5, "R6"
    return ins, base, ded, r1, r4, r5, None
