"""How values read for people: the one formatter of amounts, dates and numbers, in a rule book's language.

A decision, a receipt, a why-not answer, the catalogue and `passendezorg fmt` all show an amount,
a date or a number through these functions, so that an amount reads the same everywhere:
``€ 1.234,56`` and ``14 juni 2025`` in a Dutch rule book, ``€ 1234.56`` and ``14 June 2025`` in an
English one (as rule files write them: English rule files write amounts without grouping).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from .values import money_text

MONTHS = {
    "nederlands": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
                   "oktober", "november", "december"),
    "english": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December"),
}
WORDS = {
    "nederlands": {"yes": "ja", "no": "nee", "nothing": "(geen)", "empty": "(leeg)"},
    "english": {"yes": "yes", "no": "no", "nothing": "(none)", "empty": "(empty)"},
}


def _dutch(language: str) -> bool:
    return language == "nederlands"


def money(v: Decimal, language: str) -> str:
    """An amount with every digit it has (at least the cents): ``€ 1.234,56`` in Dutch, ``€ 1234.56`` in English.

    Three decimals get a fourth zero (``€ 12,3450``): ``€ 12,345`` would read as twelve thousand.
    The same text is how a rule file writes the amount (``passendezorg fmt``).
    """
    whole, _, fraction = money_text(v).partition(".")
    if len(fraction) == 3:
        fraction += "0"
    if not _dutch(language):
        return f"€ {whole}.{fraction}"
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{int(whole.lstrip('-')):,}".replace(",", ".")
    return f"€ {sign}{grouped},{fraction}"


def date(d: dt.date, language: str) -> str:
    """A date written out: ``14 juni 2025``, ``14 June 2025``."""
    months = MONTHS["nederlands" if _dutch(language) else "english"]
    return f"{d.day} {months[d.month - 1]} {d.year}"


def number(v: Decimal | int, language: str, grouped: bool = False) -> str:
    """A number with a decimal comma in Dutch (``0,5``); ``grouped``: thousands dots or commas (counts, not years)."""
    if isinstance(v, int):
        text = f"{v:,}" if grouped else str(v)
        return text.replace(",", ".") if _dutch(language) else text
    whole, _, fraction = f"{v:f}".partition(".")
    sign = "-" if whole.startswith("-") else ""
    digits = int(whole.lstrip("-") or "0")
    if not _dutch(language):
        return sign + (f"{digits:,}" if grouped else str(digits)) + ("." + fraction if fraction else "")
    shown = f"{digits:,}".replace(",", ".") if grouped else str(digits)
    return sign + shown + ("," + fraction if fraction else "")


def value(v: Any, kind: str, language: str) -> str:
    """A value of a declared type (``money``, ``date``, ``decimal``, …; ``""`` when not known) as people read it.

    Takes Python values and their JSON forms alike (``"24.85"`` for an amount, ``"2025-06-14"`` for a date).
    """
    words = WORDS["nederlands" if _dutch(language) else "english"]
    if v is None:
        return words["nothing"]
    if isinstance(v, bool):
        return words["yes"] if v else words["no"]
    if isinstance(v, list):
        return "[" + ", ".join(value(x, kind, language) for x in v) + "]"
    if kind == "money" and isinstance(v, (Decimal, int, str)):
        try:
            return money(Decimal(v), language)
        except ArithmeticError:
            return str(v)
    if kind == "date" and isinstance(v, str):
        try:
            v = dt.date.fromisoformat(v)
        except ValueError:
            return str(v)
    if isinstance(v, dt.date):
        return date(v, language)
    if kind == "decimal" and isinstance(v, str):
        try:
            v = Decimal(v)
        except ArithmeticError:
            return str(v)
    if isinstance(v, (Decimal, int)):
        return number(v, language)
    if v == "":
        return words["empty"]
    return str(v)
