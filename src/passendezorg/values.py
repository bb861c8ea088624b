"""Runtime values shared by both engines: missing facts, failures, and the built-in functions."""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal
from typing import Any

CENT = Decimal("0.01")


class Unknown:
    """A value that cannot be known yet: ``needs`` are the inputs that would decide it."""

    __slots__ = ("needs",)

    def __init__(self, needs: frozenset[str]) -> None:
        self.needs = needs

    def __repr__(self) -> str:
        return f"Unknown({sorted(self.needs)})"


class Fail:
    """A value that cannot be computed: no value in force, a conflict upstream, division by zero."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Fail({self.reason!r})"


def age(born: dt.date, on: dt.date) -> int:
    """Whole years of age on a day (a birthday counts from the day itself)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def add_duration(day: dt.date, amount: int, unit: str) -> dt.date:
    if unit == "days":
        return day + dt.timedelta(days=amount)
    months = amount * (12 if unit == "years" else 1)
    total = day.year * 12 + (day.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last))


def quantize(value: Decimal, exp: Decimal, rounding: str) -> Decimal:
    """Round to ``exp`` exactly, however many digits the amount has (the default context stops at 28)."""
    digits = max(28, value.adjusted() + 4) if value.is_finite() else 28
    return value.quantize(exp, rounding=rounding, context=Context(prec=digits))


def round_money(value: Decimal) -> Decimal:
    return quantize(value, CENT, ROUND_HALF_UP)


def round_value(value: Any, kind: str, down: bool) -> Any:
    mode = ROUND_FLOOR if down else ROUND_HALF_UP
    if kind == "money":
        return quantize(Decimal(value), CENT, mode)
    return int(quantize(Decimal(value), Decimal(1), mode))


def store(value: Any, kind: str) -> Any:
    """Normalise a computed value to its declared type (money to cents, integers to Decimal for decimals)."""
    if kind == "money" and isinstance(value, Decimal):
        return quantize(value, CENT, ROUND_HALF_UP)
    if kind == "decimal" and isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def to_json(value: Any) -> Any:
    """The JSON form of a value: amounts and decimals as strings (exact), dates as ISO text."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")  # plain digits: 100, never 1.0E+2
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple, frozenset, set)):
        items = [to_json(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return str(value)
